#include "quant/Refine.h"

#include "quant/QdqRewrite.h"

#include <algorithm>
#include <cmath>

namespace ember::quant {

std::vector<double> outputErrorWeights(const onnx::NodeProto &n,
                                       const Tensor &w, int64_t channels) {
  if (w.elem() != ElemKind::F32 || channels <= 0)
    return {};
  std::vector<double> out(size_t(channels), 0.0);
  const float *p = w.data<float>();
  auto attr = [&](const char *name) {
    for (auto &a : n.attribute())
      if (a.name() == name)
        return a.i();
    return int64_t(0);
  };
  if (n.op_type() == "Conv") {
    if (w.rank() < 2)
      return {};
    int64_t oc = w.dim(0), icg = w.dim(1), inner = 1;
    for (size_t i = 2; i < w.rank(); ++i)
      inner *= w.dim(i);
    if (icg <= 0 || channels % icg)
      return {};
    int64_t groups = channels / icg;
    if (oc % groups)
      return {};
    int64_t ocg = oc / groups;
    for (int64_t o = 0; o < oc; ++o)
      for (int64_t ic = 0; ic < icg; ++ic) {
        double s = 0;
        const float *q = p + (o * icg + ic) * inner;
        for (int64_t k = 0; k < inner; ++k)
          s += double(q[k]) * double(q[k]);
        out[size_t((o / ocg) * icg + ic)] += s;
      }
  } else if (n.op_type() == "MatMul" || n.op_type() == "Gemm") {
    if (w.rank() != 2)
      return {};
    bool trans = n.op_type() == "Gemm" && attr("transB") != 0;
    int64_t k = trans ? w.dim(1) : w.dim(0), cols = trans ? w.dim(0) : w.dim(1);
    if (k != channels)
      return {};
    for (int64_t i = 0; i < k; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        double v = trans ? p[j * k + i] : p[i * cols + j];
        out[size_t(i)] += v * v;
      }
  } else {
    return {};
  }
  double total = 0;
  for (double v : out)
    total += v;
  for (double &v : out)
    v = total > 0 ? v / total : 1.0 / double(channels);
  return out;
}

WeightedHistogram::WeightedHistogram(double lo, double hi, int bins)
    : lo_(lo), width_((hi - lo) / std::max(bins, 1)),
      n_(size_t(std::max(bins, 1)), 0.0), s_(n_.size(), 0.0),
      s2_(n_.size(), 0.0) {
  if (!(width_ > 0))
    width_ = 1;
}

void WeightedHistogram::add(const float *x, int64_t n, double weight) {
  const int64_t last = int64_t(n_.size()) - 1;
  const double inv = 1.0 / width_;
  for (int64_t i = 0; i < n; ++i) {
    double v = double(x[i]);
    if (v == 0)
      continue; // exact zeros are exact whatever the range
    int64_t b =
        std::clamp(int64_t(std::floor((v - lo_) * inv)), int64_t(0), last);
    n_[size_t(b)] += weight;
    s_[size_t(b)] += weight * v;
    s2_[size_t(b)] += weight * v * v;
  }
}

double WeightedHistogram::error(double lo, double hi, int levels) const {
  double step = (hi - lo) / double(std::max(levels - 1, 1));
  double e = 0;
  for (size_t b = 0; b < n_.size(); ++b) {
    if (n_[b] == 0)
      continue;
    double b0 = lo_ + double(b) * width_, b1 = b0 + width_;
    if (b1 <= lo + 1e-12 * width_) // clipped to lo
      e += s2_[b] - 2 * lo * s_[b] + lo * lo * n_[b];
    else if (b0 >= hi - 1e-12 * width_) // clipped to hi
      e += s2_[b] - 2 * hi * s_[b] + hi * hi * n_[b];
    else if (b0 >= -step / 2 && b1 <= step / 2) // rounds to the exact zero
      e += s2_[b];
    else
      e += n_[b] * step * step / 12;
  }
  return e;
}

Range WeightedHistogram::bestRange(int levels) const {
  const int64_t bins = int64_t(n_.size());
  // Candidate ends: grid edges on each side of zero; every edge for a
  // one-sided tensor, else a grid of at most 64 per side refined around the
  // best pair edge by edge.
  int64_t z = std::clamp(int64_t(std::floor(-lo_ / width_)), int64_t(0), bins);
  auto edge = [&](int64_t k) { return lo_ + double(k) * width_; };
  const int64_t loLast = lo_ >= 0 ? -1 : z;      // lo edges 0..z
  const int64_t hiFirst = std::min(bins, z + 1); // hi edges hiFirst..bins
  const bool hasHi = edge(bins) > 0;
  auto loAt = [&](int64_t k) {
    return loLast < 0 ? 0.0 : std::min(edge(k), 0.0);
  };
  auto hiAt = [&](int64_t k) { return hasHi ? std::max(edge(k), 0.0) : 0.0; };
  const bool twoSided = loLast >= 0 && hasHi;
  int64_t loStride = twoSided ? std::max<int64_t>(1, (loLast + 1) / 64) : 1;
  int64_t hiStride =
      twoSided ? std::max<int64_t>(1, (bins - hiFirst + 1) / 64) : 1;
  int64_t bestL = 0, bestH = bins;
  double bestErr = error(loAt(0), hiAt(bins), levels);
  auto consider = [&](int64_t l, int64_t h) {
    double lo = loAt(l), hi = hiAt(h);
    if (!(hi > lo))
      return;
    double e = error(lo, hi, levels);
    if (e < bestErr) {
      bestErr = e;
      bestL = l;
      bestH = h;
    }
  };
  for (int64_t l = 0; l <= std::max<int64_t>(loLast, 0); l += loStride)
    for (int64_t h = bins; h >= hiFirst; h -= hiStride)
      consider(l, h);
  if (twoSided) {
    int64_t l0 = bestL, h0 = bestH;
    for (int64_t l = std::max<int64_t>(0, l0 - loStride);
         l <= std::min(loLast, l0 + loStride); ++l)
      consider(l, h0);
    int64_t l1 = bestL;
    for (int64_t h = std::max(hiFirst, h0 - hiStride);
         h <= std::min(bins, h0 + hiStride); ++h)
      consider(l1, h);
  }
  return {loAt(bestL), hiAt(bestH)};
}

namespace {

constexpr int kBins = 1024;

double dequantized(double x, const QParams &p, int32_t qmin, int32_t qmax) {
  double q = std::nearbyint(x / double(p.scale)) + double(p.zeroPoint);
  q = std::clamp(q, double(qmin), double(qmax));
  return (q - double(p.zeroPoint)) * double(p.scale);
}

struct Layout {
  int64_t outer = 1, channels = 1, inner = 1;
};
Layout layoutOf(const Dims &d, int axis) {
  Layout l;
  if (axis < 0 || size_t(axis) >= d.size()) {
    l.inner = numElements(d);
    return l;
  }
  l.channels = d[size_t(axis)];
  for (size_t i = 0; i < size_t(axis); ++i)
    l.outer *= d[i];
  for (size_t i = size_t(axis) + 1; i < d.size(); ++i)
    l.inner *= d[i];
  return l;
}

} // namespace

Expected<RefineResult>
refineLayers(const onnx::ModelProto &m, const QdqPlan &plan,
             const std::map<std::string, QParams> &params, const Profile &prof,
             const std::vector<Sample> &samples, const RefineOptions &o) {
  RefineResult res;
  res.params = params;
  if (samples.empty())
    return res;
  int32_t qmin, qmax;
  activationRange(o.activationType, qmin, qmax);
  GraphIndex gi(m.graph());

  // The Linear inputs (per-channel axis known), and which nodes read them.
  std::map<std::string, int> linearInputs;
  for (auto &kv : plan.observed)
    if (kv.second >= 0 && plan.spec(kv.first))
      linearInputs[kv.first] = kv.second;
  if (linearInputs.empty())
    return res;
  std::set<std::string> shared; // roots other tensors share parameters with
  for (auto &t : plan.tensors)
    if (!t.shareWith.empty())
      shared.insert(t.shareWith);

  // Per searchable tensor: the weight of each channel's error.
  std::map<std::string, std::vector<double>> chanWeights;
  if (o.searchRanges)
    for (auto &kv : linearInputs) {
      const std::string &t = kv.first;
      const TensorSpec *sp = plan.spec(t);
      if (!sp || !sp->shareWith.empty() || shared.count(t) ||
          o.fixedRanges.count(t) || !params.count(t) || !prof.tensors.count(t))
        continue;
      auto cit = gi.consumers.find(t);
      if (cit == gi.consumers.end() || gi.isGraphOutput(t))
        continue;
      std::vector<double> w;
      size_t readers = 0;
      bool ok = true;
      const auto &st = prof.tensors.at(t);
      int64_t channels = int64_t(st.channelSum.size());
      if (channels <= 0)
        continue;
      for (auto &[node, input] : cit->second) {
        ++readers;
        const auto &n = m.graph().node(node);
        std::vector<double> cw;
        for (auto &ws : plan.weights)
          if (ws.node == node && input == 0) {
            const onnx::TensorProto *ip = gi.init(ws.tensor);
            if (!ip)
              break;
            EMBER_ASSIGN(Tensor wt, initializerTensor(*ip));
            cw = outputErrorWeights(n, wt, channels);
            break;
          }
        if (cw.empty()) {
          if (plan.groupOf[size_t(node)] < 0) {
            ok = false; // a float reader sees the error as it is: keep
            break;
          }
          cw.assign(size_t(channels), 1.0 / double(channels));
        }
        if (w.empty())
          w.assign(size_t(channels), 0.0);
        for (int64_t c = 0; c < channels; ++c)
          w[size_t(c)] += cw[size_t(c)];
      }
      if (ok && readers)
        chanWeights[t] = w;
    }

  std::vector<std::string> names;
  for (auto &kv : linearInputs)
    names.push_back(kv.first);
  EMBER_ASSIGN(auto im,
               InstrumentedModel::create(m, names, prof.inputShapes, o.run));
  size_t count = std::min(samples.size(), std::max<size_t>(o.maxSamples, 1));
  res.samples = count;

  // Pass 1: weighted histograms, new ranges.
  if (!chanWeights.empty()) {
    std::map<std::string, WeightedHistogram> hists;
    for (auto &kv : chanWeights) {
      const Histogram &h = prof.tensors.at(kv.first).hist;
      hists.emplace(kv.first, WeightedHistogram(std::min(h.min(), 0.0),
                                                std::max(h.max(), 0.0), kBins));
    }
    for (size_t i = 0; i < count; ++i) {
      EMBER_ASSIGN(auto outs, im->run(samples[i].inputs));
      for (auto &kv : chanWeights) {
        auto it = outs.find(kv.first);
        if (it == outs.end() || it->second.elem() != ElemKind::F32)
          return makeError(ErrorCode::Internal, "tensor '", kv.first,
                           "' was not computed during refinement");
        Layout l = layoutOf(it->second.dims(), linearInputs[kv.first]);
        if (l.channels != int64_t(kv.second.size()))
          continue;
        const float *x = it->second.data<float>();
        WeightedHistogram &wh = hists.at(kv.first);
        for (int64_t a = 0; a < l.outer; ++a)
          for (int64_t c = 0; c < l.channels; ++c)
            wh.add(x + (a * l.channels + c) * l.inner, l.inner,
                   kv.second[size_t(c)]);
      }
    }
    for (auto &kv : hists) {
      Range r = kv.second.bestRange(qmax - qmin + 1);
      QParams p = affineParams(r, qmin, qmax);
      ++res.searched;
      QParams &old = res.params[kv.first];
      if (p.scale != old.scale || p.zeroPoint != old.zeroPoint)
        ++res.changed;
      old = p;
    }
  }

  // Pass 2: the mean error of each Linear input's quantization.
  if (o.inputErrorMeans) {
    std::map<std::string, std::vector<double>> sums;
    std::map<std::string, QParams> ps;
    for (auto &kv : linearInputs) {
      std::string r = plan.root(kv.first);
      auto pit = res.params.find(r);
      if (pit != res.params.end())
        ps[kv.first] = pit->second;
    }
    std::map<std::string, uint64_t> counts;
    for (size_t i = 0; i < count; ++i) {
      EMBER_ASSIGN(auto outs, im->run(samples[i].inputs));
      for (auto &[t, p] : ps) {
        auto it = outs.find(t);
        if (it == outs.end() || it->second.elem() != ElemKind::F32)
          return makeError(ErrorCode::Internal, "tensor '", t,
                           "' was not computed during refinement");
        Layout l = layoutOf(it->second.dims(), linearInputs[t]);
        auto &s = sums[t];
        if (s.empty())
          s.assign(size_t(l.channels), 0.0);
        if (int64_t(s.size()) != l.channels)
          continue;
        const float *x = it->second.data<float>();
        for (int64_t a = 0; a < l.outer; ++a)
          for (int64_t c = 0; c < l.channels; ++c) {
            const float *q = x + (a * l.channels + c) * l.inner;
            double e = 0;
            for (int64_t k = 0; k < l.inner; ++k)
              e += dequantized(q[k], p, qmin, qmax) - double(q[k]);
            s[size_t(c)] += e;
          }
        counts[t] += uint64_t(l.outer * l.inner);
      }
    }
    for (auto &[t, s] : sums) {
      double n = double(std::max<uint64_t>(counts[t], 1));
      for (double &v : s)
        v /= n;
      res.inputErrorMeans[t] = s;
    }
  }
  return res;
}

} // namespace ember::quant

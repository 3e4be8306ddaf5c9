#include "quant/ActEqualization.h"

#include "quant/Equalization.h"

#include <algorithm>
#include <cmath>

namespace ember::quant {

namespace {

const std::set<std::string> kActivations = {"Relu", "Clip"};

// Whether the pass takes the pair: one-sided activations always, linear
// ones (none, or a Clip reaching below 0) with linearPairs.
bool takes(const onnx::ModelProto &m, const ConvPair &p,
           const ActEqualizationOptions &o) {
  if (p.act < 0)
    return o.linearPairs;
  if (m.graph().node(p.act).op_type() == "Clip" && p.clipLow < 0)
    return o.linearPairs;
  return true;
}

} // namespace

double medianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

double channelMagnitudes(const ChannelRanges &r, std::vector<double> &mag) {
  mag.assign(r.max.size(), 0.0);
  std::vector<double> pos;
  for (size_t c = 0; c < mag.size(); ++c) {
    mag[c] = std::max(std::fabs(r.min[c]), std::fabs(r.max[c]));
    if (mag[c] > 0)
      pos.push_back(mag[c]);
  }
  return pos.empty() ? 0.0 : medianOf(std::move(pos));
}

std::vector<std::string>
actEqualizationTensors(const onnx::ModelProto &m,
                       const ActEqualizationOptions &o) {
  std::vector<std::string> out;
  for (auto &p : findConvPairs(m, kActivations))
    if (takes(m, p, o))
      out.push_back(p.tensor);
  return out;
}

Expected<std::map<std::string, ChannelRanges>>
measureChannelRanges(const onnx::ModelProto &m,
                     const std::vector<std::string> &tensors,
                     const std::map<std::string, Dims> &shapes,
                     const std::vector<Sample> &samples, const RunOptions &o) {
  std::map<std::string, ChannelRanges> out;
  if (tensors.empty())
    return out;
  if (samples.empty())
    return invalid("activation equalization needs calibration samples");
  EMBER_ASSIGN(auto im, InstrumentedModel::create(m, tensors, shapes, o));
  for (auto &s : samples) {
    auto outs = im->run(s.inputs);
    if (!outs)
      return outs.status().withContext("calibration sample '" + s.name + "'");
    for (auto &name : tensors) {
      auto it = outs->find(name);
      if (it == outs->end() || it->second.elem() != ElemKind::F32 ||
          it->second.dims().size() < 2)
        return makeError(ErrorCode::Internal, "tensor '", name,
                         "' was not computed as an f32 feature map");
      const Tensor &t = it->second;
      int64_t c = t.dim(1), outer = t.dim(0), inner = t.size() / (outer * c);
      ChannelRanges &r = out[name];
      if (r.max.empty()) {
        r.min.assign(size_t(c), INFINITY);
        r.max.assign(size_t(c), -INFINITY);
      }
      const float *x = t.data<float>();
      for (int64_t b = 0; b < outer; ++b)
        for (int64_t k = 0; k < c; ++k) {
          const float *p = x + (b * c + k) * inner;
          double lo = r.min[size_t(k)], hi = r.max[size_t(k)];
          for (int64_t i = 0; i < inner; ++i) {
            lo = std::min(lo, double(p[i]));
            hi = std::max(hi, double(p[i]));
          }
          if (!std::isfinite(lo) || !std::isfinite(hi))
            return invalid("tensor '", name, "' holds NaN or an infinity",
                           " on calibration sample '", s.name, "'");
          r.min[size_t(k)] = lo;
          r.max[size_t(k)] = hi;
        }
    }
  }
  return out;
}

Expected<ActEqualizationStats>
equalizeActivations(onnx::ModelProto &m,
                    const std::map<std::string, ChannelRanges> &ranges,
                    const ActEqualizationOptions &o) {
  ActEqualizationStats st;
  if (!(o.alpha >= 0 && o.alpha <= 1))
    return invalid("activation equalization strength ", o.alpha,
                   " is outside [0, 1]");
  std::vector<ConvPair> pairs = findConvPairs(m, kActivations);
  auto *g = m.mutable_graph();
  GraphIndex ix(*g);
  ConvRescale w(ix);
  for (auto &p : pairs) {
    if (!takes(m, p, o))
      continue;
    auto it = ranges.find(p.tensor);
    if (it == ranges.end())
      return invalid("no per-channel ranges for tensor '", p.tensor,
                     "' (activation equalization)");
    const ChannelRanges &r = it->second;
    const onnx::NodeProto &n1 = g->node(p.conv1);
    const onnx::TensorProto *w1p = ix.init(n1.input(1));
    if (int64_t(r.max.size()) != w1p->dims(0) || r.min.size() != r.max.size())
      return invalid("tensor '", p.tensor, "' has ", w1p->dims(0),
                     " channels but its ranges ", r.max.size(),
                     " (activation equalization)");
    std::vector<double> mag;
    double median = channelMagnitudes(r, mag);
    if (!(median > 0))
      continue;
    bool clip = p.act >= 0 && g->node(p.act).op_type() == "Clip";
    // The channel's values [lo, hi] stay strictly inside the clip's
    // nonzero bounds (a zero bound scales with the channel).
    auto inside = [&](double lo, double hi) {
      return !clip || ((p.clipLow == 0 || lo > p.clipLow) && hi < p.clipHigh);
    };
    std::vector<double> s(mag.size(), 1.0);
    size_t moved = 0;
    for (size_t c = 0; c < mag.size(); ++c) {
      if (!(mag[c] > 0) || (mag[c] < median && !o.raiseSmall))
        continue;
      double sc = std::pow(mag[c] / median, o.alpha);
      if (!inside(r.min[c], r.max[c]) || !inside(r.min[c] / sc, r.max[c] / sc))
        continue; // the clip binds, or would after the scaling
      s[c] = sc;
      moved += s[c] != 1.0;
    }
    if (!moved)
      continue;
    EMBER_TRY(w.divideOutputs(p.conv1, s));
    EMBER_TRY(w.multiplyInputs(p.conv2, s));
    ++st.pairs;
    st.channels += moved;
  }
  w.write(*g);
  return st;
}

} // namespace ember::quant

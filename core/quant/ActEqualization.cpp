#include "quant/ActEqualization.h"

#include "quant/Equalization.h"

#include <algorithm>
#include <cmath>

namespace ember::quant {

namespace {

const std::set<std::string> kActivations = {"Relu", "Clip"};

} // namespace

std::vector<std::string>
actEqualizationTensors(const onnx::ModelProto &m,
                       const ActEqualizationOptions &o) {
  std::vector<std::string> out;
  for (auto &p : findConvPairs(m, kActivations))
    if (p.act >= 0 || o.linearPairs)
      out.push_back(p.tensor);
  return out;
}

Expected<std::map<std::string, std::vector<double>>>
measureChannelMaxima(const onnx::ModelProto &m,
                     const std::vector<std::string> &tensors,
                     const std::map<std::string, Dims> &shapes,
                     const std::vector<Sample> &samples, const RunOptions &o) {
  std::map<std::string, std::vector<double>> out;
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
      auto &mx = out[name];
      if (mx.empty())
        mx.assign(size_t(c), -INFINITY);
      const float *x = t.data<float>();
      for (int64_t b = 0; b < outer; ++b)
        for (int64_t k = 0; k < c; ++k) {
          const float *p = x + (b * c + k) * inner;
          double v = mx[size_t(k)];
          for (int64_t i = 0; i < inner; ++i)
            v = std::max(v, double(std::fabs(p[i])));
          if (!std::isfinite(v))
            return invalid("tensor '", name, "' holds ",
                           std::isnan(v) ? "NaN" : "an infinity",
                           " on calibration sample '", s.name, "'");
          mx[size_t(k)] = v;
        }
    }
  }
  return out;
}

Expected<ActEqualizationStats>
equalizeActivations(onnx::ModelProto &m,
                    const std::map<std::string, std::vector<double>> &maxima,
                    const ActEqualizationOptions &o) {
  ActEqualizationStats st;
  if (!(o.alpha >= 0 && o.alpha <= 1))
    return invalid("activation equalization strength ", o.alpha,
                   " is outside [0, 1]");
  std::vector<ConvPair> pairs = findConvPairs(m, kActivations);
  auto *g = m.mutable_graph();
  GraphIndex ix(*g);
  std::map<std::string, Tensor> w; // changed initializers
  for (auto &p : pairs) {
    if (p.act < 0 && !o.linearPairs)
      continue;
    auto it = maxima.find(p.tensor);
    if (it == maxima.end())
      return invalid("no per-channel maxima for tensor '", p.tensor,
                     "' (activation equalization)");
    const std::vector<double> &mx = it->second;
    const onnx::NodeProto &n1 = g->node(p.conv1);
    const onnx::TensorProto *w1p = ix.init(n1.input(1));
    if (int64_t(mx.size()) != w1p->dims(0))
      return invalid("tensor '", p.tensor, "' has ", w1p->dims(0),
                     " channels but its maxima ", mx.size(),
                     " (activation equalization)");
    std::vector<double> pos;
    for (double v : mx)
      if (v > 0)
        pos.push_back(v);
    if (pos.empty())
      continue;
    std::sort(pos.begin(), pos.end());
    size_t h = pos.size() / 2;
    double median = pos.size() % 2 ? pos[h] : 0.5 * (pos[h - 1] + pos[h]);
    std::vector<double> s(mx.size(), 1.0);
    size_t moved = 0;
    bool clip = p.act >= 0 && g->node(p.act).op_type() == "Clip";
    for (size_t c = 0; c < mx.size(); ++c) {
      if (!(mx[c] > 0) || (clip && !(mx[c] < p.clipHigh)))
        continue; // a dead channel, or one the clip binds
      if (mx[c] < median && !o.raiseSmall)
        continue;
      double sc = std::pow(mx[c] / median, o.alpha);
      if (clip && !(mx[c] / sc < p.clipHigh))
        continue; // raised up to the clip
      s[c] = sc;
      moved += s[c] != 1.0;
    }
    if (!moved)
      continue;
    auto load = [&](const std::string &name) -> Expected<Tensor *> {
      auto wi = w.find(name);
      if (wi == w.end()) {
        EMBER_ASSIGN(Tensor t, initializerTensor(*ix.init(name)));
        wi = w.emplace(name, std::move(t)).first;
      }
      return &wi->second;
    };
    EMBER_ASSIGN(Tensor * w1, load(n1.input(1)));
    Tensor *b1 = nullptr;
    if (n1.input_size() > 2 && !n1.input(2).empty()) {
      EMBER_ASSIGN(b1, load(n1.input(2)));
    }
    const onnx::NodeProto &n2 = g->node(p.conv2);
    EMBER_ASSIGN(Tensor * w2, load(n2.input(1)));
    scaleConvPair(*w1, b1, *w2, groupsOf(n2), s);
    ++st.pairs;
    st.channels += moved;
  }
  for (auto &init : *g->mutable_initializer()) {
    auto it = w.find(init.name());
    if (it != w.end())
      init = makeInitializer(init.name(), it->second);
  }
  return st;
}

} // namespace ember::quant

#include "quant/ResidualEqualization.h"

#include "quant/Equalization.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace ember::quant {

namespace {

bool isDefault(const onnx::NodeProto &n) {
  return n.domain().empty() || n.domain() == "ai.onnx";
}

// The structural view of a graph the pass needs.
struct StreamGraph {
  GraphIndex ix;
  explicit StreamGraph(const onnx::GraphProto &graph) : ix(graph) {}

  const onnx::TensorProto *floatInit(const std::string &t) const {
    const onnx::TensorProto *p = ix.init(t);
    return p && p->data_type() == onnx::TensorProto::FLOAT ? p : nullptr;
  }
  // Add of two computed tensors.
  bool isAdd(const onnx::NodeProto &n) const {
    return isDefault(n) && n.op_type() == "Add" && n.input_size() == 2 &&
           n.output_size() == 1 && !ix.isInitializer(n.input(0)) &&
           !ix.isInitializer(n.input(1)) && !n.input(0).empty() &&
           !n.input(1).empty();
  }
  // A constant bound of a Clip: absent means unbounded.
  bool clipBound(const onnx::NodeProto &n, int k, double none,
                 double &v) const {
    if (n.input_size() <= k || n.input(k).empty()) {
      v = none;
      return true;
    }
    const onnx::TensorProto *p = floatInit(n.input(k));
    if (!p)
      return false;
    auto t = initializerTensor(*p);
    if (!t || t->size() != 1)
      return false;
    v = t->getDouble(0);
    return true;
  }
  // An elementwise node that commutes with a positive per-channel scale
  // (Clip within its bounds): Identity, Relu, LeakyRelu, Clip(lo <= 0 < hi).
  bool isPassThrough(const onnx::NodeProto &n) const {
    if (!isDefault(n) || n.input_size() < 1 || n.output_size() != 1 ||
        n.input(0).empty() || ix.isInitializer(n.input(0)))
      return false;
    const std::string &op = n.op_type();
    if (op == "Identity" || op == "Relu" || op == "LeakyRelu")
      return n.input_size() == 1;
    if (op != "Clip")
      return false;
    double lo = 0, hi = 0;
    return clipBound(n, 1, -INFINITY, lo) && clipBound(n, 2, INFINITY, hi) &&
           lo <= 0 && hi > 0;
  }
};

} // namespace

std::vector<ResidualStream> findResidualStreams(const onnx::ModelProto &m) {
  StreamGraph sg(m.graph());
  const auto &g = m.graph();
  // Union-find over tensor names.
  std::map<std::string, std::string> parent;
  std::function<std::string(const std::string &)> find =
      [&](const std::string &x) -> std::string {
    auto it = parent.find(x);
    if (it == parent.end()) {
      parent[x] = x;
      return x;
    }
    if (it->second == x)
      return x;
    std::string r = find(it->second);
    parent[x] = r;
    return r;
  };
  auto unite = [&](const std::string &a, const std::string &b) {
    std::string ra = find(a), rb = find(b);
    if (ra == rb)
      return false;
    parent[ra] = rb;
    return true;
  };
  for (auto &n : g.node())
    if (sg.isAdd(n)) {
      unite(n.input(0), n.output(0));
      unite(n.input(1), n.output(0));
    }
  if (parent.empty())
    return {};
  // Grow through the pass-through nodes touching a stream tensor.
  for (bool grew = true; grew;) {
    grew = false;
    for (auto &n : g.node())
      if (sg.isPassThrough(n) &&
          (parent.count(n.input(0)) || parent.count(n.output(0))))
        grew |= unite(n.input(0), n.output(0));
  }
  // Components, their tensors in graph order (a graph input first).
  std::map<std::string, std::vector<std::string>> comps;
  std::set<std::string> seen;
  auto collect = [&](const std::string &t) {
    if (parent.count(t) && seen.insert(t).second)
      comps[find(t)].push_back(t);
  };
  for (auto &t : sg.ix.inputs)
    collect(t);
  for (int i : sg.ix.order)
    for (auto &t : g.node(i).output())
      collect(t);
  std::vector<std::pair<size_t, ResidualStream>> out; // first node, stream
  for (auto &kv : comps) {
    const std::set<std::string> in(kv.second.begin(), kv.second.end());
    ResidualStream s;
    s.tensors = kv.second;
    bool ok = true, hasAdd = false;
    size_t first = SIZE_MAX;
    std::set<int> writers, readers, clips;
    // A node of the stream itself: an Add or pass-through whose output is
    // a stream tensor (its data inputs then are too).
    auto own = [&](int j) {
      const auto &n = g.node(j);
      return (sg.isAdd(n) || sg.isPassThrough(n)) && in.count(n.output(0));
    };
    for (auto &t : s.tensors) {
      auto p = sg.ix.producer.find(t);
      if (sg.ix.isGraphOutput(t) || p == sg.ix.producer.end() ||
          sg.ix.isInitializer(t)) {
        ok = false;
        break;
      }
      int pi = p->second;
      first = std::min(first, size_t(pi));
      if (own(pi)) {
        const auto &n = g.node(pi);
        hasAdd |= sg.isAdd(n);
        if (n.op_type() == "Clip")
          clips.insert(pi);
      } else if (const onnx::TensorProto *w =
                     rescalableConvWeights(sg.ix, pi)) {
        if (s.channels && s.channels != w->dims(0)) {
          ok = false;
          break;
        }
        s.channels = w->dims(0);
        writers.insert(pi);
      } else {
        ok = false;
        break;
      }
      auto cs = sg.ix.consumers.find(t);
      if (cs == sg.ix.consumers.end())
        continue;
      for (auto &[j, k] : cs->second) {
        const auto &n = g.node(j);
        if (own(j) && (sg.isAdd(n) || k == 0))
          continue;
        if (k == 0 && rescalableConvWeights(sg.ix, j)) {
          readers.insert(j);
          continue;
        }
        ok = false;
        break;
      }
      if (!ok)
        break;
    }
    if (!ok || !hasAdd || writers.empty())
      continue;
    for (int r : readers) {
      const onnx::TensorProto *w = rescalableConvWeights(sg.ix, r);
      if (w->dims(1) * groupsOf(g.node(r)) != s.channels)
        ok = false;
    }
    if (!ok)
      continue;
    s.writers.assign(writers.begin(), writers.end());
    s.readers.assign(readers.begin(), readers.end());
    s.clips.assign(clips.begin(), clips.end());
    out.emplace_back(first, std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](auto &a, auto &b) { return a.first < b.first; });
  std::vector<ResidualStream> streams;
  for (auto &p : out)
    streams.push_back(std::move(p.second));
  return streams;
}

std::vector<std::string>
residualEqualizationTensors(const onnx::ModelProto &m) {
  std::vector<std::string> out;
  for (auto &s : findResidualStreams(m))
    out.insert(out.end(), s.tensors.begin(), s.tensors.end());
  return out;
}

Expected<ResidualEqualizationStats>
equalizeResidualStreams(onnx::ModelProto &m,
                        const std::map<std::string, ChannelRanges> &ranges,
                        const ResidualEqualizationOptions &o) {
  ResidualEqualizationStats st;
  if (!(o.alpha >= 0 && o.alpha <= 1))
    return invalid("residual-stream equalization strength ", o.alpha,
                   " is outside [0, 1]");
  std::vector<ResidualStream> streams = findResidualStreams(m);
  StreamGraph sg(m.graph());
  ConvRescale w(sg.ix);
  for (auto &s : streams) {
    size_t c = size_t(s.channels);
    std::vector<const ChannelRanges *> r;
    for (auto &t : s.tensors) {
      auto it = ranges.find(t);
      if (it == ranges.end())
        return invalid("no per-channel ranges for tensor '", t,
                       "' (residual-stream equalization)");
      if (it->second.max.size() != c || it->second.min.size() != c)
        return invalid("tensor '", t, "' has ", c, " channels but its ranges ",
                       it->second.max.size(),
                       " (residual-stream equalization)");
      r.push_back(&it->second);
    }
    // g_c: how far channel c stands out, in the tensor where it does most.
    std::vector<double> gc(c, 0.0);
    for (auto *x : r) {
      std::vector<double> mag;
      double med = channelMagnitudes(*x, mag);
      if (!(med > 0))
        continue;
      for (size_t k = 0; k < c; ++k)
        gc[k] = std::max(gc[k], mag[k] / med);
    }
    // Channels that reach a nonzero clip bound keep s_c = 1; the others
    // must stay strictly inside every bound after the scaling.
    std::vector<bool> fixed(c, false);
    std::vector<double> need(c, 0.0);
    for (int ci : s.clips) {
      const auto &n = m.graph().node(ci);
      double lo = 0, hi = 0;
      sg.clipBound(n, 1, -INFINITY, lo);
      sg.clipBound(n, 2, INFINITY, hi);
      const ChannelRanges &x = ranges.at(n.input(0));
      for (size_t k = 0; k < c; ++k) {
        bool inside = (lo == 0 || x.min[k] > lo) && x.max[k] < hi;
        if (!inside)
          fixed[k] = true;
        if (std::isfinite(hi))
          need[k] = std::max(need[k], x.max[k] / hi);
        if (lo < 0 && std::isfinite(lo))
          need[k] = std::max(need[k], x.min[k] / lo);
      }
    }
    std::vector<double> pos, pinned;
    for (size_t k = 0; k < c; ++k)
      if (gc[k] > 0) {
        pos.push_back(gc[k]);
        if (fixed[k])
          pinned.push_back(gc[k]);
      }
    if (pos.empty())
      continue;
    double ref = pinned.empty()
                     ? medianOf(pos)
                     : *std::max_element(pinned.begin(), pinned.end());
    std::vector<double> sc(c, 1.0);
    size_t moved = 0;
    for (size_t k = 0; k < c; ++k) {
      if (fixed[k] || !(gc[k] > 0))
        continue;
      double v = std::pow(gc[k] / ref, o.alpha);
      // Inside the clips: need < 1 here, so v = 1 always satisfies it.
      v = std::max(v, need[k] * (1 + 1e-3));
      sc[k] = v;
      moved += v != 1.0;
    }
    if (!moved)
      continue;
    for (int wi : s.writers)
      EMBER_TRY(w.divideOutputs(wi, sc));
    for (int ri : s.readers)
      EMBER_TRY(w.multiplyInputs(ri, sc));
    ++st.streams;
    st.channels += moved;
  }
  w.write(*m.mutable_graph());
  return st;
}

} // namespace ember::quant

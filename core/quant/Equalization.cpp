#include "quant/Equalization.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace ember::quant {

int64_t groupsOf(const onnx::NodeProto &n) {
  for (auto &a : n.attribute())
    if (a.name() == "group")
      return a.i();
  return 1;
}

namespace {

bool isDefault(const onnx::NodeProto &n) {
  return n.domain().empty() || n.domain() == "ai.onnx";
}

const onnx::TensorProto *floatInit(const GraphIndex &ix, const std::string &t) {
  const onnx::TensorProto *p = ix.init(t);
  return p && p->data_type() == onnx::TensorProto::FLOAT ? p : nullptr;
}

} // namespace

const onnx::TensorProto *rescalableConvWeights(const GraphIndex &ix, int i) {
  const auto &n = ix.g.node(i);
  if (!isDefault(n) || n.op_type() != "Conv" || n.input_size() < 2)
    return nullptr;
  const onnx::TensorProto *w = floatInit(ix, n.input(1));
  if (!w || w->dims_size() < 3 || ix.readers(n.input(1)) != 1)
    return nullptr;
  if (n.input_size() > 2 && !n.input(2).empty() &&
      (!floatInit(ix, n.input(2)) || ix.readers(n.input(2)) != 1))
    return nullptr;
  return w;
}

void divideOutputChannels(Tensor &w, Tensor *b, const std::vector<double> &s) {
  int64_t c = w.dim(0), inner = w.size() / c;
  float *a = w.data<float>();
  for (int64_t i = 0; i < w.size(); ++i)
    a[i] = float(double(a[i]) / s[size_t(i / inner)]);
  if (b)
    for (int64_t ch = 0; ch < c && ch < b->size(); ++ch)
      b->data<float>()[ch] =
          float(double(b->data<float>()[ch]) / s[size_t(ch)]);
}

void multiplyInputChannels(Tensor &w, int64_t groups,
                           const std::vector<double> &s) {
  int64_t oc = w.dim(0), icg = w.dim(1), inner = w.size() / (oc * icg);
  int64_t ocg = oc / groups;
  float *b = w.data<float>();
  for (int64_t o = 0; o < oc; ++o) {
    int64_t grp = o / ocg;
    for (int64_t ic = 0; ic < icg; ++ic) {
      double sc = s[size_t(grp * icg + ic)];
      float *q = b + (o * icg + ic) * inner;
      for (int64_t k = 0; k < inner; ++k)
        q[k] = float(double(q[k]) * sc);
    }
  }
}

void scaleConvPair(Tensor &w1, Tensor *b1, Tensor &w2, int64_t groups2,
                   const std::vector<double> &s) {
  divideOutputChannels(w1, b1, s);
  multiplyInputChannels(w2, groups2, s);
}

Expected<Tensor *> ConvRescale::load(const std::string &name) {
  auto it = w_.find(name);
  if (it == w_.end()) {
    EMBER_ASSIGN(Tensor t, initializerTensor(*ix_.init(name)));
    it = w_.emplace(name, std::move(t)).first;
  }
  return &it->second;
}

Status ConvRescale::divideOutputs(int i, const std::vector<double> &s) {
  const onnx::NodeProto &n = ix_.g.node(i);
  EMBER_ASSIGN(Tensor * w, load(n.input(1)));
  Tensor *b = nullptr;
  if (n.input_size() > 2 && !n.input(2).empty()) {
    EMBER_ASSIGN(b, load(n.input(2)));
  }
  divideOutputChannels(*w, b, s);
  return Status::ok();
}

Status ConvRescale::multiplyInputs(int i, const std::vector<double> &s) {
  const onnx::NodeProto &n = ix_.g.node(i);
  EMBER_ASSIGN(Tensor * w, load(n.input(1)));
  multiplyInputChannels(*w, groupsOf(n), s);
  return Status::ok();
}

void ConvRescale::write(onnx::GraphProto &g) const {
  for (auto &init : *g.mutable_initializer()) {
    auto it = w_.find(init.name());
    if (it != w_.end())
      init = makeInitializer(init.name(), it->second);
  }
}

std::vector<ConvPair> findConvPairs(const onnx::ModelProto &m,
                                    const std::set<std::string> &activations) {
  const auto &g = m.graph();
  GraphIndex ix(g);
  // A tensor read by exactly one node input and not a graph output.
  auto soleReader = [&](const std::string &t) -> int {
    if (ix.readers(t) != 1)
      return -1;
    auto it = ix.consumers.find(t);
    return it == ix.consumers.end() ? -1 : it->second[0].first;
  };
  auto scalar = [&](const onnx::NodeProto &n, int k, double &v) {
    if (n.input_size() <= k || !floatInit(ix, n.input(k)))
      return false;
    auto t = initializerTensor(*floatInit(ix, n.input(k)));
    if (!t || t->size() != 1)
      return false;
    v = t->getDouble(0);
    return true;
  };

  std::vector<ConvPair> pairs;
  for (int i = 0; i < g.node_size(); ++i) {
    if (!rescalableConvWeights(ix, i))
      continue;
    ConvPair p;
    p.conv1 = i;
    std::string t = g.node(i).output(0);
    int j = soleReader(t);
    if (j < 0)
      continue;
    const auto &nj = g.node(j);
    if (isDefault(nj) && activations.count(nj.op_type())) {
      if (nj.op_type() == "Clip") {
        // Clip(lo, hi), lo <= 0 < hi, both bounds constant.
        if (!scalar(nj, 1, p.clipLow) || !(p.clipLow <= 0) ||
            !scalar(nj, 2, p.clipHigh) || !(p.clipHigh > 0))
          continue;
      }
      p.act = j;
      t = nj.output(0);
      j = soleReader(t);
      if (j < 0)
        continue;
    }
    if (!rescalableConvWeights(ix, j) || g.node(j).input(0) != t)
      continue;
    // conv2 reads every output channel of conv1, in any grouping.
    const onnx::TensorProto *w1 = rescalableConvWeights(ix, i);
    const onnx::TensorProto *w2 = rescalableConvWeights(ix, j);
    if (w2->dims(1) * groupsOf(g.node(j)) != w1->dims(0))
      continue;
    p.conv2 = j;
    p.tensor = t;
    pairs.push_back(p);
  }
  return pairs;
}

Expected<EqualizationStats> equalizeCrossLayer(onnx::ModelProto &m,
                                               const EqualizationOptions &o) {
  EqualizationStats st;
  auto *g = m.mutable_graph();
  GraphIndex ix(*g);
  std::set<std::string> acts = {"Relu", "LeakyRelu"};
  if (o.clipAsRelu)
    acts.insert("Clip");
  std::vector<ConvPair> pairs;
  for (auto &p : findConvPairs(m, acts)) // Clip(0, hi) only: it becomes Relu
    if (p.act < 0 || g->node(p.act).op_type() != "Clip" || p.clipLow == 0)
      pairs.push_back(p);
  if (pairs.empty())
    return st;

  // Work on float copies of the weights, write them back at the end.
  std::map<std::string, Tensor> w;
  for (auto &p : pairs)
    for (int n : {p.conv1, p.conv2})
      for (int k = 1; k < std::min(3, g->node(n).input_size()); ++k) {
        const std::string &name = g->node(n).input(k);
        if (name.empty() || w.count(name))
          continue;
        EMBER_ASSIGN(Tensor t, initializerTensor(*floatInit(ix, name)));
        w[name] = std::move(t);
      }
  for (int sweep = 0; sweep < o.maxSweeps; ++sweep) {
    double moved = 0;
    for (auto &p : pairs) {
      Tensor &w1 = w[g->node(p.conv1).input(1)];
      Tensor &w2 = w[g->node(p.conv2).input(1)];
      int64_t c = w1.dim(0), inner1 = w1.size() / c;
      int64_t oc2 = w2.dim(0), icg2 = w2.dim(1),
              inner2 = w2.size() / (oc2 * icg2);
      int64_t groups2 = groupsOf(g->node(p.conv2));
      int64_t ocg2 = oc2 / groups2;
      std::vector<double> r1(size_t(c), 0), r2(size_t(c), 0);
      const float *a = w1.data<float>(), *b = w2.data<float>();
      for (int64_t i = 0; i < w1.size(); ++i)
        r1[size_t(i / inner1)] =
            std::max(r1[size_t(i / inner1)], double(std::fabs(a[i])));
      for (int64_t o2 = 0; o2 < oc2; ++o2) {
        int64_t grp = o2 / ocg2;
        for (int64_t ic = 0; ic < icg2; ++ic) {
          int64_t ch = grp * icg2 + ic;
          const float *q = b + (o2 * icg2 + ic) * inner2;
          for (int64_t k = 0; k < inner2; ++k)
            r2[size_t(ch)] = std::max(r2[size_t(ch)], double(std::fabs(q[k])));
        }
      }
      std::vector<double> s(size_t(c), 1.0);
      for (int64_t ch = 0; ch < c; ++ch)
        if (r1[size_t(ch)] > 0 && r2[size_t(ch)] > 0)
          s[size_t(ch)] = std::sqrt(r1[size_t(ch)] / r2[size_t(ch)]);
      const auto &n1 = g->node(p.conv1);
      Tensor *bias = n1.input_size() > 2 && !n1.input(2).empty()
                         ? &w[n1.input(2)]
                         : nullptr;
      scaleConvPair(w1, bias, w2, groups2, s);
      for (double x : s)
        moved = std::max(moved, std::fabs(std::log(x)));
    }
    st.sweeps = sweep + 1;
    if (moved < o.tolerance)
      break;
  }
  for (auto &init : *g->mutable_initializer()) {
    auto it = w.find(init.name());
    if (it != w.end())
      init = makeInitializer(init.name(), it->second);
  }
  if (o.clipAsRelu)
    for (auto &p : pairs)
      if (p.act >= 0 && g->node(p.act).op_type() == "Clip") {
        auto *n = g->mutable_node(p.act);
        n->set_op_type("Relu");
        while (n->input_size() > 1)
          n->mutable_input()->RemoveLast();
      }
  st.pairs = pairs.size();
  return st;
}

} // namespace ember::quant

#include "quant/MixedPrecision.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <limits>

namespace ember::quant {

namespace {

// The planned tensors of each root in params8 (the root and those sharing
// its parameters).
std::map<std::string, std::vector<std::string>>
tensorsOfRoots(const QdqPlan &plan,
               const std::map<std::string, QParams> &params8) {
  std::map<std::string, std::vector<std::string>> out;
  std::set<std::string> seen;
  for (auto &t : plan.tensors) {
    if (!seen.insert(t.name).second)
      continue;
    std::string r = plan.root(t.name);
    if (params8.count(r))
      out[r].push_back(t.name);
  }
  return out;
}

onnx::NodeProto makeNode(const std::string &op,
                         const std::vector<std::string> &in,
                         const std::string &out) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(out);
  for (auto &i : in)
    n.add_input(i);
  n.add_output(out);
  return n;
}

constexpr const char *kProbe = "__ember_mp_";

// The probe model of outputNoise: every planned tensor x of root r becomes
// x + m_r (clip(round(x / s), qmin - z, qmax - z) s - x), m_r a float [1]
// graph input. `switches`: the roots, in the order of their inputs (after
// the model's own).
Expected<onnx::ModelProto>
probeModel(const onnx::ModelProto &fp32, const QdqPlan &plan,
           const std::map<std::string, QParams> &params8, int32_t qmin,
           int32_t qmax, std::vector<std::string> &switches) {
  onnx::ModelProto m = fp32;
  auto *g = m.mutable_graph();
  const auto byRoot = tensorsOfRoots(plan, params8);
  std::map<std::string, std::string> rootOfTensor;
  for (auto &kv : byRoot)
    for (auto &t : kv.second)
      rootOfTensor[t] = kv.first;
  std::map<std::string, std::string> switchOf;
  for (auto &kv : byRoot) {
    std::string sw =
        kProbe + std::string("switch_") + std::to_string(switches.size());
    switches.push_back(kv.first);
    switchOf[kv.first] = sw;
    auto *in = g->add_input();
    in->set_name(sw);
    auto *tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_value(1);
    const QParams &p = params8.at(kv.first);
    auto scalar = [&](const std::string &what, double v) {
      *g->add_initializer() =
          makeInitializer(sw + "_" + what, Tensor::scalar(ElemKind::F32, v));
    };
    if (p.channelScales.empty()) {
      scalar("s", p.scale);
    } else { // per channel: [1, C, 1, 1], broadcast over an NCHW map
      Tensor t(Type(ElemKind::F32, {1, int64_t(p.channelScales.size()), 1, 1}));
      for (size_t c = 0; c < p.channelScales.size(); ++c)
        t.data<float>()[c] = p.channelScales[c];
      *g->add_initializer() = makeInitializer(sw + "_s", t);
    }
    scalar("lo", double(qmin - p.zeroPoint));
    scalar("hi", double(qmax - p.zeroPoint));
  }
  int k = 0;
  // x (fp32) -> y (the switched fake quantization of x).
  auto fakeQuant = [&](const std::string &x, const std::string &y,
                       std::vector<onnx::NodeProto> &out) {
    const std::string &sw = switchOf.at(rootOfTensor.at(x));
    std::string p = kProbe + std::to_string(k++) + "_";
    out.push_back(makeNode("Div", {x, sw + "_s"}, p + "div"));
    out.push_back(makeNode("Round", {p + "div"}, p + "round"));
    out.push_back(
        makeNode("Clip", {p + "round", sw + "_lo", sw + "_hi"}, p + "clip"));
    out.push_back(makeNode("Mul", {p + "clip", sw + "_s"}, p + "dq"));
    out.push_back(makeNode("Sub", {p + "dq", x}, p + "err"));
    out.push_back(makeNode("Mul", {p + "err", sw}, p + "switched"));
    out.push_back(makeNode("Add", {x, p + "switched"}, y));
  };
  std::vector<onnx::NodeProto> nodes;
  // Graph inputs: their readers read the probed copy.
  std::map<std::string, std::string> renamed;
  for (auto &in : fp32.graph().input())
    if (rootOfTensor.count(in.name())) {
      std::string y = kProbe + std::string("in_") + in.name();
      fakeQuant(in.name(), y, nodes);
      renamed[in.name()] = y;
    }
  for (auto &n0 : fp32.graph().node()) {
    onnx::NodeProto n = n0;
    for (int i = 0; i < n.input_size(); ++i) {
      auto it = renamed.find(n.input(i));
      if (it != renamed.end())
        n.set_input(i, it->second);
    }
    std::vector<onnx::NodeProto> after;
    for (int i = 0; i < n.output_size(); ++i) {
      std::string x = n.output(i);
      if (!rootOfTensor.count(x))
        continue;
      // The writer writes x's fp32 value under another name; x is the
      // probed value, for every reader and the graph outputs alike.
      std::string raw = kProbe + std::string("raw_") + x;
      n.set_output(i, raw);
      rootOfTensor[raw] = rootOfTensor.at(x);
      std::vector<onnx::NodeProto> fq;
      fakeQuant(raw, x, fq);
      after.insert(after.end(), fq.begin(), fq.end());
    }
    nodes.push_back(std::move(n));
    nodes.insert(nodes.end(), after.begin(), after.end());
  }
  g->clear_node();
  for (auto &n : nodes)
    *g->add_node() = std::move(n);
  return m;
}

// Relative noise power of the outputs, summed over the outputs.
struct OutputNoise {
  std::vector<SqnrAccumulator> acc;
  void add(const std::vector<Tensor> &ref, const std::vector<Tensor> &y) {
    acc.resize(ref.size());
    for (size_t i = 0; i < ref.size() && i < y.size(); ++i)
      if (ref[i].elem() == ElemKind::F32 && y[i].elem() == ElemKind::F32 &&
          ref[i].size() == y[i].size())
        acc[i].add(ref[i].data<float>(), y[i].data<float>(), ref[i].size());
  }
  double relative() const {
    double r = 0;
    for (auto &a : acc)
      r += a.signal > 0 ? a.noise / a.signal : 0;
    return r;
  }
};

// A model's output SQNR against fp32, accumulated over the first `upto`
// samples.
struct Scored {
  std::vector<SqnrAccumulator> acc;
  size_t upto = 0;
  double db = 0;
};

std::vector<Tensor> outputsOf(std::map<std::string, Tensor> &named,
                              const std::vector<std::string> &outputs) {
  std::vector<Tensor> v;
  for (auto &o : outputs) {
    auto it = named.find(o);
    v.push_back(it != named.end() ? std::move(it->second) : Tensor());
  }
  return v;
}

// Wall and process CPU seconds since construction (the machine may be
// shared: both are printed).
struct Stopwatch {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  std::clock_t cpu = std::clock();
  std::string text() const {
    char b[64];
    std::snprintf(
        b, sizeof(b), "%.1f s, %.1f s of CPU",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall)
            .count(),
        double(std::clock() - cpu) / CLOCKS_PER_SEC);
    return b;
  }
};

double toDb(double relativeNoise) {
  return relativeNoise > 0 ? 10.0 * std::log10(relativeNoise) : -200.0;
}

} // namespace

Expected<std::map<std::string, double>> tensorNoise(
    const onnx::ModelProto &fp32, const std::map<std::string, QParams> &params8,
    int32_t qmin, int32_t qmax, const std::vector<Sample> &samples,
    const std::vector<InputDecl> &inputs, size_t n, const RunOptions &run) {
  if (samples.empty())
    return invalid("measuring quantization noise needs samples");
  n = std::min(n, samples.size());
  std::vector<std::string> names;
  for (auto &kv : params8)
    names.push_back(kv.first);
  EMBER_ASSIGN(auto ref,
               InstrumentedModel::create(
                   fp32, names, sampleShapes(inputs, samples[0]), run));
  std::map<std::string, SqnrAccumulator> own;
  for (size_t i = 0; i < n; ++i) {
    EMBER_ASSIGN(auto vals, ref->run(samples[i].inputs));
    for (auto &kv : params8) {
      auto it = vals.find(kv.first);
      if (it == vals.end() || it->second.elem() != ElemKind::F32)
        continue;
      const Tensor &x = it->second;
      const float *xp = x.data<float>();
      std::vector<float> fq(size_t(x.size()));
      const double z = kv.second.zeroPoint;
      // Per-channel scales along axis 1 (QParams::channelScales).
      const std::vector<float> &cs = kv.second.channelScales;
      int64_t inner = 1, chans = int64_t(cs.size());
      if (chans && x.rank() >= 2 && x.dims()[1] == chans)
        for (size_t d = 2; d < x.rank(); ++d)
          inner *= x.dims()[d];
      else
        chans = 0;
      for (int64_t k = 0; k < x.size(); ++k) {
        const double s =
            chans ? cs[size_t((k / inner) % chans)] : kv.second.scale;
        double q = std::nearbyint(double(float(xp[k] / float(s)))) + z;
        q = std::clamp(q, double(qmin), double(qmax));
        fq[size_t(k)] = float((q - z) * s);
      }
      own[kv.first].add(xp, fq.data(), x.size());
    }
  }
  std::map<std::string, double> out;
  for (auto &kv : own)
    out[kv.first] =
        kv.second.signal > 0 ? kv.second.noise / kv.second.signal : 0.0;
  return out;
}

Expected<std::map<std::string, double>>
outputNoise(const onnx::ModelProto &fp32, const QdqPlan &plan,
            const std::map<std::string, QParams> &params8, int32_t qmin,
            int32_t qmax, const std::vector<Sample> &samples,
            const std::vector<InputDecl> &inputs, size_t n,
            const RunOptions &run) {
  if (samples.empty())
    return invalid("measuring quantization noise needs samples");
  n = std::min(n, samples.size());
  std::vector<std::string> switches;
  EMBER_ASSIGN(onnx::ModelProto probe,
               probeModel(fp32, plan, params8, qmin, qmax, switches));
  auto shapes = sampleShapes(inputs, samples[0]);
  for (size_t i = 0; i < switches.size(); ++i)
    shapes[kProbe + std::string("switch_") + std::to_string(i)] = {1};
  std::vector<std::string> outputs;
  for (auto &x : fp32.graph().output())
    outputs.push_back(x.name());
  EMBER_ASSIGN(auto im, InstrumentedModel::create(probe, {}, shapes, run));
  std::vector<OutputNoise> acc(switches.size());
  Tensor off(Type(ElemKind::F32, {1})), on(Type(ElemKind::F32, {1}));
  off.data<float>()[0] = 0;
  on.data<float>()[0] = 1;
  for (size_t i = 0; i < n; ++i) {
    std::vector<Tensor> in = samples[i].inputs;
    const size_t base = in.size();
    in.resize(base + switches.size(), off);
    EMBER_ASSIGN(auto r0, im->run(in));
    auto ref = outputsOf(r0, outputs);
    for (size_t k = 0; k < switches.size(); ++k) {
      in[base + k] = on;
      auto r = im->run(in);
      in[base + k] = off;
      if (!r)
        return r.status().withContext("the mixed-precision probe model, "
                                      "activation '" +
                                      switches[k] + "'");
      acc[k].add(ref, outputsOf(*r, outputs));
    }
  }
  std::map<std::string, double> out;
  for (size_t k = 0; k < switches.size(); ++k)
    out[switches[k]] = acc[k].relative();
  return out;
}

namespace {

// Adds roots to `wide` greedily by noise removed per cycle added, the cost
// of each root taken again after every choice (a layer reading two roots
// costs its extra cycles once), while the cycles stay within `limit`.
std::set<std::string> greedyFill(const CycleTable &t,
                                 const std::map<std::string, double> &noise,
                                 double limit, std::set<std::string> wide) {
  for (;;) {
    const double now = t.predict(wide);
    const std::string *best = nullptr;
    double bestScore = -1;
    for (auto &kv : noise) {
      if (wide.count(kv.first))
        continue;
      std::set<std::string> w2 = wide;
      w2.insert(kv.first);
      double c = t.predict(w2);
      if (c > limit || !t.allowed(w2))
        continue;
      double extra = std::max(c - now, 0.0);
      // Free roots first of all, then noise per cycle; map order breaks
      // ties by name.
      double score = extra <= 0 ? std::numeric_limits<double>::infinity()
                                : kv.second / extra;
      if (!best || score > bestScore) {
        best = &kv.first;
        bestScore = score;
      }
    }
    if (!best)
      break;
    wide.insert(*best);
  }
  return wide;
}

double noiseLeft(const std::map<std::string, double> &noise,
                 const std::set<std::string> &wide) {
  double left = 0;
  for (auto &kv : noise)
    if (!wide.count(kv.first))
      left += kv.second;
  return left;
}

// A 0/1 knapsack on each root's own extra cycles, rounded up to 1/4096 of
// the extra budget (empty when there is none). A root's own extra is not
// always an upper bound of what it adds next to others (a layer reading two
// wide roots pays once, but one reading and writing them pays its 16-bit
// form, whose cycles need not be the sum): while the choice does not fit,
// the root removing the least noise per cycle leaves it; what is left is
// filled greedily.
std::set<std::string> knapsackFill(const CycleTable &t,
                                   const std::map<std::string, double> &noise,
                                   double limit) {
  const double base = t.predict({});
  const double room = limit - base;
  if (room <= 0)
    return {};
  constexpr int kUnits = 4096;
  std::vector<std::string> items;
  std::vector<int> weight;
  std::vector<double> value;
  std::set<std::string> free;
  std::map<std::string, double> ownExtra;
  for (auto &kv : noise) {
    double extra = t.predict({kv.first}) - base;
    ownExtra[kv.first] = extra;
    if (extra <= 0) {
      free.insert(kv.first);
      continue;
    }
    if (extra > room)
      continue;
    items.push_back(kv.first);
    weight.push_back(
        std::min(kUnits, int(std::ceil(extra / room * kUnits - 1e-9))));
    value.push_back(kv.second);
  }
  std::vector<double> best(kUnits + 1, 0.0);
  std::vector<std::vector<bool>> take(items.size(),
                                      std::vector<bool>(kUnits + 1, false));
  for (size_t i = 0; i < items.size(); ++i)
    for (int c = kUnits; c >= weight[i]; --c)
      if (best[size_t(c - weight[i])] + value[i] > best[size_t(c)]) {
        best[size_t(c)] = best[size_t(c - weight[i])] + value[i];
        take[i][size_t(c)] = true;
      }
  std::set<std::string> ks = free;
  for (size_t i = items.size(), c = kUnits; i-- > 0;)
    if (take[i][c]) {
      ks.insert(items[i]);
      c -= size_t(weight[i]);
    }
  while (!ks.empty() && (t.predict(ks) > limit || !t.allowed(ks))) {
    const std::string *worst = nullptr;
    double worstScore = 0;
    for (auto &x : ks) {
      double e = std::max(ownExtra[x], 1e-9);
      double score = noise.at(x) / e;
      if (!worst || score < worstScore) {
        worst = &x;
        worstScore = score;
      }
    }
    ks.erase(*worst);
  }
  return greedyFill(t, noise, limit, std::move(ks));
}

} // namespace

std::set<std::string> chooseWide(const CycleTable &t,
                                 const std::map<std::string, double> &noise,
                                 double limit) {
  return candidateSets(t, noise, limit, 1).front();
}

std::vector<std::set<std::string>>
candidateSets(const CycleTable &t, const std::map<std::string, double> &noise,
              double limit, size_t maxCount) {
  std::set<std::string> greedy = greedyFill(t, noise, limit, {});
  std::set<std::string> ks = knapsackFill(t, noise, limit);
  std::vector<std::set<std::string>> out;
  // The better of the two by the noise they leave first (greedy on a tie).
  if (noiseLeft(noise, ks) < noiseLeft(noise, greedy))
    std::swap(ks, greedy);
  out.push_back(greedy);
  if (ks != greedy && t.predict(ks) <= limit)
    out.push_back(ks);
  if (out.size() >= maxCount)
    return std::vector<std::set<std::string>>(out.begin(),
                                              out.begin() + long(maxCount));
  // Neighbours of the best: one of its 16-bit tensors back at 8 bits, the
  // room it frees filled greedily by the others (one cheaper tensor, two,
  // or more), ranked by the noise they leave.
  std::vector<std::pair<double, std::set<std::string>>> near;
  for (auto &x : out.front()) {
    std::map<std::string, double> rest = noise;
    rest.erase(x);
    std::set<std::string> w = out.front();
    w.erase(x);
    w = greedyFill(t, rest, limit, std::move(w));
    near.emplace_back(noiseLeft(noise, w), std::move(w));
  }
  std::stable_sort(near.begin(), near.end(), [](const auto &a, const auto &b) {
    return a.first < b.first;
  });
  for (auto &c : near) {
    if (out.size() >= maxCount)
      break;
    if (std::find(out.begin(), out.end(), c.second) == out.end())
      out.push_back(std::move(c.second));
  }
  return out;
}

std::set<std::string>
chooseWide(const onnx::GraphProto &g, const QdqPlan &plan,
           const std::map<std::string, double> &nodeCycles,
           const std::map<std::string, double> &noise, double limit) {
  return chooseWide(CycleTable::doubling(g, plan, nodeCycles), noise, limit);
}

namespace {

double compiledCycles(const std::map<std::string, double> &c) {
  double t = 0;
  for (auto &kv : c)
    t += kv.second;
  return t;
}

// The cost table: the NPU compiler's cycles per layer on compiles of
// mixes: all-int8, all-int16, the roots alternating in topological
// order both ways, which put every layer in its 8-to-16 and 16-to-8
// boundary forms, and two that give each group of several inputs (an
// add) one input of each width, writing 16 bits in one and 8 in the
// other: such a group is a layer of its own where the all-int8 and
// all-int16 models fuse it into its producer at no cost of its own.
// `nodeCycles` is the all-int8 model's compile; `compiles` and `refused`
// count the compiles made.
Expected<CycleTable>
measureCycleTable(const onnx::GraphProto &g, const QdqPlan &plan,
                  const std::map<std::string, QParams> &params8,
                  const std::map<std::string, double> &nodeCycles,
                  const NodeCostFn &cost, const WideBuildFn &build,
                  std::ostream *log, int &compiles, int &refused) {
  CycleTable table = CycleTable::empty(g, plan);
  table.measure(g, plan, {}, nodeCycles, true);
  compiles = 1;
  refused = 0;
  std::vector<std::string> order;
  std::set<std::string> seenRoot;
  for (auto &t : plan.tensors) {
    std::string rt = plan.root(t.name);
    if (params8.count(rt) && seenRoot.insert(rt).second)
      order.push_back(rt);
  }
  // A mix the compiler refuses is split in two along the order and each
  // half (the rest 8-bit) compiled instead, so one layer it cannot place
  // in some form leaves only its neighbourhood unmeasured.
  std::vector<std::vector<std::string>> queue(7);
  queue[0] = order;
  for (size_t i = 0; i < order.size(); ++i)
    queue[1 + i % 2].push_back(order[i]);
  // And two that give such a group inputs of one width and an output of
  // the other (a Concat of 8-bit maps into a 16-bit one converts each
  // input; the alternating mixes never make both inputs 8-bit there).
  std::set<std::string> mixedA, mixedB, outs, ins;
  for (const CycleTable::Roots &gr : table.roots)
    if (gr.in.size() > 1) {
      mixedA.insert(*gr.in.begin());
      mixedA.insert(gr.out.begin(), gr.out.end());
      mixedB.insert(*std::next(gr.in.begin()));
      outs.insert(gr.out.begin(), gr.out.end());
      ins.insert(gr.in.begin(), gr.in.end());
    }
  for (const std::string &rt : order) {
    if (mixedA.count(rt))
      queue[3].push_back(rt);
    if (mixedB.count(rt) && !mixedA.count(rt))
      queue[4].push_back(rt);
    if (outs.count(rt) && !ins.count(rt))
      queue[5].push_back(rt);
    if (ins.count(rt) && !outs.count(rt))
      queue[6].push_back(rt);
  }
  for (size_t qi = 0; qi < queue.size() && qi < 24; ++qi) {
    const std::vector<std::string> part = queue[qi];
    if (part.empty())
      continue;
    std::set<std::string> w(part.begin(), part.end());
    EMBER_ASSIGN(onnx::ModelProto mix, build(w));
    auto c = cost(mix);
    if (c) {
      table.measure(g, plan, w, *c, false);
      ++compiles;
      continue;
    }
    ++refused;
    if (log && refused == 1)
      *log << "  note: the NPU compiler refuses a mix, " << c.status().message()
           << "; its halves are compiled instead\n";
    if (part.size() > 1) {
      const size_t h = part.size() / 2;
      queue.emplace_back(part.begin(), part.begin() + long(h));
      queue.emplace_back(part.begin() + long(h), part.end());
    }
  }
  // Then mixes aimed at the signatures still unmeasured, a few compiles
  // (each aims at one per group; a refused one is not retried).
  std::set<std::pair<size_t, int>> tried;
  for (int extra = 0; extra < 6; ++extra) {
    const std::set<std::string> w = table.coverMix(tried);
    if (w.empty())
      break;
    EMBER_ASSIGN(onnx::ModelProto mix, build(w));
    auto c = cost(mix);
    if (!c) {
      ++refused;
      continue;
    }
    table.measure(g, plan, w, *c, false);
    ++compiles;
  }
  table.fill();
  return table;
}

// The output SQNR of QDQ models against the fp32 model's outputs on the
// first n samples (run once, at construction): the worst of the outputs',
// as `evaluate` computes it, a quantized graph input compared through its
// dequantized value.
class OutputScorer {
public:
  OutputScorer(const onnx::GraphProto &g, const std::vector<Sample> &samples,
               const std::vector<InputDecl> &inputs,
               const std::map<std::string, std::string> &aliases, size_t n,
               const RunOptions &run)
      : samples_(samples), aliases_(aliases), n_(n), run_(run) {
    for (auto &x : g.output())
      outputs_.push_back(x.name());
    shapes_ = sampleShapes(inputs, samples[0]);
  }
  // The fp32 outputs (and, as the evaluation wants them, every planned
  // tensor): every model the search measures is compared to them.
  Status runReference(const onnx::ModelProto &fp32) {
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (auto &x : outputs_)
      if (seen.insert(x).second)
        names.push_back(x);
    EMBER_ASSIGN(auto ref,
                 InstrumentedModel::create(fp32, names, shapes_, run_));
    for (size_t i = 0; i < n_; ++i) {
      EMBER_ASSIGN(auto a, ref->run(samples_[i].inputs));
      refOut_.push_back(outputsOf(a, outputs_));
    }
    return Status::ok();
  }
  // Accumulates m's output SQNR over samples [sc.upto, to).
  Status score(const onnx::ModelProto &m, Scored &sc, size_t to) const {
    std::set<std::string> defined;
    for (auto &x : m.graph().node())
      for (auto &y : x.output())
        defined.insert(y);
    std::vector<std::string> qnames;
    for (auto &t : outputs_) {
      auto it = aliases_.find(t);
      qnames.push_back(
          it != aliases_.end() && defined.count(it->second) ? it->second : t);
    }
    EMBER_ASSIGN(auto q, InstrumentedModel::create(m, qnames, shapes_, run_));
    sc.acc.resize(outputs_.size());
    for (size_t i = sc.upto; i < to; ++i) {
      EMBER_ASSIGN(auto b, q->run(samples_[i].inputs));
      auto y = outputsOf(b, qnames);
      for (size_t k = 0; k < outputs_.size(); ++k)
        if (refOut_[i][k].elem() == ElemKind::F32 &&
            y[k].elem() == ElemKind::F32 && refOut_[i][k].size() == y[k].size())
          sc.acc[k].add(refOut_[i][k].data<float>(), y[k].data<float>(),
                        refOut_[i][k].size());
    }
    sc.upto = std::max(sc.upto, to);
    sc.db = std::numeric_limits<double>::infinity();
    for (auto &a : sc.acc)
      sc.db = std::min(sc.db, a.db());
    return Status::ok();
  }

private:
  const std::vector<Sample> &samples_;
  const std::map<std::string, std::string> &aliases_;
  size_t n_;
  const RunOptions &run_;
  std::vector<std::string> outputs_;
  std::map<std::string, Dims> shapes_;
  std::vector<std::vector<Tensor>> refOut_;
};

// A set of 16-bit tensors built and compiled (and, with o.measure, run on
// the timed model); its excess over the budget in cycles of the all-int8
// compile (<= 0: it fits), or the compiler's refusal.
struct Check {
  bool refused = false;
  double cycles = 0, excess = 0, timed = 0;
  onnx::ModelProto mix;
};

// Checks candidate sets against the budget, numbering them in the log. The
// all-int8 model's timed cycles are measured at the first set that fits
// the compile's budget (r.measuredBase; -1 when the timed model cannot run
// it).
struct MixChecker {
  const onnx::ModelProto &int8;
  const std::vector<Sample> &samples;
  const CycleTable &table;
  const NodeCostFn &cost;
  const WideBuildFn &build;
  const MixedPrecisionOptions &o;
  double limit;
  MixedPrecisionResult &r;
  int checks = 0;

  Expected<Check> operator()(const std::set<std::string> &w,
                             const std::string &what) {
    std::ostream *log = o.log;
    char buf[512];
    Check k;
    ++checks;
    EMBER_ASSIGN(k.mix, build(w));
    auto c = cost(k.mix);
    if (!c) {
      if (log)
        *log << "  choice " << checks << ": " << w.size() << " tensors 16-bit"
             << what << ", refused by the NPU compiler ("
             << c.status().message() << ")\n";
      k.refused = true;
      return k;
    }
    k.cycles = compiledCycles(*c);
    k.excess = k.cycles - limit;
    std::string timed;
    if (k.excess <= 0 && o.measure) {
      if (r.measuredBase == 0) {
        auto m8 = o.measure(int8, samples[0].inputs);
        if (!m8 || *m8 <= 0) {
          if (log)
            *log << "  note: the timed NPU model does not run the all-int8 "
                    "model ("
                 << (m8 ? "no cycles" : m8.status().message())
                 << "); the budget is the cost model's\n";
          r.measuredBase = -1;
        } else {
          r.measuredBase = *m8;
        }
      }
      if (r.measuredBase > 0) {
        auto mm = o.measure(k.mix, samples[0].inputs);
        if (!mm)
          return mm.status().withContext("running the mixed-precision "
                                         "choice on the timed NPU model");
        k.timed = *mm;
        const double ratio = *mm / r.measuredBase;
        k.excess = (ratio - o.budget) * r.baseCycles;
        std::snprintf(buf, sizeof(buf), "; timed %.0f against %.0f (%.3fx)",
                      *mm, r.measuredBase, ratio);
        timed = buf;
      }
    }
    if (log) {
      std::snprintf(buf, sizeof(buf),
                    "  choice %d: %zu tensors 16-bit%s, table %.0f cycles, "
                    "compiled %.0f (%.3fx)",
                    checks, w.size(), what.c_str(), table.predict(w), k.cycles,
                    k.cycles / r.baseCycles);
      *log << buf << timed << "\n";
    }
    return k;
  }
};

// The search's current choice: its 16-bit roots, model, compiled cycles
// and (when measured) output SQNR.
struct Choice {
  std::set<std::string> wide;
  onnx::ModelProto model;
  double cycles = 0;
  Scored score;
};

// 1. The summed-noise proxy's choice on the table, checked: while it does
// not fit (the compile predicts more than the budget, or the timed model
// measures more than the budget against the all-int8 model there, or the
// compiler refuses it), the table's limit comes down below it by the
// excess and the choice is made again, at most 6 times. This finds the
// table limit at which the budget holds on the device; returns it.
Expected<double> proxyChoice(const CycleTable &table,
                             const std::map<std::string, double> &noise,
                             double limit, MixChecker &check, Choice &ch,
                             MixedPrecisionResult &r) {
  double target = limit;
  for (int attempt = 0; attempt < 6; ++attempt) {
    std::set<std::string> w = chooseWide(table, noise, target);
    if (w.empty())
      break;
    EMBER_ASSIGN(Check k, check(w, ""));
    if (!k.refused && k.excess <= 0) {
      ch.wide = std::move(w);
      ch.model = std::move(k.mix);
      ch.cycles = k.cycles;
      r.measured = k.timed;
      break;
    }
    // Below what the table predicts for this choice, so the next differs.
    target = std::min(target, table.predict(w)) -
             (k.refused ? 0.005 * r.baseCycles : k.excess);
  }
  return target;
}

// 1b. When no choice of step 1 fits (the table misjudges the mixes: a
// root it prices as free or cheaper at 16 bits costs cycles once its
// neighbours are 16-bit too, e.g. a transformer's attention): the roots
// ranked by the output noise each removes per cycle it adds alone on the
// table, counting at least 1% of the all-int8 cycles for each so that none
// is taken as free, and the longest prefix of that ranking whose compile
// fits, found by bisection (the empty prefix fits), at most 8 compiles.
// Returns the table's prediction for the prefix kept (the limit the
// candidate sets are then drawn at).
Expected<double> prefixChoice(const CycleTable &table,
                              const std::map<std::string, double> &noise,
                              MixChecker &check, Choice &ch,
                              MixedPrecisionResult &r) {
  const double base = table.predict({}), least = 0.01 * r.baseCycles;
  std::vector<std::pair<double, std::string>> rank;
  for (auto &kv : noise)
    if (kv.second > 0)
      rank.emplace_back(-kv.second /
                            std::max(table.predict({kv.first}) - base, least),
                        kv.first);
  std::sort(rank.begin(), rank.end());
  // (A tensor that would make a set not allowed, CycleTable::allowed, is
  // passed over.)
  auto prefix = [&](size_t n) {
    std::set<std::string> w;
    for (size_t i = 0; i < rank.size() && w.size() < n; ++i) {
      w.insert(rank[i].second);
      if (!table.allowed(w))
        w.erase(rank[i].second);
    }
    return w;
  };
  // lo: a prefix that fits; hi: one that does not (past the end at first).
  size_t lo = 0, hi = rank.size() + 1;
  for (int tries = 0; hi - lo > 1 && tries < 8; ++tries) {
    const size_t mid = lo + (hi - lo) / 2;
    std::set<std::string> w = prefix(mid);
    EMBER_ASSIGN(Check k, check(w, " (the noisiest per cycle)"));
    if (k.refused || k.excess > 0) {
      hi = mid;
      continue;
    }
    lo = mid;
    ch.wide = std::move(w);
    ch.model = std::move(k.mix);
    ch.cycles = k.cycles;
    r.measured = k.timed;
  }
  return table.predict(ch.wide);
}

// 2. The candidate sets at that limit (candidateSets: the proxy's choice,
// the greedy or knapsack one, the neighbours), each built and run on the
// first ns samples; those measuring a better output SQNR than the proxy's
// choice (by kCostlierMarginDb when it costs more on the table) are
// checked in that order, the first that fits kept. Returns the number of
// candidate runs.
Expected<size_t> measuredChoice(const CycleTable &table,
                                const std::map<std::string, double> &noise,
                                double target, size_t ns,
                                const OutputScorer &scorer,
                                const WideBuildFn &build, MixChecker &check,
                                const MixedPrecisionOptions &o, Choice &ch,
                                MixedPrecisionResult &r) {
  std::ostream *log = o.log;
  char buf[512];
  size_t runs = 0;
  auto cands = candidateSets(table, noise, target, o.candidates);
  std::vector<std::pair<double, size_t>> better;
  std::vector<Scored> sc(cands.size());
  EMBER_TRY(scorer.score(ch.model, ch.score, ns));
  ++runs;
  for (size_t ci = 0; ci < cands.size() && runs < o.maxMeasured; ++ci) {
    if (cands[ci].empty() || cands[ci] == ch.wide)
      continue;
    EMBER_ASSIGN(onnx::ModelProto m, build(cands[ci]));
    EMBER_TRY(scorer.score(m, sc[ci], ns));
    ++runs;
    if (log) {
      std::snprintf(buf, sizeof(buf),
                    "  candidate %zu: %zu tensors 16-bit, table %.0f "
                    "cycles, summed noise left %.2f dB, output SQNR %.2f "
                    "dB on %zu sample(s) (the proxy's choice: %.2f dB)\n",
                    ci + 1, cands[ci].size(), table.predict(cands[ci]),
                    toDb(noiseLeft(noise, cands[ci])), sc[ci].db, ns,
                    ch.score.db);
      *log << buf;
    }
    if (measuredBetter(sc[ci].db, ch.score.db,
                       table.predict(cands[ci]) > table.predict(ch.wide)))
      better.emplace_back(-sc[ci].db, ci);
  }
  std::sort(better.begin(), better.end());
  for (size_t b = 0; b < better.size() && b < o.checksPerChoice; ++b) {
    const size_t ci = better[b].second;
    std::snprintf(buf, sizeof(buf), " (output SQNR %.2f dB)", sc[ci].db);
    EMBER_ASSIGN(Check k, check(cands[ci], buf));
    if (k.refused || k.excess > 0)
      continue;
    ch.wide = cands[ci];
    ch.model = std::move(k.mix);
    ch.cycles = k.cycles;
    ch.score = std::move(sc[ci]);
    r.measured = k.timed;
    break;
  }
  return runs;
}

// The log's account of the choice: with o.listRanking every activation
// tensor, the noisiest first (what it costs the output at 8 bits, what it
// adds to the cycles alone at 16 on the table, who writes and reads it);
// the 16-bit tensors; the totals.
void logChoice(std::ostream &log, const onnx::GraphProto &g,
               const QdqPlan &plan, const CycleTable &table,
               const std::map<std::string, double> &noise,
               const MixedPrecisionResult &r, bool listRanking,
               const std::string &phaseText) {
  char buf[512];
  const std::set<std::string> &wide = r.wide;
  size_t numRoots = 0;
  for (auto &t : plan.tensors)
    numRoots += t.shareWith.empty();
  std::map<std::string, std::vector<int>> writers;
  for (size_t gi = 0; gi < table.roots.size(); ++gi)
    for (auto &t : table.roots[gi].out)
      writers[t].push_back(int(gi));
  if (listRanking) {
    std::map<std::string, std::vector<int>> readers;
    for (size_t gi = 0; gi < table.roots.size(); ++gi)
      for (auto &t : table.roots[gi].in)
        readers[t].push_back(int(gi));
    auto names = [&](const std::vector<int> &gs) {
      std::string s;
      for (int gi : gs)
        s += (s.empty() ? "" : ", ") + groupName(g, plan.groups[size_t(gi)]);
      return s.empty() ? std::string("-") : s;
    };
    std::vector<std::pair<double, std::string>> byNoise;
    for (auto &kv : noise)
      byNoise.emplace_back(-kv.second, kv.first);
    std::sort(byNoise.begin(), byNoise.end());
    const double base = table.predict({});
    log << "mixed precision ranking (output noise of each activation "
           "tensor alone at 8 bits; the cycles it adds alone at 16 bits "
           "on the table; written by -> read by):\n";
    for (auto &e : byNoise) {
      const std::string &t = e.second;
      std::snprintf(buf, sizeof(buf), "  %s %-24s %8.2f dB %+9.0f cycles  ",
                    wide.count(t) ? "16" : " 8", t.c_str(), toDb(noise.at(t)),
                    table.predict({t}) - base);
      log << buf << names(writers[t]) << " -> " << names(readers[t]) << "\n";
    }
  }
  log << "16-bit activations (written by; output noise of the tensor "
         "alone at 8 bits):\n";
  for (auto &t : wide) {
    std::string by;
    auto it = writers.find(t);
    if (it != writers.end())
      for (int gi : it->second)
        by += (by.empty() ? "" : ", ") + groupName(g, plan.groups[size_t(gi)]);
    auto nit = noise.find(t);
    std::snprintf(buf, sizeof(buf), "%.2f dB",
                  toDb(nit != noise.end() ? nit->second : 0.0));
    log << "  " << t << " (" << (by.empty() ? "graph input" : by) << "; " << buf
        << ")\n";
  }
  std::snprintf(buf, sizeof(buf),
                "mixed precision: %zu of %zu activation tensors 16-bit; "
                "predicted NPU cycles %.0f = %.3fx the all-int8 model's "
                "%.0f (the compile of the choice; the table %.0f); %zu "
                "layer(s) sent to the host; output SQNR %.2f dB (all-int8 "
                "%.2f dB) (%s)\n",
                wide.size(), numRoots, r.cycles, r.cycles / r.baseCycles,
                r.baseCycles, r.tableCycles, r.offDevice, r.outputSqnr,
                r.int8Sqnr, phaseText.c_str());
  log << buf;
  if (r.measuredBase > 0) {
    std::snprintf(buf, sizeof(buf),
                  "mixed precision: timed NPU model %.0f cycles = %.3fx the "
                  "all-int8 model's %.0f\n",
                  r.measured, r.measured / r.measuredBase, r.measuredBase);
    log << buf;
  }
}

} // namespace

Expected<MixedPrecisionResult> searchMixedPrecision(
    const onnx::ModelProto &fp32, const onnx::ModelProto &int8,
    const QdqPlan &plan, const std::map<std::string, QParams> &params8,
    int32_t qmin, int32_t qmax, const std::vector<Sample> &samples,
    const std::vector<InputDecl> &inputs,
    const std::map<std::string, std::string> &aliases, const NodeCostFn &cost,
    const WideBuildFn &build, const MixedPrecisionOptions &o) {
  if (samples.empty())
    return invalid("--mixed-precision measures the model on calibration "
                   "samples: give --calibration");
  const auto &g = fp32.graph();
  std::ostream *log = o.log;
  char buf[512];

  Stopwatch phase;
  EMBER_ASSIGN(auto nodeCycles, cost(int8));
  if (nodeCycles.empty())
    return invalid("the NPU cost model predicts no layer of the int8 model "
                   "(nothing of it runs on the NPU)");
  MixedPrecisionResult r;
  r.baseCycles = compiledCycles(nodeCycles);
  const double limit = o.budget * r.baseCycles;
  int compiles = 1, refused = 0;
  EMBER_ASSIGN(CycleTable table,
               measureCycleTable(g, plan, params8, nodeCycles, cost, build, log,
                                 compiles, refused));
  if (log) {
    std::snprintf(buf, sizeof(buf),
                  "mixed precision: NPU cost table from %d compiles, %d "
                  "refused (all-int8 %.0f cycles, all-int16 %.0f) (%s)\n",
                  compiles, refused, table.predict({}), table.predict([&] {
                    std::set<std::string> a;
                    for (auto &kv : params8)
                      a.insert(kv.first);
                    return a;
                  }()),
                  phase.text().c_str());
    *log << buf;
  }

  size_t n = std::min(samples.size(), std::max<size_t>(o.evalSamples, 1));
  OutputScorer scorer(g, samples, inputs, aliases, n, o.run);
  EMBER_TRY(scorer.runReference(fp32));
  {
    Scored s8;
    EMBER_TRY(scorer.score(int8, s8, n));
    r.int8Sqnr = s8.db;
  }
  if (log) {
    std::snprintf(buf, sizeof(buf),
                  "mixed precision: all-int8 output SQNR %.2f dB, predicted "
                  "NPU cycles %.0f, budget %.2fx (%.0f cycles) (%s)\n",
                  r.int8Sqnr, r.baseCycles, o.budget, limit,
                  phase.text().c_str());
    *log << buf;
  }

  // Output-referred sensitivity of every root, then the choice.
  const size_t nr =
      std::min(samples.size(), std::max<size_t>(o.rankSamples, 1));
  phase = Stopwatch();
  EMBER_ASSIGN(auto noise, outputNoise(fp32, plan, params8, qmin, qmax, samples,
                                       inputs, nr, o.run));
  const std::string rankTime = phase.text();
  phase = Stopwatch();
  MixChecker check{int8, samples, table, cost, build, o, limit, r};
  Choice ch;
  ch.model = int8;
  ch.cycles = r.baseCycles;
  EMBER_ASSIGN(double target, proxyChoice(table, noise, limit, check, ch, r));
  if (ch.wide.empty()) {
    EMBER_ASSIGN(double kept, prefixChoice(table, noise, check, ch, r));
    target = kept;
  }
  if (ch.wide.empty() && log)
    *log << "  no choice fits the budget: the all-int8 model\n";

  const size_t ns = std::min(n, std::max<size_t>(o.selectSamples, 1));
  size_t runs = 0;
  if (!ch.wide.empty() && o.candidates > 1) {
    EMBER_ASSIGN(runs, measuredChoice(table, noise, target, ns, scorer, build,
                                      check, o, ch, r));
  }
  double chosenSqnr = r.int8Sqnr;
  if (!ch.wide.empty()) {
    // The chosen model's output SQNR on all n samples.
    EMBER_TRY(scorer.score(ch.model, ch.score, n));
    chosenSqnr = ch.score.db;
  }
  double kept = 0, all = 0;
  for (auto &kv : noise) {
    all += kv.second;
    if (!ch.wide.count(kv.first))
      kept += kv.second;
  }
  if (log) {
    std::snprintf(buf, sizeof(buf),
                  "  ranking: %zu activation tensors, each alone at 8 bits "
                  "on %zu sample(s); the 8-bit ones left add %.2f dB of "
                  "output noise, all of them %.2f dB (%s); %zu candidate "
                  "set(s) run on %zu sample(s), choices compiled and timed "
                  "(%s)\n",
                  noise.size(), nr, toDb(kept), toDb(all), rankTime.c_str(),
                  runs, ns, phase.text().c_str());
    *log << buf;
  }
  r.model = std::move(ch.model);
  r.wide = ch.wide;
  r.cycles = ch.cycles;
  r.measuredBase = std::max(r.measuredBase, 0.0);
  if (ch.wide.empty())
    r.measured = r.measuredBase;
  r.tableCycles = table.predict(ch.wide);
  r.offDevice = table.offDevice(ch.wide);
  r.outputSqnr = chosenSqnr;
  if (log)
    logChoice(*log, g, plan, table, noise, r, o.listRanking, phase.text());
  return r;
}

} // namespace ember::quant

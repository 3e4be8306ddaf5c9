#include "quant/MixedPrecision.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace ember::quant {

namespace {

std::string rootOf(const QdqPlan &plan, const std::string &t) {
  std::string r = t;
  for (int guard = 0; guard < 100000; ++guard) {
    const TensorSpec *x = plan.spec(r);
    if (!x || x->shareWith.empty())
      break;
    r = x->shareWith;
  }
  return r;
}

// The roots of a group's quantized activation inputs and outputs.
struct GroupRoots {
  std::set<std::string> in, out;
};

std::vector<GroupRoots> groupRoots(const onnx::GraphProto &g,
                                   const QdqPlan &plan) {
  std::vector<GroupRoots> out(plan.groups.size());
  for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
    const QuantGroup &q = plan.groups[gi];
    for (auto &ai : q.activationInputs) {
      const std::string &t = g.node(ai.first).input(ai.second);
      if (plan.spec(t))
        out[gi].in.insert(rootOf(plan, t));
    }
    for (auto &t : q.outputs)
      if (plan.spec(t))
        out[gi].out.insert(rootOf(plan, t));
  }
  return out;
}

double groupCycles(const onnx::GraphProto &g, const QuantGroup &q,
                   const std::map<std::string, double> &nodeCycles) {
  double c = 0;
  for (int node : {q.anchor, q.biasAdd, q.activation}) {
    if (node < 0)
      continue;
    auto it = nodeCycles.find(g.node(node).name());
    if (it != nodeCycles.end())
      c += it->second;
  }
  return c;
}

bool readsWide(const GroupRoots &r, const std::set<std::string> &wide) {
  for (auto &t : r.in)
    if (wide.count(t))
      return true;
  return false;
}

} // namespace

double predictCycles(const onnx::GraphProto &g, const QdqPlan &plan,
                     const std::map<std::string, double> &nodeCycles,
                     const std::set<std::string> &wide) {
  double total = 0;
  for (auto &kv : nodeCycles)
    total += kv.second;
  auto roots = groupRoots(g, plan);
  for (size_t gi = 0; gi < plan.groups.size(); ++gi)
    if (readsWide(roots[gi], wide))
      total +=
          (kWideCostFactor - 1) * groupCycles(g, plan.groups[gi], nodeCycles);
  return total;
}

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

  // What is compared: every planned tensor and the model outputs.
  std::vector<std::string> names, outputs;
  std::set<std::string> seen;
  for (auto &t : plan.tensors)
    if (seen.insert(t.name).second)
      names.push_back(t.name);
  for (auto &x : g.output()) {
    outputs.push_back(x.name());
    if (seen.insert(x.name()).second)
      names.push_back(x.name());
  }
  size_t n = std::min(samples.size(), std::max<size_t>(o.evalSamples, 1));
  auto shapes = sampleShapes(inputs, samples[0]);
  EMBER_ASSIGN(auto ref, InstrumentedModel::create(fp32, names, shapes, o.run));

  // The cost model on the all-int8 model.
  EMBER_ASSIGN(auto nodeCycles, cost(int8));
  if (nodeCycles.empty())
    return invalid("the NPU cost model predicts no layer of the int8 model "
                   "(nothing of it runs on the NPU)");
  const auto roots = groupRoots(g, plan);
  std::vector<double> gCycles;
  for (auto &q : plan.groups)
    gCycles.push_back(groupCycles(g, q, nodeCycles));
  std::set<std::string> none;
  MixedPrecisionResult r;
  r.baseCycles = predictCycles(g, plan, nodeCycles, none);
  const double limit = o.budget * r.baseCycles;

  // The groups writing each root (whose output quantization a wide root
  // removes), and graph inputs.
  std::map<std::string, std::vector<int>> writers;
  for (size_t gi = 0; gi < roots.size(); ++gi)
    for (auto &t : roots[gi].out)
      writers[t].push_back(int(gi));

  // Each root's own quantization noise on the fp32 values: QuantizeLinear
  // then DequantizeLinear with its 8-bit parameters (round half to even,
  // saturated), as relative noise power.
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
      const double s = kv.second.scale;
      const double z = kv.second.zeroPoint;
      for (int64_t k = 0; k < x.size(); ++k) {
        double q = std::nearbyint(double(float(xp[k] / float(s)))) + z;
        q = std::clamp(q, double(qmin), double(qmax));
        fq[size_t(k)] = float((q - z) * s);
      }
      own[kv.first].add(xp, fq.data(), x.size());
    }
  }
  EMBER_ASSIGN(Evaluation ev, evaluate(*ref, int8, names, aliases, outputs,
                                       samples, n, shapes, o.run));
  r.int8Sqnr = ev.outputSqnr;
  if (log) {
    std::snprintf(buf, sizeof(buf),
                  "mixed precision: all-int8 output SQNR %.2f dB, predicted "
                  "NPU cycles %.0f, budget %.2fx (%.0f cycles)\n",
                  ev.outputSqnr, r.baseCycles, o.budget, limit);
    *log << buf;
  }
  onnx::ModelProto current = int8;
  std::set<std::string> wide;
  const int rounds = std::max(1, o.rounds);
  for (int round = 1; round <= rounds; ++round) {
    // This round may spend its share of the extra cycles the budget allows.
    const double roundLimit =
        r.baseCycles + (limit - r.baseCycles) * double(round) / double(rounds);
    // Noise each root's quantization adds: the writers' added noise
    // (relative power), or a graph input's own.
    std::map<std::string, double> noise;
    for (auto &kv : own)
      noise[kv.first] += std::pow(10.0, -kv.second.db() / 10.0);
    for (auto &l : layers(g, plan, ev, {})) {
      double added = std::pow(10.0, -l.drop / 10.0);
      for (auto &t : roots[size_t(l.group)].out)
        noise[t] += added;
    }
    struct Cand {
      std::string root;
      double noise, extra;
    };
    std::vector<Cand> cands;
    for (auto &kv : noise) {
      if (wide.count(kv.first))
        continue;
      std::set<std::string> w2 = wide;
      w2.insert(kv.first);
      double extra = predictCycles(g, plan, nodeCycles, w2) -
                     predictCycles(g, plan, nodeCycles, wide);
      cands.push_back({kv.first, kv.second, extra});
    }
    // Most noise removed per cycle added first (free ones first of all);
    // ties by name, so the choice is deterministic.
    std::sort(cands.begin(), cands.end(), [](const Cand &a, const Cand &b) {
      double sa = a.noise / std::max(a.extra, 1e-9),
             sb = b.noise / std::max(b.extra, 1e-9);
      if (sa != sb)
        return sa > sb;
      return a.root < b.root;
    });
    size_t added = 0;
    for (auto &c : cands) {
      std::set<std::string> w2 = wide;
      w2.insert(c.root);
      if (predictCycles(g, plan, nodeCycles, w2) > roundLimit)
        continue;
      wide = std::move(w2);
      ++added;
    }
    if (!added)
      continue; // a later round has more of the budget
    EMBER_ASSIGN(current, build(wide));
    EMBER_ASSIGN(ev, evaluate(*ref, current, names, aliases, outputs, samples,
                              n, shapes, o.run));
    if (log) {
      std::snprintf(buf, sizeof(buf),
                    "  round %d: %zu more 16-bit tensor(s), %zu in all, "
                    "predicted %.0f cycles (%.3fx), output SQNR %.2f dB\n",
                    round, added, wide.size(),
                    predictCycles(g, plan, nodeCycles, wide),
                    predictCycles(g, plan, nodeCycles, wide) / r.baseCycles,
                    ev.outputSqnr);
      *log << buf;
    }
  }
  r.model = std::move(current);
  r.wide = wide;
  r.cycles = predictCycles(g, plan, nodeCycles, wide);
  r.outputSqnr = ev.outputSqnr;
  size_t numRoots = 0;
  for (auto &t : plan.tensors)
    numRoots += t.shareWith.empty();
  if (log) {
    *log << "16-bit activations (written by):\n";
    for (auto &t : wide) {
      std::string by;
      auto it = writers.find(t);
      if (it != writers.end())
        for (int gi : it->second)
          by +=
              (by.empty() ? "" : ", ") + groupName(g, plan.groups[size_t(gi)]);
      *log << "  " << t << " (" << (by.empty() ? "graph input" : by) << ")\n";
    }
    std::snprintf(buf, sizeof(buf),
                  "mixed precision: %zu of %zu activation tensors 16-bit; "
                  "predicted NPU cycles %.0f = %.3fx the all-int8 model's "
                  "%.0f; output SQNR %.2f dB (all-int8 %.2f dB)\n",
                  wide.size(), numRoots, r.cycles, r.cycles / r.baseCycles,
                  r.baseCycles, r.outputSqnr, r.int8Sqnr);
    *log << buf;
  }
  return r;
}

} // namespace ember::quant

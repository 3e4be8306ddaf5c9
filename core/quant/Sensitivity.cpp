#include "quant/Sensitivity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace ember::quant {

void SqnrAccumulator::add(const float *x, const float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    double d = double(x[i]) - double(y[i]);
    signal += double(x[i]) * double(x[i]);
    noise += d * d;
  }
}

double SqnrAccumulator::db() const {
  if (noise <= 0)
    return 200.0; // exact
  if (signal <= 0)
    return -200.0;
  return 10.0 * std::log10(signal / noise);
}

Expected<Evaluation> evaluate(InstrumentedModel &ref,
                              const onnx::ModelProto &qdq,
                              const std::vector<std::string> &names,
                              const std::map<std::string, std::string> &alias,
                              const std::vector<std::string> &outputs,
                              const std::vector<Sample> &samples, size_t n,
                              const std::map<std::string, Dims> &shapes,
                              const RunOptions &run) {
  std::set<std::string> defined;
  for (auto &n : qdq.graph().node())
    for (auto &o : n.output())
      defined.insert(o);
  for (auto &i : qdq.graph().input())
    defined.insert(i.name());
  // A quantized graph input is compared through its dequantized value
  // (when this model quantizes it).
  auto qname = [&](const std::string &t) {
    auto it = alias.find(t);
    return it != alias.end() && defined.count(it->second) ? it->second : t;
  };
  std::vector<std::string> qnames;
  for (auto &t : names)
    qnames.push_back(qname(t));
  EMBER_ASSIGN(auto q, InstrumentedModel::create(qdq, qnames, shapes, run));
  Evaluation ev;
  for (size_t i = 0; i < n; ++i) {
    EMBER_ASSIGN(auto a, ref.run(samples[i].inputs));
    EMBER_ASSIGN(auto b, q->run(samples[i].inputs));
    for (auto &t : names) {
      auto ia = a.find(t), ib = b.find(qname(t));
      if (ia == a.end() || ib == b.end() ||
          ia->second.elem() != ElemKind::F32 ||
          ib->second.elem() != ElemKind::F32 ||
          ia->second.size() != ib->second.size())
        continue;
      ev.acc[t].add(ia->second.data<float>(), ib->second.data<float>(),
                    ia->second.size());
    }
  }
  ev.outputSqnr = std::numeric_limits<double>::infinity();
  for (auto &o : outputs)
    if (ev.acc.count(o))
      ev.outputSqnr = std::min(ev.outputSqnr, ev.acc[o].db());
  return ev;
}

std::vector<LayerSqnr> layers(const onnx::GraphProto &g, const QdqPlan &plan,
                              const Evaluation &ev,
                              const std::set<int> &floatGroups) {
  std::vector<LayerSqnr> out;
  for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
    const QuantGroup &q = plan.groups[gi];
    if (floatGroups.count(int(gi)) || q.outputs.empty())
      continue;
    auto it = ev.acc.find(q.outputs[0]);
    if (it == ev.acc.end())
      continue;
    LayerSqnr l;
    l.group = int(gi);
    l.name = groupName(g, q);
    l.op = g.node(q.anchor).op_type();
    l.tensor = q.outputs[0];
    l.sqnr = it->second.db();
    double in = 200.0;
    for (auto &ai : q.activationInputs) {
      auto jt = ev.acc.find(g.node(ai.first).input(ai.second));
      if (jt != ev.acc.end())
        in = std::min(in, jt->second.db());
    }
    // The noise this layer adds, as an SQNR: the output's relative noise
    // power less the worst input's.
    double rin = std::pow(10.0, -in / 10.0),
           rout = std::pow(10.0, -l.sqnr / 10.0);
    double added = std::max(rout - rin, 1e-20);
    l.drop = -10.0 * std::log10(added);
    out.push_back(l);
  }
  return out;
}

Expected<onnx::ModelProto>
analyzeSensitivity(const onnx::ModelProto &fp32, const onnx::ModelProto &qdq,
                   const QdqPlan &plan, const std::vector<Sample> &samples,
                   const std::vector<InputDecl> &inputs,
                   const std::map<std::string, std::string> &aliases,
                   const SensitivityOptions &o, const RebuildFn &rebuild) {
  const auto &g = fp32.graph();
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
  EMBER_ASSIGN(Evaluation ev, evaluate(*ref, qdq, names, aliases, outputs,
                                       samples, n, shapes, o.run));
  std::set<int> floatGroups;
  onnx::ModelProto best = qdq;
  std::ostream *log = o.log;
  char buf[512];

  if (o.targetSqnr > 0) {
    if (log) {
      std::snprintf(buf, sizeof(buf),
                    "mixed precision: output SQNR %.2f dB, target %.2f dB\n",
                    ev.outputSqnr, o.targetSqnr);
      *log << buf;
    }
    while (ev.outputSqnr < o.targetSqnr && floatGroups.size() < o.maxFloat) {
      auto ls = layers(g, plan, ev, floatGroups);
      // Only layers that compute (not movement) are worth keeping float.
      const LayerSqnr *worst = nullptr;
      for (auto &l : ls) {
        GroupKind k = plan.groups[size_t(l.group)].kind;
        if (k == GroupKind::Movement || k == GroupKind::SharedPool)
          continue;
        if (!worst || l.drop < worst->drop)
          worst = &l;
      }
      if (!worst)
        break;
      floatGroups.insert(worst->group);
      std::string name = worst->name, op = worst->op;
      double drop = worst->drop;
      EMBER_ASSIGN(onnx::ModelProto cand, rebuild(floatGroups));
      EMBER_ASSIGN(ev, evaluate(*ref, cand, names, aliases, outputs, samples, n,
                                shapes, o.run));
      best = std::move(cand);
      if (log) {
        std::snprintf(
            buf, sizeof(buf),
            "  keep float: %s (%s, adds noise at %.2f dB) -> output SQNR "
            "%.2f dB\n",
            name.c_str(), op.c_str(), drop, ev.outputSqnr);
        *log << buf;
      }
    }
    if (log && ev.outputSqnr < o.targetSqnr) {
      std::snprintf(buf, sizeof(buf),
                    "mixed precision: target not reached with %zu float "
                    "layer(s) (--max-float)\n",
                    floatGroups.size());
      *log << buf;
    }
  }

  if (o.report && log) {
    auto ls = layers(g, plan, ev, floatGroups);
    std::stable_sort(ls.begin(), ls.end(),
                     [](auto &a, auto &b) { return a.sqnr < b.sqnr; });
    std::snprintf(buf, sizeof(buf),
                  "sensitivity report: SQNR of each quantized layer's output "
                  "against fp32 on %zu calibration sample(s), worst first\n",
                  n);
    *log << buf;
    std::snprintf(buf, sizeof(buf), "%-40s %-18s %9s %9s\n", "layer", "op",
                  "sqnr_db", "added_db");
    *log << buf;
    for (auto &l : ls) {
      std::snprintf(buf, sizeof(buf), "%-40s %-18s %9.2f %9.2f\n",
                    l.name.c_str(), l.op.c_str(), l.sqnr, l.drop);
      *log << buf;
    }
    for (auto &x : outputs) {
      auto it = ev.acc.find(x);
      if (it == ev.acc.end())
        continue;
      std::snprintf(buf, sizeof(buf), "model output %-27s %-18s %9.2f\n",
                    x.c_str(), "", it->second.db());
      *log << buf;
    }
    for (int gi : floatGroups) {
      std::snprintf(buf, sizeof(buf), "kept float: %s\n",
                    groupName(g, plan.groups[size_t(gi)]).c_str());
      *log << buf;
    }
  }
  return best;
}

} // namespace ember::quant

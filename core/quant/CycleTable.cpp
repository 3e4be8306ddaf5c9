//===- CycleTable.cpp - The mixed-precision search's cost table -----------===//
//
// CycleTable (quant/MixedPrecision.h): the NPU compiler's cycles of each
// quantization group at 8 and 16 bits, measured on compiles of mixes or
// predicted by doubling, and what the search reads from it (a mix's cycles,
// the nodes it leaves off the device, the mixes still worth compiling).
//
//===----------------------------------------------------------------------===//
#include "quant/MixedPrecision.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace ember::quant {

namespace {

double groupCycles(const onnx::GraphProto &g, const QuantGroup &q,
                   const std::map<std::string, double> &nodeCycles,
                   bool *present = nullptr) {
  double c = 0;
  for (int node : q.nodes()) {
    auto it = nodeCycles.find(g.node(node).name());
    if (it != nodeCycles.end()) {
      c += it->second;
      if (present)
        *present = true;
    }
  }
  return c;
}

} // namespace

CycleTable CycleTable::empty(const onnx::GraphProto &g, const QdqPlan &plan) {
  CycleTable t;
  t.roots.resize(plan.groups.size());
  t.twoActivations.assign(plan.groups.size(), false);
  for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
    const QuantGroup &q = plan.groups[gi];
    std::map<int, int> perNode; // activation inputs of each node
    for (auto &ai : q.activationInputs) {
      const std::string &x = g.node(ai.first).input(ai.second);
      if (plan.spec(x))
        t.roots[gi].in.insert(plan.root(x));
      if (++perNode[ai.first] == 2 && g.node(ai.first).op_type() == "MatMul")
        t.twoActivations[gi] = true;
    }
    for (auto &x : q.outputs)
      if (plan.spec(x))
        t.roots[gi].out.insert(plan.root(x));
  }
  t.cycles.assign(plan.groups.size(), {});
  t.measured.assign(plan.groups.size(), {});
  t.present.assign(plan.groups.size(), {});
  return t;
}

int CycleTable::signature(size_t gi, const std::set<std::string> &wide) const {
  const Roots &r = roots[gi];
  size_t in = 0;
  for (auto &x : r.in)
    in += wide.count(x);
  bool out = false;
  for (auto &x : r.out)
    out = out || wide.count(x);
  int s = in == 0 ? kIn8 : in == r.in.size() ? kIn16 : kInMixed;
  return s * 2 + (out ? 1 : 0);
}

bool measuredBetter(double candidateDb, double chosenDb, bool costlier) {
  return candidateDb > chosenDb + (costlier ? kCostlierMarginDb : 0.0);
}

bool CycleTable::reachable(size_t gi, int s) const {
  const size_t n = roots[gi].in.size();
  const int in = s / 2;
  if (in == kInMixed)
    return n > 1;
  return in == kIn8 || n > 0;
}

std::set<std::string>
CycleTable::coverMix(std::set<std::pair<size_t, int>> &tried) const {
  std::map<std::string, bool> want; // root -> 16-bit
  for (size_t gi = 0; gi < roots.size(); ++gi)
    for (int s = 0; s < kSignatures; ++s) {
      if (measured[gi][size_t(s)] || !reachable(gi, s) || tried.count({gi, s}))
        continue;
      std::map<std::string, bool> need;
      const Roots &r = roots[gi];
      size_t k = 0;
      for (const std::string &x : r.in)
        need[x] = s / 2 == kIn16 || (s / 2 == kInMixed && k++ == 0);
      bool clash = false;
      for (const std::string &x : r.out) {
        auto it = need.find(x);
        clash = clash || (it != need.end() && it->second != bool(s % 2));
        need[x] = s % 2;
      }
      for (auto &kv : need) {
        auto it = want.find(kv.first);
        clash = clash || (it != want.end() && it->second != kv.second);
      }
      if (clash)
        continue;
      want.insert(need.begin(), need.end());
      tried.insert({gi, s});
      break; // one signature of a group per mix
    }
  // (Every aim holds some root 16-bit: the all-8-bit signature is the
  // all-int8 compile's, always measured.)
  std::set<std::string> wide;
  for (auto &kv : want)
    if (kv.second)
      wide.insert(kv.first);
  return wide;
}

double CycleTable::predict(const std::set<std::string> &wide) const {
  double total = other;
  for (size_t gi = 0; gi < roots.size(); ++gi)
    total += cycles[gi][size_t(signature(gi, wide))];
  return total;
}

bool CycleTable::allowed(const std::set<std::string> &wide) const {
  for (size_t gi = 0; gi < roots.size() && gi < twoActivations.size(); ++gi)
    if (twoActivations[gi] && signature(gi, wide) / 2 != kIn8)
      return false;
  return true;
}

size_t CycleTable::offDevice(const std::set<std::string> &wide) const {
  size_t n = 0;
  for (size_t gi = 0; gi < roots.size(); ++gi) {
    int s = signature(gi, wide);
    // On the device at int8, measured in `wide`'s form and absent there
    // (a fused node is present at 0 cycles: not the host's).
    n += present[gi][0] && measured[gi][size_t(s)] && !present[gi][size_t(s)];
  }
  return n;
}

void CycleTable::measure(const onnx::GraphProto &g, const QdqPlan &plan,
                         const std::set<std::string> &wide,
                         const std::map<std::string, double> &nodeCycles,
                         bool first) {
  std::set<std::string> inGroups;
  for (size_t gi = 0; gi < plan.groups.size(); ++gi) {
    const QuantGroup &q = plan.groups[gi];
    for (int node : q.nodes())
      inGroups.insert(g.node(node).name());
    const size_t s = size_t(signature(gi, wide));
    if (measured[gi][s])
      continue; // the first compile that measured it (all-int8 first)
    bool on = false;
    cycles[gi][s] = groupCycles(g, q, nodeCycles, &on);
    present[gi][s] = on;
    measured[gi][s] = true;
  }
  if (first) {
    other = 0;
    for (auto &kv : nodeCycles)
      if (!inGroups.count(kv.first))
        other += kv.second;
  }
}

void CycleTable::fill() {
  for (size_t gi = 0; gi < cycles.size(); ++gi)
    for (int s = 0; s < kSignatures; ++s) {
      if (measured[gi][size_t(s)])
        continue;
      const int in = s / 2, out = s % 2;
      const int in2 = in == kInMixed ? kIn16 : in;
      double c = kWideCostFactor * cycles[gi][0];
      if (in == kIn8)
        c = cycles[gi][0];
      for (int cand : {in2 * 2 + out, in2 * 2 + 1 - out, in * 2 + 1 - out})
        if (measured[gi][size_t(cand)]) {
          c = cycles[gi][size_t(cand)];
          break;
        }
      cycles[gi][size_t(s)] = c;
    }
}

CycleTable
CycleTable::doubling(const onnx::GraphProto &g, const QdqPlan &plan,
                     const std::map<std::string, double> &nodeCycles) {
  CycleTable t = empty(g, plan);
  t.measure(g, plan, {}, nodeCycles, true);
  for (size_t gi = 0; gi < t.cycles.size(); ++gi)
    for (int s = 1; s < kSignatures; ++s) {
      t.cycles[gi][size_t(s)] =
          (s / 2 == kIn8 ? 1 : kWideCostFactor) * t.cycles[gi][0];
      t.measured[gi][size_t(s)] = true;
      t.present[gi][size_t(s)] = t.present[gi][0];
    }
  return t;
}

double predictCycles(const onnx::GraphProto &g, const QdqPlan &plan,
                     const std::map<std::string, double> &nodeCycles,
                     const std::set<std::string> &wide) {
  return CycleTable::doubling(g, plan, nodeCycles).predict(wide);
}

} // namespace ember::quant

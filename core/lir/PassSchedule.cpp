// Scheduling: reorders instructions that do not depend on each other so
// fewer activation bytes are live at once. Dependences are per buffer
// (views count as their buffer): read after write, write after read and
// write after write keep their order; a dma.wait follows its dma.start and
// touches the transfer's operands, so nothing that conflicts with a DMA
// moves into or across it. A greedy list scheduler picks, among the ready
// instructions, the one that frees the most bytes net of what it newly
// needs (ties: original order); a second variant only leaves original
// order for an instruction that frees bytes. Alloc/dealloc markers are then
// rebuilt around the new order (rebuildLifetimes). The order with the
// lowest planned peak (summed over spaces) wins, the original one on ties,
// so the pass never raises the plan. Functions with DMA keep their order:
// prefetching loads early is the point there, and a memory-greedy order
// would undo it. (The dependence graph still models DMA, conservatively.)
#include "lir/LirPass.h"

#include <algorithm>
#include <map>
#include <set>

namespace ember::lir {

namespace {

uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

struct Graph {
  std::vector<size_t> insts;               // non-lifetime instructions
  std::vector<std::vector<size_t>> succ;   // node -> nodes after it
  std::vector<size_t> npred;               // incoming edge count
  std::vector<std::vector<unsigned>> bufs; // activations each node touches
};

Graph buildGraph(const Function &f) {
  Graph g;
  for (size_t i = 0; i < f.insts.size(); ++i)
    if (!isLifetime(f.insts[i]))
      g.insts.push_back(i);
  size_t n = g.insts.size();
  g.succ.assign(n, {});
  g.npred.assign(n, 0);
  g.bufs.assign(n, {});
  std::vector<std::set<size_t>> preds(n);
  std::vector<long> lastWriter(f.buffers.size(), -1);
  std::vector<std::vector<size_t>> readers(f.buffers.size());
  std::map<std::string, size_t> starts;
  for (size_t k = 0; k < n; ++k) {
    const Instruction &in = f.insts[g.insts[k]];
    if (in.kind == InstKind::DmaStart)
      starts[in.token] = k;
    if (in.kind == InstKind::DmaWait) {
      auto it = starts.find(in.token);
      if (it != starts.end())
        preds[k].insert(it->second);
    }
    for (auto &op : touchedOperands(f, g.insts[k])) {
      if (!op.ref)
        continue;
      unsigned b = f.baseOf(op.ref);
      if (f.buffers[b].kind == BufferKind::Activation &&
          std::find(g.bufs[k].begin(), g.bufs[k].end(), b) == g.bufs[k].end())
        g.bufs[k].push_back(b);
      if (lastWriter[b] >= 0 && size_t(lastWriter[b]) != k)
        preds[k].insert(size_t(lastWriter[b]));
      if (op.writes())
        for (size_t r : readers[b])
          if (r != k)
            preds[k].insert(r);
    }
    for (auto &op : touchedOperands(f, g.insts[k])) {
      if (!op.ref)
        continue;
      unsigned b = f.baseOf(op.ref);
      if (op.writes()) {
        lastWriter[b] = long(k);
        readers[b].clear();
      }
    }
    for (auto &op : touchedOperands(f, g.insts[k])) {
      if (!op.ref || op.writes())
        continue;
      readers[f.baseOf(op.ref)].push_back(k);
    }
  }
  for (size_t k = 0; k < n; ++k) {
    g.npred[k] = preds[k].size();
    for (size_t p : preds[k])
      g.succ[p].push_back(k);
  }
  return g;
}

// A topological order of the graph's nodes, greedy on live bytes.
std::vector<size_t> listSchedule(const Function &f, const Graph &g,
                                 bool onlyWhenFreeing) {
  size_t n = g.insts.size();
  std::vector<uint64_t> size(f.buffers.size(), 0);
  for (size_t b = 0; b < f.buffers.size(); ++b)
    size[b] =
        alignUp(f.buffers[b].bytes(),
                std::max<uint64_t>(f.spaces[f.buffers[b].space].alignment, 1));
  std::vector<size_t> remaining(f.buffers.size(), 0);
  for (auto &bs : g.bufs)
    for (unsigned b : bs)
      ++remaining[b];
  std::vector<bool> live(f.buffers.size(), false);
  std::vector<size_t> npred = g.npred;
  std::set<size_t> ready;
  for (size_t k = 0; k < n; ++k)
    if (npred[k] == 0)
      ready.insert(k);
  std::vector<size_t> order;
  while (!ready.empty()) {
    size_t pick = *ready.begin();
    int64_t best = INT64_MIN;
    for (size_t k : ready) {
      int64_t score = 0;
      for (unsigned b : g.bufs[k]) {
        if (!live[b])
          score -= int64_t(size[b]);
        if (remaining[b] == 1)
          score += int64_t(size[b]);
      }
      if (onlyWhenFreeing && score <= 0)
        continue;
      if (score > best) {
        best = score;
        pick = k;
      }
    }
    ready.erase(pick);
    order.push_back(pick);
    for (unsigned b : g.bufs[pick]) {
      live[b] = true;
      if (--remaining[b] == 0)
        live[b] = false;
    }
    for (size_t s : g.succ[pick])
      if (--npred[s] == 0)
        ready.insert(s);
  }
  return order;
}

Function reorder(const Function &f, const Graph &g,
                 const std::vector<size_t> &order) {
  Function r = f;
  r.insts.clear();
  for (size_t k : order)
    r.insts.push_back(f.insts[g.insts[k]]);
  rebuildLifetimes(r);
  return r;
}

uint64_t plannedPeak(const Function &f) {
  Function c = f;
  auto p = planMemory(c);
  if (!p)
    return UINT64_MAX;
  uint64_t sum = 0;
  for (auto &s : p->spaces)
    sum += s.peak;
  return sum;
}

} // namespace

Status runSchedule(Function &f, LirPassStats &s) {
  // DMA order is deliberate (the tiler issues tile t+1's loads before tile
  // t's compute); a memory-greedy order would delay every load.
  for (auto &in : f.insts)
    if (in.kind == InstKind::DmaStart)
      return Status::ok();
  Graph g = buildGraph(f);
  size_t n = g.insts.size();
  std::vector<size_t> identity(n);
  for (size_t k = 0; k < n; ++k)
    identity[k] = k;
  uint64_t bestPeak = plannedPeak(f);
  std::vector<size_t> best = identity;
  for (bool onlyWhenFreeing : {false, true}) {
    std::vector<size_t> order = listSchedule(f, g, onlyWhenFreeing);
    if (order.size() != n)
      return makeError(ErrorCode::Internal,
                       "LIR scheduling: the dependence graph has a cycle");
    Function cand = reorder(f, g, order);
    uint64_t peak = plannedPeak(cand);
    if (peak < bestPeak) {
      bestPeak = peak;
      best = order;
    }
  }
  if (best == identity)
    return Status::ok();
  for (size_t k = 0; k < n; ++k)
    s.changed += best[k] != k;
  f = reorder(f, g, best);
  return Status::ok();
}

} // namespace ember::lir

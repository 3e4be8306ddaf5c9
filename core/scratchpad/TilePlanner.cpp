// Tile-size search and double-buffered schedules (TilePlanner.h).
#include "ember/scratchpad/TilePlanner.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <sstream>

namespace ember::scratchpad {

namespace {

int64_t ceilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The candidate tile sizes of a dim, ascending and distinct.
std::vector<int64_t> candidates(const LoopDim &d) {
  std::vector<int64_t> v;
  if (!d.sizes.empty()) {
    for (int64_t s : d.sizes)
      if (s >= 1)
        v.push_back(std::min(s, std::max<int64_t>(d.extent, 1)));
  } else {
    for (int64_t k = 1; k <= std::max<int64_t>(d.extent, 1); ++k) {
      int64_t b = ceilDiv(std::max<int64_t>(d.extent, 1), k);
      if (v.empty() || v.back() != b)
        v.push_back(b);
      if (b == 1)
        break;
    }
  }
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  if (v.empty())
    v.push_back(1);
  return v;
}

// Block index of operand `op` at tile index `idx`: row-major over its dims.
int64_t blockOf(const Operand &op, const std::vector<int64_t> &idx,
                const std::vector<int64_t> &count) {
  int64_t b = 0;
  for (size_t d : op.dims)
    b = b * count[d] + idx[d];
  return b;
}

bool better(const Tiling &a, const Tiling &b) {
  if (a.cost != b.cost)
    return a.cost < b.cost;
  return a.steps < b.steps;
}

} // namespace

bool evaluate(const Problem &p, const PlanOptions &o, Tiling &t) {
  size_t nd = p.dims.size();
  t.count.assign(nd, 1);
  t.steps = 1;
  for (size_t d = 0; d < nd; ++d) {
    t.count[d] = ceilDiv(std::max<int64_t>(p.dims[d].extent, 1),
                         std::max<int64_t>(t.tile[d], 1));
    t.steps *= uint64_t(t.count[d]);
  }
  std::vector<size_t> pos(nd, 0);
  for (size_t i = 0; i < t.order.size(); ++i)
    pos[t.order[i]] = i;
  t.slots.assign(p.operands.size(), 1);
  t.blocks.assign(p.operands.size(), 1);
  t.used.assign(p.spaces.size(), 0);
  t.dmaBytes = 0;
  bool fits = true;
  for (size_t k = 0; k < p.operands.size(); ++k) {
    const Operand &op = p.operands[k];
    // Blocks begun: the product of the tile counts of every dim at or
    // outside the innermost dim (with more than one tile) the operand
    // depends on; between two changes of that dim the block stays.
    long inner = -1;
    for (size_t d : op.dims)
      if (t.count[d] > 1)
        inner = std::max<long>(inner, long(pos[d]));
    uint64_t blocks = 1;
    for (long i = 0; i <= inner; ++i)
      blocks *= uint64_t(t.count[t.order[size_t(i)]]);
    t.blocks[k] = blocks;
    t.slots[k] = o.doubleBuffer && blocks > 1 ? 2 : 1;
    if (op.footprint && op.space < t.used.size())
      t.used[op.space] += t.slots[k] * op.footprint(t.tile);
    if (op.role != Role::Accumulator && op.totalBytes) {
      uint64_t distinct = 1;
      for (size_t d : op.dims)
        distinct *= uint64_t(t.count[d]);
      t.dmaBytes += blocks / distinct * op.totalBytes(t.tile);
    } else if (op.role != Role::Accumulator && op.bytes) {
      t.dmaBytes += blocks * op.bytes(t.tile);
    }
  }
  for (size_t s = 0; s < p.spaces.size(); ++s)
    if (p.spaces[s].capacity && t.used[s] > p.spaces[s].capacity)
      fits = false;
  // A cost model may be expensive: only tilings that fit are scored.
  t.cost = o.cost && fits ? o.cost(p, t) : double(t.dmaBytes);
  return fits;
}

PlanResult planTiles(const Problem &p, const PlanOptions &o) {
  PlanResult r;
  size_t nd = p.dims.size();
  std::vector<std::vector<int64_t>> cand(nd);
  for (size_t d = 0; d < nd; ++d)
    cand[d] = candidates(p.dims[d]);
  // Orders: every permutation of the non-reduction dims, then the
  // reduction dims in their given order.
  std::vector<size_t> outer, red;
  for (size_t d = 0; d < nd; ++d)
    (p.dims[d].reduction ? red : outer).push_back(d);
  std::vector<std::vector<size_t>> orders;
  do {
    std::vector<size_t> ord = outer;
    ord.insert(ord.end(), red.begin(), red.end());
    orders.push_back(ord);
  } while (std::next_permutation(outer.begin(), outer.end()));

  size_t greedy = p.greedyDim < nd ? p.greedyDim : SIZE_MAX;
  const size_t keep = std::max(1u, o.keep);
  // Fit does not depend on the order (an operand has two slots when any of
  // its dims has more than one tile), so it is tested with the first.
  PlanOptions fitOnly = o; // fit does not need the (maybe costly) cost
  fitOnly.cost = nullptr;
  auto fitsWith = [&](std::vector<int64_t> tile) {
    Tiling t;
    t.tile = std::move(tile);
    t.order = orders.front();
    return evaluate(p, fitOnly, t);
  };
  bool found = false;
  std::vector<size_t> pick(nd, 0);
  while (true) {
    std::vector<int64_t> tile(nd, 1);
    for (size_t d = 0; d < nd; ++d)
      if (d != greedy)
        tile[d] = cand[d][pick[d]];
    // Sizes of the greedy dim to score: the largest that fits, then up to
    // greedyAlternatives smaller candidates.
    std::vector<int64_t> sizes;
    if (greedy != SIZE_MAX) {
      // Largest fitting candidate: the full extent first (a single tile
      // may need fewer slots, so fit is monotone only below it).
      const std::vector<int64_t> &c = cand[greedy];
      long best = long(c.size()) - 1;
      tile[greedy] = c.back();
      if (!fitsWith(tile)) {
        long lo = -1, hi = long(c.size()) - 2; // fits(c[lo]) (or lo = -1)
        while (lo < hi) {
          long mid = lo + (hi - lo + 1) / 2;
          tile[greedy] = c[size_t(mid)];
          if (fitsWith(tile))
            lo = mid;
          else
            hi = mid - 1;
        }
        best = lo;
      }
      for (long i = best; i >= 0 && best - i <= long(o.greedyAlternatives); --i)
        sizes.push_back(c[size_t(i)]);
    } else {
      sizes.push_back(1);
    }
    for (int64_t size : sizes) {
      if (greedy != SIZE_MAX)
        tile[greedy] = size;
      std::vector<std::vector<size_t>> seen;
      for (auto &ord : orders) {
        // Orders that differ only in where single-tile dims sit are the
        // same nest: score one of them.
        std::vector<size_t> eff;
        for (size_t d : ord)
          if (ceilDiv(std::max<int64_t>(p.dims[d].extent, 1), tile[d]) > 1)
            eff.push_back(d);
        if (std::find(seen.begin(), seen.end(), eff) != seen.end())
          continue;
        seen.push_back(eff);
        Tiling t;
        t.tile = tile;
        t.order = ord;
        if (!evaluate(p, o, t))
          break; // order-independent
        found = true;
        // The `keep` best so far, best first.
        auto at = std::find_if(r.ranked.begin(), r.ranked.end(),
                               [&](const Tiling &x) { return better(t, x); });
        if (size_t(at - r.ranked.begin()) < keep) {
          r.ranked.insert(at, t);
          if (r.ranked.size() > keep)
            r.ranked.pop_back();
        }
      }
    }
    // Next combination of the enumerated dims.
    size_t d = 0;
    for (; d < nd; ++d) {
      if (d == greedy)
        continue;
      if (++pick[d] < cand[d].size())
        break;
      pick[d] = 0;
    }
    if (d == nd)
      break;
  }
  if (found) {
    r.ok = true;
    r.tiling = r.ranked.front();
    return r;
  }
  Tiling t;
  t.tile.assign(nd, 1);
  for (size_t d = 0; d < nd; ++d)
    t.tile[d] = cand[d].front();
  t.order = orders.front();
  evaluate(p, o, t);
  std::ostringstream os;
  os << "the smallest tile (";
  for (size_t d = 0; d < nd; ++d)
    os << (d ? ", " : "") << p.dims[d].name << " " << t.tile[d];
  os << ") needs";
  bool first = true;
  for (size_t s = 0; s < p.spaces.size(); ++s) {
    if (!t.used[s])
      continue;
    os << (first ? " " : ", ") << t.used[s] << " of " << p.spaces[s].name;
    if (p.spaces[s].capacity)
      os << " (capacity " << p.spaces[s].capacity << ")";
    first = false;
  }
  r.error = os.str();
  return r;
}

Prediction predictCycles(const Problem &p, const Tiling &t, const Machine &m,
                         double stopAbove) {
  Prediction r;
  if (!p.compute)
    return r;
  const size_t nd = p.dims.size(), no = p.operands.size();
  const double bw = m.bytesPerCycle > 0 ? m.bytesPerCycle : 1;
  const double perTransfer = double(m.latencyCycles + m.transferOverhead);
  std::vector<int64_t> idx(nd, 0), next(nd, 0), clipped(nd, 1);
  auto advance = [&](std::vector<int64_t> &v) {
    for (size_t i = t.order.size(); i-- > 0;) {
      size_t d = t.order[i];
      if (++v[d] < t.count[d])
        return true;
      v[d] = 0;
    }
    return false;
  };
  auto blocks = [&](const std::vector<int64_t> &v, std::vector<int64_t> &b) {
    for (size_t k = 0; k < no; ++k)
      b[k] = blockOf(p.operands[k], v, t.count);
  };
  // Cycles one block of operand k moves through DMA (0: it moves nothing),
  // remembered per operand for the last tile sizes (only edge tiles differ).
  // `epoch` counts the changes of the clipped tile sizes (a hot loop: one
  // comparison per step, not one per operand).
  struct Memo {
    uint64_t epoch = 0; // 0: never filled
    double bytes = 0, cycles = 0;
  };
  std::vector<Memo> memo(no);
  uint64_t epoch = 1;
  auto dmaCycles = [&](size_t k, double &bytes) {
    Memo &mm = memo[k];
    if (mm.epoch != epoch) {
      const Operand &op = p.operands[k];
      mm.epoch = epoch;
      mm.bytes = op.bytes ? double(op.bytes(clipped)) : 0;
      uint64_t n =
          op.transfers ? op.transfers(clipped) : (mm.bytes > 0 ? 1 : 0);
      double move = mm.bytes / bw;
      if (op.rows && m.rowsPerCycle > 0)
        move = std::max(move, double(op.rows(clipped)) / m.rowsPerCycle);
      mm.cycles = mm.bytes > 0 || n ? double(n) * perTransfer + move : 0.0;
    }
    bytes = mm.bytes;
    return mm.cycles;
  };
  double loadEnd = 0, storeEnd = 0, allBytes = 0;
  std::vector<int64_t> cur(no), nxt(no), prev(no, -1);
  std::vector<unsigned> slot(no, 0);
  std::vector<std::vector<double>> slotFree(no, std::vector<double>(2, 0));
  std::vector<StepOperand> ops(no);
  std::vector<double> engEnd, readyAt;
  // Load issue order: Problem::loadOrder, then the other operands.
  std::vector<size_t> order;
  for (size_t k : p.loadOrder)
    if (k < no && std::find(order.begin(), order.end(), k) == order.end())
      order.push_back(k);
  for (size_t k = 0; k < no; ++k)
    if (std::find(order.begin(), order.end(), k) == order.end())
      order.push_back(k);
  blocks(idx, cur);
  bool more = true;
  while (more) {
    next = idx;
    more = advance(next);
    if (more)
      blocks(next, nxt);
    bool changed = false;
    for (size_t d = 0; d < nd; ++d) {
      int64_t c =
          std::min<int64_t>(t.tile[d], std::max<int64_t>(p.dims[d].extent, 1) -
                                           idx[d] * t.tile[d]);
      changed = changed || c != clipped[d];
      clipped[d] = c;
    }
    if (changed)
      ++epoch;
    for (size_t k = 0; k < no; ++k) {
      unsigned slots = k < t.slots.size() ? std::max(1u, t.slots[k]) : 1;
      ops[k].block = cur[k];
      ops[k].begins = prev[k] != cur[k];
      if (ops[k].begins && prev[k] >= 0)
        slot[k] = (slot[k] + 1) % slots;
      ops[k].slot = slot[k];
      ops[k].ends = !more || nxt[k] != cur[k];
    }
    // Loads of this step, in issue order: each after the previous one and
    // after its slot is free; an engine waits for the loads it reads.
    double busy = 0;
    std::fill(readyAt.begin(), readyAt.end(), 0.0);
    for (size_t k : order) {
      const Operand &op = p.operands[k];
      if (op.role != Role::Input || !ops[k].begins)
        continue;
      double bytes = 0, c = dmaCycles(k, bytes);
      if (c <= 0)
        continue;
      loadEnd = std::max(loadEnd, slotFree[k][ops[k].slot % 2]) + c;
      busy += c;
      allBytes += bytes;
      size_t rd = op.reader == SIZE_MAX ? op.engine : op.reader;
      if (readyAt.size() <= rd)
        readyAt.resize(rd + 1, 0.0);
      readyAt[rd] = std::max(readyAt[rd], loadEnd);
    }
    r.loadCycles += busy;
    // Compute engines, in pipeline order.
    std::vector<uint64_t> cyc = p.compute(t, idx, clipped, ops);
    if (engEnd.size() < cyc.size())
      engEnd.resize(cyc.size(), 0);
    double ready = 0, most = 0;
    for (size_t e = 0; e < cyc.size(); ++e) {
      double s = std::max(engEnd[e], ready);
      if (e < readyAt.size())
        s = std::max(s, readyAt[e]);
      for (size_t k = 0; k < no; ++k)
        if (p.operands[k].role == Role::Output && ops[k].begins &&
            p.operands[k].engine == e)
          s = std::max(s, slotFree[k][ops[k].slot % 2]);
      engEnd[e] = s + double(cyc[e]);
      ready = engEnd[e];
      most = std::max(most, double(cyc[e]));
    }
    r.computeCycles += most;
    // Release input slots; store the outputs this step completes.
    for (size_t k = 0; k < no; ++k) {
      const Operand &op = p.operands[k];
      if (!ops[k].ends)
        continue;
      double done = op.engine < engEnd.size() ? engEnd[op.engine] : ready;
      if (op.role == Role::Input) {
        slotFree[k][ops[k].slot % 2] = done;
      } else if (op.role == Role::Output) {
        double bytes = 0, c = dmaCycles(k, bytes);
        if (c > 0) {
          storeEnd = std::max(storeEnd, done) + c;
          r.storeCycles += c;
          allBytes += bytes;
        }
        slotFree[k][ops[k].slot % 2] = std::max(done, storeEnd);
      }
    }
    prev = cur;
    cur = nxt;
    idx = next;
    // Already slower than what it is compared with: a lower bound will do.
    double sofar = std::max(loadEnd, storeEnd);
    for (double e : engEnd)
      sofar = std::max(sofar, e);
    if (sofar > stopAbove) {
      r.cycles = sofar;
      return r;
    }
  }
  double end = std::max(loadEnd, storeEnd);
  for (double e : engEnd)
    end = std::max(end, e);
  r.cycles = std::max(end, allBytes / bw);
  return r;
}

CostFn cycleCost(const Machine &m, unsigned keep) {
  // Remembers the `keep` lowest costs it returned (ascending): a tiling that
  // cannot beat the highest of them is not walked to the end (its cost is
  // then a lower bound above that, and it is not among the `keep` best).
  auto best = std::make_shared<std::vector<double>>();
  const size_t k = std::max(1u, keep);
  return [m, best, k](const Problem &p, const Tiling &t) {
    double bar = best->size() < k ? HUGE_VAL : best->back();
    // DMA bytes break ties between equal cycle counts.
    double c = predictCycles(p, t, m, bar).cycles + double(t.dmaBytes) * 1e-9;
    if (c < bar) {
      best->insert(std::upper_bound(best->begin(), best->end(), c), c);
      if (best->size() > k)
        best->pop_back();
    }
    return c;
  };
}

std::vector<Step> schedule(const Problem &p, const Tiling &t) {
  size_t nd = p.dims.size(), no = p.operands.size();
  std::vector<Step> steps;
  std::vector<int64_t> idx(nd, 0);
  steps.reserve(size_t(t.steps));
  while (true) {
    Step s;
    s.index = idx;
    s.operands.resize(no);
    for (size_t k = 0; k < no; ++k)
      s.operands[k].block = blockOf(p.operands[k], idx, t.count);
    steps.push_back(std::move(s));
    // Advance the innermost dim of the order first.
    size_t i = t.order.size();
    for (; i-- > 0;) {
      size_t d = t.order[i];
      if (++idx[d] < t.count[d])
        break;
      idx[d] = 0;
    }
    if (i == size_t(-1))
      break;
  }
  for (size_t k = 0; k < no; ++k) {
    unsigned slot = 0;
    unsigned slots = k < t.slots.size() ? std::max(1u, t.slots[k]) : 1;
    for (size_t s = 0; s < steps.size(); ++s) {
      StepOperand &so = steps[s].operands[k];
      so.begins = s == 0 || steps[s - 1].operands[k].block != so.block;
      if (so.begins && s > 0)
        slot = (slot + 1) % slots;
      so.slot = slot;
      so.ends =
          s + 1 == steps.size() || steps[s + 1].operands[k].block != so.block;
    }
  }
  return steps;
}

} // namespace ember::scratchpad

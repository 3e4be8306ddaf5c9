// Tile-size search and double-buffered schedules (TilePlanner.h).
#include "ember/scratchpad/TilePlanner.h"

#include <algorithm>
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
  t.cost = o.cost ? o.cost(p, t) : double(t.dmaBytes);
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
  // Fit does not depend on the order (an operand has two slots when any of
  // its dims has more than one tile), so it is tested with the first.
  auto fitsWith = [&](std::vector<int64_t> tile) {
    Tiling t;
    t.tile = std::move(tile);
    t.order = orders.front();
    return evaluate(p, o, t);
  };
  bool found = false;
  std::vector<size_t> pick(nd, 0);
  while (true) {
    std::vector<int64_t> tile(nd, 1);
    for (size_t d = 0; d < nd; ++d)
      if (d != greedy)
        tile[d] = cand[d][pick[d]];
    bool ok = true;
    if (greedy != SIZE_MAX) {
      // Largest fitting candidate: the full extent first (a single tile
      // may need fewer slots, so fit is monotone only below it).
      const std::vector<int64_t> &c = cand[greedy];
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
        ok = lo >= 0;
        if (ok)
          tile[greedy] = c[size_t(lo)];
      }
    }
    if (ok) {
      for (auto &ord : orders) {
        Tiling t;
        t.tile = tile;
        t.order = ord;
        if (!evaluate(p, o, t))
          break; // order-independent
        if (!found || better(t, r.tiling)) {
          r.tiling = t;
          found = true;
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

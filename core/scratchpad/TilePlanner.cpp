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

// The compute engine that reads operand op's blocks (Operand::reader).
size_t readerOf(const Operand &op) {
  return op.reader == SIZE_MAX ? op.engine : op.reader;
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
    if (op.onChip) {
      // Copied on chip: no backing-memory bytes.
    } else if (op.role != Role::Accumulator && op.totalBytes) {
      uint64_t distinct = 1;
      for (size_t d : op.dims)
        distinct *= uint64_t(t.count[d]);
      t.dmaBytes += blocks / distinct * op.totalBytes(t.tile);
    } else if (op.role != Role::Accumulator && op.bytes) {
      t.dmaBytes += blocks * op.bytes(t.tile);
    }
  }
  // Problem::singleBufferFallback: in a space that double buffering
  // overflows, the largest double-buffered inputs compute engine 0 reads
  // take one slot until the space fits.
  if (p.singleBufferFallback)
    for (size_t s = 0; s < p.spaces.size(); ++s) {
      if (!p.spaces[s].capacity || t.used[s] <= p.spaces[s].capacity)
        continue;
      std::vector<std::pair<uint64_t, size_t>> two;
      for (size_t k = 0; k < p.operands.size(); ++k)
        if (p.operands[k].space == s && t.slots[k] == 2 &&
            p.operands[k].footprint && p.operands[k].role == Role::Input &&
            readerOf(p.operands[k]) == 0)
          two.push_back({p.operands[k].footprint(t.tile), k});
      std::sort(two.begin(), two.end(), [](const auto &a, const auto &b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      for (const auto &[n, k] : two) {
        if (t.used[s] <= p.spaces[s].capacity)
          break;
        t.slots[k] = 1;
        t.used[s] -= n;
      }
    }
  for (size_t s = 0; s < p.spaces.size(); ++s)
    if (p.spaces[s].capacity && t.used[s] > p.spaces[s].capacity)
      fits = false;
  // A cost model may be expensive: only tilings that fit are scored.
  t.cost = o.cost && fits ? o.cost(p, t) : double(t.dmaBytes);
  return fits;
}

bool keepsOrder(const Problem &p, const Tiling &t) {
  const size_t nd = p.dims.size();
  std::vector<size_t> pos(nd, 0);
  for (size_t i = 0; i < t.order.size(); ++i)
    if (t.order[i] < nd)
      pos[t.order[i]] = i;
  auto loops = [&](size_t d) { // more than one tile
    return d < nd && d < t.tile.size() &&
           ceilDiv(std::max<int64_t>(p.dims[d].extent, 1),
                   std::max<int64_t>(t.tile[d], 1)) > 1;
  };
  for (const auto &[a, b] : p.outside)
    if (loops(a) && loops(b) && pos[a] > pos[b])
      return false;
  return true;
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
  // Problem::singleBufferFallback: the greedy dim's sizes are scored from
  // the largest that fits double-buffered too, so that the tilings scored
  // without the fallback are all scored with it.
  Problem strict;
  if (p.singleBufferFallback) {
    strict = p;
    strict.singleBufferFallback = false;
  }
  auto fitsWith = [&](std::vector<int64_t> tile, bool fallback) {
    Tiling t;
    t.tile = std::move(tile);
    t.order = orders.front();
    return evaluate(fallback || !p.singleBufferFallback ? p : strict, fitOnly,
                    t);
  };
  bool kept = false;           // some order was left out for Problem::outside
  std::vector<Tiling> fitting; // every tiling that fits, in search order
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
      auto largest = [&](bool fallback) {
        long best = long(c.size()) - 1;
        tile[greedy] = c.back();
        if (!fitsWith(tile, fallback)) {
          long lo = -1, hi = long(c.size()) - 2; // fits(c[lo]) (or lo = -1)
          while (lo < hi) {
            long mid = lo + (hi - lo + 1) / 2;
            tile[greedy] = c[size_t(mid)];
            if (fitsWith(tile, fallback))
              lo = mid;
            else
              hi = mid - 1;
          }
          best = lo;
        }
        return best;
      };
      for (bool fallback : {true, false}) {
        if (!fallback && !p.singleBufferFallback)
          break;
        const long best = largest(fallback);
        for (long i = best; i >= 0 && best - i <= long(o.greedyAlternatives);
             --i)
          if (std::find(sizes.begin(), sizes.end(), c[size_t(i)]) ==
              sizes.end())
            sizes.push_back(c[size_t(i)]);
      }
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
        // (Whether an order keeps Problem::outside depends only on `eff`.)
        if (!keepsOrder(p, t)) {
          kept = true;
          continue;
        }
        if (!evaluate(p, fitOnly, t))
          break; // order-independent
        fitting.push_back(std::move(t));
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
  // Scored in the order of their steps, fewest first (stable: the search
  // order among equal steps). The result does not depend on the order: the
  // `keep` best by cost, ties to fewer steps and then to the search order,
  // which is what scoring them in search order keeps. A cost model walks
  // (at most) a tiling's steps, so once the steps scored reach
  // PlanOptions::stepBudget the tilings left, each with at least as many
  // steps as any scored, are not scored (PlanResult::unscored).
  std::stable_sort(
      fitting.begin(), fitting.end(),
      [](const Tiling &a, const Tiling &b) { return a.steps < b.steps; });
  uint64_t walked = 0;
  for (Tiling &t : fitting) {
    if (o.cost && o.stepBudget && !r.ranked.empty() &&
        walked + t.steps > std::max(o.stepBudget, fitting.front().steps)) {
      r.unscored = size_t(&fitting.back() - &t) + 1;
      break;
    }
    walked += t.steps;
    evaluate(p, o, t);
    // The `keep` best so far, best first.
    auto at = std::find_if(r.ranked.begin(), r.ranked.end(),
                           [&](const Tiling &x) { return better(t, x); });
    if (size_t(at - r.ranked.begin()) < keep) {
      r.ranked.insert(at, std::move(t));
      if (r.ranked.size() > keep)
        r.ranked.pop_back();
    }
  }
  r.scored = fitting.size() - r.unscored;
  r.stepsScored = walked;
  if (!fitting.empty()) {
    r.ok = true;
    r.tiling = r.ranked.front();
    return r;
  }
  Tiling t;
  t.tile.assign(nd, 1);
  for (size_t d = 0; d < nd; ++d)
    t.tile[d] = cand[d].front();
  t.order = orders.front();
  PlanOptions fit = o;
  fit.cost = nullptr;
  if (evaluate(p, fit, t) && kept) {
    r.error = "no loop order keeps the order constraints (Problem::outside)";
    return r;
  }
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

namespace {

// The DRAM channel LOAD and STORE share (Machine::bytesPerCycle): the data
// phases of the transfers, booked in the order the walk meets them, each into
// the channel's free time from its start on. Where a transfer overlaps ones
// booked before it, it ends later by the channel time they take in its
// window: when two transfers share the channel, the one that outlasts the
// other ends when both have moved their bytes, whatever the interleaving.
// (The one booked before is not revisited: the walk has used its end.)
class Channel {
public:
  // Books `need` cycles of channel time (at the full bandwidth) from `t` on;
  // returns when the transfer ends (t + need when the channel is free).
  double book(double t, double need) {
    if (need <= 0)
      return t;
    if (busy_.size() == lo_ || busy_.back().second <= t) { // all free
      if (busy_.size() > lo_ && busy_.back().second == t)
        busy_.back().second = t + need;
      else
        busy_.push_back({t, t + need});
      return t + need;
    }
    size_t i = lo_;
    while (i < busy_.size() && busy_[i].second <= t)
      ++i;
    const size_t j0 = i;
    double cur = t;
    while (need > 0) {
      if (i < busy_.size() && busy_[i].first <= cur) {
        cur = std::max(cur, busy_[i].second);
        ++i;
        continue;
      }
      double gap = i < busy_.size() ? busy_[i].first - cur : need;
      double take = std::min(need, gap);
      need -= take;
      cur += take;
    }
    // [t, cur) is now busy: one interval for it and those it touches.
    size_t j1 = j0;
    while (j1 < busy_.size() && busy_[j1].first <= cur)
      ++j1;
    double from = t, to = cur;
    if (j1 > j0) {
      from = std::min(from, busy_[j0].first);
      to = std::max(to, busy_[j1 - 1].second);
    }
    busy_.erase(busy_.begin() + long(j0), busy_.begin() + long(j1));
    busy_.insert(busy_.begin() + long(j0), {from, to});
    return cur;
  }
  // No transfer will start before `w`: forget what ends before it.
  void forgetBefore(double w) {
    while (lo_ < busy_.size() && busy_[lo_].second <= w)
      ++lo_;
    if (lo_ > 64) {
      busy_.erase(busy_.begin(), busy_.begin() + long(lo_));
      lo_ = 0;
    }
  }

private:
  std::vector<std::pair<double, double>> busy_; // sorted, disjoint
  size_t lo_ = 0;
};

// True for input k the fill loads in pieces (Problem::fillPieces): read by
// compute engine 0, depending on fillDim and not in Problem::fillAhead.
bool fillPieced(const Problem &p, size_t k) {
  const Operand &op = p.operands[k];
  return op.role == Role::Input && readerOf(op) == 0 &&
         std::find(op.dims.begin(), op.dims.end(), p.fillDim) !=
             op.dims.end() &&
         std::find(p.fillAhead.begin(), p.fillAhead.end(), k) ==
             p.fillAhead.end();
}

// What one block of an operand moves through DMA for the (clipped) tile
// sizes `tile`.
struct Dma {
  double bytes = 0;    // DRAM bytes
  double n = 0;        // DMA instructions (each: latency + overhead)
  double chan = 0;     // channel cycles: bytes / bandwidth
  double rows = 0;     // scratchpad cycles: rows / rowsPerCycle
  double pad = 0;      // of which padding rows (no DRAM data)
  bool onChip = false; // Operand::onChip: rows alone, no channel
  bool moves() const { return bytes > 0 || n > 0 || (onChip && rows > 0); }
};
Dma dmaOf(const Operand &op, const std::vector<int64_t> &tile,
          const Machine &m) {
  Dma d;
  d.onChip = op.onChip;
  d.bytes = op.bytes && !op.onChip ? double(op.bytes(tile)) : 0;
  d.n = double(op.transfers ? op.transfers(tile) : (d.bytes > 0 ? 1 : 0));
  d.chan = d.bytes / (m.bytesPerCycle > 0 ? m.bytesPerCycle : 1);
  d.rows = op.rows && m.rowsPerCycle > 0
               ? double(op.rows(tile)) / m.rowsPerCycle
               : 0;
  d.pad = op.padRows && m.rowsPerCycle > 0
              ? std::min(d.rows, double(op.padRows(tile)) / m.rowsPerCycle)
              : 0;
  return d;
}

} // namespace

unsigned fillPieceCount(const Problem &p, const Tiling &t, const Machine &m) {
  const size_t nd = p.dims.size(), no = p.operands.size();
  if (p.fillDim >= nd || p.fillPieces < 2 || !p.compute ||
      t.tile.size() != nd || t.count.size() != nd)
    return 1;
  std::vector<int64_t> idx(nd, 0), clipped(nd, 1), next(nd, 0);
  for (size_t d = 0; d < nd; ++d)
    clipped[d] =
        std::min<int64_t>(t.tile[d], std::max<int64_t>(p.dims[d].extent, 1));
  const unsigned most = unsigned(
      std::clamp<int64_t>(clipped[p.fillDim], 1, int64_t(p.fillPieces)));
  if (most < 2)
    return 1;
  // The first step: every block begins; which end is whether the second
  // step changes them.
  bool more = false;
  for (size_t i = t.order.size(); i-- > 0;) {
    size_t d = t.order[i];
    if (++next[d] < t.count[d]) {
      more = true;
      break;
    }
    next[d] = 0;
  }
  std::vector<StepOperand> ops(no);
  for (size_t k = 0; k < no; ++k) {
    ops[k].block = blockOf(p.operands[k], idx, t.count);
    ops[k].begins = true;
    ops[k].ends =
        !more || blockOf(p.operands[k], next, t.count) != ops[k].block;
  }
  std::vector<uint64_t> cyc = p.compute(t, idx, clipped, ops);
  const double c0 = cyc.empty() ? 0 : double(cyc[0]);
  const double bw = m.bytesPerCycle > 0 ? m.bytesPerCycle : 1;
  const double perTransfer = double(m.latencyCycles + m.transferOverhead);
  // Per pieced operand: instructions, and the cycles its bytes and rows take.
  std::vector<std::pair<double, double>> pieced;
  for (size_t k = 0; k < no; ++k) {
    if (!fillPieced(p, k))
      continue;
    Dma d = dmaOf(p.operands[k], clipped, m);
    if (d.moves())
      pieced.push_back({d.n, std::max(d.chan, d.rows)});
  }
  // Of the layer, about: the compute chain (the fill, then the other steps
  // as long as the first) and the DMA chain (the nest's bytes over the
  // bandwidth, plus the instructions the pieces add). The pieces only help
  // where the first is the longer.
  const double rest = c0 * double(t.steps > 0 ? t.steps - 1 : 0);
  double dma = double(t.dmaBytes) / bw;
  for (size_t k = 0; k < no && k < t.blocks.size(); ++k) {
    const Operand &op = p.operands[k];
    if (op.role == Role::Input && op.transfers) // the LOAD engine's
      dma += double(t.blocks[k]) * double(op.transfers(t.tile)) * perTransfer;
  }
  unsigned best = 1;
  double bestEnd = HUGE_VAL;
  for (unsigned g = 1; g <= most; ++g) {
    double load = 0, end = 0, extra = 0;
    // Instructions per piece as predictCycles issues them: none for an
    // operand without transfers (a MOVE from on chip: no DRAM latency).
    auto perPiece = [g](double n) {
      return n > 0 ? std::max(1.0, std::ceil(n / g)) : 0.0;
    };
    for (auto &[n, move] : pieced)
      extra += (double(g) * perPiece(n) - n) * perTransfer;
    for (unsigned i = 0; i < g; ++i) {
      for (auto &[n, move] : pieced)
        load += perPiece(n) * perTransfer + move / g;
      end = std::max(end, load + c0 * double(g - i) / double(g));
    }
    end = std::max(end + rest, dma + extra);
    if (end < bestEnd - 0.5) {
      bestEnd = end;
      best = g;
    }
  }
  return best;
}

namespace {

// predictCycles' walk over a tiling's steps: the state the steps carry from
// one to the next (the DRAM channel, each engine's and slot's free time)
// and one method per part of a step, in the order a step runs them.
class CycleWalk {
public:
  CycleWalk(const Problem &p, const Tiling &t, const Machine &m)
      : p_(p), t_(t), m_(m), no_(p.operands.size()),
        perTransfer_(double(m.latencyCycles + m.transferOverhead)),
        clipped_(p.dims.size(), 1), memo_(no_), cur_(no_), nxt_(no_),
        prev_(no_, -1), slot_(no_, 0),
        slotFree_(no_, std::vector<double>(2, 0)), ops_(no_) {
    // Block index of operand k: the sum over its dims of the tile index
    // times the product of the counts of its dims after it (blockOf,
    // unrolled: a hot loop).
    terms_.resize(no_);
    for (size_t k = 0; k < no_; ++k) {
      const std::vector<size_t> &ds = p.operands[k].dims;
      int64_t mult = 1;
      for (size_t j = ds.size(); j-- > 0;) {
        terms_[k].push_back({ds[j], mult});
        mult *= t.count[ds[j]];
      }
    }
    order_ = issueOrder(p.loadOrder);
    firstOrder_ =
        p.firstLoadOrder.empty() ? order_ : issueOrder(p.firstLoadOrder);
    for (size_t k = 0; k < no_; ++k)
      if (p.operands[k].role == Role::Output)
        outputs_.push_back(k);
  }

  Prediction walk(double stopAbove) {
    const size_t nd = p_.dims.size();
    std::vector<int64_t> idx(nd, 0), next(nd, 0);
    const unsigned firstPieces = fillPieceCount(p_, t_, m_);
    blocks(idx, cur_);
    bool more = true, first = true;
    while (more) {
      next = idx;
      more = advance(next);
      if (more)
        blocks(next, nxt_);
      beginStep(idx, more);
      const unsigned pieces = first ? firstPieces : 1;
      loads(first, pieces);
      compute(idx, pieces);
      release();
      // prev = cur, cur = nxt, idx = next (nxt and next are set again
      // before they are read).
      std::swap(prev_, cur_);
      std::swap(cur_, nxt_);
      std::swap(idx, next);
      first = false;
      // Already slower than what it is compared with: a lower bound will
      // do.
      const double sofar = settle();
      if (sofar > stopAbove) {
        r_.cycles = sofar;
        return r_;
      }
    }
    double end = std::max(loadEnd_, storeEnd_);
    for (double e : engEnd_)
      end = std::max(end, e);
    r_.cycles = std::max(
        end, allBytes_ / (m_.bytesPerCycle > 0 ? m_.bytesPerCycle : 1));
    return r_;
  }

private:
  // Load issue order: the given operands, then the others.
  std::vector<size_t> issueOrder(const std::vector<size_t> &given) const {
    std::vector<size_t> order;
    for (size_t k : given)
      if (k < no_ && std::find(order.begin(), order.end(), k) == order.end())
        order.push_back(k);
    for (size_t k = 0; k < no_; ++k)
      if (std::find(order.begin(), order.end(), k) == order.end())
        order.push_back(k);
    return order;
  }
  bool advance(std::vector<int64_t> &v) const {
    for (size_t i = t_.order.size(); i-- > 0;) {
      size_t d = t_.order[i];
      if (++v[d] < t_.count[d])
        return true;
      v[d] = 0;
    }
    return false;
  }
  void blocks(const std::vector<int64_t> &v, std::vector<int64_t> &b) const {
    for (size_t k = 0; k < no_; ++k) {
      int64_t sum = 0;
      for (const auto &[d, mult] : terms_[k])
        sum += v[d] * mult;
      b[k] = sum;
    }
  }
  // What one block of operand k moves through DMA, remembered per operand
  // for the last tile sizes (only edge tiles differ). `epoch_` counts the
  // changes of the clipped tile sizes (a hot loop: one comparison per step,
  // not one per operand).
  const Dma &dma(size_t k) {
    Memo &mm = memo_[k];
    if (mm.epoch != epoch_) {
      mm.epoch = epoch_;
      mm.dma = dmaOf(p_.operands[k], clipped_, m_);
    }
    return mm.dma;
  }
  // A load of `part` of a block (with `n` instructions) from `start`: the
  // latencies, then its bytes on the channel and its data rows, at most
  // rowsPerCycle; all of its rows from the start (padding rows are written
  // while the data is on its way).
  double loadFrom(double start, const Dma &d, double n, double part) {
    double s = start + n * perTransfer_;
    double data = (d.rows - d.pad) * part;
    return std::max(
        {start + d.rows * part, s + data, channel_.book(s, d.chan * part)});
  }
  void ready(size_t e, double at) {
    if (readyAt_.size() <= e)
      readyAt_.resize(e + 1, 0.0);
    readyAt_[e] = std::max(readyAt_[e], at);
  }

  // The step's clipped tile sizes and, per operand, its block, slot and
  // whether the step begins or ends it.
  void beginStep(const std::vector<int64_t> &idx, bool more) {
    bool changed = false;
    for (size_t d = 0; d < p_.dims.size(); ++d) {
      int64_t c = std::min<int64_t>(t_.tile[d],
                                    std::max<int64_t>(p_.dims[d].extent, 1) -
                                        idx[d] * t_.tile[d]);
      changed = changed || c != clipped_[d];
      clipped_[d] = c;
    }
    if (changed)
      ++epoch_;
    for (size_t k = 0; k < no_; ++k) {
      unsigned slots = k < t_.slots.size() ? std::max(1u, t_.slots[k]) : 1;
      ops_[k].block = cur_[k];
      ops_[k].begins = prev_[k] != cur_[k];
      if (ops_[k].begins && prev_[k] >= 0 && ++slot_[k] >= slots)
        slot_[k] = 0;
      ops_[k].slot = slot_[k];
      ops_[k].ends = !more || nxt_[k] != cur_[k];
    }
  }

  // Loads of this step, in issue order: each after the previous one and
  // after its slot is free; an engine waits for the loads it reads. The
  // pipeline fill in pieces (Problem::fillPieces): on the first step, the
  // loads engine 0 reads that depend on fillDim.
  void loads(bool first, unsigned pieces) {
    double busy = 0;
    std::fill(readyAt_.begin(), readyAt_.end(), 0.0);
    auto pieced = [&](size_t k) { return pieces > 1 && fillPieced(p_, k); };
    auto loadWhole = [&](size_t k) {
      const Dma &d = dma(k);
      if (!d.moves())
        return;
      double s = std::max(loadEnd_, slotFree_[k][ops_[k].slot % 2]);
      loadEnd_ = loadFrom(s, d, d.n, 1.0);
      busy += loadEnd_ - s;
      allBytes_ += d.bytes;
      ready(readerOf(p_.operands[k]), loadEnd_);
    };
    auto loads = [&](size_t k) {
      return p_.operands[k].role == Role::Input && ops_[k].begins;
    };
    pieceEnd_.clear();
    // Every load in order; with pieces, first those engine 0 reads that are
    // not pieced, then the pieces, then those other engines read.
    const std::vector<size_t> &ord = first && pieces < 2 ? firstOrder_ : order_;
    for (size_t k : ord)
      if (loads(k) &&
          (pieces < 2 || (readerOf(p_.operands[k]) == 0 && !pieced(k))))
        loadWhole(k);
    if (pieces > 1) {
      pieceEnd_.assign(pieces, loadEnd_);
      for (unsigned g = 0; g < pieces; ++g)
        for (size_t k : order_) {
          if (!loads(k) || !pieced(k))
            continue;
          const Dma &d = dma(k);
          if (!d.moves())
            continue;
          double n = d.n > 0 ? std::max(1.0, std::ceil(d.n / pieces)) : 0;
          double s = std::max(loadEnd_, slotFree_[k][ops_[k].slot % 2]);
          loadEnd_ = loadFrom(s, d, n, 1.0 / pieces);
          busy += loadEnd_ - s;
          if (g == 0)
            allBytes_ += d.bytes;
          pieceEnd_[g] = loadEnd_;
        }
      ready(0, pieceEnd_[0]);
      for (size_t k : order_)
        if (loads(k) && readerOf(p_.operands[k]) != 0)
          loadWhole(k);
    }
    r_.loadCycles += busy;
  }

  // Compute engines, in pipeline order.
  void compute(const std::vector<int64_t> &idx, unsigned pieces) {
    std::vector<uint64_t> cyc = p_.compute(t_, idx, clipped_, ops_);
    if (engEnd_.size() < cyc.size())
      engEnd_.resize(cyc.size(), 0);
    double prevEngine = 0, most = 0;
    for (size_t e = 0; e < cyc.size(); ++e) {
      double s = std::max(engEnd_[e], prevEngine);
      if (e < readyAt_.size())
        s = std::max(s, readyAt_[e]);
      for (size_t k : outputs_)
        if (ops_[k].begins && p_.operands[k].engine == e)
          s = std::max(s, slotFree_[k][ops_[k].slot % 2]);
      engEnd_[e] = s + double(cyc[e]);
      if (e == 0) // piece g's share of the step after it has arrived
        for (size_t g = 0; g < pieceEnd_.size(); ++g)
          engEnd_[e] = std::max(
              engEnd_[e], pieceEnd_[g] + double(cyc[e]) * double(pieces - g) /
                                             double(pieces));
      prevEngine = engEnd_[e];
      most = std::max(most, double(cyc[e]));
    }
    lastEngine_ = prevEngine;
    r_.computeCycles += most;
  }

  // Release input slots; store the outputs this step completes: the data
  // on the channel (at most a row a cycle), then the latencies.
  void release() {
    for (size_t k = 0; k < no_; ++k) {
      const Operand &op = p_.operands[k];
      if (!ops_[k].ends)
        continue;
      double done =
          op.engine < engEnd_.size() ? engEnd_[op.engine] : lastEngine_;
      if (op.role == Role::Input) {
        slotFree_[k][ops_[k].slot % 2] = done;
      } else if (op.role == Role::Output) {
        const Dma &d = dma(k);
        if (d.moves()) {
          double s = std::max(storeEnd_, done);
          storeEnd_ = std::max(s + d.rows, channel_.book(s, d.chan)) +
                      d.n * perTransfer_;
          r_.storeCycles += storeEnd_ - s;
          allBytes_ += d.bytes;
        }
        slotFree_[k][ops_[k].slot % 2] = std::max(done, storeEnd_);
      }
    }
  }

  // Nothing starts before the load engine or the store engine is free (a
  // store also waits for an engine, none earlier than the earliest): the
  // channel forgets what ends before. Returns the latest end so far.
  double settle() {
    double lowEng = HUGE_VAL;
    for (double e : engEnd_)
      lowEng = std::min(lowEng, e);
    channel_.forgetBefore(
        std::min(loadEnd_, std::max(storeEnd_, engEnd_.empty() ? 0 : lowEng)));
    double sofar = std::max(loadEnd_, storeEnd_);
    for (double e : engEnd_)
      sofar = std::max(sofar, e);
    return sofar;
  }

  struct Memo {
    uint64_t epoch = 0; // 0: never filled
    Dma dma;
  };
  const Problem &p_;
  const Tiling &t_;
  const Machine &m_;
  const size_t no_;
  const double perTransfer_;
  std::vector<std::vector<std::pair<size_t, int64_t>>> terms_;
  std::vector<size_t> order_, firstOrder_, outputs_;
  std::vector<int64_t> clipped_;
  std::vector<Memo> memo_;
  uint64_t epoch_ = 1;
  Channel channel_;
  double loadEnd_ = 0, storeEnd_ = 0, allBytes_ = 0, lastEngine_ = 0;
  std::vector<int64_t> cur_, nxt_, prev_;
  std::vector<unsigned> slot_;
  std::vector<std::vector<double>> slotFree_;
  std::vector<StepOperand> ops_;
  std::vector<double> engEnd_, readyAt_;
  std::vector<double> pieceEnd_; // the fill: when piece g has arrived
  Prediction r_;
};

} // namespace

Prediction predictCycles(const Problem &p, const Tiling &t, const Machine &m,
                         double stopAbove) {
  if (!p.compute)
    return Prediction();
  return CycleWalk(p, t, m).walk(stopAbove);
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

// Static memory planner (docs/lir.md, "Memory planner"): every activation
// gets a byte offset in its space, chosen over all lifetimes at once. Two
// activations may share bytes only when their lifetimes (alloc..dealloc,
// inclusive) are disjoint. Several placement heuristics run; the one with
// the lowest peak wins (ties: the earlier one in the list).
#include "lir/LIR.h"

#include <algorithm>
#include <functional>

namespace ember::lir {

namespace {

struct Item {
  unsigned buffer;
  long start, end; // instruction indices, inclusive
  uint64_t size;   // rounded up to the space alignment
};

uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Places items in `order`: each goes into a gap between already placed
// items whose lifetimes overlap its own. First fit takes the lowest gap,
// best fit the smallest gap that holds it (else the top).
uint64_t place(const std::vector<Item> &items, const std::vector<size_t> &order,
               bool bestFit, std::vector<uint64_t> &offsets) {
  offsets.assign(items.size(), 0);
  std::vector<size_t> placed;
  uint64_t peak = 0;
  std::vector<std::pair<uint64_t, uint64_t>> busy; // [lo, hi)
  for (size_t k : order) {
    const Item &it = items[k];
    busy.clear();
    for (size_t p : placed) {
      const Item &o = items[p];
      if (o.start <= it.end && it.start <= o.end && o.size > 0)
        busy.push_back({offsets[p], offsets[p] + o.size});
    }
    std::sort(busy.begin(), busy.end());
    uint64_t cur = 0, best = UINT64_MAX, bestGap = UINT64_MAX;
    bool found = false;
    for (auto &b : busy) {
      if (b.first > cur && b.first - cur >= it.size) {
        uint64_t gap = b.first - cur;
        if (!bestFit) {
          best = cur;
          found = true;
          break;
        }
        if (gap < bestGap) {
          bestGap = gap;
          best = cur;
          found = true;
        }
      }
      cur = std::max(cur, b.second);
    }
    if (!found)
      best = cur; // above everything that is live meanwhile
    offsets[k] = best;
    placed.push_back(k);
    peak = std::max(peak, best + it.size);
  }
  return peak;
}

struct Heuristic {
  const char *name;
  bool bestFit;
  std::function<bool(const Item &, const Item &)> before;
};

} // namespace

Expected<MemoryPlan> planMemory(Function &f) {
  size_t nb = f.buffers.size();
  std::vector<long> start(nb, -1), end(nb, -1);
  for (size_t i = 0; i < f.insts.size(); ++i) {
    const Instruction &in = f.insts[i];
    for (auto &op : in.operands) {
      if (!op.ref)
        continue;
      unsigned b = f.baseOf(op.ref);
      if (b >= nb)
        return invalid(describeInst(f, i), ": operand refers to nothing");
      if (start[b] < 0)
        start[b] = long(i); // the alloc, when there is one
      end[b] = long(i);
    }
  }
  const std::vector<Heuristic> heuristics = {
      {"size-desc/first-fit", false,
       [](const Item &a, const Item &b) {
         return a.size != b.size ? a.size > b.size : a.start < b.start;
       }},
      {"size-desc/best-fit", true,
       [](const Item &a, const Item &b) {
         return a.size != b.size ? a.size > b.size : a.start < b.start;
       }},
      {"start/first-fit", false,
       [](const Item &a, const Item &b) {
         return a.start != b.start ? a.start < b.start : a.size > b.size;
       }},
      {"start/best-fit", true,
       [](const Item &a, const Item &b) {
         return a.start != b.start ? a.start < b.start : a.size > b.size;
       }},
      {"longest-lifetime/first-fit", false,
       [](const Item &a, const Item &b) {
         long la = a.end - a.start, lb = b.end - b.start;
         return la != lb ? la > lb : a.size > b.size;
       }},
      {"area/best-fit", true,
       [](const Item &a, const Item &b) {
         double x = double(a.size) * double(a.end - a.start + 1);
         double y = double(b.size) * double(b.end - b.start + 1);
         return x != y ? x > y : a.start < b.start;
       }},
  };

  MemoryPlan plan;
  for (size_t s = 0; s < f.spaces.size(); ++s) {
    const MemorySpace &sp = f.spaces[s];
    uint64_t align = std::max<uint64_t>(sp.alignment, 1);
    std::vector<Item> items;
    for (size_t b = 0; b < nb; ++b) {
      Buffer &buf = f.buffers[b];
      if (buf.kind != BufferKind::Activation || buf.space != s)
        continue;
      if (start[b] < 0) {
        buf.offset = 0; // never used: occupies no time
        continue;
      }
      items.push_back(
          {unsigned(b), start[b], end[b], alignUp(buf.bytes(), align)});
    }
    SpaceReport r;
    r.space = sp.name;
    r.buffers = items.size();
    // Max-live lower bound: the most aligned bytes live at one instruction.
    std::vector<int64_t> delta(f.insts.size() + 1, 0);
    for (auto &it : items) {
      r.noReuse += it.size;
      delta[size_t(it.start)] += int64_t(it.size);
      delta[size_t(it.end) + 1] -= int64_t(it.size);
    }
    int64_t live = 0;
    for (int64_t d : delta) {
      live += d;
      r.lowerBound = std::max<uint64_t>(r.lowerBound, uint64_t(live));
    }
    std::vector<uint64_t> bestOffsets, offsets;
    uint64_t bestPeak = UINT64_MAX;
    for (auto &h : heuristics) {
      std::vector<size_t> order(items.size());
      for (size_t k = 0; k < order.size(); ++k)
        order[k] = k;
      // Ties broken by declaration order: a total order, deterministic.
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        if (h.before(items[a], items[b]))
          return true;
        if (h.before(items[b], items[a]))
          return false;
        return a < b;
      });
      uint64_t peak = place(items, order, h.bestFit, offsets);
      r.tried.push_back({h.name, peak});
      if (peak < bestPeak) {
        bestPeak = peak;
        bestOffsets = offsets;
        r.heuristic = h.name;
      }
    }
    r.peak = items.empty() ? 0 : bestPeak;
    for (size_t k = 0; k < items.size(); ++k)
      f.buffers[items[k].buffer].offset = int64_t(bestOffsets[k]);
    if (sp.capacity && r.peak > sp.capacity)
      return invalid("memory planning: space '", sp.name, "' needs ", r.peak,
                     " bytes of activations (lower bound ", r.lowerBound,
                     "), over its capacity ", sp.capacity);
    plan.spaces.push_back(std::move(r));
  }
  return plan;
}

void printMemoryReport(std::ostream &os, const MemoryPlan &p) {
  for (auto &s : p.spaces)
    os << "memory: space=" << s.space << " peak=" << s.peak
       << " lower_bound=" << s.lowerBound << " no_reuse=" << s.noReuse << '\n';
}

} // namespace ember::lir

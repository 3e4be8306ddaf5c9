// Offline interval placement (IntervalPlanner.h): greedy placement in
// several orders, the lowest peak wins.
#include "ember/scratchpad/IntervalPlanner.h"

#include <algorithm>
#include <functional>
#include <map>

namespace ember::scratchpad {

namespace {

uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// Places items in `order`: each goes into a gap between already placed
// items whose lifetimes overlap its own. First fit takes the lowest gap,
// best fit the smallest gap that holds it (else the top).
uint64_t place(const std::vector<Interval> &items,
               const std::vector<size_t> &order, bool bestFit,
               std::vector<uint64_t> &offsets) {
  offsets.assign(items.size(), 0);
  std::vector<size_t> placed;
  uint64_t peak = 0;
  std::vector<std::pair<uint64_t, uint64_t>> busy; // [lo, hi)
  for (size_t k : order) {
    const Interval &it = items[k];
    busy.clear();
    for (size_t p : placed) {
      const Interval &o = items[p];
      if (o.begin <= it.end && it.begin <= o.end && o.size > 0)
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
  std::function<bool(const Interval &, const Interval &)> before;
};

} // namespace

Placement placeIntervals(const std::vector<Interval> &in, uint64_t alignment) {
  uint64_t align = std::max<uint64_t>(alignment, 1);
  std::vector<Interval> items = in;
  for (Interval &it : items)
    it.size = alignUp(it.size, align);
  const std::vector<Heuristic> heuristics = {
      {"size-desc/first-fit", false,
       [](const Interval &a, const Interval &b) {
         return a.size != b.size ? a.size > b.size : a.begin < b.begin;
       }},
      {"size-desc/best-fit", true,
       [](const Interval &a, const Interval &b) {
         return a.size != b.size ? a.size > b.size : a.begin < b.begin;
       }},
      {"start/first-fit", false,
       [](const Interval &a, const Interval &b) {
         return a.begin != b.begin ? a.begin < b.begin : a.size > b.size;
       }},
      {"start/best-fit", true,
       [](const Interval &a, const Interval &b) {
         return a.begin != b.begin ? a.begin < b.begin : a.size > b.size;
       }},
      {"longest-lifetime/first-fit", false,
       [](const Interval &a, const Interval &b) {
         int64_t la = a.end - a.begin, lb = b.end - b.begin;
         return la != lb ? la > lb : a.size > b.size;
       }},
      {"area/best-fit", true,
       [](const Interval &a, const Interval &b) {
         double x = double(a.size) * double(a.end - a.begin + 1);
         double y = double(b.size) * double(b.end - b.begin + 1);
         return x != y ? x > y : a.begin < b.begin;
       }},
  };

  Placement r;
  // Max-live lower bound: the most aligned bytes live at one step.
  std::map<int64_t, int64_t> delta;
  for (const Interval &it : items) {
    r.noReuse += it.size;
    delta[it.begin] += int64_t(it.size);
    delta[it.end + 1] -= int64_t(it.size);
  }
  int64_t live = 0;
  for (auto &d : delta) {
    live += d.second;
    r.lowerBound = std::max<uint64_t>(r.lowerBound, uint64_t(live));
  }
  std::vector<uint64_t> offsets;
  uint64_t bestPeak = UINT64_MAX;
  for (const Heuristic &h : heuristics) {
    std::vector<size_t> order(items.size());
    for (size_t k = 0; k < order.size(); ++k)
      order[k] = k;
    // Ties broken by position: a total order, deterministic.
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
      r.offsets = offsets;
      r.heuristic = h.name;
    }
  }
  r.peak = items.empty() ? 0 : bestPeak;
  if (items.empty())
    r.offsets.clear();
  return r;
}

} // namespace ember::scratchpad

// Offline placement of buffers with known lifetimes into one memory
// (docs/lir.md, "Memory planner"). Part of the SDK (Ember::scratchpad): the
// LIR memory planner uses it for every memory space, and a backend uses it
// for the buffers of its own programs (the NPU backend places the DRAM
// activations of a partition with it). Self-contained: standard C++ only.
#ifndef EMBER_SCRATCHPAD_INTERVAL_PLANNER_H
#define EMBER_SCRATCHPAD_INTERVAL_PLANNER_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ember::scratchpad {

// A buffer of `size` bytes live from step `begin` to step `end`, inclusive.
// Two intervals may share bytes only when their lifetimes are disjoint.
struct Interval {
  uint64_t size = 0;
  int64_t begin = 0, end = 0;
};

struct Placement {
  std::vector<uint64_t> offsets; // one per interval, multiples of alignment
  uint64_t peak = 0;             // highest end of the chosen placement
  uint64_t lowerBound = 0;       // max over steps of the live (aligned) bytes
  uint64_t noReuse = 0;          // sum of all aligned sizes
  std::string heuristic;         // the placement that won
  // Every heuristic tried and its peak, in the order tried.
  std::vector<std::pair<std::string, uint64_t>> tried;
};

// Places every interval at an offset (sizes rounded up to `alignment`, a
// power of two) so that intervals whose lifetimes overlap do not share
// bytes. Six greedy heuristics run (size-descending, start-ordered,
// longest-lifetime and area orders, with first-fit or best-fit gaps) and
// the lowest peak wins; ties go to the earlier heuristic, and ties inside a
// heuristic to the interval order, so the result is deterministic.
Placement placeIntervals(const std::vector<Interval> &items,
                         uint64_t alignment = 1);

} // namespace ember::scratchpad

#endif // EMBER_SCRATCHPAD_INTERVAL_PLANNER_H

// Static memory planner (docs/lir.md, "Memory planner"): every activation
// gets a byte offset in its space, chosen over all lifetimes at once. Two
// activations may share bytes only when their lifetimes (alloc..dealloc,
// inclusive) are disjoint. The placement itself is the SDK's interval
// planner (core/scratchpad, ember/scratchpad/IntervalPlanner.h), which
// backends use for their own memories too.
#include "lir/LIR.h"

#include "ember/scratchpad/IntervalPlanner.h"

#include <algorithm>

namespace ember::lir {

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
  MemoryPlan plan;
  for (size_t s = 0; s < f.spaces.size(); ++s) {
    const MemorySpace &sp = f.spaces[s];
    uint64_t align = std::max<uint64_t>(sp.alignment, 1);
    std::vector<unsigned> owner;
    std::vector<scratchpad::Interval> items;
    for (size_t b = 0; b < nb; ++b) {
      Buffer &buf = f.buffers[b];
      if (buf.kind != BufferKind::Activation || buf.space != s)
        continue;
      if (start[b] < 0) {
        buf.offset = 0; // never used: occupies no time
        continue;
      }
      owner.push_back(unsigned(b));
      items.push_back({buf.bytes(), start[b], end[b]});
    }
    scratchpad::Placement pl = scratchpad::placeIntervals(items, align);
    SpaceReport r;
    r.space = sp.name;
    r.buffers = items.size();
    r.peak = pl.peak;
    r.lowerBound = pl.lowerBound;
    r.noReuse = pl.noReuse;
    r.heuristic = pl.heuristic;
    r.tried = pl.tried;
    for (size_t k = 0; k < items.size(); ++k)
      f.buffers[owner[k]].offset = int64_t(pl.offsets[k]);
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

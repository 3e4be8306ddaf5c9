// Dead-store and dead-alloc elimination. A store is dead when nothing reads
// the bytes it writes before they are fully overwritten, deallocated or the
// function ends; only activations qualify (outputs are read by the caller).
// A compute or copy instruction all of whose stores are dead is removed
// (instructions have no other side effects); DMA is left alone. This
// repeats until nothing changes, then activations that no instruction
// touches lose their alloc/dealloc, and unreferenced activations, weights
// and views are dropped from the declarations.
#include "lir/LirPass.h"

namespace ember::lir {

namespace {

struct Range {
  unsigned buffer;
  uint64_t lo, hi;
};

Range rangeOf(const Function &f, Ref r) {
  uint64_t lo = f.offsetOf(r);
  return {f.baseOf(r), lo, lo + f.typeOf(r).sizeInBytes()};
}

// Is the store of instruction `i` to `w` read before it is overwritten?
bool storeIsRead(const Function &f,
                 const std::vector<std::vector<size_t>> &uses, size_t i,
                 Range w) {
  const Buffer &b = f.buffers[w.buffer];
  if (b.kind != BufferKind::Activation)
    return true;
  if (w.lo == w.hi)
    return false; // writes no bytes
  for (size_t j : uses[w.buffer]) {
    if (j <= i)
      continue;
    const Instruction &in = f.insts[j];
    auto ops = touchedOperands(f, j);
    bool covered = false;
    for (auto &op : ops) {
      if (!op.ref || f.baseOf(op.ref) != w.buffer)
        continue;
      Range r = rangeOf(f, op.ref);
      bool overlap = r.lo < w.hi && w.lo < r.hi;
      // A dma.wait "touches" its transfer's operands: reading is what
      // matters, and the start already counted.
      if (op.reads() && overlap && in.kind != InstKind::DmaWait)
        return true;
      if (op.access == Access::Out && in.kind != InstKind::DmaStart &&
          in.kind != InstKind::DmaWait && r.lo <= w.lo && w.hi <= r.hi)
        covered = true;
    }
    if (covered)
      return false;
  }
  return false;
}

} // namespace

Status runDeadAllocElimination(Function &f, LirPassStats &s) {
  for (bool changed = true; changed;) {
    changed = false;
    auto uses = bufferUses(f);
    std::vector<bool> dead(f.insts.size(), false);
    for (size_t i = 0; i < f.insts.size(); ++i) {
      const Instruction &in = f.insts[i];
      if (in.kind != InstKind::Compute && in.kind != InstKind::Copy)
        continue;
      bool anyLive = false, anyStore = false;
      for (auto &op : in.operands) {
        if (!op.writes() || !op.ref)
          continue;
        anyStore = true;
        anyLive = anyLive || storeIsRead(f, uses, i, rangeOf(f, op.ref));
      }
      if (anyStore && !anyLive) {
        dead[i] = true;
        changed = true;
        ++s.changed;
      }
    }
    if (!changed)
      break;
    std::vector<Instruction> out;
    for (size_t i = 0; i < f.insts.size(); ++i)
      if (!dead[i])
        out.push_back(std::move(f.insts[i]));
    f.insts = std::move(out);
  }
  // Activations no instruction touches: drop their lifetime markers.
  auto uses = bufferUses(f);
  std::vector<Instruction> out;
  for (auto &in : f.insts) {
    if (isLifetime(in) && uses[in.operands[0].ref.index].empty()) {
      ++s.changed;
      continue;
    }
    out.push_back(std::move(in));
  }
  f.insts = std::move(out);
  removeUnusedDecls(f);
  return Status::ok();
}

} // namespace ember::lir

// Copy elimination. `copy out %d, in %s` is removed and %s's buffer is
// renamed into %d's storage (a view of it when the type or offset differs),
// so the producer of %s writes %d directly, when:
// - %s covers its whole buffer S, an activation that nothing touches after
//   the copy (S dies there);
// - %d's buffer D is an activation or an output, is not S, and nothing
//   touches D from S's first use up to the copy (S's writes and reads
//   land in D's bytes meanwhile);
// - neither buffer is touched by a DMA.
// When D is an activation the merged buffer lives from the earlier alloc
// to the later dealloc.
#include "lir/LirPass.h"

namespace ember::lir {

Status runCopyElimination(Function &f, LirPassStats &s) {
  std::vector<bool> dma = dmaBuffers(f);
  for (size_t i = 0; i < f.insts.size(); ++i) {
    const Instruction &in = f.insts[i];
    if (in.kind != InstKind::Copy)
      continue;
    Ref dst = in.operands[0].ref, src = in.operands[1].ref;
    unsigned d = f.baseOf(dst), sb = f.baseOf(src);
    const Buffer &S = f.buffers[sb], &D = f.buffers[d];
    if (d == sb || S.kind != BufferKind::Activation || dma[sb] || dma[d] ||
        (D.kind != BufferKind::Activation && D.kind != BufferKind::Output))
      continue;
    if (f.offsetOf(src) != 0 || f.typeOf(src).sizeInBytes() != S.bytes())
      continue;
    uint64_t offset = f.offsetOf(dst);
    if (offset + S.bytes() > D.bytes())
      continue;
    auto uses = bufferUses(f);
    if (uses[sb].empty() || uses[sb].back() != i)
      continue;
    size_t first = uses[sb].front();
    bool busy = false;
    for (size_t j : uses[d])
      busy = busy || (j >= first && j < i);
    if (busy)
      continue;
    f.insts.erase(f.insts.begin() + long(i));
    mergeBuffer(f, sb, d, offset, &i);
    ++s.changed;
    // `i` now indexes the instruction after the removed copy (or the end).
    --i;
  }
  removeUnusedDecls(f);
  return Status::ok();
}

} // namespace ember::lir

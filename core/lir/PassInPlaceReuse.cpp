// In-place reuse for elementwise ops. `Op(in %a, ..., out %c)` becomes
// `Op(inout %a, ...)` and every later use of %c uses %a's storage, when:
// - the op is elementwise (result element i depends on input elements i
//   only) with one result;
// - %c is a whole activation, of the same type as the %a operand, that no
//   instruction touches before this one and that is not another operand;
// - %a's buffer is an activation that nothing touches after this
//   instruction (it dies here), and no other operand reads a different
//   range of that buffer (a shifted read would see overwritten elements);
// - neither buffer is touched by a DMA.
// The merged buffer lives from %a's alloc to %c's dealloc.
#include "lir/LirPass.h"

namespace ember::lir {

namespace {

bool eligibleOp(const Instruction &in) {
  return in.kind == InstKind::Compute && hasProp(in.op, P_Elementwise) &&
         in.op != OpKind::SwiGLU && opInfo(in.op).numOut == 1;
}

} // namespace

Status runInPlaceReuse(Function &f, LirPassStats &s) {
  std::vector<bool> dma = dmaBuffers(f);
  for (size_t i = 0; i < f.insts.size(); ++i) {
    const Instruction &in = f.insts[i];
    if (!eligibleOp(in))
      continue;
    // The single result operand.
    int res = -1, nWrites = 0;
    for (size_t k = 0; k < in.operands.size(); ++k)
      if (in.operands[k].writes()) {
        res = int(k);
        ++nWrites;
      }
    if (nWrites != 1 || in.operands[size_t(res)].access != Access::Out)
      continue;
    Ref out = in.operands[size_t(res)].ref;
    if (out.kind != Ref::Kind::Buffer)
      continue;
    unsigned c = out.index;
    if (f.buffers[c].kind != BufferKind::Activation || dma[c])
      continue;
    auto uses = bufferUses(f);
    if (uses[c].empty() || uses[c].front() != i)
      continue;
    for (size_t k = 0; k < in.operands.size(); ++k) {
      const Operand &op = in.operands[k];
      if (op.access != Access::In || !op.ref)
        continue;
      unsigned a = f.baseOf(op.ref);
      if (a == c || f.buffers[a].kind != BufferKind::Activation || dma[a] ||
          uses[a].back() != i || !(f.typeOf(op.ref) == f.buffers[c].type))
        continue;
      bool clash = false;
      for (size_t m = 0; m < in.operands.size(); ++m) {
        const Operand &o = in.operands[m];
        if (m == k || int(m) == res || !o.ref)
          continue;
        if (o.ref.kind == Ref::Kind::Buffer && o.ref.index == c)
          clash = true;
        if (f.baseOf(o.ref) == a && !(o.ref == op.ref))
          clash = true;
      }
      if (clash)
        continue;
      Ref target = op.ref;
      uint64_t offset = f.offsetOf(target);
      Instruction &w = f.insts[i];
      w.operands[k].access = Access::InOut;
      w.operands.erase(w.operands.begin() + res);
      // Later uses of %c go to %a's storage; the dealloc of %a right
      // after this instruction goes, %c's stays (as %a's).
      mergeBuffer(f, c, a, offset, &i);
      ++s.changed;
      break;
    }
  }
  removeUnusedDecls(f);
  return Status::ok();
}

} // namespace ember::lir

// TopK (an Emit row of CpuOps.def): per line along the axis, a generated
// insertion into the K result slots, lines split over the workers. The
// order is the reference kernel's: by value (NaN above every number), ties
// by the lower index, sorted whatever `sorted` says (the reference sorts
// too). Elements arrive in index order, so an element only moves in front
// of strictly worse ones and ties stay stable.
//
// Cost: a line of n elements takes n comparisons against the K-th value,
// plus a shift of up to K slots per element that enters the top K; that is
// about n + K^2 log(n/K) for unordered data, n K when the line is already
// sorted the wrong way round (a full sort, K = n, of a reversed line).
#include "OpLoops.h"

namespace ember::cpugen {

Status emit_TopK(Codegen &cg, const Group &g) {
  const Node &n = *g.root;
  const Value &x = n.inputs[0];
  Value vals(const_cast<Node *>(&n), 0), inds(const_cast<Node *>(&n), 1);
  ElemKind k = x.type().elem();
  const Dims &dims = x.type().dims();
  const int64_t axis = ops::axisOf(n, dims.size());
  std::vector<int64_t> kv;
  constantInts(n.inputs[1], kv); // checkTopK: a constant
  int64_t K = kv[0];
  bool largest = n.attrInt("largest", 1) != 0;
  int64_t outer, len, inner;
  ops::axisView(dims, size_t(axis), outer, len, inner);
  if (K == 0 || vals.type().numElements() == 0)
    return Status::ok();
  llvm::IRBuilder<> &b = *cg.b_;
  LoopGen lg(cg, g, b, {});
  bool fl = isComputeFloatKind(k);
  // a strictly before b: greater (largest) or less (smallest), NaN above
  // every number and equal to NaN.
  auto before = [&](llvm::Value *a, llvm::Value *c) -> llvm::Value * {
    if (!fl) {
      bool s = isSignedInt(k);
      return largest ? (s ? b.CreateICmpSGT(a, c) : b.CreateICmpUGT(a, c))
                     : (s ? b.CreateICmpSLT(a, c) : b.CreateICmpULT(a, c));
    }
    llvm::Value *an = b.CreateFCmpUNO(a, a), *cn = b.CreateFCmpUNO(c, c);
    if (largest) // a NaN and c not, or both numbers and a > c
      return b.CreateOr(b.CreateAnd(an, b.CreateNot(cn)),
                        b.CreateFCmpOGT(a, c));
    // a a number and (c NaN or a < c)
    return b.CreateAnd(b.CreateNot(an), b.CreateOr(cn, b.CreateFCmpOLT(a, c)));
  };
  cg.emitTask(
      "topk", outer * inner, len, [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *px = cg.ptrOfValue(x), *pv = cg.ptrOfValue(vals),
                    *pi = cg.ptrOfValue(inds);
        cg.emitNest(
            {outer * inner}, begin, end, [&](std::vector<llvm::Value *> &i) {
              llvm::Value *o = b.CreateSDiv(i[0], b.getInt64(uint64_t(inner)));
              llvm::Value *in = b.CreateSRem(i[0], b.getInt64(uint64_t(inner)));
              llvm::Value *src = b.CreateAdd(
                  b.CreateMul(o, b.getInt64(uint64_t(len * inner))), in);
              llvm::Value *dst = b.CreateAdd(
                  b.CreateMul(o, b.getInt64(uint64_t(K * inner))), in);
              llvm::Value *step = b.getInt64(uint64_t(inner));
              auto slot = [&](llvm::Value *s) {
                return b.CreateAdd(dst, b.CreateMul(s, step));
              };
              llvm::Function *fn = b.GetInsertBlock()->getParent();
              llvm::LLVMContext &ctx = b.getContext();
              // count: slots filled so far.
              ops::forLoop(
                  b, b.getInt64(0), b.getInt64(uint64_t(len)), {b.getInt64(0)},
                  [&](llvm::Value *j, std::vector<llvm::Value *> &c) {
                    llvm::Value *count = c[0];
                    llvm::Value *v = ops::loadElem(
                        lg, k, px, b.CreateAdd(src, b.CreateMul(j, step)));
                    llvm::Value *full =
                        b.CreateICmpEQ(count, b.getInt64(uint64_t(K)));
                    // Full: enters only when before the K-th.
                    auto *checkLast =
                        llvm::BasicBlock::Create(ctx, "topk.full", fn);
                    auto *insert =
                        llvm::BasicBlock::Create(ctx, "topk.insert", fn);
                    auto *next = llvm::BasicBlock::Create(ctx, "topk.next", fn);
                    llvm::BasicBlock *head = b.GetInsertBlock();
                    b.CreateCondBr(full, checkLast, insert);
                    b.SetInsertPoint(checkLast);
                    llvm::Value *last = ops::loadElem(
                        lg, k, pv, slot(b.getInt64(uint64_t(K - 1))));
                    b.CreateCondBr(before(v, last), insert, next);
                    b.SetInsertPoint(insert);
                    llvm::PHINode *startPos = b.CreatePHI(b.getInt64Ty(), 2);
                    startPos->addIncoming(count, head);
                    startPos->addIncoming(b.getInt64(uint64_t(K - 1)),
                                          checkLast);
                    // Shift worse slots down: while pos > 0 and v before slot
                    // pos-1.
                    auto *shift =
                        llvm::BasicBlock::Create(ctx, "topk.shift", fn);
                    auto *move = llvm::BasicBlock::Create(ctx, "topk.move", fn);
                    auto *place =
                        llvm::BasicBlock::Create(ctx, "topk.place", fn);
                    b.CreateBr(shift);
                    b.SetInsertPoint(shift);
                    llvm::PHINode *pos = b.CreatePHI(b.getInt64Ty(), 2);
                    pos->addIncoming(startPos, insert);
                    llvm::Value *more = b.CreateICmpSGT(pos, b.getInt64(0));
                    auto *cmp = llvm::BasicBlock::Create(ctx, "topk.cmp", fn);
                    b.CreateCondBr(more, cmp, place);
                    b.SetInsertPoint(cmp);
                    llvm::Value *prev = b.CreateSub(pos, b.getInt64(1));
                    llvm::Value *pvv = ops::loadElem(lg, k, pv, slot(prev));
                    b.CreateCondBr(before(v, pvv), move, place);
                    b.SetInsertPoint(move);
                    llvm::Type *vt = cg.elemType(k);
                    llvm::Value *from = slot(prev), *to = slot(pos);
                    b.CreateStore(
                        b.CreateLoad(vt, b.CreateInBoundsGEP(vt, pv, from)),
                        b.CreateInBoundsGEP(vt, pv, to));
                    llvm::Type *i64 = b.getInt64Ty();
                    b.CreateStore(
                        b.CreateLoad(i64, b.CreateInBoundsGEP(i64, pi, from)),
                        b.CreateInBoundsGEP(i64, pi, to));
                    pos->addIncoming(prev, move);
                    b.CreateBr(shift);
                    b.SetInsertPoint(place);
                    llvm::Value *at = slot(pos);
                    ops::storeElem(lg, k, pv, at, v);
                    b.CreateStore(j, b.CreateInBoundsGEP(i64, pi, at));
                    llvm::Value *grown = b.CreateSelect(
                        full, count, b.CreateAdd(count, b.getInt64(1)));
                    b.CreateBr(next);
                    b.SetInsertPoint(next);
                    llvm::PHINode *nc = b.CreatePHI(b.getInt64Ty(), 2);
                    nc->addIncoming(count, checkLast);
                    nc->addIncoming(grown, place);
                    return std::vector<llvm::Value *>{nc};
                  });
            });
      });
  return Status::ok();
}

} // namespace ember::cpugen

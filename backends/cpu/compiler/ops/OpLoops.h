// Small IR helpers shared by the Emit rows' code (compiler/ops/*.cpp):
// counted loops that carry values, and element loads and stores in the
// reference's compute kinds. Internal to the code generator.
#pragma once

#include "LoopGen.h"

#include <functional>
#include <vector>

namespace ember::cpugen::ops {

// for (i = lo; i < hi; ++i) carried = body(i, carried); returns the final
// carried values (the initial ones when the loop does not run). backEdge,
// when given, receives the loop's conditional branch back to its header
// (for loop metadata such as an interleave count).
inline std::vector<llvm::Value *>
forLoop(llvm::IRBuilder<> &b, llvm::Value *lo, llvm::Value *hi,
        std::vector<llvm::Value *> init,
        const std::function<std::vector<llvm::Value *>(
            llvm::Value *, std::vector<llvm::Value *> &)> &body,
        llvm::Instruction **backEdge = nullptr) {
  llvm::Function *fn = b.GetInsertBlock()->getParent();
  llvm::LLVMContext &ctx = b.getContext();
  llvm::BasicBlock *pre = b.GetInsertBlock();
  auto *loop = llvm::BasicBlock::Create(ctx, "for", fn);
  auto *exit = llvm::BasicBlock::Create(ctx, "for.end", fn);
  b.CreateCondBr(b.CreateICmpSLT(lo, hi), loop, exit);
  b.SetInsertPoint(loop);
  llvm::PHINode *iv = b.CreatePHI(b.getInt64Ty(), 2, "i");
  iv->addIncoming(lo, pre);
  std::vector<llvm::Value *> cur;
  std::vector<llvm::PHINode *> phis;
  for (llvm::Value *v : init) {
    llvm::PHINode *p = b.CreatePHI(v->getType(), 2);
    p->addIncoming(v, pre);
    phis.push_back(p);
    cur.push_back(p);
  }
  std::vector<llvm::Value *> next = body(iv, cur);
  llvm::BasicBlock *latch = b.GetInsertBlock();
  llvm::Value *inc = b.CreateAdd(iv, b.getInt64(1), "", true, true);
  iv->addIncoming(inc, latch);
  for (size_t k = 0; k < phis.size(); ++k)
    phis[k]->addIncoming(next[k], latch);
  llvm::Instruction *br = b.CreateCondBr(b.CreateICmpSLT(inc, hi), loop, exit);
  if (backEdge)
    *backEdge = br;
  b.SetInsertPoint(exit);
  std::vector<llvm::Value *> out;
  for (size_t k = 0; k < phis.size(); ++k) {
    llvm::PHINode *p = b.CreatePHI(init[k]->getType(), 2);
    p->addIncoming(init[k], pre);
    p->addIncoming(next[k], latch);
    out.push_back(p);
  }
  return out;
}

// Element i of a tensor of kind k at p, in its compute register (16-bit
// floats widened to f32, bool as i1).
inline llvm::Value *loadElem(LoopGen &lg, ElemKind k, llvm::Value *p,
                             llvm::Value *i) {
  llvm::IRBuilder<> &b = lg.b;
  llvm::Value *v = b.CreateLoad(lg.cg.elemType(k),
                                b.CreateInBoundsGEP(lg.cg.elemType(k), p, i));
  if (k == ElemKind::Bool)
    return b.CreateICmpNE(v, b.getInt8(0));
  return isHalfFloatKind(k) ? lg.widen(v, k) : v;
}

// Stores compute register v as element i of a tensor of kind k at p.
inline void storeElem(LoopGen &lg, ElemKind k, llvm::Value *p, llvm::Value *i,
                      llvm::Value *v) {
  llvm::IRBuilder<> &b = lg.b;
  if (k == ElemKind::Bool)
    v = b.CreateZExt(v, b.getInt8Ty());
  else if (isHalfFloatKind(k))
    v = lg.narrow(v, k);
  b.CreateStore(v, b.CreateInBoundsGEP(lg.cg.elemType(k), p, i));
}

// The node's `axis` attribute (default -1) counted from the front of a
// rank-`rank` operand.
inline int64_t axisOf(const Node &n, size_t rank) {
  const int64_t axis = n.attrInt("axis", -1);
  return axis < 0 ? axis + int64_t(rank) : axis;
}

// outer, n and inner of `dims` around `axis`.
inline void axisView(const Dims &dims, size_t axis, int64_t &outer, int64_t &n,
                     int64_t &inner) {
  outer = 1, inner = 1;
  for (size_t d = 0; d < axis; ++d)
    outer *= dims[d];
  n = dims[axis];
  for (size_t d = axis + 1; d < dims.size(); ++d)
    inner *= dims[d];
}

// The flat index of element j of the current line (emitLines).
using LineIndex = std::function<llvm::Value *(llvm::Value *)>;

// A task over the lines of a row-major tensor of `dims` along `axis`
// (outer x inner of them, split over the workers, about `work` per line):
// setup() once per task (the operands' pointers, which live inside the
// task function), then line(at) once per line.
inline void emitLines(Codegen &cg, const std::string &name, const Dims &dims,
                      size_t axis, int64_t work,
                      const std::function<void()> &setup,
                      const std::function<void(const LineIndex &)> &line) {
  int64_t outer, len, inner;
  axisView(dims, axis, outer, len, inner);
  llvm::IRBuilder<> &b = *cg.b_;
  auto c64 = [&](int64_t v) { return b.getInt64(uint64_t(v)); };
  cg.emitTask(
      name, outer * inner, work, [&](llvm::Value *begin, llvm::Value *end) {
        setup();
        cg.emitNest({outer * inner}, begin, end,
                    [&](std::vector<llvm::Value *> &i) {
                      llvm::Value *o = b.CreateSDiv(i[0], c64(inner));
                      llvm::Value *in = b.CreateSRem(i[0], c64(inner));
                      llvm::Value *base =
                          b.CreateAdd(b.CreateMul(o, c64(len * inner)), in);
                      line([&](llvm::Value *j) {
                        return b.CreateAdd(base, b.CreateMul(j, c64(inner)));
                      });
                    });
      });
}

// The largest of load(0) .. load(len - 1) (signed i32 values).
inline llvm::Value *
lineMax(llvm::IRBuilder<> &b, int64_t len,
        const std::function<llvm::Value *(llvm::Value *)> &load) {
  return forLoop(b, b.getInt64(1), b.getInt64(uint64_t(len)),
                 {load(b.getInt64(0))},
                 [&](llvm::Value *j, std::vector<llvm::Value *> &c) {
                   llvm::Value *v = load(j);
                   return std::vector<llvm::Value *>{
                       b.CreateSelect(b.CreateICmpSGT(v, c[0]), v, c[0])};
                 })[0];
}

} // namespace ember::cpugen::ops

// CumSum (an Emit row of CpuOps.def): one generated scan per line along the
// axis, lines split over the workers. As the reference kernel: floats
// accumulate in double, integers in 64 bits with wraparound, and each
// prefix is converted to the element kind on its store (exclusive: before
// adding the element; reverse: from the end).
#include "OpLoops.h"

namespace ember::cpugen {

namespace {

// The scan along `axis`: one task over the lines, split over the workers.
void scan(Codegen &cg, const Group &g, int64_t axis) {
  const Node &n = *g.root;
  const Value &x = n.inputs[0];
  Value y(const_cast<Node *>(&n), 0);
  ElemKind k = x.type().elem();
  bool exclusive = n.attrInt("exclusive", 0) != 0;
  bool reverse = n.attrInt("reverse", 0) != 0;
  int64_t outer, len, inner;
  ops::axisView(x.type().dims(), size_t(axis), outer, len, inner);
  llvm::IRBuilder<> &b = *cg.b_;
  LoopGen lg(cg, g, b, {});
  bool fl = isComputeFloatKind(k);
  llvm::Type *acc = fl ? b.getDoubleTy() : b.getInt64Ty();
  cg.emitTask(
      "cumsum", outer * inner, len, [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *px = cg.ptrOfValue(x), *py = cg.ptrOfValue(y);
        cg.emitNest(
            {outer * inner}, begin, end, [&](std::vector<llvm::Value *> &i) {
              llvm::Value *o = b.CreateSDiv(i[0], b.getInt64(uint64_t(inner)));
              llvm::Value *in = b.CreateSRem(i[0], b.getInt64(uint64_t(inner)));
              llvm::Value *base = b.CreateAdd(
                  b.CreateMul(o, b.getInt64(uint64_t(len * inner))), in);
              llvm::Value *zero = fl ? llvm::ConstantFP::get(acc, 0.0)
                                     : llvm::ConstantInt::get(acc, 0);
              ops::forLoop(
                  b, b.getInt64(0), b.getInt64(uint64_t(len)), {zero},
                  [&](llvm::Value *j, std::vector<llvm::Value *> &c) {
                    llvm::Value *pos =
                        reverse ? b.CreateSub(b.getInt64(uint64_t(len - 1)), j)
                                : j;
                    llvm::Value *e = b.CreateAdd(
                        base, b.CreateMul(pos, b.getInt64(uint64_t(inner))));
                    llvm::Value *v = ops::loadElem(lg, k, px, e);
                    if (fl)
                      v = v->getType()->isDoubleTy() ? v
                                                     : b.CreateFPExt(v, acc);
                    else
                      v = isSignedInt(k) ? b.CreateSExt(v, acc)
                                         : b.CreateZExt(v, acc);
                    llvm::Value *sum =
                        fl ? b.CreateFAdd(c[0], v) : b.CreateAdd(c[0], v);
                    llvm::Value *out = exclusive ? c[0] : sum;
                    // The reference's T(acc): double -> float (-> 16-bit kind).
                    if (fl)
                      out = k == ElemKind::F64
                                ? out
                                : b.CreateFPTrunc(out, b.getFloatTy());
                    else
                      out = b.CreateTrunc(out, cg.elemType(k));
                    ops::storeElem(lg, k, py, e, out);
                    return std::vector<llvm::Value *>{sum};
                  });
            });
      });
}

} // namespace

// A constant axis compiles one scan. An axis known only at run time (ONNX
// makes it an input) compiles one scan per axis, and ember_main runs the
// one the value selects; a value out of range is the reference's error
// (kStatusIndexOutOfRange).
Status emit_CumSum(Codegen &cg, const Group &g) {
  const Node &n = *g.root;
  const Value &x = n.inputs[0];
  int64_t r = int64_t(x.type().rank());
  if (x.type().numElements() == 0)
    return Status::ok();
  std::vector<int64_t> av;
  if (constantInts(n.inputs[1], av)) {
    scan(cg, g, av[0] < 0 ? av[0] + r : av[0]);
    return Status::ok();
  }
  llvm::IRBuilder<> &b = *cg.b_;
  ElemKind ak = n.inputs[1].type().elem();
  llvm::Value *a =
      b.CreateSExt(b.CreateLoad(cg.elemType(ak), cg.ptrOfValue(n.inputs[1])),
                   b.getInt64Ty());
  a = b.CreateSelect(b.CreateICmpSLT(a, b.getInt64(0)),
                     b.CreateAdd(a, b.getInt64(uint64_t(r))), a);
  cg.flagError(b.CreateOr(b.CreateICmpSLT(a, b.getInt64(0)),
                          b.CreateICmpSGE(a, b.getInt64(uint64_t(r)))),
               kStatusIndexOutOfRange);
  llvm::Function *fn = b.GetInsertBlock()->getParent();
  for (int64_t d = 0; d < r; ++d) {
    auto *run = llvm::BasicBlock::Create(b.getContext(), "cumsum.axis", fn);
    auto *next = llvm::BasicBlock::Create(b.getContext(), "cumsum.next", fn);
    b.CreateCondBr(b.CreateICmpEQ(a, b.getInt64(uint64_t(d))), run, next);
    b.SetInsertPoint(run);
    scan(cg, g, d);
    b.CreateBr(next);
    b.SetInsertPoint(next);
  }
  return Status::ok();
}

} // namespace ember::cpugen

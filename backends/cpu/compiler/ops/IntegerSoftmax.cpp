// IntegerSoftmax (an Emit row of CpuOps.def): the fixed profile's softmax of
// u8/i8/i16 values without a divider, quant::integerSoftmaxRow
// (ember/quant/Transformer.h) step for step, one generated pass per line
// along the axis, lines split over the workers:
//   m = the line's maximum;
//   e_j = exp2NegQ23(MBQM(x_j - m, in)), S = sum of e_j in 64 bits;
//   (r, p) = reciprocalOf(S) (the leading one's position, the table);
//   y_j = clamp(round(e_j * r * out.mult / 2^(55 + p - out.shift)) + y_zp)
//         in 128 bits.
// e_j is computed again in the last pass instead of kept (no scratch). Bit
// for bit the interpreter's.
#include "IntegerRows.h"

#include <algorithm>

namespace ember::cpugen {

namespace {

using Vals = std::vector<llvm::Value *>;

// quant::exp2NegQ23(u), as i64: u clamped to [-32 * 2^16, 0], the table's
// 2^(r / 2^16) for u's fraction r, shifted right by -(u >> 16) rounding.
llvm::Value *exp2NegQ23(llvm::IRBuilder<> &b, llvm::GlobalVariable *table,
                        llvm::Value *u) {
  llvm::Value *lo = b.getInt32(uint32_t(-(quant::kSoftmaxMaxExp << 16)));
  u = b.CreateSelect(b.CreateICmpSLT(u, lo), lo, u);
  u = b.CreateSelect(b.CreateICmpSGT(u, b.getInt32(0)), b.getInt32(0), u);
  llvm::Value *n = b.CreateAShr(u, 16);
  llvm::Value *r = b.CreateAnd(u, 0xFFFF);
  llvm::Value *v =
      ops::interpTable(b, table, b.CreateLShr(r, 8), b.CreateAnd(r, 255));
  llvm::Value *s = b.CreateSExt(b.CreateNeg(n), b.getInt64Ty());
  // (n == 0: v itself; roundShift needs a shift of at least 1.)
  llvm::Value *sh =
      b.CreateSelect(b.CreateICmpEQ(s, b.getInt64(0)), b.getInt64(1), s);
  return b.CreateSelect(b.CreateICmpEQ(s, b.getInt64(0)), v,
                        ops::roundShift(b, v, sh));
}

} // namespace

Status emit_IntegerSoftmax(Codegen &cg, const Group &g) {
  const Node &n = *g.root;
  const Value &x = n.inputs[0];
  Value y(const_cast<Node *>(&n), 0);
  const Dims &dims = x.type().dims();
  const int64_t axis = ops::axisOf(n, dims.size());
  int64_t outer, len, inner;
  ops::axisView(dims, size_t(axis), outer, len, inner);
  if (x.type().numElements() == 0)
    return Status::ok();
  const ElemKind xk = x.type().elem(), yk = y.type().elem();
  const int32_t inMult = int32_t(n.attrInt("in_multiplier", 0));
  const int32_t inShift = int32_t(n.attrInt("in_shift", 0));
  const int32_t outMult = int32_t(n.attrInt("out_multiplier", 0));
  const int32_t outShift =
      std::clamp<int32_t>(int32_t(n.attrInt("out_shift", 0)), -31, 30);
  const int64_t yZp = int32_t(n.attrInt("y_zero_point", 0));
  int64_t lo, hi;
  ops::storedRange(yk, lo, hi);
  const quant::TransformerTables &tb = quant::transformerTables();
  llvm::GlobalVariable *expT =
      ops::transformerTable(*cg.mod_, "exp2", tb.exp2.data(), tb.exp2.size());
  llvm::GlobalVariable *recipT = ops::transformerTable(
      *cg.mod_, "recip", tb.recip.data(), tb.recip.size());
  llvm::IRBuilder<> &b = *cg.b_;
  llvm::Type *i128 = b.getInt128Ty();
  auto c64 = [&](int64_t v) { return b.getInt64(uint64_t(v)); };
  cg.emitTask(
      "isoftmax", outer * inner, 12 * len,
      [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *px = cg.ptrOfValue(x), *py = cg.ptrOfValue(y);
        cg.emitNest({outer * inner}, begin, end, [&](Vals &i) {
          llvm::Value *o = b.CreateSDiv(i[0], c64(inner));
          llvm::Value *in = b.CreateSRem(i[0], c64(inner));
          llvm::Value *base = b.CreateAdd(b.CreateMul(o, c64(len * inner)), in);
          auto at = [&](llvm::Value *j) {
            return b.CreateAdd(base, b.CreateMul(j, c64(inner)));
          };
          auto load = [&](llvm::Value *j) {
            return ops::loadStored(cg, xk, px, at(j));
          };
          llvm::Value *m = ops::forLoop(
              b, c64(1), c64(len), {load(c64(0))},
              [&](llvm::Value *j, Vals &c) {
                llvm::Value *v = load(j);
                return Vals{b.CreateSelect(b.CreateICmpSGT(v, c[0]), v, c[0])};
              })[0];
          auto expOf = [&](llvm::Value *j) {
            return exp2NegQ23(b, expT,
                              mbqm(b, b.CreateSub(load(j), m),
                                   b.getInt32(uint32_t(inMult)),
                                   b.getInt32(uint32_t(inShift))));
          };
          llvm::Value *sum = ops::forLoop(
              b, c64(0), c64(len), {c64(0)}, [&](llvm::Value *j, Vals &c) {
                return Vals{b.CreateAdd(c[0], expOf(j))};
              })[0];
          // quant::reciprocalOf(sum): sum >= 2^23 (the maximum's term).
          llvm::Value *clz =
              b.CreateBinaryIntrinsic(llvm::Intrinsic::ctlz, sum, b.getTrue());
          llvm::Value *p = b.CreateSub(c64(63), clz);
          llvm::Value *f = b.CreateAnd(
              b.CreateLShr(b.CreateShl(sum, b.CreateSub(c64(63), p)), 47),
              0xFFFF);
          llvm::Value *r = ops::interpTable(
              b, recipT, b.CreateTrunc(b.CreateLShr(f, 8), b.getInt32Ty()),
              b.CreateTrunc(b.CreateAnd(f, 255), b.getInt32Ty()));
          llvm::Value *shift =
              b.CreateSub(b.CreateAdd(c64(55), p), c64(outShift));
          shift =
              b.CreateSelect(b.CreateICmpSGT(shift, c64(126)), c64(126), shift);
          llvm::Value *sh128 = b.CreateZExt(shift, i128);
          llvm::Value *rm = b.CreateMul(
              b.CreateSExt(r, i128),
              llvm::ConstantInt::get(i128, uint64_t(outMult), true));
          ops::forLoop(b, c64(0), c64(len), {}, [&](llvm::Value *j, Vals &) {
            llvm::Value *prod = b.CreateMul(b.CreateSExt(expOf(j), i128), rm);
            llvm::Value *v =
                b.CreateAdd(ops::roundShift(b, prod, sh128),
                            llvm::ConstantInt::get(i128, uint64_t(yZp), true));
            ops::storeClamped(cg, yk, py, at(j), v, lo, hi);
            return Vals{};
          });
        });
      });
  return Status::ok();
}

} // namespace ember::cpugen

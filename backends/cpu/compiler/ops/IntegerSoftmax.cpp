// IntegerSoftmax (an Emit row of CpuOps.def): the fixed profile's softmax of
// u8/i8/i16 values without a divider, quant::integerSoftmaxRow
// (ember/quant/Transformer.h) step for step, one generated pass per line
// along the axis, lines split over the workers:
//   m = the line's maximum;
//   e_j = exp2NegQ23(MBQM(x_j - m, in)), S = sum of e_j in 64 bits; for
//         8-bit x, e_j is a load from the node's table of the 256
//         distances m - x_j (the header's functions, at compile time);
//   (r, p) = reciprocalOf(S) (the leading one's position, the table);
//   y_j = clamp(round(e_j * r * out.mult / 2^(55 + p - out.shift)) + y_zp),
//         the 78-bit product split so that 64-bit operations give it.
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
  u = ops::clampTo(b, u, -(int64_t(quant::kSoftmaxMaxExp) << 16), 0);
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
  const int64_t len = dims[size_t(axis)];
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
  // 8-bit x: e for each distance d = m - x_j in [0, 255], from the header.
  llvm::GlobalVariable *distT = nullptr;
  if (xk != ElemKind::I16) {
    std::vector<int32_t> dist(256);
    for (int32_t d = 0; d < 256; ++d)
      dist[size_t(d)] = quant::exp2NegQ23(quant::mbqm(-d, inMult, inShift));
    llvm::Constant *init =
        llvm::ConstantDataArray::get(*cg.ctx_, llvm::ArrayRef<int32_t>(dist));
    distT = new llvm::GlobalVariable(*cg.mod_, init->getType(), true,
                                     llvm::GlobalValue::PrivateLinkage, init,
                                     "ember.isoftmax.exp");
  }
  llvm::IRBuilder<> &b = *cg.b_;
  auto c64 = [&](int64_t v) { return b.getInt64(uint64_t(v)); };
  llvm::Value *px = nullptr, *py = nullptr;
  ops::emitLines(
      cg, "isoftmax", dims, size_t(axis), 12 * len,
      [&] {
        px = cg.ptrOfValue(x);
        py = cg.ptrOfValue(y);
      },
      [&](const ops::LineIndex &at) {
        auto load = [&](llvm::Value *j) {
          return ops::loadStored(cg, xk, px, at(j));
        };
        llvm::Value *m = ops::lineMax(b, len, load);
        // e_j: for 8-bit x a load from the node's table of the 256
        // distances m - x_j, else computed.
        auto expOf = [&](llvm::Value *j) -> llvm::Value * {
          llvm::Value *d = b.CreateSub(load(j), m);
          if (distT)
            return b.CreateSExt(
                b.CreateLoad(b.getInt32Ty(),
                             b.CreateInBoundsGEP(
                                 distT->getValueType(), distT,
                                 {c64(0), b.CreateSExt(b.CreateNeg(d),
                                                       b.getInt64Ty())})),
                b.getInt64Ty());
          return exp2NegQ23(b, expT,
                            mbqm(b, d, b.getInt32(uint32_t(inMult)),
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
        // y_j = round(e_j K / 2^s) + y_zp with K = r out.mult < 2^55,
        // e_j <= 2^23 and s = 55 + p - out.shift in [48, 126]: as
        // (e_j Kh + 2^(s-17) + floor(e_j Kl / 2^16)) >> (s - 16) with
        // K = Kh 2^16 + Kl, in 64 bits (below 2^63 for s <= 78); from
        // s = 79 on, e_j K + 2^(s-1) < 2^s and the rounded value is 0.
        llvm::Value *shift =
            b.CreateSub(b.CreateAdd(c64(55), p), c64(outShift));
        llvm::Value *big = b.CreateICmpSGT(shift, c64(78));
        llvm::Value *sh = b.CreateSelect(big, c64(78), shift);
        llvm::Value *k = b.CreateMul(r, c64(outMult));
        llvm::Value *kh = b.CreateLShr(k, 16), *kl = b.CreateAnd(k, 0xFFFF);
        llvm::Value *half = b.CreateShl(c64(1), b.CreateSub(sh, c64(17)));
        llvm::Value *down = b.CreateSub(sh, c64(16));
        ops::forLoop(b, c64(0), c64(len), {}, [&](llvm::Value *j, Vals &) {
          llvm::Value *e = expOf(j);
          llvm::Value *a = b.CreateAdd(b.CreateAdd(b.CreateMul(e, kh), half),
                                       b.CreateLShr(b.CreateMul(e, kl), 16));
          llvm::Value *v = b.CreateSelect(big, c64(0), b.CreateLShr(a, down));
          v = b.CreateAdd(v, c64(yZp));
          ops::storeClamped(cg, yk, py, at(j), v, lo, hi);
          return Vals{};
        });
      });
  return Status::ok();
}

} // namespace ember::cpugen

// IntegerNormalization (an Emit row of CpuOps.def): the fixed profile's
// LayerNorm (center = 1) or RMSNorm (0) of u8/i8/i16 rows without a
// divider, quant::integerNormRow (ember/quant/Transformer.h) step for step,
// rows split over the workers:
//   c_j = x_j - x_zp; D_j = n c_j - sum c (center) or c_j;
//   W = epsilon + sum D_j^2 (128 bits); s = clz(W) rounded down to even;
//   R = the rsqrt table at W << s (0 when W is 0);
//   y_j = clamp(round((floor(D_j R mult[c] / 2^(101 - s/2 - shift[c]))
//         + bias[c]) / 2^16) + y_zp).
// The multiplier, shift and bias operands (one entry, or one per element
// of a row) are read from their storage. Bit for bit the interpreter's.
#include "IntegerRows.h"

#include <algorithm>

namespace ember::cpugen {

namespace {
using Vals = std::vector<llvm::Value *>;
} // namespace

Status emit_IntegerNormalization(Codegen &cg, const Group &g) {
  const Node &n = *g.root;
  const Value &x = n.inputs[0];
  Value y(const_cast<Node *>(&n), 0);
  const Dims &dims = x.type().dims();
  const int64_t axis = ops::axisOf(n, dims.size());
  int64_t len = 1;
  for (size_t d = size_t(axis); d < dims.size(); ++d)
    len *= dims[d];
  const int64_t total = x.type().numElements();
  if (total == 0)
    return Status::ok();
  const int64_t rows = total / len;
  const ElemKind xk = x.type().elem(), yk = y.type().elem();
  const bool center = n.attrInt("center", 1) != 0;
  const int64_t eps = n.attrInt("epsilon", 0);
  const int64_t xZp = int32_t(n.attrInt("x_zero_point", 0));
  const int64_t yZp = int32_t(n.attrInt("y_zero_point", 0));
  const bool perChannel = n.inputs[1].type().numElements() > 1;
  int64_t lo, hi;
  ops::storedRange(yk, lo, hi);
  // |D_j| = n |c_j - mean| <= n (hi - lo) and R <= 2^23: D_j^2 and D_j R in
  // 64 bits when these bounds allow (8-bit rows under 2^23 elements, int16
  // ones under 2^15), else in 128.
  const double dmax = double(len) * (xk == ElemKind::I16 ? 65535 : 255);
  const bool squares64 = dmax * dmax < 0x1p62;
  const bool dr64 = dmax * 0x1p23 < 0x1p62;
  // The last step in 64-bit lanes (the rows' fast loop below) when D fits
  // 32 bits and the bias and shift operands are constants that bound it:
  // |bias| <= 2^61, and eMax, the largest shift entry (clamped as the step
  // clamps it), which sets the rows whose every shift is at least 31.
  int64_t eMax = -31;
  bool fast = dmax < 0x1p31 && isConstant(n.inputs[1]) &&
              isConstant(n.inputs[2]) && isConstant(n.inputs[3]);
  if (fast) {
    for (int64_t e : n.inputs[2].node->payload->toInts())
      eMax = std::max(eMax, std::clamp<int64_t>(e, -31, 30));
    for (int64_t v : n.inputs[3].node->payload->toInts())
      fast = fast && v <= (int64_t(1) << 61) && v >= -(int64_t(1) << 61);
  }
  const quant::TransformerTables &tb = quant::transformerTables();
  llvm::GlobalVariable *rsqrtT = ops::transformerTable(
      *cg.mod_, "rsqrt", tb.rsqrt.data(), tb.rsqrt.size());
  llvm::IRBuilder<> &b = *cg.b_;
  llvm::Type *i32 = b.getInt32Ty(), *i64 = b.getInt64Ty(),
             *i128 = b.getInt128Ty();
  auto c64 = [&](int64_t v) { return b.getInt64(uint64_t(v)); };
  auto c128 = [&](int64_t v) {
    return llvm::ConstantInt::get(i128, uint64_t(v), true);
  };
  llvm::Value *px = nullptr, *py = nullptr, *pm = nullptr, *pe = nullptr,
              *pb = nullptr;
  // Entry of the multiplier (pm), shift (pe) or bias (pb) for element j of a
  // row, sign-extended to w (kinds i32, i32, i64: checkIntegerNormalization).
  auto param = [&](llvm::Value *p, ElemKind pk, llvm::Value *j, llvm::Type *w) {
    llvm::Type *t = cg.elemType(pk);
    return b.CreateSExtOrTrunc(
        b.CreateLoad(t, b.CreateInBoundsGEP(t, p, perChannel ? j : c64(0))), w);
  };
  ops::emitLines(
      cg, "inorm", Dims{rows, len}, 1, 12 * len,
      [&] {
        px = cg.ptrOfValue(x);
        py = cg.ptrOfValue(y);
        pm = cg.ptrOfValue(n.inputs[1]);
        pe = cg.ptrOfValue(n.inputs[2]);
        pb = cg.ptrOfValue(n.inputs[3]);
      },
      [&](const ops::LineIndex &at) {
        auto c = [&](llvm::Value *j) {
          return b.CreateSub(
              b.CreateSExt(ops::loadStored(cg, xk, px, at(j)), i64), c64(xZp));
        };
        llvm::Value *sum = ops::forLoop(b, c64(0), c64(len), {c64(0)},
                                        [&](llvm::Value *j, Vals &s) {
                                          return Vals{b.CreateAdd(s[0], c(j))};
                                        })[0];
        auto dev = [&](llvm::Value *j) {
          return center ? b.CreateSub(b.CreateMul(c64(len), c(j)), sum) : c(j);
        };
        llvm::Value *w = ops::forLoop(
            b, c64(0), c64(len), {c128(eps)}, [&](llvm::Value *j, Vals &s) {
              llvm::Value *d = dev(j);
              if (!squares64)
                d = b.CreateSExt(d, i128);
              return Vals{b.CreateAdd(
                  s[0], b.CreateSExtOrTrunc(b.CreateMul(d, d), i128))};
            })[0];
        // s = clz(W) & ~1 and R from the table; W = 0 gives s = 0, R = 0.
        llvm::Value *zero = b.CreateICmpEQ(w, c128(0));
        llvm::Value *clz =
            b.CreateBinaryIntrinsic(llvm::Intrinsic::ctlz, w, b.getFalse());
        llvm::Value *s =
            b.CreateSelect(zero, c128(0), b.CreateAnd(clz, c128(~int64_t(1))));
        llvm::Value *wn = b.CreateShl(w, s);
        llvm::Value *idx = b.CreateSub(
            b.CreateTrunc(b.CreateLShr(wn, 119), i32), b.getInt32(128));
        idx = b.CreateSelect(zero, b.getInt32(0), idx);
        llvm::Value *off =
            b.CreateTrunc(b.CreateAnd(b.CreateLShr(wn, 111), 255), i32);
        llvm::Value *r =
            b.CreateSelect(zero, c64(0), ops::interpTable(b, rsqrtT, idx, off));
        llvm::Value *r128 = b.CreateSExt(r, i128);
        llvm::Value *halfS = b.CreateTrunc(b.CreateLShr(s, 1), i32);
        // Element j's last step from x, D R mult already divided by
        // 2^(101 - base) (x of type w): floored by the rest of its shift
        // (clamped to [0, most]), the bias added, rounded off 16 bits.
        auto finish = [&](llvm::Value *j, llvm::Value *x, int32_t base,
                          int64_t most, llvm::Type *w) {
          llvm::Value *e =
              ops::clampTo(b, param(pe, ElemKind::I32, j, i32), -31, 30);
          llvm::Value *sh = ops::clampTo(
              b, b.CreateSub(b.CreateSub(b.getInt32(uint32_t(base)), halfS), e),
              0, most);
          llvm::Value *t = b.CreateAdd(b.CreateAShr(x, b.CreateZExt(sh, w)),
                                       param(pb, ElemKind::I64, j, w));
          llvm::Value *v =
              b.CreateAdd(ops::roundShift(b, t, llvm::ConstantInt::get(w, 16)),
                          llvm::ConstantInt::get(w, uint64_t(yZp), true));
          ops::storeClamped(cg, yk, py, at(j), v, lo, hi);
        };
        auto wideRow = [&] {
          ops::forLoop(b, c64(0), c64(len), {}, [&](llvm::Value *j, Vals &) {
            llvm::Value *dr =
                dr64 ? b.CreateSExt(b.CreateMul(dev(j), r), i128)
                     : b.CreateMul(b.CreateSExt(dev(j), i128), r128);
            finish(j, b.CreateMul(dr, param(pm, ElemKind::I32, j, i128)), 101,
                   127, i128);
            return Vals{};
          });
        };
        if (!fast) {
          wideRow();
          return;
        }
        // A row whose every shift sh = 101 - s/2 - e is at least 31 (s/2 <=
        // 70 - eMax) takes the step in 64 bits, exactly: with DR = hi 2^31
        // + lo (lo in [0, 2^31), both 32-bit), floor(DR M / 2^sh) is
        // floor((hi M + floor(lo M / 2^31)) / 2^(sh - 31)), every product
        // 32 x 32 bits and every sum under 2^63 (|D| < 2^31, R <= 2^23,
        // |bias| <= 2^61); a shift past 63 leaves the sign, as past 127
        // does in 128 bits. Other rows take the 128-bit step.
        llvm::Function *fn = b.GetInsertBlock()->getParent();
        llvm::LLVMContext &ctx = b.getContext();
        auto *fastBB = llvm::BasicBlock::Create(ctx, "inorm.fast", fn);
        auto *wideBB = llvm::BasicBlock::Create(ctx, "inorm.wide", fn);
        auto *doneBB = llvm::BasicBlock::Create(ctx, "inorm.done", fn);
        b.CreateCondBr(b.CreateICmpSLE(halfS, b.getInt32(uint32_t(70 - eMax))),
                       fastBB, wideBB);
        b.SetInsertPoint(fastBB);
        llvm::Value *r64 = b.CreateSExt(b.CreateTrunc(r, i32), i64);
        auto s32to64 = [&](llvm::Value *v) {
          return b.CreateSExt(b.CreateTrunc(v, i32), i64);
        };
        ops::forLoop(b, c64(0), c64(len), {}, [&](llvm::Value *j, Vals &) {
          llvm::Value *dr = b.CreateMul(s32to64(dev(j)), r64);
          llvm::Value *m = param(pm, ElemKind::I32, j, i64);
          llvm::Value *hiM = b.CreateMul(s32to64(b.CreateAShr(dr, 31)), m);
          llvm::Value *loM =
              b.CreateMul(s32to64(b.CreateAnd(dr, c64(0x7fffffff))), m);
          finish(j, b.CreateAdd(hiM, b.CreateAShr(loM, 31)), 70, 63, i64);
          return Vals{};
        });
        b.CreateBr(doneBB);
        b.SetInsertPoint(wideBB);
        wideRow();
        b.CreateBr(doneBB);
        b.SetInsertPoint(doneBB);
      });
  return Status::ok();
}

} // namespace ember::cpugen

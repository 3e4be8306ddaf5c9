// The arithmetic of every Loop op of CpuOps.def (LoopGen::op), on values in
// registers: each computes exactly what its reference kernel
// (core/interp/kernels) computes, in the same precision (16-bit floats in
// f32, rounded after every op by the caller; Sigmoid's two branches, integer
// division by 0 and -1, Cast's NaN and overflow rules, Max/Min NaN
// propagation).
#include "LoopGen.h"

#include "ember/math/Erf.h"
#include "ember/math/Exp.h"
#include "ember/math/Tanh.h"
#include "ember/quant/Arith.h"

#include <llvm/IR/Constants.h>

#include <cmath>
#include <limits>

namespace ember::cpugen {

llvm::Value *LoopGen::call(const std::string &name, llvm::Type *t,
                           std::vector<llvm::Value *> args) {
  std::vector<llvm::Type *> tys(args.size(), t);
  llvm::FunctionCallee f = cg.mod_->getOrInsertFunction(
      name, llvm::FunctionType::get(t, tys, false));
  if (auto *fn = llvm::dyn_cast<llvm::Function>(f.getCallee()))
    fn->addFnAttr(llvm::Attribute::NoUnwind);
  return b.CreateCall(f, args);
}

llvm::Value *LoopGen::libm(const char *name, ElemKind k, llvm::Value *x) {
  std::string n = name;
  if (k == ElemKind::F32 || isHalfFloatKind(k))
    n += "f";
  return call(n, regType(k), {x});
}

llvm::Value *LoopGen::intrinsic(llvm::Intrinsic::ID id, llvm::Value *x) {
  return b.CreateUnaryIntrinsic(id, x);
}

namespace {

/// ember/math's arithmetic policy (F32Ops.h) on f32 IR values: each
/// operation is the IEEE one the scalar policy (ScalarF32Ops) performs, no
/// fast-math flags, so the loop vectorizer's code computes the
/// interpreter's bits.
struct IrF32Ops {
  using V = llvm::Value *;
  using M = llvm::Value *;
  llvm::IRBuilder<> &b;
  V c(float v) const { return llvm::ConstantFP::get(b.getFloatTy(), v); }
  V add(V x, V y) const { return b.CreateFAdd(x, y); }
  V sub(V x, V y) const { return b.CreateFSub(x, y); }
  V mul(V x, V y) const { return b.CreateFMul(x, y); }
  V div(V x, V y) const { return b.CreateFDiv(x, y); }
  V fma(V x, V y, V z) const {
    return b.CreateIntrinsic(llvm::Intrinsic::fma, {x->getType()}, {x, y, z});
  }
  V abs(V x) const { return b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x); }
  V min(V x, V y) const { return b.CreateSelect(b.CreateFCmpOLT(x, y), x, y); }
  V max(V x, V y) const { return b.CreateSelect(b.CreateFCmpOGT(x, y), x, y); }
  V roundEven(V x) const {
    return b.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven, x);
  }
  M lt(V x, V y) const { return b.CreateFCmpOLT(x, y); }
  M eq(V x, V y) const { return b.CreateFCmpOEQ(x, y); }
  V select(M m, V x, V y) const { return b.CreateSelect(m, x, y); }
  V copySign(V mag, V sgn) const {
    return b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, mag, sgn);
  }
  V pow2(V n) const {
    V i = b.CreateFPToSI(n, b.getInt32Ty());
    V bits = b.CreateShl(b.CreateAdd(i, b.getInt32(127)), 23);
    return b.CreateBitCast(bits, b.getFloatTy());
  }
};

/// A function ember/math defines: for f32 (and the 16-bit floats, in f32)
/// Ember's own, inline and vectorizable, the interpreter's bits; for f64
/// the C library's, as the interpreter.
template <class F>
llvm::Value *ownF32(LoopGen &g, ElemKind k, const char *libmName,
                    llvm::Value *x, F own) {
  if (k == ElemKind::F64)
    return g.libm(libmName, k, x);
  ++g.curves;
  return own(IrF32Ops{g.b}, x);
}

} // namespace

llvm::Value *LoopGen::expOf(ElemKind k, llvm::Value *x) {
  return ownF32(*this, k, "exp", x,
                [](const auto &o, auto v) { return math::expF32(o, v); });
}

llvm::Value *LoopGen::expNonPositiveOf(ElemKind k, llvm::Value *x) {
  return ownF32(*this, k, "exp", x, [](const auto &o, auto v) {
    return math::expNonPositiveF32(o, v);
  });
}

llvm::Value *LoopGen::cast(llvm::Value *v, ElemKind from, ElemKind to) {
  if (from == to)
    return v;
  // The reference converts 16-bit floats through float both ways.
  if (isHalfFloatKind(from))
    return cast(v, ElemKind::F32, to);
  if (isHalfFloatKind(to))
    return roundTo(cast(v, from, ElemKind::F32), to);
  llvm::Type *tt = regType(to);
  if (to == ElemKind::Bool) {
    if (isComputeFloatKind(from))
      return b.CreateFCmpUNE(v, llvm::ConstantFP::get(v->getType(), 0.0));
    return b.CreateICmpNE(v, llvm::ConstantInt::get(v->getType(), 0));
  }
  if (from == ElemKind::Bool)
    return isComputeFloatKind(to) ? b.CreateUIToFP(v, tt) : b.CreateZExt(v, tt);
  if (isComputeFloatKind(to)) {
    if (isComputeFloatKind(from))
      return to == ElemKind::F64 ? b.CreateFPExt(v, tt)
                                 : b.CreateFPTrunc(v, tt);
    return isSignedInt(from) ? b.CreateSIToFP(v, tt) : b.CreateUIToFP(v, tt);
  }
  if (from == ElemKind::F32 && kindBits(to) <= 32)
    return floatToNarrowInt(v, tt);
  if (isComputeFloatKind(from)) {
    // The reference: NaN -> 0, |d| >= 2^63 -> INT64_MIN, else trunc
    // through int64, wrapping to the target width.
    llvm::Value *d =
        from == ElemKind::F32 ? b.CreateFPExt(v, b.getDoubleTy()) : v;
    llvm::Value *lim =
        llvm::ConstantFP::get(b.getDoubleTy(), 9.2233720368547758e18);
    llvm::Value *big = b.CreateOr(
        b.CreateFCmpOGE(d, lim),
        b.CreateFCmpOLT(
            d, llvm::ConstantFP::get(b.getDoubleTy(), -9.2233720368547758e18)));
    llvm::Value *nan = b.CreateFCmpUNO(d, d);
    llvm::Value *safe = b.CreateSelect(
        b.CreateOr(big, nan), llvm::ConstantFP::get(b.getDoubleTy(), 0.0), d);
    llvm::Value *i = b.CreateFPToSI(safe, b.getInt64Ty());
    i = b.CreateSelect(big, b.getInt64(uint64_t(INT64_MIN)), i);
    return b.CreateTrunc(i, tt);
  }
  unsigned fb = kindBits(from), tb = kindBits(to);
  if (tb < fb)
    return b.CreateTrunc(v, tt);
  if (tb > fb)
    return isSignedInt(from) ? b.CreateSExt(v, tt) : b.CreateZExt(v, tt);
  return v;
}

// Whether v is a float clamped between scalar constants, Min(Max(x, lo),
// hi) or Max(Min(x, hi), lo) (a Clip's lowering, the saturation before a
// quantizing Cast): NaN or a value in [min(lo, hi), hi] (Max and Min
// propagate NaN).
bool LoopGen::clampBounds(const Value &v, double &lo, double &hi) {
  auto bound = [](const Node *m, OpKind kind, Value &inner, double &c) {
    if (!m || m->kind != kind || m->inputs.size() != 2)
      return false;
    for (int i = 0; i < 2; ++i)
      if (scalarConstant(m->inputs[i], c) && !std::isnan(c)) {
        inner = m->inputs[1 - i];
        return true;
      }
    return false;
  };
  Value inner;
  double a, c;
  if (bound(v.node, OpKind::Min, inner, a) &&
      bound(inner.node, OpKind::Max, inner, c)) {
    lo = std::min(a, c), hi = a;
    return true;
  }
  if (bound(v.node, OpKind::Max, inner, a) &&
      bound(inner.node, OpKind::Min, inner, c)) {
    lo = a, hi = std::max(a, c);
    return true;
  }
  return false;
}

// A float known to be NaN or within (-2^31, 2^31) (clampBounds) to an
// integer of at most 32 bits: the reference's bits (NaN -> 0, else
// truncation) by one conversion, without floatToNarrowInt's wrap steps
// (DynamicQuantizeLinear's quantize step: about 20 vector operations an
// element fewer).
llvm::Value *LoopGen::boundedFloatToInt(llvm::Value *v, llvm::Type *tt) {
  llvm::Value *x = b.CreateSelect(b.CreateFCmpUNO(v, v),
                                  llvm::ConstantFP::get(v->getType(), 0.0), v);
  llvm::Value *i = b.CreateFPToSI(x, b.getInt32Ty());
  return tt->getIntegerBitWidth() < 32 ? b.CreateTrunc(i, tt) : i;
}

// The reference converts a float to an integer through int64 (NaN -> 0,
// |d| >= 2^63 -> INT64_MIN, else trunc) and keeps the low bits. For f32 and
// a target of at most 32 bits the same bits come without int64, which AVX2
// has no vector conversion for (the int64 form ran a scalar cvttsd2si per
// lane: DynamicQuantizeLinear's quantize step took 4 cycles an element):
//  - |v| < 2^31: fptosi to i32 truncates as the int64 form does;
//  - 2^31 <= |v| < 2^56: v is an integer; v mod 2^32 = v - 2^32 floor(v /
//    2^32) is exact in f32 (a multiple of v's ulp below 2^32: at most 24
//    significant bits), and taken into [-2^31, 2^31) it has the int64's low
//    32 bits;
//  - |v| >= 2^56 (a multiple of 2^33), infinities (INT64_MIN) and NaN: the
//    low 32 bits are 0.
llvm::Value *LoopGen::floatToNarrowInt(llvm::Value *v, llvm::Type *tt) {
  llvm::Type *ft = v->getType();
  auto c = [&](double x) { return llvm::ConstantFP::get(ft, x); };
  llvm::Value *a = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, v);
  llvm::Value *small = b.CreateFCmpOLT(a, c(2147483648.0));
  llvm::Value *mid = b.CreateFCmpOLT(a, c(72057594037927936.0));
  llvm::Value *q = b.CreateUnaryIntrinsic(llvm::Intrinsic::floor,
                                          b.CreateFMul(v, c(0x1p-32)));
  llvm::Value *r = b.CreateFSub(v, b.CreateFMul(q, c(4294967296.0)));
  r = b.CreateSelect(b.CreateFCmpOGE(r, c(2147483648.0)),
                     b.CreateFSub(r, c(4294967296.0)), r);
  llvm::Value *x = b.CreateSelect(small, v, b.CreateSelect(mid, r, c(0.0)));
  llvm::Value *i = b.CreateFPToSI(x, b.getInt32Ty());
  return tt->getIntegerBitWidth() < 32 ? b.CreateTrunc(i, tt) : i;
}

// Integer division with the reference's rules for 0 and -1 divisors.
llvm::Value *LoopGen::safeDivisor(llvm::Value *d, bool sgn) {
  llvm::Value *zero = llvm::ConstantInt::get(d->getType(), 0);
  llvm::Value *bad = b.CreateICmpEQ(d, zero);
  if (sgn)
    bad = b.CreateOr(
        bad, b.CreateICmpEQ(d, llvm::ConstantInt::getSigned(d->getType(), -1)));
  return b.CreateSelect(bad, llvm::ConstantInt::get(d->getType(), 1), d);
}

llvm::Value *LoopGen::minMax(bool isMax, ElemKind k, llvm::Value *cur,
                             llvm::Value *v) {
  if (isComputeFloatKind(k)) {
    llvm::Value *nan =
        b.CreateOr(b.CreateFCmpUNO(v, v), b.CreateFCmpUNO(cur, cur));
    llvm::Value *better =
        isMax ? b.CreateFCmpOGT(v, cur) : b.CreateFCmpOLT(v, cur);
    llvm::Value *r = b.CreateSelect(better, v, cur);
    return b.CreateSelect(nan, llvm::ConstantFP::getNaN(v->getType()), r);
  }
  bool sg = isSignedInt(k);
  llvm::Value *better =
      isMax ? (sg ? b.CreateICmpSGT(v, cur) : b.CreateICmpUGT(v, cur))
            : (sg ? b.CreateICmpSLT(v, cur) : b.CreateICmpULT(v, cur));
  return b.CreateSelect(better, v, cur);
}

// quant::mbqm: floor((x * m + 2^(30 - e)) / 2^(31 - e)), e clamped to
// [-31, 30], the 64-bit result saturated to int32.
llvm::Value *mbqm(llvm::IRBuilder<> &b, llvm::Value *x, llvm::Value *m,
                  llvm::Value *e) {
  llvm::Type *i64 = b.getInt64Ty();
  llvm::Value *ec =
      b.CreateSelect(b.CreateICmpSLT(e, b.getInt32(-31)), b.getInt32(-31), e);
  ec = b.CreateSelect(b.CreateICmpSGT(ec, b.getInt32(30)), b.getInt32(30), ec);
  llvm::Value *total = b.CreateZExt(b.CreateSub(b.getInt32(31), ec), i64);
  llvm::Value *round =
      b.CreateShl(b.getInt64(1), b.CreateSub(total, b.getInt64(1)));
  llvm::Value *r = b.CreateAdd(
      b.CreateMul(b.CreateSExt(x, i64), b.CreateSExt(m, i64)), round);
  r = b.CreateAShr(r, total);
  r = b.CreateSelect(b.CreateICmpSLT(r, b.getInt64(uint64_t(INT32_MIN))),
                     b.getInt64(uint64_t(INT32_MIN)), r);
  r = b.CreateSelect(b.CreateICmpSGT(r, b.getInt64(INT32_MAX)),
                     b.getInt64(INT32_MAX), r);
  return b.CreateTrunc(r, b.getInt32Ty());
}

namespace {

// Ember's integer arithmetic (ember/quant/Arith.h) on i32 registers.
llvm::Value *toI32(llvm::IRBuilder<> &b, llvm::Value *v, ElemKind k) {
  llvm::Type *i32 = b.getInt32Ty();
  unsigned w = kindBits(k);
  if (w == 32)
    return v;
  if (w > 32)
    return b.CreateTrunc(v, i32);
  return isSignedInt(k) ? b.CreateSExt(v, i32) : b.CreateZExt(v, i32);
}

// quant::doublingHighMul: the high half of 2 a b rounded half up, a = b =
// INT32_MIN saturating to INT32_MAX.
llvm::Value *doublingHighMul(llvm::IRBuilder<> &b, llvm::Value *x,
                             llvm::Value *m) {
  llvm::Type *i64 = b.getInt64Ty();
  llvm::Value *ab = b.CreateMul(b.CreateSExt(x, i64), b.CreateSExt(m, i64));
  llvm::Value *nudge =
      b.CreateSelect(b.CreateICmpSGE(ab, b.getInt64(0)), b.getInt64(1 << 30),
                     b.getInt64(uint64_t(int64_t(1) - (int64_t(1) << 30))));
  llvm::Value *r = b.CreateTrunc(
      b.CreateSDiv(b.CreateAdd(ab, nudge), b.getInt64(int64_t(1) << 31)),
      b.getInt32Ty());
  llvm::Value *min = b.getInt32(uint32_t(INT32_MIN));
  llvm::Value *both =
      b.CreateAnd(b.CreateICmpEQ(x, min), b.CreateICmpEQ(m, min));
  return b.CreateSelect(both, b.getInt32(INT32_MAX), r);
}

// quant::mbqmDoubling: x << max(e, 0) (wrapping), doublingHighMul by m,
// then quant::roundingDividePot by max(-e, 0) (half away from zero); e
// clamped to [-31, 30].
llvm::Value *mbqmDoubling(llvm::IRBuilder<> &b, llvm::Value *x, llvm::Value *m,
                          llvm::Value *e) {
  llvm::Type *i64 = b.getInt64Ty();
  llvm::Value *ec =
      b.CreateSelect(b.CreateICmpSLT(e, b.getInt32(-31)), b.getInt32(-31), e);
  ec = b.CreateSelect(b.CreateICmpSGT(ec, b.getInt32(30)), b.getInt32(30), ec);
  llvm::Value *pos = b.CreateICmpSGT(ec, b.getInt32(0));
  llvm::Value *left = b.CreateSelect(pos, ec, b.getInt32(0));
  llvm::Value *right =
      b.CreateZExt(b.CreateSelect(pos, b.getInt32(0), b.CreateNeg(ec)), i64);
  llvm::Value *h =
      b.CreateSExt(doublingHighMul(b, b.CreateShl(x, left), m), i64);
  llvm::Value *mask =
      b.CreateSub(b.CreateShl(b.getInt64(1), right), b.getInt64(1));
  llvm::Value *rem = b.CreateAnd(h, mask);
  llvm::Value *thr =
      b.CreateAdd(b.CreateAShr(mask, b.getInt64(1)),
                  b.CreateZExt(b.CreateICmpSLT(h, b.getInt64(0)), i64));
  llvm::Value *r = b.CreateAdd(b.CreateAShr(h, right),
                               b.CreateZExt(b.CreateICmpSGT(rem, thr), i64));
  return b.CreateTrunc(r, b.getInt32Ty());
}

// A node's integer profile (its `requant` attribute; fixed without it).
quant::RequantProfile profileOf(const Node &n) {
  quant::RequantProfile p = quant::RequantProfile::Fixed;
  quant::profileFromName(n.attrString("requant", "fixed"), p);
  return p;
}

// The rescale of a node's integer profile: gemmlowp's two roundings or
// mbqm's one.
llvm::Value *rescale(llvm::IRBuilder<> &b, const Node &n, llvm::Value *x,
                     llvm::Value *m, llvm::Value *e) {
  return quant::doublingRescale(profileOf(n)) ? mbqmDoubling(b, x, m, e)
                                              : mbqm(b, x, m, e);
}

// The clamp range of an integer op with a `to` result kind and optional
// min/max attributes (quant::clampTo: an empty range is its lower bound).
void clampRange(const Node &n, int64_t &lo, int64_t &hi) {
  bool sg = n.types[0].elem() == ElemKind::I8;
  int64_t tlo = sg ? -128 : 0, thi = sg ? 127 : 255;
  lo = std::max<int64_t>(n.attrInt("min", tlo), tlo);
  hi = std::max(lo, std::min<int64_t>(n.attrInt("max", thi), thi));
}

llvm::Value *clampTo(llvm::IRBuilder<> &b, llvm::Value *v, int64_t lo,
                     int64_t hi) {
  llvm::Value *l = b.getInt32(uint32_t(int32_t(lo)));
  llvm::Value *h = b.getInt32(uint32_t(int32_t(hi)));
  v = b.CreateSelect(b.CreateICmpSGT(v, h), h, v);
  return b.CreateSelect(b.CreateICmpSLT(v, l), l, v);
}

// quant::sat16 where the node's add saturates to 16 bits between steps
// (sat16), else v.
llvm::Value *sat16If(llvm::IRBuilder<> &b, const Node &n, llvm::Value *v) {
  if (!quant::saturates16(profileOf(n)))
    return v;
  return clampTo(b, v, quant::kSat16Min, quant::kSat16Max);
}

// quant::float32ToStored: f clamped to [-2^30, 2^30] (NaN: -2^30), rounded
// half to even, plus zp (i32), clamped to [lo, hi].
llvm::Value *float32ToStored(llvm::IRBuilder<> &b, llvm::Value *f,
                             llvm::Value *zp, int64_t lo, int64_t hi) {
  llvm::Type *f32 = b.getFloatTy();
  llvm::Value *lim = llvm::ConstantFP::get(f32, 1073741824.0);
  llvm::Value *nlim = llvm::ConstantFP::get(f32, -1073741824.0);
  f = b.CreateSelect(b.CreateFCmpOGE(f, nlim), f, nlim); // NaN -> -2^30
  f = b.CreateSelect(b.CreateFCmpOGT(f, lim), lim, f);
  f = b.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven, f);
  llvm::Value *v = b.CreateFPToSI(f, b.getInt32Ty());
  if (zp)
    v = b.CreateAdd(v, zp);
  return clampTo(b, v, lo, hi);
}

} // namespace

// QuantizeLinear: nearbyint(x / scale) + zero point, saturated.
llvm::Value *LoopGen::quantizeLinear(const Node &n,
                                     std::vector<llvm::Value *> &o) {
  ElemKind k = n.inputs[0].type().elem();
  llvm::Value *x = o[0];
  // nearbyint(x / scale) in the x/scale type, + zero point, saturated
  // (NaN -> 0), as QuantUtil.h does.
  ElemKind qk = n.types[0].elem();
  unsigned w = kindBits(qk);
  bool sq = isSignedInt(qk);
  // f32 into at most 16 bits: the sum, clamp and conversion in f32 give
  // the reference's double result (twice as many lanes a vector). The
  // rounded quotient q is an integer; q + zp is exact in f32 while |q| <
  // 2^24, and beyond that both sums are past the same bound (|zp| <=
  // 2^16), so they clamp alike; inf clamps, NaN gives 0 in both.
  llvm::Type *d =
      k == ElemKind::F32 && w <= 16 ? b.getFloatTy() : b.getDoubleTy();
  llvm::Value *q = intrinsic(llvm::Intrinsic::roundeven, b.CreateFDiv(x, o[1]));
  if (k == ElemKind::F32 && d->isDoubleTy())
    q = b.CreateFPExt(q, d);
  if (o.size() > 2 && o[2])
    q = b.CreateFAdd(
        q, cast(o[2], qk, d->isFloatTy() ? ElemKind::F32 : ElemKind::F64));
  double lo = sq ? -std::ldexp(1.0, int(w) - 1) : 0.0;
  double hi =
      sq ? std::ldexp(1.0, int(w) - 1) - 1 : std::ldexp(1.0, int(w)) - 1;
  llvm::Value *c =
      b.CreateSelect(b.CreateFCmpOLT(q, llvm::ConstantFP::get(d, lo)),
                     llvm::ConstantFP::get(d, lo), q);
  c = b.CreateSelect(b.CreateFCmpOGT(c, llvm::ConstantFP::get(d, hi)),
                     llvm::ConstantFP::get(d, hi), c);
  c = b.CreateSelect(b.CreateFCmpUNO(q, q), llvm::ConstantFP::get(d, 0.0), c);
  return b.CreateTrunc(
      b.CreateFPToSI(c, d->isFloatTy() ? b.getInt32Ty() : b.getInt64Ty()),
      regType(qk));
}

// Requantize: an int32 accumulator to int8 (integer or float32 profile).
llvm::Value *LoopGen::requantize(const Node &n, std::vector<llvm::Value *> &o) {
  ElemKind k = n.inputs[0].type().elem();
  llvm::Value *x = o[0];
  // quant::requantize: clamp(MBQM(x - x_zp, m[c], e[c]) + y_zp, lo, hi),
  // int32 wraparound on the subtraction and the addition; with an f32
  // multiplier (the float32 profile) quant::requantizeFloat32:
  // clamp(rne(f32(f32(x - x_zp) * m[c])) + y_zp, lo, hi).
  llvm::Value *v = toI32(b, x, k);
  if (o.size() > 3 && o[3])
    v = b.CreateSub(v, toI32(b, o[3], n.inputs[3].type().elem()));
  int64_t lo, hi;
  clampRange(n, lo, hi);
  if (n.inputs[1].type().elem() == ElemKind::F32) {
    llvm::Value *f = b.CreateFMul(b.CreateSIToFP(v, b.getFloatTy()), o[1]);
    llvm::Value *zp = o.size() > 4 && o[4]
                          ? toI32(b, o[4], n.inputs[4].type().elem())
                          : nullptr;
    return b.CreateTrunc(float32ToStored(b, f, zp, lo, hi), b.getInt8Ty());
  }
  v = rescale(b, n, v, o[1], o[2]);
  if (o.size() > 4 && o[4])
    v = b.CreateAdd(v, toI32(b, o[4], n.inputs[4].type().elem()));
  return b.CreateTrunc(clampTo(b, v, lo, hi), b.getInt8Ty());
}

// QuantizedAdd: the int8 add of the node's profile.
llvm::Value *LoopGen::quantizedAdd(const Node &n,
                                   std::vector<llvm::Value *> &o) {
  ElemKind k = n.inputs[0].type().elem();
  llvm::Value *x = o[0];
  // The node's profile (docs/quantization.md): quant::quantizedAddIn
  // (TFLite's add; gemmlowp's rescales rounding twice; sat16's saturating
  // to int16 between steps), the exact add, or
  // quant::addFloat32 with its fixed part computed here.
  int64_t lo, hi;
  clampRange(n, lo, hi);
  const ElemKind kb = n.inputs[1].type().elem();
  if (n.attrString("requant", "fixed") == "float32") {
    llvm::Type *f32 = b.getFloatTy();
    quant::AddFloat32 p = quant::makeAddFloat32(
        float(n.attrFloat("a_ratio", 1)), int32_t(n.attrInt("a_zero_point", 0)),
        float(n.attrFloat("b_ratio", 1)), int32_t(n.attrInt("b_zero_point", 0)),
        int32_t(n.attrInt("y_zero_point", 0)), int32_t(lo), int32_t(hi));
    auto fc = [&](float v) { return llvm::ConstantFP::get(f32, double(v)); };
    auto fma = [&](llvm::Value *a, llvm::Value *m, llvm::Value *c) {
      return b.CreateIntrinsic(llvm::Intrinsic::fma, {f32}, {a, m, c});
    };
    llvm::Value *fa = b.CreateSIToFP(toI32(b, x, k), f32);
    llvm::Value *fb = b.CreateSIToFP(toI32(b, o[1], kb), f32);
    llvm::Value *v = fma(fa, fc(p.aRatio), fma(fb, fc(p.bRatio), fc(p.fixed)));
    return b.CreateTrunc(float32ToStored(b, v, nullptr, lo, hi), b.getInt8Ty());
  }
  if (n.hasAttr("y_scale")) {
    // The exact add (quant::addFixed, its parameters checked against
    // quant::AddExact on every input pair): 64-bit multiply-adds of the
    // stored values less their types' lowest, one arithmetic shift.
    quant::AddFixed p;
    if (!exactAddParams(n, p))
      return nullptr; // refused by checkQuantizedAdd
    llvm::Type *i64 = b.getInt64Ty();
    auto wide = [&](llvm::Value *v, ElemKind ek, int32_t lowest) {
      llvm::Value *w =
          isSignedInt(ek) ? b.CreateSExt(v, i64) : b.CreateZExt(v, i64);
      return b.CreateSub(w, b.getInt64(uint64_t(int64_t(lowest))));
    };
    llvm::Value *v =
        b.CreateAdd(b.CreateAdd(b.CreateMul(wide(x, k, p.aLowest),
                                            b.getInt64(uint64_t(p.aMult))),
                                b.CreateMul(wide(o[1], kb, p.bLowest),
                                            b.getInt64(uint64_t(p.bMult)))),
                    b.getInt64(uint64_t(p.offset)));
    v = b.CreateAShr(v, uint64_t(p.shift));
    int64_t hi2 = std::max(lo, hi);
    v = b.CreateSelect(b.CreateICmpSLT(v, b.getInt64(uint64_t(lo))),
                       b.getInt64(uint64_t(lo)), v);
    v = b.CreateSelect(b.CreateICmpSGT(v, b.getInt64(uint64_t(hi2))),
                       b.getInt64(uint64_t(hi2)), v);
    return b.CreateTrunc(v, b.getInt8Ty());
  }
  auto ai = [&](const char *a) {
    return b.getInt32(uint32_t(int32_t(n.attrInt(a, 0))));
  };
  unsigned L = unsigned(n.attrInt("left_shift", 20)) & 31u;
  llvm::Value *va = b.CreateSub(toI32(b, x, k), ai("a_zero_point"));
  llvm::Value *vb = b.CreateSub(toI32(b, o[1], kb), ai("b_zero_point"));
  // (sat16: each rescaled input and their sum saturated to int16.)
  va = sat16If(
      b, n,
      rescale(b, n, b.CreateShl(va, L), ai("a_multiplier"), ai("a_shift")));
  vb = sat16If(
      b, n,
      rescale(b, n, b.CreateShl(vb, L), ai("b_multiplier"), ai("b_shift")));
  llvm::Value *v = b.CreateAdd(rescale(b, n, sat16If(b, n, b.CreateAdd(va, vb)),
                                       ai("y_multiplier"), ai("y_shift")),
                               ai("y_zero_point"));
  return b.CreateTrunc(clampTo(b, v, lo, hi), b.getInt8Ty());
}

// TableLookup: a 256-entry table, or the 16-bit table's interpolation.
llvm::Value *LoopGen::tableLookup(const Node &n,
                                  std::vector<llvm::Value *> &o) {
  ElemKind k = n.inputs[0].type().elem();
  const bool sg = isSignedInt(k);
  llvm::Value *x = o[0];
  const Tensor &t = *n.inputs[1].node->payload;
  ElemKind tk = t.elem();
  if (k == ElemKind::I16) {
    // quant::tableLookup16: i = 256 + (x >> 7), T[i] + ((T[i+1] - T[i]) *
    // (x & 127) + 64) >> 7, in int32; the table a constant i16 global.
    llvm::Type *i16 = b.getInt16Ty(), *i32 = b.getInt32Ty();
    auto *ty = llvm::ArrayType::get(i16, quant::kTable16Entries);
    std::vector<llvm::Constant *> vals;
    for (int64_t i = 0; i < quant::kTable16Entries; ++i)
      vals.push_back(llvm::ConstantInt::get(i16, uint64_t(t.getInt(i)), true));
    auto *gv = new llvm::GlobalVariable(
        *cg.mod_, ty, true, llvm::GlobalValue::PrivateLinkage,
        llvm::ConstantArray::get(ty, vals), "lut16");
    gv->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
    llvm::Value *xi = b.CreateSExt(x, i32);
    llvm::Value *i = b.CreateSExt(
        b.CreateAdd(b.CreateAShr(xi, 7), b.getInt32(256)), b.getInt64Ty());
    llvm::Value *off = b.CreateAnd(xi, b.getInt32(127));
    llvm::Value *t0 =
        b.CreateSExt(b.CreateLoad(i16, b.CreateInBoundsGEP(i16, gv, i)), i32);
    llvm::Value *t1 = b.CreateSExt(
        b.CreateLoad(
            i16, b.CreateInBoundsGEP(i16, gv, b.CreateAdd(i, b.getInt64(1)))),
        i32);
    llvm::Value *r = b.CreateAdd(
        t0, b.CreateAShr(b.CreateAdd(b.CreateMul(b.CreateSub(t1, t0), off),
                                     b.getInt32(64)),
                         7));
    return b.CreateTrunc(r, i16);
  }
  // table[x - lowest(x)], the table a constant global.
  llvm::Type *et = cg.elemType(tk);
  auto *ty = llvm::ArrayType::get(et, 256);
  std::vector<llvm::Constant *> vals;
  for (int64_t i = 0; i < 256; ++i) {
    if (tk == ElemKind::F32)
      vals.push_back(llvm::ConstantFP::get(et, double(t.data<float>()[i])));
    else if (tk == ElemKind::F64)
      vals.push_back(llvm::ConstantFP::get(et, t.data<double>()[i]));
    else if (tk == ElemKind::Bool)
      vals.push_back(llvm::ConstantInt::get(et, t.getInt(i) ? 1 : 0));
    else
      vals.push_back(llvm::ConstantInt::get(et, uint64_t(t.getInt(i)), true));
  }
  auto *gv = new llvm::GlobalVariable(
      *cg.mod_, ty, true, llvm::GlobalValue::PrivateLinkage,
      llvm::ConstantArray::get(ty, vals), "lut");
  gv->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  llvm::Value *i =
      sg ? b.CreateAdd(b.CreateSExt(x, b.getInt64Ty()), b.getInt64(128))
         : b.CreateZExt(x, b.getInt64Ty());
  llvm::Value *v = b.CreateLoad(et, b.CreateInBoundsGEP(et, gv, i));
  if (tk == ElemKind::Bool)
    return b.CreateICmpNE(v, llvm::ConstantInt::get(et, 0));
  return v;
}

// DequantizeLinear: (x - zero point) * scale.
llvm::Value *LoopGen::dequantizeLinear(const Node &n,
                                       std::vector<llvm::Value *> &o) {
  ElemKind k = n.inputs[0].type().elem();
  const bool sg = isSignedInt(k);
  llvm::Value *x = o[0];
  // double(x - zero point) * scale, rounded once to the result type.
  ElemKind sk = n.inputs[1].type().elem();
  if (sk == ElemKind::F32 && kindBits(k) <= 16) {
    // |x - zp| <= 2^16 and an f32 scale: the double product is exact
    // (at most 17 + 24 significant bits), so rounding it to f32 is the
    // f32 product, rounded once (overflow and subnormals alike).
    llvm::Type *i32 = b.getInt32Ty();
    llvm::Value *xi = sg ? b.CreateSExt(x, i32) : b.CreateZExt(x, i32);
    if (o.size() > 2 && o[2])
      xi = b.CreateSub(xi,
                       sg ? b.CreateSExt(o[2], i32) : b.CreateZExt(o[2], i32));
    return b.CreateFMul(b.CreateSIToFP(xi, b.getFloatTy()), o[1]);
  }
  llvm::Value *xi =
      sg ? b.CreateSExt(x, b.getInt64Ty()) : b.CreateZExt(x, b.getInt64Ty());
  if (o.size() > 2 && o[2]) {
    llvm::Value *z = sg ? b.CreateSExt(o[2], b.getInt64Ty())
                        : b.CreateZExt(o[2], b.getInt64Ty());
    xi = b.CreateSub(xi, z);
  }
  llvm::Value *sd =
      sk == ElemKind::F32 ? b.CreateFPExt(o[1], b.getDoubleTy()) : o[1];
  llvm::Value *r = b.CreateFMul(b.CreateSIToFP(xi, b.getDoubleTy()), sd);
  return sk == ElemKind::F32 ? b.CreateFPTrunc(r, b.getFloatTy()) : r;
}

// Div: the reference's rules for a zero and a -1 divisor, Bool as And.
llvm::Value *LoopGen::divide(const Node &n, std::vector<llvm::Value *> &o) {
  ElemKind k = n.inputs[0].type().elem();
  const bool fl = isComputeFloatKind(k);
  const bool sg = isSignedInt(k);
  llvm::Value *x = o[0];
  llvm::Type *t = regType(k);
  auto iconst = [&](int64_t c) {
    return llvm::ConstantInt::get(t, uint64_t(c), true);
  };
  if (k == ElemKind::Bool) // b == 0 gives 0, else a / 1
    return b.CreateAnd(x, o[1]);
  if (fl)
    return b.CreateFDiv(x, o[1]);
  llvm::Value *d = safeDivisor(o[1], sg);
  llvm::Value *q = sg ? b.CreateSDiv(x, d) : b.CreateUDiv(x, d);
  if (sg)
    q = b.CreateSelect(b.CreateICmpEQ(o[1], iconst(-1)),
                       b.CreateSub(iconst(0), x), q);
  return b.CreateSelect(b.CreateICmpEQ(o[1], iconst(0)), iconst(0), q);
}

// Mod: fmod or the divisor's sign (the attribute fmod), 0 for a zero divisor.
llvm::Value *LoopGen::modulo(const Node &n, std::vector<llvm::Value *> &o) {
  ElemKind k = n.inputs[0].type().elem();
  const bool fl = isComputeFloatKind(k);
  const bool sg = isSignedInt(k);
  llvm::Value *x = o[0];
  llvm::Type *t = regType(k);
  auto fconst = [&](double c) { return llvm::ConstantFP::get(t, c); };
  auto iconst = [&](int64_t c) {
    return llvm::ConstantInt::get(t, uint64_t(c), true);
  };
  if (k == ElemKind::Bool) // a % 1 and the b == 0 rule: always 0
    return b.getInt1(false);
  bool fmodAttr = n.attrInt("fmod", 0) != 0;
  llvm::Value *bv = o[1];
  if (fl) {
    llvm::Value *r = b.CreateFRem(x, bv);
    if (fmodAttr)
      return r;
    llvm::Value *fix =
        b.CreateAnd(b.CreateFCmpUNE(r, fconst(0.0)),
                    b.CreateXor(b.CreateFCmpOLT(r, fconst(0.0)),
                                b.CreateFCmpOLT(bv, fconst(0.0))));
    return b.CreateSelect(fix, b.CreateFAdd(r, bv), r);
  }
  llvm::Value *d = safeDivisor(bv, sg);
  llvm::Value *r = sg ? b.CreateSRem(x, d) : b.CreateURem(x, d);
  if (sg && !fmodAttr) {
    llvm::Value *fix = b.CreateAnd(b.CreateICmpNE(r, iconst(0)),
                                   b.CreateXor(b.CreateICmpSLT(r, iconst(0)),
                                               b.CreateICmpSLT(bv, iconst(0))));
    r = b.CreateSelect(fix, b.CreateAdd(r, bv), r);
  }
  llvm::Value *zero = b.CreateICmpEQ(bv, iconst(0));
  if (sg)
    zero = b.CreateOr(zero, b.CreateICmpEQ(bv, iconst(-1)));
  return b.CreateSelect(zero, iconst(0), r);
}

// Pow: in double for the 16-bit floats, as the reference.
llvm::Value *LoopGen::power(const Node &n, std::vector<llvm::Value *> &o) {
  ElemKind k = n.inputs[0].type().elem();
  llvm::Value *x = o[0];
  if (isHalfFloatKind(k)) { // the reference: std::pow in double
    llvm::Type *d = b.getDoubleTy();
    llvm::Value *e = cast(o[1], n.inputs[1].type().elem(), ElemKind::F64);
    return b.CreateFPTrunc(
        b.CreateBinaryIntrinsic(llvm::Intrinsic::pow, b.CreateFPExt(x, d), e),
        b.getFloatTy());
  }
  llvm::Value *e = cast(o[1], n.inputs[1].type().elem(), k);
  return b.CreateBinaryIntrinsic(llvm::Intrinsic::pow, x, e);
}

// BitShift: 0 (or the sign) for a shift past the width.
llvm::Value *LoopGen::bitShift(const Node &n, std::vector<llvm::Value *> &o) {
  ElemKind k = n.inputs[0].type().elem();
  const bool sg = isSignedInt(k);
  llvm::Value *x = o[0];
  llvm::Type *t = regType(k);
  auto iconst = [&](int64_t c) {
    return llvm::ConstantInt::get(t, uint64_t(c), true);
  };
  bool left = n.attrString("direction", "") == "LEFT";
  llvm::Value *s = o[1];
  unsigned w = kindBits(k);
  llvm::Value *out = b.CreateICmpUGE(s, iconst(int64_t(w)));
  if (sg)
    out = b.CreateOr(out, b.CreateICmpSLT(s, iconst(0)));
  llvm::Value *safe = b.CreateSelect(out, iconst(0), s);
  llvm::Value *r = left ? b.CreateShl(x, safe)
                        : (sg ? b.CreateAShr(x, safe) : b.CreateLShr(x, safe));
  llvm::Value *fill = iconst(0);
  if (!left && sg)
    fill = b.CreateSelect(b.CreateICmpSLT(x, iconst(0)), iconst(-1), iconst(0));
  return b.CreateSelect(out, fill, r);
}

llvm::Value *LoopGen::op(const Node &n, std::vector<llvm::Value *> &o) {
  ElemKind k = n.inputs[0].type().elem();
  bool fl = isComputeFloatKind(k), sg = isSignedInt(k);
  llvm::Value *x = o[0];
  llvm::Type *t = regType(k);
  auto fconst = [&](double c) { return llvm::ConstantFP::get(t, c); };
  auto iconst = [&](int64_t c) {
    return llvm::ConstantInt::get(t, uint64_t(c), true);
  };
  // One case per Loop row of CpuOps.def; no default, so a row without
  // code here does not compile.
  switch (loopOpOf(n.kind)) {
  case LoopOp::Exp:
    return expOf(k, x);
  case LoopOp::Log:
    return intrinsic(llvm::Intrinsic::log, x);
  case LoopOp::Sqrt:
    return intrinsic(llvm::Intrinsic::sqrt, x);
  case LoopOp::Reciprocal:
    return b.CreateFDiv(fconst(1.0), x);
  case LoopOp::Sigmoid: {
    // One exp: of -x for x >= 0, of x below (and of a NaN itself, which
    // then comes out as the reference's exp(x) / (1 + exp(x)) gives it).
    llvm::Value *pos = b.CreateFCmpOGE(x, fconst(0.0));
    llvm::Value *e =
        expNonPositiveOf(k, b.CreateSelect(pos, b.CreateFNeg(x), x));
    llvm::Value *den = b.CreateFAdd(fconst(1.0), e);
    return b.CreateSelect(pos, b.CreateFDiv(fconst(1.0), den),
                          b.CreateFDiv(e, den));
  }
  case LoopOp::Tanh:
    return ownF32(*this, k, "tanh", x,
                  [](const auto &o, auto v) { return math::tanhF32(o, v); });
  case LoopOp::Erf:
    return ownF32(*this, k, "erf", x,
                  [](const auto &o, auto v) { return math::erfF32(o, v); });
  case LoopOp::Floor:
    return intrinsic(llvm::Intrinsic::floor, x);
  case LoopOp::Ceil:
    return intrinsic(llvm::Intrinsic::ceil, x);
  case LoopOp::Round:
    return intrinsic(llvm::Intrinsic::roundeven, x);
  case LoopOp::Sin:
    return libm("sin", k, x);
  case LoopOp::Cos:
    return libm("cos", k, x);
  case LoopOp::Tan:
    return libm("tan", k, x);
  case LoopOp::Asin:
    return libm("asin", k, x);
  case LoopOp::Acos:
    return libm("acos", k, x);
  case LoopOp::Atan:
    return libm("atan", k, x);
  case LoopOp::Sinh:
    return libm("sinh", k, x);
  case LoopOp::Cosh:
    return libm("cosh", k, x);
  case LoopOp::Asinh:
    return libm("asinh", k, x);
  case LoopOp::Acosh:
    return libm("acosh", k, x);
  case LoopOp::Atanh:
    return libm("atanh", k, x);
  case LoopOp::Abs:
    if (fl)
      return b.CreateSelect(b.CreateFCmpOLT(x, fconst(0.0)), b.CreateFNeg(x),
                            x);
    if (!sg)
      return x;
    return b.CreateSelect(b.CreateICmpSLT(x, iconst(0)),
                          b.CreateSub(iconst(0), x), x);
  case LoopOp::Neg:
    return fl ? b.CreateFNeg(x) : b.CreateSub(iconst(0), x);
  case LoopOp::Sign: {
    if (fl)
      return b.CreateSelect(b.CreateFCmpOGT(x, fconst(0.0)), fconst(1.0),
                            b.CreateSelect(b.CreateFCmpOLT(x, fconst(0.0)),
                                           fconst(-1.0), fconst(0.0)));
    llvm::Value *pos =
        sg ? b.CreateICmpSGT(x, iconst(0)) : b.CreateICmpUGT(x, iconst(0));
    llvm::Value *neg = sg ? b.CreateICmpSLT(x, iconst(0)) : b.getInt1(false);
    return b.CreateSelect(pos, iconst(1),
                          b.CreateSelect(neg, iconst(-1), iconst(0)));
  }
  case LoopOp::Relu:
    if (fl)
      return b.CreateSelect(b.CreateFCmpOGT(x, fconst(0.0)), x, fconst(0.0));
    return b.CreateSelect(b.CreateICmpSGT(x, iconst(0)), x, iconst(0));
  case LoopOp::Not:
    return b.CreateNot(x);
  case LoopOp::IsNaN:
    return b.CreateFCmpUNO(x, x);
  case LoopOp::IsInf: {
    bool pos = n.attrInt("detect_positive", 1) != 0;
    bool neg = n.attrInt("detect_negative", 1) != 0;
    double inf = std::numeric_limits<double>::infinity();
    llvm::Value *r = b.getInt1(false);
    if (pos)
      r = b.CreateOr(r, b.CreateFCmpOEQ(x, fconst(inf)));
    if (neg)
      r = b.CreateOr(r, b.CreateFCmpOEQ(x, fconst(-inf)));
    return r;
  }
  case LoopOp::BitwiseNot:
    return b.CreateNot(x);
  case LoopOp::Cast: {
    double lo, hi;
    if (k == ElemKind::F32 && isIntKind(n.types[0].elem()) &&
        kindBits(n.types[0].elem()) <= 32 && clampBounds(n.inputs[0], lo, hi) &&
        lo > -2147483648.0 && hi < 2147483648.0)
      return boundedFloatToInt(x, regType(n.types[0].elem()));
    return cast(x, k, n.types[0].elem());
  }
  case LoopOp::Add:
    if (k == ElemKind::Bool) // bool(a + b)
      return b.CreateOr(x, o[1]);
    return fl ? b.CreateFAdd(x, o[1]) : b.CreateAdd(x, o[1]);
  case LoopOp::Sub:
    if (k == ElemKind::Bool) // bool(a - b)
      return b.CreateXor(x, o[1]);
    return fl ? b.CreateFSub(x, o[1]) : b.CreateSub(x, o[1]);
  case LoopOp::Mul:
    if (k == ElemKind::Bool)
      return b.CreateAnd(x, o[1]);
    return fl ? b.CreateFMul(x, o[1]) : b.CreateMul(x, o[1]);
  case LoopOp::Div:
    return divide(n, o);
  case LoopOp::Mod:
    return modulo(n, o);
  case LoopOp::Pow:
    return power(n, o);
  case LoopOp::Max:
  case LoopOp::Min: {
    llvm::Value *cur = x;
    for (size_t i = 1; i < o.size(); ++i)
      cur = minMax(n.kind == OpKind::Max, k, cur, o[i]);
    return cur;
  }
  case LoopOp::Equal:
    if (fl)
      return b.CreateFCmpOEQ(x, o[1]);
    return b.CreateICmpEQ(x, o[1]);
  case LoopOp::Less:
    return fl ? b.CreateFCmpOLT(x, o[1])
              : (sg ? b.CreateICmpSLT(x, o[1]) : b.CreateICmpULT(x, o[1]));
  case LoopOp::Greater:
    return fl ? b.CreateFCmpOGT(x, o[1])
              : (sg ? b.CreateICmpSGT(x, o[1]) : b.CreateICmpUGT(x, o[1]));
  case LoopOp::LessOrEqual:
    return fl ? b.CreateFCmpOLE(x, o[1])
              : (sg ? b.CreateICmpSLE(x, o[1]) : b.CreateICmpULE(x, o[1]));
  case LoopOp::GreaterOrEqual:
    return fl ? b.CreateFCmpOGE(x, o[1])
              : (sg ? b.CreateICmpSGE(x, o[1]) : b.CreateICmpUGE(x, o[1]));
  case LoopOp::And:
  case LoopOp::BitwiseAnd:
    return b.CreateAnd(x, o[1]);
  case LoopOp::Or:
  case LoopOp::BitwiseOr:
    return b.CreateOr(x, o[1]);
  case LoopOp::Xor:
  case LoopOp::BitwiseXor:
    return b.CreateXor(x, o[1]);
  case LoopOp::BitShift:
    return bitShift(n, o);
  case LoopOp::Where:
    return b.CreateSelect(x, o[1], o[2]);
  case LoopOp::ConstantOfShape: {
    const Tensor *t = n.attrTensor("value");
    ElemKind rk = n.types[0].elem();
    if (!t)
      return constant(rk, 0.0);
    if (isComputeFloatKind(rk) || rk == ElemKind::Bool)
      return constant(rk, t->getDouble(0));
    return llvm::ConstantInt::get(regType(rk), uint64_t(t->getInt(0)), true);
  }
  case LoopOp::QuantizeLinear:
    return quantizeLinear(n, o);
  case LoopOp::Requantize:
    return requantize(n, o);
  case LoopOp::QuantizedAdd:
    return quantizedAdd(n, o);
  case LoopOp::TableLookup:
    return tableLookup(n, o);
  case LoopOp::DequantizeLinear:
    return dequantizeLinear(n, o);
  }
  return nullptr; // (every case returns)
}

} // namespace ember::cpugen

//===- ember/quant/Arith.h - Ember's integer arithmetic, bit for bit ------===//
//
// The one definition of Ember's int8 arithmetic (docs/quantization.md) as
// header-only C++17: the reference interpreter, the CPU backend, the NPU
// backend and the NPU's golden and SystemC models all call these functions,
// so they agree by construction. Installed with the SDK for vendor backends.
//
// Five requantization profiles (RequantProfile, docs/quantization.md):
// `fixed`, Ember's own fixed point; `tflite`, TFLite's single-rounding add
// (quantizedAdd) with fixed's requantization; `gemmlowp`, every rescale a
// doubling high multiply and a rounding divide by a power of two
// (mbqmDoubling); `sat16`, a 16-bit datapath's add, saturating its rescaled
// inputs and their sum to int16 (quantizedAddSat16); and `float32`, the
// float arithmetic of ONNX Runtime's x86 kernels (its section at the end of
// this file).
//
// Fixed-profile conventions (TFLite): a real multiplier M is an int32 Q31
// multiplier m and a power-of-two exponent e (positive = left shift) with
// M ~= m * 2^(e - 31), applied with one rounding (half up). Integer
// additions and left shifts wrap in two's complement, as hardware does.
//
// Float32-profile conventions: every step is one IEEE float32 operation
// (std::fma where ONNX Runtime's kernel fuses), results round half to even.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_QUANT_ARITH_H
#define EMBER_QUANT_ARITH_H

#include "ember/quant/Profile.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

namespace ember::quant {

inline int32_t wrapAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) +
                              static_cast<uint32_t>(b));
}

inline int32_t wrapSub(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) -
                              static_cast<uint32_t>(b));
}

inline int32_t wrapShl(int32_t a, int s) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) << s);
}

/// x times the real multiplier m * 2^(shift - 31), rounded once, half up
/// (toward +infinity): floor((x * m + 2^(30 - shift)) / 2^(31 - shift)).
/// This is TFLite's single-rounding MultiplyByQuantizedMultiplier
/// (TFLITE_SINGLE_ROUNDING): gemmlowp's two-step form (a rounding doubling
/// high multiply, then a rounding right shift) rounds twice and moves a
/// value a hair below .5 up whenever the shift is large. The shift is
/// clamped to [-31, 30] and the result saturates to int32, so every input
/// has a defined result; the 64-bit intermediate cannot overflow.
inline int32_t mbqm(int32_t x, int32_t mult, int32_t shift) {
  int total = 31 - static_cast<int>(std::clamp<int32_t>(shift, -31, 30));
  int64_t r = static_cast<int64_t>(x) * static_cast<int64_t>(mult) +
              (static_cast<int64_t>(1) << (total - 1));
  r >>= total; // arithmetic: floor division by 2^total
  return static_cast<int32_t>(
      std::clamp<int64_t>(r, std::numeric_limits<int32_t>::min(),
                          std::numeric_limits<int32_t>::max()));
}

/// A real multiplier encoded as (multiplier, shift).
struct Multiplier {
  int32_t mult = 0;
  int32_t shift = 0;
  bool operator==(const Multiplier &o) const {
    return mult == o.mult && shift == o.shift;
  }
};

/// TFLite QuantizeMultiplier, made total: 0 (or a negative, NaN or
/// denormal-small M) encodes as (0, 0), whose result is just the zero
/// point; M too large saturates to (2^31 - 1, 30).
inline Multiplier quantizeMultiplier(double m) {
  if (!(m > 0))
    return {};
  int e = 0;
  double f = std::frexp(m, &e); // m = f * 2^e, f in [0.5, 1)
  double q = std::round(f * 2147483648.0);
  if (q >= 2147483648.0) {
    q /= 2;
    ++e;
  }
  if (e < -31)
    return {};
  if (e > 30)
    return {std::numeric_limits<int32_t>::max(), 30};
  return {static_cast<int32_t>(q), e};
}

/// The real multiplier a Multiplier stands for (for reports and tests).
inline double multiplierValue(Multiplier m) {
  return std::ldexp(static_cast<double>(m.mult), m.shift - 31);
}

/// Lowest and highest value of an 8-bit (or other) stored integer type.
struct Range {
  int32_t lo, hi;
};
inline Range rangeOf(bool isSigned, int bits = 8) {
  if (isSigned)
    return {-(1 << (bits - 1)), (1 << (bits - 1)) - 1};
  return {0, (1 << bits) - 1};
}

/// The sat16 profile's saturation bounds (int16).
constexpr int32_t kSat16Min = -32768, kSat16Max = 32767;

/// Clamp to [lo, hi]; when lo > hi the result is lo.
inline int32_t clampTo(int32_t v, int32_t lo, int32_t hi) {
  return std::max(lo, std::min(hi, v));
}

/// Requantize one element: clamp(MBQM(x - xZp, m, e) + yZp, lo, hi).
inline int32_t requantize(int32_t x, int32_t xZp, Multiplier m, int32_t yZp,
                          int32_t lo, int32_t hi) {
  return clampTo(wrapAdd(mbqm(wrapSub(x, xZp), m.mult, m.shift), yZp), lo, hi);
}

/// Parameters of TFLite's quantized elementwise add (the NPU's vadd).
struct AddParams {
  int32_t leftShift = 20;
  int32_t aZp = 0, bZp = 0, yZp = 0;
  Multiplier a, b, y;
  int32_t lo = -128, hi = 127;
};

/// Derives the add parameters from the scales (TFLite PrepareGeneralSubOp):
/// t = 2 * max(sa, sb), M_a = sa / t, M_b = sb / t, M_y = t / (2^L * sy).
inline AddParams makeAddParams(double sa, int32_t aZp, double sb, int32_t bZp,
                               double sy, int32_t yZp, int32_t lo, int32_t hi,
                               int32_t leftShift = 20) {
  AddParams p;
  p.leftShift = leftShift;
  p.aZp = aZp;
  p.bZp = bZp;
  p.yZp = yZp;
  double t = 2 * std::max(sa, sb);
  p.a = quantizeMultiplier(sa / t);
  p.b = quantizeMultiplier(sb / t);
  p.y = quantizeMultiplier(t / (std::ldexp(1.0, leftShift) * sy));
  p.lo = lo;
  p.hi = hi;
  return p;
}

/// One element of the quantized add.
inline int32_t quantizedAdd(int32_t a, int32_t b, const AddParams &p) {
  int L = static_cast<int>(p.leftShift & 31);
  int32_t sa = mbqm(wrapShl(wrapSub(a, p.aZp), L), p.a.mult, p.a.shift);
  int32_t sb = mbqm(wrapShl(wrapSub(b, p.bZp), L), p.b.mult, p.b.shift);
  return clampTo(wrapAdd(mbqm(wrapAdd(sa, sb), p.y.mult, p.y.shift), p.yZp),
                 p.lo, p.hi);
}

//===----------------------------------------------------------------------===//
// Gemmlowp profile: each rescale rounds twice (half up, then half away
// from zero)
// (docs/quantization.md, "Requantization profiles"). TFLite's default
// reference kernels (MultiplyByQuantizedMultiplier without
// TFLITE_SINGLE_ROUNDING), gemmlowp and CMSIS-NN compute these.
//===----------------------------------------------------------------------===//

/// gemmlowp's SaturatingRoundingDoublingHighMul: the high 32 bits of
/// 2 a b, rounded half up (its nudge of 2^30, or 1 - 2^30 below zero, then
/// a division truncating toward zero: ties go toward +infinity either
/// way); the one overflow (a = b = -2^31)
/// saturates to 2^31 - 1.
inline int32_t doublingHighMul(int32_t a, int32_t b) {
  if (a == b && a == std::numeric_limits<int32_t>::min())
    return std::numeric_limits<int32_t>::max();
  const int64_t ab = static_cast<int64_t>(a) * static_cast<int64_t>(b);
  const int64_t nudge = ab >= 0 ? (int64_t(1) << 30) : 1 - (int64_t(1) << 30);
  return static_cast<int32_t>((ab + nudge) / (int64_t(1) << 31)); // truncates
}

/// gemmlowp's RoundingDivideByPOT: x / 2^e rounded half away from zero,
/// e clamped to [0, 31].
inline int32_t roundingDividePot(int32_t x, int e) {
  e = std::clamp(e, 0, 31);
  const int64_t mask = (int64_t(1) << e) - 1;
  const int64_t rem = int64_t(x) & mask;
  const int64_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return static_cast<int32_t>((int64_t(x) >> e) + (rem > threshold ? 1 : 0));
}

/// x times m * 2^(shift - 31) as TFLite's double-rounding
/// MultiplyByQuantizedMultiplier computes it: x shifted left by
/// max(shift, 0) (wrapping), doublingHighMul by m, roundingDividePot by
/// max(-shift, 0); the shift clamped to [-31, 30] as mbqm's.
inline int32_t mbqmDoubling(int32_t x, int32_t mult, int32_t shift) {
  const int e = static_cast<int>(std::clamp<int32_t>(shift, -31, 30));
  return roundingDividePot(doublingHighMul(wrapShl(x, std::max(e, 0)), mult),
                           std::max(-e, 0));
}

/// The rescale of an integer profile: mbqm (one rounding, half up) or, for
/// gemmlowp, mbqmDoubling.
inline int32_t mbqmIn(RequantProfile p, int32_t x, int32_t mult,
                      int32_t shift) {
  return doublingRescale(p) ? mbqmDoubling(x, mult, shift)
                            : mbqm(x, mult, shift);
}

/// Saturate to int16: the sat16 profile's step between its rescales.
inline int32_t sat16(int32_t x) { return clampTo(x, kSat16Min, kSat16Max); }

/// Requantize one element in an integer profile:
/// clamp(rescale(x - xZp, m, e) + yZp, lo, hi) (tflite and sat16 as
/// fixed).
inline int32_t requantizeIn(RequantProfile p, int32_t x, int32_t xZp,
                            Multiplier m, int32_t yZp, int32_t lo, int32_t hi) {
  return clampTo(wrapAdd(mbqmIn(p, wrapSub(x, xZp), m.mult, m.shift), yZp), lo,
                 hi);
}

/// The sat16 profile's left shift of an 8-bit add's inputs, as lowering
/// derives its parameters: the largest at which the sum of two rescaled
/// inputs fits int16 (|q - z| <= 255 and makeAddParams' multipliers of at
/// most 1/2: 255 x 2^7 x (1/2 + 1/2) = 32640), so an add of scales never
/// saturates; parameters a program gives (a larger shift or multiplier)
/// saturate as the device's lanes do (docs/quantization.md,
/// "Requantization profiles").
constexpr int32_t kSat16AddLeftShift = 7;

/// The left shift lowering gives an add's inputs in a profile: 15 for
/// int16 operands (every profile), sat16's 7 or TFLite's 20 for 8-bit ones.
inline int32_t addLeftShift(RequantProfile p, bool wide) {
  return wide ? 15 : saturates16(p) ? kSat16AddLeftShift : 20;
}

/// The sat16 profile's 8-bit add (a 16-bit datapath's): TFLite's add with
/// each rescaled input saturated to int16, their sum saturated to int16,
/// then the output rescale (32-bit, as fixed's), zero point and clamp:
///   ra = sat16(MBQM((a - za) << L, Ma)), rb likewise,
///   y = clamp(MBQM(sat16(ra + rb), My) + zy, lo, hi).
inline int32_t quantizedAddSat16(int32_t a, int32_t b, const AddParams &p) {
  int L = static_cast<int>(p.leftShift & 31);
  int32_t ra = sat16(mbqm(wrapShl(wrapSub(a, p.aZp), L), p.a.mult, p.a.shift));
  int32_t rb = sat16(mbqm(wrapShl(wrapSub(b, p.bZp), L), p.b.mult, p.b.shift));
  return clampTo(wrapAdd(mbqm(sat16(ra + rb), p.y.mult, p.y.shift), p.yZp),
                 p.lo, p.hi);
}

/// TFLite's add in an integer profile's rescale: tflite (and fixed's
/// attribute form) quantizedAdd, gemmlowp each of its three rescales with
/// two roundings, sat16 quantizedAddSat16.
inline int32_t quantizedAddIn(RequantProfile p, int32_t a, int32_t b,
                              const AddParams &q) {
  if (saturates16(p))
    return quantizedAddSat16(a, b, q);
  if (!doublingRescale(p))
    return quantizedAdd(a, b, q);
  int L = static_cast<int>(q.leftShift & 31);
  int32_t sa = mbqmDoubling(wrapShl(wrapSub(a, q.aZp), L), q.a.mult, q.a.shift);
  int32_t sb = mbqmDoubling(wrapShl(wrapSub(b, q.bZp), L), q.b.mult, q.b.shift);
  return clampTo(
      wrapAdd(mbqmDoubling(wrapAdd(sa, sb), q.y.mult, q.y.shift), q.yZp), q.lo,
      q.hi);
}

//===----------------------------------------------------------------------===//
// Fixed profile: the exact quantized add (docs/quantization.md, "Elementwise
// add"): the exact sum of the two real values, rounded once, half up. The
// TFLite form above (quantizedAdd, three roundings) stays for programs and
// graphs written with its attributes and for the int16 add.
//===----------------------------------------------------------------------===//

__extension__ typedef __int128 Int128;

/// The scales and zero points of a quantized add y = a + b.
struct AddScales {
  float sa = 1, sb = 1, sy = 1;
  int32_t za = 0, zb = 0, zy = 0;
};

/// floor(n / d) for d > 0.
inline Int128 floorDiv128(Int128 n, Int128 d) {
  Int128 q = n / d;
  return (n % d != 0 && n < 0) ? q - 1 : q;
}
inline Int128 ceilDiv128(Int128 n, Int128 d) { return -floorDiv128(-n, d); }

/// The definition of the fixed profile's quantized add, computed exactly
/// (the float32 scales taken as the binary fractions they are):
///   y = zy + floor((sa (a - za) + sb (b - zb)) / sy + 1/2)
/// (unclamped), one rounding of the exact sum, ties (exact .5) up. Invalid
/// (valid() false) when a scale is not positive and finite or the scales'
/// exponents lie more than 2^60 apart.
class AddExact {
public:
  explicit AddExact(const AddScales &s) : s_(s) {
    if (!(s.sa > 0 && s.sb > 0 && s.sy > 0) || !std::isfinite(s.sa) ||
        !std::isfinite(s.sb) || !std::isfinite(s.sy))
      return;
    int ea = 0, eb = 0, ey = 0;
    // Each scale is m * 2^(e - 24) with m < 2^24 an integer.
    int64_t ma = int64_t(std::ldexp(std::frexp(s.sa, &ea), 24));
    int64_t mb = int64_t(std::ldexp(std::frexp(s.sb, &eb), 24));
    int64_t my = int64_t(std::ldexp(std::frexp(s.sy, &ey), 24));
    int e0 = std::min({ea, eb, ey});
    if (ea - e0 > 60 || eb - e0 > 60 || ey - e0 > 60)
      return;
    a_ = Int128(ma) << (ea - e0);
    b_ = Int128(mb) << (eb - e0);
    y_ = Int128(my) << (ey - e0);
    valid_ = true;
  }
  bool valid() const { return valid_; }
  const AddScales &scales() const { return s_; }
  /// zy + floor(R + 1/2), R = (sa (a - za) + sb (b - zb)) / sy, unclamped.
  int64_t operator()(int32_t a, int32_t b) const {
    Int128 da = int64_t(a) - s_.za, db = int64_t(b) - s_.zb;
    Int128 num = 2 * (a_ * da + b_ * db) + y_;
    return static_cast<int64_t>(floorDiv128(num, 2 * y_)) + s_.zy;
  }
  /// The scales over a common power of two: sa : sb : sy = A : B : Y.
  Int128 A() const { return a_; }
  Int128 B() const { return b_; }
  Int128 Y() const { return y_; }

private:
  AddScales s_;
  Int128 a_ = 0, b_ = 0, y_ = 1;
  bool valid_ = false;
};

/// The exact add, clamped to [lo, hi] (lo when lo > hi).
inline int32_t addExact(int32_t a, int32_t b, const AddExact &e, int32_t lo,
                        int32_t hi) {
  return static_cast<int32_t>(
      std::clamp<int64_t>(e(a, b), lo, std::max(lo, hi)));
}

/// The exact add as hardware computes it (the NPU's VADD exact): one
/// multiply per operand, one constant, one shift, on the stored values less
/// their type's lowest (u, w in 0..255 for 8-bit tensors):
///   y = clamp(floor((aMult u + bMult w + offset) / 2^shift), lo, hi)
/// in 64-bit integers. makeAddFixed picks parameters that give AddExact's
/// result for every pair of 8-bit inputs, checked exhaustively.
struct AddFixed {
  int64_t aMult = 0, bMult = 0; ///< [0, 2^kAddMultBits)
  int64_t offset = 0;           ///< |offset| < 2^kAddOffsetBits
  int32_t shift = 0;            ///< [0, kAddMaxShift]
  int32_t aLowest = -128, bLowest = -128;
  int32_t lo = -128, hi = 127;
};
constexpr int kAddMultBits = 48;
constexpr int kAddOffsetBits = 62;
constexpr int kAddMaxShift = 62;

/// One element (any int32 inputs; u and w are clamped to [-256, 511] and
/// the parameters saturate to their ranges, so every input has a result and
/// nothing overflows 64 bits).
inline int32_t addFixed(int32_t a, int32_t b, const AddFixed &p) {
  const int64_t m = (int64_t(1) << kAddMultBits) - 1;
  const int64_t o = (int64_t(1) << kAddOffsetBits) - 1;
  int64_t u = std::clamp<int64_t>(int64_t(a) - p.aLowest, -256, 511);
  int64_t w = std::clamp<int64_t>(int64_t(b) - p.bLowest, -256, 511);
  int64_t v = std::clamp<int64_t>(p.aMult, 0, m) * u +
              std::clamp<int64_t>(p.bMult, 0, m) * w +
              std::clamp<int64_t>(p.offset, -o, o);
  int64_t r = v >> std::clamp(p.shift, 0, kAddMaxShift); // floor
  return static_cast<int32_t>(
      std::clamp<int64_t>(r, p.lo, std::max(p.lo, p.hi)));
}

/// AddFixed parameters of scales s for 8-bit inputs whose types' lowest
/// values are aLowest and bLowest (0 for uint8, -128 for int8), clamped to
/// [lo, hi]: for the smallest shift, multipliers and offset each rounded up
/// from their exact values, kept when they reproduce AddExact on all 65,536
/// input pairs. False when no shift up to kAddMaxShift fits the ranges
/// (scale ratios around 2^30 and beyond, e.g. s_b / s_y = 2^35).
inline bool makeAddFixed(const AddScales &s, int32_t aLowest, int32_t bLowest,
                         int32_t lo, int32_t hi, AddFixed &out) {
  AddExact exact(s);
  if (!exact.valid())
    return false;
  if (lo > hi)
    hi = lo;
  std::vector<int16_t> want(65536);
  for (int u = 0; u < 256; ++u)
    for (int w = 0; w < 256; ++w)
      want[size_t(u * 256 + w)] = static_cast<int16_t>(
          std::clamp<int64_t>(exact(aLowest + u, bLowest + w), lo, hi));
  const Int128 A = exact.A(), B = exact.B(), Y = exact.Y();
  const Int128 za = int64_t(s.za) - aLowest, zb = int64_t(s.zb) - bLowest;
  const Int128 multLimit = Int128(1) << kAddMultBits;
  const Int128 offLimit = Int128(1) << kAddOffsetBits;
  // Products of at most 124 bits (a wider one means parameters far outside
  // the hardware's ranges anyway).
  auto bits = [](Int128 v) {
    unsigned __int128 m = static_cast<unsigned __int128>(v < 0 ? -v : v);
    int n = 0;
    for (; m; m >>= 1)
      ++n;
    return n;
  };
  auto mul = [&](Int128 x, Int128 y, Int128 &r) {
    if (bits(x) + bits(y) > 124)
      return false;
    r = x * y;
    return true;
  };
  for (int sh = 0; sh <= kAddMaxShift; ++sh) {
    // aMult = ceil(A / Y 2^sh), bMult likewise, offset =
    // ceil((zy + 1/2 - A / Y za - B / Y zb) 2^sh); za, zb less the lowest.
    const Int128 p2 = Int128(1) << sh;
    Int128 ap, bp, t0, t1, t2, n0, n1;
    if (!mul(A, p2, ap) || !mul(B, p2, bp))
      break;
    Int128 am = ceilDiv128(ap, Y), bm = ceilDiv128(bp, Y);
    if (am >= multLimit || bm >= multLimit)
      break; // larger shifts only widen the multipliers
    if (!mul(2 * Int128(s.zy) + 1, Y, t0) || !mul(t0, p2, n0) ||
        !mul(ap, za, t1) || !mul(bp, zb, t2) || bits(t1) > 122 ||
        bits(t2) > 122 || bits(n0) > 122)
      break;
    n1 = n0 - 2 * (t1 + t2);
    Int128 c = ceilDiv128(n1, 2 * Y);
    if (c <= -offLimit || c >= offLimit)
      break;
    AddFixed p;
    p.aMult = static_cast<int64_t>(am);
    p.bMult = static_cast<int64_t>(bm);
    p.offset = static_cast<int64_t>(c);
    p.shift = sh;
    p.aLowest = aLowest;
    p.bLowest = bLowest;
    p.lo = lo;
    p.hi = hi;
    bool ok = true;
    for (int u = 0; u < 256 && ok; ++u)
      for (int w = 0; w < 256 && ok; ++w)
        ok = addFixed(aLowest + u, bLowest + w, p) == want[size_t(u * 256 + w)];
    if (ok) {
      out = p;
      return true;
    }
  }
  return false;
}

/// Average of a pooling window: floor(sum / count + 1/2), exact. Half up
/// does not depend on how values are stored (a uint8 tensor held as int8,
/// value - 128, averages to the same result).
inline int32_t averageHalfUp(int64_t sum, int64_t count) {
  int64_t num = 2 * sum + count, den = 2 * count;
  int64_t q = num / den;
  if (num % den != 0 && num < 0)
    --q; // floor division
  return static_cast<int32_t>(
      std::clamp<int64_t>(q, std::numeric_limits<int32_t>::min(),
                          std::numeric_limits<int32_t>::max()));
}

//===----------------------------------------------------------------------===//
// 16-bit activations with 8-bit weights ("16x8"): docs/quantization.md,
// "16-bit activations (16x8)". This section only adds; the int8 functions
// above do not change with it.
//===----------------------------------------------------------------------===//

/// An int16 activation is symmetric: zero point 0, range [-32768, 32767].
constexpr int32_t kInt16Min = -32768, kInt16Max = 32767;

/// The requantization input of a 16x8 Conv or MatMul (the int64 sum of
/// products plus the int64 bias) saturated to 48 bits: the range TFLite's
/// int64 MultiplyByQuantizedMultiplier assumes, made total. A sum of K
/// products of int16 and int8 stays below 2^22 K, so only a bias beyond
/// 2^46 ever saturates.
inline int64_t saturateAcc48(int64_t x) {
  const int64_t lim = static_cast<int64_t>(1) << 47;
  return std::clamp<int64_t>(x, -lim, lim - 1);
}

/// MBQM of a 16x8 accumulator: saturateAcc48(x) times m * 2^(shift - 31),
/// rounded once, half up, shift clamped to [-31, 30], result saturated to
/// int32 (the int8 mbqm's rule on a 48-bit input; the product needs 79 bits).
/// TFLite's int64 form first rounds the multiplier to 16 bits
/// ((m + 2^15) >> 16, a relative error up to 2^-15: up to one quantum at
/// int16 full scale); Ember keeps all 31 bits.
inline int32_t mbqm64(int64_t x, int32_t mult, int32_t shift) {
  __extension__ typedef __int128 Wide;
  int total = 31 - static_cast<int>(std::clamp<int32_t>(shift, -31, 30));
  Wide r = static_cast<Wide>(saturateAcc48(x)) * static_cast<Wide>(mult) +
           (static_cast<Wide>(1) << (total - 1));
  r >>= total; // arithmetic: floor division by 2^total
  if (r < std::numeric_limits<int32_t>::min())
    return std::numeric_limits<int32_t>::min();
  if (r > std::numeric_limits<int32_t>::max())
    return std::numeric_limits<int32_t>::max();
  return static_cast<int32_t>(r);
}

/// Requantize a 16x8 accumulator (sum of products + bias, both int64):
/// clamp(MBQM64(acc, m, e) + yZp, lo, hi). The output is int16 (yZp 0,
/// bounds within [-32768, 32767]) or int8 (yZp and bounds of that tensor):
/// a 16x8 layer may end on either precision.
inline int32_t requantize16x8(int64_t acc, Multiplier m, int32_t yZp,
                              int32_t lo, int32_t hi) {
  return clampTo(wrapAdd(mbqm64(acc, m.mult, m.shift), yZp), lo, hi);
}

/// TFLite's int16 quantized add: the int8 form with a left shift of 15
/// (an int16 difference shifted by 15 stays within int32) and int16 bounds.
/// Kept apart from quantizedAdd so the two can change independently.
inline AddParams makeAddParams16(double sa, double sb, double sy, int32_t lo,
                                 int32_t hi) {
  return makeAddParams(sa, 0, sb, 0, sy, 0, lo, hi, 15);
}

inline int32_t quantizedAdd16(int32_t a, int32_t b, const AddParams &p) {
  int L = static_cast<int>(p.leftShift & 31);
  int32_t sa = mbqm(wrapShl(wrapSub(a, p.aZp), L), p.a.mult, p.a.shift);
  int32_t sb = mbqm(wrapShl(wrapSub(b, p.bZp), L), p.b.mult, p.b.shift);
  return clampTo(wrapAdd(mbqm(wrapAdd(sa, sb), p.y.mult, p.y.shift), p.yZp),
                 p.lo, p.hi);
}

/// The interpolated table of an int16 elementwise function (TFLite's 16-bit
/// LUT): entry i is the result at the input 128 i - 32768, i = 0 .. 512.
constexpr int kTable16Entries = 513;

/// TableLookup16: i = 256 + (x >> 7), the result T[i] + ((T[i+1] - T[i]) *
/// (x & 127) + 64) >> 7 (floor). The slope is exact in int32 (TFLite wraps
/// it to int16, which only a table with a step beyond 32767 would notice);
/// the result lies between T[i] and T[i+1], so it is an int16.
inline int32_t tableLookup16(int32_t x, const int16_t *table) {
  int32_t i = 256 + (x >> 7), off = x & 127;
  int32_t base = table[i], slope = int32_t(table[i + 1]) - base;
  return base + ((slope * off + 64) >> 7);
}

/// Builds the interpolated table of `f` (real -> real) for an int16 input of
/// scale sIn and an int16 output of scale sOut, as TFLite's gen_lut does in
/// double (round half away from zero, each entry biased by half the
/// interpolation's error at the segment's midpoint, clamped to int16), with
/// the nodes exactly 128 input steps apart. A compile-time constant: every
/// path computes TableLookup16 with the same table.
template <class F>
void makeTable16(F f, double sIn, double sOut, int16_t *table) {
  auto q = [&](double v) { return std::round(v / sOut); };
  auto at = [&](double node) { return f(sIn * (128.0 * node - 32768.0)); };
  for (int i = 0; i < kTable16Entries; ++i) {
    double v = q(at(i)), bias = 0;
    if (i + 1 < kTable16Entries) {
      double interp = std::round((at(i + 1) / sOut + v) / 2);
      double mid = q(at(i + 0.5));
      bias = std::round((interp - mid) / 2);
    }
    table[i] = static_cast<int16_t>(
        std::clamp<double>(v - bias, kInt16Min, kInt16Max));
  }
}

//===----------------------------------------------------------------------===//
// Float32 profile: ONNX Runtime's x86 arithmetic, one float32 step at a time
//===----------------------------------------------------------------------===//

/// Round half to even, whatever the floating-point environment's mode.
inline float roundHalfEven(float x) {
  float r = std::floor(x);
  float d = x - r; // exact
  if (d > 0.5f || (d == 0.5f && std::fmod(r, 2.0f) != 0.0f))
    r += 1.0f;
  return r;
}

/// The float32 multiplier of an accumulator at scale a * b requantized to
/// scale y, as ONNX Runtime computes it: f32(f32(a * b) / y).
inline float float32Multiplier(float a, float b, float y) {
  float ab = a * b;
  return ab / y;
}

/// v (float) rounded half to even, plus yZp, clamped to [lo, hi] (lo when
/// lo > hi): the end of every float32-profile requantization. NaN gives lo.
inline int32_t float32ToStored(float v, int32_t yZp, int32_t lo, int32_t hi) {
  const float lim = 1073741824.0f; // 2^30: far outside any 8-bit range
  if (!(v >= -lim))
    v = -lim;
  if (v > lim)
    v = lim;
  int64_t r = static_cast<int64_t>(roundHalfEven(v)) + yZp;
  return static_cast<int32_t>(
      std::clamp<int64_t>(r, lo, std::max<int64_t>(lo, hi)));
}

/// Requantize in the float32 profile (ONNX Runtime's MlasRequantizeOutput,
/// its QLinearConv / QLinearMatMul / QGemm / QLinearMul /
/// QLinearGlobalAveragePool epilogue):
///   y = clamp(rne(f32(f32(x - xZp) * scale)) + yZp, lo, hi)
inline int32_t requantizeFloat32(int32_t x, int32_t xZp, float scale,
                                 int32_t yZp, int32_t lo, int32_t hi) {
  float v = static_cast<float>(wrapSub(x, xZp)) * scale;
  return float32ToStored(v, yZp, lo, hi);
}

/// The float32-profile quantized add: ONNX Runtime's QLinearAdd on x86
/// (its AVX2 kernel, as built: the compiler fuses the multiply-adds):
///   ra = f32(sa / sy), rb = f32(sb / sy),
///   fixed = f32(zy - fma(ra, za, f32(rb * zb))),
///   y = clamp(rne(fma(a, ra, fma(b, rb, fixed))), lo, hi)
/// on the stored values a and b. ONNX Runtime passes an operand that is one
/// value over the innermost broadcast span as b (lowering orders the
/// operands so).
struct AddFloat32 {
  float aRatio = 1, bRatio = 1, fixed = 0;
  int32_t lo = 0, hi = 255;
};

inline AddFloat32 makeAddFloat32(float aRatio, int32_t za, float bRatio,
                                 int32_t zb, int32_t zy, int32_t lo,
                                 int32_t hi) {
  AddFloat32 p;
  p.aRatio = aRatio;
  p.bRatio = bRatio;
  float zbPart = bRatio * static_cast<float>(zb);
  p.fixed =
      static_cast<float>(zy) - std::fma(aRatio, static_cast<float>(za), zbPart);
  p.lo = lo;
  p.hi = hi;
  return p;
}

inline int32_t addFloat32(int32_t a, int32_t b, const AddFloat32 &p) {
  float t = std::fma(static_cast<float>(b), p.bRatio, p.fixed);
  float v = std::fma(static_cast<float>(a), p.aRatio, t);
  return float32ToStored(v, 0, p.lo, p.hi);
}

//===----------------------------------------------------------------------===//
// Float32 profile: the quantized softmax (docs/quantization.md, "Softmax").
// ONNX Runtime fuses DequantizeLinear -> Softmax -> QuantizeLinear of one
// 8-bit type into its QLinearSoftmax (contrib_ops/cpu/quantization/
// qlinear_softmax.cc), which these functions compute bit for bit, its
// quirks included: the output is scaled by floor(1 / y_scale), 254 for
// the usual 1/255, not by 1 / y_scale.
//===----------------------------------------------------------------------===//

/// Entries of the softmax table: one per distance from a line's maximum.
constexpr int kSoftmaxTableEntries = 256;

/// The table of a line of `lineLength` elements of scale xScale: entry i
/// is exp(xScale (i - 255 + b)) in double, rounded to float, where b
/// shifts the exponentials up as far as a line's float sum allows:
///   b = max(0, logf(f32(FLT_MAX / f32(lineLength))) - 5) / xScale
/// (the logarithm in float, as the kernel's log of a float computes it).
/// An element d quanta below its line's maximum reads entry 255 - d.
inline void makeSoftmaxTable(float xScale, int64_t lineLength, float *table) {
  const float maxOverLen = std::numeric_limits<float>::max() /
                           static_cast<float>(std::max<int64_t>(lineLength, 1));
  double shift = static_cast<double>(std::log(maxOverLen));
  shift = std::max(0.0, shift - 5) / static_cast<double>(xScale);
  for (int i = 0; i < kSoftmaxTableEntries; ++i)
    table[i] = static_cast<float>(std::exp(
        (static_cast<double>(i) - 255 + shift) * static_cast<double>(xScale)));
}

/// The softmax's output multiplier: floor(f32(1 / yScale)).
inline float softmaxScale(float yScale) { return std::floor(1.0f / yScale); }

/// x86's truncating conversions (cvttss2si) of a float holding an integer:
/// a value out of the destination's range, or NaN, gives the "integer
/// indefinite" (the lowest value), where C++ leaves it undefined.
inline int32_t x86FloatToInt32(float r) {
  if (r >= -2147483648.0f && r < 2147483648.0f)
    return static_cast<int32_t>(r);
  return std::numeric_limits<int32_t>::min();
}
inline int64_t x86FloatToInt64(float r) {
  if (r >= -9223372036854775808.0f && r < 9223372036854775808.0f)
    return static_cast<int64_t>(r);
  return std::numeric_limits<int64_t>::min();
}

/// One stored result of the softmax: v = f32(f32(e * scale) / sum) rounded
/// half to even, then as the kernel converts and saturates it:
///   uint8: u = uint32(low 32 bits of x86FloatToInt64(v)) + yZp (mod
///          2^32), min(u, 255);
///   int8:  s = x86FloatToInt32(v) + yZp (int32, wrapping),
///          clamp(s, -128, 127).
/// (e * scale overflows to infinity only when scale exceeds the table's
/// headroom, e^5 times the line length: a line of one element and the
/// usual scale, whose result is then yZp for uint8.)
inline int32_t softmaxStore(float e, float scale, float sum, int32_t yZp,
                            bool isSigned) {
  const float v = roundHalfEven((e * scale) / sum);
  if (isSigned)
    return clampTo(wrapAdd(x86FloatToInt32(v), yZp), -128, 127);
  const uint32_t u =
      static_cast<uint32_t>(x86FloatToInt64(v)) + static_cast<uint32_t>(yZp);
  return static_cast<int32_t>(std::min<uint32_t>(u, 255));
}

/// The softmax of one line of n >= 1 stored 8-bit values x[0], x[stride],
/// ... into y (same layout): each element's table entry by its distance
/// from the line's maximum, their sum in float in index order, then
/// softmaxStore of each.
template <class T>
void softmaxLine(const T *x, T *y, int64_t n, int64_t stride,
                 const float *table, float scale, int32_t yZp) {
  int32_t m = x[0];
  for (int64_t j = 1; j < n; ++j)
    m = std::max<int32_t>(m, x[j * stride]);
  float sum = 0.0f;
  for (int64_t j = 0; j < n; ++j)
    sum = sum + table[255 - (m - int32_t(x[j * stride]))];
  for (int64_t j = 0; j < n; ++j)
    y[j * stride] =
        static_cast<T>(softmaxStore(table[255 - (m - int32_t(x[j * stride]))],
                                    scale, sum, yZp, std::is_signed<T>::value));
}

} // namespace ember::quant

#endif // EMBER_QUANT_ARITH_H

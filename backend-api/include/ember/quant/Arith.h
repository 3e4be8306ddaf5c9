//===- ember/quant/Arith.h - Ember's integer arithmetic, bit for bit ------===//
//
// The one definition of Ember's int8 arithmetic (docs/quantization.md) as
// header-only C++17: the reference interpreter, the CPU backend, the NPU
// backend and the NPU's golden and SystemC models all call these functions,
// so they agree by construction. Installed with the SDK for vendor backends.
//
// Conventions (TFLite): a real multiplier M is an int32 Q31 multiplier m and
// a power-of-two exponent e (positive = left shift) with M ~= m * 2^(e - 31),
// applied with one rounding (half up). Integer additions and left shifts
// wrap in two's complement, as hardware does.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_QUANT_ARITH_H
#define EMBER_QUANT_ARITH_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

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

} // namespace ember::quant

#endif // EMBER_QUANT_ARITH_H

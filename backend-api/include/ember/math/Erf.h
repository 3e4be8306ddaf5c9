//===- ember/math/Erf.h - Ember's f32 erf -----------------------*- C++ -*-===//
//
// The one definition of Ember's single-precision erf (ONNX Erf, and the Gelu
// of every transformer): a straight line of f32 operations over F32Ops.h's
// policy, so the interpreter's scalar and the CPU backend's vector code agree
// bit for bit on every host. glibc's erff was a scalar call (about 9 ns each
// here, a fifth of a small ViT's time).
//
// Accuracy: at most 1.07 ulp from the exact erf over every f32 input (all
// 2^31 non-negative ones checked against the C library's double erf: 234
// above 1 ulp, all just above 7/8, where 2^Q's rounding weighs most;
// glibc 2.36's erff: 0.97); erf(+-0) = +-0, erf(+-inf) = +-1, NaN stays NaN.
// tests/unit/MathF32Test.cpp checks a sample of the range and the special
// values.
//
// The method (coefficients fitted for Ember by weighted minimax on the
// double-precision erf, scripts/fit-math-f32.py):
//   |x| <  7/8: erf(x) = x + x * P(x^2), P of degree 5;
//   |x| >= 7/8: erf(x) = sign(x) * (1 - 2^Q(|x|)), Q ~ log2(erfc) of degree 8
//               in u = min(|x|, 4) - 9/8 (f32 erf is 1 from 3.92 up), and
//               2^Q = 2^n * 2^r (n = Q rounded to even, r = Q - n exact,
//               |r| <= 1/2) with 2^r a degree-6 polynomial.
// Both branches are computed and one selected per element (vector code has
// no branches); a NaN compares false and takes the small branch, which
// keeps it.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_MATH_ERF_H
#define EMBER_MATH_ERF_H

#include "ember/math/F32Ops.h"

namespace ember::math {

namespace erf_detail {
// erf(x) / x - 1 in t = x^2 on [0, 49/64].
inline constexpr float kSmall[] = {0.128379151f,   -0.376125574f,
                                   0.112825245f,   -0.0267939568f,
                                   0.00503587537f, -0.000622243737f};
// log2(erfc(x)) in u = x - 9/8 on [7/8, 4].
inline constexpr float kLarge[] = {
    -3.16343904f,    -4.1140132f,      -1.23752892f,
    -0.0531540364f,  0.0127725136f,    -0.00258919899f,
    0.000376997748f, -2.39077017e-05f, -1.48007916e-06f};
// 2^r on [-1/2, 1/2].
inline constexpr float kExp2[] = {
    1.0f,           0.693147182f,   0.240226462f,   0.0555032864f,
    0.00961848907f, 0.00133999309f, 0.000153458124f};

} // namespace erf_detail

/// erf(x) in f32 as one sequence of the policy's operations (see above).
template <class O> typename O::V erfF32(const O &o, typename O::V x) {
  using namespace erf_detail;
  using V = typename O::V;
  // |x| < 7/8: x + x * P(x^2).
  V small = o.fma(x, horner(o, kSmall, o.mul(x, x)), x);
  // |x| >= 7/8: 1 - 2^Q(|x|), |x| clamped where erf is already 1 in f32.
  V ax = o.abs(x);
  V u = o.sub(o.min(ax, o.c(4.0f)), o.c(1.125f));
  V q = horner(o, kLarge, u);
  V n = o.roundEven(q);
  V r = o.sub(q, n); // exact: |q| >= 2 and n within 1/2 of it
  V e = o.mul(horner(o, kExp2, r), o.pow2(n));
  V large = o.copySign(o.sub(o.c(1.0f), e), x);
  // Ordered: a NaN (false) keeps the first branch's NaN.
  return o.select(o.lt(o.c(0.875f), ax), large, small);
}

/// Ember's f32 erf on one value.
inline float erfF32(float x) { return erfF32(ScalarF32Ops{}, x); }

} // namespace ember::math

#endif // EMBER_MATH_ERF_H

//===- ember/math/Tanh.h - Ember's f32 tanh ---------------------*- C++ -*-===//
//
// The one definition of Ember's single-precision tanh (ONNX Tanh, and through
// it Gelu's tanh form, Mish, the recurrent cells once lowered): a straight
// line of f32 operations over F32Ops.h's policy, so the interpreter's scalar
// and the CPU backend's vector code agree bit for bit on every host.
//
// Accuracy: at most 1.01 ulp from the exact tanh over every f32 input
// (checked against the C library's double tanh: 3 inputs above 1 ulp;
// tests/unit/MathF32Test.cpp checks a sample); tanh(+-0) = +-0,
// tanh(+-inf) = +-1, NaN stays NaN.
//
// The method (coefficients from scripts/fit-math-f32.py):
//   |x| <= 0.9: tanh(x) = x + x^3 * P(x^2), P of degree 6;
//   |x| >  0.9: tanh(x) = sign(x) * (1 - 2 / (e + 1)), e = exp(2 min(|x|, 9.5))
//               with Exp.h's exp (f32 tanh is 1 from 9.011 up).
// Both branches are computed and one selected per element; a NaN compares
// false and takes the first, which keeps it.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_MATH_TANH_H
#define EMBER_MATH_TANH_H

#include "ember/math/Exp.h"
#include "ember/math/F32Constants.h"
#include "ember/math/F32Ops.h"

namespace ember::math {

namespace tanh_detail {
// (tanh(x) / x - 1) / x^2 in t = x^2 on [0, 0.81].
inline constexpr float kSmall[] = {EMBER_MATH_TANH_POLY};
} // namespace tanh_detail

/// tanh(x) in f32 as one sequence of the policy's operations (see above).
template <class O> typename O::V tanhF32(const O &o, typename O::V x) {
  using V = typename O::V;
  V t = o.mul(x, x);
  // (The sign again: x^3 * P(x^2) is +0 for x = -0, and -0 + +0 = +0.)
  V small =
      o.copySign(o.fma(o.mul(x, t), horner(o, tanh_detail::kSmall, t), x), x);
  V ax = o.abs(x);
  // In [0, 2 * 9.5] and never NaN (min(NaN, b) is b): exp's own clamps and
  // NaN steps would change nothing.
  V clamped = o.min(ax, o.c(EMBER_MATH_TANH_CLAMP));
  V e = expInRangeF32(o, o.add(clamped, clamped));
  V large =
      o.copySign(o.sub(o.c(1.0f), o.div(o.c(2.0f), o.add(e, o.c(1.0f)))), x);
  return o.select(o.lt(o.c(EMBER_MATH_TANH_SMALL), ax), large, small);
}

/// Ember's f32 tanh on one value.
inline float tanhF32(float x) { return tanhF32(ScalarF32Ops{}, x); }

} // namespace ember::math

#endif // EMBER_MATH_TANH_H

//===- ember/math/Exp.h - Ember's f32 exp -----------------------*- C++ -*-===//
//
// The one definition of Ember's single-precision exp (ONNX Exp and Sigmoid,
// and through them Softmax, SiLU/Swish, Elu, Softplus, ... once lowered): a
// straight line of f32 operations over F32Ops.h's policy, so the
// interpreter's scalar and the CPU backend's vector code agree bit for bit
// on every host. The C library's expf was a scalar call per element.
//
// Accuracy: at most 1.061 ulp from the exact exp over every f32 input with
// |x| < 120 (checked against the C library's double exp: 228 above 1 ulp;
// tests/unit/MathF32Test.cpp checks a sample); exp(-inf) = 0,
// exp(+inf) = +inf, NaN stays NaN, overflow gives +inf exactly where the
// exact exp rounds to it, and results below the subnormals 0.
//
// The method: x clamped to [-110, 89] (beyond, exp is 0 or inf in f32),
// n = roundEven(x * log2(e)), r = x - n*ln2 in two fma steps (Cody-Waite:
// ln2 split so n*ln2_hi is exact), e^r by a degree-6 polynomial on
// |r| <= ln2/2 (weighted minimax, scripts/fit-math-f32.py prints it too), then
// scaled by 2^n as 2^n1 * 2^n2 (n1 = roundEven(n/2), n2 = n - n1, both normal
// powers): the first product is exact, the second rounds once, into the
// subnormals too. So the result is p * 2^n rounded once, and a policy with
// an operation that computes that directly (`mulPow2`, F32Ops.h: AVX-512's
// vscalefps) takes it instead of the two scalings, with the same bits.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_MATH_EXP_H
#define EMBER_MATH_EXP_H

#include "ember/math/F32Constants.h"
#include "ember/math/F32Ops.h"

#include <type_traits>

namespace ember::math {

namespace exp_detail {
// e^r on [-ln2/2, ln2/2].
inline constexpr float kExp[] = {EMBER_MATH_EXP_POLY};
inline constexpr float kLog2e = EMBER_MATH_EXP_LOG2E;
inline constexpr float kLn2Hi = EMBER_MATH_EXP_LN2_HI;
inline constexpr float kLn2Lo = EMBER_MATH_EXP_LN2_LO;

// Whether policy O has mulPow2(p, n) (F32Ops.h: it says so by kMulPow2).
template <class O, class = void> struct HasMulPow2 : std::false_type {};
template <class O>
struct HasMulPow2<O, std::void_t<decltype(O::kMulPow2)>>
    : std::bool_constant<O::kMulPow2> {};
} // namespace exp_detail

/// exp(x) in f32 for x in [EMBER_MATH_EXP_MIN, EMBER_MATH_EXP_MAX] (no NaN):
/// the range reduction, the polynomial and the scaling (see above). The
/// entries below clamp and give a NaN back; a caller whose argument is
/// already within the range (Tanh.h) calls this one directly.
template <class O> typename O::V expInRangeF32(const O &o, typename O::V xc) {
  using namespace exp_detail;
  using V = typename O::V;
  V n = o.roundEven(o.mul(xc, o.c(kLog2e)));
  V r = o.fma(n, o.c(-kLn2Hi), xc);
  r = o.fma(n, o.c(-kLn2Lo), r);
  V p = horner(o, kExp, r);
  if constexpr (HasMulPow2<O>::value) {
    return o.mulPow2(p, n);
  } else {
    V n1 = o.roundEven(o.mul(n, o.c(0.5f)));
    V n2 = o.sub(n, n1);
    return o.mul(o.mul(p, o.pow2(n1)), o.pow2(n2));
  }
}

/// exp(x) in f32 as one sequence of the policy's operations (see above).
/// A NaN compares false in the lower clamp and leaves it as the bound
/// (F32Ops.h: max(NaN, b) is b), so no NaN reaches the integer conversion;
/// it is given back at the end.
template <class O> typename O::V expF32(const O &o, typename O::V x) {
  typename O::V xc =
      o.min(o.max(x, o.c(EMBER_MATH_EXP_MIN)), o.c(EMBER_MATH_EXP_MAX));
  return o.select(o.eq(x, x), expInRangeF32(o, xc), x);
}

/// expF32(x) for x <= 0 or NaN (a softmax's x - max, a sigmoid's -|x|), the
/// same bits without the upper clamp, which such an x never reaches.
template <class O>
typename O::V expNonPositiveF32(const O &o, typename O::V x) {
  typename O::V xc = o.max(x, o.c(EMBER_MATH_EXP_MIN));
  return o.select(o.eq(x, x), expInRangeF32(o, xc), x);
}

/// Ember's f32 exp on one value.
inline float expF32(float x) { return expF32(ScalarF32Ops{}, x); }

} // namespace ember::math

#endif // EMBER_MATH_EXP_H

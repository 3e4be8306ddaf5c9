//===- ember/math/F32Ops.h - the arithmetic of Ember's f32 functions ------===//
//
// Ember's f32 transcendental functions (Erf.h, Exp.h, Tanh.h) are written once,
// as straight lines of IEEE-754 f32 operations over an arithmetic policy `O`:
// the reference interpreter instantiates them with ScalarF32Ops (below), the
// CPU backend with an LLVM IR builder (backends/cpu/compiler/LoopOps.cpp),
// whose loops LLVM then vectorizes. Every operation is correctly rounded, fma
// is fused and nothing is reassociated, so the scalar and the vector code
// compute the same bits on every input and every host; a per-element call to
// the C library's expf/erff would be scalar (several ns each) and its results
// differ between C libraries.
//
// A policy provides a value type V and a mask type M, and:
//   c(float)               a constant
//   add, sub, mul, div     IEEE f32, rounded once
//   fma(a, b, c)           a * b + c rounded once
//   abs(a)
//   min(a, b), max(a, b)   a if a < b (a > b) else b: a NaN in `a` gives b
//   roundEven(a)           to the nearest integer, ties to even
//   lt(a, b), eq(a, b)     ordered comparisons -> M (false with a NaN)
//   select(m, a, b)
//   copySign(mag, sgn)
//   pow2(n)                2^n, exactly, for a V holding an integer in
//                          [-126, 127]
// and may provide (with `static constexpr bool kMulPow2 = true`)
//   mulPow2(p, n)          p * 2^n rounded once (into the subnormals too),
//                          for p in [0.5, 2) and a V holding an integer in
//                          [-160, 128]: Exp.h then scales by it in one step
//                          (the same bits as its two exact-then-rounded
//                          products)
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_MATH_F32OPS_H
#define EMBER_MATH_F32OPS_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ember::math {

/// c[0] + x * (c[1] + x * (... + x * c[N-1])), one fma per step.
template <class O, size_t N>
typename O::V horner(const O &o, const float (&c)[N], typename O::V x) {
  typename O::V p = o.c(c[N - 1]);
  for (size_t i = N - 1; i-- > 0;)
    p = o.fma(p, x, o.c(c[i]));
  return p;
}

/// The scalar policy: plain f32 operations (the interpreter's).
struct ScalarF32Ops {
  using V = float;
  using M = bool;
  static float c(float v) { return v; }
  static float add(float a, float b) { return a + b; }
  static float sub(float a, float b) { return a - b; }
  static float mul(float a, float b) { return a * b; }
  static float div(float a, float b) { return a / b; }
  static float fma(float a, float b, float c) { return std::fma(a, b, c); }
  static float abs(float a) { return std::fabs(a); }
  static float min(float a, float b) { return a < b ? a : b; }
  static float max(float a, float b) { return a > b ? a : b; }
  static float roundEven(float a) { return std::nearbyint(a); }
  static bool lt(float a, float b) { return a < b; }
  static bool eq(float a, float b) { return a == b; }
  static float select(bool m, float a, float b) { return m ? a : b; }
  static float copySign(float m, float s) { return std::copysign(m, s); }
  static float pow2(float n) {
    uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
};

} // namespace ember::math

#endif // EMBER_MATH_F32OPS_H

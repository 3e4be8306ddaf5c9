//===- HardSwishAvx512.h - HardSwish on one zmm register --------*- C++ -*-===//
//
// HardSwishBody.inc's body on one __m512, for the AVX-512 GEMM tiles
// (SgemmAvx512.cpp) and the narrow-K pointwise kernel
// (PointwiseNarrowAvx512.cpp), which apply a HardSwish post to each output
// vector in registers before its store instead of by rows after it
// (withPost). The body is postActivation's, so the bits are the same.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_HARDSWISHAVX512_H
#define EMBER_CPU_KERNELS_HARDSWISHAVX512_H

#include "Internal.h"

#include "Simd.h"

namespace ember::cpu::detail {

namespace hs512 {
/// HardSwishBody.inc's policy: each operation one AVX-512 instruction.
struct Ops {
  using V = __m512;
  EMBER_TARGET_AVX512 __attribute__((always_inline)) static V c(float f) {
    return _mm512_set1_ps(f);
  }
  EMBER_TARGET_AVX512 __attribute__((always_inline)) static V add(V a, V b) {
    return _mm512_add_ps(a, b);
  }
  EMBER_TARGET_AVX512 __attribute__((always_inline)) static V mul(V a, V b) {
    return _mm512_mul_ps(a, b);
  }
  EMBER_TARGET_AVX512 __attribute__((always_inline)) static V min(V a, V b) {
    return _mm512_min_ps(a, b);
  }
  EMBER_TARGET_AVX512 __attribute__((always_inline)) static V max(V a, V b) {
    return _mm512_max_ps(a, b);
  }
  EMBER_TARGET_AVX512 __attribute__((always_inline)) static V fma(V a, V b,
                                                                  V c) {
    return _mm512_fmadd_ps(a, b, c);
  }
};

#define EMBER_HS_TARGET EMBER_TARGET_AVX512
#include "HardSwishBody.inc"
#undef EMBER_HS_TARGET
} // namespace hs512

EMBER_TARGET_AVX512 __attribute__((always_inline)) inline __m512
hardSwish512(__m512 x) {
  return hs512::hardSwishOf<hs512::Ops>(x);
}

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_HARDSWISHAVX512_H

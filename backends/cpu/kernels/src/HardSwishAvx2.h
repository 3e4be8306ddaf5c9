//===- HardSwishAvx2.h - HardSwish on one ymm register ----------*- C++ -*-===//
//
// HardSwishBody.inc's body on one __m256, for the AVX2 GEMM and
// channels-last convolution tiles (TileAvx2.h's storeRow8,
// SgemmAvx2Nhwc.cpp's finishSimple) and the AVX2 narrow-K pointwise kernel,
// which apply a HardSwish post to each output vector in registers before
// its store instead of by rows after it (withPost), as the AVX-512 tiles
// do (HardSwishAvx512.h). The body is postActivation's, so the bits are the
// same.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_HARDSWISHAVX2_H
#define EMBER_CPU_KERNELS_HARDSWISHAVX2_H

#include "Internal.h"

#include "Simd.h"

namespace ember::cpu::detail {

namespace hs256 {
/// HardSwishBody.inc's policy: each operation one AVX2 instruction.
struct Ops {
  using V = __m256;
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V c(float f) {
    return _mm256_set1_ps(f);
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V add(V a, V b) {
    return _mm256_add_ps(a, b);
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V mul(V a, V b) {
    return _mm256_mul_ps(a, b);
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V min(V a, V b) {
    return _mm256_min_ps(a, b);
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V max(V a, V b) {
    return _mm256_max_ps(a, b);
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V fma(V a, V b, V c) {
    return _mm256_fmadd_ps(a, b, c);
  }
};

#define EMBER_HS_TARGET EMBER_TARGET_AVX2
#include "HardSwishBody.inc"
#undef EMBER_HS_TARGET
} // namespace hs256

EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256
hardSwish256(__m256 x) {
  return hs256::hardSwishOf<hs256::Ops>(x);
}

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_HARDSWISHAVX2_H

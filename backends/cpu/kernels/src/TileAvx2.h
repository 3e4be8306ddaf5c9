//===- TileAvx2.h - column masks and C stores of the AVX2 tiles -*- C++ -*-===//
//-*-===//
//
// Shared by the AVX2 tiles (SgemmAvx2.cpp, SgemmAvx2Nhwc.cpp; laneMask8 also
// by QGemmAvx2.cpp, residualActivation8 by Depthwise.cpp): one definition
// of an 8-lane column mask and of the per-vector epilogue and store into C
// (a HardSwish post in registers included: TileArgs::hardSwish).
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_TILEAVX2_H
#define EMBER_CPU_KERNELS_TILEAVX2_H

#include "HardSwishAvx2.h"
#include "Internal.h"
#include "Simd.h"

namespace ember::cpu::detail {

/// Lanes [lo, hi) of an 8-lane vector (bounds relative to its first lane,
/// clamped).
EMBER_TARGET_AVX2 inline __m256i laneMask8(int lo, int hi) {
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i ge = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32(lo - 1));
  const __m256i lt = _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), idx);
  return _mm256_and_si256(ge, lt);
}

/// The epilogue's residual r and activation on 8 lanes, in its order (r
/// before or after the activation).
EMBER_TARGET_AVX2 inline __m256 residualActivation8(__m256 v, __m256 r,
                                                    bool rAfter, Activation act,
                                                    float lo, float hi) {
  if (!rAfter)
    v = _mm256_add_ps(v, r);
  if (act == Activation::Relu)
    v = _mm256_max_ps(v, _mm256_setzero_ps());
  else if (act == Activation::Clip)
    v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
  if (rAfter)
    v = _mm256_add_ps(v, r);
  return v;
}

/// One 8-lane piece (vector j) of tile row i: C, the whole epilogue, the
/// store (any K block, any epilogue). A whole vector (`full`) reads and
/// writes C with plain moves, a partial one with vmaskmov under `m` (a
/// masked store costs several plain ones on AMD cores); same values.
EMBER_TARGET_AVX2 inline void storeRow8(const TileArgs &t, int i, int j,
                                        __m256i m, bool full, __m256 v) {
  float *c = t.c + static_cast<size_t>(i) * t.ldc + 8 * j;
  if (t.loadC)
    v = _mm256_add_ps(v, full ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, m));
  if (t.last) {
    if (t.biasRow)
      v = _mm256_add_ps(v, _mm256_set1_ps(t.biasRow[i]));
    if (t.biasCol)
      v = _mm256_add_ps(v, _mm256_maskload_ps(t.biasCol + 8 * j, m));
    __m256 r = _mm256_setzero_ps();
    if (t.residual)
      r = _mm256_maskload_ps(
          t.residual + static_cast<size_t>(i) * t.ldr + 8 * j, m);
    if (t.hardSwish) {
      // As the AVX-512 tiles (storeRow): the tile added a zero for the
      // residual (the post's) after the activation, the post adds the
      // residual after the HardSwish.
      const bool after = t.residualAfterActivation;
      v = residualActivation8(v, after ? _mm256_setzero_ps() : r, after,
                              t.activation, t.clipMin, t.clipMax);
      v = hardSwish256(v);
      if (after && t.residual)
        v = _mm256_add_ps(v, r);
    } else {
      v = residualActivation8(v, r, t.residualAfterActivation, t.activation,
                              t.clipMin, t.clipMax);
    }
  }
  if (full)
    _mm256_storeu_ps(c, v);
  else
    _mm256_maskstore_ps(c, m, v);
}

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_TILEAVX2_H

//===- RecurrentAvx2.cpp - AVX2 paths of the recurrent cells' kernels -----===//
//
// Ember's f32 functions (ember/math) are templates over an arithmetic
// policy and carry no target attribute, so an 8-lane policy's __m256
// values would cross functions compiled without AVX (-Wpsabi). Here the
// math headers are compiled whole for AVX2 + FMA (the pragma below) inside
// a namespace of this file's own, so these copies never meet the plain ones
// the rest of Ember links (no ODR clash); the standard headers they include
// come first, outside it. The bits are the same: every operation of the
// policy is the scalar one, lane by lane.
//
//===----------------------------------------------------------------------===//
#include "Internal.h"
#include "Recurrent.h"

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <immintrin.h>

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))),              \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

namespace ember::cpu::avx2math {
// (The headers open namespace ember::math: here ember::cpu::avx2math::
// ember::math, which `ember::math` below names.)
#include "ember/math/Sigmoid.h"
#include "ember/math/Tanh.h"

// The f32 operations of ember/math/F32Ops.h on 8 lanes.
struct Ops {
  using V = __m256;
  using M = __m256;
  static V c(float v) { return _mm256_set1_ps(v); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V abs(V a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  // vminps/vmaxps give the second operand unless the first is strictly
  // smaller (larger): a NaN in `a` gives b, as the policy says.
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V roundEven(V a) {
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static M lt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  static M eq(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  static V select(M m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
  static V copySign(V mag, V sgn) {
    __m256 s = _mm256_set1_ps(-0.0f);
    return _mm256_or_ps(_mm256_andnot_ps(s, mag), _mm256_and_ps(s, sgn));
  }
  static V pow2(V n) {
    __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  // Memory (RecurrentBody.inc): 16 ymm registers, so a row's tile keeps 8
  // column vectors, 2-3 rows 4, 4 rows 3 (its B block, 12 KB at K = 128,
  // from L1 for the next 4 rows).
  using I = __m256i;
  static constexpr size_t kLanes = 8;
  static constexpr int kOneRow = 8, kFewRows = 4, kManyRows = 3, kTileRows = 4;
  static I tail(size_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < 8 ? n : 8)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V load(const float *p) { return _mm256_loadu_ps(p); }
  static void store(float *p, V v) { _mm256_storeu_ps(p, v); }
  static V loadMasked(const float *p, I m) { return _mm256_maskload_ps(p, m); }
  static void storeMasked(float *p, I m, V v) { _mm256_maskstore_ps(p, m, v); }
  static V broadcast(const float *p) { return _mm256_broadcast_ss(p); }
};

#include "RecurrentBody.inc"

} // namespace ember::cpu::avx2math

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace ember::cpu::detail {

EMBER_TARGET_AVX2 void stepGemmAvx2(size_t m, size_t k, size_t n,
                                    const float *a, size_t lda, const float *b,
                                    size_t ldb, float *c, size_t ldc) {
  avx2math::gemm(m, k, n, a, lda, b, ldb, c, ldc);
}
EMBER_TARGET_AVX2 void sigmoidAvx2(float *v, size_t n) {
  avx2math::sigmoid(v, n);
}
EMBER_TARGET_AVX2 void tanhAvx2(float *v, size_t n) { avx2math::tanh(v, n); }

} // namespace ember::cpu::detail

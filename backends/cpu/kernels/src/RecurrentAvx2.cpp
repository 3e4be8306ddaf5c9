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
};

// v[i] = f(v[i]): whole vectors, then the tail through a zero-padded one.
template <class F> void map(float *v, size_t n, F f) {
  Ops o;
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(v + i, f(o, _mm256_loadu_ps(v + i)));
  if (i < n) {
    float tail[8] = {};
    for (size_t t = i; t < n; ++t)
      tail[t - i] = v[t];
    _mm256_storeu_ps(tail, f(o, _mm256_loadu_ps(tail)));
    for (size_t t = i; t < n; ++t)
      v[t] = tail[t - i];
  }
}

struct Sigmoid {
  __m256 operator()(const Ops &o, __m256 x) const {
    return ember::math::sigmoidF32(o, x);
  }
};
struct Tanh {
  __m256 operator()(const Ops &o, __m256 x) const {
    return ember::math::tanhF32(o, x);
  }
};

void sigmoid(float *v, size_t n) { map(v, n, Sigmoid{}); }

void tanh(float *v, size_t n) { map(v, n, Tanh{}); }

// Rows [0, MR) of C, NV vectors of columns from c: MR x NV accumulators,
// k in order; MASK: one vector of `mask`'s live lanes.
template <int MR, int NV, bool MASK>
void tile(size_t k, const float *a, size_t lda, const float *b, size_t ldb,
          float *c, size_t ldc, __m256i mask) {
  __m256 acc[MR][NV];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[r][v] = MASK ? _mm256_maskload_ps(c + r * ldc, mask)
                       : _mm256_loadu_ps(c + r * ldc + 8 * v);
  for (size_t i = 0; i < k; ++i, b += ldb) {
    __m256 bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      bv[v] = MASK ? _mm256_maskload_ps(b, mask) : _mm256_loadu_ps(b + 8 * v);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      __m256 av = _mm256_broadcast_ss(a + r * lda + i);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v)
        acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      if (MASK)
        _mm256_maskstore_ps(c + r * ldc, mask, acc[r][v]);
      else
        _mm256_storeu_ps(c + r * ldc + 8 * v, acc[r][v]);
    }
}

// Rows in chunks of up to 4 over one column block of NV vectors (or the
// masked tail): the B block is read once per chunk, from L1 after the first.
template <int NV, bool MASK>
void rows(size_t m, size_t k, const float *a, size_t lda, const float *b,
          size_t ldb, float *c, size_t ldc, __m256i mask) {
  size_t r = 0;
  for (; r + 4 <= m; r += 4)
    tile<4, NV, MASK>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, mask);
  switch (m - r) {
  case 3:
    tile<3, NV, MASK>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, mask);
    break;
  case 2:
    tile<2, NV, MASK>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, mask);
    break;
  case 1:
    tile<1, NV, MASK>(k, a + r * lda, lda, b, ldb, c + r * ldc, ldc, mask);
    break;
  default:
    break;
  }
}

template <int NV>
void blocks(size_t m, size_t k, size_t n, const float *a, size_t lda,
            const float *b, size_t ldb, float *c, size_t ldc) {
  __m256i all = _mm256_set1_epi32(-1);
  size_t j = 0;
  for (; j + 8 * NV <= n; j += 8 * NV)
    rows<NV, false>(m, k, a, lda, b + j, ldb, c + j, ldc, all);
  for (; j + 8 <= n; j += 8)
    rows<1, false>(m, k, a, lda, b + j, ldb, c + j, ldc, all);
  if (j < n) {
    __m256i mask =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n - j)),
                           _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    rows<1, true>(m, k, a, lda, b + j, ldb, c + j, ldc, mask);
  }
}

// C += A x B: one row takes 8 vectors (64 columns) at a time so that its
// FMA chains do not wait on each other; 2-3 rows 4 vectors, 4 rows 3.
void gemm(size_t m, size_t k, size_t n, const float *a, size_t lda,
          const float *b, size_t ldb, float *c, size_t ldc) {
  if (m == 1)
    blocks<8>(m, k, n, a, lda, b, ldb, c, ldc);
  else if (m < 4)
    blocks<4>(m, k, n, a, lda, b, ldb, c, ldc);
  else
    blocks<3>(m, k, n, a, lda, b, ldb, c, ldc);
}

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

//===- RecurrentAvx512.cpp - AVX-512 paths of the recurrent cells' kernels ===//
//
// RecurrentAvx2.cpp's scheme on 16 lanes: the math headers compiled whole
// for AVX-512 inside a namespace of this file's own, an `Ops` policy whose
// every operation is the scalar one lane by lane (the same bits), and the
// shared body (RecurrentBody.inc). With 32 registers a one-row step product
// keeps 16 column vectors (256 columns) in flight: each row of R^T is read
// in 1 KB runs (a 128 x 512 product: 2.83 us with AVX2's 8 x 8 columns,
// 2.51 us so, one core of this Zen 4).
//
//===----------------------------------------------------------------------===//
#include "Internal.h"
#include "Recurrent.h"

#include "Simd.h"
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__clang__)
#pragma clang attribute push(                                                  \
    __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))),         \
    apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")
#endif

namespace ember::cpu::avx512math {
// (The headers open namespace ember::math: here ember::cpu::avx512math::
// ember::math, which `ember::math` below names.)
#include "ember/math/Sigmoid.h"
#include "ember/math/Tanh.h"

// The f32 operations of ember/math/F32Ops.h on 16 lanes.
struct Ops {
  using V = __m512;
  using M = __mmask16;
  static V c(float v) { return _mm512_set1_ps(v); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V abs(V a) { return _mm512_abs_ps(a); }
  // vminps/vmaxps give the second operand unless the first is strictly
  // smaller (larger): a NaN in `a` gives b, as the policy says.
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V roundEven(V a) {
    return _mm512_roundscale_ps(a,
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static M lt(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static M eq(V a, V b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
  static V select(M m, V a, V b) { return _mm512_mask_blend_ps(m, b, a); }
  static V copySign(V mag, V sgn) {
    const __m512i s = _mm512_set1_epi32(int32_t(0x80000000u));
    return _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_andnot_si512(s, _mm512_castps_si512(mag)),
                        _mm512_and_si512(s, _mm512_castps_si512(sgn))));
  }
  static V pow2(V n) {
    __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  // Memory (RecurrentBody.inc): 32 zmm registers, so a row's tile keeps 16
  // column vectors, 2-3 rows 8, 4-8 rows 3 (24 accumulators; a batch of 8
  // reads each B block once: 4 rows over 6 vectors read a 48 KB block,
  // more than L1, twice).
  using I = __mmask16;
  static constexpr size_t kLanes = 16;
  static constexpr int kOneRow = 16, kFewRows = 8, kManyRows = 3, kTileRows = 8;
  static I tail(size_t n) {
    return static_cast<I>(n >= 16 ? 0xFFFFu : (1u << n) - 1u);
  }
  static V load(const float *p) { return _mm512_loadu_ps(p); }
  static void store(float *p, V v) { _mm512_storeu_ps(p, v); }
  static V loadMasked(const float *p, I m) {
    return _mm512_maskz_loadu_ps(m, p);
  }
  static void storeMasked(float *p, I m, V v) {
    _mm512_mask_storeu_ps(p, m, v);
  }
  static V broadcast(const float *p) { return _mm512_set1_ps(*p); }
};

#include "RecurrentBody.inc"

} // namespace ember::cpu::avx512math

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace ember::cpu::detail {

EMBER_TARGET_AVX512 void stepGemmAvx512(size_t m, size_t k, size_t n,
                                        const float *a, size_t lda,
                                        const float *b, size_t ldb, float *c,
                                        size_t ldc) {
  avx512math::gemm(m, k, n, a, lda, b, ldb, c, ldc);
}
EMBER_TARGET_AVX512 void sigmoidAvx512(float *v, size_t n) {
  avx512math::sigmoid(v, n);
}
EMBER_TARGET_AVX512 void tanhAvx512(float *v, size_t n) {
  avx512math::tanh(v, n);
}

} // namespace ember::cpu::detail

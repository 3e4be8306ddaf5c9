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
#include <type_traits>

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

#include "F32OpsAvx2.inc"

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

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
#include <type_traits>

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

#include "F32OpsAvx512.inc"

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

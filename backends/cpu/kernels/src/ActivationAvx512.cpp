//===- ActivationAvx512.cpp - the AVX-512 path of postActivation ----------===//
//
// The math headers compiled whole for this path inside a namespace of this
// file's own (as RecurrentAvx2.cpp explains), the path's policy
// (F32OpsAvx512.inc) and the shared body (ActivationBody.inc).
//
//===----------------------------------------------------------------------===//
#include "Activation.h"
#include "Internal.h"

#include "Simd.h"
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__clang__)
#pragma clang attribute push(                                                  \
    __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))),         \
    apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,fma")
#endif

namespace ember::cpu::avx512act {
#include "ember/math/Sigmoid.h"

#include "F32OpsAvx512.inc"

#include "ActivationBody.inc"

} // namespace ember::cpu::avx512act

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace ember::cpu::detail {

EMBER_TARGET_AVX512 void postActivationAvx512(const PostOp &op, float *y,
                                              size_t ldy, const float *res,
                                              size_t ldr, size_t rows,
                                              size_t cols) {
  avx512act::post(op, y, ldy, res, ldr, rows, cols);
}

} // namespace ember::cpu::detail

//===- ActivationAvx2.cpp - the AVX2 path of postActivation ---------------===//
//
// The math headers compiled whole for this path inside a namespace of this
// file's own (as RecurrentAvx2.cpp explains), the path's policy
// (F32OpsAvx2.inc) and the shared body (ActivationBody.inc).
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
#pragma clang attribute push(__attribute__((target("avx2,fma"))),              \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

namespace ember::cpu::avx2act {
#include "ember/math/Sigmoid.h"

#include "F32OpsAvx2.inc"

#include "ActivationBody.inc"

} // namespace ember::cpu::avx2act

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

namespace ember::cpu::detail {

EMBER_TARGET_AVX2 void postActivationAvx2(const PostOp &op, float *y,
                                          size_t ldy, const float *res,
                                          size_t ldr, size_t rows,
                                          size_t cols) {
  avx2act::post(op, y, ldy, res, ldr, rows, cols);
}

} // namespace ember::cpu::detail

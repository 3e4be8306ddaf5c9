//===- Activation.h - postActivation's paths, shared ------------*- C++ -*-===//
//
// The AVX2 and AVX-512 paths of Activation.cpp's postActivation
// (ActivationAvx2.cpp, ActivationAvx512.cpp, one body: ActivationBody.inc).
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_ACTIVATION_H
#define EMBER_CPU_KERNELS_ACTIVATION_H

#include "ember/cpu/Kernels.h"

#include <cstddef>

namespace ember::cpu::detail {

void postActivationAvx2(const PostOp &op, float *y, size_t ldy,
                        const float *res, size_t ldr, size_t rows, size_t cols);
void postActivationAvx512(const PostOp &op, float *y, size_t ldy,
                          const float *res, size_t ldr, size_t rows,
                          size_t cols);

} // namespace ember::cpu::detail

#endif

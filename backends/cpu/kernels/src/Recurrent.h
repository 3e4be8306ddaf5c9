//===- Recurrent.h - the recurrent cells' kernels, shared -------*- C++ -*-===//
//
// The AVX2 and AVX-512 paths of Recurrent.cpp's kernels (RecurrentAvx2.cpp,
// RecurrentAvx512.cpp, one body: RecurrentBody.inc).
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_RECURRENT_H
#define EMBER_CPU_KERNELS_RECURRENT_H

#include <cstddef>

namespace ember::cpu::detail {

void stepGemmAvx2(size_t m, size_t k, size_t n, const float *a, size_t lda,
                  const float *b, size_t ldb, float *c, size_t ldc);
void sigmoidAvx2(float *v, size_t n);
void tanhAvx2(float *v, size_t n);
void stepGemmAvx512(size_t m, size_t k, size_t n, const float *a, size_t lda,
                    const float *b, size_t ldb, float *c, size_t ldc);
void sigmoidAvx512(float *v, size_t n);
void tanhAvx512(float *v, size_t n);

} // namespace ember::cpu::detail

#endif

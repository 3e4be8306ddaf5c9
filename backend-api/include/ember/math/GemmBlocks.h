/*===- ember/math/GemmBlocks.h - ONNX Runtime's SGEMM K block ------------===*
 *
 * The K block of MLAS's SGEMM (ONNX Runtime's sgemm.cpp,
 * MlasSgemmOperation) for an n-column, k-deep product: 128 x 128 strides
 * traded against each other. The float32 requantization profile's
 * ConvTranspose sums each block as one fused multiply-add chain, blocks in
 * order, as ONNX Runtime's conv_transpose.cc does (docs/quantization.md,
 * "ConvTranspose"). Plain C, so that the interpreter
 * (core/interp/kernels/NnConv.cpp), the CPU runtime's library path
 * (RtConvTranspose.cpp) and its freestanding portable runtime
 * (RtPortable.c) share one definition.
 *
 *===----------------------------------------------------------------------===*/
#ifndef EMBER_MATH_GEMMBLOCKS_H
#define EMBER_MATH_GEMMBLOCKS_H

#include <stdint.h>

/* n: the product's columns (a ConvTranspose's input pixels); k: its depth
 * (the group's input channels). At least 1. */
static inline int64_t ember_mlas_sgemm_stride_k(int64_t n, int64_t k) {
  int64_t sn = 128, sk = 128;
  if (n >= k) {
    while (sk / 2 >= k)
      sn *= 2, sk /= 2;
  } else {
    while (sn > 16 && sn / 2 >= n)
      sk *= 2, sn /= 2;
  }
  return sk < 1 ? 1 : sk;
}

#endif /* EMBER_MATH_GEMMBLOCKS_H */

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
 * (the group's input channels); computed_w: the weights are computed at
 * run time rather than constant. ONNX Runtime packs a constant filter
 * pre-transposed (MLAS's A not transposed: the K block deepens when n < k);
 * a computed one, as a weight's DequantizeLinear that it does not fold,
 * is transposed by MLAS through its 128-deep A panel (MlasSgemmOperation
 * keeps the K block at 128 when n < k). Ember marks such a ConvTranspose
 * with the attribute computed_weights = 1. At least 1. */
static inline int64_t ember_mlas_sgemm_stride_k(int64_t n, int64_t k,
                                                int computed_w) {
  int64_t sn = 128, sk = 128;
  if (n >= k) {
    while (sk / 2 >= k)
      sn *= 2, sk /= 2;
  } else if (!computed_w) {
    while (sn > 16 && sn / 2 >= n)
      sk *= 2, sn /= 2;
  }
  return sk < 1 ? 1 : sk;
}

#endif /* EMBER_MATH_GEMMBLOCKS_H */

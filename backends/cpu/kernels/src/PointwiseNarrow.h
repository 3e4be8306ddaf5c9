//===- PointwiseNarrow.h - the AVX2 narrow-K 1x1 kernel ---------*- C++ -*-===//
#ifndef EMBER_CPU_KERNELS_POINTWISENARROW_H
#define EMBER_CPU_KERNELS_POINTWISENARROW_H

#include "Internal.h"

namespace ember::cpu::detail {

/// Most input channels of a pointwise convolution the AVX2 path runs with
/// pointwiseNarrowAvx2 rather than the GEMM driver (conv2dNhwc's rule).
constexpr size_t kNarrowKAvx2 = 128;
/// Pixels of its tile: conv2dNhwc gives it whole tiles only.
constexpr size_t kNarrowRowsAvx2 = 6;

/// pointwiseNarrowAvx512's AVX2 form (PointwiseNarrowAvx2.cpp): pixels
/// [p0, p1) x output channels [oc0, oc1) of a channels-last 1x1
/// convolution (stride 1, no pads), x read in place (pixel stride ldx, K
/// channels), packedB conv2dNhwc's AVX2 panels of 16; one call per panel
/// runs every 6-pixel tile with the whole K in one block and the epilogue
/// in registers. The same bits as the general pointwise GEMM (the AVX2
/// direct tile).
void pointwiseNarrowAvx2(const float *x, size_t ldx, size_t K,
                         const void *packedB, float *y, size_t ldy,
                         const Epilogue &epi, size_t p0, size_t p1, size_t oc0,
                         size_t oc1);

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_POINTWISENARROW_H

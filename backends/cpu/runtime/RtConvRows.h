// What RtConvPair.cpp (ember_rt_conv2d_pair) takes from RtKernels.cpp's
// channels-last convolution step: a range of its output pixels of one
// image, with the step's epilogue, post function and f16 rounding, and its
// workspace bytes. Linked natively and compiled to bitcode with them, so
// libc++ headers only.
#ifndef EMBER_CPU_RT_CONV_ROWS_H
#define EMBER_CPU_RT_CONV_ROWS_H

#include <cstddef>
#include <cstdint>

namespace ember::cpugen::rt {

// A conv step's operands (ember_rt_conv2d's arguments).
struct ConvOperands {
  const float *x;
  const void *w;
  const float *bias, *residual;
  float *y;
  float lo, hi;
};

// Output pixels [pixBegin, pixEnd) of image n of channels-last conv step p
// (NHWC, not a pool's), the kernel's scratch at ws: the kernel library's
// status.
int32_t convNhwcRows(const int64_t *p, const ConvOperands &o, size_t n,
                     size_t pixBegin, size_t pixEnd, void *ws);

// Bytes of scratch one worker needs for step p (ember_rt_conv_workspace_size
// without a Y_COPY step's result copy).
int64_t convWorkspaceBytes(const int64_t *p);

} // namespace ember::cpugen::rt

#endif

//===- ember/math/PacketSum.h - a sum in SIMD packet order ------*- C++ -*-===//
//
// The one definition of PacketSum (core/ir/Ops.def): the f32 sum of a line
// of n elements in the order a SIMD reduction over packets of `lanes`
// floats adds them. It is Eigen's linear vectorized reduction
// (Redux.h, redux_impl<LinearVectorizedTraversal, NoUnrolling>), which ONNX
// Runtime's x86 InstanceNormalization computes its mean and variance with
// (lanes = 4, SSE); the float32 requantization profile uses it to be bit
// for bit ONNX Runtime (docs/quantization.md). In this order, every step
// one f32 addition:
//
//   h = the first element of a lanes-aligned address (`head`, below: 0 when
//       the line is read through an expression, not memory), or n
//   packets p_0, p_1, ... of `lanes` elements from h, m of them
//   if m == 0:  ((x_0 + x_1) + x_2) + ... + x_{n-1}
//   else:       a = p_0; if m >= 2 { b = p_1; pairs after them added to
//               a and b lane by lane; a = a + b; a = a + p_{m-1} if m is
//               odd }; s = a reduced by halving: a_i + a_{i + w/2} until
//               one lane is left ((a0 + a2) + (a1 + a3) for 4 lanes); then
//               s + x_0 + ... + x_{h-1} (the unaligned head), then the
//               elements after the last packet, one by one.
//
// The order depends on where the line starts (`head`): a line of a tensor
// whose first element is lanes-aligned starts at element l * n, so its head
// is (lanes - (l * n) % lanes) % lanes, clamped to n.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_MATH_PACKET_SUM_H
#define EMBER_MATH_PACKET_SUM_H

#include <algorithm>
#include <cstdint>

namespace ember::math {

/// Largest `lanes` PacketSum takes (a power of two from 1).
inline constexpr int64_t kPacketSumMaxLanes = 16;

/// The unaligned head of line `line` (each `n` long, the tensor's first
/// element aligned) when `aligned`; 0 otherwise.
inline int64_t packetSumHead(int64_t line, int64_t n, int64_t lanes,
                             bool aligned) {
  if (!aligned)
    return 0;
  return std::min((lanes - (line * n) % lanes) % lanes, n);
}

/// The sum of x[0], ..., x[n-1] (n >= 1) in packet order with the given
/// head; `lanes` a power of two, at most kPacketSumMaxLanes.
inline float packetSum(const float *x, int64_t n, int64_t lanes, int64_t head) {
  const int64_t m = (n - head) / lanes; // whole packets
  if (m == 0) {
    float s = x[0];
    for (int64_t i = 1; i < n; ++i)
      s = s + x[i];
    return s;
  }
  float a[kPacketSumMaxLanes], b[kPacketSumMaxLanes];
  for (int64_t j = 0; j < lanes; ++j)
    a[j] = x[head + j];
  const int64_t pairs = m / 2;
  if (m >= 2) {
    for (int64_t j = 0; j < lanes; ++j)
      b[j] = x[head + lanes + j];
    for (int64_t p = 1; p < pairs; ++p) {
      const float *q = x + head + 2 * p * lanes;
      for (int64_t j = 0; j < lanes; ++j) {
        a[j] = a[j] + q[j];
        b[j] = b[j] + q[lanes + j];
      }
    }
    for (int64_t j = 0; j < lanes; ++j)
      a[j] = a[j] + b[j];
    if (m % 2) {
      const float *q = x + head + 2 * pairs * lanes;
      for (int64_t j = 0; j < lanes; ++j)
        a[j] = a[j] + q[j];
    }
  }
  for (int64_t w = lanes / 2; w >= 1; w /= 2)
    for (int64_t j = 0; j < w; ++j)
      a[j] = a[j] + a[j + w];
  float s = a[0];
  for (int64_t i = 0; i < head; ++i)
    s = s + x[i];
  for (int64_t i = head + m * lanes; i < n; ++i)
    s = s + x[i];
  return s;
}

} // namespace ember::math

#endif // EMBER_MATH_PACKET_SUM_H

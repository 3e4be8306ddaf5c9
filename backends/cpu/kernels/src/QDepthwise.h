//===- QDepthwise.h - int8 depthwise kernels' shared parts ------*- C++ -*-===//
//
// What QDepthwise.cpp (the dispatch, the generic and AVX-512 kernels) and
// QDepthwiseAvx2.cpp (the AVX2 channels-last kernel) share.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_QDEPTHWISE_H
#define EMBER_CPU_KERNELS_QDEPTHWISE_H

#include "FixedPoint.h"

#include "ember/cpu/Kernels.h"

#include <algorithm>
#include <cstdint>

namespace ember::cpu::detail {

// The requantization of a call: output range (type range and clamp; an
// empty range is its lower bound) and the fixed-point form.
struct QdwParams {
  int32_t zp, lo, hi;
  bool sgn;  // s8 output (else u8)
  bool fast; // fixedPointFast over the call's shifts
  bool i32;  // int32 output: acc + bias as they are (yInt32)
};

inline QdwParams qdwParams(const QDepthwiseConv &t) {
  QdwParams p;
  p.i32 = t.yInt32 != 0;
  if (p.i32) {
    p.sgn = p.fast = false;
    p.zp = p.lo = p.hi = 0;
    return p;
  }
  p.sgn = t.ySigned != 0;
  p.zp = int32_t(t.yZeroPoint);
  int64_t lo = std::max<int64_t>(t.clampMin, p.sgn ? -128 : 0);
  int64_t hi = std::min<int64_t>(t.clampMax, p.sgn ? 127 : 255);
  p.lo = int32_t(lo);
  p.hi = int32_t(std::max(lo, hi));
  p.fast = t.floatScale == 0 &&
           (t.requantFast >= 0
                ? t.requantFast != 0
                : fixedPointFast(t.shift, size_t(t.scaleCount), p.zp));
  return p;
}

/// The most taps (KH * KW) the AVX2 channels-last kernels take; larger
/// kernels run the per-pixel loop.
constexpr int64_t kQdwAvx2MaxTaps = 64;

/// Whether the AVX2 channels-last kernels run a call: channels-last in and
/// out, at least 16 channels (a range's block), at most kQdwAvx2MaxTaps
/// taps.
inline bool qdwAvx2Takes(const QDepthwiseConv &t) {
  return t.inNhwc != 0 && t.outNhwc != 0 && t.channels >= 16 &&
         t.kernelH * t.kernelW <= kQdwAvx2MaxTaps;
}

#if defined(__x86_64__)
/// AVX2, channels-last in and out (qdwAvx2Takes): output row `oh` of image
/// n, channels [cBegin, cEnd) (cBegin a multiple of 16, cEnd - cBegin >=
/// 16). QDepthwiseAvx2.cpp.
void qdepthwiseRowAvx2Nhwc(const QDepthwiseConv &t, const QdwParams &q,
                           size_t n, size_t oh, size_t cBegin, size_t cEnd);
#endif

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_QDEPTHWISE_H

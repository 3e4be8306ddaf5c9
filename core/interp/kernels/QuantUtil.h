// Shared pieces of the quantization kernels: scale/zero-point indexing
// (per tensor, per axis, blocked), round-half-to-even with saturation.
#pragma once

#include "interp/kernels/NnUtil.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ember {

// Maps a flat element index of x to the index of its scale/zero point.
struct QuantIndexer {
  enum Mode { PerTensor, PerAxis, Blocked } mode = PerTensor;
  int64_t axisDim = 1, inner = 1, block = 1, scaleAxisDim = 1;
  int64_t operator()(int64_t flat) const {
    if (mode == PerTensor)
      return 0;
    int64_t a = (flat / inner) % axisDim;
    if (mode == PerAxis)
      return a;
    int64_t o = flat / (inner * axisDim), i = flat % inner;
    return (o * scaleAxisDim + a / block) * inner + i;
  }
};

// Validates scale (and zero point, when given) against x for the axis and
// block_size attributes.
Expected<QuantIndexer> quantIndexer(const KernelContext &ctx, const Dims &x,
                                    const Tensor &scale, const Tensor *zp);

// True for the integer kinds quantized tensors may have here.
inline bool isQuantKind(ElemKind k) {
  return k == ElemKind::U8 || k == ElemKind::I8 || k == ElemKind::U16 ||
         k == ElemKind::I16;
}

// Rounds half to even and saturates to Q's range.
template <typename Q> Q saturateRound(double v) {
  if (std::isnan(v))
    return Q(0);
  double r = std::nearbyint(v);
  double lo = double(std::numeric_limits<Q>::lowest()),
         hi = double(std::numeric_limits<Q>::max());
  return Q(r < lo ? lo : (r > hi ? hi : r));
}

// The value quantized before rounding: x / scale computed in the x/scale
// type (float for 16-bit floats, rounded back to that type like numpy).
template <typename T> double quantDivide(T x, T scale) {
  if constexpr (std::is_same_v<T, double>)
    return x / scale;
  else if constexpr (std::is_floating_point_v<T>)
    return double(float(x) / float(scale));
  else
    return double(float(T(float(x) / float(scale))));
}

// The quantize step of ONNX QuantizeLinear for one element.
template <typename Q, typename T> Q quantizeValue(T x, T scale, int64_t zp) {
  double q = std::nearbyint(quantDivide<T>(x, scale));
  return saturateRound<Q>(q + double(zp));
}

// The dequantize step of ONNX DequantizeLinear, in float (double for f64).
inline double dequantizeValue(int64_t q, int64_t zp, double scale, bool wide) {
  if (wide)
    return double(q - zp) * scale;
  return double(float(q - zp) * float(scale));
}

} // namespace ember

// Shared pieces of the quantization kernels: round-half-to-even with
// saturation and the quantize step. (Scale/zero-point indexing, QuantIndexer,
// is the type rules' helper, ir/typerules/Parse.h.)
#pragma once

#include "interp/kernels/NnUtil.h"

#include <cmath>
#include <limits>

namespace ember {

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

} // namespace ember

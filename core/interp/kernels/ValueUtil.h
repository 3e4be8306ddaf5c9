// Small helpers shared by kernels that compute through double (losses,
// sampling, signal, data-dependent ops): type-generic writes and coordinates
// as indices. (Operand checks are the type rules' helpers,
// ir/typerules/Parse.h.)
#pragma once

#include "interp/Kernel.h"
#include "ir/typerules/Parse.h"

#include <vector>

namespace ember {

// Writes v into t element by element (converted to t's element kind).
inline void storeDoubles(Tensor &t, const std::vector<double> &v) {
  for (size_t i = 0; i < v.size(); ++i)
    t.setDouble(int64_t(i), v[i]);
}

// A coordinate as an integer index, truncated toward zero like a C cast,
// but saturated far outside any tensor and with NaN mapped far below zero,
// so that bad coordinates read as "outside" instead of overflowing.
inline int64_t toIndex(double v) {
  constexpr double kLim = 4.0e15;
  if (!(v > -kLim))
    return -int64_t(kLim);
  if (v > kLim)
    return int64_t(kLim);
  return int64_t(v);
}

} // namespace ember

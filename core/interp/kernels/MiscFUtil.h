// Small helpers shared by the family F kernels (losses, sampling, detection
// and other ops): type-generic reads and writes through double, and checks.
#pragma once

#include "interp/Kernel.h"

#include <map>
#include <string>
#include <vector>

namespace ember {

// Writes v into t element by element (converted to t's element kind).
inline void storeDoubles(Tensor &t, const std::vector<double> &v) {
  for (size_t i = 0; i < v.size(); ++i)
    t.setDouble(int64_t(i), v[i]);
}

// Error unless operand i is present and floating point.
inline Status requireFloat(const KernelContext &ctx, size_t i,
                           const char *what) {
  if (!ctx.has(i))
    return ctx.error(what, " is missing");
  if (!isFloatKind(ctx.in(i).elem()))
    return ctx.unsupportedError(what, " must be floating point, got ",
                                ctx.in(i).type().toString());
  return Status::ok();
}

// Error unless operand i is present and i32 or i64.
inline Status requireIndex(const KernelContext &ctx, size_t i,
                           const char *what) {
  if (!ctx.has(i))
    return ctx.error(what, " is missing");
  ElemKind k = ctx.in(i).elem();
  if (k != ElemKind::I32 && k != ElemKind::I64)
    return ctx.error(what, " must be i32 or i64, got ",
                     ctx.in(i).type().toString());
  return Status::ok();
}

// A parsed Einsum equation for given operand shapes. Labels are letters as
// char codes; ellipsis dims get kEinsumEll + k (k counted from the left of
// the widest ellipsis, operands' ellipses aligned to the right). Repeated
// labels within an input term mean a diagonal.
constexpr int kEinsumEll = 1000;
struct EinsumSpec {
  std::vector<std::vector<int>> inputs; // labels per operand dim
  std::vector<int> output;              // labels of the result dims
  std::map<int, int64_t> size;          // label -> size (broadcast)
};
Expected<EinsumSpec> parseEinsum(const std::string &eq,
                                 const std::vector<Dims> &shapes);

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

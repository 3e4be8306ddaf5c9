// Kernels that make tensors from shapes and a few values: Shape, Size,
// ConstantOfShape, Range, OneHot, EyeLike.
#include "interp/kernels/MovementUtil.h"
#include "interp/kernels/ValueUtil.h"

#include <cmath>

namespace ember {

Status kernel_Shape(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t start = shapeStart(ctx);
  Tensor &y = ctx.out(0);
  for (int64_t i = 0; i < y.size(); ++i)
    y.data<int64_t>()[i] = x.dim(size_t(start + i));
  return Status::ok();
}

Status kernel_Size(KernelContext &ctx) {
  ctx.out(0).data<int64_t>()[0] = ctx.in(0).size();
  return Status::ok();
}

Status kernel_ConstantOfShape(KernelContext &ctx) {
  EMBER_ASSIGN(Tensor value, constantOfShapeValue(ctx));
  Tensor &y = ctx.out(0);
  size_t es = elemSize(value.elem());
  for (int64_t i = 0; i < y.size(); ++i)
    std::memcpy(y.raw() + size_t(i) * es, value.raw(), es);
  return Status::ok();
}

// Range(start, limit, delta): max(ceil((limit - start) / delta), 0)
// elements start + i * delta. Integers are computed exactly; floats in
// double and rounded once to the element type (numpy.arange).
Status kernel_Range(KernelContext &ctx) {
  const Tensor &start = ctx.in(0), &delta = ctx.in(2);
  Tensor &y = ctx.out(0);
  bool fl = isFloatKind(y.elem());
  double f0 = fl ? start.getDouble(0) : 0, fd = fl ? delta.getDouble(0) : 0;
  int64_t i0 = fl ? 0 : start.getInt(0), id = fl ? 0 : delta.getInt(0);
  for (int64_t i = 0; i < y.size(); ++i) {
    if (fl)
      y.setDouble(i, f0 + double(i) * fd);
    else
      y.setInt(i, int64_t(uint64_t(i0) + uint64_t(i) * uint64_t(id)));
  }
  return Status::ok();
}

Status kernel_OneHot(KernelContext &ctx) {
  const Tensor &ind = ctx.in(0), &vals = ctx.in(2);
  size_t r = ind.rank();
  int64_t axis = ctx.attrInt("axis", -1);
  if (axis < 0)
    axis += int64_t(r) + 1;
  Tensor &y = ctx.out(0);
  int64_t depth = y.dim(size_t(axis));
  int64_t outer = 1, inner = 1;
  for (size_t k = 0; k < r; ++k)
    if (int64_t(k) < axis)
      outer *= ind.dim(k);
    else
      inner *= ind.dim(k);
  size_t es = elemSize(vals.elem());
  const uint8_t *off = vals.raw(), *on = vals.raw() + es;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < depth; ++k)
      for (int64_t i = 0; i < inner; ++i) {
        double v = ind.getDouble(o * inner + i);
        if (v < 0)
          v += double(depth);
        std::memcpy(y.raw() + size_t((o * depth + k) * inner + i) * es,
                    v == double(k) ? on : off, es);
      }
  return Status::ok();
}

Status kernel_EyeLike(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  int64_t off = ctx.attrInt("k", 0);
  for (int64_t i = 0; i < x.dim(0); ++i) {
    int64_t j = i + off;
    if (j >= 0 && j < x.dim(1))
      y.setDouble(i * x.dim(1) + j, 1.0);
  }
  return Status::ok();
}

} // namespace ember

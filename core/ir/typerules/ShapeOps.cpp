// Type rules of the ops whose reference kernels are in
// interp/kernels/ShapeOps.cpp.
#include "ir/typerules/Parse.h"

#include <algorithm>
#include <cmath>

namespace ember {

Status types_Size(TypeContext &ctx) {
  ctx.setOutput(0, Type(ElemKind::I64, {}));
  return Status::ok();
}

// Shape's [start, end) after clamping: the start index and the length (the
// result's size).
namespace {
struct ShapeSlice {
  int64_t start = 0, len = 0;
};
} // namespace
static ShapeSlice shapeSlice(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t r = int64_t(x.rank());
  auto clampIndex = [r](int64_t v) {
    if (v < 0)
      v = v < -r ? 0 : v + r;
    return std::min(v, r);
  };
  int64_t start = clampIndex(ctx.attrInt("start", 0));
  int64_t end = ctx.hasAttr("end") ? clampIndex(ctx.attrInt("end", r)) : r;
  return {start, std::max<int64_t>(end - start, 0)};
}

int64_t shapeStart(const TypeContext &ctx) { return shapeSlice(ctx).start; }

Status types_Shape(TypeContext &ctx) {
  ShapeSlice sl = shapeSlice(ctx);
  ctx.setOutput(0, Type(ElemKind::I64, {sl.len}));
  return Status::ok();
}

Expected<Tensor> constantOfShapeValue(const TypeContext &ctx) {
  Tensor value = Tensor::scalar(ElemKind::F32, 0);
  if (ctx.hasAttr("value")) {
    const Tensor *v = ctx.node().attrTensor("value");
    if (!v || v->size() != 1)
      return ctx.error("value must be a one-element tensor");
    value = *v;
  }
  return value;
}

Status types_ConstantOfShape(TypeContext &ctx) {
  if (ctx.in(0).rank() != 1)
    return ctx.error("shape operand must be 1-D, got ",
                     ctx.in(0).type().toString());
  EMBER_ASSIGN(std::vector<int64_t> shape, ctx.ints(0));
  for (int64_t s : shape)
    if (s < 0)
      return ctx.error("negative dimension ", s, " in shape [",
                       dimsToString(Dims(shape)), "]");
  EMBER_ASSIGN(Tensor value, constantOfShapeValue(ctx));
  EMBER_TRY(checkResultSize(ctx, Dims(shape)));
  ctx.setOutput(0, Type(value.elem(), Dims(shape)));
  return Status::ok();
}

Status types_Range(TypeContext &ctx) {
  ElemKind k = ctx.in(0).elem();
  for (size_t i = 0; i < 3; ++i) {
    if (ctx.in(i).elem() != k)
      return ctx.error("operands must share one element type, got ",
                       ctx.in(0).type().toString(), ", ",
                       ctx.in(1).type().toString(), ", ",
                       ctx.in(2).type().toString());
    if (ctx.in(i).size() != 1)
      return ctx.error("operand #", i, " must be a scalar, got ",
                       ctx.in(i).type().toString());
  }
  constexpr int64_t kMaxElems = int64_t(1) << 40;
  int64_t n = 0;
  std::vector<int64_t> iv;
  std::vector<double> fv;
  if (isFloatKind(k)) {
    for (size_t i = 0; i < 3; ++i) {
      EMBER_ASSIGN(std::vector<double> v, ctx.floats(i));
      fv.push_back(v[0]);
    }
    if (fv[2] == 0 || !std::isfinite(fv[0]) || !std::isfinite(fv[1]) ||
        !std::isfinite(fv[2]))
      return ctx.error("start ", fv[0], ", limit ", fv[1], ", delta ", fv[2],
                       " do not describe a finite range");
    double c = std::ceil((fv[1] - fv[0]) / fv[2]);
    if (c > double(kMaxElems))
      return ctx.error("range of ", c, " elements is too large");
    n = c > 0 ? int64_t(c) : 0;
  } else {
    for (size_t i = 0; i < 3; ++i) {
      EMBER_ASSIGN(std::vector<int64_t> v, ctx.ints(i));
      iv.push_back(v[0]);
    }
    int64_t s = iv[0], l = iv[1], d = iv[2];
    if (d == 0)
      return ctx.error("delta is 0");
    // Spans are computed in uint64, where they cannot overflow.
    if (d > 0 && l > s)
      n = int64_t((uint64_t(l) - uint64_t(s) - 1) / uint64_t(d) + 1);
    else if (d < 0 && l < s)
      n = int64_t(
          (uint64_t(s) - uint64_t(l) - 1) / (uint64_t(0) - uint64_t(d)) + 1);
    if (n > kMaxElems || n < 0)
      return ctx.error("range of ", n, " elements is too large");
  }
  ctx.setOutput(0, Type(k, {n}));
  return Status::ok();
}

Status types_OneHot(TypeContext &ctx) {
  const Tensor &ind = ctx.in(0), &vals = ctx.in(2);
  if (ind.elem() == ElemKind::Bool)
    return ctx.error("indices must be numeric");
  EMBER_ASSIGN(const Tensor *dt, ctx.valueOf(1));
  if (dt->size() != 1)
    return ctx.error("depth must have one element, got ",
                     dt->type().toString());
  double depthD = dt->getDouble(0);
  if (!(depthD >= 1) || depthD > double(int64_t(1) << 40))
    return ctx.error("depth must be positive, got ", depthD);
  int64_t depth = int64_t(depthD);
  if (vals.size() != 2 || vals.rank() != 1)
    return ctx.error("values must be [2] (off, on), got ",
                     vals.type().toString());
  size_t r = ind.rank();
  int64_t axis = ctx.attrInt("axis", -1);
  if (axis < 0)
    axis += int64_t(r) + 1;
  if (axis < 0 || axis > int64_t(r))
    return ctx.error("axis ", ctx.attrInt("axis", -1),
                     " out of range for rank ", r + 1);
  Dims yd = ind.dims();
  yd.insert(yd.begin() + axis, depth);
  EMBER_TRY(checkResultSize(ctx, yd));
  ctx.setOutput(0, Type(vals.elem(), yd));
  return Status::ok();
}

Status types_EyeLike(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.rank() != 2)
    return ctx.error("input must be 2-D, got ", x.type().toString());
  ElemKind k = x.elem();
  if (ctx.hasAttr("dtype") &&
      !elemKindFromOnnx(int(ctx.attrInt("dtype", 1)), k))
    return ctx.unsupportedError("dtype ", ctx.attrInt("dtype", 1));
  ctx.setOutput(0, Type(k, x.dims()));
  return Status::ok();
}
} // namespace ember

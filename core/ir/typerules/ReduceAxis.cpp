// Type rules of the ops whose reference kernels are in
// interp/kernels/ReduceAxis.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

Status types_CumSum(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (ctx.in(1).size() != 1 || ctx.in(1).rank() > 1)
    return ctx.error("axis must be a scalar, got ",
                     ctx.in(1).type().toString());
  ctx.setOutput(0, x.type().withDims(x.dims()));
  return Status::ok();
}

Status types_TopK(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  EMBER_ASSIGN(std::vector<int64_t> kv, ctx.ints(1));
  if (kv.size() != 1)
    return ctx.error("K must have one element, got ",
                     ctx.in(1).type().toString());
  int64_t k = kv[0];
  int64_t n = x.dims()[size_t(axis)];
  if (k < 0 || k > n)
    return ctx.error("K = ", k, " is out of range for axis ", axis, " of ",
                     x.type().toString());
  Dims od = x.dims();
  od[size_t(axis)] = k;
  ctx.setOutput(0, x.type().withDims(od));
  ctx.setOutput(1, Type(ElemKind::I64, od));
  return Status::ok();
}

Status types_CumProd(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (ctx.in(1).size() != 1 || ctx.in(1).rank() > 1 ||
      !isIntKind(ctx.in(1).elem()))
    return ctx.error("axis must be an integer scalar, got ",
                     ctx.in(1).type().toString());
  if (x.rank() < 1)
    return ctx.error("x must have rank >= 1");
  ctx.setOutput(0, x.type().withDims(x.dims()));
  return Status::ok();
}

Status types_Hardmax(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.rank() < 1)
    return ctx.error("input must have rank >= 1");
  EMBER_TRY(normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()).status());
  ctx.setOutput(0, x.type().withDims(x.dims()));
  return Status::ok();
}
static Status argExtremeRule(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", 0), x.rank()));
  bool keepDims = ctx.attrInt("keepdims", 1) != 0;
  Dims od;
  for (size_t d = 0; d < x.rank(); ++d)
    if (int64_t(d) != axis)
      od.push_back(x.dims()[d]);
    else if (keepDims)
      od.push_back(1);
  Dims others = od;
  if (keepDims)
    others.erase(others.begin() + axis);
  if (x.dims()[size_t(axis)] == 0 && numElements(others) > 0)
    return ctx.error("cannot reduce the empty axis ", axis, " of ",
                     x.type().toString());
  ctx.setOutput(0, Type(ElemKind::I64, od));
  return Status::ok();
}

static Status softmaxRule(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_TRY(normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()).status());
  ctx.setOutput(0, x.type().withDims(x.dims()));
  return Status::ok();
}

// PacketSum: f32, axis in [0, rank], lanes a power of two up to 16,
// aligned 0 or 1; every reduced line non-empty.
Status types_PacketSum(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.elem() != ElemKind::F32)
    return ctx.unsupportedError("PacketSum takes f32, got ",
                                elemKindName(x.elem()));
  const int64_t r = int64_t(x.rank()), axis = ctx.attrInt("axis", -1);
  const int64_t lanes = ctx.attrInt("lanes", 4),
                aligned = ctx.attrInt("aligned", 0);
  if (axis < 0 || axis > r)
    return ctx.error("axis ", axis, " is out of range for rank ", r);
  if (lanes < 1 || lanes > 16 || (lanes & (lanes - 1)))
    return ctx.error("lanes must be a power of two from 1 to 16, got ", lanes);
  if (aligned != 0 && aligned != 1)
    return ctx.error("aligned must be 0 or 1, got ", aligned);
  Dims od = x.dims();
  int64_t n = 1;
  for (size_t d = size_t(axis); d < od.size(); ++d) {
    n *= od[d];
    od[d] = 1;
  }
  if (n == 0 && numElements(od) > 0)
    return ctx.error("cannot sum empty lines of ", x.type().toString());
  ctx.setOutput(0, Type(ElemKind::F32, od));
  return Status::ok();
}

Status types_ArgMax(TypeContext &ctx) { return argExtremeRule(ctx); }
Status types_ArgMin(TypeContext &ctx) { return argExtremeRule(ctx); }
Status types_Softmax(TypeContext &ctx) { return softmaxRule(ctx); }
Status types_LogSoftmax(TypeContext &ctx) { return softmaxRule(ctx); }

} // namespace ember

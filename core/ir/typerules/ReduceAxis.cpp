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

Status types_ArgMax(TypeContext &ctx) { return argExtremeRule(ctx); }
Status types_ArgMin(TypeContext &ctx) { return argExtremeRule(ctx); }
Status types_Softmax(TypeContext &ctx) { return softmaxRule(ctx); }
Status types_LogSoftmax(TypeContext &ctx) { return softmaxRule(ctx); }

} // namespace ember

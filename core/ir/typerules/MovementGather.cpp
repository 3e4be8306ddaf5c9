// Type rules of the ops whose reference kernels are in
// interp/kernels/MovementGather.cpp.
#include "ir/typerules/Parse.h"

#include <algorithm>

namespace ember {

static Status checkIndexKind(const TypeContext &ctx, const Tensor &t) {
  if (t.elem() != ElemKind::I64 && t.elem() != ElemKind::I32)
    return ctx.error("indices must be i32 or i64, got ", t.type().toString());
  return Status::ok();
}

Expected<ScatterReduction> scatterReduction(const TypeContext &ctx) {
  std::string s = ctx.attrString("reduction", "none");
  if (s == "none")
    return ScatterReduction::None;
  if (s == "add")
    return ScatterReduction::Add;
  if (s == "mul")
    return ScatterReduction::Mul;
  if (s == "max")
    return ScatterReduction::Max;
  if (s == "min")
    return ScatterReduction::Min;
  return ctx.error("unknown reduction '", s, "'");
}

Status types_Gather(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1);
  EMBER_TRY(checkIndexKind(ctx, ind));
  if (x.rank() == 0)
    return ctx.error("data must have rank >= 1");
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", 0), x.rank()));
  Dims d(x.dims().begin(), x.dims().begin() + axis);
  d.insert(d.end(), ind.dims().begin(), ind.dims().end());
  d.insert(d.end(), x.dims().begin() + axis + 1, x.dims().end());
  EMBER_TRY(checkResultSize(ctx, d));
  ctx.setOutput(0, movedType(x.type(), d));
  return Status::ok();
}

Status types_GatherElements(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1);
  EMBER_TRY(checkIndexKind(ctx, ind));
  size_t r = x.rank();
  if (r == 0 || ind.rank() != r)
    return ctx.error("data ", x.type().toString(), " and indices ",
                     ind.type().toString(), " must have the same rank >= 1");
  EMBER_ASSIGN(int64_t axis, normalizeAxis(ctx, ctx.attrInt("axis", 0), r));
  for (size_t k = 0; k < r; ++k)
    if (k != size_t(axis) && ind.dim(k) > x.dim(k))
      return ctx.error("indices ", ind.type().toString(), " exceed data ",
                       x.type().toString(), " on axis ", k);
  ctx.setOutput(0, movedType(x.type(), ind.dims()));
  return Status::ok();
}

Status types_GatherND(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1);
  EMBER_TRY(checkIndexKind(ctx, ind));
  int64_t b = ctx.attrInt("batch_dims", 0);
  int64_t r = int64_t(x.rank()), q = int64_t(ind.rank());
  if (r < 1 || q < 1)
    return ctx.error("data and indices must have rank >= 1");
  if (b < 0 || b >= std::min(r, q))
    return ctx.error("batch_dims ", b,
                     " must be in [0, min(rank(data), "
                     "rank(indices)))");
  int64_t k = ind.dim(size_t(q - 1));
  if (k < 1 || k > r - b)
    return ctx.error("indices last dimension ", k, " must be in [1, ", r - b,
                     "] for data ", x.type().toString(), " and batch_dims ", b);
  for (int64_t i = 0; i < b; ++i)
    if (x.dim(size_t(i)) != ind.dim(size_t(i)))
      return ctx.error("batch dimension ", i, " differs: data ",
                       x.type().toString(), ", indices ",
                       ind.type().toString());
  Dims d(ind.dims().begin(), ind.dims().end() - 1);
  d.insert(d.end(), x.dims().begin() + b + k, x.dims().end());
  ctx.setOutput(0, movedType(x.type(), d));
  return Status::ok();
}

Status types_ScatterElements(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1), &upd = ctx.in(2);
  EMBER_TRY(checkIndexKind(ctx, ind));
  size_t r = x.rank();
  if (r == 0 || ind.rank() != r)
    return ctx.error("data ", x.type().toString(), " and indices ",
                     ind.type().toString(), " must have the same rank >= 1");
  if (upd.dims() != ind.dims() || upd.elem() != x.elem())
    return ctx.error("updates ", upd.type().toString(),
                     " must have the indices' shape ", ind.type().toString(),
                     " and the data's element type");
  EMBER_ASSIGN(int64_t axis, normalizeAxis(ctx, ctx.attrInt("axis", 0), r));
  for (size_t k = 0; k < r; ++k)
    if (k != size_t(axis) && ind.dim(k) > x.dim(k))
      return ctx.error("indices ", ind.type().toString(), " exceed data ",
                       x.type().toString(), " on axis ", k);
  EMBER_ASSIGN(ScatterReduction red, scatterReduction(ctx));
  (void)red;
  ctx.setOutput(0, x.type());
  return Status::ok();
}

Status types_ScatterND(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1), &upd = ctx.in(2);
  EMBER_TRY(checkIndexKind(ctx, ind));
  int64_t r = int64_t(x.rank()), q = int64_t(ind.rank());
  if (r < 1 || q < 1)
    return ctx.error("data and indices must have rank >= 1");
  int64_t k = ind.dim(size_t(q - 1));
  if (k < 1 || k > r)
    return ctx.error("indices last dimension ", k, " must be in [1, ", r,
                     "] for data ", x.type().toString());
  Dims ud(ind.dims().begin(), ind.dims().end() - 1);
  ud.insert(ud.end(), x.dims().begin() + k, x.dims().end());
  if (upd.dims() != ud || upd.elem() != x.elem())
    return ctx.error("updates ", upd.type().toString(), " must be ",
                     Type(x.elem(), ud).toString(), " for data ",
                     x.type().toString(), " and indices ",
                     ind.type().toString());
  EMBER_ASSIGN(ScatterReduction red, scatterReduction(ctx));
  (void)red;
  ctx.setOutput(0, x.type());
  return Status::ok();
}

Status types_ReverseSequence(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_TRY(requireIndex(ctx, 1, "sequence_lens"));
  if (x.rank() < 2)
    return ctx.error("input must have rank >= 2, got ", x.type().toString());
  EMBER_ASSIGN(int64_t ba,
               normalizeAxis(ctx, ctx.attrInt("batch_axis", 1), x.rank()));
  EMBER_ASSIGN(int64_t ta,
               normalizeAxis(ctx, ctx.attrInt("time_axis", 0), x.rank()));
  if (ba == ta || ba > 1 || ta > 1)
    return ctx.error("batch_axis and time_axis must be 0 and 1");
  const Tensor &sl = ctx.in(1);
  if (sl.rank() != 1 || sl.dim(0) != x.dim(size_t(ba)))
    return ctx.error("sequence_lens ", sl.type().toString(), " must be [",
                     x.dim(size_t(ba)), "]");
  ctx.setOutput(0, x.type());
  return Status::ok();
}
} // namespace ember

// Type rules of the ops whose reference kernels are in
// interp/kernels/NnNorm.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

namespace {

Status checkPerChannel(const TypeContext &ctx, size_t first, size_t last,
                       int64_t c) {
  for (size_t i = first; i <= last; ++i) {
    if (!isComputeFloatKind(ctx.in(i).elem()))
      return ctx.error("operand #", i, " must be floating point, got ",
                       ctx.in(i).type().toString());
    if (ctx.in(i).size() != c || ctx.in(i).rank() != 1)
      return ctx.error("operand #", i, " ", ctx.in(i).type().toString(),
                       " must be [", c, "]");
  }
  return Status::ok();
}

Status requireFloat(const TypeContext &ctx, const Tensor &t) {
  if (!isFloatKind(t.elem()))
    return ctx.unsupportedError("element type ", elemKindName(t.elem()),
                                " is not supported (floating point only)");
  return Status::ok();
}

} // namespace

Status types_BatchNormalization(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.rank() < 2)
    return ctx.error("X must have rank >= 2, got ", x.type().toString());
  if (ctx.attrInt("training_mode", 0) != 0)
    return ctx.unsupportedError("training_mode=1 is not supported");
  if (ctx.numOutputs() != 1)
    return ctx.unsupportedError("only the inference form (one result)");
  int64_t c = x.dims()[1];
  EMBER_TRY(checkPerChannel(ctx, 1, 4, c));
  ctx.setOutput(0, x.type().withDims(x.dims()));
  return Status::ok();
}

Status types_InstanceNormalization(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.rank() < 3)
    return ctx.error("X must have rank >= 3, got ", x.type().toString());
  int64_t c = x.dims()[1];
  EMBER_TRY(checkPerChannel(ctx, 1, 2, c));
  ctx.setOutput(0, Type(x.elem(), x.dims()));
  return Status::ok();
}

Status types_LayerNormalization(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (ctx.numOutputs() < 1 || ctx.numOutputs() > 3)
    return ctx.error("expects 1 to 3 results, got ", ctx.numOutputs());
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has(i))
      continue;
    Dims bc;
    if (ctx.in(i).elem() != x.elem() ||
        !broadcastShapes(x.dims(), ctx.in(i).dims(), bc) || bc != x.dims())
      return ctx.error("operand #", i, " ", ctx.in(i).type().toString(),
                       " does not broadcast to X ", x.type().toString());
  }
  // Mean and InvStdDev have the stash type (ONNX type inference).
  ElemKind statKind;
  int64_t stash = ctx.attrInt("stash_type", 1);
  if (!elemKindFromOnnx(int(stash), statKind) || !isComputeFloatKind(statKind))
    return ctx.unsupportedError("stash_type ", stash);
  Dims statDims = x.dims();
  for (size_t d = size_t(axis); d < statDims.size(); ++d)
    statDims[d] = 1;
  ctx.setOutput(0, Type(x.elem(), x.dims()));
  for (size_t i = 1; i < ctx.numOutputs(); ++i)
    ctx.setOutput(i, Type(statKind, statDims));
  return Status::ok();
}

Status types_LRN(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.rank() < 3)
    return ctx.error("X must have rank >= 3, got ", x.type().toString());
  int64_t size = ctx.attrInt("size", 0);
  if (size < 1)
    return ctx.error("size must be >= 1, got ", size);
  ctx.setOutput(0, Type(x.elem(), x.dims()));
  return Status::ok();
}

Status types_RMSNormalization(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  EMBER_TRY(requireFloat(ctx, x));
  EMBER_TRY(requireFloat(ctx, w));
  if (x.rank() < 1)
    return ctx.error("X must have rank >= 1, got ", x.type().toString());
  EMBER_TRY(normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()).status());
  if (ctx.attrInt("stash_type", 1) != 1)
    return ctx.unsupportedError("stash_type ", ctx.attrInt("stash_type", 1),
                                " (only 1, float statistics)");
  Dims bc;
  if (!broadcastShapes(x.dims(), w.dims(), bc) || bc != x.dims())
    return ctx.error("scale ", w.type().toString(), " does not broadcast to X ",
                     x.type().toString());
  ctx.setOutput(0, Type(w.elem(), x.dims()));
  return Status::ok();
}

Status types_LpNormalization(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.rank() < 1)
    return ctx.error("X must have rank >= 1");
  EMBER_TRY(normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()).status());
  int64_t p = ctx.attrInt("p", 2);
  if (p != 1 && p != 2)
    return ctx.error("p must be 1 or 2, got ", p);
  ctx.setOutput(0, Type(x.elem(), x.dims()));
  return Status::ok();
}

Status types_GroupNormalization(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_TRY(requireFloat(ctx, x));
  if (x.rank() < 2)
    return ctx.error("X must have rank >= 2, got ", x.type().toString());
  int64_t g = ctx.attrInt("num_groups", 0), c = x.dim(1);
  if (g < 1 || c % g != 0)
    return ctx.error("num_groups ", g, " must be >= 1 and divide the ", c,
                     " channels");
  if (ctx.attrInt("stash_type", 1) != 1)
    return ctx.unsupportedError("stash_type ", ctx.attrInt("stash_type", 1),
                                " (only 1, float statistics)");
  for (size_t i = 1; i < 3; ++i) {
    EMBER_TRY(requireFloat(ctx, ctx.in(i)));
    if (ctx.in(i).rank() != 1 || ctx.in(i).dim(0) != c)
      return ctx.error("operand #", i, " ", ctx.in(i).type().toString(),
                       " must be [", c, "] (opset-21 per-channel form)");
  }
  ctx.setOutput(0, Type(x.elem(), x.dims()));
  return Status::ok();
}

Expected<std::vector<bool>> mvnReducedAxes(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  std::vector<int64_t> axes = ctx.hasAttr("axes")
                                  ? ctx.attrInts("axes")
                                  : std::vector<int64_t>{0, 2, 3};
  std::vector<bool> reduced(x.rank(), false);
  for (int64_t a : axes) {
    EMBER_ASSIGN(int64_t na, normalizeAxis(ctx, a, x.rank()));
    if (reduced[size_t(na)])
      return ctx.error("axis ", a, " repeated in axes");
    reduced[size_t(na)] = true;
  }
  return reduced;
}

Status types_MeanVarianceNormalization(TypeContext &ctx) {
  EMBER_ASSIGN(std::vector<bool> reduced, mvnReducedAxes(ctx));
  (void)reduced;
  const Tensor &x = ctx.in(0);
  ctx.setOutput(0, Type(x.elem(), x.dims()));
  return Status::ok();
}
} // namespace ember

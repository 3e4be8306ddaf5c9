// Type rules of the ops whose reference kernels are in
// interp/kernels/NnPool.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

Expected<WindowGeom> poolGeom(const TypeContext &ctx, const Tensor &x) {
  if (x.rank() < 3 || x.rank() > 10)
    return ctx.error("X must have rank 3 to 10 (N, C, spatial...), got ",
                     x.type().toString());
  if (!ctx.hasAttr("kernel_shape"))
    return ctx.error("kernel_shape is required");
  Dims in(x.dims().begin() + 2, x.dims().end());
  return windowGeom(ctx, in, ctx.attrInts("kernel_shape"),
                    ctx.attrInt("ceil_mode", 0) != 0);
}

static Dims pooledDims(const Tensor &x, const WindowGeom &g) {
  Dims od{x.dims()[0], x.dims()[1]};
  od.insert(od.end(), g.out.begin(), g.out.end());
  return od;
}

Status types_MaxPool(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  ElemKind k = x.elem();
  // Stored integers: 8-bit, and int16 (16x8 activations).
  if (!isComputeFloatKind(k) && k != ElemKind::I8 && k != ElemKind::U8 &&
      k != ElemKind::I16)
    return ctx.unsupportedError("element type ", elemKindName(k));
  if (ctx.numOutputs() < 1 || ctx.numOutputs() > 2)
    return ctx.error("expects 1 or 2 results, got ", ctx.numOutputs());
  EMBER_ASSIGN(WindowGeom g, poolGeom(ctx, x));
  int64_t storageOrder = ctx.attrInt("storage_order", 0);
  if (storageOrder != 0 && storageOrder != 1)
    return ctx.error("storage_order must be 0 or 1, got ", storageOrder);
  Dims od = pooledDims(x, g);
  ctx.setOutput(0, Type(k, od));
  bool wantIdx = ctx.numOutputs() == 2;
  if (wantIdx)
    ctx.setOutput(1, Type(ElemKind::I64, od));
  return Status::ok();
}

Status types_AveragePool(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  bool isInt = x.elem() == ElemKind::U8 || x.elem() == ElemKind::I8 ||
               x.elem() == ElemKind::I16;
  if (!isComputeFloatKind(x.elem()) && !isInt)
    return ctx.unsupportedError("element type ", elemKindName(x.elem()));
  EMBER_ASSIGN(WindowGeom g, poolGeom(ctx, x));
  Dims od = pooledDims(x, g);
  ctx.setOutput(0, Type(x.elem(), od));
  return Status::ok();
}

Expected<MaxUnpoolShape> maxUnpoolShape(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1);
  EMBER_TRY(requireIndex(ctx, 1, "I"));
  if (x.rank() < 3)
    return ctx.error("X must have rank >= 3, got ", x.type().toString());
  if (ind.dims() != x.dims())
    return ctx.error("I ", ind.type().toString(), " must match X ",
                     x.type().toString());
  size_t s = x.rank() - 2;
  std::vector<int64_t> ks = ctx.attrInts("kernel_shape");
  std::vector<int64_t> pads = ctx.attrInts("pads");
  std::vector<int64_t> strides = ctx.attrInts("strides");
  if (pads.empty())
    pads.assign(2 * s, 0);
  if (strides.empty())
    strides.assign(s, 1);
  if (ks.size() != s || pads.size() != 2 * s || strides.size() != s)
    return ctx.error("kernel_shape, pads, strides must have ", s, ", ", 2 * s,
                     ", ", s, " values");
  Dims inferred{x.dim(0), x.dim(1)};
  for (size_t k = 0; k < s; ++k) {
    int64_t v = (x.dim(k + 2) - 1) * strides[k] - pads[k] - pads[k + s] + ks[k];
    if (v < 0)
      return ctx.error("negative inferred output size on spatial dim ", k);
    inferred.push_back(v);
  }
  Dims yd = inferred;
  if (ctx.has(2)) {
    EMBER_ASSIGN(std::vector<int64_t> os, ctx.ints(2));
    if (os.size() != x.rank())
      return ctx.error("output_shape must have ", x.rank(), " values");
    for (size_t k = 0; k < os.size(); ++k)
      if (os[k] < inferred[k])
        return ctx.error("output_shape [", dimsToString(os),
                         "] is smaller than the inferred [",
                         dimsToString(inferred), "]");
    yd = os;
    EMBER_TRY(checkResultSize(ctx, yd));
  }
  MaxUnpoolShape u;
  u.inferred = inferred;
  u.out = yd;
  return u;
}

Status types_MaxUnpool(TypeContext &ctx) {
  EMBER_ASSIGN(MaxUnpoolShape u, maxUnpoolShape(ctx));
  ctx.setOutput(0, ctx.in(0).type().withDims(u.out));
  return Status::ok();
}

Status types_LpPool(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.rank() < 3 || x.rank() > 10)
    return ctx.error("X must have rank 3 to 10 (N, C, spatial...), got ",
                     x.type().toString());
  if (!ctx.hasAttr("kernel_shape"))
    return ctx.error("kernel_shape is required");
  int64_t p = ctx.attrInt("p", 2);
  if (p < 1)
    return ctx.error("p must be >= 1, got ", p);
  Dims in(x.dims().begin() + 2, x.dims().end());
  EMBER_ASSIGN(WindowGeom g, windowGeom(ctx, in, ctx.attrInts("kernel_shape"),
                                        ctx.attrInt("ceil_mode", 0) != 0));
  Dims od = {x.dim(0), x.dim(1)};
  od.insert(od.end(), g.out.begin(), g.out.end());
  ctx.setOutput(0, Type(x.elem(), od));
  return Status::ok();
}
static Status globalPoolRule(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.rank() < 2)
    return ctx.error("X must have rank >= 2, got ", x.type().toString());
  Dims od = x.dims();
  for (size_t d = 2; d < od.size(); ++d)
    od[d] = 1;
  ctx.setOutput(0, Type(x.elem(), od));
  return Status::ok();
}

Status types_GlobalAveragePool(TypeContext &ctx) { return globalPoolRule(ctx); }
Status types_GlobalMaxPool(TypeContext &ctx) { return globalPoolRule(ctx); }

} // namespace ember

// Type rules of the ops whose reference kernels are in
// interp/kernels/Quant.cpp.
#include "ir/typerules/Parse.h"
#include "support/MiniFloat.h"

namespace ember {

// Narrow kinds QuantizeLinear/DequantizeLinear accept: float8 (not E8M0),
// float4 E2M1 and the 4/2-bit integers.
bool isMiniQuantKind(ElemKind k) {
  return isMiniKind(k) && miniFormatOf(k) != MiniFormat::F8E8M0;
}

namespace {
Status checkScalarParam(const TypeContext &ctx, size_t scaleIdx, size_t zpIdx,
                        ElemKind qKind) {
  const Tensor &s = ctx.in(scaleIdx);
  if (s.size() != 1 || !isComputeFloatKind(s.elem()))
    return ctx.error("operand #", scaleIdx, " ", s.type().toString(),
                     " must be a single floating-point scale");
  if (ctx.has(zpIdx) &&
      (ctx.in(zpIdx).size() != 1 || ctx.in(zpIdx).elem() != qKind))
    return ctx.error("operand #", zpIdx, " ", ctx.in(zpIdx).type().toString(),
                     " must be a single ", elemKindName(qKind), " zero point");
  return Status::ok();
}

} // namespace

Status types_QuantizeLinear(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &scale = ctx.in(1);
  const Tensor *zp = ctx.has(2) ? &ctx.in(2) : nullptr;
  if (!isComputeFloatKind(x.elem()) && x.elem() != ElemKind::I32)
    return ctx.unsupportedError("input type ", elemKindName(x.elem()));
  if (!isComputeFloatKind(scale.elem()))
    return ctx.error("scale must be floating point, got ",
                     scale.type().toString());
  if (isComputeFloatKind(x.elem()) && scale.elem() != x.elem())
    return ctx.error("scale type ", elemKindName(scale.elem()),
                     " differs from input type ", elemKindName(x.elem()));
  ElemKind outKind = ElemKind::U8;
  if (zp) {
    outKind = zp->elem();
  } else if (int64_t dt = ctx.attrInt("output_dtype", 0)) {
    if (!elemKindFromOnnx(int(dt), outKind))
      return ctx.unsupportedError("output_dtype ", dt);
  }
  if (!isQuantKind(outKind) && !isMiniQuantKind(outKind))
    return ctx.unsupportedError("quantized type ", elemKindName(outKind));
  EMBER_ASSIGN(QuantIndexer qi, quantIndexer(ctx, x.dims(), scale, zp));
  (void)qi;
  ctx.setOutput(0, Type(outKind, x.dims()));
  return Status::ok();
}

Status types_DequantizeLinear(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &scale = ctx.in(1);
  const Tensor *zp = ctx.has(2) ? &ctx.in(2) : nullptr;
  if (!isQuantKind(x.elem()) && !isMiniQuantKind(x.elem()) &&
      x.elem() != ElemKind::I32)
    return ctx.unsupportedError("quantized type ", elemKindName(x.elem()));
  if (!isComputeFloatKind(scale.elem()))
    return ctx.error("scale must be floating point, got ",
                     scale.type().toString());
  if (zp && zp->elem() != x.elem())
    return ctx.error("zero point type ", elemKindName(zp->elem()),
                     " differs from input type ", elemKindName(x.elem()));
  ElemKind outKind = scale.elem();
  if (int64_t dt = ctx.attrInt("output_dtype", 0)) {
    if (!elemKindFromOnnx(int(dt), outKind) || outKind != scale.elem())
      return ctx.unsupportedError("output_dtype ", dt,
                                  " differing from the scale type");
  }
  EMBER_ASSIGN(QuantIndexer qi, quantIndexer(ctx, x.dims(), scale, zp));
  (void)qi;
  ctx.setOutput(0, Type(outKind, x.dims()));
  return Status::ok();
}

Status types_QLinearAdd(TypeContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(3);
  if ((a.elem() != ElemKind::U8 && a.elem() != ElemKind::I8) ||
      b.elem() != a.elem())
    return ctx.unsupportedError("operand types ", elemKindName(a.elem()),
                                " and ", elemKindName(b.elem()),
                                " (expected both u8 or both i8)");
  EMBER_TRY(checkScalarParam(ctx, 1, 2, a.elem()));
  EMBER_TRY(checkScalarParam(ctx, 4, 5, a.elem()));
  EMBER_TRY(checkScalarParam(ctx, 6, 7, a.elem()));
  EMBER_ASSIGN(Dims od, broadcastOperands(ctx, a, b));
  ctx.setOutput(0, Type(a.elem(), od));
  return Status::ok();
}

Status types_QLinearGlobalAveragePool(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.elem() != ElemKind::U8 && x.elem() != ElemKind::I8)
    return ctx.unsupportedError("element type ", elemKindName(x.elem()),
                                " (expected u8 or i8)");
  EMBER_TRY(checkScalarParam(ctx, 1, 2, x.elem()));
  EMBER_TRY(checkScalarParam(ctx, 3, 4, x.elem()));
  if (x.rank() < 3)
    return ctx.error("X must have rank >= 3, got ", x.type().toString());
  bool last = ctx.attrInt("channels_last", 0) != 0;
  Dims od = x.dims();
  size_t first = last ? 1 : 2, end = last ? od.size() - 1 : od.size();
  for (size_t d = first; d < end; ++d)
    od[d] = 1;
  ctx.setOutput(0, Type(x.elem(), od));
  return Status::ok();
}
} // namespace ember

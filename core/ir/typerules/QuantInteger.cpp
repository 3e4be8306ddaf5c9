// Type rules of the ops whose reference kernels are in
// interp/kernels/QuantInteger.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

namespace {

bool isStored8(ElemKind k) { return k == ElemKind::U8 || k == ElemKind::I8; }

// A stored activation: 8-bit, or int16 (16x8, docs/quantization.md).
bool isStored(ElemKind k) { return isStored8(k) || k == ElemKind::I16; }

// The `to` attribute of an integer op: u8, i8 or i16.
Expected<ElemKind> storedKind(const TypeContext &ctx) {
  if (!ctx.hasAttr("to"))
    return ctx.error("the 'to' attribute (u8, i8 or i16 result) is required");
  ElemKind k;
  if (!elemKindFromOnnx(int(ctx.attrInt("to")), k) || !isStored(k))
    return ctx.unsupportedError("result type 'to' = ", ctx.attrInt("to"),
                                " (expected u8, i8 or i16)");
  return k;
}

Status checkScalarInt(const TypeContext &ctx, size_t i, const char *what) {
  if (!ctx.has(i))
    return Status::ok();
  const Tensor &t = ctx.in(i);
  if (t.size() != 1 || !isIntKind(t.elem()))
    return ctx.error(what, " must be a single integer, got ",
                     t.type().toString());
  return Status::ok();
}

} // namespace

Expected<RequantizeLayout> requantizeLayout(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  // An i64 input is a 16x8 accumulator: saturated to 48 bits first.
  if (!isIntKind(x.elem()) || x.elem() == ElemKind::U64)
    return ctx.unsupportedError(
        "input type ", elemKindName(x.elem()),
        " (expected an integer of at most 32 bits, or an i64 accumulator)");
  EMBER_ASSIGN(ElemKind yk, storedKind(ctx));
  const Tensor &m = ctx.in(1), &e = ctx.in(2);
  if (m.elem() != ElemKind::I32 || e.elem() != ElemKind::I32 || m.rank() > 1 ||
      e.rank() > 1 || m.size() != e.size() || m.size() < 1)
    return ctx.error("multiplier ", m.type().toString(), " and shift ",
                     e.type().toString(), " must be i32 vectors of one size");
  int64_t axis = 0, axisDim = 1, inner = 1;
  if (m.size() > 1) {
    EMBER_ASSIGN(axis, normalizeAxis(ctx, ctx.attrInt("axis", 1), x.rank()));
    axisDim = x.dim(size_t(axis));
    if (m.size() != axisDim)
      return ctx.error("multiplier has ", m.size(), " entries but axis ", axis,
                       " of ", x.type().toString(), " has ", axisDim);
    for (size_t d = size_t(axis) + 1; d < x.rank(); ++d)
      inner *= x.dim(d);
  }
  RequantizeLayout p;
  p.axis = axis;
  p.axisDim = axisDim;
  p.inner = inner;
  p.kind = yk;
  return p;
}

Status types_Requantize(TypeContext &ctx) {
  EMBER_ASSIGN(RequantizeLayout p, requantizeLayout(ctx));
  EMBER_TRY(checkScalarInt(ctx, 3, "x_zero_point"));
  EMBER_TRY(checkScalarInt(ctx, 4, "y_zero_point"));
  ctx.setOutput(0, Type(p.kind, ctx.in(0).dims()));
  return Status::ok();
}

Status types_QuantizedAdd(TypeContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  if (!isStored(a.elem()) || !isStored(b.elem()))
    return ctx.unsupportedError("operand types ", elemKindName(a.elem()),
                                " and ", elemKindName(b.elem()),
                                " (expected u8, i8 or i16)");
  EMBER_ASSIGN(ElemKind yk, storedKind(ctx));
  EMBER_ASSIGN(Dims od, broadcastOperands(ctx, a, b));
  ctx.setOutput(0, Type(yk, od));
  return Status::ok();
}

Status types_TableLookup(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &t = ctx.in(1);
  if (!isStored8(x.elem()))
    return ctx.unsupportedError("input type ", elemKindName(x.elem()),
                                " (expected u8 or i8)");
  if (t.rank() != 1 || t.size() != 256)
    return ctx.error("table ", t.type().toString(), " must have 256 entries");
  ctx.setOutput(0, Type(t.elem(), x.dims()));
  return Status::ok();
}
} // namespace ember

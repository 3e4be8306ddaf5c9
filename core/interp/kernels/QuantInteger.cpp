// Ember's integer primitives (docs/quantization.md): Requantize,
// QuantizedAdd and TableLookup. The arithmetic is ember/quant/Arith.h, the
// one definition every backend and the NPU's models share.
#include "interp/kernels/QuantUtil.h"

#include "ember/quant/Arith.h"

#include <cstring>

namespace ember {

namespace {

bool isStored8(ElemKind k) { return k == ElemKind::U8 || k == ElemKind::I8; }

// The `to` attribute of an integer op: u8 or i8.
Expected<ElemKind> storedKind(const KernelContext &ctx) {
  if (!ctx.hasAttr("to"))
    return ctx.error("the 'to' attribute (u8 or i8 result) is required");
  ElemKind k;
  if (!elemKindFromOnnx(int(ctx.attrInt("to")), k) || !isStored8(k))
    return ctx.unsupportedError("result type 'to' = ", ctx.attrInt("to"),
                                " (expected u8 or i8)");
  return k;
}

// The clamp range: the attributes min/max intersected with k's range.
quant::Range clampRange(const KernelContext &ctx, ElemKind k) {
  quant::Range r = quant::rangeOf(k == ElemKind::I8);
  int64_t lo = std::max<int64_t>(ctx.attrInt("min", r.lo), r.lo);
  int64_t hi = std::min<int64_t>(ctx.attrInt("max", r.hi), r.hi);
  return {int32_t(lo), int32_t(std::max(lo, hi))};
}

Status checkScalarInt(const KernelContext &ctx, size_t i, const char *what) {
  if (!ctx.has(i))
    return Status::ok();
  const Tensor &t = ctx.in(i);
  if (t.size() != 1 || !isIntKind(t.elem()))
    return ctx.error(what, " must be a single integer, got ",
                     t.type().toString());
  return Status::ok();
}

int32_t scalarOr0(const KernelContext &ctx, size_t i) {
  return ctx.has(i) ? int32_t(ctx.in(i).getInt(0)) : 0;
}

} // namespace

// Requantize(x, multiplier, shift, x_zero_point?, y_zero_point?)
//   y = clamp(MBQM(x - x_zp, m[c], e[c]) + y_zp, max(min, lo), min(max, hi))
// with c the index along `axis` when the tables have more than one entry.
Status kernel_Requantize(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (!isIntKind(x.elem()) || elemSize(x.elem()) > 4)
    return ctx.unsupportedError("input type ", elemKindName(x.elem()),
                                " (expected an integer of at most 32 bits)");
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
  EMBER_TRY(checkScalarInt(ctx, 3, "x_zero_point"));
  EMBER_TRY(checkScalarInt(ctx, 4, "y_zero_point"));
  Tensor &y = ctx.setOutput(0, Type(yk, x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
  quant::Range r = clampRange(ctx, yk);
  int32_t xz = scalarOr0(ctx, 3), yz = scalarOr0(ctx, 4);
  std::vector<quant::Multiplier> mul(size_t(m.size()));
  for (int64_t c = 0; c < m.size(); ++c)
    mul[size_t(c)] = {int32_t(m.getInt(c)), int32_t(e.getInt(c))};
  for (int64_t i = 0; i < x.size(); ++i) {
    size_t c = m.size() == 1 ? 0 : size_t((i / inner) % axisDim);
    y.setInt(
        i, quant::requantize(int32_t(x.getInt(i)), xz, mul[c], yz, r.lo, r.hi));
  }
  return Status::ok();
}

// QuantizedAdd(a, b): TFLite's quantized add with numpy broadcasting; the
// parameters are attributes (a_zero_point, a_multiplier, a_shift, b_...,
// y_..., left_shift, min, max, to).
Status kernel_QuantizedAdd(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  if (!isStored8(a.elem()) || !isStored8(b.elem()))
    return ctx.unsupportedError("operand types ", elemKindName(a.elem()),
                                " and ", elemKindName(b.elem()),
                                " (expected u8 or i8)");
  EMBER_ASSIGN(ElemKind yk, storedKind(ctx));
  Dims od;
  if (!broadcastShapes(a.dims(), b.dims(), od))
    return ctx.error("shapes ", a.type().toString(), " and ",
                     b.type().toString(), " do not broadcast");
  Tensor &y = ctx.setOutput(0, Type(yk, od));
  if (ctx.inferOnly())
    return Status::ok();
  quant::AddParams p;
  p.leftShift = int32_t(ctx.attrInt("left_shift", 20));
  p.aZp = int32_t(ctx.attrInt("a_zero_point"));
  p.bZp = int32_t(ctx.attrInt("b_zero_point"));
  p.yZp = int32_t(ctx.attrInt("y_zero_point"));
  p.a = {int32_t(ctx.attrInt("a_multiplier")), int32_t(ctx.attrInt("a_shift"))};
  p.b = {int32_t(ctx.attrInt("b_multiplier")), int32_t(ctx.attrInt("b_shift"))};
  p.y = {int32_t(ctx.attrInt("y_multiplier")), int32_t(ctx.attrInt("y_shift"))};
  quant::Range r = clampRange(ctx, yk);
  p.lo = r.lo;
  p.hi = r.hi;
  BroadcastIndexer ia(od, a.dims()), ib(od, b.dims());
  for (int64_t i = 0; i < y.size(); ++i)
    y.setInt(i, quant::quantizedAdd(int32_t(a.getInt(ia.map(i))),
                                    int32_t(b.getInt(ib.map(i))), p));
  return Status::ok();
}

// TableLookup(x, table): y = table[x - lowest(x)] for u8/i8 x and a
// 256-entry table of any type (the result type).
Status kernel_TableLookup(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &t = ctx.in(1);
  if (!isStored8(x.elem()))
    return ctx.unsupportedError("input type ", elemKindName(x.elem()),
                                " (expected u8 or i8)");
  if (t.rank() != 1 || t.size() != 256)
    return ctx.error("table ", t.type().toString(), " must have 256 entries");
  Tensor &y = ctx.setOutput(0, Type(t.elem(), x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
  int64_t lowest = x.elem() == ElemKind::I8 ? -128 : 0;
  size_t es = elemSize(t.elem());
  const uint8_t *tb = t.raw();
  uint8_t *yb = y.raw();
  for (int64_t i = 0; i < x.size(); ++i)
    std::memcpy(yb + size_t(i) * es, tb + size_t(x.getInt(i) - lowest) * es,
                es);
  return Status::ok();
}

} // namespace ember

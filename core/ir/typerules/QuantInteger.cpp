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
  const Tensor &m = ctx.in(1);
  const bool float32 = m.elem() == ElemKind::F32;
  if (float32) {
    // The float32 profile: a float multiplier, no shift.
    if (ctx.has(2))
      return ctx.error("a float32 multiplier ", m.type().toString(),
                       " takes no shift (the shift goes with an i32 "
                       "multiplier)");
    if (m.rank() > 1 || m.size() < 1)
      return ctx.error("multiplier ", m.type().toString(),
                       " must be an f32 vector");
  } else {
    if (!ctx.has(2))
      return ctx.error("an i32 multiplier needs its shift (operand 2); a "
                       "float32-profile Requantize has an f32 multiplier");
    const Tensor &e = ctx.in(2);
    if (m.elem() != ElemKind::I32 || e.elem() != ElemKind::I32 ||
        m.rank() > 1 || e.rank() > 1 || m.size() != e.size() || m.size() < 1)
      return ctx.error("multiplier ", m.type().toString(), " and shift ",
                       e.type().toString(),
                       " must be i32 vectors of one size (or the multiplier "
                       "an f32 vector and no shift)");
  }
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
  const std::string profile =
      ctx.attrString("requant", float32 ? "float32" : "fixed");
  if (!quant::profileFromName(profile, p.profile))
    return ctx.error("requant = '", profile, "' (expected one of ",
                     quant::profileNames(), ")");
  if ((p.profile == quant::RequantProfile::Float32) != float32)
    return ctx.error("requant = '", profile, "' with multiplier ",
                     m.type().toString(),
                     " (float32 takes an f32 multiplier, the integer "
                     "profiles an i32 one)");
  p.axis = axis;
  p.axisDim = axisDim;
  p.inner = inner;
  p.kind = yk;
  p.float32 = float32;
  return p;
}

Status types_Requantize(TypeContext &ctx) {
  EMBER_ASSIGN(RequantizeLayout p, requantizeLayout(ctx));
  EMBER_TRY(checkScalarInt(ctx, 3, "x_zero_point"));
  EMBER_TRY(checkScalarInt(ctx, 4, "y_zero_point"));
  ctx.setOutput(0, Type(p.kind, ctx.in(0).dims()));
  return Status::ok();
}

Expected<QuantizedAddForm> quantizedAddForm(const TypeContext &ctx) {
  QuantizedAddForm f;
  std::string profile = ctx.attrString("requant", "fixed");
  if (!quant::profileFromName(profile, f.profile))
    return ctx.error("requant = '", profile, "' (expected one of ",
                     quant::profileNames(), ")");
  auto need = [&](const char *n) -> Status {
    if (!ctx.hasAttr(n))
      return ctx.error("the '", n, "' attribute is required (",
                       quant::profileName(f.profile), " profile)");
    return Status::ok();
  };
  if (f.profile == quant::RequantProfile::Fixed && ctx.hasAttr("y_scale")) {
    for (const char *n : {"a_scale", "b_scale"})
      EMBER_TRY(need(n));
    quant::AddScales &s = f.scales;
    double sc[3] = {ctx.attrFloat("a_scale"), ctx.attrFloat("b_scale"),
                    ctx.attrFloat("y_scale")};
    for (double v : sc)
      if (!(v > 0) || !std::isfinite(v) || double(float(v)) != v)
        return ctx.error("a_scale ", sc[0], ", b_scale ", sc[1],
                         " and y_scale ", sc[2],
                         " must be positive finite float32 values");
    s.sa = float(sc[0]);
    s.sb = float(sc[1]);
    s.sy = float(sc[2]);
    s.za = int32_t(ctx.attrInt("a_zero_point", 0));
    s.zb = int32_t(ctx.attrInt("b_zero_point", 0));
    s.zy = int32_t(ctx.attrInt("y_zero_point", 0));
    if (!quant::AddExact(s).valid())
      return ctx.error("the scales a_scale ", sc[0], ", b_scale ", sc[1],
                       " and y_scale ", sc[2], " lie more than 2^60 apart");
    f.exact = true;
  } else if (quant::fixedPointRequant(f.profile)) {
    // TFLite's add: the fixed profile's attribute form, or the tflite
    // profile's (the same arithmetic, quant::quantizedAdd).
    quant::AddParams &p = f.fixed;
    p.leftShift = int32_t(ctx.attrInt("left_shift", 20));
    p.aZp = int32_t(ctx.attrInt("a_zero_point", 0));
    p.bZp = int32_t(ctx.attrInt("b_zero_point", 0));
    p.yZp = int32_t(ctx.attrInt("y_zero_point", 0));
    p.a = {int32_t(ctx.attrInt("a_multiplier", 0)),
           int32_t(ctx.attrInt("a_shift", 0))};
    p.b = {int32_t(ctx.attrInt("b_multiplier", 0)),
           int32_t(ctx.attrInt("b_shift", 0))};
    p.y = {int32_t(ctx.attrInt("y_multiplier", 0)),
           int32_t(ctx.attrInt("y_shift", 0))};
  } else {
    for (const char *n : {"a_ratio", "b_ratio"})
      EMBER_TRY(need(n));
    double ra = ctx.attrFloat("a_ratio"), rb = ctx.attrFloat("b_ratio");
    if (!(ra > 0) || !(rb > 0) || !std::isfinite(ra) || !std::isfinite(rb) ||
        double(float(ra)) != ra || double(float(rb)) != rb)
      return ctx.error("a_ratio ", ra, " and b_ratio ", rb,
                       " must be positive finite float32 values");
    f.ratioA = float(ra);
    f.ratioB = float(rb);
    f.aZp = int32_t(ctx.attrInt("a_zero_point", 0));
    f.bZp = int32_t(ctx.attrInt("b_zero_point", 0));
    f.yZp = int32_t(ctx.attrInt("y_zero_point", 0));
  }
  return f;
}

Status types_QuantizedAdd(TypeContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  if (!isStored(a.elem()) || !isStored(b.elem()))
    return ctx.unsupportedError("operand types ", elemKindName(a.elem()),
                                " and ", elemKindName(b.elem()),
                                " (expected u8, i8 or i16)");
  EMBER_ASSIGN(ElemKind yk, storedKind(ctx));
  EMBER_ASSIGN(QuantizedAddForm f, quantizedAddForm(ctx));
  // sat16's 16-bit lanes hold an 8-bit add's rescaled inputs; an int16
  // add is TFLite's in every integer profile (lowering names none).
  if (quant::saturates16(f.profile) &&
      (a.elem() == ElemKind::I16 || b.elem() == ElemKind::I16 ||
       yk == ElemKind::I16))
    return ctx.error("requant = 'sat16' on an int16 add (sat16's add is "
                     "the 8-bit one; the int16 add names no profile)");
  EMBER_ASSIGN(Dims od, broadcastOperands(ctx, a, b));
  ctx.setOutput(0, Type(yk, od));
  return Status::ok();
}

Status types_TableLookup(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &t = ctx.in(1);
  if (x.elem() == ElemKind::I16) {
    // The 16-bit form: TFLite's 513-entry interpolated table of int16.
    if (t.elem() != ElemKind::I16 || t.rank() != 1 ||
        t.size() != quant::kTable16Entries)
      return ctx.error("table ", t.type().toString(),
                       " of an i16 input must be i16[513]");
    ctx.setOutput(0, Type(ElemKind::I16, x.dims()));
    return Status::ok();
  }
  if (!isStored8(x.elem()))
    return ctx.unsupportedError("input type ", elemKindName(x.elem()),
                                " (expected u8, i8 or i16)");
  if (t.rank() != 1 || t.size() != 256)
    return ctx.error("table ", t.type().toString(), " must have 256 entries");
  ctx.setOutput(0, Type(t.elem(), x.dims()));
  return Status::ok();
}

// QuantizedSoftmax: u8/i8 x, an f32[256] table, an axis of x, a positive
// finite float32 scale and a y_zero_point of x's type; y has x's type.
Status types_QuantizedSoftmax(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &t = ctx.in(1);
  if (!isStored8(x.elem()))
    return ctx.unsupportedError("input type ", elemKindName(x.elem()),
                                " (expected u8 or i8)");
  if (t.elem() != ElemKind::F32 || t.rank() != 1 ||
      t.size() != quant::kSoftmaxTableEntries)
    return ctx.error("table ", t.type().toString(), " must be f32[",
                     quant::kSoftmaxTableEntries, "]");
  const int64_t r = int64_t(x.rank()), axis = ctx.attrInt("axis", -1);
  if (axis < -r || axis >= r)
    return ctx.error("axis ", axis, " is out of range for rank ", r);
  const double scale = ctx.attrFloat("scale", 0);
  if (!(scale > 0) || !std::isfinite(scale) || double(float(scale)) != scale)
    return ctx.error("scale ", scale, " must be a positive finite float32");
  const quant::Range range = quant::rangeOf(x.elem() == ElemKind::I8);
  const int64_t zp = ctx.attrInt("y_zero_point", 0);
  if (zp < range.lo || zp > range.hi)
    return ctx.error("y_zero_point ", zp, " is out of range for ",
                     elemKindName(x.elem()));
  ctx.setOutput(0, Type(x.elem(), x.dims()));
  return Status::ok();
}

namespace {

// The axis attribute of an integer softmax or normalization of x, in range.
Expected<int64_t> integerAxis(const TypeContext &ctx, const Tensor &x) {
  const int64_t r = int64_t(x.rank()), axis = ctx.attrInt("axis", -1);
  if (r == 0 || axis < -r || axis >= r)
    return ctx.error("axis ", axis, " is out of range for rank ", r);
  return axis < 0 ? axis + r : axis;
}

// A multiplier attribute pair: an int32 multiplier and a shift in [-31, 30].
Status checkMultiplier(const TypeContext &ctx, const char *mult,
                       const char *shift, bool positive) {
  const int64_t m = ctx.attrInt(mult, -1), e = ctx.attrInt(shift, 0);
  if (m < (positive ? 0 : INT32_MIN) || m > INT32_MAX || e < -31 || e > 30)
    return ctx.error(
        mult, " ", m, " and ", shift, " ", e, " must be an int32 multiplier",
        positive ? " (not negative)" : "", " and a shift in [-31, 30]");
  return Status::ok();
}

// The result kind `to` of an integer transformer op and its y_zero_point
// (0 for i16).
Expected<ElemKind> resultKind(const TypeContext &ctx) {
  EMBER_ASSIGN(ElemKind yk, storedKind(ctx));
  const quant::Range range = yk == ElemKind::I16
                                 ? quant::Range{0, 0}
                                 : quant::rangeOf(yk == ElemKind::I8);
  const int64_t zp = ctx.attrInt("y_zero_point", 0);
  if (zp < range.lo || zp > range.hi)
    return ctx.error("y_zero_point ", zp, " is out of range for ",
                     elemKindName(yk));
  return yk;
}

} // namespace

// IntegerSoftmax: u8/i8/i16 x, an axis of x, the input multiplier (log2
// units, Q16) and the output multiplier (1 / s_y); y of kind `to`, x's
// shape.
Status types_IntegerSoftmax(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (!isStored(x.elem()))
    return ctx.unsupportedError("input type ", elemKindName(x.elem()),
                                " (expected u8, i8 or i16)");
  EMBER_TRY(integerAxis(ctx, x).status());
  EMBER_TRY(checkMultiplier(ctx, "in_multiplier", "in_shift", true));
  EMBER_TRY(checkMultiplier(ctx, "out_multiplier", "out_shift", true));
  EMBER_ASSIGN(ElemKind yk, resultKind(ctx));
  ctx.setOutput(0, Type(yk, x.dims()));
  return Status::ok();
}

// IntegerNormalization: u8/i8/i16 x normalized over the axes from `axis`
// on (at most 2^20 elements a row), i32 multiplier and shift and i64 bias of
// one entry or one per element of a row, a non-negative epsilon and an
// x_zero_point of x's range; y of kind `to`, x's shape.
Status types_IntegerNormalization(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (!isStored(x.elem()))
    return ctx.unsupportedError("input type ", elemKindName(x.elem()),
                                " (expected u8, i8 or i16)");
  EMBER_ASSIGN(int64_t axis, integerAxis(ctx, x));
  int64_t row = 1;
  for (size_t d = size_t(axis); d < x.rank(); ++d)
    row *= x.dims()[d];
  if (row > (int64_t(1) << 20))
    return ctx.unsupportedError("a row of ", row,
                                " elements (at most 2^20 are normalized)");
  const ElemKind want[3] = {ElemKind::I32, ElemKind::I32, ElemKind::I64};
  const char *names[3] = {"multiplier", "shift", "bias"};
  for (size_t i = 1; i < 4; ++i) {
    const Tensor &t = ctx.in(i);
    if (t.elem() != want[i - 1] || t.rank() > 1 ||
        (t.size() != 1 && t.size() != row) || t.size() != ctx.in(1).size())
      return ctx.error(names[i - 1], " ", t.type().toString(), " must be ",
                       elemKindName(want[i - 1]), "[1] or [", row,
                       "], like the multiplier");
  }
  if (ctx.attrInt("epsilon", 0) < 0)
    return ctx.error("epsilon ", ctx.attrInt("epsilon", 0),
                     " must not be negative");
  const quant::Range xr = x.elem() == ElemKind::I16
                              ? quant::Range{0, 0}
                              : quant::rangeOf(x.elem() == ElemKind::I8);
  const int64_t xz = ctx.attrInt("x_zero_point", 0);
  if (xz < xr.lo || xz > xr.hi)
    return ctx.error("x_zero_point ", xz, " is out of range for ",
                     elemKindName(x.elem()));
  EMBER_ASSIGN(ElemKind yk, resultKind(ctx));
  ctx.setOutput(0, Type(yk, x.dims()));
  return Status::ok();
}
} // namespace ember

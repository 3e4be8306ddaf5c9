// Ember's integer primitives (docs/quantization.md): Requantize,
// QuantizedAdd, TableLookup and QuantizedSoftmax. The arithmetic is
// ember/quant/Arith.h, the one definition every backend and the NPU's models
// share.
#include "interp/kernels/QuantUtil.h"

#include "ember/quant/Arith.h"

#include <cstring>

namespace ember {

namespace {

// The clamp range: the attributes min/max intersected with k's range.
quant::Range clampRange(const KernelContext &ctx, ElemKind k) {
  quant::Range r = k == ElemKind::I16 ? quant::rangeOf(true, 16)
                                      : quant::rangeOf(k == ElemKind::I8);
  int64_t lo = std::max<int64_t>(ctx.attrInt("min", r.lo), r.lo);
  int64_t hi = std::min<int64_t>(ctx.attrInt("max", r.hi), r.hi);
  return {int32_t(lo), int32_t(std::max(lo, hi))};
}

int32_t scalarOr0(const KernelContext &ctx, size_t i) {
  return ctx.has(i) ? int32_t(ctx.in(i).getInt(0)) : 0;
}

} // namespace

// Requantize(x, multiplier, shift?, x_zero_point?, y_zero_point?)
//   fixed:   y = clamp(MBQM(x - x_zp, m[c], e[c]) + y_zp, max(min, lo),
//                      min(max, hi))
//   gemmlowp (`requant`): MBQM's rescale as gemmlowp's two roundings
//            (quant::mbqmDoubling); tflite as fixed
//   float32: y = clamp(rne(f32(f32(x - x_zp) * m[c])) + y_zp, ...)
//            (an f32 multiplier and no shift)
// with c the index along `axis` when the tables have more than one entry.
// An i64 x is a 16x8 accumulator: MBQM64 of x - x_zp saturated to 48 bits
// (requantize16x8).
Status kernel_Requantize(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  const Tensor &m = ctx.in(1);
  EMBER_ASSIGN(RequantizeLayout lay, requantizeLayout(ctx));
  int64_t axisDim = lay.axisDim, inner = lay.inner;
  Tensor &y = ctx.out(0);
  quant::Range r = clampRange(ctx, y.elem());
  int32_t xz = scalarOr0(ctx, 3), yz = scalarOr0(ctx, 4);
  if (lay.float32) {
    const float *scale = m.data<float>();
    for (int64_t i = 0; i < x.size(); ++i) {
      size_t c = m.size() == 1 ? 0 : size_t((i / inner) % axisDim);
      y.setInt(i, quant::requantizeFloat32(int32_t(x.getInt(i)), xz, scale[c],
                                           yz, r.lo, r.hi));
    }
    return Status::ok();
  }
  const Tensor &e = ctx.in(2);
  std::vector<quant::Multiplier> mul(size_t(m.size()));
  for (int64_t c = 0; c < m.size(); ++c)
    mul[size_t(c)] = {int32_t(m.getInt(c)), int32_t(e.getInt(c))};
  const bool wide = x.elem() == ElemKind::I64;
  for (int64_t i = 0; i < x.size(); ++i) {
    size_t c = m.size() == 1 ? 0 : size_t((i / inner) % axisDim);
    if (wide)
      y.setInt(i, quant::requantize16x8(x.getInt(i) - int64_t(xz), mul[c], yz,
                                        r.lo, r.hi));
    else
      y.setInt(i, quant::requantizeIn(lay.profile, int32_t(x.getInt(i)), xz,
                                      mul[c], yz, r.lo, r.hi));
  }
  return Status::ok();
}

// QuantizedAdd(a, b) with numpy broadcasting, in the profile its `requant`
// attribute names (docs/quantization.md): fixed, the exact add
// (quant::AddExact: a_/b_/y_scale and zero points) or TFLite's
// (quant::quantizedAddIn: left_shift and the a_/b_/y_ zero_point,
// multiplier and shift; the int16 add; `requant` tflite, or gemmlowp with
// two roundings a rescale), or float32, ONNX Runtime's QLinearAdd
// (quant::addFloat32: a_ratio, b_ratio, a/b/y_zero_point); min, max and to
// as for Requantize.
Status kernel_QuantizedAdd(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  Tensor &y = ctx.out(0);
  EMBER_ASSIGN(QuantizedAddForm f, quantizedAddForm(ctx));
  quant::Range r = clampRange(ctx, y.elem());
  BroadcastIndexer ia(y.dims(), a.dims()), ib(y.dims(), b.dims());
  if (f.profile == quant::RequantProfile::Float32) {
    quant::AddFloat32 p = quant::makeAddFloat32(f.ratioA, f.aZp, f.ratioB,
                                                f.bZp, f.yZp, r.lo, r.hi);
    for (int64_t i = 0; i < y.size(); ++i)
      y.setInt(i, quant::addFloat32(int32_t(a.getInt(ia.map(i))),
                                    int32_t(b.getInt(ib.map(i))), p));
    return Status::ok();
  }
  if (f.exact) {
    quant::AddExact e(f.scales);
    for (int64_t i = 0; i < y.size(); ++i)
      y.setInt(i, quant::addExact(int32_t(a.getInt(ia.map(i))),
                                  int32_t(b.getInt(ib.map(i))), e, r.lo, r.hi));
    return Status::ok();
  }
  quant::AddParams p = f.fixed;
  p.lo = r.lo;
  p.hi = r.hi;
  for (int64_t i = 0; i < y.size(); ++i)
    y.setInt(i, quant::quantizedAddIn(f.profile, int32_t(a.getInt(ia.map(i))),
                                      int32_t(b.getInt(ib.map(i))), p));
  return Status::ok();
}

// TableLookup(x, table): y = table[x - lowest(x)] for u8/i8 x and a
// 256-entry table of any type (the result type); for i16 x, the 513-entry
// interpolated i16 table of quant::tableLookup16.
Status kernel_TableLookup(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &t = ctx.in(1);
  Tensor &y = ctx.out(0);
  if (x.elem() == ElemKind::I16) { // quant::tableLookup16 (TFLite's LUT)
    const int16_t *tb = reinterpret_cast<const int16_t *>(t.raw());
    for (int64_t i = 0; i < x.size(); ++i)
      y.setInt(i, quant::tableLookup16(int32_t(x.getInt(i)), tb));
    return Status::ok();
  }
  int64_t lowest = x.elem() == ElemKind::I8 ? -128 : 0;
  size_t es = elemSize(t.elem());
  const uint8_t *tb = t.raw();
  uint8_t *yb = y.raw();
  for (int64_t i = 0; i < x.size(); ++i)
    std::memcpy(yb + size_t(i) * es, tb + size_t(x.getInt(i) - lowest) * es,
                es);
  return Status::ok();
}

// QuantizedSoftmax(x, table) {axis, scale, y_zero_point}: each line along
// the axis as quant::softmaxLine computes it.
Status kernel_QuantizedSoftmax(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &t = ctx.in(1);
  Tensor &y = ctx.out(0);
  const int64_t r = int64_t(x.rank());
  int64_t axis = ctx.attrInt("axis", -1);
  if (axis < 0)
    axis += r;
  int64_t outer = 1, n = x.dims()[size_t(axis)], inner = 1;
  for (int64_t d = 0; d < r; ++d)
    if (d != axis)
      (d < axis ? outer : inner) *= x.dims()[size_t(d)];
  if (x.size() == 0)
    return Status::ok();
  const float *table = t.data<float>();
  const float scale = float(ctx.attrFloat("scale", 1));
  const int32_t zp = int32_t(ctx.attrInt("y_zero_point", 0));
  auto lines = [&](auto *px, auto *py) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i)
        quant::softmaxLine(px + o * n * inner + i, py + o * n * inner + i, n,
                           inner, table, scale, zp);
  };
  if (x.elem() == ElemKind::I8)
    lines(x.data<int8_t>(), y.data<int8_t>());
  else
    lines(x.data<uint8_t>(), y.data<uint8_t>());
  return Status::ok();
}

} // namespace ember

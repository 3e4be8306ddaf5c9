#include "lower/IntegerForms.h"

#include "ember/quant/Arith.h"

#include <cmath>
#include <limits>

namespace ember {

int64_t lowestOf(ElemKind k) {
  return k == ElemKind::I16 ? quant::kInt16Min : k == ElemKind::I8 ? -128 : 0;
}
int64_t highestOf(ElemKind k) {
  return k == ElemKind::I16 ? quant::kInt16Max : k == ElemKind::I8 ? 127 : 255;
}

std::optional<QParams> constantQParams(Value scale, Value zeroPoint,
                                       ElemKind kind, int64_t axis) {
  const Tensor *s = constantOf(scale);
  if (!s || s->rank() > 1 || s->size() < 1 || !isFloatKind(s->elem()))
    return std::nullopt;
  QParams p;
  p.kind = kind;
  p.axis = axis;
  for (int64_t i = 0; i < s->size(); ++i) {
    double v = s->getDouble(i);
    if (!(v > 0) || !std::isfinite(v))
      return std::nullopt;
    p.scales.push_back(v);
  }
  if (zeroPoint.node) {
    const Tensor *z = constantOf(zeroPoint);
    if (!z || z->rank() > 1 || z->size() != s->size() || !isIntKind(z->elem()))
      return std::nullopt;
    for (int64_t i = 0; i < z->size(); ++i)
      p.zeroPoints.push_back(z->getInt(i));
  } else {
    p.zeroPoints.assign(p.scales.size(), 0);
  }
  // A per-channel table whose entries are all equal is per tensor.
  bool uniform = true;
  for (size_t i = 1; i < p.scales.size(); ++i)
    uniform = uniform && p.scales[i] == p.scales[0] &&
              p.zeroPoints[i] == p.zeroPoints[0];
  if (uniform) {
    p.scales.resize(1);
    p.zeroPoints.resize(1);
  }
  return p;
}

namespace {
std::optional<QParams> nodeParams(const Node &n, ElemKind kind, size_t rank) {
  if (n.attrInt("block_size", 0) != 0)
    return std::nullopt;
  int64_t axis = n.attrInt("axis", 1);
  if (axis < 0)
    axis += int64_t(rank);
  return constantQParams(n.inputs[1], n.hasInput(2) ? n.inputs[2] : Value(),
                         kind, axis);
}
} // namespace

std::optional<QParams> dequantizeParams(const Node &dq) {
  if (dq.kind != OpKind::DequantizeLinear)
    return std::nullopt;
  const Type &t = dq.inputs[0].type();
  return nodeParams(dq, t.elem(), t.rank());
}

std::optional<QParams> quantizeParams(const Node &q) {
  if (q.kind != OpKind::QuantizeLinear)
    return std::nullopt;
  return nodeParams(q, q.types[0].elem(), q.types[0].rank());
}

int64_t quantizeReal(double v, const QParams &p) {
  double q = std::nearbyint(double(float(v) / float(p.scale())));
  double r = q + double(p.zeroPoint());
  return int64_t(std::max(double(lowestOf(p.kind)),
                          std::min(double(highestOf(p.kind)), r)));
}

Value scalarOf(LoweringBuilder &b, ElemKind k, int64_t v,
               const std::string &what) {
  return b.constant(Tensor::scalar(k, double(v)), what);
}

Expected<Value> buildRequantize(LoweringBuilder &b, Value acc,
                                const std::vector<double> &real, int64_t axis,
                                int64_t xZeroPoint, const QParams &out,
                                int64_t lo, int64_t hi) {
  std::vector<int64_t> mult, shift;
  for (double m : real) {
    quant::Multiplier q = quant::quantizeMultiplier(m);
    mult.push_back(q.mult);
    shift.push_back(q.shift);
  }
  bool uniform = true;
  for (size_t i = 1; i < mult.size(); ++i)
    uniform = uniform && mult[i] == mult[0] && shift[i] == shift[0];
  if (uniform) {
    mult.resize(1);
    shift.resize(1);
  }
  AttrMap attrs{{"to", Attr::ofInt(elemKindToOnnx(out.kind))}};
  if (mult.size() > 1)
    attrs["axis"] = Attr::ofInt(axis);
  if (lo > lowestOf(out.kind))
    attrs["min"] = Attr::ofInt(lo);
  if (hi < highestOf(out.kind))
    attrs["max"] = Attr::ofInt(hi);
  std::vector<Value> ins{
      acc, b.constant(Tensor::fromInts(ElemKind::I32, mult), "multiplier"),
      b.constant(Tensor::fromInts(ElemKind::I32, shift), "shift")};
  ins.push_back(xZeroPoint
                    ? scalarOf(b, acc.type().elem(), xZeroPoint, "x_zero_point")
                    : Value());
  ins.push_back(scalarOf(b, out.kind, out.zeroPoint(), "y_zero_point"));
  return b.op(OpKind::Requantize, std::move(ins), std::move(attrs));
}

Tensor accumulatorBias(const Tensor &stored, const QParams *params, double sx,
                       const QParams &w, int64_t channels, ElemKind acc) {
  Tensor t(Type(acc, {channels}));
  for (int64_t c = 0; c < channels; ++c) {
    int64_t i = stored.size() == 1 ? 0 : c;
    double accScale = sx * w.scale(size_t(c));
    if (params && stored.elem() == ElemKind::I32) {
      double sb = params->scale(size_t(c));
      float f32Product = float(sx) * float(w.scale(size_t(c)));
      if ((sb == double(f32Product) || sb == accScale) &&
          params->zeroPoint(size_t(c)) == 0) {
        t.setInt(c, stored.getInt(i));
        continue;
      }
    }
    double real =
        params ? double(stored.getInt(i) - params->zeroPoint(size_t(c))) *
                     params->scale(size_t(c))
               : stored.getDouble(i);
    double q = std::nearbyint(real / accScale);
    // int64 (16x8): saturated to +-2^62, far beyond the 48 bits the
    // requantization reads, and exact in double.
    double lo = acc == ElemKind::I64
                    ? -0x1p62
                    : double(std::numeric_limits<int32_t>::min()),
           hi = acc == ElemKind::I64
                    ? 0x1p62
                    : double(std::numeric_limits<int32_t>::max());
    t.setInt(c, std::isnan(q) ? 0 : int64_t(std::max(lo, std::min(hi, q))));
  }
  return t;
}

Expected<Value> buildQuantizedAdd(LoweringBuilder &b, Value a,
                                  const QParams &pa, Value bv,
                                  const QParams &pb, const QParams &out,
                                  int64_t lo, int64_t hi) {
  // With a 16-bit operand or result: TFLite's int16 add, left shift 15 (an
  // int16 value shifted by 15 stays within int32; docs/quantization.md).
  const bool wide = pa.kind == ElemKind::I16 || pb.kind == ElemKind::I16 ||
                    out.kind == ElemKind::I16;
  quant::AddParams p = quant::makeAddParams(
      pa.scale(), int32_t(pa.zeroPoint()), pb.scale(), int32_t(pb.zeroPoint()),
      out.scale(), int32_t(out.zeroPoint()), int32_t(lo), int32_t(hi),
      wide ? 15 : 20);
  AttrMap attrs{{"to", Attr::ofInt(elemKindToOnnx(out.kind))},
                {"left_shift", Attr::ofInt(p.leftShift)},
                {"a_zero_point", Attr::ofInt(p.aZp)},
                {"a_multiplier", Attr::ofInt(p.a.mult)},
                {"a_shift", Attr::ofInt(p.a.shift)},
                {"b_zero_point", Attr::ofInt(p.bZp)},
                {"b_multiplier", Attr::ofInt(p.b.mult)},
                {"b_shift", Attr::ofInt(p.b.shift)},
                {"y_zero_point", Attr::ofInt(p.yZp)},
                {"y_multiplier", Attr::ofInt(p.y.mult)},
                {"y_shift", Attr::ofInt(p.y.shift)}};
  if (lo > lowestOf(out.kind))
    attrs["min"] = Attr::ofInt(lo);
  if (hi < highestOf(out.kind))
    attrs["max"] = Attr::ofInt(hi);
  return b.op(OpKind::QuantizedAdd, {a, bv}, std::move(attrs));
}

Expected<Value> centeredInt32(LoweringBuilder &b, Value x, const QParams &px) {
  EMBER_ASSIGN(Value c,
               b.op(OpKind::Cast, {x},
                    {{"to", Attr::ofInt(elemKindToOnnx(ElemKind::I32))}}));
  if (px.zeroPoint() == 0)
    return c;
  return b.op(OpKind::Sub,
              {c, scalarOf(b, ElemKind::I32, px.zeroPoint(), "zero_point")});
}

} // namespace ember

#include "lower/IntegerForms.h"

#include "ember/quant/Arith.h"
#include "interp/Interpreter.h"
#include "lower/ChannelScales.h"

#include <algorithm>
#include <cmath>
#include <cstring>
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

namespace {

bool unaryStored8(ElemKind k) { return k == ElemKind::U8 || k == ElemKind::I8; }

// x (parameters px) at py, clamped to [lo, hi]: itself when nothing changes.
Expected<Value> rescaledTo(LoweringBuilder &b, Value x, const QParams &px,
                           const QParams &py, int64_t lo, int64_t hi,
                           quant::RequantProfile profile) {
  if (px == py && lo <= lowestOf(py.kind) && hi >= highestOf(py.kind))
    return x;
  if (profile == quant::RequantProfile::Float32)
    return buildRescaleTable(b, x, px, py, lo, hi);
  return buildRequantize(b, x, {{px.scale() / py.scale()}, {}}, 0,
                         px.zeroPoint(), py, lo, hi, profile);
}

// PRelu's slopes: one, or one per channel of x (a constant whose only
// dimension above 1 lines up with x's axis 1); empty when neither, or when
// a slope is negative or not finite.
std::vector<double> preluSlopes(const Tensor &s, const Dims &xd) {
  const Dims &sd = s.dims();
  if (s.size() != 1) {
    if (xd.size() < 2 || sd.size() > xd.size() || s.size() != xd[1])
      return {};
    for (size_t j = 0; j < sd.size(); ++j)
      if (sd[j] != 1 && xd.size() - sd.size() + j != 1)
        return {};
  }
  std::vector<double> slopes = s.toDoubles();
  for (double v : slopes)
    if (!(v >= 0) || !std::isfinite(v))
      return {};
  return slopes;
}

// n as a product of factors of at most 16, the largest first; empty when
// it has a prime factor above 16.
std::vector<int64_t> windowFactors(int64_t n) {
  std::vector<int64_t> f;
  while (n > 1) {
    int64_t d = std::min<int64_t>(n, 16);
    while (d > 1 && n % d)
      --d;
    if (d < 2)
      return {};
    f.push_back(d);
    n /= d;
  }
  return f;
}

// The max over a rank-4 map's pixels as MaxPools of windows that tile it.
Expected<std::optional<Value>> globalMax(LoweringBuilder &b, Value q) {
  const Dims &d = q.type().dims();
  if (d.size() != 4 || d[2] < 1 || d[3] < 1)
    return std::optional<Value>();
  const std::vector<int64_t> fh = windowFactors(d[2]), fw = windowFactors(d[3]);
  if ((d[2] > 1 && fh.empty()) || (d[3] > 1 && fw.empty()))
    return std::optional<Value>();
  Value y = q;
  for (size_t k = 0; k < std::max<size_t>({fh.size(), fw.size(), 1}); ++k) {
    const int64_t kh = k < fh.size() ? fh[k] : 1,
                  kw = k < fw.size() ? fw[k] : 1;
    AttrMap a;
    a["kernel_shape"] = Attr::ofInts({kh, kw});
    a["strides"] = Attr::ofInts({kh, kw});
    EMBER_ASSIGN(y, b.op(OpKind::MaxPool, {y}, a));
  }
  return std::optional<Value>(y);
}

} // namespace

Expected<std::optional<Value>>
integerUnaryForm(LoweringBuilder &b, const Node &n, Value q, const QParams &px,
                 const QParams &py, int64_t lo, int64_t hi,
                 quant::RequantProfile profile) {
  const std::optional<Value> none;
  if (!px.perTensor() || !unaryStored8(px.kind))
    return none;
  if (n.kind == OpKind::Pad) {
    if (n.numResults() != 1 || !n.hasInput(1) ||
        n.attrString("mode", "constant") != "constant")
      return none;
    if (n.hasInput(2)) {
      const Tensor *v = constantOf(n.inputs[2]);
      if (!v || v->size() != 1 || v->getDouble(0) != 0.0)
        return none;
    }
    std::vector<Value> ins = {q, n.inputs[1],
                              scalarOf(b, px.kind, px.zeroPoint(), "pad")};
    if (n.hasInput(3))
      ins.push_back(n.inputs[3]); // axes
    EMBER_ASSIGN(Value padded, b.op(OpKind::Pad, ins, n.attrs));
    EMBER_ASSIGN(Value y, rescaledTo(b, padded, px, py, lo, hi, profile));
    return std::optional<Value>(y);
  }
  if (n.kind == OpKind::GlobalMaxPool) {
    EMBER_ASSIGN(std::optional<Value> m, globalMax(b, q));
    if (!m)
      return none;
    EMBER_ASSIGN(Value y, rescaledTo(b, *m, px, py, lo, hi, profile));
    return std::optional<Value>(y);
  }
  if (n.kind != OpKind::PRelu || profile == quant::RequantProfile::Float32 ||
      !py.perTensor() || !unaryStored8(py.kind))
    return none;
  const Tensor *slope = constantOf(n.inputs[1]);
  const std::vector<double> a =
      slope ? preluSlopes(*slope, q.type().dims()) : std::vector<double>();
  if (a.empty())
    return none;
  const double r = px.scale() / py.scale();
  const int64_t zy = py.zeroPoint();
  EMBER_ASSIGN(Value pos, buildRequantize(b, q, {{r}, {}}, 0, px.zeroPoint(),
                                          py, zy, highestOf(py.kind), profile));
  Rescale neg;
  for (double v : a)
    neg.real.push_back(v * r);
  EMBER_ASSIGN(Value ng, buildRequantize(b, q, neg, 1, px.zeroPoint(), py,
                                         lowestOf(py.kind), zy, profile));
  return buildQuantizedAdd(b, pos, py, ng, py, py, lo, hi, profile);
}

Value scalarOf(LoweringBuilder &b, ElemKind k, int64_t v,
               const std::string &what) {
  return b.constant(Tensor::scalar(k, double(v)), what);
}

Expected<Value> buildRequantize(LoweringBuilder &b, Value acc,
                                const Rescale &scale, int64_t axis,
                                int64_t xZeroPoint, const QParams &out,
                                int64_t lo, int64_t hi,
                                quant::RequantProfile profile) {
  AttrMap attrs{{"to", Attr::ofInt(elemKindToOnnx(out.kind))}};
  if (lo > lowestOf(out.kind))
    attrs["min"] = Attr::ofInt(lo);
  if (hi < highestOf(out.kind))
    attrs["max"] = Attr::ofInt(hi);
  auto zeroPoints = [&](std::vector<Value> &ins) {
    ins.push_back(
        xZeroPoint ? scalarOf(b, acc.type().elem(), xZeroPoint, "x_zero_point")
                   : Value());
    ins.push_back(scalarOf(b, out.kind, out.zeroPoint(), "y_zero_point"));
  };
  if (profile == quant::RequantProfile::Float32) {
    std::vector<float> m = scale.f32;
    bool uniform = true;
    for (size_t i = 1; i < m.size(); ++i)
      uniform = uniform && m[i] == m[0];
    if (uniform)
      m.resize(1);
    if (m.size() > 1)
      attrs["axis"] = Attr::ofInt(axis);
    Tensor t(Type(ElemKind::F32, {int64_t(m.size())}));
    for (size_t i = 0; i < m.size(); ++i)
      t.data<float>()[i] = m[i];
    std::vector<Value> ins{acc, b.constant(std::move(t), "multiplier"),
                           Value()};
    zeroPoints(ins);
    return b.op(OpKind::Requantize, std::move(ins), std::move(attrs));
  }
  std::vector<int64_t> mult, shift;
  for (double m : scale.real) {
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
  if (mult.size() > 1)
    attrs["axis"] = Attr::ofInt(axis);
  // gemmlowp's rescale rounds twice: the node names its profile (the
  // others round once, as fixed, and keep the form they always had).
  if (quant::doublingRescale(profile))
    attrs["requant"] = Attr::ofString(quant::profileName(profile));
  std::vector<Value> ins{
      acc, b.constant(Tensor::fromInts(ElemKind::I32, mult), "multiplier"),
      b.constant(Tensor::fromInts(ElemKind::I32, shift), "shift")};
  zeroPoints(ins);
  return b.op(OpKind::Requantize, std::move(ins), std::move(attrs));
}

Tensor accumulatorBias(const Tensor &stored, const QParams *params, double sx,
                       const QParams &w, int64_t channels, ElemKind acc) {
  return accumulatorBias(stored, params, std::vector<double>{sx}, w, channels,
                         acc);
}

Tensor accumulatorBias(const Tensor &stored, const QParams *params,
                       const std::vector<double> &sxs, const QParams &w,
                       int64_t channels, ElemKind acc) {
  Tensor t(Type(acc, {channels}));
  for (int64_t c = 0; c < channels; ++c) {
    double sx = sxs[sxs.size() == 1 ? 0 : size_t(c)];
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

namespace {

// Whether ONNX Runtime's broadcast loop gives operand `in` of an add of
// result shape `out` as one value per innermost span: the innermost result
// dimension larger than 1 is 1 in it (or it has one element).
bool scalarPerSpan(const Dims &in, const Dims &out) {
  int64_t n = 1;
  for (int64_t d : in)
    n *= d;
  if (n == 1)
    return true;
  for (size_t i = out.size(); i-- > 0;) {
    if (out[i] == 1)
      continue;
    size_t off = out.size() - in.size();
    return i < off || in[i - off] == 1;
  }
  return false;
}

} // namespace

Expected<std::optional<Value>>
buildQuantizedAdd(LoweringBuilder &b, Value a, const QParams &pa, Value bv,
                  const QParams &pb, const QParams &out, int64_t lo, int64_t hi,
                  quant::RequantProfile profile) {
  AttrMap attrs{{"to", Attr::ofInt(elemKindToOnnx(out.kind))}};
  if (lo > lowestOf(out.kind))
    attrs["min"] = Attr::ofInt(lo);
  if (hi < highestOf(out.kind))
    attrs["max"] = Attr::ofInt(hi);
  if (profile == quant::RequantProfile::Float32) {
    // QLinearAdd's operands: one repeated over the span is passed second.
    const Dims &ad = a.type().dims(), &bd = bv.type().dims();
    Dims res(std::max(ad.size(), bd.size()), 1);
    for (size_t i = 0; i < res.size(); ++i) {
      int64_t x =
          i + ad.size() >= res.size() ? ad[i + ad.size() - res.size()] : 1;
      int64_t y =
          i + bd.size() >= res.size() ? bd[i + bd.size() - res.size()] : 1;
      res[i] = std::max(x, y);
    }
    bool swap = scalarPerSpan(ad, res);
    const QParams &p0 = swap ? pb : pa, &p1 = swap ? pa : pb;
    float sy = float(out.scale());
    attrs["requant"] = Attr::ofString("float32");
    attrs["a_ratio"] = Attr::ofFloat(double(float(p0.scale()) / sy));
    attrs["b_ratio"] = Attr::ofFloat(double(float(p1.scale()) / sy));
    attrs["a_zero_point"] = Attr::ofInt(p0.zeroPoint());
    attrs["b_zero_point"] = Attr::ofInt(p1.zeroPoint());
    attrs["y_zero_point"] = Attr::ofInt(out.zeroPoint());
    EMBER_ASSIGN(Value y, b.op(OpKind::QuantizedAdd,
                               swap ? std::vector<Value>{bv, a}
                                    : std::vector<Value>{a, bv},
                               std::move(attrs)));
    return std::optional<Value>(y);
  }
  // With a 16-bit operand or result: TFLite's int16 add, left shift 15 (an
  // int16 value shifted by 15 stays within int32; docs/quantization.md).
  const bool wide = pa.kind == ElemKind::I16 || pb.kind == ElemKind::I16 ||
                    out.kind == ElemKind::I16;
  if (!wide && quant::exactAdd(profile)) {
    // 8-bit: the exact add, written with its scales (the float32 values
    // the QDQ nodes hold).
    quant::AddScales s;
    s.sa = float(pa.scale());
    s.sb = float(pb.scale());
    s.sy = float(out.scale());
    s.za = int32_t(pa.zeroPoint());
    s.zb = int32_t(pb.zeroPoint());
    s.zy = int32_t(out.zeroPoint());
    if (!quant::AddExact(s).valid())
      return std::optional<Value>();
    attrs["a_scale"] = Attr::ofFloat(double(s.sa));
    attrs["b_scale"] = Attr::ofFloat(double(s.sb));
    attrs["y_scale"] = Attr::ofFloat(double(s.sy));
    attrs["a_zero_point"] = Attr::ofInt(s.za);
    attrs["b_zero_point"] = Attr::ofInt(s.zb);
    attrs["y_zero_point"] = Attr::ofInt(s.zy);
    EMBER_ASSIGN(Value y,
                 b.op(OpKind::QuantizedAdd, {a, bv}, std::move(attrs)));
    return std::optional<Value>(y);
  }
  quant::AddParams p = quant::makeAddParams(
      pa.scale(), int32_t(pa.zeroPoint()), pb.scale(), int32_t(pb.zeroPoint()),
      out.scale(), int32_t(out.zeroPoint()), int32_t(lo), int32_t(hi),
      quant::addLeftShift(profile, wide));
  // The tflite, gemmlowp and sat16 profiles name themselves; the fixed
  // profile's int16 add keeps the attribute form it always had (tflite's
  // arithmetic), as does sat16's (its 16-bit lanes are the 8-bit add's).
  if (profile != quant::RequantProfile::Fixed &&
      !(wide && quant::saturates16(profile)))
    attrs["requant"] = Attr::ofString(quant::profileName(profile));
  attrs["left_shift"] = Attr::ofInt(p.leftShift);
  attrs["a_zero_point"] = Attr::ofInt(p.aZp);
  attrs["a_multiplier"] = Attr::ofInt(p.a.mult);
  attrs["a_shift"] = Attr::ofInt(p.a.shift);
  attrs["b_zero_point"] = Attr::ofInt(p.bZp);
  attrs["b_multiplier"] = Attr::ofInt(p.b.mult);
  attrs["b_shift"] = Attr::ofInt(p.b.shift);
  attrs["y_zero_point"] = Attr::ofInt(p.yZp);
  attrs["y_multiplier"] = Attr::ofInt(p.y.mult);
  attrs["y_shift"] = Attr::ofInt(p.y.shift);
  EMBER_ASSIGN(Value y, b.op(OpKind::QuantizedAdd, {a, bv}, std::move(attrs)));
  return std::optional<Value>(y);
}

Expected<Value> buildRescaleTable(LoweringBuilder &b, Value x,
                                  const QParams &px, const QParams &py,
                                  int64_t lo, int64_t hi) {
  // DequantizeLinear and QuantizeLinear as ONNX defines them (and Ember's
  // reference kernels compute them): f32(f32(q - zx) sx), then
  // rne(v / sy) + zy, saturated.
  Tensor t(Type(py.kind, {256}));
  float sx = float(px.scale()), sy = float(py.scale());
  int64_t lowest = lowestOf(px.kind);
  for (int64_t i = 0; i < 256; ++i) {
    float v = float(lowest + i - px.zeroPoint()) * sx;
    float q = quant::roundHalfEven(v / sy);
    int64_t r = int64_t(std::max(-1e9f, std::min(1e9f, q))) + py.zeroPoint();
    r = std::max(lowestOf(py.kind), std::min(highestOf(py.kind), r));
    t.setInt(i, std::max(lo, std::min(hi, r)));
  }
  return b.op(OpKind::TableLookup, {x, b.constant(std::move(t), "table")});
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

Expected<Value> buildQuantizedMul(LoweringBuilder &b, Value x,
                                  const QParams &px, Value y, const QParams &py,
                                  const QParams &out, int64_t lo, int64_t hi,
                                  quant::RequantProfile profile) {
  EMBER_ASSIGN(Value cx, centeredInt32(b, x, px));
  EMBER_ASSIGN(Value cy, centeredInt32(b, y, py));
  EMBER_ASSIGN(Value prod, b.op(OpKind::Mul, {cx, cy}));
  if (profile != quant::RequantProfile::Float32)
    return buildRequantize(b, prod,
                           {{px.scale() * py.scale() / out.scale()}, {}}, 0, 0,
                           out, lo, hi, profile);
  // ONNX Runtime's QLinearMul adds the zero point before rounding:
  // rne(f32(f32(f32(prod) * f32(f32(sx * sy) / s_out)) + z_out)), as float
  // ops ending in a QuantizeLinear of scale 1, zero point 0.
  float m = quant::float32Multiplier(float(px.scale()), float(py.scale()),
                                     float(out.scale()));
  EMBER_ASSIGN(Value f,
               b.op(OpKind::Cast, {prod},
                    {{"to", Attr::ofInt(elemKindToOnnx(ElemKind::F32))}}));
  EMBER_ASSIGN(Value v,
               b.op(OpKind::Mul, {f, b.scalar(ElemKind::F32, double(m))}));
  EMBER_ASSIGN(
      Value w,
      b.op(OpKind::Add, {v, b.scalar(ElemKind::F32, double(out.zeroPoint()))}));
  return b.op(OpKind::QuantizeLinear,
              {w, b.scalar(ElemKind::F32, 1.0), scalarOf(b, out.kind, 0)});
}

std::optional<std::vector<double>>
constantFactors(const Tensor &k, const QParams &pk, const Dims &xd) {
  const Dims &td = k.dims();
  if (!pk.perTensor() || xd.empty() || td.size() > xd.size())
    return std::nullopt;
  for (size_t i = 0; i + 1 < td.size(); ++i)
    if (td[i] != 1)
      return std::nullopt;
  if (!td.empty() && td.back() != 1 && td.back() != xd.back())
    return std::nullopt;
  std::vector<double> f;
  for (int64_t i = 0; i < k.size(); ++i) {
    f.push_back(pk.scale() * double(k.getInt(i) - pk.zeroPoint()));
    if (!(f.back() >= 0) || !std::isfinite(f.back()))
      return std::nullopt;
  }
  return f;
}

Expected<Tensor> regionValues(const Node &d, const std::vector<Node *> &members,
                              Value out, const Node *q) {
  ElemKind xk = d.inputs[0].type().elem();
  Function g("table");
  Node *p = g.addPlaceholder("x", Type(xk, {256}));
  std::unordered_map<const Node *, Value> map;
  auto operand = [&](Value v) -> Value {
    if (!v.node)
      return Value();
    auto it = map.find(v.node);
    if (it != map.end())
      return it->second;
    const Tensor *c = constantOf(v);
    Value cv(g.addConstant("c", *c));
    map[v.node] = cv;
    return cv;
  };
  std::vector<Value> dqIns{Value(p)};
  for (size_t i = 1; i < d.inputs.size(); ++i)
    dqIns.push_back(operand(d.inputs[i]));
  EMBER_ASSIGN(Node * dq, g.create(OpKind::DequantizeLinear, dqIns, d.attrs));
  map[&d] = Value(dq);
  for (Node *m : members) {
    std::vector<Value> ins;
    for (auto &in : m->inputs)
      ins.push_back(operand(in));
    EMBER_ASSIGN(Node * c, g.create(m->kind, ins, m->attrs));
    map[m] = Value(c);
  }
  Value y = map.at(out.node);
  if (q) {
    std::vector<Value> qIns{y};
    for (size_t i = 1; i < q->inputs.size(); ++i)
      qIns.push_back(operand(q->inputs[i]));
    EMBER_ASSIGN(Node * qn, g.create(OpKind::QuantizeLinear, qIns, q->attrs));
    y = Value(qn);
  }
  g.addOutput(y, "y");
  Tensor in(Type(xk, {256}));
  int64_t lowest = lowestOf(xk);
  for (int64_t i = 0; i < 256; ++i)
    in.setInt(i, lowest + i);
  EMBER_ASSIGN(auto outs, interpret(g, {in}));
  if (outs.size() != 1)
    return makeError(ErrorCode::Internal, "values of ", d.describe(),
                     "'s region: no result");
  return std::move(outs[0]);
}

Expected<Tensor> regionTable(const Node &d, const std::vector<Node *> &members,
                             const Node &q, const QParams &pq) {
  EMBER_ASSIGN(Tensor t, regionValues(d, members, q.inputs[0], &q));
  if (t.elem() != pq.kind)
    return makeError(ErrorCode::Internal, "table of ", q.describe(),
                     " has the wrong type");
  return t;
}

// Per-channel activation parameters an integer form takes (ChannelScales.h):
// 8-bit, along axis 1, one zero point shared by every channel.
bool perChannelActivation(const QParams &p) {
  if (p.perTensor() || (p.kind != ElemKind::U8 && p.kind != ElemKind::I8) ||
      p.axis != kActivationChannelAxis)
    return false;
  for (int64_t z : p.zeroPoints)
    if (z != p.zeroPoints[0])
      return false;
  return true;
}

// A clamp node's real bounds; false when n is not a clamp with constant
// single-element bounds.
bool clampBounds(const Node &n, double &lo, double &hi) {
  auto bound = [](Value v, double &out) {
    const Tensor *t = constantOf(v);
    if (!t || t->size() != 1)
      return false;
    out = t->getDouble(0);
    return !std::isnan(out);
  };
  lo = -std::numeric_limits<double>::infinity();
  hi = std::numeric_limits<double>::infinity();
  if (n.kind == OpKind::Relu) {
    lo = 0;
    return true;
  }
  if (n.kind == OpKind::Clip) {
    if (n.hasInput(1) && !bound(n.inputs[1], lo))
      return false;
    if (n.hasInput(2) && !bound(n.inputs[2], hi))
      return false;
    return true;
  }
  if (n.kind == OpKind::Max)
    return n.inputs.size() == 2 && bound(n.inputs[1], lo);
  if (n.kind == OpKind::Min)
    return n.inputs.size() == 2 && bound(n.inputs[1], hi);
  return false;
}

// A copy of a constant tensor with its 2-D transpose.
Tensor transpose2d(const Tensor &c) {
  int64_t rows = c.dims()[0], cols = c.dims()[1];
  size_t es = elemSize(c.elem());
  Tensor t(Type(c.elem(), {cols, rows}));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      std::memcpy(t.raw() + size_t(j * rows + i) * es,
                  c.raw() + size_t(i * cols + j) * es, es);
  return t;
}

// The per-channel zero points of a weight as a constant (omitted when all
// are zero).
Value weightZeroPoints(LoweringBuilder &b, const QParams &w) {
  bool zero = true;
  for (int64_t z : w.zeroPoints)
    zero = zero && z == 0;
  if (zero)
    return Value();
  if (w.perTensor())
    return scalarOf(b, w.kind, w.zeroPoints[0], "w_zero_point");
  return b.constant(Tensor::fromInts(w.kind, w.zeroPoints), "w_zero_point");
}

// The multipliers sx * sw[c] / sy (times `alpha`) for `channels`: exact
// (double) for the fixed profile, and as ONNX Runtime's QLinearConv,
// QLinearMatMul and QGemm compute them in float32 for the float32 profile:
// f32(f32(sx * sw) / sy), QGemm's f32(f32(f32(alpha * sx) * sw) / sy).
Rescale productMultipliers(double sx, const QParams &w, double sy,
                           int64_t channels, double alpha) {
  Rescale r;
  for (int64_t c = 0; c < (w.perTensor() ? 1 : channels); ++c) {
    double sw = w.scale(size_t(c));
    r.real.push_back(sx * sw / sy * alpha);
    float ax = alpha == 1.0 ? float(sx) : float(alpha) * float(sx);
    r.f32.push_back(quant::float32Multiplier(ax, float(sw), float(sy)));
  }
  return r;
}

// The same with the input and output scales per output channel (one, or
// one per output channel each): a convolution reading or writing a
// per-channel activation (ChannelScales.h).
Rescale productMultipliers(const std::vector<double> &sxs, const QParams &w,
                           const std::vector<double> &sys, int64_t channels) {
  if (sxs.size() == 1 && sys.size() == 1)
    return productMultipliers(sxs[0], w, sys[0], channels);
  Rescale r;
  for (int64_t c = 0; c < channels; ++c) {
    double sx = sxs[sxs.size() == 1 ? 0 : size_t(c)];
    double sy = sys[sys.size() == 1 ? 0 : size_t(c)];
    double sw = w.scale(size_t(c));
    r.real.push_back(sx * sw / sy);
    r.f32.push_back(quant::float32Multiplier(float(sx), float(sw), float(sy)));
  }
  return r;
}

// The scale of the input channel each of `channels` output channels of a
// convolution reads (one when px is per tensor): with per-channel px, a
// depthwise convolution's output channel m reads input channel
// m / (channels / inputs).
std::vector<double> inputScalesPerOutput(const QParams &px, int64_t channels) {
  if (px.perTensor())
    return {px.scale()};
  int64_t inputs = int64_t(px.scales.size());
  int64_t mult = std::max<int64_t>(1, channels / inputs);
  std::vector<double> s(static_cast<size_t>(channels));
  for (int64_t m = 0; m < channels; ++m)
    s[size_t(m)] = px.scales[size_t(std::min(inputs - 1, m / mult))];
  return s;
}

} // namespace ember

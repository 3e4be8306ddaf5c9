// The integer form of a per-channel affine between a DequantizeLinear and a
// QuantizeLinear (docs/quantization.md, "Per-channel affine"): Mul, Add,
// Sub and Div by constants repeated along every axis but the channels, and
// inference BatchNormalization, composed into y = a[c] * x + b[c] and
// computed as a depthwise 1x1 ConvInteger with int8 weights +-127, an
// int32 bias and a per-channel Requantize: the primitives of a depthwise
// convolution, which every backend already runs.
#include "lower/IntegerForms.h"

#include <algorithm>
#include <cmath>

namespace ember {

namespace {

// The real values of a constant operand: a float Constant, or the
// DequantizeLinear of a constant with constant parameters, s * (q - z) in
// double (the exact value of the stored integers, as the integer forms
// take the scales: docs/quantization.md, "Requantization").
std::optional<Tensor> realConstant(Value v) {
  if (!v.node)
    return std::nullopt;
  if (const Tensor *t = constantOf(v)) {
    if (!isFloatKind(t->elem()))
      return std::nullopt;
    return *t;
  }
  const Tensor *q = v.node->kind == OpKind::DequantizeLinear
                        ? constantOf(v.node->inputs[0])
                        : nullptr;
  auto p = q ? dequantizeParams(*v.node) : std::nullopt;
  if (!p || isFloatKind(q->elem()))
    return std::nullopt;
  const Dims &d = q->dims();
  int64_t inner = 1;
  if (!p->perTensor()) {
    if (p->axis < 0 || p->axis >= int64_t(d.size()) ||
        d[size_t(p->axis)] != int64_t(p->scales.size()))
      return std::nullopt;
    for (size_t i = size_t(p->axis) + 1; i < d.size(); ++i)
      inner *= d[i];
  }
  Tensor t(Type(ElemKind::F64, d));
  for (int64_t i = 0; i < q->size(); ++i) {
    const size_t c =
        p->perTensor() ? 0 : size_t((i / inner) % d[size_t(p->axis)]);
    t.setDouble(i, p->scale(c) * double(q->getInt(i) - p->zeroPoint(c)));
  }
  return t;
}

// t's values for each of the `channels` channels (axis 1) of a tensor of
// dims xd that t broadcasts to without changing its shape: t repeated
// along every other axis. Empty when t varies along another axis, is not
// finite, or would broadcast xd up.
std::optional<std::vector<double>> channelValues(const Tensor &t,
                                                 const Dims &xd, bool &varies) {
  const Dims &td = t.dims();
  if (td.size() > xd.size() || xd.size() < 2)
    return std::nullopt;
  const size_t off = xd.size() - td.size();
  bool perChannel = false;
  for (size_t i = 0; i < td.size(); ++i) {
    if (td[i] == 1)
      continue;
    if (i + off != 1 || td[i] != xd[1])
      return std::nullopt;
    perChannel = true;
  }
  const int64_t channels = xd[1];
  std::vector<double> v(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    v[size_t(c)] = t.getDouble(perChannel ? c : 0);
    if (!std::isfinite(v[size_t(c)]))
      return std::nullopt;
  }
  varies = varies || (perChannel && channels > 1);
  return v;
}

} // namespace

ChannelAffine ChannelAffine::identity(int64_t channels) {
  ChannelAffine f;
  f.a.assign(size_t(channels), 1.0);
  f.b.assign(size_t(channels), 0.0);
  return f;
}

bool composeAffineStep(const Node &n, Value from, ChannelAffine &f) {
  const Dims &xd = from.type().dims();
  if (n.numResults() != 1 || xd.size() < 2 || n.types[0].dims() != xd ||
      !isFloatKind(n.types[0].elem()) || f.a.size() != size_t(xd[1]))
    return false;
  ChannelAffine g = f;
  const size_t channels = g.a.size();
  std::vector<double> a(channels, 1.0), b(channels, 0.0);
  bool varies = false;
  if (n.kind == OpKind::BatchNormalization) {
    if (n.inputs.size() != 5 || n.inputs[0] != from)
      return false;
    std::vector<std::vector<double>> p;
    for (size_t i = 1; i < 5; ++i) {
      auto t = realConstant(n.inputs[i]);
      if (!t || t->size() != int64_t(channels))
        return false;
      std::vector<double> v(channels);
      for (size_t c = 0; c < channels; ++c)
        v[c] = t->getDouble(int64_t(c));
      p.push_back(std::move(v));
    }
    const double eps = n.attrFloat("epsilon", 1e-5);
    for (size_t c = 0; c < channels; ++c) {
      a[c] = p[0][c] / std::sqrt(p[3][c] + eps);
      b[c] = p[1][c] - p[2][c] * a[c];
      if (!std::isfinite(a[c]) || !std::isfinite(b[c]))
        return false;
    }
    g.scaled = true;
    g.perChannel = true;
  } else {
    const OpKind k = n.kind;
    if ((k != OpKind::Mul && k != OpKind::Add && k != OpKind::Sub &&
         k != OpKind::Div) ||
        n.inputs.size() != 2)
      return false;
    const int side = n.inputs[0] == from ? 0 : n.inputs[1] == from ? 1 : -1;
    if (side < 0 || n.inputs[0] == n.inputs[1] ||
        (k == OpKind::Div && side != 0))
      return false;
    auto t = realConstant(n.inputs[size_t(1 - side)]);
    if (!t)
      return false;
    auto v = channelValues(*t, xd, varies);
    if (!v)
      return false;
    for (size_t c = 0; c < channels; ++c) {
      const double u = (*v)[c];
      if (k == OpKind::Mul)
        a[c] = u;
      else if (k == OpKind::Div)
        a[c] = 1.0 / u;
      else if (k == OpKind::Add)
        b[c] = u;
      else if (side == 0)
        b[c] = -u; // x - u
      else
        a[c] = -1.0, b[c] = u; // u - x
      if (!std::isfinite(a[c]))
        return false;
    }
    g.scaled = g.scaled || k == OpKind::Mul || k == OpKind::Div ||
               (k == OpKind::Sub && side == 1);
    g.perChannel = g.perChannel || varies;
  }
  // (a, b) after (A, B): a * (A x + B) + b.
  for (size_t c = 0; c < channels; ++c) {
    g.b[c] = a[c] * g.b[c] + b[c];
    g.a[c] = a[c] * g.a[c];
    if (!std::isfinite(g.a[c]) || !std::isfinite(g.b[c]))
      return false;
  }
  ++g.steps;
  f = std::move(g);
  return true;
}

Expected<Value> buildChannelAffine(LoweringBuilder &b, Value x,
                                   const QParams &px, const ChannelAffine &f,
                                   const QParams &py, int64_t lo, int64_t hi,
                                   quant::RequantProfile profile) {
  const Dims xd = x.type().dims();
  const int64_t channels = xd[1];
  const ElemKind ak = px.kind == ElemKind::I16 ? ElemKind::I64 : ElemKind::I32;
  // The bias stays within +-2^30 (int32; 2^46 for the 16x8 int64
  // accumulator) so that adding w * q never wraps.
  const double limit = ak == ElemKind::I32 ? 1073741824.0 : 70368744177664.0;
  const double sx = px.scale(), sy = py.scale();
  Tensor w(Type(ElemKind::I8, {channels, 1, 1, 1}));
  Tensor bias(Type(ak, {1, channels, 1, 1}));
  Rescale r;
  for (int64_t c = 0; c < channels; ++c) {
    const double a = f.a[size_t(c)], bc = f.b[size_t(c)];
    // The weight's magnitude sets the bias's resolution (s_x * |a| / 127
    // per unit): the largest int8 magnitude, unless the bias would leave
    // its range; a slope too small for even 1 makes the channel a
    // constant (weight 0, multiplier 2^-16).
    int64_t mag = 127;
    double sw = 0, acc = 0;
    if (a != 0) {
      sw = std::fabs(a) / double(mag);
      acc = bc / (sx * sw);
      if (std::fabs(acc) > limit) {
        mag = int64_t(std::floor(double(mag) * limit / std::fabs(acc)));
        if (mag >= 1) {
          sw = std::fabs(a) / double(mag);
          acc = bc / (sx * sw);
        }
      }
    }
    if (a == 0 || mag < 1) {
      mag = 0;
      sw = sy / (sx * 65536.0);
      acc = std::clamp(bc / (sx * sw), -limit, limit);
    }
    const int64_t wc = a < 0 ? -mag : mag;
    w.setInt(c, wc);
    // The input's zero point folds into the bias: w (q - z) = w q - w z.
    bias.setInt(c, int64_t(std::nearbyint(acc)) - wc * px.zeroPoint());
    r.real.push_back(sx * sw / sy);
    r.f32.push_back(float(sx * sw / sy));
  }
  // (A map of rank 4: buildAffine reshapes a rank-2 one.)
  EMBER_ASSIGN(Value acc, b.op(OpKind::ConvInteger,
                               {x, b.constant(std::move(w), "weight")},
                               {{"group", Attr::ofInt(channels)},
                                {"kernel_shape", Attr::ofInts({1, 1})}}));
  EMBER_ASSIGN(acc,
               b.op(OpKind::Add, {acc, b.constant(std::move(bias), "bias")}));
  return buildRequantize(b, acc, r, 1, 0, py, lo, hi, profile);
}

Expected<Value> buildAffineTable(LoweringBuilder &b, Value x, const QParams &px,
                                 double a, double c, const QParams &py,
                                 int64_t lo, int64_t hi) {
  Tensor t(Type(py.kind, {256}));
  const int64_t lowest = lowestOf(px.kind);
  for (int64_t i = 0; i < 256; ++i) {
    const double y = a * px.scale() * double(lowest + i - px.zeroPoint()) + c;
    const double q = std::nearbyint(y / py.scale()) + double(py.zeroPoint());
    t.setInt(i, int64_t(std::clamp(q, double(lo), double(hi))));
  }
  return b.op(OpKind::TableLookup, {x, b.constant(std::move(t), "table")});
}

std::vector<Node *>
composeAffineChain(Node &n, Value from, ChannelAffine &f,
                   const std::function<Node *(Node *)> &soleReader) {
  std::vector<Node *> steps;
  if (!composeAffineStep(n, from, f))
    return steps;
  steps.push_back(&n);
  for (Node *u = soleReader(&n);
       u && composeAffineStep(*u, Value(steps.back(), 0), f); u = soleReader(u))
    steps.push_back(u);
  return steps;
}

Expected<std::optional<Value>>
buildAffine(LoweringBuilder &b, Value x, const QParams &px,
            const ChannelAffine &f, const QParams &py, int64_t lo, int64_t hi,
            quant::RequantProfile profile) {
  const size_t rank = x.type().rank();
  // One positive factor (a Mul or Div by a scalar: attention's 1 / sqrt(d)
  // on 16-bit scores) of a 16-bit tensor or into one, of any rank: a
  // Requantize of x itself, (q - z) * a s_x / s_y rounded once, as the
  // depthwise form rounds it, without a layer's weight and bias (and
  // without an 8-bit -> 16-bit table, which an accelerator's 8-bit output
  // table cannot hold).
  if (!f.perChannel && (px.kind == ElemKind::I16 || py.kind == ElemKind::I16) &&
      f.b[0] == 0 && f.a[0] > 0) {
    const double m = f.a[0] * px.scale() / py.scale();
    EMBER_ASSIGN(Value y, buildRequantize(b, x, {{m}, {float(m)}}, 1,
                                          px.zeroPoint(), py, lo, hi, profile));
    return std::optional<Value>(y);
  }
  if (!f.perChannel && (px.kind == ElemKind::U8 || px.kind == ElemKind::I8)) {
    EMBER_ASSIGN(Value y,
                 buildAffineTable(b, x, px, f.a[0], f.b[0], py, lo, hi));
    return std::optional<Value>(y);
  }
  // An image's map [N, C, H, W] takes the depthwise form, and so does a
  // rank-2 [N, C] map (a batch normalization after a fully connected
  // layer: MLPerf Tiny's autoencoder), reshaped to N one-pixel images
  // [N, C, 1, 1] and back: an accelerator runs it as a depthwise layer
  // between its MatMuls, and the CPU backend as one elementwise loop
  // (backends/cpu/compiler/PointDepthwise.cpp). A map of rank 3 (a
  // sequence's or a detector's anchors on axis 1) or 5 keeps its form:
  // backends run its neighbours at rank 2 or 4.
  if (rank != 4 && rank != 2)
    return std::optional<Value>();
  Value in = x;
  const Dims xd = x.type().dims();
  if (rank == 2) {
    EMBER_ASSIGN(in, b.op(OpKind::Reshape, {x, b.ints({xd[0], xd[1], 1, 1})}));
  }
  EMBER_ASSIGN(Value y, buildChannelAffine(b, in, px, f, py, lo, hi, profile));
  if (rank == 2) {
    EMBER_ASSIGN(y, b.op(OpKind::Reshape, {y, b.ints(xd)}));
  }
  return std::optional<Value>(y);
}

} // namespace ember

// The stages the integer LSTM and GRU share (IntegerRecurrent.h), and the
// recognition of a recurrent layer in a quantized graph (IntegerForms.h,
// quantizedGraphRecurrent).
#include "lower/IntegerRecurrent.h"

#include <cmath>

namespace ember {
namespace recurrent {

QParams int16Params(double s) { return QParams{{s}, {0}, 0, ElemKind::I16}; }

std::optional<std::vector<double>> realValues(Value v) {
  if (const Tensor *t = constantOf(v)) {
    if (!isFloatKind(t->elem()))
      return std::nullopt;
    std::vector<double> r(size_t(t->size()));
    for (int64_t i = 0; i < t->size(); ++i)
      r[size_t(i)] = t->getDouble(i);
    return r;
  }
  if (!v.node || v.node->kind != OpKind::DequantizeLinear)
    return std::nullopt;
  const Tensor *q = constantOf(v.node->inputs[0]);
  auto p = dequantizeParams(*v.node);
  if (!q || !p)
    return std::nullopt;
  const Dims &d = q->type().dims();
  int64_t axis = p->axis < 0 ? p->axis + int64_t(d.size()) : p->axis;
  int64_t inner = 1;
  for (size_t i = size_t(axis) + 1; i < d.size(); ++i)
    inner *= d[i];
  std::vector<double> r(size_t(q->size()));
  for (int64_t i = 0; i < q->size(); ++i) {
    size_t c = p->perTensor() ? 0 : size_t((i / inner) % d[size_t(axis)]);
    r[size_t(i)] = double(q->getInt(i) - p->zeroPoint(c)) * p->scale(c);
  }
  return r;
}

QuantRows quantizeRows(const std::vector<double> &v, int64_t row0, int64_t H,
                       int64_t K) {
  QuantRows r{Tensor(Type(ElemKind::I8, {K, H})),
              QParams{{}, {}, 0, ElemKind::I8}};
  for (int64_t j = 0; j < H; ++j) {
    double m = 0;
    for (int64_t k = 0; k < K; ++k)
      m = std::max(m, std::fabs(v[size_t((row0 + j) * K + k)]));
    double s = m > 0 ? m / 127.0 : 1.0;
    r.p.scales.push_back(s);
    r.p.zeroPoints.push_back(0);
    for (int64_t k = 0; k < K; ++k)
      r.w.setInt(
          k * H + j,
          int64_t(std::clamp(std::nearbyint(v[size_t((row0 + j) * K + k)] / s),
                             -127.0, 127.0)));
  }
  r.p.axis = 1;
  return r;
}

Rescale perChannel(double sx, const QParams &w, double sy) {
  Rescale r;
  for (double s : w.scales) {
    r.real.push_back(sx * s / sy);
    r.f32.push_back(float(sx * s / sy));
  }
  return r;
}

Rescale single(double m) { return Rescale{{m}, {float(m)}}; }

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double tanhOf(double x) { return std::tanh(x); }

Value table16Of(LoweringBuilder &b, double (*f)(double), double sIn,
                const std::string &name) {
  int16_t t[quant::kTable16Entries];
  quant::makeTable16(f, sIn, kGateScale, t);
  Tensor r(Type(ElemKind::I16, {quant::kTable16Entries}));
  for (int i = 0; i < quant::kTable16Entries; ++i)
    r.setInt(i, t[i]);
  return b.constant(std::move(r), name);
}

Expected<Value> inputProjection(LoweringBuilder &b, Value x2,
                                const std::vector<double> &W, int64_t row0,
                                int64_t H, int64_t I, const Tensor &bias,
                                const QParams *px) {
  const int64_t lo16 = lowestOf(ElemKind::I16), hi16 = highestOf(ElemKind::I16);
  if (px) {
    QuantRows wq = quantizeRows(W, row0, H, I);
    std::vector<Value> ins{x2, b.constant(std::move(wq.w), "w")};
    if (px->zeroPoint() != 0)
      ins.push_back(scalarOf(b, px->kind, px->zeroPoint(), "x_zero_point"));
    EMBER_ASSIGN(Value acc, b.op(OpKind::MatMulInteger, ins));
    const ElemKind ak = acc.type().elem();
    Tensor bi = accumulatorBias(bias, nullptr, px->scale(), wq.p, H, ak);
    EMBER_ASSIGN(acc,
                 b.op(OpKind::Add, {acc, b.constant(std::move(bi), "bias")}));
    return buildRequantize(b, acc, perChannel(px->scale(), wq.p, kPreScale), 1,
                           0, int16Params(kPreScale), lo16, hi16,
                           quant::RequantProfile::Fixed);
  }
  // A float input: the projection in float, then quantized to the
  // pre-activation's int16 (rounded half to even, saturated).
  Tensor wf(Type(ElemKind::F32, {I, H}));
  Tensor bf(Type(ElemKind::F32, {H}));
  for (int64_t j = 0; j < H; ++j) {
    for (int64_t k = 0; k < I; ++k)
      wf.setDouble(k * H + j, W[size_t((row0 + j) * I + k)]);
    bf.setDouble(j, float(bias.getDouble(j)));
  }
  EMBER_ASSIGN(Value xf, castTo(b, x2, ElemKind::F32));
  EMBER_ASSIGN(Value mm,
               b.op(OpKind::MatMul, {xf, b.constant(std::move(wf), "w")}));
  EMBER_ASSIGN(mm, b.op(OpKind::Add, {mm, b.constant(std::move(bf), "bias")}));
  return b.op(OpKind::QuantizeLinear,
              {mm, b.scalar(ElemKind::F32, kPreScale),
               scalarOf(b, ElemKind::I16, 0, "zero_point")});
}

Expected<Value> stepRows(LoweringBuilder &b, Value xp, int64_t t, int64_t B) {
  return b.op(OpKind::Slice,
              {xp, b.ints({t * B}), b.ints({(t + 1) * B}), b.ints({0})});
}

Expected<Value> recurrentTerm(LoweringBuilder &b, Value v, double sv, Value r,
                              const QParams &rp, const Tensor *bias) {
  EMBER_ASSIGN(Value acc, b.op(OpKind::MatMulInteger, {v, r}));
  if (bias) {
    const ElemKind ak = acc.type().elem();
    Tensor bi =
        accumulatorBias(*bias, nullptr, sv, rp, int64_t(rp.scales.size()), ak);
    EMBER_ASSIGN(acc,
                 b.op(OpKind::Add, {acc, b.constant(std::move(bi), "bias")}));
  }
  return buildRequantize(b, acc, perChannel(sv, rp, kPreScale), 1, 0,
                         int16Params(kPreScale), lowestOf(ElemKind::I16),
                         highestOf(ElemKind::I16),
                         quant::RequantProfile::Fixed);
}

Expected<Value> product(LoweringBuilder &b, Value a, Value v, double sa,
                        double sv, const QParams &out) {
  const QParams centered = int16Params(kHiddenScale);
  EMBER_ASSIGN(Value a32, centeredInt32(b, a, centered));
  EMBER_ASSIGN(Value v32, centeredInt32(b, v, centered));
  EMBER_ASSIGN(Value m, b.op(OpKind::Mul, {a32, v32}));
  return buildRequantize(b, m, single(sa * sv / out.scale()), 0, 0, out,
                         lowestOf(ElemKind::I16), highestOf(ElemKind::I16),
                         quant::RequantProfile::Fixed);
}

Expected<Value> addInt16(LoweringBuilder &b, const Node &n, Value a, Value c,
                         const QParams &p, const char *what) {
  EMBER_ASSIGN(std::optional<Value> sum,
               buildQuantizedAdd(b, a, p, c, p, p, lowestOf(ElemKind::I16),
                                 highestOf(ElemKind::I16),
                                 quant::RequantProfile::Fixed));
  if (!sum)
    return makeError(ErrorCode::Internal, opName(n.kind), " ", n.describe(),
                     ": no int16 add of ", what);
  return *sum;
}

bool sumsFit(int64_t I, int64_t H) {
  return 127 * std::max(I, H) < (int64_t(1) << 24);
}

std::optional<Recurrence> readRecurrence(const Node &n, Value x,
                                         int64_t gates) {
  Recurrence r;
  r.dir = n.attrString("direction", "forward");
  r.H = n.attrInt("hidden_size", 0);
  if (n.hasAttr("activations") || n.hasAttr("activation_alpha") ||
      n.hasAttr("activation_beta") || n.hasAttr("clip") ||
      n.attrInt("layout", 0) != 0 ||
      (r.dir != "forward" && r.dir != "reverse" && r.dir != "bidirectional"))
    return std::nullopt;
  for (size_t i = 4; i < n.inputs.size(); ++i)
    if (n.hasInput(i))
      return std::nullopt;
  const Dims &xd = x.type().dims();
  if (xd.size() != 3 || r.H < 1)
    return std::nullopt;
  r.T = xd[0], r.B = xd[1], r.I = xd[2];
  r.D = r.dir == "bidirectional" ? 2 : 1;
  auto W = realValues(n.inputs[1]), R = realValues(n.inputs[2]);
  if (n.hasInput(3)) {
    r.Bv = realValues(n.inputs[3]);
    if (!r.Bv)
      return std::nullopt;
  }
  const int64_t GH = r.D * gates * r.H;
  if (!W || !R || W->size() != size_t(GH * r.I) ||
      R->size() != size_t(GH * r.H) ||
      (r.Bv && r.Bv->size() != size_t(2 * GH)) || r.T < 1 || !sumsFit(r.I, r.H))
    return std::nullopt;
  r.W = std::move(*W);
  r.R = std::move(*R);
  return r;
}

Expected<Value> concatOrOne(LoweringBuilder &b, const std::vector<Value> &v,
                            int64_t axis) {
  if (v.size() == 1)
    return v[0];
  return b.op(OpKind::Concat, v, {{"axis", Attr::ofInt(axis)}});
}

} // namespace recurrent

namespace {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

// Whether result r of n is read (by a node or as a function output).
bool resultRead(Function &f, const Users &users, const Node &n, unsigned r) {
  auto it = users.find(&n);
  if (it == users.end())
    return false;
  for (const Use &u : it->second) {
    Value v = u.user ? u.user->inputs[u.operand] : f.outputs()[u.operand].value;
    if (v.idx == r)
      return true;
  }
  return false;
}

// Whether result 0 of n reaches a QuantizeLinear through movement ops and
// recurrent layers.
bool reachesQuantize(const Users &users, const Node *n, int depth) {
  auto it = users.find(n);
  if (it == users.end() || depth > 16)
    return false;
  for (const Use &u : it->second) {
    if (!u.user || u.operand != 0 || u.user->numResults() < 1)
      continue;
    OpKind k = u.user->kind;
    if (k == OpKind::QuantizeLinear)
      return true;
    if ((k == OpKind::LSTM || k == OpKind::GRU || hasProp(k, P_Rearrange)) &&
        reachesQuantize(users, u.user, depth + 1))
      return true;
  }
  return false;
}

} // namespace

Expected<std::optional<RecurrentResult>>
quantizedGraphRecurrent(LoweringBuilder &b, const Node &n, const Users &users) {
  using namespace recurrent;
  if (n.kind != OpKind::LSTM && n.kind != OpKind::GRU)
    return std::optional<RecurrentResult>();
  Function &f = b.function();
  for (unsigned r = 1; r < n.numResults(); ++r)
    if (resultRead(f, users, n, r))
      return std::optional<RecurrentResult>();
  // The input, through movement ops, from the DequantizeLinear of an 8-bit
  // or int16 (zero point 0) per-tensor value.
  std::vector<Node *> moves;
  Value v = n.inputs[0];
  while (v.node && hasProp(v.node->kind, P_Rearrange) &&
         v.node->numResults() == 1 && !v.node->inputs.empty()) {
    moves.push_back(v.node);
    v = v.node->inputs[0];
  }
  std::optional<QParams> px;
  if (v.node && v.node->kind == OpKind::DequantizeLinear)
    px = dequantizeParams(*v.node);
  if (px && (!px->perTensor() ||
             (px->kind == ElemKind::I16 ? px->zeroPoint() != 0
                                        : elemSize(px->kind) != 1)))
    px.reset();
  if (!px && !reachesQuantize(users, &n, 0))
    return std::optional<RecurrentResult>();
  Value x = n.inputs[0];
  if (px) {
    x = v.node->inputs[0];
    for (auto it = moves.rbegin(); it != moves.rend(); ++it) {
      std::vector<Value> ins = (*it)->inputs;
      ins[0] = x;
      EMBER_ASSIGN(x, b.op((*it)->kind, ins, (*it)->attrs));
    }
  }
  EMBER_ASSIGN(std::optional<Value> y,
               n.kind == OpKind::LSTM
                   ? integerLstm(b, n, x, px ? &*px : nullptr)
                   : integerGru(b, n, x, px ? &*px : nullptr));
  if (!y)
    return std::optional<RecurrentResult>();
  // A QuantizeLinear alone reading Y: h requantized to its parameters.
  auto it = users.find(&n);
  Node *q = it != users.end() && it->second.size() == 1 ? it->second[0].user
                                                        : nullptr;
  std::optional<QParams> pq;
  if (q && q->kind == OpKind::QuantizeLinear && q->inputs[0].node == &n &&
      q->inputs[0].idx == 0)
    pq = quantizeParams(*q);
  if (pq && pq->perTensor() &&
      (elemSize(pq->kind) == 1 ||
       (pq->kind == ElemKind::I16 && pq->zeroPoint() == 0))) {
    EMBER_ASSIGN(Value r, buildRequantize(
                              b, *y, single(kHiddenScale / pq->scale()), 0, 0,
                              *pq, lowestOf(pq->kind), highestOf(pq->kind),
                              quant::RequantProfile::Fixed));
    return std::optional<RecurrentResult>(RecurrentResult{r, q});
  }
  EMBER_ASSIGN(Value dq, b.op(OpKind::DequantizeLinear,
                              {*y, b.scalar(ElemKind::F32, kHiddenScale),
                               scalarOf(b, ElemKind::I16, 0, "zero_point")}));
  return std::optional<RecurrentResult>(RecurrentResult{dq, nullptr});
}

} // namespace ember

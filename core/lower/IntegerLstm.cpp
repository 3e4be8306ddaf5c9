// The fixed profile's integer LSTM (docs/quantization.md, "LSTM"): ONNX
// Runtime's quantize_static leaves LSTM in float; in a quantized graph (its
// input dequantized, or its output quantized) this writes it as integer
// forms, unrolled over the (static) time steps, in the arithmetic of
// TensorFlow Lite's 16-bit LSTM:
//   gate pre-activations   int16, scale 2^-12 (+-8: sigmoid and tanh are
//                          within 3.4e-4 and 2.3e-7 of their limits there)
//   gates                  int16, scale 2^-15 (sigmoid in [0, 1], tanh in
//                          [-1, 1]), 513-entry interpolated tables
//   cell state c           int16, scale 2^-11 (+-16)
//   hidden state h         int16, scale 2^-15 (|h| <= 1)
// Per direction and gate g (ONNX order i, o, f, c), with per-row int8
// weights Wg, Rg (symmetric, scale max |row| / 127):
//   xp_g = Requantize(MatMulInteger(x, Wg) + bias, -> 2^-12)   all steps
//          (a float input: QuantizeLinear(x Wg^T + bias, 2^-12, int16))
//   p_g  = QuantizedAdd(xp_g[t], Requantize(MatMulInteger(h, Rg), -> 2^-12))
//   g_t  = TableLookup(p_g, sigmoid or tanh table, 2^-12 -> 2^-15)
//   c    = QuantizedAdd(Requantize(f c, -> 2^-11), Requantize(i g, -> 2^-11))
//   h    = Requantize(o TableLookup(c, tanh, 2^-11 -> 2^-15), -> 2^-15)
// Y is the Concat of the h of every step (int16, 2^-15), dequantized.
#include "lower/IntegerForms.h"

#include <cmath>

namespace ember {

namespace {

constexpr double kPreScale = 0x1p-12, kGateScale = 0x1p-15,
                 kCellScale = 0x1p-11, kHiddenScale = 0x1p-15;

QParams int16Params(double s) { return QParams{{s}, {0}, 0, ElemKind::I16}; }

// The real values of a constant operand: a float constant, or the
// DequantizeLinear of a constant.
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

// The rows [row0, row0 + H) of a [rows, K] matrix (values) quantized per
// row to int8 (symmetric, scale max |row| / 127, 1 for a zero row),
// transposed to [K, H] for MatMulInteger.
struct QuantRows {
  Tensor w;
  QParams p;
};

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

Tensor table16(double (*f)(double), double sIn) {
  int16_t t[quant::kTable16Entries];
  quant::makeTable16(f, sIn, kGateScale, t);
  Tensor r(Type(ElemKind::I16, {quant::kTable16Entries}));
  for (int i = 0; i < quant::kTable16Entries; ++i)
    r.setInt(i, t[i]);
  return r;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double tanhOf(double x) { return std::tanh(x); }

} // namespace

Expected<std::optional<Value>> integerLstm(LoweringBuilder &b, const Node &n,
                                           Value x, const QParams *px) {
  const quant::RequantProfile fixed = quant::RequantProfile::Fixed;
  const std::string dir = n.attrString("direction", "forward");
  const int64_t H = n.attrInt("hidden_size", 0);
  if (n.hasAttr("activations") || n.hasAttr("activation_alpha") ||
      n.hasAttr("activation_beta") || n.hasAttr("clip") ||
      n.attrInt("input_forget", 0) != 0 || n.attrInt("layout", 0) != 0 ||
      (dir != "forward" && dir != "reverse" && dir != "bidirectional"))
    return std::optional<Value>();
  for (size_t i = 4; i < n.inputs.size(); ++i)
    if (n.hasInput(i))
      return std::optional<Value>();
  const Dims &xd = x.type().dims();
  if (xd.size() != 3 || H < 1)
    return std::optional<Value>();
  const int64_t T = xd[0], B = xd[1], I = xd[2],
                D = dir == "bidirectional" ? 2 : 1;
  auto W = realValues(n.inputs[1]), R = realValues(n.inputs[2]);
  std::optional<std::vector<double>> Bv;
  if (n.hasInput(3)) {
    Bv = realValues(n.inputs[3]);
    if (!Bv)
      return std::optional<Value>();
  }
  if (!W || !R || W->size() != size_t(D * 4 * H * I) ||
      R->size() != size_t(D * 4 * H * H) ||
      (Bv && Bv->size() != size_t(D * 8 * H)) || T < 1)
    return std::optional<Value>();
  // The per-row int8 weights must keep the NPU's 16x8 product sums within
  // int32 (docs/quantization.md, "Exactness"): 127 K < 2^24.
  if (127 * std::max(I, H) >= (int64_t(1) << 24))
    return std::optional<Value>();

  const QParams pre = int16Params(kPreScale), cell = int16Params(kCellScale),
                hid = int16Params(kHiddenScale);
  const int64_t lo16 = lowestOf(ElemKind::I16), hi16 = highestOf(ElemKind::I16);
  Value sigTable = b.constant(table16(sigmoid, kPreScale), "sigmoid");
  Value tanhTable = b.constant(table16(tanhOf, kPreScale), "tanh");
  Value cellTable = b.constant(table16(tanhOf, kCellScale), "tanh_cell");
  EMBER_ASSIGN(Value x2, b.op(OpKind::Reshape, {x, b.ints({T * B, I})}));

  std::vector<Value> dirs;
  for (int64_t d = 0; d < D; ++d) {
    const bool reverse = dir == "reverse" || d == 1;
    // Per gate: the input projection of every step, and the recurrent
    // weights.
    std::vector<Value> xp(4), rw(4);
    std::vector<QParams> rp(4);
    for (int64_t g = 0; g < 4; ++g) {
      const int64_t row0 = d * 4 * H + g * H;
      Tensor bias(Type(ElemKind::F64, {H}));
      for (int64_t j = 0; j < H; ++j)
        bias.setDouble(j, Bv ? (*Bv)[size_t(d * 8 * H + g * H + j)] +
                                   (*Bv)[size_t(d * 8 * H + 4 * H + g * H + j)]
                             : 0.0);
      if (px) {
        QuantRows wq = quantizeRows(*W, row0, H, I);
        std::vector<Value> ins{x2, b.constant(std::move(wq.w), "w")};
        if (px->zeroPoint() != 0)
          ins.push_back(scalarOf(b, px->kind, px->zeroPoint(), "x_zero_point"));
        EMBER_ASSIGN(Value acc, b.op(OpKind::MatMulInteger, ins));
        const ElemKind ak = acc.type().elem();
        Tensor bi = accumulatorBias(bias, nullptr, px->scale(), wq.p, H, ak);
        EMBER_ASSIGN(
            acc, b.op(OpKind::Add, {acc, b.constant(std::move(bi), "bias")}));
        EMBER_ASSIGN(xp[size_t(g)],
                     buildRequantize(b, acc,
                                     perChannel(px->scale(), wq.p, kPreScale),
                                     1, 0, pre, lo16, hi16, fixed));
      } else {
        // A float input: the projection in float, then quantized to the
        // pre-activation's int16 (rounded half to even, saturated).
        Tensor wf(Type(ElemKind::F32, {I, H}));
        Tensor bf(Type(ElemKind::F32, {H}));
        for (int64_t j = 0; j < H; ++j) {
          for (int64_t k = 0; k < I; ++k)
            wf.setDouble(k * H + j, (*W)[size_t((row0 + j) * I + k)]);
          bf.setDouble(j, float(bias.getDouble(j)));
        }
        EMBER_ASSIGN(Value xf, castTo(b, x2, ElemKind::F32));
        EMBER_ASSIGN(Value mm, b.op(OpKind::MatMul,
                                    {xf, b.constant(std::move(wf), "w")}));
        EMBER_ASSIGN(
            mm, b.op(OpKind::Add, {mm, b.constant(std::move(bf), "bias")}));
        EMBER_ASSIGN(xp[size_t(g)],
                     b.op(OpKind::QuantizeLinear,
                          {mm, b.scalar(ElemKind::F32, kPreScale),
                           scalarOf(b, ElemKind::I16, 0, "zero_point")}));
      }
      QuantRows r = quantizeRows(*R, row0, H, H);
      rp[size_t(g)] = r.p;
      rw[size_t(g)] = b.constant(std::move(r.w), "r");
    }
    Value h, c;
    std::vector<Value> hs(static_cast<size_t>(T));
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = reverse ? T - 1 - s : s;
      Value gate[4];
      for (int64_t g = 0; g < 4; ++g) {
        EMBER_ASSIGN(Value p,
                     b.op(OpKind::Slice, {xp[size_t(g)], b.ints({t * B}),
                                          b.ints({(t + 1) * B}), b.ints({0})}));
        if (s > 0) {
          EMBER_ASSIGN(Value acc,
                       b.op(OpKind::MatMulInteger, {h, rw[size_t(g)]}));
          EMBER_ASSIGN(Value rq,
                       buildRequantize(
                           b, acc,
                           perChannel(kHiddenScale, rp[size_t(g)], kPreScale),
                           1, 0, pre, lo16, hi16, fixed));
          EMBER_ASSIGN(
              std::optional<Value> sum,
              buildQuantizedAdd(b, p, pre, rq, pre, pre, lo16, hi16, fixed));
          if (!sum)
            return makeError(ErrorCode::Internal, "LSTM ", n.describe(),
                             ": no int16 add of the gate pre-activations");
          p = *sum;
        }
        EMBER_ASSIGN(gate[g], b.op(OpKind::TableLookup,
                                   {p, g == 3 ? tanhTable : sigTable}));
      }
      // gate[0] i, gate[1] o, gate[2] f, gate[3] the candidate.
      auto product = [&](Value a, Value v, double sa, double sv,
                         const QParams &out) -> Expected<Value> {
        EMBER_ASSIGN(Value a32, centeredInt32(b, a, hid));
        EMBER_ASSIGN(Value v32, centeredInt32(b, v, hid));
        EMBER_ASSIGN(Value m, b.op(OpKind::Mul, {a32, v32}));
        return buildRequantize(b, m, single(sa * sv / out.scale()), 0, 0, out,
                               lo16, hi16, fixed);
      };
      EMBER_ASSIGN(Value ig,
                   product(gate[0], gate[3], kGateScale, kGateScale, cell));
      if (s == 0) {
        c = ig;
      } else {
        EMBER_ASSIGN(Value fc,
                     product(gate[2], c, kGateScale, kCellScale, cell));
        EMBER_ASSIGN(
            std::optional<Value> sum,
            buildQuantizedAdd(b, fc, cell, ig, cell, cell, lo16, hi16, fixed));
        if (!sum)
          return makeError(ErrorCode::Internal, "LSTM ", n.describe(),
                           ": no int16 add of the cell state");
        c = *sum;
      }
      EMBER_ASSIGN(Value tc, b.op(OpKind::TableLookup, {c, cellTable}));
      EMBER_ASSIGN(h, product(gate[1], tc, kGateScale, kGateScale, hid));
      EMBER_ASSIGN(hs[size_t(t)],
                   b.op(OpKind::Reshape, {h, b.ints({1, 1, B, H})}));
    }
    Value y = hs[0];
    if (T > 1) {
      EMBER_ASSIGN(y, b.op(OpKind::Concat, hs, {{"axis", Attr::ofInt(0)}}));
    }
    dirs.push_back(y);
  }
  Value y = dirs[0];
  if (D > 1) {
    EMBER_ASSIGN(y, b.op(OpKind::Concat, dirs, {{"axis", Attr::ofInt(1)}}));
  }
  return std::optional<Value>(y);
}

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
// LSTMs.
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
    if ((k == OpKind::LSTM || hasProp(k, P_Rearrange)) &&
        reachesQuantize(users, u.user, depth + 1))
      return true;
  }
  return false;
}

} // namespace

Expected<std::optional<LstmResult>>
quantizedGraphLstm(LoweringBuilder &b, const Node &n, const Users &users) {
  Function &f = b.function();
  for (unsigned r = 1; r < n.numResults(); ++r)
    if (resultRead(f, users, n, r))
      return std::optional<LstmResult>();
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
    return std::optional<LstmResult>();
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
               integerLstm(b, n, x, px ? &*px : nullptr));
  if (!y)
    return std::optional<LstmResult>();
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
    return std::optional<LstmResult>(LstmResult{r, q});
  }
  EMBER_ASSIGN(Value dq, b.op(OpKind::DequantizeLinear,
                              {*y, b.scalar(ElemKind::F32, kHiddenScale),
                               scalarOf(b, ElemKind::I16, 0, "zero_point")}));
  return std::optional<LstmResult>(LstmResult{dq, nullptr});
}

} // namespace ember

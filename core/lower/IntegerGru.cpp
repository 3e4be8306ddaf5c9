// The fixed profile's integer GRU (docs/quantization.md, "GRU"): ONNX
// Runtime's quantize_static leaves GRU in float; in a quantized graph (its
// input dequantized, or its output quantized) this writes it as integer
// forms, unrolled over the (static) time steps, with the integer LSTM's
// stages and scales (IntegerRecurrent.h):
//   gate pre-activations   int16, scale 2^-12 (+-8)
//   gates z, 1 - z, r, h~  int16, scale 2^-15, 513-entry tables
//   hidden state h         int16, scale 2^-15 (|h| <= 1)
// Per direction and gate g (ONNX order z, r, h), with per-row int8 weights
// Wg, Rg (symmetric, scale max |row| / 127) and biases Wb, Rb:
//   xp_g = Requantize(MatMulInteger(x, Wg) + Wb_g (+ Rb_g), -> 2^-12)
//          all steps, Rb_g in it for z, r and (linear_before_reset 0) h
//   z, r = TableLookup(QuantizedAdd(xp[t], Requantize(MatMulInteger(h, R)),
//          sigmoid), 1 - z = TableLookup(the same sum, sigmoid(-x))
//   linear_before_reset 0:
//     p_h = QuantizedAdd(xp_h[t], Requantize(MatMulInteger(
//           Requantize(r h, -> 2^-15), Rh), -> 2^-12))
//   linear_before_reset 1:
//     p_h = QuantizedAdd(xp_h[t], Requantize(r Requantize(
//           MatMulInteger(h, Rh) + Rb_h, -> 2^-12), -> 2^-12))
//     (the first step, h = 0: r Rb_h, a MatMulInteger of r by the diagonal
//     of Rb_h, exact in int8 per row)
//   h~ = TableLookup(p_h, tanh)
//   h  = QuantizedAdd(Requantize((1 - z) h~, -> 2^-15),
//                     Requantize(z h, -> 2^-15))
// Y is the Concat of the h of every step (int16, 2^-15), dequantized.
#include "lower/IntegerRecurrent.h"

namespace ember {

using namespace recurrent;

namespace {

double sigmoidOfMinus(double x) { return sigmoid(-x); }

} // namespace

Expected<std::optional<Value>> integerGru(LoweringBuilder &b, const Node &n,
                                          Value x, const QParams *px) {
  const int64_t lbr = n.attrInt("linear_before_reset", 0);
  if (lbr != 0 && lbr != 1)
    return std::optional<Value>();
  std::optional<Recurrence> rec = readRecurrence(n, x, 3);
  if (!rec)
    return std::optional<Value>();
  const int64_t T = rec->T, B = rec->B, I = rec->I, H = rec->H, D = rec->D;
  const std::vector<double> &W = rec->W, &R = rec->R;
  const std::optional<std::vector<double>> &Bv = rec->Bv;

  const QParams pre = int16Params(kPreScale), hid = int16Params(kHiddenScale);
  Value sigTable = table16Of(b, sigmoid, kPreScale, "sigmoid");
  Value oneMinusTable = table16Of(b, sigmoidOfMinus, kPreScale, "one_minus_z");
  Value tanhTable = table16Of(b, tanhOf, kPreScale, "tanh");
  EMBER_ASSIGN(Value x2, b.op(OpKind::Reshape, {x, b.ints({T * B, I})}));

  std::vector<Value> dirs;
  for (int64_t d = 0; d < D; ++d) {
    const bool reverse = rec->reverse(d);
    auto biasOf = [&](int64_t g, bool input, bool rec) {
      Tensor t(Type(ElemKind::F64, {H}));
      for (int64_t j = 0; j < H; ++j) {
        double v = 0;
        if (Bv && input)
          v += (*Bv)[size_t(d * 6 * H + g * H + j)];
        if (Bv && rec)
          v += (*Bv)[size_t(d * 6 * H + 3 * H + g * H + j)];
        t.setDouble(j, v);
      }
      return t;
    };
    // Per gate: the input projection of every step, and the recurrent
    // weights.
    std::vector<Value> xp(3), rw(3);
    std::vector<QParams> rp(3);
    for (int64_t g = 0; g < 3; ++g) {
      const int64_t row0 = d * 3 * H + g * H;
      EMBER_ASSIGN(xp[size_t(g)],
                   inputProjection(b, x2, W, row0, H, I,
                                   biasOf(g, true, g < 2 || lbr == 0), px));
      QuantRows r = quantizeRows(R, row0, H, H);
      rp[size_t(g)] = r.p;
      rw[size_t(g)] = b.constant(std::move(r.w), "r");
    }
    // linear_before_reset: Rb_h, added to h Rh before the product by r; on
    // the first step (h = 0) r Rb_h, r times the diagonal of Rb_h.
    const Tensor recBias = biasOf(2, false, true);
    Value diag;
    QParams diagP;
    if (lbr == 1 && Bv) {
      std::vector<double> dv(size_t(H * H), 0.0);
      for (int64_t j = 0; j < H; ++j)
        dv[size_t(j * H + j)] = recBias.getDouble(j);
      QuantRows q = quantizeRows(dv, 0, H, H);
      diagP = q.p;
      diag = b.constant(std::move(q.w), "rb_diagonal");
    }
    Value h;
    std::vector<Value> hs(static_cast<size_t>(T));
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = reverse ? T - 1 - s : s;
      // The z and r pre-activations; z, 1 - z and r.
      Value pz, r;
      for (int64_t g = 0; g < 2; ++g) {
        EMBER_ASSIGN(Value p, stepRows(b, xp[size_t(g)], t, B));
        if (s > 0) {
          EMBER_ASSIGN(Value rq,
                       recurrentTerm(b, h, kHiddenScale, rw[size_t(g)],
                                     rp[size_t(g)], nullptr));
          EMBER_ASSIGN(p,
                       addInt16(b, n, p, rq, pre, "the gate pre-activations"));
        }
        if (g == 0) {
          pz = p;
        } else {
          EMBER_ASSIGN(r, b.op(OpKind::TableLookup, {p, sigTable}));
        }
      }
      // The candidate's pre-activation.
      EMBER_ASSIGN(Value ph, stepRows(b, xp[2], t, B));
      std::optional<Value> term;
      if (lbr == 0 && s > 0) {
        EMBER_ASSIGN(Value rh, product(b, r, h, kGateScale, kHiddenScale, hid));
        EMBER_ASSIGN(term,
                     recurrentTerm(b, rh, kHiddenScale, rw[2], rp[2], nullptr));
      } else if (lbr == 1 && s > 0) {
        EMBER_ASSIGN(Value rq, recurrentTerm(b, h, kHiddenScale, rw[2], rp[2],
                                             Bv ? &recBias : nullptr));
        EMBER_ASSIGN(term, product(b, r, rq, kGateScale, kPreScale, pre));
      } else if (lbr == 1 && Bv) {
        EMBER_ASSIGN(term,
                     recurrentTerm(b, r, kGateScale, diag, diagP, nullptr));
      }
      if (term) {
        EMBER_ASSIGN(ph, addInt16(b, n, ph, *term, pre,
                                  "the candidate's pre-activation"));
      }
      EMBER_ASSIGN(Value cand, b.op(OpKind::TableLookup, {ph, tanhTable}));
      EMBER_ASSIGN(Value zc, b.op(OpKind::TableLookup, {pz, oneMinusTable}));
      EMBER_ASSIGN(Value keep,
                   product(b, zc, cand, kGateScale, kGateScale, hid));
      if (s == 0) {
        h = keep;
      } else {
        EMBER_ASSIGN(Value z, b.op(OpKind::TableLookup, {pz, sigTable}));
        EMBER_ASSIGN(Value zh, product(b, z, h, kGateScale, kHiddenScale, hid));
        EMBER_ASSIGN(h, addInt16(b, n, keep, zh, hid, "the hidden state"));
      }
      EMBER_ASSIGN(hs[size_t(t)],
                   b.op(OpKind::Reshape, {h, b.ints({1, 1, B, H})}));
    }
    EMBER_ASSIGN(Value y, concatOrOne(b, hs, 0));
    dirs.push_back(y);
  }
  EMBER_ASSIGN(Value y, concatOrOne(b, dirs, 1));
  return std::optional<Value>(y);
}

} // namespace ember

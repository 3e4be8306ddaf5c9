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
// weights Wg, Rg (symmetric, scale max |row| / 127; the stages GRU shares
// are in IntegerRecurrent.cpp):
//   xp_g = Requantize(MatMulInteger(x, Wg) + bias, -> 2^-12)   all steps
//          (a float input: QuantizeLinear(x Wg^T + bias, 2^-12, int16))
//   p_g  = QuantizedAdd(xp_g[t], Requantize(MatMulInteger(h, Rg), -> 2^-12))
//   g_t  = TableLookup(p_g, sigmoid or tanh table, 2^-12 -> 2^-15)
//   c    = QuantizedAdd(Requantize(f c, -> 2^-11), Requantize(i g, -> 2^-11))
//   h    = Requantize(o TableLookup(c, tanh, 2^-11 -> 2^-15), -> 2^-15)
// Y is the Concat of the h of every step (int16, 2^-15), dequantized.
#include "lower/IntegerRecurrent.h"

namespace ember {

using namespace recurrent;

namespace {

constexpr double kCellScale = 0x1p-11;

} // namespace

Expected<std::optional<Value>> integerLstm(LoweringBuilder &b, const Node &n,
                                           Value x, const QParams *px) {
  if (n.attrInt("input_forget", 0) != 0)
    return std::optional<Value>();
  std::optional<Recurrence> rec = readRecurrence(n, x, 4);
  if (!rec)
    return std::optional<Value>();
  const int64_t T = rec->T, B = rec->B, I = rec->I, H = rec->H, D = rec->D;
  const std::vector<double> &W = rec->W, &R = rec->R;
  const std::optional<std::vector<double>> &Bv = rec->Bv;

  const QParams pre = int16Params(kPreScale), cell = int16Params(kCellScale),
                hid = int16Params(kHiddenScale);
  Value sigTable = table16Of(b, sigmoid, kPreScale, "sigmoid");
  Value tanhTable = table16Of(b, tanhOf, kPreScale, "tanh");
  Value cellTable = table16Of(b, tanhOf, kCellScale, "tanh_cell");
  EMBER_ASSIGN(Value x2, b.op(OpKind::Reshape, {x, b.ints({T * B, I})}));

  std::vector<Value> dirs;
  for (int64_t d = 0; d < D; ++d) {
    const bool reverse = rec->reverse(d);
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
      EMBER_ASSIGN(xp[size_t(g)],
                   inputProjection(b, x2, W, row0, H, I, bias, px));
      QuantRows r = quantizeRows(R, row0, H, H);
      rp[size_t(g)] = r.p;
      rw[size_t(g)] = b.constant(std::move(r.w), "r");
    }
    Value h, c;
    std::vector<Value> hs(static_cast<size_t>(T));
    for (int64_t s = 0; s < T; ++s) {
      const int64_t t = reverse ? T - 1 - s : s;
      Value gate[4];
      for (int64_t g = 0; g < 4; ++g) {
        EMBER_ASSIGN(Value p, stepRows(b, xp[size_t(g)], t, B));
        if (s > 0) {
          EMBER_ASSIGN(Value rq,
                       recurrentTerm(b, h, kHiddenScale, rw[size_t(g)],
                                     rp[size_t(g)], nullptr));
          EMBER_ASSIGN(p,
                       addInt16(b, n, p, rq, pre, "the gate pre-activations"));
        }
        EMBER_ASSIGN(gate[g], b.op(OpKind::TableLookup,
                                   {p, g == 3 ? tanhTable : sigTable}));
      }
      // gate[0] i, gate[1] o, gate[2] f, gate[3] the candidate.
      EMBER_ASSIGN(Value ig,
                   product(b, gate[0], gate[3], kGateScale, kGateScale, cell));
      if (s == 0) {
        c = ig;
      } else {
        EMBER_ASSIGN(Value fc,
                     product(b, gate[2], c, kGateScale, kCellScale, cell));
        EMBER_ASSIGN(c, addInt16(b, n, fc, ig, cell, "the cell state"));
      }
      EMBER_ASSIGN(Value tc, b.op(OpKind::TableLookup, {c, cellTable}));
      EMBER_ASSIGN(h, product(b, gate[1], tc, kGateScale, kGateScale, hid));
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

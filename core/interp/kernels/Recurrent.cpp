// Reference kernels of the recurrent ops RNN, GRU and LSTM (opset
// 14-22 form: layout, sequence_lens, activations with alpha/beta, clip,
// forward/reverse/bidirectional, GRU linear_before_reset, LSTM peepholes
// and input_forget). Steps past sequence_lens[b] output zeros and keep the
// state.
#include "ir/typerules/Recurrent.h"
#include "interp/Kernel.h"

#include <cmath>

namespace ember {

namespace {

// An activation of `activations` (ir/typerules/Recurrent.h) as a function.
struct Act : RecurrentAct {
  double operator()(double x) const {
    if (name == "Sigmoid")
      return 1 / (1 + std::exp(-x));
    if (name == "Tanh")
      return std::tanh(x);
    if (name == "Relu")
      return x > 0 ? x : 0;
    if (name == "Affine")
      return alpha * x + beta;
    if (name == "LeakyRelu")
      return x >= 0 ? x : alpha * x;
    if (name == "ThresholdedRelu")
      return x > alpha ? x : 0;
    if (name == "ScaledTanh")
      return alpha * std::tanh(beta * x);
    if (name == "HardSigmoid")
      return std::max(0.0, std::min(1.0, alpha * x + beta));
    if (name == "Elu")
      return x >= 0 ? x : alpha * (std::exp(x) - 1);
    if (name == "Softsign")
      return x / (1 + std::fabs(x));
    // Softplus
    return std::log1p(std::exp(-std::fabs(x))) + std::max(x, 0.0);
  }
};

using Cell = RecurrentCell;

Status runRecurrent(KernelContext &ctx, Cell cell) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1), &r = ctx.in(2);
  EMBER_ASSIGN(RecurrentShape p, recurrentShape(ctx, cell));
  int64_t G = p.G, D = p.D, layout = p.layout, S = p.S, B = p.B, I = p.I,
          H = p.H;
  const std::string &dir = p.direction;
  std::vector<Act> acts;
  for (const RecurrentAct &a : p.acts)
    acts.push_back(Act{a});
  size_t nout = ctx.numOutputs();

  double clip = ctx.attrFloat("clip", 0.0);
  bool hasClip = ctx.hasAttr("clip");
  bool lbr = ctx.attrInt("linear_before_reset", 0) != 0;
  bool inputForget = ctx.attrInt("input_forget", 0) != 0;
  std::vector<int64_t> lens(size_t(B), S);
  if (ctx.has(4))
    lens = ctx.in(4).toInts();
  for (int64_t l : lens)
    if (l < 0 || l > S)
      return ctx.error("sequence length ", l, " outside [0, ", S, "]");
  auto C = [&](double v) {
    return hasClip ? std::max(-clip, std::min(clip, v)) : v;
  };
  auto stateIdx = [&](int64_t d, int64_t b, int64_t j) {
    return layout ? (b * D + d) * H + j : (d * B + b) * H + j;
  };
  auto xIdx = [&](int64_t t, int64_t b, int64_t i) {
    return layout ? (b * S + t) * I + i : (t * B + b) * I + i;
  };
  auto yIdx = [&](int64_t t, int64_t d, int64_t b, int64_t j) {
    return layout ? ((b * S + t) * D + d) * H + j
                  : ((t * D + d) * B + b) * H + j;
  };
  std::vector<double> wx(size_t(G * H), 0.0), rh(size_t(G * H), 0.0),
      hp(size_t(H), 0.0), cp(size_t(H), 0.0), hn(size_t(H), 0.0),
      rhr(size_t(H), 0.0);
  std::vector<double> wv = w.toDoubles(), rv = r.toDoubles(),
                      xv = x.toDoubles();
  for (int64_t d = 0; d < D; ++d) {
    bool rev = dir == "reverse" || d == 1;
    const Act *a = &acts[size_t(d) * p.actsPerDir];
    auto wAt = [&](int64_t row, int64_t i) {
      return wv[size_t((d * G * H + row) * I + i)];
    };
    auto rAt = [&](int64_t row, int64_t k) {
      return rv[size_t((d * G * H + row) * H + k)];
    };
    auto bias = [&](int64_t i) {
      return ctx.has(3) ? ctx.in(3).getDouble(d * 2 * G * H + i) : 0.0;
    };
    auto peep = [&](int64_t i) {
      return cell == Cell::Lstm && ctx.has(7)
                 ? ctx.in(7).getDouble(d * 3 * H + i)
                 : 0.0;
    };
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t j = 0; j < H; ++j) {
        hp[size_t(j)] = ctx.has(5) ? ctx.in(5).getDouble(stateIdx(d, b, j)) : 0;
        cp[size_t(j)] = cell == Cell::Lstm && ctx.has(6)
                            ? ctx.in(6).getDouble(stateIdx(d, b, j))
                            : 0;
      }
      int64_t len = lens[size_t(b)];
      for (int64_t s = 0; s < len; ++s) {
        int64_t t = rev ? len - 1 - s : s;
        for (int64_t g = 0; g < G * H; ++g) {
          double accx = bias(g), accr = bias(G * H + g);
          for (int64_t i = 0; i < I; ++i)
            accx += wAt(g, i) * xv[size_t(xIdx(t, b, i))];
          for (int64_t k = 0; k < H; ++k)
            accr += rAt(g, k) * hp[size_t(k)];
          wx[size_t(g)] = accx;
          rh[size_t(g)] = accr;
        }
        for (int64_t j = 0; j < H; ++j) {
          size_t J = size_t(j);
          if (cell == Cell::Rnn) {
            hn[J] = a[0](C(wx[J] + rh[J]));
          } else if (cell == Cell::Gru) {
            // Reset gate first; the candidate needs all of r.
            rhr[J] = a[0](C(wx[size_t(H) + J] + rh[size_t(H) + J]));
          } else {
            double iG = a[0](C(wx[J] + rh[J] + peep(j) * cp[J]));
            double fG =
                inputForget
                    ? 1 - iG
                    : a[0](C(wx[size_t(2 * H) + J] + rh[size_t(2 * H) + J] +
                             peep(2 * H + j) * cp[J]));
            double cG = a[1](C(wx[size_t(3 * H) + J] + rh[size_t(3 * H) + J]));
            double c = fG * cp[J] + iG * cG;
            double oG = a[0](
                C(wx[size_t(H) + J] + rh[size_t(H) + J] + peep(H + j) * c));
            cp[J] = c;
            hn[J] = oG * a[2](c);
          }
        }
        if (cell == Cell::Gru) {
          for (int64_t j = 0; j < H; ++j) {
            size_t J = size_t(j);
            double z = a[0](C(wx[J] + rh[J]));
            double hh;
            if (lbr) {
              hh = a[1](
                  C(wx[size_t(2 * H) + J] + rhr[J] * rh[size_t(2 * H) + J]));
            } else {
              double acc = bias(G * H + 2 * H + j);
              for (int64_t k = 0; k < H; ++k)
                acc += rAt(2 * H + j, k) * rhr[size_t(k)] * hp[size_t(k)];
              hh = a[1](C(wx[size_t(2 * H) + J] + acc));
            }
            hn[J] = (1 - z) * hh + z * hp[J];
          }
        }
        hp = hn;
        if (nout > 0)
          for (int64_t j = 0; j < H; ++j)
            ctx.out(0).setDouble(yIdx(t, d, b, j), hp[size_t(j)]);
      }
      for (int64_t j = 0; j < H; ++j) {
        if (nout > 1)
          ctx.out(1).setDouble(stateIdx(d, b, j), hp[size_t(j)]);
        if (nout > 2)
          ctx.out(2).setDouble(stateIdx(d, b, j), cp[size_t(j)]);
      }
    }
  }
  return Status::ok();
}

} // namespace

// RNN(X, W, R, B?, sequence_lens?, initial_h?) -> (Y?, Y_h?).
Status kernel_RNN(KernelContext &ctx) { return runRecurrent(ctx, Cell::Rnn); }

// GRU(X, W, R, B?, sequence_lens?, initial_h?) -> (Y?, Y_h?); gates z, r, h.
Status kernel_GRU(KernelContext &ctx) { return runRecurrent(ctx, Cell::Gru); }

// LSTM(X, W, R, B?, sequence_lens?, initial_h?, initial_c?, P?) ->
// (Y?, Y_h?, Y_c?); gates i, o, f, c; peepholes P in order i, o, f.
Status kernel_LSTM(KernelContext &ctx) { return runRecurrent(ctx, Cell::Lstm); }

} // namespace ember

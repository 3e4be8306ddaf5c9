// Reference kernels of the recurrent ops RNN, GRU and LSTM (opset
// 14-22 form: layout, sequence_lens, activations with alpha/beta, clip,
// forward/reverse/bidirectional, GRU linear_before_reset, LSTM peepholes
// and input_forget). Steps past sequence_lens[b] output zeros and keep the
// state.
#include "interp/Kernel.h"

#include <cmath>

namespace ember {

namespace {

struct Act {
  std::string name;
  double alpha = 0, beta = 0;
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

bool knownAct(const std::string &n) {
  for (const char *k :
       {"Sigmoid", "Tanh", "Relu", "Affine", "LeakyRelu", "ThresholdedRelu",
        "ScaledTanh", "HardSigmoid", "Elu", "Softsign", "Softplus"})
    if (n == k)
      return true;
  return false;
}

// Reads `activations` (nPer per direction, defaults `defs`) with their
// activation_alpha / activation_beta, consumed in order by the
// activations that take them.
Expected<std::vector<Act>> readActs(KernelContext &ctx, int64_t dirs,
                                    const std::vector<std::string> &defs) {
  std::vector<std::string> names;
  auto it = ctx.node().attrs.find("activations");
  if (it != ctx.node().attrs.end())
    names = it->second.strings;
  size_t nPer = defs.size();
  if (names.empty())
    for (int64_t d = 0; d < dirs; ++d)
      names.insert(names.end(), defs.begin(), defs.end());
  if (names.size() == nPer && dirs == 2) // one list for both directions
    names.insert(names.end(), names.begin(), names.end());
  if (names.size() != nPer * size_t(dirs))
    return ctx.error("expects ", nPer * size_t(dirs), " activations, got ",
                     names.size());
  std::vector<double> al = ctx.attrFloats("activation_alpha"),
                      be = ctx.attrFloats("activation_beta");
  size_t ai = 0, bi = 0;
  std::vector<Act> acts;
  for (auto &n : names) {
    if (!knownAct(n))
      return ctx.unsupportedError("activation '", n, "'");
    Act a;
    a.name = n;
    bool usesA = n == "Affine" || n == "LeakyRelu" || n == "ThresholdedRelu" ||
                 n == "ScaledTanh" || n == "HardSigmoid" || n == "Elu";
    bool usesB = n == "Affine" || n == "ScaledTanh" || n == "HardSigmoid";
    double defA = n == "LeakyRelu" ? 0.01 : n == "HardSigmoid" ? 0.2 : 1.0;
    double defB = n == "HardSigmoid" ? 0.5 : 0.0;
    a.alpha = usesA ? (ai < al.size() ? al[ai++] : defA) : 0;
    a.beta = usesB ? (bi < be.size() ? be[bi++] : defB) : 0;
    acts.push_back(a);
  }
  return acts;
}

enum class Cell { Rnn, Gru, Lstm };

Status runRecurrent(KernelContext &ctx, Cell cell) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1), &r = ctx.in(2);
  int64_t G = cell == Cell::Rnn ? 1 : cell == Cell::Gru ? 3 : 4;
  if (!isFloatKind(x.elem()))
    return ctx.unsupportedError("element type ", elemKindName(x.elem()));
  if (w.elem() != x.elem() || r.elem() != x.elem())
    return ctx.error("X, W and R must have one element type");
  if (x.rank() != 3 || w.rank() != 3 || r.rank() != 3)
    return ctx.error("X, W and R must be 3-D, got ", x.type().toString(), ", ",
                     w.type().toString(), ", ", r.type().toString());
  std::string dir = ctx.attrString("direction", "forward");
  if (dir != "forward" && dir != "reverse" && dir != "bidirectional")
    return ctx.error("unknown direction '", dir, "'");
  int64_t D = dir == "bidirectional" ? 2 : 1;
  int64_t layout = ctx.attrInt("layout", 0);
  if (layout != 0 && layout != 1)
    return ctx.error("layout must be 0 or 1");
  int64_t S = layout ? x.dim(1) : x.dim(0), B = layout ? x.dim(0) : x.dim(1),
          I = x.dim(2);
  int64_t H = ctx.attrInt("hidden_size", r.dim(2));
  if (H < 1 || w.dims() != Dims{D, G * H, I} || r.dims() != Dims{D, G * H, H})
    return ctx.error("W ", w.type().toString(), " / R ", r.type().toString(),
                     " must be [", D, ",", G * H, ",", I, "] / [", D, ",",
                     G * H, ",", H, "]");
  auto checkOpt = [&](size_t i, const Dims &want, const char *what) -> Status {
    if (!ctx.has(i))
      return Status::ok();
    const Tensor &t = ctx.in(i);
    if (t.dims() != want || (i != 4 && t.elem() != x.elem()))
      return ctx.error(
          what, " ", t.type().toString(), " must be ",
          Type(i == 4 ? ElemKind::I32 : x.elem(), want).toString());
    if (i == 4 && !isIntKind(t.elem()))
      return ctx.error("sequence_lens must be integer");
    return Status::ok();
  };
  Dims stateDims = layout ? Dims{B, D, H} : Dims{D, B, H};
  EMBER_TRY(checkOpt(3, {D, 2 * G * H}, "B"));
  EMBER_TRY(checkOpt(4, {B}, "sequence_lens"));
  EMBER_TRY(checkOpt(5, stateDims, "initial_h"));
  if (cell == Cell::Lstm) {
    EMBER_TRY(checkOpt(6, stateDims, "initial_c"));
    EMBER_TRY(checkOpt(7, {D, 3 * H}, "P"));
  }
  std::vector<std::string> defs =
      cell == Cell::Rnn   ? std::vector<std::string>{"Tanh"}
      : cell == Cell::Gru ? std::vector<std::string>{"Sigmoid", "Tanh"}
                          : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
  EMBER_ASSIGN(std::vector<Act> acts, readActs(ctx, D, defs));
  size_t nout = ctx.numOutputs();
  size_t maxOut = cell == Cell::Lstm ? 3 : 2;
  if (nout > maxOut)
    return ctx.error("expects at most ", maxOut, " results, got ", nout);
  Dims yd = layout ? Dims{B, S, D, H} : Dims{S, D, B, H};
  if (nout > 0)
    ctx.setOutput(0, Type(x.elem(), yd));
  for (size_t i = 1; i < nout; ++i)
    ctx.setOutput(i, Type(x.elem(), stateDims));
  if (ctx.inferOnly())
    return Status::ok();

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
    const Act *a = &acts[size_t(d) * defs.size()];
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

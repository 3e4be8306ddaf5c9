// Type rules of RNN, GRU and LSTM (kernels: interp/kernels/Recurrent.cpp).
#include "ir/typerules/Recurrent.h"

namespace ember {

namespace {

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
Expected<std::vector<RecurrentAct>>
readActs(const TypeContext &ctx, int64_t dirs,
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
  std::vector<RecurrentAct> acts;
  for (auto &n : names) {
    if (!knownAct(n))
      return ctx.unsupportedError("activation '", n, "'");
    RecurrentAct a;
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

} // namespace

Expected<RecurrentShape> recurrentShape(const TypeContext &ctx,
                                        RecurrentCell cell) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1), &r = ctx.in(2);
  int64_t G = cell == RecurrentCell::Rnn   ? 1
              : cell == RecurrentCell::Gru ? 3
                                           : 4;
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
  if (cell == RecurrentCell::Lstm) {
    EMBER_TRY(checkOpt(6, stateDims, "initial_c"));
    EMBER_TRY(checkOpt(7, {D, 3 * H}, "P"));
  }
  std::vector<std::string> defs =
      cell == RecurrentCell::Rnn ? std::vector<std::string>{"Tanh"}
      : cell == RecurrentCell::Gru
          ? std::vector<std::string>{"Sigmoid", "Tanh"}
          : std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"};
  EMBER_ASSIGN(std::vector<RecurrentAct> acts, readActs(ctx, D, defs));
  size_t nout = ctx.numOutputs();
  size_t maxOut = cell == RecurrentCell::Lstm ? 3 : 2;
  if (nout > maxOut)
    return ctx.error("expects at most ", maxOut, " results, got ", nout);
  RecurrentShape p;
  p.G = G;
  p.D = D;
  p.layout = layout;
  p.S = S;
  p.B = B;
  p.I = I;
  p.H = H;
  p.direction = dir;
  p.actsPerDir = defs.size();
  p.acts = std::move(acts);
  return p;
}

static Status recurrentRule(TypeContext &ctx, RecurrentCell cell) {
  EMBER_ASSIGN(RecurrentShape p, recurrentShape(ctx, cell));
  ElemKind k = ctx.in(0).elem();
  Dims stateDims = p.layout ? Dims{p.B, p.D, p.H} : Dims{p.D, p.B, p.H};
  Dims yd = p.layout ? Dims{p.B, p.S, p.D, p.H} : Dims{p.S, p.D, p.B, p.H};
  size_t nout = ctx.numOutputs();
  if (nout > 0)
    ctx.setOutput(0, Type(k, yd));
  for (size_t i = 1; i < nout; ++i)
    ctx.setOutput(i, Type(k, stateDims));
  return Status::ok();
}

Status types_RNN(TypeContext &ctx) {
  return recurrentRule(ctx, RecurrentCell::Rnn);
}
Status types_GRU(TypeContext &ctx) {
  return recurrentRule(ctx, RecurrentCell::Gru);
}
Status types_LSTM(TypeContext &ctx) {
  return recurrentRule(ctx, RecurrentCell::Lstm);
}

} // namespace ember

// Type rules of the ops whose reference kernels are in
// interp/kernels/Signal.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

namespace {

// Reads a one-element operand as an integer.
Expected<int64_t> scalarInt(const TypeContext &ctx, size_t i,
                            const char *what) {
  EMBER_ASSIGN(std::vector<int64_t> v, ctx.ints(i));
  if (v.size() != 1)
    return ctx.error(what, " must have one element, got ", v.size());
  return v[0];
}

// Result element kind from the output_datatype attribute (default f32).
Expected<ElemKind> outputKind(const TypeContext &ctx) {
  ElemKind k = ElemKind::F32;
  int64_t dt = ctx.attrInt("output_datatype", 1);
  if (!elemKindFromOnnx(int(dt), k))
    return ctx.unsupportedError("output_datatype ", dt);
  return k;
}

} // namespace

Expected<MelParams> melParams(const TypeContext &ctx) {
  EMBER_ASSIGN(int64_t bins, scalarInt(ctx, 0, "num_mel_bins"));
  EMBER_ASSIGN(int64_t dftLen, scalarInt(ctx, 1, "dft_length"));
  EMBER_ASSIGN(int64_t rate, scalarInt(ctx, 2, "sample_rate"));
  EMBER_ASSIGN(std::vector<double> lo, ctx.floats(3));
  EMBER_ASSIGN(std::vector<double> hi, ctx.floats(4));
  if (lo.size() != 1 || hi.size() != 1)
    return ctx.error("edge frequencies must be scalars");
  if (bins <= 0 || dftLen <= 0 || rate <= 0 || bins > (1 << 24) ||
      dftLen > (1 << 24))
    return ctx.error("invalid num_mel_bins ", bins, ", dft_length ", dftLen,
                     " or sample_rate ", rate);
  EMBER_ASSIGN(ElemKind k, outputKind(ctx));
  int64_t spec = dftLen / 2 + 1;
  MelParams p;
  p.bins = bins;
  p.dftLen = dftLen;
  p.rate = rate;
  p.spec = spec;
  p.lowHz = lo[0];
  p.highHz = hi[0];
  p.kind = k;
  return p;
}

Status types_MelWeightMatrix(TypeContext &ctx) {
  EMBER_ASSIGN(MelParams p, melParams(ctx));
  ctx.setOutput(0, Type(p.kind, {p.spec, p.bins}));
  return Status::ok();
}

Expected<DftParams> dftParams(const TypeContext &ctx) {
  EMBER_TRY(requireFloat(ctx, 0, "input"));
  const Tensor &x = ctx.in(0);
  size_t r = x.rank();
  if (r < 2 || (x.dim(r - 1) != 1 && x.dim(r - 1) != 2))
    return ctx.error("input must be [..., signal, 1 or 2], got ",
                     x.type().toString());
  int64_t axisV = ctx.attrInt("axis", -2);
  if (ctx.has(2)) {
    EMBER_ASSIGN(axisV, scalarInt(ctx, 2, "axis"));
  }
  EMBER_ASSIGN(int64_t axis, normalizeAxis(ctx, axisV, r));
  if (size_t(axis) == r - 1)
    return ctx.error("axis must not be the last (complex) dimension");
  bool inverse = ctx.attrInt("inverse", 0) != 0;
  bool onesided = ctx.attrInt("onesided", 0) != 0;
  int64_t m = x.dim(size_t(axis));
  int64_t L = inverse && onesided ? 2 * (m - 1) : m;
  if (ctx.has(1)) {
    EMBER_ASSIGN(L, scalarInt(ctx, 1, "dft_length"));
  }
  if (L <= 0 || L > (int64_t(1) << 24))
    return ctx.error("invalid dft_length ", L);
  Dims yd = x.dims();
  if (inverse && onesided) {
    yd[size_t(axis)] = L;
    yd[r - 1] = 1;
  } else {
    yd[size_t(axis)] = onesided ? L / 2 + 1 : L;
    yd[r - 1] = 2;
  }
  DftParams p;
  p.axis = axis;
  p.m = m;
  p.L = L;
  p.inverse = inverse;
  p.onesided = onesided;
  p.out = yd;
  return p;
}

Status types_DFT(TypeContext &ctx) {
  EMBER_ASSIGN(DftParams p, dftParams(ctx));
  ctx.setOutput(0, Type(ctx.in(0).elem(), p.out));
  return Status::ok();
}

Expected<StftParams> stftParams(const TypeContext &ctx) {
  EMBER_TRY(requireFloat(ctx, 0, "signal"));
  const Tensor &x = ctx.in(0);
  if (x.rank() != 3 || (x.dim(2) != 1 && x.dim(2) != 2))
    return ctx.error("signal must be [batch, length, 1 or 2], got ",
                     x.type().toString());
  EMBER_ASSIGN(int64_t step, scalarInt(ctx, 1, "frame_step"));
  bool hasWin = ctx.has(2);
  int64_t L = hasWin ? ctx.in(2).size() : x.dim(1);
  if (hasWin && ctx.in(2).rank() != 1)
    return ctx.error("window must be 1-D, got ", ctx.in(2).type().toString());
  if (ctx.has(3)) {
    EMBER_ASSIGN(L, scalarInt(ctx, 3, "frame_length"));
    if (hasWin && ctx.in(2).size() != L)
      return ctx.error("window length ", ctx.in(2).size(),
                       " differs from frame_length ", L);
  }
  if (step <= 0 || L <= 0 || L > x.dim(1))
    return ctx.error("invalid frame_step ", step, " or frame_length ", L,
                     " for signal length ", x.dim(1));
  bool onesided = ctx.attrInt("onesided", 1) != 0;
  int64_t len = x.dim(1), frames = 1 + (len - L) / step;
  int64_t bins = onesided ? L / 2 + 1 : L;
  StftParams p;
  p.step = step;
  p.L = L;
  p.frames = frames;
  p.bins = bins;
  p.onesided = onesided;
  return p;
}

Status types_STFT(TypeContext &ctx) {
  EMBER_ASSIGN(StftParams p, stftParams(ctx));
  const Tensor &x = ctx.in(0);
  ctx.setOutput(0, Type(x.elem(), {x.dim(0), p.frames, p.bins, 2}));
  return Status::ok();
}
static Status windowRule(TypeContext &ctx) {
  EMBER_ASSIGN(int64_t size, scalarInt(ctx, 0, "size"));
  if (size < 0 || size > (int64_t(1) << 30))
    return ctx.error("invalid window size ", size);
  EMBER_ASSIGN(ElemKind k, outputKind(ctx));
  ctx.setOutput(0, Type(k, {size}));
  return Status::ok();
}

Status types_HannWindow(TypeContext &ctx) { return windowRule(ctx); }
Status types_HammingWindow(TypeContext &ctx) { return windowRule(ctx); }
Status types_BlackmanWindow(TypeContext &ctx) { return windowRule(ctx); }

} // namespace ember

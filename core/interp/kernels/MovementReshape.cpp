// Reshaping and re-laying-out kernels: Reshape, Flatten, Squeeze,
// Unsqueeze, Transpose, Expand, Tile, DepthToSpace, SpaceToDepth, Dropout.
// All of them copy elements as bytes, so every element type works.
#include "interp/kernels/MovementUtil.h"
#include <cstdint>

#include <algorithm>

namespace ember {

// Same bytes, new dims (row-major order is unchanged).
static Status reshapeTo(KernelContext &ctx, const Dims &d) {
  const Tensor &x = ctx.in(0);
  if (numElements(d) != x.size())
    return ctx.error("cannot reshape ", x.type().toString(), " (", x.size(),
                     " elements) to [", dimsToString(d), "] (", numElements(d),
                     " elements)");
  Tensor &y = ctx.setOutput(0, movedType(x.type(), d));
  if (!ctx.inferOnly() && x.bytes())
    std::memcpy(y.raw(), x.raw(), x.bytes());
  return Status::ok();
}

Status kernel_Reshape(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (ctx.in(1).rank() != 1)
    return ctx.error("shape operand must be 1-D, got ",
                     ctx.in(1).type().toString());
  EMBER_ASSIGN(std::vector<int64_t> shape, ctx.ints(1));
  bool allowZero = ctx.attrInt("allowzero", 0) != 0;
  Dims d(shape.size());
  int inferAt = -1;
  int64_t known = 1;
  bool sawZero = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    int64_t s = shape[i];
    if (s == -1) {
      if (inferAt >= 0)
        return ctx.error("more than one -1 in shape [",
                         dimsToString(Dims(shape)), "]");
      inferAt = int(i);
      continue;
    }
    if (s < -1)
      return ctx.error("invalid dimension ", s, " in shape [",
                       dimsToString(Dims(shape)), "]");
    if (s == 0 && !allowZero) {
      if (i >= x.rank())
        return ctx.error("shape [", dimsToString(Dims(shape)),
                         "] copies dimension ", i, " (0) but the input ",
                         x.type().toString(), " has rank ", x.rank());
      s = x.dim(i);
    }
    if (s == 0)
      sawZero = true;
    d[i] = s;
    if (s > 0 && known > INT64_MAX / s)
      return ctx.error("shape [", dimsToString(Dims(shape)),
                       "] has more than 2^63 elements");
    known *= s;
  }
  if (inferAt >= 0) {
    if (sawZero && allowZero)
      return ctx.error("allowzero=1 shape [", dimsToString(Dims(shape)),
                       "] has both 0 and -1");
    if (known == 0 || x.size() % known != 0)
      return ctx.error("cannot infer the -1 dimension of [",
                       dimsToString(Dims(shape)), "] for ",
                       x.type().toString());
    d[size_t(inferAt)] = x.size() / known;
  }
  return reshapeTo(ctx, d);
}

Status kernel_Flatten(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t r = int64_t(x.rank());
  int64_t axis = ctx.attrInt("axis", 1);
  if (axis < -r || axis > r)
    return ctx.error("axis ", axis, " is out of range for rank ", r);
  if (axis < 0)
    axis += r;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < r; ++i)
    (i < axis ? outer : inner) *= x.dim(size_t(i));
  return reshapeTo(ctx, {outer, inner});
}

Status kernel_Squeeze(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  std::vector<bool> drop(x.rank(), false);
  if (ctx.has(1) && ctx.in(1).size() > 0) {
    EMBER_ASSIGN(std::vector<int64_t> axes, readAxes(ctx, 1, x.rank()));
    for (int64_t a : axes) {
      if (x.dim(size_t(a)) != 1)
        return ctx.error("cannot squeeze axis ", a, " of ", x.type().toString(),
                         ": its size is not 1");
      drop[size_t(a)] = true;
    }
  } else {
    for (size_t i = 0; i < x.rank(); ++i)
      drop[i] = x.dim(i) == 1;
  }
  Dims d;
  for (size_t i = 0; i < x.rank(); ++i)
    if (!drop[i])
      d.push_back(x.dim(i));
  return reshapeTo(ctx, d);
}

Status kernel_Unsqueeze(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(std::vector<int64_t> raw, ctx.ints(1));
  size_t outRank = x.rank() + raw.size();
  EMBER_ASSIGN(std::vector<int64_t> axes, readAxes(ctx, 1, outRank));
  std::vector<bool> isNew(outRank, false);
  for (int64_t a : axes)
    isNew[size_t(a)] = true;
  Dims d;
  size_t j = 0;
  for (size_t i = 0; i < outRank; ++i)
    d.push_back(isNew[i] ? 1 : x.dim(j++));
  return reshapeTo(ctx, d);
}

Status kernel_Transpose(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  size_t r = x.rank();
  std::vector<int64_t> perm = ctx.attrInts("perm");
  if (!ctx.hasAttr("perm")) {
    perm.resize(r);
    for (size_t i = 0; i < r; ++i)
      perm[i] = int64_t(r - 1 - i);
  }
  if (perm.size() != r)
    return ctx.error("perm has ", perm.size(), " entries for ",
                     x.type().toString());
  std::vector<bool> seen(r, false);
  for (int64_t &p : perm) {
    EMBER_ASSIGN(p, normalizeAxis(ctx, p, r));
    if (seen[size_t(p)])
      return ctx.error("perm repeats axis ", p);
    seen[size_t(p)] = true;
  }
  Dims d(r);
  std::vector<int64_t> inStrides = stridesOf(x.dims()), strides(r);
  for (size_t i = 0; i < r; ++i) {
    d[i] = x.dim(size_t(perm[i]));
    strides[i] = inStrides[size_t(perm[i])];
  }
  Type t = movedType(x.type(), d);
  if (x.type().isQuantized() && !t.isQuantized()) { // per-channel: move axis
    QuantParams q = *x.type().quant();
    for (size_t i = 0; i < r; ++i)
      if (perm[i] == q.axis) {
        q.axis = int64_t(i);
        break;
      }
    t.setQuant(q);
  }
  Tensor &y = ctx.setOutput(0, t);
  if (ctx.inferOnly())
    return Status::ok();
  size_t es = elemSize(x.elem());
  const uint8_t *src = x.raw();
  uint8_t *dst = y.raw();
  forEachStrided(d, strides, [&](int64_t off) {
    std::memcpy(dst, src + size_t(off) * es, es);
    dst += es;
  });
  return Status::ok();
}

Status kernel_Expand(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (ctx.in(1).rank() != 1)
    return ctx.error("shape operand must be 1-D, got ",
                     ctx.in(1).type().toString());
  EMBER_ASSIGN(std::vector<int64_t> shape, ctx.ints(1));
  for (int64_t s : shape)
    if (s < 0)
      return ctx.error("invalid dimension ", s, " in shape [",
                       dimsToString(Dims(shape)), "]");
  Dims d;
  if (!broadcastShapes(x.dims(), Dims(shape), d))
    return ctx.error(x.type().toString(), " cannot be expanded to [",
                     dimsToString(Dims(shape)), "]");
  EMBER_TRY(checkResultSize(ctx, d));
  Tensor &y = ctx.setOutput(0, movedType(x.type(), d));
  if (ctx.inferOnly())
    return Status::ok();
  // Align the input to the right of the output; broadcast dims read index 0.
  size_t off = d.size() - x.rank();
  Dims inDims(d.size(), 1);
  std::vector<std::vector<int64_t>> tables(d.size());
  for (size_t i = 0; i < d.size(); ++i) {
    int64_t n = i < off ? 1 : x.dim(i - off);
    inDims[i] = n;
    tables[i].resize(size_t(d[i]));
    for (int64_t j = 0; j < d[i]; ++j)
      tables[i][size_t(j)] = n == 1 ? 0 : j;
  }
  gatherByTables(y.raw(), x.raw(), elemSize(x.elem()), d, inDims, tables,
                 nullptr);
  return Status::ok();
}

Status kernel_Tile(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(std::vector<int64_t> reps, ctx.ints(1));
  if (reps.size() != x.rank())
    return ctx.error("repeats has ", reps.size(), " entries for ",
                     x.type().toString());
  Dims d(x.rank());
  for (size_t i = 0; i < x.rank(); ++i) {
    if (reps[i] < 0)
      return ctx.error("negative repeat ", reps[i], " for axis ", i);
    if (__builtin_mul_overflow(x.dim(i), reps[i], &d[i]))
      return ctx.error("repeat ", reps[i], " overflows axis ", i);
  }
  EMBER_TRY(checkResultSize(ctx, d));
  Tensor &y = ctx.setOutput(0, movedType(x.type(), d));
  if (ctx.inferOnly())
    return Status::ok();
  std::vector<std::vector<int64_t>> tables(d.size());
  for (size_t i = 0; i < d.size(); ++i) {
    tables[i].resize(size_t(d[i]));
    for (int64_t j = 0; j < d[i]; ++j)
      tables[i][size_t(j)] = j % x.dim(i);
  }
  gatherByTables(y.raw(), x.raw(), elemSize(x.elem()), d, x.dims(), tables,
                 nullptr);
  return Status::ok();
}

// DepthToSpace / SpaceToDepth on NCHW, written as direct index maps (the
// lowering uses Reshape+Transpose+Reshape; this is its independent check).
Status kernel_DepthToSpace(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t b = ctx.attrInt("blocksize", 0);
  std::string mode = ctx.attrString("mode", "DCR");
  if (mode != "DCR" && mode != "CRD")
    return ctx.error("unknown mode '", mode, "'");
  if (x.rank() != 4)
    return ctx.error("input must be 4-D NCHW, got ", x.type().toString());
  if (b <= 0)
    return ctx.error("blocksize must be positive, got ", b);
  int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  if (C % (b * b) != 0)
    return ctx.error("channels ", C,
                     " are not divisible by blocksize^2 = ", b * b);
  int64_t oc = C / (b * b);
  Tensor &y = ctx.setOutput(0, movedType(x.type(), {N, oc, H * b, W * b}));
  if (ctx.inferOnly())
    return Status::ok();
  size_t es = elemSize(x.elem());
  const uint8_t *src = x.raw();
  uint8_t *dst = y.raw();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < oc; ++c)
      for (int64_t oh = 0; oh < H * b; ++oh)
        for (int64_t ow = 0; ow < W * b; ++ow) {
          int64_t h = oh / b, i = oh % b, w = ow / b, j = ow % b;
          int64_t ic =
              mode == "DCR" ? (i * b + j) * oc + c : c * b * b + i * b + j;
          int64_t s = ((n * C + ic) * H + h) * W + w;
          std::memcpy(dst, src + size_t(s) * es, es);
          dst += es;
        }
  return Status::ok();
}

Status kernel_SpaceToDepth(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t b = ctx.attrInt("blocksize", 0);
  std::string mode = ctx.attrString("mode", "DCR");
  if (mode != "DCR" && mode != "CRD")
    return ctx.error("unknown mode '", mode, "'");
  bool crd = mode == "CRD";
  if (x.rank() != 4)
    return ctx.error("input must be 4-D NCHW, got ", x.type().toString());
  if (b <= 0)
    return ctx.error("blocksize must be positive, got ", b);
  int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  if (H % b != 0 || W % b != 0)
    return ctx.error("spatial dims ", H, "x", W,
                     " are not divisible by blocksize ", b);
  int64_t oh = H / b, ow = W / b;
  Tensor &y = ctx.setOutput(0, movedType(x.type(), {N, C * b * b, oh, ow}));
  if (ctx.inferOnly())
    return Status::ok();
  size_t es = elemSize(x.elem());
  const uint8_t *src = x.raw();
  uint8_t *dst = y.raw();
  // Output channel order: DCR (i, j, c), CRD (c, i, j).
  for (int64_t n = 0; n < N; ++n)
    for (int64_t oc = 0; oc < C * b * b; ++oc) {
      int64_t c = crd ? oc / (b * b) : oc % C;
      int64_t i = crd ? (oc / b) % b : oc / (C * b);
      int64_t j = crd ? oc % b : (oc / C) % b;
      for (int64_t h = 0; h < oh; ++h)
        for (int64_t w = 0; w < ow; ++w) {
          int64_t s = ((n * C + c) * H + h * b + i) * W + w * b + j;
          std::memcpy(dst, src + size_t(s) * es, es);
          dst += es;
        }
    }
  return Status::ok();
}

// Inference semantics: the output is the input and the mask all true.
// Training mode with a nonzero ratio draws random numbers, which a
// deterministic reference cannot reproduce: unsupported.
Status kernel_Dropout(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (ctx.numOutputs() < 1 || ctx.numOutputs() > 2)
    return ctx.error("expects 1 or 2 results, got ", ctx.numOutputs());
  Tensor &y = ctx.setOutput(0, x.type());
  if (ctx.numOutputs() == 2)
    ctx.setOutput(1, Type(ElemKind::Bool, x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
  if (ctx.has(2) && ctx.in(2).size() > 0 && ctx.in(2).getInt(0) != 0) {
    double ratio = 0.5;
    if (ctx.has(1) && ctx.in(1).size() > 0)
      ratio = ctx.in(1).getDouble(0);
    if (ratio != 0)
      return ctx.unsupportedError("training mode with ratio ", ratio,
                                  " is random; only inference is supported");
  }
  y = x;
  if (ctx.numOutputs() == 2) {
    Tensor &m = ctx.out(1);
    std::fill(m.data<bool>(), m.data<bool>() + m.size(), true);
  }
  return Status::ok();
}

} // namespace ember

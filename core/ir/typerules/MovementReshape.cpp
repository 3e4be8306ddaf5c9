// Type rules of the ops whose reference kernels are in
// interp/kernels/MovementReshape.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

// Same bytes, new dims (row-major order is unchanged).
static Status reshapeRule(TypeContext &ctx, const Dims &d) {
  const Tensor &x = ctx.in(0);
  if (numElements(d) != x.size())
    return ctx.error("cannot reshape ", x.type().toString(), " (", x.size(),
                     " elements) to [", dimsToString(d), "] (", numElements(d),
                     " elements)");
  ctx.setOutput(0, movedType(x.type(), d));
  return Status::ok();
}

Status types_Reshape(TypeContext &ctx) {
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
  return reshapeRule(ctx, d);
}

Status types_Flatten(TypeContext &ctx) {
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
  return reshapeRule(ctx, {outer, inner});
}

Status types_Squeeze(TypeContext &ctx) {
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
  return reshapeRule(ctx, d);
}

Status types_Unsqueeze(TypeContext &ctx) {
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
  return reshapeRule(ctx, d);
}

Expected<std::vector<int64_t>> transposePerm(const TypeContext &ctx) {
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
  return perm;
}

Status types_Transpose(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  size_t r = x.rank();
  EMBER_ASSIGN(std::vector<int64_t> perm, transposePerm(ctx));
  Dims d(r);
  for (size_t i = 0; i < r; ++i) {
    d[i] = x.dim(size_t(perm[i]));
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
  ctx.setOutput(0, t);
  return Status::ok();
}

Status types_Expand(TypeContext &ctx) {
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
  ctx.setOutput(0, movedType(x.type(), d));
  return Status::ok();
}

Status types_Tile(TypeContext &ctx) {
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
  ctx.setOutput(0, movedType(x.type(), d));
  return Status::ok();
}

// DepthToSpace/SpaceToDepth: blocksize, mode and a 4-D NCHW input.
static Expected<int64_t> blockSize(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t b = ctx.attrInt("blocksize", 0);
  std::string mode = ctx.attrString("mode", "DCR");
  if (mode != "DCR" && mode != "CRD")
    return ctx.error("unknown mode '", mode, "'");
  if (x.rank() != 4)
    return ctx.error("input must be 4-D NCHW, got ", x.type().toString());
  if (b <= 0)
    return ctx.error("blocksize must be positive, got ", b);
  return b;
}

Status types_DepthToSpace(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t b, blockSize(ctx));
  int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  if (C % (b * b) != 0)
    return ctx.error("channels ", C,
                     " are not divisible by blocksize^2 = ", b * b);
  int64_t oc = C / (b * b);
  ctx.setOutput(0, movedType(x.type(), {N, oc, H * b, W * b}));
  return Status::ok();
}

Status types_SpaceToDepth(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t b, blockSize(ctx));
  int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  if (H % b != 0 || W % b != 0)
    return ctx.error("spatial dims ", H, "x", W,
                     " are not divisible by blocksize ", b);
  int64_t oh = H / b, ow = W / b;
  ctx.setOutput(0, movedType(x.type(), {N, C * b * b, oh, ow}));
  return Status::ok();
}

Status types_Dropout(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (ctx.numOutputs() < 1 || ctx.numOutputs() > 2)
    return ctx.error("expects 1 or 2 results, got ", ctx.numOutputs());
  ctx.setOutput(0, x.type());
  if (ctx.numOutputs() == 2)
    ctx.setOutput(1, Type(ElemKind::Bool, x.dims()));
  return Status::ok();
}
} // namespace ember

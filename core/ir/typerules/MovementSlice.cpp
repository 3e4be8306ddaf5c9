// Type rules of the ops whose reference kernels are in
// interp/kernels/MovementSlice.cpp.
#include "ir/typerules/Parse.h"

#include <algorithm>
#include <cmath>

namespace ember {

Expected<SlicePlan> slicePlan(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  size_t r = x.rank();
  EMBER_ASSIGN(std::vector<int64_t> starts, ctx.ints(1));
  EMBER_ASSIGN(std::vector<int64_t> ends, ctx.ints(2));
  if (starts.size() != ends.size())
    return ctx.error("starts has ", starts.size(), " entries but ends has ",
                     ends.size());
  std::vector<int64_t> axes;
  if (ctx.has(3) && ctx.in(3).size() > 0) {
    EMBER_ASSIGN(axes, readAxes(ctx, 3, r));
  } else {
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(int64_t(i));
  }
  std::vector<int64_t> steps(starts.size(), 1);
  if (ctx.has(4) && ctx.in(4).size() > 0) {
    EMBER_ASSIGN(steps, ctx.ints(4));
  }
  if (axes.size() != starts.size() || steps.size() != starts.size())
    return ctx.error("starts, ends, axes and steps must have equal lengths (",
                     starts.size(), ", ", ends.size(), ", ", axes.size(), ", ",
                     steps.size(), ")");
  if (axes.size() > r)
    return ctx.error(axes.size(), " slice entries for ", x.type().toString());

  Dims d = x.dims();
  std::vector<int64_t> first(r, 0), step(r, 1);
  for (size_t i = 0; i < axes.size(); ++i) {
    size_t a = size_t(axes[i]);
    int64_t n = x.dim(a), s = steps[i];
    if (s == 0)
      return ctx.error("step for axis ", a, " is 0");
    int64_t b = starts[i], e = ends[i];
    if (b < 0)
      b = b < -n ? -1 : b + n; // (avoids overflow near INT64_MIN)
    if (e < 0)
      e = e < -n ? -1 : e + n;
    int64_t len = 0;
    if (n == 0) {
      b = 0;
    } else if (s > 0) {
      b = std::clamp<int64_t>(b, 0, n);
      e = std::clamp<int64_t>(e, 0, n);
      len = e > b ? 1 + (e - b - 1) / s : 0;
    } else {
      b = std::clamp<int64_t>(b, -1, n - 1); // -1: empty (numpy, ORT)
      e = std::clamp<int64_t>(e, -1, n - 1);
      int64_t back = s == std::numeric_limits<int64_t>::min()
                         ? std::numeric_limits<int64_t>::max()
                         : -s;
      len = b > e ? 1 + (b - e - 1) / back : 0;
    }
    first[a] = b;
    step[a] = s;
    d[a] = len;
  }
  SlicePlan p;
  p.first = first;
  p.step = step;
  p.out = d;
  return p;
}

Status types_Slice(TypeContext &ctx) {
  EMBER_ASSIGN(SlicePlan p, slicePlan(ctx));
  ctx.setOutput(0, movedType(ctx.in(0).type(), p.out));
  return Status::ok();
}

Status types_Concat(TypeContext &ctx) {
  if (ctx.numInputs() == 0)
    return ctx.error("needs at least one operand");
  const Tensor &x0 = ctx.in(0);
  size_t r = x0.rank();
  if (r == 0)
    return ctx.error("cannot concatenate scalars");
  EMBER_ASSIGN(int64_t axis, normalizeAxis(ctx, ctx.attrInt("axis", 0), r));
  Dims d = x0.dims();
  d[size_t(axis)] = 0;
  for (size_t i = 0; i < ctx.numInputs(); ++i) {
    const Tensor &xi = ctx.in(i);
    if (xi.elem() != x0.elem())
      return ctx.error("operand #", i, " is ", xi.type().toString(),
                       " but operand #0 is ", x0.type().toString());
    bool ok = xi.rank() == r;
    for (size_t k = 0; ok && k < r; ++k)
      ok = k == size_t(axis) || xi.dim(k) == x0.dim(k);
    if (!ok)
      return ctx.error("operand #", i, " ", xi.type().toString(),
                       " does not match operand #0 ", x0.type().toString(),
                       " outside axis ", axis);
    d[size_t(axis)] += xi.dim(size_t(axis));
  }
  ctx.setOutput(0, movedType(x0.type(), d));
  return Status::ok();
}

Expected<SplitPlan> splitPlan(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", 0), x.rank()));
  int64_t n = x.dim(size_t(axis));
  size_t nout = ctx.numOutputs();
  if (nout == 0)
    return ctx.error("needs at least one result");
  std::vector<int64_t> sizes;
  if (ctx.has(1) && ctx.in(1).size() > 0) {
    EMBER_ASSIGN(sizes, ctx.ints(1));
    if (sizes.size() != nout)
      return ctx.error("split has ", sizes.size(), " entries for ", nout,
                       " results");
    int64_t sum = 0;
    for (int64_t s : sizes) {
      if (s < 0)
        return ctx.error("negative split size ", s);
      sum += s;
    }
    if (sum != n)
      return ctx.error("split sizes sum to ", sum, " but axis ", axis, " of ",
                       x.type().toString(), " has ", n);
  } else if (ctx.hasAttr("num_outputs")) {
    int64_t k = ctx.attrInt("num_outputs", 0);
    if (k != int64_t(nout))
      return ctx.error("num_outputs=", k, " but the node has ", nout,
                       " results");
    int64_t chunk = (n + k - 1) / k;
    int64_t lastSize = n - chunk * (k - 1);
    if (lastSize < 0)
      return ctx.error("cannot split ", n, " into ", k, " chunks of ceil(", n,
                       "/", k, ")");
    sizes.assign(nout, chunk);
    sizes.back() = lastSize;
  } else {
    if (n % int64_t(nout) != 0)
      return ctx.error("axis ", axis, " of ", x.type().toString(),
                       " does not split evenly into ", nout, " parts");
    sizes.assign(nout, n / int64_t(nout));
  }
  SplitPlan p;
  p.axis = axis;
  p.sizes = sizes;
  return p;
}

Status types_Split(TypeContext &ctx) {
  EMBER_ASSIGN(SplitPlan p, splitPlan(ctx));
  const Tensor &x = ctx.in(0);
  for (size_t i = 0; i < ctx.numOutputs(); ++i) {
    Dims d = x.dims();
    d[size_t(p.axis)] = p.sizes[i];
    ctx.setOutput(i, movedType(x.type(), d));
  }
  return Status::ok();
}

Expected<PadPlan> padPlan(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  size_t r = x.rank();
  std::string mode = ctx.attrString("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" &&
      mode != "wrap")
    return ctx.error("unknown mode '", mode, "'");
  EMBER_ASSIGN(std::vector<int64_t> pads, ctx.ints(1));
  std::vector<int64_t> axes;
  if (ctx.has(3) && ctx.in(3).size() > 0) {
    EMBER_ASSIGN(axes, readAxes(ctx, 3, r));
  } else {
    for (size_t i = 0; i < r; ++i)
      axes.push_back(int64_t(i));
  }
  if (pads.size() != 2 * axes.size())
    return ctx.error("pads has ", pads.size(), " entries for ", axes.size(),
                     " axes (need twice as many)");
  std::vector<int64_t> begin(r, 0);
  Dims d = x.dims();
  for (size_t i = 0; i < axes.size(); ++i) {
    size_t a = size_t(axes[i]);
    int64_t b = pads[i], e = pads[axes.size() + i];
    begin[a] = b;
    if (__builtin_add_overflow(x.dim(a), b, &d[a]) ||
        __builtin_add_overflow(d[a], e, &d[a]))
      return ctx.error("pads ", b, ", ", e, " overflow axis ", a);
    if (d[a] < 0)
      return ctx.error("pads ", b, ", ", e, " remove more than axis ", a,
                       " of ", x.type().toString(), " holds");
    if (mode != "constant" && x.dim(a) == 0 && d[a] > 0)
      return ctx.error("cannot pad empty axis ", a, " in ", mode, " mode");
  }
  EMBER_TRY(checkResultSize(ctx, d));
  PadPlan p;
  p.mode = mode;
  p.begin = begin;
  p.out = d;
  return p;
}

Status types_Pad(TypeContext &ctx) {
  EMBER_ASSIGN(PadPlan p, padPlan(ctx));
  ctx.setOutput(0, movedType(ctx.in(0).type(), p.out));
  return Status::ok();
}

Status types_Trilu(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.rank() < 2)
    return ctx.error("input must have rank >= 2, got ", x.type().toString());
  if (ctx.has(1) && (!isIntKind(ctx.in(1).elem()) || ctx.in(1).size() != 1 ||
                     ctx.in(1).rank() > 1))
    return ctx.error("k must be a one-element integer tensor, got ",
                     ctx.in(1).type().toString());
  ctx.setOutput(0, x.type().withDims(x.dims()));
  return Status::ok();
}

Expected<CropPadPlan> cropPadPlan(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(std::vector<int64_t> shape, ctx.ints(1));
  size_t r = x.rank();
  std::vector<int64_t> axes = ctx.attrInts("axes");
  if (!ctx.hasAttr("axes"))
    for (size_t k = 0; k < r; ++k)
      axes.push_back(int64_t(k));
  if (axes.size() != shape.size())
    return ctx.error("shape has ", shape.size(), " values for ", axes.size(),
                     " axes");
  std::set<int64_t> seen;
  Dims yd = x.dims();
  // Per dim: offset of the kept window in the input (crop) and in the
  // output (pad), and its length.
  std::vector<int64_t> inOff(r, 0), outOff(r, 0), len(x.dims());
  for (size_t i = 0; i < axes.size(); ++i) {
    EMBER_ASSIGN(int64_t a, normalizeAxis(ctx, axes[i], r));
    if (!seen.insert(a).second)
      return ctx.error("axis ", a, " is repeated");
    int64_t dim = x.dim(size_t(a)), sh = shape[i];
    if (sh < 0)
      return ctx.error("negative target size ", sh);
    yd[size_t(a)] = sh;
    if (sh < dim) {
      inOff[size_t(a)] = (dim - sh) / 2;
      len[size_t(a)] = sh;
    } else if (sh > dim) {
      outOff[size_t(a)] = (sh - dim) / 2;
    }
  }
  EMBER_TRY(checkResultSize(ctx, yd));
  CropPadPlan p;
  p.inOff = inOff;
  p.outOff = outOff;
  p.len = len;
  p.out = yd;
  return p;
}

Status types_CenterCropPad(TypeContext &ctx) {
  EMBER_ASSIGN(CropPadPlan p, cropPadPlan(ctx));
  ctx.setOutput(0, ctx.in(0).type().withDims(p.out));
  return Status::ok();
}
} // namespace ember

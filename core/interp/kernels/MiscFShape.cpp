// Reference kernels that place elements into a new shape: CenterCropPad
// (center crop and/or zero pad per axis) and MaxUnpool (scatter pooled
// values back to the positions recorded by MaxPool's indices).
#include "interp/kernels/MiscFUtil.h"
#include "interp/kernels/MovementUtil.h"

#include <cstring>
#include <set>

namespace ember {

Status kernel_CenterCropPad(KernelContext &ctx) {
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
  Tensor &y = ctx.setOutput(0, x.type().withDims(yd));
  if (ctx.inferOnly())
    return Status::ok();
  int64_t total = numElements(len);
  if (total == 0)
    return Status::ok();
  std::vector<int64_t> xs = stridesOf(x.dims()), ys = stridesOf(yd);
  size_t es = elemSize(x.elem());
  std::vector<int64_t> idx(r, 0);
  for (int64_t e = 0; e < total; ++e) {
    int64_t xo = 0, yo = 0;
    for (size_t k = 0; k < r; ++k) {
      xo += (idx[k] + inOff[k]) * xs[k];
      yo += (idx[k] + outOff[k]) * ys[k];
    }
    std::memcpy(y.raw() + size_t(yo) * es, x.raw() + size_t(xo) * es, es);
    for (size_t k = r; k-- > 0;) {
      if (++idx[k] < len[k])
        break;
      idx[k] = 0;
    }
  }
  return Status::ok();
}

Status kernel_MaxUnpool(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1);
  EMBER_TRY(requireIndex(ctx, 1, "I"));
  if (x.rank() < 3)
    return ctx.error("X must have rank >= 3, got ", x.type().toString());
  if (ind.dims() != x.dims())
    return ctx.error("I ", ind.type().toString(), " must match X ",
                     x.type().toString());
  size_t s = x.rank() - 2;
  std::vector<int64_t> ks = ctx.attrInts("kernel_shape");
  std::vector<int64_t> pads = ctx.attrInts("pads");
  std::vector<int64_t> strides = ctx.attrInts("strides");
  if (pads.empty())
    pads.assign(2 * s, 0);
  if (strides.empty())
    strides.assign(s, 1);
  if (ks.size() != s || pads.size() != 2 * s || strides.size() != s)
    return ctx.error("kernel_shape, pads, strides must have ", s, ", ", 2 * s,
                     ", ", s, " values");
  Dims inferred{x.dim(0), x.dim(1)};
  for (size_t k = 0; k < s; ++k) {
    int64_t v = (x.dim(k + 2) - 1) * strides[k] - pads[k] - pads[k + s] + ks[k];
    if (v < 0)
      return ctx.error("negative inferred output size on spatial dim ", k);
    inferred.push_back(v);
  }
  Dims yd = inferred;
  if (ctx.has(2)) {
    EMBER_ASSIGN(std::vector<int64_t> os, ctx.ints(2));
    if (os.size() != x.rank())
      return ctx.error("output_shape must have ", x.rank(), " values");
    for (size_t k = 0; k < os.size(); ++k)
      if (os[k] < inferred[k])
        return ctx.error("output_shape [", dimsToString(os),
                         "] is smaller than the inferred [",
                         dimsToString(inferred), "]");
    yd = os;
    EMBER_TRY(checkResultSize(ctx, yd));
  }
  Tensor &y = ctx.setOutput(0, x.type().withDims(yd));
  if (ctx.inferOnly())
    return Status::ok();
  // Indices address the inferred shape; that block sits at the origin of
  // the (possibly larger) output.
  std::vector<int64_t> is = stridesOf(inferred), ys = stridesOf(yd);
  int64_t limit = numElements(inferred);
  std::vector<int64_t> iv = ind.toInts();
  size_t es = elemSize(x.elem());
  for (int64_t e = 0; e < x.size(); ++e) {
    int64_t f = iv[size_t(e)];
    if (f < 0 || f >= limit)
      return ctx.error("index ", f, " at element ", e, " is outside [0, ",
                       limit, ")");
    int64_t yo = 0;
    for (size_t k = 0; k < inferred.size(); ++k)
      yo += ((f / is[k]) % inferred[k]) * ys[k];
    std::memcpy(y.raw() + size_t(yo) * es, x.raw() + size_t(e) * es, es);
  }
  return Status::ok();
}

} // namespace ember

// Slicing, joining and padding kernels: Slice, Concat, Split, Pad,
// CenterCropPad, and Trilu (the upper or lower triangle).
#include "interp/kernels/MovementUtil.h"
#include "interp/kernels/ValueUtil.h"

#include <cstring>

namespace ember {

Status kernel_Slice(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(SlicePlan p, slicePlan(ctx));
  size_t r = x.rank();
  const Dims &d = p.out;
  const std::vector<int64_t> &first = p.first, &step = p.step;
  Tensor &y = ctx.out(0);
  std::vector<std::vector<int64_t>> tables(r);
  for (size_t a = 0; a < r; ++a) {
    tables[a].resize(size_t(d[a]));
    for (int64_t j = 0; j < d[a]; ++j)
      tables[a][size_t(j)] = first[a] + j * step[a];
  }
  gatherByTables(y.raw(), x.raw(), elemSize(x.elem()), d, x.dims(), tables,
                 nullptr);
  return Status::ok();
}

Status kernel_Concat(KernelContext &ctx) {
  const Tensor &x0 = ctx.in(0);
  size_t r = x0.rank();
  EMBER_ASSIGN(int64_t axis, normalizeAxis(ctx, ctx.attrInt("axis", 0), r));
  Tensor &y = ctx.out(0);
  const Dims &d = y.dims();
  size_t es = elemSize(x0.elem());
  int64_t outer = 1, inner = 1;
  for (size_t k = 0; k < r; ++k)
    if (k < size_t(axis))
      outer *= d[k];
    else if (k > size_t(axis))
      inner *= d[k];
  uint8_t *dst = y.raw();
  for (int64_t o = 0; o < outer; ++o)
    for (size_t i = 0; i < ctx.numInputs(); ++i) {
      const Tensor &xi = ctx.in(i);
      size_t chunk = size_t(xi.dim(size_t(axis)) * inner) * es;
      if (chunk == 0)
        continue;
      std::memcpy(dst, xi.raw() + size_t(o) * chunk, chunk);
      dst += chunk;
    }
  return Status::ok();
}

Status kernel_Split(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(SplitPlan p, splitPlan(ctx));
  int64_t axis = p.axis, n = x.dim(size_t(axis));
  size_t nout = ctx.numOutputs();
  const std::vector<int64_t> &sizes = p.sizes;
  int64_t outer = 1, inner = 1;
  for (size_t k = 0; k < x.rank(); ++k)
    if (k < size_t(axis))
      outer *= x.dim(k);
    else if (k > size_t(axis))
      inner *= x.dim(k);
  size_t es = elemSize(x.elem());
  size_t rowBytes = size_t(n * inner) * es;
  size_t offset = 0;
  for (size_t i = 0; i < nout; ++i) {
    size_t chunk = size_t(sizes[i] * inner) * es;
    uint8_t *dst = ctx.out(i).raw();
    for (int64_t o = 0; o < outer && chunk; ++o)
      std::memcpy(dst + size_t(o) * chunk,
                  x.raw() + size_t(o) * rowBytes + offset, chunk);
    offset += chunk;
  }
  return Status::ok();
}

// Source index along one axis for output position j in pad mode `mode`, or
// -1 for the constant fill. `begin` is the (possibly negative) leading pad.
static int64_t padSource(const std::string &mode, int64_t j, int64_t begin,
                         int64_t n) {
  int64_t i = j - begin;
  if (i >= 0 && i < n)
    return i;
  if (mode == "constant" || n == 0)
    return -1;
  if (mode == "edge")
    return i < 0 ? 0 : n - 1;
  if (mode == "wrap")
    return ((i % n) + n) % n;
  // reflect: a triangle wave of period 2(n-1) (numpy's repeated reflection).
  if (n == 1)
    return 0;
  int64_t p = 2 * (n - 1);
  int64_t m = ((i % p) + p) % p;
  return m < n ? m : p - m;
}

Status kernel_Pad(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(PadPlan p, padPlan(ctx));
  size_t r = x.rank();
  const std::string &mode = p.mode;
  const std::vector<int64_t> &begin = p.begin;
  const Dims &d = p.out;
  Tensor &y = ctx.out(0);
  std::vector<uint8_t> fill = fillBytes(x.elem(), 0);
  if (mode == "constant" && ctx.has(2) && ctx.in(2).size() > 0) {
    const Tensor &cv = ctx.in(2);
    if (cv.elem() == x.elem())
      std::memcpy(fill.data(), cv.raw(), fill.size());
    else
      fill = fillBytes(x.elem(), cv.getDouble(0));
  }
  std::vector<std::vector<int64_t>> tables(r);
  for (size_t a = 0; a < r; ++a) {
    tables[a].resize(size_t(d[a]));
    for (int64_t j = 0; j < d[a]; ++j)
      tables[a][size_t(j)] = padSource(mode, j, begin[a], x.dim(a));
  }
  gatherByTables(y.raw(), x.raw(), elemSize(x.elem()), d, x.dims(), tables,
                 fill.data());
  return Status::ok();
}

// Trilu(input, k?) attr upper=1: keeps the elements on and above (upper) or
// on and below (lower) the k-th diagonal of the last two dims, zeroes the
// rest.
Status kernel_Trilu(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  int64_t k = 0;
  if (ctx.has(1)) {
    EMBER_ASSIGN(k, scalarIntOperand(ctx, 1, "k"));
  }
  bool upper = ctx.attrInt("upper", 1) != 0;
  int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  size_t es = elemSize(x.elem());
  int64_t mats = rows > 0 && cols > 0 ? x.size() / (rows * cols) : 0;
  const uint8_t *src = x.raw();
  uint8_t *dst = y.raw(); // zero-filled
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        // j - i >= k: on/above the k-th diagonal.
        bool keep = upper ? j - i >= k : j - i <= k;
        if (keep) {
          size_t off = size_t((m * rows + i) * cols + j) * es;
          std::memcpy(dst + off, src + off, es);
        }
      }
  return Status::ok();
}

Status kernel_CenterCropPad(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(CropPadPlan p, cropPadPlan(ctx));
  size_t r = x.rank();
  const Dims &yd = p.out;
  const std::vector<int64_t> &inOff = p.inOff, &outOff = p.outOff, &len = p.len;
  Tensor &y = ctx.out(0);
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

} // namespace ember

// Slicing, joining and padding kernels: Slice, Concat, Split, Pad,
// CenterCropPad, and Trilu (the upper or lower triangle).
#include "interp/kernels/MovementUtil.h"
#include "interp/kernels/ValueUtil.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>

namespace ember {

Status kernel_Slice(KernelContext &ctx) {
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
  Tensor &y = ctx.setOutput(0, movedType(x.type(), d));
  if (ctx.inferOnly())
    return Status::ok();
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
  Tensor &y = ctx.setOutput(0, movedType(x0.type(), d));
  if (ctx.inferOnly())
    return Status::ok();
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
  int64_t outer = 1, inner = 1;
  for (size_t k = 0; k < x.rank(); ++k)
    if (k < size_t(axis))
      outer *= x.dim(k);
    else if (k > size_t(axis))
      inner *= x.dim(k);
  for (size_t i = 0; i < nout; ++i) {
    Dims d = x.dims();
    d[size_t(axis)] = sizes[i];
    ctx.setOutput(i, movedType(x.type(), d));
  }
  if (ctx.inferOnly())
    return Status::ok();
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
  Tensor &y = ctx.setOutput(0, movedType(x.type(), d));
  if (ctx.inferOnly())
    return Status::ok();
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
  if (x.rank() < 2)
    return ctx.error("input must have rank >= 2, got ", x.type().toString());
  if (ctx.has(1) && (!isIntKind(ctx.in(1).elem()) || ctx.in(1).size() != 1 ||
                     ctx.in(1).rank() > 1))
    return ctx.error("k must be a one-element integer tensor, got ",
                     ctx.in(1).type().toString());
  Tensor &y = ctx.setOutput(0, x.type().withDims(x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
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

} // namespace ember

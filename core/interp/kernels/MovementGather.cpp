// Indexed reads and writes: Gather, GatherElements, GatherND,
// ScatterElements, ScatterND, ReverseSequence. Negative indices wrap once;
// indices still out of range are errors.
#include "interp/kernels/MovementUtil.h"
#include "interp/kernels/ValueUtil.h"

#include <algorithm>

namespace ember {

Status kernel_Gather(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", 0), x.rank()));
  Tensor &y = ctx.out(0);
  int64_t n = x.dim(size_t(axis)), outer = 1, inner = 1;
  for (size_t k = 0; k < x.rank(); ++k)
    if (k < size_t(axis))
      outer *= x.dim(k);
    else if (k > size_t(axis))
      inner *= x.dim(k);
  std::vector<int64_t> idx = ind.toInts();
  for (int64_t &v : idx) {
    EMBER_ASSIGN(v, wrapIndex(ctx, v, n, "gather"));
  }
  size_t chunk = size_t(inner) * elemSize(x.elem());
  uint8_t *dst = y.raw();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t v : idx) {
      if (chunk)
        std::memcpy(dst, x.raw() + (size_t(o * n + v)) * chunk, chunk);
      dst += chunk;
    }
  return Status::ok();
}

Status kernel_GatherElements(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", 0), x.rank()));
  Tensor &y = ctx.out(0);
  std::vector<int64_t> xs = stridesOf(x.dims()), strides = xs;
  strides[size_t(axis)] = 0;
  std::vector<int64_t> idx = ind.toInts();
  size_t es = elemSize(x.elem());
  int64_t n = x.dim(size_t(axis)), axisStride = xs[size_t(axis)];
  int64_t i = 0;
  Status st;
  forEachStrided(ind.dims(), strides, [&](int64_t off) {
    if (!st.isOk())
      return;
    auto w = wrapIndex(ctx, idx[size_t(i)], n, "gather");
    if (!w) {
      st = w.takeStatus();
      return;
    }
    std::memcpy(y.raw() + size_t(i) * es,
                x.raw() + size_t(off + *w * axisStride) * es, es);
    ++i;
  });
  return st;
}

Status kernel_GatherND(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1);
  int64_t b = ctx.attrInt("batch_dims", 0);
  int64_t r = int64_t(x.rank()), q = int64_t(ind.rank());
  int64_t k = ind.dim(size_t(q - 1));
  Tensor &y = ctx.out(0);
  int64_t batch = 1, perBatch = 1, slice = 1;
  for (int64_t i = 0; i < b; ++i)
    batch *= x.dim(size_t(i));
  for (int64_t i = b; i < q - 1; ++i)
    perBatch *= ind.dim(size_t(i));
  for (int64_t i = b + k; i < r; ++i)
    slice *= x.dim(size_t(i));
  std::vector<int64_t> xs = stridesOf(x.dims());
  int64_t batchStride = b > 0 ? xs[size_t(b - 1)] : 0;
  std::vector<int64_t> idx = ind.toInts();
  size_t chunk = size_t(slice) * elemSize(x.elem());
  uint8_t *dst = y.raw();
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t p = 0; p < perBatch; ++p) {
      const int64_t *tuple = idx.data() + (bi * perBatch + p) * k;
      int64_t off = bi * batchStride;
      for (int64_t j = 0; j < k; ++j) {
        EMBER_ASSIGN(int64_t v,
                     wrapIndex(ctx, tuple[j], x.dim(size_t(b + j)), "gather"));
        off += v * xs[size_t(b + j)];
      }
      if (chunk)
        std::memcpy(dst, x.raw() + size_t(off) * elemSize(x.elem()), chunk);
      dst += chunk;
    }
  return Status::ok();
}

// Combines an existing element with an update per the reduction attribute.

// out[dstIdx] = reduce(out[dstIdx], upd[srcIdx]) for `count` consecutive
// elements, typed.
static void applyUpdate(Tensor &out, int64_t dstIdx, const Tensor &upd,
                        int64_t srcIdx, int64_t count, ScatterReduction red) {
  size_t es = elemSize(out.elem());
  if (red == ScatterReduction::None) {
    std::memcpy(out.raw() + size_t(dstIdx) * es,
                upd.raw() + size_t(srcIdx) * es, size_t(count) * es);
    return;
  }
  dispatchElem(out.elem(), [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeT<T>;
    T *o = out.data<T>() + dstIdx;
    const T *u = upd.data<T>() + srcIdx;
    for (int64_t i = 0; i < count; ++i) {
      C a = C(o[i]), b = C(u[i]);
      C v = a;
      switch (red) {
      case ScatterReduction::Add:
        if constexpr (std::is_same_v<C, bool>)
          v = a || b;
        else
          v = C(a + b);
        break;
      case ScatterReduction::Mul:
        if constexpr (std::is_same_v<C, bool>)
          v = a && b;
        else
          v = C(a * b);
        break;
      case ScatterReduction::Max:
        v = std::max(a, b);
        break;
      case ScatterReduction::Min:
        v = std::min(a, b);
        break;
      case ScatterReduction::None:
        v = b;
        break;
      }
      o[i] = T(v);
    }
  });
}

Status kernel_ScatterElements(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1), &upd = ctx.in(2);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", 0), x.rank()));
  EMBER_ASSIGN(ScatterReduction red, scatterReduction(ctx));
  Tensor &y = ctx.out(0);
  y = x;
  std::vector<int64_t> xs = stridesOf(x.dims()), strides = xs;
  strides[size_t(axis)] = 0;
  std::vector<int64_t> idx = ind.toInts();
  int64_t n = x.dim(size_t(axis)), axisStride = xs[size_t(axis)];
  int64_t i = 0;
  Status st;
  forEachStrided(ind.dims(), strides, [&](int64_t off) {
    if (!st.isOk())
      return;
    auto w = wrapIndex(ctx, idx[size_t(i)], n, "scatter");
    if (!w) {
      st = w.takeStatus();
      return;
    }
    applyUpdate(y, off + *w * axisStride, upd, i, 1, red);
    ++i;
  });
  return st;
}

Status kernel_ScatterND(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &ind = ctx.in(1), &upd = ctx.in(2);
  int64_t r = int64_t(x.rank()), q = int64_t(ind.rank());
  int64_t k = ind.dim(size_t(q - 1));
  EMBER_ASSIGN(ScatterReduction red, scatterReduction(ctx));
  Tensor &y = ctx.out(0);
  y = x;
  int64_t count = 1, slice = 1;
  for (int64_t i = 0; i < q - 1; ++i)
    count *= ind.dim(size_t(i));
  for (int64_t i = k; i < r; ++i)
    slice *= x.dim(size_t(i));
  std::vector<int64_t> xs = stridesOf(x.dims());
  std::vector<int64_t> idx = ind.toInts();
  for (int64_t p = 0; p < count; ++p) {
    int64_t off = 0;
    for (int64_t j = 0; j < k; ++j) {
      EMBER_ASSIGN(int64_t v, wrapIndex(ctx, idx[size_t(p * k + j)],
                                        x.dim(size_t(j)), "scatter"));
      off += v * xs[size_t(j)];
    }
    applyUpdate(y, off, upd, p * slice, slice, red);
  }
  return Status::ok();
}

Status kernel_ReverseSequence(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t ba,
               normalizeAxis(ctx, ctx.attrInt("batch_axis", 1), x.rank()));
  EMBER_ASSIGN(int64_t ta,
               normalizeAxis(ctx, ctx.attrInt("time_axis", 0), x.rank()));
  const Tensor &sl = ctx.in(1);
  Tensor &y = ctx.out(0);
  std::vector<int64_t> lens = sl.toInts();
  int64_t T = x.dim(size_t(ta)), B = x.dim(size_t(ba));
  int64_t inner = x.size() / std::max<int64_t>(1, T * B);
  std::vector<int64_t> str = stridesOf(x.dims());
  size_t chunk = size_t(inner) * elemSize(x.elem());
  for (int64_t b = 0; b < B; ++b) {
    int64_t L = lens[size_t(b)];
    if (L < 0 || L > T)
      return ctx.error("sequence length ", L, " of batch ", b,
                       " is outside [0, ", T, "]");
    for (int64_t t = 0; t < T; ++t) {
      int64_t src = t < L ? L - 1 - t : t;
      int64_t od = b * str[size_t(ba)] + t * str[size_t(ta)];
      int64_t os = b * str[size_t(ba)] + src * str[size_t(ta)];
      if (chunk)
        std::memcpy(y.raw() + size_t(od) * elemSize(x.elem()),
                    x.raw() + size_t(os) * elemSize(x.elem()), chunk);
    }
  }
  return Status::ok();
}

} // namespace ember

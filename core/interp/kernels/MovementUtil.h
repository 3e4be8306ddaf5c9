// Building blocks for data movement kernels: type-agnostic byte copies
// driven by per-dimension index tables, index normalization and the result
// types of ops that only move elements.
#pragma once

#include "interp/Kernel.h"

#include <cstring>
#include <set>

namespace ember {

// The result type of an op that moves elements of `in` into shape `d`:
// per-tensor quantization survives, per-channel quantization (tied to an
// axis that may move) is dropped.
inline Type movedType(const Type &in, Dims d) {
  if (in.isQuantized() && in.quant()->scales.size() == 1)
    return in.withDims(std::move(d));
  return Type(in.elem(), std::move(d));
}

// Reads an axes operand (operand `i`), normalizes each axis against `rank`
// and rejects duplicates.
inline Expected<std::vector<int64_t>> readAxes(const KernelContext &ctx,
                                               size_t i, size_t rank) {
  EMBER_ASSIGN(std::vector<int64_t> axes, ctx.ints(i));
  std::set<int64_t> seen;
  for (int64_t &a : axes) {
    EMBER_ASSIGN(a, normalizeAxis(ctx, a, rank));
    if (!seen.insert(a).second)
      return ctx.error("axis ", a, " is repeated");
  }
  return axes;
}

// Rejects result shapes whose element count overflows or is absurdly large
// (shapes computed from operand values: Expand, Tile, Pad, Resize, ...), so
// a bad model gets an error instead of a failed allocation.
inline Status checkResultSize(const KernelContext &ctx, const Dims &d) {
  constexpr int64_t kMaxElems = int64_t(1) << 34;
  int64_t n = 1;
  for (int64_t v : d) {
    if (v < 0)
      return ctx.error("negative dimension in result shape [", dimsToString(d),
                       "]");
    if (v != 0 && n > kMaxElems / v)
      n = kMaxElems + 1;
    else
      n *= v;
  }
  for (int64_t v : d)
    if (v == 0)
      return Status::ok();
  if (n > kMaxElems)
    return ctx.error("result shape [", dimsToString(d), "] is too large");
  return Status::ok();
}

// Normalizes an element index against a dimension of size n: a negative
// index wraps once; anything still outside [0, n) is an error.
inline Expected<int64_t> wrapIndex(const KernelContext &ctx, int64_t v,
                                   int64_t n, const char *what) {
  int64_t w = v < 0 ? v + n : v;
  if (w < 0 || w >= n)
    return ctx.error(what, " index ", v, " is out of range for a dimension of ",
                     n);
  return w;
}

// dst[o] = src[sum_d strides_in[d] * tables[d][o_d]] for every multi-index
// o of outDims (row-major), copying elemSize bytes per element. A table
// entry of -1 writes `fill` (elemSize bytes) instead. tables[d] has
// outDims[d] entries. Amortized O(1) per element (odometer with partial
// offsets).
inline void gatherByTables(uint8_t *dst, const uint8_t *src, size_t es,
                           const Dims &outDims, const Dims &inDims,
                           const std::vector<std::vector<int64_t>> &tables,
                           const uint8_t *fill) {
  int64_t total = numElements(outDims);
  if (total == 0)
    return;
  size_t r = outDims.size();
  if (r == 0) {
    std::memcpy(dst, src, es);
    return;
  }
  std::vector<int64_t> inStrides = stridesOf(inDims);
  std::vector<int64_t> idx(r, 0);
  // partial[d]: offset contributed by dims [0, d]; -1 when any is a fill.
  std::vector<int64_t> partial(r, 0);
  auto recompute = [&](size_t from) {
    for (size_t d = from; d < r; ++d) {
      int64_t prev = d == 0 ? 0 : partial[d - 1];
      int64_t t = tables[d][size_t(idx[d])];
      partial[d] = (prev < 0 || t < 0) ? -1 : prev + t * inStrides[d];
    }
  };
  recompute(0);
  const std::vector<int64_t> &last = tables[r - 1];
  int64_t lastStride = inStrides[r - 1];
  int64_t lastN = outDims[r - 1];
  for (int64_t o = 0; o < total; o += lastN) {
    int64_t base = r == 1 ? 0 : partial[r - 2];
    for (int64_t j = 0; j < lastN; ++j) {
      int64_t t = last[size_t(j)];
      uint8_t *p = dst + size_t(o + j) * es;
      if (base < 0 || t < 0)
        std::memcpy(p, fill, es);
      else
        std::memcpy(p, src + size_t(base + t * lastStride) * es, es);
    }
    // Advance the odometer over dims [0, r-1).
    size_t d = r - 1;
    while (d-- > 0) {
      if (++idx[d] < outDims[d]) {
        recompute(d);
        break;
      }
      idx[d] = 0;
    }
    if (d == size_t(-1))
      break;
  }
}

// Calls f(offsetIn) for each multi-index of outDims in row-major order where
// offsetIn = sum_d idx[d] * strides[d]. Used for permutations.
template <typename F>
void forEachStrided(const Dims &outDims, const std::vector<int64_t> &strides,
                    F f) {
  int64_t total = numElements(outDims);
  if (total == 0)
    return;
  size_t r = outDims.size();
  if (r == 0) {
    f(int64_t(0));
    return;
  }
  std::vector<int64_t> idx(r, 0);
  int64_t off = 0;
  for (int64_t o = 0; o < total; ++o) {
    f(off);
    for (size_t d = r; d-- > 0;) {
      off += strides[d];
      if (++idx[d] < outDims[d])
        break;
      off -= strides[d] * outDims[d];
      idx[d] = 0;
    }
  }
}

// A one-element byte pattern of kind k holding v (through setDouble).
inline std::vector<uint8_t> fillBytes(ElemKind k, double v) {
  Tensor t(Type(k, {}));
  t.setDouble(0, v);
  return std::vector<uint8_t>(t.raw(), t.raw() + t.bytes());
}

} // namespace ember

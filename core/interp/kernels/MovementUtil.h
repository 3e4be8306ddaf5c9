// Building blocks for data movement kernels: type-agnostic byte copies
// driven by per-dimension index tables, strided walks and fill bytes. (Index
// normalization and the result types of ops that only move elements are the
// type rules' helpers, ir/typerules/Parse.h.)
#pragma once

#include "interp/Kernel.h"
#include "ir/typerules/Parse.h"

#include <cstring>

namespace ember {

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

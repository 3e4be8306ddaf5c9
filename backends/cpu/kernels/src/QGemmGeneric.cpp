//===- QGemmGeneric.cpp - the portable int8 tiles -------------------------===//
//
// The generic path's tiles, and the portable kernels that run a packed
// buffer on a path whose own kernel does not use its layout: Quad panels
// (4 k per 32-bit lane) of 16 to 64 columns, and Pair16 (s16 pairs, the
// AVX2 layout). Plain C++: every product and sum as the vector tiles make
// it (int32 wraparound), so every path gives the same bits.
//
//===----------------------------------------------------------------------===//
#include "QGemm.h"

namespace ember::cpu::detail {

namespace {

template <int MR, int NR> void qtileGeneric(const QTileArgs &t) {
  int32_t acc[MR][NR] = {};
  const uint8_t *a = t.a;
  const int8_t *b = t.b;
  for (size_t g = 0; g < t.groups; ++g, a += 4 * MR, b += 4 * NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j)
        for (int q = 0; q < 4; ++q)
          acc[i][j] += static_cast<int32_t>(a[4 * i + q]) *
                       static_cast<int32_t>(b[4 * j + q]);
  for (int i = t.rowBegin; i < t.rowEnd; ++i)
    for (int j = t.colBegin; j < t.colEnd; ++j) {
      int32_t v = acc[i][j] + t.colTerm[j];
      if (t.bZp)
        v -= t.bZp[j] * t.rowSum[i];
      storeQ(t, i, j, finishQ(t, j, v));
    }
}

/// The Pair16 layout's portable tile (A u16 pairs, B s16 pairs, zero points
/// folded into B). Products and sums wrap as int32, as the vector lanes do.
template <int MR, int NR> void qtileGenericPair(const QTileArgs &t) {
  uint32_t acc[MR][NR] = {};
  const uint16_t *a = reinterpret_cast<const uint16_t *>(t.a);
  const int16_t *b = reinterpret_cast<const int16_t *>(t.b);
  for (size_t g = 0; g < t.groups; ++g, a += 2 * MR, b += 2 * NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j)
        for (int q = 0; q < 2; ++q)
          acc[i][j] +=
              static_cast<uint32_t>(static_cast<int32_t>(a[2 * i + q]) *
                                    static_cast<int32_t>(b[2 * j + q]));
  for (int i = t.rowBegin; i < t.rowEnd; ++i)
    for (int j = t.colBegin; j < t.colEnd; ++j) {
      int32_t v =
          static_cast<int32_t>(acc[i][j] + static_cast<uint32_t>(t.colTerm[j]));
      storeQ(t, i, j, finishQ(t, j, v));
    }
}

constexpr QGemmKernel kQGeneric[] = {
    {Isa::Generic, 4, 16, &qtileGeneric<4, 16>, QLayout::Quad},
    {Isa::Generic, 4, 32, &qtileGeneric<4, 32>, QLayout::Quad},
    {Isa::Generic, 4, 48, &qtileGeneric<4, 48>, QLayout::Quad},
    {Isa::Generic, 4, 64, &qtileGeneric<4, 64>, QLayout::Quad},
};
constexpr QGemmKernel kQGenericPair = {
    Isa::Generic, 6, 16, &qtileGenericPair<6, 16>, QLayout::Pair16};

} // namespace

const QGemmKernel &qgemmKernelGeneric() { return kQGeneric[0]; }

const QGemmKernel *qgemmKernelGenericFor(QLayout layout, int nr) {
  if (layout == QLayout::Pair16)
    return nr == kQGenericPair.nr ? &kQGenericPair : nullptr;
  for (const QGemmKernel &k : kQGeneric)
    if (k.nr == nr)
      return &k;
  return nullptr;
}

} // namespace ember::cpu::detail

//===- SgemmAvx2.cpp - AVX2+FMA fp32 micro-kernel -------------------------===//
//
// 6 x 16 tile: 12 ymm accumulators, 2 ymm B loads and 6 broadcasts per k
// (15 of the 16 ymm registers). Partial column vectors use vmaskmov
// (TileAvx2.h, storeRow8).
//
//===----------------------------------------------------------------------===//
#include "TileAvx2.h"

namespace ember::cpu::detail {

namespace {

/// Rows [0, MRC) of an MR x 8*NV tile (A panels of MR rows): the rows past
/// the last live one are not computed (a GEMV's one row costs one sixth).
template <int MR, int NV, int MRC>
EMBER_TARGET_AVX2 void tileAvx2(const TileArgs &t) {
  constexpr int NR = 8 * NV;
  __m256 acc[MRC][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MRC; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      acc[i][j] = _mm256_setzero_ps();
  const float *a = t.a;
  const float *b = t.b;
#pragma GCC unroll 4
  for (size_t k = t.kc; k > 0; --k) {
    __m256 bv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      bv[j] = _mm256_loadu_ps(b + 8 * j);
#pragma GCC unroll 16
    for (int i = 0; i < MRC; ++i) {
      __m256 ai = _mm256_broadcast_ss(a + i);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        acc[i][j] = _mm256_fmadd_ps(ai, bv[j], acc[i][j]);
    }
    a += MR;
    b += NR;
  }
  __m256i masks[NV];
  bool any[NV], full[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    masks[j] = laneMask8(t.colBegin - 8 * j, t.colEnd - 8 * j);
    any[j] = t.colBegin < 8 * j + 8 && t.colEnd > 8 * j;
    full[j] = t.colBegin <= 8 * j && t.colEnd >= 8 * j + 8;
  }
#pragma GCC unroll 16
  for (int i = 0; i < MRC; ++i) {
    if (i < t.rowBegin || i >= t.rowEnd)
      continue;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      if (any[j])
        storeRow8(t, i, j, masks[j], full[j], acc[i][j]);
  }
}

/// The body for the tile's live rows.
void tileAvx2Rows(const TileArgs &t) {
  static constexpr TileFn bodies[6] = {&tileAvx2<6, 2, 1>, &tileAvx2<6, 2, 2>,
                                       &tileAvx2<6, 2, 3>, &tileAvx2<6, 2, 4>,
                                       &tileAvx2<6, 2, 5>, &tileAvx2<6, 2, 6>};
  bodies[t.rowEnd - 1](t);
}

constexpr GemmKernel kAvx2 = {Isa::Avx2, 6,    16,    120,
                              256,       2048, false, &tileAvx2Rows};

} // namespace

const GemmKernel &gemmKernelAvx2() { return kAvx2; }

} // namespace ember::cpu::detail

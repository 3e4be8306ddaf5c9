//===- SgemmAvx2Nhwc.cpp - AVX2 tiles of the channels-last convolutions ---===//
//
// The AVX2+FMA counterparts of the AVX-512 tiles conv2dNhwc and
// conv2dNhwcFromNchw run (SgemmAvx512.cpp): 6 x 16, i.e. 12 ymm
// accumulators, 2 B vectors and a broadcast per k step (15 of the 16 ymm
// registers), B a packed panel of 16 columns (packB's AVX2 layout). Three
// row sources:
//  - tileRowsAvx2: a pointer per run (tap) and row (output pixel);
//  - tileStridedAvx2: rows at a fixed spacing from each run's start (the
//    pointer-free interior tiles and the first layers' in-place windows);
//  - gemmKernelAvx2Direct(): the blocked GEMM's tile with A read in place
//    (the pointwise convolution and the unfolded rows of first layers).
// The accumulators may start from a per-column bias (accInit); the common
// epilogue (last K block, nothing to accumulate) runs on the tile in
// registers as the AVX-512 one does (finishSimple), anything else through
// the per-vector storeRow8 (TileAvx2.h). Each tile calls the smallest of 12
// compiled bodies that covers its live rows (1-6) and 8-lane vectors (1-2);
// partial vectors load and store with vmaskmov, whole ones with plain moves.
//
//===----------------------------------------------------------------------===//
#include "TileAvx2.h"

#include <array>
#include <utility>

namespace ember::cpu::detail {

namespace {

constexpr int kMr = 6, kNv = 2;  ///< 6 rows x 2 vectors of 8
constexpr size_t kNrp = 8 * kNv; ///< the packed panel's row (16)

/// The live columns of each vector of a tile: the store mask, and whether
/// the vector is whole (plain stores) or empty (nothing stored).
template <int NVC> struct ColMasks {
  __m256i m[NVC];
  bool full[NVC], any[NVC];
};

/// The common epilogue (the last K block, nothing in C yet, a per-row bias
/// or none, no per-column bias: the tiles start from that, accInit) with
/// its parameters read once into registers (SgemmAvx512.cpp,
/// finishSimple): ACT a clamp (Relu: [0, +inf)), RES a residual before or
/// after it, HS a HardSwish post (TileArgs::hardSwish) after the
/// activation and before a residual added after it, as the AVX-512 tiles
/// apply it (only with ACT false: a HardSwish after Relu or Clip takes
/// storeRow8).
template <int MRC, int NVC, bool ACT, bool RES, bool HS = false>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
finishSimple(const TileArgs &t, const __m256 (&acc)[MRC][NVC],
             const ColMasks<NVC> &cm) {
  float *const c0 = t.c;
  const size_t ldc = t.ldc, ldr = t.ldr;
  const float *const biasRow = t.biasRow;
  const float *const res = t.residual;
  const bool after = t.residualAfterActivation;
  const int rowBegin = t.rowBegin, rowEnd = t.rowEnd;
  const bool clip = t.activation == Activation::Clip;
  const __m256 zero = _mm256_setzero_ps();
  const __m256 negZero = _mm256_set1_ps(-0.0f);
  const __m256 lo = clip ? _mm256_set1_ps(t.clipMin) : zero;
  const __m256 hi =
      clip ? _mm256_set1_ps(t.clipMax) : _mm256_set1_ps(__builtin_inff());
#pragma GCC unroll 12
  for (int i = 0; i < MRC; ++i) {
    if (i < rowBegin || i >= rowEnd)
      continue;
    const __m256 b = biasRow ? _mm256_set1_ps(biasRow[i]) : zero;
    float *c = c0 + static_cast<size_t>(i) * ldc;
    const float *r = RES ? res + static_cast<size_t>(i) * ldr : nullptr;
#pragma GCC unroll 2
    for (int j = 0; j < NVC; ++j) {
      if (!cm.any[j])
        continue;
      __m256 v = _mm256_add_ps(acc[i][j], b);
      __m256 rv = zero;
      // (With HS the residual's other place adds -0, as on AVX-512.)
      const __m256 none = HS ? negZero : zero;
      if (RES) {
        rv = cm.full[j] ? _mm256_loadu_ps(r + 8 * j)
                        : _mm256_maskload_ps(r + 8 * j, cm.m[j]);
        v = _mm256_add_ps(v, after ? none : rv);
      }
      if (ACT)
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
      if (HS)
        v = hardSwish256(v);
      if (RES)
        v = _mm256_add_ps(v, after ? rv : none);
      if (cm.full[j])
        _mm256_storeu_ps(c + 8 * j, v);
      else
        _mm256_maskstore_ps(c + 8 * j, cm.m[j], v);
    }
  }
}

/// Tile prologue: prefetches the C tile when the K loop is long enough to
/// hide it (as the AVX-512 tile), the column masks, and the accumulators
/// (zero, or the per-column accInit).
template <int MRC, int NVC>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
startTile(const TileArgs &t, ColMasks<NVC> &cm, __m256 (&acc)[MRC][NVC]) {
  for (int i = t.rowBegin; t.kc >= 64 && i < t.rowEnd; ++i) {
    const char *row =
        reinterpret_cast<const char *>(t.c + static_cast<size_t>(i) * t.ldc);
    _mm_prefetch(row, _MM_HINT_T0);
    _mm_prefetch(row + 32 * NVC - 1, _MM_HINT_T0);
  }
  __m256 init[NVC];
#pragma GCC unroll 2
  for (int j = 0; j < NVC; ++j) {
    cm.m[j] = laneMask8(t.colBegin - 8 * j, t.colEnd - 8 * j);
    cm.full[j] = t.colBegin <= 8 * j && t.colEnd >= 8 * j + 8;
    cm.any[j] = t.colBegin < 8 * j + 8 && t.colEnd > 8 * j;
    init[j] = t.accInit ? _mm256_maskload_ps(t.accInit + 8 * j,
                                             laneMask8(0, t.colEnd - 8 * j))
                        : _mm256_setzero_ps();
  }
#pragma GCC unroll 12
  for (int i = 0; i < MRC; ++i)
#pragma GCC unroll 2
    for (int j = 0; j < NVC; ++j)
      acc[i][j] = init[j];
}

/// Tile epilogue: finishSimple in the common case, else storeRow8.
template <int MRC, int NVC>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
finishTile(const TileArgs &t, const __m256 (&acc)[MRC][NVC],
           const ColMasks<NVC> &cm) {
  const bool act = t.activation != Activation::None;
  // (A HardSwish after an activation takes storeRow8, which applies both.)
  if (!t.loadC && t.last && !t.biasCol && !(t.hardSwish && act)) {
    if (t.hardSwish)
      return t.residual
                 ? finishSimple<MRC, NVC, false, true, true>(t, acc, cm)
                 : finishSimple<MRC, NVC, false, false, true>(t, acc, cm);
    if (!t.residual)
      return act ? finishSimple<MRC, NVC, true, false>(t, acc, cm)
                 : finishSimple<MRC, NVC, false, false>(t, acc, cm);
    return act ? finishSimple<MRC, NVC, true, true>(t, acc, cm)
               : finishSimple<MRC, NVC, false, true>(t, acc, cm);
  }
#pragma GCC unroll 12
  for (int i = 0; i < MRC; ++i) {
    if (i < t.rowBegin || i >= t.rowEnd)
      continue;
#pragma GCC unroll 2
    for (int j = 0; j < NVC; ++j)
      if (cm.any[j])
        storeRow8(t, i, j, cm.m[j], cm.full[j], acc[i][j]);
  }
}

/// One k step: row i's A value arow[i][k] broadcast into FMAs with the
/// step's B vectors.
template <int MRC, int NVC>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
fmaStep(__m256 (&acc)[MRC][NVC], const __m256 (&bv)[NVC],
        const float *const (&arow)[MRC], size_t k) {
#pragma GCC unroll 6
  for (int i = 0; i < MRC; ++i) {
    const __m256 ai = _mm256_broadcast_ss(arow[i] + k);
#pragma GCC unroll 2
    for (int j = 0; j < NVC; ++j)
      acc[i][j] = _mm256_fmadd_ps(ai, bv[j], acc[i][j]);
  }
}

/// The tile over A rows that restart at every run, B a packed panel
/// (rows of 16): run r (t.bRuns[r].count k steps) reads row i from
/// rowsOf(r, arow)'s pointers, unit stride in k, or is skipped when
/// rowsOf returns false (every row in the padding). One line of
/// t.prefetch is pulled into L2 per k step.
template <int MRC, int NVC, typename RowsOf>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
runsTileBody(const TileArgs &t, const BRun *runs, size_t numRuns,
             RowsOf rowsOf) {
  ColMasks<NVC> cm;
  __m256 acc[MRC][NVC];
  startTile<MRC, NVC>(t, cm, acc);
  const float *b = t.b;
  const char *pf = t.prefetch;
  const size_t pfStep = t.prefetchStep;
  for (size_t run = 0; run < numRuns; ++run) {
    const float *arow[MRC];
    const size_t count = runs[run].count;
    if (!rowsOf(run, arow)) { // every row in the padding
      b += count * kNrp;
      pf += count * pfStep;
      continue;
    }
#pragma GCC unroll 4
    for (size_t k = 0; k < count; ++k) {
      _mm_prefetch(pf, _MM_HINT_T1);
      pf += pfStep;
      __m256 bv[NVC];
#pragma GCC unroll 2
      for (int j = 0; j < NVC; ++j)
        bv[j] = _mm256_loadu_ps(b + 8 * j);
      fmaStep<MRC, NVC>(acc, bv, arow, k);
      b += kNrp;
    }
  }
  finishTile<MRC, NVC>(t, acc, cm);
}

template <int MRC, int NVC>
EMBER_TARGET_AVX2 void rowsBody(const TileArgs &t, const float *const *aRows) {
  runsTileBody<MRC, NVC>(
      t, t.bRuns, t.numRuns, [&](size_t run, const float *(&arow)[MRC]) {
        bool live = !t.zeroRow;
#pragma GCC unroll 6
        for (int i = 0; i < MRC; ++i) {
          arow[i] = aRows[run * kMr + static_cast<size_t>(i)];
          live = live || arow[i] != t.zeroRow;
        }
        return live;
      });
}

template <int MRC, int NVC>
EMBER_TARGET_AVX2 void stridedBody(const TileArgs &t) {
  runsTileBody<MRC, NVC>(t, t.bRuns, t.numRuns,
                         [&](size_t run, const float *(&arow)[MRC]) {
                           const float *base = t.a + t.bRuns[run].offset;
#pragma GCC unroll 6
                           for (int i = 0; i < MRC; ++i)
                             arow[i] = base + static_cast<size_t>(i) * t.lda;
                           return true;
                         });
}

/// The blocked GEMM's tile with A in place (row i at t.a + i * t.lda,
/// unit stride in k) and B a packed panel: one run of kc steps.
template <int MRC, int NVC>
EMBER_TARGET_AVX2 void directBody(const TileArgs &t) {
  const BRun whole{0, t.kc, 0};
  runsTileBody<MRC, NVC>(t, &whole, 1, [&](size_t, const float *(&arow)[MRC]) {
#pragma GCC unroll 6
    for (int i = 0; i < MRC; ++i)
      arow[i] = t.a + static_cast<size_t>(i) * t.lda;
    return true;
  });
}

/// The strided tile for one live vector (at most 8 output channels of the
/// panel), 7-12 rows: two strided 6-row tiles of one output row in one
/// body (SgemmAvx512.cpp, stridedTallBody). A 6 x 8 tile has six FMA
/// chains, below the eight two pipes with a 4-cycle latency need; 12 x 8
/// has twelve. The rows are the run's start + i * lda: four pointers
/// (rows 0, 3, 6, 9) and the stride in a register, so the body holds 5
/// general registers for A where per-row pointers would need 12.
template <int MRC> EMBER_TARGET_AVX2 void stridedTallBody(const TileArgs &t) {
  static_assert(MRC > 0 && MRC <= 12, "rows of the tall tile");
  ColMasks<1> cm;
  __m256 acc[MRC][1];
  startTile<MRC, 1>(t, cm, acc);
  const ptrdiff_t L = static_cast<ptrdiff_t>(t.lda * sizeof(float));
  const float *b = t.b;
  const char *pf = t.prefetch;
  const size_t pfStep = t.prefetchStep;
  for (size_t run = 0; run < t.numRuns; ++run) {
    const char *p[4];
    p[0] = reinterpret_cast<const char *>(t.a + t.bRuns[run].offset);
#pragma GCC unroll 4
    for (int g = 1; g < 4; ++g)
      p[g] = p[0] + 3 * g * L;
    const size_t count = t.bRuns[run].count;
#pragma GCC unroll 4
    for (size_t k = 0; k < count; ++k) {
      _mm_prefetch(pf, _MM_HINT_T1);
      pf += pfStep;
      const __m256 bv = _mm256_loadu_ps(b);
#pragma GCC unroll 12
      for (int i = 0; i < MRC; ++i) {
        const float *ai =
            reinterpret_cast<const float *>(p[i / 3] + (i % 3) * L);
        acc[i][0] = _mm256_fmadd_ps(_mm256_broadcast_ss(ai), bv, acc[i][0]);
      }
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g)
        p[g] += sizeof(float);
      b += kNrp;
    }
  }
  finishTile<MRC, 1>(t, acc, cm);
}

template <size_t... I>
constexpr std::array<TileFn, sizeof...(I)>
stridedTallTable(std::index_sequence<I...>) {
  return {{&stridedTallBody<static_cast<int>(I) + 1>...}};
}

using RowsTileFn = void (*)(const TileArgs &, const float *const *);

template <size_t... I>
constexpr std::array<RowsTileFn, sizeof...(I)>
rowsTable(std::index_sequence<I...>) {
  return {{&rowsBody<static_cast<int>(I) / kNv + 1,
                     static_cast<int>(I) % kNv + 1>...}};
}
template <size_t... I>
constexpr std::array<TileFn, sizeof...(I)>
stridedTable(std::index_sequence<I...>) {
  return {{&stridedBody<static_cast<int>(I) / kNv + 1,
                        static_cast<int>(I) % kNv + 1>...}};
}
template <size_t... I>
constexpr std::array<TileFn, sizeof...(I)>
directTable(std::index_sequence<I...>) {
  return {{&directBody<static_cast<int>(I) / kNv + 1,
                       static_cast<int>(I) % kNv + 1>...}};
}

/// The body for the tile's live rows and vectors.
inline size_t bodyIndex(const TileArgs &t) {
  return static_cast<size_t>((t.rowEnd - 1) * kNv + (t.colEnd + 7) / 8 - 1);
}

void tileDirectAvx2(const TileArgs &t) {
  static constexpr std::array<TileFn, kMr *kNv> bodies =
      directTable(std::make_index_sequence<kMr * kNv>());
  bodies[bodyIndex(t)](t);
}

// A in place only (TileArgs::lda set): gemmInPlaceRows's operands.
constexpr GemmKernel kAvx2Direct = {Isa::Avx2, kMr,  16,   120,
                                    256,       2048, true, &tileDirectAvx2};

} // namespace

void tileRowsAvx2(const TileArgs &t, const float *const *aRows) {
  static constexpr std::array<RowsTileFn, kMr *kNv> bodies =
      rowsTable(std::make_index_sequence<kMr * kNv>());
  bodies[bodyIndex(t)](t, aRows);
}

void tileStridedAvx2(const TileArgs &t) {
  static constexpr std::array<TileFn, kMr *kNv> bodies =
      stridedTable(std::make_index_sequence<kMr * kNv>());
  bodies[bodyIndex(t)](t);
}

void tileStridedTallAvx2(const TileArgs &t) {
  static constexpr std::array<TileFn, 12> bodies =
      stridedTallTable(std::make_index_sequence<12>());
  bodies[static_cast<size_t>(t.rowEnd - 1)](t);
}

const GemmKernel &gemmKernelAvx2Direct() { return kAvx2Direct; }

} // namespace ember::cpu::detail

//===- SgemmAvx512.cpp - AVX-512 fp32 micro-kernels -----------------------===//
//
// MR x (16*NV) register-blocked tiles: MR*NV zmm accumulators, NV zmm loads
// of the B row and MR broadcasts of A per k step (6 x 64: 24 + 4 + 1 of the
// 32 zmm registers). Each tile dispatches to one of MR*NV compiled bodies,
// the smallest that covers its live rows and vectors, per operand mode (A
// packed or in place, B packed or in place by runs). Compiled without
// -march: every function carries EMBER_TARGET_AVX512 and is only called
// after the cpuid check in resolveIsa.
//
//===----------------------------------------------------------------------===//
#include "HardSwishAvx512.h"
#include "Internal.h"

#include "Simd.h"

#include <array>
#include <utility>

namespace ember::cpu::detail {

namespace {

EMBER_TARGET_AVX512 inline __mmask16 laneMask(int lo, int hi) {
  lo = lo < 0 ? 0 : (lo > 16 ? 16 : lo);
  hi = hi < 0 ? 0 : (hi > 16 ? 16 : hi);
  unsigned m = ((1u << hi) - 1u) & ~((1u << lo) - 1u);
  return static_cast<__mmask16>(m);
}

EMBER_TARGET_AVX512 inline __m512 activate512(__m512 v, const TileArgs &t) {
  switch (t.activation) {
  case Activation::None:
    return v;
  case Activation::Relu:
    return _mm512_max_ps(v, _mm512_setzero_ps());
  case Activation::Clip:
    return _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(t.clipMin)),
                         _mm512_set1_ps(t.clipMax));
  }
  return v;
}

/// Finishes one 16-lane piece of row i: C, epilogue, masked store.
EMBER_TARGET_AVX512 inline void storeRow(const TileArgs &t, int i, int j,
                                         __mmask16 m, __m512 v) {
  float *c = t.c + static_cast<size_t>(i) * t.ldc + 16 * j;
  if (t.loadC)
    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, c));
  if (t.last) {
    if (t.biasRow)
      v = _mm512_add_ps(v, _mm512_set1_ps(t.biasRow[i]));
    if (t.biasCol)
      v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, t.biasCol + 16 * j));
    __m512 r = _mm512_setzero_ps();
    if (t.residual)
      r = _mm512_maskz_loadu_ps(m, t.residual + static_cast<size_t>(i) * t.ldr +
                                       16 * j);
    if (!t.residualAfterActivation)
      v = _mm512_add_ps(v, r);
    v = activate512(v, t);
    if (t.hardSwish) {
      // The bits of the tile then the post by rows: the tile added a zero
      // for the residual (the post's) after the activation, the post adds
      // the residual after the HardSwish.
      if (t.residualAfterActivation)
        v = _mm512_add_ps(v, _mm512_setzero_ps());
      v = hardSwish512(v);
      if (t.residualAfterActivation && t.residual)
        v = _mm512_add_ps(v, r);
    } else if (t.residualAfterActivation) {
      v = _mm512_add_ps(v, r);
    }
  }
  _mm512_mask_storeu_ps(c, m, v);
}

/// The common epilogue (the last K block, nothing in C yet, a per-row bias
/// or none, no per-column bias) with every parameter read once into
/// registers: storeRow reads them from TileArgs per vector (the compiler
/// cannot keep them across the stores to C), about 25 instructions a
/// vector, 200 cycles a 6x64 tile: as much as the FMAs of K = 16.
/// Two template flags keep the common vectors at add, max, min, store: ACT
/// (Relu is a clamp to [0, +inf), Clip to [lo, hi]) and RES (a residual,
/// before or after the activation by a register flag). Templates on the
/// activation kind and the residual's place as well made nine bodies per
/// tile and tripled the bundles' compile time for no measured gain. HS: a
/// HardSwish post (TileArgs::hardSwish) after the activation, before a
/// residual added after it; only with ACT false (a HardSwish after Relu or
/// Clip takes storeRow).
template <int MRC, int NVC, bool ACT, bool RES, bool HS = false>
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline void
finishSimple(const TileArgs &t, const __m512 (&acc)[MRC][NVC],
             const __mmask16 (&masks)[NVC]) {
  float *const c0 = t.c;
  const size_t ldc = t.ldc, ldr = t.ldr;
  const float *const biasRow = t.biasRow;
  const float *const res = t.residual;
  const bool after = t.residualAfterActivation;
  const int rowBegin = t.rowBegin, rowEnd = t.rowEnd;
  const bool clip = t.activation == Activation::Clip;
  const __m512 lo = clip ? _mm512_set1_ps(t.clipMin) : _mm512_setzero_ps();
  const __m512 hi =
      clip ? _mm512_set1_ps(t.clipMax) : _mm512_set1_ps(__builtin_inff());
  const __m512 zero = _mm512_setzero_ps();
  const __m512 negZero = _mm512_set1_ps(-0.0f);
#pragma GCC unroll 32
  for (int i = 0; i < MRC; ++i) {
    if (i < rowBegin || i >= rowEnd)
      continue;
    const __m512 b = biasRow ? _mm512_set1_ps(biasRow[i]) : zero;
    float *c = c0 + static_cast<size_t>(i) * ldc;
    const float *r = RES ? res + static_cast<size_t>(i) * ldr : nullptr;
#pragma GCC unroll 8
    for (int j = 0; j < NVC; ++j) {
      const __mmask16 m = masks[j];
      __m512 v = _mm512_add_ps(acc[i][j], b);
      __m512 rv = zero;
      // (With HS the residual's other place adds -0, which changes no
      // value: the tile then the post by rows added nothing there.)
      const __m512 none = HS ? negZero : zero;
      if (RES) {
        rv = _mm512_maskz_loadu_ps(m, r + 16 * j);
        v = _mm512_add_ps(v, after ? none : rv);
      }
      if (ACT)
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
      if (HS)
        v = hardSwish512(v);
      if (RES)
        v = _mm512_add_ps(v, after ? rv : none);
      if (m == __mmask16(0xFFFF))
        _mm512_storeu_ps(c + 16 * j, v);
      else if (m)
        _mm512_mask_storeu_ps(c + 16 * j, m, v);
    }
  }
}

/// Tile prologue shared by the bodies: prefetches the C tile (read or
/// written only after the K loop, usually from L2/L3 by then) when the K
/// loop is long enough for that to pay (below 64 k steps the 30 prefetches
/// cost more issue slots than they save: K = 16..48 tiles ran 2-4 points
/// faster without), the store masks of the live columns, and the
/// accumulators (zero, or the per-column accInit).
template <int MRC, int NVC>
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline void
startTile(const TileArgs &t, __mmask16 (&masks)[NVC], __m512 (&acc)[MRC][NVC]) {
  for (int i = t.rowBegin; t.kc >= 64 && i < t.rowEnd; ++i) {
    const char *row =
        reinterpret_cast<const char *>(t.c + static_cast<size_t>(i) * t.ldc);
#pragma GCC unroll 8
    for (int l = 0; l <= NVC; ++l)
      _mm_prefetch(row + 64 * l, _MM_HINT_T0);
  }
  __m512 init[NVC];
#pragma GCC unroll 8
  for (int j = 0; j < NVC; ++j) {
    masks[j] = laneMask(t.colBegin - 16 * j, t.colEnd - 16 * j);
    init[j] = t.accInit ? _mm512_maskz_loadu_ps(laneMask(0, t.colEnd - 16 * j),
                                                t.accInit + 16 * j)
                        : _mm512_setzero_ps();
  }
#pragma GCC unroll 32
  for (int i = 0; i < MRC; ++i)
#pragma GCC unroll 8
    for (int j = 0; j < NVC; ++j)
      acc[i][j] = init[j];
}

/// Tile epilogue shared by the bodies: the register one (finishSimple) in
/// the common case, else storeRow per vector.
template <int MRC, int NVC>
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline void
finishTile(const TileArgs &t, const __m512 (&acc)[MRC][NVC],
           const __mmask16 (&masks)[NVC]) {
  const bool act = t.activation != Activation::None;
  // (A HardSwish after an activation takes storeRow, which applies both.)
  if (!t.loadC && t.last && !t.biasCol && !(t.hardSwish && act)) {
    if (t.hardSwish)
      return t.residual
                 ? finishSimple<MRC, NVC, false, true, true>(t, acc, masks)
                 : finishSimple<MRC, NVC, false, false, true>(t, acc, masks);
    if (!t.residual)
      return act ? finishSimple<MRC, NVC, true, false>(t, acc, masks)
                 : finishSimple<MRC, NVC, false, false>(t, acc, masks);
    return act ? finishSimple<MRC, NVC, true, true>(t, acc, masks)
               : finishSimple<MRC, NVC, false, true>(t, acc, masks);
  }
#pragma GCC unroll 32
  for (int i = 0; i < MRC; ++i) {
    if (i < t.rowBegin || i >= t.rowEnd)
      continue;
#pragma GCC unroll 8
    for (int j = 0; j < NVC; ++j)
      if (masks[j])
        storeRow(t, i, j, masks[j], acc[i][j]);
  }
}

/// One k step of a tile: row i's A value (arow[i][k]) broadcast into
/// FMAs with the step's B vectors.
template <int MRC, int NVC>
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline void
fmaStep(__m512 (&acc)[MRC][NVC], const __m512 (&bv)[NVC],
        const float *const (&arow)[MRC], size_t k) {
#pragma GCC unroll 32
  for (int i = 0; i < MRC; ++i) {
    __m512 ai = _mm512_set1_ps(arow[i][k]);
#pragma GCC unroll 8
    for (int j = 0; j < NVC; ++j)
      acc[i][j] = _mm512_fmadd_ps(ai, bv[j], acc[i][j]);
  }
}

/// The tile body. Panels are MRP rows x NVP vectors; only the first MRC
/// rows and NVC vectors are computed (the rest is the zero padding past the
/// matrix edge, so skipping it is free work saved).
///
/// DA: A is read in place (row i at t.a + i*t.lda, unit stride in k) instead
/// of from a packed panel. DB: B is read in place, run by run (t.bRuns),
/// with masked loads so nothing past column colEnd is touched.
template <int MRP, int NVP, int MRC, int NVC, bool DA, bool DB>
EMBER_TARGET_AVX512 void tileBody(const TileArgs &t) {
  constexpr size_t NRP = 16 * NVP;
  __mmask16 masks[NVC];
  __m512 acc[MRC][NVC];
  startTile<MRC, NVC>(t, masks, acc);
  __mmask16 loadMasks[NVC];
#pragma GCC unroll 8
  for (int j = 0; j < NVC; ++j)
    loadMasks[j] = laneMask(0, t.colEnd - 16 * j);

  const float *arow[MRC];
#pragma GCC unroll 32
  for (int i = 0; i < MRC; ++i)
    arow[i] = t.a + static_cast<size_t>(i) * (DA ? t.lda : 1);
  const BRun single = {0, t.kc, NRP};
  const BRun *runs = DB ? t.bRuns : &single;
  const size_t numRuns = DB ? t.numRuns : 1;
  const size_t aStep = DA ? 1 : MRP;
  size_t ak = 0;
  const char *pf = t.prefetch;
  const size_t pfStep = t.prefetchStep;
  for (size_t run = 0; run < numRuns; ++run) {
    const float *b = t.b + runs[run].offset;
    const size_t bStep = runs[run].stride;
#pragma GCC unroll 4
    for (size_t k = runs[run].count; k > 0; --k) {
      _mm_prefetch(pf, _MM_HINT_T1);
      pf += pfStep;
      __m512 bv[NVC];
#pragma GCC unroll 8
      for (int j = 0; j < NVC; ++j)
        bv[j] = DB ? _mm512_maskz_loadu_ps(loadMasks[j], b + 16 * j)
                   : _mm512_loadu_ps(b + 16 * j);
      fmaStep<MRC, NVC>(acc, bv, arow, ak);
      ak += aStep;
      b += bStep;
    }
  }

  finishTile<MRC, NVC>(t, acc, masks);
}

/// The tile over A rows that restart at every run, B a packed panel: run r
/// (t.bRuns[r].count k steps) reads row i from rowsOf(r, arow)'s pointers,
/// unit stride in k, or is skipped when rowsOf returns false (every row in
/// the padding). The accumulators may start from per-column values
/// (accInit). Two row sources use it (tileRowsAvx512, tileStridedAvx512).
template <int MRP, int NVP, int MRC, int NVC, typename RowsOf>
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline void
runsTileBody(const TileArgs &t, RowsOf rowsOf) {
  constexpr size_t NRP = 16 * NVP;
  __mmask16 masks[NVC];
  __m512 acc[MRC][NVC];
  startTile<MRC, NVC>(t, masks, acc);

  const float *b = t.b;
  const char *pf = t.prefetch;
  const size_t pfStep = t.prefetchStep;
  for (size_t run = 0; run < t.numRuns; ++run) {
    const float *arow[MRC];
    const size_t count = t.bRuns[run].count;
    if (!rowsOf(run, arow)) { // every row in the padding
      b += count * NRP;
      pf += count * pfStep;
      continue;
    }
#pragma GCC unroll 4
    for (size_t k = 0; k < count; ++k) {
      _mm_prefetch(pf, _MM_HINT_T1);
      pf += pfStep;
      __m512 bv[NVC];
#pragma GCC unroll 8
      for (int j = 0; j < NVC; ++j)
        bv[j] = _mm512_loadu_ps(b + 16 * j);
      fmaStep<MRC, NVC>(acc, bv, arow, k);
      b += NRP;
    }
  }

  finishTile<MRC, NVC>(t, acc, masks);
}

/// Rows given by a pointer per run and row (conv2dNhwc: the rows are output
/// pixels, a run one tap's channels, read in place from a channels-last
/// input; taps in the padding point at zeros).
template <int MRP, int NVP, int MRC, int NVC>
EMBER_TARGET_AVX512 void rowsTileBody(const TileArgs &t,
                                      const float *const *aRows) {
  runsTileBody<MRP, NVP, MRC, NVC>(
      t, [&](size_t run, const float *(&arow)[MRC]) {
        bool live = !t.zeroRow;
#pragma GCC unroll 32
        for (int i = 0; i < MRC; ++i) {
          arow[i] = aRows[run * MRP + static_cast<size_t>(i)];
          live = live || arow[i] != t.zeroRow;
        }
        return live;
      });
}

/// Rows at a fixed spacing from each run's start (conv2dNhwcFromNchw's
/// interior pixels: run (c, kh) of pixel i starts at t.a + offset + i *
/// stride in a row-major input).
template <int MRP, int NVP, int MRC, int NVC>
EMBER_TARGET_AVX512 void stridedTileBody(const TileArgs &t) {
  runsTileBody<MRP, NVP, MRC, NVC>(
      t, [&](size_t run, const float *(&arow)[MRC]) {
        const float *base = t.a + t.bRuns[run].offset;
#pragma GCC unroll 32
        for (int i = 0; i < MRC; ++i)
          arow[i] = base + static_cast<size_t>(i) * t.lda;
        return true;
      });
}

/// The strided tile for one live vector (a panel of at most 16 output
/// channels), 7-12 rows: two strided 6-row tiles of one output row in one
/// body. A 6 x 16 tile has six FMA chains (below the two FMA pipes' latency
/// cover) and a B load per six FMAs; 12 x 16 has twelve and one per twelve.
/// The rows are the run's start + i * lda: four pointers (rows 0, 3, 6, 9)
/// advance with k and each reads its next two rows at + lda and + 2 * lda
/// (an index register), so the body holds 4 + 1 general registers for A
/// where per-row pointers would need 12 and spill (kernels README, "Not
/// done yet").
template <int MRC> EMBER_TARGET_AVX512 void stridedTallBody(const TileArgs &t) {
  static_assert(MRC > 0 && MRC <= 12, "rows of the tall tile");
  constexpr size_t NRP = 64; // the packed panel's row (6 x 64 kernel)
  __mmask16 masks[1];
  __m512 acc[MRC][1];
  startTile<MRC, 1>(t, masks, acc);
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
      const __m512 bv = _mm512_loadu_ps(b);
#pragma GCC unroll 12
      for (int i = 0; i < MRC; ++i) {
        const float *ai =
            reinterpret_cast<const float *>(p[i / 3] + (i % 3) * L);
        acc[i][0] = _mm512_fmadd_ps(_mm512_set1_ps(*ai), bv, acc[i][0]);
      }
#pragma GCC unroll 4
      for (int g = 0; g < 4; ++g)
        p[g] += sizeof(float);
      b += NRP;
    }
  }
  finishTile<MRC, 1>(t, acc, masks);
}

/// The strided tiles of a first layer's window (every run KW values of one
/// input row, pixels SW apart, both fixed at compile time): row i of run r
/// reads t.a + offset(r) + i * SW + [0, KW), at immediate offsets from one
/// pointer a run, and B likewise, the run's KW k steps unrolled. The
/// general bodies keep six or four row pointers live, step them, and run
/// a loop of 3 k steps (a 3x3 window) behind a 4-way unroll: a 3 -> 32
/// stride-2 3x3 layer on 224x224 ran at 67% of the FMA peak that way.
/// Whole tiles only (all MRC rows live); the same FMAs in the same order
/// as stridedTileBody and stridedTallBody, so the same bits.
template <int MRC, int NVC, int SW, int KW>
EMBER_TARGET_AVX512 void stridedWindowBody(const TileArgs &t) {
  constexpr size_t NRP = 64; // the packed panel's row (6 x 64 kernel)
  __mmask16 masks[NVC];
  __m512 acc[MRC][NVC];
  startTile<MRC, NVC>(t, masks, acc);
  const float *b = t.b;
  const char *pf = t.prefetch;
  const size_t pfStep = t.prefetchStep;
  for (size_t run = 0; run < t.numRuns; ++run) {
    const float *a = t.a + t.bRuns[run].offset;
#pragma GCC unroll 8
    for (int k = 0; k < KW; ++k) {
      _mm_prefetch(pf, _MM_HINT_T1);
      pf += pfStep;
      __m512 bv[NVC];
#pragma GCC unroll 8
      for (int j = 0; j < NVC; ++j)
        bv[j] = _mm512_loadu_ps(b + k * NRP + 16 * j);
#pragma GCC unroll 32
      for (int i = 0; i < MRC; ++i) {
        const __m512 ai = _mm512_set1_ps(a[i * SW + k]);
#pragma GCC unroll 8
        for (int j = 0; j < NVC; ++j)
          acc[i][j] = _mm512_fmadd_ps(ai, bv[j], acc[i][j]);
      }
    }
    b += KW * NRP;
  }
  finishTile<MRC, NVC>(t, acc, masks);
}

/// Windows 3 to 7 wide, strides 1 and 2.
constexpr int kWindowMin = 3, kWindowMax = 7;
constexpr int kWindows = kWindowMax - kWindowMin + 1;

/// stridedWindowBody<MRC, NVC, SW, KW> indexed by ((SW - 1) * kWindows +
/// KW - kWindowMin) * NVP + NVC - 1.
template <int MRC, int NVP, size_t... I>
constexpr std::array<TileFn, sizeof...(I)>
windowTable(std::index_sequence<I...>) {
  return {{&stridedWindowBody<MRC, static_cast<int>(I) % NVP + 1,
                              static_cast<int>(I) / NVP / kWindows + 1,
                              static_cast<int>(I) / NVP % kWindows +
                                  kWindowMin>...}};
}

/// The window body for t, or null: whole tiles of `mrc` rows whose runs
/// are all KW long, KW in [3, 7], strides 1 and 2.
template <int MRC, int NVP> TileFn windowBody(const TileArgs &t, int nvc) {
  static constexpr std::array<TileFn, 2 *kWindows *NVP> bodies =
      windowTable<MRC, NVP>(std::make_index_sequence<2 * kWindows * NVP>());
  const size_t kw = t.runLength;
  if (t.rowBegin != 0 || t.rowEnd != MRC || (t.lda != 1 && t.lda != 2) ||
      kw < static_cast<size_t>(kWindowMin) ||
      kw > static_cast<size_t>(kWindowMax) || nvc < 1 || nvc > NVP)
    return nullptr;
  return bodies[((t.lda - 1) * kWindows + kw - kWindowMin) * NVP +
                static_cast<size_t>(nvc - 1)];
}

template <size_t... I>
constexpr std::array<TileFn, sizeof...(I)>
stridedTallTable(std::index_sequence<I...>) {
  return {{&stridedTallBody<static_cast<int>(I) + 1>...}};
}

using RowsTileFn = void (*)(const TileArgs &, const float *const *);

template <int MRP, int NVP, size_t... I>
constexpr std::array<RowsTileFn, sizeof...(I)>
rowsBodyTable(std::index_sequence<I...>) {
  return {{&rowsTileBody<MRP, NVP, static_cast<int>(I) / NVP + 1,
                         static_cast<int>(I) % NVP + 1>...}};
}

/// Table of bodies for one panel shape and operand mode, indexed by
/// (rows computed - 1) * NVP + (vectors computed - 1).
template <int MRP, int NVP, bool DA, bool DB, size_t... I>
constexpr std::array<TileFn, sizeof...(I)>
bodyTable(std::index_sequence<I...>) {
  return {{&tileBody<MRP, NVP, static_cast<int>(I) / NVP + 1,
                     static_cast<int>(I) % NVP + 1, DA, DB>...}};
}

/// Runs the smallest body that covers the tile's live rows and columns.
template <int MRP, int NVP> void tileAvx512(const TileArgs &t) {
  using Table = std::array<TileFn, MRP * NVP>;
  static constexpr Table bodies[4] = {
      bodyTable<MRP, NVP, false, false>(std::make_index_sequence<MRP * NVP>()),
      bodyTable<MRP, NVP, true, false>(std::make_index_sequence<MRP * NVP>()),
      bodyTable<MRP, NVP, false, true>(std::make_index_sequence<MRP * NVP>()),
      bodyTable<MRP, NVP, true, true>(std::make_index_sequence<MRP * NVP>())};
  const int mode = (t.lda ? 1 : 0) + (t.bRuns ? 2 : 0);
  const int nvc = (t.colEnd + 15) / 16;
  bodies[mode][static_cast<size_t>((t.rowEnd - 1) * NVP + nvc - 1)](t);
}

template <int MRP, int NVP, size_t... I>
constexpr std::array<TileFn, sizeof...(I)>
stridedBodyTable(std::index_sequence<I...>) {
  return {{&stridedTileBody<MRP, NVP, static_cast<int>(I) / NVP + 1,
                            static_cast<int>(I) % NVP + 1>...}};
}

} // namespace

void tileRowsAvx512(const TileArgs &t, const float *const *aRows) {
  static constexpr std::array<RowsTileFn, 24> bodies =
      rowsBodyTable<6, 4>(std::make_index_sequence<24>());
  const int nvc = (t.colEnd + 15) / 16;
  bodies[static_cast<size_t>((t.rowEnd - 1) * 4 + nvc - 1)](t, aRows);
}

void tileStridedAvx512(const TileArgs &t) {
  static constexpr std::array<TileFn, 24> bodies =
      stridedBodyTable<6, 4>(std::make_index_sequence<24>());
  const int nvc = (t.colEnd + 15) / 16;
  if (TileFn w = windowBody<6, 4>(t, nvc))
    return w(t);
  bodies[static_cast<size_t>((t.rowEnd - 1) * 4 + nvc - 1)](t);
}

void tileStridedTallAvx512(const TileArgs &t) {
  static constexpr std::array<TileFn, 12> bodies =
      stridedTallTable(std::make_index_sequence<12>());
  if (TileFn w = windowBody<12, 1>(t, 1))
    return w(t);
  bodies[static_cast<size_t>(t.rowEnd - 1)](t);
}

namespace {

// Candidate tiles; kVariants[0] is the one the library uses, the others are
// for the tuning program (README, "Micro-kernels"), which compiles this file
// itself with EMBER_CPU_KERNELS_TUNING. The library and the bundles' runtime
// bitcode leave them out: their 112 tile bodies are 60% of this file's
// compile time (189 -> 73 CPU-s with GCC 12) and nothing else calls them.
constexpr GemmKernel kVariants[] = {
    {Isa::Avx512, 6, 64, 240, 384, 2048, true, &tileAvx512<6, 4>},
#ifdef EMBER_CPU_KERNELS_TUNING
    {Isa::Avx512, 14, 32, 126, 256, 2048, true, &tileAvx512<14, 2>},
#endif
};

} // namespace

const GemmKernel &gemmKernelAvx512() { return kVariants[0]; }

const GemmKernel *gemmKernelAvx512Variants(size_t *count) {
  *count = sizeof(kVariants) / sizeof(kVariants[0]);
  return kVariants;
}

} // namespace ember::cpu::detail

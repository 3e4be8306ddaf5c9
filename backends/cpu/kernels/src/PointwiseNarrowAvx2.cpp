//===- PointwiseNarrowAvx2.cpp - AVX2 1x1 convolutions of few channels ----===//
//
// The AVX2 form of PointwiseNarrowAvx512.cpp: y[p][oc] = act(bias[oc] +
// sum over c < K of x[p][c] * W[c][oc]) for a channels-last 1x1 convolution
// (stride 1, no pads) of at most kNarrowKAvx2 input channels, x read in
// place, W conv2dNhwc's AVX2 panels (K rows of 16 output channels). The
// same fused multiply-adds in the same order from the bias as the general
// path (gemmInPlaceRows with the AVX2 direct tile, whose accumulators start
// from the bias), the same epilogue instructions: the same bits.
//
// What it saves is the general driver's work around each 6 x 16 tile
// (96 FMAs a k step, K = 16: 192 in all): the call through the tile body
// table, TileArgs written and read back, masks, a prefetch per k step,
// the epilogue's parameters read per tile. Here one call runs a whole
// panel's tiles over a block of pixels: the column masks, the bias and the
// epilogue's constants are set once per panel, the activation is a template
// parameter (a HardSwish post runs in registers, HardSwishAvx2.h), and a
// tile's loop is its loads and FMAs. The last tile of a range with fewer
// than 6 rows reads its last live row again for the missing ones and stores
// only the live ones.
//
// Loops: pixel blocks whose input rows fit in L1 (kBlockBytes) -> 16-column
// panels -> 6-pixel tiles.
//
//===----------------------------------------------------------------------===//
#include "HardSwishAvx2.h"
#include "Internal.h"
#include "PointwiseNarrow.h"
#include "TileAvx2.h"

#include "Simd.h"

#include <algorithm>
#include <array>
#include <utility>

namespace ember::cpu::detail {

namespace {

constexpr size_t kRows = kNarrowRowsAvx2; ///< pixels per tile
constexpr size_t kPanel = 16;             ///< the AVX2 packed panel's width
constexpr size_t kBlockBytes = 16 * 1024; ///< input rows of a pixel block

/// One panel's columns over a range of pixels.
struct NarrowPanel {
  const float *a; ///< x at pixel p0, channel 0
  size_t lda, K;
  const float *b; ///< the panel's row 0
  float *y;       ///< y at pixel p0, the panel's first column
  size_t ldy;
  const float *bias;     ///< at the panel's first column, or null
  const float *residual; ///< at pixel p0, the panel's first column, or null
  size_t ldr;
  bool residualAfter;
  float lo, hi;     ///< Clip's bounds
  size_t rows;      ///< pixels
  int colLo, colHi; ///< the stored columns of the panel, [colLo, colHi)
  const PostOp *post;
  PostFn postFn;
  /// A residual the post adds after itself (withPost's rule), at pixel p0
  /// and the post's first column, or null.
  const float *postResidual;
};

/// NV live vectors (1: at most 8 live columns). ACT: 0 none, 1 Relu,
/// 2 Clip, 3 none and a HardSwish post in registers before the store (and
/// before a residual added after the activation: the post's place).
template <int NV, int ACT, bool RES>
EMBER_TARGET_AVX2 void narrowPanel(const NarrowPanel &g) {
  const size_t K = g.K, lda = g.lda, ldy = g.ldy, ldr = g.ldr;
  __m256 init[NV];
  __m256i masks[NV];
  bool full[NV], any[NV];
#pragma GCC unroll 2
  for (int j = 0; j < NV; ++j) {
    masks[j] = laneMask8(g.colLo - 8 * j, g.colHi - 8 * j);
    full[j] = g.colLo <= 8 * j && g.colHi >= 8 * j + 8;
    any[j] = g.colLo < 8 * j + 8 && g.colHi > 8 * j;
    // (The columns below the last stored one: as the driver's accInit.)
    init[j] = g.bias ? _mm256_maskload_ps(g.bias + 8 * j,
                                          laneMask8(0, g.colHi - 8 * j))
                     : _mm256_setzero_ps();
  }
  const __m256 lo = ACT == 2 ? _mm256_set1_ps(g.lo) : _mm256_setzero_ps();
  const __m256 hi = _mm256_set1_ps(g.hi);
  const bool after = g.residualAfter;
  const __m256 zero = _mm256_setzero_ps();
  // What the residual's other place adds: with a HardSwish in registers,
  // -0 (as the AVX-512 kernel and tiles).
  const __m256 none = ACT == 3 ? _mm256_set1_ps(-0.0f) : zero;
  for (size_t p = 0; p < g.rows; p += kRows) {
    const size_t live = std::min(kRows, g.rows - p);
    const float *arow[kRows];
#pragma GCC unroll 6
    for (size_t i = 0; i < kRows; ++i)
      arow[i] = g.a + (p + std::min(i, live - 1)) * lda;
    __m256 acc[kRows][NV];
#pragma GCC unroll 6
    for (size_t i = 0; i < kRows; ++i)
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j)
        acc[i][j] = init[j];
    const float *b = g.b;
#pragma GCC unroll 4
    for (size_t k = 0; k < K; ++k, b += kPanel) {
      __m256 bv[NV];
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j)
        bv[j] = _mm256_loadu_ps(b + 8 * j);
#pragma GCC unroll 6
      for (size_t i = 0; i < kRows; ++i) {
        const __m256 ai = _mm256_broadcast_ss(arow[i] + k);
#pragma GCC unroll 2
        for (int j = 0; j < NV; ++j)
          acc[i][j] = _mm256_fmadd_ps(ai, bv[j], acc[i][j]);
      }
    }
    float *c = g.y + p * ldy;
#pragma GCC unroll 6
    for (size_t i = 0; i < kRows; ++i) {
      if (i >= live)
        break;
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j) {
        if (!any[j])
          continue;
        // (+ 0: the general path's tile adds its row bias, zero here.)
        __m256 v = _mm256_add_ps(acc[i][j], zero), r = zero;
        if (RES) {
          const float *rp = g.residual + (p + i) * ldr + 8 * j;
          r = full[j] ? _mm256_loadu_ps(rp) : _mm256_maskload_ps(rp, masks[j]);
          v = _mm256_add_ps(v, after ? none : r);
        }
        if (ACT == 1 || ACT == 2)
          v = _mm256_max_ps(v, lo);
        if (ACT == 2)
          v = _mm256_min_ps(v, hi);
        if (ACT == 3)
          v = hardSwish256(v);
        if (RES)
          v = _mm256_add_ps(v, after ? r : none);
        float *cp = c + i * ldy + 8 * j;
        if (full[j])
          _mm256_storeu_ps(cp, v);
        else
          _mm256_maskstore_ps(cp, masks[j], v);
      }
    }
    if (g.post)
      g.postFn(*g.post, c + g.colLo, ldy,
               g.postResidual ? g.postResidual + p * ldr : nullptr, ldr, live,
               static_cast<size_t>(g.colHi - g.colLo));
  }
}

using PanelFn = void (*)(const NarrowPanel &);

template <size_t... I>
constexpr std::array<PanelFn, sizeof...(I)>
panelTable(std::index_sequence<I...>) {
  return {{&narrowPanel<static_cast<int>(I) % 2 + 1,
                        static_cast<int>(I) / 2 % 4, (I / 8) != 0>...}};
}

} // namespace

void pointwiseNarrowAvx2(const float *x, size_t ldx, size_t K,
                         const void *packedB, float *y, size_t ldy,
                         const Epilogue &epi, size_t p0, size_t p1, size_t oc0,
                         size_t oc1) {
  static constexpr std::array<PanelFn, 16> bodies =
      panelTable(std::make_index_sequence<16>());
  const float *panels = packedPanels(packedB);
  const size_t N = packedHeader(packedB)->cols;
  oc1 = std::min(oc1, N);
  // A HardSwish post with no activation before it runs in registers (3);
  // after Relu or Clip, by rows like the other kinds.
  const bool hardSwish = epi.activation == Activation::None && epi.post &&
                         epi.post->kind == PostActivation::HardSwish;
  const int act = hardSwish                            ? 3
                  : epi.activation == Activation::None ? 0
                  : epi.activation == Activation::Relu ? 1
                                                       : 2;
  const PostOp *post = hardSwish ? nullptr : epi.post;
  // A residual added after the activation goes to the post, when there is
  // one (withPost's rule), so the stores hold what the post reads.
  const bool postTakesResidual =
      post && epi.residual && epi.residualAfterActivation;
  const bool res = epi.residual && !postTakesResidual;
  NarrowPanel g{};
  g.lda = ldx;
  g.K = K;
  g.ldy = ldy;
  g.ldr = epi.ldr;
  g.residualAfter = epi.residualAfterActivation;
  g.lo = act == 2 ? epi.clipMin : 0.0f;
  g.hi = act == 2 ? epi.clipMax : __builtin_inff();
  g.post = post;
  g.postFn = post ? postPath(Isa::Avx2) : nullptr;
  const size_t block =
      std::max(kRows, kBlockBytes / (std::max<size_t>(K, 1) * sizeof(float)) /
                          kRows * kRows);
  for (size_t pb = p0; pb < p1; pb += block) {
    const size_t pe = std::min(p1, pb + block);
    for (size_t col = oc0 / kPanel * kPanel; col < oc1; col += kPanel) {
      g.colLo = static_cast<int>(std::max(oc0, col) - col);
      g.colHi = static_cast<int>(std::min(oc1, col + kPanel) - col);
      g.a = x + pb * ldx;
      g.b = panels + (col / kPanel) * K * kPanel;
      g.y = y + pb * ldy + col;
      g.bias = epi.bias ? epi.bias + col : nullptr;
      g.residual = res ? epi.residual + pb * epi.ldr + col : nullptr;
      g.postResidual = postTakesResidual
                           ? epi.residual + pb * epi.ldr + col + g.colLo
                           : nullptr;
      g.rows = pe - pb;
      const size_t nv = g.colHi > 8 ? 2 : 1;
      bodies[(res ? 8 : 0) + static_cast<size_t>(act) * 2 + nv - 1](g);
    }
  }
}

} // namespace ember::cpu::detail

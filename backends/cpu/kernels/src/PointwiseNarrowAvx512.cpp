//===- PointwiseNarrowAvx512.cpp - 1x1 convolutions of few input channels -===//
//
// y[p][oc] = act(bias[oc] + sum over c < K of x[p][c] * W[c][oc]) for a
// channels-last 1x1 convolution (stride 1, no pads) whose K is small: the
// expansion layers of MobileNetV3, EfficientNet and PicoDet (16 to 40 input
// channels). x is read in place, W is conv2dNhwc's packed panels (K rows of
// 64 output channels), so the call shares the weights and the bits of the
// general path (gemmInPlaceRows): the same fused multiply-adds in the same
// order from the bias, the same activation instructions.
//
// What differs is what surrounds the multiply-adds. With K = 16 a 6 x 64
// tile is 384 FMAs, and the general driver spent about a quarter of that
// again per tile: the call through its body table, TileArgs' fields read
// back after the stores, lane masks recomputed, a prefetch per k step, an
// epilogue that adds a zero row bias and clamps a Relu to [0, +inf). Here
// one call runs a whole column chunk's tiles: masks, bias vectors and the
// epilogue's constants are set once per chunk, the activation is a template
// parameter (Relu is one max; a HardSwish post is applied in registers as the
// tiles apply it), and a 6-row tile's loop is nothing but its
// loads and FMAs. The last tile of a range with fewer than 6 rows reads its
// last live row again for the missing ones and stores only the live ones.
//
// Loops: pixel blocks whose input rows fit in L1 (kBlockBytes) -> chunks
// of up to four 16-channel vectors of one panel -> 6-pixel tiles.
//
//===----------------------------------------------------------------------===//
#include "HardSwishAvx512.h"
#include "Internal.h"

#include "Simd.h"

#include <algorithm>
#include <array>
#include <utility>

namespace ember::cpu::detail {

namespace {

constexpr size_t kRows = 6;   ///< pixels per tile
constexpr size_t kPanel = 64; ///< packed panel width (6 x 64 kernel)
constexpr size_t kBlockBytes = 16 * 1024; ///< input rows of a pixel block

/// One chunk of output columns over a range of pixels.
struct NarrowChunk {
  const float *a; ///< x at pixel p0, channel 0
  size_t lda, K;
  const float *b; ///< the panel's row 0 at the chunk's first column
  float *y;       ///< y at pixel p0, the chunk's first column
  size_t ldy;
  const float *bias;     ///< at the chunk's first column, or null
  const float *residual; ///< at pixel p0, the chunk's first column, or null
  size_t ldr;
  bool residualAfter;
  float lo, hi;           ///< Clip's bounds
  size_t rows;            ///< pixels
  __mmask16 masks[4];     ///< the lanes stored
  __mmask16 biasMasks[4]; ///< the lanes below the last stored one
  const PostOp *post;
  PostFn postFn;
  size_t postCol0, postCols; ///< the post's columns relative to y
  /// A residual the post adds after itself (withPost's rule), at pixel p0
  /// and the post's first column, or null.
  const float *postResidual;
};

/// ACT: 0 none, 1 Relu, 2 Clip, 3 none and a HardSwish post, applied in
/// registers before the store (and before a residual added after the
/// activation: the post's place in Epilogue's order).
template <int NV, int ACT, bool RES>
EMBER_TARGET_AVX512 void narrowChunk(const NarrowChunk &g) {
  const size_t K = g.K, lda = g.lda, ldy = g.ldy, ldr = g.ldr;
  __m512 init[NV];
  __mmask16 masks[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    masks[j] = g.masks[j];
    init[j] = g.bias ? _mm512_maskz_loadu_ps(g.biasMasks[j], g.bias + 16 * j)
                     : _mm512_setzero_ps();
  }
  const __m512 lo = ACT == 2 ? _mm512_set1_ps(g.lo) : _mm512_setzero_ps();
  const __m512 hi = _mm512_set1_ps(g.hi);
  const bool after = g.residualAfter;
  const __m512 zero = _mm512_setzero_ps();
  // What the residual's other place adds: with a HardSwish in registers,
  // -0, which changes no value (the kernel then the post by rows added
  // nothing there).
  const __m512 none = ACT == 3 ? _mm512_set1_ps(-0.0f) : zero;
  for (size_t p = 0; p < g.rows; p += kRows) {
    const size_t live = std::min(kRows, g.rows - p);
    const float *arow[kRows];
#pragma GCC unroll 6
    for (size_t i = 0; i < kRows; ++i)
      arow[i] = g.a + (p + std::min(i, live - 1)) * lda;
    __m512 acc[kRows][NV];
#pragma GCC unroll 6
    for (size_t i = 0; i < kRows; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        acc[i][j] = init[j];
    const float *b = g.b;
#pragma GCC unroll 4
    for (size_t k = 0; k < K; ++k, b += kPanel) {
      __m512 bv[NV];
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        bv[j] = _mm512_loadu_ps(b + 16 * j);
#pragma GCC unroll 6
      for (size_t i = 0; i < kRows; ++i) {
        const __m512 ai = _mm512_set1_ps(arow[i][k]);
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j)
          acc[i][j] = _mm512_fmadd_ps(ai, bv[j], acc[i][j]);
      }
    }
    float *c = g.y + p * ldy;
#pragma GCC unroll 6
    for (size_t i = 0; i < kRows; ++i) {
      if (i >= live)
        break;
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        __m512 v = acc[i][j], r = zero;
        if (RES) {
          r = _mm512_maskz_loadu_ps(masks[j],
                                    g.residual + (p + i) * ldr + 16 * j);
          v = _mm512_add_ps(v, after ? none : r);
        }
        if (ACT == 1 || ACT == 2)
          v = _mm512_max_ps(v, lo);
        if (ACT == 2)
          v = _mm512_min_ps(v, hi);
        if (ACT == 3)
          v = hardSwish512(v);
        if (RES)
          v = _mm512_add_ps(v, after ? r : none);
        if (masks[j] == __mmask16(0xFFFF))
          _mm512_storeu_ps(c + i * ldy + 16 * j, v);
        else
          _mm512_mask_storeu_ps(c + i * ldy + 16 * j, masks[j], v);
      }
    }
    if (g.post)
      g.postFn(*g.post, c + g.postCol0, ldy,
               g.postResidual ? g.postResidual + p * ldr : nullptr, ldr, live,
               g.postCols);
  }
}

using ChunkFn = void (*)(const NarrowChunk &);

template <size_t... I>
constexpr std::array<ChunkFn, sizeof...(I)>
chunkTable(std::index_sequence<I...>) {
  return {{&narrowChunk<static_cast<int>(I) % 4 + 1,
                        static_cast<int>(I) / 4 % 4, (I / 16) != 0>...}};
}

} // namespace

void pointwiseNarrowAvx512(const float *x, size_t ldx, size_t K,
                           const void *packedB, float *y, size_t ldy,
                           const Epilogue &epi, size_t p0, size_t p1,
                           size_t oc0, size_t oc1) {
  static constexpr std::array<ChunkFn, 32> bodies =
      chunkTable(std::make_index_sequence<32>());
  const float *panels = packedPanels(packedB);
  const size_t N = packedHeader(packedB)->cols;
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
  NarrowChunk g{};
  g.lda = ldx;
  g.K = K;
  g.ldy = ldy;
  g.ldr = epi.ldr;
  g.residualAfter = epi.residualAfterActivation;
  g.lo = act == 2 ? epi.clipMin : 0.0f;
  g.hi = act == 2 ? epi.clipMax : __builtin_inff();
  g.post = post;
  g.postFn = post ? postPath(Isa::Avx512) : nullptr;
  const size_t block =
      std::max(kRows, kBlockBytes / (std::max<size_t>(K, 1) * sizeof(float)) /
                          kRows * kRows);
  const size_t v0 = oc0 / 16, v1 = ceilDiv(std::min(oc1, N), 16);
  for (size_t pb = p0; pb < p1; pb += block) {
    const size_t pe = std::min(p1, pb + block);
    for (size_t v = v0; v < v1;) {
      // Up to four vectors, inside one panel.
      const size_t col = 16 * v, panel = col / kPanel;
      const size_t nv =
          std::min<size_t>({4, v1 - v, (panel + 1) * kPanel / 16 - v});
      for (size_t j = 0; j < 4; ++j) {
        const ptrdiff_t from = static_cast<ptrdiff_t>(std::max(oc0, col)) -
                               static_cast<ptrdiff_t>(col + 16 * j);
        const ptrdiff_t to = static_cast<ptrdiff_t>(std::min(oc1, N)) -
                             static_cast<ptrdiff_t>(col + 16 * j);
        const int lo = static_cast<int>(std::clamp<ptrdiff_t>(from, 0, 16));
        const int hi = static_cast<int>(std::clamp<ptrdiff_t>(to, 0, 16));
        g.masks[j] =
            static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
        g.biasMasks[j] = static_cast<__mmask16>((1u << hi) - 1u);
      }
      g.a = x + pb * ldx;
      g.b = panels + panel * K * kPanel + col % kPanel;
      g.y = y + pb * ldy + col;
      g.bias = epi.bias ? epi.bias + col : nullptr;
      g.residual = res ? epi.residual + pb * epi.ldr + col : nullptr;
      g.postResidual = postTakesResidual
                           ? epi.residual + pb * epi.ldr + std::max(oc0, col)
                           : nullptr;
      g.rows = pe - pb;
      g.postCol0 = std::max(oc0, col) - col;
      g.postCols = std::min({oc1, N, col + 16 * nv}) - std::max(oc0, col);
      bodies[(res ? 16 : 0) + static_cast<size_t>(act) * 4 + nv - 1](g);
      v += nv;
    }
  }
}

} // namespace ember::cpu::detail

//===- PackAvx512.cpp - AVX-512 im2col packer -----------------------------===//
//
// Packs a (kc x cols) block of the im2col matrix into B panels with one
// masked load and one masked store per 16 pixels: out-of-image taps are
// masked-off lanes (zeros) rather than branches. Stride 2 loads 32
// consecutive inputs and keeps the even ones; other strides gather.
//
//===----------------------------------------------------------------------===//
#include "Internal.h"
#include "Simd.h"

namespace ember::cpu::detail {

namespace {

EMBER_TARGET_AVX512 inline __mmask16 mask16(ptrdiff_t lo, ptrdiff_t hi) {
  lo = lo < 0 ? 0 : (lo > 16 ? 16 : lo);
  hi = hi < 0 ? 0 : (hi > 16 ? 16 : hi);
  if (hi <= lo)
    return 0;
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/// 16 (n valid) pixels of one im2col row: input positions base + l*SW of
/// `row` (a W-wide image row), zero where outside [0, W).
template <int SW>
EMBER_TARGET_AVX512 inline __m512 loadTaps(const float *row, ptrdiff_t base,
                                           ptrdiff_t W, ptrdiff_t n,
                                           size_t sw) {
  if (SW == 1) {
    // Lanes l with 0 <= base + l < W, l < n.
    __mmask16 m = mask16(-base, W - base < n ? W - base : n);
    return _mm512_maskz_loadu_ps(m, row + base);
  } else if (SW == 2) {
    // Source offsets s = 0..31 from base; lane l takes s = 2l.
    ptrdiff_t lo = -base, hi = W - base < 2 * n ? W - base : 2 * n;
    __mmask16 m0 = mask16(lo, hi);
    __mmask16 m1 = mask16(lo - 16, hi - 16);
    __m512 a = _mm512_maskz_loadu_ps(m0, row + base);
    __m512 b = _mm512_maskz_loadu_ps(m1, row + base + 16);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18,
                                           20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(a, even, b);
  } else {
    const __m512i lanes =
        _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m512i idx = _mm512_add_epi32(
        _mm512_set1_epi32(static_cast<int>(base)),
        _mm512_mullo_epi32(lanes, _mm512_set1_epi32(static_cast<int>(sw))));
    __mmask16 m =
        _mm512_cmpge_epi32_mask(idx, _mm512_setzero_si512()) &
        _mm512_cmplt_epi32_mask(idx, _mm512_set1_epi32(static_cast<int>(W))) &
        mask16(0, n);
    return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, row, 4);
  }
}

template <int SW, size_t NR>
EMBER_TARGET_AVX512 void packIm2colT(const ConvGeom &g, const float *x,
                                     size_t k0, size_t kc, size_t p0,
                                     size_t cols, float *dst) {
  const ptrdiff_t W = static_cast<ptrdiff_t>(g.W);
  const ptrdiff_t H = static_cast<ptrdiff_t>(g.H);
  const size_t panels = ceilDiv(cols, NR);
  const size_t oh0 = p0 / g.OW, ow0 = p0 % g.OW;
  size_t c, kh, kw;
  firstTap(g, k0, c, kh, kw);
  for (size_t kk = 0; kk < kc; ++kk) {
    const float *plane = x + c * g.H * g.W;
    const ptrdiff_t rowOff =
        static_cast<ptrdiff_t>(kh * g.DH) - static_cast<ptrdiff_t>(g.PT);
    const ptrdiff_t colOff =
        static_cast<ptrdiff_t>(kw * g.DW) - static_cast<ptrdiff_t>(g.PL);
    float *dk = dst + kk * NR;
    size_t q = 0, oh = oh0, ow = ow0;
    while (q < cols) {
      // One output row's run of pixels, cut at 16-pixel (and so panel)
      // boundaries of the destination.
      size_t run = g.OW - ow < cols - q ? g.OW - ow : cols - q;
      const ptrdiff_t ih = static_cast<ptrdiff_t>(oh * g.SH) + rowOff;
      const bool inside = ih >= 0 && ih < H;
      const float *row = plane + (inside ? ih : 0) * W;
      while (run > 0) {
        size_t n = 16 - q % 16;
        n = n < run ? n : run;
        float *d = dk + (q / NR) * kc * NR + q % NR;
        __m512 v = _mm512_setzero_ps();
        if (inside)
          v = loadTaps<SW>(row, static_cast<ptrdiff_t>(ow * g.SW) + colOff, W,
                           static_cast<ptrdiff_t>(n), g.SW);
        _mm512_mask_storeu_ps(d, mask16(0, static_cast<ptrdiff_t>(n)), v);
        q += n;
        ow += n;
        run -= n;
      }
      if (ow == g.OW) {
        ow = 0;
        ++oh;
      }
    }
    // Zero the last panel past the last pixel.
    if (cols % NR) {
      float *tail = dk + (panels - 1) * kc * NR;
      for (size_t l = cols % NR; l < NR; l += 16)
        _mm512_mask_storeu_ps(
            tail + l,
            mask16(0, static_cast<ptrdiff_t>(NR - l < 16 ? NR - l : 16)),
            _mm512_setzero_ps());
    }
    nextTap(g, c, kh, kw);
  }
}

template <size_t NR>
void packIm2colNr(const ConvGeom &g, const float *x, size_t k0, size_t kc,
                  size_t p0, size_t cols, float *dst) {
  if (g.SW == 1)
    packIm2colT<1, NR>(g, x, k0, kc, p0, cols, dst);
  else if (g.SW == 2)
    packIm2colT<2, NR>(g, x, k0, kc, p0, cols, dst);
  else
    packIm2colT<0, NR>(g, x, k0, kc, p0, cols, dst);
}

} // namespace

void packIm2colAvx512(const ConvGeom &g, const float *x, size_t k0, size_t kc,
                      size_t p0, size_t cols, int nr, float *dst) {
  // The panel width is a template argument so that pixel -> panel offsets
  // are shifts, not divisions.
  switch (nr) {
  case 64:
    return packIm2colNr<64>(g, x, k0, kc, p0, cols, dst);
  case 32:
    return packIm2colNr<32>(g, x, k0, kc, p0, cols, dst);
  default:
    return packIm2col(g, x, k0, kc, p0, cols, nr, dst);
  }
}

} // namespace ember::cpu::detail

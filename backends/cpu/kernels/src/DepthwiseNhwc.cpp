//===- DepthwiseNhwc.cpp - fp32 depthwise convolution, channels-last ------===//
//
// y[p][c] = sum over taps (kh, kw) of x[ih(p, kh)][iw(p, kw)][c] * w[kh][kw][c]
//
// Channels are the vector lanes: each output pixel is a handful of 16-lane
// (AVX-512) or 8-lane (AVX2) vectors, every tap one load and one FMA per
// vector, with the taps' weights held in registers across a row of pixels.
// Pixels whose window lies inside the input take an unchecked path; the border
// checks each tap. Nothing is copied or padded (the NCHW kernel copies each
// channel plane into a padded buffer first).
//
//===----------------------------------------------------------------------===//
#include "Internal.h"
#include "TileEpilogue.h"

#include "Simd.h"

#include <algorithm>

namespace ember::cpu {

using namespace detail;

namespace {

struct DwArgs {
  const Conv2DShape *s;
  size_t OW, taps;
  const float *x;
  size_t ldx;
  const float *w; ///< [taps][C]
  float *y;
  size_t ldy;
  const Epilogue *e;
};

/// Calls f(tap, input pixel) for each tap of the window whose top row is
/// input row ih0 (output column ow) that falls inside the input.
template <typename F>
__attribute__((always_inline)) inline void
forInsideTaps(const Conv2DShape &s, ptrdiff_t ih0, size_t ow, F &&f) {
  for (size_t kh = 0; kh < s.kernelH; ++kh) {
    const ptrdiff_t ih = ih0 + static_cast<ptrdiff_t>(kh * s.dilationH);
    if (ih < 0 || ih >= static_cast<ptrdiff_t>(s.height))
      continue;
    for (size_t kw = 0; kw < s.kernelW; ++kw) {
      const ptrdiff_t iw =
          static_cast<ptrdiff_t>(ow * s.strideW + kw * s.dilationW) -
          static_cast<ptrdiff_t>(s.padLeft);
      if (iw < 0 || iw >= static_cast<ptrdiff_t>(s.width))
        continue;
      f(kh * s.kernelW + kw,
        static_cast<size_t>(ih) * s.width + static_cast<size_t>(iw));
    }
  }
}

/// Portable path: one pixel, channels [c0, c1).
void pixelGeneric(const DwArgs &a, size_t p, size_t c0, size_t c1) {
  const Conv2DShape &s = *a.s;
  const Epilogue &e = *a.e;
  const size_t oh = p / a.OW, ow = p % a.OW;
  const ptrdiff_t ih0 =
      static_cast<ptrdiff_t>(oh * s.strideH) - static_cast<ptrdiff_t>(s.padTop);
  for (size_t c = c0; c < c1; ++c) {
    float acc = e.bias ? e.bias[c] : 0.0f;
    forInsideTaps(s, ih0, ow, [&](size_t tap, size_t pix) {
      acc += a.x[pix * a.ldx + c] * a.w[tap * s.channels + c];
    });
    const float r = e.residual ? e.residual[p * e.ldr + c] : 0.0f;
    float v = e.residualAfterActivation ? acc : acc + r;
    v = activate(v, e.activation, e.clipMin, e.clipMax);
    a.y[p * a.ldy + c] = e.residualAfterActivation ? v + r : v;
  }
}

EMBER_TARGET_AVX512 inline __mmask16 lanes(size_t n) {
  return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << n) - 1u);
}

/// Taps whose weights stay in registers (3x3); larger windows reload them.
constexpr size_t kMaxRegTaps = 9;

/// The epilogue on one vector and its masked store.
struct VecEpilogue {
  const float *residual;
  size_t ldr;
  bool after, clip;
  __m512 lo, hi;
};

EMBER_TARGET_AVX512 inline void finishStore(const VecEpilogue &v, __m512 acc,
                                            size_t p, size_t cb, __mmask16 m,
                                            float *dst) {
  __m512 r = _mm512_setzero_ps();
  if (v.residual)
    r = _mm512_maskz_loadu_ps(m, v.residual + p * v.ldr + cb);
  if (!v.after)
    acc = _mm512_add_ps(acc, r);
  if (v.clip)
    acc = _mm512_min_ps(_mm512_max_ps(acc, v.lo), v.hi);
  if (v.after)
    acc = _mm512_add_ps(acc, r);
  _mm512_mask_storeu_ps(dst, m, acc);
}

/// Tap t's weights for channels [cb, cb + 16): from registers (3x3) or L1.
EMBER_TARGET_AVX512 inline __m512 tapWeight(const __m512 *wr, bool regTaps,
                                            const float *w, size_t t, size_t C,
                                            size_t cb, __mmask16 m) {
  return regTaps ? wr[t] : _mm512_maskz_loadu_ps(m, w + t * C + cb);
}

/// One border pixel (row oh's window starts at input row ih0): each tap
/// checked against the input's bounds.
EMBER_TARGET_AVX512 void checkedPixel(const DwArgs &a, const VecEpilogue &ve,
                                      ptrdiff_t ih0, size_t ow, size_t pRow,
                                      size_t cb, __mmask16 m, __m512 bias,
                                      const __m512 *wr, bool regTaps) {
  const Conv2DShape &s = *a.s;
  __m512 acc = bias;
  forInsideTaps(s, ih0, ow, [&](size_t tap, size_t pix) EMBER_TARGET_AVX512 {
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a.x + pix * a.ldx + cb),
                          tapWeight(wr, regTaps, a.w, tap, s.channels, cb, m),
                          acc);
  });
  finishStore(ve, acc, pRow + ow, cb, m, a.y + (pRow + ow) * a.ldy + cb);
}

/// AVX-512: output row oh, columns [ow0, ow1) x channels [c0, c1), in
/// blocks of 16 channels. The columns whose windows lie inside the input
/// run unchecked, four at a time (four independent FMA chains); the rest
/// check each tap.
EMBER_TARGET_AVX512 void rowAvx512(const DwArgs &a, size_t oh, size_t ow0,
                                   size_t ow1, size_t c0, size_t c1) {
  const Conv2DShape &s = *a.s;
  const Epilogue &e = *a.e;
  const size_t C = s.channels, taps = a.taps;
  VecEpilogue ve{
      e.residual,
      e.ldr,
      e.residualAfterActivation,
      e.activation != Activation::None,
      _mm512_set1_ps(e.activation == Activation::Clip ? e.clipMin : 0.0f),
      _mm512_set1_ps(e.activation == Activation::Clip ? e.clipMax
                                                      : __builtin_inff())};
  // Interior columns of this row: the window of column ow starts at input
  // column ow*sw - pl and spans (KW-1)*dw + 1.
  const ptrdiff_t ih0 =
      static_cast<ptrdiff_t>(oh * s.strideH) - static_cast<ptrdiff_t>(s.padTop);
  const bool rowInside =
      ih0 >= 0 && ih0 + static_cast<ptrdiff_t>((s.kernelH - 1) * s.dilationH) <
                      static_cast<ptrdiff_t>(s.height);
  const size_t spanW = (s.kernelW - 1) * s.dilationW + 1;
  size_t lo = ceilDiv(s.padLeft, s.strideW);
  size_t hi = s.width + s.padLeft >= spanW
                  ? (s.width + s.padLeft - spanW) / s.strideW + 1
                  : 0;
  if (!rowInside || lo >= hi)
    lo = hi = ow0;
  lo = std::min(std::max(lo, ow0), ow1);
  hi = std::min(std::max(hi, lo), ow1);
  ptrdiff_t off[64];
  for (size_t t = 0; t < taps; ++t)
    off[t] = static_cast<ptrdiff_t>(((t / s.kernelW) * s.dilationH * s.width +
                                     (t % s.kernelW) * s.dilationW) *
                                    a.ldx);
  const bool regTaps = taps <= kMaxRegTaps;
  const size_t pRow = oh * a.OW;
  const size_t xStep = s.strideW * a.ldx;

  for (size_t cb = c0; cb < c1; cb += 16) {
    const __mmask16 m = lanes(c1 - cb);
    __m512 wr[kMaxRegTaps];
    if (regTaps)
      for (size_t t = 0; t < taps; ++t)
        wr[t] = _mm512_maskz_loadu_ps(m, a.w + t * C + cb);
    const __m512 bias =
        e.bias ? _mm512_maskz_loadu_ps(m, e.bias + cb) : _mm512_setzero_ps();
    for (size_t ow = ow0; ow < lo; ++ow)
      checkedPixel(a, ve, ih0, ow, pRow, cb, m, bias, wr, regTaps);
    // Interior: x of column ow's window starts at base + ow * xStep.
    const float *base = a.x +
                        (static_cast<size_t>(ih0 < 0 ? 0 : ih0) * s.width +
                         lo * s.strideW - s.padLeft) *
                            a.ldx +
                        cb;
    size_t ow = lo;
    for (; ow + 4 <= hi; ow += 4, base += 4 * xStep) {
      __m512 acc0 = bias, acc1 = bias, acc2 = bias, acc3 = bias;
      for (size_t t = 0; t < taps; ++t) {
        const __m512 wv = tapWeight(wr, regTaps, a.w, t, C, cb, m);
        const float *q = base + off[t];
        acc0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q), wv, acc0);
        acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + xStep), wv, acc1);
        acc2 =
            _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + 2 * xStep), wv, acc2);
        acc3 =
            _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q + 3 * xStep), wv, acc3);
      }
      const size_t p = pRow + ow;
      finishStore(ve, acc0, p, cb, m, a.y + p * a.ldy + cb);
      finishStore(ve, acc1, p + 1, cb, m, a.y + (p + 1) * a.ldy + cb);
      finishStore(ve, acc2, p + 2, cb, m, a.y + (p + 2) * a.ldy + cb);
      finishStore(ve, acc3, p + 3, cb, m, a.y + (p + 3) * a.ldy + cb);
    }
    for (; ow < hi; ++ow, base += xStep) {
      __m512 acc = bias;
      for (size_t t = 0; t < taps; ++t)
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, base + off[t]),
                              tapWeight(wr, regTaps, a.w, t, C, cb, m), acc);
      finishStore(ve, acc, pRow + ow, cb, m, a.y + (pRow + ow) * a.ldy + cb);
    }
    for (ow = hi; ow < ow1; ++ow)
      checkedPixel(a, ve, ih0, ow, pRow, cb, m, bias, wr, regTaps);
  }
}

/// Output row by output row (the input rows a row reads stay in L2 while
/// every channel block passes over them).
EMBER_TARGET_AVX512 void rangeAvx512(const DwArgs &a, size_t p0, size_t p1,
                                     size_t c0, size_t c1) {
  for (size_t p = p0; p < p1;) {
    const size_t oh = p / a.OW;
    const size_t end = std::min(p1, (oh + 1) * a.OW);
    rowAvx512(a, oh, p - oh * a.OW, end - oh * a.OW, c0, c1);
    p = end;
  }
}

/// The epilogue of the AVX2 path on one 8-lane vector.
struct VecEpilogue8 {
  const float *residual;
  size_t ldr;
  bool after, clip;
  __m256 lo, hi;
};

/// Channels [cb, cb + 8) (FULL) or the lanes of m.
template <bool FULL>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256
load8(const float *p, __m256i m) {
  return FULL ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
}

template <bool FULL>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
finishStore8(const VecEpilogue8 &v, __m256 acc, size_t p, size_t cb, __m256i m,
             float *dst) {
  __m256 r = _mm256_setzero_ps();
  if (v.residual)
    r = load8<FULL>(v.residual + p * v.ldr + cb, m);
  if (!v.after)
    acc = _mm256_add_ps(acc, r);
  if (v.clip)
    acc = _mm256_min_ps(_mm256_max_ps(acc, v.lo), v.hi);
  if (v.after)
    acc = _mm256_add_ps(acc, r);
  if (FULL)
    _mm256_storeu_ps(dst, acc);
  else
    _mm256_maskstore_ps(dst, m, acc);
}

/// What rowAvx2 knows of an output row: columns [ow0, ow1) are computed,
/// [lo, hi) of them have their windows inside the input horizontally, and
/// kernel rows [kh0, kh1) fall inside the input (the window of row oh
/// starts at input row ih0).
struct DwRow {
  size_t oh, ow0, ow1, lo, hi, kh0, kh1;
  ptrdiff_t ih0;
};

/// Output columns [ow, ow + 8) of an interior run, channels [cb, cb + 8),
/// for a KW-wide stride-SW window (undilated along the row): per kernel
/// row, its KW weights in registers and the 7*SW+KW input columns the 8
/// windows cover, each loaded once and multiplied into every window
/// holding it (3x3 stride 1: 10 loads for 24 FMAs, where one load per FMA
/// is what a tap at a time needs). 8 accumulators + KW weights + the load
/// fit the 16 ymm registers up to KW = 5. Each output still adds its taps
/// in (kh, kw) order.
template <bool FULL, int KW, int SW>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
slideStep(const DwArgs &a, const VecEpilogue8 &ve, const DwRow &r, size_t ow,
          size_t cb, __m256i m, __m256 bias) {
  constexpr int NP = 8, NC = (NP - 1) * SW + KW;
  const Conv2DShape &s = *a.s;
  const size_t C = s.channels, ldx = a.ldx;
  const size_t rowStep = s.dilationH * s.width * ldx;
  const size_t p0 = r.oh * a.OW + ow;
  const float *xr = a.x +
                    (static_cast<size_t>(
                         r.ih0 + static_cast<ptrdiff_t>(r.kh0 * s.dilationH)) *
                         s.width +
                     ow * SW - s.padLeft) *
                        ldx +
                    cb;
  const float *wr = a.w + r.kh0 * KW * C + cb;
  __m256 acc[NP];
#pragma GCC unroll 8
  for (int p = 0; p < NP; ++p)
    acc[p] = bias;
  for (size_t kh = r.kh0; kh < r.kh1; ++kh, xr += rowStep, wr += KW * C) {
    __m256 wv[KW];
#pragma GCC unroll 8
    for (int t = 0; t < KW; ++t)
      wv[t] = load8<FULL>(wr + t * C, m);
    const float *xp = xr;
#pragma GCC unroll 24
    for (int j = 0; j < NC; ++j, xp += ldx) {
      const __m256 xv = load8<FULL>(xp, m);
#pragma GCC unroll 8
      for (int p = 0; p < NP; ++p) {
        const int t = j - p * SW;
        if (t >= 0 && t < KW)
          acc[p] = _mm256_fmadd_ps(xv, wv[t], acc[p]);
      }
    }
  }
#pragma GCC unroll 8
  for (int p = 0; p < NP; ++p)
    finishStore8<FULL>(ve, acc[p], p0 + p, cb, m, a.y + (p0 + p) * a.ldy + cb);
}

/// The interior columns [r.lo, r.hi) of NB blocks by slideStep, 8 columns
/// at a time, every block of a step before the next step (the input
/// columns a step reads stay in L1 for the other blocks' loads of the same
/// lines). When the columns do not divide into steps, the last step
/// starts 8 before the end: the columns it shares with the step before
/// are computed again, the same way, and stored again. Returns r.hi, or
/// r.lo when there are fewer than 8 columns.
template <bool FULL, int NB, int KW, int SW>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline size_t
slideAvx2(const DwArgs &a, const VecEpilogue8 &ve, const DwRow &r, size_t cb,
          __m256i m, const __m256 (&bias)[NB]) {
  if (r.hi - r.lo < 8)
    return r.lo;
  for (size_t ow = r.lo;; ow += 8) {
    ow = std::min(ow, r.hi - 8);
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b)
      slideStep<FULL, KW, SW>(a, ve, r, ow, cb + 8 * b, m, bias[b]);
    if (ow + 8 == r.hi)
      return r.hi;
  }
}

/// NB 8-channel blocks of an output row from channel cb on (rowAvx2):
/// the interior columns by slideAvx2 where a
/// specialization exists (3x3 and 5x5, stride 1 or 2, at least 8 interior
/// columns), the rest a pixel at a time over the taps inside the input
/// (kernel rows [kh0, kh1), and the columns whose windows cross the left
/// or right border clipped to it), with the NB blocks' sums as independent
/// chains: one pixel of one block is a chain of dependent FMAs, at 4
/// cycles each. FULL: all 8 lanes live (plain loads and stores; vmaskmov
/// otherwise, NB = 1).
template <bool FULL, int NB>
EMBER_TARGET_AVX2 void groupAvx2(const DwArgs &a, const VecEpilogue8 &ve,
                                 const DwRow &r, size_t cb, __m256i m) {
  const Conv2DShape &s = *a.s;
  const Epilogue &e = *a.e;
  const size_t C = s.channels, KW = s.kernelW, ldx = a.ldx;
  const size_t pRow = r.oh * a.OW;
  __m256 bias[NB];
#pragma GCC unroll 4
  for (int b = 0; b < NB; ++b)
    bias[b] =
        e.bias ? load8<FULL>(e.bias + cb + 8 * b, m) : _mm256_setzero_ps();
  // Column ow, taps [kw0, kw1) of the inside kernel rows.
  auto pixel = [&](size_t ow, size_t kw0, size_t kw1) EMBER_TARGET_AVX2 {
    __m256 acc[NB];
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b)
      acc[b] = bias[b];
    const ptrdiff_t iw = static_cast<ptrdiff_t>(ow * s.strideW) -
                         static_cast<ptrdiff_t>(s.padLeft);
    for (size_t kh = r.kh0; kh < r.kh1; ++kh) {
      const size_t ih =
          static_cast<size_t>(r.ih0 + static_cast<ptrdiff_t>(kh * s.dilationH));
      const float *xr = a.x + ih * s.width * ldx + cb;
      const float *wr = a.w + kh * KW * C + cb;
      for (size_t kw = kw0; kw < kw1; ++kw) {
        const float *xp =
            xr +
            static_cast<size_t>(iw + static_cast<ptrdiff_t>(kw * s.dilationW)) *
                ldx;
#pragma GCC unroll 4
        for (int b = 0; b < NB; ++b)
          acc[b] = _mm256_fmadd_ps(load8<FULL>(xp + 8 * b, m),
                                   load8<FULL>(wr + kw * C + 8 * b, m), acc[b]);
      }
    }
#pragma GCC unroll 4
    for (int b = 0; b < NB; ++b)
      finishStore8<FULL>(ve, acc[b], pRow + ow, cb + 8 * b, m,
                         a.y + (pRow + ow) * a.ldy + cb + 8 * b);
  };
  // A border column: the taps whose input column lies inside.
  auto border = [&](size_t ow) EMBER_TARGET_AVX2 {
    const ptrdiff_t iw = static_cast<ptrdiff_t>(ow * s.strideW) -
                         static_cast<ptrdiff_t>(s.padLeft);
    const ptrdiff_t dw = static_cast<ptrdiff_t>(s.dilationW);
    const ptrdiff_t W = static_cast<ptrdiff_t>(s.width);
    size_t kw0 = iw >= 0 ? 0 : static_cast<size_t>((-iw + dw - 1) / dw);
    size_t kw1 = iw >= W ? 0 : static_cast<size_t>((W - iw + dw - 1) / dw);
    kw1 = std::min(kw1, KW);
    pixel(ow, kw0, std::max(kw0, kw1));
  };
  for (size_t ow = r.ow0; ow < r.lo; ++ow)
    border(ow);
  size_t ow = r.lo;
  if (s.dilationW == 1 && KW == 3 && s.strideW == 1)
    ow = slideAvx2<FULL, NB, 3, 1>(a, ve, r, cb, m, bias);
  else if (s.dilationW == 1 && KW == 3 && s.strideW == 2)
    ow = slideAvx2<FULL, NB, 3, 2>(a, ve, r, cb, m, bias);
  else if (s.dilationW == 1 && KW == 5 && s.strideW == 1)
    ow = slideAvx2<FULL, NB, 5, 1>(a, ve, r, cb, m, bias);
  else if (s.dilationW == 1 && KW == 5 && s.strideW == 2)
    ow = slideAvx2<FULL, NB, 5, 2>(a, ve, r, cb, m, bias);
  for (; ow < r.hi; ++ow)
    pixel(ow, 0, KW);
  for (ow = r.hi; ow < r.ow1; ++ow)
    border(ow);
}

/// rowAvx512 on AVX2: output row oh, columns [ow0, ow1) x channels
/// [c0, c1), in blocks of 8 channels. Rows whose window crosses the top or
/// bottom of the input take the same paths over their inside kernel rows.
EMBER_TARGET_AVX2 void rowAvx2(const DwArgs &a, size_t oh, size_t ow0,
                               size_t ow1, size_t c0, size_t c1) {
  const Conv2DShape &s = *a.s;
  const Epilogue &e = *a.e;
  const VecEpilogue8 ve{
      e.residual,
      e.ldr,
      e.residualAfterActivation,
      e.activation != Activation::None,
      _mm256_set1_ps(e.activation == Activation::Clip ? e.clipMin : 0.0f),
      _mm256_set1_ps(e.activation == Activation::Clip ? e.clipMax
                                                      : __builtin_inff())};
  DwRow r;
  r.oh = oh;
  r.ow0 = ow0;
  r.ow1 = ow1;
  r.ih0 =
      static_cast<ptrdiff_t>(oh * s.strideH) - static_cast<ptrdiff_t>(s.padTop);
  // Kernel rows kh with 0 <= ih0 + kh * dh < H.
  const ptrdiff_t dh = static_cast<ptrdiff_t>(s.dilationH);
  const ptrdiff_t H = static_cast<ptrdiff_t>(s.height);
  r.kh0 = r.ih0 >= 0 ? 0 : static_cast<size_t>((-r.ih0 + dh - 1) / dh);
  r.kh1 = r.ih0 >= H ? 0
                     : std::min(s.kernelH,
                                static_cast<size_t>((H - r.ih0 + dh - 1) / dh));
  r.kh1 = std::max(r.kh0, r.kh1);
  // Columns whose window lies inside horizontally, as rowAvx512.
  const size_t spanW = (s.kernelW - 1) * s.dilationW + 1;
  size_t lo = ceilDiv(s.padLeft, s.strideW);
  size_t hi = s.width + s.padLeft >= spanW
                  ? (s.width + s.padLeft - spanW) / s.strideW + 1
                  : 0;
  if (lo >= hi)
    lo = hi = ow0;
  r.lo = std::min(std::max(lo, ow0), ow1);
  r.hi = std::min(std::max(hi, r.lo), ow1);
  // Groups of four whole blocks (32 channels), then what is left.
  const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  size_t cb = c0;
  for (; cb + 32 <= c1; cb += 32)
    groupAvx2<true, 4>(a, ve, r, cb, idx);
  switch ((c1 - cb) / 8) {
  case 3:
    groupAvx2<true, 3>(a, ve, r, cb, idx);
    break;
  case 2:
    groupAvx2<true, 2>(a, ve, r, cb, idx);
    break;
  case 1:
    groupAvx2<true, 1>(a, ve, r, cb, idx);
    break;
  default:
    break;
  }
  cb += (c1 - cb) / 8 * 8;
  if (cb < c1)
    groupAvx2<false, 1>(
        a, ve, r, cb,
        _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(c1 - cb)), idx));
}

EMBER_TARGET_AVX2 void rangeAvx2(const DwArgs &a, size_t p0, size_t p1,
                                 size_t c0, size_t c1) {
  for (size_t p = p0; p < p1;) {
    const size_t oh = p / a.OW;
    const size_t end = std::min(p1, (oh + 1) * a.OW);
    rowAvx2(a, oh, p - oh * a.OW, end - oh * a.OW, c0, c1);
    p = end;
  }
}

} // namespace

size_t packedDepthwiseNhwcSize(const Conv2DShape &s) {
  return s.channels * s.kernelH * s.kernelW * sizeof(float);
}

Status packDepthwiseNhwc(const Conv2DShape &s, const float *w, float *packed) {
  if (!w || !packed)
    return Status::InvalidArgument;
  const size_t taps = s.kernelH * s.kernelW;
  for (size_t c = 0; c < s.channels; ++c)
    for (size_t t = 0; t < taps; ++t)
      packed[t * s.channels + c] = w[c * taps + t];
  return Status::Ok;
}

Status depthwiseConv2dNhwc(const Conv2DShape &s, const float *x, size_t ldx,
                           const float *packedW, float *y, size_t ldy,
                           const Epilogue &epi, Isa isa,
                           const ConvRange &range) {
  const size_t OW = s.outWidth(), P = s.outHeight() * OW;
  const size_t C = s.channels;
  OutPiece o;
  if (!s.valid() || !x || !packedW || !y || ldx < C || ldy < C ||
      (s.outChannels && s.outChannels != C) ||
      !resolvePiece(range, P, C, epi, o))
    return Status::InvalidArgument;
  if (o.p0 == o.p1 || o.c0 == o.c1)
    return Status::Ok;
  DwArgs a{&s, OW, s.kernelH * s.kernelW, x, ldx, packedW, y, ldy, &epi};
  if (fp32Isa(isa) == Isa::Avx512 && a.taps <= 64) {
    rangeAvx512(a, o.p0, o.p1, o.c0, o.c1);
    return Status::Ok;
  }
  if (fp32Isa(isa) == Isa::Avx2 && a.taps <= 64) {
    rangeAvx2(a, o.p0, o.p1, o.c0, o.c1);
    return Status::Ok;
  }
  for (size_t p = o.p0; p < o.p1; ++p)
    pixelGeneric(a, p, o.c0, o.c1);
  return Status::Ok;
}

} // namespace ember::cpu

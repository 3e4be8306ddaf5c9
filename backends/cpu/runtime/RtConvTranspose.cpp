// The fp32 ConvTranspose call of RtAbi.h (ember_rt_conv_transpose, its
// workspace and its weight transpose) over the kernel library's SGEMM:
// column chunks and col2im, or GEMMs straight into a channels-last result
// when the taps are disjoint. Glue like RtKernels.cpp, linked natively into
// the plugin (JIT) and compiled to bitcode for x86-64 bundles, so it must
// not depend on anything but the kernel library and libc.
#include "RtAbi.h"
#include "RtGlue.h"

#include "ember/cpu/Kernels.h"
#include "ember/math/GemmBlocks.h"

#include <algorithm>
#include <cstring>

namespace {

using namespace ember::cpu;
using namespace ember::cpugen::rt;

struct ConvTTask {
  const int64_t *p;
  const float *x, *wT, *bias;
  float *y;
  uint8_t *ws;
  size_t n, g, p0, p1; // the current image, group and pixel chunk
  size_t rowPieces;
  size_t scatterPieces; // y channels-last: bands of output rows
  size_t colsArea;      // bytes of the cols chunk and x's transposed chunk
  int32_t status;
};

// Bytes of the cols chunk (M x CHUNK floats) and of x's chunk transposed
// (Cg x CHUNK floats; only when x and y are in different layouts).
size_t convtColsBytes(const int64_t *p) {
  size_t G = u(p[EMBER_RT_CONV_GROUPS]);
  size_t M =
      u(p[EMBER_RT_CONV_OC]) / G * u(p[EMBER_RT_CONV_KH] * p[EMBER_RT_CONV_KW]);
  return roundUp(M * u(p[EMBER_RT_CONVT_CHUNK]) * sizeof(float), 64);
}
size_t convtXtBytes(const int64_t *p) {
  if (p[EMBER_RT_CONVT_X_NHWC] == p[EMBER_RT_CONVT_Y_NHWC])
    return 0;
  size_t cg = u(p[EMBER_RT_CONV_C]) / u(p[EMBER_RT_CONV_GROUPS]);
  return roundUp(cg * u(p[EMBER_RT_CONVT_CHUNK]) * sizeof(float), 64);
}

// Before the GEMM when x is not in y's layout: the chunk's pixels of the
// group's channels, transposed into y's (channels-last x: [Cg][chunk];
// row-major x: [chunk][Cg]), blocks [begin, end) of 64 pixels. x's chunk
// is Cg x chunk, KH*KW*OCg / Cg times smaller than the cols.
constexpr size_t kConvtBlock = 64;
void convtTransposeX(void *ctx, int64_t begin, int64_t end, int64_t) {
  ConvTTask &t = *static_cast<ConvTTask *>(ctx);
  const int64_t *p = t.p;
  size_t C = u(p[EMBER_RT_CONV_C]),
         HW = u(p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]),
         cg = C / u(p[EMBER_RT_CONV_GROUPS]), cols = t.p1 - t.p0;
  float *xt = reinterpret_cast<float *>(t.ws + convtColsBytes(p));
  for (int64_t blk = begin; blk < end; ++blk) {
    size_t q0 = size_t(blk) * kConvtBlock,
           q1 = std::min(cols, q0 + kConvtBlock);
    if (p[EMBER_RT_CONVT_X_NHWC]) {
      const float *src = t.x + (t.n * HW + t.p0) * C + t.g * cg;
      for (size_t c = 0; c < cg; ++c)
        for (size_t q = q0; q < q1; ++q)
          xt[c * cols + q] = src[q * C + c];
    } else {
      const float *src = t.x + (t.n * C + t.g * cg) * HW + t.p0;
      for (size_t q = q0; q < q1; ++q)
        for (size_t c = 0; c < cg; ++c)
          xt[q * cg + c] = src[c * HW + q];
    }
  }
}

// The deepest K block the library's sgemm computes as one fused
// multiply-add chain from zero on every path (its kc: 384 on AVX-512, 256
// on AVX2 and the generic kernel); a further block adds its own chain to
// C. Deeper reference blocks take convtBlockedFma.
constexpr size_t kConvtLibraryKc = 256;

// The reference's K block of this call, and whether the library's sgemm
// computes each block of it exactly (a block no deeper than its kc).
size_t convtBlockK(const int64_t *p) {
  size_t cg = u(p[EMBER_RT_CONV_C]) / u(p[EMBER_RT_CONV_GROUPS]);
  return std::min(cg, u(ember_mlas_sgemm_stride_k(
                          p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W], int64_t(cg),
                          p[EMBER_RT_CONVT_COMPUTED_W] != 0)));
}
bool convtLibraryBlocks(const int64_t *p) {
  return convtBlockK(p) <= kConvtLibraryKc;
}

// a * b + c rounded once without libm's fmaf (bundles link libc only): the
// product is exact in double and the sum rounded to odd there, so rounding
// it to float is the correctly rounded fused result (RtPortable.c's
// fma_f32).
float convtFma(float a, float b, float c) {
  double prod = double(a) * double(b), s = prod + double(c);
  double bb = s - prod, e = (prod - (s - bb)) + (double(c) - bb);
  if (e != 0.0 && s - s == 0.0) {
    uint64_t bits;
    std::memcpy(&bits, &s, sizeof bits);
    if ((bits & 1u) == 0)
      bits = (e > 0.0) == (s > 0.0) ? bits + 1u : bits - 1u;
    std::memcpy(&s, &bits, sizeof bits);
  }
  return float(s);
}

// C[rows, n] = A[rows, K] x B[K, n] in the reference's order without the
// library: per K block of `blockK` a fused multiply-add chain from zero,
// the blocks' sums added in order. Only for blocks deeper than the
// library's kc (a small image with many channels per group).
void convtBlockedFma(size_t rows, size_t n, size_t K, size_t blockK,
                     const float *a, size_t lda, const float *b, size_t ldb,
                     float *c, size_t ldc) {
  constexpr size_t kCols = 64;
  float part[kCols];
  for (size_t i = 0; i < rows; ++i)
    for (size_t j0 = 0; j0 < n; j0 += kCols) {
      size_t nj = std::min(kCols, n - j0);
      float *ci = c + i * ldc + j0;
      for (size_t k0 = 0; k0 < K; k0 += blockK) {
        std::fill(part, part + nj, 0.0f);
        for (size_t k = k0; k < std::min(K, k0 + blockK); ++k) {
          float aik = a[i * lda + k];
          const float *bk = b + k * ldb + j0;
          for (size_t j = 0; j < nj; ++j)
            part[j] = convtFma(aik, bk[j], part[j]);
        }
        for (size_t j = 0; j < nj; ++j)
          ci[j] = k0 == 0 ? part[j] : ci[j] + part[j];
      }
    }
}

// One cols GEMM C[rows, n] = A[rows, Cg] x B[Cg, n] in ONNX Runtime's
// order: the library's sgemm per reference K block, the first writing C and
// each further one adding its own chain to it (as MLAS adds a block's
// accumulators to C), or convtBlockedFma for blocks deeper than its kc.
ember::cpu::Status convtColsGemm(const int64_t *p, size_t rows, size_t n,
                                 size_t K, const float *a, size_t lda,
                                 const float *b, size_t ldb, float *c,
                                 size_t ldc, Isa isa, uint8_t *gws) {
  size_t blockK = convtBlockK(p);
  if (!convtLibraryBlocks(p)) {
    convtBlockedFma(rows, n, K, blockK, a, lda, b, ldb, c, ldc);
    return Status::Ok;
  }
  Status s = Status::Ok;
  for (size_t k0 = 0; k0 < K && s == Status::Ok; k0 += blockK) {
    Epilogue ep;
    ep.accumulate = k0 > 0;
    s = sgemm(rows, n, std::min(blockK, K - k0), a + k0, lda, b + k0 * ldb, ldb,
              c, ldc, ep, isa, gws);
  }
  return s;
}

// Phase 1, in y's layout: cols = W^T x X[:, p0:p1] (y row-major: [M][chunk],
// W^T [M][Cg]) or X[p0:p1, :] x W' (y channels-last: [chunk][M], W'
// [Cg][M]), X read in place or from its transposed chunk; split over
// cols' rows. Each column element sums the group's channels in ONNX
// Runtime's K blocks (convtColsGemm).
void convtGemm(void *ctx, int64_t begin, int64_t end, int64_t worker) {
  ConvTTask &t = *static_cast<ConvTTask *>(ctx);
  const int64_t *p = t.p;
  size_t C = u(p[EMBER_RT_CONV_C]),
         HW = u(p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]);
  size_t G = u(p[EMBER_RT_CONV_GROUPS]);
  size_t cg = C / G, ocg = u(p[EMBER_RT_CONV_OC]) / G;
  size_t KK = u(p[EMBER_RT_CONV_KH] * p[EMBER_RT_CONV_KW]), M = ocg * KK;
  size_t cols = t.p1 - t.p0;
  bool xNhwc = p[EMBER_RT_CONVT_X_NHWC] != 0,
       yNhwc = p[EMBER_RT_CONVT_Y_NHWC] != 0;
  Isa isa = Isa(p[EMBER_RT_CONV_ISA]);
  float *cb = reinterpret_cast<float *>(t.ws);
  const float *xt = reinterpret_cast<const float *>(t.ws + convtColsBytes(p));
  uint8_t *gws =
      t.ws + t.colsArea + size_t(worker) * u(p[EMBER_RT_CONV_WS_BYTES]);
  for (int64_t piece = begin; piece < end; ++piece) {
    size_t m0, m1;
    pieceRange(yNhwc ? cols : M, t.rowPieces, rowGranule(isa), size_t(piece),
               m0, m1);
    if (m0 == m1)
      continue;
    Status s;
    if (yNhwc) {
      const float *a =
          xNhwc ? t.x + (t.n * HW + t.p0 + m0) * C + t.g * cg : xt + m0 * cg;
      s = convtColsGemm(p, m1 - m0, M, cg, a, xNhwc ? C : cg,
                        t.wT + t.g * cg * M, M, cb + m0 * M, M, isa, gws);
    } else {
      const float *bm = xNhwc ? xt : t.x + (t.n * C + t.g * cg) * HW + t.p0;
      s = convtColsGemm(p, m1 - m0, cols, cg, t.wT + (t.g * M + m0) * cg, cg,
                        bm, xNhwc ? cols : HW, cb + m0 * cols, cols, isa, gws);
    }
    if (s != Status::Ok)
      t.status = int32_t(s);
  }
}

// What the scatter phases read of the fields, and the walk they share: per
// tap (kh, kw), the chunk [p0, p1) by input row segments, the segment's
// output row and the range of input columns whose output column is inside
// the image computed once, not divided out and checked per pixel.
struct ConvTScatter {
  size_t W, OC, OH, OW, KH, KW, ocg;
  int64_t SH, SW, PT, PL, DH, DW;
  explicit ConvTScatter(const int64_t *p)
      : W(u(p[EMBER_RT_CONV_W])), OC(u(p[EMBER_RT_CONV_OC])),
        OH(u(p[EMBER_RT_CONV_OH])), OW(u(p[EMBER_RT_CONV_OW])),
        KH(u(p[EMBER_RT_CONV_KH])), KW(u(p[EMBER_RT_CONV_KW])),
        ocg(OC / u(p[EMBER_RT_CONV_GROUPS])), SH(p[EMBER_RT_CONV_SH]),
        SW(p[EMBER_RT_CONV_SW]), PT(p[EMBER_RT_CONV_PT]),
        PL(p[EMBER_RT_CONV_PL]), DH(p[EMBER_RT_CONV_DH]),
        DW(p[EMBER_RT_CONV_DW]) {}

  // fn(oh, q, iw0, lo, hi, shift) per segment whose output row oh is in
  // [ohLo, ohHi): it starts at chunk pixel q (input column iw0), and its
  // input columns [lo, hi) land on output columns iw * SW + shift.
  template <class Fn>
  void tapSegments(size_t p0, size_t p1, size_t kh, size_t kw, int64_t ohLo,
                   int64_t ohHi, Fn fn) const {
    const int64_t iW = int64_t(W), oW = int64_t(OW);
    // ow = iw * SW + shift; inside [0, OW) for iw in [first, last).
    const int64_t shift = int64_t(kw) * DW - PL;
    const int64_t first = shift >= 0 ? 0 : (-shift + SW - 1) / SW;
    const int64_t last = oW - 1 - shift >= 0 ? (oW - 1 - shift) / SW + 1 : 0;
    for (size_t pix = p0; pix < p1;) {
      const int64_t ih = int64_t(pix / W), iw0 = int64_t(pix % W);
      const int64_t n = std::min<int64_t>(iW - iw0, int64_t(p1 - pix));
      const int64_t oh = ih * SH + int64_t(kh) * DH - PT;
      if (oh >= ohLo && oh < ohHi)
        fn(oh, pix - p0, iw0, std::max(iw0, first), std::min(iw0 + n, last),
           shift);
      pix += size_t(n);
    }
  }
};

// Whether no two taps of a ConvTranspose land on one output element and
// every tap lands inside y: dilation 1, stride >= kernel on both axes, no
// leading pads and no trailing crop (the 2x2 stride-2 upsampling of
// detection and segmentation decoders). Output elements no tap reaches
// (stride > kernel, output_padding) keep the bias.
bool convtTapsDisjoint(const int64_t *p) {
  return p[EMBER_RT_CONV_DH] == 1 && p[EMBER_RT_CONV_DW] == 1 &&
         p[EMBER_RT_CONV_SH] >= p[EMBER_RT_CONV_KH] &&
         p[EMBER_RT_CONV_SW] >= p[EMBER_RT_CONV_KW] &&
         p[EMBER_RT_CONV_PT] == 0 && p[EMBER_RT_CONV_PL] == 0 &&
         (p[EMBER_RT_CONV_H] - 1) * p[EMBER_RT_CONV_SH] + p[EMBER_RT_CONV_KH] <=
             p[EMBER_RT_CONV_OH] &&
         (p[EMBER_RT_CONV_W] - 1) * p[EMBER_RT_CONV_SW] + p[EMBER_RT_CONV_KW] <=
             p[EMBER_RT_CONV_OW];
}

// Disjoint taps that cover y: stride == kernel and no output_padding, so
// every output element is exactly one tap and a row-major y is written once
// (bias + tap) without filling it with the bias first.
bool convtTapsCoverY(const int64_t *p) {
  return convtTapsDisjoint(p) && p[EMBER_RT_CONV_SH] == p[EMBER_RT_CONV_KH] &&
         p[EMBER_RT_CONV_SW] == p[EMBER_RT_CONV_KW] &&
         p[EMBER_RT_CONV_OH] == p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_SH] &&
         p[EMBER_RT_CONV_OW] == p[EMBER_RT_CONV_W] * p[EMBER_RT_CONV_SW];
}

// Phase 2, both row-major, disjoint taps: per output channel [begin, end)
// and kh, each input row segment's KW tap rows interleave into the one
// output row they land on (output column iw*SW + kw), written in order
// once instead of KW strided passes; each element adds its one tap, as in
// the general scatter.
void convtInterleave(const ConvTTask &t, const ConvTScatter &s, int64_t begin,
                     int64_t end) {
  size_t cols = t.p1 - t.p0, KW = s.KW, SW = size_t(s.SW);
  const float *cb = reinterpret_cast<const float *>(t.ws);
  bool cover = convtTapsCoverY(t.p);
  for (int64_t oc = begin; oc < end; ++oc) {
    size_t yc = t.g * s.ocg + size_t(oc);
    float *y = t.y + (t.n * s.OC + yc) * s.OH * s.OW;
    float b0 = t.bias ? t.bias[yc] : 0.0f;
    for (size_t kh = 0; kh < s.KH; ++kh) {
      const float *rows = cb + (size_t(oc) * s.KH + kh) * KW * cols;
      s.tapSegments(t.p0, t.p1, kh, 0, 0, int64_t(s.OH),
                    [&](int64_t oh, size_t q, int64_t iw0, int64_t lo,
                        int64_t hi, int64_t) {
                      float *yr = y + size_t(oh) * s.OW;
                      const float *rr = rows + q - size_t(iw0);
                      size_t a = size_t(lo), b = size_t(hi);
                      if (cover && KW == 2) {
                        const float *r1 = rr + cols;
                        for (size_t iw = a; iw < b; ++iw) {
                          yr[2 * iw] = b0 + rr[iw];
                          yr[2 * iw + 1] = b0 + r1[iw];
                        }
                      } else if (cover) {
                        for (size_t iw = a; iw < b; ++iw)
                          for (size_t kw = 0; kw < KW; ++kw)
                            yr[iw * KW + kw] = b0 + rr[kw * cols + iw];
                      } else {
                        for (size_t iw = a; iw < b; ++iw)
                          for (size_t kw = 0; kw < KW; ++kw)
                            yr[iw * SW + kw] += rr[kw * cols + iw];
                      }
                    });
    }
  }
}

// Phase 2, both row-major: output channels [begin, end) of the group add
// their cols rows. Each output element adds its taps' values in (kh, kw)
// order.
void convtScatter(void *ctx, int64_t begin, int64_t end, int64_t) {
  ConvTTask &t = *static_cast<ConvTTask *>(ctx);
  const ConvTScatter s(t.p);
  size_t cols = t.p1 - t.p0;
  const float *cb = reinterpret_cast<const float *>(t.ws);
  if (convtTapsDisjoint(t.p)) {
    convtInterleave(t, s, begin, end);
    return;
  }
  for (int64_t oc = begin; oc < end; ++oc) {
    float *y = t.y + (t.n * s.OC + t.g * s.ocg + size_t(oc)) * s.OH * s.OW;
    for (size_t kh = 0; kh < s.KH; ++kh)
      for (size_t kw = 0; kw < s.KW; ++kw) {
        const float *row = cb + ((size_t(oc) * s.KH + kh) * s.KW + kw) * cols;
        s.tapSegments(t.p0, t.p1, kh, kw, 0, int64_t(s.OH),
                      [&](int64_t oh, size_t q, int64_t iw0, int64_t lo,
                          int64_t hi, int64_t shift) {
                        float *yr = y + oh * int64_t(s.OW);
                        const float *rr = row + q;
                        for (int64_t iw = lo; iw < hi; ++iw)
                          yr[iw * s.SW + shift] += rr[iw - iw0];
                      });
      }
  }
}

// Phase 2 with y channels-last (cols pixel-major): bands [begin, end) of
// output rows (of scatterPieces over OH). Within a band, per tap in
// (kh, kw) order, each input row segment of the chunk whose output row is
// in the band adds its pixels' channel vectors, so every element adds its
// taps in the order of the row-major form whatever the band split.
void convtScatterNhwc(void *ctx, int64_t begin, int64_t end, int64_t) {
  ConvTTask &t = *static_cast<ConvTTask *>(ctx);
  const ConvTScatter s(t.p);
  size_t OC = s.OC, ocg = s.ocg, M = ocg * s.KH * s.KW;
  if (begin >= end)
    return;
  float *y0 = t.y + t.n * s.OH * s.OW * OC + t.g * ocg;
  size_t oh0, oh1, unused;
  pieceRange(s.OH, t.scatterPieces, 1, size_t(begin), oh0, unused);
  pieceRange(s.OH, t.scatterPieces, 1, size_t(end - 1), unused, oh1);
  for (size_t kh = 0; kh < s.KH; ++kh)
    for (size_t kw = 0; kw < s.KW; ++kw) {
      const float *tap =
          reinterpret_cast<const float *>(t.ws) + (kh * s.KW + kw) * ocg;
      s.tapSegments(t.p0, t.p1, kh, kw, int64_t(oh0), int64_t(oh1),
                    [&](int64_t oh, size_t q, int64_t iw0, int64_t lo,
                        int64_t hi, int64_t shift) {
                      float *yr = y0 + size_t(oh) * s.OW * OC;
                      const float *rr = tap + q * M;
                      for (int64_t iw = lo; iw < hi; ++iw) {
                        float *yp = yr + size_t(iw * s.SW + shift) * OC;
                        const float *cp = rr + size_t(iw - iw0) * M;
                        for (size_t oc = 0; oc < ocg; ++oc)
                          yp[oc] += cp[oc];
                      }
                    });
    }
}

// Disjoint taps with y channels-last: no cols and no scatter. Input pixel
// (ih, iw)'s tap (kh, kw) is output pixel (ih*SH + kh, iw*SW + kw), so for
// one input row segment and one kh the KW taps of consecutive input pixels
// are rows SW*OC apart of a matrix y already holds (the bias): one GEMM
// X[segment, :] x W'[:, kh's KW*OCg columns] that adds into y in place (a
// group's channels are a slice of the pixel's, so with groups each kw is
// its own GEMM of OCg columns). Each element is bias + its one tap's dot
// product, as in the scatter. Tasks [begin, end) are (chunk input row, kh).
void convtDirectNhwc(void *ctx, int64_t begin, int64_t end, int64_t worker) {
  ConvTTask &t = *static_cast<ConvTTask *>(ctx);
  const int64_t *p = t.p;
  const ConvTScatter s(p);
  size_t C = u(p[EMBER_RT_CONV_C]),
         HW = u(p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]);
  size_t G = u(p[EMBER_RT_CONV_GROUPS]), cg = C / G, ocg = s.ocg;
  size_t M = ocg * s.KH * s.KW, SH = size_t(s.SH), SW = size_t(s.SW);
  bool xNhwc = p[EMBER_RT_CONVT_X_NHWC] != 0;
  Isa isa = Isa(p[EMBER_RT_CONV_ISA]);
  const float *xt = reinterpret_cast<const float *>(t.ws + convtColsBytes(p));
  uint8_t *gws =
      t.ws + t.colsArea + size_t(worker) * u(p[EMBER_RT_CONV_WS_BYTES]);
  float *y0 = t.y + t.n * s.OH * s.OW * s.OC + t.g * ocg;
  const float *w0 = t.wT + t.g * cg * M;
  size_t ih0 = t.p0 / s.W;
  Epilogue ep;
  ep.accumulate = true;
  for (int64_t task = begin; task < end; ++task) {
    size_t ih = ih0 + size_t(task) / s.KH, kh = size_t(task) % s.KH;
    size_t q0 = std::max(t.p0, ih * s.W), q1 = std::min(t.p1, (ih + 1) * s.W);
    if (q0 >= q1)
      continue;
    const float *a =
        xNhwc ? t.x + (t.n * HW + q0) * C + t.g * cg : xt + (q0 - t.p0) * cg;
    size_t lda = xNhwc ? C : cg;
    float *c = y0 + ((ih * SH + kh) * s.OW + (q0 - ih * s.W) * SW) * s.OC;
    const float *b = w0 + kh * s.KW * ocg;
    Status st = Status::Ok;
    if (G == 1) {
      st = sgemm(q1 - q0, s.KW * ocg, cg, a, lda, b, M, c, SW * s.OC, ep, isa,
                 gws);
    } else {
      for (size_t kw = 0; kw < s.KW && st == Status::Ok; ++kw)
        st = sgemm(q1 - q0, ocg, cg, a, lda, b + kw * ocg, M, c + kw * s.OC,
                   SW * s.OC, ep, isa, gws);
    }
    if (st != Status::Ok)
      t.status = int32_t(st);
  }
}

} // namespace

extern "C" {

int64_t ember_rt_conv_transpose_workspace_size(const int64_t *p) {
  // The shared cols chunk and x's transposed chunk; each worker's GEMM
  // workspace follows (the caller multiplies this per-worker size by the
  // workers, so the chunks are counted once per worker: generous but
  // simple).
  return int64_t(convtColsBytes(p) + convtXtBytes(p) +
                 gemmWorkspaceSize(Isa(p[EMBER_RT_CONV_ISA])));
}

int32_t ember_rt_conv_transpose(const int64_t *p, const float *x,
                                const float *wT, const float *bias, float *y,
                                uint8_t *workspace) {
  size_t N = u(p[EMBER_RT_CONV_N]), G = u(p[EMBER_RT_CONV_GROUPS]),
         OC = u(p[EMBER_RT_CONV_OC]), OH = u(p[EMBER_RT_CONV_OH]);
  size_t plane = u(p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW]);
  size_t HW = u(p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]);
  size_t R = u(p[EMBER_RT_CONVT_CHUNK]);
  size_t ocg = OC / G;
  size_t M = ocg * u(p[EMBER_RT_CONV_KH] * p[EMBER_RT_CONV_KW]);
  bool xNhwc = p[EMBER_RT_CONVT_X_NHWC] != 0,
       yNhwc = p[EMBER_RT_CONVT_Y_NHWC] != 0;
  // Overlapping taps add into y from zero and the bias comes last, as ONNX
  // Runtime computes it (col2im, then the bias): each element is
  // ((tap + tap) + ...) + bias. Disjoint taps give bias + tap either way.
  const float *tapsBias = bias;
  if (!convtTapsDisjoint(p))
    bias = nullptr;
  if (yNhwc) {
    if (!bias)
      std::memset(y, 0, N * plane * OC * sizeof(float));
    else
      for (size_t i = 0; i < N * plane; ++i)
        std::memcpy(y + i * OC, bias, OC * sizeof(float));
  } else if (!convtTapsCoverY(p)) {
    for (size_t i = 0; i < N * OC; ++i)
      std::fill(y + i * plane, y + (i + 1) * plane, bias ? bias[i % OC] : 0.0f);
  }
  size_t workers = size_t(ember_rt_num_workers());
  Isa isa = Isa(p[EMBER_RT_CONV_ISA]);
  size_t gemmRows = yNhwc ? R : M;
  size_t maxPieces = (gemmRows + rowGranule(isa) - 1) / rowGranule(isa);
  ConvTTask t{p,
              x,
              wT,
              bias,
              y,
              workspace,
              0,
              0,
              0,
              0,
              workers < maxPieces ? workers : maxPieces,
              workers < OH ? workers : OH,
              0,
              0};
  if (!t.rowPieces)
    t.rowPieces = 1;
  if (!t.scatterPieces)
    t.scatterPieces = 1;
  // The GEMM writes cols in y's layout: channel-major for a row-major y
  // (convtScatter, split over output channels), pixel-major for a
  // channels-last one (convtScatterNhwc, split over bands of output rows);
  // an x in the other layout has its chunk transposed first.
  bool transpose = xNhwc != yNhwc;
  t.colsArea = convtColsBytes(p) + convtXtBytes(p);
  auto scatter = yNhwc ? convtScatterNhwc : convtScatter;
  int64_t scatterTasks = yNhwc ? int64_t(t.scatterPieces) : int64_t(ocg);
  // The in-place GEMMs add into y (the bias) straight away: bias + tap is
  // the reference's tap + bias only when the tap is one K block that the
  // library computes as one chain; deeper groups take the cols path.
  bool direct = yNhwc && convtTapsDisjoint(p) &&
                u(p[EMBER_RT_CONV_C]) / G <= convtBlockK(p) &&
                convtLibraryBlocks(p);
  size_t W = u(p[EMBER_RT_CONV_W]), KH = u(p[EMBER_RT_CONV_KH]);
  for (size_t n = 0; n < N; ++n)
    for (size_t g = 0; g < G; ++g)
      for (size_t p0 = 0; p0 < HW; p0 += R) {
        t.n = n;
        t.g = g;
        t.p0 = p0;
        t.p1 = p0 + R < HW ? p0 + R : HW;
        int64_t blocks = int64_t((t.p1 - t.p0 + kConvtBlock - 1) / kConvtBlock);
        // Disjoint taps, y channels-last: GEMMs into y per (input row of
        // the chunk, kh).
        int64_t directTasks =
            direct ? int64_t((t.p1 - 1) / W - t.p0 / W + 1) * int64_t(KH) : 0;
        if (workers == 1) {
          if (transpose)
            convtTransposeX(&t, 0, blocks, 0);
          if (direct) {
            convtDirectNhwc(&t, 0, directTasks, 0);
          } else {
            convtGemm(&t, 0, int64_t(t.rowPieces), 0);
            scatter(&t, 0, scatterTasks, 0);
          }
        } else {
          if (transpose)
            ember_rt_parallel_for(convtTransposeX, &t, blocks);
          if (direct) {
            ember_rt_parallel_for(convtDirectNhwc, &t, directTasks);
          } else {
            ember_rt_parallel_for(convtGemm, &t, int64_t(t.rowPieces));
            ember_rt_parallel_for(scatter, &t, scatterTasks);
          }
        }
        if (t.status)
          return t.status;
      }
  if (tapsBias && !bias) {
    if (yNhwc) {
      for (size_t i = 0; i < N * plane; ++i)
        for (size_t oc = 0; oc < OC; ++oc)
          y[i * OC + oc] += tapsBias[oc];
    } else {
      for (size_t i = 0; i < N * OC; ++i)
        for (size_t q = 0; q < plane; ++q)
          y[i * plane + q] += tapsBias[i % OC];
    }
  }
  return 0;
}

int32_t ember_rt_conv_transpose_pack(const int64_t *p, const float *w,
                                     float *wT) {
  int64_t G = p[EMBER_RT_CONV_GROUPS], cg = p[EMBER_RT_CONV_C] / G;
  int64_t KK = p[EMBER_RT_CONV_KH] * p[EMBER_RT_CONV_KW],
          ocg = p[EMBER_RT_CONV_OC] / G, M = ocg * KK;
  bool pixelMajor = p[EMBER_RT_CONVT_Y_NHWC] != 0;
  for (int64_t g = 0; g < G; ++g)
    for (int64_t c = 0; c < cg; ++c)
      for (int64_t oc = 0; oc < ocg; ++oc)
        for (int64_t k = 0; k < KK; ++k) {
          float v = w[((g * cg + c) * ocg + oc) * KK + k];
          if (pixelMajor)
            wT[(g * cg + c) * M + k * ocg + oc] = v;
          else
            wT[(g * M + oc * KK + k) * cg + c] = v;
        }
  return 0;
}

} // extern "C"

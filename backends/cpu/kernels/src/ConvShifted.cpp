//===- ConvShifted.cpp - convolution as a GEMM over shifted rows ----------===//
//
// With the input zero-padded and split into strideH x strideW phase planes
// (a space-to-depth of the padded image), the im2col row of tap (kh, kw)
// and channel c, taken over output pixels laid out with the plane's row
// pitch Wq, is one contiguous run of a phase plane:
//
//   B[(kh,kw,c)][(oh - ohA)*Wq + ow] = phase(kh*DH % SH, kw*DW % SW)[c]
//                                      [(oh + kh*DH/SH - ohA)*Wq + ow +
//                                      kw*DW/SW]
//
// Normal orientation (conv2dShifted): the micro-kernel reads B in place
// (TileArgs::bRuns, one run per (kh, kw) segment of C rows) and nothing is
// unfolded. The GEMM writes a Wq-pitched scratch output; a last pass drops
// the Wq - OW junk columns per row and applies the epilogue (or, when
// Wq == OW, the GEMM writes y with the epilogue fused).
//
// Transposed orientation (conv2dTransposed), for few output pixels: pixels
// are the micro-kernel's rows (packed per block from the phase planes, no
// junk columns) and output channels its vector lanes, so a 7x7 output
// fills 49 of 54 rows instead of 49 of 64 lanes. The scratch output is
// [pixel][channel]; the last pass transposes it (16x16 blocks in registers
// on AVX-512) and applies the epilogue.
//
//===----------------------------------------------------------------------===//
#include "Planes.h"
#include "Simd.h"

#include <algorithm>
#include <cstring>

namespace ember::cpu::detail {

// Two-phase convolution (conv2dPrepareInput / conv2dPrepared in Kernels.h):
// the full image's phase planes are built once into a workspace's plane
// region, then any number of ranges read them.
bool conv2dPhasesNeeded(const Conv2DShape &s);
void conv2dPreparePhases(const GemmKernel &k, const Conv2DShape &s,
                         const float *x, float *ws, size_t c0, size_t c1);
const float *conv2dPreparedPlanes(const GemmKernel &k, const Conv2DShape &s,
                                  const float *preparedWs);
Status conv2dShiftedPrepared(const GemmKernel &k, const Conv2DShape &s,
                             const float *x, const float *panels, float *y,
                             const Epilogue &epi, size_t m0, size_t m1,
                             size_t p0, size_t p1, float *ws,
                             const float *prepared);
Status conv2dTransposedPrepared(const GemmKernel &k, const Conv2DShape &s,
                                const float *x, const float *panels, float *y,
                                const Epilogue &epi, size_t m0, size_t m1,
                                size_t p0, size_t p1, float *ws,
                                const float *prepared);

namespace {

bool isPointwise1(const Conv2DShape &s) {
  return s.kernelH == 1 && s.kernelW == 1 && s.strideH == 1 && s.strideW == 1 &&
         s.padTop == 0 && s.padLeft == 0 && s.padBottom == 0 && s.padRight == 0;
}

} // namespace

ShiftedPlan shiftedPlan(const Conv2DShape &s, size_t ohA, size_t ohB) {
  ShiftedPlan p;
  if (isPointwise1(s)) {
    // The input is its own (only) phase plane: no copy.
    p.Wq = s.width;
    p.Hl = ohB - ohA + 1;
    p.planeStride = p.chanStride = s.height * s.width;
    p.Ncols = p.Hl * p.Wq;
    return p;
  }
  const size_t Wp = s.padLeft + s.width + s.padRight;
  p.Wq = ceilDiv(Wp, s.strideW);
  p.Hl = ohB - ohA + 1 + (s.kernelH - 1) * s.dilationH / s.strideH;
  // Room past the last row for the largest column shift.
  p.planeStride =
      roundUp(p.Hl * p.Wq + (s.kernelW - 1) * s.dilationW / s.strideW + 1, 16);
  p.chanStride = s.strideH * s.strideW * p.planeStride;
  p.Ncols = (ohB - ohA + 1) * p.Wq;
  return p;
}

namespace {

/// Workspace carve-up shared by both orientations.
struct ShiftedScratch {
  float *gemm, *xq, *tmp;
  ptrdiff_t *segOffset;
};

size_t tmpFloats(const Conv2DShape &s, const ShiftedPlan &full, int mr,
                 int nr) {
  const size_t normal =
      roundUp(s.outChannels + static_cast<size_t>(mr), 16) * full.Ncols;
  const size_t transposed = roundUp(s.outChannels, static_cast<size_t>(nr)) *
                            s.outHeight() * s.outWidth();
  return std::max(normal, transposed);
}

ShiftedScratch carve(const GemmKernel &k, const Conv2DShape &s, float *ws) {
  const ShiftedPlan full = shiftedPlan(s, 0, s.outHeight() - 1);
  ShiftedScratch sc;
  sc.gemm = ws;
  sc.xq = ws + std::max(gemmWorkspaceFloats(k), gemmMaxWorkspaceFloats());
  sc.tmp = sc.xq + roundUp(s.channels * full.chanStride, 16);
  sc.segOffset = reinterpret_cast<ptrdiff_t *>(
      sc.tmp + roundUp(tmpFloats(s, full, k.mr, k.nr), 16));
  return sc;
}

/// Copies the even elements of src[0 .. 2n) to dst[0 .. n).
EMBER_TARGET_AVX512 void copyEvenAvx512(float *dst, const float *src,
                                        size_t n) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20,
                                         22, 24, 26, 28, 30);
  size_t j = 0;
  for (; j + 16 <= n; j += 16) {
    __m512 a = _mm512_loadu_ps(src + 2 * j);
    // The last input used is src[2*(j+15)]: don't read past it.
    __m512 b = _mm512_maskz_loadu_ps(0x7fff, src + 2 * j + 16);
    _mm512_storeu_ps(dst + j, _mm512_permutex2var_ps(a, even, b));
  }
  for (; j < n; ++j)
    dst[j] = src[2 * j];
}

/// Builds the phase planes of the input rows that output rows from ohA
/// read.
template <bool kAvx512>
EMBER_ALWAYS_INLINE void
buildPhasesImpl(const Conv2DShape &s, const ShiftedPlan &p, size_t ohA,
                const float *x, float *xq, size_t c0, size_t c1) {
  const size_t SH = s.strideH, SW = s.strideW;
  const ptrdiff_t H = static_cast<ptrdiff_t>(s.height);
  for (size_t ph = 0; ph < SH; ++ph)
    for (size_t pw = 0; pw < SW; ++pw) {
      // Only phases some tap reads (a strided 1x1 uses one of SH*SW).
      bool rowUsed = false, colUsed = false;
      for (size_t kh = 0; kh < s.kernelH; ++kh)
        rowUsed |= kh * s.dilationH % SH == ph;
      for (size_t kw = 0; kw < s.kernelW; ++kw)
        colUsed |= kw * s.dilationW % SW == pw;
      if (!rowUsed || !colUsed)
        continue;
      // Plane column j holds input column j*SW + pw - PL.
      const ptrdiff_t off =
          static_cast<ptrdiff_t>(pw) - static_cast<ptrdiff_t>(s.padLeft);
      size_t lo, hi;
      validColumns(off, SW, s.width, p.Wq, lo, hi);
      for (size_t c = c0; c < c1; ++c) {
        const float *xc = x + c * s.height * s.width;
        float *plane = xq + c * p.chanStride + (ph * SW + pw) * p.planeStride;
        for (size_t r = 0; r < p.Hl; ++r) {
          float *d = plane + r * p.Wq;
          const ptrdiff_t ih = static_cast<ptrdiff_t>((ohA + r) * SH + ph) -
                               static_cast<ptrdiff_t>(s.padTop);
          if (ih < 0 || ih >= H) {
            for (size_t j = 0; j < p.Wq; ++j)
              d[j] = 0.0f;
            continue;
          }
          const float *src = xc + static_cast<size_t>(ih) * s.width;
          for (size_t j = 0; j < lo; ++j)
            d[j] = 0.0f;
          const float *srow = src + off;
          if (SW == 1) {
            for (size_t j = lo; j < hi; ++j)
              d[j] = srow[j];
          } else if (SW == 2 && kAvx512) {
            copyEvenAvx512(d + lo, srow + 2 * lo, hi - lo);
          } else {
            for (size_t j = lo; j < hi; ++j)
              d[j] = srow[static_cast<ptrdiff_t>(j * SW)];
          }
          for (size_t j = hi; j < p.Wq; ++j)
            d[j] = 0.0f;
        }
        for (size_t i = p.Hl * p.Wq; i < p.planeStride; ++i)
          plane[i] = 0.0f;
      }
    }
}

EMBER_TARGET_AVX512 void buildPhasesAvx512(const Conv2DShape &s,
                                           const ShiftedPlan &p, size_t ohA,
                                           const float *x, float *xq, size_t c0,
                                           size_t c1) {
  buildPhasesImpl<true>(s, p, ohA, x, xq, c0, c1);
}

void buildPhasesGeneric(const Conv2DShape &s, const ShiftedPlan &p, size_t ohA,
                        const float *x, float *xq, size_t c0, size_t c1) {
  buildPhasesImpl<false>(s, p, ohA, x, xq, c0, c1);
}

/// The phase planes (or x itself, for a 1x1 stride-1 unpadded convolution)
/// and the plane offset of each (kh, kw) segment. `prepared`: the full
/// image's planes built by conv2dPreparePhases (p then has their strides).
const float *preparePhases(const GemmKernel &k, const Conv2DShape &s,
                           const ShiftedPlan &p, size_t ohA, const float *x,
                           float *xq, ptrdiff_t *segOffset,
                           const float *prepared) {
  for (size_t kh = 0; kh < s.kernelH; ++kh)
    for (size_t kw = 0; kw < s.kernelW; ++kw) {
      const size_t rh = kh * s.dilationH, rw = kw * s.dilationW;
      const size_t phase = (rh % s.strideH) * s.strideW + rw % s.strideW;
      segOffset[kh * s.kernelW + kw] = static_cast<ptrdiff_t>(
          phase * p.planeStride + (rh / s.strideH) * p.Wq + rw / s.strideW);
    }
  if (isPointwise1(s))
    return x + ohA * s.width;
  if (prepared)
    return prepared + ohA * p.Wq;
  if (k.isa == Isa::Avx512)
    buildPhasesAvx512(s, p, ohA, x, xq, 0, s.channels);
  else
    buildPhasesGeneric(s, p, ohA, x, xq, 0, s.channels);
  return xq;
}

/// The plan of output rows [ohA, ohB]; with prepared (full-image) planes,
/// their plane and channel strides.
ShiftedPlan piecePlan(const Conv2DShape &s, size_t ohA, size_t ohB,
                      const float *prepared) {
  ShiftedPlan p = shiftedPlan(s, ohA, ohB);
  if (prepared && !isPointwise1(s)) {
    const ShiftedPlan full = shiftedPlan(s, 0, s.outHeight() - 1);
    p.planeStride = full.planeStride;
    p.chanStride = full.chanStride;
  }
  return p;
}

/// y[m][pixels of the piece] = epilogue(tmp) for m in [m0, m1).
EMBER_TARGET_AVX512 void compact(const Conv2DShape &s, const ShiftedPlan &p,
                                 size_t ohA, const float *tmp, size_t tmpRow0,
                                 float *y, const Epilogue &epi, size_t m0,
                                 size_t m1, size_t p0, size_t p1) {
  const size_t OW = s.outWidth(), N = s.outHeight() * OW;
  for (size_t m = m0; m < m1; ++m) {
    const PlaneEpilogue pe = planeEpilogue(epi, m, epi.ldr);
    const float *t = tmp + (m - tmpRow0) * p.Ncols;
    for (size_t pix = p0; pix < p1;) {
      const size_t oh = pix / OW, ow = pix % OW;
      const size_t n = (OW - ow < p1 - pix) ? OW - ow : p1 - pix;
      finishRow(y + m * N + pix, t + (oh - ohA) * p.Wq + ow, n, pe,
                pe.residual ? pe.residual + pix : nullptr);
      pix += n;
    }
  }
}

//===----------------------------------------------------------------------===//
// Transposed orientation
//===----------------------------------------------------------------------===//

/// What the pixel-row packer needs.
struct PixelRows {
  const float *xq;
  const ptrdiff_t *segOffset;
  size_t C, OW, Wq, chanStride, ohA, pix0;
};

/// A' rows [row0, row0+rows) (pixels pix0 + row) x depth [k0, k0+kc):
/// A'(pixel, (kh, kw, c)) = plane[segOffset + c*chanStride + pixel offset].
void packPixelRows(const void *ctx, size_t row0, size_t rows, size_t k0,
                   size_t kc, int mr, float *dst) {
  const PixelRows &pr = *static_cast<const PixelRows *>(ctx);
  const size_t MR = static_cast<size_t>(mr);
  ptrdiff_t base[32];
  for (size_t r0 = 0; r0 < rows; r0 += MR, dst += kc * MR) {
    const size_t n = rows - r0 < MR ? rows - r0 : MR;
    for (size_t i = 0; i < n; ++i) {
      const size_t pix = pr.pix0 + row0 + r0 + i;
      base[i] =
          static_cast<ptrdiff_t>((pix / pr.OW - pr.ohA) * pr.Wq + pix % pr.OW);
    }
    size_t seg = k0 / pr.C, c = k0 % pr.C;
    for (size_t kk = 0; kk < kc; ++kk) {
      const float *src =
          pr.xq + pr.segOffset[seg] + static_cast<ptrdiff_t>(c * pr.chanStride);
      float *d = dst + kk * MR;
      for (size_t i = 0; i < n; ++i)
        d[i] = src[base[i]];
      for (size_t i = n; i < MR; ++i)
        d[i] = 0.0f;
      if (++c == pr.C) {
        c = 0;
        ++seg;
      }
    }
  }
}

/// packPixelRows with AVX-512 masked loads: a panel's pixels fall in at
/// most a few output rows, each a contiguous run of the plane, so each k
/// row of the panel is one masked load per run and one masked store.
EMBER_TARGET_AVX512 void packPixelRowsAvx512(const void *ctx, size_t row0,
                                             size_t rows, size_t k0, size_t kc,
                                             int mr, float *dst) {
  const PixelRows &pr = *static_cast<const PixelRows *>(ctx);
  const size_t MR = static_cast<size_t>(mr);
  if (MR > 16)
    return packPixelRows(ctx, row0, rows, k0, kc, mr, dst);
  struct Run {
    ptrdiff_t shift; ///< plane offset of lane 0 of this run's pixels
    __mmask16 lanes;
  };
  for (size_t r0 = 0; r0 < rows; r0 += MR, dst += kc * MR) {
    const size_t n = rows - r0 < MR ? rows - r0 : MR;
    Run runs[16];
    size_t numRuns = 0;
    for (size_t i = 0; i < n;) {
      const size_t pix = pr.pix0 + row0 + r0 + i;
      const size_t ow = pix % pr.OW;
      const size_t len = std::min(n - i, pr.OW - ow);
      const ptrdiff_t off =
          static_cast<ptrdiff_t>((pix / pr.OW - pr.ohA) * pr.Wq + ow);
      runs[numRuns++] = Run{off - static_cast<ptrdiff_t>(i),
                            static_cast<__mmask16>(((1u << len) - 1u) << i)};
      i += len;
    }
    const __mmask16 all = static_cast<__mmask16>((1u << MR) - 1u);
    size_t seg = k0 / pr.C, c = k0 % pr.C;
    for (size_t kk = 0; kk < kc; ++kk) {
      const float *src =
          pr.xq + pr.segOffset[seg] + static_cast<ptrdiff_t>(c * pr.chanStride);
      __m512 v = _mm512_setzero_ps();
      for (size_t r = 0; r < numRuns; ++r)
        v = _mm512_mask_loadu_ps(v, runs[r].lanes, src + runs[r].shift);
      _mm512_mask_storeu_ps(dst + kk * MR, all, v);
      if (++c == pr.C) {
        c = 0;
        ++seg;
      }
    }
  }
}

/// y[oc][p] = epilogue(tmp[p - p0][oc]) for oc in [m0, m1), p in [p0, p1),
/// portable.
void compactTransposedGeneric(const float *tmp, size_t ldt, float *y, size_t N,
                              const Epilogue &epi, size_t m0, size_t m1,
                              size_t p0, size_t p1) {
  float col[64];
  for (size_t m = m0; m < m1; ++m) {
    const PlaneEpilogue pe = planeEpilogue(epi, m, epi.ldr);
    for (size_t pb = p0; pb < p1; pb += 64) {
      const size_t n = p1 - pb < 64 ? p1 - pb : 64;
      for (size_t i = 0; i < n; ++i)
        col[i] = tmp[(pb - p0 + i) * ldt + m];
      finishRow(y + m * N + pb, col, n, pe,
                pe.residual ? pe.residual + pb : nullptr);
    }
  }
}

/// 16x16 transpose: column c of rows r[0..15] becomes r[c].
EMBER_TARGET_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 4; ++g) {
    __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
    __m512d c = _mm512_castps_pd(t[4 * g + 1]);
    __m512d d = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
  }
  // u[4g + j], 128-bit lane L: column 4L + j of rows 4g .. 4g+3.
  for (int j = 0; j < 4; ++j) {
    __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
    __m512 v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xdd);
    __m512 w0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    __m512 w1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xdd);
    r[j] = _mm512_shuffle_f32x4(v0, w0, 0x88);
    r[4 + j] = _mm512_shuffle_f32x4(v1, w1, 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(v0, w0, 0xdd);
    r[12 + j] = _mm512_shuffle_f32x4(v1, w1, 0xdd);
  }
}

EMBER_TARGET_AVX512 inline __mmask16 firstLanes(size_t n) {
  return static_cast<__mmask16>(n >= 16 ? 0xffffu : (1u << n) - 1u);
}

/// compactTransposedGeneric with 16x16 register transposes.
EMBER_TARGET_AVX512 void compactTransposedAvx512(const float *tmp, size_t ldt,
                                                 float *y, size_t N,
                                                 const Epilogue &epi, size_t m0,
                                                 size_t m1, size_t p0,
                                                 size_t p1) {
  const __m512 zero = _mm512_setzero_ps();
  for (size_t pb = p0; pb < p1; pb += 16) {
    const size_t np = p1 - pb < 16 ? p1 - pb : 16;
    const __mmask16 pm = firstLanes(np);
    for (size_t mb = m0; mb < m1; mb += 16) {
      const size_t nm = m1 - mb < 16 ? m1 - mb : 16;
      const __mmask16 mm = firstLanes(nm);
      __m512 r[16];
      for (size_t i = 0; i < 16; ++i)
        r[i] = i < np
                   ? _mm512_maskz_loadu_ps(mm, tmp + (pb - p0 + i) * ldt + mb)
                   : zero;
      transpose16(r);
      for (size_t c = 0; c < nm; ++c) {
        const size_t m = mb + c;
        float *yv = y + m * N + pb;
        __m512 v = r[c];
        if (epi.bias)
          v = _mm512_add_ps(v, _mm512_set1_ps(epi.bias[m]));
        if (epi.accumulate)
          v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(pm, yv));
        __m512 res =
            epi.residual
                ? _mm512_maskz_loadu_ps(pm, epi.residual + m * epi.ldr + pb)
                : zero;
        if (!epi.residualAfterActivation)
          v = _mm512_add_ps(v, res);
        if (epi.activation == Activation::Relu)
          v = _mm512_max_ps(v, zero);
        else if (epi.activation == Activation::Clip)
          v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(epi.clipMin)),
                            _mm512_set1_ps(epi.clipMax));
        if (epi.residualAfterActivation)
          v = _mm512_add_ps(v, res);
        _mm512_mask_storeu_ps(yv, pm, v);
      }
    }
  }
}

} // namespace

size_t shiftedWorkspaceFloats(const Conv2DShape &s, const ShiftedPlan &p,
                              int mr) {
  const size_t segs = s.kernelH * s.kernelW;
  // nr of any kernel is at most 64.
  return roundUp(s.channels * p.chanStride, 16) +
         roundUp(tmpFloats(s, p, mr, 64), 16) +
         roundUp(segs * sizeof(ptrdiff_t) / sizeof(float) + 1, 16);
}

bool conv2dPhasesNeeded(const Conv2DShape &s) { return !isPointwise1(s); }

void conv2dPreparePhases(const GemmKernel &k, const Conv2DShape &s,
                         const float *x, float *ws, size_t c0, size_t c1) {
  if (isPointwise1(s))
    return;
  const ShiftedPlan full = shiftedPlan(s, 0, s.outHeight() - 1);
  float *xq = carve(k, s, ws).xq;
  if (k.isa == Isa::Avx512)
    buildPhasesAvx512(s, full, 0, x, xq, c0, c1);
  else
    buildPhasesGeneric(s, full, 0, x, xq, c0, c1);
}

const float *conv2dPreparedPlanes(const GemmKernel &k, const Conv2DShape &s,
                                  const float *preparedWs) {
  return carve(k, s, const_cast<float *>(preparedWs)).xq;
}

Status conv2dShifted(const GemmKernel &k, const Conv2DShape &s, const float *x,
                     const float *panels, float *y, const Epilogue &epi,
                     size_t m0, size_t m1, size_t p0, size_t p1, float *ws) {
  return conv2dShiftedPrepared(k, s, x, panels, y, epi, m0, m1, p0, p1, ws,
                               nullptr);
}

Status conv2dShiftedPrepared(const GemmKernel &k, const Conv2DShape &s,
                             const float *x, const float *panels, float *y,
                             const Epilogue &epi, size_t m0, size_t m1,
                             size_t p0, size_t p1, float *ws,
                             const float *prepared) {
  const size_t OW = s.outWidth();
  const size_t ohA = p0 / OW, ohB = (p1 - 1) / OW;
  const ShiftedPlan p = piecePlan(s, ohA, ohB, prepared);
  const size_t MR = static_cast<size_t>(k.mr);
  const size_t K = s.channels * s.kernelH * s.kernelW;
  const ShiftedScratch sc = carve(k, s, ws);
  const float *planes =
      preparePhases(k, s, p, ohA, x, sc.xq, sc.segOffset, prepared);
  RowSegments rows{s.channels, s.kernelH * s.kernelW, sc.segOffset,
                   p.chanStride};

  // Rows [i0, m1) of the weights, i0 on a panel boundary.
  const size_t i0 = m0 / MR * MR;
  ASource a;
  a.packed = panels + (i0 / MR) * K * MR;
  BSource b;
  b.b = planes;
  b.direct = true;
  b.segments = &rows;
  if (p.Wq == OW) {
    // No junk columns (e.g. a strided 1x1): GEMM column (oh - ohA)*OW + ow
    // is pixel oh*OW + ow, so write y, epilogue fused, directly.
    const size_t N = s.outHeight() * OW, first = ohA * OW;
    Epilogue e = epi;
    if (e.bias)
      e.bias += i0;
    if (e.residual)
      e.residual += i0 * e.ldr + first;
    gemmDriver(k, m1 - i0, p.Ncols, K, a, b, y + i0 * N + first, N, e, m0 - i0,
               m1 - i0, p0 - first, p1 - first, sc.gemm);
    return Status::Ok;
  }
  gemmDriver(k, m1 - i0, p.Ncols, K, a, b, sc.tmp, p.Ncols, Epilogue{}, m0 - i0,
             m1 - i0, 0, p.Ncols, sc.gemm);
  compact(s, p, ohA, sc.tmp, i0, y, epi, m0, m1, p0, p1);
  return Status::Ok;
}

Status conv2dTransposed(const GemmKernel &k, const Conv2DShape &s,
                        const float *x, const float *panels, float *y,
                        const Epilogue &epi, size_t m0, size_t m1, size_t p0,
                        size_t p1, float *ws) {
  return conv2dTransposedPrepared(k, s, x, panels, y, epi, m0, m1, p0, p1, ws,
                                  nullptr);
}

Status conv2dTransposedPrepared(const GemmKernel &k, const Conv2DShape &s,
                                const float *x, const float *panels, float *y,
                                const Epilogue &epi, size_t m0, size_t m1,
                                size_t p0, size_t p1, float *ws,
                                const float *prepared) {
  const size_t OW = s.outWidth(), N = s.outHeight() * OW;
  const size_t OC = s.outChannels;
  const size_t ohA = p0 / OW, ohB = (p1 - 1) / OW;
  const ShiftedPlan p = piecePlan(s, ohA, ohB, prepared);
  const size_t K = s.channels * s.kernelH * s.kernelW;
  const ShiftedScratch sc = carve(k, s, ws);
  PixelRows pr;
  pr.xq = preparePhases(k, s, p, ohA, x, sc.xq, sc.segOffset, prepared);
  pr.segOffset = sc.segOffset;
  pr.C = s.channels;
  pr.OW = OW;
  pr.Wq = p.Wq;
  pr.chanStride = p.chanStride;
  pr.ohA = ohA;
  pr.pix0 = p0;

  // y^T rows [p0, p1) (as rows 0 .. p1-p0 of the scratch), columns
  // [m0, m1) of the pre-packed W^T panels.
  ASource a;
  a.pack = k.isa == Isa::Avx512 ? packPixelRowsAvx512 : packPixelRows;
  a.packCtx = &pr;
  BSource b;
  b.packed = panels;
  const size_t ldt = roundUp(OC, 16);
  gemmDriver(k, p1 - p0, OC, K, a, b, sc.tmp, ldt, Epilogue{}, 0, p1 - p0, m0,
             m1, sc.gemm);
  if (k.isa == Isa::Avx512)
    compactTransposedAvx512(sc.tmp, ldt, y, N, epi, m0, m1, p0, p1);
  else
    compactTransposedGeneric(sc.tmp, ldt, y, N, epi, m0, m1, p0, p1);
  return Status::Ok;
}

} // namespace ember::cpu::detail

//===- Depthwise.cpp - depthwise 2-D convolution --------------------------===//
//
// Any geometry: the row-accumulation loop of Planes.h, compiled generic,
// AVX2 and AVX-512. 3x3 (dilation 1, stride 1 or 2) on AVX-512 and AVX2: a
// dedicated kernel that keeps the nine taps in registers and writes each output
// once, reading a zero-padded copy of the channel so no load needs a bounds
// test.
//
//===----------------------------------------------------------------------===//
#include "Planes.h"
#include "Simd.h"
#include "TileAvx2.h"

#include <cstring>

namespace ember::cpu {

using namespace detail;

namespace {

void depthwiseGeneric(const ConvGeom &g, const float *x, const float *w,
                      float *y, const Epilogue &epi, size_t c0, size_t c1,
                      float *acc) {
  const size_t plane = g.OH * g.OW;
  for (size_t c = c0; c < c1; ++c)
    depthwisePlane(g, x + c * g.H * g.W, w + c * g.KH * g.KW, y + c * plane,
                   planeEpilogue(epi, c, plane), acc);
}

EMBER_TARGET_AVX2 void depthwiseAvx2(const ConvGeom &g, const float *x,
                                     const float *w, float *y,
                                     const Epilogue &epi, size_t c0, size_t c1,
                                     float *acc) {
  const size_t plane = g.OH * g.OW;
  for (size_t c = c0; c < c1; ++c)
    depthwisePlane(g, x + c * g.H * g.W, w + c * g.KH * g.KW, y + c * plane,
                   planeEpilogue(epi, c, plane), acc);
}

EMBER_TARGET_AVX512 void depthwiseAvx512(const ConvGeom &g, const float *x,
                                         const float *w, float *y,
                                         const Epilogue &epi, size_t c0,
                                         size_t c1, float *acc) {
  const size_t plane = g.OH * g.OW;
  for (size_t c = c0; c < c1; ++c)
    depthwisePlane(g, x + c * g.H * g.W, w + c * g.KH * g.KW, y + c * plane,
                   planeEpilogue(epi, c, plane), acc);
}

/// Geometry of the zero-padded channel copy used by the 3x3 kernel.
struct PaddedPlane {
  size_t rows, pitch; ///< pitch leaves >= 48 floats of slack for overreads
};

PaddedPlane paddedPlane(const ConvGeom &g, size_t padBottom, size_t padRight) {
  PaddedPlane p;
  p.rows = g.PT + g.H + padBottom;
  p.pitch = roundUp(g.PL + g.W + padRight + 48, 16);
  return p;
}

/// Channel plane xc into the interior of `pad` (its border stays zero).
inline void copyIntoPad(const ConvGeom &g, const PaddedPlane &pp,
                        const float *xc, float *pad) {
  for (size_t h = 0; h < g.H; ++h)
    std::memcpy(pad + (g.PT + h) * pp.pitch + g.PL, xc + h * g.W,
                g.W * sizeof(float));
}

EMBER_TARGET_AVX512 inline __m512 finish512(__m512 v, const PlaneEpilogue &e,
                                            const float *yv, const float *rv,
                                            __mmask16 m) {
  v = _mm512_add_ps(v, _mm512_set1_ps(e.bias));
  if (e.accumulate)
    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, yv));
  __m512 r = rv ? _mm512_maskz_loadu_ps(m, rv) : _mm512_setzero_ps();
  if (!e.residualAfterActivation)
    v = _mm512_add_ps(v, r);
  if (e.activation == Activation::Relu)
    v = _mm512_max_ps(v, _mm512_setzero_ps());
  else if (e.activation == Activation::Clip)
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(e.clipMin)),
                      _mm512_set1_ps(e.clipMax));
  if (e.residualAfterActivation)
    v = _mm512_add_ps(v, r);
  return v;
}

/// 3x3, dilation 1, stride SW in {1, 2}, on AVX-512. `pad` is scratch of
/// rows*pitch floats.
template <int SW>
EMBER_TARGET_AVX512 void
depthwise3x3Avx512(const ConvGeom &g, const PaddedPlane &pp, const float *x,
                   const float *w, float *y, const Epilogue &epi, size_t c0,
                   size_t c1, float *pad) {
  const size_t plane = g.OH * g.OW;
  std::memset(pad, 0, pp.rows * pp.pitch * sizeof(float));
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20,
                                         22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (size_t c = c0; c < c1; ++c) {
    copyIntoPad(g, pp, x + c * g.H * g.W, pad);
    const float *wc = w + c * 9;
    __m512 wv[9];
    for (int i = 0; i < 9; ++i)
      wv[i] = _mm512_set1_ps(wc[i]);
    const PlaneEpilogue e = planeEpilogue(epi, c, plane);
    float *yc = y + c * plane;
    for (size_t oh = 0; oh < g.OH; ++oh) {
      const float *r0 = pad + oh * g.SH * pp.pitch;
      for (size_t ow = 0; ow < g.OW; ow += 16) {
        const size_t n = g.OW - ow < 16 ? g.OW - ow : 16;
        const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
        __m512 acc = _mm512_setzero_ps();
        for (int kh = 0; kh < 3; ++kh) {
          const float *r = r0 + kh * pp.pitch + ow * SW;
          if (SW == 1) {
            acc = _mm512_fmadd_ps(wv[kh * 3 + 0], _mm512_loadu_ps(r), acc);
            acc = _mm512_fmadd_ps(wv[kh * 3 + 1], _mm512_loadu_ps(r + 1), acc);
            acc = _mm512_fmadd_ps(wv[kh * 3 + 2], _mm512_loadu_ps(r + 2), acc);
          } else {
            __m512 a = _mm512_loadu_ps(r), b = _mm512_loadu_ps(r + 16);
            __m512 a2 = _mm512_loadu_ps(r + 2), b2 = _mm512_loadu_ps(r + 18);
            acc = _mm512_fmadd_ps(wv[kh * 3 + 0],
                                  _mm512_permutex2var_ps(a, even, b), acc);
            acc = _mm512_fmadd_ps(wv[kh * 3 + 1],
                                  _mm512_permutex2var_ps(a, odd, b), acc);
            acc = _mm512_fmadd_ps(wv[kh * 3 + 2],
                                  _mm512_permutex2var_ps(a2, even, b2), acc);
          }
        }
        float *yv = yc + oh * g.OW + ow;
        const float *rv = e.residual ? e.residual + oh * g.OW + ow : nullptr;
        _mm512_mask_storeu_ps(yv, m, finish512(acc, e, yv, rv, m));
      }
    }
  }
}

EMBER_TARGET_AVX2 inline __m256 finish256(__m256 v, const PlaneEpilogue &e,
                                          const float *yv, const float *rv,
                                          __m256i m) {
  v = _mm256_add_ps(v, _mm256_set1_ps(e.bias));
  if (e.accumulate)
    v = _mm256_add_ps(v, _mm256_maskload_ps(yv, m));
  __m256 r = rv ? _mm256_maskload_ps(rv, m) : _mm256_setzero_ps();
  return residualActivation8(v, r, e.residualAfterActivation, e.activation,
                             e.clipMin, e.clipMax);
}

/// The even (odd: Odd) floats of r[0, 16), in order.
template <bool Odd> EMBER_TARGET_AVX2 inline __m256 strided2(const float *r) {
  const __m256 a = _mm256_loadu_ps(r), b = _mm256_loadu_ps(r + 8);
  // [a0 a2 b0 b2 | a4 a6 b4 b6] (odd: a1 a3 ...), then the 64-bit pairs
  // into order.
  const __m256 s = Odd ? _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))
                       : _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
  return _mm256_castpd_ps(
      _mm256_permute4x64_pd(_mm256_castps_pd(s), _MM_SHUFFLE(3, 1, 2, 0)));
}

/// depthwise3x3Avx512 on AVX2: 8 outputs a vector, the stride-2 taps
/// de-interleaved from two loads (strided2). The same operations in the
/// same order per output, so both paths give the same floats.
template <int SW>
EMBER_TARGET_AVX2 void
depthwise3x3Avx2(const ConvGeom &g, const PaddedPlane &pp, const float *x,
                 const float *w, float *y, const Epilogue &epi, size_t c0,
                 size_t c1, float *pad) {
  const size_t plane = g.OH * g.OW;
  std::memset(pad, 0, pp.rows * pp.pitch * sizeof(float));
  for (size_t c = c0; c < c1; ++c) {
    copyIntoPad(g, pp, x + c * g.H * g.W, pad);
    const float *wc = w + c * 9;
    __m256 wv[9];
    for (int i = 0; i < 9; ++i)
      wv[i] = _mm256_set1_ps(wc[i]);
    const PlaneEpilogue e = planeEpilogue(epi, c, plane);
    float *yc = y + c * plane;
    for (size_t oh = 0; oh < g.OH; ++oh) {
      const float *r0 = pad + oh * g.SH * pp.pitch;
      for (size_t ow = 0; ow < g.OW; ow += 8) {
        const size_t n = g.OW - ow < 8 ? g.OW - ow : 8;
        const __m256i m = laneMask8(0, int(n));
        __m256 acc = _mm256_setzero_ps();
        for (int kh = 0; kh < 3; ++kh) {
          const float *r = r0 + kh * pp.pitch + ow * SW;
          if (SW == 1) {
            acc = _mm256_fmadd_ps(wv[kh * 3 + 0], _mm256_loadu_ps(r), acc);
            acc = _mm256_fmadd_ps(wv[kh * 3 + 1], _mm256_loadu_ps(r + 1), acc);
            acc = _mm256_fmadd_ps(wv[kh * 3 + 2], _mm256_loadu_ps(r + 2), acc);
          } else {
            acc = _mm256_fmadd_ps(wv[kh * 3 + 0], strided2<false>(r), acc);
            acc = _mm256_fmadd_ps(wv[kh * 3 + 1], strided2<true>(r), acc);
            acc = _mm256_fmadd_ps(wv[kh * 3 + 2], strided2<false>(r + 2), acc);
          }
        }
        float *yv = yc + oh * g.OW + ow;
        const float *rv = e.residual ? e.residual + oh * g.OW + ow : nullptr;
        const __m256 v = finish256(acc, e, yv, rv, m);
        if (n == 8)
          _mm256_storeu_ps(yv, v);
        else
          _mm256_maskstore_ps(yv, m, v);
      }
    }
  }
}

} // namespace

namespace {
bool uses3x3Path(const Conv2DShape &s, Isa path) {
  return s.kernelH == 3 && s.kernelW == 3 && s.dilationH == 1 &&
         s.dilationW == 1 && s.strideH == s.strideW &&
         (s.strideW == 1 || s.strideW == 2) &&
         (path == Isa::Avx512 || path == Isa::Avx512Vnni || path == Isa::Avx2);
}
} // namespace

size_t depthwiseConv2dWorkspaceSize(const Conv2DShape &s, Isa isa) {
  if (!s.valid())
    return 0;
  const ConvGeom g = convGeometry(s);
  if (uses3x3Path(s, fp32Isa(isa))) {
    PaddedPlane pp = paddedPlane(g, s.padBottom, s.padRight);
    return pp.rows * pp.pitch * sizeof(float);
  }
  return g.OW * sizeof(float);
}

Status depthwiseConv2d(const Conv2DShape &s, const float *x,
                       const float *weights, float *y, const Epilogue &epilogue,
                       Isa isa, size_t cBegin, size_t cEnd, void *workspace) {
  if (epilogue.post) // (a post is the GEMM-lowered paths')
    return Status::InvalidArgument;
  if (!s.valid() || !x || !weights || !y)
    return Status::InvalidArgument;
  if (s.outChannels && s.outChannels != s.channels)
    return Status::InvalidArgument;
  if (cEnd == 0)
    cEnd = s.channels;
  if (cBegin > cEnd || cEnd > s.channels)
    return Status::InvalidArgument;
  if (cBegin == cEnd)
    return Status::Ok;
  const ConvGeom g = convGeometry(s);
  Epilogue epi = epilogue;
  epi.ldr = g.OH * g.OW;
  Isa path = fp32Isa(isa);
  if (uses3x3Path(s, path)) {
    PaddedPlane pp = paddedPlane(g, s.padBottom, s.padRight);
    ScratchBuffer pad(workspace, pp.rows * pp.pitch * sizeof(float));
    if (!pad.ptr)
      return Status::OutOfMemory;
    float *padded = static_cast<float *>(pad.ptr);
    if (path == Isa::Avx2) {
      if (s.strideW == 1)
        depthwise3x3Avx2<1>(g, pp, x, weights, y, epi, cBegin, cEnd, padded);
      else
        depthwise3x3Avx2<2>(g, pp, x, weights, y, epi, cBegin, cEnd, padded);
    } else if (s.strideW == 1) {
      depthwise3x3Avx512<1>(g, pp, x, weights, y, epi, cBegin, cEnd, padded);
    } else {
      depthwise3x3Avx512<2>(g, pp, x, weights, y, epi, cBegin, cEnd, padded);
    }
    return Status::Ok;
  }
  ScratchBuffer acc(workspace, g.OW * sizeof(float));
  if (!acc.ptr)
    return Status::OutOfMemory;
  float *row = static_cast<float *>(acc.ptr);
  switch (path) {
  case Isa::Avx512:
  case Isa::Avx512Vnni:
    depthwiseAvx512(g, x, weights, y, epi, cBegin, cEnd, row);
    break;
  case Isa::Avx2:
  case Isa::AvxVnni:
    depthwiseAvx2(g, x, weights, y, epi, cBegin, cEnd, row);
    break;
  case Isa::Auto:
  case Isa::Generic:
    depthwiseGeneric(g, x, weights, y, epi, cBegin, cEnd, row);
    break;
  }
  return Status::Ok;
}

} // namespace ember::cpu

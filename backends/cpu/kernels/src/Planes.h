//===- Planes.h - per-channel plane loops (depthwise, pooling) --*- C++ -*-===//
//
// Plain C++ loops written so the compiler vectorises them. Each function is
// always_inline: Depthwise.cpp and Pooling.cpp instantiate them inside
// wrapper functions that carry an AVX2 or AVX-512 target attribute, so one
// source yields the generic, AVX2 and AVX-512 paths.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_PLANES_H
#define EMBER_CPU_KERNELS_PLANES_H

#include "Internal.h"

#include <cfloat>
#include <cstddef>

#define EMBER_ALWAYS_INLINE inline __attribute__((always_inline))

namespace ember::cpu::detail {

/// The epilogue of one output plane (one channel).
struct PlaneEpilogue {
  float bias = 0.0f;
  Activation activation = Activation::None;
  float clipMin = 0.0f, clipMax = 0.0f;
  const float *residual = nullptr; ///< this channel's plane, or null
  bool residualAfterActivation = false;
  bool accumulate = false;
};

/// The PlaneEpilogue of channel c of an Epilogue over [C][planeSize] data.
inline PlaneEpilogue planeEpilogue(const Epilogue &e, size_t c,
                                   size_t planeSize) {
  PlaneEpilogue p;
  p.bias = e.bias ? e.bias[c] : 0.0f;
  p.activation = e.activation;
  p.clipMin = e.clipMin;
  p.clipMax = e.clipMax;
  p.residual = e.residual ? e.residual + c * planeSize : nullptr;
  p.residualAfterActivation = e.residualAfterActivation;
  p.accumulate = e.accumulate;
  return p;
}

/// finishRow with the memory operands fixed at compile time. (A runtime
/// test inside the loop lets the compiler if-convert `y[i]` into a masked
/// load, which on Zen cannot take store forwarding from the previous
/// iteration's store to the same line and stalls every vector.)
template <bool kAccumulate, bool kResidual>
EMBER_ALWAYS_INLINE void
finishRowT(float *__restrict y, const float *__restrict acc, size_t n,
           const PlaneEpilogue &e, const float *__restrict res) {
  const float bias = e.bias, lo = e.clipMin, hi = e.clipMax;
  const float before = e.residualAfterActivation ? 0.0f : 1.0f;
  const float after = 1.0f - before;
  const bool relu = e.activation == Activation::Relu;
  const bool clip = e.activation == Activation::Clip;
  for (size_t i = 0; i < n; ++i) {
    float v = acc[i] + bias;
    if (kAccumulate)
      v += y[i];
    const float r = kResidual ? res[i] : 0.0f;
    v += before * r;
    float a = v > 0.0f ? v : 0.0f;
    float c = v < lo ? lo : (v > hi ? hi : v);
    v = relu ? a : (clip ? c : v);
    y[i] = v + after * r;
  }
}

/// y[i] = finish(acc[i]) for one output row; `res` is the residual row or
/// null.
EMBER_ALWAYS_INLINE void finishRow(float *__restrict y,
                                   const float *__restrict acc, size_t n,
                                   const PlaneEpilogue &e,
                                   const float *__restrict res) {
  if (e.accumulate) {
    if (res)
      finishRowT<true, true>(y, acc, n, e, res);
    else
      finishRowT<true, false>(y, acc, n, e, res);
  } else {
    if (res)
      finishRowT<false, true>(y, acc, n, e, res);
    else
      finishRowT<false, false>(y, acc, n, e, res);
  }
}

/// Output columns [lo, hi) whose input column ow*SW + off lies in [0, W).
EMBER_ALWAYS_INLINE void validColumns(ptrdiff_t off, size_t SW, size_t W,
                                      size_t OW, size_t &lo, size_t &hi) {
  const ptrdiff_t sw = static_cast<ptrdiff_t>(SW);
  const ptrdiff_t w = static_cast<ptrdiff_t>(W);
  ptrdiff_t l = off >= 0 ? 0 : (-off + sw - 1) / sw;
  ptrdiff_t h = w - off <= 0 ? 0 : (w - off - 1) / sw + 1;
  if (h > static_cast<ptrdiff_t>(OW))
    h = static_cast<ptrdiff_t>(OW);
  if (l > h)
    l = h;
  lo = static_cast<size_t>(l);
  hi = static_cast<size_t>(h);
}

/// Any depthwise convolution of one channel plane: row by row, each filter
/// tap adds a scaled, shifted input row into an accumulator row.
EMBER_ALWAYS_INLINE void
depthwisePlane(const ConvGeom &g, const float *__restrict x,
               const float *__restrict w, float *__restrict y,
               const PlaneEpilogue &e, float *__restrict acc) {
  for (size_t oh = 0; oh < g.OH; ++oh) {
    for (size_t i = 0; i < g.OW; ++i)
      acc[i] = 0.0f;
    for (size_t kh = 0; kh < g.KH; ++kh) {
      ptrdiff_t ih = static_cast<ptrdiff_t>(oh * g.SH + kh * g.DH) -
                     static_cast<ptrdiff_t>(g.PT);
      if (ih < 0 || ih >= static_cast<ptrdiff_t>(g.H))
        continue;
      const float *xrow = x + static_cast<size_t>(ih) * g.W;
      for (size_t kw = 0; kw < g.KW; ++kw) {
        const float wv = w[kh * g.KW + kw];
        ptrdiff_t off =
            static_cast<ptrdiff_t>(kw * g.DW) - static_cast<ptrdiff_t>(g.PL);
        size_t lo, hi;
        validColumns(off, g.SW, g.W, g.OW, lo, hi);
        if (g.SW == 1) {
          const float *src = xrow + off;
          for (size_t ow = lo; ow < hi; ++ow)
            acc[ow] += wv * src[ow];
        } else {
          for (size_t ow = lo; ow < hi; ++ow)
            acc[ow] += wv * xrow[static_cast<ptrdiff_t>(ow * g.SW) + off];
        }
      }
    }
    finishRow(y + oh * g.OW, acc, g.OW, e,
              e.residual ? e.residual + oh * g.OW : nullptr);
  }
}

/// Max or average pooling of one channel plane. `acc` and `cnt` are scratch
/// rows of OW floats.
EMBER_ALWAYS_INLINE void poolPlane(PoolKind kind, const ConvGeom &g,
                                   size_t padBottom, size_t padRight,
                                   const float *__restrict x,
                                   float *__restrict y, const PlaneEpilogue &e,
                                   float *__restrict acc,
                                   float *__restrict cnt) {
  const bool isMax = kind == PoolKind::Max;
  for (size_t oh = 0; oh < g.OH; ++oh) {
    for (size_t i = 0; i < g.OW; ++i) {
      acc[i] = isMax ? -FLT_MAX : 0.0f;
      cnt[i] = 0.0f;
    }
    for (size_t kh = 0; kh < g.KH; ++kh) {
      ptrdiff_t ih = static_cast<ptrdiff_t>(oh * g.SH + kh * g.DH) -
                     static_cast<ptrdiff_t>(g.PT);
      if (ih < 0 || ih >= static_cast<ptrdiff_t>(g.H))
        continue;
      const float *xrow = x + static_cast<size_t>(ih) * g.W;
      for (size_t kw = 0; kw < g.KW; ++kw) {
        ptrdiff_t off =
            static_cast<ptrdiff_t>(kw * g.DW) - static_cast<ptrdiff_t>(g.PL);
        size_t lo, hi;
        validColumns(off, g.SW, g.W, g.OW, lo, hi);
        if (isMax) {
          if (g.SW == 1) {
            const float *src = xrow + off;
            for (size_t ow = lo; ow < hi; ++ow)
              acc[ow] = src[ow] > acc[ow] ? src[ow] : acc[ow];
          } else {
            for (size_t ow = lo; ow < hi; ++ow) {
              float v = xrow[static_cast<ptrdiff_t>(ow * g.SW) + off];
              acc[ow] = v > acc[ow] ? v : acc[ow];
            }
          }
        } else {
          if (g.SW == 1) {
            const float *src = xrow + off;
            for (size_t ow = lo; ow < hi; ++ow)
              acc[ow] += src[ow];
          } else {
            for (size_t ow = lo; ow < hi; ++ow)
              acc[ow] += xrow[static_cast<ptrdiff_t>(ow * g.SW) + off];
          }
          for (size_t ow = lo; ow < hi; ++ow)
            cnt[ow] += 1.0f;
        }
      }
    }
    if (kind == PoolKind::AvgExcludePad) {
      for (size_t ow = 0; ow < g.OW; ++ow)
        acc[ow] = cnt[ow] > 0.0f ? acc[ow] / cnt[ow] : 0.0f;
    } else if (kind == PoolKind::AvgIncludePad) {
      // Window positions inside the padded input, [-PT, H+PB) x [-PL, W+PR).
      const ptrdiff_t h0 = static_cast<ptrdiff_t>(oh * g.SH);
      const ptrdiff_t hLim = static_cast<ptrdiff_t>(g.PT + g.H + padBottom);
      size_t rows = 0;
      for (size_t kh = 0; kh < g.KH; ++kh)
        rows += h0 + static_cast<ptrdiff_t>(kh * g.DH) < hLim;
      const ptrdiff_t wLim = static_cast<ptrdiff_t>(g.PL + g.W + padRight);
      for (size_t ow = 0; ow < g.OW; ++ow) {
        const ptrdiff_t w0 = static_cast<ptrdiff_t>(ow * g.SW);
        size_t cols = 0;
        for (size_t kw = 0; kw < g.KW; ++kw)
          cols += w0 + static_cast<ptrdiff_t>(kw * g.DW) < wLim;
        const size_t n = rows * cols;
        acc[ow] = n ? acc[ow] / static_cast<float>(n) : 0.0f;
      }
    }
    finishRow(y + oh * g.OW, acc, g.OW, e,
              e.residual ? e.residual + oh * g.OW : nullptr);
  }
}

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_PLANES_H

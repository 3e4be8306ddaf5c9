//===- Reference.h - naive kernels the tests compare against ----*- C++ -*-===//
//
// Obviously-correct loops in double precision (fp32 kernels) or exact
// integers (int8 kernels), written from the ONNX operator definitions and
// independent of the library's code.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_TESTS_REFERENCE_H
#define EMBER_CPU_KERNELS_TESTS_REFERENCE_H

#include "ember/cpu/Kernels.h"
#include "ember/quant/Arith.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace ember::cpu::test {

/// The paths a test runs; unsupported ones are skipped at run time.
inline std::vector<Isa> fp32Paths() {
  return {Isa::Generic, Isa::Avx2, Isa::Avx512};
}

inline std::vector<float> randomFloats(std::mt19937 &rng, size_t n,
                                       float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

inline size_t randomIn(std::mt19937 &rng, size_t lo, size_t hi) {
  return std::uniform_int_distribution<size_t>(lo, hi)(rng);
}

/// Reference output and an error bound for each element.
struct RefResult {
  std::vector<double> value;
  std::vector<double> bound;
};

/// The epilogue applied to one element (double precision).
inline double refFinish(double acc, double cOld, const Epilogue &e, size_t m,
                        size_t n, double &mag) {
  double v = acc;
  if (e.accumulate) {
    v += cOld;
    mag += std::fabs(cOld);
  }
  if (e.bias && e.biasAxis == BiasAxis::PerColumn) {
    v += e.bias[n];
    mag += std::fabs(e.bias[n]);
  }
  if (e.bias && e.biasAxis == BiasAxis::PerRow) {
    v += e.bias[m];
    mag += std::fabs(e.bias[m]);
  }
  double r = e.residual ? e.residual[m * e.ldr + n] : 0.0;
  mag += std::fabs(r);
  if (!e.residualAfterActivation)
    v += r;
  if (e.activation == Activation::Relu)
    v = std::max(v, 0.0);
  else if (e.activation == Activation::Clip)
    v = std::min(std::max(v, double(e.clipMin)), double(e.clipMax));
  if (e.residualAfterActivation)
    v += r;
  return v;
}

/// C = A * B + epilogue over an M x N matrix with row strides.
inline RefResult refGemm(size_t M, size_t N, size_t K, const float *A,
                         size_t lda, const float *B, size_t ldb,
                         const float *cOld, size_t ldc, const Epilogue &e) {
  RefResult r;
  r.value.resize(M * N);
  r.bound.resize(M * N);
  for (size_t m = 0; m < M; ++m)
    for (size_t n = 0; n < N; ++n) {
      double acc = 0, mag = 0;
      for (size_t k = 0; k < K; ++k) {
        double p = double(A[m * lda + k]) * double(B[k * ldb + n]);
        acc += p;
        mag += std::fabs(p);
      }
      r.value[m * N + n] = refFinish(acc, cOld[m * ldc + n], e, m, n, mag);
      r.bound[m * N + n] = 1e-5 * mag + 1e-6;
    }
  return r;
}

/// Geometry helpers mirroring ONNX.
inline long inputIndex(size_t o, size_t k, size_t stride, size_t dil,
                       size_t pad) {
  return long(o * stride + k * dil) - long(pad);
}

/// conv(x, w)[oc][oh][ow] + epilogue (bias per output channel), with
/// `groups` groups (depthwise: C of them, one output channel each).
inline RefResult refConv(const Conv2DShape &s, const float *x, const float *w,
                         const float *yOld, const Epilogue &e, bool depthwise,
                         size_t groups = 1) {
  const size_t OH = s.outHeight(), OW = s.outWidth();
  const size_t OC = depthwise ? s.channels : s.outChannels;
  const size_t G = depthwise ? s.channels : groups;
  const size_t cin = s.channels / G, cout = OC / G;
  RefResult r;
  r.value.resize(OC * OH * OW);
  r.bound.resize(OC * OH * OW);
  Epilogue pe = e;
  pe.biasAxis = BiasAxis::PerRow;
  pe.ldr = OH * OW;
  for (size_t oc = 0; oc < OC; ++oc)
    for (size_t oh = 0; oh < OH; ++oh)
      for (size_t ow = 0; ow < OW; ++ow) {
        double acc = 0, mag = 0;
        const size_t c0 = oc / cout * cin, c1 = c0 + cin;
        for (size_t c = c0; c < c1; ++c)
          for (size_t kh = 0; kh < s.kernelH; ++kh)
            for (size_t kw = 0; kw < s.kernelW; ++kw) {
              long ih = inputIndex(oh, kh, s.strideH, s.dilationH, s.padTop);
              long iw = inputIndex(ow, kw, s.strideW, s.dilationW, s.padLeft);
              if (ih < 0 || iw < 0 || ih >= long(s.height) ||
                  iw >= long(s.width))
                continue;
              size_t wi =
                  ((oc * cin + c - c0) * s.kernelH + kh) * s.kernelW + kw;
              double p =
                  double(
                      x[(c * s.height + size_t(ih)) * s.width + size_t(iw)]) *
                  double(w[wi]);
              acc += p;
              mag += std::fabs(p);
            }
        size_t idx = (oc * OH + oh) * OW + ow;
        r.value[idx] = refFinish(acc, yOld[idx], pe, oc, oh * OW + ow, mag);
        r.bound[idx] = 1e-5 * mag + 1e-6;
      }
  return r;
}

/// ONNX MaxPool / AveragePool of one image, then the epilogue.
inline RefResult refPool(PoolKind kind, const Conv2DShape &s, const float *x,
                         const float *yOld, const Epilogue &e) {
  const size_t OH = s.outHeight(), OW = s.outWidth();
  RefResult r;
  r.value.resize(s.channels * OH * OW);
  r.bound.resize(s.channels * OH * OW);
  Epilogue pe = e;
  pe.biasAxis = BiasAxis::PerRow;
  pe.ldr = OH * OW;
  for (size_t c = 0; c < s.channels; ++c)
    for (size_t oh = 0; oh < OH; ++oh)
      for (size_t ow = 0; ow < OW; ++ow) {
        double acc = kind == PoolKind::Max ? -double(FLT_MAX) : 0.0;
        size_t inside = 0, inPadded = 0;
        double mag = 0;
        for (size_t kh = 0; kh < s.kernelH; ++kh)
          for (size_t kw = 0; kw < s.kernelW; ++kw) {
            long ih = inputIndex(oh, kh, s.strideH, s.dilationH, s.padTop);
            long iw = inputIndex(ow, kw, s.strideW, s.dilationW, s.padLeft);
            if (ih < long(s.height + s.padBottom) &&
                iw < long(s.width + s.padRight))
              ++inPadded;
            if (ih < 0 || iw < 0 || ih >= long(s.height) || iw >= long(s.width))
              continue;
            ++inside;
            double v = x[(c * s.height + size_t(ih)) * s.width + size_t(iw)];
            mag += std::fabs(v);
            acc = kind == PoolKind::Max ? std::max(acc, v) : acc + v;
          }
        if (kind == PoolKind::AvgExcludePad)
          acc = inside ? acc / double(inside) : 0.0;
        if (kind == PoolKind::AvgIncludePad)
          acc = inPadded ? acc / double(inPadded) : 0.0;
        size_t idx = (c * OH + oh) * OW + ow;
        r.value[idx] = refFinish(acc, yOld[idx], pe, c, oh * OW + ow, mag);
        r.bound[idx] = 1e-5 * mag + 1e-6;
      }
  return r;
}

/// One accumulator's output: ONNX Runtime's fp32 formula
/// (saturate(round_half_even(float(acc) * scale) + zp)) for Float, Ember's
/// definition itself (ember/quant/Arith.h) for FixedPoint.
inline int32_t refRequant(int32_t acc, const Requantize &rq, size_t n) {
  if (rq.output == QOutput::Int32)
    return acc;
  int32_t lo = rq.output == QOutput::UInt8 ? 0 : -128;
  int32_t hi = rq.output == QOutput::UInt8 ? 255 : 127;
  lo = std::max(lo, rq.clampMin);
  hi = std::max(lo, std::min(hi, rq.clampMax));
  size_t i = rq.scaleCount > 1 ? n : 0;
  if (rq.kind == QScaleKind::Float) {
    float f = float(acc) * rq.scale[i];
    int64_t v = int64_t(std::nearbyint(double(f))) + rq.zeroPoint;
    return int32_t(std::clamp<int64_t>(v, lo, hi));
  }
  return quant::requantize(acc, 0, {rq.multiplier[i], rq.shift[i]},
                           rq.zeroPoint, lo, hi);
}

} // namespace ember::cpu::test

#endif // EMBER_CPU_KERNELS_TESTS_REFERENCE_H

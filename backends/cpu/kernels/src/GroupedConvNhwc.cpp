//===- GroupedConvNhwc.cpp - fp32 grouped convolutions, channels-last -----===//
//
// y[p][o] = sum over taps (kh, kw) and j < cin of
//           x[ih(p, kh)][iw(p, kw)][g(o) cin + j] * w[o][j][kh][kw]
// for G groups of cin = C/G input and cout = OC/G output channels (g(o) =
// o / cout), when a group's output channels fit in one vector: depthwise
// convolutions (cin = cout = 1), channel multipliers (cin = 1) and the
// narrow groups of ResNeXt- and RegNet-style blocks (cin = cout = 2..16).
//
// Output channels are the vector lanes, so a vector holds several whole
// groups and no lane idles (the per-group GEMM tiles, whose lanes are one
// group's output channels, fill 4 of 16 lanes with 4 channels a group).
// The two vector paths are one body (GroupedConvNhwcRow.inc) included once
// per width: a window of 8 output columns slides along each row for 3x3 and
// 5x5 windows, and border pixels clip their windows to the input (kernel
// rows and columns that fall inside) instead of checking each tap. Nothing
// is copied or padded.
//
//===----------------------------------------------------------------------===//
#include "HardSwishAvx512.h"
#include "Internal.h"
#include "TileEpilogue.h"

#include "Simd.h"

#include <algorithm>
#include <type_traits>

namespace ember::cpu {

using namespace detail;

namespace {

struct GArgs {
  const Conv2DShape *s;
  size_t OW;
  const float *x;
  size_t ldx;
  const float *w; ///< [KH][KW][cin][OC]
  float *y;
  size_t ldy;
  const Epilogue *e;
  size_t cin, cout, OC;
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

/// Portable path: one pixel, output channels [c0, c1).
void pixelGeneric(const GArgs &a, size_t p, size_t c0, size_t c1) {
  const Conv2DShape &s = *a.s;
  const Epilogue &e = *a.e;
  const size_t oh = p / a.OW, ow = p % a.OW;
  const ptrdiff_t ih0 =
      static_cast<ptrdiff_t>(oh * s.strideH) - static_cast<ptrdiff_t>(s.padTop);
  for (size_t o = c0; o < c1; ++o) {
    const size_t xc = o / a.cout * a.cin;
    float acc = e.bias ? e.bias[o] : 0.0f;
    forInsideTaps(s, ih0, ow, [&](size_t tap, size_t pix) {
      for (size_t j = 0; j < a.cin; ++j)
        acc += a.x[pix * a.ldx + xc + j] * a.w[(tap * a.cin + j) * a.OC + o];
    });
    const float r = e.residual ? e.residual[p * e.ldr + o] : 0.0f;
    float v = e.residualAfterActivation ? acc : acc + r;
    v = activate(v, e.activation, e.clipMin, e.clipMax);
    a.y[p * a.ldy + o] = e.residualAfterActivation ? v + r : v;
  }
}

/// What a vector path knows of an output row: columns [ow0, ow1) are
/// computed, [lo, hi) of them have their windows inside the input
/// horizontally, and kernel rows [kh0, kh1) fall inside the input (the
/// window of row oh starts at input row ih0).
struct DwRow {
  size_t oh, ow0, ow1, lo, hi, kh0, kh1;
  ptrdiff_t ih0;
};

DwRow rowGeometry(const GArgs &a, size_t oh, size_t ow0, size_t ow1) {
  const Conv2DShape &s = *a.s;
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
  // Columns whose window (starting at input column ow*sw - pl, spanning
  // (KW-1)*dw + 1) lies inside horizontally.
  const size_t spanW = (s.kernelW - 1) * s.dilationW + 1;
  size_t lo = ceilDiv(s.padLeft, s.strideW);
  size_t hi = s.width + s.padLeft >= spanW
                  ? (s.width + s.padLeft - spanW) / s.strideW + 1
                  : 0;
  if (lo >= hi)
    lo = hi = ow0;
  r.lo = std::min(std::max(lo, ow0), ow1);
  r.hi = std::min(std::max(hi, r.lo), ow1);
  return r;
}

/// The AVX-512 path: 16 lanes, masks for the last channels.
namespace avx512 {
/// add, mul, min, max, fma and c (set1): HardSwishAvx512.h's policy.
struct Vec : detail::hs512::Ops {
  using V = __m512;
  using M = __mmask16;
  using I = __m512i;
  static constexpr size_t kLanes = 16;
  static constexpr Isa kIsa = Isa::Avx512;
  /// 8 accumulators, 20 weights, the input and its spread: 30 of 32.
  static constexpr int kRegWeights = 20;
  EMBER_TARGET_AVX512 static M tail(size_t n) {
    return static_cast<M>(n >= 16 ? 0xFFFFu : (1u << n) - 1u);
  }
  template <bool FULL>
  EMBER_TARGET_AVX512 __attribute__((always_inline)) static V
  load(const float *p, M m) {
    return FULL ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
  }
  template <bool FULL>
  EMBER_TARGET_AVX512 __attribute__((always_inline)) static void
  store(float *p, M m, V v) {
    if (FULL)
      _mm512_storeu_ps(p, v);
    else
      _mm512_mask_storeu_ps(p, m, v);
  }
  EMBER_TARGET_AVX512 __attribute__((always_inline)) static V zero() {
    return _mm512_setzero_ps();
  }
  EMBER_TARGET_AVX512 __attribute__((always_inline)) static V set1(float f) {
    return _mm512_set1_ps(f);
  }
  EMBER_TARGET_AVX512 static I indices(const int32_t *idx) {
    return _mm512_loadu_si512(idx);
  }
  EMBER_TARGET_AVX512 __attribute__((always_inline)) static V permute(V x,
                                                                      I idx) {
    return _mm512_permutexvar_ps(idx, x);
  }
};
#define EMBER_DW_TARGET EMBER_TARGET_AVX512
#include "GroupedConvNhwcRow.inc"
#undef EMBER_DW_TARGET
} // namespace avx512

/// The AVX2 path: 8 lanes, vmaskmov for the last channels only (plain
/// loads and stores when all lanes are live).
namespace avx2 {
struct Vec {
  using V = __m256;
  using M = __m256i;
  using I = __m256i;
  static constexpr size_t kLanes = 8;
  static constexpr Isa kIsa = Isa::Avx2;
  /// 8 accumulators, 5 weights, the input and its spread: 15 of 16.
  static constexpr int kRegWeights = 5;
  EMBER_TARGET_AVX2 static M tail(size_t n) {
    return _mm256_cmpgt_epi32(
        _mm256_set1_epi32(static_cast<int>(std::min<size_t>(n, 8))),
        _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  template <bool FULL>
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V load(const float *p,
                                                                 M m) {
    return FULL ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m);
  }
  template <bool FULL>
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static void store(float *p,
                                                                     M m, V v) {
    if (FULL)
      _mm256_storeu_ps(p, v);
    else
      _mm256_maskstore_ps(p, m, v);
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V zero() {
    return _mm256_setzero_ps();
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V set1(float f) {
    return _mm256_set1_ps(f);
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V add(V a, V b) {
    return _mm256_add_ps(a, b);
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V mul(V a, V b) {
    return _mm256_mul_ps(a, b);
  }
  /// (HardSwishBody.inc's name for set1.)
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V c(float f) {
    return set1(f);
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V min(V a, V b) {
    return _mm256_min_ps(a, b);
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V max(V a, V b) {
    return _mm256_max_ps(a, b);
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V fma(V a, V b, V c) {
    return _mm256_fmadd_ps(a, b, c);
  }
  EMBER_TARGET_AVX2 static I indices(const int32_t *idx) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(idx));
  }
  EMBER_TARGET_AVX2 __attribute__((always_inline)) static V permute(V x,
                                                                    I idx) {
    return _mm256_permutevar8x32_ps(x, idx);
  }
};
#define EMBER_DW_TARGET EMBER_TARGET_AVX2
#include "GroupedConvNhwcRow.inc"
#undef EMBER_DW_TARGET
} // namespace avx2

} // namespace

bool groupedConv2dNhwcSupported(size_t channels, size_t outChannels,
                                size_t groups, Isa isa) {
  if (groups == 0 || channels % groups || outChannels % groups)
    return false;
  const size_t cin = channels / groups, cout = outChannels / groups;
  const Isa path = fp32Isa(isa);
  const size_t lanes = path == Isa::Avx512 ? 16 : path == Isa::Avx2 ? 8 : 0;
  // Whole groups in a vector: cout divides it. A group's input channels
  // as many, fewer than a vector (a group of a vector's width is one
  // conv2dNhwc tile column: per group, it runs 67-86% of the FMA peak on
  // ResNeXt's and RegNet's 16-channel groups, the permutes here 25-60%),
  // or one (depthwise, a channel multiplier).
  return lanes && lanes % cout == 0 &&
         (cin == 1 || (cin == cout && cout < lanes));
}

size_t packedGroupedConvNhwcSize(const Conv2DShape &s, size_t groups) {
  return groups ? s.kernelH * s.kernelW * s.channels / groups * s.outChannels *
                      sizeof(float)
                : 0;
}

Status packGroupedConvNhwc(const Conv2DShape &s, size_t groups, const float *w,
                           float *packed) {
  if (!w || !packed || !groups || s.channels % groups || s.outChannels % groups)
    return Status::InvalidArgument;
  const size_t taps = s.kernelH * s.kernelW, cin = s.channels / groups;
  const size_t OC = s.outChannels;
  for (size_t o = 0; o < OC; ++o)
    for (size_t j = 0; j < cin; ++j)
      for (size_t t = 0; t < taps; ++t)
        packed[(t * cin + j) * OC + o] = w[(o * cin + j) * taps + t];
  return Status::Ok;
}

Status groupedConv2dNhwc(const Conv2DShape &s, size_t groups, const float *x,
                         size_t ldx, const float *packedW, float *y, size_t ldy,
                         const Epilogue &epi, Isa isa, const ConvRange &range) {
  const size_t OW = s.outWidth(), P = s.outHeight() * OW;
  const size_t C = s.channels, OC = s.outChannels;
  OutPiece o;
  if (!s.valid() || !x || !packedW || !y || !groups || C % groups ||
      OC % groups || ldx < C || ldy < OC || !resolvePiece(range, P, OC, epi, o))
    return Status::InvalidArgument;
  const size_t cin = C / groups, cout = OC / groups;
  // Pieces hold whole groups.
  if (o.c0 % cout || o.c1 % cout)
    return Status::InvalidArgument;
  if (o.p0 == o.p1 || o.c0 == o.c1)
    return Status::Ok;
  GArgs a{&s, OW, x, ldx, packedW, y, ldy, &epi, cin, cout, OC};
  if (groupedConv2dNhwcSupported(C, OC, groups, isa)) {
    if (fp32Isa(isa) == Isa::Avx512) {
      avx512::range(a, o.p0, o.p1, o.c0, o.c1);
      return Status::Ok;
    }
    if (fp32Isa(isa) == Isa::Avx2) {
      avx2::range(a, o.p0, o.p1, o.c0, o.c1);
      return Status::Ok;
    }
  }
  // The portable path: a post after the range's pixels, as a pass (the
  // residual after the activation then the post's).
  Epilogue pre = epi;
  const bool postRes = epi.post && epi.residual && epi.residualAfterActivation;
  if (postRes)
    pre.residual = nullptr;
  a.e = &pre;
  for (size_t p = o.p0; p < o.p1; ++p)
    pixelGeneric(a, p, o.c0, o.c1);
  if (epi.post)
    postActivation(*epi.post, y + o.p0 * ldy + o.c0, ldy,
                   postRes ? epi.residual + o.p0 * epi.ldr + o.c0 : nullptr,
                   epi.ldr, o.p1 - o.p0, o.c1 - o.c0, isa);
  return Status::Ok;
}

size_t packedDepthwiseNhwcSize(const Conv2DShape &s) {
  return s.channels * s.kernelH * s.kernelW * sizeof(float);
}

Status packDepthwiseNhwc(const Conv2DShape &s, const float *w, float *packed) {
  Conv2DShape g = s;
  g.outChannels = s.channels;
  return packGroupedConvNhwc(g, s.channels, w, packed);
}

Status depthwiseConv2dNhwc(const Conv2DShape &s, const float *x, size_t ldx,
                           const float *packedW, float *y, size_t ldy,
                           const Epilogue &epi, Isa isa,
                           const ConvRange &range) {
  if (s.outChannels && s.outChannels != s.channels)
    return Status::InvalidArgument;
  Conv2DShape g = s;
  g.outChannels = s.channels;
  return groupedConv2dNhwc(g, s.channels, x, ldx, packedW, y, ldy, epi, isa,
                           range);
}

} // namespace ember::cpu

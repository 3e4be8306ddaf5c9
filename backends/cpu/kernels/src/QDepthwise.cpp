//===- QDepthwise.cpp - int8 depthwise convolution, one output row --------===//
//
// The int8 models' depthwise layers (u8 or s8 activations, centered int16
// weights), one output row per call: int32 accumulators per channel over
// the taps, then Ember's requantization (ember/quant/Arith.h; the vector
// paths use FixedPoint.h, the same bit for bit).
//   - Any layout or ISA: a per-pixel loop over contiguous or strided
//     channels, compiled for the generic, AVX2 and AVX-512 paths.
//   - AVX-512, channels-last in and out: blocks of 64 channels in four zmm
//     accumulators per pixel ((x - x_zp) * w as one vpmaddwd).
//   - 3x3 with the VNNI pack: interior pixels as three vpdpbusd per block
//     of 64 channels (qdwVnniRow below).
//   - AVX2, channels-last in and out: QDepthwiseAvx2.cpp (two taps per
//     vpmaddwd; a sliding 3x3 window, row-pair passes, a per-tap kernel).
// The CPU backend's runtime (RtKernels.cpp) splits the work and fills a
// QDepthwiseConv from its parameter block.
//
//===----------------------------------------------------------------------===//
#include "QDepthwise.h"
#include "FixedPoint.h"

#include "ember/cpu/Kernels.h"
#include "ember/quant/Arith.h"

#if defined(__x86_64__)
#include "Simd.h"
#endif

#include <algorithm>
#include <cstdint>

namespace ember::cpu {

using namespace detail;

namespace {

size_t u(int64_t v) { return size_t(v); }

// Depthwise int8, one output row: per pixel, int32 accumulators over the
// channels (contiguous when x is channels-last), then quant::requantize.
// Compiled per instruction set (qdepthwiseConv2dRow picks one).
template <bool Signed>
__attribute__((always_inline)) inline void
qdepthwiseRowBody(const QDepthwiseConv &t, size_t n, size_t oh, int32_t *acc) {
  using X = std::conditional_t<Signed, int8_t, uint8_t>;
  size_t C = u(t.channels), H = u(t.height), W = u(t.width),
         OH = u(t.outHeight), OW = u(t.outWidth), KH = u(t.kernelH),
         KW = u(t.kernelW);
  int64_t SH = t.strideH, SW = t.strideW, PT = t.padTop, PL = t.padLeft,
          DH = t.dilationH, DW = t.dilationW;
  bool inNhwc = t.inNhwc != 0;
  bool outNhwc = t.outNhwc != 0;
  size_t xc = inNhwc ? 1 : H * W, xh = inNhwc ? W * C : W, xw = inNhwc ? C : 1;
  size_t yc = outNhwc ? 1 : OH * OW, yh = outNhwc ? OW * C : OW,
         yw = outNhwc ? C : 1;
  int32_t xzp = int32_t(t.xZeroPoint);
  const X *x = reinterpret_cast<const X *>(t.x) + n * C * H * W;
  uint8_t *y = t.y + n * C * OH * OW + oh * yh;
  const int16_t *w = reinterpret_cast<const int16_t *>(t.packed);
  const int32_t *bias =
      reinterpret_cast<const int32_t *>(t.packed + u(t.biasOffset));
  const QdwParams q = qdwParams(t);
  size_t ss = t.scaleCount > 1 ? 1 : 0;
  for (size_t ow = 0; ow < OW; ++ow) {
    for (size_t c = 0; c < C; ++c)
      acc[c] = bias[c];
    for (size_t kh = 0; kh < KH; ++kh) {
      int64_t ih = int64_t(oh) * SH - PT + int64_t(kh) * DH;
      if (ih < 0 || ih >= int64_t(H))
        continue;
      for (size_t kw = 0; kw < KW; ++kw) {
        int64_t iw = int64_t(ow) * SW - PL + int64_t(kw) * DW;
        if (iw < 0 || iw >= int64_t(W))
          continue;
        const X *xp = x + size_t(ih) * xh + size_t(iw) * xw;
        const int16_t *wk = w + (kh * KW + kw) * C;
        if (xc == 1)
          for (size_t c = 0; c < C; ++c)
            acc[c] += (int32_t(xp[c]) - xzp) * int32_t(wk[c]);
        else
          for (size_t c = 0; c < C; ++c)
            acc[c] += (int32_t(xp[c * xc]) - xzp) * int32_t(wk[c]);
      }
    }
    if (q.i32) { // ConvInteger's result: acc + bias as they are
      int32_t *yp = reinterpret_cast<int32_t *>(t.y) + n * C * OH * OW +
                    oh * yh + ow * yw;
      for (size_t c = 0; c < C; ++c)
        yp[c * yc] = acc[c];
      continue;
    }
    uint8_t *yp = y + ow * yw;
    if (t.floatScale) {
      const float *scale = reinterpret_cast<const float *>(t.multiplier);
      for (size_t c = 0; c < C; ++c)
        yp[c * yc] = uint8_t(quant::requantizeFloat32(acc[c], 0, scale[c * ss],
                                                      q.zp, q.lo, q.hi));
      continue;
    }
    for (size_t c = 0; c < C; ++c)
      yp[c * yc] = uint8_t(
          quant::requantize(acc[c], 0, {t.multiplier[c * ss], t.shift[c * ss]},
                            q.zp, q.lo, q.hi));
  }
}

template <bool Signed>
void qdepthwiseRowGeneric(const QDepthwiseConv &t, size_t n, size_t oh,
                          int32_t *acc) {
  qdepthwiseRowBody<Signed>(t, n, oh, acc);
}
#if defined(__x86_64__)
template <bool Signed>
__attribute__((target("avx2,fma"))) void
qdepthwiseRowAvx2(const QDepthwiseConv &t, size_t n, size_t oh, int32_t *acc) {
  qdepthwiseRowBody<Signed>(t, n, oh, acc);
}
template <bool Signed>
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))) void
qdepthwiseRowAvx512(const QDepthwiseConv &t, size_t n, size_t oh,
                    int32_t *acc) {
  qdepthwiseRowBody<Signed>(t, n, oh, acc);
}
#endif

#if defined(__x86_64__)
// Depthwise int8 on AVX-512, channels-last in and out: blocks of 64
// channels kept in four zmm int32 accumulators across every tap of a pixel
// ((x - x_zp) * w as one vpmaddwd: the difference fits int16 and the weight
// is zero-extended into the pair's high half), then the requantization of
// FixedPoint.h on 16 channels at a time, bit-exact with qdepthwiseRowBody.

// 16 bytes of x widened to int32 lanes (sign- or zero-extended).
template <bool Signed>
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline __m512i
widen16(__m128i v) {
  return Signed ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
}

// The fixed-point constants of channels [c0, c0 + 16) (masked by m).
EMBER_TARGET_AVX512 inline FixedPointLanes
qdwLanes(const QDepthwiseConv &t, const QdwParams &q, size_t c0, __mmask16 m) {
  bool per = t.scaleCount > 1;
  __m512i mult = per ? _mm512_maskz_loadu_epi32(m, t.multiplier + c0)
                     : _mm512_set1_epi32(t.multiplier[0]);
  if (t.floatScale)
    return float32Lanes(mult, q.zp);
  __m512i sh =
      per ? _mm512_mask_loadu_epi32(_mm512_set1_epi32(-2), m, t.shift + c0)
          : _mm512_set1_epi32(t.shift[0]);
  return fixedPointLanes(mult, sh, q.zp, q.fast);
}

// 16 int32 accumulators requantized: int32 values in the output range.
template <bool Fast>
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline __m512i
qdwRequant(__m512i a, const FixedPointLanes &l, const QdwParams &q) {
  return requant16<Fast>(a, l, _mm512_set1_epi32(q.lo),
                         _mm512_set1_epi32(q.hi));
}

// Stores 16 requantized values (masked) as bytes.
EMBER_TARGET_AVX512 inline void qdwStore(uint8_t *yp, __mmask16 m, __m512i r) {
  // Narrow in a register, then a plain store (a masked vpmovdb to memory
  // is slow on AMD cores); the masked store only for a partial block.
  __m128i bytes = _mm512_cvtepi32_epi8(r);
  if (m == __mmask16(0xFFFF))
    _mm_storeu_si128(reinterpret_cast<__m128i *>(yp), bytes);
  else
    _mm_mask_storeu_epi8(yp, m, bytes);
}

// 3x3 depthwise, channels-last, with VNNI: the interior pixels [owA, owB)
// of an output row whose three input rows are all inside x, channels
// [cBegin, cEnd) (cBegin a multiple of 64). Per block of 64 channels the
// nine taps become three vpdpbusd operands of four taps each: the taps'
// 64-byte loads (sign bits flipped for s8 x: read as x + 128) are byte-
// then word-interleaved (unpacklo/hi within each 128-bit lane), so vector
// j lane k dword i holds channel 16k + 4j + i's four taps, the order the
// weights, bias, multipliers and shifts were packed in at compile time
// (the CPU backend's ParamBlocks.cpp). x_zp is folded into that bias (bias
// - x_zp' * sum of all nine weights: exact, as every tap is inside x); the
// int32 -> int16 -> u8/s8 saturating packs undo the channel interleave.
// A quarter of the instructions of the vpmaddwd kernel below per
// multiply-add.
template <bool Fast, bool Signed>
__attribute__((
    target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,fma"))) void
qdwVnniRow(const QDepthwiseConv &t, const QdwParams &q, size_t n, size_t oh,
           size_t owA, size_t owB, size_t cBegin, size_t cEnd,
           const uint8_t *const rows[3]) {
  size_t C = u(t.channels), OH = u(t.outHeight), OW = u(t.outWidth);
  int64_t SW = t.strideW, PL = t.padLeft, DW = t.dilationW;
  uint8_t *y = t.y + n * C * OH * OW + oh * OW * C;
  const uint8_t *pack = t.packed + (u(t.vnniOffset) - 1);
  const size_t xs = size_t(SW) * C, xd = size_t(DW) * C;
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  const bool clamp = q.lo > (q.sgn ? -128 : 0) || q.hi < (q.sgn ? 127 : 255);
  const __m512i blo = _mm512_set1_epi8(char(q.lo)),
                bhi = _mm512_set1_epi8(char(q.hi));
  for (size_t c0 = cBegin; c0 < cEnd; c0 += 64) {
    const size_t rem = cEnd - c0;
    const __mmask64 m = rem >= 64 ? ~__mmask64(0) : (__mmask64(1) << rem) - 1;
    const uint8_t *blk = pack + (c0 / 64) * kQDepthwiseVnniBlockBytes;
    __m512i wv[3][4], bias[4];
    FixedPointLanes lanes[4];
    for (int g = 0; g < 3; ++g)
      for (int j = 0; j < 4; ++j)
        wv[g][j] = _mm512_loadu_si512(blk + (g * 4 + j) * 64);
    for (int j = 0; j < 4; ++j) {
      bias[j] = _mm512_loadu_si512(blk + 768 + j * 64);
      __m512i mult = _mm512_loadu_si512(blk + 1024 + j * 64);
      __m512i sh = _mm512_loadu_si512(blk + 1280 + j * 64);
      lanes[j] = t.floatScale ? float32Lanes(mult, q.zp)
                              : fixedPointLanes(mult, sh, q.zp, Fast);
    }
    size_t iw0 = size_t(int64_t(owA) * SW - PL);
    const uint8_t *r[3] = {rows[0] + iw0 * C + c0, rows[1] + iw0 * C + c0,
                           rows[2] + iw0 * C + c0};
    for (size_t ow = owA; ow < owB; ++ow) {
      __m512i x[9];
      for (int kh = 0; kh < 3; ++kh)
        for (int kw = 0; kw < 3; ++kw) {
          x[kh * 3 + kw] = _mm512_maskz_loadu_epi8(m, r[kh] + size_t(kw) * xd);
          if (Signed)
            x[kh * 3 + kw] = _mm512_xor_si512(x[kh * 3 + kw], flip);
        }
      for (int kh = 0; kh < 3; ++kh)
        r[kh] += xs;
      __m512i acc[4] = {bias[0], bias[1], bias[2], bias[3]};
      for (int g = 0; g < 3; ++g) {
        // Taps 4g..4g+3; the last group has one (the zero weights of the
        // other three cancel whatever they read).
        __m512i a = x[4 * g];
        __m512i b = g < 2 ? x[4 * g + 1] : a;
        __m512i c = g < 2 ? x[4 * g + 2] : a;
        __m512i d = g < 2 ? x[4 * g + 3] : a;
        __m512i abl = _mm512_unpacklo_epi8(a, b),
                abh = _mm512_unpackhi_epi8(a, b);
        __m512i cdl = _mm512_unpacklo_epi8(c, d),
                cdh = _mm512_unpackhi_epi8(c, d);
        acc[0] = _mm512_dpbusd_epi32(acc[0], _mm512_unpacklo_epi16(abl, cdl),
                                     wv[g][0]);
        acc[1] = _mm512_dpbusd_epi32(acc[1], _mm512_unpackhi_epi16(abl, cdl),
                                     wv[g][1]);
        acc[2] = _mm512_dpbusd_epi32(acc[2], _mm512_unpacklo_epi16(abh, cdh),
                                     wv[g][2]);
        acc[3] = _mm512_dpbusd_epi32(acc[3], _mm512_unpackhi_epi16(abh, cdh),
                                     wv[g][3]);
      }
      __m512i v[4];
      for (int j = 0; j < 4; ++j)
        v[j] = mbqmZp16<Fast>(acc[j], lanes[j]);
      // The saturating packs clamp to the type's range and restore channel
      // order within each 128-bit lane; a fused clamp is then per byte.
      __m512i w01 = _mm512_packs_epi32(v[0], v[1]);
      __m512i w23 = _mm512_packs_epi32(v[2], v[3]);
      __m512i bytes;
      if (q.sgn) {
        bytes = _mm512_packs_epi16(w01, w23);
        if (clamp)
          bytes = _mm512_min_epi8(_mm512_max_epi8(bytes, blo), bhi);
      } else {
        bytes = _mm512_packus_epi16(w01, w23);
        if (clamp)
          bytes = _mm512_min_epu8(_mm512_max_epu8(bytes, blo), bhi);
      }
      uint8_t *yp = y + ow * C + c0;
      if (rem >= 64)
        _mm512_storeu_si512(yp, bytes);
      else
        _mm512_mask_storeu_epi8(yp, m, bytes);
    }
  }
}

// 3x3 depthwise, channels-last, one output row: per block of 16 channels
// the nine weights stay in registers and the pixels whose three columns are
// all inside the input take x_zp out of the loop (folded into the bias with
// the row's valid taps: sum (x - zp) * w = sum x * w - zp * sum w, exact in
// int32), so a tap is one load-widen, one vpmaddwd and one add. Border
// pixels subtract x_zp per tap as qdepthwiseRowBody does.
template <bool Fast, bool Signed>
EMBER_TARGET_AVX512 void
qdepthwise3x3Avx512Nhwc(const QDepthwiseConv &t, const QdwParams &q, size_t n,
                        size_t oh, size_t cBegin, size_t cEnd) {
  size_t C = u(t.channels), H = u(t.height), W = u(t.width),
         OH = u(t.outHeight), OW = u(t.outWidth);
  int64_t SH = t.strideH, SW = t.strideW, PT = t.padTop, PL = t.padLeft,
          DH = t.dilationH, DW = t.dilationW;
  const uint8_t *x = t.x + n * C * H * W;
  uint8_t *y = t.y + n * C * OH * OW + oh * OW * C;
  const int16_t *w = reinterpret_cast<const int16_t *>(t.packed);
  const int32_t *bias =
      reinterpret_cast<const int32_t *>(t.packed + u(t.biasOffset));
  const int32_t xzp = int32_t(t.xZeroPoint);
  const __m512i vxzp = _mm512_set1_epi32(xzp);
  // Input rows of the three taps (null when outside the input).
  const uint8_t *rows[3];
  for (int kh = 0; kh < 3; ++kh) {
    int64_t ih = int64_t(oh) * SH - PT + int64_t(kh) * DH;
    rows[kh] = ih >= 0 && ih < int64_t(H) ? x + size_t(ih) * W * C : nullptr;
  }
  // Interior columns: ow * SW - PL >= 0 and ow * SW - PL + 2 * DW < W.
  size_t owA = 0;
  while (owA < OW && int64_t(owA) * SW - PL < 0)
    ++owA;
  size_t owB = owA;
  while (owB < OW && int64_t(owB) * SW - PL + 2 * DW < int64_t(W))
    ++owB;
  const size_t xs = size_t(SW) * C, xd = size_t(DW) * C;
  // The VNNI kernel takes the interior when it was packed for and the row
  // reads three input rows; this one then does the border pixels only.
  bool vnniInterior = t.vnniOffset != 0 && rows[0] && rows[1] && rows[2] &&
                      cBegin % 64 == 0 && owB > owA &&
                      resolveIsa(Isa(t.isa)) == Isa::Avx512Vnni;
  if (vnniInterior)
    qdwVnniRow<Fast, Signed>(t, q, n, oh, owA, owB, cBegin, cEnd, rows);
  for (size_t c0 = cBegin; c0 < cEnd; c0 += 16) {
    size_t r = cEnd - c0;
    __mmask16 m = r >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << r) - 1);
    const FixedPointLanes lanes = qdwLanes(t, q, c0, m);
    __m512i b = _mm512_maskz_loadu_epi32(m, bias + c0);
    __m512i wv[9];
    __m512i wsum = _mm512_setzero_si512();
    for (int k = 0; k < 9; ++k) {
      wv[k] = _mm512_cvtepu16_epi32(
          _mm256_maskz_loadu_epi16(m, w + size_t(k) * C + c0));
      if (rows[k / 3])
        wsum = _mm512_add_epi32(
            wsum, _mm512_cvtepi16_epi32(
                      _mm256_maskz_loadu_epi16(m, w + size_t(k) * C + c0)));
    }
    __m512i bIn = _mm512_sub_epi32(b, _mm512_mullo_epi32(wsum, vxzp));
    // Interior pixels.
    if (owB > owA && !vnniInterior) {
      size_t iw0 = size_t(int64_t(owA) * SW - PL);
      const uint8_t *r0 = rows[0] ? rows[0] + iw0 * C + c0 : nullptr;
      const uint8_t *r1 = rows[1] ? rows[1] + iw0 * C + c0 : nullptr;
      const uint8_t *r2 = rows[2] ? rows[2] + iw0 * C + c0 : nullptr;
      uint8_t *yp = y + owA * C + c0;
#define EMBER_QDW_ROW(rp, k, LD)                                               \
  if (rp) {                                                                    \
    a0 = _mm512_add_epi32(a0,                                                  \
                          _mm512_madd_epi16(widen16<Signed>(LD(rp)), wv[k]));  \
    a1 = _mm512_add_epi32(                                                     \
        a1, _mm512_madd_epi16(widen16<Signed>(LD(rp + xd)), wv[k + 1]));       \
    a0 = _mm512_add_epi32(                                                     \
        a0, _mm512_madd_epi16(widen16<Signed>(LD(rp + 2 * xd)), wv[k + 2]));   \
    rp += xs;                                                                  \
  }
#define EMBER_QDW_LDM(p) _mm_maskz_loadu_epi8(m, p)
#define EMBER_QDW_LDU(p) _mm_loadu_si128(reinterpret_cast<const __m128i *>(p))
      if (m == __mmask16(0xFFFF)) {
        // Whole block: unmasked loads (the widening takes them as operands).
        for (size_t ow = owA; ow < owB; ++ow, yp += C) {
          __m512i a0 = bIn, a1 = _mm512_setzero_si512();
          EMBER_QDW_ROW(r0, 0, EMBER_QDW_LDU)
          EMBER_QDW_ROW(r1, 3, EMBER_QDW_LDU)
          EMBER_QDW_ROW(r2, 6, EMBER_QDW_LDU)
          qdwStore(yp, m, qdwRequant<Fast>(_mm512_add_epi32(a0, a1), lanes, q));
        }
      } else {
        for (size_t ow = owA; ow < owB; ++ow, yp += C) {
          __m512i a0 = bIn, a1 = _mm512_setzero_si512();
          EMBER_QDW_ROW(r0, 0, EMBER_QDW_LDM)
          EMBER_QDW_ROW(r1, 3, EMBER_QDW_LDM)
          EMBER_QDW_ROW(r2, 6, EMBER_QDW_LDM)
          qdwStore(yp, m, qdwRequant<Fast>(_mm512_add_epi32(a0, a1), lanes, q));
        }
      }
#undef EMBER_QDW_LDU
#undef EMBER_QDW_LDM
#undef EMBER_QDW_ROW
    }
    // Border pixels: per-tap zero-point subtraction and bounds checks.
    for (size_t ow = 0; ow < OW; ++ow) {
      if (ow == owA && owB > owA) {
        ow = owB - 1;
        continue;
      }
      __m512i a = b;
      for (int kh = 0; kh < 3; ++kh) {
        if (!rows[kh])
          continue;
        for (int kw = 0; kw < 3; ++kw) {
          int64_t iw = int64_t(ow) * SW - PL + int64_t(kw) * DW;
          if (iw < 0 || iw >= int64_t(W))
            continue;
          __m512i xv = _mm512_sub_epi32(widen16<Signed>(_mm_maskz_loadu_epi8(
                                            m, rows[kh] + size_t(iw) * C + c0)),
                                        vxzp);
          a = _mm512_add_epi32(a, _mm512_madd_epi16(xv, wv[kh * 3 + kw]));
        }
      }
      qdwStore(y + ow * C + c0, m, qdwRequant<Fast>(a, lanes, q));
    }
  }
}

template <bool Fast, bool Signed>
EMBER_TARGET_AVX512 void qdepthwiseRowAvx512Nhwc(const QDepthwiseConv &t,
                                                 const QdwParams &q, size_t n,
                                                 size_t oh) {
  size_t C = u(t.channels), H = u(t.height), W = u(t.width),
         OH = u(t.outHeight), OW = u(t.outWidth), KH = u(t.kernelH),
         KW = u(t.kernelW);
  int64_t SH = t.strideH, SW = t.strideW, PT = t.padTop, PL = t.padLeft,
          DH = t.dilationH, DW = t.dilationW;
  const uint8_t *x = t.x + n * C * H * W;
  uint8_t *y = t.y + n * C * OH * OW + oh * OW * C;
  const int16_t *w = reinterpret_cast<const int16_t *>(t.packed);
  const int32_t *bias =
      reinterpret_cast<const int32_t *>(t.packed + u(t.biasOffset));
  const __m512i vxzp = _mm512_set1_epi32(int32_t(t.xZeroPoint));
  // Valid taps of this output row.
  size_t kh0 = 0, kh1 = 0;
  for (size_t kh = 0; kh < KH; ++kh) {
    int64_t ih = int64_t(oh) * SH - PT + int64_t(kh) * DH;
    if (ih >= 0 && ih < int64_t(H)) {
      if (kh1 == 0)
        kh0 = kh;
      kh1 = kh + 1;
    }
  }
  for (size_t c0 = 0; c0 < C; c0 += 64) {
    size_t cn = C - c0 < 64 ? C - c0 : 64;
    __mmask16 m[4];
    for (size_t j = 0; j < 4; ++j) {
      size_t r = cn > 16 * j ? cn - 16 * j : 0;
      m[j] = r >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << r) - 1);
    }
    FixedPointLanes lanes[4];
    for (size_t j = 0; j < 4; ++j)
      lanes[j] = qdwLanes(t, q, c0 + 16 * j, m[j]);
    for (size_t ow = 0; ow < OW; ++ow) {
      __m512i a[4];
      for (size_t j = 0; j < 4; ++j)
        a[j] = _mm512_maskz_loadu_epi32(m[j], bias + c0 + 16 * j);
      for (size_t kh = kh0; kh < kh1; ++kh) {
        int64_t ih = int64_t(oh) * SH - PT + int64_t(kh) * DH;
        if (ih < 0 || ih >= int64_t(H))
          continue;
        for (size_t kw = 0; kw < KW; ++kw) {
          int64_t iw = int64_t(ow) * SW - PL + int64_t(kw) * DW;
          if (iw < 0 || iw >= int64_t(W))
            continue;
          const uint8_t *xp = x + (size_t(ih) * W + size_t(iw)) * C + c0;
          const int16_t *wk = w + (kh * KW + kw) * C + c0;
          for (size_t j = 0; j < 4; ++j) {
            if (!m[j])
              break;
            __m512i xv = _mm512_sub_epi32(
                widen16<Signed>(_mm_maskz_loadu_epi8(m[j], xp + 16 * j)), vxzp);
            __m512i wv = _mm512_cvtepu16_epi32(
                _mm256_maskz_loadu_epi16(m[j], wk + 16 * j));
            a[j] = _mm512_add_epi32(a[j], _mm512_madd_epi16(xv, wv));
          }
        }
      }
      uint8_t *yp = y + ow * C + c0;
      for (size_t j = 0; j < 4; ++j) {
        if (!m[j])
          break;
        qdwStore(yp + 16 * j, m[j], qdwRequant<Fast>(a[j], lanes[j], q));
      }
    }
  }
}
#endif

template <bool Signed>
void qdepthwiseRowDispatch(const QDepthwiseConv &t, const QdwParams &q,
                           size_t n, size_t oh, size_t piece, size_t pieces,
                           int32_t *acc) {
#if defined(__x86_64__)
  // (Its kernels are the fp32 families': the AVX-VNNI path runs AVX2's.)
  Isa isa = fp32Family(t.isa);
  bool avx512 = isa == Isa::Avx512;
  bool nhwc = t.inNhwc != 0 && t.outNhwc != 0;
  if (q.i32) {
    // An int32 result (ConvInteger): the AVX2 channels-last per-tap kernel
    // (on AVX-512 hosts too), else the per-pixel loop; the other kernels
    // requantize in their loops.
    if (isaHasAvx2(isa) && qdwAvx2Takes(t)) {
      isa = Isa::Avx2;
    } else if (avx512) {
      if (piece == 0)
        qdepthwiseRowAvx512<Signed>(t, n, oh, acc);
      return;
    }
    avx512 = false;
  }
  if (avx512 && nhwc && t.kernelH == 3 && t.kernelW == 3) {
    size_t C = u(t.channels);
    size_t per = (C + pieces - 1) / pieces;
    size_t gran = t.vnniOffset != 0 ? 64 : 16;
    per = (per + gran - 1) / gran * gran;
    size_t c0 = piece * per, c1 = c0 + per < C ? c0 + per : C;
    if (c0 < c1) {
      if (q.fast)
        qdepthwise3x3Avx512Nhwc<true, Signed>(t, q, n, oh, c0, c1);
      else
        qdepthwise3x3Avx512Nhwc<false, Signed>(t, q, n, oh, c0, c1);
    }
    return;
  }
  if (isa == Isa::Avx2 && qdwAvx2Takes(t)) {
    // Channel ranges of whole 16-channel blocks; a range narrower than a
    // block joins the one before (qdepthwiseRowAvx2Nhwc needs 16).
    size_t C = u(t.channels);
    size_t per = ((C + pieces - 1) / pieces + 15) / 16 * 16;
    size_t c0 = piece * per, c1 = std::min(C, c0 + per);
    if (C - c1 < 16)
      c1 = C;
    if (c0 < c1 && (c0 == 0 || C - c0 >= 16))
      qdepthwiseRowAvx2Nhwc(t, q, n, oh, c0, c1);
    return;
  }
  if (piece != 0) // the other kernels take whole rows (piece 0 only)
    return;
  if (avx512 && nhwc) {
    if (q.fast)
      qdepthwiseRowAvx512Nhwc<true, Signed>(t, q, n, oh);
    else
      qdepthwiseRowAvx512Nhwc<false, Signed>(t, q, n, oh);
    return;
  }
  if (avx512)
    return qdepthwiseRowAvx512<Signed>(t, n, oh, acc);
  if (isa == Isa::Avx2)
    return qdepthwiseRowAvx2<Signed>(t, n, oh, acc);
#else
  (void)q;
#endif
  if (piece != 0)
    return;
  qdepthwiseRowGeneric<Signed>(t, n, oh, acc);
}

} // namespace

void qdepthwisePrepare(QDepthwiseConv &t) {
  t.requantFast = -1;
  if (!t.yInt32 && t.shift && t.scaleCount >= 1)
    t.requantFast = qdwParams(t).fast ? 1 : 0;
  if (t.floatScale)
    t.requantFast = 0;
}

Status qdepthwiseConv2dRow(const QDepthwiseConv &t, size_t n, size_t oh,
                           size_t piece, size_t pieces, int32_t *acc) {
  if (!t.x || !t.y || !t.packed || pieces == 0 || piece >= pieces ||
      (!t.yInt32 && (!t.multiplier || !t.shift || t.scaleCount < 1)))
    return Status::InvalidArgument;
  const QdwParams q = qdwParams(t);
  if (t.xSigned)
    qdepthwiseRowDispatch<true>(t, q, n, oh, piece, pieces, acc);
  else
    qdepthwiseRowDispatch<false>(t, q, n, oh, piece, pieces, acc);
  return Status::Ok;
}

} // namespace ember::cpu

//===- QDepthwiseAvx2.cpp - int8 depthwise, channels-last, AVX2 -----------===//
//
// qdepthwiseConv2dRow's AVX2 kernel for channels-last x and y, any kernel
// size up to kQdwAvx2MaxTaps taps, any stride, dilation and padding, u8 or
// s8 x, bit-exact with the per-pixel loop (QDepthwise.cpp):
//
//   - Blocks of 16 channels, in two ymm int32 accumulators per pixel (four:
//     the even and odd tap pairs apart, for two chains each).
//   - Two taps per vpmaddwd: their 16 bytes are byte-interleaved
//     (punpckl/hbw) and widened to int16 (pmovzx/sxbw), so dword j of the
//     result holds channel j's two taps, against the weights paired the
//     same way (made once per row and block). x * w with x in [-128, 255]
//     and the centered weight in [-255, 255]: a pair sums to less than
//     2^17, exact. An odd tap count leaves one tap, widened to int32 and
//     multiplied by its zero-extended weight (the pair's high half is 0).
//   - x_zp is out of the loop: sum (x - zp) w = sum x w - zp sum w, with
//     the sum over the taps of the row's input rows inside x folded into
//     the bias once per block (int32 wraparound, exact). Taps in rows
//     outside x are left out; taps in columns outside x (border pixels)
//     read 16 bytes of zp, whose product the folded bias cancels. So every
//     pixel runs the same code, interior ones with constant tap offsets.
//   - Requantization on 8 lanes (FixedPointAvx2.h), narrowed by saturating
//     packs (the type's clamp) and a byte min/max for a fused clamp.
//   - A range's last block overlaps the one before when the range is not a
//     multiple of 16 (it recomputes the same values), so every load and
//     store is a whole 16 bytes inside the range's channels.
//
//===----------------------------------------------------------------------===//
#include "FixedPointAvx2.h"
#include "QDepthwise.h"

#if defined(__x86_64__)
#include "Simd.h"
#endif

#include <cstring>

namespace ember::cpu::detail {

#if defined(__x86_64__)

namespace {

size_t u(int64_t v) { return size_t(v); }

// 16 bytes widened to 16 int16 lanes (sign- or zero-extended).
template <bool Signed>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
widen16(__m128i v) {
  return Signed ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
}

// 8 bytes at p widened to 8 int32 lanes.
template <bool Signed>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
widen8x32(const uint8_t *p) {
  __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(p));
  return Signed ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
}

EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m128i
load16(const uint8_t *p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
}

// The valid taps of an output row (those in input rows inside x), in
// (kh, kw) order.
struct Taps {
  size_t count = 0;
  size_t k[kQdwAvx2MaxTaps];           // weight row (kh * KW + kw)
  int64_t col[kQdwAvx2MaxTaps];        // kw * DW: column from the window's
  const uint8_t *row[kQdwAvx2MaxTaps]; // the tap's input row
  ptrdiff_t off[kQdwAvx2MaxTaps];      // from the window origin's pixel
};

// One block of 16 channels: the paired weights, the single tap's, the
// folded bias and the requantization constants.
struct Block {
  __m256i pair[kQdwAvx2MaxTaps]; // [pair][half]: channels 0-7, 8-15
  __m256i single[2];
  __m256i bias[2];
  FixedPointLanes8 lanes[2];
};

// Accumulators of one pixel's 16 channels over the taps at tap(i).
template <bool Signed, typename TapPtr>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
accumulate(const Block &b, size_t count, TapPtr tap, __m256i &lo, __m256i &hi) {
  __m256i a0 = b.bias[0], a1 = b.bias[1];
  __m256i a2 = _mm256_setzero_si256(), a3 = _mm256_setzero_si256();
  const size_t pairs = count / 2;
  size_t p = 0;
  for (; p + 2 <= pairs; p += 2) {
    __m128i xa = load16(tap(2 * p)), xb = load16(tap(2 * p + 1));
    __m128i xc = load16(tap(2 * p + 2)), xd = load16(tap(2 * p + 3));
    a0 = _mm256_add_epi32(
        a0, _mm256_madd_epi16(widen16<Signed>(_mm_unpacklo_epi8(xa, xb)),
                              b.pair[2 * p]));
    a1 = _mm256_add_epi32(
        a1, _mm256_madd_epi16(widen16<Signed>(_mm_unpackhi_epi8(xa, xb)),
                              b.pair[2 * p + 1]));
    a2 = _mm256_add_epi32(
        a2, _mm256_madd_epi16(widen16<Signed>(_mm_unpacklo_epi8(xc, xd)),
                              b.pair[2 * p + 2]));
    a3 = _mm256_add_epi32(
        a3, _mm256_madd_epi16(widen16<Signed>(_mm_unpackhi_epi8(xc, xd)),
                              b.pair[2 * p + 3]));
  }
  if (p < pairs) {
    __m128i xa = load16(tap(2 * p)), xb = load16(tap(2 * p + 1));
    a0 = _mm256_add_epi32(
        a0, _mm256_madd_epi16(widen16<Signed>(_mm_unpacklo_epi8(xa, xb)),
                              b.pair[2 * p]));
    a1 = _mm256_add_epi32(
        a1, _mm256_madd_epi16(widen16<Signed>(_mm_unpackhi_epi8(xa, xb)),
                              b.pair[2 * p + 1]));
  }
  if (count % 2) {
    const uint8_t *xp = tap(count - 1);
    a2 = _mm256_add_epi32(
        a2, _mm256_madd_epi16(widen8x32<Signed>(xp), b.single[0]));
    a3 = _mm256_add_epi32(
        a3, _mm256_madd_epi16(widen8x32<Signed>(xp + 8), b.single[1]));
  }
  lo = _mm256_add_epi32(a0, a2);
  hi = _mm256_add_epi32(a1, a3);
}

// Requantizes 16 channels' accumulators and stores them as bytes.
template <bool Fast>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
store16(uint8_t *yp, __m256i lo, __m256i hi, const Block &b, const QdwParams &q,
        bool clamp, __m128i blo, __m128i bhi) {
  __m256i r0 = mbqmZp8<Fast>(lo, b.lanes[0]);
  __m256i r1 = mbqmZp8<Fast>(hi, b.lanes[1]);
  // int16 [0-3, 8-11 | 4-7, 12-15] -> channel order, then bytes.
  __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8);
  __m128i wl = _mm256_castsi256_si128(w), wh = _mm256_extracti128_si256(w, 1);
  __m128i v;
  if (q.sgn) {
    v = _mm_packs_epi16(wl, wh);
    if (clamp)
      v = _mm_min_epi8(_mm_max_epi8(v, blo), bhi);
  } else {
    v = _mm_packus_epi16(wl, wh);
    if (clamp)
      v = _mm_min_epu8(_mm_max_epu8(v, blo), bhi);
  }
  _mm_storeu_si128(reinterpret_cast<__m128i *>(yp), v);
}

template <bool Fast, bool Signed>
EMBER_TARGET_AVX2 void qdwRowAvx2(const QDepthwiseConv &t, const QdwParams &q,
                                  size_t n, size_t oh, size_t cBegin,
                                  size_t cEnd) {
  const size_t C = u(t.channels), H = u(t.height), W = u(t.width),
               OH = u(t.outHeight), OW = u(t.outWidth), KH = u(t.kernelH),
               KW = u(t.kernelW);
  const int64_t SH = t.strideH, SW = t.strideW, PT = t.padTop, PL = t.padLeft,
                DH = t.dilationH, DW = t.dilationW;
  const uint8_t *x = t.x + n * C * H * W;
  uint8_t *y = t.y + n * C * OH * OW + oh * OW * C;
  const int16_t *w = reinterpret_cast<const int16_t *>(t.packed);
  const int32_t *bias =
      reinterpret_cast<const int32_t *>(t.packed + u(t.biasOffset));
  const int32_t xzp = int32_t(t.xZeroPoint);

  Taps taps;
  for (size_t kh = 0; kh < KH; ++kh) {
    int64_t ih = int64_t(oh) * SH - PT + int64_t(kh) * DH;
    if (ih < 0 || ih >= int64_t(H))
      continue;
    for (size_t kw = 0; kw < KW; ++kw) {
      size_t i = taps.count++;
      taps.k[i] = kh * KW + kw;
      taps.col[i] = int64_t(kw) * DW;
      taps.row[i] = x + size_t(ih) * W * C;
      taps.off[i] = ptrdiff_t((size_t(ih) * W + kw * size_t(DW)) * C);
    }
  }
  const size_t nt = taps.count;
  // Interior columns [owA, owB): every tap's column inside x.
  size_t owA = 0;
  while (owA < OW && int64_t(owA) * SW - PL < 0)
    ++owA;
  size_t owB = owA;
  while (owB < OW && int64_t(owB) * SW - PL + int64_t(KW - 1) * DW < int64_t(W))
    ++owB;

  alignas(16) uint8_t zp16[16];
  std::memset(zp16, int(uint8_t(xzp)), sizeof zp16);
  const bool clamp = q.lo > (q.sgn ? -128 : 0) || q.hi < (q.sgn ? 127 : 255);
  const __m128i blo = _mm_set1_epi8(char(q.lo)),
                bhi = _mm_set1_epi8(char(q.hi));
  const bool perChannel = t.scaleCount > 1;
  FixedPointLanes8 tensorLanes{};
  if (!perChannel)
    tensorLanes = fixedPointLanes8(_mm256_set1_epi32(t.multiplier[0]),
                                   _mm256_set1_epi32(t.shift[0]), q.zp, Fast);
  const __m256i vxzp = _mm256_set1_epi32(xzp);
  const size_t xs = size_t(SW) * C;

  alignas(32) Block b;
  for (size_t c0 = cBegin; c0 < cEnd; c0 += 16) {
    const size_t cb = c0 + 16 <= cEnd ? c0 : cEnd - 16;
    // Paired weights: dword j of half h is channel cb + 8h + j's two taps.
    for (size_t p = 0; p < nt / 2; ++p) {
      const int16_t *wa = w + taps.k[2 * p] * C + cb;
      const int16_t *wb = w + taps.k[2 * p + 1] * C + cb;
      for (size_t h = 0; h < 2; ++h) {
        __m128i va =
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(wa + 8 * h));
        __m128i vb =
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(wb + 8 * h));
        b.pair[2 * p + h] = _mm256_set_m128i(_mm_unpackhi_epi16(va, vb),
                                             _mm_unpacklo_epi16(va, vb));
      }
    }
    __m256i wsum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (size_t i = 0; i < nt; ++i)
      for (size_t h = 0; h < 2; ++h)
        wsum[h] = _mm256_add_epi32(
            wsum[h], _mm256_cvtepi16_epi32(
                         _mm_loadu_si128(reinterpret_cast<const __m128i *>(
                             w + taps.k[i] * C + cb + 8 * h))));
    for (size_t h = 0; h < 2; ++h) {
      if (nt % 2)
        b.single[h] = _mm256_cvtepu16_epi32(
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(
                w + taps.k[nt - 1] * C + cb + 8 * h)));
      __m256i bv = _mm256_loadu_si256(
          reinterpret_cast<const __m256i *>(bias + cb + 8 * h));
      b.bias[h] = _mm256_sub_epi32(bv, _mm256_mullo_epi32(wsum[h], vxzp));
      b.lanes[h] =
          perChannel ? fixedPointLanes8(
                           _mm256_loadu_si256(reinterpret_cast<const __m256i *>(
                               t.multiplier + cb + 8 * h)),
                           _mm256_loadu_si256(reinterpret_cast<const __m256i *>(
                               t.shift + cb + 8 * h)),
                           q.zp, Fast)
                     : tensorLanes;
    }
    // Border pixels [0, owA) and [owB, OW): a tap whose column is outside
    // x reads zp16. Interior ones: constant offsets from the window origin.
    for (size_t ow = 0; ow < OW; ++ow) {
      __m256i lo, hi;
      if (ow == owA && owB > owA) {
        const uint8_t *base = x + size_t(int64_t(owA) * SW - PL) * C + cb;
        for (; ow < owB; ++ow, base += xs) {
          accumulate<Signed>(
              b, nt, [&](size_t i) { return base + taps.off[i]; }, lo, hi);
          store16<Fast>(y + ow * C + cb, lo, hi, b, q, clamp, blo, bhi);
        }
        if (ow == OW)
          break;
      }
      const uint8_t *ptr[kQdwAvx2MaxTaps];
      int64_t iw0 = int64_t(ow) * SW - PL;
      for (size_t i = 0; i < nt; ++i) {
        int64_t iw = iw0 + taps.col[i];
        ptr[i] = iw >= 0 && iw < int64_t(W) ? taps.row[i] + size_t(iw) * C + cb
                                            : zp16;
      }
      accumulate<Signed>(
          b, nt, [&](size_t i) { return ptr[i]; }, lo, hi);
      store16<Fast>(y + ow * C + cb, lo, hi, b, q, clamp, blo, bhi);
    }
  }
}

} // namespace

void qdepthwiseRowAvx2Nhwc(const QDepthwiseConv &t, const QdwParams &q,
                           size_t n, size_t oh, size_t cBegin, size_t cEnd) {
  if (t.xSigned)
    q.fast ? qdwRowAvx2<true, true>(t, q, n, oh, cBegin, cEnd)
           : qdwRowAvx2<false, true>(t, q, n, oh, cBegin, cEnd);
  else
    q.fast ? qdwRowAvx2<true, false>(t, q, n, oh, cBegin, cEnd)
           : qdwRowAvx2<false, false>(t, q, n, oh, cBegin, cEnd);
}

#endif // __x86_64__

} // namespace ember::cpu::detail

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
//     2^17, exact. An odd tap count leaves one tap, paired with itself
//     against a zero weight.
//   - x_zp is out of the loop: sum (x - zp) w = sum x w - zp sum w, with
//     the sum over the taps of the row's input rows inside x folded into
//     the bias once per block (int32 wraparound, exact). Taps in rows
//     outside x are left out; taps in columns outside x (border pixels)
//     read 16 bytes of zp, whose product the folded bias cancels. So every
//     pixel runs the same code, interior ones with constant tap offsets.
//   - Requantization on 8 lanes (FixedPoint.h, mbqmZp8), narrowed by saturating
//     packs (the type's clamp) and a byte min/max for a fused clamp.
//   - A range's last block overlaps the one before when the range is not a
//     multiple of 16 (it recomputes the same values), so every load and
//     store is a whole 16 bytes inside the range's channels.
//
// That per-tap kernel is bound by the widening and interleaving shuffles
// and by the vector loads (two a cycle on Zen 4): every tap of every pixel
// loads, pairs and widens its bytes again. The kernels below, for
// undilated rows at stride 1 or 2, widen each input column once and slide
// a window of columns in registers: 3x3 (all three input rows inside x)
// in one pass, 5x5 and 7x7 in a pass per pair of kernel rows. Preparing
// the columns into a stack buffer instead, read back by the pixels, was
// slower (kernels README, "int8 depthwise convolution").
//
// Every instance below is compiled again into each AOT bundle (the runtime
// bitcode is optimized with the model), so the sliding kernels exist for
// the fixed point's fast form only (convolutions' multipliers) and take the
// output's signedness at run time; the rest (the general form, dilated
// rows, stride 3) runs the per-tap kernel, not unrolled.
//
//===----------------------------------------------------------------------===//
#include "FixedPoint.h"
#include "QDepthwise.h"

#if defined(__x86_64__)
#include "Simd.h"
#endif

#include <cstring>
#include <type_traits>

namespace ember::cpu::detail {

#if defined(__x86_64__)

namespace {

// The requantization lanes of 8 channels: float32Lanes8 in the float32
// profile (floatScale: the multipliers are f32 bits), else the fixed point.
EMBER_TARGET_AVX2 inline FixedPointLanes8 qdwLanes8(const QDepthwiseConv &t,
                                                    __m256i mult, __m256i shift,
                                                    int32_t zp, bool fast) {
  return t.floatScale ? float32Lanes8(mult, zp)
                      : fixedPointLanes8(mult, shift, zp, fast);
}

size_t u(int64_t v) { return size_t(v); }

// 16 bytes widened to 16 int16 lanes (sign- or zero-extended).
template <bool Signed>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
widen16(__m128i v) {
  return Signed ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
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
  // [pair][half]: channels 0-7, 8-15; an odd last tap pairs with zeros.
  __m256i pair[kQdwAvx2MaxTaps + 2];
  __m256i bias[2];
  FixedPointLanes8 lanes[2];
};

// Accumulators of one pixel's 16 channels over the `count` taps at tap(i).
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
    // The last tap paired with itself, against a zero second weight.
    __m128i xa = load16(tap(count - 1));
    a2 = _mm256_add_epi32(
        a2, _mm256_madd_epi16(widen16<Signed>(_mm_unpacklo_epi8(xa, xa)),
                              b.pair[2 * pairs]));
    a3 = _mm256_add_epi32(
        a3, _mm256_madd_epi16(widen16<Signed>(_mm_unpackhi_epi8(xa, xa)),
                              b.pair[2 * pairs + 1]));
  }
  lo = _mm256_add_epi32(a0, a2);
  hi = _mm256_add_epi32(a1, a3);
}

// Requantizes 16 channels' accumulators and stores them as bytes (s8 when
// ysg), clamped to [blo, bhi] (the type's range when nothing is
// fused: then a no-op); with i32 (ConvInteger) stores them as they are.
template <bool Fast>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
store16(uint8_t *yp, __m256i lo, __m256i hi, const Block &b, __m128i blo,
        __m128i bhi, bool ysg, bool i32) {
  if (i32) {
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(yp), lo);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(yp + 32), hi);
    return;
  }
  __m256i r0 = mbqmZp8<Fast>(lo, b.lanes[0]);
  __m256i r1 = mbqmZp8<Fast>(hi, b.lanes[1]);
  // int16 [0-3, 8-11 | 4-7, 12-15] -> channel order, then bytes.
  __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(r0, r1), 0xD8);
  __m128i wl = _mm256_castsi256_si128(w), wh = _mm256_extracti128_si256(w, 1);
  __m128i v;
  if (ysg)
    v = _mm_min_epi8(_mm_max_epi8(_mm_packs_epi16(wl, wh), blo), bhi);
  else
    v = _mm_min_epu8(_mm_max_epu8(_mm_packus_epi16(wl, wh), blo), bhi);
  _mm_storeu_si128(reinterpret_cast<__m128i *>(yp), v);
}

// `count` interior pixels from the window origin `base` (one pixel every
// xs bytes) into yp (one every ldy bytes).
template <bool Fast, bool Signed>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
interior(const Block &b, const uint8_t *base, size_t xs, const ptrdiff_t *off,
         size_t nt, uint8_t *yp, size_t ldy, size_t count, __m128i blo,
         __m128i bhi, bool ysg, bool i32) {
  for (size_t i = 0; i < count; ++i, base += xs, yp += ldy) {
    __m256i lo, hi;
    accumulate<Signed>(
        b, nt, [&](size_t k) { return base + off[k]; }, lo, hi);
    store16<Fast>(yp, lo, hi, b, blo, bhi, ysg, i32);
  }
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
  const size_t es = q.i32 ? sizeof(int32_t) : 1; // y's element bytes
  uint8_t *y = t.y + (n * C * OH * OW + oh * OW * C) * es;
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
  const __m128i blo = _mm_set1_epi8(char(q.lo)),
                bhi = _mm_set1_epi8(char(q.hi));
  const bool perChannel = t.scaleCount > 1 && !q.i32;
  FixedPointLanes8 tensorLanes{};
  if (!perChannel && !q.i32)
    tensorLanes = qdwLanes8(t, _mm256_set1_epi32(t.multiplier[0]),
                            _mm256_set1_epi32(t.shift[0]), q.zp, Fast);
  const __m256i vxzp = _mm256_set1_epi32(xzp);
  const size_t xs = size_t(SW) * C;

  alignas(32) Block b;
  for (size_t c0 = cBegin; c0 < cEnd; c0 += 16) {
    const size_t cb = c0 + 16 <= cEnd ? c0 : cEnd - 16;
    // Paired weights: dword j of half h is channel cb + 8h + j's two taps
    // (an odd last tap with a zero). Their sum per channel (for the folded
    // bias) is one vpmaddwd by ones per pair.
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i wsum[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
    for (size_t p = 0; p < (nt + 1) / 2; ++p) {
      const int16_t *wa = w + taps.k[2 * p] * C + cb;
      const int16_t *wb =
          2 * p + 1 < nt ? w + taps.k[2 * p + 1] * C + cb : nullptr;
      for (size_t h = 0; h < 2; ++h) {
        __m128i va =
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(wa + 8 * h));
        __m128i vb =
            wb ? _mm_loadu_si128(reinterpret_cast<const __m128i *>(wb + 8 * h))
               : _mm_setzero_si128();
        __m256i pw = _mm256_set_m128i(_mm_unpackhi_epi16(va, vb),
                                      _mm_unpacklo_epi16(va, vb));
        b.pair[2 * p + h] = pw;
        wsum[h] = _mm256_add_epi32(wsum[h], _mm256_madd_epi16(pw, ones));
      }
    }
    for (size_t h = 0; h < 2; ++h) {
      __m256i bv = _mm256_loadu_si256(
          reinterpret_cast<const __m256i *>(bias + cb + 8 * h));
      b.bias[h] = _mm256_sub_epi32(bv, _mm256_mullo_epi32(wsum[h], vxzp));
      b.lanes[h] =
          perChannel
              ? qdwLanes8(t,
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
        uint8_t *yp = y + (ow * C + cb) * es;
        const size_t cnt = owB - owA;
        interior<Fast, Signed>(b, base, xs, taps.off, nt, yp, C * es, cnt, blo,
                               bhi, q.sgn, q.i32);
        ow = owB;
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
      store16<Fast>(y + (ow * C + cb) * es, lo, hi, b, blo, bhi, q.sgn, q.i32);
    }
  }
}

EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
load8x32(const int32_t *p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
}

// Requantizes 8 channels' accumulators and stores them as bytes (s8 when
// YSigned), clamped to [blo, bhi] (the type's range when nothing is
// fused: then a no-op).
template <bool Fast, bool YSigned>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
store8(uint8_t *yp, __m256i acc, const FixedPointLanes8 &lanes, __m128i blo,
       __m128i bhi) {
  __m256i r = mbqmZp8<Fast>(acc, lanes);
  __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(r),
                              _mm256_extracti128_si256(r, 1));
  __m128i v;
  if (YSigned)
    v = _mm_min_epi8(_mm_max_epi8(_mm_packs_epi16(w, w), blo), bhi);
  else
    v = _mm_min_epu8(_mm_max_epu8(_mm_packus_epi16(w, w), blo), bhi);
  _mm_storel_epi64(reinterpret_cast<__m128i *>(yp), v);
}

// 3x3, dilation 1 along rows, stride 1 or 2, an output row whose three
// input rows are inside x: blocks of 8 channels with the window in
// registers. Each input column is two vectors, rows 0 and 1 paired and row
// 2 paired with itself (against a zero weight), made once and kept while
// the window slides: three output pixels read each at stride 1, one or
// two at stride 2. Columns outside x are zp (cancelled by the folded
// bias). Per 8 channels and pixel at stride 1: three 8-byte loads, four
// shuffles to make the column, six vpmaddwd, the requantization; the
// weights and the window stay in registers (the per-tap kernel above
// reloads both, and the vector loads, two a cycle on Zen 4, bound it).
//
// Software-pipelined: a column's bytes are loaded a step before they are
// widened, and pixel o - 1 is requantized and stored after pixel o's taps.
// Each pixel is a long chain (load, shuffles, multiply-adds, the
// requantization, packs), and the FP scheduler (64 entries on Zen 4) fills
// with the ops waiting on it: then it, not the pipes, sets the pace.

// An input column's bytes for 8 channels of the three rows (zp outside x).
struct Raw3 {
  __m128i a, b, c;
};

EMBER_TARGET_AVX2 __attribute__((always_inline)) inline Raw3
raw3(const uint8_t *const r[3], int64_t iw, int64_t W, size_t C, __m128i zp) {
  if (iw < 0 || iw >= W)
    return {zp, zp, zp};
  const size_t off = size_t(iw) * C;
  return {_mm_loadl_epi64(reinterpret_cast<const __m128i *>(r[0] + off)),
          _mm_loadl_epi64(reinterpret_cast<const __m128i *>(r[1] + off)),
          _mm_loadl_epi64(reinterpret_cast<const __m128i *>(r[2] + off))};
}

// The column's vectors: rows 0 and 1 paired, row 2 with itself.
template <bool Signed>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
widen3(const Raw3 &x, __m256i &p01, __m256i &p2) {
  __m128i ab = _mm_unpacklo_epi8(x.a, x.b), cc = _mm_unpacklo_epi8(x.c, x.c);
  p01 = Signed ? _mm256_cvtepi8_epi16(ab) : _mm256_cvtepu8_epi16(ab);
  p2 = Signed ? _mm256_cvtepi8_epi16(cc) : _mm256_cvtepu8_epi16(cc);
}

template <bool Fast, bool Signed, size_t SW>
EMBER_TARGET_AVX2 void qdw3x3Avx2(const QDepthwiseConv &t, const QdwParams &q,
                                  size_t n, size_t oh, size_t cBegin,
                                  size_t cEnd) {
  const size_t C = u(t.channels), H = u(t.height), W = u(t.width),
               OH = u(t.outHeight), OW = u(t.outWidth);
  const int64_t PL = t.padLeft, Wi = int64_t(W);
  const bool ysg = q.sgn;
  const uint8_t *x = t.x + n * C * H * W;
  uint8_t *y = t.y + n * C * OH * OW + oh * OW * C;
  const int16_t *w = reinterpret_cast<const int16_t *>(t.packed);
  const int32_t *bias =
      reinterpret_cast<const int32_t *>(t.packed + u(t.biasOffset));
  const int32_t xzp = int32_t(t.xZeroPoint);
  const uint8_t *rows[3];
  for (int64_t kh = 0; kh < 3; ++kh)
    rows[kh] =
        x +
        size_t(int64_t(oh) * t.strideH - t.padTop + kh * t.dilationH) * W * C;
  const __m128i blo = _mm_set1_epi8(char(q.lo)),
                bhi = _mm_set1_epi8(char(q.hi));
  const bool perChannel = t.scaleCount > 1;
  FixedPointLanes8 lanes;
  if (!perChannel)
    lanes = qdwLanes8(t, _mm256_set1_epi32(t.multiplier[0]),
                      _mm256_set1_epi32(t.shift[0]), q.zp, Fast);
  const __m128i zpb = _mm_set1_epi8(char(xzp));
  for (size_t c0 = cBegin; c0 < cEnd; c0 += 8) {
    const size_t cb = c0 + 8 <= cEnd ? c0 : cEnd - 8;
    // Weights: column kw's rows 0 and 1 word-interleaved, row 2 with 0.
    __m256i wp[3], ws[3], wsum = _mm256_setzero_si256();
    for (size_t kw = 0; kw < 3; ++kw) {
      auto ld = [&](size_t kh) {
        return _mm_loadu_si128(
            reinterpret_cast<const __m128i *>(w + (kh * 3 + kw) * C + cb));
      };
      __m128i a = ld(0), b = ld(1), c = ld(2), z = _mm_setzero_si128();
      wp[kw] =
          _mm256_set_m128i(_mm_unpackhi_epi16(a, b), _mm_unpacklo_epi16(a, b));
      ws[kw] =
          _mm256_set_m128i(_mm_unpackhi_epi16(c, z), _mm_unpacklo_epi16(c, z));
      wsum = _mm256_add_epi32(
          wsum, _mm256_cvtepi16_epi32(_mm_add_epi16(_mm_add_epi16(a, b), c)));
    }
    const __m256i bv = _mm256_sub_epi32(
        load8x32(bias + cb), _mm256_mullo_epi32(wsum, _mm256_set1_epi32(xzp)));
    if (perChannel)
      lanes = qdwLanes8(t, load8x32(t.multiplier + cb), load8x32(t.shift + cb),
                        q.zp, Fast);
    const uint8_t *r[3] = {rows[0] + cb, rows[1] + cb, rows[2] + cb};
    uint8_t *yp = y + cb;
    int64_t iw = -PL;
    __m256i p0, s0, p1 = _mm256_setzero_si256(), s1 = p1, p2, s2;
    widen3<Signed>(raw3(r, iw, Wi, C, zpb), p0, s0);
    // The next step's columns: iw + 2 (stride 1); iw + 1 and + 2 (2).
    Raw3 na = raw3(r, iw + 1, Wi, C, zpb), nb;
    if (SW == 1) {
      widen3<Signed>(na, p1, s1);
      nb = raw3(r, iw + 2, Wi, C, zpb);
    } else {
      nb = raw3(r, iw + 2, Wi, C, zpb);
    }
    __m256i prev = bv;
    for (size_t o = 0; o < OW; ++o, yp += C, iw += int64_t(SW)) {
      if (SW == 2) {
        widen3<Signed>(na, p1, s1);
        na = raw3(r, iw + 3, Wi, C, zpb);
      }
      widen3<Signed>(nb, p2, s2);
      nb = raw3(r, iw + 2 + int64_t(SW), Wi, C, zpb);
      __m256i a = _mm256_add_epi32(bv, _mm256_madd_epi16(p0, wp[0]));
      __m256i b = _mm256_madd_epi16(s0, ws[0]);
      a = _mm256_add_epi32(a, _mm256_madd_epi16(p1, wp[1]));
      b = _mm256_add_epi32(b, _mm256_madd_epi16(s1, ws[1]));
      a = _mm256_add_epi32(a, _mm256_madd_epi16(p2, wp[2]));
      b = _mm256_add_epi32(b, _mm256_madd_epi16(s2, ws[2]));
      if (o > 0)
        (ysg ? store8<Fast, true>(yp - C, prev, lanes, blo, bhi)
             : store8<Fast, false>(yp - C, prev, lanes, blo, bhi));
      prev = _mm256_add_epi32(a, b);
      if (SW == 1) {
        p0 = p1, s0 = s1;
        p1 = p2, s1 = s2;
      } else {
        p0 = p2, s0 = s2;
      }
    }
    if (OW > 0)
      (ysg ? store8<Fast, true>(yp - C, prev, lanes, blo, bhi)
           : store8<Fast, false>(yp - C, prev, lanes, blo, bhi));
  }
}

// KH x KW (KW = 3, 5 or 7; any KH, and 3x3 rows with an input row outside
// x), dilation 1 along rows, stride 1 or 2: blocks of 8 channels, the
// kernel rows in pairs (a lone last row paired with itself
// against zero weights), one pass over the output chunk per pair. A pass
// keeps its KW columns of the pair and its KW weights in registers and
// slides along the row: each input column is loaded and widened once per
// pair (the per-tap kernel does it for every tap of every pixel), and the
// pixels' partial sums wait in a small buffer between passes; the last
// pass requantizes. Columns outside x are zp (cancelled by the folded
// bias); rows outside x are left out of the pairs and of the folded sum.
template <size_t KW> struct Window { __m256i c[KW]; };

// Two rows' column iw of 8 channels as int16 pairs (zp outside x).
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
pairColumn(const uint8_t *ra, const uint8_t *rb, int64_t iw, int64_t W,
           size_t C, __m128i zp, bool sgn) {
  __m128i a = zp, b = zp;
  if (iw >= 0 && iw < W) {
    a = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(ra + size_t(iw) * C));
    b = _mm_loadl_epi64(reinterpret_cast<const __m128i *>(rb + size_t(iw) * C));
  }
  __m128i v = _mm_unpacklo_epi8(a, b);
  return sgn ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
}

template <bool Fast, size_t KW, size_t SW>
EMBER_TARGET_AVX2 void qdwPassesAvx2(const QDepthwiseConv &t,
                                     const QdwParams &q, size_t n, size_t oh,
                                     size_t cBegin, size_t cEnd) {
  const size_t C = u(t.channels), H = u(t.height), W = u(t.width),
               OH = u(t.outHeight), OW = u(t.outWidth), KH = u(t.kernelH);
  const int64_t PL = t.padLeft, Wi = int64_t(W);
  const bool sgn = t.xSigned != 0, ysg = q.sgn;
  const uint8_t *x = t.x + n * C * H * W;
  uint8_t *y = t.y + n * C * OH * OW + oh * OW * C;
  const int16_t *w = reinterpret_cast<const int16_t *>(t.packed);
  const int32_t *bias =
      reinterpret_cast<const int32_t *>(t.packed + u(t.biasOffset));
  const int32_t xzp = int32_t(t.xZeroPoint);
  size_t rowK[kQdwAvx2MaxTaps];
  const uint8_t *rowX[kQdwAvx2MaxTaps];
  size_t nr = 0;
  for (size_t kh = 0; kh < KH; ++kh) {
    int64_t ih = int64_t(oh) * t.strideH - t.padTop + int64_t(kh) * t.dilationH;
    if (ih >= 0 && ih < int64_t(H)) {
      rowK[nr] = kh;
      rowX[nr++] = x + size_t(ih) * W * C;
    }
  }
  const size_t G = (nr + 1) / 2;
  const __m128i blo = _mm_set1_epi8(char(q.lo)),
                bhi = _mm_set1_epi8(char(q.hi));
  const bool perChannel = t.scaleCount > 1;
  FixedPointLanes8 lanes;
  if (!perChannel)
    lanes = qdwLanes8(t, _mm256_set1_epi32(t.multiplier[0]),
                      _mm256_set1_epi32(t.shift[0]), q.zp, Fast);
  const __m128i zpb = _mm_set1_epi8(char(xzp));
  const __m256i ones = _mm256_set1_epi16(1);
  constexpr size_t kChunk = 64;
  alignas(32) __m256i part[kChunk];
  alignas(32) __m256i wt[(kQdwAvx2MaxTaps / 2 + 1) * KW];
  for (size_t c0 = cBegin; c0 < cEnd; c0 += 8) {
    const size_t cb = c0 + 8 <= cEnd ? c0 : cEnd - 8;
    // The pairs' weights (as the per-tap kernel's) and the folded bias.
    __m256i wsum = _mm256_setzero_si256();
    for (size_t g = 0; g < G; ++g)
      for (size_t kw = 0; kw < KW; ++kw) {
        auto at = [&](size_t r) {
          return reinterpret_cast<const __m128i *>(w + (rowK[r] * KW + kw) * C +
                                                   cb);
        };
        __m128i a = _mm_loadu_si128(at(2 * g));
        __m128i b = 2 * g + 1 < nr ? _mm_loadu_si128(at(2 * g + 1))
                                   : _mm_setzero_si128();
        __m256i pw = _mm256_set_m128i(_mm_unpackhi_epi16(a, b),
                                      _mm_unpacklo_epi16(a, b));
        wt[g * KW + kw] = pw;
        wsum = _mm256_add_epi32(wsum, _mm256_madd_epi16(pw, ones));
      }
    const __m256i bv = _mm256_sub_epi32(
        load8x32(bias + cb), _mm256_mullo_epi32(wsum, _mm256_set1_epi32(xzp)));
    if (perChannel)
      lanes = qdwLanes8(t, load8x32(t.multiplier + cb), load8x32(t.shift + cb),
                        q.zp, Fast);
    for (size_t o0 = 0; o0 < OW; o0 += kChunk) {
      const size_t cnt = std::min(kChunk, OW - o0);
      uint8_t *yc = y + o0 * C + cb;
      if (G == 0) { // no input row: the bias alone
        for (size_t o = 0; o < cnt; ++o)
          ysg ? store8<Fast, true>(yc + o * C, bv, lanes, blo, bhi)
              : store8<Fast, false>(yc + o * C, bv, lanes, blo, bhi);
        continue;
      }
      for (size_t g = 0; g < G; ++g) {
        const uint8_t *ra = rowX[2 * g] + cb;
        const uint8_t *rb =
            (2 * g + 1 < nr ? rowX[2 * g + 1] : rowX[2 * g]) + cb;
        __m256i wr[KW];
        for (size_t k = 0; k < KW; ++k)
          wr[k] = wt[g * KW + k];
        const bool first = g == 0, last = g + 1 == G;
        int64_t iw = int64_t(o0 * SW) - PL;
        Window<KW> win;
        for (size_t k = 0; k + SW < KW; ++k)
          win.c[k] = pairColumn(ra, rb, iw + int64_t(k), Wi, C, zpb, sgn);
        for (size_t o = 0; o < cnt; ++o, iw += int64_t(SW)) {
          for (size_t k = KW - SW; k < KW; ++k)
            win.c[k] = pairColumn(ra, rb, iw + int64_t(k), Wi, C, zpb, sgn);
          __m256i a = first ? bv : part[o];
          __m256i b = _mm256_setzero_si256();
          for (size_t k = 0; k < KW; ++k) {
            __m256i p = _mm256_madd_epi16(win.c[k], wr[k]);
            if (k % 2)
              b = _mm256_add_epi32(b, p);
            else
              a = _mm256_add_epi32(a, p);
          }
          a = _mm256_add_epi32(a, b);
          if (!last)
            part[o] = a;
          else if (ysg)
            store8<Fast, true>(yc + o * C, a, lanes, blo, bhi);
          else
            store8<Fast, false>(yc + o * C, a, lanes, blo, bhi);
          for (size_t k = 0; k + SW < KW; ++k)
            win.c[k] = win.c[k + SW];
        }
      }
    }
  }
}

} // namespace

void qdepthwiseRowAvx2Nhwc(const QDepthwiseConv &t, const QdwParams &q,
                           size_t n, size_t oh, size_t cBegin, size_t cEnd) {
  using Row = void (*)(const QDepthwiseConv &, const QdwParams &, size_t,
                       size_t, size_t, size_t);
  // [fast form][s8 x]
  static constexpr Row kRows[4] = {
      qdwRowAvx2<false, false>, qdwRowAvx2<false, true>,
      qdwRowAvx2<true, false>, qdwRowAvx2<true, true>};
  // [stride 2][s8 x]
  static constexpr Row k3x3[4] = {
      qdw3x3Avx2<true, false, 1>, qdw3x3Avx2<true, true, 1>,
      qdw3x3Avx2<true, false, 2>, qdw3x3Avx2<true, true, 2>};
  // [kernel 3, 5, 7][stride 2]
  static constexpr Row kPasses[6] = {
      qdwPassesAvx2<true, 3, 1>, qdwPassesAvx2<true, 3, 2>,
      qdwPassesAvx2<true, 5, 1>, qdwPassesAvx2<true, 5, 2>,
      qdwPassesAvx2<true, 7, 1>, qdwPassesAvx2<true, 7, 2>};
  // The sliding kernels take the fast fixed-point form only (what
  // convolutions' multipliers, below 1/4, have): the general one is rare
  // and each kernel instance is compiled again into every AOT bundle.
  const bool slides = !q.i32 && q.fast && t.dilationW == 1 &&
                      (t.strideW == 1 || t.strideW == 2);
  // The sliding 3x3 kernel when its three input rows are inside x.
  const int64_t ih0 = int64_t(oh) * t.strideH - t.padTop;
  if (t.kernelH == 3 && t.kernelW == 3 && slides && ih0 >= 0 &&
      ih0 + 2 * t.dilationH < t.height)
    return k3x3[(t.strideW == 2 ? 2 : 0) + (t.xSigned ? 1 : 0)](t, q, n, oh,
                                                                cBegin, cEnd);
  // 3, 5 or 7 columns: a pass per pair of kernel rows (3x3: the rows with
  // an input row outside x).
  if ((t.kernelW == 3 || t.kernelW == 5 || t.kernelW == 7) && slides)
    return kPasses[size_t(t.kernelW - 3) + (t.strideW == 2 ? 1 : 0)](
        t, q, n, oh, cBegin, cEnd);
  kRows[(q.fast ? 2 : 0) + (t.xSigned ? 1 : 0)](t, q, n, oh, cBegin, cEnd);
}

#endif // __x86_64__

} // namespace ember::cpu::detail

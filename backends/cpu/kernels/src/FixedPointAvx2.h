//===- FixedPointAvx2.h - Ember's requantization on 8 lanes ----*- C++ -*-===//
//
// FixedPoint.h's MBQM + zero point on 8 int32 lanes with AVX2, bit for bit
// the same function (ember/quant/Arith.h): the same two forms, fast and
// general, chosen by the same fixedPointFast (FixedPoint.h).
//
//   - vpmuldq exists on AVX2 (_mm256_mul_epi32): even and odd lanes are
//     two 64-bit products, as on 16 lanes;
//   - fast form: the products' high dwords (one vpshufd and one vpblendd),
//     plus (2 zp + 1) 2^(t - 33), shifted right by t - 32 (vpsravd);
//   - general form: AVX2 has no 64-bit arithmetic shift (vpsravq) and no
//     64-bit min/max, so floor(v / 2^t) is ((v ^ s) >>> t) ^ s with s the
//     sign mask (vpcmpgtq; for v < 0, ~v = -v - 1 >= 0 and the complement
//     of its floor quotient is floor(v / 2^t)), and the int32 saturation
//     is two vpcmpgtq + vpblendvb.
//
// Written for the int8 depthwise kernels (QDepthwiseAvx2.cpp). Kept apart
// from FixedPoint.h so that another AVX2 int8 kernel's 8-lane form can be
// reconciled with it in one place.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_FIXEDPOINTAVX2_H
#define EMBER_CPU_KERNELS_FIXEDPOINTAVX2_H

#include "FixedPoint.h"

#if defined(__x86_64__)

namespace ember::cpu::detail {

/// The constants of 8 lanes' requantization.
struct FixedPointLanes8 {
  __m256i multEven;            ///< multipliers (vpmuldq reads the even dwords)
  __m256i multOdd;             ///< odd multipliers moved to the even dwords
  __m256i addEven, addOdd;     ///< 2^(t - 1) per 64-bit lane (general form)
  __m256i addHigh;             ///< (2 zp + 1) 2^(t - 33) per dword (fast)
  __m256i totalEven, totalOdd; ///< t per 64-bit lane (general form)
  __m256i fastShift;           ///< t - 32 per dword (fast form)
  __m256i zeroPoint;           ///< zp per dword (general form)
};

/// Lanes for 8 multipliers and shifts (one per lane; broadcast them for a
/// per-tensor table) and the output zero point, for the fast form (every
/// lane satisfies fixedPointFast) or the general one.
EMBER_TARGET_AVX2 inline FixedPointLanes8
fixedPointLanes8(__m256i mult, __m256i shift, int32_t zp, bool fast) {
  FixedPointLanes8 l;
  const __m256i e = _mm256_min_epi32(
      _mm256_max_epi32(shift, _mm256_set1_epi32(-31)), _mm256_set1_epi32(30));
  const __m256i t = _mm256_sub_epi32(_mm256_set1_epi32(31), e);
  l.multEven = mult;
  l.multOdd = _mm256_srli_epi64(mult, 32);
  l.totalEven = _mm256_and_si256(t, _mm256_set1_epi64x(0xFFFFFFFFll));
  l.totalOdd = _mm256_srli_epi64(t, 32);
  const __m256i one = _mm256_set1_epi64x(1);
  l.addEven = _mm256_sllv_epi64(one, _mm256_sub_epi64(l.totalEven, one));
  l.addOdd = _mm256_sllv_epi64(one, _mm256_sub_epi64(l.totalOdd, one));
  l.addHigh =
      fast ? _mm256_sllv_epi32(_mm256_set1_epi32(2 * zp + 1),
                               _mm256_sub_epi32(t, _mm256_set1_epi32(33)))
           : _mm256_setzero_si256();
  l.fastShift = _mm256_sub_epi32(t, _mm256_set1_epi32(32));
  l.zeroPoint = _mm256_set1_epi32(zp);
  return l;
}

/// floor(v / 2^t) of four int64 lanes, t in [0, 63] per lane.
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
sraEpi64(__m256i v, __m256i t) {
  const __m256i s = _mm256_cmpgt_epi64(_mm256_setzero_si256(), v);
  return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(v, s), t), s);
}

/// Four int64 lanes saturated to int32 (still 64-bit lanes).
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
saturateEpi64ToInt32(__m256i v) {
  const __m256i lo = _mm256_set1_epi64x(INT32_MIN);
  const __m256i hi = _mm256_set1_epi64x(INT32_MAX);
  v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
  return _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
}

/// MBQM(x) + zp (int32 wraparound) on 8 lanes: quant::requantize before
/// its clamp. Fast needs lanes made for the fast form.
template <bool Fast>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
mbqmZp8(__m256i x, const FixedPointLanes8 &l) {
  const __m256i xOdd = _mm256_srli_epi64(x, 32);
  __m256i pe = _mm256_mul_epi32(x, l.multEven);
  __m256i po = _mm256_mul_epi32(xOdd, l.multOdd);
  if constexpr (Fast) {
    // High dwords: already in place for the odd lanes; the even lanes take
    // pe's (moved down by one vpshufd).
    __m256i hi = _mm256_blend_epi32(po, _mm256_shuffle_epi32(pe, 0xF5), 0x55);
    return _mm256_srav_epi32(_mm256_add_epi32(hi, l.addHigh), l.fastShift);
  } else {
    pe = saturateEpi64ToInt32(
        sraEpi64(_mm256_add_epi64(pe, l.addEven), l.totalEven));
    po = saturateEpi64ToInt32(
        sraEpi64(_mm256_add_epi64(po, l.addOdd), l.totalOdd));
    return _mm256_add_epi32(
        _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA), l.zeroPoint);
  }
}

} // namespace ember::cpu::detail

#endif // __x86_64__

#endif // EMBER_CPU_KERNELS_FIXEDPOINTAVX2_H

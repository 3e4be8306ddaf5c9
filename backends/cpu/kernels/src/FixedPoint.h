//===- FixedPoint.h - Ember's requantization on 16 lanes -------*- C++ -*-===//
//
// Ember's int8 arithmetic is defined once, in ember/quant/Arith.h
// (docs/quantization.md): MBQM(x, m, e) = floor((x * m + 2^(t - 1)) / 2^t)
// with t = 31 - clamp(e, -31, 30), a 64-bit product and one rounding, half
// up, saturated to int32. The scalar tails of the kernels call Arith.h
// itself; this header is the same function on 16 int32 lanes with AVX-512,
// bit for bit:
//
//   - vpmuldq multiplies the even dwords of a vector into 64-bit lanes, so
//     the even and odd lanes are two products (the odd ones shifted down
//     first);
//   - the fast form, when every lane has t >= 33 and the output zero point
//     is small enough that nothing below can overflow (fixedPointFast;
//     e <= -2 means a real multiplier below 1/4, what convolutions almost
//     always have): with C = (2 zp + 1) 2^(t - 1), floor((x * m + C) /
//     2^t) = MBQM + zp (no saturation or wraparound can occur). C is a
//     multiple of 2^32, so that is (hi32(x * m) + C / 2^32) >> (t - 32),
//     hi32 the high dword of the 64-bit product: one merged vpshufd
//     gathers the high dwords, one vpaddd and one vpsravd finish, the zero
//     point included;
//   - otherwise (the `General` form) each 64-bit lane adds 2^(t - 1),
//     shifts by t (vpsraq) and saturates to int32 before the halves are
//     merged and the zero point is added (wrapping).
//
// The per-channel constants (FixedPointLanes) depend only on the
// multiplier, the shift and the zero point, so a kernel computes them once
// per 16 columns and reuses them for every row.
//
// Lanes made by float32Lanes (the float32 requantization profile,
// quant::requantizeFloat32) compute rne(f32(x) * scale) + zp instead, the
// product clamped to [-2^30, 2^30] (NaN to -2^30) first, wherever the
// kernels call mbqmZp16/requant16 (and the 8-lane forms).
//
// The 8-lane AVX2 form (FixedPointLanes8, mbqmZp8) is the same function:
// AVX2 has vpmuldq, vpsravd and vpblendd, but no 64-bit arithmetic shift or
// 64-bit min/max, so the general form shifts logically around a complement
// (sra64x4) and saturates with vpcmpgtq + vpblendvb (sat32x4).
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_FIXEDPOINT_H
#define EMBER_CPU_KERNELS_FIXEDPOINT_H

#include "Internal.h"

#include "ember/quant/Arith.h"

#if defined(__x86_64__)
#include "Simd.h"
#endif

namespace ember::cpu::detail {

/// Whether the fast form of requant16 applies to every entry of a table of
/// shifts with output zero point zp: t = 31 - clamp(e) >= 33 (e <= -2) and
/// |2 zp + 1| 2^(t - 1) <= 2^61, so that |C / 2^32| <= 2^29 and
/// hi32(x * m) + C / 2^32 fits int32 (|x * m| <= 2^62).
inline bool fixedPointFast(const int32_t *shift, size_t count, int32_t zp) {
  const int64_t z = 2 * static_cast<int64_t>(zp) + 1;
  const uint64_t mag = static_cast<uint64_t>(z < 0 ? -z : z);
  for (size_t i = 0; i < count; ++i) {
    const int32_t e = shift[i] < -31 ? -31 : shift[i];
    if (e > -2)
      return false;
    const int t = 31 - e; // 33..62
    if (mag > (uint64_t(1) << 61) >> (t - 1))
      return false;
  }
  return true;
}

#if defined(__x86_64__)

/// The constants of 16 lanes' requantization (64-byte aligned; 7 vectors).
struct FixedPointLanes {
  __m512i multEven;            ///< multipliers (vpmuldq reads the even dwords)
  __m512i multOdd;             ///< odd multipliers moved to the even dwords
  __m512i addEven, addOdd;     ///< 2^(t - 1) per 64-bit lane (general form)
  __m512i addHigh;             ///< (2 zp + 1) 2^(t - 33) per dword (fast)
  __m512i totalEven, totalOdd; ///< t per 64-bit lane (general form)
  __m512i fastShift;           ///< t - 32 per dword (fast form)
  __m512i zeroPoint;           ///< zp per dword (general form)
  __m512 scale;                ///< float32 profile: the f32 multipliers
  bool float32 = false;        ///< made by float32Lanes
};

/// Lanes for 16 multipliers and shifts (one per lane; broadcast them for a
/// per-tensor table) and the output zero point, for the fast form (every
/// lane satisfies fixedPointFast) or the general one.
EMBER_TARGET_AVX512 inline FixedPointLanes
fixedPointLanes(__m512i mult, __m512i shift, int32_t zp, bool fast) {
  FixedPointLanes l;
  const __m512i e = _mm512_min_epi32(
      _mm512_max_epi32(shift, _mm512_set1_epi32(-31)), _mm512_set1_epi32(30));
  const __m512i t = _mm512_sub_epi32(_mm512_set1_epi32(31), e);
  l.multEven = mult;
  l.multOdd = _mm512_srli_epi64(mult, 32);
  l.totalEven = _mm512_and_si512(t, _mm512_set1_epi64(0xFFFFFFFFll));
  l.totalOdd = _mm512_srli_epi64(t, 32);
  const __m512i one = _mm512_set1_epi64(1);
  l.addEven = _mm512_sllv_epi64(one, _mm512_sub_epi64(l.totalEven, one));
  l.addOdd = _mm512_sllv_epi64(one, _mm512_sub_epi64(l.totalOdd, one));
  l.addHigh =
      fast ? _mm512_sllv_epi32(_mm512_set1_epi32(2 * zp + 1),
                               _mm512_sub_epi32(t, _mm512_set1_epi32(33)))
           : _mm512_setzero_si512();
  l.fastShift = _mm512_sub_epi32(t, _mm512_set1_epi32(32));
  l.zeroPoint = _mm512_set1_epi32(zp);
  return l;
}

/// Lanes of the float32 profile: 16 f32 multipliers (their bits, as the
/// requantization tables hold them) and the output zero point.
EMBER_TARGET_AVX512 inline FixedPointLanes float32Lanes(__m512i scaleBits,
                                                        int32_t zp) {
  FixedPointLanes l{};
  l.scale = _mm512_castsi512_ps(scaleBits);
  l.zeroPoint = _mm512_set1_epi32(zp);
  l.float32 = true;
  return l;
}

/// MBQM(x) + zp (int32 wraparound) on 16 lanes: quant::requantize before
/// its clamp (float32 lanes: quant::requantizeFloat32 before its clamp).
/// Fast needs lanes made for the fast form.
template <bool Fast>
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline __m512i
mbqmZp16(__m512i x, const FixedPointLanes &l) {
  if (l.float32) {
    const __m512 lim = _mm512_set1_ps(1073741824.0f);
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(x), l.scale);
    f = _mm512_min_ps(_mm512_max_ps(f, _mm512_sub_ps(_mm512_setzero_ps(), lim)),
                      lim); // max_ps gives its second operand for a NaN
    return _mm512_add_epi32(
        _mm512_cvt_roundps_epi32(f,
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
        l.zeroPoint);
  }
  const __m512i xOdd = _mm512_srli_epi64(x, 32);
  __m512i pe = _mm512_mul_epi32(x, l.multEven);
  __m512i po = _mm512_mul_epi32(xOdd, l.multOdd);
  if constexpr (Fast) {
    // High dwords: floor(p / 2^32), already in place for the odd lanes;
    // the even lanes take pe's (one vpshufd merged into po).
    __m512i hi =
        _mm512_mask_shuffle_epi32(po, __mmask16(0x5555), pe, _MM_PERM_DDBB);
    return _mm512_srav_epi32(_mm512_add_epi32(hi, l.addHigh), l.fastShift);
  } else {
    pe = _mm512_add_epi64(pe, l.addEven);
    po = _mm512_add_epi64(po, l.addOdd);
    const __m512i lo32 = _mm512_set1_epi64(INT32_MIN);
    const __m512i hi32 = _mm512_set1_epi64(INT32_MAX);
    pe = _mm512_srav_epi64(pe, l.totalEven);
    po = _mm512_srav_epi64(po, l.totalOdd);
    pe = _mm512_min_epi64(_mm512_max_epi64(pe, lo32), hi32);
    po = _mm512_min_epi64(_mm512_max_epi64(po, lo32), hi32);
    return _mm512_add_epi32(_mm512_mask_blend_epi32(__mmask16(0xAAAA), pe,
                                                    _mm512_slli_epi64(po, 32)),
                            l.zeroPoint);
  }
}

/// quant::requantize on 16 lanes: mbqmZp16 clamped to [lo, hi] (lo <= hi;
/// callers pass hi = max(lo, hi) as Arith.h does).
template <bool Fast>
EMBER_TARGET_AVX512 __attribute__((always_inline)) inline __m512i
requant16(__m512i x, const FixedPointLanes &l, __m512i lo, __m512i hi) {
  return _mm512_min_epi32(_mm512_max_epi32(mbqmZp16<Fast>(x, l), lo), hi);
}

/// The same on 8 lanes with AVX2 (the int8 GEMM's AVX2 tile): the constants
/// of 8 lanes' requantization (9 vectors).
struct FixedPointLanes8 {
  __m256i multEven, multOdd, addEven, addOdd, addHigh, totalEven, totalOdd,
      fastShift, zeroPoint;
  __m256 scale;         ///< float32 profile: the f32 multipliers
  bool float32 = false; ///< made by float32Lanes8
};

/// float32Lanes on 8 lanes.
EMBER_TARGET_AVX2 inline FixedPointLanes8 float32Lanes8(__m256i scaleBits,
                                                        int32_t zp) {
  FixedPointLanes8 l{};
  l.scale = _mm256_castsi256_ps(scaleBits);
  l.zeroPoint = _mm256_set1_epi32(zp);
  l.float32 = true;
  return l;
}

/// fixedPointLanes on 8 lanes.
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

/// floor(p / 2^t) of 64-bit lanes, t in [1, 62] (AVX2 has no vpsravq):
/// the logical shift of p, or of ~p for negative p, complemented back.
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
sra64x4(__m256i p, __m256i t) {
  const __m256i neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), p);
  return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(p, neg), t), neg);
}

/// 64-bit lanes saturated to [INT32_MIN, INT32_MAX].
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
sat32x4(__m256i p) {
  const __m256i lo = _mm256_set1_epi64x(INT32_MIN);
  const __m256i hi = _mm256_set1_epi64x(INT32_MAX);
  p = _mm256_blendv_epi8(p, hi, _mm256_cmpgt_epi64(p, hi));
  return _mm256_blendv_epi8(p, lo, _mm256_cmpgt_epi64(lo, p));
}

/// mbqmZp16 on 8 lanes: MBQM(x) + zp (int32 wraparound).
template <bool Fast>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
mbqmZp8(__m256i x, const FixedPointLanes8 &l) {
  if (l.float32) {
    const __m256 lim = _mm256_set1_ps(1073741824.0f);
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(x), l.scale);
    f = _mm256_min_ps(_mm256_max_ps(f, _mm256_sub_ps(_mm256_setzero_ps(), lim)),
                      lim); // max_ps gives its second operand for a NaN
    f = _mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm256_add_epi32(_mm256_cvttps_epi32(f), l.zeroPoint);
  }
  const __m256i xOdd = _mm256_srli_epi64(x, 32);
  __m256i pe = _mm256_mul_epi32(x, l.multEven);
  __m256i po = _mm256_mul_epi32(xOdd, l.multOdd);
  if constexpr (Fast) {
    // The high dwords: po's are in place (odd dwords), pe's move down.
    __m256i hi = _mm256_blend_epi32(po, _mm256_shuffle_epi32(pe, 0xF5), 0x55);
    return _mm256_srav_epi32(_mm256_add_epi32(hi, l.addHigh), l.fastShift);
  } else {
    pe = sat32x4(sra64x4(_mm256_add_epi64(pe, l.addEven), l.totalEven));
    po = sat32x4(sra64x4(_mm256_add_epi64(po, l.addOdd), l.totalOdd));
    return _mm256_add_epi32(
        _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA), l.zeroPoint);
  }
}

/// requant16 on 8 lanes.
template <bool Fast>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline __m256i
requant8(__m256i x, const FixedPointLanes8 &l, __m256i lo, __m256i hi) {
  return _mm256_min_epi32(_mm256_max_epi32(mbqmZp8<Fast>(x, l), lo), hi);
}

#endif // __x86_64__

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_FIXEDPOINT_H

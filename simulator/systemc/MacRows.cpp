//===- MacRows.cpp - The SystemC model's row kernels ----------------------===//
#include "MacRows.h"

#include "ember/npu/Arith.h"
#include "ember/quant/Arith.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define EMBER_NPU_HAVE_AVX2_PATH 1
#endif

namespace ember::npu {

using quant::wrapAdd;

bool rowPathAvailable(RowPath path) {
  switch (path) {
  case RowPath::Scalar:
    return true;
  case RowPath::Sse2:
#if defined(__SSE2__)
    return true;
#else
    return false;
#endif
  case RowPath::Avx2:
  case RowPath::AvxVnni:
#if defined(EMBER_NPU_HAVE_AVX2_PATH)
    return __builtin_cpu_supports("avx2") &&
           (path == RowPath::Avx2 || __builtin_cpu_supports("avxvnni"));
#else
    return false;
#endif
  }
  return false;
}

const char *rowPathName(RowPath path) {
  switch (path) {
  case RowPath::Scalar:
    return "scalar";
  case RowPath::Sse2:
    return "sse2";
  case RowPath::Avx2:
    return "avx2";
  case RowPath::AvxVnni:
    return "avxvnni";
  }
  return "?";
}

/// The best available path up to EMBER_NPU_ROW_KERNEL's.
static RowPath choosePath() {
  constexpr RowPath kAll[] = {RowPath::Scalar, RowPath::Sse2, RowPath::Avx2,
                              RowPath::AvxVnni};
  RowPath cap = RowPath::AvxVnni;
  if (const char *env = std::getenv("EMBER_NPU_ROW_KERNEL"); env && *env) {
    bool known = false;
    for (RowPath p : kAll)
      if (std::strcmp(env, rowPathName(p)) == 0) {
        cap = p;
        known = true;
      }
    if (!known)
      std::fprintf(stderr,
                   "warning: EMBER_NPU_ROW_KERNEL=%s is not one of scalar, "
                   "sse2, avx2, avxvnni; ignored (the environment)\n",
                   env);
  }
  RowPath best = RowPath::Scalar;
  for (RowPath p : kAll)
    if (static_cast<int>(p) <= static_cast<int>(cap) && rowPathAvailable(p))
      best = p;
  return best;
}

RowPath bestRowPath() {
  static const RowPath best = choosePath();
  return best;
}

void prepareTile(const int8_t *w, WeightTile &tile, RowPath path) {
  if (path != RowPath::AvxVnni) {
    for (int kp = 0; kp < kDim / 2; ++kp)
      for (int j = 0; j < kDim; ++j)
        for (int t = 0; t < 2; ++t)
          tile.pairs[size_t((kp * kDim + j) * 2 + t)] =
              w[j * kDim + 2 * kp + t];
    return;
  }
  for (int j = 0; j < kDim; ++j) {
    int32_t sum = 0;
    for (int k = 0; k < kDim; ++k) {
      tile.quads[size_t(((k / 4) * kDim + j) * 4 + k % 4)] = w[j * kDim + k];
      sum += w[j * kDim + k];
    }
    tile.offset[size_t(j)] = -128 * sum;
  }
}

/// acc[j] += sum_k a[k] * W[j][k] (wrapping), on the int16 pairs.
static inline void macRowScalar(const int8_t *a, const int16_t *w,
                                int32_t *acc) {
  for (int kp = 0; kp < kDim / 2; ++kp)
    for (int j = 0; j < kDim; ++j)
      acc[j] = wrapAdd(acc[j],
                       int32_t(a[2 * kp]) * w[(kp * kDim + j) * 2] +
                           int32_t(a[2 * kp + 1]) * w[(kp * kDim + j) * 2 + 1]);
}

#if defined(__SSE2__)
/// The same with SSE2's multiply-add of int16 pairs.
static inline void macRowSse2(const int8_t *a, const int16_t *w, int32_t *acc) {
  __m128i sum[kDim / 4];
  for (int q = 0; q < kDim / 4; ++q)
    sum[q] = _mm_loadu_si128(reinterpret_cast<const __m128i *>(acc + 4 * q));
  for (int kp = 0; kp < kDim / 2; ++kp) {
    uint32_t pair =
        static_cast<uint16_t>(int16_t(a[2 * kp])) |
        (static_cast<uint32_t>(static_cast<uint16_t>(int16_t(a[2 * kp + 1])))
         << 16);
    __m128i av = _mm_set1_epi32(static_cast<int>(pair));
    const int16_t *wr = w + kp * kDim * 2;
    for (int q = 0; q < kDim / 4; ++q)
      sum[q] = _mm_add_epi32(
          sum[q],
          _mm_madd_epi16(av, _mm_loadu_si128(reinterpret_cast<const __m128i *>(
                                 wr + 8 * q))));
  }
  for (int q = 0; q < kDim / 4; ++q)
    _mm_storeu_si128(reinterpret_cast<__m128i *>(acc + 4 * q), sum[q]);
}
#endif

#if defined(EMBER_NPU_HAVE_AVX2_PATH)
/// macRow for n consecutive rows with 256-bit multiply-adds of int16 pairs
/// (AVX2). Each block of 16 activations is widened to int16 once; its 8 pairs
/// (a[2p], a[2p + 1]) are the 32-bit lanes of that vector, each broadcast
/// with one permute.
__attribute__((target("avx2"))) static void
macRowsAvx2(const int8_t *act, int64_t n, const int16_t *w, int32_t *acc) {
  constexpr int kPairs = kDim / 2, kOut = kDim / 8;
  __m256i lane[8];
  for (int p = 0; p < 8; ++p)
    lane[p] = _mm256_set1_epi32(p);
  for (int64_t i = 0; i < n; ++i) {
    const int8_t *a = act + i * kDim;
    int32_t *c = acc + i * kDim;
    __m256i sum[kOut];
    for (int q = 0; q < kOut; ++q)
      sum[q] = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(c + 8 * q));
    for (int kb = 0; kb < kPairs; kb += 8) {
      // 16 activations (DIM 8: 8, the upper lanes zero) as int16.
      const __m128i bytes =
          kPairs >= 8
              ? _mm_loadu_si128(reinterpret_cast<const __m128i *>(a + 2 * kb))
              : _mm_loadl_epi64(reinterpret_cast<const __m128i *>(a + 2 * kb));
      const __m256i a16 = _mm256_cvtepi8_epi16(bytes);
      for (int p = 0; p < 8 && kb + p < kPairs; ++p) {
        const __m256i av = _mm256_permutevar8x32_epi32(a16, lane[p]);
        const int16_t *wr = w + (kb + p) * kDim * 2;
        for (int q = 0; q < kOut; ++q)
          sum[q] = _mm256_add_epi32(
              sum[q],
              _mm256_madd_epi16(
                  av, _mm256_loadu_si256(
                          reinterpret_cast<const __m256i *>(wr + 16 * q))));
      }
    }
    for (int q = 0; q < kOut; ++q)
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(c + 8 * q), sum[q]);
  }
}

/// The same with AVX-VNNI: vpdpbusd adds four products of an unsigned and a
/// signed byte to each 32-bit lane. The activations go in offset by 128 (a ^
/// 0x80 is a + 128 as an unsigned byte), and offset[j] = -128 sum_k W[j][k]
/// takes the offset's products out again: sum_k (a_k + 128) W_jk - 128 sum_k
/// W_jk = sum_k a_k W_jk, exactly, in wrapping int32.
__attribute__((target("avx2,avxvnni"))) static void
macRowsVnni(const int8_t *act, int64_t n, const int8_t *quads,
            const int32_t *offset, int32_t *acc) {
  constexpr int kQuads = kDim / 4, kOut = kDim / 8;
  __m256i lane[8], off[kOut];
  for (int p = 0; p < 8; ++p)
    lane[p] = _mm256_set1_epi32(p);
  for (int q = 0; q < kOut; ++q)
    off[q] =
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(offset + 8 * q));
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(0x80));
  for (int64_t i = 0; i < n; ++i) {
    const int8_t *a = act + i * kDim;
    int32_t *c = acc + i * kDim;
    __m256i sum[kOut];
    for (int q = 0; q < kOut; ++q)
      sum[q] = _mm256_add_epi32(
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(c + 8 * q)),
          off[q]);
    for (int kb = 0; kb < kQuads; kb += 8) {
      // 32 activations (fewer at DIM 8 and 16: the rest unused) as quads.
      __m256i u;
      if (kQuads >= 8)
        u = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(a + 4 * kb));
      else if (kQuads >= 4)
        u = _mm256_castsi128_si256(
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(a + 4 * kb)));
      else
        u = _mm256_castsi128_si256(
            _mm_loadl_epi64(reinterpret_cast<const __m128i *>(a + 4 * kb)));
      u = _mm256_xor_si256(u, flip);
      for (int g = 0; g < 8 && kb + g < kQuads; ++g) {
        const __m256i av = _mm256_permutevar8x32_epi32(u, lane[g]);
        const int8_t *wr = quads + (kb + g) * kDim * 4;
        for (int q = 0; q < kOut; ++q)
          sum[q] = _mm256_dpbusd_avx_epi32(
              sum[q], av,
              _mm256_loadu_si256(
                  reinterpret_cast<const __m256i *>(wr + 32 * q)));
      }
    }
    for (int q = 0; q < kOut; ++q)
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(c + 8 * q), sum[q]);
  }
}
#endif

#if defined(EMBER_NPU_HAVE_AVX2_PATH)
/// requantize() of 8 lanes: mbqm's 64-bit product, rounding and arithmetic
/// shift by 31 - clamp(shift, -31, 30) in 64-bit lanes (the even and the odd
/// 32-bit lanes apart; AVX2 has no 64-bit arithmetic shift, so a logical one
/// with the sign bits filled in), saturated to int32, then the zero point
/// (wrapping) and the two clamps.
/// mbqm of the low 32-bit lane of each 64-bit lane: x * mult + 2^(t - 1),
/// shifted right arithmetically by t (in the low 32 bits of each lane,
/// 1..62), saturated to int32 (in the low 32 bits of each result lane).
__attribute__((target("avx2"))) static inline __m256i
mbqm4(__m256i x, __m256i mult, __m256i t) {
  const __m256i one = _mm256_set1_epi64x(1);
  const __m256i lo32 = _mm256_set1_epi64x(std::numeric_limits<int32_t>::min());
  const __m256i hi32 = _mm256_set1_epi64x(std::numeric_limits<int32_t>::max());
  t = _mm256_and_si256(t, _mm256_set1_epi64x(0xffffffff));
  __m256i r = _mm256_mul_epi32(x, mult); // signed 32 x 32 -> 64
  r = _mm256_add_epi64(r, _mm256_sllv_epi64(one, _mm256_sub_epi64(t, one)));
  const __m256i neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), r);
  r = _mm256_or_si256(
      _mm256_srlv_epi64(r, t),
      _mm256_sllv_epi64(neg, _mm256_sub_epi64(_mm256_set1_epi64x(64), t)));
  r = _mm256_blendv_epi8(r, hi32, _mm256_cmpgt_epi64(r, hi32));
  return _mm256_blendv_epi8(r, lo32, _mm256_cmpgt_epi64(lo32, r));
}

__attribute__((target("avx2"))) static inline __m256i
requant8(__m256i x, __m256i mult, __m256i total, __m256i zp, __m256i lo,
         __m256i hi) {
  const __m256i even = mbqm4(x, mult, total);
  const __m256i odd =
      mbqm4(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(mult, 32),
            _mm256_srli_epi64(total, 32));
  __m256i r = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  r = _mm256_add_epi32(r, zp);
  r = _mm256_max_epi32(lo, _mm256_min_epi32(hi, r));
  return _mm256_max_epi32(_mm256_set1_epi32(-128),
                          _mm256_min_epi32(_mm256_set1_epi32(127), r));
}

__attribute__((target("avx2"))) static void
requantRowsAvx2(const int32_t *acc, int64_t n, const int32_t *bias,
                const int32_t *mult, const int32_t *shift, int32_t zp,
                int32_t lo, int32_t hi, int8_t *out) {
  constexpr int kVec = kDim / 8;
  __m256i m[kVec], t[kVec], b[kVec];
  for (int q = 0; q < kVec; ++q) {
    m[q] = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(mult + 8 * q));
    const __m256i s =
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(shift + 8 * q));
    t[q] = _mm256_sub_epi32(
        _mm256_set1_epi32(31),
        _mm256_max_epi32(_mm256_set1_epi32(-31),
                         _mm256_min_epi32(_mm256_set1_epi32(30), s)));
    b[q] = bias ? _mm256_loadu_si256(
                      reinterpret_cast<const __m256i *>(bias + 8 * q))
                : _mm256_setzero_si256();
  }
  const __m256i vz = _mm256_set1_epi32(zp), vlo = _mm256_set1_epi32(lo),
                vhi = _mm256_set1_epi32(hi);
  for (int64_t i = 0; i < n; ++i)
    for (int q = 0; q < kVec; ++q) {
      __m256i x = _mm256_loadu_si256(
          reinterpret_cast<const __m256i *>(acc + i * kDim + 8 * q));
      x = _mm256_add_epi32(x, b[q]); // wrapping, as wrapAdd
      alignas(32) int32_t r[8];
      _mm256_store_si256(reinterpret_cast<__m256i *>(r),
                         requant8(x, m[q], t[q], vz, vlo, vhi));
      for (int l = 0; l < 8; ++l)
        out[i * kDim + 8 * q + l] = static_cast<int8_t>(r[l]);
    }
}
#endif

void requantRows(const int32_t *acc, int64_t n, const int32_t *bias,
                 const int32_t *mult, const int32_t *shift, int32_t zp,
                 int32_t lo, int32_t hi, int8_t *out, RowPath path) {
#if defined(EMBER_NPU_HAVE_AVX2_PATH)
  if (path == RowPath::Avx2 || path == RowPath::AvxVnni) {
    requantRowsAvx2(acc, n, bias, mult, shift, zp, lo, hi, out);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i)
    for (int l = 0; l < kDim; ++l)
      out[i * kDim + l] = requantize(bias ? wrapAdd(acc[i * kDim + l], bias[l])
                                          : acc[i * kDim + l],
                                     mult[l], shift[l], zp, lo, hi);
}

void macRows(const int8_t *act, int64_t n, const WeightTile &tile, int32_t *acc,
             RowPath path) {
#if defined(EMBER_NPU_HAVE_AVX2_PATH)
  if (path == RowPath::AvxVnni) {
    macRowsVnni(act, n, tile.quads.data(), tile.offset.data(), acc);
    return;
  }
  if (path == RowPath::Avx2) {
    macRowsAvx2(act, n, tile.pairs.data(), acc);
    return;
  }
#endif
#if defined(__SSE2__)
  if (path == RowPath::Sse2) {
    for (int64_t i = 0; i < n; ++i)
      macRowSse2(act + i * kDim, tile.pairs.data(), acc + i * kDim);
    return;
  }
#endif
  for (int64_t i = 0; i < n; ++i)
    macRowScalar(act + i * kDim, tile.pairs.data(), acc + i * kDim);
}

} // namespace ember::npu

//===- QGemmVnni.cpp - AVX-512 VNNI int8 micro-kernel ---------------------===//
//
// MR x (16*NV) s32 tile: per group of 4 k, NV 64-byte loads of B, MR 32-bit
// broadcasts of A, MR*NV vpdpbusd (u8 x s8, four products summed into each
// s32 lane without saturation). The requantization runs on the tile in
// registers, bit-exact with finishQ (QGemm.h): Ember's fixed point
// (FixedPoint.h) or ONNX Runtime's fp32 form.
//
//===----------------------------------------------------------------------===//
#include "FixedPoint.h"
#include "QGemm.h"
#include "Simd.h"

#include <cstring>

namespace ember::cpu::detail {

namespace {

EMBER_TARGET_AVX512VNNI inline __mmask16 laneMask(int lo, int hi) {
  lo = lo < 0 ? 0 : (lo > 16 ? 16 : lo);
  hi = hi < 0 ? 0 : (hi > 16 ? 16 : hi);
  return static_cast<__mmask16>(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/// fp32 requantization of 16 accumulators (with their column terms):
/// scaled, clamped to [lo, hi] = [q_min - zp, q_max - zp], rounded half to
/// even by the conversion's explicit mode, offset by zp. Bit-exact with
/// finishQ.
EMBER_TARGET_AVX512VNNI inline __m512i
requantFloat(__m512i v, __m512 s, __m512 lo, __m512 hi, __m512i zp) {
  __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(v), s);
  f = _mm512_min_ps(_mm512_max_ps(f, lo), hi);
  return _mm512_add_epi32(_mm512_cvt_roundps_epi32(
                              f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC),
                          zp);
}

/// Four vectors of in-range int32 outputs (a 64-column row) narrowed by two
/// saturating packs (exact: the values are in range), put back in column
/// order by one dword permute (lane k of the packs holds dwords (r0, r1,
/// r2, r3) of lane k: 4 columns each), then one 64-byte store.
EMBER_TARGET_AVX512VNNI inline void storeBytes64(char *c, const __m512i *r,
                                                 bool u8) {
  __m512i w01 = _mm512_packs_epi32(r[0], r[1]);
  __m512i w23 = _mm512_packs_epi32(r[2], r[3]);
  __m512i b = u8 ? _mm512_packus_epi16(w01, w23) : _mm512_packs_epi16(w01, w23);
  const __m512i order =
      _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  _mm512_storeu_si512(c, _mm512_permutexvar_epi32(order, b));
}

/// The fixed-point constants of columns [16j, 16j+16) of the tile
/// (fixedPointPanelVnni made them for the panel).
EMBER_TARGET_AVX512VNNI inline const FixedPointLanes &
lanesOf(const QTileArgs &t, int j) {
  return static_cast<const FixedPointLanes *>(t.lanes)[j];
}

/// Columns [16j, 16j+16) of tile row i requantized: int32 values already
/// in the output range (the corrected accumulator for Int32 output). `v`
/// includes the column term (the tiles start from it).
EMBER_TARGET_AVX512VNNI inline __m512i requantQ(const QTileArgs &t, int i,
                                                int j, __mmask16 m, __m512i v) {
  const Requantize &rq = *t.rq;
  if (t.bZp)
    v = _mm512_sub_epi32(
        v, _mm512_mullo_epi32(_mm512_maskz_loadu_epi32(m, t.bZp + 16 * j),
                              _mm512_set1_epi32(t.rowSum[i])));
  if (rq.output == QOutput::Int32)
    return v;
  __m512i r;
  if (rq.kind == QScaleKind::Float) {
    __m512 s = t.perColumn ? _mm512_maskz_loadu_ps(m, t.scale + 16 * j)
                           : _mm512_set1_ps(t.scale[0]);
    r = requantFloat(v, s,
                     _mm512_set1_ps(static_cast<float>(t.qmin - rq.zeroPoint)),
                     _mm512_set1_ps(static_cast<float>(t.qmax - rq.zeroPoint)),
                     _mm512_set1_epi32(rq.zeroPoint));
  } else {
    const FixedPointLanes &l = lanesOf(t, j);
    const __m512i lo = _mm512_set1_epi32(t.qmin),
                  hi = _mm512_set1_epi32(t.qmax);
    r = t.fixedFast ? requant16<true>(v, l, lo, hi)
                    : requant16<false>(v, l, lo, hi);
  }
  return r;
}

/// Finishes and stores 16 columns [16j, 16j+16) of tile row i. Whole
/// vectors take plain stores (masked ones are slow on AMD cores).
EMBER_TARGET_AVX512VNNI inline void storeQRow(const QTileArgs &t, int i, int j,
                                              __mmask16 m, __m512i v) {
  __m512i r = requantQ(t, i, j, m, v);
  const size_t off = static_cast<size_t>(i) * t.ldc + 16 * j;
  if (t.rq->output == QOutput::Int32) {
    if (m == __mmask16(0xFFFF))
      _mm512_storeu_si512(static_cast<int32_t *>(t.c) + off, r);
    else
      _mm512_mask_storeu_epi32(static_cast<int32_t *>(t.c) + off, m, r);
    return;
  }
  __m128i bytes = _mm512_cvtepi32_epi8(r); // values already in range
  if (m == __mmask16(0xFFFF))
    _mm_storeu_si128(
        reinterpret_cast<__m128i *>(static_cast<char *>(t.c) + off), bytes);
  else
    _mm_mask_storeu_epi8(static_cast<char *>(t.c) + off, m, bytes);
}

/// A whole 64-column row of 8-bit output (storeBytes64).
EMBER_TARGET_AVX512VNNI inline void storeQRow64(const QTileArgs &t, int i,
                                                const __m512i *v) {
  __m512i r[4];
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j)
    r[j] = requantQ(t, i, j, __mmask16(0xFFFF), v[j]);
  storeBytes64(static_cast<char *>(t.c) + static_cast<size_t>(i) * t.ldc, r,
               t.rq->output == QOutput::UInt8);
}

/// The common epilogue (no weight zero point, 8-bit output, fp32 scales)
/// of a whole tile with everything it reads hoisted into registers once:
/// the scales, the range, the output pointer. storeQRow re-reads them
/// through `t` per vector (the compiler cannot keep them across the stores
/// to C).
template <int MR, int NV>
EMBER_TARGET_AVX512VNNI __attribute__((always_inline)) inline void
finishQFloat(const QTileArgs &t, const __m512i (&acc)[MR][NV],
             const __mmask16 (&masks)[NV]) {
  const Requantize &rq = *t.rq;
  __m512 sc[NV];
  bool all = true;
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    sc[j] = t.perColumn ? _mm512_maskz_loadu_ps(masks[j], t.scale + 16 * j)
                        : _mm512_set1_ps(t.scale[0]);
    all = all && masks[j] == __mmask16(0xFFFF);
  }
  const __m512 lo = _mm512_set1_ps(static_cast<float>(t.qmin - rq.zeroPoint));
  const __m512 hi = _mm512_set1_ps(static_cast<float>(t.qmax - rq.zeroPoint));
  const __m512i zp = _mm512_set1_epi32(rq.zeroPoint);
  const bool u8 = rq.output == QOutput::UInt8;
  char *const c0 = static_cast<char *>(t.c);
  const size_t ldc = t.ldc;
  const int rowBegin = t.rowBegin, rowEnd = t.rowEnd;
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    if (i < rowBegin || i >= rowEnd)
      continue;
    __m512i r[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      r[j] = requantFloat(acc[i][j], sc[j], lo, hi, zp);
    char *c = c0 + static_cast<size_t>(i) * ldc;
    if constexpr (NV == 4) {
      if (all) {
        storeBytes64(c, r, u8);
        continue;
      }
    }
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      __m128i bytes = _mm512_cvtepi32_epi8(r[j]);
      if (masks[j] == __mmask16(0xFFFF))
        _mm_storeu_si128(reinterpret_cast<__m128i *>(c + 16 * j), bytes);
      else if (masks[j])
        _mm_mask_storeu_epi8(c + 16 * j, masks[j], bytes);
    }
  }
}

/// The same for Ember's fixed point: column vector by column vector, every
/// row's accumulators are requantized in place with the panel's constants
/// (FixedPointLanes); then each row is narrowed and stored. A whole
/// 64-column row narrows by saturating packs (exactly the clamp to the
/// type's range) and takes a requested clamp as bytes.
template <int MR, int NV, bool Fast>
EMBER_TARGET_AVX512VNNI __attribute__((always_inline)) inline void
finishQFixed(const QTileArgs &t, const __m512i (&acc)[MR][NV],
             const __mmask16 (&masks)[NV]) {
  const Requantize &rq = *t.rq;
  __m512i r[MR][NV];
  bool all = true;
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    const FixedPointLanes &l = lanesOf(t, j);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i)
      r[i][j] = mbqmZp16<Fast>(acc[i][j], l);
    all = all && masks[j] == __mmask16(0xFFFF);
  }
  const bool u8 = rq.output == QOutput::UInt8;
  char *const c0 = static_cast<char *>(t.c);
  const size_t ldc = t.ldc;
  const int rowBegin = t.rowBegin, rowEnd = t.rowEnd;
  if constexpr (NV == 4) {
    if (all) {
      const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6,
                                              10, 14, 3, 7, 11, 15);
      const bool clamp = t.qmin > (u8 ? 0 : -128) || t.qmax < (u8 ? 255 : 127);
      const __m512i blo = _mm512_set1_epi8(static_cast<char>(t.qmin));
      const __m512i bhi = _mm512_set1_epi8(static_cast<char>(t.qmax));
#pragma GCC unroll 6
      for (int i = 0; i < MR; ++i) {
        if (i < rowBegin || i >= rowEnd)
          continue;
        __m512i w01 = _mm512_packs_epi32(r[i][0], r[i][1]);
        __m512i w23 = _mm512_packs_epi32(r[i][2], r[i][3]);
        __m512i b;
        if (u8) {
          b = _mm512_packus_epi16(w01, w23);
          if (clamp)
            b = _mm512_min_epu8(_mm512_max_epu8(b, blo), bhi);
        } else {
          b = _mm512_packs_epi16(w01, w23);
          if (clamp)
            b = _mm512_min_epi8(_mm512_max_epi8(b, blo), bhi);
        }
        _mm512_storeu_si512(c0 + static_cast<size_t>(i) * ldc,
                            _mm512_permutexvar_epi32(order, b));
      }
      return;
    }
  }
  // Partial rows: saturating narrowing (vpmovsdb, or vpmovusdb of
  // non-negative values) is the clamp to the type's range.
  const bool clamp = t.qmin > (u8 ? 0 : -128) || t.qmax < (u8 ? 255 : 127);
  const __m128i blo = _mm_set1_epi8(static_cast<char>(t.qmin));
  const __m128i bhi = _mm_set1_epi8(static_cast<char>(t.qmax));
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    if (i < rowBegin || i >= rowEnd)
      continue;
    char *c = c0 + static_cast<size_t>(i) * ldc;
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      __m128i bytes;
      if (u8) {
        bytes = _mm512_cvtusepi32_epi8(
            _mm512_max_epi32(r[i][j], _mm512_setzero_si512()));
        if (clamp)
          bytes = _mm_min_epu8(_mm_max_epu8(bytes, blo), bhi);
      } else {
        bytes = _mm512_cvtsepi32_epi8(r[i][j]);
        if (clamp)
          bytes = _mm_min_epi8(_mm_max_epi8(bytes, blo), bhi);
      }
      if (masks[j] == __mmask16(0xFFFF))
        _mm_storeu_si128(reinterpret_cast<__m128i *>(c + 16 * j), bytes);
      else if (masks[j])
        _mm_mask_storeu_epi8(c + 16 * j, masks[j], bytes);
    }
  }
}

/// Finishes a whole tile (accumulators that include the column terms): the
/// hoisted epilogues for 8-bit output without weight zero points, else
/// storeQRow64 for whole 64-column rows and storeQRow per vector.
template <int MR, int NV>
EMBER_TARGET_AVX512VNNI __attribute__((always_inline)) inline void
finishQTile(const QTileArgs &t, const __m512i (&acc)[MR][NV],
            const __mmask16 (&masks)[NV]) {
  const Requantize &rq = *t.rq;
  if (rq.output != QOutput::Int32 && !t.bZp) {
    if (rq.kind == QScaleKind::Float)
      finishQFloat<MR, NV>(t, acc, masks);
    else if (t.fixedFast)
      finishQFixed<MR, NV, true>(t, acc, masks);
    else
      finishQFixed<MR, NV, false>(t, acc, masks);
    return;
  }
  const bool whole = NV == 4 && t.colBegin == 0 && t.colEnd >= 64 &&
                     rq.output != QOutput::Int32;
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i < t.rowBegin || i >= t.rowEnd)
      continue;
    if (NV == 4 && whole) {
      storeQRow64(t, i, acc[i]);
      continue;
    }
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      if (masks[j])
        storeQRow(t, i, j, masks[j], acc[i][j]);
  }
}

/// The tile's column masks and accumulators' start: each column's term.
template <int MR, int NV>
EMBER_TARGET_AVX512VNNI __attribute__((always_inline)) inline void
startQTile(const QTileArgs &t, __m512i (&acc)[MR][NV], __mmask16 (&masks)[NV]) {
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    masks[j] = laneMask(t.colBegin - 16 * j, t.colEnd - 16 * j);
    const __m512i ct = _mm512_maskz_loadu_epi32(masks[j], t.colTerm + 16 * j);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
      acc[i][j] = ct;
  }
}

/// The 4 bytes at p broadcast to every lane, the sign bits flipped when
/// Flip (s8 read as u8).
template <bool Flip>
EMBER_TARGET_AVX512VNNI __attribute__((always_inline)) inline __m512i
broadcastA(const uint8_t *p) {
  int32_t a4;
  std::memcpy(&a4, p, 4);
  __m512i v = _mm512_set1_epi32(a4);
  if constexpr (Flip)
    v = _mm512_xor_si512(v, _mm512_set1_epi32(int32_t(0x80808080u)));
  return v;
}

/// One group of 4 k: NV 64-byte loads of B, then for each of the MR rows a
/// 32-bit broadcast of A (the 4 bytes at aRow(i)) and NV vpdpbusd.
template <int MR, int NV, bool Flip = false, typename ARow>
EMBER_TARGET_AVX512VNNI __attribute__((always_inline)) inline void
vnniStep(__m512i (&acc)[MR][NV], const int8_t *b, ARow aRow) {
  __m512i bv[NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j)
    bv[j] = _mm512_loadu_si512(b + 64 * j);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    __m512i av = broadcastA<Flip>(aRow(i));
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j)
      acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av, bv[j]);
  }
}

// The main loop of the 6 x 64 GEMM tile with four live vectors is inline
// assembly: with 24 accumulators, 4 B vectors and a broadcast live in the
// loop (29 of the 32 zmm registers), GCC 12 kept some accumulators on the
// stack and copied others between registers every group (a store per
// accumulator and group), which left the tile at about 60% of vpdpbusd's
// throughput (docs/changelog/cpu-performance.md, "The int8 GEMM tile's
// loop in registers"). Accumulator r of the tile (acc[r / 4][r % 4]) is read
// from memory into zmm<r> before the loop, stays there, and is written back
// after it (an asm statement takes at most 30 operands: too few to pass 24
// vectors in registers); B's vectors go to zmm24-27, A's broadcasts to
// zmm28/29. With at most 3 live vectors (18 accumulators) GCC's loop keeps
// everything in registers and is as fast, so those tiles keep it.
#define EMBER_VNNI_B(v, r) "vmovdqu64 64*" #v "(%[b]), %%zmm" #r "\n\t"
#define EMBER_VNNI_ROW(i, bc, c0, c1, c2, c3)                                  \
  "vpbroadcastd 4*" #i "(%[a]), %%zmm" #bc "\n\t"                              \
  "vpdpbusd %%zmm24, %%zmm" #bc ", %%zmm" #c0 "\n\t"                           \
  "vpdpbusd %%zmm25, %%zmm" #bc ", %%zmm" #c1 "\n\t"                           \
  "vpdpbusd %%zmm26, %%zmm" #bc ", %%zmm" #c2 "\n\t"                           \
  "vpdpbusd %%zmm27, %%zmm" #bc ", %%zmm" #c3 "\n\t"
#define EMBER_VNNI_LD(r) "vmovdqa64 " #r "*64(%[acc]), %%zmm" #r "\n\t"
#define EMBER_VNNI_ST(r) "vmovdqa64 %%zmm" #r ", " #r "*64(%[acc])\n\t"
// clang-format off
#define EMBER_VNNI_X24(M)                                                      \
  M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13)    \
  M(14) M(15) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23)
// clang-format on

/// acc[i][j] += the products of `groups` (at least 1) groups of 4 k: row i
/// of the A panel at `a` (24 bytes a group), vector j of the B panel at `b`
/// (256 bytes a group).
EMBER_TARGET_AVX512VNNI __attribute__((always_inline)) inline void
vnniLoop6x4(__m512i (&acc)[6][4], const uint8_t *a, const int8_t *b,
            size_t groups) {
  __m512i *p = &acc[0][0];
  // clang-format off
  __asm__ volatile(
      EMBER_VNNI_X24(EMBER_VNNI_LD)
      "1:\n\t"
      EMBER_VNNI_B(0, 24) EMBER_VNNI_B(1, 25)
      EMBER_VNNI_B(2, 26) EMBER_VNNI_B(3, 27)
      EMBER_VNNI_ROW(0, 28, 0, 1, 2, 3)
      EMBER_VNNI_ROW(1, 29, 4, 5, 6, 7)
      EMBER_VNNI_ROW(2, 28, 8, 9, 10, 11)
      EMBER_VNNI_ROW(3, 29, 12, 13, 14, 15)
      EMBER_VNNI_ROW(4, 28, 16, 17, 18, 19)
      EMBER_VNNI_ROW(5, 29, 20, 21, 22, 23)
      "add $24, %[a]\n\t"
      "add $256, %[b]\n\t"
      "dec %[g]\n\t"
      "jnz 1b\n\t"
      EMBER_VNNI_X24(EMBER_VNNI_ST)
      : [a] "+r"(a), [b] "+r"(b), [g] "+r"(groups)
      : [acc] "r"(p)
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
        "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
        "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
        "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "cc",
        "memory");
  // clang-format on
}

/// NV live 16-column vectors of a panel NVP vectors wide (NV < NVP: the
/// columns past colEnd are padding, so their products are skipped).
template <int MR, int NV, int NVP = NV>
EMBER_TARGET_AVX512VNNI void qtileVnniN(const QTileArgs &t) {
  constexpr int NR = 16 * NVP;
  __m512i acc[MR][NV];
  __mmask16 masks[NV];
  startQTile<MR, NV>(t, acc, masks);
  const uint8_t *a = t.a;
  const int8_t *b = t.b;
#pragma GCC unroll 2
  for (size_t g = t.groups; g > 0; --g) {
    vnniStep<MR, NV>(acc, b, [&](int i) { return a + 4 * i; });
    a += 4 * MR;
    b += 4 * NR;
  }
  finishQTile<MR, NV>(t, acc, masks);
}

/// The 6 x 64 tile with four live vectors over vnniLoop6x4 (a function of
/// its own: the assembly reads the accumulators from memory, which would
/// keep qtileVnniN's in memory too).
EMBER_TARGET_AVX512VNNI void qtileVnni6x4(const QTileArgs &t) {
  __m512i acc[6][4];
  __mmask16 masks[4];
  startQTile<6, 4>(t, acc, masks);
  vnniLoop6x4(acc, t.a, t.b, t.groups);
  finishQTile<6, 4>(t, acc, masks);
}

/// Tiles this shallow (K <= 8) keep the intrinsic loop: the assembly
/// loop's 24 loads and 24 stores of the accumulators cost more than it
/// saves over one or two groups.
constexpr size_t kAsmMinGroups = 3;

/// One live vector of a 4-vector panel: MR accumulator chains would leave
/// vpdpbusd latency-bound, so even and odd groups of 4 k go to two sets.
template <int MR> EMBER_TARGET_AVX512VNNI void qtileVnni1(const QTileArgs &t) {
  constexpr int NR = 64;
  __m512i acc[MR][1], acc2[MR];
  __mmask16 masks[1];
  startQTile<MR, 1>(t, acc, masks);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
    acc2[i] = _mm512_setzero_si512();
  const uint8_t *a = t.a;
  const int8_t *b = t.b;
  size_t g = t.groups;
  for (; g >= 2; g -= 2) {
    __m512i b0 = _mm512_loadu_si512(b);
    __m512i b1 = _mm512_loadu_si512(b + 4 * NR);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      int32_t a0, a1;
      std::memcpy(&a0, a + 4 * i, 4);
      std::memcpy(&a1, a + 4 * MR + 4 * i, 4);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], _mm512_set1_epi32(a0), b0);
      acc2[i] = _mm512_dpbusd_epi32(acc2[i], _mm512_set1_epi32(a1), b1);
    }
    a += 8 * MR;
    b += 8 * NR;
  }
  if (g) {
    __m512i b0 = _mm512_loadu_si512(b);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      int32_t a0;
      std::memcpy(&a0, a + 4 * i, 4);
      acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], _mm512_set1_epi32(a0), b0);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
    acc[i][0] = _mm512_add_epi32(acc[i][0], acc2[i]);
  finishQTile<MR, 1>(t, acc, masks);
}

/// The 6 x 64 tile; a panel with at most 48 live columns (a narrow or last
/// panel) computes only its live vectors.
template <int MR> EMBER_TARGET_AVX512VNNI void qtileVnni(const QTileArgs &t) {
  if (t.colEnd <= 16)
    return qtileVnni1<MR>(t);
  if (t.colEnd <= 32)
    return qtileVnniN<MR, 2, 4>(t);
  if (t.colEnd <= 48)
    return qtileVnniN<MR, 3, 4>(t);
  if (MR == 6 && t.groups >= kAsmMinGroups)
    return qtileVnni6x4(t);
  qtileVnniN<MR, 4, 4>(t);
}

/// Implicit-GEMM convolution tile (qconv2dNhwc): 6 rows x NV live vectors
/// of a 4-vector B panel, A read in place: tap s of row i starts at
/// src.rows[i] + src.tapOff[s] and is src.tapGroups groups of 4 k. With one
/// live vector, even and odd groups of a tap go to two accumulator sets (6
/// chains would leave vpdpbusd latency-bound). Flip: x is s8, read as u8.
template <int NV, bool Flip>
EMBER_TARGET_AVX512VNNI void qconvTileVnniT(const QTileArgs &t,
                                            const QConvTileSrc &src) {
  constexpr int MR = 6, NR = 64;
  constexpr int SETS = NV == 1 ? 2 : 1;
  __m512i acc[SETS][MR][NV];
  __mmask16 masks[NV];
  startQTile<MR, NV>(t, acc[0], masks);
  if (SETS == 2)
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        acc[SETS - 1][i][j] = _mm512_setzero_si512();
  const int8_t *b = t.b;
  for (size_t tap = 0; tap < src.taps; ++tap) {
    const uint8_t *r[MR];
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i)
      r[i] = src.rows[i] + src.tapOff[tap];
    size_t g = 0;
    if (SETS == 2) {
      for (; g + 2 <= src.tapGroups; g += 2) {
        __m512i b0 = _mm512_loadu_si512(b);
        __m512i b1 = _mm512_loadu_si512(b + 4 * NR);
#pragma GCC unroll 6
        for (int i = 0; i < MR; ++i) {
          acc[0][i][0] = _mm512_dpbusd_epi32(
              acc[0][i][0], broadcastA<Flip>(r[i] + 4 * g), b0);
          acc[SETS - 1][i][0] = _mm512_dpbusd_epi32(
              acc[SETS - 1][i][0], broadcastA<Flip>(r[i] + 4 * g + 4), b1);
        }
        b += 8 * NR;
      }
    }
    for (; g < src.tapGroups; ++g) {
      vnniStep<MR, NV, Flip>(acc[0], b, [&](int i) { return r[i] + 4 * g; });
      b += 4 * NR;
    }
  }
  if (SETS == 2) {
    __m512i sum[MR][NV];
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j)
        sum[i][j] = _mm512_add_epi32(acc[0][i][j], acc[SETS - 1][i][j]);
    finishQTile<MR, NV>(t, sum, masks);
  } else {
    finishQTile<MR, NV>(t, acc[0], masks);
  }
}

constexpr QGemmKernel kVnni = {Isa::Avx512Vnni, 6, 64, &qtileVnni<6>,
                               QLayout::Quad};
static_assert(4 * sizeof(FixedPointLanes) <= sizeof(QPanelLanes),
              "a panel's lanes fit QPanelLanes");

} // namespace

const QGemmKernel &qgemmKernelVnni() { return kVnni; }

EMBER_TARGET_AVX512VNNI void fixedPointPanelVnni(const QTileArgs &t,
                                                 void *out) {
  FixedPointLanes *l = static_cast<FixedPointLanes *>(out);
  const Requantize &rq = *t.rq;
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) {
    const __mmask16 m = laneMask(t.colBegin - 16 * j, t.colEnd - 16 * j);
    __m512i mult = t.perColumn ? _mm512_maskz_loadu_epi32(m, t.mult + 16 * j)
                               : _mm512_set1_epi32(t.mult[0]);
    __m512i sh = t.perColumn ? _mm512_maskz_loadu_epi32(m, t.shift + 16 * j)
                             : _mm512_set1_epi32(t.shift[0]);
    if (t.perColumn) // columns past the panel's end: a harmless shift
      sh = _mm512_mask_mov_epi32(_mm512_set1_epi32(-1), m, sh);
    l[j] = fixedPointLanes(mult, sh, rq.zeroPoint, t.fixedFast);
  }
}

EMBER_TARGET_AVX512VNNI void expand3To4Vnni(const uint8_t *src, uint8_t *dst,
                                            size_t W, uint8_t fill,
                                            uint8_t flip) {
  // Lane k (16 bytes) takes source dwords 3k..3k+2 (pixels 4k..4k+3), then
  // a byte shuffle spreads each pixel's 3 bytes over 4 (the 4th zeroed)
  // and the fill byte is or-ed in.
  const __m512i lanes =
      _mm512_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0, 6, 7, 8, 0, 9, 10, 11, 0);
  const __m512i spread = _mm512_broadcast_i32x4(_mm_setr_epi8(
      0, 1, 2, -128, 3, 4, 5, -128, 6, 7, 8, -128, 9, 10, 11, -128));
  const __m512i fillv = _mm512_set1_epi32(
      static_cast<int32_t>(static_cast<uint32_t>(fill) << 24));
  const __m512i flipv = _mm512_set1_epi32(
      static_cast<int32_t>(0x00010101u * static_cast<uint32_t>(flip)));
  size_t w = 0;
  for (; w + 16 <= W; w += 16) {
    __m512i v = _mm512_maskz_loadu_epi8(0xFFFFFFFFFFFFull, src + 3 * w);
    v = _mm512_permutexvar_epi32(lanes, v);
    v = _mm512_or_si512(_mm512_shuffle_epi8(v, spread), fillv);
    v = _mm512_xor_si512(v, flipv);
    _mm512_storeu_si512(dst + 4 * w, v);
  }
  for (; w < W; ++w) {
    dst[4 * w] = src[3 * w] ^ flip;
    dst[4 * w + 1] = src[3 * w + 1] ^ flip;
    dst[4 * w + 2] = src[3 * w + 2] ^ flip;
    dst[4 * w + 3] = fill;
  }
}

template <bool Flip>
void qconvTileVnniF(const QTileArgs &t, const QConvTileSrc &src) {
  if (t.colEnd <= 16)
    return qconvTileVnniT<1, Flip>(t, src);
  if (t.colEnd <= 32)
    return qconvTileVnniT<2, Flip>(t, src);
  if (t.colEnd <= 48)
    return qconvTileVnniT<3, Flip>(t, src);
  qconvTileVnniT<4, Flip>(t, src);
}

void qconvTileVnni(const QTileArgs &t, const QConvTileSrc &src) {
  if (src.flip)
    qconvTileVnniF<true>(t, src);
  else
    qconvTileVnniF<false>(t, src);
}

} // namespace ember::cpu::detail

//===- QTileAvx2.h - the 8-lane int8 tiles' shared pieces ------*- C++ -*-===//
//
// What the AVX2 int8 tiles (QGemmAvx2.cpp: vpmaddwd, the 7-bit split and
// paired vpmaddubsw tiles) and the AVX-VNNI ones (QGemmAvxVnni.cpp:
// vpdpbusd on ymm) share: 6 x 16 tiles of 12 ymm accumulators started from
// the column terms, their requantizing epilogue on 8 lanes (bit-exact with
// finishQ) and the inline-assembly k loops, which take the step of one row
// as a macro (the accumulators stay in registers: GCC 12 kept part of them
// on the stack in intrinsic loops).
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_QTILEAVX2_H
#define EMBER_CPU_KERNELS_QTILEAVX2_H

#include "FixedPoint.h"
#include "QGemm.h"
#include "Simd.h"
#include "TileAvx2.h"

#include <cstring>

namespace ember::cpu::detail {

inline constexpr int kMR = 6, kNR = 16;

/// The fixed-point constants of columns [8j, 8j+8) of the tile's panel.
EMBER_TARGET_AVX2 inline const FixedPointLanes8 &lanes8(const QTileArgs &t,
                                                        int j) {
  return static_cast<const FixedPointLanes8 *>(t.lanes)[j];
}

/// fp32 requantization of 8 accumulators, bit-exact with finishQ: scaled,
/// clamped to [q_min - zp, q_max - zp], rounded half to even by an explicit
/// rounding mode (not MXCSR's), then offset by zp.
EMBER_TARGET_AVX2 inline __m256i requantFloat8(__m256i v, __m256 s, __m256 lo,
                                               __m256 hi, __m256i zp) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(v), s);
  f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
  f = _mm256_round_ps(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  return _mm256_add_epi32(_mm256_cvttps_epi32(f), zp);
}

/// Finishes the tile: acc holds the products plus the column terms (the
/// Pair16 layout has the weight zero points folded in: no row sums). Rows
/// [rowBegin, rowEnd), columns [colBegin, colEnd) are stored; whole 8- and
/// 16-column rows with plain stores, partial ones through a buffer (AVX2
/// has no masked byte store).
template <int NV, int MR = kMR>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
finishQAvx2(const QTileArgs &t, __m256i (&acc)[MR][NV]) {
  const Requantize &rq = *t.rq;
  __m256i masks[NV];
  int lo[NV], hi[NV];
  bool whole = true;
#pragma GCC unroll 2
  for (int j = 0; j < NV; ++j) {
    lo[j] = t.colBegin - 8 * j < 0 ? 0 : t.colBegin - 8 * j;
    hi[j] = t.colEnd - 8 * j > 8 ? 8 : t.colEnd - 8 * j;
    masks[j] = laneMask8(lo[j], hi[j]);
    whole = whole && lo[j] == 0 && hi[j] == 8;
  }
  char *const c0 = static_cast<char *>(t.c);
  const size_t ldc = t.ldc;
  const int rowBegin = t.rowBegin, rowEnd = t.rowEnd;
  if (rq.output == QOutput::Int32) {
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      if (i < rowBegin || i >= rowEnd)
        continue;
      int32_t *c =
          reinterpret_cast<int32_t *>(c0) + static_cast<size_t>(i) * ldc;
#pragma GCC unroll 2
      for (int j = 0; j < NV; ++j) {
        if (lo[j] == 0 && hi[j] == 8)
          _mm256_storeu_si256(reinterpret_cast<__m256i *>(c + 8 * j),
                              acc[i][j]);
        else if (lo[j] < hi[j])
          _mm256_maskstore_epi32(c + 8 * j, masks[j], acc[i][j]);
      }
    }
    return;
  }
  // Requantized in place. The saturating packs below are the clamp to the
  // output type's range, so the fixed-point values need a clamp only to a
  // narrower requested one (a fused ReLU with a nonzero zero point, a Clip),
  // which is applied to the bytes; the float values are clamped before
  // their conversion (no int32 overflow).
  const bool u8 = rq.output == QOutput::UInt8;
  const bool clampBytes =
      rq.kind == QScaleKind::FixedPoint &&
      (t.qmin > (u8 ? 0 : -128) || t.qmax < (u8 ? 255 : 127));
  if (rq.kind == QScaleKind::Float) {
    const __m256 flo =
        _mm256_set1_ps(static_cast<float>(t.qmin - rq.zeroPoint));
    const __m256 fhi =
        _mm256_set1_ps(static_cast<float>(t.qmax - rq.zeroPoint));
    const __m256i zp = _mm256_set1_epi32(rq.zeroPoint);
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) {
      const __m256 s = t.perColumn
                           ? _mm256_maskload_ps(t.scale + 8 * j, masks[j])
                           : _mm256_set1_ps(t.scale[0]);
#pragma GCC unroll 6
      for (int i = 0; i < MR; ++i)
        acc[i][j] = requantFloat8(acc[i][j], s, flo, fhi, zp);
    }
  } else {
#pragma GCC unroll 2
    for (int j = 0; j < NV; ++j) {
      const FixedPointLanes8 &l = lanes8(t, j);
      if (t.fixedFast) {
#pragma GCC unroll 6
        for (int i = 0; i < MR; ++i)
          acc[i][j] = mbqmZp8<true>(acc[i][j], l);
      } else {
#pragma GCC unroll 6
        for (int i = 0; i < MR; ++i)
          acc[i][j] = mbqmZp8<false>(acc[i][j], l);
      }
    }
  }
  // Narrowed by saturating packs (the clamp to the type's range), then a
  // requested narrower range as bytes.
  const __m128i blo = _mm_set1_epi8(static_cast<char>(t.qmin));
  const __m128i bhi = _mm_set1_epi8(static_cast<char>(t.qmax));
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    if (i < rowBegin || i >= rowEnd)
      continue;
    char *c = c0 + static_cast<size_t>(i) * ldc;
    __m128i bytes;
    if constexpr (NV == 2) {
      __m256i w = _mm256_permute4x64_epi64(
          _mm256_packs_epi32(acc[i][0], acc[i][1]), 0xD8);
      const __m128i wl = _mm256_castsi256_si128(w);
      const __m128i wh = _mm256_extracti128_si256(w, 1);
      bytes = u8 ? _mm_packus_epi16(wl, wh) : _mm_packs_epi16(wl, wh);
      if (clampBytes)
        bytes = u8 ? _mm_min_epu8(_mm_max_epu8(bytes, blo), bhi)
                   : _mm_min_epi8(_mm_max_epi8(bytes, blo), bhi);
      if (whole) {
        _mm_storeu_si128(reinterpret_cast<__m128i *>(c), bytes);
        continue;
      }
    } else {
      const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(acc[i][0]),
                                        _mm256_extracti128_si256(acc[i][0], 1));
      bytes = u8 ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
      if (clampBytes)
        bytes = u8 ? _mm_min_epu8(_mm_max_epu8(bytes, blo), bhi)
                   : _mm_min_epi8(_mm_max_epi8(bytes, blo), bhi);
      if (whole) {
        _mm_storel_epi64(reinterpret_cast<__m128i *>(c), bytes);
        continue;
      }
    }
    alignas(16) char buf[16];
    _mm_store_si128(reinterpret_cast<__m128i *>(buf), bytes);
    const int b0 = t.colBegin, b1 = t.colEnd < 8 * NV ? t.colEnd : 8 * NV;
    if (b0 < b1)
      std::memcpy(c + b0, buf + b0, static_cast<size_t>(b1 - b0));
  }
}

/// The tile's accumulators start from the column terms.
template <int NV>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
startQAvx2(const QTileArgs &t, __m256i (&acc)[kMR][NV]) {
#pragma GCC unroll 2
  for (int j = 0; j < NV; ++j) {
    // colTerm is padded to whole panels: 16 values are always there.
    const __m256i ct = _mm256_loadu_si256(
        reinterpret_cast<const __m256i *>(t.colTerm + 8 * j));
#pragma GCC unroll 6
    for (int i = 0; i < kMR; ++i)
      acc[i][j] = ct;
  }
}

// One pair of k for the six rows: the two B vectors of the step (the 16
// columns' s16 pairs) in ymm12/13, each row's u16 pair broadcast into ymm14,
// products through ymm15. ADDR(i) is row i's 4 bytes.
#define EMBER_Q8_ROW2(addr, c0, c1)                                            \
  "vpbroadcastd " addr ", %%ymm14\n\t"                                         \
  "vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"                                     \
  "vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t"                                     \
  "vpaddd %%ymm15, %[" #c0 "], %[" #c0 "]\n\t"                                 \
  "vpaddd %%ymm14, %[" #c1 "], %[" #c1 "]\n\t"
#define EMBER_Q8_ROW1(addr, c0)                                                \
  "vpbroadcastd " addr ", %%ymm14\n\t"                                         \
  "vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"                                     \
  "vpaddd %%ymm15, %[" #c0 "], %[" #c0 "]\n\t"
#define EMBER_Q8_ACC2(acc)                                                     \
  [a00] "+x"(acc[0][0]), [a01] "+x"(acc[0][1]), [a10] "+x"(acc[1][0]),         \
      [a11] "+x"(acc[1][1]), [a20] "+x"(acc[2][0]), [a21] "+x"(acc[2][1]),     \
      [a30] "+x"(acc[3][0]), [a31] "+x"(acc[3][1]), [a40] "+x"(acc[4][0]),     \
      [a41] "+x"(acc[4][1]), [a50] "+x"(acc[5][0]), [a51] "+x"(acc[5][1])
#define EMBER_Q8_ACC1(acc)                                                     \
  [a00] "+x"(acc[0][0]), [a10] "+x"(acc[1][0]), [a20] "+x"(acc[2][0]),         \
      [a30] "+x"(acc[3][0]), [a40] "+x"(acc[4][0]), [a50] "+x"(acc[5][0])

// The convolution loops' six row pointers (through memory: an asm statement
// takes at most 30 operands, 24 of them the accumulators) into r8-r13, the
// step's byte offset in r14; a step of 4 bytes of each row and 64 of B.
#define EMBER_Q8_ROWS_LOAD                                                     \
  "mov (%[r]), %%r8\n\t"                                                       \
  "mov 8(%[r]), %%r9\n\t"                                                      \
  "mov 16(%[r]), %%r10\n\t"                                                    \
  "mov 24(%[r]), %%r11\n\t"                                                    \
  "mov 32(%[r]), %%r12\n\t"                                                    \
  "mov 40(%[r]), %%r13\n\t"                                                    \
  "xor %%r14d, %%r14d\n\t"
#define EMBER_Q8_STEP_END                                                      \
  "add $4, %%r14\n\t"                                                          \
  "add $64, %[b]\n\t"                                                          \
  "cmp %[end], %%r14\n\t"                                                      \
  "jne 1b\n\t"

/// Ones for vpmaddwd (the split tile's pair sums into s32).
alignas(32) inline constexpr int16_t kOnes16[16] = {1, 1, 1, 1, 1, 1, 1, 1,
                                                    1, 1, 1, 1, 1, 1, 1, 1};

// A convolution tap's loop: `groups` steps (end = 4 x steps bytes) of the
// six rows r[i] against B, each row's step one ROW(address, accumulators);
// [ones] is the split tile's (the exact one does not read it).
#define EMBER_Q8_CONV_LOOP2(ROW)                                               \
  asm(EMBER_Q8_ROWS_LOAD                                                       \
      "1:\n\t"                                                                 \
      "vmovdqu (%[b]), %%ymm12\n\t"                                            \
      "vmovdqu 32(%[b]), %%ymm13\n\t" ROW("(%%r8,%%r14)", a00, a01)            \
          ROW("(%%r9,%%r14)", a10, a11) ROW("(%%r10,%%r14)", a20, a21)         \
              ROW("(%%r11,%%r14)", a30, a31) ROW("(%%r12,%%r14)", a40, a41)    \
                  ROW("(%%r13,%%r14)", a50, a51) EMBER_Q8_STEP_END             \
      : EMBER_Q8_ACC2(acc), [b] "+r"(b)                                        \
      : [r] "r"(r), [end] "r"(end), [ones] "r"(kOnes16)                        \
      : "r8", "r9", "r10", "r11", "r12", "r13", "r14", "xmm12", "xmm13",       \
        "xmm14", "xmm15", "cc", "memory")
#define EMBER_Q8_CONV_LOOP1(ROW)                                               \
  asm(EMBER_Q8_ROWS_LOAD                                                       \
      "1:\n\t"                                                                 \
      "vmovdqu (%[b]), %%ymm12\n\t" ROW("(%%r8,%%r14)", a00)                   \
          ROW("(%%r9,%%r14)", a10) ROW("(%%r10,%%r14)", a20)                   \
              ROW("(%%r11,%%r14)", a30) ROW("(%%r12,%%r14)", a40)              \
                  ROW("(%%r13,%%r14)", a50) EMBER_Q8_STEP_END                  \
      : EMBER_Q8_ACC1(acc), [b] "+r"(b)                                        \
      : [r] "r"(r), [end] "r"(end), [ones] "r"(kOnes16)                        \
      : "r8", "r9", "r10", "r11", "r12", "r13", "r14", "xmm12", "xmm14",       \
        "xmm15", "cc", "memory")

// The loops over packed panels: a step is 4 bytes of each of the 6 rows of
// A (24) and 64 of B; ROW is the exact tile's (EMBER_Q8_ROW*: a pair of k
// as s16) or the paired one's (EMBER_QS_ROW*: a group of 4 u8 x s8, whose
// pairing keeps every s16 pair sum in range, QLayout::Paired). The loop
// ends at A's end: an asm statement takes at most 30 operands, in-out ones
// counting twice, and the accumulators are 24 of them.
#define EMBER_Q8_PANEL_LOOP2(ROW)                                              \
  asm("1:\n\t"                                                                 \
      "vmovdqu (%[b]), %%ymm12\n\t"                                            \
      "vmovdqu 32(%[b]), %%ymm13\n\t" ROW("(%[a])", a00, a01)                  \
          ROW("4(%[a])", a10, a11) ROW("8(%[a])", a20, a21)                    \
              ROW("12(%[a])", a30, a31) ROW("16(%[a])", a40, a41)              \
                  ROW("20(%[a])", a50, a51) "add $24, %[a]\n\t"                \
                                            "add $64, %[b]\n\t"                \
                                            "cmp %[end], %[a]\n\t"             \
                                            "jne 1b\n\t"                       \
      : EMBER_Q8_ACC2(acc), [a] "+r"(a), [b] "+r"(b)                           \
      : [end] "r"(end), [ones] "r"(kOnes16)                                    \
      : "xmm12", "xmm13", "xmm14", "xmm15", "cc", "memory")
#define EMBER_Q8_PANEL_LOOP1(ROW)                                              \
  asm("1:\n\t"                                                                 \
      "vmovdqu (%[b]), %%ymm12\n\t" ROW("(%[a])", a00) ROW("4(%[a])", a10)     \
          ROW("8(%[a])", a20) ROW("12(%[a])", a30) ROW("16(%[a])", a40)        \
              ROW("20(%[a])", a50) "add $24, %[a]\n\t"                         \
                                   "add $64, %[b]\n\t"                         \
                                   "cmp %[end], %[a]\n\t"                      \
                                   "jne 1b\n\t"                                \
      : EMBER_Q8_ACC1(acc), [a] "+r"(a), [b] "+r"(b)                           \
      : [end] "r"(end), [ones] "r"(kOnes16)                                    \
      : "xmm12", "xmm14", "xmm15", "cc", "memory")

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_QTILEAVX2_H

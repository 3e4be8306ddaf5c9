//===- QGemmAvxVnni.cpp - AVX-VNNI int8 micro-kernels (vpdpbusd on ymm) ---===//
//
// CPUs with AVX-VNNI but without AVX-512 (Intel client cores since Alder
// Lake, AMD Zen 5 client parts) have the VEX form of vpdpbusd: four u8 x s8
// products summed into each s32 lane with no intermediate saturation, so
// exact like the AVX-512 VNNI tile and twice the multiply-adds of the
// vpmaddubsw sequence per instruction. B is s8 in Quad panels of 16 columns
// ([ceil(N/16)][ceil(K/4)][16][4]: 64 bytes a group of 4 k, two ymm), A u8
// packed as [ceil(rows/6)][ceil(K/4)][6][4] (s8 A flipped to u8, as on
// VNNI). Weight zero points are applied with A's row sums (QLayout::Quad).
//
// The tile is 6 x 16: 12 accumulators started from the column terms, per
// group of 4 k two loads of B, six vpbroadcastd of A and 12 vpdpbusd (15 of
// the 16 ymm registers). The loops are the AVX2 tiles' inline assembly
// (QTileAvx2.h) with a vpdpbusd step; the epilogue is the AVX2 tiles'.
// qconv2dNhwc's tile reads x in place or from a byte slab, as the AVX-512
// VNNI tile does (no widening: the AVX2 path's u16 slab is not needed).
//
//===----------------------------------------------------------------------===//
#include "QTileAvx2.h"

#define EMBER_TARGET_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))

namespace ember::cpu::detail {

namespace {

// One group of 4 k for a row: its 4 bytes broadcast into ymm14, two
// vpdpbusd against the step's B vectors (ymm12/13). ("%{vex%}": the
// assembler would otherwise take the AVX-512 VL encoding, which an
// AVX-VNNI CPU cannot run.)
#define EMBER_QV_ROW2(addr, c0, c1)                                            \
  "vpbroadcastd " addr ", %%ymm14\n\t"                                         \
  "%{vex%} vpdpbusd %%ymm12, %%ymm14, %[" #c0 "]\n\t"                          \
  "%{vex%} vpdpbusd %%ymm13, %%ymm14, %[" #c1 "]\n\t"
#define EMBER_QV_ROW1(addr, c0)                                                \
  "vpbroadcastd " addr ", %%ymm14\n\t"                                         \
  "%{vex%} vpdpbusd %%ymm12, %%ymm14, %[" #c0 "]\n\t"
// The same on s8 bytes read in place: their sign bits flipped first (the
// products are u8 x s8; the column terms count x + 128).
#define EMBER_QV_ROW2F(addr, c0, c1)                                           \
  "vpbroadcastd " addr ", %%ymm14\n\t"                                         \
  "vpxor %%ymm15, %%ymm14, %%ymm14\n\t"                                        \
  "%{vex%} vpdpbusd %%ymm12, %%ymm14, %[" #c0 "]\n\t"                          \
  "%{vex%} vpdpbusd %%ymm13, %%ymm14, %[" #c1 "]\n\t"
#define EMBER_QV_ROW1F(addr, c0)                                               \
  "vpbroadcastd " addr ", %%ymm14\n\t"                                         \
  "vpxor %%ymm15, %%ymm14, %%ymm14\n\t"                                        \
  "%{vex%} vpdpbusd %%ymm12, %%ymm14, %[" #c0 "]\n\t"

// The flip loops: the conv loops of QTileAvx2.h with ymm15 holding 0x80
// bytes for the whole loop.
#define EMBER_QV_CONV_LOOP2F                                                   \
  asm("vpbroadcastd (%[ones]), %%ymm15\n\t" EMBER_Q8_ROWS_LOAD "1:\n\t"        \
      "vmovdqu (%[b]), %%ymm12\n\t"                                            \
      "vmovdqu 32(%[b]), %%ymm13\n\t" EMBER_QV_ROW2F("(%%r8,%%r14)", a00, a01) \
          EMBER_QV_ROW2F("(%%r9,%%r14)", a10, a11)                             \
              EMBER_QV_ROW2F("(%%r10,%%r14)", a20, a21)                        \
                  EMBER_QV_ROW2F("(%%r11,%%r14)", a30, a31)                    \
                      EMBER_QV_ROW2F("(%%r12,%%r14)", a40, a41)                \
                          EMBER_QV_ROW2F("(%%r13,%%r14)", a50, a51)            \
                              EMBER_Q8_STEP_END                                \
      : EMBER_Q8_ACC2(acc), [b] "+r"(b)                                        \
      : [r] "r"(r), [end] "r"(end), [ones] "r"(&kFlip)                         \
      : "r8", "r9", "r10", "r11", "r12", "r13", "r14", "xmm12", "xmm13",       \
        "xmm14", "xmm15", "cc", "memory")
#define EMBER_QV_CONV_LOOP1F                                                   \
  asm("vpbroadcastd (%[ones]), %%ymm15\n\t" EMBER_Q8_ROWS_LOAD "1:\n\t"        \
      "vmovdqu (%[b]), %%ymm12\n\t" EMBER_QV_ROW1F("(%%r8,%%r14)", a00)        \
          EMBER_QV_ROW1F("(%%r9,%%r14)", a10) EMBER_QV_ROW1F(                  \
              "(%%r10,%%r14)", a20) EMBER_QV_ROW1F("(%%r11,%%r14)", a30)       \
              EMBER_QV_ROW1F("(%%r12,%%r14)", a40)                             \
                  EMBER_QV_ROW1F("(%%r13,%%r14)", a50) EMBER_Q8_STEP_END       \
      : EMBER_Q8_ACC1(acc), [b] "+r"(b)                                        \
      : [r] "r"(r), [end] "r"(end), [ones] "r"(&kFlip)                         \
      : "r8", "r9", "r10", "r11", "r12", "r13", "r14", "xmm12", "xmm14",       \
        "xmm15", "cc", "memory")

constexpr uint32_t kFlip = 0x80808080u;

/// acc += `groups` (at least 1) groups of 4 k of a packed A panel (6 rows)
/// and a 16-column Quad panel.
template <int NV>
EMBER_TARGET_AVXVNNI __attribute__((always_inline)) inline void
panelLoopVnni(__m256i (&acc)[kMR][NV], const uint8_t *a, const int8_t *b,
              size_t groups) {
  const uint8_t *const end = a + 4 * kMR * groups;
  if constexpr (NV == 2)
    EMBER_Q8_PANEL_LOOP2(EMBER_QV_ROW2);
  else
    EMBER_Q8_PANEL_LOOP1(EMBER_QV_ROW1);
}

/// acc -= bZp[n] x rowSum[m]: the weight zero points (Quad panels keep B
/// as it is; QTileArgs::bZp is null when they are all 0).
template <int NV, int MR = kMR>
EMBER_TARGET_AVXVNNI __attribute__((always_inline)) inline void
weightZeroPoints(const QTileArgs &t, __m256i (&acc)[MR][NV]) {
  if (!t.bZp)
    return;
#pragma GCC unroll 2
  for (int j = 0; j < NV; ++j) {
    const __m256i z =
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(t.bZp + 8 * j));
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i)
      if (i < t.rowEnd)
        acc[i][j] = _mm256_sub_epi32(
            acc[i][j], _mm256_mullo_epi32(z, _mm256_set1_epi32(t.rowSum[i])));
  }
}

template <int NV> EMBER_TARGET_AVXVNNI void qtileVnniN(const QTileArgs &t) {
  __m256i acc[kMR][NV];
  startQAvx2<NV>(t, acc);
  if (t.groups)
    panelLoopVnni<NV>(acc, t.a, t.b, t.groups);
  weightZeroPoints<NV>(t, acc);
  finishQAvx2<NV>(t, acc);
}

/// A tile of R (1 or 2) rows, for products of one or two rows (a batch-1
/// classifier reads each weight once: its rate is the weights' bytes, which
/// the six-row loop would spend four idle broadcast rows on). Intrinsics:
/// four accumulators stay in registers.
template <int R> EMBER_TARGET_AVXVNNI void qtileVnniFew(const QTileArgs &t) {
  __m256i acc[R][2];
#pragma GCC unroll 2
  for (int j = 0; j < 2; ++j) {
    const __m256i ct = _mm256_loadu_si256(
        reinterpret_cast<const __m256i *>(t.colTerm + 8 * j));
#pragma GCC unroll 2
    for (int i = 0; i < R; ++i)
      acc[i][j] = ct;
  }
  const uint8_t *a = t.a;
  const int8_t *b = t.b;
  for (size_t g = 0; g < t.groups; ++g, a += 4 * kMR, b += 64) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(b));
    const __m256i b1 =
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(b + 32));
#pragma GCC unroll 2
    for (int i = 0; i < R; ++i) {
      int32_t a4;
      std::memcpy(&a4, a + 4 * i, 4);
      const __m256i av = _mm256_set1_epi32(a4);
      acc[i][0] = _mm256_dpbusd_avx_epi32(acc[i][0], av, b0);
      acc[i][1] = _mm256_dpbusd_avx_epi32(acc[i][1], av, b1);
    }
  }
  weightZeroPoints<2, R>(t, acc);
  finishQAvx2<2, R>(t, acc);
}

/// The 6 x 16 tile over packed panels; at most 8 live columns: one vector;
/// one or two live rows: qtileVnniFew.
EMBER_TARGET_AVXVNNI void qtileAvxVnni(const QTileArgs &t) {
  if (t.rowEnd <= 2 && t.colEnd > 8)
    return t.rowEnd <= 1 ? qtileVnniFew<1>(t) : qtileVnniFew<2>(t);
  if (t.colEnd <= 8)
    return qtileVnniN<1>(t);
  qtileVnniN<2>(t);
}

/// acc += every tap of a convolution tile: row i's tap s is src.tapGroups
/// groups of 4 bytes at src.rows[i] + src.tapOff[s] (flipped when src.flip).
template <int NV>
EMBER_TARGET_AVXVNNI void qconvTileVnniN(const QTileArgs &t,
                                         const QConvTileSrc &src) {
  __m256i acc[kMR][NV];
  startQAvx2<NV>(t, acc);
  const int8_t *b = t.b;
  if (src.tapGroups) {
    const uint8_t *r[kMR];
    const size_t end = 4 * src.tapGroups;
    for (size_t tap = 0; tap < src.taps; ++tap) {
      const ptrdiff_t o = src.tapOff[tap];
#pragma GCC unroll 6
      for (int i = 0; i < kMR; ++i)
        r[i] = src.rows[i] + o;
      if constexpr (NV == 2) {
        if (src.flip)
          EMBER_QV_CONV_LOOP2F;
        else
          EMBER_Q8_CONV_LOOP2(EMBER_QV_ROW2);
      } else {
        if (src.flip)
          EMBER_QV_CONV_LOOP1F;
        else
          EMBER_Q8_CONV_LOOP1(EMBER_QV_ROW1);
      }
    }
  }
  finishQAvx2<NV>(t, acc);
}

constexpr QGemmKernel kAvxVnni = {Isa::AvxVnni, kMR, kNR, &qtileAvxVnni,
                                  QLayout::Quad};

} // namespace

const QGemmKernel &qgemmKernelAvxVnni() { return kAvxVnni; }

EMBER_TARGET_AVXVNNI void qconvTileAvxVnni(const QTileArgs &t,
                                           const QConvTileSrc &src) {
  if (t.colEnd <= 8)
    return qconvTileVnniN<1>(t, src);
  qconvTileVnniN<2>(t, src);
}

EMBER_TARGET_AVX2 size_t packQuadPanel6Avx2(const uint8_t *A, size_t lda,
                                            size_t full, uint8_t *dst,
                                            uint8_t flip) {
  // 8 groups of 4 k (32 bytes) of each of the six rows, the 6 x 8 dword
  // block transposed: group g of rows 0-3 is dword g % 4 of the 128-bit
  // half g / 4 of u[g % 4], rows 4-5 one qword of t4 / t5.
  const __m256i fx = _mm256_set1_epi8(static_cast<char>(flip));
  size_t g = 0;
  for (; g + 8 <= full; g += 8) {
    __m256i r[6];
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i)
      r[i] =
          _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(
                               A + i * lda + 4 * g)),
                           fx);
    const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]);
    const __m256i t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]);
    const __m256i t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    const __m256i t4 = _mm256_unpacklo_epi32(r[4], r[5]);
    const __m256i t5 = _mm256_unpackhi_epi32(r[4], r[5]);
    const __m256i u[4] = {
        _mm256_unpacklo_epi64(t0, t2), _mm256_unpackhi_epi64(t0, t2),
        _mm256_unpacklo_epi64(t1, t3), _mm256_unpackhi_epi64(t1, t3)};
    const __m256i v[2] = {t4, t5};
    uint8_t *d = dst + g * 24;
#pragma GCC unroll 8
    for (int q = 0; q < 8; ++q) {
      const int half = q / 4, p = q % 4;
      const __m128i top = half ? _mm256_extracti128_si256(u[p], 1)
                               : _mm256_castsi256_si128(u[p]);
      __m128i bot = half ? _mm256_extracti128_si256(v[p / 2], 1)
                         : _mm256_castsi256_si128(v[p / 2]);
      if (p % 2)
        bot = _mm_unpackhi_epi64(bot, bot);
      _mm_storeu_si128(reinterpret_cast<__m128i *>(d + 24 * q), top);
      _mm_storel_epi64(reinterpret_cast<__m128i *>(d + 24 * q + 16), bot);
    }
  }
  return g;
}

} // namespace ember::cpu::detail

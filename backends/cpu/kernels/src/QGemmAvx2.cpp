//===- QGemmAvx2.cpp - AVX2 int8 micro-kernel (exact, vpmaddwd) -----------===//
//
// AVX2 has no vpdpbusd, and vpmaddubsw (u8 x s8 pairs summed into s16)
// saturates: a pair reaches 2 * 255 * 128. So this kernel multiplies s16 by
// s16 with vpmaddwd, which sums each pair of products into an s32 lane
// exactly: A is zero-extended to u16 (in the packing, or in qconv2dNhwc's
// slab), B is packed as s16 with its zero point already subtracted
// (QLayout::Pair16: B - bZp lies in [-255, 255], a pair sum in
// [-130050, 130050]), two consecutive k per 32-bit lane.
//
// The tile is 6 x 16: 12 ymm s32 accumulators, per pair of k two 32-byte
// loads of B, six 32-bit broadcasts of A (the pair's two u16), 12 vpmaddwd
// and 12 vpaddd (15 of the 16 ymm registers, one for the product). GCC 12
// kept part of such a loop's accumulators on the stack (37 -> 65 GMAC/s
// when the loop is assembly), so the k loop is inline assembly with the
// accumulators as register operands; the epilogue is intrinsics.
//
// The requantization runs on the tile in registers, bit-exact with finishQ
// (QGemm.h): Ember's fixed point on 8 lanes (FixedPoint.h, mbqmZp8) or ONNX
// Runtime's fp32 form.
//
//===----------------------------------------------------------------------===//
#include "QGemmSplit.h"
#include "QTileAvx2.h"

namespace ember::cpu::detail {

namespace {

/// acc += `pairs` (at least 1) pairs of k of one convolution tap: row i's
/// pairs at r[i] (u16 slab, 4 bytes a pair), B as panelLoopAvx2. (The row
/// pointers come through memory: an asm statement takes at most 30
/// operands, and the accumulators are 24 of them.)
template <int NV>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
convLoopAvx2(__m256i (&acc)[kMR][NV], const uint8_t *const *r, const int8_t *&b,
             size_t pairs) {
  const size_t end = 4 * pairs;
  if constexpr (NV == 2)
    EMBER_Q8_CONV_LOOP2(EMBER_Q8_ROW2);
  else
    EMBER_Q8_CONV_LOOP1(EMBER_Q8_ROW1);
}

// The split tile. vpmaddubsw multiplies u8 by s8 and sums each pair of
// products into s16 with saturation: 255 x 128 x 2 does not fit, so on
// arbitrary activations it is inexact (ONNX Runtime's AVX2 kernel accepts
// that). On activations below 128 a pair sum lies in [-32512, 32258] and
// nothing saturates. So the slab holds x & 0x7f and the tile adds, for
// each group of 4 k whose activations had high bits, 128 x those weights:
// a pair of such products lies in [-32768, 32512], exact too. Per group of
// 4 k and row: one broadcast, two vpmaddubsw, two vpmaddwd by ones (from
// memory: the 12 accumulators, the two B vectors, the broadcast and a
// product fill the 16 registers) and two vpaddd, 32 products each: 6
// vector operations for 64 products, where the exact tile above issues 8.
#define EMBER_QS_ROW2(addr, c0, c1)                                            \
  "vpbroadcastd " addr ", %%ymm14\n\t"                                         \
  "vpmaddubsw %%ymm12, %%ymm14, %%ymm15\n\t"                                   \
  "vpmaddubsw %%ymm13, %%ymm14, %%ymm14\n\t"                                   \
  "vpmaddwd (%[ones]), %%ymm15, %%ymm15\n\t"                                   \
  "vpmaddwd (%[ones]), %%ymm14, %%ymm14\n\t"                                   \
  "vpaddd %%ymm15, %[" #c0 "], %[" #c0 "]\n\t"                                 \
  "vpaddd %%ymm14, %[" #c1 "], %[" #c1 "]\n\t"
#define EMBER_QS_ROW1(addr, c0)                                                \
  "vpbroadcastd " addr ", %%ymm14\n\t"                                         \
  "vpmaddubsw %%ymm12, %%ymm14, %%ymm15\n\t"                                   \
  "vpmaddwd (%[ones]), %%ymm15, %%ymm15\n\t"                                   \
  "vpaddd %%ymm15, %[" #c0 "], %[" #c0 "]\n\t"

/// acc += `groups` (at least 1) groups of 4 k of one convolution tap: row
/// i's bytes at r[i] (7-bit activations), B a 16-column s8 Quad panel (64
/// bytes a group).
template <int NV>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
splitLoopAvx2(__m256i (&acc)[kMR][NV], const uint8_t *const *r,
              const int8_t *&b, size_t groups) {
  const size_t end = 4 * groups;
  if constexpr (NV == 2)
    EMBER_Q8_CONV_LOOP2(EMBER_QS_ROW2);
  else
    EMBER_Q8_CONV_LOOP1(EMBER_QS_ROW1);
}

/// acc += `steps` (at least 1) steps of a packed A panel and a 16-column B
/// panel: pairs of k (the exact tile, Pair16) or groups of 4 (Paired).
template <int NV, bool Paired>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
panelLoopAvx2(__m256i (&acc)[kMR][NV], const uint8_t *a, const int8_t *b,
              size_t steps) {
  const uint8_t *const end = a + 4 * kMR * steps;
  if constexpr (NV == 2 && Paired)
    EMBER_Q8_PANEL_LOOP2(EMBER_QS_ROW2);
  else if constexpr (NV == 2)
    EMBER_Q8_PANEL_LOOP2(EMBER_Q8_ROW2);
  else if constexpr (Paired)
    EMBER_Q8_PANEL_LOOP1(EMBER_QS_ROW1);
  else
    EMBER_Q8_PANEL_LOOP1(EMBER_Q8_ROW1);
}

template <int NV, bool Paired>
EMBER_TARGET_AVX2 void qtilePanelN(const QTileArgs &t) {
  __m256i acc[kMR][NV];
  startQAvx2<NV>(t, acc);
  if (t.groups)
    panelLoopAvx2<NV, Paired>(acc, t.a, t.b, t.groups);
  finishQAvx2<NV>(t, acc);
}

/// The 6 x 16 tiles over packed panels, exact (Pair16) or paired; a panel
/// with at most 8 live columns computes one vector.
template <bool Paired> EMBER_TARGET_AVX2 void qtilePanel(const QTileArgs &t) {
  if (t.colEnd <= 8)
    return qtilePanelN<1, Paired>(t);
  qtilePanelN<2, Paired>(t);
}

/// The 4 bytes of a correction entry's selector: byte j is 128 when bit j
/// of the entry is set.
constexpr uint32_t highBytes(uint32_t m) {
  return (m & 1 ? 0x80u : 0u) | (m & 2 ? 0x8000u : 0u) |
         (m & 4 ? 0x800000u : 0u) | (m & 8 ? 0x80000000u : 0u);
}
/// vpmaddwd's multiplier of a correction as four s16: + 1 (activations
/// above the window, bit 4 of the entry clear), - 1 (below it).
constexpr uint64_t fixSign(uint32_t m) {
  return m & 16 ? ~uint64_t{0} : 0x0001000100010001u;
}

/// A correction entry's selector and multiplier, both indexed by the
/// entry's low 5 bits (which bytes, below): two loads the k loop's load
/// ports absorb, where decoding the fields took 6 integer operations an
/// entry on the ports the vector operations need.
struct FixTables {
  uint32_t sel[32];
  uint64_t sign[32];
};
constexpr FixTables makeFixTables() {
  FixTables f{};
  for (uint32_t m = 0; m < 32; ++m) {
    f.sel[m] = highBytes(m & 15);
    f.sign[m] = fixSign(m);
  }
  return f;
}
alignas(64) constexpr FixTables kFix = makeFixTables();

/// The corrections: acc[i] += 128 x B over the bytes of row i whose high
/// bit the slab cleared, - 128 x B for those that stand for activations
/// below the window. `rounds` rounds of 6 entries, entry i of a round row
/// i's: the byte offset of a group of 4 k in the tile's panel (t.b) | 16
/// for below | which of its bytes (0 pads a short row: adds nothing).
/// vpmaddubsw of the selector (128 at those bytes) and B: a pair sum lies
/// in [-32768, 32512], exact, then vpmaddwd by +-1. One loop for the six
/// rows, whose accumulators stay in registers.
template <int NV>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
splitFix(__m256i (&acc)[kMR][NV], const int8_t *b, const uint32_t *e,
         size_t rounds) {
  for (size_t r = 0; r < rounds; ++r, e += kMR) {
#pragma GCC unroll 6
    for (int i = 0; i < kMR; ++i) {
      const uint32_t x = e[i], m = x & 31;
      const __m256i v = _mm256_set1_epi32(static_cast<int32_t>(kFix.sel[m]));
      const __m256i sign =
          _mm256_set1_epi64x(static_cast<long long>(kFix.sign[m]));
      const int8_t *g = b + (x & ~63u);
      acc[i][0] = _mm256_add_epi32(
          acc[i][0],
          _mm256_madd_epi16(
              _mm256_maddubs_epi16(
                  v, _mm256_loadu_si256(reinterpret_cast<const __m256i *>(g))),
              sign));
      if constexpr (NV == 2)
        acc[i][1] = _mm256_add_epi32(
            acc[i][1],
            _mm256_madd_epi16(
                _mm256_maddubs_epi16(
                    v, _mm256_loadu_si256(
                           reinterpret_cast<const __m256i *>(g + 32))),
                sign));
    }
  }
}

/// acc += every tap of a convolution tile: the exact tile's loop (s16
/// pairs) or the split tile's (Split: 7-bit bytes, groups of 4).
template <int NV, bool Split>
EMBER_TARGET_AVX2 __attribute__((always_inline)) inline void
convTapsAvx2(__m256i (&acc)[kMR][NV], const QConvTileSrc &src,
             const int8_t *b) {
  if (!src.tapGroups)
    return;
  const uint8_t *r[kMR];
  for (size_t tap = 0; tap < src.taps; ++tap) {
    const ptrdiff_t o = src.tapOff[tap];
#pragma GCC unroll 6
    for (int i = 0; i < kMR; ++i)
      r[i] = src.rows[i] + o;
    if constexpr (Split)
      splitLoopAvx2<NV>(acc, r, b, src.tapGroups);
    else
      convLoopAvx2<NV>(acc, r, b, src.tapGroups);
  }
}

template <int NV>
EMBER_TARGET_AVX2 void qconvTileAvx2N(const QTileArgs &t,
                                      const QConvTileSrc &src) {
  __m256i acc[kMR][NV];
  startQAvx2<NV>(t, acc);
  convTapsAvx2<NV, false>(acc, src, t.b);
  finishQAvx2<NV>(t, acc);
}

template <int NV>
EMBER_TARGET_AVX2 void qconvTileSplitN(const QTileArgs &t,
                                       const QConvTileSrc &src,
                                       const QSplitRows &rows) {
  __m256i acc[kMR][NV];
  startQAvx2<NV>(t, acc);
  convTapsAvx2<NV, true>(acc, src, t.b);
  if (rows.rounds)
    splitFix<NV>(acc, t.b, rows.hot, rows.rounds);
  finishQAvx2<NV>(t, acc);
}

// Few rows (a batch-1 classifier): s8 weights in the Quad layout (4 k per
// column, panels of 16; what packQB makes for the generic path), widened
// in the tile. A one-row product reads every weight once per call, so it is
// bound by the weights' bytes, which the s16 pairs double. Per group of 4 k:
// four vpmovsxbw of B (4 columns x 4 k each), per row one vpbroadcastd of
// the 4 A bytes spread to u16 by vpshufb, four vpmaddwd and vpaddd; each
// accumulator lane holds half of a column's sum, so the end adds lane
// pairs (vphaddd, vpermq). Weight zero points come through the row sums.
constexpr int kQuadMR = 2;

template <int R> EMBER_TARGET_AVX2 void qtileAvx2QuadR(const QTileArgs &t) {
  __m256i acc[R][4];
#pragma GCC unroll 2
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j)
      acc[r][j] = _mm256_setzero_si256();
  // Bytes 0-3 of each 64-bit half to the four u16 of the half.
  const __m256i spread =
      _mm256_setr_epi8(0, -1, 1, -1, 2, -1, 3, -1, 0, -1, 1, -1, 2, -1, 3, -1,
                       0, -1, 1, -1, 2, -1, 3, -1, 0, -1, 1, -1, 2, -1, 3, -1);
  const uint8_t *a = t.a;
  const int8_t *b = t.b;
  for (size_t g = 0; g < t.groups; ++g, a += 4 * kQuadMR, b += 4 * kNR) {
    __m256i bw[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j)
      bw[j] = _mm256_cvtepi8_epi16(
          _mm_loadu_si128(reinterpret_cast<const __m128i *>(b + 16 * j)));
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r) {
      int32_t a4;
      std::memcpy(&a4, a + 4 * r, 4);
      const __m256i av = _mm256_shuffle_epi8(_mm256_set1_epi32(a4), spread);
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j)
        acc[r][j] = _mm256_add_epi32(acc[r][j], _mm256_madd_epi16(av, bw[j]));
    }
  }
  // acc[r][j] lanes: (column 4j: k pairs 01, 23), (4j+1: ...) | (4j+2), (4j+3).
  __m256i out[kQuadMR][2];
#pragma GCC unroll 2
  for (int h = 0; h < 2; ++h) {
    const __m256i ct = _mm256_loadu_si256(
        reinterpret_cast<const __m256i *>(t.colTerm + 8 * h));
    const __m256i z =
        t.bZp ? _mm256_loadu_si256(
                    reinterpret_cast<const __m256i *>(t.bZp + 8 * h))
              : _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int r = 0; r < kQuadMR; ++r) {
      __m256i v = ct;
      if (r < R) {
        v = _mm256_add_epi32(
            v, _mm256_permute4x64_epi64(
                   _mm256_hadd_epi32(acc[r][2 * h], acc[r][2 * h + 1]), 0xD8));
        if (t.bZp)
          v = _mm256_sub_epi32(
              v, _mm256_mullo_epi32(z, _mm256_set1_epi32(t.rowSum[r])));
      }
      out[r][h] = v;
    }
  }
  finishQAvx2<2, kQuadMR>(t, out);
}

EMBER_TARGET_AVX2 void qtileAvx2Quad(const QTileArgs &t) {
  if (t.rowEnd <= 1)
    return qtileAvx2QuadR<1>(t);
  qtileAvx2QuadR<2>(t);
}

constexpr QGemmKernel kAvx2Quad = {Isa::Avx2, kQuadMR, kNR, &qtileAvx2Quad,
                                   QLayout::Quad};

constexpr QGemmKernel kAvx2 = {Isa::Avx2, kMR, kNR, &qtilePanel<false>,
                               QLayout::Pair16};
constexpr QGemmKernel kAvx2Paired = {Isa::Avx2, kMR, kNR, &qtilePanel<true>,
                                     QLayout::Paired};
static_assert(2 * sizeof(FixedPointLanes8) <= sizeof(QPanelLanes),
              "a panel's lanes fit QPanelLanes");

} // namespace

const QGemmKernel &qgemmKernelAvx2() { return kAvx2; }
const QGemmKernel &qgemmKernelAvx2Quad() { return kAvx2Quad; }
const QGemmKernel &qgemmKernelAvx2Paired() { return kAvx2Paired; }

EMBER_TARGET_AVX2 void qconvTileAvx2(const QTileArgs &t,
                                     const QConvTileSrc &src) {
  if (t.colEnd <= 8)
    return qconvTileAvx2N<1>(t, src);
  qconvTileAvx2N<2>(t, src);
}

namespace {
template <int NV>
EMBER_TARGET_AVX2 void qgemmTileSplitN(const QTileArgs &t,
                                       const QSplitRows &rows) {
  __m256i acc[kMR][NV];
  startQAvx2<NV>(t, acc);
  if (t.groups)
    panelLoopAvx2<NV, true>(acc, t.a, t.b, t.groups);
  if (rows.rounds)
    splitFix<NV>(acc, t.b, rows.hot, rows.rounds);
  finishQAvx2<NV>(t, acc);
}
} // namespace

EMBER_TARGET_AVX2 void qgemmTileSplitAvx2(const QTileArgs &t,
                                          const QSplitRows &rows) {
  if (t.colEnd <= 8)
    return qgemmTileSplitN<1>(t, rows);
  qgemmTileSplitN<2>(t, rows);
}

EMBER_TARGET_AVX2 void qconvTileSplitAvx2(const QTileArgs &t,
                                          const QConvTileSrc &src,
                                          const QSplitRows &rows) {
  if (t.colEnd <= 8)
    return qconvTileSplitN<1>(t, src, rows);
  qconvTileSplitN<2>(t, src, rows);
}

namespace {
// The most two activations vpmaddubsw multiplies together may sum to for
// its s16 pair sum to be exact whatever the s8 weights (|a0 w0 + a1 w1| <=
// 128 (a0 + a1) <= 32768; -32768 is s16's least).
constexpr unsigned kPairMost = 256;

// Each pair of bytes (2i, 2i + 1) of v whose sum passes kPairMost: both of
// its bytes all-ones.
EMBER_TARGET_AVX2 inline __m256i pairsOver(__m256i v) {
  return _mm256_cmpgt_epi16(_mm256_maddubs_epi16(v, _mm256_set1_epi8(1)),
                            _mm256_set1_epi16(kPairMost));
}

// The bytes of a split slab's vector v (x - shift, modulo 256) that the
// split tile must clear and correct: those below the window (v >= from:
// wrapped; none when `below` is false) and the high-bit bytes of each pair
// whose sum, the bytes below cleared, passes 256 (pairsWithin256Avx2: a
// pair within it is exact whatever its bytes). All-ones bytes.
EMBER_TARGET_AVX2 inline __m256i clearedBytes(__m256i v, __m256i from,
                                              bool below) {
  const __m256i hi = _mm256_set1_epi8(static_cast<char>(0x80));
  const __m256i zero = _mm256_setzero_si256();
  const __m256i ge =
      below ? _mm256_cmpeq_epi8(_mm256_max_epu8(v, from), v) : zero;
  const __m256i v1 = _mm256_andnot_si256(_mm256_and_si256(ge, hi), v);
  const __m256i over = pairsOver(v1);
  return _mm256_or_si256(ge,
                         _mm256_and_si256(over, _mm256_cmpgt_epi8(zero, v1)));
}

// The same for the bytes v[0, n) (n even, at most 32), as a bit mask.
uint32_t clearedBytes(const uint8_t *v, size_t n, uint8_t from, bool below) {
  uint32_t m = 0;
  for (size_t j = 0; j + 1 < n; j += 2) {
    const bool b0 = below && v[j] >= from, b1 = below && v[j + 1] >= from;
    const unsigned s =
        (b0 ? v[j] & 0x7fu : v[j]) + (b1 ? v[j + 1] & 0x7fu : v[j + 1]);
    const bool over = s > kPairMost;
    m |= uint32_t(b0 || (over && v[j] >= 128)) << j;
    m |= uint32_t(b1 || (over && v[j + 1] >= 128)) << (j + 1);
  }
  return m;
}

// Groups of 4 bytes of a 32-bit byte mask with any byte set.
inline size_t groupsOf(uint32_t m) {
  m |= m >> 1;
  m |= m >> 2;
  return static_cast<size_t>(__builtin_popcount(m & 0x11111111u));
}
} // namespace

EMBER_TARGET_AVX2 size_t slabHighBitsAvx2(uint8_t *slab, size_t bytes,
                                          uint64_t *bits, uint8_t from,
                                          uint64_t *atLeast) {
  uint32_t *w = reinterpret_cast<uint32_t *>(bits);
  uint32_t *a = reinterpret_cast<uint32_t *>(atLeast);
  const __m256i f = _mm256_set1_epi8(static_cast<char>(from));
  const __m256i hi = _mm256_set1_epi8(static_cast<char>(0x80));
  const bool below = a != nullptr;
  size_t groups = 0, i = 0; // groups of 4 bytes with a byte cleared
  for (; i + 32 <= bytes; i += 32) {
    const __m256i v =
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(slab + i));
    const __m256i clear = clearedBytes(v, f, below);
    const uint32_t m = static_cast<uint32_t>(_mm256_movemask_epi8(clear));
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(slab + i),
                        _mm256_andnot_si256(_mm256_and_si256(clear, hi), v));
    w[i / 32] = m;
    if (a) // v >= from, unsigned: below the window
      a[i / 32] = static_cast<uint32_t>(
          _mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(v, f), v)));
    groups += groupsOf(m);
  }
  if (i < bytes) {
    const uint32_t m = clearedBytes(slab + i, bytes - i, from, below);
    uint32_t ge = 0;
    for (size_t j = i; j < bytes; ++j) {
      ge |= static_cast<uint32_t>(below && slab[j] >= from) << (j - i);
      if ((m >> (j - i)) & 1)
        slab[j] &= 0x7f;
    }
    w[i / 32] = m;
    if (a)
      a[i / 32] = ge;
    groups += groupsOf(m);
    i += 32;
  }
  if (i % 64) { // the last word's upper half
    w[i / 32] = 0;
    if (a)
      a[i / 32] = 0;
  }
  return groups;
}

EMBER_TARGET_AVX2 size_t pairHotGroupsAvx2(const uint8_t *p, size_t n,
                                           uint8_t add, uint8_t from,
                                           bool below, size_t limit) {
  const __m256i ad = _mm256_set1_epi8(static_cast<char>(add));
  const __m256i f = _mm256_set1_epi8(static_cast<char>(from));
  size_t groups = 0, i = 0;
  for (; i + 32 <= n && groups <= limit; i += 32)
    groups += groupsOf(static_cast<uint32_t>(_mm256_movemask_epi8(clearedBytes(
        _mm256_add_epi8(
            _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p + i)), ad),
        f, below))));
  if (i < n && groups <= limit) {
    uint8_t v[32];
    for (size_t j = i; j < n; ++j)
      v[j - i] = static_cast<uint8_t>(p[j] + add);
    groups += groupsOf(clearedBytes(v, n - i, from, below));
  }
  return groups;
}

EMBER_TARGET_AVX2 bool pairsWithin256Avx2(const uint8_t *p, size_t n) {
  // 128 bytes between tests.
  size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    __m256i over = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (size_t j = 0; j < 128; j += 32)
      over = _mm256_or_si256(
          over, pairsOver(_mm256_loadu_si256(
                    reinterpret_cast<const __m256i *>(p + i + j))));
    if (!_mm256_testz_si256(over, over))
      return false;
  }
  for (; i + 1 < n; i += 2)
    if (unsigned(p[i]) + unsigned(p[i + 1]) > kPairMost)
      return false;
  return true;
}

EMBER_TARGET_AVX2 size_t highGroupsAvx2(const uint8_t *p, size_t n, uint8_t add,
                                        size_t limit) {
  const __m256i ad = _mm256_set1_epi8(static_cast<char>(add));
  size_t groups = 0, i = 0;
  for (; i + 32 <= n && groups <= limit; i += 32) {
    groups +=
        groupsOf(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_add_epi8(
            _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p + i)),
            ad))));
  }
  for (; i < n && groups <= limit; i += 4) {
    const uint8_t any =
        static_cast<uint8_t>(static_cast<uint8_t>(p[i] + add) |
                             static_cast<uint8_t>(p[i + 1] + add) |
                             static_cast<uint8_t>(p[i + 2] + add) |
                             static_cast<uint8_t>(p[i + 3] + add));
    groups += any >> 7;
  }
  return groups;
}

EMBER_TARGET_AVX2 size_t splitPackRowAvx2(const uint8_t *src, size_t K,
                                          uint8_t flip, uint8_t shift,
                                          uint8_t *dst, size_t stride,
                                          uint32_t *hot) {
  const __m256i fx = _mm256_set1_epi8(static_cast<char>(flip));
  const __m256i sh = _mm256_set1_epi8(static_cast<char>(shift));
  const __m256i from = _mm256_set1_epi8(static_cast<char>(256 - shift));
  const __m256i hi = _mm256_set1_epi8(static_cast<char>(0x80));
  size_t n = 0;
  for (size_t k = 0; k + 32 <= K; k += 32) {
    const __m256i x = _mm256_xor_si256(
        _mm256_loadu_si256(reinterpret_cast<const __m256i *>(src + k)), fx);
    const __m256i y = _mm256_sub_epi8(x, sh);
    // (Below the window, and the high bytes of pairs over 256: the slab's
    // rule, slabHighBitsAvx2.)
    const __m256i clear = clearedBytes(y, from, shift != 0);
    alignas(32) uint32_t v[8];
    _mm256_store_si256(reinterpret_cast<__m256i *>(v),
                       _mm256_andnot_si256(_mm256_and_si256(clear, hi), y));
    uint8_t *d = dst + (k / 4) * stride;
#pragma GCC unroll 8
    for (size_t g = 0; g < 8; ++g)
      std::memcpy(d + g * stride, &v[g], 4);
    const uint32_t m = static_cast<uint32_t>(_mm256_movemask_epi8(clear));
    if (!m)
      continue;
    // Bytes below the window: x < shift (unsigned), i.e. max(x, shift) != x.
    const uint32_t below =
        m & ~static_cast<uint32_t>(_mm256_movemask_epi8(
                _mm256_cmpeq_epi8(_mm256_max_epu8(x, sh), x)));
    // The groups with a high bit, lowest first: bit 4g of `groupsHot`.
    uint32_t groupsHot = (m | m >> 1 | m >> 2 | m >> 3) & 0x11111111u;
    for (; groupsHot; groupsHot &= groupsHot - 1) {
      const unsigned g = static_cast<unsigned>(__builtin_ctz(groupsHot)) / 4;
      const uint32_t hi = (m >> (4 * g)) & 15u, lo = (below >> (4 * g)) & 15u;
      const uint32_t off = static_cast<uint32_t>((k / 4 + g) * 64);
      if (hi & ~lo)
        hot[n++] = off | (hi & ~lo);
      if (lo)
        hot[n++] = off | 16u | lo;
    }
  }
  return n;
}

EMBER_TARGET_AVX2 void fixedPointPanelAvx2(const QTileArgs &t, void *out) {
  FixedPointLanes8 *l = static_cast<FixedPointLanes8 *>(out);
  const Requantize &rq = *t.rq;
#pragma GCC unroll 2
  for (int j = 0; j < 2; ++j) {
    const __m256i m = laneMask8(t.colBegin - 8 * j, t.colEnd - 8 * j);
    __m256i mult = t.perColumn ? _mm256_maskload_epi32(t.mult + 8 * j, m)
                               : _mm256_set1_epi32(t.mult[0]);
    __m256i sh = t.perColumn ? _mm256_maskload_epi32(t.shift + 8 * j, m)
                             : _mm256_set1_epi32(t.shift[0]);
    if (t.perColumn) // columns past the panel's end: a harmless shift
      sh = _mm256_blendv_epi8(_mm256_set1_epi32(-1), sh, m);
    l[j] = fixedPointLanes8(mult, sh, rq.zeroPoint, t.fixedFast);
  }
}

EMBER_TARGET_AVX2 size_t packQAPanelAvx2(const uint8_t *A, size_t lda, size_t K,
                                         uint16_t *dst, uint8_t flip) {
  // 16 k of each row widened to 8 dwords (u16 pairs), then the 6 x 8 dword
  // block transposed: pair g of rows 0-3 is dword g % 4 of the 128-bit half
  // g / 4 of u[g % 4], rows 4-5 one qword of t4 / t5.
  const __m128i fx = _mm_set1_epi8(static_cast<char>(flip));
  size_t g = 0;
  for (size_t k = 0; k + 16 <= K; k += 16, g += 8) {
    __m256i r[6];
#pragma GCC unroll 6
    for (int i = 0; i < 6; ++i)
      r[i] = _mm256_cvtepu8_epi16(_mm_xor_si128(
          _mm_loadu_si128(reinterpret_cast<const __m128i *>(A + i * lda + k)),
          fx));
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
    char *d = reinterpret_cast<char *>(dst + g * 12);
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

EMBER_TARGET_AVX2 void widenPixelsAvx2(const uint8_t *src, size_t W, size_t C,
                                       size_t ldx, size_t cp, uint16_t *dst,
                                       uint16_t fill, uint8_t flip) {
  const __m128i fx = _mm_set1_epi8(static_cast<char>(flip));
  if (cp == C && ldx == C) { // one contiguous run
    const size_t n = W * C;
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
      _mm256_storeu_si256(
          reinterpret_cast<__m256i *>(dst + i),
          _mm256_cvtepu8_epi16(_mm_xor_si128(
              _mm_loadu_si128(reinterpret_cast<const __m128i *>(src + i)),
              fx)));
    for (; i < n; ++i)
      dst[i] = static_cast<uint16_t>(src[i] ^ flip);
    return;
  }
  if (cp == 4) {
    // 1-4 channels (a first layer): 8 bytes a pixel, the channels past C
    // the fill. (A constant trip count: no memcpy call per pixel.)
    for (size_t w = 0; w < W; ++w) {
      const uint8_t *sp = src + w * ldx;
      uint64_t v = 0;
#pragma GCC unroll 4
      for (size_t c = 0; c < 4; ++c)
        v |= uint64_t(c < C ? uint16_t(sp[c] ^ flip) : fill) << (16 * c);
      std::memcpy(dst + 4 * w, &v, 8);
    }
    return;
  }
  for (size_t w = 0; w < W; ++w) {
    const uint8_t *sp = src + w * ldx;
    uint16_t *dp = dst + w * cp;
    size_t c = 0;
    for (; c + 16 <= C; c += 16)
      _mm256_storeu_si256(
          reinterpret_cast<__m256i *>(dp + c),
          _mm256_cvtepu8_epi16(_mm_xor_si128(
              _mm_loadu_si128(reinterpret_cast<const __m128i *>(sp + c)), fx)));
    for (; c < C; ++c)
      dp[c] = static_cast<uint16_t>(sp[c] ^ flip);
    for (; c < cp; ++c)
      dp[c] = fill;
  }
}

} // namespace ember::cpu::detail

//===- QGemm.h - int8 GEMM internals ----------------------------*- C++ -*-===//
#ifndef EMBER_CPU_KERNELS_QGEMM_H
#define EMBER_CPU_KERNELS_QGEMM_H

#include "Internal.h"

#include "ember/quant/Arith.h"

#include <vector>

namespace ember::cpu::detail {

/// How a QGemmB buffer's panels hold B (PackedHeader::reserved[2]; 0 in
/// buffers packed before the AVX2 path existed).
enum class QLayout : uint64_t {
  /// s8 B, 4 consecutive k per 32-bit lane (the vpdpbusd operand): B
  /// [ceil(N/NR)][ceil(K/4)][NR][4]; A packed [ceil(rows/MR)][ceil(K/4)][MR]
  /// [4] u8. Weight zero points are applied with A's row sums.
  Quad = 0,
  /// s16 B - bZp[n], 2 consecutive k per 32-bit lane (the vpmaddwd operand):
  /// B [ceil(N/NR)][ceil(K/2)][NR][2]; A packed [ceil(rows/MR)][ceil(K/2)]
  /// [MR][2] u16 (u8 zero-extended). B - bZp lies in [-255, 255], so the
  /// zero points are folded into the panels and no row sums are needed.
  Pair16 = 1,
  /// The Quad layout over a permuted, padded order of k (packQB with
  /// QPackExtra::PairedK; every weight zero point 0): packed step position
  /// q holds row perm[q] of B, or zeros where perm[q] is a pad, so that
  /// positions 2i and 2i+1 never saturate vpmaddubsw's s16 pair sum on u8
  /// A. B [ceil(N/16)][G][16][4] s8, G groups of 4 positions (G and perm
  /// in the pairing section, PackedHeader::reserved[3]); A packed as Quad
  /// through perm (packQAPermuted).
  Paired = 2,
};

/// Everything a tile needs to turn its s32 dot products into outputs.
/// Pointers are already offset to the tile's first row / column.
struct QTileArgs {
  /// The packed depth: K / 4 rounded up (Quad: groups of 4 k) or K / 2
  /// rounded up (Pair16: pairs of k).
  size_t groups;
  const uint8_t *a; ///< packed A panel: groups x MR x 4 bytes
  const int8_t *b;  ///< packed B panel: groups x NR x 4 bytes
  void *c;          ///< tile (0, 0); element type per requant.output
  size_t ldc;       ///< elements
  int rowBegin, rowEnd, colBegin, colEnd;
  const int32_t *colTerm; ///< bias + K*a_zp*b_zp - a_zp*colsum(B), per column
  const int32_t *bZp;     ///< per-column B zero point, or null when all 0
  const int32_t *rowSum;  ///< sum_k A[m,k] for the tile's rows (with bZp)
  const Requantize *rq;
  const float *scale;   ///< Float: tile's first column (or the scalar)
  const int32_t *mult;  ///< FixedPoint: same
  const int32_t *shift; ///< FixedPoint: same
  bool perColumn;       ///< scale/mult/shift advance with the column
  bool fixedFast;       ///< FixedPoint: the fast form (fixedPointFast)
  int32_t qmin, qmax;   ///< output range (type range & requested clamp)
  /// VNNI FixedPoint tiles: the panel's 4 FixedPointLanes (16 columns
  /// each), made by fixedPointPanelVnni when the panel is set.
  const void *lanes;
};

/// Room for a panel's 4 FixedPointLanes (FixedPoint.h).
struct alignas(64) QPanelLanes {
  unsigned char bytes[4 * 11 * 64];
};

using QTileFn = void (*)(const QTileArgs &);

struct QGemmKernel {
  Isa isa;
  int mr, nr;
  QTileFn tile;
  QLayout layout;
};

/// Where an implicit-GEMM convolution tile (6 rows, the VNNI kernel's MR)
/// reads A: tap s of row i is tapGroups groups of 4 bytes at rows[i] +
/// tapOff[s]. flip: the bytes are s8, read as u8 by flipping the sign bit.
struct QConvTileSrc {
  const uint8_t *const *rows; ///< 6 window corners
  const ptrdiff_t *tapOff;    ///< byte offset of each tap from the corner
  size_t taps, tapGroups;
  bool flip;
};

/// The AVX2 split convolution tile's corrections (QGemmAvx2.cpp): for each
/// group of 4 k of a tile row whose activations have a high bit set, the
/// group's byte offset in the tile's s8 panel (group x 64) | which of its
/// bytes do; in rounds of one entry per row (0 pads a row with fewer).
struct QSplitRows {
  const uint32_t *hot; ///< rounds x 6 entries
  size_t rounds;
};

/// W pixels of 3 contiguous bytes to 4 bytes each, the fourth `fill`
/// (qconv2dNhwc's slab rows for 3-channel input), 16 pixels per step; each
/// copied byte is xor-ed with `flip` (0x80: s8 read as u8; else 0).
void expand3To4Vnni(const uint8_t *src, uint8_t *dst, size_t W, uint8_t fill,
                    uint8_t flip);

/// The VNNI implicit-GEMM tile over a 64-column panel (t.a unused).
void qconvTileVnni(const QTileArgs &t, const QConvTileSrc &src);

/// The FixedPointLanes of columns [colBegin, colEnd) of t's panel (t's
/// multipliers, shifts, zero point and form) into `out` (a QPanelLanes).
void fixedPointPanelVnni(const QTileArgs &t, void *out);

const QGemmKernel &qgemmKernelGeneric();
const QGemmKernel &qgemmKernelVnni();
/// The AVX2 kernel (QGemmAvx2.cpp): 6 x 16, Pair16 layout, vpmaddwd.
const QGemmKernel &qgemmKernelAvx2();
/// The AVX-VNNI kernel (QGemmAvxVnni.cpp): 6 x 16, s8 Quad panels of 16,
/// vpdpbusd on ymm.
const QGemmKernel &qgemmKernelAvxVnni();
/// The AVX-VNNI implicit-GEMM convolution tile (6 rows, a 16-column Quad
/// panel): as qconvTileVnni, x's bytes in place or from a byte slab.
void qconvTileAvxVnni(const QTileArgs &t, const QConvTileSrc &src);
/// Quad A packing of six whole rows on AVX2: groups [0, 8 * (full / 8)) of
/// 4 k (`full` whole groups in the rows), each byte xor-ed with flip;
/// returns the groups done.
size_t packQuadPanel6Avx2(const uint8_t *A, size_t lda, size_t full,
                          uint8_t *dst, uint8_t flip);
/// Bytes of `steps` packed k steps (4 bytes a column each) of N columns in
/// panels of NR, padded to whole panels and 64 bytes.
inline size_t quadPanelBytes(size_t steps, size_t N, size_t NR) {
  return roundUp(ceilDiv(N, NR) * NR * steps * 4, 64);
}

// QLayout::Paired (QGemmPaired.cpp).

/// The most groups of 4 a Paired packing of depth K may take: 9/8 of K.
size_t pairedMaxGroups(size_t K);
/// A Paired buffer's pairing section: the group count (u64), then at
/// kPairedOrderAt the order, 4 x groups int32.
constexpr size_t kPairedOrderAt = 64;
size_t pairedSectionBytes(size_t groups);
/// The Paired order of B's rows (a zero row: -1), or empty when none fits
/// in maxGroups groups of 4.
std::vector<int32_t> planPairs(size_t K, size_t N, const int8_t *B, size_t ldb,
                               size_t maxGroups);
/// B's rows in `order` into zeroed Paired panels of NR columns (packQB
/// writes the header and the column terms).
void writePairedPanels(const std::vector<int32_t> &order, size_t N, size_t NR,
                       const int8_t *B, size_t ldb, int8_t *panels);
/// The pairing section of `order` at `sec` (PackedHeader::reserved[3]).
void writePairingSection(const std::vector<int32_t> &order, char *sec);
/// A rows [0, rows) into Paired panels of mr rows (flip: 0x80 for s8 A).
void packQAPermuted(size_t rows, const int32_t *perm, size_t groups,
                    const uint8_t *A, size_t lda, int mr, uint8_t *dst,
                    uint8_t flip);

/// The tile's column range and output constants for the panel of columns
/// [col0, col0 + NR) of N: scale, multiplier and shift pointers, and for a
/// vector kernel's fixed-point epilogue (`lanesIsa` VNNI, AVX2 or AVX-VNNI)
/// the panel's constants made in `lanes` (null: none).
void setPanelOutput(QTileArgs &t, const Requantize &rq, size_t col0, size_t N,
                    size_t NR, QPanelLanes *lanes, Isa lanesIsa);

/// The layout of a buffer packQB made (tests).
QLayout packedQLayout(const void *packed);
/// The AVX2 kernel over Paired panels (QGemmAvx2.cpp): 6 x 16, vpmaddubsw.
const QGemmKernel &qgemmKernelAvx2Paired();
/// The AVX2 kernel for few rows over s8 Quad panels of 16 (a matrix-vector
/// product reads every weight once: s8 halves the bytes of Pair16).
const QGemmKernel &qgemmKernelAvx2Quad();
/// A portable kernel for a packed layout and panel width; null if none.
const QGemmKernel *qgemmKernelGenericFor(QLayout layout, int nr);

/// Pair16 A packing: rows [0, rows) of A (u8, each byte xor-ed with flip)
/// into panels of 6 rows, [ceil(rows/6)][ceil(K/2)][6][2] u16, zero padded.
void packQAPairs(size_t rows, size_t K, const uint8_t *A, size_t lda,
                 uint16_t *dst, uint8_t flip);
/// Its AVX2 body for whole 6-row panels: pairs [0, 8 * (K / 16)) of one
/// panel; returns the pairs done.
size_t packQAPanelAvx2(const uint8_t *A, size_t lda, size_t K, uint16_t *dst,
                       uint8_t flip);

/// The AVX2 FixedPoint constants of a 16-column panel (two FixedPointLanes8)
/// into `out` (a QPanelLanes), as fixedPointPanelVnni.
void fixedPointPanelAvx2(const QTileArgs &t, void *out);

/// The AVX2 implicit-GEMM convolution tile (6 rows, a 16-column Pair16
/// panel): A rows are u16 (a widened slab), tap s of row i is
/// src.tapGroups pairs at rows[i] + tapOff[s]; src.flip unused.
void qconvTileAvx2(const QTileArgs &t, const QConvTileSrc &src);

/// The AVX2 split convolution tile (QGemmAvx2.cpp): 6 rows over a
/// 16-column s8 Quad panel (t.b), A rows u8 with every high bit cleared
/// (tap s of row i is src.tapGroups groups of 4 bytes at rows[i] +
/// tapOff[s]), multiplied with vpmaddubsw, whose s16 pair sums cannot
/// saturate on 7-bit activations; rows.hot adds 128 x B for each cleared
/// bit. Exact, as qconvTileAvx2.
void qconvTileSplitAvx2(const QTileArgs &t, const QConvTileSrc &src,
                        const QSplitRows &rows);

/// What this thread's qconv2dNhwc calls on the AVX2 path did, pass by pass
/// (tests and gemm_bench read it): passes through the split tile (and of
/// them, those whose activations were shifted: a zero point above 64),
/// passes through the exact tile on a widened slab, and the split tile's
/// correction entries (each once per run of tiles, not per panel; `below`:
/// of the slab pixels' entries, those for activations below the window);
/// `inPlace`: of the split passes, those that read x itself, every pair of
/// its activations summing to at most 256 (no slab, no window).
struct QConvPassCounts {
  size_t split = 0, shifted = 0, wide = 0, entries = 0, below = 0, inPlace = 0;
};
QConvPassCounts &qconvPassCounts();

// ---- QGemm.cpp's pieces its convolutions (QConvNhwc.cpp) share ----------

/// A QGemmB buffer's sections (view).
struct QPacked {
  const int8_t *panels;
  const int32_t *colTerm;
  const int32_t *bZp; // null when every zero point is 0 (or folded: Pair16)
  /// Pair16 buffers whose weight zero points are all 0: B again as s8 Quad
  /// panels of 16 columns, for the split tile (else null), and B's column
  /// sums (its column terms for activations shifted by s: colTerm + s x
  /// colSum).
  const int8_t *split;
  const int32_t *colSum;
  /// Paired: the packed k order (4 x groups row indices of B; a pad's is 0,
  /// where B is zero) and the groups of 4 in it. Else null and 0.
  const int32_t *perm;
  size_t groups;
  bool aSigned; // A is s8: flip its sign bit to read it as u8
  QLayout layout;
};

/// The k a packed step covers (Quad: a group of 4 s8, Pair16: a pair of
/// s16).
size_t stepK(QLayout l);
/// A packed buffer's sections.
QPacked view(const void *packed);
/// Whether a resolved path runs the AVX2 kernels.
bool avx2Path(Isa resolved);
/// Checks common to every entry point: shapes, packing, requantization.
Status checkQCall(size_t N, size_t K, const void *packedB,
                  const Requantize &rq);
/// A tile's arguments for `groups` packed steps and output row stride ldc.
QTileArgs tileArgs(const Requantize &rq, size_t groups, size_t ldc);
/// The tile's B panel, column terms and output at column col0.
void setPanel(QTileArgs &t, const QPacked &b, const Requantize &rq, size_t col0,
              size_t N, size_t NR, size_t groups, QPanelLanes *lanes,
              Isa lanesIsa = Isa::Avx512Vnni);

/// The split slab's correction map, then its bytes cleared: bit i of
/// `bits` (ceil(bytes / 64) words, the bits past `bytes` clear) is set, and
/// the high bit of slab byte i cleared, when the byte lies below the window
/// (at least `from`: wrapped, when `atLeast` is not null) or has its high
/// bit in a pair of bytes (2j, 2j + 1) whose sum, the bytes below cleared,
/// passes 256 (a pair within it multiplies exactly whatever its bytes:
/// pairsWithin256Avx2); bit i of `atLeast` whether byte i was at least
/// `from`. Returns how many 4-byte groups of [0, bytes) had a byte cleared
/// (bytes a multiple of 4).
size_t slabHighBitsAvx2(uint8_t *slab, size_t bytes, uint64_t *bits,
                        uint8_t from, uint64_t *atLeast);
/// Whether every pair of bytes p[2i], p[2i + 1] of [0, n) (n even, p's
/// pairs the ones vpmaddubsw multiplies together) sums to at most 256: then
/// |a0 w0 + a1 w1| <= 128 (a0 + a1) <= 32768 for any s8 weights, and
/// vpmaddubsw's s16 pair sums are exact (the most negative, -32768, is
/// exactly s16's). Stops at the first pair that does not.
bool pairsWithin256Avx2(const uint8_t *p, size_t n);
/// How many groups of 4 bytes of [0, n) (n a multiple of 4) have a byte
/// whose high bit, once `add` is added to it (modulo 256), is set; once
/// more than `limit` are found, some count past it (not all).
size_t highGroupsAvx2(const uint8_t *p, size_t n, uint8_t add, size_t limit);
/// How many groups of 4 bytes of [0, n) (n a multiple of 4), once `add` is
/// added to each (modulo 256), slabHighBitsAvx2 would clear a byte of (with
/// `from`, and below the window counted when `below`); once more than
/// `limit` are found, some count past it (not all).
size_t pairHotGroupsAvx2(const uint8_t *p, size_t n, uint8_t add, uint8_t from,
                         bool below, size_t limit);
/// One row of A into the split tile's packing, 32 bytes at a time: groups
/// [0, K / 32 x 8) of `src` (xor flip, minus shift, high bit cleared) to
/// dst + 4 x kMR x g (`stride` bytes a group), and for each group with a
/// byte outside the window its correction entries (QGemmSplit.cpp: the
/// group's offset g x 64, | 16 for bytes below the window, | which bytes)
/// appended at `hot`. Returns the entries written; the caller packs the
/// groups from K / 32 x 8 on.
size_t splitPackRowAvx2(const uint8_t *src, size_t K, uint8_t flip,
                        uint8_t shift, uint8_t *dst, size_t stride,
                        uint32_t *hot);

/// One slab row of qconv2dNhwc's AVX2 path: W pixels of C bytes (pixel
/// stride ldx) widened to u16, each byte xor-ed with flip, into pixels of cp
/// u16 (channels past C set to fill).
void widenPixelsAvx2(const uint8_t *src, size_t W, size_t C, size_t ldx,
                     size_t cp, uint16_t *dst, uint16_t fill, uint8_t flip);

/// Round half to even, independent of the FP environment's rounding mode.
inline float roundHalfEven(float x) {
  float r = __builtin_floorf(x);
  float d = x - r;
  if (d > 0.5f || (d == 0.5f && __builtin_fmodf(r, 2.0f) != 0.0f))
    r += 1.0f;
  return r;
}

/// The output value of corrected accumulator `acc` in column `j` of a tile.
inline int32_t finishQ(const QTileArgs &t, int j, int32_t acc) {
  const Requantize &rq = *t.rq;
  if (rq.output == QOutput::Int32)
    return acc;
  const size_t idx = t.perColumn ? static_cast<size_t>(j) : 0;
  int32_t v;
  if (rq.kind == QScaleKind::Float) {
    float f = static_cast<float>(acc) * t.scale[idx];
    const float lo = static_cast<float>(t.qmin - rq.zeroPoint);
    const float hi = static_cast<float>(t.qmax - rq.zeroPoint);
    f = f < lo ? lo : (f > hi ? hi : f);
    v = static_cast<int32_t>(roundHalfEven(f)) + rq.zeroPoint;
  } else {
    v = quant::requantize(acc, 0, {t.mult[idx], t.shift[idx]}, rq.zeroPoint,
                          t.qmin, t.qmax);
  }
  return v;
}

/// Stores `v` at tile element (i, j) in the output type.
inline void storeQ(const QTileArgs &t, int i, int j, int32_t v) {
  const size_t off = static_cast<size_t>(i) * t.ldc + static_cast<size_t>(j);
  switch (t.rq->output) {
  case QOutput::Int32:
    static_cast<int32_t *>(t.c)[off] = v;
    break;
  case QOutput::UInt8:
    static_cast<uint8_t *>(t.c)[off] = static_cast<uint8_t>(v);
    break;
  case QOutput::Int8:
    static_cast<int8_t *>(t.c)[off] = static_cast<int8_t>(v);
    break;
  }
}

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_QGEMM_H

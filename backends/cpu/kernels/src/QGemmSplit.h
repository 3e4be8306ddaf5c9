//===- QGemmSplit.h - qgemmPacked's split tile on AVX2 ----------*- C++ -*-===//
//
// QGemmSplit.cpp: a block of A packed for the 7-bit split tile with its
// correction entries, for qgemmPacked on the AVX2 path (buffers with the
// split section: Pair16 without weight zero points).
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_QGEMMSPLIT_H
#define EMBER_CPU_KERNELS_QGEMMSPLIT_H

#include "QGemm.h"

namespace ember::cpu::detail {

/// A block of A for the split tile: Quad panels of 6 rows (bytes - shift,
/// high bits cleared); per tile t, its correction rounds start at
/// hot[tileHot[2t]] and number tileHot[2t + 1] (QSplitRows).
struct QSplitBlock {
  const uint8_t *a = nullptr;
  const uint32_t *tileHot = nullptr;
  const uint32_t *hot = nullptr;
  int32_t shift = 0;
  size_t entries = 0; ///< groups with bytes outside the window
};

/// Workspace bytes of one split block of `rows` rows of depth K.
size_t qgemmSplitBytes(size_t K, size_t rows);

/// Whether a block of `cells` (rows x groups of 4 k), `hot` of them with
/// bytes outside the window, runs faster on the split tile over `panels`
/// 16-column panels.
bool qgemmSplitPays(size_t cells, size_t hot, size_t panels);

/// Rows [0, rows) of A (u8; s8 read with the sign bit flipped, flip 0x80)
/// packed for the split tile into `ws` (qgemmSplitBytes), when the split
/// pays over `panels` panels: then `out` describes it and true; else
/// false (take the exact tile).
bool qgemmSplitPack(const uint8_t *A, size_t lda, size_t rows, size_t K,
                    uint8_t flip, size_t panels, void *ws, QSplitBlock &out);

/// What the split tile reads of a packed B: the split section's s8 Quad
/// panels of 16 columns, the column terms and sums (padded to whole
/// panels), and whether A is s8 (read with its sign bit flipped).
struct QSplitPanels {
  const int8_t *panels;
  const int32_t *colTerm, *colSum;
  bool aSigned;
};

/// One block of rows [0, rows) of A through the split tile, columns [nBegin,
/// nEnd) of N (C at the block's first row, column 0; `elem` bytes an
/// output), when it pays (qgemmSplitPack, workspace `ws`); false: the
/// caller runs the exact tile. `t` holds the call's settings (its panel
/// fields are set here and its groups restored); `lanes` as setPanelOutput.
bool qgemmSplitBlock(const uint8_t *A, size_t lda, size_t rows, size_t K,
                     const QSplitPanels &b, const Requantize &rq, QTileArgs &t,
                     size_t nBegin, size_t nEnd, size_t N, QPanelLanes *lanes,
                     char *C, size_t elem, void *ws);

/// The AVX2 split tile over a packed block (QGemmAvx2.cpp): 6 x 16,
/// vpmaddubsw over t.a (the block's tile) and t.b (the split section's s8
/// Quad panel), then the corrections `rows`.
void qgemmTileSplitAvx2(const QTileArgs &t, const QSplitRows &rows);

/// What this thread's qgemmPacked calls did on the AVX2 path (tests,
/// gemm_bench): blocks through the split tile and through the exact one
/// (buffers with a split section only).
struct QGemmBlockCounts {
  size_t split = 0, exact = 0;
};
QGemmBlockCounts &qgemmBlockCounts();

} // namespace ember::cpu::detail

#endif // EMBER_CPU_KERNELS_QGEMMSPLIT_H

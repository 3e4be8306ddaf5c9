//===- QGemmSplit.cpp - qgemmPacked's 7-bit split tile on AVX2 ------------===//
//
// qconv2dNhwc's split tile (kernels README, "AVX2 without saturation: the
// 7-bit split tile") for the GEMM: a block of A rows whose bytes mostly lie
// in a window of 128 values [s, s + 127] runs the vpmaddubsw tile (6
// vector operations for 64 products where the exact vpmaddwd tile issues 8)
// on a - s with the high bits cleared, exact, plus for each group of 4 k of
// a row that held bytes outside the window +-128 x those weights (the
// correction entries), and the column terms s x colSum(B). The block's A
// is packed once and listed once for every 16-column panel of B, so the
// listing is paid once per block while the saving is paid per panel.
//
// The window: the shift of 0, 64 or 128 that leaves the fewest groups out
// (after a ReLU, s = 0; activations crowding the top of the range, 128; a
// zero point near 128, 64). A byte above the window whose pair (k even and
// k + 1) sums to at most 256 needs no correction: vpmaddubsw multiplies
// such a pair exactly (the slab's rule, kernels README). A block takes the
// split tile when its corrections cost less than the exact tile would
// (qgemmSplitPays), else the exact tile as before.
//
//===----------------------------------------------------------------------===//
#include "QGemmSplit.h"

#include <algorithm>
#include <cstring>

namespace ember::cpu::detail {

namespace {

constexpr size_t kMR = 6;

/// The most groups with a byte outside the window a block may have before
/// the split cannot pay (a share of its groups; the workspace holds no
/// more).
constexpr size_t kMaxHotPercent = 20;

/// Groups of 4 k of rows [0, rows) of A (xor flip, minus shift) with a byte
/// to correct, counted up to `limit` (past it some are not counted): below
/// the window, or above it in a pair over 256 (slabHighBitsAvx2's rule; a
/// K that is not a multiple of 32 packs its last bytes with every byte
/// outside [0, 127] corrected, so its last groups count those).
size_t hotGroups(const uint8_t *A, size_t lda, size_t rows, size_t K,
                 uint8_t flip, int32_t shift, size_t limit) {
  const uint8_t add = static_cast<uint8_t>(flip - shift);
  const size_t full = K / 32 * 32, whole = K / 4 * 4;
  size_t hot = 0;
  for (size_t r = 0; r < rows && hot <= limit; ++r) {
    const uint8_t *p = A + r * lda;
    if (full)
      hot += pairHotGroupsAvx2(p, full, add, static_cast<uint8_t>(256 - shift),
                               shift != 0, limit - hot);
    if (whole > full && hot <= limit)
      hot += highGroupsAvx2(p + full, whole - full, add, limit - hot);
    uint8_t any = 0;
    for (size_t k = whole; k < K; ++k)
      any |= static_cast<uint8_t>(p[k] + add);
    hot += any >> 7;
  }
  return hot;
}

/// How many groups with bytes outside the window a block of `cells` may
/// have for the split tile to pay over `panels` panels (it pays below).
/// In units of the exact tile's (row, group of 4 k, panel): the split
/// tile's loop 0.75 of it, and its corrections about 1.8 an entry (a round
/// runs to the tile's row with the most); packing and listing per block,
/// about 0.1 a cell and 10 an entry (a mispredicted branch or two each),
/// against the exact tile's widening of A, about 0.05 a cell. Fitted to
/// gemm_bench --only=qsplit-gemm with 2% of A's bytes outside the window
/// (and the split forced): it loses on 784x64x576 (4 panels) and on
/// 197x192x768 (12) at 4%, wins on 197x192x768 at 2% and from 16 panels on.
/// split = 0.75 c p + 1.8 h p + 0.1 c + 10 h < exact = c p + 0.05 c.
double splitHotBound(size_t cells, size_t panels) {
  const double p = static_cast<double>(panels ? panels : 1);
  const double c = static_cast<double>(cells);
  return c * (0.25 * p - 0.05) / (1.8 * p + 10.0);
}

} // namespace

QGemmBlockCounts &qgemmBlockCounts() {
  static thread_local QGemmBlockCounts counts;
  return counts;
}

size_t qgemmSplitBytes(size_t K, size_t rows) {
  const size_t groups = (K + 3) / 4;
  const size_t tiles = (rows + kMR - 1) / kMR;
  const size_t cells = tiles * kMR * groups;
  const size_t hotCap = cells * kMaxHotPercent / 100 + 1;
  // The packed bytes; per tile its first round and rounds; the rounds
  // (each at most 6 entries a row's entry: at most 6 x hotCap x 2, a group
  // with bytes above and below the window taking two entries); one tile's
  // rows' entries while they are listed.
  return ((cells * 4 + 63) / 64) * 64 + 2 * tiles * sizeof(uint32_t) +
         (kMR * 2 * hotCap + kMR * 2 * groups + 64) * sizeof(uint32_t) + 64;
}

bool qgemmSplitPays(size_t cells, size_t hot, size_t panels) {
  return hot * 100 <= cells * kMaxHotPercent &&
         hot < splitHotBound(cells, panels);
}

bool qgemmSplitPack(const uint8_t *A, size_t lda, size_t rows, size_t K,
                    uint8_t flip, size_t panels, void *ws, QSplitBlock &out) {
  const size_t groups = (K + 3) / 4;
  const size_t tiles = (rows + kMR - 1) / kMR;
  const size_t cells = rows * groups;
  // The window that leaves the fewest groups out (counting stops once past
  // the most at which the split can pay, for these panels).
  const size_t limit =
      std::min(cells * kMaxHotPercent / 100,
               static_cast<size_t>(splitHotBound(cells, panels))) +
      1;
  size_t best = limit + 1;
  int32_t shift = 0;
  for (int32_t s : {0, 128, 64}) {
    const size_t hot =
        hotGroups(A, lda, rows, K, flip, s, std::min(limit, best));
    if (hot < best) {
      best = hot;
      shift = s;
    }
    if (best == 0)
      break;
  }
  if (best > limit || !qgemmSplitPays(cells, best, panels))
    return false;

  uint8_t *a = static_cast<uint8_t *>(ws);
  uint32_t *tileHot = reinterpret_cast<uint32_t *>(
      a + ((tiles * kMR * groups * 4 + 63) / 64) * 64);
  uint32_t *rowHot = tileHot + 2 * tiles;
  uint32_t *hot = rowHot + kMR * 2 * groups + 16;
  const size_t hotCap =
      kMR * 2 * (tiles * kMR * groups * kMaxHotPercent / 100 + 1);
  size_t n = 0;
  for (size_t tile = 0; tile < tiles; ++tile) {
    uint8_t *d = a + tile * groups * 4 * kMR;
    size_t start[kMR + 1] = {0}, most = 0;
    for (size_t i = 0; i < kMR; ++i) {
      const size_t r = tile * kMR + i;
      start[i + 1] = start[i];
      if (r >= rows) { // a ragged tile's missing rows: zeros, no entries
        for (size_t g = 0; g < groups; ++g)
          std::memset(d + (g * kMR + i) * 4, 0, 4);
        continue;
      }
      const uint8_t *src = A + r * lda;
      // Whole 32-byte steps vectorized, the rest (a short K's tail) here.
      start[i + 1] +=
          splitPackRowAvx2(src, K, flip, static_cast<uint8_t>(shift), d + i * 4,
                           kMR * 4, rowHot + start[i + 1]);
      for (size_t g = K / 32 * 8; g < groups; ++g) {
        uint8_t v[4] = {0, 0, 0, 0};
        unsigned above = 0, below = 0;
        for (size_t j = 0; j < 4; ++j) {
          const size_t k = 4 * g + j;
          if (k >= K)
            break; // (B's padding rows are zero: any byte does)
          const uint8_t x = static_cast<uint8_t>(src[k] ^ flip);
          const uint8_t y = static_cast<uint8_t>(x - shift);
          v[j] = y & 0x7f;
          if (y & 0x80)
            (x < shift ? below : above) |= 1u << j;
        }
        std::memcpy(d + (g * kMR + i) * 4, v, 4);
        const uint32_t off = static_cast<uint32_t>(g * 64);
        if (above)
          rowHot[start[i + 1]++] = off | above;
        if (below)
          rowHot[start[i + 1]++] = off | 16u | below;
      }
      most = std::max(most, start[i + 1] - start[i]);
    }
    if (n + most * kMR > hotCap)
      return false; // (cannot happen within kMaxHotPercent; kept safe)
    tileHot[2 * tile] = static_cast<uint32_t>(n);
    tileHot[2 * tile + 1] = static_cast<uint32_t>(most);
    for (size_t r = 0; r < most; ++r)
      for (size_t i = 0; i < kMR; ++i)
        hot[n++] = start[i] + r < start[i + 1] ? rowHot[start[i] + r] : 0;
  }
  out.a = a;
  out.tileHot = tileHot;
  out.hot = hot;
  out.shift = shift;
  out.entries = best;
  return true;
}

bool qgemmSplitBlock(const uint8_t *A, size_t lda, size_t rows, size_t K,
                     const QSplitPanels &b, const Requantize &rq, QTileArgs &t,
                     size_t nBegin, size_t nEnd, size_t N, QPanelLanes *lanes,
                     char *C, size_t elem, void *ws) {
  constexpr size_t NR = 16, MR = 6;
  const size_t groupsK = ceilDiv(K, 4);
  QSplitBlock sb;
  if (!qgemmSplitPack(A, lda, rows, K, b.aSigned ? 0x80 : 0,
                      ceilDiv(nEnd - nBegin, NR), ws, sb)) {
    ++qgemmBlockCounts().exact;
    return false;
  }
  ++qgemmBlockCounts().split;
  const size_t groups = t.groups;
  t.groups = groupsK;
  alignas(32) int32_t panelTerms[NR];
  for (size_t col0 = nBegin; col0 < nEnd; col0 += NR) {
    setPanelOutput(t, rq, col0, N, NR, lanes, Isa::Avx2);
    t.b = b.panels + (col0 / NR) * groupsK * 4 * NR;
    t.bZp = nullptr;
    // sum_k a B = sum_k (a - s) B + s colSum (int32 wraparound).
    for (size_t j = 0; j < NR; ++j)
      panelTerms[j] =
          static_cast<int32_t>(static_cast<uint32_t>(b.colTerm[col0 + j]) +
                               static_cast<uint32_t>(sb.shift) *
                                   static_cast<uint32_t>(b.colSum[col0 + j]));
    t.colTerm = panelTerms;
    for (size_t ir = 0; ir < rows; ir += MR) {
      const size_t tile = ir / MR;
      t.a = sb.a + tile * groupsK * 4 * MR;
      t.rowBegin = 0;
      t.rowEnd = static_cast<int>(rows - ir < MR ? rows - ir : MR);
      t.c = C + (ir * t.ldc + col0) * elem;
      qgemmTileSplitAvx2(t, QSplitRows{sb.hot + sb.tileHot[2 * tile],
                                       sb.tileHot[2 * tile + 1]});
    }
  }
  t.groups = groups;
  return true;
}

} // namespace ember::cpu::detail

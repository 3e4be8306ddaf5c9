//===- QConvNhwc.cpp - int8 implicit-GEMM convolution, channels-last ------===//
//
// qconv2dNhwc and qconv2dNhwcCols (kernels README, "AVX2 without
// saturation"): the pass over the input rows, the slab, the split tile's
// window and corrections, the tiles over each panel. The GEMM's pieces it
// shares (the packed buffer's view, the tile arguments, the panels) are
// QGemm.cpp's (QGemm.h).
//
//===----------------------------------------------------------------------===//
#include "QGemm.h"
#include "QGemmSplit.h"

#include "FixedPoint.h"
#if defined(__x86_64__)
#include "Simd.h"
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <vector>

namespace ember::cpu {

using namespace detail;

//===----------------------------------------------------------------------===//
// Implicit-GEMM int8 convolution over channels-last input
//===----------------------------------------------------------------------===//

namespace {

constexpr size_t kConvMR = 6;      // the VNNI and AVX2 kernels' rows
constexpr size_t kBlockTiles = 16; // tiles sharing a pass over each B panel
constexpr size_t kSlabBytes = 96 * 1024; // padded input rows per pass

/// The kernel qconv2dNhwc runs on a resolved path, or null: the VNNI one
/// (Quad panels of 64, x read in place or through a byte slab), the
/// AVX-VNNI one (the same with panels of 16) or the AVX2 one (Pair16
/// panels of 16, x always through a slab widened to u16).
const QGemmKernel *convKernel(Isa resolved) {
  if (resolved == Isa::Avx512Vnni)
    return &qgemmKernelVnni();
#if defined(__x86_64__)
  if (resolved == Isa::AvxVnni)
    return &qgemmKernelAvxVnni();
  if (avx2Path(resolved))
    return &qgemmKernelAvx2();
#endif
  return nullptr;
}

/// The split tile's corrections may use at most this share (percent) of a
/// slab's groups of 4 bytes: past it the exact tile is faster whatever the
/// layer (splitPays), and the workspace holds no more.
constexpr size_t kSplitMaxHotPercent = 12;

/// Whether a pass of a convolution with `groupsK` groups of 4 k per output
/// pixel over `panels` 16-column panels and `taps` taps (`slabGroups`
/// groups of 4 slab bytes per output pixel: channels / 4 x strides, more
/// for a pass of few output rows, whose slab holds the window's other rows
/// too) runs
/// faster on the split tile, `hot` of whose slab's `groups` groups of 4
/// bytes have a high bit set. Costs per output pixel in units of the exact
/// tile's (pixel, group, panel), fitted to gemm_bench --only=qsplit-sweep
/// on an AVX2 host (docs/changelog/cpu-performance.md, "Int8 on AVX2
/// without saturation"): the split tile's main loop saves 0.2 of them; each
/// output pixel pays 2, and 0.4 per slab group (counting its high bits, then
/// the byte slab's map and clearing them); each round of corrections (a tile
/// has as many as its row with the most entries) costs 1.1 per panel and
/// row; each entry 20 / taps (listed once per slab pixel) plus 2 (gathered
/// into its row); an output pixel whose window has one costs 1.9 per tap
/// (its row's list). Conservative:
/// it misses some layers where the split tile would win by a few percent,
/// rather than lose.
/// The most groups with a high bit (of `groups`) at which splitPays can
/// hold: past it, counting them can stop.
size_t splitMaxHot(size_t groupsK, size_t panels, size_t taps,
                   double slabGroups, size_t groups) {
  const double g = static_cast<double>(groupsK);
  const double p = static_cast<double>(panels);
  const double t = static_cast<double>(taps);
  const double room = 0.2 * p * g - 2 - 0.4 * slabGroups;
  if (room <= 0)
    return 0;
  const double entries = room / (1.1 * p + 20 / t + 2); // rounds >= entries
  const double most = entries / g * static_cast<double>(groups);
  const size_t cap = groups * kSplitMaxHotPercent / 100;
  return most < static_cast<double>(cap) ? static_cast<size_t>(most) : cap;
}

bool splitPays(size_t groupsK, size_t panels, size_t taps, double slabGroups,
               size_t hot, size_t groups) {
  if (hot * 100 > groups * kSplitMaxHotPercent)
    return false;
  const double g = static_cast<double>(groupsK);
  const double p = static_cast<double>(panels);
  const double entries =
      g * static_cast<double>(hot) / static_cast<double>(groups ? groups : 1);
  const double t = static_cast<double>(taps);
  const double saved = 0.2 * p * g;
  // Rounds of a tile: the most entries of its six rows (Poisson's).
  const double rounds =
      entries > 0 ? entries + 1.27 * std::sqrt(entries) + 0.5 : 0;
  const double cost = 2 + 0.4 * slabGroups + 1.1 * p * rounds +
                      entries * (20 / t + 2) + 1.9 * t * std::min(entries, 1.0);
  return saved > cost;
}

/// How qconv2dNhwc reads x: in place, or through a slab of padded rows.
struct ConvPlan {
  size_t cp;       // channels rounded up to 4 (the packed K per tap)
  size_t elem;     // bytes of a slab channel: 1, or 2 (wide: u16 for vpmaddwd)
  bool slab;       // padding, channel padding or wide: rows into a slab
  size_t wp;       // slab row width in pixels (W + pads)
  size_t outRows;  // output rows per slab
  size_t slabRows; // input rows a slab holds
  size_t slabBytes;
  // AVX2 (wide): the split tile's room. The slab is first built as bytes;
  // their high-bit map, then the correction entries of a run of tiles.
  size_t bitsBytes;  // the maps: a bit per byte, a bit per pixel of it
  size_t hotCap;     // correction entries (u32) a run of tiles may use
  size_t pixHotCap;  // the slab pixels' entries (u32) at the split limit
  size_t splitBytes; // bitsBytes, the pixels' entries, the tiles' entries
};

/// n bytes of src xor-ed with flip (0: a plain copy).
void copyFlipped(uint8_t *dst, const uint8_t *src, size_t n, uint8_t flip) {
  if (!flip) {
    std::memcpy(dst, src, n);
    return;
  }
  for (size_t i = 0; i < n; ++i)
    dst[i] = src[i] ^ flip;
}

ConvPlan convPlan(const Conv2DShape &s, bool wide) {
  ConvPlan p;
  p.cp = roundUp(s.channels, 4);
  p.elem = wide ? 2 : 1;
  p.slab = wide || p.cp != s.channels || s.padTop || s.padLeft || s.padBottom ||
           s.padRight;
  p.wp = s.width + s.padLeft + s.padRight;
  const size_t spanH = (s.kernelH - 1) * s.dilationH;
  const size_t row = p.wp * p.cp * p.elem;
  size_t fit = kSlabBytes / (row ? row : 1);
  p.outRows = fit > spanH + 1 ? (fit - spanH - 1) / s.strideH + 1 : 1;
  const size_t oh = s.outHeight();
  if (p.outRows > oh)
    p.outRows = oh ? oh : 1;
  p.slabRows = (p.outRows - 1) * s.strideH + spanH + 1;
  p.slabBytes = p.slab ? roundUp(p.slabRows * row, 64) : 0;
  p.bitsBytes = p.hotCap = p.pixHotCap = p.splitBytes = 0;
  if (wide) {
    const size_t groupsK = s.kernelH * s.kernelW * p.cp / 4;
    // The byte map, the map of bytes below the shift, the pixel map.
    p.bitsBytes = roundUp((2 * ceilDiv(p.slabRows * p.wp * p.cp, 64) +
                           ceilDiv(p.slabRows * p.wp, 64)) *
                              8,
                          64);
    // Four tiles' worth of every group: a block (kBlockTiles tiles) at the
    // split limit needs about 2 (with rounds' padding); a run of tiles is
    // cut before a tile that might not fit.
    static_assert(kBlockTiles * kSplitMaxHotPercent <= 4 * 100,
                  "a block at the split limit fits four tiles' entries");
    // (A group holding bytes above and below the window takes two
    // entries.)
    p.hotCap = 4 * kConvMR * 2 * groupsK;
    // The pixels' entries: at most the split limit's share of the slab's
    // groups, twice (a pass with more takes the exact tile).
    const size_t pixels = p.slabRows * p.wp;
    p.pixHotCap = 2 * (pixels * p.cp / 4 * kSplitMaxHotPercent / 100);
    p.splitBytes =
        p.bitsBytes + roundUp((pixels + 1 + p.pixHotCap + 8 + 2 * kBlockTiles +
                               kConvMR * 2 * groupsK + 8 + p.hotCap) *
                                  sizeof(uint32_t),
                              64);
  }
  return p;
}

/// Input row ih of x (or a row of padding when outside) into slab row d:
/// pads and channels past C read the zero point `fill` (in the slab's
/// domain: s8 x flipped to u8), widened to u16 when elem is 2; `add`
/// (nonzero: contiguous rows of whole groups, no flip) is added to each
/// byte instead (the split tile's shift).
void slabRow(const ConvPlan &plan, const Conv2DShape &s, const uint8_t *x,
             size_t ldx, ptrdiff_t ih, uint8_t *d, uint8_t fill, uint8_t flip,
             size_t elem, bool vnni, uint8_t add) {
  const size_t C = s.channels, W = s.width, H = s.height;
  const size_t rowStride = plan.wp * plan.cp * elem;
  const bool inside = ih >= 0 && ih < static_cast<ptrdiff_t>(H);
  const uint8_t *sx = inside ? x + static_cast<size_t>(ih) * W * ldx : nullptr;
#if defined(__x86_64__)
  if (elem == 2) {
    uint16_t *d16 = reinterpret_cast<uint16_t *>(d);
    if (!inside) {
      std::fill_n(d16, rowStride / 2, uint16_t(fill));
      return;
    }
    std::fill_n(d16, s.padLeft * plan.cp, uint16_t(fill));
    widenPixelsAvx2(sx, W, C, ldx, plan.cp, d16 + s.padLeft * plan.cp, fill,
                    flip);
    std::fill_n(d16 + (s.padLeft + W) * plan.cp, s.padRight * plan.cp,
                uint16_t(fill));
    return;
  }
#endif
  if (!inside) {
    std::memset(d, fill, rowStride);
    return;
  }
  std::memset(d, fill, s.padLeft * plan.cp);
  uint8_t *m = d + s.padLeft * plan.cp;
  if (add) { // the split tile's shifted bytes (cp == C, ldx == C)
    for (size_t i = 0; i < W * C; ++i)
      m[i] = static_cast<uint8_t>(sx[i] + add);
  } else if (plan.cp == C && ldx == C) {
    copyFlipped(m, sx, W * C, flip);
  } else if (C == 3 && ldx == 3 && vnni) {
    expand3To4Vnni(sx, m, W, fill, flip);
  } else if (plan.cp == 4) {
    // 1-4 channels (a first layer): one 32-bit word per pixel, the
    // channels past C set to the zero point (no libc call per pixel).
    // (A constant trip count: GCC turns a loop to C into a memcpy
    // call per pixel.)
    for (size_t w = 0; w < W; ++w) {
      const uint8_t *sp = sx + w * ldx;
      uint32_t v = 0;
#pragma GCC unroll 4
      for (size_t c = 0; c < 4; ++c)
        v |= uint32_t(c < C ? sp[c] ^ flip : fill) << (8 * c);
      std::memcpy(m + 4 * w, &v, 4);
    }
  } else {
    for (size_t w = 0; w < W; ++w) {
      copyFlipped(m + w * plan.cp, sx + w * ldx, C, flip);
      std::memset(m + w * plan.cp + C, fill, plan.cp - C);
    }
  }
  std::memset(m + W * plan.cp, fill, s.padRight * plan.cp);
}

/// Runs of taps whose bytes follow each other in the slab (the taps of a
/// kernel row when the dilation along W is 1): the first tap, how many,
/// and the first's pixel offset from the window's corner.
struct TapRun {
  size_t tap, taps, pix;
};

/// The tap runs of tapOff (taps of cp bytes each, byte slab) into runs;
/// returns how many.
size_t tapRuns(const ptrdiff_t *tapOff, size_t taps, size_t cp, TapRun *runs) {
  size_t n = 0;
  for (size_t s = 0; s < taps; ++s) {
    if (n && tapOff[s] == tapOff[s - 1] + static_cast<ptrdiff_t>(cp))
      ++runs[n - 1].taps;
    else
      runs[n++] = TapRun{s, 1, static_cast<size_t>(tapOff[s]) / cp};
  }
  return n;
}

/// Whether any of bits [b0, b1) of `bits` is set.
inline bool anyBit(const uint64_t *bits, size_t b0, size_t b1) {
  const size_t w0 = b0 / 64, off = b0 % 64;
  if (b1 - b0 <= 64 - off) // in one word: a shift and a mask
    return b1 > b0 &&
           ((bits[w0] >> off) << (64 - (b1 - b0)) >> (64 - (b1 - b0))) != 0;
  for (size_t w = w0; w * 64 < b1; ++w) {
    uint64_t m = bits[w];
    if (w * 64 < b0)
      m &= ~uint64_t(0) << (b0 - w * 64);
    if (b1 - w * 64 < 64)
      m &= (uint64_t(1) << (b1 - w * 64)) - 1;
    if (m)
      return true;
  }
  return false;
}

/// The slab's pixels' correction entries, once per pass (tile rows share
/// them through their windows): bit p of `pix` is whether pixel p (bytes
/// [p*cp, (p+1)*cp) of the byte slab) has a byte with its high bit set
/// (`bits`), and its entries are hot[start[p], start[p+1]): for each group
/// of 4 of its bytes with one, the group's index in the pixel x 64 | 16
/// when they stand for activations below the window (`low`; null: none) |
/// which of the 4 (a group with both kinds has an entry for each).
void pixelEntries(const uint64_t *bits, const uint64_t *low, size_t pixels,
                  size_t cp, uint64_t *pix, uint32_t *start, uint32_t *hot) {
  std::fill_n(pix, ceilDiv(pixels, 64), uint64_t(0));
  // The set bits in order (most words are 0 when few bytes are outside the
  // window), the pixel they fall in by division only when it changes.
  uint32_t n = 0;
  size_t p = 0, pEnd = cp; // the pixel entries go to, its end (bytes)
  start[0] = 0;
  const size_t words = ceilDiv(pixels * cp, 64);
  for (size_t w = 0; w < words; ++w) {
    uint64_t m = bits[w];
    const uint64_t lw = low ? low[w] : 0;
    while (m) {
      // Pixels and groups start at multiples of 4 bytes (cp is): a group's
      // bits never straddle a word or a pixel.
      const unsigned gb = static_cast<unsigned>(__builtin_ctzll(m)) & ~3u;
      const size_t byte = w * 64 + gb;
      if (byte >= pEnd) { // pixels [p + 1, q) have no entries
        const size_t q = byte / cp;
        std::fill(start + p + 1, start + q + 1, n);
        p = q;
        pEnd = (q + 1) * cp;
      }
      const uint32_t four = static_cast<uint32_t>(m >> gb) & 15;
      const uint32_t down = static_cast<uint32_t>(lw >> gb) & four;
      m &= ~(uint64_t(15) << gb);
      const uint32_t at = static_cast<uint32_t>((byte - p * cp) / 4 * 64);
      if (four & ~down)
        hot[n++] = at | (four & ~down);
      if (down) {
        hot[n++] = at | 16 | down;
        ++qconvPassCounts().below;
      }
      pix[p / 64] |= uint64_t(1) << (p % 64);
    }
  }
  std::fill(start + p + 1, start + pixels + 1, n);
}

/// Whether the windows of a tile's `rows` rows (corner pixels basePix) may
/// hold a byte with its high bit set: false when the rows are consecutive
/// pixels of one output row (corners strideW apart) and no pixel their
/// runs cover has one (one test per run for the tile, not per row).
bool windowsHot(const uint64_t *pixBits, const size_t *basePix, size_t rows,
                size_t strideW, const TapRun *runs, size_t nRuns) {
  const size_t first = basePix[0], last = basePix[rows - 1];
  if (last - first != (rows - 1) * strideW)
    return true;
  for (size_t r = 0; r < nRuns; ++r)
    if (anyBit(pixBits, first + runs[r].pix, last + runs[r].pix + runs[r].taps))
      return true;
  return false;
}

/// Appends to out[n...] the split tile's correction entries of the tile row
/// whose window's corner is pixel `cornerPix` of the byte slab: each tap's
/// pixel's entries (pixelEntries) offset by the tap's first group in K, so
/// the byte offset of a group in an s8 panel (its index in K x 64) | its 4
/// high bits. Returns the new count. Eight entries are copied at a time (a
/// pixel has at most that many but for wide channels): `out` and the
/// pixels' entries have 8 entries of room past their ends.
EMBER_TARGET_AVX2 size_t splitEntries(const uint64_t *pixBits,
                                      const uint32_t *pixStart,
                                      const uint32_t *pixHot, size_t cornerPix,
                                      const TapRun *runs, size_t nRuns,
                                      size_t cp, uint32_t *out, size_t n) {
  const size_t tapBytes = cp / 4 * 64;
  for (size_t r = 0; r < nRuns; ++r) {
    const size_t p0 = cornerPix + runs[r].pix;
    if (!anyBit(pixBits, p0, p0 + runs[r].taps))
      continue;
    for (size_t t = 0; t < runs[r].taps; ++t) {
      const uint32_t s = pixStart[p0 + t], e = pixStart[p0 + t + 1];
      const __m256i off =
          _mm256_set1_epi32(static_cast<int32_t>((runs[r].tap + t) * tapBytes));
      for (uint32_t k = s; k < e; k += 8)
        _mm256_storeu_si256(
            reinterpret_cast<__m256i *>(out + n + (k - s)),
            _mm256_add_epi32(_mm256_loadu_si256(
                                 reinterpret_cast<const __m256i *>(pixHot + k)),
                             off));
      n += e - s;
    }
  }
  return n;
}

/// The split tile's window for a pass: the shift s in [0, 128] whose
/// [s, s + 127] holds most of its activations (x ^ flip over `n` bytes of
/// x, 64 of every 1024 sampled, and `pads` padding bytes reading `fill`);
/// the zero point's window (s = fill - 64, clamped) when no other holds
/// more, then the smallest. After a ReLU that is [0, 127]; activations
/// spread around a zero point near 128 get the window around it; a layer
/// whose activations crowd the top of the range (a saturated one) gets
/// [128, 255].
int32_t splitWindow(const uint8_t *x, size_t n, uint8_t flip, uint8_t fill,
                    size_t pads) {
  uint32_t hist[256] = {};
  size_t sampled = 0;
  for (size_t off = 0; off < n; off += 1024) {
    const size_t e = std::min(n, off + 64);
    for (size_t i = off; i < e; ++i)
      ++hist[x[i] ^ flip];
    sampled += e - off;
  }
  // The padding in the same proportion as the sample.
  hist[fill] += static_cast<uint32_t>(n ? pads * sampled / n : pads);
  uint64_t prefix[257];
  prefix[0] = 0;
  for (int v = 0; v < 256; ++v)
    prefix[v + 1] = prefix[v] + hist[v];
  const int32_t zpWindow = std::clamp(int32_t(fill) - 64, 0, 128);
  int32_t best = zpWindow;
  uint64_t most = prefix[best + 128] - prefix[best];
  for (int32_t s = 0; s <= 128; ++s) {
    const uint64_t in = prefix[s + 128] - prefix[s];
    if (in > most) {
      most = in;
      best = s;
    }
  }
  return best;
}

/// Window corners of the output pixels [blk, blkEnd) of a pass starting at
/// output row oh0 in a source at `origin` (row and pixel strides in
/// bytes), once for every panel; rows past the end of the last tile repeat
/// its first row (computed, not stored). The split path's byte slab also
/// gets them as pixel indices (basePix; wp pixels a slab row).
void blockCorners(const uint8_t *origin, size_t blk, size_t blkEnd, size_t oh0,
                  size_t OW, const Conv2DShape &shape, size_t wp,
                  size_t rowStride, size_t pixStride, const uint8_t **bases,
                  size_t *basePix) {
  size_t oh = blk / OW, ow = blk % OW;
  const size_t stepH = shape.strideH * rowStride;
  const size_t stepW = shape.strideW * pixStride;
  const uint8_t *rowBase = origin + (oh - oh0) * stepH;
  size_t rowPix = (oh - oh0) * shape.strideH * wp;
  size_t k = 0;
  for (size_t pix = blk; pix < blkEnd; ++pix, ++k) {
    bases[k] = rowBase + ow * stepW;
    basePix[k] = rowPix + ow * shape.strideW;
    if (++ow == OW) {
      ow = 0;
      rowBase += stepH;
      rowPix += shape.strideH * wp;
    }
  }
  const size_t last = (k - 1) / kConvMR * kConvMR; // last tile's start
  for (; k % kConvMR; ++k)
    bases[k] = bases[last];
}

/// The split pass's correction lists in the workspace: the slab pixels'
/// entries (pixelEntries), one tile's rows' while they are gathered, and
/// per tile of a block its first round and rounds.
struct SplitLists {
  const uint64_t *pixBits;
  const uint32_t *pixStart, *pixHot;
  uint32_t *rowHot, *tileHot, *hot;
};

/// qconv2dNhwcCols's workspace (qconv2dNhwcWorkspaceSize bytes at p): the
/// slab, then the split tile's room (the slab's byte maps, the pixel map,
/// the correction lists), then the pass's tap offsets, the block's window
/// corners (as addresses and as slab pixels) and the taps' runs.
struct ConvWorkspace {
  uint8_t *slab;
  uint64_t *bits, *lowBits, *pixBits;
  uint32_t *pixStart, *pixHot;
  SplitLists lists;
  ptrdiff_t *tapOff;
  const uint8_t **bases;
  size_t *basePix;
  TapRun *runs;
};

ConvWorkspace convWorkspace(const ConvPlan &plan, size_t K, size_t taps,
                            void *p) {
  ConvWorkspace w;
  w.slab = static_cast<uint8_t *>(p);
  uint8_t *area = w.slab + plan.slabBytes;
  w.bits = reinterpret_cast<uint64_t *>(area);
  w.lowBits = w.bits + ceilDiv(plan.slabRows * plan.wp * plan.cp, 64);
  w.pixBits = w.lowBits + ceilDiv(plan.slabRows * plan.wp * plan.cp, 64);
  w.pixStart = reinterpret_cast<uint32_t *>(area + plan.bitsBytes);
  w.pixHot = w.pixStart + plan.slabRows * plan.wp + 1;
  // Per tile of a block: the first of its entries in `hot` and its rounds;
  // one tile's rows' entries in turn (rowHot), then every tile's in rounds.
  uint32_t *tileHot = w.pixHot + plan.pixHotCap + 8;
  uint32_t *rowHot = tileHot + 2 * kBlockTiles;
  uint32_t *hot = rowHot + kConvMR * 2 * (K / 4) + 8;
  w.lists = SplitLists{w.pixBits, w.pixStart, w.pixHot, rowHot, tileHot, hot};
  w.tapOff = reinterpret_cast<ptrdiff_t *>(area + plan.splitBytes);
  w.bases =
      reinterpret_cast<const uint8_t **>(reinterpret_cast<uint8_t *>(w.tapOff) +
                                         roundUp(taps * sizeof(ptrdiff_t), 64));
  w.basePix = reinterpret_cast<size_t *>(w.bases + kBlockTiles * kConvMR);
  w.runs = reinterpret_cast<TapRun *>(w.basePix + kBlockTiles * kConvMR);
  return w;
}

#if defined(__x86_64__)
/// The split slab's correction maps over its `bytes` (slabHighBitsAvx2, the
/// bytes below the window when `shift` is not 0) and its pixels' entries;
/// whether it has any.
bool mapSplitSlab(const ConvWorkspace &w, const ConvPlan &plan, size_t bytes,
                  int32_t shift) {
  uint64_t *low = shift ? w.lowBits : nullptr;
  const bool anyHot =
      slabHighBitsAvx2(w.slab, bytes, w.bits, static_cast<uint8_t>(256 - shift),
                       low) != 0;
  if (anyHot)
    pixelEntries(w.bits, low, bytes / plan.cp, plan.cp, w.pixBits, w.pixStart,
                 w.pixHot);
  ++qconvPassCounts().split;
  qconvPassCounts().shifted += shift != 0;
  return anyHot;
}
#endif

/// Each tap's offset from its window's corner in a source of `rowStride`
/// and `pixStride` bytes.
void tapOffsets(const Conv2DShape &shape, size_t rowStride, size_t pixStride,
                ptrdiff_t *tapOff) {
  for (size_t kh = 0; kh < shape.kernelH; ++kh)
    for (size_t kw = 0; kw < shape.kernelW; ++kw)
      tapOff[kh * shape.kernelW + kw] = static_cast<ptrdiff_t>(
          kh * shape.dilationH * rowStride + kw * shape.dilationW * pixStride);
}

#if defined(__x86_64__)
/// Whether a pass over x's input rows [ihLo, ihLo + rows) (no padding:
/// they lie in x, contiguous) reads x in place: every pair of its
/// activations within the bound (pairsWithin256Avx2).
bool passInPlace(const uint8_t *x, const Conv2DShape &shape, ptrdiff_t ihLo,
                 size_t rows) {
  const size_t row = shape.width * shape.channels;
  if (!pairsWithin256Avx2(x + size_t(ihLo) * row, rows * row))
    return false;
  ++qconvPassCounts().split;
  ++qconvPassCounts().inPlace;
  return true;
}
#endif

/// Lists the entries of the tiles from block pixel r0 on (the block's
/// pixels [blk, blkEnd), their window corners basePix): each tile's rows'
/// entries, interleaved into rounds of one per row (a tile has at most 2 K
/// / 4 rounds), as many tiles as fit; returns the pixel where they stop.
size_t splitTileRounds(const SplitLists &l, const ConvPlan &plan, size_t K,
                       bool anyHot, size_t strideW, const TapRun *runs,
                       size_t nRuns, const size_t *basePix, size_t blk,
                       size_t r0, size_t blkEnd) {
  size_t n = 0, total = 0, r1 = r0;
  for (; r1 < blkEnd && n + kConvMR * 2 * (K / 4) <= plan.hotCap;
       r1 += kConvMR) {
    size_t start[kConvMR + 1] = {0}, most = 0;
    const bool mayBeHot = anyHot && windowsHot(l.pixBits, basePix + (r1 - blk),
                                               std::min(kConvMR, blkEnd - r1),
                                               strideW, runs, nRuns);
    for (size_t i = 0; i < kConvMR && mayBeHot; ++i) {
      start[i + 1] = start[i];
      if (r1 + i < blkEnd)
        start[i + 1] =
            splitEntries(l.pixBits, l.pixStart, l.pixHot, basePix[r1 - blk + i],
                         runs, nRuns, plan.cp, l.rowHot, start[i]);
      most = std::max(most, start[i + 1] - start[i]);
    }
    const size_t tile = (r1 - blk) / kConvMR;
    l.tileHot[2 * tile] = static_cast<uint32_t>(n);
    l.tileHot[2 * tile + 1] = static_cast<uint32_t>(most);
    for (size_t r = 0; r < most; ++r)
      for (size_t i = 0; i < kConvMR; ++i)
        l.hot[n++] = start[i] + r < start[i + 1] ? l.rowHot[start[i] + r] : 0;
    total += start[kConvMR];
  }
  qconvPassCounts().entries += total;
  return r1 < blkEnd ? r1 : blkEnd;
}

#if defined(__x86_64__)
/// Whether a pass of `pixels` output pixels over input rows [ihLo, ihLo +
/// rows) (x's, and the padding: the zero point `fill`) takes the split tile,
/// and its window `shift`. The activations outside a window are those
/// slabHighBitsAvx2 corrects: below it, or with their high bit in a pair
/// over 256 (the padding's pairs are two zero points). The zero point's
/// window first (after a ReLU, around a zero point near 128: the best or
/// nearly); a histogram only when it leaves out far more than the split
/// tile allows (activations crowding one end of the range), to find the
/// window that holds most. Once a call's histogram window has not paid
/// (`windowFailed`), its later passes, the same layer's, skip it.
bool splitPassWindow(const Conv2DShape &shape, const ConvPlan &plan,
                     const uint8_t *x, ptrdiff_t ihLo, size_t rows,
                     size_t pixels, uint8_t flip, uint8_t fill, size_t groupsK,
                     size_t panels, size_t taps, int32_t &shift,
                     bool &windowFailed) {
  const size_t C = shape.channels;
  const ptrdiff_t H = static_cast<ptrdiff_t>(shape.height);
  const ptrdiff_t i0 = std::max<ptrdiff_t>(ihLo, 0);
  const ptrdiff_t i1 =
      std::min<ptrdiff_t>(ihLo + static_cast<ptrdiff_t>(rows), H);
  const size_t inGroups = i1 > i0 ? size_t(i1 - i0) * shape.width * C / 4 : 0;
  const size_t groupsAll = rows * plan.wp * plan.cp / 4;
  const uint8_t *in = inGroups ? x + size_t(i0) * shape.width * C : x;
  // The slab's groups per output pixel of the pass. (A count stops past
  // the most at which the split tile pays.)
  const double slabGroups =
      static_cast<double>(groupsAll) / static_cast<double>(pixels);
  const size_t most = splitMaxHot(groupsK, panels, taps, slabGroups, groupsAll);
  // The groups outside window `at`, counted up to `limit`.
  auto outside = [&](int32_t at, size_t limit) {
    const uint8_t pad = static_cast<uint8_t>(fill - at);
    const bool padOut = (at && pad >= 256 - at) || pad > 128;
    size_t hot = padOut ? groupsAll - inGroups : 0;
    if (inGroups && hot <= limit)
      hot += pairHotGroupsAvx2(
          in, 4 * inGroups, static_cast<uint8_t>(flip - at),
          static_cast<uint8_t>(256 - at), at != 0, limit - hot);
    return hot;
  };
  shift = std::clamp(int32_t(fill) - 64, 0, 128);
  size_t hot = outside(shift, 8 * most + 8);
  bool searched = false;
  if (hot > 8 * most + 8 && !windowFailed) {
    const int32_t best =
        splitWindow(in, 4 * inGroups, flip, fill, 4 * (groupsAll - inGroups));
    searched = true;
    if (best != shift) {
      shift = best;
      hot = outside(shift, most);
    }
  }
  const bool split =
      splitPays(groupsK, panels, taps, slabGroups, hot, groupsAll);
  windowFailed |= searched && !split;
  return split;
}
#endif

} // namespace

size_t qconv2dNhwcWorkspaceSize(const Conv2DShape &shape, Isa isa) {
  const QGemmKernel *k = convKernel(resolveIsa(isa));
  const bool wide = k && k->layout == QLayout::Pair16;
  const size_t taps = shape.kernelH * shape.kernelW;
  const ConvPlan plan = convPlan(shape, wide);
  return plan.slabBytes + plan.splitBytes +
         roundUp(taps * sizeof(ptrdiff_t), 64) +
         kBlockTiles * kConvMR * (sizeof(void *) + sizeof(size_t)) +
         (wide ? taps * sizeof(TapRun) : 0);
}

bool qconv2dNhwcAvailable(Isa isa, bool weightZeroPoints) {
  const QGemmKernel *k = convKernel(resolveIsa(isa));
  return k && (k->layout == QLayout::Pair16 || !weightZeroPoints);
}

bool qconv2dNhwcSupported(const Conv2DShape &shape, const void *packedW,
                          Isa isa) {
  const QGemmKernel *k = convKernel(resolveIsa(isa));
  if (!k || !packedW || !shape.valid() || shape.channels == 0)
    return false;
  const PackedHeader *h = static_cast<const PackedHeader *>(packedW);
  // (Pair16 folds the weight zero points into B: reserved[0] is 0.)
  return h->kind == PackedKind::QGemmB &&
         h->panel == static_cast<uint32_t>(k->nr) &&
         packedQLayout(h) == k->layout &&
         h->rows ==
             shape.kernelH * shape.kernelW * roundUp(shape.channels, 4) &&
         h->cols == shape.outChannels && h->reserved[0] == 0;
}

Status qconv2dNhwc(const Conv2DShape &shape, const uint8_t *x, size_t ldx,
                   int32_t xZeroPoint, const void *packedW, void *y, size_t ldy,
                   const Requantize &rq, Isa isa, size_t pixBegin,
                   size_t pixEnd, void *workspace) {
  return qconv2dNhwcCols(shape, x, ldx, xZeroPoint, packedW, y, ldy, rq, isa,
                         pixBegin, pixEnd, 0, shape.outChannels, workspace);
}

Status qconv2dNhwcCols(const Conv2DShape &shape, const uint8_t *x, size_t ldx,
                       int32_t xZeroPoint, const void *packedW, void *y,
                       size_t ldy, const Requantize &rq, Isa isa,
                       size_t pixBegin, size_t pixEnd, size_t colBegin,
                       size_t colEnd, void *workspace) {
  const size_t C = shape.channels, N = shape.outChannels;
  const size_t OH = shape.outHeight(), OW = shape.outWidth();
  const size_t KH = shape.kernelH, KW = shape.kernelW, taps = KH * KW;
  if (!qconv2dNhwcSupported(shape, packedW, isa))
    return Status::LayoutMismatch;
  const QGemmKernel &kern = *convKernel(resolveIsa(isa));
  const bool wide = kern.layout == QLayout::Pair16;
  const ConvPlan plan = convPlan(shape, wide);
  const size_t K = taps * plan.cp;
  if (pixEnd == 0)
    pixEnd = OH * OW;
  if (!x || !y || ldx < C || ldy < N || pixBegin > pixEnd || pixEnd > OH * OW)
    return Status::InvalidArgument;
  if (Status st = checkQCall(N, K, packedW, rq); st != Status::Ok)
    return st;
  const size_t NR = static_cast<size_t>(kern.nr);
  if (colEnd > N || colBegin > colEnd ||
      (colBegin < colEnd &&
       (colBegin % NR != 0 || (colEnd != N && colEnd % NR != 0))))
    return Status::InvalidArgument;
  if (pixBegin == pixEnd || colBegin == colEnd)
    return Status::Ok;
  ScratchBuffer ws(workspace, qconv2dNhwcWorkspaceSize(shape, isa));
  if (!ws.ptr)
    return Status::OutOfMemory;
  const ConvWorkspace w = convWorkspace(plan, K, taps, ws.ptr);

  const QPacked b = view(packedW);
  const size_t groups = ceilDiv(K, stepK(kern.layout));
  const size_t groupsK = K / 4; // the split tile's groups (K: taps x cp)
  QTileArgs t = tileArgs(rq, groups, ldy);
  QPanelLanes lanesBuf;
  const size_t elem = rq.output == QOutput::Int32 ? 4 : 1;
  QConvTileSrc src{};
  src.taps = taps;
  src.tapOff = w.tapOff;
  // s8 x: the slab holds it flipped to u8; read in place, the tile flips.
  const uint8_t flip = b.aSigned ? 0x80 : 0;
  const uint8_t fill = static_cast<uint8_t>(xZeroPoint) ^ flip;
  src.flip = b.aSigned && !plan.slab;
#if defined(__x86_64__)
  // AVX2 with s8 panels: a pass over contiguous rows of whole groups of 4
  // channels runs the split tile when it pays (splitPassWindow counts on x
  // before the slab is built), else widens the slab to u16 for the exact
  // tile; other layouts (first layers mostly) keep the exact tile.
  const size_t panels = ceilDiv(colEnd - colBegin, 16);
  // (A piece of the output channels, the runtime's split of a weight-heavy
  // layer over workers, builds its own slab: the cost model counts its
  // panels only.)
  const bool splitOk =
      wide && b.split && plan.cp == C && ldx == C &&
      splitPays(groupsK, panels, taps,
                static_cast<double>(C / 4 * shape.strideH * shape.strideW), 0,
                1);
  // A pass whose activation pairs (channels 2i, 2i + 1) each sum to at most
  // 256 runs the split tile on x itself, exact (pairsWithin256Avx2): no
  // slab, window or correction, any panels; u8 x read in place (no padding,
  // whole groups of 4 channels, contiguous pixels).
  const bool inPlaceOk = wide && b.split && !b.aSigned && plan.cp == C &&
                         ldx == C && !shape.padTop && !shape.padLeft &&
                         !shape.padBottom && !shape.padRight;
#else
  const bool splitOk = false;
  const bool inPlaceOk = false;
#endif
  // A pass's split slab holds (x ^ flip) - shift modulo 256 for the window
  // [shift, shift + 127]: bytes below it, and high bytes of pairs over 256,
  // have their high bit cleared and corrected (above: + 128 x B, below: -
  // 128 x B), and its column terms add shift x colSum (splitPassWindow).
  int32_t shift = 0;
  bool windowFailed = false;
  alignas(32) int32_t panelTerms[16];

  for (size_t seg = pixBegin; seg < pixEnd;) {
    // Output rows [oh0, oh0 + outRows) at most per pass.
    const size_t oh0 = seg / OW;
    const size_t segEnd =
        (oh0 + plan.outRows) * OW < pixEnd ? (oh0 + plan.outRows) * OW : pixEnd;
    const ptrdiff_t ihLo = static_cast<ptrdiff_t>(oh0 * shape.strideH) -
                           static_cast<ptrdiff_t>(shape.padTop);
    const uint8_t *origin;
    bool split = false, anyHot = false, inPlace = false;
    size_t slabElem = plan.elem;
    // The pass's input rows [ihLo, ihLo + rows).
    const size_t rows = ((segEnd - 1) / OW - oh0) * shape.strideH +
                        (KH - 1) * shape.dilationH + 1;
#if defined(__x86_64__)
    if (inPlaceOk && (inPlace = passInPlace(x, shape, ihLo, rows))) {
      split = true;
      shift = 0;
    }
#endif
    const bool slabbed = plan.slab && !inPlace;
    if (slabbed) {
      // Input rows [ihLo, ihLo + rows) padded with the zero point: left and
      // right pads, rows outside x, channels past C.
#if defined(__x86_64__)
      if (splitOk) {
        split =
            splitPassWindow(shape, plan, x, ihLo, rows, segEnd - seg, flip,
                            fill, groupsK, panels, taps, shift, windowFailed);
        slabElem = split ? 1 : 2;
      }
#endif
      const size_t rowBytes = plan.wp * plan.cp * slabElem;
      // (The split slab: x + (flip - shift); an add of 0 is a plain copy.)
      const uint8_t add = static_cast<uint8_t>(flip - shift);
      for (size_t r = 0; r < rows; ++r)
        slabRow(plan, shape, x, ldx, ihLo + static_cast<ptrdiff_t>(r),
                w.slab + r * rowBytes,
                split ? static_cast<uint8_t>(fill - shift) : fill,
                split ? 0 : flip, slabElem, kern.isa == Isa::Avx512Vnni,
                split ? add : 0);
#if defined(__x86_64__)
      if (split)
        anyHot = mapSplitSlab(w, plan, rows * rowBytes, shift);
      else if (splitOk)
        ++qconvPassCounts().wide;
#endif
      origin = w.slab;
    } else {
      origin = x + static_cast<size_t>(ihLo) * shape.width * ldx;
    }
    // The source's geometry: the window of output pixel (oh, ow) starts at
    // its row (oh - oh0) * strideH, column ow * strideW.
    const size_t pixStride = slabbed ? plan.cp * slabElem : ldx;
    const size_t rowStride =
        slabbed ? plan.wp * plan.cp * slabElem : shape.width * ldx;
    tapOffsets(shape, rowStride, pixStride, w.tapOff);
    src.tapGroups = plan.cp / (split ? 4 : stepK(kern.layout));
    const size_t nRuns = split ? tapRuns(w.tapOff, taps, plan.cp, w.runs) : 0;
    for (size_t blk = seg; blk < segEnd; blk += kBlockTiles * kConvMR) {
      const size_t blkEnd = blk + kBlockTiles * kConvMR < segEnd
                                ? blk + kBlockTiles * kConvMR
                                : segEnd;
      blockCorners(origin, blk, blkEnd, oh0, OW, shape, plan.wp, rowStride,
                   pixStride, w.bases, w.basePix);
      // Runs of tiles: all of the block, or on the split path as many as
      // their correction entries fit (made once for every panel).
      for (size_t r0 = blk; r0 < blkEnd;) {
        size_t r1 = blkEnd;
#if defined(__x86_64__)
        if (split) {
          r1 = splitTileRounds(w.lists, plan, K, anyHot, shape.strideW, w.runs,
                               nRuns, w.basePix, blk, r0, blkEnd);
        }
#endif
        for (size_t col0 = colBegin; col0 < colEnd; col0 += NR) {
          setPanel(t, b, rq, col0, N, NR, groups, &lanesBuf, kern.isa);
          if (split) { // the s8 panel, the shifted activations' terms
            t.b = b.split + (col0 / 16) * groupsK * 64;
            for (size_t j = 0; j < 16; ++j)
              panelTerms[j] = static_cast<int32_t>(
                  static_cast<uint32_t>(b.colTerm[col0 + j]) +
                  static_cast<uint32_t>(shift) *
                      static_cast<uint32_t>(b.colSum[col0 + j]));
            t.colTerm = panelTerms;
          }
          for (size_t p0 = r0; p0 < r1; p0 += kConvMR) {
            src.rows = w.bases + (p0 - blk);
            t.rowBegin = 0;
            t.rowEnd =
                static_cast<int>(blkEnd - p0 < kConvMR ? blkEnd - p0 : kConvMR);
            t.c =
                static_cast<char *>(y) + ((p0 - pixBegin) * ldy + col0) * elem;
#if defined(__x86_64__)
            if (split) {
              const size_t tile = (p0 - blk) / kConvMR;
              qconvTileSplitAvx2(
                  t, src,
                  QSplitRows{w.lists.hot + w.lists.tileHot[2 * tile],
                             w.lists.tileHot[2 * tile + 1]});
              continue;
            }
            if (wide) {
              qconvTileAvx2(t, src);
              continue;
            }
            if (kern.isa == Isa::AvxVnni) {
              qconvTileAvxVnni(t, src);
              continue;
            }
#endif
            qconvTileVnni(t, src);
          }
        }
        r0 = r1;
      }
    }
    seg = segEnd;
  }
  return Status::Ok;
}

} // namespace ember::cpu

//===- ConvNhwc.cpp - fp32 convolution over channels-last input -----------===//
//
// y[p][oc] = sum over taps (kh, kw) and channels c of
//            x[ih(p, kh)][iw(p, kw)][c] * W[kh][kw][c][oc]
//
// An implicit GEMM in the transposed orientation: output pixels are the
// micro-kernel's rows (6), output channels its vector lanes (64). Weights
// are packB panels of W[kh][kw][c][oc] (K = KH*KW*C ordered (kh, kw, c)).
// The tile reads each pixel's window from x in place: for every tap it is
// given six row pointers (tileRowsAvx512), one per pixel, each the start of
// that input pixel's channels, or a row of zeros when the tap falls in the
// padding. Nothing is unfolded, padded, phase-split or compacted, and
// pixels wrap across output rows freely, so no work is spent on junk
// columns. The bias starts the accumulators; the rest of the epilogue runs
// on the tile in registers.
//
// Loops: pixel blocks of kPixBlock (their input rows stay in L2) -> K
// blocks of about kKBlock (whole taps, or a tap's channels in chunks when C
// is larger) -> 64-channel panels (one kc x 64 B panel, reused from L1/L2
// by every tile of the block) -> 6-pixel tiles. While a panel's tiles run,
// they prefetch the next panel into L2: weights are cold in a whole model.
//
//===----------------------------------------------------------------------===//
#include "Internal.h"
#include "PointwiseNarrow.h"

#include "Simd.h"

#include <algorithm>
#include <cstring>

namespace ember::cpu {

using namespace detail;

namespace {

constexpr size_t kMr = 6;
constexpr size_t kPixBlock = 240; ///< pixels per block (40 tiles)
constexpr size_t kKBlock = 640;   ///< target k steps per block
/// Most k steps per block of the pointwise GEMM (A in place, nothing
/// packed per block).
constexpr size_t kInPlaceKBlock = 1280;
/// Most input channels of a pointwise convolution run by the narrow-K
/// kernel (pointwiseNarrowAvx512) rather than the GEMM driver: it was
/// faster up to 128 (K = 16: 1.18x, 40: 1.04x, 128: 1.02x), even at 160
/// and slower from 192 (its whole K in one block; kernels README).
constexpr size_t kNarrowK = 128;

/// One path's channels-last kernels: the tiles (6 pixels x `nr` output
/// channels, B packed by packB for the path) and the vector helpers.
/// AVX-512: 6 x 64 and the 12 x 16 strided body for one-vector panels;
/// AVX2: 6 x 16 (SgemmAvx2Nhwc.cpp). The loops around them are shared.
struct NhwcPath {
  size_t nr; ///< output channels per panel (packB's NR for the path)
  void (*rows)(const TileArgs &, const float *const *);
  TileFn strided;
  TileFn tall;  ///< strided, up to 12 rows of one vector; or null
  int tallCols; ///< the panels `tall` takes: colEnd <= tallCols
  const GemmKernel &(*gemm)(); ///< A in place, B packed (gemmInPlaceRows)
  /// im2rowBlock for the path (FirstLayer's border pixels).
  void (*im2row)(const Conv2DShape &, const float *, size_t, size_t, size_t,
                 float *);
  /// A pooled row from the ring (conv2dNhwcFromNchwMaxPool).
  void (*maxPoolRow)(const float *, size_t, size_t, size_t, size_t,
                     const MaxPoolWindow &, size_t, float *, size_t);
};
/// The channels-last kernels of a resolved fp32 path, or null (generic).
const NhwcPath *nhwcPath(Isa fp32);

/// How K splits into blocks: whole taps per block, or one tap's channels
/// in chunks.
struct KBlockPlan {
  size_t tapsPerBlock; ///< > 0: whole taps per block
  size_t chunks;       ///< tapsPerBlock == 0: channel chunks per tap
  size_t chunk;        ///< channels per chunk (last may be shorter)
};

KBlockPlan planKBlocks(const Conv2DShape &s) {
  const size_t taps = s.kernelH * s.kernelW, C = s.channels;
  KBlockPlan p{};
  if (C <= kKBlock) {
    // Whole taps, balanced: ceil(K / kKBlock) blocks.
    const size_t blocks = std::max<size_t>(1, ceilDiv(taps * C, kKBlock));
    p.tapsPerBlock = ceilDiv(taps, blocks);
  } else {
    p.chunks = ceilDiv(C, kKBlock);
    p.chunk = ceilDiv(C, p.chunks);
  }
  return p;
}

/// Block kb: taps [tap0, tap1) x channels [c0, c0 + cn); it starts at
/// k = tap0 * C + c0 (K ordered (kh, kw, c)).
struct KBlock {
  size_t tap0, tap1, c0, cn;
};
KBlock blockAt(const KBlockPlan &p, size_t kb, size_t taps, size_t C) {
  if (p.tapsPerBlock) {
    const size_t tap0 = kb * p.tapsPerBlock;
    return {tap0, std::min(taps, tap0 + p.tapsPerBlock), 0, C};
  }
  const size_t c0 = (kb % p.chunks) * p.chunk;
  return {kb / p.chunks, kb / p.chunks + 1, c0, std::min(p.chunk, C - c0)};
}

/// Most runs (taps) one K block has.
size_t maxRuns(const Conv2DShape &s) {
  const KBlockPlan p = planKBlocks(s);
  return p.tapsPerBlock ? p.tapsPerBlock : 1;
}

size_t zeroFloats(const Conv2DShape &s) {
  const KBlockPlan p = planKBlocks(s);
  return roundUp(p.tapsPerBlock ? s.channels : p.chunk, 16);
}

/// Rows [mBegin, mEnd) x columns [oc0, oc1) of y = A * W + epilogue with
/// A (M x K, row stride lda) read in place and W the packed panels: the
/// pointwise convolution, and the unfolded rows of conv2dNhwcFromNchw.
/// Nothing is packed per block, so the driver needs no workspace.
void gemmInPlaceRows(const NhwcPath &path, const float *a, size_t lda, size_t M,
                     size_t K, const void *packedB, float *y, size_t ldy,
                     Epilogue epi, size_t mBegin, size_t mEnd, size_t oc0,
                     size_t oc1) {
  ASource as;
  as.a = a;
  as.lda = lda;
  as.direct = true;
  BSource bs;
  bs.packed = packedPanels(packedB);
  epi.biasAxis = epi.bias ? BiasAxis::PerColumn : BiasAxis::None;
  // K in as few equal blocks as kInPlaceKBlock allows: the output is then
  // written once, or read back as few times as possible (the GEMM's 384
  // would split 1152 channels into three blocks, the last two through the
  // general epilogue that reads C back).
  GemmKernel k = path.gemm();
  k.kc = ceilDiv(K, std::max<size_t>(1, ceilDiv(K, kInPlaceKBlock)));
  gemmDriver(k, M, packedHeader(packedB)->cols, K, as, bs, y, ldy, epi, mBegin,
             mEnd, oc0, oc1, nullptr);
}

} // namespace

size_t packedConvWeightsNhwcSize(const Conv2DShape &shape, Isa isa) {
  return packedBSize(shape.kernelH * shape.kernelW * shape.channels,
                     shape.outChannels, isa);
}

Status packConvWeightsNhwc(const Conv2DShape &s, const float *w, void *packed,
                           Isa isa, bool channelsOuter) {
  const size_t taps = s.kernelH * s.kernelW, C = s.channels;
  const size_t K = taps * C, N = s.outChannels;
  if (!packed || (!w && K && N))
    return Status::InvalidArgument;
  const GemmKernel &k = gemmKernelFor(fp32Isa(isa));
  const size_t nr = static_cast<size_t>(k.nr);
  writeGemmBHeader(packed, k, K, N, channelsOuter ? 1 : 0);
  // packB's layout, [ceil(N/nr)][K][nr], read from W[oc][c][kh][kw]:
  // row (tap, c) (or (c, tap)) of panel p holds W[p*nr + j][c][tap], zero
  // past N.
  float *dst = reinterpret_cast<float *>(static_cast<char *>(packed) +
                                         sizeof(PackedHeader));
  for (size_t p = 0; p < ceilDiv(N, nr); ++p)
    for (size_t k = 0; k < K; ++k, dst += nr) {
      const size_t tap = channelsOuter ? k % taps : k / C;
      const size_t c = channelsOuter ? k / taps : k % C;
      for (size_t j = 0; j < nr; ++j) {
        const size_t oc = p * nr + j;
        dst[j] = oc < N ? w[(oc * C + c) * taps + tap] : 0.0f;
      }
    }
  return Status::Ok;
}

size_t conv2dNhwcWorkspaceSize(const Conv2DShape &shape) {
  // Zeros for taps in the padding, one BRun per run, then the row pointers
  // of a pixel block's tiles (six per run and tile) and the runs' tap
  // offsets.
  const size_t runs = maxRuns(shape);
  return zeroFloats(shape) * sizeof(float) + runs * sizeof(BRun) +
         (kPixBlock / kMr) * runs * kMr * sizeof(const float *) +
         runs * sizeof(ptrdiff_t) + (kPixBlock / kMr) * sizeof(const float *) +
         64;
}

namespace {
/// A path with channels-last kernels (AVX-512 or AVX2) and weights packed
/// for its panels for `shape` with K order `order` (0: (kh, kw, c),
/// packB's; 1: (c, kh, kw)).
bool nhwcWeightsFit(const Conv2DShape &shape, const void *packedB, Isa isa,
                    uint64_t order) {
  const NhwcPath *path = nhwcPath(fp32Isa(isa));
  if (!shape.valid() || !shape.outChannels || !packedB || !path)
    return false;
  const PackedHeader *h = packedHeader(packedB);
  return h->kind == PackedKind::GemmB && h->panel == path->nr &&
         h->rows == shape.kernelH * shape.kernelW * shape.channels &&
         h->cols == shape.outChannels && h->reserved[0] == order;
}
} // namespace

bool conv2dNhwcSupported(const Conv2DShape &shape, const void *packedB,
                         Isa isa) {
  return nhwcWeightsFit(shape, packedB, isa, 0);
}

bool conv2dNhwcFromNchwSupported(const Conv2DShape &shape, const void *packedB,
                                 Isa isa) {
  return nhwcWeightsFit(shape, packedB, isa, 1);
}

Status conv2dNhwc(const Conv2DShape &s, const float *x, size_t ldx,
                  const void *packedB, float *y, size_t ldy,
                  const Epilogue &epi, Isa isa, const ConvRange &range,
                  void *workspace) {
  const size_t OW = s.outWidth(), P = s.outHeight() * OW;
  const size_t OC = s.outChannels, C = s.channels;
  OutPiece o;
  if (!s.valid() || !x || !y || !packedB || ldx < C || ldy < OC ||
      !resolvePiece(range, P, OC, epi, o))
    return Status::InvalidArgument;
  if (!conv2dNhwcSupported(s, packedB, isa))
    return Status::LayoutMismatch;
  if (o.p0 == o.p1 || o.c0 == o.c1)
    return Status::Ok;
  const size_t pix0 = o.p0, pix1 = o.p1, oc0 = o.c0, oc1 = o.c1;
  const NhwcPath &path = *nhwcPath(fp32Isa(isa));
  const size_t kNr = path.nr;

  if (s.kernelH == 1 && s.kernelW == 1 && s.strideH == 1 && s.strideW == 1 &&
      !s.padTop && !s.padLeft && !s.padBottom && !s.padRight) {
    // Pointwise: pixel rows are evenly spaced, a plain GEMM with A (x)
    // read in place and no row pointers to build; with few input channels
    // on AVX-512, the narrow-K kernel.
    if (path.nr == 64 && C <= kNarrowK) {
      pointwiseNarrowAvx512(x, ldx, C, packedB, y, ldy, epi, pix0, pix1, oc0,
                            oc1);
      return Status::Ok;
    }
    // On AVX2 the narrow-K kernel takes the whole 6-pixel tiles and the
    // driver, whose bodies have 1 to 6 rows, the last 1-5 pixels: the
    // kernel's partial tile computes all six (a squeeze-excitation block's
    // one-pixel layers did six times the multiply-adds). Same bits.
    const size_t whole = (pix1 - pix0) / kNarrowRowsAvx2 * kNarrowRowsAvx2;
    if (path.nr == 16 && C <= kNarrowKAvx2) {
      if (whole)
        pointwiseNarrowAvx2(x, ldx, C, packedB, y, ldy, epi, pix0, pix0 + whole,
                            oc0, oc1);
      if (pix0 + whole < pix1)
        gemmInPlaceRows(path, x, ldx, P, C, packedB, y, ldy, epi, pix0 + whole,
                        pix1, oc0, oc1);
      return Status::Ok;
    }
    gemmInPlaceRows(path, x, ldx, P, C, packedB, y, ldy, epi, pix0, pix1, oc0,
                    oc1);
    return Status::Ok;
  }
  ScratchBuffer scratch(workspace, conv2dNhwcWorkspaceSize(s));
  if (!scratch.ptr)
    return Status::OutOfMemory;
  char *ws = static_cast<char *>(scratch.ptr);
  ws = align64(ws);
  float *zeros = reinterpret_cast<float *>(ws);
  const size_t nz = zeroFloats(s);
  std::memset(zeros, 0, nz * sizeof(float));
  BRun *runs = reinterpret_cast<BRun *>(ws + nz * sizeof(float));
  const size_t runCap = maxRuns(s);
  const float **rows = reinterpret_cast<const float **>(runs + runCap);
  ptrdiff_t *tapOff =
      reinterpret_cast<ptrdiff_t *>(rows + (kPixBlock / kMr) * runCap * kMr);
  // Per tile: the window origin of its first pixel when all its pixels lie
  // in one output row with their windows inside the input (the tile then
  // reads x at fixed offsets, tileStridedAvx512, and needs no row
  // pointers), else null.
  const float **origins = reinterpret_cast<const float **>(tapOff + runCap);

  const size_t taps = s.kernelH * s.kernelW, K = taps * C;
  const float *panels = packedPanels(packedB);
  const KBlockPlan plan = planKBlocks(s);
  const size_t nBlocks =
      plan.tapsPerBlock ? ceilDiv(taps, plan.tapsPerBlock) : taps * plan.chunks;
  const size_t panel0 = oc0 / kNr, panel1 = ceilDiv(oc1, kNr);

  TileArgs t{};
  t.ldc = ldy;
  t.bRuns = runs;
  t.zeroRow = zeros;
  setTileEpilogue(t, epi, path.gemm().isa);
  const size_t pixStep = s.strideW * ldx; // next pixel of an output row
  const float *bias = epi.bias; // per output channel, whatever the axis
  const ptrdiff_t ih0 = -static_cast<ptrdiff_t>(s.padTop);
  const ptrdiff_t iw0 = -static_cast<ptrdiff_t>(s.padLeft);
  const ptrdiff_t H = static_cast<ptrdiff_t>(s.height);
  const ptrdiff_t W = static_cast<ptrdiff_t>(s.width);

  for (size_t pb = pix0; pb < pix1; pb += kPixBlock) {
    const size_t pbEnd = std::min(pix1, pb + kPixBlock);
    const size_t nTiles = ceilDiv(pbEnd - pb, kMr);
    for (size_t kb = 0; kb < nBlocks; ++kb) {
      // This block's runs: taps [tap0, tap1), channels [c0, c0 + cn).
      const KBlock blk = blockAt(plan, kb, taps, C);
      const size_t tap0 = blk.tap0, tap1 = blk.tap1, c0 = blk.c0, cn = blk.cn;
      const size_t kBegin = tap0 * C + c0;
      const size_t kc = (tap1 - tap0) * cn;
      t.numRuns = tap1 - tap0;
      t.kc = kc;
      t.loadC = kb > 0;
      t.last = kb + 1 == nBlocks;
      const size_t bChunk =
          roundUp(ceilDiv(kc * kNr * sizeof(float), nTiles), 64);

      // Row pointers of every tile of the block, one per run (tap) and
      // pixel, shared by all channel panels. A pixel whose window lies
      // inside the input adds the taps' offsets to its window origin;
      // others check each tap (zeros in the padding).
      for (size_t r = 0; r < t.numRuns; ++r) {
        const size_t tap = tap0 + r;
        tapOff[r] =
            static_cast<ptrdiff_t>(((tap / s.kernelW) * s.dilationH * s.width +
                                    (tap % s.kernelW) * s.dilationW) *
                                       ldx +
                                   c0);
        // (The pointer tiles use only the count; the strided ones read
        // run r at the tile origin + its tap offset.)
        runs[r] = BRun{tapOff[r], cn, 0};
      }
      const ptrdiff_t spanH =
          static_cast<ptrdiff_t>((s.kernelH - 1) * s.dilationH);
      const ptrdiff_t spanW =
          static_cast<ptrdiff_t>((s.kernelW - 1) * s.dilationW);
      // (Output row and column walked along, not divided out per pixel.)
      size_t oh = pb / OW, ow = pb % OW;
      for (size_t tile = 0; tile < nTiles; ++tile) {
        const size_t p = pb + tile * kMr;
        const size_t live = std::min(kMr, pbEnd - p);
        const float **tr = rows + tile * runCap * kMr;
        // A tile inside one output row, every window inside the input:
        // its pixels' windows are pixStep apart, so the tile reads x at
        // fixed offsets and no pointers are built (with few channels per
        // tap, building them cost as much as a fifth of the FMAs they fed).
        {
          const ptrdiff_t oy = static_cast<ptrdiff_t>(oh * s.strideH) + ih0;
          const ptrdiff_t ox = static_cast<ptrdiff_t>(ow * s.strideW) + iw0;
          const ptrdiff_t oxLast =
              ox + static_cast<ptrdiff_t>((live - 1) * s.strideW);
          if (ow + live <= OW && oy >= 0 && ox >= 0 && oy + spanH < H &&
              oxLast + spanW < W) {
            origins[tile] = x + static_cast<size_t>(oy * W + ox) * ldx;
            ow += live;
            if (ow == OW) {
              ow = 0;
              ++oh;
            }
            continue;
          }
          origins[tile] = nullptr;
        }
        for (size_t i = 0; i < live; ++i) {
          const ptrdiff_t oy = static_cast<ptrdiff_t>(oh * s.strideH) + ih0;
          const ptrdiff_t ox = static_cast<ptrdiff_t>(ow * s.strideW) + iw0;
          if (++ow == OW) {
            ow = 0;
            ++oh;
          }
          if (oy >= 0 && ox >= 0 && oy + spanH < H && ox + spanW < W) {
            const float *origin = x + static_cast<size_t>(oy * W + ox) * ldx;
            for (size_t r = 0; r < t.numRuns; ++r)
              tr[r * kMr + i] = origin + tapOff[r];
            continue;
          }
          for (size_t r = 0; r < t.numRuns; ++r) {
            const size_t tap = tap0 + r;
            const ptrdiff_t iy =
                oy + static_cast<ptrdiff_t>(tap / s.kernelW * s.dilationH);
            const ptrdiff_t ix =
                ox + static_cast<ptrdiff_t>(tap % s.kernelW * s.dilationW);
            tr[r * kMr + i] =
                iy >= 0 && iy < H && ix >= 0 && ix < W
                    ? x + static_cast<size_t>(iy * W + ix) * ldx + c0
                    : zeros;
          }
        }
      }

      for (size_t pn = panel0; pn < panel1; ++pn) {
        const size_t col0 = pn * kNr;
        t.b = panels + pn * K * kNr + kBegin * kNr;
        t.colBegin = static_cast<int>(std::max(oc0, col0) - col0);
        t.colEnd = static_cast<int>(std::min(oc1, col0 + kNr) - col0);
        t.accInit = kb == 0 && bias ? bias + col0 : nullptr;
        // The next panel: the next channels here, or the next K block's
        // first one.
        const KBlock nb = blockAt(plan, kb + 1, taps, C);
        const float *next = pn + 1 < panel1    ? t.b + K * kNr
                            : kb + 1 < nBlocks ? panels + panel0 * K * kNr +
                                                     (nb.tap0 * C + nb.c0) * kNr
                                               : nullptr;
        for (size_t tile = 0; tile < nTiles; ++tile) {
          const size_t p = pb + tile * kMr;
          const int live = static_cast<int>(std::min(kMr, pbEnd - p));
          t.c = y + p * ldy + col0;
          t.rowBegin = 0;
          t.rowEnd = live;
          t.residual =
              epi.residual ? epi.residual + p * epi.ldr + col0 : nullptr;
          if (next) {
            t.prefetch = reinterpret_cast<const char *>(next) + tile * bChunk;
            t.prefetchStep = 64;
          } else {
            t.prefetch = reinterpret_cast<const char *>(t.b);
            t.prefetchStep = 0;
          }
          if (origins[tile]) {
            t.a = origins[tile];
            t.lda = pixStep;
            // One live vector: the next tile, if it continues this one in
            // the same output row, joins it in a 12-row body.
            if (path.tall && t.colEnd <= path.tallCols &&
                live == static_cast<int>(kMr) && tile + 1 < nTiles &&
                origins[tile + 1] == origins[tile] + kMr * pixStep) {
              t.rowEnd =
                  live + static_cast<int>(std::min(kMr, pbEnd - p - kMr));
              withPost(t, [&] { path.tall(t); });
              ++tile;
              continue;
            }
            withPost(t, [&] { path.strided(t); });
          } else {
            withPost(t, [&] { path.rows(t, rows + tile * runCap * kMr); });
          }
        }
      }
    }
  }
  return Status::Ok;
}

namespace {
/// dst[0, n) = src[0, n), n <= 16, on AVX-512. Runs of up to 4 or 8 use a
/// plain xmm / ymm load and store of the whole vector when `srcEnd` allows
/// the over-read: masked stores are several times slower than plain ones
/// on AMD cores, and the extra values written are overwritten by the next
/// run (the block buffer has a vector of slack).
EMBER_TARGET_AVX512 inline void copyRun16(float *dst, const float *src,
                                          size_t n, const float *srcEnd) {
  if (n <= 4 && src + 4 <= srcEnd) {
    _mm_storeu_ps(dst, _mm_loadu_ps(src));
    return;
  }
  if (n <= 8 && src + 8 <= srcEnd) {
    _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
    return;
  }
  const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
  _mm512_mask_storeu_ps(dst, m, _mm512_maskz_loadu_ps(m, src));
}

/// copyRun16 on AVX2: whole xmm / ymm vectors (two ymm up to 16) where the
/// source allows the over-read, else one value at a time (vmaskmov stores
/// are slow on AMD cores too).
EMBER_TARGET_AVX2 inline void copyRun16Avx2(float *dst, const float *src,
                                            size_t n, const float *srcEnd) {
  if (n <= 4 && src + 4 <= srcEnd) {
    _mm_storeu_ps(dst, _mm_loadu_ps(src));
    return;
  }
  if (n <= 8 && src + 8 <= srcEnd) {
    _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
    return;
  }
  if (src + 16 <= srcEnd) {
    _mm256_storeu_ps(dst, _mm256_loadu_ps(src));
    _mm256_storeu_ps(dst + 8, _mm256_loadu_ps(src + 8));
    return;
  }
  for (size_t i = 0; i < n; ++i)
    dst[i] = src[i];
}

/// Rows [pb, pbEnd) of the im2row matrix of row-major x into rowsBuf
/// (conv2dNhwcFromNchw), each run of KW <= 16 values by copyRun(dst, src,
/// n, srcEnd), which may write up to 16 floats: rowsBuf has 16 floats of
/// slack past the block. Inlined into each path's im2rowBlock, so the
/// run copies inline.
template <typename CopyRun>
__attribute__((always_inline)) inline void
im2rowBlock(const Conv2DShape &s, const float *x, size_t OW, size_t pb,
            size_t pbEnd, float *rowsBuf, CopyRun copyRun) {
  const size_t C = s.channels, K = s.kernelH * s.kernelW * C;
  const size_t H = s.height, W = s.width, plane = H * W;
  const float *xEnd = x + C * plane;
  // im2row of the block: row p holds (c, kh, kw), the weights' K order,
  // so each (c, kh) is KW values of one input row (contiguous when not
  // dilated). Pixels whose window lies inside the input copy unchecked.
  const ptrdiff_t spanH = static_cast<ptrdiff_t>((s.kernelH - 1) * s.dilationH);
  const ptrdiff_t spanW = static_cast<ptrdiff_t>((s.kernelW - 1) * s.dilationW);
  const size_t KW = s.kernelW, DW = s.dilationW;
  size_t oh = pb / OW, ow = pb % OW;
  for (size_t p = pb; p < pbEnd; ++p) {
    float *row = rowsBuf + (p - pb) * K;
    const ptrdiff_t oy = static_cast<ptrdiff_t>(oh * s.strideH) -
                         static_cast<ptrdiff_t>(s.padTop);
    const ptrdiff_t ox = static_cast<ptrdiff_t>(ow * s.strideW) -
                         static_cast<ptrdiff_t>(s.padLeft);
    if (++ow == OW) {
      ow = 0;
      ++oh;
    }
    const bool inside = oy >= 0 && ox >= 0 &&
                        oy + spanH < static_cast<ptrdiff_t>(H) &&
                        ox + spanW < static_cast<ptrdiff_t>(W);
    if (inside && DW == 1 && KW <= 16) {
      // The common case: one vector copy per (c, kh).
      const float *src =
          x + static_cast<size_t>(oy) * W + static_cast<size_t>(ox);
      for (size_t c = 0; c < C; ++c, src += plane)
        for (size_t kh = 0; kh < s.kernelH; ++kh, row += KW)
          copyRun(row, src + kh * s.dilationH * W, KW, xEnd);
      continue;
    }
    for (size_t c = 0; c < C; ++c)
      for (size_t kh = 0; kh < s.kernelH; ++kh, row += KW) {
        const ptrdiff_t iy = oy + static_cast<ptrdiff_t>(kh * s.dilationH);
        const float *src = x + c * plane;
        if (inside) {
          src += static_cast<size_t>(iy) * W + static_cast<size_t>(ox);
          for (size_t kw = 0; kw < KW; ++kw)
            row[kw] = src[kw * DW];
          continue;
        }
        const bool rowIn = iy >= 0 && iy < static_cast<ptrdiff_t>(H);
        for (size_t kw = 0; kw < KW; ++kw) {
          const ptrdiff_t ix = ox + static_cast<ptrdiff_t>(kw * DW);
          row[kw] =
              rowIn && ix >= 0 && ix < static_cast<ptrdiff_t>(W)
                  ? src[static_cast<size_t>(iy) * W + static_cast<size_t>(ix)]
                  : 0.0f;
        }
      }
  }
}

EMBER_TARGET_AVX512 void im2rowBlockAvx512(const Conv2DShape &s, const float *x,
                                           size_t OW, size_t pb, size_t pbEnd,
                                           float *rowsBuf) {
  im2rowBlock(s, x, OW, pb, pbEnd, rowsBuf,
              [](float *d, const float *src, size_t n, const float *end)
                  EMBER_TARGET_AVX512 { copyRun16(d, src, n, end); });
}

EMBER_TARGET_AVX2 void im2rowBlockAvx2(const Conv2DShape &s, const float *x,
                                       size_t OW, size_t pb, size_t pbEnd,
                                       float *rowsBuf) {
  im2rowBlock(s, x, OW, pb, pbEnd, rowsBuf,
              [](float *d, const float *src, size_t n, const float *end)
                  EMBER_TARGET_AVX2 { copyRun16Avx2(d, src, n, end); });
}
} // namespace

namespace {
/// conv2dNhwcFromNchw's per-call state: the unfolded block and the runs
/// of the direct tiles (carved from the workspace), and the geometry.
/// pixels() computes any output pixels into any output rows.
class FirstLayer {
public:
  /// Workspace bytes: 64 to align the unfolded block, 64 of slack after it
  /// for copyRun16's vectors, then the runs of the direct tiles.
  static size_t workspaceSize(const Conv2DShape &s) {
    return kPixBlock * s.kernelH * s.kernelW * s.channels * sizeof(float) +
           128 + s.channels * s.kernelH * sizeof(BRun);
  }

  FirstLayer(const NhwcPath &path, const Conv2DShape &s, const float *x,
             const void *packedB, const Epilogue &epi, void *workspace)
      : path_(path), s_(s), x_(x), packedB_(packedB), epi_(epi) {
    const size_t C = s.channels, KH = s.kernelH, W = s.width;
    OW_ = s.outWidth();
    K_ = KH * s.kernelW * C;
    rowsBuf_ = reinterpret_cast<float *>(align64(workspace));
    runs_ = reinterpret_cast<BRun *>(rowsBuf_ + kPixBlock * K_ + 16);
    for (size_t c = 0; c < C; ++c)
      for (size_t kh = 0; kh < KH; ++kh)
        runs_[c * KH + kh] = BRun{
            static_cast<ptrdiff_t>(c * s.height * W + kh * s.dilationH * W),
            s.kernelW, 0};
    // Output columns [owLo_, owHi_) have their windows inside horizontally.
    const size_t SW = s.strideW, spanW = (s.kernelW - 1) * s.dilationW;
    owLo_ = std::min(OW_, ceilDiv(s.padLeft, SW));
    owHi_ = W + s.padLeft < spanW + 1
                ? 0
                : std::min(OW_, (W - 1 + s.padLeft - spanW) / SW + 1);
  }

  /// Output pixels [p0, p1) x channels [c0, c1), pixel q written at
  /// y + (q - origin) * ldy (origin <= p0: y may hold only some rows). The
  /// residual, if any, is addressed by absolute pixel.
  void pixels(size_t p0, size_t p1, size_t c0, size_t c1, float *y, size_t ldy,
              size_t origin) const;

private:
  /// Pixels [q0, q1) (any rows) through the unfolded block and a GEMM.
  void unfolded(size_t q0, size_t q1, size_t c0, size_t c1, float *y,
                size_t ldy, size_t origin) const {
    for (size_t pb = q0; pb < q1; pb += kPixBlock) {
      const size_t pbEnd = std::min(q1, pb + kPixBlock);
      path_.im2row(s_, x_, OW_, pb, pbEnd, rowsBuf_);
      Epilogue e = epi_;
      if (e.residual)
        e.residual += pb * e.ldr;
      gemmInPlaceRows(path_, rowsBuf_, K_, pbEnd - pb, K_, packedB_,
                      y + (pb - origin) * ldy, ldy, e, 0, pbEnd - pb, c0, c1);
    }
  }
  bool rowInside(size_t oh) const {
    const size_t spanH = (s_.kernelH - 1) * s_.dilationH;
    return s_.dilationW == 1 && oh * s_.strideH >= s_.padTop &&
           oh * s_.strideH - s_.padTop + spanH < s_.height;
  }

  const NhwcPath &path_;
  const Conv2DShape &s_;
  const float *x_;
  const void *packedB_;
  const Epilogue &epi_;
  size_t OW_, K_, owLo_, owHi_;
  float *rowsBuf_;
  BRun *runs_;
};

void FirstLayer::pixels(size_t p0, size_t p1, size_t c0, size_t c1, float *y,
                        size_t ldy, size_t origin) const {
  // Pixels whose whole window is inside the input are read in place
  // (the path's strided tile): in a row-major input, run (c, kh) of a window is
  // KW contiguous values, and the next pixel's starts strideW further on,
  // so a tile of six pixels of one output row needs no unfolding. That
  // takes contiguous runs (no horizontal dilation). The others (rows and
  // columns whose windows reach into the padding) are unfolded.
  const size_t OW = OW_, K = K_, kNr = path_.nr;
  const float *panels = packedPanels(packedB_);
  const size_t panel0 = c0 / kNr, panel1 = ceilDiv(c1, kNr);
  TileArgs t{};
  t.kc = K;
  t.ldc = ldy;
  t.lda = s_.strideW;
  t.bRuns = runs_;
  t.numRuns = s_.channels * s_.kernelH;
  t.runLength = s_.kernelW; // every run: one window row
  t.last = true;
  t.rowBegin = 0;
  // (Each tile pulls the next tile's output lines in while it runs: the
  // prefetch step is set per panel, by the tile's height.)
  setTileEpilogue(t, epi_, path_.gemm().isa);

  for (size_t p = p0; p < p1;) {
    const size_t oh = p / OW, rowBegin = oh * OW;
    const size_t rowEnd = std::min(p1, rowBegin + OW);
    const size_t lo = std::max(p - rowBegin, owLo_);
    const size_t hi = std::min(rowEnd - rowBegin, owHi_);
    if (!rowInside(oh) || lo >= hi) {
      // Unfold this row and the following ones like it in one go.
      size_t q = rowEnd;
      while (q < p1 && !rowInside(q / OW))
        q = std::min(p1, q + OW);
      unfolded(p, q, c0, c1, y, ldy, origin);
      p = q;
      continue;
    }
    if (rowBegin + lo > p)
      unfolded(p, rowBegin + lo, c0, c1, y, ldy, origin);
    const float *xrow = x_ + (oh * s_.strideH - s_.padTop) * s_.width;
    // The next output row's windows, when inside too: each tile of the
    // first panel pulls its columns of them into L1 while this row runs.
    // A model's input image has left the caches by the time its first
    // layer runs (the whole previous inference ran since it was written).
    const float *xnext = rowInside(oh + 1) && oh + 1 < s_.outHeight()
                             ? xrow + s_.strideH * s_.width
                             : nullptr;
    for (size_t pn = panel0; pn < panel1; ++pn) {
      const size_t col0 = pn * kNr;
      t.b = panels + pn * K * kNr;
      t.colBegin = static_cast<int>(std::max(c0, col0) - col0);
      t.colEnd = static_cast<int>(std::min(c1, col0 + kNr) - col0);
      t.accInit = epi_.bias ? epi_.bias + col0 : nullptr;
      // One live vector (at most 16 output channels of the panel on
      // AVX-512, 8 on AVX2): 12-pixel tiles (the path's tall tile), else 6.
      const bool tall = path_.tall && t.colEnd <= path_.tallCols;
      const size_t mr = tall ? 2 * kMr : kMr;
      t.prefetchStep = std::max<size_t>(1, mr * ldy * sizeof(float) / K);
      for (size_t ow = lo; ow < hi; ow += mr) {
        const size_t q = rowBegin + ow;
        t.a = xrow + (ow * s_.strideW - s_.padLeft);
        if (xnext && pn == panel0)
          for (size_t r = 0; r < t.numRuns; ++r)
            for (size_t half = 0; half < mr; half += kMr)
              __builtin_prefetch(xnext + runs_[r].offset +
                                     ((ow + half) * s_.strideW - s_.padLeft),
                                 0, 3);
        t.c = y + (q - origin) * ldy + col0;
        t.rowEnd = static_cast<int>(std::min(mr, hi - ow));
        t.residual =
            epi_.residual ? epi_.residual + q * epi_.ldr + col0 : nullptr;
        t.prefetch = reinterpret_cast<const char *>(t.c + mr * ldy);
        if (tall)
          withPost(t, [&] { path_.tall(t); });
        else
          withPost(t, [&] { path_.strided(t); });
      }
    }
    if (rowBegin + hi < rowEnd)
      unfolded(rowBegin + hi, rowEnd, c0, c1, y, ldy, origin);
    p = rowEnd;
  }
}
} // namespace

namespace {
constexpr size_t kPadCopyBytes = 128 * 1024; ///< padded copy's largest size

/// Output rows [oh0, oh1] of a call's pixels [p0, p1) as their own
/// convolution over a zero-padded copy of the input rows they read (padded
/// extents, no pads): `piece`, or false when no copy is made: no padding,
/// horizontal dilation (the unfolded path either way), or a padded image
/// over kPadCopyBytes. On a small map many output pixels have windows
/// reaching into the padding (3x3 pad 1 on 32x32: 12%); unfolded (im2row
/// and a GEMM of one 16-lane vector), they took 35% of ResNet-8's first
/// layer, six times an interior pixel. In the copy every window is inside,
/// so every row of six pixels is a direct tile. On a large image (224x224
/// with pad 1: 2% at the border) the copy, about OC*KH*KW/(SH*SW)
/// multiply-adds per copied float, would cost as much as the border saves,
/// hence the limit on the whole image. A call copies only its own rows
/// (with threads, each piece its band).
bool paddedCopyShape(const Conv2DShape &s, size_t p0, size_t p1,
                     Conv2DShape &piece, size_t &oh0) {
  if (!(s.padTop | s.padLeft | s.padBottom | s.padRight) || s.dilationW != 1 ||
      s.channels * (s.height + s.padTop + s.padBottom) *
              (s.width + s.padLeft + s.padRight) * sizeof(float) >
          kPadCopyBytes)
    return false;
  const size_t OW = s.outWidth();
  oh0 = p0 / OW;
  const size_t oh1 = (p1 - 1) / OW;
  piece = s;
  piece.height = (oh1 - oh0) * s.strideH + (s.kernelH - 1) * s.dilationH + 1;
  piece.width = s.width + s.padLeft + s.padRight;
  piece.padTop = piece.padLeft = piece.padBottom = piece.padRight = 0;
  return true;
}

/// The input rows `piece` reads (from padded row oh0 * strideH on) into
/// dst[C][piece.height][piece.width], the pads of `s` as zeros.
void copyPadded(const Conv2DShape &s, const Conv2DShape &piece, size_t oh0,
                const float *x, float *dst) {
  const size_t Hp = piece.height, Wp = piece.width;
  std::memset(dst, 0, s.channels * Hp * Wp * sizeof(float));
  const size_t first = oh0 * s.strideH; // padded row of dst's row 0
  for (size_t c = 0; c < s.channels; ++c)
    for (size_t r = 0; r < Hp; ++r) {
      const size_t ph = first + r; // padded row; input row ph - padTop
      if (ph < s.padTop || ph - s.padTop >= s.height)
        continue;
      std::memcpy(dst + (c * Hp + r) * Wp + s.padLeft,
                  x + (c * s.height + ph - s.padTop) * s.width,
                  s.width * sizeof(float));
    }
}
} // namespace

size_t conv2dNhwcFromNchwWorkspaceSize(const Conv2DShape &shape) {
  size_t bytes = FirstLayer::workspaceSize(shape), oh0;
  Conv2DShape piece; // the whole image's rows: the largest piece
  const size_t P = shape.outHeight() * shape.outWidth();
  if (P && paddedCopyShape(shape, 0, P, piece, oh0))
    bytes += 64 + shape.channels * piece.height * piece.width * sizeof(float);
  return bytes;
}

Status conv2dNhwcFromNchw(const Conv2DShape &s, const float *x,
                          const void *packedB, float *y, size_t ldy,
                          const Epilogue &epi, Isa isa, const ConvRange &range,
                          void *workspace) {
  const size_t P = s.outHeight() * s.outWidth();
  const size_t OC = s.outChannels;
  OutPiece o;
  if (!s.valid() || !x || !y || !packedB || ldy < OC ||
      !resolvePiece(range, P, OC, epi, o))
    return Status::InvalidArgument;
  if (!conv2dNhwcFromNchwSupported(s, packedB, isa))
    return Status::LayoutMismatch;
  if (o.p0 == o.p1 || o.c0 == o.c1)
    return Status::Ok;
  ScratchBuffer scratch(workspace, conv2dNhwcFromNchwWorkspaceSize(s));
  if (!scratch.ptr)
    return Status::OutOfMemory;
  const NhwcPath &path = *nhwcPath(fp32Isa(isa));
  Conv2DShape piece;
  size_t oh0;
  if (paddedCopyShape(s, o.p0, o.p1, piece, oh0)) {
    // Output rows oh0.. as a convolution of their own over the copy, every
    // window inside; pixel q is q - base there.
    float *copy = reinterpret_cast<float *>(align64(
        static_cast<char *>(scratch.ptr) + FirstLayer::workspaceSize(s)));
    copyPadded(s, piece, oh0, x, copy);
    const size_t base = oh0 * s.outWidth();
    Epilogue e = epi;
    if (e.residual)
      e.residual += base * e.ldr;
    FirstLayer(path, piece, copy, packedB, e, scratch.ptr)
        .pixels(o.p0 - base, o.p1 - base, o.c0, o.c1, y + base * ldy, ldy, 0);
    return Status::Ok;
  }
  FirstLayer(path, s, x, packedB, epi, scratch.ptr)
      .pixels(o.p0, o.p1, o.c0, o.c1, y, ldy, 0);
  return Status::Ok;
}

namespace {
constexpr size_t kBandBytes = 256 * 1024; ///< conv rows a pool band holds

/// Pooled rows per band: as many as fit kBandBytes of conv rows.
size_t poolBandRows(const Conv2DShape &s, const MaxPoolWindow &w) {
  const size_t rowBytes = s.outWidth() * s.outChannels * sizeof(float);
  const size_t fit = std::max<size_t>(1, kBandBytes / rowBytes);
  const size_t band = fit > w.kernelH ? (fit - w.kernelH) / w.strideH + 1 : 1;
  return std::min(band, w.outHeight);
}

/// Conv rows the ring holds: those of one band of pooled rows.
size_t poolRingRows(const Conv2DShape &s, const MaxPoolWindow &w) {
  return (poolBandRows(s, w) - 1) * w.strideH + w.kernelH;
}

/// [begin, end) of output o's window (o * stride - pad onwards, k long;
/// pads make its start negative), clipped to [0, extent).
inline void clipWindow(size_t o, size_t stride, size_t pad, size_t k,
                       size_t extent, size_t &begin, size_t &end) {
  const ptrdiff_t first =
      static_cast<ptrdiff_t>(o * stride) - static_cast<ptrdiff_t>(pad);
  begin = static_cast<size_t>(std::max<ptrdiff_t>(first, 0));
  end = static_cast<size_t>(std::min<ptrdiff_t>(
      first + static_cast<ptrdiff_t>(k), static_cast<ptrdiff_t>(extent)));
}

/// Pooled row `pr` from conv rows held in the ring `band` (channels-last
/// OW x OC rows, conv row h in slot h % slots) into yRow (pixel stride
/// ldy). Window rows outer: each adds its pixels to the maxima the rows
/// before it left in yRow (in L1), so every window still sees its pixels
/// in row-major order. The max starts from the window's first pixel, and
/// _mm512_max_ps(v, acc) is v > acc ? v : acc: the reference's rule, NaNs
/// and signed zeros included.
EMBER_TARGET_AVX512 void maxPoolRowAvx512(const float *band, size_t slots,
                                          size_t OH, size_t OW, size_t OC,
                                          const MaxPoolWindow &w, size_t pr,
                                          float *yRow, size_t ldy) {
  size_t h0, h1;
  clipWindow(pr, w.strideH, w.padTop, w.kernelH, OH, h0, h1);
  const size_t full = OC / 16 * 16;
  const __mmask16 tail = static_cast<__mmask16>((1u << (OC - full)) - 1u);
  for (size_t h = h0; h < h1; ++h) {
    const float *row = band + (h % slots) * OW * OC;
    for (size_t pc = 0; pc < w.outWidth; ++pc) {
      size_t w0, w1;
      clipWindow(pc, w.strideW, w.padLeft, w.kernelW, OW, w0, w1);
      const float *px = row + w0 * OC;
      float *out = yRow + pc * ldy;
      const size_t n = w1 - w0;
      for (size_t c = 0; c < full; c += 16) {
        __m512 acc = _mm512_loadu_ps(px + c);
        if (h != h0)
          acc = _mm512_max_ps(acc, _mm512_loadu_ps(out + c));
        for (size_t k = 1; k < n; ++k)
          acc = _mm512_max_ps(_mm512_loadu_ps(px + k * OC + c), acc);
        _mm512_storeu_ps(out + c, acc);
      }
      if (tail) {
        __m512 acc = _mm512_maskz_loadu_ps(tail, px + full);
        if (h != h0)
          acc = _mm512_max_ps(acc, _mm512_maskz_loadu_ps(tail, out + full));
        for (size_t k = 1; k < n; ++k)
          acc = _mm512_max_ps(_mm512_maskz_loadu_ps(tail, px + k * OC + full),
                              acc);
        _mm512_mask_storeu_ps(out + full, tail, acc);
      }
    }
  }
}

/// maxPoolRowAvx512 on AVX2: _mm256_max_ps(v, acc) is the same rule; the
/// channels past the last whole 8 are loaded with vmaskmov (zeros in the
/// other lanes) and stored with it.
EMBER_TARGET_AVX2 void maxPoolRowAvx2(const float *band, size_t slots,
                                      size_t OH, size_t OW, size_t OC,
                                      const MaxPoolWindow &w, size_t pr,
                                      float *yRow, size_t ldy) {
  size_t h0, h1;
  clipWindow(pr, w.strideH, w.padTop, w.kernelH, OH, h0, h1);
  const size_t full = OC / 8 * 8;
  const __m256i tail =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(OC - full)),
                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (size_t h = h0; h < h1; ++h) {
    const float *row = band + (h % slots) * OW * OC;
    for (size_t pc = 0; pc < w.outWidth; ++pc) {
      size_t w0, w1;
      clipWindow(pc, w.strideW, w.padLeft, w.kernelW, OW, w0, w1);
      const float *px = row + w0 * OC;
      float *out = yRow + pc * ldy;
      const size_t n = w1 - w0;
      for (size_t c = 0; c < full; c += 8) {
        __m256 acc = _mm256_loadu_ps(px + c);
        if (h != h0)
          acc = _mm256_max_ps(acc, _mm256_loadu_ps(out + c));
        for (size_t k = 1; k < n; ++k)
          acc = _mm256_max_ps(_mm256_loadu_ps(px + k * OC + c), acc);
        _mm256_storeu_ps(out + c, acc);
      }
      if (full < OC) {
        __m256 acc = _mm256_maskload_ps(px + full, tail);
        if (h != h0)
          acc = _mm256_max_ps(acc, _mm256_maskload_ps(out + full, tail));
        for (size_t k = 1; k < n; ++k)
          acc =
              _mm256_max_ps(_mm256_maskload_ps(px + k * OC + full, tail), acc);
        _mm256_maskstore_ps(out + full, tail, acc);
      }
    }
  }
}
} // namespace

bool maxPoolWindowFits(const MaxPoolWindow &w, size_t height, size_t width) {
  // The windows move monotonically, so the first and the last decide.
  return w.kernelH && w.kernelW && w.strideH && w.strideW && w.outHeight &&
         w.outWidth && w.kernelH > w.padTop && w.kernelW > w.padLeft &&
         (w.outHeight - 1) * w.strideH < height + w.padTop &&
         (w.outWidth - 1) * w.strideW < width + w.padLeft;
}

size_t conv2dNhwcFromNchwMaxPoolWorkspaceSize(const Conv2DShape &shape,
                                              const MaxPoolWindow &pool) {
  return FirstLayer::workspaceSize(shape) + 64 +
         poolRingRows(shape, pool) * shape.outWidth() * shape.outChannels *
             sizeof(float);
}

Status conv2dNhwcFromNchwMaxPool(const Conv2DShape &s, const MaxPoolWindow &pw,
                                 const float *x, const void *packedB, float *y,
                                 size_t ldy, const Epilogue &epi, Isa isa,
                                 size_t rowBegin, size_t rowEnd,
                                 void *workspace) {
  if (epi.post) // (a post is the GEMM-lowered paths')
    return Status::InvalidArgument;
  const size_t OH = s.outHeight(), OW = s.outWidth(), OC = s.outChannels;
  OutPiece o;
  if (!s.valid() || !x || !y || !packedB || ldy < OC ||
      !maxPoolWindowFits(pw, OH, OW) || !resolvePiece({}, OH * OW, OC, epi, o))
    return Status::InvalidArgument;
  if (rowEnd == 0)
    rowEnd = pw.outHeight;
  if (rowBegin > rowEnd || rowEnd > pw.outHeight)
    return Status::InvalidArgument;
  if (!conv2dNhwcFromNchwSupported(s, packedB, isa))
    return Status::LayoutMismatch;
  if (rowBegin == rowEnd)
    return Status::Ok;
  ScratchBuffer scratch(workspace,
                        conv2dNhwcFromNchwMaxPoolWorkspaceSize(s, pw));
  if (!scratch.ptr)
    return Status::OutOfMemory;
  char *ws = static_cast<char *>(scratch.ptr);
  const NhwcPath &path = *nhwcPath(fp32Isa(isa));
  const FirstLayer conv(path, s, x, packedB, epi, ws);
  ws += FirstLayer::workspaceSize(s);
  float *band = reinterpret_cast<float *>(align64(ws));
  // Conv rows up to `have` are in the ring (those of the last band), row h
  // in slot h % slots.
  const size_t rowFloats = OW * OC, bandRows = poolBandRows(s, pw);
  const size_t slots = poolRingRows(s, pw);
  size_t have = 0;
  for (size_t r = rowBegin; r < rowEnd; r += bandRows) {
    const size_t rEnd = std::min(rowEnd, r + bandRows);
    size_t lo, hi, unused;
    clipWindow(r, pw.strideH, pw.padTop, pw.kernelH, OH, lo, unused);
    clipWindow(rEnd - 1, pw.strideH, pw.padTop, pw.kernelH, OH, unused, hi);
    // The rows the last band shares with this one (windows taller than
    // their stride) stay where they are; the others are computed into
    // the slots after them, in runs that stop at the ring's end.
    for (size_t h = std::max(lo, have); h < hi;) {
      const size_t slot = h % slots, n = std::min(hi - h, slots - slot);
      conv.pixels(h * OW, (h + n) * OW, 0, OC, band + slot * rowFloats, OC,
                  h * OW);
      h += n;
    }
    have = hi;
    for (size_t pr = r; pr < rEnd; ++pr)
      path.maxPoolRow(band, slots, OH, OW, OC, pw, pr,
                      y + pr * pw.outWidth * ldy, ldy);
  }
  return Status::Ok;
}

namespace {
const NhwcPath kAvx512Path = {64, // nr
                              &tileRowsAvx512,
                              &tileStridedAvx512,
                              &tileStridedTallAvx512,
                              16, // tallCols
                              &gemmKernelAvx512,
                              &im2rowBlockAvx512,
                              &maxPoolRowAvx512};
const NhwcPath kAvx2Path = {16, // nr
                            &tileRowsAvx2,
                            &tileStridedAvx2,
                            &tileStridedTallAvx2,
                            8, // tallCols
                            &gemmKernelAvx2Direct,
                            &im2rowBlockAvx2,
                            &maxPoolRowAvx2};

const NhwcPath *nhwcPath(Isa fp32) {
  return fp32 == Isa::Avx512 ? &kAvx512Path
         : fp32 == Isa::Avx2 ? &kAvx2Path
                             : nullptr;
}
} // namespace

} // namespace ember::cpu

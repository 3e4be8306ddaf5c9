//===- GemmDriver.cpp - cache-blocked GEMM loop nest ----------------------===//
//
// The BLIS loop nest around an MR x NR micro-kernel:
//
//   for jc in N step nc            B block kc x nc   (pre-packed, in place,
//     for pc in K step kc                             or packed here)
//       for ic in M step mc        A block mc x kc   (pre-packed, in place,
//         for jr in nc step NR                        or packed here)
//           for ir in mc step MR   the B micro-panel (kc x NR) is reused by
//             tile(MR x NR, kc)    every A micro-panel of the block
//
// The epilogue runs inside the tile on the last kc block, while the tile is
// still in registers. In-place B rows are handed to the tile as runs (one
// per RowSegments segment met by the K block).
//
//===----------------------------------------------------------------------===//
#include "Internal.h"

#include <cstdlib>

namespace ember::cpu::detail {

namespace {
inline size_t minSz(size_t a, size_t b) { return a < b ? a : b; }
inline size_t maxSz(size_t a, size_t b) { return a > b ? a : b; }
} // namespace

size_t gemmWorkspaceFloats(const GemmKernel &k) {
  // A block, B block, then up to kc B runs (one per row at worst).
  return roundUp(k.mc * k.kc, 16) + roundUp(k.kc * k.nc, 16) +
         roundUp((k.kc + 1) * sizeof(BRun) / sizeof(float), 16);
}

void gemmDriver(const GemmKernel &kern, size_t M, size_t N, size_t K,
                const ASource &A, const BSource &B, float *C, size_t ldc,
                const Epilogue &epi, size_t mBegin, size_t mEnd, size_t nBegin,
                size_t nEnd, float *workspace) {
  if (mBegin >= mEnd || nBegin >= nEnd)
    return;
  if ((A.direct || B.direct) && !kern.direct) {
    // Callers check kern.direct; keep the contract even if one forgets.
    ASource a = A;
    BSource b = B;
    a.direct = b.direct = false;
    gemmDriver(kern, M, N, K, a, b, C, ldc, epi, mBegin, mEnd, nBegin, nEnd,
               workspace);
    return;
  }
  const size_t MR = static_cast<size_t>(kern.mr);
  const size_t NR = static_cast<size_t>(kern.nr);
  // (Null when nothing is packed per block: A and B pre-packed or in place.)
  float *aBuf = workspace;
  float *bBuf =
      workspace ? workspace + roundUp(kern.mc * kern.kc, 16) : nullptr;

  // A pre-packed operand fixes where panels start; a packed-per-block one
  // starts its panels at the range start.
  const size_t i0 = A.packed ? mBegin / MR * MR : mBegin;
  const size_t j0 = B.packed ? nBegin / NR * NR : nBegin;
  // With B pre-packed there is nothing to pack per column block, and one
  // block avoids packing A again for each.
  const size_t nc = B.packed ? nEnd - j0 : kern.nc;

  TileArgs t{};
  t.ldc = ldc;
  t.lda = A.direct ? A.lda : 0;
  // In-place B: the K rows of one block as runs of a segment each.
  const ptrdiff_t zero = 0;
  RowSegments whole;
  const RowSegments *segs = B.segments;
  if (B.direct && !segs) {
    whole = RowSegments{K ? K : 1, 1, &zero, B.ldb};
    segs = &whole;
  }
  BRun *runs = workspace ? reinterpret_cast<BRun *>(
                               workspace + roundUp(kern.mc * kern.kc, 16) +
                               roundUp(kern.kc * kern.nc, 16))
                         : nullptr;
  setTileEpilogue(t, epi, kern.isa);
  const bool rowBias = epi.bias && epi.biasAxis == BiasAxis::PerRow;
  const bool colBias = epi.bias && epi.biasAxis == BiasAxis::PerColumn;
  // The AVX-512 tile starts its accumulators from a per-column bias (on the
  // first K block) rather than adding it in the per-vector epilogue; so
  // does the AVX2 direct one (gemmKernelAvx2Direct, the channels-last
  // convolutions': their other tiles start from the bias too, and results
  // must not depend on which tile computed a pixel).
  const bool biasInit = colBias && (kern.isa == Isa::Avx512 ||
                                    (kern.isa == Isa::Avx2 && kern.direct));

  for (size_t jc = j0; jc < nEnd; jc += nc) {
    const size_t ncur = minSz(nc, nEnd - jc);
    for (size_t pc = 0;;) {
      const size_t kcur = minSz(kern.kc, K - pc);
      const float *bBlock;
      size_t bPanelStride;
      if (B.packed) {
        bBlock = B.packed + (jc / NR) * K * NR + pc * NR;
        bPanelStride = K * NR;
      } else if (B.direct) {
        bBlock = B.b + jc;
        bPanelStride = NR; // next panel: NR columns to the right
        size_t n = 0;
        for (size_t k = pc; k < pc + kcur; ++n) {
          const size_t seg = k / segs->segRows, r = k % segs->segRows;
          const size_t cnt = minSz(segs->segRows - r, pc + kcur - k);
          runs[n] = BRun{segs->offset[seg] +
                             static_cast<ptrdiff_t>(r * segs->rowStride),
                         cnt, segs->rowStride};
          k += cnt;
        }
        t.bRuns = runs;
        t.numRuns = n;
      } else {
        if (B.conv && kern.isa == Isa::Avx512 && NR % 16 == 0)
          packIm2colAvx512(*B.conv, B.b, pc, kcur, jc, ncur, kern.nr, bBuf);
        else if (B.conv)
          packIm2col(*B.conv, B.b, pc, kcur, jc, ncur, kern.nr, bBuf);
        else
          packBPanels(kcur, ncur, B.b + pc * B.ldb + jc, B.ldb, kern.nr, bBuf);
        bBlock = bBuf;
        bPanelStride = kcur * NR;
      }
      t.kc = kcur;
      t.loadC = pc > 0 || epi.accumulate;
      t.last = pc + kcur >= K;

      for (size_t ic = i0; ic < mEnd; ic += kern.mc) {
        const size_t mcur = minSz(kern.mc, mEnd - ic);
        const float *aBlock;
        size_t aPanelStride;
        if (A.packed) {
          aBlock = A.packed + (ic / MR) * K * MR + pc * MR;
          aPanelStride = K * MR;
        } else if (A.direct) {
          aBlock = A.a + ic * A.lda + pc;
          aPanelStride = MR * A.lda; // next panel: MR rows down
        } else if (A.pack) {
          A.pack(A.packCtx, ic, mcur, pc, kcur, kern.mr, aBuf);
          aBlock = aBuf;
          aPanelStride = kcur * MR;
        } else {
          packAPanels(mcur, kcur, A.a + ic * A.lda + pc, A.lda, kern.mr, aBuf);
          aBlock = aBuf;
          aPanelStride = kcur * MR;
        }

        // Prefetch (TileArgs::prefetch): pre-packed weights are read once
        // per block from memory, so while one block's tiles run, the next
        // block's are pulled into L2. A pre-packed B (weights as B: the
        // transposed convolution, MatMul): the next kc x NR panel, split
        // among the column's tiles. A pre-packed A (weights as A): during
        // the last column of panels, each tile pulls the panel at its
        // place in the next A block.
        const size_t nIr = (mcur + MR - 1) / MR;
        const bool lastIc = ic + kern.mc >= mEnd, lastPc = pc + kcur >= K;
        const float *nextA = nullptr;
        if (A.packed && !B.packed)
          nextA = !lastIc ? A.packed + ((ic + kern.mc) / MR) * K * MR + pc * MR
                  : !lastPc ? A.packed + (i0 / MR) * K * MR + (pc + kcur) * MR
                            : nullptr;
        const size_t bChunk =
            roundUp((kcur * NR * sizeof(float) + nIr - 1) / nIr, 64);

        for (size_t jr = 0; jr < ncur; jr += NR) {
          const size_t col0 = jc + jr;
          t.b = bBlock + (jr / NR) * bPanelStride;
          const float *nextB =
              !B.packed        ? nullptr
              : jr + NR < ncur ? t.b + bPanelStride
              : lastIc && !lastPc
                  ? B.packed + (jc / NR) * K * NR + (pc + kcur) * NR
                  : nullptr;
          const bool lastJr = jr + NR >= ncur;
          // A range starting inside a pre-packed panel (a split over
          // 16-channel vectors) skips the panel's vectors before it: the
          // AVX-512 tile then starts at the first one it stores (B's rows
          // keep their NR stride), rather than computing them masked off.
          const size_t skip =
              B.packed && kern.isa == Isa::Avx512 && nBegin > col0
                  ? (nBegin - col0) / 16 * 16
                  : 0;
          t.b += skip;
          t.colBegin = static_cast<int>(maxSz(nBegin, col0) - col0 - skip);
          t.colEnd =
              static_cast<int>(minSz(minSz(nEnd, N), col0 + NR) - col0 - skip);
          t.biasCol = colBias && !biasInit ? epi.bias + col0 + skip : nullptr;
          t.accInit = biasInit && pc == 0 ? epi.bias + col0 + skip : nullptr;
          for (size_t ir = 0; ir < mcur; ir += MR) {
            const size_t row0 = ic + ir;
            t.a = aBlock + (ir / MR) * aPanelStride;
            if (nextB) {
              t.prefetch =
                  reinterpret_cast<const char *>(nextB) + (ir / MR) * bChunk;
              t.prefetchStep = 64;
            } else if (nextA && lastJr) {
              t.prefetch = reinterpret_cast<const char *>(
                  nextA + (ir / MR) * aPanelStride);
              t.prefetchStep = MR * sizeof(float);
            } else {
              t.prefetch = reinterpret_cast<const char *>(t.a);
              t.prefetchStep = 0;
            }
            t.c = C + row0 * ldc + col0 + skip;
            t.rowBegin = static_cast<int>(maxSz(mBegin, row0) - row0);
            t.rowEnd =
                static_cast<int>(minSz(minSz(mEnd, M), row0 + MR) - row0);
            t.biasRow = rowBias ? epi.bias + row0 : nullptr;
            t.residual = epi.residual
                             ? epi.residual + row0 * epi.ldr + col0 + skip
                             : nullptr;
            withPost(t, [&] { kern.tile(t); });
          }
        }
      }
      pc += kcur;
      if (pc >= K)
        break;
    }
  }
}

ScratchBuffer::ScratchBuffer(void *given, size_t bytes) {
  if (given) {
    ptr = given;
    return;
  }
  owned = std::aligned_alloc(64, roundUp(bytes ? bytes : 64, 64));
  ptr = owned;
}

ScratchBuffer::~ScratchBuffer() { std::free(owned); }

} // namespace ember::cpu::detail

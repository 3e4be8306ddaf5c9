//===- QGemm.cpp - 8-bit x s8 -> s32 GEMM with Ember's requantization -----===//
//
//   acc[m,n] = sum_k A[m,k] * B[k,n]                      (exact, s32)
//            + colTerm[n] - bZp[n] * rowSum[m]            (zero points)
//   colTerm[n] = bias[n] + K*aZp*bZp[n] - aZp * sum_k B[k,n]
//   rowSum[m]  = sum_k A[m,k]        (only when some bZp[n] != 0)
//
// which equals sum_k (A[m,k] - aZp) * (B[k,n] - bZp[n]) + bias[n].
//
// Packed layouts, 4 consecutive k per 32-bit lane (the vpdpbusd operand):
//   B: [ceil(N/NR)] panels x [ceil(K/4)] groups x NR columns x 4 bytes
//   A: [ceil(rows/MR)] panels x [ceil(K/4)] groups x MR rows x 4 bytes
// zero-padded in k and at the edges (zero contributes nothing to the raw
// product; the correction terms use the true K).
//
// s8 A (packQB's aSigned) is read as A + 128 (sign bit flipped) with zero
// point aZp + 128, so every kernel multiplies u8 by s8 (vpdpbusd): A is
// flipped while it is packed, or as the tile reads it in place.
//
// That is the Quad layout (QGemm.h, QLayout). The AVX2 kernel's Pair16
// layout holds B - bZp[n] as s16 and A zero-extended to u16, 2 k per lane
// (the vpmaddwd operands, exact: no pair sum comes near 2^31): then
//   acc[m,n] = sum_k A[m,k] * (B[k,n] - bZp[n]) + colTerm[n]
// with the same colTerm (sum_k (B - bZp) * aZp = aZp * sum_k B - K*aZp*bZp).
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

namespace detail {

/// The k a packed step covers (Quad: a group of 4 s8, Pair16: a pair of
/// s16); either takes 4 bytes per row or column.
size_t stepK(QLayout l) { return l == QLayout::Pair16 ? 2 : 4; }

size_t panelBytes(size_t K, size_t N, size_t NR, QLayout l) {
  return quadPanelBytes(ceilDiv(K, stepK(l)), N, NR);
}

/// Bytes of the split tile's s8 Quad panels (16 columns) of a Pair16 buffer.
size_t splitPanelBytes(size_t K, size_t N) {
  return roundUp(ceilDiv(N, 16) * 16 * ceilDiv(K, 4) * 4, 64);
}

/// A Pair16 buffer's split section (PackedHeader::reserved[3] bytes from its
/// start): the s8 Quad panels, then B's column sums (int32, padded to whole
/// panels).
size_t splitSectionBytes(size_t K, size_t N) {
  return splitPanelBytes(K, N) +
         roundUp(ceilDiv(N, 16) * 16 * sizeof(int32_t), 64);
}

QLayout layoutOf(const PackedHeader *h) {
  if (h->reserved[2] == uint64_t(QLayout::Pair16))
    return QLayout::Pair16;
  return h->reserved[2] == uint64_t(QLayout::Paired) ? QLayout::Paired
                                                     : QLayout::Quad;
}

QPacked view(const void *packed) {
  const PackedHeader *h = static_cast<const PackedHeader *>(packed);
  const char *p = static_cast<const char *>(packed) + sizeof(PackedHeader);
  const size_t NR = h->panel;
  const size_t npad = ceilDiv(h->cols, NR) * NR;
  QPacked v;
  v.layout = layoutOf(h);
  v.panels = reinterpret_cast<const int8_t *>(p);
  v.split = nullptr;
  v.colSum = nullptr;
  v.perm = nullptr;
  v.groups = ceilDiv(h->rows, stepK(v.layout));
  if (v.layout == QLayout::Paired) {
    const char *sec = static_cast<const char *>(packed) + h->reserved[3];
    uint64_t groups;
    std::memcpy(&groups, sec, sizeof(groups));
    v.groups = groups;
    v.perm = reinterpret_cast<const int32_t *>(sec + kPairedOrderAt);
  }
  v.colTerm = reinterpret_cast<const int32_t *>(
      p + quadPanelBytes(v.groups, h->cols, NR));
  v.bZp = h->reserved[0] ? v.colTerm + npad : nullptr;
  if (v.layout != QLayout::Paired && h->reserved[3]) {
    const char *sec = static_cast<const char *>(packed) + h->reserved[3];
    v.split = reinterpret_cast<const int8_t *>(sec);
    v.colSum = reinterpret_cast<const int32_t *>(
        sec + splitPanelBytes(h->rows, h->cols));
  }
  v.aSigned = h->reserved[1] != 0;
  return v;
}

/// Whether a resolved path runs the AVX2 kernels (AVX2, AVX-VNNI and
/// AVX-512 without VNNI: the same code, the CPU has AVX2).
bool avx2Path(Isa resolved) {
#if defined(__x86_64__)
  return resolved == Isa::Avx2 || resolved == Isa::Avx512 ||
         resolved == Isa::AvxVnni;
#else
  (void)resolved;
  return false;
#endif
}

/// The int8 kernel of a resolved path: VNNI; AVX-VNNI; the AVX2 kernel on
/// the AVX2 path; else generic.
const QGemmKernel &nativeQKernel(Isa resolved) {
  if (resolved == Isa::Avx512Vnni)
    return qgemmKernelVnni();
#if defined(__x86_64__)
  if (resolved == Isa::AvxVnni)
    return qgemmKernelAvxVnni();
  if (avx2Path(resolved))
    return qgemmKernelAvx2();
#endif
  return qgemmKernelGeneric();
}

/// The kernel qgemmPacked runs a buffer of `layout` and panel width `nr`
/// with on a resolved path: the native one when it uses that layout, the
/// AVX2 path's few-row kernel for s8 Quad panels of 16 (what packQB makes
/// for the generic path, and qgemmPackIsa asks for), else a portable one.
const QGemmKernel *qKernelFor(Isa resolved, QLayout layout, int nr) {
  const QGemmKernel &native = nativeQKernel(resolved);
  if (native.nr == nr && native.layout == layout)
    return &native;
#if defined(__x86_64__)
  // (AVX-VNNI runs the AVX2 path's buffers with the AVX2 kernels.)
  if (avx2Path(resolved) && layout == QLayout::Pair16 &&
      nr == qgemmKernelAvx2().nr)
    return &qgemmKernelAvx2();
  if (avx2Path(resolved) && layout == QLayout::Quad &&
      nr == qgemmKernelAvx2Quad().nr)
    return &qgemmKernelAvx2Quad();
  if (avx2Path(resolved) && layout == QLayout::Paired &&
      nr == qgemmKernelAvx2Paired().nr)
    return &qgemmKernelAvx2Paired();
#endif
  // Paired panels are Quad panels over the permuted k (A is gathered into
  // that order whichever kernel runs).
  return qgemmKernelGenericFor(
      layout == QLayout::Paired ? QLayout::Quad : layout, nr);
}

#if defined(__x86_64__)
/// Six whole rows of A, groups [0, 4 * (full / 4)) of 4 k: each step reads
/// 16 bytes of every row and writes the four 24-byte groups of the panel
/// with two dword permutes, each byte xor-ed with `flip`. Returns the
/// groups done.
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl"))) size_t
packPanel6Avx512(const uint8_t *A, size_t lda, size_t full, uint8_t *d,
                 uint8_t flip) {
  const __m512i fx = _mm512_set1_epi8(static_cast<char>(flip));
  // Output dword j is group j / 6, row j % 6; rows 0-3 are lanes 4r + g of
  // the first operand, rows 4-5 lanes 16 + 4(r - 4) + g (the second).
  const __m512i i1 =
      _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21, 2, 6, 10, 14);
  const __m512i i2 =
      _mm512_setr_epi32(18, 22, 3, 7, 11, 15, 19, 23, 0, 0, 0, 0, 0, 0, 0, 0);
  size_t g = 0;
  for (; g + 4 <= full; g += 4) {
    const uint8_t *s = A + 4 * g;
    __m512i a = _mm512_zextsi128_si512(
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(s)));
    a = _mm512_inserti32x4(
        a, _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + lda)), 1);
    a = _mm512_inserti32x4(
        a, _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + 2 * lda)), 2);
    a = _mm512_inserti32x4(
        a, _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + 3 * lda)), 3);
    __m512i b = _mm512_zextsi128_si512(
        _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + 4 * lda)));
    b = _mm512_inserti32x4(
        b, _mm_loadu_si128(reinterpret_cast<const __m128i *>(s + 5 * lda)), 1);
    _mm512_storeu_si512(
        d + g * 24, _mm512_xor_si512(_mm512_permutex2var_epi32(a, i1, b), fx));
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(d + g * 24 + 64),
                        _mm512_castsi512_si256(_mm512_xor_si512(
                            _mm512_permutex2var_epi32(a, i2, b), fx)));
  }
  return g;
}
#endif

/// A rows [r0, r0+rows) -> panels of MR rows, 4 k per lane; row sums.
/// `simd`: the CPU has AVX-512 (whole six-row panels use it), `simd2`:
/// AVX2 (the same, 8 groups a step). `flip`: 0x80 for s8 A (packed and
/// summed as A + 128), else 0.
void packQA(size_t rows, size_t K, const uint8_t *A, size_t lda, int mr,
            uint8_t *dst, int32_t *rowSum, bool simd, bool simd2,
            uint8_t flip) {
  const uint32_t flip4 = 0x01010101u * flip;
  const size_t MR = static_cast<size_t>(mr);
  const size_t groups = ceilDiv(K, 4);
  const size_t full = K / 4;
  for (size_t r0 = 0; r0 < rows; r0 += MR, dst += groups * 4 * MR) {
    size_t done = 0;
#if defined(__x86_64__)
    if (simd && MR == 6 && r0 + MR <= rows)
      done = packPanel6Avx512(A + r0 * lda, lda, full, dst, flip);
    else if (simd2 && MR == 6 && r0 + MR <= rows)
      done = packQuadPanel6Avx2(A + r0 * lda, lda, full, dst, flip);
#else
    (void)simd;
    (void)simd2;
#endif
    for (size_t i = 0; i < MR; ++i) {
      uint8_t *d = dst + 4 * i;
      if (r0 + i >= rows) {
        for (size_t g = 0; g < groups; ++g)
          std::memset(d + g * 4 * MR, 0, 4);
        if (rowSum)
          rowSum[r0 + i] = 0;
        continue;
      }
      const uint8_t *src = A + (r0 + i) * lda;
      // Whole groups of 4 k as one 32-bit move each, the last one padded
      // (with zeros: the padding k have zero weights).
      for (size_t g = done; g < full; ++g) {
        uint32_t v;
        std::memcpy(&v, src + 4 * g, 4);
        v ^= flip4;
        std::memcpy(d + g * 4 * MR, &v, 4);
      }
      if (full < groups) {
        uint8_t last[4] = {0, 0, 0, 0};
        for (size_t k = 4 * full; k < K; ++k)
          last[k - 4 * full] = src[k] ^ flip;
        std::memcpy(d + full * 4 * MR, last, 4);
      }
      if (rowSum) {
        int32_t sum = 0;
        for (size_t k = 0; k < K; ++k)
          sum += src[k] ^ flip;
        rowSum[r0 + i] = sum;
      }
    }
  }
}

/// Pair16: A rows into panels of 6 rows of u16 pairs (QLayout::Pair16);
/// whole panels of at least 16 k through the AVX2 body when `simd`.
void packQAPairsImpl(size_t rows, size_t K, const uint8_t *A, size_t lda,
                     uint16_t *dst, uint8_t flip, bool simd) {
  constexpr size_t MR = 6;
  const size_t pairs = ceilDiv(K, 2);
  for (size_t r0 = 0; r0 < rows; r0 += MR, dst += pairs * 2 * MR) {
    size_t done = 0;
#if defined(__x86_64__)
    if (simd && r0 + MR <= rows)
      done = packQAPanelAvx2(A + r0 * lda, lda, K, dst, flip);
#else
    (void)simd;
#endif
    for (size_t i = 0; i < MR; ++i) {
      uint16_t *d = dst + 2 * i;
      if (r0 + i >= rows) {
        for (size_t g = done; g < pairs; ++g)
          d[g * 2 * MR] = d[g * 2 * MR + 1] = 0;
        continue;
      }
      const uint8_t *src = A + (r0 + i) * lda;
      for (size_t g = done; g < pairs; ++g) {
        const size_t k = 2 * g;
        d[g * 2 * MR] = static_cast<uint16_t>(src[k] ^ flip);
        d[g * 2 * MR + 1] =
            k + 1 < K ? static_cast<uint16_t>(src[k + 1] ^ flip) : 0;
      }
    }
  }
}

/// Bytes of packed A per row (4 per packed k step; Paired: room for the
/// most groups a pairing of depth K may take).
size_t packedARowBytes(size_t K, QLayout l) {
  return (l == QLayout::Paired ? pairedMaxGroups(K) : ceilDiv(K, stepK(l))) * 4;
}

/// Rows of A per block: enough to amortise the B panel, small enough that
/// the packed block stays in L2 beside it.
size_t blockRows(size_t K, int mr, QLayout l) {
  const size_t MR = static_cast<size_t>(mr);
  const size_t row = packedARowBytes(K, l);
  size_t rows = (192 * 1024) / (row ? row : 4) / MR * MR;
  return rows < MR ? MR : (rows > 480 ? 480 / MR * MR : rows);
}

/// The output range (type range and requested clamp; an empty range is its
/// lower bound, as quant::clampTo) and the FixedPoint form of a call.
void setRange(QTileArgs &t, const Requantize &rq) {
  t.perColumn = rq.scaleCount > 1;
  int32_t lo = rq.output == QOutput::UInt8 ? 0 : -128;
  int32_t hi = rq.output == QOutput::UInt8 ? 255 : 127;
  if (rq.output == QOutput::Int32) {
    lo = INT32_MIN;
    hi = INT32_MAX;
  }
  t.qmin = rq.clampMin > lo ? rq.clampMin : lo;
  t.qmax = rq.clampMax < hi ? rq.clampMax : hi;
  if (t.qmax < t.qmin)
    t.qmax = t.qmin;
  t.fixedFast = rq.output != QOutput::Int32 &&
                rq.kind == QScaleKind::FixedPoint && rq.shift &&
                fixedPointFast(rq.shift, rq.scaleCount, rq.zeroPoint);
}

/// Tile arguments common to every tile of one call.
QTileArgs tileArgs(const Requantize &rq, size_t groups, size_t ldc) {
  QTileArgs t{};
  t.groups = groups;
  t.ldc = ldc;
  t.rq = &rq;
  setRange(t, rq);
  return t;
}

/// Points `t` at the B panel of columns [col0, col0 + NR); for a vector
/// kernel's fixed-point epilogue (`lanesIsa` VNNI or AVX2; else none),
/// makes the panel's constants in `lanes`.
void setPanel(QTileArgs &t, const QPacked &b, const Requantize &rq, size_t col0,
              size_t N, size_t NR, size_t groups, QPanelLanes *lanes,
              Isa lanesIsa) {
  t.b = b.panels + (col0 / NR) * groups * 4 * NR;
  t.colTerm = b.colTerm + col0;
  t.bZp = b.bZp ? b.bZp + col0 : nullptr;
  setPanelOutput(t, rq, col0, N, NR, lanes, lanesIsa);
}

} // namespace detail

namespace detail {

void setPanelOutput(QTileArgs &t, const Requantize &rq, size_t col0, size_t N,
                    size_t NR, QPanelLanes *lanes, Isa lanesIsa) {
  t.colBegin = 0;
  t.colEnd = static_cast<int>(N - col0 < NR ? N - col0 : NR);
  const size_t sidx = t.perColumn ? col0 : 0;
  t.scale = rq.scale ? rq.scale + sidx : nullptr;
  t.mult = rq.multiplier ? rq.multiplier + sidx : nullptr;
  t.shift = rq.shift ? rq.shift + sidx : nullptr;
  t.lanes = nullptr;
  if (lanes && rq.kind == QScaleKind::FixedPoint &&
      rq.output != QOutput::Int32) {
#if defined(__x86_64__)
    if (lanesIsa == Isa::Avx2 || lanesIsa == Isa::AvxVnni) {
      fixedPointPanelAvx2(t, lanes);
      t.lanes = lanes;
      return;
    }
#endif
    fixedPointPanelVnni(t, lanes);
    t.lanes = lanes;
  }
}

} // namespace detail

namespace detail {

/// Checks common to every entry point: shapes, packing, requantization.
Status checkQCall(size_t N, size_t K, const void *packedB,
                  const Requantize &rq) {
  const PackedHeader *h = static_cast<const PackedHeader *>(packedB);
  if (h->kind != PackedKind::QGemmB || h->rows != K || h->cols != N)
    return Status::LayoutMismatch;
  if (rq.output != QOutput::Int32) {
    if (rq.scaleCount != 1 && rq.scaleCount != N)
      return Status::InvalidArgument;
    if (rq.kind == QScaleKind::Float ? !rq.scale
                                     : (!rq.multiplier || !rq.shift))
      return Status::InvalidArgument;
  }
  return Status::Ok;
}

} // namespace detail

namespace detail {

QLayout packedQLayout(const void *packed) {
  return layoutOf(static_cast<const PackedHeader *>(packed));
}

QConvPassCounts &qconvPassCounts() {
  static thread_local QConvPassCounts counts;
  return counts;
}

void packQAPairs(size_t rows, size_t K, const uint8_t *A, size_t lda,
                 uint16_t *dst, uint8_t flip) {
  packQAPairsImpl(rows, K, A, lda, dst, flip, false);
}

} // namespace detail

float requantScale(float aScale, float bScale, float yScale) {
  return aScale * bScale / yScale;
}

int32_t requantizeOne(int32_t acc, const Requantize &rq, size_t index) {
  QTileArgs t{};
  t.rq = &rq;
  t.scale = rq.scale;
  t.mult = rq.multiplier;
  t.shift = rq.shift;
  setRange(t, rq);
  return finishQ(t, t.perColumn ? static_cast<int>(index) : 0, acc);
}

size_t packedQBSize(size_t K, size_t N, Isa isa) {
  const QGemmKernel &k = nativeQKernel(resolveIsa(isa));
  const size_t NR = static_cast<size_t>(k.nr);
  const size_t npad = ceilDiv(N, NR) * NR;
  const size_t bytes = sizeof(PackedHeader) + panelBytes(K, N, NR, k.layout) +
                       2 * npad * sizeof(int32_t);
  if (k.layout != QLayout::Pair16)
    return bytes;
  // Pair16: room for the split tile's s8 panels or for a Paired packing
  // (used when the weight zero points are all 0), 64-byte aligned.
  const size_t groups = pairedMaxGroups(K);
  const size_t paired =
      roundUp(sizeof(PackedHeader) + quadPanelBytes(groups, N, NR) +
                  2 * npad * sizeof(int32_t),
              64) +
      pairedSectionBytes(groups);
  const size_t split = roundUp(bytes, 64) + splitSectionBytes(K, N);
  return paired > split ? paired : split;
}

Status packQB(size_t K, size_t N, const int8_t *B, size_t ldb,
              int32_t aZeroPoint, const int8_t *bZeroPoint,
              size_t bZeroPointCount, const int32_t *bias, void *packed,
              Isa isa, bool aSigned, QPackExtra extra) {
  if (!packed || (!B && K && N) || ldb < N ||
      (bZeroPointCount != 1 && bZeroPointCount != N) ||
      (bZeroPointCount && !bZeroPoint) || aZeroPoint < (aSigned ? -128 : 0) ||
      aZeroPoint > (aSigned ? 127 : 255))
    return Status::InvalidArgument;
  const QGemmKernel &k = nativeQKernel(resolveIsa(isa));
  const size_t NR = static_cast<size_t>(k.nr);
  const size_t npad = ceilDiv(N, NR) * NR;
  const bool pairs = k.layout == QLayout::Pair16;
  bool anyZp = false;
  for (size_t n = 0; n < bZeroPointCount; ++n)
    anyZp |= bZeroPoint[n] != 0 && !pairs; // Pair16: folded into B

  PackedHeader h{};
  h.kind = PackedKind::QGemmB;
  h.panel = static_cast<uint32_t>(NR);
  h.mr = static_cast<uint32_t>(k.mr);
  h.isa = static_cast<uint32_t>(k.isa);
  h.rows = K;
  h.cols = N;
  h.reserved[0] = anyZp ? 1 : 0;
  h.reserved[1] = aSigned ? 1 : 0;
  bool anyFoldedZp = false;
  for (size_t n = 0; n < bZeroPointCount; ++n)
    anyFoldedZp |= bZeroPoint[n] != 0;
  // The split and paired tiles multiply s8 B as it is: only without zero
  // points. A Paired buffer's panels hold B in the plan's order (Pair16
  // otherwise); both extras sit after the column terms.
  std::vector<int32_t> order;
  const bool tryPairs =
      extra == QPackExtra::PairedK || extra == QPackExtra::PairedKOrSplit;
  if (tryPairs && pairs && !anyFoldedZp && K && N)
    order = planPairs(K, N, B, ldb, pairedMaxGroups(K));
  const bool paired = !order.empty();
  const bool split = (extra == QPackExtra::SplitTile ||
                      (extra == QPackExtra::PairedKOrSplit && !paired)) &&
                     pairs && !anyFoldedZp;
  const QLayout layout = paired ? QLayout::Paired : k.layout;
  const size_t steps = paired ? order.size() / 4 : ceilDiv(K, stepK(k.layout));
  const size_t pb = quadPanelBytes(steps, N, NR);
  const size_t extraAt =
      roundUp(sizeof(PackedHeader) + pb + 2 * npad * sizeof(int32_t), 64);
  h.reserved[2] = static_cast<uint64_t>(layout);
  h.reserved[3] = paired || split ? extraAt : 0;
  std::memcpy(packed, &h, sizeof(h));
  char *p = static_cast<char *>(packed) + sizeof(PackedHeader);
  int8_t *panels = reinterpret_cast<int8_t *>(p);
  std::memset(panels, 0, pb);
  if (paired) {
    writePairedPanels(order, N, NR, B, ldb, panels);
  } else {
    for (size_t n = 0; n < N; ++n) {
      const int32_t zb = bZeroPoint[bZeroPointCount > 1 ? n : 0];
      int8_t *col = panels + (n / NR) * steps * 4 * NR + (n % NR) * 4;
      int16_t *col16 = reinterpret_cast<int16_t *>(col);
      for (size_t kk = 0; kk < K; ++kk) {
        int8_t v = B[kk * ldb + n];
        if (pairs) // B - bZp as s16, 2 k per 4 bytes
          col16[(kk / 2) * 2 * NR + kk % 2] = static_cast<int16_t>(v - zb);
        else
          col[(kk / 4) * 4 * NR + kk % 4] = v;
      }
    }
  }
  int32_t *colTerm = reinterpret_cast<int32_t *>(p + pb);
  int32_t *bZp = colTerm + npad;
  std::memset(colTerm, 0, 2 * npad * sizeof(int32_t));
  // In the u8 domain the kernels read A in.
  const int32_t za = aZeroPoint + (aSigned ? 128 : 0);
  // B's column sums, int32 wraparound as the accumulator's (the sum it
  // stands for is exact modulo 2^32).
  std::vector<uint32_t> colSum(N, 0);
  for (size_t n = 0; n < N; ++n) {
    const int32_t zb = bZeroPoint[bZeroPointCount > 1 ? n : 0];
    for (size_t kk = 0; kk < K; ++kk)
      colSum[n] += static_cast<uint32_t>(int32_t(B[kk * ldb + n]));
    colTerm[n] = static_cast<int32_t>(
        static_cast<uint32_t>(bias ? bias[n] : 0) +
        static_cast<uint32_t>(static_cast<int32_t>(K) * za * zb) -
        static_cast<uint32_t>(za) * colSum[n]);
    bZp[n] = pairs ? 0 : zb;
  }
  char *sec = static_cast<char *>(packed) + extraAt;
  if (paired)
    writePairingSection(order, sec);
  if (split) {
    std::memset(sec, 0, splitSectionBytes(K, N));
    // [ceil(N/16)][ceil(K/4)][16][4] s8, zero padded (the Quad layout).
    int8_t *q = reinterpret_cast<int8_t *>(sec);
    const size_t groups = ceilDiv(K, 4);
    for (size_t kk = 0; kk < K; ++kk)
      for (size_t n = 0; n < N; ++n)
        q[((n / 16) * groups + kk / 4) * 64 + (n % 16) * 4 + kk % 4] =
            B[kk * ldb + n];
    // sum_k a B = sum_k (a - s) B + s colSum: the split tile's column terms
    // for a shift s.
    int32_t *cs = reinterpret_cast<int32_t *>(sec + splitPanelBytes(K, N));
    for (size_t n = 0; n < N; ++n)
      cs[n] = static_cast<int32_t>(colSum[n]);
  }
  return Status::Ok;
}

/// Bytes of qgemmPacked's workspace with kernel k: a block of packed A
/// rows and their sums.
size_t qgemmBlockBytes(size_t K, const QGemmKernel &k, QLayout layout) {
  const size_t rows = blockRows(K, k.mr, layout);
  return roundUp(rows * packedARowBytes(K, layout), 64) +
         rows * sizeof(int32_t);
}
size_t qgemmBlockBytes(size_t K, const QGemmKernel &k) {
  return qgemmBlockBytes(K, k, k.layout);
}

bool qgemmPackedNative(const void *packedB, Isa isa) {
  const PackedHeader *h = static_cast<const PackedHeader *>(packedB);
  if (!packedB || h->kind != PackedKind::QGemmB)
    return false;
  const QGemmKernel *k =
      qKernelFor(resolveIsa(isa), layoutOf(h), static_cast<int>(h->panel));
  return k && k->isa != Isa::Generic;
}

Isa qgemmPackIsa(Isa isa, size_t rows) {
  const Isa path = resolveIsa(isa);
  // (AVX-VNNI's own panels are s8 already.)
  return avx2Path(path) && path != Isa::AvxVnni && rows > 0 && rows <= 2
             ? Isa::Generic
             : path;
}

/// Bytes of qgemmPacked's workspace for the AVX2 split tile (QGemmSplit.cpp)
/// on a resolved path: its block of A for the AVX2 kernel's block rows, on
/// the AVX2 paths that run Pair16 buffers; else 0.
size_t qgemmSplitWorkspace(size_t K, Isa path) {
#if defined(__x86_64__)
  if (avx2Path(path) && path != Isa::AvxVnni)
    return roundUp(
        qgemmSplitBytes(K, blockRows(K, qgemmKernelAvx2().mr, QLayout::Pair16)),
        64);
#else
  (void)K;
  (void)path;
#endif
  return 0;
}

size_t qgemmWorkspaceSize(size_t K, Isa isa) {
  // Enough for every kernel a packed layout may select.
  size_t best = 0;
  const Isa path = resolveIsa(isa);
  for (const QGemmKernel *k :
       {&nativeQKernel(path), &qgemmKernelGeneric(),
        qgemmKernelGenericFor(QLayout::Pair16, 16),
        qKernelFor(path, QLayout::Quad, qgemmKernelGeneric().nr)}) {
    size_t bytes = qgemmBlockBytes(K, *k);
    // A Paired buffer packs A with this kernel's rows, in its own layout.
    const size_t paired = qgemmBlockBytes(K, *k, QLayout::Paired);
    bytes = paired > bytes ? paired : bytes;
    best = bytes > best ? bytes : best;
  }
  return best + qgemmSplitWorkspace(K, path);
}

Status qgemmPacked(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                   const void *packedB, void *C, size_t ldc,
                   const Requantize &rq, Isa isa, size_t mBegin, size_t mEnd,
                   void *workspace) {
  return qgemmPackedCols(M, N, K, A, lda, packedB, C, ldc, rq, isa, mBegin,
                         mEnd, 0, N, workspace);
}

Status qgemmPackedCols(size_t M, size_t N, size_t K, const uint8_t *A,
                       size_t lda, const void *packedB, void *C, size_t ldc,
                       const Requantize &rq, Isa isa, size_t mBegin,
                       size_t mEnd, size_t nBegin, size_t nEnd,
                       void *workspace) {
  if (mEnd == 0)
    mEnd = M;
  if (!packedB || mBegin > mEnd || mEnd > M || ldc < N || (K && lda < K) ||
      (M && N && (!C || (K && !A))) || nBegin > nEnd || nEnd > N ||
      nBegin % 64 || (nEnd % 64 && nEnd != N))
    return Status::InvalidArgument;
  if (Status st = checkQCall(N, K, packedB, rq); st != Status::Ok)
    return st;
  const PackedHeader *h = static_cast<const PackedHeader *>(packedB);
  if (mBegin == mEnd || nBegin == nEnd)
    return Status::Ok;

  const int nr = static_cast<int>(h->panel);
  const QLayout layout = layoutOf(h);
  const QGemmKernel *k = qKernelFor(resolveIsa(isa), layout, nr);
  if (!k)
    return Status::LayoutMismatch;
  const size_t MR = static_cast<size_t>(k->mr);
  const size_t NR = static_cast<size_t>(nr);
  if (nBegin % NR || (nEnd % NR && nEnd != N))
    return Status::InvalidArgument; // (every path's panel divides 64)
  const size_t mc = blockRows(K, k->mr, layout);
  const QPacked b = view(packedB);
  const Isa path = resolveIsa(isa);
  // AVX2 with the split section (a Pair16 buffer without weight zero
  // points): a block of A whose bytes mostly fit a window of 128 values
  // runs the vpmaddubsw split tile (QGemmSplit.cpp).
#if defined(__x86_64__)
  const bool splitOk = layout == QLayout::Pair16 && b.split &&
                       k == &qgemmKernelAvx2() && avx2Path(path);
#else
  const bool splitOk = false;
#endif
  const size_t blockBytes = roundUp(qgemmBlockBytes(K, *k, layout), 64);
  ScratchBuffer ws(workspace,
                   blockBytes + (splitOk ? qgemmSplitWorkspace(K, path) : 0));
  if (!ws.ptr)
    return Status::OutOfMemory;
  uint8_t *aBuf = static_cast<uint8_t *>(ws.ptr);
  int32_t *rowSum = reinterpret_cast<int32_t *>(
      aBuf + roundUp(mc * packedARowBytes(K, layout), 64));

  const size_t groups = b.groups;
  QTileArgs t = tileArgs(rq, groups, ldc);
  QPanelLanes lanesBuf;
  // The vector kernels' fixed-point constants, made once per panel.
  QPanelLanes *lanes =
      k->isa == Isa::Avx512Vnni || k->isa == Isa::Avx2 || k->isa == Isa::AvxVnni
          ? &lanesBuf
          : nullptr;
  const size_t elem = rq.output == QOutput::Int32 ? 4 : 1;
  const bool simd = isaHasAvx512(path);
  const bool simd2 = isaHasAvx2(path);

  for (size_t ic = mBegin; ic < mEnd; ic += mc) {
    const size_t mcur = mEnd - ic < mc ? mEnd - ic : mc;
#if defined(__x86_64__)
    if (splitOk &&
        qgemmSplitBlock(A + ic * lda, lda, mcur, K,
                        QSplitPanels{b.split, b.colTerm, b.colSum, b.aSigned},
                        rq, t, nBegin, nEnd, N, lanes,
                        static_cast<char *>(C) + ic * ldc * elem, elem,
                        aBuf + blockBytes))
      continue;
#endif
    if (layout == QLayout::Pair16)
      packQAPairsImpl(mcur, K, A + ic * lda, lda,
                      reinterpret_cast<uint16_t *>(aBuf), b.aSigned ? 0x80 : 0,
                      simd2);
    else if (layout == QLayout::Paired)
      packQAPermuted(mcur, b.perm, groups, A + ic * lda, lda, k->mr, aBuf,
                     b.aSigned ? 0x80 : 0);
    else
      packQA(mcur, K, A + ic * lda, lda, k->mr, aBuf, b.bZp ? rowSum : nullptr,
             simd, simd2, b.aSigned ? 0x80 : 0);
    for (size_t col0 = nBegin; col0 < nEnd; col0 += NR) {
      setPanel(t, b, rq, col0, N, NR, groups, lanes, k->isa);
      for (size_t ir = 0; ir < mcur; ir += MR) {
        t.a = aBuf + (ir / MR) * groups * 4 * MR;
        t.rowBegin = 0;
        t.rowEnd = static_cast<int>(mcur - ir < MR ? mcur - ir : MR);
        t.rowSum = rowSum + ir;
        t.c = static_cast<char *>(C) + ((ic + ir) * ldc + col0) * elem;
        k->tile(t);
      }
    }
  }
  return Status::Ok;
}

} // namespace ember::cpu

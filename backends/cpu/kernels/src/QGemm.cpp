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

namespace {

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
              Isa lanesIsa = Isa::Avx512Vnni) {
  t.b = b.panels + (col0 / NR) * groups * 4 * NR;
  t.colTerm = b.colTerm + col0;
  t.bZp = b.bZp ? b.bZp + col0 : nullptr;
  setPanelOutput(t, rq, col0, N, NR, lanes, lanesIsa);
}

} // namespace

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

namespace {

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

} // namespace

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
         h->panel == static_cast<uint32_t>(k->nr) && layoutOf(h) == k->layout &&
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
  uint8_t *slab = static_cast<uint8_t *>(ws.ptr);
  uint8_t *area = slab + plan.slabBytes; // the split tile's room, then ours
  uint64_t *bits = reinterpret_cast<uint64_t *>(area);
  uint64_t *lowBits = bits + ceilDiv(plan.slabRows * plan.wp * plan.cp, 64);
  uint64_t *pixBits = lowBits + ceilDiv(plan.slabRows * plan.wp * plan.cp, 64);
  uint32_t *pixStart = reinterpret_cast<uint32_t *>(area + plan.bitsBytes);
  uint32_t *pixHot = pixStart + plan.slabRows * plan.wp + 1;
  // Per tile of a block: the first of its entries in `hot` and its rounds;
  // one tile's rows' entries in turn (rowHot), then every tile's in rounds.
  uint32_t *tileHot = pixHot + plan.pixHotCap + 8;
  uint32_t *rowHot = tileHot + 2 * kBlockTiles;
  uint32_t *hot = rowHot + kConvMR * 2 * (K / 4) + 8;
  ptrdiff_t *tapOff = reinterpret_cast<ptrdiff_t *>(area + plan.splitBytes);
  const uint8_t **bases =
      reinterpret_cast<const uint8_t **>(reinterpret_cast<uint8_t *>(tapOff) +
                                         roundUp(taps * sizeof(ptrdiff_t), 64));
  size_t *basePix = reinterpret_cast<size_t *>(bases + kBlockTiles * kConvMR);
  TapRun *runs = reinterpret_cast<TapRun *>(basePix + kBlockTiles * kConvMR);

  const QPacked b = view(packedW);
  const size_t groups = ceilDiv(K, stepK(kern.layout));
  const size_t groupsK = K / 4; // the split tile's groups (K: taps x cp)
  QTileArgs t = tileArgs(rq, groups, ldy);
  QPanelLanes lanesBuf;
  const size_t elem = rq.output == QOutput::Int32 ? 4 : 1;
  QConvTileSrc src{};
  src.taps = taps;
  src.tapOff = tapOff;
  // s8 x: the slab holds it flipped to u8; read in place, the tile flips.
  const uint8_t flip = b.aSigned ? 0x80 : 0;
  const uint8_t fill = static_cast<uint8_t>(xZeroPoint) ^ flip;
  src.flip = b.aSigned && !plan.slab;
#if defined(__x86_64__)
  // AVX2 with s8 panels: each pass builds its slab as bytes and runs the
  // split tile when few of them have their high bit set, else widens the
  // slab to u16 for the exact tile.
  // (x's rows contiguous with whole groups of 4 channels: the pass's high
  // bits are counted on x before its slab is built; other layouts, first
  // layers mostly, keep the exact tile.
  // A layer whose split tile would not pay even without high bits skips
  // the count.)
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
  // A pass's split slab holds (x ^ flip) - shift modulo 256: its high bit
  // is set exactly for activations outside the window [shift, shift + 127]
  // (above: + 128 x B to add back, below: - 128 x B), and its column terms
  // add shift x colSum. The pass takes the zero point's window, or the one
  // that holds most of its activations (splitWindow) when that leaves out
  // many.
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
#if defined(__x86_64__)
    if (inPlaceOk) { // (no padding: the pass's input rows lie in x)
      const size_t rows = ((segEnd - 1) / OW - oh0) * shape.strideH +
                          (KH - 1) * shape.dilationH + 1;
      inPlace = pairsWithin256Avx2(x + size_t(ihLo) * shape.width * C,
                                   rows * shape.width * C);
      if (inPlace) {
        split = true;
        shift = 0;
        ++qconvPassCounts().split;
        ++qconvPassCounts().inPlace;
      }
    }
#endif
    const bool slabbed = plan.slab && !inPlace;
    if (slabbed) {
      // Input rows [ihLo, ihLo + rows) padded with the zero point: left and
      // right pads, rows outside x, channels past C.
      const size_t ohLast = (segEnd - 1) / OW;
      const size_t rows =
          (ohLast - oh0) * shape.strideH + (KH - 1) * shape.dilationH + 1;
#if defined(__x86_64__)
      if (splitOk) {
        // x's rows in the pass and the padding (the zero point): the
        // window, then the groups of 4 slab bytes with a high bit.
        const ptrdiff_t H = static_cast<ptrdiff_t>(shape.height);
        const ptrdiff_t i0 = std::max<ptrdiff_t>(ihLo, 0);
        const ptrdiff_t i1 =
            std::min<ptrdiff_t>(ihLo + static_cast<ptrdiff_t>(rows), H);
        const size_t inGroups =
            i1 > i0 ? size_t(i1 - i0) * shape.width * C / 4 : 0;
        const size_t groupsAll = rows * plan.wp * plan.cp / 4;
        const uint8_t *in = inGroups ? x + size_t(i0) * shape.width * C : x;
        // The slab's groups per output pixel of the pass. (A count stops
        // past the most at which the split tile pays.)
        const double slabGroups =
            static_cast<double>(groupsAll) / static_cast<double>(segEnd - seg);
        const size_t most =
            splitMaxHot(groupsK, panels, taps, slabGroups, groupsAll);
        // The activations outside window `at` (the padding too when the
        // window leaves the zero point out), counted up to `limit`.
        // (A byte is out when it lies below the window or has its high
        // bit in a pair over 256: slabHighBitsAvx2; the padding's pairs are
        // two zero points.)
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
        // The zero point's window first (after a ReLU, around a zero point
        // near 128: the best or nearly); a histogram only when it leaves
        // out far more than the split tile allows (activations crowding
        // one end of the range), to find the window that holds most.
        shift = std::clamp(int32_t(fill) - 64, 0, 128);
        // (Once a call's histogram window has not paid, its later passes,
        // the same layer's, skip it.)
        size_t hot = outside(shift, 8 * most + 8);
        bool searched = false;
        if (hot > 8 * most + 8 && !windowFailed) {
          const int32_t best = splitWindow(in, 4 * inGroups, flip, fill,
                                           4 * (groupsAll - inGroups));
          searched = true;
          if (best != shift) {
            shift = best;
            hot = outside(shift, most);
          }
        }
        split = splitPays(groupsK, panels, taps, slabGroups, hot, groupsAll);
        windowFailed |= searched && !split;
        slabElem = split ? 1 : 2;
      }
#endif
      const size_t rowBytes = plan.wp * plan.cp * slabElem;
      // (The split slab: x + (flip - shift); an add of 0 is a plain copy.)
      const uint8_t add = static_cast<uint8_t>(flip - shift);
      for (size_t r = 0; r < rows; ++r)
        slabRow(plan, shape, x, ldx, ihLo + static_cast<ptrdiff_t>(r),
                slab + r * rowBytes,
                split ? static_cast<uint8_t>(fill - shift) : fill,
                split ? 0 : flip, slabElem, kern.isa == Isa::Avx512Vnni,
                split ? add : 0);
#if defined(__x86_64__)
      if (split) {
        const size_t bytes = rows * rowBytes;
        uint64_t *low = shift ? lowBits : nullptr;
        anyHot = slabHighBitsAvx2(slab, bytes, bits,
                                  static_cast<uint8_t>(256 - shift), low) != 0;
        if (anyHot)
          pixelEntries(bits, low, bytes / plan.cp, plan.cp, pixBits, pixStart,
                       pixHot);
        ++qconvPassCounts().split;
        qconvPassCounts().shifted += shift != 0;
      } else if (splitOk) {
        ++qconvPassCounts().wide;
      }
#endif
      origin = slab;
    } else {
      origin = x + static_cast<size_t>(ihLo) * shape.width * ldx;
    }
    // The source's geometry: the window of output pixel (oh, ow) starts at
    // its row (oh - oh0) * strideH, column ow * strideW.
    const size_t pixStride = slabbed ? plan.cp * slabElem : ldx;
    const size_t rowStride =
        slabbed ? plan.wp * plan.cp * slabElem : shape.width * ldx;
    for (size_t kh = 0; kh < KH; ++kh)
      for (size_t kw = 0; kw < KW; ++kw)
        tapOff[kh * KW + kw] =
            static_cast<ptrdiff_t>(kh * shape.dilationH * rowStride +
                                   kw * shape.dilationW * pixStride);
    src.tapGroups = plan.cp / (split ? 4 : stepK(kern.layout));
    const size_t nRuns = split ? tapRuns(tapOff, taps, plan.cp, runs) : 0;
    for (size_t blk = seg; blk < segEnd; blk += kBlockTiles * kConvMR) {
      const size_t blkEnd = blk + kBlockTiles * kConvMR < segEnd
                                ? blk + kBlockTiles * kConvMR
                                : segEnd;
      // Window corners of the block's pixels, once for every panel; rows
      // past the end of the last tile repeat its first row (computed, not
      // stored).
      {
        size_t oh = blk / OW, ow = blk % OW;
        const size_t stepH = shape.strideH * rowStride;
        const size_t stepW = shape.strideW * pixStride;
        const uint8_t *rowBase = origin + (oh - oh0) * stepH;
        // (The split path's byte slab: the corners as pixel indices too.)
        size_t rowPix = (oh - oh0) * shape.strideH * plan.wp;
        size_t k = 0;
        for (size_t pix = blk; pix < blkEnd; ++pix, ++k) {
          bases[k] = rowBase + ow * stepW;
          basePix[k] = rowPix + ow * shape.strideW;
          if (++ow == OW) {
            ow = 0;
            rowBase += stepH;
            rowPix += shape.strideH * plan.wp;
          }
        }
        const size_t last = (k - 1) / kConvMR * kConvMR; // last tile's start
        for (; k % kConvMR; ++k)
          bases[k] = bases[last];
      }
      // Runs of tiles: all of the block, or on the split path as many as
      // their correction entries fit (made once for every panel).
      for (size_t r0 = blk; r0 < blkEnd;) {
        size_t r1 = blkEnd;
#if defined(__x86_64__)
        if (split) {
          // Each tile's rows' entries, then interleaved into rounds of one
          // per row (a tile has at most 2 K / 4 rounds).
          size_t n = 0, total = 0;
          for (r1 = r0; r1 < blkEnd && n + kConvMR * 2 * (K / 4) <= plan.hotCap;
               r1 += kConvMR) {
            size_t start[kConvMR + 1] = {0}, most = 0;
            const bool mayBeHot =
                anyHot && windowsHot(pixBits, basePix + (r1 - blk),
                                     std::min(kConvMR, blkEnd - r1),
                                     shape.strideW, runs, nRuns);
            for (size_t i = 0; i < kConvMR && mayBeHot; ++i) {
              start[i + 1] = start[i];
              if (r1 + i < blkEnd)
                start[i + 1] = splitEntries(pixBits, pixStart, pixHot,
                                            basePix[r1 - blk + i], runs, nRuns,
                                            plan.cp, rowHot, start[i]);
              most = std::max(most, start[i + 1] - start[i]);
            }
            const size_t tile = (r1 - blk) / kConvMR;
            tileHot[2 * tile] = static_cast<uint32_t>(n);
            tileHot[2 * tile + 1] = static_cast<uint32_t>(most);
            for (size_t r = 0; r < most; ++r)
              for (size_t i = 0; i < kConvMR; ++i)
                hot[n++] =
                    start[i] + r < start[i + 1] ? rowHot[start[i] + r] : 0;
            total += start[kConvMR];
          }
          r1 = r1 < blkEnd ? r1 : blkEnd;
          qconvPassCounts().entries += total;
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
            src.rows = bases + (p0 - blk);
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
                  QSplitRows{hot + tileHot[2 * tile], tileHot[2 * tile + 1]});
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

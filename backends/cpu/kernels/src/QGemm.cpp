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
//===----------------------------------------------------------------------===//
#include "QGemm.h"

#include "FixedPoint.h"
#if defined(__x86_64__)
#include "Simd.h"
#endif

#include <cstring>
#include <initializer_list>

namespace ember::cpu {

using namespace detail;

namespace {

template <int MR, int NR> void qtileGeneric(const QTileArgs &t) {
  int32_t acc[MR][NR] = {};
  const uint8_t *a = t.a;
  const int8_t *b = t.b;
  for (size_t g = 0; g < t.groups; ++g, a += 4 * MR, b += 4 * NR)
    for (int i = 0; i < MR; ++i)
      for (int j = 0; j < NR; ++j)
        for (int q = 0; q < 4; ++q)
          acc[i][j] += static_cast<int32_t>(a[4 * i + q]) *
                       static_cast<int32_t>(b[4 * j + q]);
  for (int i = t.rowBegin; i < t.rowEnd; ++i)
    for (int j = t.colBegin; j < t.colEnd; ++j) {
      int32_t v = acc[i][j] + t.colTerm[j];
      if (t.bZp)
        v -= t.bZp[j] * t.rowSum[i];
      storeQ(t, i, j, finishQ(t, j, v));
    }
}

constexpr QGemmKernel kQGeneric[] = {
    {Isa::Generic, 4, 16, &qtileGeneric<4, 16>},
    {Isa::Generic, 4, 32, &qtileGeneric<4, 32>},
    {Isa::Generic, 4, 48, &qtileGeneric<4, 48>},
    {Isa::Generic, 4, 64, &qtileGeneric<4, 64>},
};

struct QPacked {
  const int8_t *panels;
  const int32_t *colTerm;
  const int32_t *bZp; // null when every zero point is 0
  bool aSigned;       // A is s8: flip its sign bit to read it as u8
};

size_t panelBytes(size_t K, size_t N, size_t NR) {
  return roundUp(ceilDiv(N, NR) * NR * roundUp(K, 4), 64);
}

QPacked view(const void *packed) {
  const PackedHeader *h = static_cast<const PackedHeader *>(packed);
  const char *p = static_cast<const char *>(packed) + sizeof(PackedHeader);
  const size_t NR = h->panel;
  const size_t npad = ceilDiv(h->cols, NR) * NR;
  QPacked v;
  v.panels = reinterpret_cast<const int8_t *>(p);
  v.colTerm =
      reinterpret_cast<const int32_t *>(p + panelBytes(h->rows, h->cols, NR));
  v.bZp = h->reserved[0] ? v.colTerm + npad : nullptr;
  v.aSigned = h->reserved[1] != 0;
  return v;
}

const QGemmKernel &nativeQKernel(Isa resolved) {
  if (resolved == Isa::Avx512Vnni)
    return qgemmKernelVnni();
  return qgemmKernelGeneric();
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
/// `simd`: the CPU has AVX-512 (whole six-row panels use it). `flip`: 0x80
/// for s8 A (packed and summed as A + 128), else 0.
void packQA(size_t rows, size_t K, const uint8_t *A, size_t lda, int mr,
            uint8_t *dst, int32_t *rowSum, bool simd, uint8_t flip) {
  const uint32_t flip4 = 0x01010101u * flip;
  const size_t MR = static_cast<size_t>(mr);
  const size_t groups = ceilDiv(K, 4);
  const size_t full = K / 4;
  for (size_t r0 = 0; r0 < rows; r0 += MR, dst += groups * 4 * MR) {
    size_t done = 0;
#if defined(__x86_64__)
    if (simd && MR == 6 && r0 + MR <= rows)
      done = packPanel6Avx512(A + r0 * lda, lda, full, dst, flip);
#else
    (void)simd;
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

/// Rows of A per block: enough to amortise the B panel, small enough that
/// the packed block stays in L2 beside it.
size_t blockRows(size_t K, int mr) {
  const size_t MR = static_cast<size_t>(mr);
  size_t rows = (192 * 1024) / (roundUp(K, 4) ? roundUp(K, 4) : 4) / MR * MR;
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

/// Points `t` at the B panel of columns [col0, col0 + NR); for a VNNI
/// kernel's fixed-point epilogue, makes the panel's constants in `lanes`.
void setPanel(QTileArgs &t, const QPacked &b, const Requantize &rq, size_t col0,
              size_t N, size_t NR, size_t groups, QPanelLanes *lanes) {
  t.b = b.panels + (col0 / NR) * groups * 4 * NR;
  t.colBegin = 0;
  t.colEnd = static_cast<int>(N - col0 < NR ? N - col0 : NR);
  t.colTerm = b.colTerm + col0;
  t.bZp = b.bZp ? b.bZp + col0 : nullptr;
  const size_t sidx = t.perColumn ? col0 : 0;
  t.scale = rq.scale ? rq.scale + sidx : nullptr;
  t.mult = rq.multiplier ? rq.multiplier + sidx : nullptr;
  t.shift = rq.shift ? rq.shift + sidx : nullptr;
  t.lanes = nullptr;
  if (lanes && rq.kind == QScaleKind::FixedPoint &&
      rq.output != QOutput::Int32) {
    fixedPointPanelVnni(t, lanes);
    t.lanes = lanes;
  }
}

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

const QGemmKernel &qgemmKernelGeneric() { return kQGeneric[0]; }

const QGemmKernel *qgemmKernelGenericFor(int nr) {
  for (const QGemmKernel &k : kQGeneric)
    if (k.nr == nr)
      return &k;
  return nullptr;
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
  const size_t NR = static_cast<size_t>(nativeQKernel(resolveIsa(isa)).nr);
  const size_t npad = ceilDiv(N, NR) * NR;
  return sizeof(PackedHeader) + panelBytes(K, N, NR) +
         2 * npad * sizeof(int32_t);
}

Status packQB(size_t K, size_t N, const int8_t *B, size_t ldb,
              int32_t aZeroPoint, const int8_t *bZeroPoint,
              size_t bZeroPointCount, const int32_t *bias, void *packed,
              Isa isa, bool aSigned) {
  if (!packed || (!B && K && N) || ldb < N ||
      (bZeroPointCount != 1 && bZeroPointCount != N) ||
      (bZeroPointCount && !bZeroPoint) || aZeroPoint < (aSigned ? -128 : 0) ||
      aZeroPoint > (aSigned ? 127 : 255))
    return Status::InvalidArgument;
  const QGemmKernel &k = nativeQKernel(resolveIsa(isa));
  const size_t NR = static_cast<size_t>(k.nr);
  const size_t npad = ceilDiv(N, NR) * NR;
  const size_t groups = ceilDiv(K, 4);
  bool anyZp = false;
  for (size_t n = 0; n < bZeroPointCount; ++n)
    anyZp |= bZeroPoint[n] != 0;

  PackedHeader h{};
  h.kind = PackedKind::QGemmB;
  h.panel = static_cast<uint32_t>(NR);
  h.mr = static_cast<uint32_t>(k.mr);
  h.isa = static_cast<uint32_t>(k.isa);
  h.rows = K;
  h.cols = N;
  h.reserved[0] = anyZp ? 1 : 0;
  h.reserved[1] = aSigned ? 1 : 0;
  std::memcpy(packed, &h, sizeof(h));
  char *p = static_cast<char *>(packed) + sizeof(PackedHeader);
  int8_t *panels = reinterpret_cast<int8_t *>(p);
  std::memset(panels, 0, panelBytes(K, N, NR));
  int32_t *colTerm = reinterpret_cast<int32_t *>(p + panelBytes(K, N, NR));
  int32_t *bZp = colTerm + npad;
  for (size_t n = 0; n < npad; ++n) {
    colTerm[n] = 0;
    bZp[n] = 0;
  }
  for (size_t n = 0; n < N; ++n) {
    int8_t *col = panels + (n / NR) * groups * 4 * NR + (n % NR) * 4;
    int32_t sum = 0;
    for (size_t kk = 0; kk < K; ++kk) {
      int8_t v = B[kk * ldb + n];
      col[(kk / 4) * 4 * NR + kk % 4] = v;
      sum += v;
    }
    const int32_t zb = bZeroPoint[bZeroPointCount > 1 ? n : 0];
    // In the u8 domain the kernels read A in; int32 wraparound as the
    // accumulator's (the sum it stands for is exact modulo 2^32).
    const int32_t za = aZeroPoint + (aSigned ? 128 : 0);
    colTerm[n] = static_cast<int32_t>(
        static_cast<uint32_t>(bias ? bias[n] : 0) +
        static_cast<uint32_t>(static_cast<int32_t>(K) * za * zb) -
        static_cast<uint32_t>(za * sum));
    bZp[n] = zb;
  }
  return Status::Ok;
}

size_t qgemmWorkspaceSize(size_t K, Isa isa) {
  size_t best = 0;
  for (int mr : {nativeQKernel(resolveIsa(isa)).mr, kQGeneric[0].mr}) {
    size_t rows = blockRows(K, mr);
    size_t bytes = rows * roundUp(K, 4) + 64 + rows * sizeof(int32_t);
    best = bytes > best ? bytes : best;
  }
  return best;
}

Status qgemmPacked(size_t M, size_t N, size_t K, const uint8_t *A, size_t lda,
                   const void *packedB, void *C, size_t ldc,
                   const Requantize &rq, Isa isa, size_t mBegin, size_t mEnd,
                   void *workspace) {
  if (mEnd == 0)
    mEnd = M;
  if (!packedB || mBegin > mEnd || mEnd > M || ldc < N || (K && lda < K) ||
      (M && N && (!C || (K && !A))))
    return Status::InvalidArgument;
  if (Status st = checkQCall(N, K, packedB, rq); st != Status::Ok)
    return st;
  const PackedHeader *h = static_cast<const PackedHeader *>(packedB);
  if (mBegin == mEnd || N == 0)
    return Status::Ok;

  const int nr = static_cast<int>(h->panel);
  const QGemmKernel &native = nativeQKernel(resolveIsa(isa));
  const QGemmKernel *k = native.nr == nr ? &native : qgemmKernelGenericFor(nr);
  if (!k)
    return Status::LayoutMismatch;
  const size_t MR = static_cast<size_t>(k->mr);
  const size_t NR = static_cast<size_t>(nr);
  const size_t groups = ceilDiv(K, 4);
  const size_t mc = blockRows(K, k->mr);
  ScratchBuffer ws(workspace, mc * groups * 4 + 64 + mc * sizeof(int32_t));
  if (!ws.ptr)
    return Status::OutOfMemory;
  uint8_t *aBuf = static_cast<uint8_t *>(ws.ptr);
  int32_t *rowSum =
      reinterpret_cast<int32_t *>(aBuf + roundUp(mc * groups * 4, 64));

  const QPacked b = view(packedB);
  QTileArgs t = tileArgs(rq, groups, ldc);
  QPanelLanes lanesBuf;
  QPanelLanes *vnniLanes = native.isa == Isa::Avx512Vnni ? &lanesBuf : nullptr;
  const size_t elem = rq.output == QOutput::Int32 ? 4 : 1;
  const bool simd = static_cast<uint8_t>(resolveIsa(isa)) >=
                    static_cast<uint8_t>(Isa::Avx512);

  for (size_t ic = mBegin; ic < mEnd; ic += mc) {
    const size_t mcur = mEnd - ic < mc ? mEnd - ic : mc;
    packQA(mcur, K, A + ic * lda, lda, k->mr, aBuf, b.bZp ? rowSum : nullptr,
           simd, b.aSigned ? 0x80 : 0);
    for (size_t col0 = 0; col0 < N; col0 += NR) {
      setPanel(t, b, rq, col0, N, NR, groups,
               k == &native ? vnniLanes : nullptr);
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

constexpr size_t kConvMR = 6;      // the VNNI kernel's rows
constexpr size_t kBlockTiles = 16; // tiles sharing a pass over each B panel
constexpr size_t kSlabBytes = 96 * 1024; // padded input rows per pass

/// How qconv2dNhwc reads x: in place, or through a slab of padded rows.
struct ConvPlan {
  size_t cp;       // channels rounded up to 4 (the packed K per tap)
  bool slab;       // padding or channel padding: copy rows into a slab
  size_t wp;       // slab row width in pixels (W + pads)
  size_t outRows;  // output rows per slab
  size_t slabRows; // input rows a slab holds
  size_t slabBytes;
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

ConvPlan convPlan(const Conv2DShape &s) {
  ConvPlan p;
  p.cp = roundUp(s.channels, 4);
  p.slab =
      p.cp != s.channels || s.padTop || s.padLeft || s.padBottom || s.padRight;
  p.wp = s.width + s.padLeft + s.padRight;
  const size_t spanH = (s.kernelH - 1) * s.dilationH;
  const size_t row = p.wp * p.cp;
  size_t fit = kSlabBytes / (row ? row : 1);
  p.outRows = fit > spanH + 1 ? (fit - spanH - 1) / s.strideH + 1 : 1;
  const size_t oh = s.outHeight();
  if (p.outRows > oh)
    p.outRows = oh ? oh : 1;
  p.slabRows = (p.outRows - 1) * s.strideH + spanH + 1;
  p.slabBytes = p.slab ? roundUp(p.slabRows * row, 64) : 0;
  return p;
}

} // namespace

size_t qconv2dNhwcWorkspaceSize(const Conv2DShape &shape) {
  const size_t taps = shape.kernelH * shape.kernelW;
  return convPlan(shape).slabBytes + roundUp(taps * sizeof(ptrdiff_t), 64) +
         kBlockTiles * kConvMR * sizeof(void *);
}

bool qconv2dNhwcSupported(const Conv2DShape &shape, const void *packedW,
                          Isa isa) {
  if (resolveIsa(isa) != Isa::Avx512Vnni || !packedW || !shape.valid() ||
      shape.channels == 0)
    return false;
  const PackedHeader *h = static_cast<const PackedHeader *>(packedW);
  return h->kind == PackedKind::QGemmB &&
         h->panel == static_cast<uint32_t>(qgemmKernelVnni().nr) &&
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
  const size_t H = shape.height, W = shape.width;
  const size_t OH = shape.outHeight(), OW = shape.outWidth();
  const size_t KH = shape.kernelH, KW = shape.kernelW, taps = KH * KW;
  if (!qconv2dNhwcSupported(shape, packedW, isa))
    return Status::LayoutMismatch;
  const ConvPlan plan = convPlan(shape);
  const size_t K = taps * plan.cp;
  if (pixEnd == 0)
    pixEnd = OH * OW;
  if (!x || !y || ldx < C || ldy < N || pixBegin > pixEnd || pixEnd > OH * OW)
    return Status::InvalidArgument;
  if (Status st = checkQCall(N, K, packedW, rq); st != Status::Ok)
    return st;
  const size_t NR = static_cast<size_t>(qgemmKernelVnni().nr);
  if (colEnd > N || colBegin > colEnd ||
      (colBegin < colEnd &&
       (colBegin % NR != 0 || (colEnd != N && colEnd % NR != 0))))
    return Status::InvalidArgument;
  if (pixBegin == pixEnd || colBegin == colEnd)
    return Status::Ok;
  ScratchBuffer ws(workspace, qconv2dNhwcWorkspaceSize(shape));
  if (!ws.ptr)
    return Status::OutOfMemory;
  uint8_t *slab = static_cast<uint8_t *>(ws.ptr);
  ptrdiff_t *tapOff = reinterpret_cast<ptrdiff_t *>(slab + plan.slabBytes);
  const uint8_t **bases =
      reinterpret_cast<const uint8_t **>(reinterpret_cast<uint8_t *>(tapOff) +
                                         roundUp(taps * sizeof(ptrdiff_t), 64));

  // The source holds input rows from ihLo (below) on, each starting at
  // the left pad: the window of output pixel (oh, ow) starts at row
  // (oh - oh0) * strideH, column ow * strideW, all inside it.
  const size_t pixStride = plan.slab ? plan.cp : ldx;
  const size_t rowStride = plan.slab ? plan.wp * plan.cp : W * ldx;
  for (size_t kh = 0; kh < KH; ++kh)
    for (size_t kw = 0; kw < KW; ++kw)
      tapOff[kh * KW + kw] = static_cast<ptrdiff_t>(
          kh * shape.dilationH * rowStride + kw * shape.dilationW * pixStride);

  const QPacked b = view(packedW);
  const size_t groups = ceilDiv(K, 4);
  QTileArgs t = tileArgs(rq, groups, ldy);
  QPanelLanes lanesBuf;
  const size_t elem = rq.output == QOutput::Int32 ? 4 : 1;
  QConvTileSrc src{};
  src.taps = taps;
  src.tapGroups = plan.cp / 4;
  src.tapOff = tapOff;
  // s8 x: the slab holds it flipped to u8; read in place, the tile flips.
  const uint8_t flip = b.aSigned ? 0x80 : 0;
  const uint8_t fill = static_cast<uint8_t>(xZeroPoint) ^ flip;
  src.flip = b.aSigned && !plan.slab;

  for (size_t seg = pixBegin; seg < pixEnd;) {
    // Output rows [oh0, oh0 + outRows) at most per pass.
    const size_t oh0 = seg / OW;
    const size_t segEnd =
        (oh0 + plan.outRows) * OW < pixEnd ? (oh0 + plan.outRows) * OW : pixEnd;
    const ptrdiff_t ihLo = static_cast<ptrdiff_t>(oh0 * shape.strideH) -
                           static_cast<ptrdiff_t>(shape.padTop);
    const uint8_t *origin;
    if (plan.slab) {
      // Input rows [ihLo, ihLo + rows) padded with the zero point: left and
      // right pads, rows outside x, channels past C.
      const size_t ohLast = (segEnd - 1) / OW;
      const size_t rows =
          (ohLast - oh0) * shape.strideH + (KH - 1) * shape.dilationH + 1;
      for (size_t r = 0; r < rows; ++r) {
        uint8_t *d = slab + r * rowStride;
        const ptrdiff_t ih = ihLo + static_cast<ptrdiff_t>(r);
        if (ih < 0 || ih >= static_cast<ptrdiff_t>(H)) {
          std::memset(d, fill, rowStride);
          continue;
        }
        std::memset(d, fill, shape.padLeft * plan.cp);
        uint8_t *m = d + shape.padLeft * plan.cp;
        const uint8_t *sx = x + static_cast<size_t>(ih) * W * ldx;
        if (plan.cp == C && ldx == C) {
          copyFlipped(m, sx, W * C, flip);
        } else if (C == 3 && ldx == 3) {
          expand3To4Vnni(sx, m, W, fill, flip); // the path is VNNI here
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
        std::memset(m + W * plan.cp, fill, shape.padRight * plan.cp);
      }
      origin = slab;
    } else {
      origin = x + static_cast<size_t>(ihLo) * rowStride;
    }
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
        size_t k = 0;
        for (size_t pix = blk; pix < blkEnd; ++pix, ++k) {
          bases[k] = rowBase + ow * stepW;
          if (++ow == OW) {
            ow = 0;
            rowBase += stepH;
          }
        }
        const size_t last = (k - 1) / kConvMR * kConvMR; // last tile's start
        for (; k % kConvMR; ++k)
          bases[k] = bases[last];
      }
      for (size_t col0 = colBegin; col0 < colEnd; col0 += NR) {
        setPanel(t, b, rq, col0, N, NR, groups, &lanesBuf);
        for (size_t p0 = blk; p0 < blkEnd; p0 += kConvMR) {
          src.rows = bases + (p0 - blk);
          t.rowBegin = 0;
          t.rowEnd =
              static_cast<int>(blkEnd - p0 < kConvMR ? blkEnd - p0 : kConvMR);
          t.c = static_cast<char *>(y) + ((p0 - pixBegin) * ldy + col0) * elem;
          qconvTileVnni(t, src);
        }
      }
    }
    seg = segEnd;
  }
  return Status::Ok;
}

} // namespace ember::cpu

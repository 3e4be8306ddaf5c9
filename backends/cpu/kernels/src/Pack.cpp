//===- Pack.cpp - portable packers for the GEMM operands ------------------===//
//
// Packed micro-panels are what the micro-kernels stream: A as kc rows of MR
// values (one column of an MR-row strip per k), B as kc rows of NR values.
// Both are zero-padded past the matrix edge so kernels never branch on it.
//
//===----------------------------------------------------------------------===//
#include "Internal.h"

#include <cstring>

namespace ember::cpu::detail {

void packAPanels(size_t rows, size_t kc, const float *A, size_t lda, int mr,
                 float *dst) {
  const size_t MR = static_cast<size_t>(mr);
  for (size_t r0 = 0; r0 < rows; r0 += MR, dst += kc * MR) {
    size_t n = rows - r0 < MR ? rows - r0 : MR;
    // Row by row: sequential reads, writes strided by MR inside a panel that
    // fits in L1.
    for (size_t i = 0; i < n; ++i) {
      const float *src = A + (r0 + i) * lda;
      for (size_t k = 0; k < kc; ++k)
        dst[k * MR + i] = src[k];
    }
    for (size_t i = n; i < MR; ++i)
      for (size_t k = 0; k < kc; ++k)
        dst[k * MR + i] = 0.0f;
  }
}

void packBPanels(size_t kc, size_t cols, const float *B, size_t ldb, int nr,
                 float *dst) {
  const size_t NR = static_cast<size_t>(nr);
  for (size_t c0 = 0; c0 < cols; c0 += NR, dst += kc * NR) {
    size_t n = cols - c0 < NR ? cols - c0 : NR;
    const float *src = B + c0;
    float *d = dst;
    if (n == NR) {
      for (size_t k = 0; k < kc; ++k, src += ldb, d += NR)
        std::memcpy(d, src, NR * sizeof(float));
    } else {
      for (size_t k = 0; k < kc; ++k, src += ldb, d += NR) {
        std::memcpy(d, src, n * sizeof(float));
        std::memset(d + n, 0, (NR - n) * sizeof(float));
      }
    }
  }
}

namespace {

/// Copies pixels [p0, p0+cols) of im2col row (c, kh, kw) into `row`, a
/// contiguous buffer of `cols` floats.
void im2colRow(const ConvGeom &g, const float *x, size_t c, size_t kh,
               size_t kw, size_t p0, size_t cols, float *row) {
  const float *plane = x + c * g.H * g.W;
  // Input column of output column ow: ow*SW + colOff (may be negative).
  const ptrdiff_t colOff =
      static_cast<ptrdiff_t>(kw * g.DW) - static_cast<ptrdiff_t>(g.PL);
  const ptrdiff_t rowOff =
      static_cast<ptrdiff_t>(kh * g.DH) - static_cast<ptrdiff_t>(g.PT);
  const ptrdiff_t W = static_cast<ptrdiff_t>(g.W);
  const ptrdiff_t SW = static_cast<ptrdiff_t>(g.SW);
  // Valid output columns: 0 <= ow*SW + colOff < W.
  ptrdiff_t owLo = colOff >= 0 ? 0 : (-colOff + SW - 1) / SW;
  ptrdiff_t owHi = W - colOff <= 0 ? 0 : (W - colOff - 1) / SW + 1;
  size_t p = p0, end = p0 + cols;
  while (p < end) {
    size_t oh = p / g.OW, ow = p % g.OW;
    size_t run = g.OW - ow < end - p ? g.OW - ow : end - p;
    ptrdiff_t ih = static_cast<ptrdiff_t>(oh * g.SH) + rowOff;
    if (ih < 0 || ih >= static_cast<ptrdiff_t>(g.H)) {
      std::memset(row, 0, run * sizeof(float));
    } else {
      const float *src = plane + static_cast<size_t>(ih) * g.W;
      ptrdiff_t a = static_cast<ptrdiff_t>(ow);
      ptrdiff_t b = a + static_cast<ptrdiff_t>(run);
      ptrdiff_t lo = a > owLo ? a : owLo;
      ptrdiff_t hi = b < owHi ? b : owHi;
      if (hi < lo)
        hi = lo = b;
      for (ptrdiff_t o = a; o < lo; ++o)
        row[o - a] = 0.0f;
      if (SW == 1) {
        if (hi > lo)
          std::memcpy(row + (lo - a), src + lo + colOff,
                      static_cast<size_t>(hi - lo) * sizeof(float));
      } else {
        for (ptrdiff_t o = lo; o < hi; ++o)
          row[o - a] = src[o * SW + colOff];
      }
      for (ptrdiff_t o = hi; o < b; ++o)
        row[o - a] = 0.0f;
    }
    row += run;
    p += run;
  }
}

} // namespace

void packIm2col(const ConvGeom &g, const float *x, size_t k0, size_t kc,
                size_t p0, size_t cols, int nr, float *dst) {
  const size_t NR = static_cast<size_t>(nr);
  const size_t panels = ceilDiv(cols, NR);
  // Each im2col row is produced into `line`, up to kChunk pixels at a time,
  // then dealt out NR pixels per panel.
  constexpr size_t kChunk = 512;
  float line[kChunk];
  size_t c, kh, kw;
  firstTap(g, k0, c, kh, kw);
  for (size_t kk = 0; kk < kc; ++kk) {
    for (size_t q0 = 0; q0 < panels; q0 += kChunk / NR) {
      size_t q1 = q0 + kChunk / NR < panels ? q0 + kChunk / NR : panels;
      size_t first = q0 * NR;
      size_t n = (q1 * NR < cols ? q1 * NR : cols) - first;
      im2colRow(g, x, c, kh, kw, p0 + first, n, line);
      for (size_t q = q0; q < q1; ++q) {
        float *d = dst + q * kc * NR + kk * NR;
        size_t off = (q - q0) * NR;
        size_t m = n - off < NR ? n - off : NR;
        std::memcpy(d, line + off, m * sizeof(float));
        if (m < NR)
          std::memset(d + m, 0, (NR - m) * sizeof(float));
      }
    }
    nextTap(g, c, kh, kw);
  }
}

} // namespace ember::cpu::detail

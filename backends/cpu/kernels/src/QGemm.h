//===- QGemm.h - int8 GEMM internals ----------------------------*- C++ -*-===//
#ifndef EMBER_CPU_KERNELS_QGEMM_H
#define EMBER_CPU_KERNELS_QGEMM_H

#include "Internal.h"

namespace ember::cpu::detail {

/// Everything a tile needs to turn its s32 dot products into outputs.
/// Pointers are already offset to the tile's first row / column.
struct QTileArgs {
  size_t groups;    ///< K / 4, rounded up (the packed depth)
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
  int32_t qmin, qmax;   ///< output range (type range & requested clamp)
};

using QTileFn = void (*)(const QTileArgs &);

struct QGemmKernel {
  Isa isa;
  int mr, nr;
  QTileFn tile;
};

/// Where an implicit-GEMM convolution tile (6 rows, the VNNI kernel's MR)
/// reads A: tap s of row i is tapGroups groups of 4 bytes at rows[i] +
/// tapOff[s].
struct QConvTileSrc {
  const uint8_t *const *rows; ///< 6 window corners
  const ptrdiff_t *tapOff;    ///< byte offset of each tap from the corner
  size_t taps, tapGroups;
};

/// W pixels of 3 contiguous bytes to 4 bytes each, the fourth `fill`
/// (qconv2dNhwc's slab rows for 3-channel input), 16 pixels per step.
void expand3To4Vnni(const uint8_t *src, uint8_t *dst, size_t W, uint8_t fill);

/// The VNNI implicit-GEMM tile over a 64-column panel (t.a unused).
void qconvTileVnni(const QTileArgs &t, const QConvTileSrc &src);

const QGemmKernel &qgemmKernelGeneric();
const QGemmKernel &qgemmKernelVnni();
const QGemmKernel *qgemmKernelGenericFor(int nr);

/// Round half to even, independent of the FP environment's rounding mode.
inline float roundHalfEven(float x) {
  float r = __builtin_floorf(x);
  float d = x - r;
  if (d > 0.5f || (d == 0.5f && __builtin_fmodf(r, 2.0f) != 0.0f))
    r += 1.0f;
  return r;
}

/// TFLite MultiplyByQuantizedMultiplier as the NPU defines it
/// (simulator/include/ember/npu/Arith.h): shift clamped to [-31, 31], the
/// left shift wraps.
inline int32_t multiplyByQuantizedMultiplier(int32_t x, int32_t mult,
                                             int32_t shift) {
  int s = shift < -31 ? -31 : (shift > 31 ? 31 : shift);
  int left = s > 0 ? s : 0, right = s > 0 ? 0 : -s;
  int32_t a = static_cast<int32_t>(static_cast<uint32_t>(x) << left);
  int32_t h;
  if (a == INT32_MIN && mult == INT32_MIN) {
    h = INT32_MAX;
  } else {
    int64_t ab = static_cast<int64_t>(a) * mult;
    int64_t nudge = ab >= 0 ? (1ll << 30) : (1 - (1ll << 30));
    h = static_cast<int32_t>((ab + nudge) / (1ll << 31));
  }
  int32_t mask = static_cast<int32_t>((1ll << right) - 1);
  int32_t rem = h & mask;
  int32_t threshold = (mask >> 1) + (h < 0 ? 1 : 0);
  return (h >> right) + (rem > threshold ? 1 : 0);
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
    int32_t m = multiplyByQuantizedMultiplier(acc, t.mult[idx], t.shift[idx]);
    v = static_cast<int32_t>(static_cast<uint32_t>(m) +
                             static_cast<uint32_t>(rq.zeroPoint));
    v = v < t.qmin ? t.qmin : (v > t.qmax ? t.qmax : v);
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

//===- Arith.h - Bit-exact scalar arithmetic of the NPU VECTOR unit -------===//
//
// TFLite integer conventions: Q31 multiplier + power-of-two shift (positive =
// left), zero points, clamping. Every model (golden, SystemC, RTL testbench)
// uses these definitions. The scalar arithmetic itself is Ember's one int8
// definition, ember/quant/Arith.h (docs/quantization.md), shared with the
// compiler and the reference interpreter.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_ARITH_H
#define EMBER_NPU_ARITH_H

#include "ember/npu/Isa.h"
#include "ember/quant/Arith.h"
#include "ember/quant/Transformer.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

namespace ember::npu {

using quant::mbqm;
using quant::mbqm64;
using quant::wrapAdd;
using quant::wrapShl;

inline int8_t clampI8(int32_t v, int32_t lo, int32_t hi) {
  int32_t r = std::max(lo, std::min(hi, v));
  return static_cast<int8_t>(std::max(-128, std::min(127, r)));
}

/// DWGEMM's bias of one channel: the int32 in lanes DIM-4..DIM-1 of its weight
/// row (little-endian), where the taps (at most DIM - 4 with bias) do not
/// reach.
inline int32_t dwBias(const int8_t *wgtRow) {
  uint32_t v = 0;
  for (int b = 0; b < 4; ++b)
    v |= uint32_t(uint8_t(wgtRow[EMBER_NPU_DIM - 4 + b])) << (8 * b);
  return static_cast<int32_t>(v);
}

/// REQUANT of one accumulator element.
inline int8_t requantize(int32_t acc, int32_t mult, int32_t shift, int32_t zp,
                         int32_t lo, int32_t hi) {
  return clampI8(wrapAdd(mbqm(acc, mult, shift), zp), lo, hi);
}

struct AddParams {
  int lshift;
  int32_t aZp, aMult, aShift, bZp, bMult, bShift, outMult, outShift, outZp, lo,
      hi;
};

inline AddParams addParamsFromRegs(const int32_t *regs) {
  AddParams p;
  p.lshift = regs[EMBER_NPU_REG_ADD_LSHIFT] & 31;
  p.aZp = regs[EMBER_NPU_REG_ADD_A_ZP];
  p.aMult = regs[EMBER_NPU_REG_ADD_A_MULT];
  p.aShift = regs[EMBER_NPU_REG_ADD_A_SHIFT];
  p.bZp = regs[EMBER_NPU_REG_ADD_B_ZP];
  p.bMult = regs[EMBER_NPU_REG_ADD_B_MULT];
  p.bShift = regs[EMBER_NPU_REG_ADD_B_SHIFT];
  p.outMult = regs[EMBER_NPU_REG_ADD_OUT_MULT];
  p.outShift = regs[EMBER_NPU_REG_ADD_OUT_SHIFT];
  p.outZp = regs[EMBER_NPU_REG_ADD_OUT_ZP];
  p.lo = regs[EMBER_NPU_REG_ADD_MIN];
  p.hi = regs[EMBER_NPU_REG_ADD_MAX];
  return p;
}

/// TFLite quantized elementwise add of one element pair.
inline int8_t quantAdd(int8_t a, int8_t b, const AddParams &p) {
  quant::AddParams q;
  q.leftShift = p.lshift;
  q.aZp = p.aZp;
  q.bZp = p.bZp;
  q.yZp = p.outZp;
  q.a = {p.aMult, p.aShift};
  q.b = {p.bMult, p.bShift};
  q.y = {p.outMult, p.outShift};
  q.lo = p.lo;
  q.hi = p.hi;
  return clampI8(quant::quantizedAdd(a, b, q), -128, 127);
}

/// VADD exact (spec version 4): the exact quantized add of the fixed
/// profile (quant::AddFixed, docs/quantization.md) on int8 lanes read as
/// u = a + 128, w = b + 128 (the sign bit flipped: any 8-bit type's value
/// less its lowest, for uint8 tensors held as int8 too):
///   y = clamp(floor((X_A_MULT u + X_B_MULT w + X_OFFSET) / 2^X_SHIFT),
///             MIN, MAX)
/// X_A_MULT and X_B_MULT 48-bit unsigned (the _HI register's low 16 bits
/// above the other's 32), X_OFFSET the signed 64-bit OFFSET_HI:OFFSET_LO,
/// saturated to +-(2^62 - 1), X_SHIFT clamped to [0, 62]; the shifted sum
/// saturates to int32 before the clamp.
struct AddExactRegs {
  quant::AddFixed p;
  int32_t lo = -128, hi = 127;
};

inline AddExactRegs addExactFromRegs(const int32_t *regs) {
  AddExactRegs r;
  auto mult48 = [&](unsigned lo, unsigned hi) {
    return int64_t(uint64_t(uint16_t(uint32_t(regs[hi]))) << 32 |
                   uint64_t(uint32_t(regs[lo])));
  };
  r.p.aMult = mult48(EMBER_NPU_REG_ADD_X_A_MULT, EMBER_NPU_REG_ADD_X_A_MULT_HI);
  r.p.bMult = mult48(EMBER_NPU_REG_ADD_X_B_MULT, EMBER_NPU_REG_ADD_X_B_MULT_HI);
  r.p.offset =
      int64_t(uint64_t(uint32_t(regs[EMBER_NPU_REG_ADD_X_OFFSET_HI])) << 32 |
              uint64_t(uint32_t(regs[EMBER_NPU_REG_ADD_X_OFFSET_LO])));
  r.p.shift = regs[EMBER_NPU_REG_ADD_X_SHIFT];
  r.p.aLowest = r.p.bLowest = -128;
  r.p.lo = std::numeric_limits<int32_t>::min();
  r.p.hi = std::numeric_limits<int32_t>::max();
  r.lo = regs[EMBER_NPU_REG_ADD_MIN];
  r.hi = regs[EMBER_NPU_REG_ADD_MAX];
  return r;
}

/// VADD exact of one element pair.
inline int8_t quantAddExact(int8_t a, int8_t b, const AddExactRegs &r) {
  return clampI8(quant::addFixed(a, b, r.p), r.lo, r.hi);
}

struct PoolGeom {
  int64_t kh, kw, stride, inW, outW;
  /// A bounded source (POOL's in_h > 0): windows start pad lines above and
  /// pixels left of their stride position; taps outside in_h x inW skipped.
  int64_t padTop = 0, padLeft = 0, inH = 0;
};

inline PoolGeom poolGeomFromRegs(const int32_t *regs) {
  return PoolGeom{regs[EMBER_NPU_REG_POOL_KH], regs[EMBER_NPU_REG_POOL_KW],
                  regs[EMBER_NPU_REG_POOL_STRIDE],
                  regs[EMBER_NPU_REG_POOL_IN_W],
                  regs[EMBER_NPU_REG_POOL_OUT_W]};
}

/// Input row (relative to src) of output row i, window tap (ky, kx).
inline int64_t poolInputRow(const PoolGeom &g, int64_t i, int64_t ky,
                            int64_t kx) {
  int64_t oy = i / g.outW, ox = i % g.outW;
  return (oy * g.stride + ky) * g.inW + ox * g.stride + kx;
}

/// The POOL geometry of `insn`: the registers and the instruction's bounds.
inline PoolGeom poolGeom(const int32_t *regs, const Insn &insn) {
  PoolGeom g = poolGeomFromRegs(regs);
  g.padTop = insn.pad_top;
  g.padLeft = insn.pad_left;
  g.inH = insn.in_h;
  return g;
}

/// Source row (from src) of output row i, tap (ky, kx), or -1 for a tap
/// outside a bounded source (which is skipped).
inline int64_t poolTapRow(const PoolGeom &g, int64_t i, int64_t ky,
                          int64_t kx) {
  if (g.inH == 0)
    return poolInputRow(g, i, ky, kx);
  int64_t iy = (i / g.outW) * g.stride + ky - g.padTop,
          ix = (i % g.outW) * g.stride + kx - g.padLeft;
  if (iy < 0 || iy >= g.inH || ix < 0 || ix >= g.inW)
    return -1;
  return iy * g.inW + ix;
}

/// Checks the POOL geometry (registers and, with in_h, the instruction's
/// bounds) against an instruction; empty string if valid. `span` receives the
/// number of input rows read (from src).
inline std::string checkPool(const Insn &insn, const PoolGeom &regs,
                             int64_t &span) {
  PoolGeom g = regs;
  g.padTop = insn.pad_top;
  g.padLeft = insn.pad_left;
  g.inH = insn.in_h;
  // A 16-bit map (w16) is in OUT's lower half (row pairs).
  const int64_t limit =
      insn.w16 ? EMBER_NPU_OUT_HALF : memRows(EMBER_NPU_MEM_OUT);
  const char *where = insn.w16 ? "the lower half of OUT (16-bit rows)" : "OUT";
  if (g.kh < 1 || g.kw < 1 || g.stride < 1 || g.inW < 1 || g.outW < 1)
    return "POOL_KH/KW/STRIDE/IN_W/OUT_W registers must be >= 1";
  if (g.kh > 16 || g.kw > 16 || g.stride > 16 || g.inW > 4096 || g.outW > 4096)
    return "POOL geometry registers too large";
  if (g.inH > 0) {
    // Every window must hold a tap inside the map: pads below the window and
    // the last output's window starting inside.
    if (g.padTop >= g.kh || g.padLeft >= g.kw)
      return "pool pad_top " + std::to_string(g.padTop) + " / pad_left " +
             std::to_string(g.padLeft) + " must be below POOL_KH " +
             std::to_string(g.kh) + " / POOL_KW " + std::to_string(g.kw);
    int64_t oy = (insn.rows - 1) / g.outW,
            ox = std::min<int64_t>(insn.rows, g.outW) - 1;
    if (oy * g.stride - g.padTop >= g.inH || ox * g.stride - g.padLeft >= g.inW)
      return "pool window of output line " + std::to_string(oy) + ", column " +
             std::to_string(ox) + " lies outside the " + std::to_string(g.inH) +
             " x " + std::to_string(g.inW) + " source";
    span = g.inH * g.inW;
    if (insn.src < 0 || insn.src + span > limit)
      return "pool reads src rows [" + std::to_string(insn.src) + ", " +
             std::to_string(insn.src + span) + ") out of range of " + where;
    return "";
  }
  int64_t last = poolInputRow(g, insn.rows - 1, g.kh - 1, g.kw - 1);
  int64_t lineEnd =
      (insn.rows / g.outW) * g.outW - 1; // last output with ox == outW - 1
  if (lineEnd >= 0)
    last = std::max(last, poolInputRow(g, lineEnd, g.kh - 1, g.kw - 1));
  span = last + 1;
  if (insn.src < 0 || insn.src + span > limit)
    return "pool reads src rows [" + std::to_string(insn.src) + ", " +
           std::to_string(insn.src + span) + ") out of range of " + where;
  return "";
}

/// Average of a pooling window sum, rounded half up: floor(sum / count + 1/2).
/// Unlike TFLite's half away from zero, this does not depend on how the values
/// are stored: a uint8 tensor held as int8 (value - 128) averages to the same
/// result, which is what lets Ember's one int8 definition
/// (docs/quantization.md) run uint8 models on this int8 machine bit-exactly.
inline int8_t poolAverage(int32_t sum, int32_t count) {
  return clampI8(quant::averageHalfUp(sum, count), -128, 127);
}

/// Index into the VECTOR engine's output table of an int8 value: q + 128.
inline int lutIndex(int8_t q) { return int(uint8_t(q) ^ 0x80u); }

/// VMUL's parameters (MUL_* registers); the zero points are the registers'
/// low 8 bits, signed (as PAD_VALUE), so a - zp fits 9 bits.
struct MulParams {
  int32_t aZp, bZp, mult, shift, outZp, lo, hi;
};

inline MulParams mulParamsFromRegs(const int32_t *regs) {
  return MulParams{int8_t(regs[EMBER_NPU_REG_MUL_A_ZP] & 0xff),
                   int8_t(regs[EMBER_NPU_REG_MUL_B_ZP] & 0xff),
                   regs[EMBER_NPU_REG_MUL_MULT],
                   regs[EMBER_NPU_REG_MUL_SHIFT],
                   regs[EMBER_NPU_REG_MUL_OUT_ZP],
                   regs[EMBER_NPU_REG_MUL_MIN],
                   regs[EMBER_NPU_REG_MUL_MAX]};
}

/// Quantized multiply of one element pair: Ember's lowered QDQ Mul,
/// Requantize((a - za) * (b - zb)) with one multiplier (docs/quantization.md).
inline int8_t quantMul(int8_t a, int8_t b, const MulParams &p) {
  int32_t prod = (int32_t(a) - p.aZp) * (int32_t(b) - p.bZp); // 18 bits
  return requantize(prod, p.mult, p.shift, p.outZp, p.lo, p.hi);
}

/// UPSAMPLE along one axis: output X of an n-long axis, factor 2^k. Mode 0
/// (nearest) reads i0 = X >> k with the whole weight; modes 1 (half_pixel)
/// and 2 (asymmetric) read i0 and i1 with weights w0 + w1 = 2^(k+1).
struct UpTaps {
  int64_t i0, i1;
  int32_t w0, w1;
};

inline UpTaps upsampleTaps(int64_t x, int64_t n, int64_t k, int64_t mode) {
  const int64_t f = int64_t(1) << k, unit = 2 * f;
  if (mode == 0)
    return UpTaps{x >> k, x >> k, int32_t(unit), 0};
  int64_t p = mode == 1 ? 2 * x + 1 - f : 2 * x; // position, units of 1/(2f)
  int64_t i = p >= 0 ? p / unit : -((-p + unit - 1) / unit); // floor
  int64_t frac = p - i * unit;
  auto clampIdx = [&](int64_t v) {
    return std::max<int64_t>(0, std::min<int64_t>(n - 1, v));
  };
  return UpTaps{clampIdx(i), clampIdx(i + 1), int32_t(unit - frac),
                int32_t(frac)};
}

/// sum / 2^shift rounded half to even (shift >= 1): ONNX Resize's rounding of
/// an interpolated integer.
inline int32_t roundHalfEvenShift(int32_t sum, int shift) {
  int32_t q = sum >> shift; // floor
  int32_t r = sum - q * (int32_t(1) << shift), half = int32_t(1) << (shift - 1);
  return q + ((r > half || (r == half && (q & 1))) ? 1 : 0);
}

/// One output element of UPSAMPLE from its four taps (v[y][x] = the stored
/// values at (i0/i1 of y, i0/i1 of x)): zp + round_half_even(sum of
/// w_y w_x (v - zp) / (2f)^2).
inline int8_t upsampleValue(const int8_t v[2][2], const UpTaps &ty,
                            const UpTaps &tx, int64_t k, int32_t zp) {
  int32_t wy[2] = {ty.w0, ty.w1}, wx[2] = {tx.w0, tx.w1}, sum = 0;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      sum += wy[a] * wx[b] * (int32_t(v[a][b]) - zp);
  return clampI8(zp + roundHalfEvenShift(sum, int(2 * k + 2)), -128, 127);
}

//===----------------------------------------------------------------------===//
// 16-bit activations (spec version 3): docs/npu-architecture.md, "Spec
// version 3: 16-bit activations (16x8)". The arithmetic is Ember's 16x8
// definition (ember/quant/Arith.h); this part adds the NPU's storage of
// 16-bit rows and the instructions' element functions.
//===----------------------------------------------------------------------===//

/// Rows between the two halves of a 16-bit row (the low-byte and high-byte
/// planes; an int64's low and high words in ACC): half the memory; 0 for WGT,
/// which holds no 16-bit rows.
inline int64_t wideHalf(int mem) {
  switch (mem) {
  case EMBER_NPU_MEM_ACT:
    return EMBER_NPU_ACT_HALF;
  case EMBER_NPU_MEM_ACC:
    return EMBER_NPU_ACC_HALF;
  case EMBER_NPU_MEM_OUT:
    return EMBER_NPU_OUT_HALF;
  default:
    return 0;
  }
}

/// The stored bytes of an int16 v: the low byte excess-128 (v & 255, minus
/// 128, as int8: what the array multiplies, the compiler adding 128 times the
/// weights' sum to the bias) and the high byte (v >> 8, signed).
inline int8_t wideLo(int32_t v) {
  return static_cast<int8_t>((v & 0xff) ^ 0x80);
}
inline int8_t wideHi(int32_t v) { return static_cast<int8_t>(v >> 8); }
/// The int16 held by a low-plane byte and a high-plane byte.
inline int32_t wideValue(int8_t lo, int8_t hi) {
  return int32_t(hi) * 256 + int32_t(uint8_t(lo) ^ 0x80u);
}

inline int16_t clampI16(int32_t v, int32_t lo, int32_t hi) {
  int32_t r = std::max(lo, std::min(hi, v));
  return static_cast<int16_t>(
      std::max(quant::kInt16Min, std::min(quant::kInt16Max, r)));
}

/// The requantization input of REQUANT acc16: the 16x8 accumulator from its
/// two plane sums (int32 each: the high-byte plane's counts 256 times) and
/// the int64 bias, in int64 (exact: each plane sum is below 2^38 in
/// magnitude once shifted).
inline int64_t acc16Value(int32_t loSum, int32_t hiSum, int64_t bias) {
  return int64_t(hiSum) * 256 + int64_t(loSum) + bias;
}

/// An int64 from its ACC words (the low word at r, the high word at r +
/// ACC_HALF).
inline int64_t wideWord(int32_t lo, int32_t hi) {
  return static_cast<int64_t>((uint64_t(uint32_t(hi)) << 32) | uint32_t(lo));
}

/// REQUANT of one element in any of its forms: the int32 accumulator x (or,
/// with acc16, the 16x8 accumulator x16) requantized, plus zp, clamped to
/// [lo, hi] and to int8, or with out16 to int16 (zp 0).
inline int32_t requantizeAny(bool acc16, int32_t x, int64_t x16, int32_t mult,
                             int32_t shift, int32_t zp, int32_t lo, int32_t hi,
                             bool out16) {
  int32_t r = acc16 ? mbqm64(x16, mult, shift) : mbqm(x, mult, shift);
  r = wrapAdd(r, zp);
  return out16 ? int32_t(clampI16(r, lo, hi)) : int32_t(clampI8(r, lo, hi));
}

/// VADD w16: TFLite's int16 quantized add (ADD_* registers, ADD_LSHIFT the
/// compiler's 15), clamped to int16.
inline int16_t quantAdd16(int32_t a, int32_t b, const AddParams &p) {
  quant::AddParams q;
  q.leftShift = p.lshift;
  q.aZp = p.aZp;
  q.bZp = p.bZp;
  q.yZp = p.outZp;
  q.a = {p.aMult, p.aShift};
  q.b = {p.bMult, p.bShift};
  q.y = {p.outMult, p.outShift};
  q.lo = p.lo;
  q.hi = p.hi;
  return clampI16(quant::quantizedAdd16(a, b, q), quant::kInt16Min,
                  quant::kInt16Max);
}

/// The widths of VMUL's operands and result, and its `one` form.
struct MulForm {
  bool a16 = false, b16 = false, out16 = false, one = false;
};

/// VMUL of one element pair in any width: (a - za) * (b - zb) (b - zb = 1
/// with `one`), an int32 wrapping product, requantized as REQUANT and
/// clamped to the result's width. A 16-bit operand's zero point is the
/// register's low 16 bits (Ember's int16 tensors have zero point 0), an
/// 8-bit one's its low 8 bits.
inline int32_t quantMulAny(int32_t a, int32_t b, const int32_t *regs,
                           const MulForm &f) {
  auto zp = [](int32_t reg, bool w16) {
    return w16 ? int32_t(int16_t(reg & 0xffff)) : int32_t(int8_t(reg & 0xff));
  };
  int32_t da = a - zp(regs[EMBER_NPU_REG_MUL_A_ZP], f.a16);
  int32_t db = f.one ? 1 : b - zp(regs[EMBER_NPU_REG_MUL_B_ZP], f.b16);
  int32_t prod = static_cast<int32_t>(static_cast<uint32_t>(
      static_cast<int64_t>(da) * static_cast<int64_t>(db)));
  int32_t r = wrapAdd(
      mbqm(prod, regs[EMBER_NPU_REG_MUL_MULT], regs[EMBER_NPU_REG_MUL_SHIFT]),
      regs[EMBER_NPU_REG_MUL_OUT_ZP]);
  int32_t lo = regs[EMBER_NPU_REG_MUL_MIN], hi = regs[EMBER_NPU_REG_MUL_MAX];
  return f.out16 ? int32_t(clampI16(r, lo, hi)) : int32_t(clampI8(r, lo, hi));
}

/// The 16-bit table: 513 int16 entries (quant::tableLookup16), loaded by
/// LUTLD w16 from kLut16Rows ACC rows (little-endian int16 entries).
constexpr int kLut16Bytes = 2 * quant::kTable16Entries;

/// One output element of UPSAMPLE w16 (int16 values; the sum stays below
/// 2^26).
inline int16_t upsampleValue16(const int32_t v[2][2], const UpTaps &ty,
                               const UpTaps &tx, int64_t k, int32_t zp) {
  int32_t wy[2] = {ty.w0, ty.w1}, wx[2] = {tx.w0, tx.w1}, sum = 0;
  for (int a = 0; a < 2; ++a)
    for (int b = 0; b < 2; ++b)
      sum += wy[a] * wx[b] * (v[a][b] - zp);
  return clampI16(zp + roundHalfEvenShift(sum, int(2 * k + 2)),
                  quant::kInt16Min, quant::kInt16Max);
}

/// VREDUCE (spec version 6): the OUT row of tile k of group g, the lanes of
/// that tile that take part (the group's last tile: `last`, 0 meaning all),
/// and the rows the instruction spans from src.
inline int64_t reduceRow(const Insn &insn, int64_t g, int64_t k) {
  return insn.src + g * insn.gstride + k * insn.kstride;
}
inline int reduceLanes(const Insn &insn, int64_t k) {
  return k + 1 == insn.len && insn.last ? int(insn.last) : EMBER_NPU_DIM;
}
inline int64_t reduceSpan(const Insn &insn) {
  return (insn.rows - 1) * insn.gstride + (insn.len - 1) * insn.kstride + 1;
}

/// One VREDUCE step: the running maximum or sum of a group with element v
/// (first: v starts it). No sum overflows int32: a group has at most
/// 1023 * 32 elements of at most 2^15 in magnitude.
inline int32_t reduceStep(bool sum, bool first, int32_t acc, int32_t v) {
  if (first)
    return v;
  return sum ? acc + v : std::max(acc, v);
}

/// VREDUCE sq (spec version 9): a group's W = epsilon + the sum of its
/// squared deviations (rowDeviation), modulo 2^96; `step` adds one element.
inline quant::UInt128 squareStep(quant::UInt128 w, int64_t d) {
  const quant::UInt128 mask = (quant::UInt128(1) << 96) - 1;
  return (w + quant::UInt128(quant::Int128(d) * d)) & mask;
}
inline quant::UInt128 squareStart(const int32_t *regs) {
  return quant::UInt128(
      uint64_t(uint32_t(regs[EMBER_NPU_REG_ROW_EPS_LO])) |
      (uint64_t(uint32_t(regs[EMBER_NPU_REG_ROW_EPS_HI])) << 32));
}

/// RSCALAR (spec version 7): the per-row scalar of v (the unsigned 96-bit
/// value of lanes 0..2 of an ACC row, w[0] the low word), with
/// Transformer.h's tables and shifts: without `rsqrt` 1/v ~= value *
/// 2^(-24 - shift) (quant::reciprocalOf, extended from 64 to 96 bits), with
/// it 1/sqrt(v) ~= value * 2^(-86 + shift/2) (integerNormRow's R and s).
/// v = 0 gives {0, 0}.
struct RowScalar {
  int32_t value = 0, shift = 0;
};
inline RowScalar rowScalar(const uint32_t w[3], bool rsqrt) {
  const quant::UInt128 v = (quant::UInt128(w[2]) << 64) |
                           (quant::UInt128(w[1]) << 32) | quant::UInt128(w[0]);
  if (v == 0)
    return {};
  const quant::TransformerTables &tb = quant::transformerTables();
  const int lz = quant::clz128(v);
  RowScalar r;
  if (!rsqrt) {
    // The 16 bits after the leading one (bit 127 - lz) index and interpolate.
    const uint64_t f = uint64_t((v << lz) >> 111) & 0xFFFF;
    r.value =
        int32_t(quant::interpTable(tb.recip.data(), int(f >> 8), int(f & 255)));
    r.shift = 127 - lz;
  } else {
    r.shift = lz & ~1;
    const quant::UInt128 m = v << r.shift; // m / 2^126 in [1, 4)
    r.value = int32_t(quant::interpTable(tb.rsqrt.data(),
                                         int(uint64_t(m >> 119) - 128),
                                         int(uint64_t(m >> 111) & 255)));
  }
  return r;
}

/// VROWMUL (spec version 8): one element of an integer normalization's
/// output (Transformer.h's integerNormRow, its last three lines): the
/// deviation d (n x - sum, or x - x_zp) times the row's 1/sqrt value r and
/// the channel's multiplier, floored by 101 - (s >> 1) - clamp(shift, -31,
/// 30) (clamped to [0, 127]), plus the channel's Q16 bias, rounded half up
/// by 16 bits, plus zp, saturated to int32 and clamped to [lo, hi] and to
/// the result's width. Any register or ACC values are defined (a hostile
/// program gets the same bits on every executor).
inline int32_t rowMulNorm(int64_t d, int32_t r, int32_t s, int32_t mult,
                          int32_t shift, int64_t bias, int32_t zp, int32_t lo,
                          int32_t hi, bool out16) {
  const quant::Int128 prod = quant::Int128(d) * r * mult;
  const int64_t k =
      101 - int64_t(s >> 1) - int64_t(std::clamp<int32_t>(shift, -31, 30));
  const quant::Int128 t =
      quant::floorShift(prod, int(std::clamp<int64_t>(k, 0, 127))) + bias;
  const quant::Int128 v = quant::roundShift(t, 16) + zp;
  const int32_t v32 =
      int32_t(std::clamp<quant::Int128>(v, INT32_MIN, INT32_MAX));
  return out16 ? int32_t(clampI16(v32, lo, hi)) : int32_t(clampI8(v32, lo, hi));
}

/// VROWMUL's deviation of a stored value x: n x - sum with `center`
/// (LayerNorm: the zero point cancels), else x - x_zp (RMSNorm).
inline int64_t rowDeviation(int32_t x, bool center, int32_t n, int32_t sum,
                            int32_t xZp) {
  return center ? int64_t(n) * x - sum : int64_t(x) - xZp;
}

/// VREDUCE exp (spec version 10) and VROWEXP (spec version 11): softmax's
/// exponential of a stored value x in a row of maximum m (Transformer.h's
/// integerSoftmaxRow, e_j): 2^u in Q23 with u = max(MBQM(x - m, mult,
/// shift), -32 * 2^16). m is an ACC word, so x - m wraps as int32 (a real
/// row's maximum never makes it wrap); exp2NegQ23 clamps u to [-32 * 2^16,
/// 0], so a value above m gives 2^23.
inline int32_t softmaxExp(int32_t x, int32_t m, int32_t mult, int32_t shift) {
  const int32_t d = int32_t(uint32_t(x) - uint32_t(m));
  return quant::exp2NegQ23(
      std::max(quant::mbqm(d, mult, shift), -(quant::kSoftmaxMaxExp << 16)));
}
inline int32_t softmaxExp(int32_t x, int32_t m, const int32_t *regs) {
  return softmaxExp(x, m, regs[EMBER_NPU_REG_ROW_SM_IN_MULT],
                    regs[EMBER_NPU_REG_ROW_SM_IN_SHIFT]);
}

/// VREDUCE exp: a group's S (the sum of its e) and maximum m as lane l of
/// its ACC row: S in lanes 0..2 (RSCALAR's 96-bit input), m in lane 3, 0 in
/// the others. A group has at most 1023 * 32 elements of at most 2^23, so S
/// is below 2^38 and lane 2 is always 0.
inline int32_t expSumLane(uint64_t s, int32_t m, int l) {
  if (l < 2)
    return int32_t(uint32_t(s >> (32 * l)));
  return l == 3 ? m : 0;
}

/// VROWEXP: one element of an integer softmax's output (integerSoftmaxRow's
/// last line): e times the row's reciprocal r and the output multiplier,
/// rounded half up once by k = 55 + p - clamp(shift, -31, 30) (p RSCALAR's
/// exponent), plus zp, saturated to int32 and clamped to [lo, hi] and to the
/// result's width. k is clamped to [1, 126]: RSCALAR's p keeps it in [25,
/// 126], and any ACC values are defined (a hostile program gets the same
/// bits on every executor).
inline int32_t rowExpOut(int32_t e, int32_t r, int32_t p, int32_t mult,
                         int32_t shift, int32_t zp, int32_t lo, int32_t hi,
                         bool out16) {
  const quant::Int128 prod = quant::Int128(e) * r * mult;
  const int64_t k =
      55 + int64_t(p) - int64_t(std::clamp<int32_t>(shift, -31, 30));
  const quant::Int128 v =
      quant::roundShift(prod, int(std::clamp<int64_t>(k, 1, 126))) + zp;
  const int32_t v32 =
      int32_t(std::clamp<quant::Int128>(v, INT32_MIN, INT32_MAX));
  return out16 ? int32_t(clampI16(v32, lo, hi)) : int32_t(clampI8(v32, lo, hi));
}
inline int32_t rowExpOut(int32_t e, int32_t r, int32_t p, const int32_t *regs,
                         bool out16) {
  return rowExpOut(e, r, p, regs[EMBER_NPU_REG_ROW_SM_OUT_MULT],
                   regs[EMBER_NPU_REG_ROW_SM_OUT_SHIFT],
                   regs[EMBER_NPU_REG_ROW_OUT_ZP], regs[EMBER_NPU_REG_ROW_MIN],
                   regs[EMBER_NPU_REG_ROW_MAX], out16);
}

} // namespace ember::npu

#endif // EMBER_NPU_ARITH_H

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

#include <algorithm>
#include <cstdint>
#include <limits>

namespace ember::npu {

using quant::mbqm;
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

struct PoolGeom {
  int64_t kh, kw, stride, inW, outW;
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

/// Checks the POOL geometry registers against an instruction; empty string if
/// valid. `span` receives the number of input rows read (from src).
inline std::string checkPool(const Insn &insn, const PoolGeom &g,
                             int64_t &span) {
  if (g.kh < 1 || g.kw < 1 || g.stride < 1 || g.inW < 1 || g.outW < 1)
    return "POOL_KH/KW/STRIDE/IN_W/OUT_W registers must be >= 1";
  if (g.kh > 16 || g.kw > 16 || g.stride > 16 || g.inW > 4096 || g.outW > 4096)
    return "POOL geometry registers too large";
  int64_t last = poolInputRow(g, insn.rows - 1, g.kh - 1, g.kw - 1);
  int64_t lineEnd =
      (insn.rows / g.outW) * g.outW - 1; // last output with ox == outW - 1
  if (lineEnd >= 0)
    last = std::max(last, poolInputRow(g, lineEnd, g.kh - 1, g.kw - 1));
  span = last + 1;
  if (insn.src < 0 || insn.src + span > memRows(EMBER_NPU_MEM_OUT))
    return "pool reads src rows [" + std::to_string(insn.src) + ", " +
           std::to_string(insn.src + span) + ") out of range of OUT";
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

} // namespace ember::npu

#endif // EMBER_NPU_ARITH_H

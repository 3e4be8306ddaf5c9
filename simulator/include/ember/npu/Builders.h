//===- Builders.h - One builder per NPU instruction -----------------------===//
//
// The one set of instruction builders the compiler (backends/npu-sim), the
// test-program generators and hand-written kernels share. Each takes the
// opcode's operand fields in assembly order (fieldsOf(op), hw/spec/npu.json),
// so a call reads like the assembly line it produces; fields not named stay
// zero and the wait/signal tokens are left empty (the compiler's token pass
// or SafeProgramBuilder fills them).
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_BUILDERS_H
#define EMBER_NPU_BUILDERS_H

#include "ember/npu/Isa.h"

#include <cstdint>

namespace ember::npu {

/// An instruction of `op` with every field zero (FENCE, FINISH, or a start
/// to set fields on).
Insn makeInsn(Opcode op);
Insn loadInsn(int mem, int64_t sram, int64_t dram, int64_t ysize, int64_t xsize,
              int64_t stride, int64_t padTop = 0, int64_t padBottom = 0,
              int64_t padLeft = 0, int64_t padRight = 0);
/// rep: each row and line written rep + 1 times (nearest upsampling); xstep:
/// consecutive rows two DRAM rows apart (phase interleave); lanes: the 8-lane
/// groups written (0: all).
Insn storeInsn(int mem, int64_t sram, int64_t dram, int64_t ysize,
               int64_t xsize, int64_t stride, int64_t rep = 0,
               int64_t xstep = 0, int64_t lanes = 0);
/// LOAD and STORE of 16-bit rows (spec version 3): DRAM rows of DIM int16,
/// scratchpad row pairs (r, r + rows/2) of ACT or OUT.
Insn load16Insn(int mem, int64_t sram, int64_t dram, int64_t ysize,
                int64_t xsize, int64_t stride, int64_t padTop = 0,
                int64_t padBottom = 0, int64_t padLeft = 0,
                int64_t padRight = 0);
Insn store16Insn(int mem, int64_t sram, int64_t dram, int64_t ysize,
                 int64_t xsize, int64_t stride, int64_t rep = 0,
                 int64_t xstep = 0, int64_t lanes = 0);
/// OUT rows to ACT rows, with LOAD's block geometry and padding; w16: 16-bit
/// rows.
Insn moveInsn(int64_t dst, int64_t src, int64_t ysize, int64_t xsize,
              int64_t stride, int64_t padTop = 0, int64_t padBottom = 0,
              int64_t padLeft = 0, int64_t padRight = 0, int64_t rep = 0,
              bool w16 = false);
Insn gemmInsn(bool reset, int64_t acc, int64_t act, int64_t wgt, int64_t inner,
              int64_t outer, int64_t actOstride = 0, int64_t accOstride = 0);
Insn dwgemmInsn(bool reset, int64_t acc, int64_t act, int64_t wgt,
                int64_t inner, int64_t outer, int64_t actOstride,
                int64_t accOstride, int64_t taps, int64_t stride = 1,
                bool bias = false);
/// GEMM and DWGEMM of 16-bit activation rows (spec version 5): both byte
/// planes in one instruction, the act block 16-bit rows and the acc block
/// 16x8 accumulator pairs, both in the lower halves; the same fields.
Insn gemm16Insn(bool reset, int64_t acc, int64_t act, int64_t wgt,
                int64_t inner, int64_t outer, int64_t actOstride = 0,
                int64_t accOstride = 0);
Insn dwgemm16Insn(bool reset, int64_t acc, int64_t act, int64_t wgt,
                  int64_t inner, int64_t outer, int64_t actOstride,
                  int64_t accOstride, int64_t taps, int64_t stride = 1,
                  bool bias = false);
/// acc16: 16x8 accumulators (plane sums at src and src + ACC_HALF, an int64
/// bias); out16: an int16 result (clamp RQ16_MIN/RQ16_MAX; zp, min, max 0).
Insn requantInsn(int64_t dst, int64_t src, int64_t rows, int64_t param,
                 int64_t zp, int64_t min, int64_t max, bool bias = false,
                 bool lut = false, bool acc16 = false, bool out16 = false);
Insn vaddInsn(int64_t dst, int64_t a, int64_t b, int64_t rows, bool lut = false,
              bool w16 = false);
/// inH > 0: a bounded in_h x POOL_IN_W source whose windows start padTop
/// lines above and padLeft pixels left of their stride position.
Insn poolInsn(bool avg, int64_t dst, int64_t src, int64_t rows,
              int64_t padTop = 0, int64_t padLeft = 0, int64_t inH = 0,
              bool lut = false, bool w16 = false);
/// The VECTOR engine's output table from ACC rows src .. src + kLutRows - 1
/// (w16: the 16-bit table from kLut16Rows rows).
Insn lutldInsn(int64_t src, bool w16 = false);
Insn lutInsn(int64_t dst, int64_t src, int64_t rows, bool w16 = false);
Insn vmulInsn(int64_t dst, int64_t a, int64_t b, int64_t rows,
              bool bcast = false, bool lut = false, bool a16 = false,
              bool b16 = false, bool out16 = false, bool one = false);
/// VMUL's `one` form: the per-tensor requantization of a (MUL_A_ZP,
/// MUL_MULT, MUL_SHIFT, MUL_OUT_ZP, MUL_MIN/MAX), int8 or int16 in and out:
/// the conversion at a precision boundary.
Insn rescaleInsn(int64_t dst, int64_t a, int64_t rows, bool a16, bool out16,
                 bool lut = false);
/// Upsampling of an h x w map by 2^factor: output lines oy .. oy + oh - 1;
/// mode 0 nearest, 1 bilinear (half_pixel), 2 bilinear (asymmetric).
Insn upsampleInsn(int64_t dst, int64_t src, int64_t w, int64_t h, int64_t oy,
                  int64_t oh, int64_t factor, int64_t mode, int64_t zp = 0,
                  bool lut = false, bool w16 = false);
/// VREDUCE (spec version 6): `rows` groups of `len` OUT rows each (group g's
/// tile k at src + g*gstride + k*kstride, the last tile's first `last` lanes,
/// 0: all) to their maximum (or with `sum` their sum) in ACC rows dst + g.
/// With `sq` (spec version 9) the group's 96-bit sum of squared deviations
/// from epsilon (ROW_EPS_*), its sum read from ACC row dst + g first; with
/// `exp` (spec version 10) softmax's sum of exponentials (ROW_SM_IN_*) in
/// lanes 0..2 and the maximum in lane 3, the maximum read from ACC row
/// dst + g first.
Insn vreduceInsn(int64_t dst, int64_t src, int64_t rows, int64_t len,
                 int64_t gstride, int64_t kstride, int64_t last, bool w16,
                 bool sum, bool sq = false, bool center = false,
                 bool exp = false);
/// RSCALAR (spec version 7): the reciprocal (or with `rsqrt` the reciprocal
/// square root) of the 96-bit scalars in lanes 0..2 of ACC rows src + g,
/// g < rows, as a value (lane 0) and an exponent (lane 1) in ACC rows dst + g.
Insn rscalarInsn(int64_t dst, int64_t src, int64_t rows, bool rsqrt);
/// VROWMUL (spec version 8): OUT rows src + g*stride, g < rows, to OUT rows
/// dst + g*stride through integer normalization's last step, with the row's
/// RSCALAR result in ACC row scal + g, its VREDUCE sum in ACC row sum + g and
/// the channels' mult, shift and int64 bias in ACC rows param .. param + 3.
Insn vrowmulInsn(int64_t dst, int64_t src, int64_t rows, int64_t stride,
                 int64_t scal, int64_t sum, int64_t param, bool w16, bool out16,
                 bool center);
/// VROWEXP (spec version 11): OUT rows src + g*stride, g < rows, to OUT rows
/// dst + g*stride through integer softmax's last step, with the row's
/// RSCALAR reciprocal in ACC row scal + g and its VREDUCE exp maximum in
/// lane 3 of ACC row sum + g (ROW_SM_*, ROW_OUT_ZP, ROW_MIN, ROW_MAX).
Insn vrowexpInsn(int64_t dst, int64_t src, int64_t rows, int64_t stride,
                 int64_t scal, int64_t sum, bool w16, bool out16);
Insn setregInsn(unsigned reg, int64_t value);

} // namespace ember::npu

#endif // EMBER_NPU_BUILDERS_H

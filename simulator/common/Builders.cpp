//===- Builders.cpp - One builder per NPU instruction ---------------------===//
#include "ember/npu/Builders.h"

namespace ember::npu {

Insn makeInsn(Opcode op) {
  Insn i;
  i.op = op;
  return i;
}

Insn loadInsn(int mem, int64_t sram, int64_t dram, int64_t ysize, int64_t xsize,
              int64_t stride, int64_t padTop, int64_t padBottom,
              int64_t padLeft, int64_t padRight) {
  Insn i = makeInsn(Opcode::LOAD);
  i.mem = mem;
  i.sram = sram;
  i.dram = dram;
  i.ysize = ysize;
  i.xsize = xsize;
  i.stride = stride;
  i.pad_top = padTop;
  i.pad_bottom = padBottom;
  i.pad_left = padLeft;
  i.pad_right = padRight;
  return i;
}

Insn storeInsn(int mem, int64_t sram, int64_t dram, int64_t ysize,
               int64_t xsize, int64_t stride, int64_t rep, int64_t xstep,
               int64_t lanes) {
  Insn i = loadInsn(mem, sram, dram, ysize, xsize, stride);
  i.op = Opcode::STORE;
  i.rep = rep;
  i.xstep = xstep;
  i.lanes = lanes;
  return i;
}

Insn load16Insn(int mem, int64_t sram, int64_t dram, int64_t ysize,
                int64_t xsize, int64_t stride, int64_t padTop,
                int64_t padBottom, int64_t padLeft, int64_t padRight) {
  Insn i = loadInsn(mem, sram, dram, ysize, xsize, stride, padTop, padBottom,
                    padLeft, padRight);
  i.op = Opcode::LOAD16;
  return i;
}

Insn store16Insn(int mem, int64_t sram, int64_t dram, int64_t ysize,
                 int64_t xsize, int64_t stride, int64_t rep, int64_t xstep,
                 int64_t lanes) {
  Insn i = storeInsn(mem, sram, dram, ysize, xsize, stride, rep, xstep, lanes);
  i.op = Opcode::STORE16;
  return i;
}

Insn moveInsn(int64_t dst, int64_t src, int64_t ysize, int64_t xsize,
              int64_t stride, int64_t padTop, int64_t padBottom,
              int64_t padLeft, int64_t padRight, int64_t rep, bool w16) {
  // LOAD's block geometry and padding, OUT row src to ACT row dst.
  Insn i = loadInsn(0, 0, 0, ysize, xsize, stride, padTop, padBottom, padLeft,
                    padRight);
  i.op = Opcode::MOVE;
  i.dst = dst;
  i.src = src;
  i.rep = rep;
  i.w16 = w16;
  return i;
}

Insn gemmInsn(bool reset, int64_t acc, int64_t act, int64_t wgt, int64_t inner,
              int64_t outer, int64_t actOstride, int64_t accOstride) {
  Insn i = makeInsn(Opcode::GEMM);
  i.reset = reset;
  i.acc = acc;
  i.act = act;
  i.wgt = wgt;
  i.inner = inner;
  i.outer = outer;
  i.act_ostride = actOstride;
  i.acc_ostride = accOstride;
  return i;
}

Insn dwgemmInsn(bool reset, int64_t acc, int64_t act, int64_t wgt,
                int64_t inner, int64_t outer, int64_t actOstride,
                int64_t accOstride, int64_t taps, int64_t stride, bool bias) {
  Insn i = gemmInsn(reset, acc, act, wgt, inner, outer, actOstride, accOstride);
  i.op = Opcode::DWGEMM;
  i.taps = taps;
  i.stride = stride;
  i.bias = bias;
  return i;
}

Insn gemm16Insn(bool reset, int64_t acc, int64_t act, int64_t wgt,
                int64_t inner, int64_t outer, int64_t actOstride,
                int64_t accOstride) {
  Insn i = gemmInsn(reset, acc, act, wgt, inner, outer, actOstride, accOstride);
  i.op = Opcode::GEMM16;
  return i;
}

Insn dwgemm16Insn(bool reset, int64_t acc, int64_t act, int64_t wgt,
                  int64_t inner, int64_t outer, int64_t actOstride,
                  int64_t accOstride, int64_t taps, int64_t stride, bool bias) {
  Insn i = dwgemmInsn(reset, acc, act, wgt, inner, outer, actOstride,
                      accOstride, taps, stride, bias);
  i.op = Opcode::DWGEMM16;
  return i;
}

Insn requantInsn(int64_t dst, int64_t src, int64_t rows, int64_t param,
                 int64_t zp, int64_t min, int64_t max, bool bias, bool lut,
                 bool acc16, bool out16) {
  Insn i = makeInsn(Opcode::REQUANT);
  i.dst = dst;
  i.src = src;
  i.rows = rows;
  i.param = param;
  i.zp = zp;
  i.min = min;
  i.max = max;
  i.bias = bias;
  i.lut = lut;
  i.acc16 = acc16;
  i.out16 = out16;
  return i;
}

Insn vaddInsn(int64_t dst, int64_t a, int64_t b, int64_t rows, bool lut,
              bool w16) {
  Insn i = makeInsn(Opcode::VADD);
  i.dst = dst;
  i.a = a;
  i.b = b;
  i.rows = rows;
  i.lut = lut;
  i.w16 = w16;
  return i;
}

Insn poolInsn(bool avg, int64_t dst, int64_t src, int64_t rows, int64_t padTop,
              int64_t padLeft, int64_t inH, bool lut, bool w16) {
  Insn i = makeInsn(Opcode::POOL);
  i.avg = avg;
  i.dst = dst;
  i.src = src;
  i.rows = rows;
  i.pad_top = padTop;
  i.pad_left = padLeft;
  i.in_h = inH;
  i.lut = lut;
  i.w16 = w16;
  return i;
}

Insn lutldInsn(int64_t src, bool w16) {
  Insn i = makeInsn(Opcode::LUTLD);
  i.src = src;
  i.w16 = w16;
  return i;
}

Insn lutInsn(int64_t dst, int64_t src, int64_t rows, bool w16) {
  Insn i = makeInsn(Opcode::LUT);
  i.dst = dst;
  i.src = src;
  i.rows = rows;
  i.w16 = w16;
  return i;
}

Insn vmulInsn(int64_t dst, int64_t a, int64_t b, int64_t rows, bool bcast,
              bool lut, bool a16, bool b16, bool out16, bool one) {
  Insn i = makeInsn(Opcode::VMUL);
  i.dst = dst;
  i.a = a;
  i.b = b;
  i.rows = rows;
  i.bcast = bcast;
  i.lut = lut;
  i.a16 = a16;
  i.b16 = b16;
  i.out16 = out16;
  i.one = one;
  return i;
}

Insn rescaleInsn(int64_t dst, int64_t a, int64_t rows, bool a16, bool out16,
                 bool lut) {
  return vmulInsn(dst, a, 0, rows, false, lut, a16, false, out16, true);
}

Insn upsampleInsn(int64_t dst, int64_t src, int64_t w, int64_t h, int64_t oy,
                  int64_t oh, int64_t factor, int64_t mode, int64_t zp,
                  bool lut, bool w16) {
  Insn i = makeInsn(Opcode::UPSAMPLE);
  i.dst = dst;
  i.src = src;
  i.w = w;
  i.h = h;
  i.oy = oy;
  i.oh = oh;
  i.factor = factor;
  i.mode = mode;
  i.zp = zp;
  i.lut = lut;
  i.w16 = w16;
  return i;
}

Insn vreduceInsn(int64_t dst, int64_t src, int64_t rows, int64_t len,
                 int64_t gstride, int64_t kstride, int64_t last, bool w16,
                 bool sum, bool sq, bool center, bool exp) {
  Insn i = makeInsn(Opcode::VREDUCE);
  i.dst = dst;
  i.src = src;
  i.rows = rows;
  i.len = len;
  i.gstride = gstride;
  i.kstride = kstride;
  i.last = last;
  i.w16 = w16;
  i.sum = sum;
  i.sq = sq;
  i.center = center;
  i.exp = exp;
  return i;
}

Insn rscalarInsn(int64_t dst, int64_t src, int64_t rows, bool rsqrt) {
  Insn i = makeInsn(Opcode::RSCALAR);
  i.dst = dst;
  i.src = src;
  i.rows = rows;
  i.rsqrt = rsqrt;
  return i;
}

Insn vrowmulInsn(int64_t dst, int64_t src, int64_t rows, int64_t stride,
                 int64_t scal, int64_t sum, int64_t param, bool w16, bool out16,
                 bool center) {
  Insn i = makeInsn(Opcode::VROWMUL);
  i.dst = dst;
  i.src = src;
  i.rows = rows;
  i.stride = stride;
  i.scal = scal;
  i.sum = sum;
  i.param = param;
  i.w16 = w16;
  i.out16 = out16;
  i.center = center;
  return i;
}

Insn vrowexpInsn(int64_t dst, int64_t src, int64_t rows, int64_t stride,
                 int64_t scal, int64_t sum, bool w16, bool out16) {
  Insn i = makeInsn(Opcode::VROWEXP);
  i.dst = dst;
  i.src = src;
  i.rows = rows;
  i.stride = stride;
  i.scal = scal;
  i.sum = sum;
  i.w16 = w16;
  i.out16 = out16;
  return i;
}

Insn setregInsn(unsigned reg, int64_t value) {
  Insn i = makeInsn(Opcode::SETREG);
  i.reg = reg;
  i.value = value;
  return i;
}

} // namespace ember::npu

// The operations of the abstract machine the NPU compiler layer schedules
// (docs/npu-sdk.md, "Operations"): what a scheduled step holds, what the
// residency passes rewrite, what dependency insertion orders, and what a
// vendor's emission turns into its instructions (one each). Rows are rows of
// the target's memories; DRAM addresses are bytes.
#ifndef EMBER_ACCEL_OP_H
#define EMBER_ACCEL_OP_H

#include "ember/accel/Target.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ember::accel {

struct Op {
  OpKind kind = OpKind::Finish;
  int engine = -1;    // the engine running it (SetReg: the register's owner)
  Cls cls = Cls::Act; // Load/Store: the class moved
  int mem = 0;        // Load/Store: the memory (the class's)
  // Synchronization: tokens, a bit per channel (Target::channel); barriers,
  // a bit per barrier id. Set by dependency insertion (Sync.h).
  uint32_t wait = 0, signal = 0;
  // Load/Store: `row` of `mem`, `dram` bytes; a block of `ysize` lines of
  // `xsize` rows, lines `stride` rows apart in DRAM; a load writes
  // pad_left + xsize + pad_right rows a line and pad_top + ysize +
  // pad_bottom lines, the padding holding the pad value register.
  // Copy: the same block from `src` (a row of the Out memory) to `dst` (a
  // row of the Act memory), lines `stride` rows apart at the source.
  int64_t row = 0, dram = 0, ysize = 0, xsize = 0, stride = 0;
  int64_t padTop = 0, padBottom = 0, padLeft = 0, padRight = 0;
  // Store (when the target declares them): each block row written r = rep
  // + 1 times along both axes, to DRAM row (y*r + dy)*stride + (x*r +
  // dx)*(1 + xstep) for dy, dx < r (nearest upsampling by r as it is
  // stored; xstep interleaves phases); lanes: a bit per group of 8 lanes
  // written (0: all), a channel concatenation at a multiple of 8 channels.
  int64_t rep = 0, xstep = 0, lanes = 0;
  // Upsample: the h x w map at out[src + y*w + x] by f = 2^factor, result
  // lines oy .. oy + oh - 1 of the f*h x f*w map, line oy + r at out[dst +
  // r*f*w]; mode 0 nearest, 1 bilinear (half_pixel), 2 bilinear
  // (asymmetric); zp the zero point the bilinear sum is taken around.
  int64_t upW = 0, upH = 0, oy = 0, oh = 0, factor = 0, mode = 0;
  // Gemm: acc[acc + o*acc_ostride + i] (+)= act[act + o*act_ostride + i] x
  // the weight tile at wgt, for i < inner, o < outer (reset: = instead of
  // +=). DwGemm: per lane j, acc[acc + o*acc_ostride + i][j] (+)= sum over
  // t < taps of act[act + o*act_ostride + i*stride + t][j] * wgt[wgt + j][t]
  // (bias: each sum starts from the int32 in the weight row's bias lanes).
  int64_t acc = 0, act = 0, wgt = 0, inner = 0, outer = 0;
  int64_t actOstride = 0, accOstride = 0, taps = 0;
  // Requant: out[dst + i] = requantize(acc[src + i]) with the tables at
  // param (bias: plus the table's third row). VAdd: out[dst + i] =
  // add(out[a + i], out[b + i]). Pool: out[dst + i] = the window of output i
  // over out[src ...] (geometry in the pool registers).
  int64_t dst = 0, src = 0, rows = 0, param = 0, zp = 0, min = 0, max = 0;
  int64_t a = 0, b = 0;
  bool reset = false, bias = false, avg = false;
  // Requant, VAdd, Pool: each result through the output table of the last
  // LutLd (Target::lutFlag). LutLd: the table from param rows src ..
  // src + Target::lutRows() - 1 (byte k, little-endian: the stored result
  // for the stored input k - 128); with w16 the 16-bit table (513 int16
  // entries, Target::lut16Rows rows), kept apart from the 8-bit one. Lut
  // (w16): out[dst + i] = that table's entry of out[src + i], for i < rows.
  bool lut = false;
  // VMul: out[dst + i] = mul(out[a + i], out[b + i]), or out[b] for every i
  // with bcast (one row of per-channel values over every row).
  bool bcast = false;
  // VAdd: the exact quantized add (Target::exactAddFlag; the add_x_*
  // registers) instead of TFLite's.
  bool exact = false;
  // 16-bit activations (Target::wide16): a 16-bit row r of the Act or Out
  // memory is the row pair (r, r + rows/2), its low bytes excess-128 at r
  // and its high bytes at r + rows/2; a 16x8 accumulator r of the Acc
  // memory is the low plane's sum at r and the high plane's at r + rows/2.
  // Load/Store/Copy w16: 16-bit rows (a DRAM row is lanes int16). VAdd and
  // Pool w16: operands and result 16-bit rows. Requant acc16: the 16x8
  // accumulators (with bias, the int64 bias's high word at param + 2 +
  // rows/2); out16: int16 results (clamp in the rq16 registers) to 16-bit
  // rows. Array ops address each plane themselves.
  bool w16 = false, acc16 = false, out16 = false;
  // VMul (Target::wide16): a16, b16 that operand a 16-bit row, out16 the
  // result; one: no b (b, bcast and b16 unset), the requantization of a
  // alone (the conversion between int8 and int16 at a precision boundary).
  bool a16 = false, b16 = false, one = false;
  // SetReg: register id `reg` (the target's) = value.
  int64_t reg = 0, value = 0;
  // The integer normalization's steps (LayerNorm, RMSNorm without a
  // divider; quant::integerNormRow). VReduce: for each group g < rows, the
  // elements of out rows src + g*gstride + k*kstride, k < len (w16: 16-bit
  // rows), all lanes but the last tile's, of which the first `last` (0:
  // all); their maximum, or with `sum` their int32 sum, in every lane of acc
  // row dst + g; with sq instead W = epsilon (the row_eps registers) + the
  // sum of D^2 modulo 2^96, D = n x - s_g (center: n the row_n register,
  // s_g lane 0 of acc row dst + g before) or x - row_x_zp, in lanes 0..2
  // (the low word first, 0 in the others). RScalar: the unsigned 96-bit
  // value in lanes 0..2 of acc row src + g to a value (lane 0) and an
  // exponent (lane 1) in acc row dst + g: its reciprocal, or with rsqrt its
  // reciprocal square root. VRowMul: out row src + g*stride (w16) to out
  // row dst + g*stride (out16) per lane: D (as VReduce sq's, s_g lane 0 of
  // acc row sumRow + g) times the scalar of acc row scal + g and the lane's
  // channel multiplier (acc row param), floored by its exponent and the
  // channel's shift (param + 1), plus the channel's int64 bias (param + 2,
  // the high words at param + 3), rounded by 16 bits, plus row_out_zp,
  // clamped to [row_min, row_max].
  int64_t len = 0, gstride = 0, kstride = 0, last = 0, scal = 0, sumRow = 0;
  bool sum = false, sq = false, center = false, rsqrt = false;
  // The integer softmax's steps (quant::integerSoftmaxRow). VReduce exp: m =
  // lane 0 of acc row dst + g before (a vreduce max's), per element e =
  // exp2NegQ23(mbqm(x - m) by the row_sm_in registers); S = the sum of e
  // (96 bits) in lanes 0..2 of acc row dst + g, m in lane 3, 0 in the
  // others. VRowExp: out row src + g*stride (w16) to out row dst +
  // g*stride (out16) per lane: e as VReduce exp's (m lane 3 of acc row
  // sumRow + g) times r (lane 0 of acc row scal + g, RScalar's) and
  // row_sm_out_mult, rounded by 55 + p (lane 1) - the clamped
  // row_sm_out_shift (at most 126), plus row_out_zp, clamped to [row_min,
  // row_max].
  bool exp = false;
};

// Builders: each sets the engine from the target.
Op loadOp(const Target &t, Cls c, int64_t row, int64_t dram, int64_t ysize,
          int64_t xsize, int64_t stride, int64_t padTop = 0,
          int64_t padBottom = 0, int64_t padLeft = 0, int64_t padRight = 0);
Op storeOp(const Target &t, Cls c, int64_t row, int64_t dram, int64_t ysize,
           int64_t xsize, int64_t stride);
Op copyOp(const Target &t, int64_t dst, int64_t src, int64_t ysize,
          int64_t xsize, int64_t stride, int64_t padTop = 0,
          int64_t padBottom = 0, int64_t padLeft = 0, int64_t padRight = 0);
Op gemmOp(const Target &t, bool reset, int64_t acc, int64_t act, int64_t wgt,
          int64_t inner, int64_t outer, int64_t actOstride = 0,
          int64_t accOstride = 0);
Op dwgemmOp(const Target &t, bool reset, int64_t acc, int64_t act, int64_t wgt,
            int64_t inner, int64_t outer, int64_t actOstride,
            int64_t accOstride, int64_t taps, int64_t stride, bool bias);
Op requantOp(const Target &t, int64_t dst, int64_t src, int64_t rows,
             int64_t param, int64_t zp, int64_t min, int64_t max, bool bias);
Op vaddOp(const Target &t, int64_t dst, int64_t a, int64_t b, int64_t rows);
Op poolOp(const Target &t, bool avg, int64_t dst, int64_t src, int64_t rows);
Op lutldOp(const Target &t, int64_t src);
// LutLd w16: the 16-bit table (Target::lut16Rows param rows from src).
Op lut16ldOp(const Target &t, int64_t src);
// Lut w16: out[dst + i] = the 16-bit table's interpolated entry of the
// int16 row out[src + i], for i < rows (16-bit rows).
Op lut16Op(const Target &t, int64_t dst, int64_t src, int64_t rows);
Op vmulOp(const Target &t, int64_t dst, int64_t a, int64_t b, int64_t rows,
          bool bcast);
Op setregOp(const Target &t, Reg r, int64_t value);
Op finishOp();
// Upsample (the fields above): the h x w map at src by f = 2^factor, result
// lines oy .. oy + oh - 1 to dst.
Op upsampleOp(const Target &t, int64_t dst, int64_t src, int64_t w, int64_t h,
              int64_t oy, int64_t oh, int64_t factor, int64_t mode, int64_t zp);

// VReduce: `rows` groups of `len` Out rows (group g's tile k at src + g*gstride
// + k*kstride, the last tile's first `last` lanes, 0: all) to their maximum, or
// with `sum` their int32 sum, or with `sq` the 96-bit sum of squared
// deviations from the epsilon registers (center: n*x - sum_g with sum_g read
// from Acc row dst + g), or with `exp` the softmax's 96-bit sum of
// exponentials (the group's maximum read from Acc row dst + g), into Acc row
// dst + g.
Op vreduceOp(const Target &t, int64_t dst, int64_t src, int64_t rows,
             int64_t len, int64_t gstride, int64_t kstride, int64_t last,
             bool w16, bool sum, bool sq = false, bool center = false,
             bool exp = false);
// RScalar: Acc rows src .. src + rows - 1 (96-bit values) to their
// reciprocal, or with rsqrt reciprocal square root, as a value and an
// exponent in Acc rows dst ...
Op rscalarOp(const Target &t, int64_t dst, int64_t src, int64_t rows,
             bool rsqrt);
// VRowMul: Out rows src + g*stride, g < rows, to Out rows dst + g*stride
// through the normalization's last step (the fields above).
Op vrowmulOp(const Target &t, int64_t dst, int64_t src, int64_t rows,
             int64_t stride, int64_t scal, int64_t sumRow, int64_t param,
             bool w16, bool out16, bool center);
// VRowExp: Out rows src + g*stride, g < rows, to Out rows dst + g*stride
// through the softmax's last step (the fields above; sumRow: the acc rows
// of VReduce exp, whose lane 3 holds each row's maximum).
Op vrowexpOp(const Target &t, int64_t dst, int64_t src, int64_t rows,
             int64_t stride, int64_t scal, int64_t sumRow, bool w16,
             bool out16);

// The integer fields of each kind, in text order (the flags reset, bias
// and avg, SetReg's register, and the DMA class and memory are apart).
struct OpField {
  const char *name;
  int64_t Op::*member;
};
const std::vector<OpField> &opFields(OpKind k);

// Rows an array op streams through the array: inner x outer, and for DwGemm
// ((inner - 1) x stride + taps) x outer.
int64_t streamedRows(const Op &op);

// One op in the layer's text syntax: "load mem=the act memory row=0 dram=64
// ysize=1 xsize=16 stride=16 wait=load->GEMM" (fields at their defaults left
// out, except the ones every op of the kind prints).
std::string formatOp(const Target &t, const Op &op);
// Parses formatOp's text, or says why it cannot.
Status parseOp(const Target &t, const std::string &text, Op &op);

// What `op` reads and writes: [lo, hi) rows of a memory (domain = memory
// index) or bytes of DRAM (domain = t.memories.size()). `regs` the register
// values in effect (a Pool's window; nullptr: unknown, a Pool then reads
// its whole memory).
struct Access {
  int domain;
  uint64_t lo, hi;
  bool write;
};
void accesses(const Target &t, const Op &op, const int32_t *regs,
              std::vector<Access> &out);

} // namespace ember::accel

#endif // EMBER_ACCEL_OP_H

// npu_vector: the VECTOR engine (REQUANT, VADD, POOL, LUTLD, LUT, VMUL, UPSAMPLE, and SETREG of
// its registers).
// Cycle 0 (start) latches the instruction, reads REQUANT's multiplier and shift rows (VMUL with
// bcast: its b row) and checks POOL's geometry; from cycle 1 one source row (two for VADD and
// VMUL) is read per cycle, and each result row is written in the cycle its (last) source row
// arrives, so an instruction takes rows + 2 cycles (rows * KH * KW + 2 for POOL, whose taps
// outside a bounded source still take their cycle; 2 * rows + 2 for a bilinear UPSAMPLE, which
// reads two of its four taps a cycle). REQUANT with bias reads its bias row (param + 2) on the
// second ACC port beside each source row and adds it (int32, wrapping) before the
// multiply-shift: no extra cycle. REQUANT and VMUL share one requantization unit per lane.
// The output table (256 bytes, loaded by LUTLD from ACC rows, one a cycle) maps each result of
// an instruction with `lut` (and every row of LUT) on its way to OUT.
// When a destination row could be overwritten before it is read as a source (VADD, VMUL, LUT:
// dst within [src + 2, src + rows) of a streamed source; POOL, UPSAMPLE: dst rows overlapping
// the source span), the results go to a staging buffer and are copied to OUT afterwards
// (rows + 1 more cycles), so every source row is read before any destination row is written,
// as the ISA defines.
// 16-bit activations (spec version 3): an operand or result that is a 16-bit row is read or
// written as its row pair (the ports' `*_rwide`/`*_wwide`: the low bytes, excess-128, at r and
// the high bytes at r + rows/2) in the same cycle, so each 16-bit form keeps its 8-bit form's
// timing; the lanes compute on int16 values. REQUANT acc16 reads its two plane sums (and an
// int64 bias) as ACC row pairs and the requantization unit takes a 48-bit input. LUT w16 looks
// lanes up in the 16-bit table (513 entries, interpolated) lut16_lanes_per_cycle lanes a cycle:
// a row takes DIM / lanes cycles (the source row is read once and held).
// VREDUCE (spec version 6) reads a group's rows one a cycle like POOL's taps (tile k of group g
// at src + g*gstride + k*kstride), folds each arriving row's lanes (the last tile: its first
// `last`) into the group's running maximum or int32 sum, and writes the result to every lane of
// ACC row dst + g on its own ACC write port in the cycle the group's last row arrives: rows*len
// + 2 cycles. It reads OUT and writes ACC, so it is never staged.
// RSCALAR (spec version 7) reads one ACC row a cycle like LUTLD and writes the per-row scalar of
// its 96-bit value (lanes 0..2) on the same ACC write port as the row arrives: a leading-zero
// count, a variable shift and an interpolated ROM read (1/x: 257 entries, 1/sqrt(x): 385, from
// npu_spec_pkg), rows + 2 cycles. Its destination is its source or apart from it, so row g is
// written after it is read and before nothing that reads it.
// VROWMUL (spec version 8) reads the channels' mult and shift rows in its first cycle (as
// REQUANT) and their int64 bias rows in its second, then one OUT row a cycle with its row's
// RSCALAR result and VREDUCE sum on the two ACC read ports, and writes each result row as it
// arrives (the normalization's deviation times R times mult, floored, plus the bias, rounded
// once): rows + 3 cycles, never staged (in place or apart).
// VREDUCE exp (spec version 10) reads each group's maximum (lane 0 of its own ACC row) with its
// first row, as sq reads its sum, and sums each element's exponential (the EXP2 ROM, one
// softmax_exp a lane) into 64 bits: S in lanes 0-1 of the group's row, the maximum in lane 3.
// VROWEXP (spec version 11) is VROWMUL's sequencer without the parameter reads (their two cycles
// kept: rows + 3): each row's exponentials again, times its RSCALAR reciprocal and the output
// multiplier, rounded once; the maximum is lane 3 of the `sum` port's row.
module npu_vector
  import npu_arith_pkg::*;
  import npu_spec_pkg::NPU_NUM_REG_IDS;
#(
    parameter int DIM = 16
) (
    input  logic                 clk,
    input  logic                 rst,
    input  logic                 start,
    input  logic                 running,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic [127:0]         insn,
    /* verilator lint_on UNUSEDSIGNAL */
    output logic                 exec_done,
    // ACC reads (two ports: the parameter rows are read together)
    output logic [1:0]           acc_re,
    output logic [1:0]           acc_rwide,
    output logic [1:0][10:0]     acc_raddr,
    input  logic [1:0][32*DIM-1:0] acc_rdata,
    input  logic [1:0][32*DIM-1:0] acc_rdata_hi,
    // ACC write (VREDUCE's and RSCALAR's per-row scalars)
    output logic                 acc_we,
    output logic [10:0]          acc_waddr,
    output logic [32*DIM-1:0]    acc_wdata,
    // OUT reads (a and b) and write
    output logic [1:0]           out_re,
    output logic [1:0]           out_rwide,
    output logic [1:0][10:0]     out_raddr,
    input  logic [1:0][8*DIM-1:0] out_rdata,
    input  logic [1:0][8*DIM-1:0] out_rdata_hi,
    output logic                 out_we,
    output logic                 out_wwide,
    output logic [10:0]          out_waddr,
    output logic [8*DIM-1:0]     out_wdata,
    output logic [8*DIM-1:0]     out_wdata_hi,
    // staging buffer
    output logic                 stg_re,
    output logic                 stg_rwide,
    output logic [10:0]          stg_raddr,
    input  logic [8*DIM-1:0]     stg_rdata,
    input  logic [8*DIM-1:0]     stg_rdata_hi,
    output logic                 stg_we,
    output logic                 stg_wwide,
    output logic [10:0]          stg_waddr,
    output logic [8*DIM-1:0]     stg_wdata,
    output logic [8*DIM-1:0]     stg_wdata_hi,
    output logic                 error,       // POOL geometry error (cycle 1 of the instruction)
    output logic [1:0]           error_code,  // 1: registers < 1, 2: too large, 3: out of range
    output logic [31:0]          regs_out[NPU_NUM_REG_IDS]  // the registers, for error messages
);
`include "npu_spec.vh"
  localparam int LUT_ROWS = 256 / (4 * DIM);  // ACC rows of the output table
  localparam int LUT16_ROWS = (1026 + 4 * DIM - 1) / (4 * DIM);  // ... of the 16-bit table
  localparam int L16P = NPU_LUT16_LANES_PER_CYCLE;  // 16-bit table lookups a cycle
  localparam int L16G = (DIM + L16P - 1) / L16P;    // cycles per row of LUT w16
  localparam int OH = NPU_OUT_HALF;
  logic signed [31:0] regs[NPU_NUM_REG_IDS];
  typedef enum logic [3:0] {
    K_REQUANT, K_VADD, K_POOL, K_LUTLD, K_LUT, K_VMUL, K_UP, K_RED, K_RSC, K_RMUL
  } kind_t;
  kind_t kind;
  logic setup /*verilator public_flat_rd*/;  // cycles 1.. of an instruction (a fault-injection point)
  logic staged;
  logic [1:0] perr;
  // Latched fields.
  logic [10:0] dst, src_a, src_b, param;
  logic rq_bias, lut_en, bcast;
  // 16-bit forms: operand a (the source) and b are 16-bit rows, the result is one, REQUANT's
  // accumulators are 16x8 ones, VMUL has no b, LUTLD/LUT use the 16-bit table.
  logic a16, b16, r16, acc16, one, t16;
  logic x_add;                      // VADD exact (spec version 4)
  logic [13:0] rows;
  logic signed [31:0] zp, lo, hi;
  logic [31:0] mult[DIM], shift[DIM];
  logic [8*DIM-1:0] bvec, bvec_hi;  // VMUL's broadcast row
  logic params_pending, bvec_pending;
  // The output table, and the 16-bit table (LUTLD w16) with LUT w16's results so far. The
  // simulator's retirement trace reads the tables directly (public), like the scratchpads.
  logic [7:0] lut[256] /*verilator public_flat_rd*/;
  logic [15:0] lut16[513] /*verilator public_flat_rd*/;
  logic [16*DIM-1:0] l16_res;
  // Read sequencer.
  logic [13:0] rd_i;                // output row being read
  logic rd_active;
  // POOL address generator (bounded sources: row0 = oy * stride - pad_top, the window's top).
  logic [31:0] kw, pstride, in_w, out_w, taps;
  logic [31:0] line_base, col, tap_base, ox, kx, ky, tap;
  logic signed [31:0] row0, in_h, pad_l;
  // UPSAMPLE: source width and lines, factor, mode, zero point; output line and column.
  logic [9:0] up_w, up_h;
  logic [1:0] up_k, up_mode;
  logic [12:0] up_y, up_x, up_ow;
  logic up_ph;                      // bilinear: taps of the first (0) or second (1) source line
  // VREDUCE: this group's first row, the tile's offset in it, strides, lanes of the last tile,
  // sum (else maximum), the group's running result.
  logic [31:0] red_gbase, red_koff;
  logic [11:0] red_gstride, red_kstride;
  logic [6:0] red_last;
  logic red_sum;
  logic signed [31:0] red_acc;
  // VREDUCE sq (spec version 9): squares (else max/sum), center, the group's sum (latched from
  // its ACC row as the group's first row arrives), the running 96-bit W (in 128 bits).
  // exp (spec version 10): the group's S so far; sq_sum then holds the group's maximum.
  logic red_sq, red_center, red_exp;
  logic signed [31:0] sq_sum;
  logic [127:0] sq_acc, sq_now;
  logic [63:0] ex_acc, ex_now;
  logic rs_sqrt;                    // RSCALAR: 1/sqrt(x) (else 1/x)
  // VROWMUL: the row step, the ACC rows of the scalars and sums, center, the bias rows still to
  // read (cycle 1) or to latch (cycle 2), the channels' biases, the source row's offset.
  logic [11:0] rm_stride;
  logic [10:0] rm_scal, rm_sum;
  logic rm_center, rm_wait, rm_bias_pending;
  logic rm_exp;                     // VROWEXP (spec version 11): softmax's form, no parameters
  logic [63:0] rm_bias[DIM];
  logic [31:0] rm_off, p_off;
  // Pipeline stage aligned with the read data.
  logic p_valid, p_first, p_last_tap, p_last, p_skip;
  logic [13:0] p_row;
  logic [31:0] p_tap;               // LUT w16: the lane group of this cycle
  logic [4:0] p_wy, p_wx0, p_wx1;
  logic signed [31:0] pacc[DIM];
  logic [15:0] pcount;              // POOL: taps inside the source so far
  // Copy pass.
  logic [13:0] cp_i;
  logic cp_active, cp_valid, cp_last;
  logic [13:0] cp_row;

  for (genvar r = 0; r < NPU_NUM_REG_IDS; r++) begin : g_regs
    assign regs_out[r] = regs[r];
  end

  logic [7:0] op;
  logic op_setreg, is_rq, is_add, is_pool, is_lutld, is_lut, is_mul, is_up, is_red, is_rsc;
  logic is_rmul, is_rexp;
  assign op = insn[`NPU_F_OPCODE];
  assign op_setreg = op == NPU_OP_SETREG;
  assign is_rq = op == NPU_OP_REQUANT;
  assign is_add = op == NPU_OP_VADD;
  assign is_pool = op == NPU_OP_POOL;
  assign is_lutld = op == NPU_OP_LUTLD;
  assign is_lut = op == NPU_OP_LUT;
  assign is_mul = op == NPU_OP_VMUL;
  assign is_up = op == NPU_OP_UPSAMPLE;
  assign is_red = op == NPU_OP_VREDUCE;
  assign is_rsc = op == NPU_OP_RSCALAR;
  assign is_rmul = op == NPU_OP_VROWMUL;
  assign is_rexp = op == NPU_OP_VROWEXP;

  // POOL geometry at start (the same checks as checkPool in Arith.h).
  logic [1:0] g_err;
  logic g_overlap;
  always_comb begin
    logic signed [31:0] gkh, gkw, gs, giw, gow, nrows, oy, oxx, last, le, last2, span, psrc, pdst;
    logic signed [31:0] gih, gpt, gpl, plimit;
    // A 16-bit map lies in the lower half of OUT.
    plimit = insn[`NPU_F_POOL_W16] ? 32'(OH) : 32'(NPU_OUT_ROWS);
    gkh = regs[NPU_REG_POOL_KH];
    gkw = regs[NPU_REG_POOL_KW];
    gs = regs[NPU_REG_POOL_STRIDE];
    giw = regs[NPU_REG_POOL_IN_W];
    gow = regs[NPU_REG_POOL_OUT_W];
    nrows = 32'(insn[`NPU_F_POOL_ROWS]);
    psrc = 32'(insn[`NPU_F_POOL_SRC]);
    pdst = 32'(insn[`NPU_F_POOL_DST]);
    gih = 32'(insn[`NPU_F_POOL_IN_H]);
    gpt = 32'(insn[`NPU_F_POOL_PAD_TOP]);
    gpl = 32'(insn[`NPU_F_POOL_PAD_LEFT]);
    g_err = 2'd0;
    g_overlap = 1'b0;
    oy = 0;
    oxx = 0;
    last = 0;
    le = 0;
    last2 = 0;
    span = 0;
    if (!(start && is_pool)) g_err = 2'd0;  // evaluated at start only
    else if (gkh < 1 || gkw < 1 || gs < 1 || giw < 1 || gow < 1) g_err = 2'd1;
    else if (gkh > 16 || gkw > 16 || gs > 16 || giw > 4096 || gow > 4096) g_err = 2'd2;
    else if (gih > 0) begin
      // A bounded source: every window holds a tap inside the in_h x IN_W map.
      oy = (nrows - 1) / gow;
      oxx = (nrows < gow ? nrows : gow) - 1;
      span = gih * giw;
      if (gpt >= gkh || gpl >= gkw) g_err = 2'd2;
      else if (oy * gs - gpt >= gih || oxx * gs - gpl >= giw || psrc + span > plimit)
        g_err = 2'd3;
      g_overlap = pdst < psrc + span && psrc < pdst + nrows;
    end else begin
      oy = (nrows - 1) / gow;
      oxx = (nrows - 1) % gow;
      last = (oy * gs + gkh - 1) * giw + oxx * gs + gkw - 1;
      le = (nrows / gow) * gow - 1;
      if (le >= 0) begin
        last2 = ((le / gow) * gs + gkh - 1) * giw + (le % gow) * gs + gkw - 1;
        if (last2 > last) last = last2;
      end
      span = last + 1;
      if (psrc + span > plimit) g_err = 2'd3;
      g_overlap = pdst < psrc + span && psrc < pdst + nrows;
    end
  end

  // Staging: a destination row written before a source row that aliases it is read.
  logic add_hazard, lut_hazard, mul_hazard, up_hazard;
  logic [13:0] up_rows;             // UPSAMPLE's result rows: oh * f * w
  always_comb begin
    logic signed [31:0] d, a, b, n, s, us, un, dd, aa, bb;
    {d, a, b, n, s, us, un, dd, aa, bb} = '0;
    add_hazard = 1'b0;
    lut_hazard = 1'b0;
    mul_hazard = 1'b0;
    up_hazard = 1'b0;
    up_rows = '0;
    // Decided in an instruction's first cycle (the simulator skips it in the others).
    if (start) begin
      d = 32'(insn[`NPU_F_VADD_DST]);
      a = 32'(insn[`NPU_F_VADD_A]);
      b = 32'(insn[`NPU_F_VADD_B]);
      n = 32'(insn[`NPU_F_VADD_ROWS]);
      add_hazard = (d >= a + 2 && d < a + n) || (d >= b + 2 && d < b + n);
      d = 32'(insn[`NPU_F_LUT_DST]);
      s = 32'(insn[`NPU_F_LUT_SRC]);
      n = 32'(insn[`NPU_F_LUT_ROWS]);
      lut_hazard = d >= s + 2 && d < s + n;
      d = 32'(insn[`NPU_F_VMUL_DST]);
      a = 32'(insn[`NPU_F_VMUL_A]);
      b = 32'(insn[`NPU_F_VMUL_B]);
      n = 32'(insn[`NPU_F_VMUL_ROWS]);
      // With 16-bit operands or result, every pair of planes (a row pair's second row is OH
      // rows on): an 8-bit source may lie just before a 16-bit destination's high plane.
      for (int pd = 0; pd < 2; pd++)
        for (int ps = 0; ps < 2; ps++) begin
          dd = d + (pd == 1 ? 32'(OH) : 0);
          aa = a + (ps == 1 ? 32'(OH) : 0);
          bb = b + (ps == 1 ? 32'(OH) : 0);
          if ((pd == 0 || insn[`NPU_F_VMUL_OUT16]) && (ps == 0 || insn[`NPU_F_VMUL_A16]) &&
              dd >= aa + 2 && dd < aa + n)
            mul_hazard = 1'b1;
          if ((pd == 0 || insn[`NPU_F_VMUL_OUT16]) && (ps == 0 || insn[`NPU_F_VMUL_B16]) &&
              !insn[`NPU_F_VMUL_BCAST] && !insn[`NPU_F_VMUL_ONE] && dd >= bb + 2 && dd < bb + n)
            mul_hazard = 1'b1;
        end
      d = 32'(insn[`NPU_F_UPSAMPLE_DST]);
      us = 32'(insn[`NPU_F_UPSAMPLE_SRC]);
      un = 32'(insn[`NPU_F_UPSAMPLE_H]) * 32'(insn[`NPU_F_UPSAMPLE_W]);
      n = 32'(insn[`NPU_F_UPSAMPLE_OH]) * (32'(insn[`NPU_F_UPSAMPLE_W]) <<
                                           insn[`NPU_F_UPSAMPLE_FACTOR]);
      up_rows = 14'(n);
      up_hazard = d < us + un && us < d + n;
    end
  end

  // UPSAMPLE taps of the output row being read (Y = up_y, X = up_x).
  logic [9:0] ty0, ty1, tx0, tx1;
  logic [4:0] wy0, wy1, wx0, wx1;
  always_comb begin
    {ty0, ty1, wy0, wy1, tx0, tx1, wx0, wx1} = '0;
    if (kind == K_UP) begin  // (the simulator skips the address generator otherwise)
      up_taps(up_y, up_h, up_k, up_mode, ty0, ty1, wy0, wy1);
      up_taps(up_x, up_w, up_k, up_mode, tx0, tx1, wx0, wx1);
    end
  end

  // Read side.
  logic rd_fire, rd_out_last_tap, rd_out_first_tap, rd_skip;
  always_comb begin
    logic [31:0] uline;
    rd_fire = running && setup && rd_active && perr == 0 && !rm_wait;
    acc_re = 2'b00;
    acc_rwide = 2'b00;
    out_rwide = {b16, a16};
    acc_raddr[0] = 11'(32'(src_a) + 32'(rd_i));
    acc_raddr[1] = param + 1;
    out_re = 2'b00;
    out_raddr[0] = 11'(32'(src_a) + 32'(rd_i));
    out_raddr[1] = 11'(32'(src_b) + 32'(rd_i));
    rd_out_last_tap = 1'b1;
    rd_out_first_tap = 1'b1;
    rd_skip = 1'b0;
    uline = 32'(src_a) + (up_ph ? 32'(ty1) : 32'(ty0)) * 32'(up_w);
    if (start && is_rq) begin
      acc_re = 2'b11;
      acc_raddr[0] = insn[`NPU_F_REQUANT_PARAM_LSB +: 11];
      acc_raddr[1] = 11'(32'(insn[`NPU_F_REQUANT_PARAM]) + 1);
    end else if (start && is_rmul) begin
      acc_re = 2'b11;
      acc_raddr[0] = insn[`NPU_F_VROWMUL_PARAM];
      acc_raddr[1] = 11'(32'(insn[`NPU_F_VROWMUL_PARAM]) + 1);
    end else if (running && setup && rm_wait) begin
      acc_re = rm_exp ? 2'b00 : 2'b11;  // VROWMUL's int64 biases: the low and the high words
      acc_raddr[0] = param + 11'd2;
      acc_raddr[1] = param + 11'd3;
    end else if (start && is_mul && insn[`NPU_F_VMUL_BCAST]) begin
      out_re[1] = 1'b1;
      out_rwide[1] = insn[`NPU_F_VMUL_B16];
      out_raddr[1] = insn[`NPU_F_VMUL_B_LSB +: 11];
    end else if (rd_fire) begin
      case (kind)
        K_REQUANT: begin
          // acc16: the plane sums (src + i, src + i + ACC_HALF) on one port, the int64 bias's
          // two words on the other.
          acc_re[0] = 1'b1;
          acc_rwide[0] = acc16;
          if (rq_bias) begin
            acc_re[1] = 1'b1;
            acc_rwide[1] = acc16;
            acc_raddr[1] = param + 11'd2;
          end
        end
        K_LUTLD, K_RSC: acc_re[0] = 1'b1;
        K_RMUL: begin
          acc_re = 2'b11;
          acc_raddr[0] = 11'(32'(rm_scal) + 32'(rd_i));
          acc_raddr[1] = 11'(32'(rm_sum) + 32'(rd_i));
          out_re[0] = 1'b1;
          out_raddr[0] = 11'(32'(src_a) + rm_off);
        end
        K_VADD: out_re = 2'b11;
        K_LUT: begin
          // LUT w16 reads its row in the first of its lane-group cycles (the data is held).
          out_re[0] = !t16 || tap == 0;
          rd_out_first_tap = !t16 || tap == 0;
          rd_out_last_tap = !t16 || tap + 1 == taps;
        end
        K_VMUL: out_re = {!bcast && !one, 1'b1};
        K_RED: begin
          // sq, exp: the group's sum or maximum, its destination row's lane 0, read with its
          // first row.
          acc_re[0] = (red_sq || red_exp) && tap == 0;
          acc_raddr[0] = 11'(32'(dst) + 32'(rd_i));
          out_re[0] = 1'b1;
          out_raddr[0] = 11'(red_gbase + red_koff);
          rd_out_first_tap = tap == 0;
          rd_out_last_tap = tap + 1 == taps;
        end
        K_UP: begin
          out_re = {up_mode != 2'd0, 1'b1};
          out_raddr[0] = 11'(uline + 32'(tx0));
          out_raddr[1] = 11'(uline + 32'(tx1));
          rd_out_first_tap = up_mode == 2'd0 || !up_ph;
          rd_out_last_tap = up_mode == 2'd0 || up_ph;
        end
        default: begin  // K_POOL
          // A tap outside a bounded source is not read (and skipped).
          rd_skip = in_h > 0 && (row0 + $signed(ky) < 0 || row0 + $signed(ky) >= in_h ||
                                 $signed(col + kx) < pad_l ||
                                 $signed(col + kx) - pad_l >= $signed(in_w));
          out_re[0] = !rd_skip;
          out_raddr[0] = 11'(line_base + col + tap_base + kx);
          rd_out_last_tap = tap + 1 == taps;
          rd_out_first_tap = tap == 0;
        end
      endcase
    end
    stg_re = running && cp_active;
    stg_rwide = r16;
    stg_raddr = cp_i[10:0];
  end

  // Write side: compute from the row that arrived.
  logic [8*DIM-1:0] result, result_hi;
  logic signed [31:0] nacc[DIM];
  logic [15:0] ncount;
  logic [16*DIM-1:0] l16_now;       // LUT w16: l16_res with this cycle's lane group
  always_comb begin
    logic [4:0] ls;
    ls = regs[NPU_REG_ADD_LSHIFT][4:0];
    result = '0;
    result_hi = '0;
    l16_now = l16_res;
    ncount = (p_first ? 16'd0 : pcount) + (p_skip ? 16'd0 : 16'd1);
    // Only when a row arrived: the simulator then skips the lanes' arithmetic in idle cycles.
    for (int l = 0; l < DIM; l++) nacc[l] = pacc[l];
    if (p_valid && kind == K_LUT && t16)
      // The lane group of this cycle through the 16-bit table (L16P lookups).
      for (int j = 0; j < L16P; j++) begin
        logic [31:0] lane;
        logic signed [31:0] x;
        logic [9:0] idx;
        lane = p_tap * L16P + 32'(j);
        if (lane < DIM) begin
          x = wide_value(out_rdata[0][8*lane+:8], out_rdata_hi[0][8*lane+:8]);
          idx = 10'(32'sd256 + (x >>> 7));
          l16_now[16*lane+:16] = lut16_interp(lut16[idx], lut16[idx+1], x[6:0]);
        end
      end
    if (p_valid)
    for (int l = 0; l < DIM; l++) begin
      logic signed [31:0] v, v1, vb, base, rq_m, rq_s, rq_zp, rq_lo, rq_hi, c, za, zb, rq, rq32;
      logic signed [63:0] rq_x;
      logic [15:0] pre;
      // The lane's operands: int16 values of 16-bit rows, int8 ones of the others.
      v = a16 ? wide_value(out_rdata[0][8*l+:8], out_rdata_hi[0][8*l+:8])
              : 32'($signed(out_rdata[0][8*l+:8]));
      v1 = a16 ? wide_value(out_rdata[1][8*l+:8], out_rdata_hi[1][8*l+:8])
               : 32'($signed(out_rdata[1][8*l+:8]));
      vb = bcast ? (b16 ? wide_value(bvec[8*l+:8], bvec_hi[8*l+:8]) : 32'($signed(bvec[8*l+:8])))
                 : (b16 ? wide_value(out_rdata[1][8*l+:8], out_rdata_hi[1][8*l+:8])
                        : 32'($signed(out_rdata[1][8*l+:8])));
      pre = 16'd0;
      // REQUANT and VMUL share the requantization unit: its input and parameters. acc16: the
      // 16x8 accumulator (high plane's sum * 256 + low plane's sum + the int64 bias).
      if (acc16)
        rq_x = (64'($signed(acc_rdata_hi[0][32*l+:32])) <<< 8) +
               64'($signed(acc_rdata[0][32*l+:32])) +
               (rq_bias ? $signed({acc_rdata_hi[1][32*l+:32], acc_rdata[1][32*l+:32]}) : 64'sd0);
      else begin
        rq32 = rq_bias ? $signed(acc_rdata[0][32*l+:32]) + $signed(acc_rdata[1][32*l+:32])
                       : $signed(acc_rdata[0][32*l+:32]);  // int32, wrapping
        rq_x = 64'(rq32);
      end
      rq_m = $signed(mult[l]);
      rq_s = $signed(shift[l]);
      rq_zp = zp;
      rq_lo = lo;
      rq_hi = hi;
      if (kind == K_VMUL) begin
        // (a - za) * (b - zb), or a - za with `one`: zero points of 16-bit operands are the
        // registers' low 16 bits, of 8-bit ones their low 8 bits; int32 wrapping product.
        za = a16 ? 32'($signed(regs[NPU_REG_MUL_A_ZP][15:0]))
                 : 32'($signed(regs[NPU_REG_MUL_A_ZP][7:0]));
        zb = b16 ? 32'($signed(regs[NPU_REG_MUL_B_ZP][15:0]))
                 : 32'($signed(regs[NPU_REG_MUL_B_ZP][7:0]));
        rq_x = 64'($signed(one ? v - za : 32'((v - za) * (vb - zb))));
        rq_m = regs[NPU_REG_MUL_MULT];
        rq_s = regs[NPU_REG_MUL_SHIFT];
        rq_zp = regs[NPU_REG_MUL_OUT_ZP];
        rq_lo = regs[NPU_REG_MUL_MIN];
        rq_hi = regs[NPU_REG_MUL_MAX];
      end
      case (kind)
        K_POOL: begin
          // The first tap starts from the identity; taps outside the source are skipped.
          base = p_first ? (insn_avg ? 32'sd0 : (a16 ? -32'sd32768 : -32'sd128)) : pacc[l];
          nacc[l] = p_skip ? base : (insn_avg ? base + v : (v > base ? v : base));
        end
        K_UP: begin
          // Bilinear: w_y * (w_x0 (v0 - zp) + w_x1 (v1 - zp)), summed over the two lines.
          c = 32'(p_wy) * (32'(p_wx0) * (v - zp) + 32'(p_wx1) * (v1 - zp));
          nacc[l] = p_first ? c : pacc[l] + c;
        end
        default: ;
      endcase
      case (kind)
        K_REQUANT, K_VMUL: begin
          rq = mbqm48(rq_x, rq_m, rq_s) + rq_zp;
          pre = r16 ? clamp_i16(rq, rq_lo, rq_hi) : {8'd0, clamp_i8(rq, rq_lo, rq_hi)};
        end
        K_VADD:
          if (a16)
            pre = quant_add16(v, v1, ls, regs[NPU_REG_ADD_A_ZP], regs[NPU_REG_ADD_A_MULT],
                              regs[NPU_REG_ADD_A_SHIFT], regs[NPU_REG_ADD_B_ZP],
                              regs[NPU_REG_ADD_B_MULT], regs[NPU_REG_ADD_B_SHIFT],
                              regs[NPU_REG_ADD_OUT_MULT], regs[NPU_REG_ADD_OUT_SHIFT],
                              regs[NPU_REG_ADD_OUT_ZP], regs[NPU_REG_ADD_MIN],
                              regs[NPU_REG_ADD_MAX]);
          else if (x_add)
            pre = {8'd0, quant_add_exact($signed(out_rdata[0][8*l+:8]),
                                         $signed(out_rdata[1][8*l+:8]),
                                         {regs[NPU_REG_ADD_X_A_MULT_HI][15:0],
                                          regs[NPU_REG_ADD_X_A_MULT]},
                                         {regs[NPU_REG_ADD_X_B_MULT_HI][15:0],
                                          regs[NPU_REG_ADD_X_B_MULT]},
                                         {regs[NPU_REG_ADD_X_OFFSET_HI],
                                          regs[NPU_REG_ADD_X_OFFSET_LO]},
                                         regs[NPU_REG_ADD_X_SHIFT], regs[NPU_REG_ADD_MIN],
                                         regs[NPU_REG_ADD_MAX])};
          else
            pre = {8'd0, quant_add($signed(out_rdata[0][8*l+:8]), $signed(out_rdata[1][8*l+:8]),
                                   ls, regs[NPU_REG_ADD_A_ZP], regs[NPU_REG_ADD_A_MULT],
                                   regs[NPU_REG_ADD_A_SHIFT], regs[NPU_REG_ADD_B_ZP],
                                   regs[NPU_REG_ADD_B_MULT], regs[NPU_REG_ADD_B_SHIFT],
                                   regs[NPU_REG_ADD_OUT_MULT], regs[NPU_REG_ADD_OUT_SHIFT],
                                   regs[NPU_REG_ADD_OUT_ZP], regs[NPU_REG_ADD_MIN],
                                   regs[NPU_REG_ADD_MAX])};
        K_POOL:
          pre = insn_avg ? (a16 ? pool_average16(nacc[l], ncount)
                                : {8'd0, pool_average(nacc[l], ncount)})
                         : nacc[l][15:0];
        K_UP:
          if (up_mode == 2'd0) pre = v[15:0];
          else if (a16)
            pre = clamp_i16(zp + round_half_even(nacc[l], 5'(2 * 32'(up_k) + 2)), -32'sd32768,
                            32'sd32767);
          else
            pre = {8'd0, clamp_i8(zp + round_half_even(nacc[l], 5'(2 * 32'(up_k) + 2)),
                                  -32'sd128, 32'sd127)};
        K_RMUL:
          if (rm_exp)
            pre = row_exp_out(softmax_exp(v, $signed(acc_rdata[1][127:96]),
                                          regs[NPU_REG_ROW_SM_IN_MULT],
                                          regs[NPU_REG_ROW_SM_IN_SHIFT]),
                              $signed(acc_rdata[0][31:0]), $signed(acc_rdata[0][63:32]),
                              regs[NPU_REG_ROW_SM_OUT_MULT], regs[NPU_REG_ROW_SM_OUT_SHIFT],
                              regs[NPU_REG_ROW_OUT_ZP], regs[NPU_REG_ROW_MIN],
                              regs[NPU_REG_ROW_MAX], r16);
          else
            pre = row_mul_norm(v, rm_center, regs[NPU_REG_ROW_N], $signed(acc_rdata[1][31:0]),
                               regs[NPU_REG_ROW_X_ZP], $signed(acc_rdata[0][31:0]),
                               $signed(acc_rdata[0][63:32]), $signed(mult[l]),
                               $signed(shift[l]), $signed(rm_bias[l]),
                               regs[NPU_REG_ROW_OUT_ZP], regs[NPU_REG_ROW_MIN],
                               regs[NPU_REG_ROW_MAX], r16);
        // K_LUT (K_LUTLD writes the table, not OUT)
        default: pre = t16 ? l16_now[16*l+:16] : v[15:0];
      endcase
      if (r16) begin
        result[8*l+:8] = pre[7:0] ^ 8'h80;
        result_hi[8*l+:8] = pre[15:8];
      end else result[8*l+:8] = lut_en ? lut[pre[7:0] ^ 8'h80] : pre[7:0];
    end
    // VREDUCE: the arriving row's lanes into the group's maximum or sum (a maximum starts from
    // below every int16, a sum from 0; a group has at least one element).
    red_now = p_first ? (red_sum ? 32'sd0 : -32'sd32768) : red_acc;
    if (p_valid && kind == K_RED)
      for (int l = 0; l < DIM; l++) begin
        logic signed [31:0] v;
        v = a16 ? wide_value(out_rdata[0][8*l+:8], out_rdata_hi[0][8*l+:8])
                : 32'($signed(out_rdata[0][8*l+:8]));
        if (!p_last_tap || red_last == 0 || 7'(l) < red_last)
          red_now = red_sum ? red_now + v : (v > red_now ? v : red_now);
      end
    // VREDUCE sq: each element's deviation squared into the group's W (from epsilon).
    sq_now = p_first ? {64'd0, regs[NPU_REG_ROW_EPS_HI], regs[NPU_REG_ROW_EPS_LO]} : sq_acc;
    if (p_valid && kind == K_RED && red_sq)
      for (int l = 0; l < DIM; l++) begin
        logic signed [31:0] v, sg;
        logic signed [63:0] d;
        logic signed [127:0] d2;
        v = a16 ? wide_value(out_rdata[0][8*l+:8], out_rdata_hi[0][8*l+:8])
                : 32'($signed(out_rdata[0][8*l+:8]));
        sg = p_first ? $signed(acc_rdata[0][31:0]) : sq_sum;
        d = red_center ? $signed({{32{regs[NPU_REG_ROW_N][31]}}, regs[NPU_REG_ROW_N]}) *
                             $signed({{32{v[31]}}, v}) - $signed({{32{sg[31]}}, sg})
                       : $signed({{32{v[31]}}, v}) -
                             $signed({{32{regs[NPU_REG_ROW_X_ZP][31]}}, regs[NPU_REG_ROW_X_ZP]});
        d2 = $signed({{64{d[63]}}, d}) * $signed({{64{d[63]}}, d});
        if (!p_last_tap || red_last == 0 || 7'(l) < red_last) sq_now = sq_now + d2;
      end
    // VREDUCE exp: each element's exponential into the group's S (from 0), the maximum held.
    ex_now = p_first ? 64'd0 : ex_acc;
    ex_m = p_first ? $signed(acc_rdata[0][31:0]) : sq_sum;
    if (p_valid && kind == K_RED && red_exp)
      for (int l = 0; l < DIM; l++) begin
        logic signed [31:0] v;
        v = a16 ? wide_value(out_rdata[0][8*l+:8], out_rdata_hi[0][8*l+:8])
                : 32'($signed(out_rdata[0][8*l+:8]));
        if (!p_last_tap || red_last == 0 || 7'(l) < red_last)
          ex_now = ex_now + 64'(softmax_exp(v, ex_m, regs[NPU_REG_ROW_SM_IN_MULT],
                                            regs[NPU_REG_ROW_SM_IN_SHIFT]));
      end
    acc_we = running && setup && p_valid && p_last_tap && (kind == K_RED || kind == K_RSC);
    acc_waddr = 11'(32'(dst) + 32'(p_row));
    acc_wdata = kind == K_RSC ? (32*DIM)'({rs_exp, rs_val})
              : red_sq ? (32*DIM)'(sq_now[95:0])
              : red_exp ? (32*DIM)'({ex_m, 32'd0, ex_now}) : {DIM{red_now}};
    out_we = 1'b0;
    stg_we = 1'b0;
    out_wwide = r16;
    stg_wwide = r16;
    out_waddr = kind == K_RMUL ? 11'(32'(dst) + p_off) : 11'(32'(dst) + 32'(p_row));
    stg_waddr = p_row[10:0];
    out_wdata = result;
    out_wdata_hi = result_hi;
    stg_wdata = result;
    stg_wdata_hi = result_hi;
    if (p_valid && p_last_tap && kind != K_LUTLD && kind != K_RED && kind != K_RSC) begin
      if (staged) stg_we = 1'b1;
      else out_we = 1'b1;
    end
    if (cp_valid) begin
      out_we = 1'b1;
      out_waddr = 11'(32'(dst) + 32'(cp_row));
      out_wdata = stg_rdata;
      out_wdata_hi = stg_rdata_hi;
    end
    error = running && setup && perr != 0;
    error_code = perr;
    exec_done = running && ((start && op_setreg) ||
                            (setup && !staged && p_valid && p_last) ||
                            (setup && staged && cp_valid && cp_last));
  end
  logic insn_avg;
  logic signed [31:0] red_now, ex_m;

  // RSCALAR: the arriving ACC row's scalar v (lanes 0..2, unsigned) as a value and an exponent:
  // lz = the leading zeros of v as a 128-bit value; 1/x: p = 127 - lz and the 16 bits after the
  // leading one (m = v << lz) index and interpolate the RECIP ROM; 1/sqrt(x): s = lz rounded down
  // to even and m = v << s, index m[127:119] - 128 and offset m[118:111] into the RSQRT ROM. The
  // interpolation T[i] * 256 + (T[i+1] - T[i]) * off is exact (no rounding). v = 0: 0 and 0.
  logic [31:0] rs_val, rs_exp;
  always_comb begin
    logic [127:0] v;
    logic [16:0] m;                 // m = v << sh: bits 127..111, the index and offset
    logic [6:0] lz, sh;
    logic [8:0] idx;
    logic [7:0] off;
    logic signed [31:0] t0, t1;
    rs_val = '0;
    rs_exp = '0;
    {lz, sh, m, idx, off, t0, t1} = '0;
    v = {32'd0, acc_rdata[0][95:0]};
    // Only when a row arrived (the simulator then skips the ROMs in other cycles).
    if (p_valid && kind == K_RSC && v != '0) begin
      lz = 7'd127;
      for (int b = 0; b < 96; b++)
        if (v[b]) lz = 7'(127 - b);
      sh = rs_sqrt ? {lz[6:1], 1'b0} : lz;
      m = 17'((v << sh) >> 111);
      off = m[7:0];
      if (rs_sqrt) begin
        idx = m[16:8] - 9'd128;
        t0 = 32'(NPU_TAB_RSQRT[32'(idx)]);
        t1 = 32'(NPU_TAB_RSQRT[32'(idx) + 1]);
      end else begin
        idx = {1'b0, m[15:8]};
        t0 = 32'(NPU_TAB_RECIP[32'(idx)]);
        t1 = 32'(NPU_TAB_RECIP[32'(idx) + 1]);
      end
      rs_val = 32'(t0 * 256 + (t1 - t0) * $signed({24'd0, off}));
      rs_exp = {25'd0, rs_sqrt ? sh : 7'd127 - lz};
    end
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      for (int r = 0; r < NPU_NUM_REG_IDS; r++) regs[r] <= '0;
      rm_wait <= 1'b0;
      rm_exp <= 1'b0;
      rm_bias_pending <= 1'b0;
      for (int e = 0; e < 256; e++) lut[e] <= '0;
      for (int e = 0; e < 256; e++) begin
        lut16[e] <= '0;
        lut16[256+e] <= '0;
      end
      lut16[512] <= '0;
      a16 <= 1'b0;
      b16 <= 1'b0;
      r16 <= 1'b0;
      acc16 <= 1'b0;
      one <= 1'b0;
      t16 <= 1'b0;
      x_add <= 1'b0;
      setup <= 1'b0;
      rd_active <= 1'b0;
      p_valid <= 1'b0;
      cp_active <= 1'b0;
      cp_valid <= 1'b0;
      perr <= '0;
      staged <= 1'b0;
      kind <= K_REQUANT;
      params_pending <= 1'b0;
      bvec_pending <= 1'b0;
      insn_avg <= 1'b0;
      rq_bias <= 1'b0;
      lut_en <= 1'b0;
      bcast <= 1'b0;
    end else begin
      if (start && op_setreg)
        regs[7'(insn[`NPU_F_SETREG_REG])] <= insn[`NPU_F_SETREG_VALUE];
      if (start && !op_setreg) begin
        setup <= 1'b1;
        rd_active <= 1'b1;
        rd_i <= '0;
        p_valid <= 1'b0;
        cp_active <= 1'b0;
        cp_valid <= 1'b0;
        perr <= '0;
        staged <= 1'b0;
        params_pending <= is_rq || is_rmul;
        rm_wait <= is_rmul || is_rexp;
        rm_exp <= is_rexp;
        rm_bias_pending <= 1'b0;
        rm_off <= '0;
        bvec_pending <= is_mul && insn[`NPU_F_VMUL_BCAST];
        insn_avg <= 1'b0;
        rq_bias <= 1'b0;
        lut_en <= 1'b0;
        bcast <= 1'b0;
        a16 <= 1'b0;
        b16 <= 1'b0;
        r16 <= 1'b0;
        acc16 <= 1'b0;
        one <= 1'b0;
        t16 <= 1'b0;
      x_add <= 1'b0;
        kw <= 32'd1;
        taps <= 32'd1;
        tap <= '0;
        kx <= '0;
        ky <= '0;
        ox <= '0;
        col <= '0;
        tap_base <= '0;
        in_h <= '0;
        row0 <= '0;
        pad_l <= '0;
        up_x <= '0;
        up_ph <= 1'b0;
        if (is_rq) begin
          kind <= K_REQUANT;
          dst <= insn[`NPU_F_REQUANT_DST_LSB +: 11];
          src_a <= insn[`NPU_F_REQUANT_SRC_LSB +: 11];
          param <= insn[`NPU_F_REQUANT_PARAM_LSB +: 11];
          rq_bias <= insn[`NPU_F_REQUANT_BIAS];
          lut_en <= insn[`NPU_F_REQUANT_LUT];
          rows <= insn[`NPU_F_REQUANT_ROWS];
          acc16 <= insn[`NPU_F_REQUANT_ACC16];
          r16 <= insn[`NPU_F_REQUANT_OUT16];
          zp <= 32'($signed(insn[`NPU_F_REQUANT_ZP]));
          // out16: the int16 clamp of RQ16_MIN/RQ16_MAX.
          lo <= insn[`NPU_F_REQUANT_OUT16] ? regs[NPU_REG_RQ16_MIN]
                                           : 32'($signed(insn[`NPU_F_REQUANT_MIN]));
          hi <= insn[`NPU_F_REQUANT_OUT16] ? regs[NPU_REG_RQ16_MAX]
                                           : 32'($signed(insn[`NPU_F_REQUANT_MAX]));
        end else if (is_add) begin
          kind <= K_VADD;
          dst <= insn[`NPU_F_VADD_DST_LSB +: 11];
          src_a <= insn[`NPU_F_VADD_A_LSB +: 11];
          src_b <= insn[`NPU_F_VADD_B_LSB +: 11];
          rows <= insn[`NPU_F_VADD_ROWS];
          lut_en <= insn[`NPU_F_VADD_LUT];
          a16 <= insn[`NPU_F_VADD_W16];
          b16 <= insn[`NPU_F_VADD_W16];
          r16 <= insn[`NPU_F_VADD_W16];
          x_add <= insn[`NPU_F_VADD_EXACT];
          staged <= add_hazard;
        end else if (is_lutld) begin
          kind <= K_LUTLD;
          src_a <= insn[`NPU_F_LUTLD_SRC_LSB +: 11];
          t16 <= insn[`NPU_F_LUTLD_W16];
          rows <= insn[`NPU_F_LUTLD_W16] ? 14'(LUT16_ROWS) : 14'(LUT_ROWS);
        end else if (is_lut) begin
          kind <= K_LUT;
          dst <= insn[`NPU_F_LUT_DST_LSB +: 11];
          src_a <= insn[`NPU_F_LUT_SRC_LSB +: 11];
          rows <= insn[`NPU_F_LUT_ROWS];
          lut_en <= !insn[`NPU_F_LUT_W16];
          t16 <= insn[`NPU_F_LUT_W16];
          a16 <= insn[`NPU_F_LUT_W16];
          r16 <= insn[`NPU_F_LUT_W16];
          taps <= insn[`NPU_F_LUT_W16] ? 32'(L16G) : 32'd1;
          staged <= lut_hazard;
        end else if (is_mul) begin
          kind <= K_VMUL;
          dst <= insn[`NPU_F_VMUL_DST_LSB +: 11];
          src_a <= insn[`NPU_F_VMUL_A_LSB +: 11];
          src_b <= insn[`NPU_F_VMUL_B_LSB +: 11];
          rows <= insn[`NPU_F_VMUL_ROWS];
          bcast <= insn[`NPU_F_VMUL_BCAST];
          lut_en <= insn[`NPU_F_VMUL_LUT];
          a16 <= insn[`NPU_F_VMUL_A16];
          b16 <= insn[`NPU_F_VMUL_B16];
          r16 <= insn[`NPU_F_VMUL_OUT16];
          one <= insn[`NPU_F_VMUL_ONE];
          staged <= mul_hazard;
        end else if (is_up) begin
          kind <= K_UP;
          dst <= insn[`NPU_F_UPSAMPLE_DST_LSB +: 11];
          src_a <= insn[`NPU_F_UPSAMPLE_SRC_LSB +: 11];
          rows <= up_rows;
          up_w <= insn[`NPU_F_UPSAMPLE_W];
          up_h <= insn[`NPU_F_UPSAMPLE_H];
          up_k <= insn[`NPU_F_UPSAMPLE_FACTOR];
          up_mode <= insn[`NPU_F_UPSAMPLE_MODE];
          up_y <= 13'(insn[`NPU_F_UPSAMPLE_OY]);
          up_ow <= 13'(32'(insn[`NPU_F_UPSAMPLE_W]) << insn[`NPU_F_UPSAMPLE_FACTOR]);
          zp <= 32'($signed(insn[`NPU_F_UPSAMPLE_ZP]));
          lut_en <= insn[`NPU_F_UPSAMPLE_LUT];
          a16 <= insn[`NPU_F_UPSAMPLE_W16];
          b16 <= insn[`NPU_F_UPSAMPLE_W16];  // the second tap's port
          r16 <= insn[`NPU_F_UPSAMPLE_W16];
          staged <= up_hazard;
        end else if (is_rmul) begin
          kind <= K_RMUL;
          dst <= insn[`NPU_F_VROWMUL_DST_LSB +: 11];
          src_a <= insn[`NPU_F_VROWMUL_SRC_LSB +: 11];
          param <= insn[`NPU_F_VROWMUL_PARAM];
          rows <= 14'(insn[`NPU_F_VROWMUL_ROWS]);
          rm_stride <= insn[`NPU_F_VROWMUL_STRIDE];
          rm_scal <= insn[`NPU_F_VROWMUL_SCAL];
          rm_sum <= insn[`NPU_F_VROWMUL_SUM];
          rm_center <= insn[`NPU_F_VROWMUL_CENTER];
          a16 <= insn[`NPU_F_VROWMUL_W16];
          r16 <= insn[`NPU_F_VROWMUL_OUT16];
        end else if (is_rexp) begin
          kind <= K_RMUL;
          dst <= insn[`NPU_F_VROWEXP_DST_LSB +: 11];
          src_a <= insn[`NPU_F_VROWEXP_SRC_LSB +: 11];
          rows <= 14'(insn[`NPU_F_VROWEXP_ROWS]);
          rm_stride <= insn[`NPU_F_VROWEXP_STRIDE];
          rm_scal <= insn[`NPU_F_VROWEXP_SCAL];
          rm_sum <= insn[`NPU_F_VROWEXP_SUM];
          a16 <= insn[`NPU_F_VROWEXP_W16];
          r16 <= insn[`NPU_F_VROWEXP_OUT16];
        end else if (is_rsc) begin
          kind <= K_RSC;
          dst <= insn[`NPU_F_RSCALAR_DST_LSB +: 11];
          src_a <= insn[`NPU_F_RSCALAR_SRC_LSB +: 11];
          rows <= insn[`NPU_F_RSCALAR_ROWS];
          rs_sqrt <= insn[`NPU_F_RSCALAR_RSQRT];
        end else if (is_red) begin
          kind <= K_RED;
          dst <= insn[`NPU_F_VREDUCE_DST_LSB +: 11];
          rows <= insn[`NPU_F_VREDUCE_ROWS];
          taps <= 32'(insn[`NPU_F_VREDUCE_LEN]);
          a16 <= insn[`NPU_F_VREDUCE_W16];
          red_sum <= insn[`NPU_F_VREDUCE_SUM];
          red_sq <= insn[`NPU_F_VREDUCE_SQ];
          red_center <= insn[`NPU_F_VREDUCE_CENTER];
          red_exp <= insn[`NPU_F_VREDUCE_EXP];
          red_last <= 7'(insn[`NPU_F_VREDUCE_LAST]);
          red_gstride <= insn[`NPU_F_VREDUCE_GSTRIDE];
          red_kstride <= insn[`NPU_F_VREDUCE_KSTRIDE];
          red_gbase <= 32'(insn[`NPU_F_VREDUCE_SRC]);
          red_koff <= '0;
        end else begin
          kind <= K_POOL;
          dst <= insn[`NPU_F_POOL_DST_LSB +: 11];
          src_a <= insn[`NPU_F_POOL_SRC_LSB +: 11];
          rows <= insn[`NPU_F_POOL_ROWS];
          insn_avg <= insn[`NPU_F_POOL_AVG];
          lut_en <= insn[`NPU_F_POOL_LUT];
          a16 <= insn[`NPU_F_POOL_W16];
          r16 <= insn[`NPU_F_POOL_W16];
          perr <= g_err;
          staged <= g_overlap;
          kw <= regs[NPU_REG_POOL_KW];
          taps <= regs[NPU_REG_POOL_KH] * regs[NPU_REG_POOL_KW];
          pstride <= regs[NPU_REG_POOL_STRIDE];
          in_w <= regs[NPU_REG_POOL_IN_W];
          out_w <= regs[NPU_REG_POOL_OUT_W];
          in_h <= 32'(insn[`NPU_F_POOL_IN_H]);
          row0 <= -32'(insn[`NPU_F_POOL_PAD_TOP]);
          pad_l <= 32'(insn[`NPU_F_POOL_PAD_LEFT]);
          // A bounded source's window starts pad_top lines and pad_left pixels before its
          // stride position (the address of a skipped tap is never used).
          line_base <= 32'(insn[`NPU_F_POOL_SRC]) -
                       32'(insn[`NPU_F_POOL_PAD_TOP]) * regs[NPU_REG_POOL_IN_W] -
                       32'(insn[`NPU_F_POOL_PAD_LEFT]);
        end
      end else if (running && setup) begin
        if (params_pending) begin
          for (int l = 0; l < DIM; l++) begin
            mult[l] <= acc_rdata[0][32*l+:32];
            shift[l] <= acc_rdata[1][32*l+:32];
          end
          params_pending <= 1'b0;
        end
        if (rm_wait) begin
          rm_wait <= 1'b0;
          rm_bias_pending <= 1'b1;
        end
        if (rm_bias_pending) begin
          for (int l = 0; l < DIM; l++)
            rm_bias[l] <= {acc_rdata[1][32*l+:32], acc_rdata[0][32*l+:32]};
          rm_bias_pending <= 1'b0;
        end
        if (bvec_pending) begin
          bvec <= out_rdata[1];
          bvec_hi <= out_rdata_hi[1];
          bvec_pending <= 1'b0;
        end
        // Read sequencer.
        p_valid <= rd_fire;
        p_row <= rd_i;
        p_off <= rm_off;
        p_first <= rd_out_first_tap;
        p_last_tap <= rd_out_last_tap;
        p_last <= rd_out_last_tap && 32'(rd_i) + 1 == 32'(rows);
        p_skip <= rd_skip;
        p_tap <= tap;
        p_wy <= up_ph ? wy1 : wy0;
        p_wx0 <= wx0;
        p_wx1 <= wx1;
        if (rd_fire) begin
          if (kind == K_POOL) begin
            if (tap + 1 == taps) begin
              tap <= '0;
              kx <= '0;
              ky <= '0;
              tap_base <= '0;
              rd_i <= rd_i + 1;
              if (32'(rd_i) + 1 == 32'(rows)) rd_active <= 1'b0;
              if (ox + 1 == out_w) begin
                ox <= '0;
                col <= '0;
                line_base <= line_base + pstride * in_w;
                row0 <= row0 + $signed(pstride);
              end else begin
                ox <= ox + 1;
                col <= col + pstride;
              end
            end else begin
              tap <= tap + 1;
              if (kx + 1 == kw) begin
                kx <= '0;
                ky <= ky + 1;
                tap_base <= tap_base + in_w;
              end else kx <= kx + 1;
            end
          end else if (kind == K_LUT && t16 && tap + 1 != taps) begin
            tap <= tap + 1;  // the next lane group of the same row
          end else if (kind == K_RED && tap + 1 != taps) begin
            tap <= tap + 1;  // the next tile of the same group
            red_koff <= red_koff + 32'(red_kstride);
          end else if (kind == K_UP && up_mode != 2'd0 && !up_ph) begin
            up_ph <= 1'b1;  // the second line's two taps of the same output row
          end else begin
            up_ph <= 1'b0;
            tap <= '0;
            red_koff <= '0;
            red_gbase <= red_gbase + 32'(red_gstride);
            rm_off <= rm_off + 32'(rm_stride);
            rd_i <= rd_i + 1;
            if (32'(rd_i) + 1 == 32'(rows)) rd_active <= 1'b0;
            if (up_x + 1 == up_ow) begin
              up_x <= '0;
              up_y <= up_y + 1;
            end else up_x <= up_x + 1;
          end
        end
        if (p_valid) begin
          for (int l = 0; l < DIM; l++) pacc[l] <= nacc[l];
          pcount <= ncount;
          red_acc <= red_now;
          sq_acc <= sq_now;
          ex_acc <= ex_now;
          if (p_first) sq_sum <= $signed(acc_rdata[0][31:0]);
          l16_res <= l16_now;
        end
        // LUTLD: each ACC row of the table as it arrives (w16: bytes of the 16-bit entries).
        if (p_valid && kind == K_LUTLD && !t16)
          for (int b = 0; b < 4 * DIM; b++)
            lut[8'(32'(p_row) * 4 * DIM + b)] <= acc_rdata[0][8*b+:8];
        if (p_valid && kind == K_LUTLD && t16)
          for (int b = 0; b < 4 * DIM; b++) begin
            logic [31:0] k;
            k = 32'(p_row) * 4 * DIM + 32'(b);
            if (k < 1026) lut16[10'(k >> 1)][8*k[0]+:8] <= acc_rdata[0][8*b+:8];
          end
        // Copy pass of a staged instruction, after the last result.
        if (staged && p_valid && p_last) begin
          cp_active <= 1'b1;
          cp_i <= '0;
        end
        cp_valid <= cp_active;
        cp_row <= cp_i;
        cp_last <= cp_active && 32'(cp_i) + 1 == 32'(rows);
        if (cp_active) begin
          cp_i <= cp_i + 1;
          if (32'(cp_i) + 1 == 32'(rows)) cp_active <= 1'b0;
        end
        if (exec_done) setup <= 1'b0;
      end
    end
  end
endmodule

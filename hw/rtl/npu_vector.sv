// npu_vector: the VECTOR engine (REQUANT, VADD, POOL, and SETREG of its registers).
// Cycle 0 (start) latches the instruction, reads REQUANT's multiplier and shift rows and checks
// POOL's geometry; from cycle 1 one source row (two for VADD) is read per cycle, and each
// result row is written in the cycle its (last) source row arrives, so an instruction takes
// rows + 2 cycles (rows * KH * KW + 2 for POOL). REQUANT with bias reads its bias row
// (param + 2) on the second ACC port beside each source row and adds it (int32, wrapping)
// before the multiply-shift: no extra cycle.
// When a destination row could be overwritten before it is read as a source (VADD: dst within
// [src + 2, src + rows) of a source; POOL: dst rows overlapping the source span), the results
// go to a staging buffer and are copied to OUT afterwards (rows + 1 more cycles), so every
// source row is read before any destination row is written, as the ISA defines.
module npu_vector
  import npu_arith_pkg::*;
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
    output logic [1:0][10:0]     acc_raddr,
    input  logic [1:0][32*DIM-1:0] acc_rdata,
    // OUT reads (a and b) and write
    output logic [1:0]           out_re,
    output logic [1:0][10:0]     out_raddr,
    input  logic [1:0][8*DIM-1:0] out_rdata,
    output logic                 out_we,
    output logic [10:0]          out_waddr,
    output logic [8*DIM-1:0]     out_wdata,
    // staging buffer
    output logic                 stg_re,
    output logic [10:0]          stg_raddr,
    input  logic [8*DIM-1:0]     stg_rdata,
    output logic                 stg_we,
    output logic [10:0]          stg_waddr,
    output logic [8*DIM-1:0]     stg_wdata,
    output logic                 error,       // POOL geometry error (cycle 1 of the instruction)
    output logic [1:0]           error_code,  // 1: registers < 1, 2: too large, 3: out of range
    output logic [31:0]          regs_out[37]  // the registers, for error messages
);
`include "npu_spec.vh"
  logic signed [31:0] regs[37];
  typedef enum logic [1:0] {K_REQUANT, K_VADD, K_POOL} kind_t;
  kind_t kind;
  logic setup;                      // cycles 1.. of a REQUANT/VADD/POOL
  logic staged;
  logic [1:0] perr;
  // Latched fields.
  logic [10:0] dst, src_a, src_b, param;
  logic rq_bias;
  logic [13:0] rows;
  logic signed [31:0] zp, lo, hi;
  logic [31:0] mult[DIM], shift[DIM];
  logic params_pending;
  // Read sequencer.
  logic [13:0] rd_i;                // output row being read
  logic rd_active;
  // POOL address generator.
  logic [31:0] kw, pstride, in_w, out_w, taps;
  logic [31:0] line_base, col, tap_base, ox, kx, ky, tap;
  // Pipeline stage aligned with the read data.
  logic p_valid, p_first, p_last_tap, p_last;
  logic [13:0] p_row;
  logic signed [31:0] pacc[DIM];
  // Copy pass.
  logic [13:0] cp_i;
  logic cp_active, cp_valid, cp_last;
  logic [13:0] cp_row;

  for (genvar r = 0; r < 37; r++) begin : g_regs
    assign regs_out[r] = regs[r];
  end

  logic op_setreg, is_rq, is_add;
  assign op_setreg = insn[`NPU_F_OPCODE] == NPU_OP_SETREG;
  assign is_rq = insn[`NPU_F_OPCODE] == NPU_OP_REQUANT;
  assign is_add = insn[`NPU_F_OPCODE] == NPU_OP_VADD;

  // POOL geometry at start (the same checks as checkPool in Arith.h).
  logic [1:0] g_err;
  logic g_overlap;
  always_comb begin
    logic signed [31:0] gkh, gkw, gs, giw, gow, nrows, oy, oxx, last, le, last2, span, psrc, pdst;
    gkh = regs[NPU_REG_POOL_KH];
    gkw = regs[NPU_REG_POOL_KW];
    gs = regs[NPU_REG_POOL_STRIDE];
    giw = regs[NPU_REG_POOL_IN_W];
    gow = regs[NPU_REG_POOL_OUT_W];
    nrows = 32'(insn[`NPU_F_POOL_ROWS]);
    psrc = 32'(insn[`NPU_F_POOL_SRC]);
    pdst = 32'(insn[`NPU_F_POOL_DST]);
    g_err = 2'd0;
    g_overlap = 1'b0;
    oy = 0;
    oxx = 0;
    last = 0;
    le = 0;
    last2 = 0;
    span = 0;
    if (!(start && insn[`NPU_F_OPCODE] == NPU_OP_POOL)) g_err = 2'd0;  // evaluated at start only
    else if (gkh < 1 || gkw < 1 || gs < 1 || giw < 1 || gow < 1) g_err = 2'd1;
    else if (gkh > 16 || gkw > 16 || gs > 16 || giw > 4096 || gow > 4096) g_err = 2'd2;
    else begin
      oy = (nrows - 1) / gow;
      oxx = (nrows - 1) % gow;
      last = (oy * gs + gkh - 1) * giw + oxx * gs + gkw - 1;
      le = (nrows / gow) * gow - 1;
      if (le >= 0) begin
        last2 = ((le / gow) * gs + gkh - 1) * giw + (le % gow) * gs + gkw - 1;
        if (last2 > last) last = last2;
      end
      span = last + 1;
      if (psrc + span > NPU_OUT_ROWS) g_err = 2'd3;
      g_overlap = pdst < psrc + span && psrc < pdst + nrows;
    end
  end

  // VADD hazard: a destination row written before a source row that aliases it is read.
  logic add_hazard;
  always_comb begin
    logic signed [31:0] d, a, b, n;
    d = 32'(insn[`NPU_F_VADD_DST]);
    a = 32'(insn[`NPU_F_VADD_A]);
    b = 32'(insn[`NPU_F_VADD_B]);
    n = 32'(insn[`NPU_F_VADD_ROWS]);
    add_hazard = (d >= a + 2 && d < a + n) || (d >= b + 2 && d < b + n);
  end

  // Read side.
  logic rd_fire, rd_out_last_tap, rd_out_first_tap;
  always_comb begin
    rd_fire = running && setup && rd_active && perr == 0;
    acc_re = 2'b00;
    acc_raddr[0] = 11'(32'(src_a) + 32'(rd_i));
    acc_raddr[1] = param + 1;
    out_re = 2'b00;
    out_raddr[0] = 11'(32'(src_a) + 32'(rd_i));
    out_raddr[1] = 11'(32'(src_b) + 32'(rd_i));
    rd_out_last_tap = 1'b1;
    rd_out_first_tap = 1'b1;
    if (start && is_rq) begin
      acc_re = 2'b11;
      acc_raddr[0] = insn[`NPU_F_REQUANT_PARAM_LSB +: 11];
      acc_raddr[1] = 11'(32'(insn[`NPU_F_REQUANT_PARAM]) + 1);
    end else if (rd_fire) begin
      case (kind)
        K_REQUANT: begin
          acc_re[0] = 1'b1;
          if (rq_bias) begin
            acc_re[1] = 1'b1;
            acc_raddr[1] = param + 11'd2;
          end
        end
        K_VADD: out_re = 2'b11;
        default: begin
          out_re[0] = 1'b1;
          out_raddr[0] = 11'(line_base + col + tap_base + kx);
          rd_out_last_tap = tap + 1 == taps;
          rd_out_first_tap = tap == 0;
        end
      endcase
    end
    stg_re = running && cp_active;
    stg_raddr = cp_i[10:0];
  end

  // Write side: compute from the row that arrived.
  logic [8*DIM-1:0] result;
  logic signed [31:0] nacc[DIM];
  always_comb begin
    logic [4:0] ls;
    ls = regs[NPU_REG_ADD_LSHIFT][4:0];
    result = '0;
    // Only when a row arrived: the simulator then skips the lanes' arithmetic in idle cycles.
    for (int l = 0; l < DIM; l++) nacc[l] = pacc[l];
    if (p_valid)
    for (int l = 0; l < DIM; l++) begin
      logic signed [31:0] v;
      v = 32'($signed(out_rdata[0][8*l+:8]));
      // POOL: the first tap starts the sum (average) or the maximum.
      nacc[l] = p_first ? v : (insn_avg ? pacc[l] + v : (v > pacc[l] ? v : pacc[l]));
      case (kind)
        K_REQUANT:
          result[8*l+:8] = requantize(
              rq_bias ? $signed(acc_rdata[0][32*l+:32]) + $signed(acc_rdata[1][32*l+:32])
                      : $signed(acc_rdata[0][32*l+:32]),
              $signed(mult[l]), $signed(shift[l]), zp, lo, hi);
        K_VADD:
          result[8*l+:8] = quant_add($signed(out_rdata[0][8*l+:8]), $signed(out_rdata[1][8*l+:8]),
                                     ls, regs[NPU_REG_ADD_A_ZP], regs[NPU_REG_ADD_A_MULT],
                                     regs[NPU_REG_ADD_A_SHIFT], regs[NPU_REG_ADD_B_ZP],
                                     regs[NPU_REG_ADD_B_MULT], regs[NPU_REG_ADD_B_SHIFT],
                                     regs[NPU_REG_ADD_OUT_MULT], regs[NPU_REG_ADD_OUT_SHIFT],
                                     regs[NPU_REG_ADD_OUT_ZP], regs[NPU_REG_ADD_MIN],
                                     regs[NPU_REG_ADD_MAX]);
        default:
          result[8*l+:8] = insn_avg ? pool_average(nacc[l], taps[15:0]) : nacc[l][7:0];
      endcase
    end
    out_we = 1'b0;
    stg_we = 1'b0;
    out_waddr = 11'(32'(dst) + 32'(p_row));
    stg_waddr = p_row[10:0];
    out_wdata = result;
    stg_wdata = result;
    if (p_valid && p_last_tap) begin
      if (staged) stg_we = 1'b1;
      else out_we = 1'b1;
    end
    if (cp_valid) begin
      out_we = 1'b1;
      out_waddr = 11'(32'(dst) + 32'(cp_row));
      out_wdata = stg_rdata;
    end
    error = running && setup && perr != 0;
    error_code = perr;
    exec_done = running && ((start && op_setreg) ||
                            (setup && !staged && p_valid && p_last) ||
                            (setup && staged && cp_valid && cp_last));
  end
  logic insn_avg;

  always_ff @(posedge clk) begin
    if (rst) begin
      for (int r = 0; r < 37; r++) regs[r] <= '0;
      setup <= 1'b0;
      rd_active <= 1'b0;
      p_valid <= 1'b0;
      cp_active <= 1'b0;
      cp_valid <= 1'b0;
      perr <= '0;
      staged <= 1'b0;
      kind <= K_REQUANT;
      params_pending <= 1'b0;
      insn_avg <= 1'b0;
      rq_bias <= 1'b0;
    end else begin
      if (start && op_setreg) regs[6'(insn[`NPU_F_SETREG_REG])] <= insn[`NPU_F_SETREG_VALUE];
      if (start && !op_setreg) begin
        setup <= 1'b1;
        rd_active <= 1'b1;
        rd_i <= '0;
        p_valid <= 1'b0;
        cp_active <= 1'b0;
        cp_valid <= 1'b0;
        perr <= '0;
        staged <= 1'b0;
        params_pending <= is_rq;
        insn_avg <= 1'b0;
        kw <= 32'd1;
        taps <= 32'd1;
        tap <= '0;
        kx <= '0;
        ky <= '0;
        ox <= '0;
        col <= '0;
        tap_base <= '0;
        if (is_rq) begin
          kind <= K_REQUANT;
          dst <= insn[`NPU_F_REQUANT_DST_LSB +: 11];
          src_a <= insn[`NPU_F_REQUANT_SRC_LSB +: 11];
          param <= insn[`NPU_F_REQUANT_PARAM_LSB +: 11];
          rq_bias <= insn[`NPU_F_REQUANT_BIAS];
          rows <= insn[`NPU_F_REQUANT_ROWS];
          zp <= 32'($signed(insn[`NPU_F_REQUANT_ZP]));
          lo <= 32'($signed(insn[`NPU_F_REQUANT_MIN]));
          hi <= 32'($signed(insn[`NPU_F_REQUANT_MAX]));
        end else if (is_add) begin
          kind <= K_VADD;
          dst <= insn[`NPU_F_VADD_DST_LSB +: 11];
          src_a <= insn[`NPU_F_VADD_A_LSB +: 11];
          src_b <= insn[`NPU_F_VADD_B_LSB +: 11];
          rows <= insn[`NPU_F_VADD_ROWS];
          staged <= add_hazard;
        end else begin
          kind <= K_POOL;
          dst <= insn[`NPU_F_POOL_DST_LSB +: 11];
          src_a <= insn[`NPU_F_POOL_SRC_LSB +: 11];
          rows <= insn[`NPU_F_POOL_ROWS];
          insn_avg <= insn[`NPU_F_POOL_AVG];
          perr <= g_err;
          staged <= g_overlap;
          kw <= regs[NPU_REG_POOL_KW];
          taps <= regs[NPU_REG_POOL_KH] * regs[NPU_REG_POOL_KW];
          pstride <= regs[NPU_REG_POOL_STRIDE];
          in_w <= regs[NPU_REG_POOL_IN_W];
          out_w <= regs[NPU_REG_POOL_OUT_W];
          line_base <= 32'(insn[`NPU_F_POOL_SRC]);
        end
      end else if (running && setup) begin
        if (params_pending) begin
          for (int l = 0; l < DIM; l++) begin
            mult[l] <= acc_rdata[0][32*l+:32];
            shift[l] <= acc_rdata[1][32*l+:32];
          end
          params_pending <= 1'b0;
        end
        // Read sequencer.
        p_valid <= rd_fire;
        p_row <= rd_i;
        p_first <= rd_out_first_tap;
        p_last_tap <= rd_out_last_tap;
        p_last <= rd_out_last_tap && 32'(rd_i) + 1 == 32'(rows);
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
          end else begin
            rd_i <= rd_i + 1;
            if (32'(rd_i) + 1 == 32'(rows)) rd_active <= 1'b0;
          end
        end
        if (p_valid) for (int l = 0; l < DIM; l++) pacc[l] <= nacc[l];
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

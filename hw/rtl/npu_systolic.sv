// npu_systolic: the DIM x DIM weight-stationary systolic array.
// PE(k, j) holds W[j][k] (input channel k, output channel j). Element k of an activation row
// enters array row k skewed by k cycles and moves one PE to the right per cycle; partial sums
// move one PE down per cycle and leave the bottom row, where column j is delayed DIM-1-j cycles
// so a whole result row comes out at once, 2 * DIM - 1 cycles after the row went in.
// Each PE (g_row[k].g_pe[j]) is an 8 x 8 -> 32 multiply-add on its weight (NPU_PE_MAC) with the
// registers passing activations right and partial sums down. It has an active and a shadow
// weight: the shadow is loaded one column per cycle (`wld`), and a row marked `in_swap` (the
// first row of a GEMM) copies shadow to active in every PE as it passes, so the next tile loads
// while the current one streams.
// DWGEMM rows (in_dw) use a second path: lane j of the streamed row is broadcast down column j,
// delayed j cycles, so PE(k, j) multiplies lane j of the row streamed k cycles after the row whose
// partial sum it holds: column j computes sum_k x[r + k][j] * W[j][k], a per-channel correlation
// (taps beyond the instruction's are zero weights, masked on preload by npu_gemm).
// 16x8 rows (GEMM16/DWGEMM16, spec version 5): the high byte plane of each row (in_row_hi) goes
// through the same skew, PEs, column broadcast and de-skew beside the low plane (in_row), on
// each PE's second multiplier and partial-sum chain with the same weight; the bias enters the
// low chain only, and the array outputs both result rows (out_row, out_row_hi) at once. An
// int8 row has in_row_hi zero, so out_row_hi is zero and out_row is unchanged.
//
// Operands in offset binary. Activations and weights travel and are held with their sign bit
// inverted (v ^ 8'h80, an inverter in hardware), so a PE's signed operand is its unsigned byte
// minus 128 (NPU_PE_MAC): the same signed 8 x 8 product, which a simulator computes without
// extending a sign bit in every PE (Verilator's sign extension cost more than the multiply).
// Shared delay lines. The swap, column-broadcast and bias flags of the row in PE(k, j) entered
// the array k + j cycles before (a row moves one PE right or down per cycle), so one flag delay
// line per kind (`swd`, `dwd`, `bid`), indexed by the PE's anti-diagonal k + j, serves every PE
// (a synthesis tool merges the identical per-PE copies the same way). Column j's broadcast
// activation (lane j of the row streamed j cycles before) is row j's skew output, which holds
// exactly that. Skew and de-skew stages are a register each, so no wide vector is shifted.
// Datapath enables. The registers of a datapath advance only while a row that uses it is in
// flight: the whole array while any row is (`en`, npu_gemm's rows in flight), the high plane
// while a 16x8 row is (`en_hi`). A row's result depends only on register values written during
// its own 2 * DIM - 1 cycles in the array (from the cycle it enters the skew to the cycle its
// sums enter the last de-skew stage), so a datapath may hold its registers whenever no row of
// its kind is in flight: the results are those of a design with every register clocked (clock
// gating, as a synthesis tool inserts it), and under Verilator an idle datapath costs a branch
// a cycle. Each enable is a window counter (`win_*`) restarted by every row of its kind; a new
// datapath gets one the same way (docs/npu-rtl.md, "Simulation speed"). In the cycles without a
// swap or column-broadcast flag anywhere in the array (`flags` low), the PEs take the plain
// multiply-add of their active weight and left neighbour, the selects' value then. Every
// register is a variable of its own (no unpacked arrays, no port connections between PEs), so
// the simulator copies nothing per cycle.
module npu_systolic #(
    parameter int DIM = 16,
    localparam int CW = $clog2(DIM),
    localparam int WIN = 2 * DIM - 1,   // cycles a row is in the array
    localparam int WW = $clog2(WIN + 1),
    localparam int ND = 2 * DIM - 2     // flag delay line: anti-diagonals 1 .. 2 * DIM - 2
) (
    input  logic                 clk,
    input  logic                 en,        // advance the array (rows in flight)
    input  logic                 in_valid,
    input  logic                 in_swap,
    input  logic                 in_dw,
    input  logic                 in_bias,   // DWGEMM with bias: column j starts from its bias
    input  logic                 in_w16,    // a 16x8 row: its high plane is in in_row_hi
    input  logic [31:0]          wld_bias,  // lanes DIM-4..DIM-1 of the preloaded row (raw)
    input  logic [8*DIM-1:0]     in_row,
    input  logic [8*DIM-1:0]     in_row_hi, // high plane of a 16x8 row, else 0
    input  logic                 wld,
    input  logic [CW-1:0]        wld_col,
    input  logic [8*DIM-1:0]     wld_row,
    output logic [32*DIM-1:0]    out_row,
    output logic [32*DIM-1:0]    out_row_hi
);
  localparam logic [8*DIM-1:0] OFS = {DIM{8'h80}};  // offset binary: sign bits inverted

  // The product of one PE: a signed activation times its signed weight, both in offset binary,
  // added to the partial sum. A macro, not a function: Verilator computes a function's result
  // before the statement that uses it, outside its enable.
`define NPU_PE_MAC(ps, xo, wo) ((ps) + (32'({xo}) - 32'd128) * (32'({wo}) - 32'd128))

  // ---- the row entering (offset binary; an empty slot is a row of zeros)
  logic [8*DIM-1:0] row_in, rowh_in;
  logic sw_in0, dw_in0, bi_in0;
  assign row_in = (in_valid ? in_row : '0) ^ OFS;
  assign rowh_in = (in_valid ? in_row_hi : '0) ^ OFS;
  assign sw_in0 = in_valid && in_swap;
  assign dw_in0 = in_valid && in_dw;
  assign bi_in0 = in_valid && in_bias;

  // ---- the high plane's window: while a 16x8 row is in the array (restarted by each such
  // row, counted in cycles the array moves).
  logic [WW-1:0] win_hi;
  logic en_hi;
  assign en_hi = en && ((in_valid && in_w16) || win_hi != 0);
  always_ff @(posedge clk)
    if (en) win_hi <= in_valid && in_w16 ? WW'(WIN - 1) : (win_hi != 0 ? win_hi - 1 : '0);

  // ---- flag delay lines: bit d - 1 holds the flags of the row on anti-diagonal d (d >= 1).
  logic [ND-1:0] swd, dwd;
  logic [DIM-2:0] bid;
  always_ff @(posedge clk)
    if (en) begin
      swd <= {swd[ND-2:0], sw_in0};
      dwd <= {dwd[ND-2:0], dw_in0};
      bid <= {bid[DIM-3:0], bi_in0};
    end
  // Some PE holds a row with a swap or column-broadcast flag.
  logic flags;
  assign flags = sw_in0 || dw_in0 || swd != '0 || dwd != '0;

  for (genvar j = 0; j < DIM; j++) begin : g_col
    // DWGEMM bias: a shadow and an active int32 per column, loaded with the column's weights
    // and swapped with them as a tile's first row passes the top PE; a row flagged in_bias (the
    // flag moves right along the top row with the row) enters column j with it as partial sum.
    // The high plane's chain always starts from 0 (DWGEMM16's bias applies to the low plane).
    logic bi, swt;
    logic [31:0] b_sh, b_act, top;
    if (j == 0) begin : g_bi
      assign bi = bi_in0;
      assign swt = sw_in0;
    end else begin : g_bi
      assign bi = bid[j-1];
      assign swt = swd[j-1];
    end
    always_ff @(posedge clk) begin
      if (wld && wld_col == CW'(j)) b_sh <= wld_bias;
      if (en && swt) b_act <= b_sh;
    end
    assign top = bi ? (swt ? b_sh : b_act) : 32'd0;
  end

  for (genvar k = 0; k < DIM; k++) begin : g_row
    // Input skew: lane k enters row k through k stages, one register each (g_st[k - 1] last).
    logic [7:0] a0, ah0;
    if (k == 0) begin : g_sk
      assign a0 = row_in[7:0];
      assign ah0 = rowh_in[7:0];
    end else begin : g_sk
      for (genvar s = 0; s < k; s++) begin : g_st
        logic [7:0] v, vh;
        if (s == 0) begin : g_d
          always_ff @(posedge clk)
            if (en) v <= row_in[8*k+:8];
          always_ff @(posedge clk)
            if (en_hi) vh <= rowh_in[8*k+:8];
        end else begin : g_d
          always_ff @(posedge clk)
            if (en) v <= g_st[s-1].v;
          always_ff @(posedge clk)
            if (en_hi) vh <= g_st[s-1].vh;
        end
      end
      assign a0 = g_st[k-1].v;
      assign ah0 = g_st[k-1].vh;
    end

    for (genvar j = 0; j < DIM; j++) begin : g_pe
      // What enters PE(k, j): from its left neighbour (or the skew), from above (or the
      // column's top), and the flags of its anti-diagonal.
      logic [7:0] ai, ahi;
      logic swi, dwi;
      logic [31:0] psi, pshi;
      // What it passes on.
      /* verilator lint_off UNUSEDSIGNAL */
      logic [7:0] a, ah;  // (the last column's are not used)
      /* verilator lint_on UNUSEDSIGNAL */
      logic [31:0] ps, psh;
      logic [7:0] w_act, w_sh;  // offset binary
      if (j == 0) begin : g_l
        assign ai = a0;
        assign ahi = ah0;
      end else begin : g_l
        assign ai = g_pe[j-1].a;
        assign ahi = g_pe[j-1].ah;
      end
      if (k + j == 0) begin : g_f
        assign swi = sw_in0;
        assign dwi = dw_in0;
      end else begin : g_f
        assign swi = swd[k+j-1];
        assign dwi = dwd[k+j-1];
      end
      if (k == 0) begin : g_t
        assign psi = g_col[j].top;
        assign pshi = 32'd0;
      end else begin : g_t
        assign psi = g_row[k-1].g_pe[j].ps;
        assign pshi = g_row[k-1].g_pe[j].psh;
      end
      always_ff @(posedge clk)
        if (wld && wld_col == CW'(j)) w_sh <= wld_row[8*k+:8] ^ 8'h80;
      // Without a flag in the array (no swap, no DWGEMM row) the selects are known: the
      // plain multiply-add, the same logic in the cycles that need no select.
      always_ff @(posedge clk)
        if (en) begin
          if (flags) begin
            ps <= `NPU_PE_MAC(psi, dwi ? g_row[j].a0 : ai, swi ? w_sh : w_act);
            if (swi) w_act <= w_sh;
          end else ps <= `NPU_PE_MAC(psi, ai, w_act);
          a <= ai;
        end
      always_ff @(posedge clk)
        if (en_hi) begin
          if (flags) psh <= `NPU_PE_MAC(pshi, dwi ? g_row[j].ah0 : ahi, swi ? w_sh : w_act);
          else psh <= `NPU_PE_MAC(pshi, ahi, w_act);
          ah <= ahi;
        end
    end
  end

  // ---- outputs: column j of the bottom row delayed DIM - 1 - j cycles, one register a stage
  // (g_st[0] last)
  for (genvar j = 0; j < DIM; j++) begin : g_out
    if (j == DIM - 1) begin : g_d
      assign out_row[32*j+:32] = g_row[DIM-1].g_pe[j].ps;
      assign out_row_hi[32*j+:32] = g_row[DIM-1].g_pe[j].psh;
    end else begin : g_d
      localparam int S = DIM - 1 - j;
      for (genvar s = 0; s < S; s++) begin : g_st
        logic [31:0] v, vh;
        if (s == S - 1) begin : g_i
          always_ff @(posedge clk)
            if (en) v <= g_row[DIM-1].g_pe[j].ps;
          always_ff @(posedge clk)
            if (en_hi) vh <= g_row[DIM-1].g_pe[j].psh;
        end else begin : g_i
          always_ff @(posedge clk)
            if (en) v <= g_st[s+1].v;
          always_ff @(posedge clk)
            if (en_hi) vh <= g_st[s+1].vh;
        end
      end
      assign out_row[32*j+:32] = g_st[0].v;
      assign out_row_hi[32*j+:32] = g_st[0].vh;
    end
  end
endmodule
`undef NPU_PE_MAC

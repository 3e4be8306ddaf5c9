// npu_systolic: the DIM x DIM weight-stationary systolic array.
// PE(k, j) holds W[j][k] (input channel k, output channel j). Element k of an activation row
// enters array row k skewed by k cycles and moves one PE to the right per cycle; partial sums
// move one PE down per cycle and leave the bottom row, where column j is delayed DIM-1-j cycles
// so a whole result row comes out at once, 2 * DIM - 1 cycles after the row went in.
// Each PE (g_row[k].g_col[j]) is an 8 x 8 -> 32 multiply-add on its weight (pe_mac) with the
// registers passing activations and flags right and partial sums down. It has an active and a
// shadow weight: the shadow is loaded one column per cycle (`wld`), and a row marked `in_swap`
// (the first row of a GEMM) copies shadow to active in every PE as it passes, so the next tile
// loads while the current one streams.
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
// Datapath enables. The registers of a datapath advance only while a row that uses it is in
// flight: the whole array while any row is (`en`, npu_gemm's rows in flight), the column
// broadcast while a DWGEMM row is (`en_dw`), the high plane while a 16x8 row is (`en_hi`). A
// row's result depends only on register values written during its own 2 * DIM - 1 cycles in
// the array (from the cycle it enters the skew to the cycle its sums enter the last de-skew
// stage), so a datapath may hold its registers whenever no row of its kind is in flight: the
// results are those of a design with every register clocked (clock gating, as a synthesis tool
// inserts it), and under Verilator an idle datapath costs a branch a cycle. Each enable is a
// window counter (`win_*`) restarted by every row of its kind; a new datapath gets one the same
// way (docs/npu-rtl.md, "Simulation speed"). Every register is a variable of its own (no
// unpacked arrays, no port connections between PEs), so the simulator copies nothing per cycle.
module npu_systolic #(
    parameter int DIM = 16,
    localparam int CW = $clog2(DIM),
    localparam int WIN = 2 * DIM - 1,   // cycles a row is in the array
    localparam int WW = $clog2(WIN + 1)
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
  // The product of one PE: an int8 activation times its int8 weight, added to the partial sum.
  function automatic logic [31:0] pe_mac(input logic [31:0] ps, input logic [7:0] x,
                                         input logic [7:0] w);
    pe_mac = ps + 32'($signed(x)) * 32'($signed(w));
  endfunction

  // ---- the row entering
  logic [8*DIM-1:0] row_in, rowh_in;
  logic sw_in0, dw_in0, bi_in0;
  assign row_in = in_valid ? in_row : '0;
  assign rowh_in = in_valid ? in_row_hi : '0;
  assign sw_in0 = in_valid && in_swap;
  assign dw_in0 = in_valid && in_dw;
  assign bi_in0 = in_valid && in_bias;

  // ---- datapath windows: the column broadcast while a DWGEMM row is in the array, the high
  // plane while a 16x8 row is (restarted by each such row, counted in cycles the array moves).
  logic [WW-1:0] win_dw, win_hi;
  logic en_dw, en_hi;
  assign en_dw = en && (dw_in0 || win_dw != 0);
  assign en_hi = en && ((in_valid && in_w16) || win_hi != 0);
  always_ff @(posedge clk)
    if (en) begin
      win_dw <= dw_in0 ? WW'(WIN - 1) : (win_dw != 0 ? win_dw - 1 : '0);
      win_hi <= in_valid && in_w16 ? WW'(WIN - 1) : (win_hi != 0 ? win_hi - 1 : '0);
    end

  for (genvar j = 0; j < DIM; j++) begin : g_col
    // Column j's broadcast activation (DWGEMM): lane j of the streamed row, delayed j cycles,
    // both planes (cd: newest stage in the low byte).
    logic [7:0] col, colh;
    if (j == 0) begin : g_cd
      assign col = row_in[7:0];
      assign colh = rowh_in[7:0];
    end else begin : g_cd
      logic [8*j-1:0] cd, cdh;
      if (j == 1) begin : g_sh
        always_ff @(posedge clk)
          if (en_dw) begin
            cd <= row_in[8*j+:8];
            cdh <= rowh_in[8*j+:8];
          end
      end else begin : g_sh
        always_ff @(posedge clk)
          if (en_dw) begin
            cd <= {cd[8*j-9:0], row_in[8*j+:8]};
            cdh <= {cdh[8*j-9:0], rowh_in[8*j+:8]};
          end
      end
      assign col = cd[8*j-1-:8];
      assign colh = cdh[8*j-1-:8];
    end

    // DWGEMM bias: a shadow and an active int32 per column, loaded with the column's weights
    // and swapped with them as a tile's first row passes the top PE; a row flagged in_bias (the
    // flag moves right along the top row with the row) enters column j with it as partial sum.
    // The high plane's chain always starts from 0 (DWGEMM16's bias applies to the low plane).
    logic bi;
    logic [31:0] b_sh, b_act, top;
    if (j == 0) begin : g_bi
      assign bi = bi_in0;
    end else begin : g_bi
      logic bq;
      always_ff @(posedge clk)
        if (en) bq <= g_col[j-1].bi;
      assign bi = bq;
    end
    always_ff @(posedge clk) begin
      if (wld && wld_col == CW'(j)) b_sh <= wld_bias;
      if (en && g_row[0].g_pe[j].swi) b_act <= b_sh;
    end
    assign top = bi ? (g_row[0].g_pe[j].swi ? b_sh : b_act) : 32'd0;
  end

  for (genvar k = 0; k < DIM; k++) begin : g_row
    // Input skew: lane k enters row k through k stages (newest stage in the low bits).
    logic [7:0] a0, ah0;
    logic sw0, dw0;
    if (k == 0) begin : g_sk
      assign a0 = row_in[7:0];
      assign ah0 = rowh_in[7:0];
      assign sw0 = sw_in0;
      assign dw0 = dw_in0;
    end else begin : g_sk
      logic [8*k-1:0] sk, skh;
      logic [k-1:0] sks, skd;
      if (k == 1) begin : g_sh
        always_ff @(posedge clk)
          if (en) begin
            sk <= row_in[8*k+:8];
            sks <= sw_in0;
            skd <= dw_in0;
          end
        always_ff @(posedge clk)
          if (en_hi) skh <= rowh_in[8*k+:8];
      end else begin : g_sh
        always_ff @(posedge clk)
          if (en) begin
            sk <= {sk[8*k-9:0], row_in[8*k+:8]};
            sks <= {sks[k-2:0], sw_in0};
            skd <= {skd[k-2:0], dw_in0};
          end
        always_ff @(posedge clk)
          if (en_hi) skh <= {skh[8*k-9:0], rowh_in[8*k+:8]};
      end
      assign a0 = sk[8*k-1-:8];
      assign ah0 = skh[8*k-1-:8];
      assign sw0 = sks[k-1];
      assign dw0 = skd[k-1];
    end

    for (genvar j = 0; j < DIM; j++) begin : g_pe
      // What enters PE(k, j): from its left neighbour (or the skew) and from above (or the
      // column's top).
      logic [7:0] ai, ahi;
      logic swi, dwi;
      logic [31:0] psi, pshi;
      // What it passes on.
      /* verilator lint_off UNUSEDSIGNAL */
      logic [7:0] a, ah;  // (the last column's are not used)
      logic sw, dw;
      /* verilator lint_on UNUSEDSIGNAL */
      logic [31:0] ps, psh;
      logic [7:0] w_act, w_sh;
      if (j == 0) begin : g_l
        assign ai = a0;
        assign ahi = ah0;
        assign swi = sw0;
        assign dwi = dw0;
      end else begin : g_l
        assign ai = g_pe[j-1].a;
        assign ahi = g_pe[j-1].ah;
        assign swi = g_pe[j-1].sw;
        assign dwi = g_pe[j-1].dw;
      end
      if (k == 0) begin : g_t
        assign psi = g_col[j].top;
        assign pshi = 32'd0;
      end else begin : g_t
        assign psi = g_row[k-1].g_pe[j].ps;
        assign pshi = g_row[k-1].g_pe[j].psh;
      end
      always_ff @(posedge clk)
        if (wld && wld_col == CW'(j)) w_sh <= wld_row[8*k+:8];
      always_ff @(posedge clk)
        if (en) begin
          ps <= pe_mac(psi, dwi ? g_col[j].col : ai, swi ? w_sh : w_act);
          a <= ai;
          sw <= swi;
          dw <= dwi;
          if (swi) w_act <= w_sh;
        end
      always_ff @(posedge clk)
        if (en_hi) begin
          psh <= pe_mac(pshi, dwi ? g_col[j].colh : ahi, swi ? w_sh : w_act);
          ah <= ahi;
        end
    end
  end

  // ---- outputs: column j of the bottom row delayed DIM - 1 - j cycles (newest in the low bits)
  for (genvar j = 0; j < DIM; j++) begin : g_out
    if (j == DIM - 1) begin : g_d
      assign out_row[32*j+:32] = g_row[DIM-1].g_pe[j].ps;
      assign out_row_hi[32*j+:32] = g_row[DIM-1].g_pe[j].psh;
    end else begin : g_d
      localparam int S = DIM - 1 - j;
      logic [32*S-1:0] d, dh;
      if (S == 1) begin : g_sh
        always_ff @(posedge clk)
          if (en) d <= g_row[DIM-1].g_pe[j].ps;
        always_ff @(posedge clk)
          if (en_hi) dh <= g_row[DIM-1].g_pe[j].psh;
      end else begin : g_sh
        always_ff @(posedge clk)
          if (en) d <= {d[32*S-33:0], g_row[DIM-1].g_pe[j].ps};
        always_ff @(posedge clk)
          if (en_hi) dh <= {dh[32*S-33:0], g_row[DIM-1].g_pe[j].psh};
      end
      assign out_row[32*j+:32] = d[32*S-1-:32];
      assign out_row_hi[32*j+:32] = dh[32*S-1-:32];
    end
  end
endmodule

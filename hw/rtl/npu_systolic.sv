// npu_systolic: the DIM x DIM weight-stationary systolic array.
// PE(k, j) holds W[j][k] (input channel k, output channel j). Element k of an activation row
// enters array row k skewed by k cycles and moves one PE to the right per cycle; partial sums
// move one PE down per cycle and leave the bottom row, where column j is delayed DIM-1-j cycles
// so a whole result row comes out at once, 2 * DIM - 1 cycles after the row went in.
// Each PE has an active and a shadow weight: the shadow is loaded one column per cycle
// (`wld`), and a row marked `in_swap` (the first row of a GEMM) copies shadow to active in
// every PE as it passes, so the next tile loads while the current one streams.
// DWGEMM rows (in_dw) use a second path: lane j of the streamed row is broadcast down column j,
// delayed j cycles, so PE(k, j) multiplies lane j of the row streamed k cycles after the row whose
// partial sum it holds: column j computes sum_k x[r + k][j] * W[j][k], a per-channel correlation
// (taps beyond the instruction's are zero weights, masked on preload by npu_gemm).
// 16x8 rows (GEMM16/DWGEMM16, spec version 5): the high byte plane of each row (in_row_hi) goes
// through the same skew, PEs, column broadcast and de-skew beside the low plane (in_row), on
// each PE's second multiplier and partial-sum chain with the same weight; the bias enters the
// low chain only, and the array outputs both result rows (out_row, out_row_hi) at once. An
// int8 row has in_row_hi zero, so out_row_hi is zero and out_row is unchanged.
module npu_systolic #(
    parameter int DIM = 16,
    localparam int CW = $clog2(DIM)
) (
    input  logic                 clk,
    input  logic                 en,        // advance the array (rows in flight)
    input  logic                 in_valid,
    input  logic                 in_swap,
    input  logic                 in_dw,
    input  logic                 in_bias,   // DWGEMM with bias: column j starts from its bias
    input  logic [31:0]          wld_bias,  // lanes DIM-4..DIM-1 of the preloaded row (raw)
    input  logic [8*DIM-1:0]     in_row,
    input  logic [8*DIM-1:0]     in_row_hi, // high plane of a 16x8 row, else 0
    input  logic                 wld,
    input  logic [CW-1:0]        wld_col,
    input  logic [8*DIM-1:0]     wld_row,
    output logic [32*DIM-1:0]    out_row,
    output logic [32*DIM-1:0]    out_row_hi
);
  logic signed [7:0] a_w[DIM][DIM+1];   // a_w[k][j]: activation into PE(k, j)
  logic signed [7:0] ah_w[DIM][DIM+1];  // its high plane
  logic sw_w[DIM][DIM+1];
  logic dw_w[DIM][DIM+1];
  logic signed [7:0] col_w[DIM];        // column j's broadcast activation
  logic signed [7:0] colh_w[DIM];       // its high plane
  logic signed [31:0] ps_w[DIM+1][DIM]; // ps_w[k][j]: partial sum into PE(k, j)
  logic signed [31:0] psh_w[DIM+1][DIM]; // the high plane's partial sums

  for (genvar k = 0; k < DIM; k++) begin : g_row
    // Input skew: row k is delayed k cycles (a shift register of k stages).
    if (k == 0) begin : g_noskew
      assign a_w[0][0] = in_valid ? in_row[7:0] : 8'sd0;
      assign ah_w[0][0] = in_valid ? in_row_hi[7:0] : 8'sd0;
      assign sw_w[0][0] = in_valid && in_swap;
      assign dw_w[0][0] = in_valid && in_dw;
    end else begin : g_skew
      logic signed [7:0] sk[k], skh[k];
      logic sks[k];
      logic skd[k];
      always_ff @(posedge clk)
        if (en) begin
          sk[0] <= in_valid ? in_row[8*k+:8] : 8'sd0;
          skh[0] <= in_valid ? in_row_hi[8*k+:8] : 8'sd0;
          sks[0] <= in_valid && in_swap;
          skd[0] <= in_valid && in_dw;
          for (int s = 1; s < k; s++) begin
            sk[s] <= sk[s-1];
            skh[s] <= skh[s-1];
            sks[s] <= sks[s-1];
            skd[s] <= skd[s-1];
          end
        end
      assign a_w[k][0] = sk[k-1];
      assign ah_w[k][0] = skh[k-1];
      assign sw_w[k][0] = sks[k-1];
      assign dw_w[k][0] = skd[k-1];
    end
    for (genvar j = 0; j < DIM; j++) begin : g_col
      npu_pe pe (
          .clk(clk), .en(en), .a_in(a_w[k][j]), .a_hi_in(ah_w[k][j]), .sw_in(sw_w[k][j]),
          .dw_in(dw_w[k][j]), .c_in(col_w[j]), .c_hi_in(colh_w[j]), .ps_in(ps_w[k][j]),
          .ps_hi_in(psh_w[k][j]), .wld(wld && wld_col == CW'(j)), .wld_val(wld_row[8*k+:8]),
          .a_out(a_w[k][j+1]), .a_hi_out(ah_w[k][j+1]), .sw_out(sw_w[k][j+1]),
          .dw_out(dw_w[k][j+1]), .ps_out(ps_w[k+1][j]), .ps_hi_out(psh_w[k+1][j]));
    end
  end

  // Column broadcast: lane j of the streamed row (both planes), delayed j cycles.
  for (genvar j = 0; j < DIM; j++) begin : g_colbus
    if (j == 0) begin : g_nocd
      assign col_w[0] = in_valid ? in_row[7:0] : 8'sd0;
      assign colh_w[0] = in_valid ? in_row_hi[7:0] : 8'sd0;
    end else begin : g_cd
      logic signed [7:0] cd[j], cdh[j];
      always_ff @(posedge clk)
        if (en) begin
          cd[0] <= in_valid ? in_row[8*j+:8] : 8'sd0;
          cdh[0] <= in_valid ? in_row_hi[8*j+:8] : 8'sd0;
          for (int s = 1; s < j; s++) begin
            cd[s] <= cd[s-1];
            cdh[s] <= cdh[s-1];
          end
        end
      assign col_w[j] = cd[j-1];
      assign colh_w[j] = cdh[j-1];
    end
  end

  // DWGEMM bias: a shadow and an active int32 per column, loaded with the column's weights and
  // swapped with them as a tile's first row passes the top PE; a row flagged in_bias (the flag
  // moves right along the top row with the row) enters column j with it as partial sum. The
  // high plane's chain always starts from 0 (DWGEMM16's bias applies to the low plane).
  logic bi_c[DIM];
  logic signed [31:0] b_sh[DIM], b_act[DIM];
  assign bi_c[0] = in_valid && in_bias;
  for (genvar j = 0; j < DIM; j++) begin : g_bias
    if (j > 0) begin : g_bic
      always_ff @(posedge clk)
        if (en) bi_c[j] <= bi_c[j-1];
    end
    always_ff @(posedge clk) begin
      if (wld && wld_col == CW'(j)) b_sh[j] <= wld_bias;
      if (en && sw_w[0][j]) b_act[j] <= b_sh[j];
    end
    assign ps_w[0][j] = bi_c[j] ? (sw_w[0][j] ? b_sh[j] : b_act[j]) : 32'sd0;
    assign psh_w[0][j] = 32'sd0;
  end

  for (genvar j = 0; j < DIM; j++) begin : g_out
    // Output de-skew: column j is delayed DIM-1-j cycles (both planes).
    if (j == DIM - 1) begin : g_nodesk
      assign out_row[32*j+:32] = ps_w[DIM][j];
      assign out_row_hi[32*j+:32] = psh_w[DIM][j];
    end else begin : g_desk
      logic signed [31:0] d[DIM-1-j], dh[DIM-1-j];
      always_ff @(posedge clk)
        if (en) begin
          d[0] <= ps_w[DIM][j];
          dh[0] <= psh_w[DIM][j];
          for (int s = 1; s < DIM - 1 - j; s++) begin
            d[s] <= d[s-1];
            dh[s] <= dh[s-1];
          end
        end
      assign out_row[32*j+:32] = d[DIM-2-j];
      assign out_row_hi[32*j+:32] = dh[DIM-2-j];
    end
  end

  // The activations leaving the last column are not used.
  logic unused;
  always_comb begin
    unused = 1'b0;
    for (int k = 0; k < DIM; k++)
      unused = unused ^ (^a_w[k][DIM]) ^ (^ah_w[k][DIM]) ^ sw_w[k][DIM] ^ dw_w[k][DIM];
  end
endmodule

// npu_pe: one processing element of the weight-stationary array: two 8 x 8 -> 32 multiply-adds
// sharing one weight (an active and a shadow register), and the registers that pass activations
// right and partial sums down. The second multiplier and partial-sum chain (`_hi`) carry the
// high byte plane of a 16-bit activation row (GEMM16/DWGEMM16, spec version 5) beside the low
// plane on the first; in int8 mode their inputs are zero. A row of a DWGEMM (dw_in) multiplies
// the column's broadcast activations c_in / c_hi_in instead of the row's own a_in / a_hi_in
// (npu_systolic.sv).
module npu_pe (
    input  logic               clk,
    input  logic               en,
    input  logic signed [7:0]  a_in,
    input  logic signed [7:0]  a_hi_in,  // high plane (16x8 rows), else 0
    input  logic               sw_in,    // first row of a new tile: shadow becomes active
    input  logic               dw_in,    // the row belongs to a DWGEMM
    input  logic signed [7:0]  c_in,     // the column's broadcast activation (DWGEMM)
    input  logic signed [7:0]  c_hi_in,  // and its high plane
    input  logic signed [31:0] ps_in,
    input  logic signed [31:0] ps_hi_in,
    input  logic               wld,
    input  logic signed [7:0]  wld_val,
    output logic signed [7:0]  a_out,
    output logic signed [7:0]  a_hi_out,
    output logic               sw_out,
    output logic               dw_out,
    output logic signed [31:0] ps_out,
    output logic signed [31:0] ps_hi_out
);
  logic signed [7:0] w_act, w_sh, w, x, x_hi;

  assign w = sw_in ? w_sh : w_act;
  assign x = dw_in ? c_in : a_in;
  assign x_hi = dw_in ? c_hi_in : a_hi_in;

  always_ff @(posedge clk) begin
    if (wld) w_sh <= wld_val;
    if (en) begin
      ps_out <= ps_in + 32'(x) * 32'(w);
      ps_hi_out <= ps_hi_in + 32'(x_hi) * 32'(w);
      a_out <= a_in;
      a_hi_out <= a_hi_in;
      sw_out <= sw_in;
      dw_out <= dw_in;
      if (sw_in) w_act <= w_sh;
    end
  end
endmodule

// npu_pe: one processing element of the weight-stationary array: an 8 x 8 -> 32 multiply-add,
// an active and a shadow weight, and the registers that pass activations right and partial
// sums down. A row of a DWGEMM (dw_in) multiplies the column's broadcast activation c_in instead
// of the row's own a_in (npu_systolic.sv).
module npu_pe (
    input  logic               clk,
    input  logic               en,
    input  logic signed [7:0]  a_in,
    input  logic               sw_in,    // first row of a new tile: shadow becomes active
    input  logic               dw_in,    // the row belongs to a DWGEMM
    input  logic signed [7:0]  c_in,     // the column's broadcast activation (DWGEMM)
    input  logic signed [31:0] ps_in,
    input  logic               wld,
    input  logic signed [7:0]  wld_val,
    output logic signed [7:0]  a_out,
    output logic               sw_out,
    output logic               dw_out,
    output logic signed [31:0] ps_out
);
  logic signed [7:0] w_act, w_sh, w, x;

  assign w = sw_in ? w_sh : w_act;
  assign x = dw_in ? c_in : a_in;

  always_ff @(posedge clk) begin
    if (wld) w_sh <= wld_val;
    if (en) begin
      ps_out <= ps_in + 32'(x) * 32'(w);
      a_out <= a_in;
      sw_out <= sw_in;
      dw_out <= dw_in;
      if (sw_in) w_act <= w_sh;
    end
  end
endmodule

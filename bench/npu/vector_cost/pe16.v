// For the choice only (not built): the processing element the rejected full-rate alternative
// needs, a 16 x 8 multiply into a 48-bit partial sum with a 16-bit activation passed right,
// against hw/rtl/npu_pe.sv's 8 x 8 into 32 bits (1,133 cells, 58 flip-flops). DIM is unused.
module cost_pe16 #(parameter DIM = 16) (
    input clk, input en, input signed [15:0] a_in, input sw_in, input signed [47:0] ps_in,
    input wld, input signed [7:0] wld_val, output reg signed [15:0] a_out,
    output reg sw_out, output reg signed [47:0] ps_out);
  reg signed [7:0] w_act, w_sh;
  wire signed [7:0] w = sw_in ? w_sh : w_act;
  always @(posedge clk) begin
    if (wld) w_sh <= wld_val;
    if (en) begin
      ps_out <= ps_in + a_in * w;
      a_out <= a_in;
      sw_out <= sw_in;
      if (sw_in) w_act <= w_sh;
    end
  end
endmodule

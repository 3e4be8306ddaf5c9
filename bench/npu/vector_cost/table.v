// The output table as hw/rtl/npu_vector.sv holds it: 256 bytes of flip-flops written one ACC
// row (4 DIM bytes) a cycle by LUTLD, read by DIM lanes at once (a 256:1 byte mux per lane).
module cost_table #(parameter DIM = 16) (
    input clk, input we, input [7:0] wrow, input [32*DIM-1:0] wdata,
    input [8*DIM-1:0] idx, output [8*DIM-1:0] q);
  reg [7:0] t [0:255];
  integer b;
  always @(posedge clk)
    if (we) for (b = 0; b < 4 * DIM; b = b + 1) t[wrow * 4 * DIM + b] <= wdata[8*b +: 8];
  genvar l;
  generate for (l = 0; l < DIM; l = l + 1) begin : g
    assign q[8*l +: 8] = t[idx[8*l +: 8] ^ 8'h80];
  end endgenerate
endmodule

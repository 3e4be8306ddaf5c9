// Spec version 3's 16-bit table as hw/rtl/npu_vector.sv holds it: 513 int16 entries of
// flip-flops written one ACC row (4 DIM bytes) a cycle by LUTLD w16, and LANES lookups a cycle
// (lut16_lanes_per_cycle, 4): per lookup a DIM:1 lane select, the entries at and after
// 256 + (x >> 7) (two 512:1 reads of 16 bits) and the interpolation
// base + ((next - base) * (x & 127) + 64) >> 7. A row takes DIM / LANES cycles.
module cost_table16 #(parameter DIM = 16, parameter LANES = 4) (
    input clk, input we, input [5:0] wrow, input [32*DIM-1:0] wdata,
    input [16*DIM-1:0] x, input [7:0] grp, output [16*LANES-1:0] q);
  reg [15:0] t [0:512];
  integer b;
  always @(posedge clk)
    if (we)
      for (b = 0; b < 4 * DIM; b = b + 1)
        if (wrow * 4 * DIM + b < 1026)
          if (b % 2 == 0) t[(wrow * 4 * DIM + b) / 2][7:0] <= wdata[8*b +: 8];
          else t[(wrow * 4 * DIM + b) / 2][15:8] <= wdata[8*b +: 8];
  genvar j;
  generate for (j = 0; j < LANES; j = j + 1) begin : g
    wire signed [15:0] v = x[16 * (grp * LANES + j) +: 16];
    wire [9:0] idx = 10'd256 + {{3{v[15]}}, v[15:7]};
    wire signed [16:0] base = $signed(t[idx]);
    wire signed [16:0] slope = $signed(t[idx + 10'd1]) - base;
    wire signed [24:0] d = slope * $signed({1'b0, v[6:0]}) + 25'sd64;
    wire signed [16:0] o = base + (d >>> 7);
    assign q[16*j +: 16] = o[15:0];
  end endgenerate
endmodule

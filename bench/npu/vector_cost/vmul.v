// VMUL's own datapath per lane (the requantization after it is REQUANT's, shared): the two
// zero-point subtractions and a 9 x 9 signed multiply.
module cost_vmul #(parameter DIM = 16) (
    input [8*DIM-1:0] a, input [8*DIM-1:0] b, input [7:0] za, input [7:0] zb,
    output [32*DIM-1:0] p);
  genvar l;
  generate for (l = 0; l < DIM; l = l + 1) begin : g
    wire signed [8:0] da = $signed({a[8*l+7], a[8*l +: 8]}) - $signed({za[7], za});
    wire signed [8:0] db = $signed({b[8*l+7], b[8*l +: 8]}) - $signed({zb[7], zb});
    wire signed [17:0] m = da * db;
    assign p[32*l +: 32] = {{14{m[17]}}, m};
  end endgenerate
endmodule

// VMUL's own datapath per lane in spec version 3: operands of either width (an 8- or 16-bit
// zero point), the `one` form, a 17 x 17 multiply kept to int32 (the requantization after it is
// the shared unit). Compare vmul.v (9 x 9).
module cost_vmul16 #(parameter DIM = 16) (
    input [16*DIM-1:0] a, input [16*DIM-1:0] b, input a16, input b16, input one,
    input [15:0] za, input [15:0] zb, output [32*DIM-1:0] p);
  genvar l;
  generate for (l = 0; l < DIM; l = l + 1) begin : g
    wire signed [16:0] av = a16 ? $signed({a[16*l+15], a[16*l +: 16]})
                                : $signed({{9{a[16*l+7]}}, a[16*l +: 8]});
    wire signed [16:0] bv = b16 ? $signed({b[16*l+15], b[16*l +: 16]})
                                : $signed({{9{b[16*l+7]}}, b[16*l +: 8]});
    wire signed [16:0] zav = a16 ? $signed({za[15], za}) : $signed({{9{za[7]}}, za[7:0]});
    wire signed [16:0] zbv = b16 ? $signed({zb[15], zb}) : $signed({{9{zb[7]}}, zb[7:0]});
    wire signed [17:0] da = av - zav;
    wire signed [17:0] db = one ? 18'sd1 : bv - zbv;
    wire signed [35:0] m = da * db;
    assign p[32*l +: 32] = m[31:0];
  end endgenerate
endmodule

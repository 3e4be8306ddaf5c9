// For scale: REQUANT's requantization unit per lane (a 32 x 32 multiply, the rounding shift,
// zero point and clamp), which VMUL shares.
module cost_requant #(parameter DIM = 16) (
    input [32*DIM-1:0] x, input [32*DIM-1:0] m, input [5:0] total, input [7:0] zp,
    output [8*DIM-1:0] y);
  genvar l;
  generate for (l = 0; l < DIM; l = l + 1) begin : g
    wire signed [63:0] r = $signed(x[32*l +: 32]) * $signed(m[32*l +: 32]) +
                           (64'sd1 <<< (total - 6'd1));
    wire signed [63:0] s = r >>> total;
    wire signed [63:0] o = s + $signed({zp[7], zp});
    assign y[8*l +: 8] = o > 127 ? 8'd127 : (o < -128 ? 8'h80 : o[7:0]);
  end endgenerate
endmodule

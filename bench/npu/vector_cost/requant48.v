// Spec version 3's requantization unit per lane: REQUANT's unit widened to a 48-bit input (the
// 16x8 accumulator: high plane's sum * 256 + low plane's sum + an int64 bias, saturated to 48
// bits), a 48 x 32 multiply, the rounding shift, zero point, and the clamp to int8 or int16.
// Compare requant.v (the 32 x 32 unit it replaces; VMUL shares it as before).
module cost_requant48 #(parameter DIM = 16) (
    input [32*DIM-1:0] lo, input [32*DIM-1:0] hi, input [32*DIM-1:0] blo,
    input [32*DIM-1:0] bhi, input acc16, input out16, input [32*DIM-1:0] m,
    input [5:0] total, input [7:0] zp, output [16*DIM-1:0] y);
  genvar l;
  generate for (l = 0; l < DIM; l = l + 1) begin : g
    wire signed [63:0] x16 = ($signed(hi[32*l +: 32]) <<< 8) + $signed(lo[32*l +: 32]) +
                             $signed({bhi[32*l +: 32], blo[32*l +: 32]});
    wire signed [63:0] x = acc16 ? x16 : $signed(lo[32*l +: 32]) + $signed(blo[32*l +: 32]);
    wire signed [47:0] xs = x > 64'sh7fffffffffff ? 48'sh7fffffffffff :
                            (x < -64'sh800000000000 ? -48'sh800000000000 : x[47:0]);
    wire signed [79:0] r = xs * $signed(m[32*l +: 32]) + (80'sd1 <<< (total - 6'd1));
    wire signed [79:0] s = r >>> total;
    wire signed [79:0] o = s + $signed({zp[7], zp});
    wire [15:0] y16 = o > 32767 ? 16'h7fff : (o < -32768 ? 16'h8000 : o[15:0]);
    wire [7:0] y8 = o > 127 ? 8'd127 : (o < -128 ? 8'h80 : o[7:0]);
    assign y[16*l +: 16] = out16 ? y16 : {{8{y8[7]}}, y8};
  end endgenerate
endmodule

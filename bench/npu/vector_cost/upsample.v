// UPSAMPLE's bilinear datapath per lane: w_y (w_x0 (v0 - zp) + w_x1 (v1 - zp)) with 5-bit
// weights, accumulated over two cycles (the accumulator register is POOL's), then the rounding
// half to even by 2k + 2 bits and + zp (k <= 3).
module cost_upsample #(parameter DIM = 16) (
    input [8*DIM-1:0] v0, input [8*DIM-1:0] v1, input [7:0] zp, input [4:0] wy,
    input [4:0] wx0, input [4:0] wx1, input first, input [1:0] k,
    input [20*DIM-1:0] acc, output [20*DIM-1:0] nacc, output [8*DIM-1:0] y);
  genvar l;
  generate for (l = 0; l < DIM; l = l + 1) begin : g
    wire signed [8:0] d0 = $signed({v0[8*l+7], v0[8*l +: 8]}) - $signed({zp[7], zp});
    wire signed [8:0] d1 = $signed({v1[8*l+7], v1[8*l +: 8]}) - $signed({zp[7], zp});
    wire signed [14:0] s = d0 * $signed({1'b0, wx0}) + d1 * $signed({1'b0, wx1});
    wire signed [19:0] c = s * $signed({1'b0, wy});
    wire signed [19:0] n = first ? c : $signed(acc[20*l +: 20]) + c;
    assign nacc[20*l +: 20] = n;
    wire [4:0] sh = {k, 1'b0} + 5'd2;
    wire signed [19:0] q = n >>> sh;
    wire signed [19:0] r = n - (q <<< sh);
    wire signed [19:0] half = 20'sd1 <<< (sh - 5'd1);
    wire signed [19:0] o = q + ((r > half || (r == half && q[0])) ? 20'sd1 : 20'sd0) + $signed({zp[7], zp});
    assign y[8*l +: 8] = o > 127 ? 8'd127 : (o < -128 ? 8'h80 : o[7:0]);
  end endgenerate
endmodule

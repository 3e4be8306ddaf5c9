// npu_arith_pkg: the scalar arithmetic of the VECTOR engine, bit-exact with
// simulator/include/ember/npu/Arith.h (gemmlowp/TFLite integer conventions). Pure functions,
// synthesizable; every lane of the VECTOR engine instantiates them combinationally.
package npu_arith_pkg;

  localparam logic signed [31:0] I32_MIN = 32'sh8000_0000;
  localparam logic signed [31:0] I32_MAX = 32'sh7fff_ffff;

  // gemmlowp SaturatingRoundingDoublingHighMul: (a*b + nudge) / 2^31, truncating toward zero.
  function automatic logic signed [31:0] srdhm(input logic signed [31:0] a,
                                               input logic signed [31:0] b);
    logic signed [63:0] ab, s;
    /* verilator lint_off UNUSEDSIGNAL */
    logic signed [63:0] q;
    /* verilator lint_on UNUSEDSIGNAL */
    if (a == I32_MIN && b == I32_MIN) return I32_MAX;
    ab = 64'(a) * 64'(b);
    s = ab + (ab >= 0 ? 64'sd1073741824 : -64'sd1073741823);
    // Division by 2^31 rounding toward zero: bias negative values before the arithmetic shift.
    q = (s + (s < 0 ? 64'sd2147483647 : 64'sd0)) >>> 31;
    return q[31:0];  // |q| < 2^31 except for INT32_MIN * INT32_MIN, handled above
  endfunction

  // gemmlowp RoundingDivideByPOT, exponent in [0, 31].
  function automatic logic signed [31:0] rdbpot(input logic signed [31:0] x,
                                                input logic [4:0] e);
    logic signed [31:0] mask, rem, thr;
    mask = 32'sh7fff_ffff >>> (5'd31 - e);
    rem = x & mask;
    thr = (mask >>> 1) + (x < 0 ? 32'sd1 : 32'sd0);
    return (x >>> e) + (rem > thr ? 32'sd1 : 32'sd0);
  endfunction

  // TFLite MultiplyByQuantizedMultiplier; shift clamped to [-31, 31], the left shift wraps.
  function automatic logic signed [31:0] mbqm(input logic signed [31:0] x,
                                              input logic signed [31:0] mult,
                                              input logic signed [31:0] shift);
    logic signed [31:0] s;
    logic [4:0] left, right;
    s = shift > 31 ? 32'sd31 : (shift < -31 ? -32'sd31 : shift);
    left = s > 0 ? s[4:0] : 5'd0;
    right = s > 0 ? 5'd0 : 5'(-s);
    return rdbpot(srdhm(x << left, mult), right);
  endfunction

  // max(lo, min(hi, v)) then saturate to int8 (min > max yields min, as in Arith.h).
  function automatic logic [7:0] clamp_i8(input logic signed [31:0] v, input logic signed [31:0] lo,
                                          input logic signed [31:0] hi);
    logic signed [31:0] r;
    r = v < hi ? v : hi;
    r = lo > r ? lo : r;
    r = r > 127 ? 32'sd127 : (r < -128 ? -32'sd128 : r);
    return r[7:0];
  endfunction

  function automatic logic [7:0] requantize(input logic signed [31:0] acc,
                                            input logic signed [31:0] mult,
                                            input logic signed [31:0] shift,
                                            input logic signed [31:0] zp,
                                            input logic signed [31:0] lo,
                                            input logic signed [31:0] hi);
    return clamp_i8(mbqm(acc, mult, shift) + zp, lo, hi);
  endfunction

  // TFLite quantized add of one element pair; p_* are the ADD_* registers.
  function automatic logic [7:0] quant_add(input logic signed [7:0] a, input logic signed [7:0] b,
                                           input logic [4:0] lshift,
                                           input logic signed [31:0] a_zp,
                                           input logic signed [31:0] a_mult,
                                           input logic signed [31:0] a_shift,
                                           input logic signed [31:0] b_zp,
                                           input logic signed [31:0] b_mult,
                                           input logic signed [31:0] b_shift,
                                           input logic signed [31:0] out_mult,
                                           input logic signed [31:0] out_shift,
                                           input logic signed [31:0] out_zp,
                                           input logic signed [31:0] lo,
                                           input logic signed [31:0] hi);
    logic signed [31:0] sa, sb;
    sa = mbqm((32'(a) - a_zp) << lshift, a_mult, a_shift);
    sb = mbqm((32'(b) - b_zp) << lshift, b_mult, b_shift);
    return clamp_i8(mbqm(sa + sb, out_mult, out_shift) + out_zp, lo, hi);
  endfunction

  // Pool average rounded half up: floor(sum / n + 1/2) = floor((2 sum + n) / (2 n)).
  function automatic logic [7:0] pool_average(input logic signed [31:0] sum,
                                              input logic [15:0] count);
    logic signed [31:0] num, den, q;
    num = 2 * sum + 32'(count);
    den = 2 * 32'(count);
    q = num / den;
    if (num % den != 0 && num < 0) q = q - 1;
    return clamp_i8(q, -32'sd128, 32'sd127);
  endfunction

endpackage

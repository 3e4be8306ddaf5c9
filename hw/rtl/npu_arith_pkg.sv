// npu_arith_pkg: the scalar arithmetic of the VECTOR engine, bit-exact with Ember's one int8
// definition (backend-api/include/ember/quant/Arith.h, used by simulator/include/ember/npu/
// Arith.h): TFLite integer conventions. Pure functions, synthesizable; every lane of the VECTOR
// engine instantiates them combinationally.
package npu_arith_pkg;
  import npu_spec_pkg::NPU_TAB_EXP2;

  localparam logic signed [31:0] I32_MIN = 32'sh8000_0000;
  localparam logic signed [31:0] I32_MAX = 32'sh7fff_ffff;

  // MultiplyByQuantizedMultiplier with one rounding (ember/quant/Arith.h, TFLite's single-rounding
  // form): round(x * mult / 2^(31 - shift)) half up, shift clamped to [-31, 30], the result
  // saturated to int32.
  function automatic logic signed [31:0] mbqm(input logic signed [31:0] x,
                                              input logic signed [31:0] mult,
                                              input logic signed [31:0] shift);
    logic signed [31:0] s;
    logic [5:0] total;  // 1 .. 62
    logic signed [63:0] r;
    s = shift > 30 ? 32'sd30 : (shift < -31 ? -32'sd31 : shift);
    total = 6'(32'sd31 - s);
    r = 64'(x) * 64'(mult) + (64'sd1 <<< (total - 6'd1));
    r = r >>> total;  // floor division by 2^total
    return r > 64'(I32_MAX) ? I32_MAX : (r < 64'(I32_MIN) ? I32_MIN : r[31:0]);
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

  // The exact quantized add of one element pair (VADD exact, spec version 4; quant::addFixed,
  // docs/quantization.md): the lanes read as u = a + 128 and w = b + 128 (sign bit flipped), then
  // (a_mult u + b_mult w + offset) >>> shift in 64 bits, a_mult and b_mult unsigned 48-bit, offset
  // saturated to +-(2^62 - 1), shift clamped to [0, 62], saturated to int32, clamped to [lo, hi].
  function automatic logic [7:0] quant_add_exact(input logic signed [7:0] a,
                                                 input logic signed [7:0] b,
                                                 input logic [47:0] a_mult,
                                                 input logic [47:0] b_mult,
                                                 input logic signed [63:0] offset,
                                                 input logic signed [31:0] shift,
                                                 input logic signed [31:0] lo,
                                                 input logic signed [31:0] hi);
    localparam logic signed [63:0] OFF_MAX = 64'sh3fff_ffff_ffff_ffff;
    logic signed [63:0] u, w, off, v;
    logic [5:0] sh;
    u = 64'({~a[7], a[6:0]});
    w = 64'({~b[7], b[6:0]});
    off = offset > OFF_MAX ? OFF_MAX : (offset < -OFF_MAX ? -OFF_MAX : offset);
    sh = shift > 62 ? 6'd62 : (shift < 0 ? 6'd0 : 6'(shift));
    v = $signed({16'd0, a_mult}) * u + $signed({16'd0, b_mult}) * w + off;
    v = v >>> sh;  // floor division by 2^shift
    return clamp_i8(v > 64'(I32_MAX) ? I32_MAX : (v < 64'(I32_MIN) ? I32_MIN : v[31:0]), lo, hi);
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

  // VMUL's product: (a - a_zp) * (b - b_zp), the zero points the MUL_*_ZP registers' low 8 bits
  // (signed): a 9 x 9-bit multiply.
  function automatic logic signed [31:0] mul_product(input logic signed [7:0] a,
                                                     input logic signed [7:0] b,
                                                     input logic signed [7:0] a_zp,
                                                     input logic signed [7:0] b_zp);
    logic signed [8:0] da, db;
    da = 9'(a) - 9'(a_zp);
    db = 9'(b) - 9'(b_zp);
    return 32'(da * db);
  endfunction

  // UPSAMPLE along one axis (Arith.h upsampleTaps): output coordinate x of an n-long axis,
  // factor 2^k; mode 0 nearest (one tap, the whole weight), 1 half_pixel, 2 asymmetric: the
  // position p = 2x + 1 - f or 2x in units of 1/(2f), taps floor(p / 2f) and the next (clamped),
  // weights 2f - p mod 2f and p mod 2f.
  function automatic void up_taps(input logic [12:0] x, input logic [9:0] n, input logic [1:0] k,
                                  input logic [1:0] mode, output logic [9:0] i0,
                                  output logic [9:0] i1, output logic [4:0] w0,
                                  output logic [4:0] w1);
    logic signed [15:0] p, i, j, last;
    logic [4:0] unit, frac;
    unit = 5'd2 << k;
    last = 16'(n) - 16'sd1;
    if (mode == 2'd0) begin
      i0 = 10'(x >> k);
      i1 = i0;
      w0 = unit;
      w1 = 5'd0;
    end else begin
      p = mode == 2'd1 ? 16'(2 * x) + 16'sd1 - (16'sd1 <<< k) : 16'(2 * x);
      i = p >>> (32'(k) + 1);
      frac = 5'(p) & (unit - 5'd1);
      j = i + 16'sd1;
      i0 = 10'(i < 0 ? 16'sd0 : (i > last ? last : i));
      i1 = 10'(j < 0 ? 16'sd0 : (j > last ? last : j));
      w0 = unit - frac;
      w1 = frac;
    end
  endfunction

  // sum / 2^sh rounded half to even (sh >= 1), as ONNX Resize rounds an interpolated integer.
  function automatic logic signed [31:0] round_half_even(input logic signed [31:0] sum,
                                                         input logic [4:0] sh);
    logic signed [31:0] q, r, half;
    q = sum >>> sh;
    r = sum - (q <<< sh);
    half = 32'sd1 <<< (sh - 5'd1);
    return q + ((r > half || (r == half && q[0])) ? 32'sd1 : 32'sd0);
  endfunction

  // ---- 16-bit activations (spec version 3): Ember's 16x8 definition (ember/quant/Arith.h).

  // MBQM of a 16x8 accumulator: x saturated to 48 bits, times mult * 2^(shift - 31), rounded
  // once, half up (the product needs 79 bits), saturated to int32. A 32-bit x sign-extended
  // gives mbqm's result, so the requantization unit (one per lane) is this 48 x 32 form.
  function automatic logic signed [31:0] mbqm48(input logic signed [63:0] x,
                                                input logic signed [31:0] mult,
                                                input logic signed [31:0] shift);
    logic signed [31:0] s;
    logic [5:0] total;  // 1 .. 62
    logic signed [47:0] xs;
    logic signed [95:0] r;
    s = shift > 30 ? 32'sd30 : (shift < -31 ? -32'sd31 : shift);
    total = 6'(32'sd31 - s);
    xs = x > 64'sh0000_7fff_ffff_ffff ? 48'sh7fff_ffff_ffff :
         (x < -64'sh0000_8000_0000_0000 ? -48'sh8000_0000_0000 : x[47:0]);
    r = 96'(xs) * 96'(mult) + (96'sd1 <<< (total - 6'd1));
    r = r >>> total;
    return r > 96'(I32_MAX) ? I32_MAX : (r < 96'(I32_MIN) ? I32_MIN : r[31:0]);
  endfunction

  // max(lo, min(hi, v)) then saturate to int16 (min > max yields min).
  function automatic logic [15:0] clamp_i16(input logic signed [31:0] v,
                                            input logic signed [31:0] lo,
                                            input logic signed [31:0] hi);
    logic signed [31:0] r;
    r = v < hi ? v : hi;
    r = lo > r ? lo : r;
    r = r > 32767 ? 32'sd32767 : (r < -32768 ? -32'sd32768 : r);
    return r[15:0];
  endfunction

  // The int16 held by a 16-bit row's two bytes: the high byte (signed) and the low byte stored
  // excess-128.
  function automatic logic signed [31:0] wide_value(input logic [7:0] lo, input logic [7:0] hi);
    return 32'($signed({hi, lo ^ 8'h80}));
  endfunction

  // VADD w16: TFLite's int16 quantized add (quant_add's arithmetic on int16 operands, the
  // compiler's left shift 15), clamped to int16. Kept apart from quant_add.
  function automatic logic [15:0] quant_add16(input logic signed [31:0] a,
                                              input logic signed [31:0] b,
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
    sa = mbqm((a - a_zp) << lshift, a_mult, a_shift);
    sb = mbqm((b - b_zp) << lshift, b_mult, b_shift);
    return clamp_i16(mbqm(sa + sb, out_mult, out_shift) + out_zp, lo, hi);
  endfunction

  // A 16-bit pool average rounded half up, clamped to int16.
  function automatic logic [15:0] pool_average16(input logic signed [31:0] sum,
                                                 input logic [15:0] count);
    logic signed [31:0] num, den, q;
    num = 2 * sum + 32'(count);
    den = 2 * 32'(count);
    q = num / den;
    if (num % den != 0 && num < 0) q = q - 1;
    return clamp_i16(q, -32'sd32768, 32'sd32767);
  endfunction

  // TableLookup16 between the table entries at and after the index (256 + (x >> 7)):
  // base + ((next - base) * (x & 127) + 64) >> 7, the slope exact.
  function automatic logic [15:0] lut16_interp(input logic signed [15:0] base,
                                               input logic signed [15:0] next,
                                               input logic [6:0] off);
    logic signed [31:0] slope;
    slope = 32'(next) - 32'(base);
    return 16'(32'(base) + ((slope * 32'($signed({1'b0, off})) + 32'sd64) >>> 7));
  endfunction

  // VROWMUL (spec version 8): one element of an integer normalization's output, as rowMulNorm
  // in ember/npu/Arith.h: the deviation d (n x - sum, or x - x_zp) times the row's R and the
  // channel's mult (a signed product in 128 bits), floored by k = 101 - (s >> 1) - clamp(shift,
  // -31, 30) clamped to [0, 127], plus the int64 bias (Q16), rounded half up by 16 bits, plus zp,
  // saturated to int32 and clamped to [lo, hi] and to the result's width.
  function automatic logic [15:0] row_mul_norm(
      input logic signed [31:0] x, input logic center, input logic signed [31:0] n,
      input logic signed [31:0] sum, input logic signed [31:0] xzp,
      input logic signed [31:0] r, input logic signed [31:0] s,
      input logic signed [31:0] mult, input logic signed [31:0] shift,
      input logic signed [63:0] bias, input logic signed [31:0] zp,
      input logic signed [31:0] lo, input logic signed [31:0] hi, input logic out16);
    logic signed [63:0] d;
    logic signed [127:0] prod, t, v;
    logic signed [31:0] sc, k, v32;
    d = center ? $signed({{32{n[31]}}, n}) * $signed({{32{x[31]}}, x}) -
                 $signed({{32{sum[31]}}, sum})
               : $signed({{32{x[31]}}, x}) - $signed({{32{xzp[31]}}, xzp});
    prod = $signed({{64{d[63]}}, d}) * $signed({{96{r[31]}}, r}) *
           $signed({{96{mult[31]}}, mult});
    sc = shift < -32'sd31 ? -32'sd31 : (shift > 32'sd30 ? 32'sd30 : shift);
    k = 32'sd101 - (s >>> 1) - sc;
    k = k < 0 ? 32'sd0 : (k > 32'sd127 ? 32'sd127 : k);
    t = (prod >>> k[6:0]) + $signed({{64{bias[63]}}, bias});
    v = ((t + 128'sd32768) >>> 16) + $signed({{96{zp[31]}}, zp});
    if (v > 128'sd2147483647) v32 = 32'sh7fffffff;
    else if (v < -128'sd2147483648) v32 = 32'sh80000000;
    else v32 = v[31:0];
    return out16 ? clamp_i16(v32, lo, hi) : {8'd0, clamp_i8(v32, lo, hi)};
  endfunction

  // VREDUCE exp (spec version 10) and VROWEXP (spec version 11): softmax's exponential of x in a
  // row of maximum m, as softmaxExp in ember/npu/Arith.h (Transformer.h's exp2NegQ23): u =
  // MBQM(x - m) (x - m wrapping in 32 bits) clamped to [-32 * 2^16, 0]; its fraction's high 8 bits
  // index the EXP2 ROM (2^(j/256) in Q15, 257 entries) and its low 8 bits interpolate (exact:
  // Q23, at most 2^24), then a right shift by the integer part (0 .. 32) rounded half up.
  function automatic logic [31:0] softmax_exp(input logic signed [31:0] x,
                                             input logic signed [31:0] m,
                                             input logic signed [31:0] mult,
                                             input logic signed [31:0] shift);
    logic signed [31:0] u, t0, t1, w;
    logic [5:0] n;  // -(u >> 16): 0 .. 32
    logic [8:0] i;
    logic [63:0] v;
    u = mbqm(x - m, mult, shift);
    u = u > 0 ? 32'sd0 : (u < -32'sd2097152 ? -32'sd2097152 : u);
    n = 6'(-(u >>> 16));
    i = {1'b0, u[15:8]};
    t0 = 32'(NPU_TAB_EXP2[i]);
    t1 = 32'(NPU_TAB_EXP2[i + 9'd1]);
    w = t0 * 256 + (t1 - t0) * $signed({24'd0, u[7:0]});
    v = {32'd0, w};
    if (n != 0) v = (v + (64'd1 << (n - 6'd1))) >> n;
    return v[31:0];
  endfunction

  // VROWEXP (spec version 11): one element of an integer softmax's output, as rowExpOut in
  // ember/npu/Arith.h: e times the row's reciprocal r and the output multiplier (a signed product
  // in 128 bits), rounded half up once by k = 55 + p - clamp(shift, -31, 30) clamped to [1, 126],
  // plus zp, saturated to int32 and clamped to [lo, hi] and to the result's width.
  function automatic logic [15:0] row_exp_out(
      input logic [31:0] e, input logic signed [31:0] r, input logic signed [31:0] p,
      input logic signed [31:0] mult, input logic signed [31:0] shift,
      input logic signed [31:0] zp, input logic signed [31:0] lo, input logic signed [31:0] hi,
      input logic out16);
    logic signed [127:0] prod, v;
    logic signed [63:0] k;
    logic signed [31:0] sc, v32;
    prod = $signed({96'd0, e}) * $signed({{96{r[31]}}, r}) * $signed({{96{mult[31]}}, mult});
    sc = shift < -32'sd31 ? -32'sd31 : (shift > 32'sd30 ? 32'sd30 : shift);
    k = 64'sd55 + $signed({{32{p[31]}}, p}) - $signed({{32{sc[31]}}, sc});
    k = k < 64'sd1 ? 64'sd1 : (k > 64'sd126 ? 64'sd126 : k);
    v = ((prod + (128'sd1 <<< (k[6:0] - 7'd1))) >>> k[6:0]) + $signed({{96{zp[31]}}, zp});
    if (v > 128'sd2147483647) v32 = 32'sh7fffffff;
    else if (v < -128'sd2147483648) v32 = 32'sh80000000;
    else v32 = v[31:0];
    return out16 ? clamp_i16(v32, lo, hi) : {8'd0, clamp_i8(v32, lo, hi)};
  endfunction

endpackage

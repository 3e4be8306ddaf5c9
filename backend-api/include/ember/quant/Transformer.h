//===- ember/quant/Transformer.h - Integer softmax, norms, GELU -----------===//
//---------===//
//
// The fixed profile's integer definitions of a transformer's nonlinear ops
// (docs/quantization.md, "Transformers: softmax, normalization and GELU"),
// without a divider: row reductions (max, sum, sum of squares), a
// leading-zero count and a variable shift to normalize a sum, three fixed
// interpolated tables (2^x, 1/x and 1/sqrt(x), 16-bit entries indexed by 8
// bits and interpolated by the next 8), and one multiply per element by a
// per-row scalar. The reference interpreter and a device call these
// functions; the CPU backend generates their steps one for one (with the
// tables read from here) and is tested bit for bit against them.
// Header-only C++17, installed with the SDK.
//
// GELU (erf and tanh forms) is an elementwise function of one per-tensor
// input: a TableLookup (8-bit: 256 exact entries; int16: the interpolated
// 513-entry table of ember/quant/Arith.h), built from geluErf / geluTanh.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_QUANT_TRANSFORMER_H
#define EMBER_QUANT_TRANSFORMER_H

#include "ember/quant/Arith.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace ember::quant {

__extension__ typedef unsigned __int128 UInt128;

/// Leading zeros of a nonzero 128-bit value (127 for 1).
inline int clz128(UInt128 v) {
  const uint64_t hi = static_cast<uint64_t>(v >> 64);
  if (hi)
    return __builtin_clzll(hi);
  return 64 + __builtin_clzll(static_cast<uint64_t>(v));
}

/// floor(v / 2^s) for s in [0, 127] (an arithmetic shift; 127 gives 0 or -1).
inline Int128 floorShift(Int128 v, int s) { return v >> std::clamp(s, 0, 127); }

/// floor((v + 2^(s-1)) / 2^s): v / 2^s rounded half up, s in [1, 126].
inline Int128 roundShift(Int128 v, int s) {
  return (v + (Int128(1) << (s - 1))) >> s;
}

//===----------------------------------------------------------------------===//
// The three tables: fixed constants (a device holds them in ROM). Entry j
// sits at 8-bit index j; a 16-bit fraction f reads entry f >> 8 and
// interpolates toward the next by f & 255 without rounding:
//   interp(T, f) = T[f >> 8] * 256 + (T[(f >> 8) + 1] - T[f >> 8]) * (f & 255)
//===----------------------------------------------------------------------===//

/// 2^(j / 256) in Q15, j = 0 .. 256: [32768, 65536].
constexpr int kExp2Entries = 257;
/// 1 / (1 + j / 256) in Q16, j = 0 .. 256: [32768, 65536].
constexpr int kRecipEntries = 257;
/// 1 / sqrt(1 + j / 128) in Q15, j = 0 .. 384 (m in [1, 4)): [16384, 32768].
constexpr int kRsqrtEntries = 385;

struct TransformerTables {
  std::array<int32_t, kExp2Entries> exp2{};
  std::array<int32_t, kRecipEntries> recip{};
  std::array<int32_t, kRsqrtEntries> rsqrt{};
};

/// The tables, computed once in double and rounded half up (the same bits
/// on every IEEE host: each entry is a correctly rounded double far from a
/// tie).
inline const TransformerTables &transformerTables() {
  static const TransformerTables t = [] {
    TransformerTables r;
    for (int j = 0; j < kExp2Entries; ++j)
      r.exp2[size_t(j)] =
          int32_t(std::floor(32768.0 * std::exp2(j / 256.0) + 0.5));
    for (int j = 0; j < kRecipEntries; ++j)
      r.recip[size_t(j)] = int32_t(std::floor(65536.0 / (1 + j / 256.0) + 0.5));
    for (int j = 0; j < kRsqrtEntries; ++j)
      r.rsqrt[size_t(j)] =
          int32_t(std::floor(32768.0 / std::sqrt(1 + j / 128.0) + 0.5));
    return r;
  }();
  return t;
}

/// Interpolated read of table t at index i (its entry) and offset off
/// (0 .. 255, toward entry i + 1): 8 more fractional bits than the entries.
inline int64_t interpTable(const int32_t *t, int i, int off) {
  return int64_t(t[i]) * 256 + int64_t(t[i + 1] - t[i]) * off;
}

//===----------------------------------------------------------------------===//
// Softmax along one axis of a u8, i8 or i16 tensor
//===----------------------------------------------------------------------===//

/// Exponentials below 2^-kSoftmaxMaxExp of the row's largest are zero.
constexpr int kSoftmaxMaxExp = 32;

/// The parameters of an integer softmax: `in` scales a distance from the
/// row's maximum (in input quanta) to log2 units in Q16, s_x / ln 2 * 2^16;
/// `out` is 1 / s_y.
struct SoftmaxParams {
  Multiplier in, out;
  int32_t yZp = 0, lo = 0, hi = 255;
};

inline SoftmaxParams makeSoftmaxParams(double sx, double sy, int32_t yZp,
                                       int32_t lo, int32_t hi) {
  SoftmaxParams p;
  p.in = quantizeMultiplier(sx / std::log(2.0) * 65536.0);
  p.out = quantizeMultiplier(1.0 / sy);
  p.yZp = yZp;
  p.lo = lo;
  p.hi = hi;
  return p;
}

/// 2^(u / 2^16) in Q23 for u <= 0 (Q16 log2 units): u = 2^16 n + r with
/// n = u >> 16 and r in [0, 2^16), the table's 2^(r / 2^16) (Q23),
/// shifted right by -n with rounding. 1 (u = 0) is 2^23; below
/// -kSoftmaxMaxExp (saturated there) the result is 0.
inline int32_t exp2NegQ23(int32_t u) {
  u = std::clamp(u, -(kSoftmaxMaxExp << 16), 0);
  const int32_t n = u >> 16, r = u & 0xFFFF;
  const int64_t v =
      interpTable(transformerTables().exp2.data(), r >> 8, r & 255);
  return static_cast<int32_t>(n == 0 ? v : roundShift(v, -n));
}

/// The reciprocal of a sum s > 0 as (r, p): 1 / s ~= r * 2^(-24 - p), with
/// p = 63 - clz(s) (s in [2^p, 2^(p+1))) and r = interp(recip, the 16 bits
/// after s's leading one) in (2^23, 2^24].
struct Reciprocal {
  int64_t r = 0;
  int p = 0;
};
inline Reciprocal reciprocalOf(uint64_t s) {
  Reciprocal out;
  out.p = 63 - __builtin_clzll(s);
  const uint64_t f = ((s << (63 - out.p)) >> 47) & 0xFFFF;
  out.r =
      interpTable(transformerTables().recip.data(), int(f >> 8), int(f & 255));
  return out;
}

/// The softmax of one row of n >= 1 stored values x[0], x[stride], ... into
/// y (same layout):
///   m   = max_j x_j                               (row max)
///   u_j = max(MBQM(x_j - m, in), -32 * 2^16)      (log2 units, Q16)
///   e_j = exp2NegQ23(u_j)                          (Q23, the max's is 2^23)
///   S   = sum_j e_j                                (row sum, 64-bit)
///   (r, p) = reciprocalOf(S)                       (leading zeros, table)
///   y_j = clamp(round(e_j * r * out.mult / 2^(55 + p - out.shift)) + y_zp)
/// The last line is one multiply by the row's scalar r, then the output
/// multiplier, rounded once half up (128-bit product).
template <class TX, class TY>
void integerSoftmaxRow(const TX *x, TY *y, int64_t n, int64_t stride,
                       const SoftmaxParams &p, std::vector<int32_t> &scratch) {
  scratch.resize(size_t(n));
  int32_t m = x[0];
  for (int64_t j = 1; j < n; ++j)
    m = std::max<int32_t>(m, x[j * stride]);
  uint64_t sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    const int32_t u = mbqm(int32_t(x[j * stride]) - m, p.in.mult, p.in.shift);
    scratch[size_t(j)] = exp2NegQ23(u);
    sum += uint64_t(scratch[size_t(j)]);
  }
  const Reciprocal rc = reciprocalOf(sum); // sum >= 2^23: the max's term
  const int shift = 55 + rc.p - int(std::clamp<int32_t>(p.out.shift, -31, 30));
  for (int64_t j = 0; j < n; ++j) {
    const Int128 prod = Int128(scratch[size_t(j)]) * rc.r * p.out.mult;
    const Int128 v = roundShift(prod, std::min(shift, 126)) + p.yZp;
    y[j * stride] = static_cast<TY>(std::clamp<Int128>(v, p.lo, p.hi));
  }
}

//===----------------------------------------------------------------------===//
// LayerNorm and RMSNorm over the trailing axes of a u8, i8 or i16 tensor
//===----------------------------------------------------------------------===//

/// The parameters of an integer normalization of rows of n elements:
/// `center` subtracts the row's mean (LayerNorm) or not (RMSNorm);
/// `epsilon` is eps in the integer units of the row's sum of squares
/// (round(eps n^3 / s_x^2) centered, round(eps n / s_x^2) not); per channel
/// c (one entry, or one per element of a row) a signed multiplier
/// mult[c] * 2^(shift[c] - 31) = gamma[c] sqrt(n) / s_y and a bias
/// bias[c] = round(beta[c] / s_y * 2^16) (Q16 output quanta).
struct NormParams {
  bool center = true;
  int64_t epsilon = 0;
  int32_t xZp = 0, yZp = 0, lo = -128, hi = 127;
  std::vector<int32_t> mult, shift;
  std::vector<int64_t> bias;
};

/// Parameters from the real values (gamma and beta of one entry, or one per
/// element of a row; beta may be empty). A gamma of magnitude below 2^-31
/// of the output quantum multiplies by 0.
inline NormParams makeNormParams(double sx, int32_t xZp, double sy, int32_t yZp,
                                 int32_t lo, int32_t hi, int64_t n, bool center,
                                 double eps, const std::vector<double> &gamma,
                                 const std::vector<double> &beta) {
  NormParams p;
  p.center = center;
  const double dn = double(n);
  const double e = std::round(eps * (center ? dn * dn * dn : dn) / (sx * sx));
  p.epsilon = !(e > 0) ? 0 : e >= 9.2e18 ? INT64_MAX : int64_t(e);
  p.xZp = xZp;
  p.yZp = yZp;
  p.lo = lo;
  p.hi = hi;
  const size_t c = std::max(gamma.size(), beta.size());
  for (size_t i = 0; i < c; ++i) {
    const double g = gamma.empty() ? 1.0 : gamma[gamma.size() == 1 ? 0 : i];
    const Multiplier m = quantizeMultiplier(std::fabs(g) * std::sqrt(dn) / sy);
    p.mult.push_back(g < 0 ? -m.mult : m.mult);
    p.shift.push_back(m.shift);
    const double b = beta.empty() ? 0.0 : beta[beta.size() == 1 ? 0 : i];
    const double bq = std::round(b / sy * 65536.0);
    p.bias.push_back(int64_t(std::clamp(bq, -9.0e18, 9.0e18)));
  }
  return p;
}

/// One row of n stored values (contiguous) into y:
///   c_j = x_j - x_zp;  D_j = n c_j - sum_k c_k (center) or c_j
///   W   = sum_j D_j^2 + epsilon                     (unsigned 128-bit)
///   s   = clz(W) rounded down to even; W' = W << s = m 2^126, m in [1, 4)
///   R   = interp(rsqrt, (W' >> 119) - 128, (W' >> 111) & 255)   (Q23)
///   so 1 / sqrt(W) ~= R * 2^(-23 - 63 + s/2)
///   P_j = D_j * R * mult[c]                          (signed 128-bit)
///   t_j = floor(P_j / 2^(117 - s/2 - shift[c] - 16)) (Q16 output quanta)
///   y_j = clamp(round((t_j + bias[c]) / 2^16) + y_zp, lo, hi)
/// W = 0 (a constant row, epsilon 0) gives R = 0: y_j = bias + y_zp.
template <class TX, class TY>
void integerNormRow(const TX *x, TY *y, int64_t n, const NormParams &p) {
  const TransformerTables &tb = transformerTables();
  int64_t sum = 0;
  for (int64_t j = 0; j < n; ++j)
    sum += int64_t(x[j]) - p.xZp;
  auto dev = [&](int64_t j) {
    const int64_t c = int64_t(x[j]) - p.xZp;
    return p.center ? n * c - sum : c;
  };
  UInt128 w = UInt128(uint64_t(p.epsilon));
  for (int64_t j = 0; j < n; ++j) {
    const Int128 d = dev(j);
    w += UInt128(d * d);
  }
  int64_t r = 0;
  int s = 0;
  if (w != 0) {
    s = clz128(w) & ~1;
    const UInt128 wn = w << s;
    r = interpTable(tb.rsqrt.data(), int(uint64_t(wn >> 119) - 128),
                    int(uint64_t(wn >> 111) & 255));
  }
  const bool perChannel = p.mult.size() > 1;
  for (int64_t j = 0; j < n; ++j) {
    const size_t c = perChannel ? size_t(j) : 0;
    const Int128 prod = Int128(dev(j)) * r * p.mult[c];
    const int sh = 117 - s / 2 - int(std::clamp(p.shift[c], -31, 30)) - 16;
    const Int128 t = floorShift(prod, sh) + p.bias[c];
    const Int128 v = roundShift(t, 16) + p.yZp;
    y[j] = static_cast<TY>(std::clamp<Int128>(v, p.lo, p.hi));
  }
}

//===----------------------------------------------------------------------===//
// GELU: the real functions whose tables the integer form looks up
//===----------------------------------------------------------------------===//

/// x * Phi(x) = x / 2 * (1 + erf(x / sqrt 2)).
inline double geluErf(double x) {
  return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0)));
}

/// The tanh approximation: x / 2 * (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))).
inline double geluTanh(double x) {
  const double k = std::sqrt(2.0 / 3.14159265358979323846);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}

} // namespace ember::quant

#endif // EMBER_QUANT_TRANSFORMER_H

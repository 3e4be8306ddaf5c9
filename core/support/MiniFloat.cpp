#include "support/MiniFloat.h"

#include <cmath>
#include <cstring>
#include <limits>

namespace ember {

namespace {
struct FloatFormat {
  int expBits, manBits, bias;
  double maxValue;
  bool hasInf; // E5M2 only
  bool fnuz;   // NaN is 0x80, no negative zero
  bool hasNan; // F4E2M1 has none
  unsigned width;
};

const FloatFormat &fmt(MiniFormat f) {
  static const FloatFormat e4m3fn{4, 3, 7, 448.0, false, false, true, 8};
  static const FloatFormat e4m3fnuz{4, 3, 8, 240.0, false, true, true, 8};
  static const FloatFormat e5m2{5, 2, 15, 57344.0, true, false, true, 8};
  static const FloatFormat e5m2fnuz{5, 2, 16, 57344.0, false, true, true, 8};
  static const FloatFormat e2m1{2, 1, 1, 6.0, false, false, false, 4};
  switch (f) {
  case MiniFormat::F8E4M3FN:
    return e4m3fn;
  case MiniFormat::F8E4M3FNUZ:
    return e4m3fnuz;
  case MiniFormat::F8E5M2:
    return e5m2;
  case MiniFormat::F8E5M2FNUZ:
    return e5m2fnuz;
  default:
    return e2m1;
  }
}

int64_t wrapInt(int64_t v, unsigned bits, bool isSigned) {
  uint64_t mask = (uint64_t(1) << bits) - 1;
  uint64_t u = uint64_t(v) & mask;
  if (isSigned && (u >> (bits - 1)))
    return int64_t(u) - int64_t(mask + 1);
  return int64_t(u);
}

uint8_t encodeFloat(float x, const FloatFormat &F, bool saturate) {
  unsigned signBit = 1u << (F.width - 1);
  unsigned nanBits =
      F.fnuz ? 0x80 : (F.hasInf ? 0x7f : (F.hasNan ? 0x7f : 0x8));
  bool neg = std::signbit(x);
  if (std::isnan(x)) {
    if (F.fnuz || !F.hasNan)
      return uint8_t(nanBits);
    return uint8_t(nanBits | (neg ? signBit : 0));
  }
  double a = std::fabs(double(x));
  unsigned sign = neg ? signBit : 0;
  auto maxBits = [&]() -> uint8_t {
    // Largest finite encoding.
    unsigned expMax = (1u << F.expBits) - 1;
    unsigned manMax = (1u << F.manBits) - 1;
    if (F.hasInf)
      expMax -= 1; // E5M2: top exponent is inf/nan
    else if (!F.fnuz && F.hasNan)
      manMax -= 1; // E4M3FN: S.1111.111 is NaN
    return uint8_t(sign | expMax << F.manBits | manMax);
  };
  auto overflow = [&]() -> uint8_t {
    if (saturate || !F.hasNan)
      return maxBits();
    if (F.hasInf)
      return uint8_t(sign | ((1u << F.expBits) - 1) << F.manBits);
    return uint8_t(F.fnuz ? 0x80 : (nanBits | sign));
  };
  if (std::isinf(a))
    return overflow();
  int emin = 1 - F.bias;
  // Quantize to the format's grid with round-to-nearest-even.
  int e;
  std::frexp(a, &e); // a = m * 2^e, m in [0.5, 1)
  int exp = e - 1;   // a in [2^exp, 2^(exp+1))
  if (a == 0 || exp < emin)
    exp = emin;
  double step = std::ldexp(1.0, exp - F.manBits);
  double q = std::nearbyint(a / step); // ties to even (default rounding)
  double v = q * step;
  if (v > F.maxValue)
    return overflow();
  if (v == 0)
    return uint8_t(F.fnuz ? 0 : sign);
  std::frexp(v, &e);
  exp = e - 1;
  unsigned bits;
  if (exp < emin) { // subnormal
    bits = unsigned(v / std::ldexp(1.0, emin - F.manBits));
  } else {
    unsigned man =
        unsigned((v / std::ldexp(1.0, exp) - 1.0) * double(1u << F.manBits));
    bits = unsigned(exp + F.bias) << F.manBits | man;
  }
  return uint8_t(sign | bits);
}

float decodeFloat(uint8_t b, const FloatFormat &F) {
  unsigned signBit = 1u << (F.width - 1);
  if (F.fnuz && b == 0x80)
    return std::numeric_limits<float>::quiet_NaN();
  bool neg = (b & signBit) != 0;
  unsigned exp = (b >> F.manBits) & ((1u << F.expBits) - 1);
  unsigned man = b & ((1u << F.manBits) - 1);
  unsigned expMax = (1u << F.expBits) - 1;
  if (F.hasInf && exp == expMax)
    return man ? std::numeric_limits<float>::quiet_NaN()
               : (neg ? -INFINITY : INFINITY);
  if (!F.fnuz && F.hasNan && !F.hasInf && exp == expMax &&
      man == (1u << F.manBits) - 1)
    return std::numeric_limits<float>::quiet_NaN();
  double v = exp == 0 ? std::ldexp(double(man), 1 - F.bias - F.manBits)
                      : std::ldexp(1.0 + double(man) / double(1u << F.manBits),
                                   int(exp) - F.bias);
  return float(neg ? -v : v);
}

// E8M0: the exponent field of a float32, rounded per mode (ONNX's
// to_float8e8m0).
uint8_t encodeE8M0(float x, bool saturate, int roundMode) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  uint32_t exponent = (bits >> 23) & 0xff;
  if (exponent == 0xff)
    return 0xff;
  uint32_t inc = 0;
  if (roundMode == 0) { // up
    inc = (bits & 0x7fffff) ? 1 : 0;
  } else if (roundMode == 1) { // nearest
    bool g = bits & 0x400000, r = bits & 0x200000, s = bits & 0x1fffff;
    bool lsb = exponent > 0;
    inc = (g && (r || s || lsb)) ? 1 : 0;
  }
  if (saturate && exponent == 0xfe)
    inc = 0;
  return uint8_t(exponent + inc);
}

} // namespace

bool miniIsInteger(MiniFormat f) {
  return f == MiniFormat::U4 || f == MiniFormat::I4 || f == MiniFormat::U2 ||
         f == MiniFormat::I2;
}

unsigned miniBits(MiniFormat f) {
  switch (f) {
  case MiniFormat::U4:
  case MiniFormat::I4:
  case MiniFormat::F4E2M1:
    return 4;
  case MiniFormat::U2:
  case MiniFormat::I2:
    return 2;
  default:
    return 8;
  }
}

float miniToFloat(uint8_t bits, MiniFormat f) {
  switch (f) {
  case MiniFormat::U4:
    return float(bits & 0xf);
  case MiniFormat::I4:
    return float(wrapInt(bits, 4, true));
  case MiniFormat::U2:
    return float(bits & 0x3);
  case MiniFormat::I2:
    return float(wrapInt(bits, 2, true));
  case MiniFormat::F8E8M0:
    if (bits == 0xff)
      return std::numeric_limits<float>::quiet_NaN();
    return float(std::ldexp(1.0, int(bits) - 127));
  default:
    return decodeFloat(bits, fmt(f));
  }
}

uint8_t intToMini(int64_t v, MiniFormat f) {
  switch (f) {
  case MiniFormat::U4:
    return uint8_t(wrapInt(v, 4, false));
  case MiniFormat::I4:
    return uint8_t(wrapInt(v, 4, true) & 0xf);
  case MiniFormat::U2:
    return uint8_t(wrapInt(v, 2, false));
  case MiniFormat::I2:
    return uint8_t(wrapInt(v, 2, true) & 0x3);
  default:
    return floatToMini(float(v), f, true);
  }
}

uint8_t floatToMini(float x, MiniFormat f, bool saturate, int roundMode) {
  if (miniIsInteger(f)) {
    // Like a C cast to int64 (NaN and infinities give 0), then wrap.
    if (std::isnan(x) || std::isinf(x))
      return 0;
    double t = std::trunc(double(x));
    if (std::fabs(t) >= 9.2e18)
      return 0;
    return intToMini(int64_t(t), f);
  }
  if (f == MiniFormat::F8E8M0)
    return encodeE8M0(x, saturate, roundMode);
  return encodeFloat(x, fmt(f), saturate);
}

} // namespace ember

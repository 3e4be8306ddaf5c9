// Ember's f32 erf, exp and tanh (ember/math/): accuracy against the
// C library's double functions, and their special values. The headers'
// bounds come from every input (erf: all 2^31 non-negative ones, 1.065 ulp;
// exp: all with |x| < 120, 1.061 ulp; tanh: all, 1.009 ulp); these tests check
// a sample (every 193rd, about 11 million erf and 3 million exp inputs, a few
// seconds) and every input near erf's branch point.
#include "ember/math/Erf.h"
#include "ember/math/Exp.h"
#include "ember/math/Tanh.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace {

float fromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

uint32_t bitsOf(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

/// |got - exact| in units of the last place of exact in f32.
double ulps(float got, double exact) {
  double ulp = std::ldexp(1.0, std::ilogb(float(exact)) - 23);
  if (float(exact) == 0.0f)
    ulp = 0;
  ulp = std::max(ulp, std::ldexp(1.0, -149));
  return std::fabs(double(got) - exact) / ulp;
}

/// The largest error seen over a sweep, and where.
struct Worst {
  double ulps = 0;
  float x = 0;
  void note(float at, double e) {
    if (e > ulps) {
      ulps = e;
      x = at;
    }
  }
};

/// f is odd bit for bit: f(-x) is f(x) with the sign bit flipped.
testing::AssertionResult oddAt(float (*f)(float), float x) {
  if (bitsOf(f(-x)) == (bitsOf(f(x)) ^ 0x80000000u))
    return testing::AssertionSuccess();
  return testing::AssertionFailure() << "f(-x) != -f(x) at x = " << x;
}

} // namespace

TEST(EmberErf, WithinTheDocumentedUlpsOverTheF32Range) {
  Worst worst;
  auto check = [&](uint32_t b) {
    float x = fromBits(b);
    worst.note(x, ulps(ember::math::erfF32(x), std::erf(double(x))));
    ASSERT_TRUE(oddAt(ember::math::erfF32, x));
  };
  for (uint64_t b = 0; b < 0x7f800000u; b += 193)
    check(uint32_t(b));
  // Every input within 2^-10 of the branch point 7/8, both sides.
  for (uint32_t b = bitsOf(0.875f - 0x1p-10f); b < bitsOf(0.875f + 0x1p-10f);
       ++b)
    check(b);
  EXPECT_LE(worst.ulps, 1.07) << "at x = " << worst.x;
}

TEST(EmberErf, SpecialValues) {
  using ember::math::erfF32;
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(bitsOf(erfF32(0.0f)), bitsOf(0.0f));
  EXPECT_EQ(bitsOf(erfF32(-0.0f)), bitsOf(-0.0f));
  EXPECT_EQ(erfF32(inf), 1.0f);
  EXPECT_EQ(erfF32(-inf), -1.0f);
  EXPECT_TRUE(std::isnan(erfF32(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(erfF32(3.92f), 1.0f); // rounds to 1 in f32 from 3.9192 up
  EXPECT_EQ(erfF32(1e30f), 1.0f);
  // The smallest subnormal: 2/sqrt(pi) times it rounds to 1 place.
  EXPECT_EQ(erfF32(std::numeric_limits<float>::denorm_min()),
            std::numeric_limits<float>::denorm_min());
  // Monotone across the branch point.
  EXPECT_LE(erfF32(std::nextafter(0.875f, 0.0f)), erfF32(0.875f));
  EXPECT_LE(erfF32(0.875f), erfF32(std::nextafter(0.875f, 1.0f)));
}

// Every 193rd f32 with |x| < 120 (both signs): within 1.061 ulp where the
// result is finite, +inf exactly where exp(x) rounds to it.
TEST(EmberExp, WithinTheDocumentedUlpsOverTheF32Range) {
  Worst worst;
  for (uint64_t b = 0; b < 0x100000000u; b += 193) {
    float x = fromBits(uint32_t(b));
    if (!(std::fabs(x) < 120.0f))
      continue;
    double exact = std::exp(double(x));
    float got = ember::math::expF32(x);
    if (std::isinf(float(exact))) {
      ASSERT_TRUE(std::isinf(got)) << x;
      continue;
    }
    worst.note(x, ulps(got, exact));
  }
  EXPECT_LE(worst.ulps, 1.061) << "at x = " << worst.x;
}

TEST(EmberExp, SpecialValues) {
  using ember::math::expF32;
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(expF32(0.0f), 1.0f);
  EXPECT_EQ(expF32(-0.0f), 1.0f);
  EXPECT_EQ(expF32(inf), inf);
  EXPECT_EQ(bitsOf(expF32(-inf)), 0u);
  EXPECT_TRUE(std::isnan(expF32(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(expF32(88.73f), inf); // past FLT_MAX
  EXPECT_EQ(expF32(1e30f), inf);
  EXPECT_EQ(expF32(-103.0f), std::numeric_limits<float>::denorm_min());
  EXPECT_EQ(bitsOf(expF32(-104.0f)), 0u);
  EXPECT_EQ(bitsOf(expF32(-1e30f)), 0u);
  // Subnormal results round once: e^-100 = 3.72e-44, 26.6 places of 2^-149.
  EXPECT_EQ(bitsOf(expF32(-100.0f)), 27u);
}

// The entries for an argument already bounded give expF32's bits:
// expNonPositiveF32 on every 389th f32 with the sign bit set (every negative
// value, -0, -inf and the NaNs with that sign) and on +0 and NaN;
// expInRangeF32 on every 389th f32 within the clamp bounds.
TEST(EmberExp, BoundedEntriesGiveTheSameBits) {
  using ember::math::expF32;
  for (uint64_t b = 0x80000000u; b < 0x100000000u; b += 389) {
    const float x = fromBits(uint32_t(b));
    ASSERT_EQ(
        bitsOf(ember::math::expNonPositiveF32(ember::math::ScalarF32Ops{}, x)),
        bitsOf(expF32(x)))
        << x;
  }
  for (float x : {0.0f, std::numeric_limits<float>::quiet_NaN(),
                  -std::numeric_limits<float>::infinity()})
    EXPECT_EQ(
        bitsOf(ember::math::expNonPositiveF32(ember::math::ScalarF32Ops{}, x)),
        bitsOf(expF32(x)))
        << x;
  for (uint64_t b = 0; b < 0x100000000u; b += 389) {
    const float x = fromBits(uint32_t(b));
    if (!(x >= EMBER_MATH_EXP_MIN && x <= EMBER_MATH_EXP_MAX))
      continue;
    ASSERT_EQ(
        bitsOf(ember::math::expInRangeF32(ember::math::ScalarF32Ops{}, x)),
        bitsOf(expF32(x)))
        << x;
  }
}

// Every 193rd non-negative f32 (tanh is odd, checked on a sample).
TEST(EmberTanh, WithinTheDocumentedUlpsOverTheF32Range) {
  Worst worst;
  for (uint64_t b = 0; b < 0x7f800000u; b += 193) {
    float x = fromBits(uint32_t(b));
    worst.note(x, ulps(ember::math::tanhF32(x), std::tanh(double(x))));
    if (b % (193 * 64) == 0) {
      ASSERT_TRUE(oddAt(ember::math::tanhF32, x));
    }
  }
  EXPECT_LE(worst.ulps, 1.009) << "at x = " << worst.x;
}

TEST(EmberTanh, SpecialValues) {
  using ember::math::tanhF32;
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(bitsOf(tanhF32(0.0f)), bitsOf(0.0f));
  EXPECT_EQ(bitsOf(tanhF32(-0.0f)), bitsOf(-0.0f));
  EXPECT_EQ(tanhF32(inf), 1.0f);
  EXPECT_EQ(tanhF32(-inf), -1.0f);
  EXPECT_TRUE(std::isnan(tanhF32(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(tanhF32(9.02f), 1.0f); // rounds to 1 in f32 from 9.011 up
  EXPECT_LT(tanhF32(9.0f), 1.0f);
  EXPECT_EQ(tanhF32(std::numeric_limits<float>::denorm_min()),
            std::numeric_limits<float>::denorm_min());
}

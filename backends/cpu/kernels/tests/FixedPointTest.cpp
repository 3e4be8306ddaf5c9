//===- FixedPointTest.cpp - 16-lane MBQM equals ember/quant/Arith.h ------===//
#include "Reference.h"

#include "FixedPoint.h"
#include "FixedPointAvx2.h"

#include <gtest/gtest.h>

namespace ember::cpu::test {
namespace {

#if defined(__x86_64__)

/// 16 lanes of mbqmZp16<Fast> with zero point zp.
template <bool Fast>
EMBER_TARGET_AVX512 void mbqmLanes(const int32_t *x, const int32_t *m,
                                   const int32_t *e, int32_t zp, int32_t *out) {
  const detail::FixedPointLanes l = detail::fixedPointLanes(
      _mm512_loadu_si512(m), _mm512_loadu_si512(e), zp, Fast);
  _mm512_storeu_si512(out, detail::mbqmZp16<Fast>(_mm512_loadu_si512(x), l));
}

/// 8 lanes of mbqmZp8<Fast> (FixedPointAvx2.h), twice for 16.
template <bool Fast>
EMBER_TARGET_AVX2 void mbqmLanes8(const int32_t *x, const int32_t *m,
                                  const int32_t *e, int32_t zp, int32_t *out) {
  for (int h = 0; h < 2; ++h) {
    const __m256i *mv = reinterpret_cast<const __m256i *>(m + 8 * h);
    const __m256i *ev = reinterpret_cast<const __m256i *>(e + 8 * h);
    const __m256i *xv = reinterpret_cast<const __m256i *>(x + 8 * h);
    const detail::FixedPointLanes8 l = detail::fixedPointLanes8(
        _mm256_loadu_si256(mv), _mm256_loadu_si256(ev), zp, Fast);
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(out + 8 * h),
                        detail::mbqmZp8<Fast>(_mm256_loadu_si256(xv), l));
  }
}

int32_t edgeOr(std::mt19937 &rng, int32_t random) {
  const int32_t edges[] = {0,
                           1,
                           -1,
                           2,
                           -2,
                           INT32_MAX,
                           INT32_MIN,
                           INT32_MAX - 1,
                           INT32_MIN + 1,
                           1 << 30,
                           -(1 << 30)};
  if (randomIn(rng, 0, 7) == 0)
    return edges[randomIn(rng, 0, sizeof(edges) / sizeof(edges[0]) - 1)];
  return random;
}

// lanes8: the AVX2 form (FixedPointAvx2.h) instead of the AVX-512 one.
void checkForm(bool fast, bool lanes8 = false) {
  std::mt19937 rng(fast ? 7 : 8);
  for (int iter = 0; iter < 20000; ++iter) {
    alignas(64) int32_t x[16], m[16], e[16], got[16];
    for (int i = 0; i < 16; ++i) {
      x[i] = edgeOr(rng, int32_t(uint32_t(rng())));
      if (iter % 3 == 0) // accumulators of a typical size
        x[i] = int32_t(randomIn(rng, 0, 200000)) - 100000;
      m[i] = edgeOr(rng, int32_t(uint32_t(rng())));
      if (iter % 2 == 0) // a Q31 multiplier in [2^30, 2^31)
        m[i] = int32_t(randomIn(rng, 1u << 30, INT32_MAX));
      e[i] = fast ? -int32_t(randomIn(rng, 2, 40))
                  : int32_t(randomIn(rng, 0, 80)) - 40;
      if (iter % 5 == 0) {
        // Exact ties: x * 2^30 / 2^t with t = 31 - e.
        m[i] = 1 << 30;
        x[i] = int32_t(randomIn(rng, 0, 4000)) - 2000;
        e[i] =
            fast ? -int32_t(randomIn(rng, 2, 4)) : int32_t(randomIn(rng, 0, 2));
      }
    }
    int32_t zp = int32_t(randomIn(rng, 0, 383)) - 128;
    if (!fast && iter % 4 == 0)
      zp = int32_t(uint32_t(rng())); // anything: the add wraps
    if (fast) {
      // The fast form only where fixedPointFast allows it (e = -2 always
      // does for zero points of 8-bit outputs).
      for (int i = 0; i < 16; ++i)
        while (!detail::fixedPointFast(&e[i], 1, zp))
          e[i] = e[i] < -2 ? e[i] + 1 : -2;
      if (lanes8)
        mbqmLanes8<true>(x, m, e, zp, got);
      else
        mbqmLanes<true>(x, m, e, zp, got);
    } else if (lanes8) {
      mbqmLanes8<false>(x, m, e, zp, got);
    } else {
      mbqmLanes<false>(x, m, e, zp, got);
    }
    for (int i = 0; i < 16; ++i)
      ASSERT_EQ(got[i], quant::wrapAdd(quant::mbqm(x[i], m[i], e[i]), zp))
          << (fast ? "fast" : "general") << (lanes8 ? " (8 lanes)" : "")
          << " x=" << x[i] << " m=" << m[i] << " e=" << e[i] << " zp=" << zp;
  }
}

TEST(FixedPoint, FastFormMatchesArith) {
  if (!isaSupported(Isa::Avx512))
    GTEST_SKIP() << "no AVX-512";
  checkForm(true);
}

TEST(FixedPoint, GeneralFormMatchesArith) {
  if (!isaSupported(Isa::Avx512))
    GTEST_SKIP() << "no AVX-512";
  checkForm(false);
}

TEST(FixedPoint, FastFormMatchesArithOn8Lanes) {
  if (!isaSupported(Isa::Avx2))
    GTEST_SKIP() << "no AVX2";
  checkForm(true, true);
}

TEST(FixedPoint, GeneralFormMatchesArithOn8Lanes) {
  if (!isaSupported(Isa::Avx2))
    GTEST_SKIP() << "no AVX2";
  checkForm(false, true);
}

#endif

TEST(FixedPoint, FastFormCondition) {
  const int32_t fast[] = {-2, -5, -22, -31, -40};
  const int32_t slow[] = {-2, -5, -1};
  EXPECT_TRUE(detail::fixedPointFast(fast, 3, 255));
  EXPECT_FALSE(detail::fixedPointFast(fast, 4, 255)); // t = 62: 511 * 2^61
  EXPECT_TRUE(detail::fixedPointFast(fast, 5, 0));
  EXPECT_FALSE(detail::fixedPointFast(slow, 3, 0));
}

} // namespace
} // namespace ember::cpu::test

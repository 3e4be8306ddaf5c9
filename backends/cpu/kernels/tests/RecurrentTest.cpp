// The recurrent cells' kernels: the AVX2 and AVX-512 sigmoid/tanh give the
// bits of Ember's scalar f32 functions (ember/math) on every input class,
// and the step product matches a double reference on shapes around its
// column blocks (64 columns on AVX2, 256 on AVX-512) and its masked tail.
#include "ember/cpu/Kernels.h"
#include "ember/math/Sigmoid.h"
#include "ember/math/Tanh.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace ember::cpu;

namespace {

uint32_t bitsOf(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

// Random values over many binades, the special ones, and both ends of the
// functions' branches (tanh's 0.9 switch and 9.5 clamp, exp's clamps).
std::vector<float> probeValues() {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          0.9f,
                          -0.9f,
                          0.90000004f,
                          9.5f,
                          -9.5f,
                          9.01f,
                          88.0f,
                          -88.0f,
                          89.5f,
                          -103.f,
                          -110.5f,
                          1e-30f,
                          -1e-40f,
                          1e30f,
                          -1e30f,
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN()};
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
  std::uniform_int_distribution<int> ex(-30, 8);
  for (int i = 0; i < 20000; ++i)
    v.push_back(std::ldexp(mant(rng), ex(rng)));
  v.push_back(0.5f); // an odd count: a partial last vector
  return v;
}

TEST(RecurrentKernels, VectorSigmoidAndTanhAreTheScalarFunctionsBitForBit) {
  if (!isaSupported(Isa::Avx2))
    GTEST_SKIP() << "no AVX2 on this host";
  std::vector<float> in = probeValues();
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (!isaSupported(isa))
      continue;
    SCOPED_TRACE(isaName(isa));
    for (int fn = 0; fn < 2; ++fn) {
      for (size_t n : {in.size(), size_t(1), size_t(7), size_t(9), size_t(17),
                       size_t(31)}) {
        std::vector<float> v(in.begin(), in.begin() + long(n));
        if (fn == 0)
          sigmoidF32(v.data(), n, isa);
        else
          tanhF32(v.data(), n, isa);
        for (size_t i = 0; i < n; ++i) {
          float want = fn == 0 ? ember::math::sigmoidF32(in[i])
                               : ember::math::tanhF32(in[i]);
          if (std::isnan(want)) {
            EXPECT_TRUE(std::isnan(v[i])) << in[i];
            continue;
          }
          ASSERT_EQ(bitsOf(v[i]), bitsOf(want))
              << (fn == 0 ? "sigmoid(" : "tanh(") << in[i] << "): " << v[i]
              << " != " << want;
        }
      }
    }
  }
}

TEST(RecurrentKernels, GenericSigmoidAndTanhAreTheScalarFunctions) {
  std::vector<float> in = probeValues(), s = in, t = in;
  sigmoidF32(s.data(), s.size(), Isa::Generic);
  tanhF32(t.data(), t.size(), Isa::Generic);
  for (size_t i = 0; i < in.size(); ++i) {
    if (std::isnan(in[i]))
      continue;
    ASSERT_EQ(bitsOf(s[i]), bitsOf(ember::math::sigmoidF32(in[i]))) << in[i];
    ASSERT_EQ(bitsOf(t[i]), bitsOf(ember::math::tanhF32(in[i]))) << in[i];
  }
}

TEST(RecurrentKernels, StepProductMatchesReference) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (!isaSupported(isa))
      continue;
    for (size_t m : {size_t(1), size_t(2), size_t(3), size_t(4), size_t(7),
                     size_t(8), size_t(9), size_t(17)})
      for (size_t k : {size_t(1), size_t(3), size_t(64), size_t(130)})
        for (size_t n :
             {size_t(1), size_t(8), size_t(13), size_t(24), size_t(64),
              size_t(72), size_t(200), size_t(263), size_t(512)}) {
          // Strides wider than the rows: slices of wider matrices.
          size_t lda = k + 1, ldb = n + (n % 3), ldc = n + 2;
          std::vector<float> a(m * lda), b(k * ldb), c(m * ldc);
          for (auto *v : {&a, &b, &c})
            for (auto &e : *v)
              e = u(rng);
          std::vector<float> before = c;
          std::vector<double> want(c.begin(), c.end());
          for (size_t r = 0; r < m; ++r)
            for (size_t i = 0; i < k; ++i)
              for (size_t j = 0; j < n; ++j)
                want[r * ldc + j] +=
                    double(a[r * lda + i]) * double(b[i * ldb + j]);
          stepGemmAccumulate(m, k, n, a.data(), lda, b.data(), ldb, c.data(),
                             ldc, isa);
          for (size_t r = 0; r < m; ++r)
            for (size_t j = 0; j < ldc; ++j) {
              size_t e = r * ldc + j;
              if (j >= n) // past the columns: untouched
                ASSERT_EQ(c[e], before[e]);
              else
                ASSERT_NEAR(c[e], want[e], 1e-5 * double(k + 1))
                    << isaName(isa) << " m " << m << " k " << k << " n " << n
                    << " row " << r << " col " << j;
            }
        }
  }
}

// A row's results do not depend on how many rows share the call or where
// a column slice starts: the runtime splits a step's columns over workers.
TEST(RecurrentKernels, StepProductRowsAndSlicesAgreeBitForBit) {
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  size_t m = 6, k = 77, n = 300;
  std::vector<float> a(m * k), b(k * n), whole(m * n, 0.0f), parts(m * n, 0.0f);
  for (auto *v : {&a, &b})
    for (auto &e : *v)
      e = u(rng);
  stepGemmAccumulate(m, k, n, a.data(), k, b.data(), n, whole.data(), n);
  for (size_t r = 0; r < m; ++r)
    for (size_t j0 : {size_t(0), size_t(64), size_t(192)}) {
      size_t j1 = j0 == 192 ? n : j0 == 64 ? 192 : 64;
      stepGemmAccumulate(1, k, j1 - j0, a.data() + r * k, k, b.data() + j0, n,
                         parts.data() + r * n + j0, n);
    }
  ASSERT_EQ(std::memcmp(whole.data(), parts.data(), whole.size() * 4), 0);
}

} // namespace

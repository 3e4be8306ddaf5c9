// postActivation: every path gives, bit for bit, what the CPU backend's
// generated loops compute for the lowered activations (the reference below
// writes each lowered op as the loops do: Min/Max with NaN -> the quiet NaN,
// Sigmoid as ember/math's scalar), with and without a residual, on rows
// with a stride and partial last vectors; HardSwish on all 2^32 inputs,
// Sigmoid and SiLU on every 257th.
// Epilogue::post (each GEMM-lowered tile applies it to what it stored)
// gives a separate pass's bits.
#include "ember/cpu/Kernels.h"
#include "ember/math/Sigmoid.h"

#include <gtest/gtest.h>

#include <algorithm>
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

const float kNaN = std::numeric_limits<float>::quiet_NaN();

// The Loop ops Min and Max with a constant second operand.
float minOp(float v, float c) { return v != v ? kNaN : (c < v ? c : v); }
float maxOp(float v, float c) { return v != v ? kNaN : (c > v ? c : v); }

// What the lowered graph computes, op by op (each rounded to f32).
float reference(const PostOp &op, float x) {
  switch (op.kind) {
  case PostActivation::Sigmoid:
    return ember::math::sigmoidF32(x);
  case PostActivation::Silu:
    return x * ember::math::sigmoidF32(x);
  case PostActivation::HardSigmoid:
  case PostActivation::XHardSigmoid: {
    volatile float ax = x * op.alpha; // (no FMA: the lowering's Mul, Add)
    float h = maxOp(minOp(ax + op.beta, 1.0f), 0.0f);
    return op.kind == PostActivation::HardSigmoid ? h : x * h;
  }
  case PostActivation::HardSwish: {
    volatile float q = x / 6.0f;
    return x * maxOp(minOp(q + 0.5f, 1.0f), 0.0f);
  }
  }
  return x;
}

void expectSame(float got, float want, float x) {
  if (std::isnan(want))
    EXPECT_TRUE(std::isnan(got)) << x;
  else
    ASSERT_EQ(bitsOf(got), bitsOf(want))
        << "x = " << x << " (bits " << std::hex << bitsOf(x) << "): " << got
        << " != " << want;
}

// Random values over many binades, the special ones, the branch points of
// the clamps and of exp (subnormal results below -87.3), subnormals.
std::vector<float> probeValues() {
  std::vector<float> v = {0.0f,
                          -0.0f,
                          3.0f,
                          -3.0f,
                          2.9999998f,
                          -2.5f,
                          2.5f,
                          -88.0f,
                          -95.0f,
                          -103.f,
                          -104.f,
                          -110.5f,
                          1e-30f,
                          -1e-40f,
                          1e-45f,
                          1e30f,
                          -1e30f,
                          6e-39f,
                          -6e-39f,
                          std::numeric_limits<float>::infinity(),
                          -std::numeric_limits<float>::infinity(),
                          kNaN};
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> mant(-1.0f, 1.0f);
  std::uniform_int_distribution<int> ex(-30, 8);
  for (int i = 0; i < 20000; ++i)
    v.push_back(std::ldexp(mant(rng), ex(rng)));
  std::uniform_real_distribution<float> tail(-104.0f, -86.0f);
  for (int i = 0; i < 2000; ++i)
    v.push_back(tail(rng));
  return v;
}

std::vector<PostOp> allOps() {
  return {{PostActivation::Sigmoid},
          {PostActivation::Silu},
          {PostActivation::HardSigmoid, 1.0f / 6, 0.5f},
          {PostActivation::HardSigmoid, 0.2f, 0.5f},
          {PostActivation::XHardSigmoid, 1.0f / 6, 0.5f},
          {PostActivation::HardSwish}};
}

TEST(Activation, EveryPathComputesTheLoweredOpsBitForBit) {
  const std::vector<float> in = probeValues();
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> rd(-2.0f, 2.0f);
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (!isaSupported(isa))
      continue;
    SCOPED_TRACE(isaName(isa));
    for (const PostOp &op : allOps()) {
      SCOPED_TRACE(int(op.kind));
      // rows x cols with a row stride (a channel slice) and a tail; 16
      // columns contiguous (the rows then run as one).
      for (size_t cols : {size_t(1), size_t(7), size_t(16), size_t(37)}) {
        const size_t ld = cols == 16 ? cols : cols + 5;
        const size_t rows = (in.size() + cols - 1) / cols;
        for (bool withRes : {false, true}) {
          std::vector<float> y(rows * ld, 123.0f), res(rows * ld);
          for (auto &r : res)
            r = rd(rng);
          for (size_t i = 0; i < in.size(); ++i)
            y[i / cols * ld + i % cols] = in[i];
          const size_t full = in.size() / cols; // whole rows only
          postActivation(op, y.data(), ld, withRes ? res.data() : nullptr, ld,
                         full, cols, isa);
          for (size_t r = 0; r < full; ++r)
            for (size_t j = 0; j < ld; ++j) {
              const size_t at = r * ld + j;
              if (j >= cols) { // untouched
                ASSERT_EQ(y[at], 123.0f);
                continue;
              }
              const float x = in[r * cols + j];
              float want = reference(op, x);
              if (withRes)
                want = want + res[at];
              expectSame(y[at], want, x);
            }
        }
      }
    }
  }
}

// How many of y[0, n) differ from the reference's bits for x (a NaN
// wanted: any NaN), reporting the first few (`before` reported already).
size_t countMismatches(PostActivation kind, const std::vector<float> &x,
                       const std::vector<float> &y, size_t n, size_t before) {
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const float want = reference({kind}, x[i]);
    if (std::isnan(want) ? !std::isnan(y[i]) : bitsOf(y[i]) != bitsOf(want)) {
      if (before + bad++ < 5)
        ADD_FAILURE() << "x bits " << std::hex << bitsOf(x[i]) << ": " << y[i]
                      << " != " << want;
    }
  }
  return bad;
}

// The vector paths' x / 6 (a product and two FMAs, ActivationBody.inc)
// gives HardSwish's bits on every f32 input.
TEST(Activation, HardSwishOnEveryInput) {
  constexpr size_t kBlock = size_t(1) << 20;
  std::vector<float> x(kBlock), y(kBlock);
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (!isaSupported(isa))
      continue;
    SCOPED_TRACE(isaName(isa));
    size_t bad = 0;
    for (uint64_t base = 0; base < (uint64_t(1) << 32); base += kBlock) {
      for (size_t i = 0; i < kBlock; ++i) {
        const uint32_t b = uint32_t(base + i);
        std::memcpy(&x[i], &b, sizeof b);
      }
      y = x;
      postActivation({PostActivation::HardSwish}, y.data(), kBlock, nullptr, 0,
                     1, kBlock, isa);
      bad += countMismatches(PostActivation::HardSwish, x, y, kBlock, bad);
    }
    EXPECT_EQ(bad, 0u);
  }
}

// The vector paths' sigmoid (ActivationBody.inc: exp of -|x| with the
// clamp and NaN selects that argument does not need) gives ember/math's
// bits for Sigmoid and SiLU on every 257th f32 bit pattern (16.7 million
// inputs, every binade of both signs, the infinities; a NaN gives a NaN).
TEST(Activation, SigmoidAndSiluOnASweepOfEveryBinade) {
  constexpr size_t kBlock = size_t(1) << 20;
  constexpr uint64_t kStride = 257;
  std::vector<float> x(kBlock), y(kBlock);
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (!isaSupported(isa))
      continue;
    SCOPED_TRACE(isaName(isa));
    for (PostActivation kind :
         {PostActivation::Sigmoid, PostActivation::Silu}) {
      SCOPED_TRACE(int(kind));
      size_t bad = 0;
      for (uint64_t base = 0; base < (uint64_t(1) << 32);
           base += kBlock * kStride) {
        size_t n = 0;
        for (; n < kBlock && base + n * kStride < (uint64_t(1) << 32); ++n) {
          const uint32_t b = uint32_t(base + n * kStride);
          std::memcpy(&x[n], &b, sizeof b);
        }
        std::copy(x.begin(), x.begin() + ptrdiff_t(n), y.begin());
        postActivation({kind}, y.data(), n, nullptr, 0, 1, n, isa);
        bad += countMismatches(kind, x, y, n, bad);
      }
      EXPECT_EQ(bad, 0u);
    }
  }
}

// Random values in [-6, 6]: both sides of every clamp and of the sigmoid's
// branch.
std::vector<float> wideRandom(std::mt19937 &rng, size_t n) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = d(rng);
  return v;
}

// One call `run(e)` with the post in the epilogue against the same call
// without it followed by postActivation over the m x n result (the runtime's
// separate pass): the same bits, for every kind, after a Clip or nothing,
// with a residual after the activation (the post's) or before it.
template <class Run>
void expectPostInTilesMatches(Isa isa, const char *what, size_t m, size_t n,
                              size_t ldc, std::mt19937 &rng, Run run) {
  const std::vector<float> bias = wideRandom(rng, n);
  const std::vector<float> res = wideRandom(rng, m * ldc);
  for (const PostOp &op : allOps())
    for (int mode = 0; mode < 4; ++mode) {
      SCOPED_TRACE(std::string(what) + " kind " + std::to_string(int(op.kind)) +
                   " mode " + std::to_string(mode));
      Epilogue e;
      e.bias = bias.data();
      e.biasAxis = BiasAxis::PerColumn;
      if (mode & 1) {
        e.activation = Activation::Clip;
        e.clipMin = -2.5f;
        e.clipMax = 4.0f;
      }
      const bool resAfter = mode == 2, resBefore = mode == 3;
      if (resBefore) {
        e.residual = res.data();
        e.ldr = ldc;
      }
      std::vector<float> want(m * ldc, 77.0f), got(m * ldc, 77.0f);
      ASSERT_EQ(run(e, want.data()), Status::Ok);
      postActivation(op, want.data(), ldc, resAfter ? res.data() : nullptr, ldc,
                     m, n, isa);
      e.post = &op;
      if (resAfter) {
        e.residual = res.data();
        e.ldr = ldc;
        e.residualAfterActivation = true;
      }
      ASSERT_EQ(run(e, got.data()), Status::Ok);
      for (size_t i = 0; i < want.size(); ++i)
        if (bitsOf(got[i]) != bitsOf(want[i]))
          FAIL() << "at " << i / ldc << ", " << i % ldc << ": " << got[i]
                 << " != " << want[i];
    }
}

TEST(Activation, PostInTheTilesGivesAPassAftersBits) {
  std::mt19937 rng(21);
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (!isaSupported(isa))
      continue;
    SCOPED_TRACE(isaName(isa));
    // GEMMs: one K block and several (K 700), partial tiles, a row range.
    for (size_t K : {size_t(50), size_t(700)}) {
      const size_t M = 37, N = 75, ldc = 80;
      const std::vector<float> a = wideRandom(rng, M * K);
      const std::vector<float> b = wideRandom(rng, K * N);
      expectPostInTilesMatches(
          isa, "sgemm", M, N, ldc, rng, [&](const Epilogue &e, float *c) {
            return sgemm(M, N, K, a.data(), K, b.data(), N, c, ldc, e, isa);
          });
      std::vector<char> packed(packedBSize(K, N, isa));
      ASSERT_EQ(packB(K, N, b.data(), N, packed.data(), isa), Status::Ok);
      expectPostInTilesMatches(
          isa, "sgemmPacked", M, N, ldc, rng, [&](const Epilogue &e, float *c) {
            Status s = sgemmPacked(M, N, K, a.data(), K, packed.data(), c, ldc,
                                   e, isa, 0, 13);
            return s != Status::Ok
                       ? s
                       : sgemmPacked(M, N, K, a.data(), K, packed.data(), c,
                                     ldc, e, isa, 13, M);
          });
    }
    // Channels-last convolutions: pointwise, 3x3 (row-pointer and strided
    // tiles), a first layer from NCHW (strided, tall and unfolded tiles),
    // split in channel x pixel pieces.
    struct Case {
      size_t c, hw, oc, k, stride;
    };
    for (const Case &cs : {Case{24, 13, 40, 1, 1}, Case{16, 14, 70, 3, 1},
                           Case{3, 30, 16, 3, 2}, Case{3, 23, 100, 3, 1}}) {
      Conv2DShape s;
      s.channels = cs.c;
      s.height = s.width = cs.hw;
      s.outChannels = cs.oc;
      s.kernelH = s.kernelW = cs.k;
      s.strideH = s.strideW = cs.stride;
      s.padTop = s.padLeft = s.padBottom = s.padRight = cs.k / 2;
      const size_t P = s.outHeight() * s.outWidth(), ldy = cs.oc + 3;
      const std::vector<float> x = wideRandom(rng, cs.hw * cs.hw * cs.c);
      const std::vector<float> w = wideRandom(rng, cs.oc * cs.c * cs.k * cs.k);
      std::vector<char> packed(packedConvWeightsNhwcSize(s, isa));
      std::vector<char> packedC(packedConvWeightsNhwcSize(s, isa));
      ASSERT_EQ(packConvWeightsNhwc(s, w.data(), packed.data(), isa),
                Status::Ok);
      ASSERT_EQ(packConvWeightsNhwc(s, w.data(), packedC.data(), isa, true),
                Status::Ok);
      if (!conv2dNhwcSupported(s, packed.data(), isa))
        continue; // (the generic path has no channels-last kernels)
      // (ConvRange: channels, then pixels.)
      const ConvRange pieces[] = {{0, cs.oc / 2, 0, P / 3},
                                  {cs.oc / 2, cs.oc, 0, P / 3},
                                  {0, cs.oc, P / 3, P}};
      expectPostInTilesMatches(isa, "conv2dNhwc", P, cs.oc, ldy, rng,
                               [&](const Epilogue &e, float *y) {
                                 for (const ConvRange &r : pieces)
                                   if (Status st = conv2dNhwc(s, x.data(), cs.c,
                                                              packed.data(), y,
                                                              ldy, e, isa, r);
                                       st != Status::Ok)
                                     return st;
                                 return Status::Ok;
                               });
      if (!conv2dNhwcFromNchwSupported(s, packedC.data(), isa))
        continue;
      expectPostInTilesMatches(
          isa, "conv2dNhwcFromNchw", P, cs.oc, ldy, rng,
          [&](const Epilogue &e, float *y) {
            for (const ConvRange &r : pieces)
              if (Status st = conv2dNhwcFromNchw(s, x.data(), packedC.data(), y,
                                                 ldy, e, isa, r);
                  st != Status::Ok)
                return st;
            return Status::Ok;
          });
    }
  }
}

// The entry points whose kernels are not GEMM tiles refuse a post rather
// than ignore it.
TEST(Activation, PostRefusedWhereNoTileAppliesIt) {
  Conv2DShape s;
  s.channels = s.outChannels = 8;
  s.height = s.width = 6;
  s.kernelH = s.kernelW = 3;
  std::vector<float> x(8 * 36, 1.0f), w(8 * 9, 1.0f), y(8 * 36);
  const PostOp op{PostActivation::Silu};
  Epilogue e;
  e.post = &op;
  EXPECT_EQ(depthwiseConv2d(s, x.data(), w.data(), y.data(), e),
            Status::InvalidArgument);
}

} // namespace

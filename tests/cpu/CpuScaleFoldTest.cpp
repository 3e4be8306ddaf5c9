//===- CpuScaleFoldTest.cpp - channel scales folded into conv weights -----===//
//
// A squeeze-excitation block's scale x * s[n, c], read only by a dense
// convolution, becomes that convolution's weights scaled per input channel
// at run time (ScaleFold.cpp): which Muls fold, and the results against the
// interpreter, at 1 and 2 threads.
//
//===----------------------------------------------------------------------===//
#include "CpuTestUtil.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

namespace {

struct Block {
  int n = 1;               // images
  int h = 40, w = 32;      // the map's size
  int kernel = 1;          // the projection's kernel (pads kernel / 2)
  bool bias = true;        // the projection's bias
  bool relu = false;       // a ReLU in the projection's epilogue
  bool hswish = false;     // a HardSwish after it (a post function)
  bool scaleFirst = false; // Mul(s, x) rather than Mul(x, s)
};

// N images of 8 channels through a 3x3 to 44 (no multiple of a vector),
// a 3x3 depthwise with a SiLU (x), its squeeze-excitation (global average
// pool, 1x1 to 12, ReLU, 1x1 to 44 with a bias, Sigmoid: s), x * s, and the
// projection to 20 channels the block describes.
std::unique_ptr<Module> seModel(const Block &b, unsigned seed) {
  std::mt19937 rng(seed);
  DenseConstant dense{rng};
  const std::string N = std::to_string(b.n), H = std::to_string(b.h),
                    W = std::to_string(b.w), K = std::to_string(b.kernel),
                    P = std::to_string(b.kernel / 2);
  const std::string map = "f32[" + N + ",44," + H + "," + W + "]";
  const std::string out = "f32[" + N + ",20," + H + "," + W + "]";
  const std::string col = "f32[" + N + ",44,1,1]";
  std::string t = "func @main(%x: f32[" + N + ",8," + H + "," + W + "]) {\n";
  t += "  %wf = " + dense("44,8,3,3", 44 * 72, 0.2f) + "\n";
  t += "  %f = Conv(%x, %wf) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : " +
       map + "\n";
  t += "  %wd = " + dense("44,1,3,3", 44 * 9, 0.3f) + "\n";
  t += "  %d = Conv(%f, %wd) {group = 44, kernel_shape = [3, 3], pads = [1, "
       "1, 1, 1]} : " +
       map + "\n";
  t += "  %ds = Sigmoid(%d) : " + map + "\n";
  t += "  %e = Mul(%d, %ds) : " + map + "\n";
  t += "  %g = GlobalAveragePool(%e) : " + col + "\n";
  t += "  %w1 = " + dense("12,44,1,1", 12 * 44, 0.5f) + "\n";
  t += "  %q = Conv(%g, %w1) {kernel_shape = [1, 1]} : f32[" + N + ",12,1,1]\n";
  t += "  %qr = Relu(%q) : f32[" + N + ",12,1,1]\n";
  t += "  %w2 = " + dense("44,12,1,1", 44 * 12, 0.5f) + "\n";
  t += "  %b2 = " + dense("44", 44, 0.5f) + "\n";
  t += "  %v = Conv(%qr, %w2, %b2) {kernel_shape = [1, 1]} : " + col + "\n";
  t += "  %s = Sigmoid(%v) : " + col + "\n";
  t += std::string("  %xs = Mul(") + (b.scaleFirst ? "%s, %e" : "%e, %s") +
       ") : " + map + "\n";
  t += "  %wp = " +
       dense("20,44," + K + "," + K, size_t(20 * 44 * b.kernel * b.kernel),
             0.3f) +
       "\n";
  if (b.bias)
    t += "  %bp = " + dense("20", 20, 0.5f) + "\n";
  t += "  %y = Conv(%xs, %wp" + std::string(b.bias ? ", %bp" : "") +
       ") {kernel_shape = [" + K + ", " + K + "], pads = [" + P + ", " + P +
       ", " + P + ", " + P + "]} : " + out + "\n";
  std::string last = "%y";
  if (b.relu) {
    t += "  %yr = Relu(" + last + ") : " + out + "\n";
    last = "%yr";
  }
  if (b.hswish) {
    t += "  %yh = HardSwish(" + last + ") : " + out + "\n";
    last = "%yh";
  }
  t += "  return " + last + "\n}\n";
  return parseLowered(t);
}

// Compiles a fresh copy of the block (the fold rewrites the function it
// compiles) and counts the folds.
size_t folds(const Block &b, const CompileConfig &cfg) {
  auto m = seModel(b, 5);
  if (!m)
    return ~size_t(0);
  auto cm = compileModel(*m->main(), cfg);
  EXPECT_TRUE(bool(cm)) << cm.status().message();
  return cm ? cm->fusion.scaleFolds : ~size_t(0);
}

// The block folds `expect` Muls by default and none with scaleFold off; at
// 1 and 2 threads, and on the portable runtime, the results are within the
// fp32 tolerance of the interpreter (a scale applied to the wrong channel,
// or not at all, is off by far more).
void checkBlock(const Block &b, size_t expect) {
  auto ref = seModel(b, 5);
  ASSERT_TRUE(ref);
  std::mt19937 rng(9);
  std::vector<Tensor> in = randomInputs(*ref->main(), rng);
  auto want = interpret(*ref->main(), in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  for (unsigned threads : {1u, 2u}) {
    CompileConfig on = hostConfig(), off = hostConfig();
    off.scaleFold = false;
    on.numThreads = off.numThreads = threads;
    SCOPED_TRACE(std::to_string(threads) + " thread(s)");
    EXPECT_EQ(folds(b, on), expect);
    EXPECT_EQ(folds(b, off), 0u);
    for (const CompileConfig *cfg : {&on, &off}) {
      auto m = seModel(b, 5);
      ASSERT_TRUE(m);
      expectClose(runCpu(*m->main(), *cfg, in), *want, 1e-4, 1e-5);
    }
  }
  // Bundles keep the Mul (their runtime links no C++ library, which the
  // packers need below O3).
  CompileConfig bundle = hostConfig();
  bundle.bundle = true;
  EXPECT_EQ(folds(b, bundle), 0u);
  // The plain-C runtime packs the scaled weights too.
  CompileConfig portable = hostConfig();
  portable.kernels = Kernels::Portable;
  EXPECT_EQ(folds(b, portable), expect);
  auto m = seModel(b, 5);
  ASSERT_TRUE(m);
  expectClose(runCpu(*m->main(), portable, in), *want, 1e-4, 1e-5);
}

} // namespace

TEST(CpuScaleFold, ProjectionWithBiasFolds) { checkBlock(Block{}, 1); }

TEST(CpuScaleFold, ProjectionWithoutBiasWithActivationsFolds) {
  Block b;
  b.bias = false;
  b.relu = true;
  b.hswish = true;
  b.scaleFirst = true;
  checkBlock(b, 1);
}

TEST(CpuScaleFold, PaddedThreeByThreeProjectionFolds) {
  Block b;
  b.kernel = 3;
  b.h = 80; // 16 x 2 threads x 20 x 9 weights a channel <= 80 x 75 pixels
  b.w = 75;
  b.relu = true;
  checkBlock(b, 1);
}

// Two images: a scale per image, which one tensor of weights cannot hold;
// the Mul stays.
TEST(CpuScaleFold, TwoImagesKeepTheMul) {
  Block b;
  b.n = 2;
  b.hswish = true;
  checkBlock(b, 0);
}

// A small map: the weights (20 x 44) cost more than the Mul over 6 x 5
// pixels (the cost rule); the Mul stays.
TEST(CpuScaleFold, SmallMapKeepsTheMul) {
  Block b;
  b.h = 6;
  b.w = 5;
  checkBlock(b, 0);
}

//===- CpuConvPairTest.cpp - 1x1 + depthwise pairs in compiled models ----===//
//
// A channels-last 1x1 convolution whose result only a depthwise one reads
// runs inside the depthwise step, a chunk of output rows at a time
// (ConvPair.cpp, RtAbi.h ember_rt_conv2d_pair): which steps pair, and their
// results against the two steps run apart (the same bits) and the
// interpreter.
//
//===----------------------------------------------------------------------===//
#include "CpuTestUtil.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

namespace {

// N images of 8 channels, 75x29, through a 3x3 to 32 (the first layer,
// which reads them row-major and writes channels-last); then a 1x1 to 36
// channels with a bias and a HardSwish (a post the library has) read by a 5x5
// stride-2 depthwise with pads 2 and a ReLU; its 38x15 result by a 1x1 to 44
// channels with a ReLU read by a 3x3 stride-1 depthwise with asymmetric pads
// (top 0, left 1, bottom 2, right 1) and a bias, then Tanh x 1.5 (a generated
// post function), and a 1x1 to 16 channels (the graph output, row-major: the
// depthwise step before it writes channels-last). Channel counts are no
// multiple of a vector.
std::unique_ptr<Module> pairsModel(int n, std::mt19937 &rng) {
  DenseConstant dense{rng};
  const std::string N = std::to_string(n);
  return parseLowered(
      "func @main(%x: f32[" + N +
      ",8,75,29]) {\n"
      "  %wf = " +
      dense("32,8,3,3", 32 * 72, 0.2f) +
      "\n"
      "  %f = Conv(%x, %wf) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[" +
      N +
      ",32,75,29]\n"
      "  %w0 = " +
      dense("36,32,1,1", 36 * 32, 0.3f) + "\n  %b0 = " + dense("36", 36, 0.5f) +
      "\n"
      "  %c0 = Conv(%f, %w0, %b0) {kernel_shape = [1, 1]} : f32[" +
      N +
      ",36,75,29]\n"
      "  %h0 = HardSwish(%c0) : f32[" +
      N +
      ",36,75,29]\n"
      "  %wd0 = " +
      dense("36,1,5,5", 36 * 25, 0.3f) +
      "\n"
      "  %d0 = Conv(%h0, %wd0) {group = 36, kernel_shape = [5, 5], pads = [2, "
      "2, 2, 2], strides = [2, 2]} : f32[" +
      N +
      ",36,38,15]\n"
      "  %r0 = Relu(%d0) : f32[" +
      N +
      ",36,38,15]\n"
      "  %w1 = " +
      dense("44,36,1,1", 44 * 36, 0.3f) +
      "\n"
      "  %c1 = Conv(%r0, %w1) {kernel_shape = [1, 1]} : f32[" +
      N +
      ",44,38,15]\n"
      "  %r1 = Relu(%c1) : f32[" +
      N +
      ",44,38,15]\n"
      "  %wd1 = " +
      dense("44,1,3,3", 44 * 9, 0.3f) + "\n  %bd1 = " + dense("44", 44, 0.2f) +
      "\n"
      "  %d1 = Conv(%r1, %wd1, %bd1) {group = 44, kernel_shape = [3, 3], pads "
      "= [0, 1, 2, 1]} : f32[" +
      N +
      ",44,38,15]\n"
      "  %t1 = Tanh(%d1) : f32[" +
      N +
      ",44,38,15]\n"
      "  %k = Constant dense<f32[]: [1.5]>\n"
      "  %m1 = Mul(%t1, %k) : f32[" +
      N +
      ",44,38,15]\n"
      "  %w2 = " +
      dense("16,44,1,1", 16 * 44, 0.3f) +
      "\n"
      "  %y = Conv(%m1, %w2) {kernel_shape = [1, 1]} : f32[" +
      N +
      ",16,38,15]\n"
      "  return %y\n"
      "}\n");
}

void expectSameBits(const std::vector<Tensor> &got,
                    const std::vector<Tensor> &want, const std::string &what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t k = 0; k < got.size(); ++k)
    EXPECT_EQ(std::memcmp(got[k].raw(), want[k].raw(),
                          size_t(want[k].type().sizeInBytes())),
              0)
        << what << ": output " << k << " differs from the unpaired steps";
}

// Both pairs run as one step each with conv_pair=all (neither 1x1 result
// reaches the size rule's 1 MiB: the default pairs none, and conv_pair=0
// none); at 1 and 2 threads, with the default buffer (a few chunks of
// rows a band) and with one output row a chunk (the buffer keeps the
// KH - SH rows chunks share and computes one or two new ones), the results
// are the unpaired steps' bits and within fp32 rounding of the
// interpreter.
void checkPairs(int n) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(unsigned(71 + n));
  auto m = pairsModel(n, rng);
  ASSERT_TRUE(m);
  std::vector<Tensor> in = randomInputs(*m->main(), rng);
  auto want = interpret(*m->main(), in);
  ASSERT_TRUE(bool(want));
  for (unsigned threads : {1u, 2u}) {
    CompileConfig off = hostConfig(), sized = hostConfig(), all = hostConfig(),
                  rowAtATime = hostConfig();
    off.convPair = CompileConfig::ConvPair::Off;
    all.convPair = rowAtATime.convPair = CompileConfig::ConvPair::All;
    rowAtATime.convPairBufferBytes = 1;
    for (CompileConfig *c : {&off, &sized, &all, &rowAtATime})
      c->numThreads = threads;
    for (auto [cfg, pairs] :
         {std::pair{&off, 0u}, {&sized, 0u}, {&all, 2u}, {&rowAtATime, 2u}}) {
      auto cm = compileModel(*m->main(), *cfg);
      ASSERT_TRUE(bool(cm)) << cm.status().message();
      EXPECT_EQ(convStepsWith(*cm, EMBER_RT_CONV_PAIR_ROWS), pairs);
      EXPECT_EQ(cm->fusion.convPairs, pairs);
    }
    const std::vector<Tensor> apart = runCpu(*m->main(), off, in);
    expectClose(apart, *want, 1e-4, 1e-5);
    const std::string t = std::to_string(threads) + " thread(s)";
    expectSameBits(runCpu(*m->main(), all, in), apart, "paired, " + t);
    expectSameBits(runCpu(*m->main(), rowAtATime, in), apart,
                   "paired a row at a time, " + t);
  }
}

} // namespace

TEST(CpuConvPair, OneImageMatchesUnpairedSteps) { checkPairs(1); }

TEST(CpuConvPair, ThreeImagesMatchUnpairedSteps) { checkPairs(3); }

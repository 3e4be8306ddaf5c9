//===- CpuWinogradTest.cpp - Winograd F(2x2, 3x3) in compiled models ----===//
//
// The CPU backend's choice of conv2dNhwcWinograd for channels-last 3x3
// stride-1 convolutions (ParamBlocks.cpp, usesWinograd) and its results
// against the interpreter and the direct tiles.
//
//===----------------------------------------------------------------------===//
#include "CpuTestUtil.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <string>

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

// Channels-last 3x3 stride-1 convolutions of 32 or more channels in and
// out run as Winograd F(2x2, 3x3) (RtAbi.h WINOGRAD): pads 1 and
// asymmetric (0, 2), an odd map (a half tile at the edge), bias, ReLU and a
// residual; those with 16 channels in or out and a stride-2 one keep the
// direct tiles.
// Against the interpreter at 1 and 2 threads; with the cpu plugin's
// winograd=0 no step takes it, and the results differ from it only by
// rounding.
TEST(CpuLayout, WinogradConvolutionsMatchInterpreter) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(43);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,16,21,19]) {\n"
      "  %w0 = " +
      dense("32,16,3,3", 32 * 144, 0.2f) +
      "\n"
      "  %c0 = Conv(%x, %w0) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,32,21,19]\n"
      "  %a0 = Relu(%c0) : f32[1,32,21,19]\n"
      "  %w1 = " +
      dense("48,32,3,3", 48 * 288, 0.1f) +
      "\n  %b1 = " + dense("48", 48, 0.5f) +
      "\n"
      "  %c1 = Conv(%a0, %w1, %b1) {kernel_shape = [3, 3], pads = [1, 1, 1, "
      "1]} : f32[1,48,21,19]\n"
      "  %a1 = Relu(%c1) : f32[1,48,21,19]\n"
      "  %w2 = " +
      dense("48,48,3,3", 48 * 432, 0.1f) +
      "\n"
      "  %c2 = Conv(%a1, %w2) {kernel_shape = [3, 3], pads = [0, 2, 2, 0]} : "
      "f32[1,48,21,19]\n"
      "  %r2 = Add(%c2, %a1) : f32[1,48,21,19]\n"
      "  %w3 = " +
      dense("16,48,3,3", 16 * 432, 0.1f) +
      "\n"
      "  %c3 = Conv(%r2, %w3) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,16,21,19]\n"
      "  %w4 = " +
      dense("40,48,3,3", 40 * 432, 0.1f) +
      "\n"
      "  %c4 = Conv(%r2, %w4) {kernel_shape = [3, 3], pads = [1, 1, 1, 1], "
      "strides = [2, 2]} : f32[1,40,11,10]\n"
      "  %y4 = Relu(%c4) : f32[1,40,11,10]\n"
      "  return %c3, %y4\n"
      "}\n");
  ASSERT_TRUE(m);
  // The steps that take it: c1 and c2 (with its residual), not c0 (16
  // channels in), c3 (16 out) nor c4 (stride 2).
  expectLayoutsAndResults(
      *m, rng,
      [&](const CompiledModel &cm, const std::set<std::string> &nhwc,
          const std::string &list) {
        for (const char *v : {"a1", "r2"})
          EXPECT_TRUE(nhwc.count(v)) << v << " not channels-last: " << list;
        EXPECT_EQ(convStepsWith(cm, EMBER_RT_CONV_WINOGRAD), 2u);
      });
  CompileConfig direct = hostConfig();
  direct.winograd = false;
  auto cm = compileModel(*m->main(), direct);
  ASSERT_TRUE(bool(cm)) << cm.status().message();
  EXPECT_EQ(convStepsWith(*cm, EMBER_RT_CONV_WINOGRAD), 0u);
  std::vector<Tensor> in = {
      randomTensor(m->main()->params()[0]->types[0], rng)};
  std::vector<Tensor> a = runCpu(*m->main(), hostConfig(), in);
  std::vector<Tensor> b = runCpu(*m->main(), direct, in);
  expectClose(a, b, 1e-4, 1e-5);
  EXPECT_NE(
      std::memcmp(a[0].raw(), b[0].raw(), size_t(a[0].type().sizeInBytes())), 0)
      << "the Winograd steps gave the direct tiles' bits";
}

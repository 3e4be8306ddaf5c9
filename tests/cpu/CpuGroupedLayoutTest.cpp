//===- CpuGroupedLayoutTest.cpp - channels-last grouped convolutions ----===//
//
// The CPU backend's channels-last choice (ChannelsLast.cpp) for grouped
// convolutions and the channel shuffle between them (ShuffleNet, ResNeXt),
// against the interpreter at 1 and 2 threads.
//
//===----------------------------------------------------------------------===//
#include "CpuTestUtil.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

// Grouped (not depthwise) convolutions run channels-last too, each group
// over its channel slice of x and y (ResNeXt's 3x3 of cardinality 32,
// ShuffleNet's grouped 1x1s): a grouped 3x3 with a bias and a residual
// Add + Relu fused into its epilogue, a strided grouped 3x3 writing its
// part of a concatenation in place, a grouped 1x1; against the
// interpreter at 1 and 2 threads.
TEST(CpuLayout, GroupedConvolutionsRunChannelsLast) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(11);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,3,18,18]) {\n"
      "  %w1 = " +
      dense("64,3,3,3", 64 * 27, 0.3f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,64,18,18]\n"
      "  %a1 = Relu(%c1) : f32[1,64,18,18]\n"
      "  %w2 = " +
      dense("64,16,3,3", 64 * 144, 0.1f) +
      "\n  %b2 = " + dense("64", 64, 0.1f) +
      "\n"
      "  %c2 = Conv(%a1, %w2, %b2) {kernel_shape = [3, 3], pads = [1, 1, 1, "
      "1], group = 4} : f32[1,64,18,18]\n"
      "  %s2 = Add(%c2, %a1) : f32[1,64,18,18]\n"
      "  %y2 = Relu(%s2) : f32[1,64,18,18]\n"
      "  %w3 = " +
      dense("96,32,3,3", 96 * 288, 0.08f) +
      "\n"
      "  %c3 = Conv(%y2, %w3) {kernel_shape = [3, 3], pads = [1, 1, 1, 1], "
      "strides = [2, 2], group = 2} : f32[1,96,9,9]\n"
      "  %w4 = " +
      dense("40,64,1,1", 40 * 64, 0.1f) +
      "\n"
      "  %c4 = Conv(%y2, %w4) {kernel_shape = [1, 1], strides = [2, 2]} : "
      "f32[1,40,9,9]\n"
      "  %cat = Concat(%c3, %c4) {axis = 1} : f32[1,136,9,9]\n"
      "  %w5 = " +
      dense("68,34,1,1", 68 * 34, 0.15f) +
      "\n"
      "  %c5 = Conv(%cat, %w5) {kernel_shape = [1, 1], group = 4} : "
      "f32[1,68,9,9]\n"
      "  %g = GlobalAveragePool(%c5) : f32[1,68,1,1]\n"
      "  return %g\n"
      "}\n");
  ASSERT_TRUE(m);
  expectLayoutsAndResults(*m, rng, {"a1", "y2", "c3", "c4", "cat", "c5"});
}

// A channel shuffle (ShuffleNet: Reshape to [N, G, C/G, H, W], Transpose
// of the two channel dims, Reshape back) between channels-last
// convolutions keeps them channels-last: its 5-D values are stored
// [N][H][W][A][B], so both Reshapes stay views of the same bytes and the
// Transpose loop writes the shuffled channels of each pixel. Grouped 1x1s
// and a depthwise 3x3 around it, a graph output of the shuffled value
// (row-major, so that shuffle stays row-major too); against the
// interpreter at 1 and 2 threads.
TEST(CpuLayout, ChannelShuffleKeepsConvolutionsChannelsLast) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(13);
  DenseConstant dense{rng};
  auto shuffle = [](const std::string &x, const std::string &y) {
    return "  %" + y + "5 = Reshape(%" + x + ", %s5) : f32[1,4,16,10,10]\n" +
           "  %" + y + "t = Transpose(%" + y +
           "5) {perm = [0, 2, 1, 3, 4]} : f32[1,16,4,10,10]\n" + "  %" + y +
           " = Reshape(%" + y + "t, %s4) : f32[1,64,10,10]\n";
  };
  auto m = parseLowered(
      "func @main(%x: f32[1,3,20,20]) {\n"
      "  %s5 = Constant dense<i64[5]: [1, 4, 16, 10, 10]>\n"
      "  %s4 = Constant dense<i64[4]: [1, 64, 10, 10]>\n"
      "  %w1 = " +
      dense("32,3,3,3", 32 * 27, 0.3f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [3, 3], pads = [1, 1, 1, 1], "
      "strides = [2, 2]} : f32[1,32,10,10]\n"
      "  %a1 = Relu(%c1) : f32[1,32,10,10]\n"
      "  %w2 = " +
      dense("64,8,1,1", 64 * 8, 0.3f) +
      "\n"
      "  %c2 = Conv(%a1, %w2) {kernel_shape = [1, 1], group = 4} : "
      "f32[1,64,10,10]\n"
      "  %a2 = Relu(%c2) : f32[1,64,10,10]\n" +
      shuffle("a2", "sh") + "  %w3 = " + dense("64,1,3,3", 64 * 9, 0.3f) +
      "\n"
      "  %c3 = Conv(%sh, %w3) {kernel_shape = [3, 3], pads = [1, 1, 1, 1], "
      "group = 64} : f32[1,64,10,10]\n"
      "  %w4 = " +
      dense("64,16,1,1", 64 * 16, 0.2f) +
      "\n"
      "  %c4 = Conv(%c3, %w4) {kernel_shape = [1, 1], group = 4} : "
      "f32[1,64,10,10]\n"
      "  %a4 = Relu(%c4) : f32[1,64,10,10]\n" +
      shuffle("a4", "so") +
      "  %g = GlobalAveragePool(%c4) : f32[1,64,1,1]\n"
      "  return %g, %so\n"
      "}\n");
  ASSERT_TRUE(m);
  expectLayoutsAndResults(*m, rng, {"a1", "a2", "sh5", "sht", "sh", "c3", "c4"},
                          {"so5", "sot", "so"});
}

// Groups of fewer output channels than a vector run all at once
// (groupedConv2dNhwc, RtAbi.h GROUPED), channels-last like the 1x1 layers
// around them: ResNeXt's 4-channel groups (a 3x3 with bias and a residual
// Add + Relu), 2-channel groups at stride 2 with a dilated window, a
// channel multiplier (group = C, two outputs a channel) and a 5x5 of
// 4-channel groups on an odd map. The 16-channel groups of c6 (a vector on
// AVX-512, two on AVX2) run conv2dNhwc per group. Against the interpreter
// at 1 and 2 threads.
TEST(CpuLayout, NarrowGroupsRunAllGroupsInOneCall) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(17);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,32,19,21]) {\n"
      "  %w1 = " +
      dense("64,32,1,1", 64 * 32, 0.2f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [1, 1]} : f32[1,64,19,21]\n"
      "  %a1 = Relu(%c1) : f32[1,64,19,21]\n"
      "  %w2 = " +
      dense("64,4,3,3", 64 * 36, 0.2f) + "\n  %b2 = " + dense("64", 64, 0.1f) +
      "\n"
      "  %c2 = Conv(%a1, %w2, %b2) {kernel_shape = [3, 3], pads = [1, 1, 1, "
      "1], group = 16} : f32[1,64,19,21]\n"
      "  %s2 = Add(%c2, %a1) : f32[1,64,19,21]\n"
      "  %y2 = Relu(%s2) : f32[1,64,19,21]\n"
      "  %w3 = " +
      dense("64,2,3,3", 64 * 18, 0.3f) +
      "\n"
      "  %c3 = Conv(%y2, %w3) {kernel_shape = [3, 3], pads = [2, 2, 2, 2], "
      "strides = [2, 2], dilations = [2, 2], group = 32} : f32[1,64,10,11]\n"
      "  %w4 = " +
      dense("128,1,3,3", 128 * 9, 0.3f) +
      "\n"
      "  %c4 = Conv(%c3, %w4) {kernel_shape = [3, 3], pads = [1, 1, 1, 1], "
      "group = 64} : f32[1,128,10,11]\n"
      "  %w5 = " +
      dense("128,4,5,5", 128 * 100, 0.1f) +
      "\n"
      "  %c5 = Conv(%c4, %w5) {kernel_shape = [5, 5], pads = [2, 2, 2, 2], "
      "group = 32} : f32[1,128,10,11]\n"
      "  %a5 = Relu(%c5) : f32[1,128,10,11]\n"
      "  %w6 = " +
      dense("128,16,3,3", 128 * 144, 0.1f) +
      "\n"
      "  %c6 = Conv(%a5, %w6) {kernel_shape = [3, 3], pads = [1, 1, 1, 1], "
      "group = 8} : f32[1,128,10,11]\n"
      "  %g = GlobalAveragePool(%c6) : f32[1,128,1,1]\n"
      "  return %g\n"
      "}\n");
  ASSERT_TRUE(m);
  expectLayoutsAndResults(
      *m, rng,
      [&](const CompiledModel &cm, const std::set<std::string> &nhwc,
          const std::string &list) {
        for (const char *v : {"a1", "y2", "c3", "c4", "a5", "c6"})
          EXPECT_TRUE(nhwc.count(v)) << v << " not channels-last: " << list;
        // c2, c3, c4 (a channel multiplier) and c5.
        EXPECT_EQ(convStepsWith(cm, EMBER_RT_CONV_GROUPED), 4u);
      });
}

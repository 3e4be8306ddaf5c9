// Values stored inside another's bytes (backends/cpu/compiler/Views.cpp):
// a Split's parts read in place from its input and Concat inputs computed
// into their slice of the result, channels-last, with the pixel strides
// the convolutions take (RtAbi.h EMBER_RT_CONV_LDX, _LDR, _LDY): the same
// values as the interpreter's, on every runtime.
#include "CpuTestUtil.h"

namespace ember::cpugen::test {
namespace {

// YOLOv8's C2f block: a 1x1 + SiLU, a Split in two, a bottleneck (two 3x3
// + SiLU, the second adding the last part back) on the last part, a
// Concat of both parts and the bottleneck's result, a 1x1. Also a Split
// read by a loop (a Sigmoid of its first part) and by the graph output.
TEST(CpuViews, C2fSplitAndConcatInPlace) {
  std::mt19937 rng(5);
  DenseConstant dense{rng};
  auto conv = [&](const std::string &y, const std::string &x, int oc, int ic,
                  int k) {
    const std::string w = "%w_" + y.substr(1);
    return "  " + w + " = " +
           dense(std::to_string(oc) + "," + std::to_string(ic) + "," +
                     std::to_string(k) + "," + std::to_string(k),
                 size_t(oc * ic * k * k), 1.0f / float(ic * k)) +
           "\n  " + y + "c = Conv(" + x + ", " + w + ") {kernel_shape = [" +
           std::to_string(k) + ", " + std::to_string(k) + "], pads = [" +
           std::string(k == 3 ? "1, 1, 1, 1" : "0, 0, 0, 0") + "]} : f32[1," +
           std::to_string(oc) + ",16,16]\n  " + y + "s = Sigmoid(" + y +
           "c) : f32[1," + std::to_string(oc) + ",16,16]\n  " + y + " = Mul(" +
           y + "c, " + y + "s) : f32[1," + std::to_string(oc) + ",16,16]\n";
  };
  auto m = parseLowered(
      "func @main(%x: f32[1,16,16,16]) {\n" + conv("%a", "%x", 32, 16, 1) +
      "  %p0, %p1 = Split(%a) {axis = 1, num_outputs = 2} : "
      "f32[1,16,16,16], f32[1,16,16,16]\n" +
      conv("%b", "%p1", 16, 16, 3) + conv("%d", "%b", 16, 16, 3) +
      "  %e = Add(%p1, %d) : f32[1,16,16,16]\n"
      "  %cat = Concat(%p0, %p1, %e) {axis = 1} : f32[1,48,16,16]\n" +
      conv("%f", "%cat", 32, 48, 1) +
      "  %g = Sigmoid(%p0) : f32[1,16,16,16]\n"
      "  return %f, %g\n"
      "}\n");
  ASSERT_TRUE(m);
  auto cm = compileModel(*m->main(), hostConfig());
  ASSERT_TRUE(bool(cm)) << cm.status().message();
  if (channelsLastHost()) {
    EXPECT_EQ(cm->fusion.viewSplits, 1u);
    // (the bottleneck reads the part, adds it back, writes into the Concat)
    EXPECT_GT(convStepsWith(*cm, EMBER_RT_CONV_LDX), 0u);
    EXPECT_GT(convStepsWith(*cm, EMBER_RT_CONV_LDR), 0u);
    EXPECT_GT(convStepsWith(*cm, EMBER_RT_CONV_LDY), 0u);
  }
  std::vector<Tensor> in = randomInputs(*m->main(), rng);
  auto want = interpret(*m->main(), in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  expectCloseOnEveryRuntime(*m->main(), in, *want, 1e-4, 1e-5);
}

} // namespace
} // namespace ember::cpugen::test

// How channels-last pointwise convolutions split over the workers
// (RtKernels.cpp planConvSplit, ember_rt_conv_split): a layer whose
// weights outweigh its input (the small maps late in a mobile network, the
// one-pixel layers of a squeeze-excitation block) is cut into one range of
// output channels a worker, so each worker streams only its share of the
// weights; a layer whose input outweighs its weights keeps its pixel
// pieces. Results at 2 threads are those at 1, bit for bit.
#include "CpuTestUtil.h"

#include "runtime/RtAbi.h"

namespace ember::cpugen::test {
namespace {

// The fp32 conv steps' parameter blocks of a compiled model.
std::vector<std::vector<int64_t>> convParams(const CompiledModel &cm) {
  std::vector<std::vector<int64_t>> out;
  for (const llvm::GlobalVariable &g : cm.module->globals()) {
    const auto *t = llvm::dyn_cast<llvm::ArrayType>(g.getValueType());
    if (!g.getName().starts_with("params.") || !g.hasInitializer() || !t ||
        !t->getElementType()->isIntegerTy(64) ||
        t->getNumElements() != EMBER_RT_CONV_NUM_FIELDS)
      continue;
    std::vector<int64_t> p;
    for (unsigned i = 0; i < t->getNumElements(); ++i) {
      // (A post function's address is not a ConstantInt: 1, "set".)
      const auto *ci = llvm::dyn_cast_or_null<llvm::ConstantInt>(
          g.getInitializer()->getAggregateElement(i));
      p.push_back(ci ? ci->getSExtValue() : 1);
    }
    out.push_back(std::move(p));
  }
  return out;
}

// A squeeze-excitation block on a 7x7 map (MobileNetV3-Large's 672-channel
// one): a 3x3 first layer with HardSwish, the global pool, 672 -> 168 with
// Relu and 168 -> 672 with HardSigmoid on one pixel, the per-channel scale,
// and the 1x1 projection to 112 channels; then a 1x1 on a 28x28 map, whose
// input outweighs its weights.
TEST(CpuPointwiseSplit, WeightBoundLayersSplitOverOutputChannels) {
  if (!channelsLastHost())
    GTEST_SKIP() << "no channels-last fp32 convolutions on this host";
  std::mt19937 rng(48);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,16,7,7], %z: f32[1,16,28,28]) {\n"
      "  %w1 = " +
      dense("672,16,3,3", 672 * 16 * 9, 0.2f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,672,7,7]\n"
      "  %y1 = HardSwish(%c1) : f32[1,672,7,7]\n"
      "  %g = GlobalAveragePool(%y1) : f32[1,672,1,1]\n"
      "  %w2 = " +
      dense("168,672,1,1", 168 * 672, 0.1f) +
      "\n"
      "  %c2 = Conv(%g, %w2) {kernel_shape = [1, 1]} : f32[1,168,1,1]\n"
      "  %r2 = Relu(%c2) : f32[1,168,1,1]\n"
      "  %w3 = " +
      dense("672,168,1,1", 672 * 168, 0.2f) +
      "\n"
      "  %c3 = Conv(%r2, %w3) {kernel_shape = [1, 1]} : f32[1,672,1,1]\n"
      "  %s3 = HardSigmoid(%c3) {alpha = 0.16666667, beta = 0.5} : "
      "f32[1,672,1,1]\n"
      "  %e = Mul(%y1, %s3) : f32[1,672,7,7]\n"
      "  %w4 = " +
      dense("112,672,1,1", 112 * 672, 0.1f) +
      "\n"
      "  %c4 = Conv(%e, %w4) {kernel_shape = [1, 1]} : f32[1,112,7,7]\n"
      "  %w5 = " +
      dense("64,16,3,3", 64 * 16 * 9, 0.1f) +
      "\n"
      "  %c5 = Conv(%z, %w5) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,64,28,28]\n"
      "  %w6 = " +
      dense("96,64,1,1", 96 * 64, 0.2f) +
      "\n"
      "  %c6 = Conv(%c5, %w6) {kernel_shape = [1, 1]} : f32[1,96,28,28]\n"
      "  return %c4, %c6\n"
      "}\n");
  ASSERT_TRUE(m);
  CompileConfig two = hostConfig();
  two.numThreads = 2;
  auto cm = compileModel(*m->main(), two);
  ASSERT_TRUE(bool(cm)) << cm.status().message();
  size_t weightBound = 0, inputBound = 0;
  for (const auto &p : convParams(*cm)) {
    // (The channels-last 1x1 layers over a channels-last x.)
    if (!p[EMBER_RT_CONV_NHWC] || p[EMBER_RT_CONV_IN_NCHW] ||
        p[EMBER_RT_CONV_KH] != 1)
      continue;
    const int64_t C = p[EMBER_RT_CONV_C], OC = p[EMBER_RT_CONV_OC];
    const int64_t pix = p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW];
    SCOPED_TRACE(std::to_string(C) + " -> " + std::to_string(OC) + " on " +
                 std::to_string(pix) + " pixels");
    int64_t pieces = 0, cols = 0;
    ember_rt_conv_split(p.data(), 1, &pieces, &cols);
    EXPECT_EQ(pieces, 1) << "one worker";
    ember_rt_conv_split(p.data(), 2, &pieces, &cols);
    if (C * OC > C * p[EMBER_RT_CONV_H] * p[EMBER_RT_CONV_W]) {
      ++weightBound;
      EXPECT_EQ(cols, 2) << "weights outweigh the input";
      EXPECT_EQ(pieces % 2, 0);
      // (One pixel: a piece a worker; 49: several a worker.)
      EXPECT_EQ(pieces, pix == 1 ? 2 : 8);
    } else {
      ++inputBound;
      EXPECT_EQ(cols, 1) << "the input outweighs the weights";
      EXPECT_GE(pieces, 8);
    }
  }
  // 672 -> 168, 168 -> 672 and 672 -> 112; 64 -> 96 on 28x28.
  EXPECT_EQ(weightBound, 3u);
  EXPECT_EQ(inputBound, 1u);

  std::vector<Tensor> in = randomInputs(*m->main(), rng);
  auto want = interpret(*m->main(), in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  expectCloseOnEveryRuntime(*m->main(), in, *want, 1e-4, 1e-5);
}

} // namespace
} // namespace ember::cpugen::test

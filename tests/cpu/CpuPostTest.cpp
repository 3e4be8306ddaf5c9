// Post chains (Fusion.cpp growPostChain, CodegenPost.cpp, RtAbi.h
// ember_rt_post): the elementwise chains after convolutions and matrix
// products run inside their step, bit for bit what their loops compute
// (vendor option post=0) on every layout the steps take (channels-last,
// Winograd, depthwise, NCHW, a GEMM), with the kernel library's
// activations (POST_KIND) where a chain is one, and within the fp32
// tolerance of the interpreter.
#include "CpuTestUtil.h"

namespace ember::cpugen::test {
namespace {

// Compiles m's main and returns its fusion counts; `kinds`, `posts` and
// `residuals`: the conv steps with each post field set.
struct PostCounts {
  size_t chains = 0, loops = 0, posts = 0, kinds = 0, residuals = 0;
};

PostCounts countsOf(Module &m, const CompileConfig &cfg) {
  PostCounts c;
  auto cm = compileModel(*m.main(), cfg);
  EXPECT_TRUE(bool(cm)) << cm.status().message();
  if (!cm)
    return c;
  c.chains = cm->fusion.postChains;
  c.posts = convStepsWith(*cm, EMBER_RT_CONV_POST);
  c.kinds = convStepsWith(*cm, EMBER_RT_CONV_POST_KIND);
  c.residuals = convStepsWith(*cm, EMBER_RT_CONV_POST_RES);
  for (const llvm::Function &f : *cm->module)
    c.loops += f.getName().starts_with("loop.");
  return c;
}

// Runs m with post chains and with loops (post=0), at 1 and 2 threads and
// on the portable runtime: identical outputs each time, and within the
// fp32 tolerance of the interpreter.
void expectPostNeutral(Module &m, std::mt19937 &rng) {
  std::vector<Tensor> in = randomInputs(*m.main(), rng);
  auto want = interpret(*m.main(), in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  for (unsigned threads : {1u, 2u})
    for (Kernels k : {Kernels::Library, Kernels::Portable}) {
      CompileConfig on = hostConfig(), off = hostConfig();
      on.numThreads = off.numThreads = threads;
      on.kernels = off.kernels = k;
      off.post = false;
      std::vector<Tensor> a = runCpu(*m.main(), on, in);
      std::vector<Tensor> b = runCpu(*m.main(), off, in);
      SCOPED_TRACE(std::to_string(threads) + " threads, " +
                   (k == Kernels::Library ? "library" : "portable"));
      expectIdentical(a, b);
      expectClose(a, *want, 1e-4, 1e-5);
    }
}

// A channels-last chain: SiLU (Sigmoid x Mul) after a 3x3, HardSwish after
// a 1x1, HardSigmoid after a depthwise 3x3, SiLU with a residual after a
// Winograd 3x3 (YOLOv8's bottleneck: x + SiLU(conv(x))), HardSwish as
// x * HardSigmoid(x) after a 5x5 depthwise, and a chain that is no
// activation the library has (Tanh, then a scale) after a 1x1, read by the
// graph output.
TEST(CpuPost, ActivationsRunInTheirConvolution) {
  std::mt19937 rng(3);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,16,14,14]) {\n"
      "  %w1 = " +
      dense("32,16,3,3", 32 * 16 * 9, 0.15f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,32,14,14]\n"
      "  %s1 = Sigmoid(%c1) : f32[1,32,14,14]\n"
      "  %y1 = Mul(%c1, %s1) : f32[1,32,14,14]\n"
      "  %w2 = " +
      dense("32,32,1,1", 32 * 32, 0.3f) +
      "\n"
      "  %c2 = Conv(%y1, %w2) {kernel_shape = [1, 1]} : f32[1,32,14,14]\n"
      "  %y2 = HardSwish(%c2) : f32[1,32,14,14]\n"
      "  %w3 = " +
      dense("32,1,3,3", 32 * 9, 0.5f) +
      "\n"
      "  %c3 = Conv(%y2, %w3) {group = 32, kernel_shape = [3, 3], pads = [1, "
      "1, 1, 1]} : f32[1,32,14,14]\n"
      "  %y3 = HardSigmoid(%c3) {alpha = 0.2, beta = 0.5} : f32[1,32,14,14]\n"
      "  %w4 = " +
      dense("32,32,3,3", 32 * 32 * 9, 0.1f) +
      "\n"
      "  %c4 = Conv(%y3, %w4) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,32,14,14]\n"
      "  %s4 = Sigmoid(%c4) : f32[1,32,14,14]\n"
      "  %m4 = Mul(%s4, %c4) : f32[1,32,14,14]\n"
      "  %y4 = Add(%y3, %m4) : f32[1,32,14,14]\n"
      "  %w5 = " +
      dense("32,1,5,5", 32 * 25, 0.3f) +
      "\n"
      "  %c5 = Conv(%y4, %w5) {group = 32, kernel_shape = [5, 5], pads = [2, "
      "2, 2, 2]} : f32[1,32,14,14]\n"
      "  %h5 = HardSigmoid(%c5) {alpha = 0.16666667, beta = 0.5} : "
      "f32[1,32,14,14]\n"
      "  %y5 = Mul(%c5, %h5) : f32[1,32,14,14]\n"
      "  %w6 = " +
      dense("16,32,1,1", 16 * 32, 0.3f) +
      "\n"
      "  %c6 = Conv(%y5, %w6) {kernel_shape = [1, 1]} : f32[1,16,14,14]\n"
      "  %t6 = Tanh(%c6) : f32[1,16,14,14]\n"
      "  %k = Constant dense<f32[]: [1.5]>\n"
      "  %y6 = Mul(%t6, %k) : f32[1,16,14,14]\n"
      "  return %y6\n"
      "}\n");
  ASSERT_TRUE(m);
  const PostCounts c = countsOf(*m, hostConfig());
  EXPECT_EQ(c.chains, 6u);
  EXPECT_EQ(c.loops, 0u) << "an activation ran as a loop of its own";
  EXPECT_EQ(c.posts, 6u);
  EXPECT_EQ(c.kinds, 5u); // all but Tanh x 1.5
  EXPECT_EQ(c.residuals, 1u);
  CompileConfig off = hostConfig();
  off.post = false;
  const PostCounts o = countsOf(*m, off);
  EXPECT_EQ(o.chains, 0u);
  EXPECT_EQ(o.posts, 0u);
  EXPECT_GE(o.loops, 6u);
  expectPostNeutral(*m, rng);
}

// Depthwise steps apply their post in their rows (HardSwish in registers,
// the other kinds after each row's block): 40 channels (a partial vector)
// on an odd 15x13 map, a 3x3 with HardSwish, a 5x5 at stride 2 with SiLU,
// a 3x3 at stride 2 with HardSigmoid, then a 5x5 with HardSwish and the
// block's residual after it (x + HardSwish(conv(x))): the loops' bits at
// 1 and 2 threads.
TEST(CpuPost, DepthwiseRowsApplyTheirPost) {
  std::mt19937 rng(5);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,40,15,13]) {\n"
      "  %w1 = " +
      dense("40,1,3,3", 40 * 9, 0.6f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {group = 40, kernel_shape = [3, 3], pads = [1, "
      "1, 1, 1]} : f32[1,40,15,13]\n"
      "  %y1 = HardSwish(%c1) : f32[1,40,15,13]\n"
      "  %w2 = " +
      dense("40,1,5,5", 40 * 25, 0.4f) +
      "\n"
      "  %c2 = Conv(%y1, %w2) {group = 40, kernel_shape = [5, 5], pads = [2, "
      "2, 2, 2], strides = [2, 2]} : f32[1,40,8,7]\n"
      "  %s2 = Sigmoid(%c2) : f32[1,40,8,7]\n"
      "  %y2 = Mul(%c2, %s2) : f32[1,40,8,7]\n"
      "  %w3 = " +
      dense("40,1,3,3", 40 * 9, 0.6f) +
      "\n"
      "  %c3 = Conv(%y2, %w3) {group = 40, kernel_shape = [3, 3], pads = [1, "
      "1, 1, 1], strides = [2, 2]} : f32[1,40,4,4]\n"
      "  %y3 = HardSigmoid(%c3) {alpha = 0.2, beta = 0.5} : f32[1,40,4,4]\n"
      "  %w4 = " +
      dense("40,1,5,5", 40 * 25, 0.4f) +
      "\n"
      "  %c4 = Conv(%y3, %w4) {group = 40, kernel_shape = [5, 5], pads = [2, "
      "2, 2, 2]} : f32[1,40,4,4]\n"
      "  %h4 = HardSwish(%c4) : f32[1,40,4,4]\n"
      "  %y4 = Add(%y3, %h4) : f32[1,40,4,4]\n"
      "  return %y4\n"
      "}\n");
  ASSERT_TRUE(m);
  const PostCounts c = countsOf(*m, hostConfig());
  EXPECT_EQ(c.loops, 0u) << "an activation ran as a loop of its own";
  EXPECT_EQ(c.kinds, 4u);
  EXPECT_EQ(c.residuals, 1u);
  expectPostNeutral(*m, rng);
}

// Row-major steps: a convolution with few output channels (kept NCHW) and
// a MatMul with a Gelu written with Erf (a generated post function) and a
// SiLU after a second one whose result is the graph output.
TEST(CpuPost, RowMajorConvolutionsAndMatrixProducts) {
  std::mt19937 rng(4);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,3,20,20], %a: f32[24,40]) {\n"
      "  %w1 = " +
      dense("4,3,5,5", 4 * 3 * 25, 0.2f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [5, 5], pads = [2, 2, 2, 2]} : "
      "f32[1,4,20,20]\n"
      "  %s1 = Sigmoid(%c1) : f32[1,4,20,20]\n"
      "  %y1 = Mul(%s1, %c1) : f32[1,4,20,20]\n"
      "  %b = " +
      dense("40,33", 40 * 33, 0.2f) +
      "\n"
      "  %m = MatMul(%a, %b) : f32[24,33]\n"
      "  %g = Gelu(%m) : f32[24,33]\n"
      "  %b2 = " +
      dense("33,17", 33 * 17, 0.2f) +
      "\n"
      "  %m2 = MatMul(%g, %b2) : f32[24,17]\n"
      "  %s2 = Sigmoid(%m2) : f32[24,17]\n"
      "  %y2 = Mul(%m2, %s2) : f32[24,17]\n"
      "  return %y1, %y2\n"
      "}\n");
  ASSERT_TRUE(m);
  const PostCounts c = countsOf(*m, hostConfig());
  EXPECT_EQ(c.chains, 3u);
  EXPECT_EQ(c.loops, 0u);
  expectPostNeutral(*m, rng);
}

// A chain whose values are read elsewhere stays a loop: the Sigmoid's
// result is also a graph output, so the conv's result must be stored.
TEST(CpuPost, SharedValuesStayLoops) {
  std::mt19937 rng(5);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,16,8,8]) {\n"
      "  %w = " +
      dense("16,16,1,1", 16 * 16, 0.3f) +
      "\n"
      "  %c = Conv(%x, %w) {kernel_shape = [1, 1]} : f32[1,16,8,8]\n"
      "  %s = Sigmoid(%c) : f32[1,16,8,8]\n"
      "  %y = Mul(%c, %s) : f32[1,16,8,8]\n"
      "  return %y, %s\n"
      "}\n");
  ASSERT_TRUE(m);
  const PostCounts c = countsOf(*m, hostConfig());
  EXPECT_EQ(c.posts, 0u);
  expectPostNeutral(*m, rng);
}

} // namespace
} // namespace ember::cpugen::test

// Unit tests of the CPU backend's compiler pieces (backends/cpu/compiler):
// fusion decisions, generated loops against the reference interpreter on
// random graphs, the two runtime flavors against each other, threads, and
// object emission for another target.
#include "compiler/Bundle.h"
#include "compiler/Capability.h"
#include "compiler/Compiler.h"
#include "compiler/Jit.h"
#include "ember/cpu/Kernels.h"
#include "runtime/RtAbi.h"
#include "runtime/ThreadPool.h"

#include "import/OnnxImporter.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"
#include "passes/Pass.h"

#include <gtest/gtest.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/Module.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "CpuTestUtil.h"

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

namespace {

// dense<f32[..]: 0x...> text of `count` copies of v (the printer's form
// for more than 64 elements).
std::string filled(float v, size_t count) {
  uint8_t b[4];
  std::memcpy(b, &v, 4);
  static const char *hex = "0123456789abcdef";
  std::string s = "0x";
  for (size_t i = 0; i < count; ++i)
    for (int k = 0; k < 4; ++k) {
      s += hex[b[k] >> 4];
      s += hex[b[k] & 15];
    }
  return s;
}

const std::string kResidualBlock =
    R"(func @main(%x: f32[1,8,10,10], %r: f32[1,8,10,10]) {
  %w = Constant dense<f32[8,8,3,3]: )" +
    filled(0.03125f, 576) + R"(>
  %b = Constant dense<f32[8,1,1]: [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]>
  %c = Conv(%x, %w) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : f32[1,8,10,10]
  %cb = Add(%c, %b) : f32[1,8,10,10]
  %s = Add(%cb, %r) : f32[1,8,10,10]
  %y = Relu(%s) : f32[1,8,10,10]
  return %y
}
)";

} // namespace

TEST(CpuFusion, StacksBiasResidualAndReluIntoTheConv) {
  auto m = parseLowered(kResidualBlock);
  ASSERT_TRUE(m);
  FusionStats st;
  auto groups = formGroups(*m->main(), hostConfig(), &st);
  ASSERT_TRUE(bool(groups)) << groups.status().message();
  ASSERT_EQ(groups->size(), 1u);
  const Group &g = (*groups)[0];
  EXPECT_EQ(g.kind, GroupKind::Conv);
  EXPECT_EQ(st.fusedEpilogueNodes, 3u);
  EXPECT_TRUE(g.epi.bias);
  EXPECT_TRUE(bool(g.epi.residual));
  EXPECT_FALSE(g.epi.residualAfter);
  std::mt19937 rng(1);
  std::vector<Tensor> in;
  for (auto *p : m->main()->params())
    in.push_back(randomTensor(p->types[0], rng));
  auto want = interpret(*m->main(), in);
  ASSERT_TRUE(bool(want));
  expectClose(runCpu(*m->main(), hostConfig(), in), *want, 1e-5, 1e-6);
}

TEST(CpuFusion, NoFusionOptionKeepsEveryNode) {
  auto m = parseLowered(kResidualBlock);
  ASSERT_TRUE(m);
  CompileConfig c = hostConfig();
  c.fuse = false;
  auto groups = formGroups(*m->main(), c);
  ASSERT_TRUE(bool(groups));
  EXPECT_EQ(groups->size(), 4u); // conv, bias add, residual add, relu
}

TEST(CpuFusion, ElementwiseChainWithTransposeIsOneLoop) {
  auto m = parseLowered(R"(func @main(%a: f32[4,6], %b: f32[6,4], %c: f32[6]) {
  %t = Transpose(%b) {perm = [1, 0]} : f32[4,6]
  %s = Add(%a, %t) : f32[4,6]
  %m = Mul(%s, %c) : f32[4,6]
  %e = Exp(%m) : f32[4,6]
  %y = Relu(%e) : f32[4,6]
  return %y
}
)");
  ASSERT_TRUE(m);
  FusionStats st;
  auto groups = formGroups(*m->main(), hostConfig(), &st);
  ASSERT_TRUE(bool(groups));
  EXPECT_EQ(groups->size(), 1u);
  EXPECT_EQ(st.foldedMoves, 1u);
  EXPECT_EQ(st.fusedLoopNodes, 3u);
  std::mt19937 rng(2);
  std::vector<Tensor> in;
  for (auto *p : m->main()->params())
    in.push_back(randomTensor(p->types[0], rng));
  auto want = interpret(*m->main(), in);
  ASSERT_TRUE(bool(want));
  expectClose(runCpu(*m->main(), hostConfig(), in), *want, 0, 0);
}

// A Gather at a constant scalar index is an offset along its axis, folded
// into the loads like a Slice: attention's Q, K and V picked out of a fused
// projection (Reshape, Transpose, Gather 0/1/2 along the first axis, K
// transposed again) need no copy of the transposed projection and no
// gathered copies, only the loops that read them; a negative index counts
// from the end; an index past the end keeps its Gather (the run-time
// error). Bit for bit with the interpreter.
TEST(CpuFusion, ConstantIndexGathersFoldIntoLoads) {
  auto m = parseLowered(R"(func @main(%x: f32[5,24]) {
  %s = Constant dense<i64[4]: [5, 3, 2, 4]>
  %i0 = Constant dense<i64[]: [0]>
  %i1 = Constant dense<i64[]: [-2]>
  %i2 = Constant dense<i64[]: [2]>
  %r = Reshape(%x, %s) : f32[5,3,2,4]
  %t = Transpose(%r) {perm = [1, 2, 0, 3]} : f32[3,2,5,4]
  %q = Gather(%t, %i0) {axis = 0} : f32[2,5,4]
  %k = Gather(%t, %i1) {axis = 0} : f32[2,5,4]
  %kt = Transpose(%k) {perm = [0, 2, 1]} : f32[2,4,5]
  %v = Gather(%t, %i2) {axis = 0} : f32[2,5,4]
  %e = Exp(%q) : f32[2,5,4]
  %a = Add(%e, %v) : f32[2,5,4]
  %n = Neg(%kt) : f32[2,4,5]
  return %a, %n
}
)");
  ASSERT_TRUE(m);
  FusionStats st;
  auto groups = formGroups(*m->main(), hostConfig(), &st);
  ASSERT_TRUE(bool(groups));
  // None of the transposed projection, the Gathers or K's transpose is a
  // group's result (stored): each folds into the loops that read it, the
  // projection into both.
  std::set<std::string> roots;
  for (const Group &g : *groups)
    roots.insert(g.root->outNames[0]);
  for (const char *v : {"t", "q", "k", "v", "kt"})
    EXPECT_FALSE(roots.count(v)) << v << " is stored";
  EXPECT_GE(st.foldedMoves, 5u);
  std::mt19937 rng(3);
  std::vector<Tensor> in;
  for (auto *p : m->main()->params())
    in.push_back(randomTensor(p->types[0], rng));
  auto want = interpret(*m->main(), in);
  ASSERT_TRUE(bool(want));
  for (int threads : {1, 2}) {
    CompileConfig c = hostConfig();
    c.numThreads = threads;
    expectClose(runCpu(*m->main(), c, in), *want, 0, 0);
  }
  auto bad = parseLowered(R"(func @main(%x: f32[3,4]) {
  %i = Constant dense<i64[]: [3]>
  %g = Gather(%x, %i) {axis = 0} : f32[4]
  %y = Neg(%g) : f32[4]
  return %y
}
)");
  ASSERT_TRUE(bad);
  FusionStats bs;
  ASSERT_TRUE(bool(formGroups(*bad->main(), hostConfig(), &bs)));
  EXPECT_EQ(bs.foldedMoves, 0u);
}

// Random DAGs of elementwise ops with broadcasting, movement and
// reductions: the generated loops compute what the interpreter computes,
// bit for bit.
TEST(CpuLoops, RandomGraphsMatchInterpreter) {
  const OpKind binary[] = {OpKind::Add, OpKind::Sub, OpKind::Mul,
                           OpKind::Div, OpKind::Max, OpKind::Min};
  const OpKind unary[] = {OpKind::Relu,    OpKind::Neg,  OpKind::Abs,
                          OpKind::Exp,     OpKind::Tanh, OpKind::Floor,
                          OpKind::Sigmoid, OpKind::Round};
  for (int trial = 0; trial < 40; ++trial) {
    std::mt19937 rng(uint32_t(100 + trial));
    auto m = std::make_unique<Module>();
    Function *f = m->addFunction("main");
    Dims full = {2, 3, 5};
    std::vector<Value> vals;
    vals.push_back(Value(f->addPlaceholder("x0", Type(ElemKind::F32, full))));
    vals.push_back(Value(f->addPlaceholder("x1", Type(ElemKind::F32, {3, 1}))));
    vals.push_back(Value(f->addPlaceholder("x2", Type(ElemKind::F32, {5}))));
    for (int k = 0; k < 8; ++k) {
      int kind = int(rng() % 5);
      Value a = vals[rng() % vals.size()];
      Expected<Node *> n = nullptr;
      Value b = vals[rng() % vals.size()];
      Dims bd;
      if (kind <= 1 && broadcastShapes(a.type().dims(), b.type().dims(), bd)) {
        n = f->create(binary[rng() % 6], {a, b});
      } else if (kind <= 1) {
        n = f->create(OpKind::Sqrt, {a});
      } else if (kind <= 3) {
        n = f->create(unary[rng() % 8], {a});
      } else if (a.type().rank() == 3) {
        n = f->create(OpKind::Transpose, {a},
                      {{"perm", Attr::ofInts({0, 2, 1})}});
      } else {
        Tensor axes = Tensor::fromInts(ElemKind::I64, {-1}, {1});
        Node *c = f->addConstant(f->freshName("axes"), axes);
        n = f->create(OpKind::ReduceSum, {a, Value(c)},
                      {{"keepdims", Attr::ofInt(1)}});
      }
      ASSERT_TRUE(bool(n)) << n.status().message();
      vals.push_back(Value(*n));
    }
    f->addOutput(vals.back(), "y");
    f->addOutput(vals[vals.size() - 2], "z");
    std::vector<Tensor> in;
    for (auto *p : f->params())
      in.push_back(randomTensor(p->types[0], rng));
    auto want = interpret(*f, in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    std::ostringstream text;
    printFunction(text, *f);
    SCOPED_TRACE(text.str());
    // Reductions sum in double like the reference, in another order only
    // when they are split: allow rounding at f32 precision.
    expectClose(runCpu(*f, hostConfig(), in), *want, 1e-6, 1e-6);
  }
}

// Reductions whose kept elements are contiguous and innermost (axes 0 or
// 0 and 1 of [6,5,300]; a global pool of a channels-last value is one) run
// reduced indices outer over blocks of 256 kept elements. Each element
// combines its inputs in the interpreter's order, so results are exact,
// for every operation, float and integer, at 1 and 2 threads.
// 1-D pooling windows (rank-3 tensors): max and average, with pads,
// strides and ceil mode, against the interpreter. The pool loops once read
// a fourth stride past the end of a rank-3 tensor's three, which corrupted
// the heap (ONNX's test_maxpool_1d_default crashed the plugin).
TEST(CpuLoops, OneDimensionalPoolsMatchInterpreter) {
  std::mt19937 rng(3);
  const char *pools[] = {
      "MaxPool(%x) {kernel_shape = [2]} : f32[2,3,31]",
      "MaxPool(%x) {kernel_shape = [3], strides = [2], pads = [1, 1]} : "
      "f32[2,3,16]",
      "MaxPool(%x) {kernel_shape = [4], strides = [3], ceil_mode = 1} : "
      "f32[2,3,11]",
      "AveragePool(%x) {kernel_shape = [3], strides = [2], pads = [1, 1], "
      "count_include_pad = 1} : f32[2,3,16]",
      "AveragePool(%x) {kernel_shape = [5]} : f32[2,3,28]",
  };
  for (const char *pool : pools) {
    SCOPED_TRACE(pool);
    auto m =
        parseLowered(std::string("func @main(%x: f32[2,3,32]) {\n  %y = ") +
                     pool + "\n  return %y\n}\n");
    ASSERT_TRUE(m);
    std::vector<Tensor> in = {
        randomTensor(m->main()->params()[0]->types[0], rng)};
    auto want = interpret(*m->main(), in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    expectClose(runCpu(*m->main(), hostConfig(), in), *want, 0, 0);
  }
}

// The kernel-library runtime, the portable runtime, 2 threads and the
// interpreter agree on a model with convolutions, pooling and a matmul.
TEST(CpuRuntime, PortableLibraryAndThreadsAgree) {
  std::string path =
      std::string(EMBER_SOURCE_DIR) + "/examples/mnist/model.onnx";
  auto m = importOnnxFile(path, ImportOptions());
  ASSERT_TRUE(bool(m)) << m.status().message();
  PipelineOptions po;
  ASSERT_TRUE(runPipeline(**m, po).isOk());
  Function &f = *(*m)->main();
  std::mt19937 rng(7);
  std::vector<Tensor> in;
  for (auto *p : f.params())
    in.push_back(randomTensor(p->types[0], rng));
  auto want = interpret(f, in);
  ASSERT_TRUE(bool(want));
  CompileConfig lib = hostConfig(), portable = hostConfig(),
                threads = hostConfig();
  portable.kernels = Kernels::Portable;
  threads.numThreads = 2;
  expectClose(runCpu(f, lib, in), *want, 1e-4, 1e-5);
  expectClose(runCpu(f, portable, in), *want, 1e-4, 1e-5);
  expectClose(runCpu(f, threads, in), runCpu(f, lib, in), 1e-6, 1e-7);
}

// Calls big enough to be split over 2 workers (conv over pixels, GEMM over
// rows, a loop over its outer dim, pooling over planes) give the results
// of 1 worker.
TEST(CpuRuntime, TwoThreadsSplitLargeStepsExactly) {
  auto m = parseLowered(R"(func @main(%x: f32[1,32,56,56], %a: f32[256,512]) {
  %w = Constant dense<f32[32,32,3,3]: )" +
                        filled(0.01f, 32 * 32 * 9) + R"(>
  %b = Constant dense<f32[512,256]: )" +
                        filled(-0.02f, 512 * 256) + R"(>
  %c = Conv(%x, %w) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : f32[1,32,56,56]
  %r = Relu(%c) : f32[1,32,56,56]
  %p = MaxPool(%r) {kernel_shape = [3, 3], strides = [2, 2]} : f32[1,32,27,27]
  %e = Exp(%x) : f32[1,32,56,56]
  %mm = MatMul(%a, %b) : f32[256,256]
  return %p, %e, %mm
}
)");
  ASSERT_TRUE(m);
  std::mt19937 rng(11);
  std::vector<Tensor> in;
  for (auto *p : m->main()->params())
    in.push_back(randomTensor(p->types[0], rng));
  CompileConfig one = hostConfig(), two = hostConfig();
  two.numThreads = 2;
  auto want = interpret(*m->main(), in);
  ASSERT_TRUE(bool(want));
  auto r1 = runCpu(*m->main(), one, in);
  expectClose(r1, *want, 1e-4, 1e-5);
  expectClose(runCpu(*m->main(), two, in), r1, 0, 0);
}

// Attention's products: a MatMul with both operands computed (3 heads, as
// vit-toy's Q x K^T and P x V). At 2 workers the 3 heads are split in rows
// too (3 x 2 pieces, ember_rt_gemm) rather than one worker running two
// heads; every row is computed by the same tile either way, so the results
// equal 1 worker's exactly.
TEST(CpuRuntime, TwoThreadsSplitFewBatchesInRowsExactly) {
  auto m = parseLowered(R"(func @main(%q: f32[1,3,197,64], %k: f32[1,3,64,197],
                                      %v: f32[1,3,197,64]) {
  %s = MatMul(%q, %k) : f32[1,3,197,197]
  %o = MatMul(%s, %v) : f32[1,3,197,64]
  return %s, %o
}
)");
  ASSERT_TRUE(m);
  std::mt19937 rng(13);
  std::vector<Tensor> in;
  for (auto *p : m->main()->params())
    in.push_back(randomTensor(p->types[0], rng));
  CompileConfig one = hostConfig(), two = hostConfig();
  two.numThreads = 2;
  auto want = interpret(*m->main(), in);
  ASSERT_TRUE(bool(want));
  auto r1 = runCpu(*m->main(), one, in);
  expectClose(r1, *want, 1e-4, 1e-3); // o sums 197 products of ~2.5
  expectClose(runCpu(*m->main(), two, in), r1, 0, 0);
}

// Channels-last layouts (ChannelsLast.cpp, chooseLayouts) on the AVX-512 and
// AVX2 paths: a convolution unfolds the row-major graph input and writes
// channels-last; the max pool after it (run inside the convolution), 1x1 and
// 3x3 convolutions, a concatenation written in place by its two
// convolutions, a residual convolution, an average pool and a global average
// pool read and write channels-last. Results match the interpreter at 1 and
// 2 threads.
TEST(CpuLayout, ChannelsLastChainMatchesInterpreter) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(5);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,3,20,20]) {\n"
      "  %w1 = " +
      dense("32,3,3,3", 864, 0.3f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,32,20,20]\n"
      "  %a1 = Relu(%c1) : f32[1,32,20,20]\n"
      "  %p1 = MaxPool(%a1) {kernel_shape = [3, 3], strides = [2, 2], "
      "ceil_mode = 1} : f32[1,32,10,10]\n"
      "  %w2 = " +
      dense("16,32,1,1", 512, 0.3f) +
      "\n"
      "  %c2 = Conv(%p1, %w2) {kernel_shape = [1, 1]} : f32[1,16,10,10]\n"
      "  %a2 = Relu(%c2) : f32[1,16,10,10]\n"
      "  %w3 = " +
      dense("72,16,1,1", 1152, 0.3f) +
      "\n"
      "  %c3 = Conv(%a2, %w3) {kernel_shape = [1, 1]} : f32[1,72,10,10]\n"
      "  %w4 = " +
      dense("20,16,3,3", 2880, 0.2f) +
      "\n"
      "  %c4 = Conv(%a2, %w4) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,20,10,10]\n"
      "  %cat = Concat(%c3, %c4) {axis = 1} : f32[1,92,10,10]\n"
      "  %w5 = " +
      dense("92,92,3,3", 92 * 92 * 9, 0.05f) +
      "\n"
      "  %c5 = Conv(%cat, %w5) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,92,10,10]\n"
      "  %s5 = Add(%c5, %cat) : f32[1,92,10,10]\n"
      "  %y5 = Relu(%s5) : f32[1,92,10,10]\n"
      "  %p2 = AveragePool(%y5) {kernel_shape = [3, 3], strides = [2, 2], pads "
      "= [1, 1, 1, 1]} : f32[1,92,5,5]\n"
      "  %w6 = " +
      dense("70,92,1,1", 70 * 92, 0.1f) +
      "\n"
      "  %c6 = Conv(%p2, %w6) {kernel_shape = [1, 1]} : f32[1,70,5,5]\n"
      "  %g = GlobalAveragePool(%c6) : f32[1,70,1,1]\n"
      "  return %g\n"
      "}\n");
  ASSERT_TRUE(m);
  expectLayoutsAndResults(
      *m, rng,
      [&](const CompiledModel &cm, const std::set<std::string> &nhwc,
          const std::string &list) {
        for (const char *v : {"p1", "a2", "c3", "c4", "cat", "y5", "p2", "c6"})
          EXPECT_TRUE(nhwc.count(v)) << v << " not channels-last: " << list;
        // The first max pool runs inside the first convolution: a1 is not
        // stored.
        EXPECT_EQ(cm.fusion.fusedPools, 1u);
        EXPECT_FALSE(nhwc.count("a1")) << list;
      });
}

// A row-major result at the end of a chain of convolutions (a detection
// head's, flattened by a Reshape; a depthwise one returned as it is) no
// longer keeps the chain row-major: each head reads its input
// channels-last and writes its row-major result through a channels-last
// copy (convCopiesY, RtAbi.h Y_COPY). Before, every convolution before a
// head ran in the NCHW form (a 4-layer head model 0.68 of ONNX Runtime's
// speed, 1.03 after). Against the interpreter at 1 and 2 threads.
TEST(CpuLayout, RowMajorHeadsKeepTheChainChannelsLast) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(41);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,16,19,21]) {\n"
      "  %w1 = " +
      dense("32,16,3,3", 32 * 144, 0.2f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,32,19,21]\n"
      "  %a1 = Relu(%c1) : f32[1,32,19,21]\n"
      "  %w2 = " +
      dense("48,32,3,3", 48 * 288, 0.1f) +
      "\n"
      "  %c2 = Conv(%a1, %w2) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,48,19,21]\n"
      "  %a2 = Relu(%c2) : f32[1,48,19,21]\n"
      "  %w3 = " +
      dense("24,48,1,1", 24 * 48, 0.2f) +
      "\n"
      "  %b3 = " +
      dense("24", 24, 0.5f) +
      "\n"
      "  %h = Conv(%a2, %w3, %b3) {kernel_shape = [1, 1]} : f32[1,24,19,21]\n"
      "  %s = Constant dense<i64[3]: [1, 24, 399]>\n"
      "  %flat = Reshape(%h, %s) : f32[1,24,399]\n"
      "  %w4 = " +
      dense("48,1,3,3", 48 * 9, 0.3f) +
      "\n"
      "  %d = Conv(%a2, %w4) {group = 48, kernel_shape = [3, 3], strides = [2, "
      "2], pads = [1, 1, 1, 1]} : f32[1,48,10,11]\n"
      "  %y = Clip(%d) {min = 0.0, max = 6.0} : f32[1,48,10,11]\n"
      "  return %flat, %y\n"
      "}\n");
  ASSERT_TRUE(m);
  expectLayoutsAndResults(
      *m, rng,
      [&](const CompiledModel &cm, const std::set<std::string> &nhwc,
          const std::string &list) {
        EXPECT_TRUE(nhwc.count("a1") || nhwc.count("c1")) << list;
        EXPECT_TRUE(nhwc.count("a2") || nhwc.count("c2"))
            << "the heads keep their input row-major: " << list;
        for (const char *v : {"h", "flat", "d", "y"})
          EXPECT_FALSE(nhwc.count(v)) << v << " channels-last: " << list;
        // Both heads copy their result; no other step does.
        EXPECT_EQ(convStepsWith(cm, EMBER_RT_CONV_Y_COPY), 2u);
      });
}

// A patch embedding (kernel = stride, no padding: ViT's 16x16/16, here
// 3 -> 32 8x8/8, K = 192; and 3 -> 24 12x12/12, K = 432) reads its
// row-major input in place whatever K (conv2dNhwcFromNchw, RtAbi.h
// IN_NCHW) and copies its row-major result (a Reshape to tokens reads it);
// an overlapping window with K over 256 on a row-major input (32 -> 16
// 3x3) keeps the NCHW form. Against the interpreter at 1 and 2 threads.
TEST(CpuLayout, PatchEmbeddingsReadTheirInputInPlace) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(47);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,3,48,48], %z: f32[1,32,10,10]) {\n"
      "  %w1 = " +
      dense("32,3,8,8", 32 * 192, 0.1f) + "\n  %b1 = " + dense("32", 32, 0.5f) +
      "\n"
      "  %p = Conv(%x, %w1, %b1) {kernel_shape = [8, 8], strides = [8, 8]} : "
      "f32[1,32,6,6]\n"
      "  %s = Constant dense<i64[3]: [1, 32, 36]>\n"
      "  %tok = Reshape(%p, %s) : f32[1,32,36]\n"
      "  %w2 = " +
      dense("24,3,12,12", 24 * 432, 0.05f) +
      "\n"
      "  %q = Conv(%x, %w2) {kernel_shape = [12, 12], strides = [12, 12]} : "
      "f32[1,24,4,4]\n"
      "  %w3 = " +
      dense("16,32,3,3", 16 * 288, 0.1f) +
      "\n"
      "  %c = Conv(%z, %w3) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,16,10,10]\n"
      "  return %tok, %q, %c\n"
      "}\n");
  ASSERT_TRUE(m);
  expectLayoutsAndResults(
      *m, rng,
      [&](const CompiledModel &cm, const std::set<std::string> &,
          const std::string &) {
        EXPECT_EQ(convStepsWith(cm, EMBER_RT_CONV_IN_NCHW), 2u);
        EXPECT_EQ(convStepsWith(cm, EMBER_RT_CONV_Y_COPY), 2u);
      });
}

// A normalization's moments (InstanceNormalization's lowering): the second
// ReduceSum computes its squared deviations as it reads them, and the
// row-major sums vectorize. Against the interpreter at 1 and 2 threads
// (the reassociated double sums may change a last f32 bit).
TEST(CpuFusion, ReductionComputesItsElementwiseOperand) {
  auto m = parseLowered(R"(func @main(%x: f32[2,8,30,40]) {
  %ax = Constant dense<i64[2]: [2, 3]>
  %n = Constant dense<f32[]: [1200.0]>
  %s1 = ReduceSum(%x, %ax) {keepdims = 1} : f32[2,8,1,1]
  %m = Div(%s1, %n) : f32[2,8,1,1]
  %d = Sub(%x, %m) : f32[2,8,30,40]
  %q = Mul(%d, %d) : f32[2,8,30,40]
  %s2 = ReduceSum(%q, %ax) {keepdims = 1} : f32[2,8,1,1]
  %v = Div(%s2, %n) : f32[2,8,1,1]
  %y = Div(%d, %v) : f32[2,8,30,40]
  return %y
}
)");
  ASSERT_TRUE(m);
  FusionStats st;
  auto groups = formGroups(*m->main(), hostConfig(), &st);
  ASSERT_TRUE(bool(groups));
  bool fused = false;
  for (auto &g : *groups)
    fused = fused || (g.kind == GroupKind::Reduce && g.members.size() == 2 &&
                      g.members[0]->kind == OpKind::Mul);
  EXPECT_TRUE(fused) << "Mul(d, d) not computed inside the second ReduceSum";
  std::mt19937 rng(3);
  std::vector<Tensor> in;
  for (auto *p : m->main()->params())
    in.push_back(randomTensor(p->types[0], rng));
  auto want = interpret(*m->main(), in);
  ASSERT_TRUE(bool(want));
  CompileConfig one = hostConfig(), two = hostConfig();
  two.numThreads = 2;
  expectClose(runCpu(*m->main(), one, in), *want, 1e-6, 1e-6);
  expectClose(runCpu(*m->main(), two, in), *want, 1e-6, 1e-6);
}

// The same moments between channels-last convolutions (the fused reduction
// walks channels innermost), and a dense convolution with fewer than 16
// output channels, which stays row-major (its input with it).
TEST(CpuLayout, NormalizationBetweenChannelsLastConvs) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(7);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,16,18,18], %x3: f32[1,16,18,18]) {\n"
      "  %ax = Constant dense<i64[2]: [2, 3]>\n"
      "  %n = Constant dense<f32[]: [324.0]>\n"
      "  %w1 = " +
      dense("32,16,3,3", 32 * 16 * 9, 0.2f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,32,18,18]\n"
      "  %s1 = ReduceSum(%c1, %ax) {keepdims = 1} : f32[1,32,1,1]\n"
      "  %m = Div(%s1, %n) : f32[1,32,1,1]\n"
      "  %d = Sub(%c1, %m) : f32[1,32,18,18]\n"
      "  %q = Mul(%d, %d) : f32[1,32,18,18]\n"
      "  %s2 = ReduceSum(%q, %ax) {keepdims = 1} : f32[1,32,1,1]\n"
      "  %v = Div(%s2, %n) : f32[1,32,1,1]\n"
      "  %e = Sqrt(%v) : f32[1,32,1,1]\n"
      "  %z = Div(%d, %e) : f32[1,32,18,18]\n"
      "  %a = Relu(%z) : f32[1,32,18,18]\n"
      "  %w2 = " +
      dense("32,32,3,3", 32 * 32 * 9, 0.1f) +
      "\n"
      "  %c2 = Conv(%a, %w2) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,32,18,18]\n"
      "  %y = Abs(%c2) : f32[1,32,18,18]\n"
      "  %r3 = Relu(%x3) : f32[1,16,18,18]\n"
      "  %w3 = " +
      dense("3,16,3,3", 3 * 16 * 9, 0.1f) +
      "\n"
      "  %c3 = Conv(%r3, %w3) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,3,18,18]\n"
      "  %y3 = Tanh(%c3) : f32[1,3,18,18]\n"
      "  return %y, %y3\n"
      "}\n");
  ASSERT_TRUE(m);
  expectLayoutsAndResults(
      *m, rng,
      [&](const CompiledModel &, const std::set<std::string> &nhwc,
          const std::string &list) {
        for (const char *v : {"c1", "d", "a", "c2"})
          EXPECT_TRUE(nhwc.count(v)) << v << " not channels-last: " << list;
        // (On AVX2, 3 output channels run channels-last.)
        for (const char *v : {"r3", "c3"})
          EXPECT_EQ(nhwc.count(v) != 0, avx2ChannelsLastHost())
              << v << " channels-last: " << list;
      });
}

// The AVX2 thresholds (ChannelsLast.cpp): a first layer with 8 output
// channels on a small map (MNIST's 1 -> 8 5x5 pad 2 on 28x28) unfolds
// channels-last and the 8 -> 16 3x3 after it (8 channels per tap) reads
// it so; a convolution with 2 output channels stays row-major, its input
// with it. Against the interpreter at 1 and 2 threads.
TEST(CpuLayout, Avx2ThresholdsTakeFewChannels) {
  if (!avx2ChannelsLastHost())
    GTEST_SKIP() << "the AVX2 channels-last thresholds";
  std::mt19937 rng(37);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[1,1,28,28], %z: f32[1,16,28,28]) {\n"
      "  %w1 = " +
      dense("8,1,5,5", 200, 0.3f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [5, 5], pads = [2, 2, 2, 2]} : "
      "f32[1,8,28,28]\n"
      "  %a1 = Relu(%c1) : f32[1,8,28,28]\n"
      "  %w2 = " +
      dense("16,8,3,3", 16 * 72, 0.2f) +
      "\n"
      "  %c2 = Conv(%a1, %w2) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,16,28,28]\n"
      "  %a2 = Relu(%c2) : f32[1,16,28,28]\n"
      "  %g = GlobalAveragePool(%a2) : f32[1,16,1,1]\n"
      "  %r = Relu(%z) : f32[1,16,28,28]\n"
      "  %w3 = " +
      dense("2,16,1,1", 32, 0.3f) +
      "\n"
      "  %c3 = Conv(%r, %w3) {kernel_shape = [1, 1]} : f32[1,2,28,28]\n"
      "  %y = Abs(%c3) : f32[1,2,28,28]\n"
      "  return %g, %y\n"
      "}\n");
  ASSERT_TRUE(m);
  expectLayoutsAndResults(
      *m, rng,
      [&](const CompiledModel &, const std::set<std::string> &nhwc,
          const std::string &list) {
        EXPECT_TRUE(nhwc.count("a1") || nhwc.count("c1"))
            << "first layer not channels-last: " << list;
        EXPECT_TRUE(nhwc.count("a2") || nhwc.count("c2"))
            << "8 channels per tap not channels-last: " << list;
        for (const char *v : {"r", "c3"})
          EXPECT_FALSE(nhwc.count(v)) << v << " channels-last: " << list;
      });
}

// A first layer (row-major input) with 16 to 31 output channels writes
// channels-last (conv2dNhwcFromNchw) when at least 90% of its output
// pixels have their window inside the input, and then the next convolution
// reads it channels-last too; on a small map (MNIST's 5x5 pad 2 on 14x14,
// about half the pixels at the border) it stays NCHW. Against the
// interpreter at 1 and 2 threads.
TEST(CpuLayout, FewChannelFirstLayerOnALargeMapUnfoldsChannelsLast) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(23);
  DenseConstant dense{rng};
  // big: 3 -> 16, 3x3/2 pad 1, 66x70 -> 33x35 (94% interior), then
  // 16 -> 16 3x3. small: 8 -> 16, 5x5 pad 2 on 14x14 (51% interior).
  auto m = parseLowered(
      "func @main(%x: f32[1,3,66,70], %s: f32[1,8,14,14]) {\n"
      "  %w1 = " +
      dense("16,3,3,3", 16 * 27, 0.3f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [3, 3], strides = [2, 2], "
      "pads = [1, 1, 1, 1]} : f32[1,16,33,35]\n"
      "  %a1 = Relu(%c1) : f32[1,16,33,35]\n"
      "  %w2 = " +
      dense("16,16,3,3", 16 * 144, 0.1f) +
      "\n"
      "  %c2 = Conv(%a1, %w2) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[1,16,33,35]\n"
      "  %y = Abs(%c2) : f32[1,16,33,35]\n"
      "  %w3 = " +
      dense("16,8,5,5", 16 * 200, 0.1f) +
      "\n"
      "  %c3 = Conv(%s, %w3) {kernel_shape = [5, 5], pads = [2, 2, 2, 2]} : "
      "f32[1,16,14,14]\n"
      "  %a3 = Relu(%c3) : f32[1,16,14,14]\n"
      "  %w4 = " +
      dense("16,16,1,1", 16 * 16, 0.2f) +
      "\n"
      "  %c4 = Conv(%a3, %w4) {kernel_shape = [1, 1]} : f32[1,16,14,14]\n"
      "  %y3 = Abs(%c4) : f32[1,16,14,14]\n"
      "  return %y, %y3\n"
      "}\n");
  ASSERT_TRUE(m);
  expectLayoutsAndResults(
      *m, rng,
      [&](const CompiledModel &, const std::set<std::string> &nhwc,
          const std::string &list) {
        EXPECT_TRUE(nhwc.count("a1") || nhwc.count("c1"))
            << "first layer not channels-last: " << list;
        // (On AVX2 it unfolds channels-last too.)
        EXPECT_EQ(nhwc.count("a3") || nhwc.count("c3"), avx2ChannelsLastHost())
            << "small first layer channels-last: " << list;
      });
}

// A first layer on a small map (3 -> 16, 3x3 pad 1 on 32x32: 88% of the
// output pixels have their window inside the input, under the 90% a first
// layer alone needs) unfolds channels-last when a convolution reads its
// result channels-last, here with a residual after it: the whole chain
// runs channels-last. The same layer read only by a reduction stays NCHW.
// Batch 2, against the interpreter at 1 and 2 threads.
TEST(CpuLayout, SmallMapFirstLayerFeedingAConvUnfoldsChannelsLast) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(31);
  DenseConstant dense{rng};
  auto m = parseLowered(
      "func @main(%x: f32[2,3,32,32], %s: f32[2,3,32,32]) {\n"
      "  %ax = Constant dense<i64[2]: [2, 3]>\n"
      "  %w1 = " +
      dense("16,3,3,3", 16 * 27, 0.3f) +
      "\n"
      "  %c1 = Conv(%x, %w1) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[2,16,32,32]\n"
      "  %a1 = Relu(%c1) : f32[2,16,32,32]\n"
      "  %w2 = " +
      dense("16,16,3,3", 16 * 144, 0.1f) +
      "\n"
      "  %c2 = Conv(%a1, %w2) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[2,16,32,32]\n"
      "  %r2 = Add(%c2, %a1) : f32[2,16,32,32]\n"
      "  %a2 = Relu(%r2) : f32[2,16,32,32]\n"
      "  %y = ReduceSum(%a2, %ax) {keepdims = 1} : f32[2,16,1,1]\n"
      "  %w3 = " +
      dense("16,3,3,3", 16 * 27, 0.3f) +
      "\n"
      "  %c3 = Conv(%s, %w3) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : "
      "f32[2,16,32,32]\n"
      "  %a3 = Relu(%c3) : f32[2,16,32,32]\n"
      "  %y3 = ReduceSum(%a3, %ax) {keepdims = 1} : f32[2,16,1,1]\n"
      "  return %y, %y3\n"
      "}\n");
  ASSERT_TRUE(m);
  expectLayoutsAndResults(
      *m, rng,
      [&](const CompiledModel &, const std::set<std::string> &nhwc,
          const std::string &list) {
        EXPECT_TRUE(nhwc.count("a1") || nhwc.count("c1"))
            << "first layer not channels-last: " << list;
        EXPECT_TRUE(nhwc.count("a2") || nhwc.count("r2") || nhwc.count("c2"))
            << "second layer not channels-last: " << list;
        // (On AVX2 it unfolds channels-last whatever reads it.)
        EXPECT_EQ(nhwc.count("a3") || nhwc.count("c3"), avx2ChannelsLastHost())
            << "first layer read by a reduction only channels-last: " << list;
      });
}

// A max pool after a first layer runs inside it (conv2dNhwcFromNchwMaxPool)
// when the pool is the convolution's only reader: with pads and ceil mode,
// bias and Relu in the epilogue, 1 and 2 threads, against the interpreter.
// A second reader of the convolution's result, or dilation, keep the pool
// apart; the results agree either way.
TEST(CpuLayout, FirstLayerMaxPoolRunsInsideTheConv) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(11);
  const std::string w1 =
      "Constant dense<f32[48,3,5,5]: " + randomDense(48 * 75, 0.3f, rng) + ">";
  const std::string b1 =
      "Constant dense<f32[48,1,1]: " + randomDense(48, 0.5f, rng) + ">";
  const std::string w2 =
      "Constant dense<f32[24,48,1,1]: " + randomDense(24 * 48, 0.3f, rng) + ">";
  auto model = [&](const std::string &poolAttrs, bool secondReader) {
    return "func @main(%x: f32[1,3,61,67]) {\n"
           "  %w1 = " +
           w1 + "\n  %b1 = " + b1 +
           "\n"
           "  %c1 = Conv(%x, %w1) {kernel_shape = [5, 5], strides = [2, 2], "
           "pads = [2, 2, 2, 2]} : f32[1,48,31,34]\n"
           "  %s1 = Add(%c1, %b1) : f32[1,48,31,34]\n"
           "  %a1 = Relu(%s1) : f32[1,48,31,34]\n"
           "  %p1 = MaxPool(%a1) {" +
           poolAttrs +
           "} : f32[1,48,16,17]\n"
           "  %w2 = " +
           w2 +
           "\n"
           "  %c2 = Conv(%p1, %w2) {kernel_shape = [1, 1]} : f32[1,24,16,17]\n"
           "  %a2 = Relu(%c2) : f32[1,24,16,17]\n"
           "  %y = GlobalAveragePool(%a2) : f32[1,24,1,1]\n" +
           (secondReader ? "  %g = ReduceMax(%a1) {keepdims = 0} : f32[]\n"
                           "  return %y, %g\n"
                         : "  return %y\n") +
           "}\n";
  };
  struct Case {
    std::string attrs;
    bool secondReader;
    size_t fused;
  } cases[] = {
      {"kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]", false,
       1},
      {"kernel_shape = [2, 3], strides = [2, 2], ceil_mode = 1", false, 1},
      {"kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]", true, 0},
      {"kernel_shape = [2, 2], strides = [2, 2], pads = [1, 1, 1, 1], "
       "dilations = [2, 2]",
       false, 0},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.attrs + (c.secondReader ? ", second reader" : ""));
    auto m = parseLowered(model(c.attrs, c.secondReader));
    ASSERT_TRUE(m);
    std::vector<Tensor> in;
    for (auto *p : m->main()->params())
      in.push_back(randomTensor(p->types[0], rng));
    auto want = interpret(*m->main(), in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    CompileConfig one = hostConfig(), two = hostConfig();
    two.numThreads = 2;
    auto cm = compileModel(*m->main(), one);
    ASSERT_TRUE(bool(cm)) << cm.status().message();
    EXPECT_EQ(cm->fusion.fusedPools, c.fused);
    expectClose(runCpu(*m->main(), one, in), *want, 1e-4, 1e-5);
    expectClose(runCpu(*m->main(), two, in), *want, 1e-4, 1e-5);
  }
}

TEST(CpuBundle, ObjectFilesForX86AndAArch64) {
  std::string path =
      std::string(EMBER_SOURCE_DIR) + "/examples/mnist/model.onnx";
  auto m = importOnnxFile(path, ImportOptions());
  ASSERT_TRUE(bool(m));
  PipelineOptions po;
  ASSERT_TRUE(runPipeline(**m, po).isOk());
  struct Case {
    const char *triple;
    uint16_t machine; // ELF e_machine
  } cases[] = {{"x86_64-linux-gnu", 62}, {"aarch64-linux-gnu", 183}};
  for (auto &c : cases) {
    CompileConfig cfg = hostConfig();
    cfg.triple = c.triple;
    auto files = buildBundle(*(*m)->main(), cfg, "mnist");
    ASSERT_TRUE(bool(files)) << c.triple << ": " << files.status().message();
    const BundleFile *obj = nullptr;
    for (auto &bf : *files)
      if (bf.name == "model.o")
        obj = &bf;
    ASSERT_TRUE(obj);
    ASSERT_GT(obj->bytes.size(), 64u);
    EXPECT_EQ(obj->bytes.substr(0, 4), "\x7f"
                                       "ELF");
    uint16_t machine =
        uint16_t(uint8_t(obj->bytes[18]) | uint8_t(obj->bytes[19]) << 8);
    EXPECT_EQ(machine, c.machine) << c.triple;
  }
}

TEST(CpuSupport, RefusalsCarryReasons) {
  auto m = parseModule(R"(func @main(%a: f64[2,3], %b: f64[3,4]) {
  %y = MatMul(%a, %b) : f64[2,4]
  return %y
}
)",
                       "<test>");
  ASSERT_TRUE(bool(m));
  const Node *mm = nullptr;
  for (auto &n : (*m)->main()->nodes())
    if (n->kind == OpKind::MatMul)
      mm = n.get();
  ASSERT_TRUE(mm);
  std::string why;
  EXPECT_FALSE(nodeSupported(*mm, why));
  EXPECT_NE(why.find("f64"), std::string::npos) << why;
}

// ---- int8: Ember's integer forms (docs/quantization.md) ---------------------

namespace {

// A QDQ network in the forms ORT's quantize_static writes (per-channel s8
// weights, u8 activations, int32 biases at x_scale * w_scale): a 3x3 conv
// + Relu, a depthwise 3x3 + Clip(0, 6), a 1x1 conv, a residual Add, integer
// average and max pools, a Sigmoid (a table), a global average pool with new
// parameters (ReduceSum + Requantize), Flatten and a Gemm. `c` channels
// after the first conv (64: the VNNI depthwise kernel's blocks).
std::string int8Network(std::mt19937 &rng, int64_t c, int64_t hw) {
  QdqText q{rng, "", 0};
  std::string &t = q.t;
  std::string C = std::to_string(c), HW = std::to_string(hw),
              H2 = std::to_string(hw / 2), H4 = std::to_string(hw / 4);
  std::string act = "1," + C + "," + HW + "," + HW;
  t = "func @main(%x: f32[1,16," + HW + "," + HW + "]) {\n";
  std::string x = q.qdq("%x", "1,16," + HW + "," + HW, 0.02f, 120);
  std::string b1, w1 = q.weights({c, 16, 3, 3}, 0.02f, 0.002f, b1);
  t += "  %c1 = Conv(" + x + ", " + w1 + ", " + b1 +
       ") {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : f32[" + act + "]\n";
  t += "  %r1 = Relu(%c1) : f32[" + act + "]\n";
  std::string d1 = q.qdq("%r1", act, 0.03f, 0);
  std::string b2, w2 = q.weights({c, 1, 3, 3}, 0.03f, 0.004f, b2);
  std::string lo = q.f32(0.0f), hi = q.f32(6.0f);
  t += "  %c2 = Conv(" + d1 + ", " + w2 + ", " + b2 + ") {group = " + C +
       ", kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : f32[" + act + "]\n";
  t += "  %r2 = Clip(%c2, " + lo + ", " + hi + ") : f32[" + act + "]\n";
  std::string d2 = q.qdq("%r2", act, 6.0f / 255, 0);
  std::string b3, w3 = q.weights({c, c, 1, 1}, 6.0f / 255, 0.003f, b3);
  t += "  %c3 = Conv(" + d2 + ", " + w3 + ", " + b3 +
       ") {kernel_shape = [1, 1]} : f32[" + act + "]\n";
  std::string d3 = q.qdq("%c3", act, 0.05f, 128);
  t += "  %a = Add(" + d3 + ", " + d1 + ") : f32[" + act + "]\n";
  std::string da = q.qdq("%a", act, 0.06f, 100);
  std::string p2 = "1," + C + "," + H2 + "," + H2;
  t += "  %p = AveragePool(" + da +
       ") {kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [2, 2]} : "
       "f32[" +
       p2 + "]\n";
  std::string dp = q.qdq("%p", p2, 0.06f, 100);
  std::string p4 = "1," + C + "," + H4 + "," + H4;
  t += "  %m = MaxPool(" + dp +
       ") {kernel_shape = [2, 2], strides = [2, 2]} : f32[" + p4 + "]\n";
  std::string dm = q.qdq("%m", p4, 0.06f, 100);
  t += "  %sg = Sigmoid(" + dm + ") : f32[" + p4 + "]\n";
  std::string ds = q.qdq("%sg", p4, 1.0f / 256, 0);
  std::string g1 = "1," + C + ",1,1";
  t += "  %g = GlobalAveragePool(" + ds + ") : f32[" + g1 + "]\n";
  std::string dg = q.qdq("%g", g1, 1.0f / 300, 10);
  t += "  %fl = Flatten(" + dg + ") {axis = 1} : f32[1," + C + "]\n";
  std::string b5, w5 = q.weights({10, c}, 1.0f / 300, 0.01f, b5);
  std::string df = q.qdq("%fl", "1," + C, 1.0f / 300, 10);
  t += "  %gm = Gemm(" + df + ", " + w5 + ", " + b5 +
       ") {transB = 1} : f32[1,10]\n";
  std::string dy = q.qdq("%gm", "1,10", 0.01f, 128);
  t += "  return " + dy + ", " + da + "\n}\n";
  return t;
}

// Whether f has a node of kind k.
bool hasOp(const Function &f, OpKind k) {
  for (auto &n : f.nodes())
    if (n->kind == k)
      return true;
  return false;
}

} // namespace

// A QDQ network lowers to the integer forms, and the CPU backend runs every
// node of it (no fallback) bit-exactly with the interpreter, on 1 and 2
// threads, in NCHW (16 channels) and with the channels-last int8 paths (64:
// the implicit-GEMM and VNNI depthwise kernels on AVX-512 VNNI hosts).
TEST(CpuInt8, QdqNetworkIsBitExactWithTheInterpreter) {
  for (int64_t c : {16, 64}) {
    std::mt19937 rng(unsigned(7 + c));
    auto m = parseLowered(int8Network(rng, c, 12));
    ASSERT_TRUE(m);
    const Function &f = *m->main();
    for (OpKind k :
         {OpKind::ConvInteger, OpKind::MatMulInteger, OpKind::Requantize,
          OpKind::QuantizedAdd, OpKind::TableLookup})
      EXPECT_TRUE(hasOp(f, k)) << opName(k) << " not in the lowered graph";
    EXPECT_FALSE(hasOp(f, OpKind::Conv));
    auto groups = formGroups(f, hostConfig());
    ASSERT_TRUE(bool(groups)) << groups.status().message();
    size_t fused = 0;
    for (const Group &g : *groups)
      fused += g.kind == GroupKind::QConv && g.requant != nullptr;
    EXPECT_EQ(fused, 3u) << "each conv's bias and Requantize fuse";
    for (int trial = 0; trial < 3; ++trial) {
      std::vector<Tensor> in;
      for (auto *p : f.params())
        in.push_back(randomTensor(p->types[0], rng));
      auto want = interpret(f, in);
      ASSERT_TRUE(bool(want)) << want.status().message();
      CompileConfig one = hostConfig(), two = hostConfig();
      two.numThreads = 2;
      expectIdentical(runCpu(*m->main(), one, in), *want);
      expectIdentical(runCpu(*m->main(), two, in), *want);
    }
  }
}

// The integer forms on their own, as the lowering may leave them: a
// ConvInteger and a MatMulInteger with int32 results (no Requantize to fuse;
// s8 activations, u8 weights with zero points), a per-channel Requantize
// with an x zero point and a clamp, TableLookup into f32, and a grouped conv.
TEST(CpuInt8, UnfusedIntegerFormsMatchTheInterpreter) {
  std::mt19937 rng(11);
  std::vector<uint8_t> w(8 * 4 * 3 * 3), b(6 * 5), wg(8 * 2 * 3 * 3);
  for (auto &v : w)
    v = uint8_t(rng());
  for (auto &v : b)
    v = uint8_t(rng());
  for (auto &v : wg)
    v = uint8_t(rng());
  std::vector<uint8_t> wz{3, 200, 128, 0, 17, 90, 250, 128};
  std::vector<int32_t> mult(8), shift(8);
  for (size_t i = 0; i < 8; ++i) {
    mult[i] = int32_t(1073741824 + rng() % 1073741823);
    shift[i] = -int32_t(6 + rng() % 8);
  }
  std::vector<float> table(256);
  for (size_t i = 0; i < 256; ++i)
    table[i] = float(i) * 0.5f - 3.0f;
  std::string text =
      "func @main(%x: f32[1,4,9,9], %a: f32[3,6]) {\n"
      "  %xq = Cast(%x) {to = 3} : i8[1,4,9,9]\n"
      "  %w = Constant " +
      hexDense("u8", "8,4,3,3", w.data(), w.size()) +
      "\n"
      "  %wz = Constant " +
      hexDense("u8", "8", wz.data(), wz.size()) +
      "\n"
      "  %xz = Constant dense<i8[]: [-3]>\n"
      "  %c = ConvInteger(%xq, %w, %xz, %wz) {kernel_shape = [3, 3], pads = "
      "[1, 0, 1, 2], strides = [2, 1]} : i32[1,8,5,9]\n"
      "  %wgt = Constant " +
      hexDense("u8", "8,2,3,3", wg.data(), wg.size()) +
      "\n"
      "  %cg = ConvInteger(%xq, %wgt) {group = 2, kernel_shape = [3, 3]} : "
      "i32[1,8,7,7]\n"
      "  %m = Constant " +
      hexDense("i32", "8", mult.data(), 32) +
      "\n"
      "  %e = Constant " +
      hexDense("i32", "8", shift.data(), 32) +
      "\n"
      "  %rz = Constant dense<i32[]: [40]>\n"
      "  %yz = Constant dense<u8[]: [7]>\n"
      "  %r = Requantize(%cg, %m, %e, %rz, %yz) {axis = 1, max = 200, min = 9, "
      "to = 2} : u8[1,8,7,7]\n"
      "  %t = Constant " +
      hexDense("f32", "256", table.data(), 1024) +
      "\n"
      "  %tl = TableLookup(%r, %t) : f32[1,8,7,7]\n"
      "  %aq = Cast(%a) {to = 2} : u8[3,6]\n"
      "  %b = Constant " +
      hexDense("u8", "6,5", b.data(), b.size()) +
      "\n"
      "  %az = Constant dense<u8[]: [1]>\n"
      "  %bz = Constant dense<u8[]: [131]>\n"
      "  %mm = MatMulInteger(%aq, %b, %az, %bz) : i32[3,5]\n"
      "  return %c, %tl, %mm\n}\n";
  auto m = parseLowered(text);
  ASSERT_TRUE(m);
  const Function &f = *m->main();
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<Tensor> in;
    for (auto *p : f.params()) {
      Tensor v(p->types[0]);
      for (int64_t i = 0; i < v.size(); ++i)
        v.setDouble(
            i, double(int(rng() % 256) - (p->outNames[0] == "x" ? 128 : 0)));
      in.push_back(std::move(v));
    }
    auto want = interpret(f, in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    CompileConfig two = hostConfig();
    two.numThreads = 2;
    expectIdentical(runCpu(*m->main(), hostConfig(), in), *want);
    expectIdentical(runCpu(*m->main(), two, in), *want);
  }
}

// f16 convolutions between Relu, Concat and MaxPool (a fire module): the
// activations between the widened convolutions stay f32, each convolution's
// Relu joins its epilogue and each result is rounded to f16 once, where the
// reference rounds it. The values are chosen so that every f32 sum is exact
// in any order (multiples of 1/64 times small integers) while the f16
// roundings are not: the output is bit-identical to the interpreter's only
// if every rounding happens, and only those.
TEST(CpuHalf, ActivationsBetweenWidenedConvsStayF32) {
  const std::string text =
      R"(func @main(%x: f16[1,16,8,8], %w1: f16[16,16,3,3], %w2: f16[16,16,1,1], %w3: f16[8,32,1,1]) {
  %c1 = Conv(%x, %w1) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : f16[1,16,8,8]
  %r1 = Relu(%c1) : f16[1,16,8,8]
  %c2 = Conv(%x, %w2) {kernel_shape = [1, 1]} : f16[1,16,8,8]
  %r2 = Relu(%c2) : f16[1,16,8,8]
  %cat = Concat(%r1, %r2) {axis = 1} : f16[1,32,8,8]
  %p = MaxPool(%cat) {kernel_shape = [2, 2], strides = [2, 2]} : f16[1,32,4,4]
  %c3 = Conv(%p, %w3) {kernel_shape = [1, 1]} : f16[1,8,4,4]
  return %c3
}
)";
  auto ref = parseLowered(text), m = parseLowered(text);
  ASSERT_TRUE(ref && m);
  std::mt19937 rng(5);
  std::vector<Tensor> in;
  for (auto *p : ref->main()->params()) {
    Tensor t(p->types[0]);
    bool data = p->outNames[0] == "x";
    bool last = p->outNames[0] == "w3";
    for (int64_t i = 0; i < t.size(); ++i) {
      int r = int(rng() % 15) - 7;
      t.setDouble(i, data   ? double(int(rng() % 513) - 256) / 64.0
                     : last ? double(r % 2) / 16.0
                            : double(r));
    }
    in.push_back(std::move(t));
  }
  auto want = interpret(*ref->main(), in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  CompileConfig two = hostConfig();
  two.numThreads = 2;
  auto got = runCpu(*m->main(), hostConfig(), in);
  expectIdentical(got, *want);
  expectIdentical(runCpu(*m->main(), two, in), *want);
  // The rewritten graph: no 16-bit value between the convolutions (only the
  // graph inputs' casts and the outputs' are 16-bit), the Relus are f32.
  size_t halfValues = 0;
  for (auto &n : m->main()->nodes())
    if (n->kind != OpKind::Placeholder && n->numResults() == 1 &&
        n->types[0].elem() == ElemKind::F16)
      ++halfValues;
  // %c1's and %c2's rounding casts (one f16 value each, read by the round
  // trip back to f32) and %c3's result (the graph output); the MaxPool's
  // result is f16-exact already and is not rounded again.
  std::ostringstream text2;
  printFunction(text2, *m->main());
  EXPECT_EQ(halfValues, 3u) << text2.str();
  auto groups = formGroups(*m->main(), hostConfig());
  ASSERT_TRUE(bool(groups)) << groups.status().message();
  size_t relusInConvs = 0;
  for (const Group &g : *groups)
    relusInConvs += g.kind == GroupKind::Conv && g.epi.act != 0;
  EXPECT_EQ(relusInConvs, 2u);
  // %c1's and %c2's round trips (their only readers) run in the
  // convolutions' epilogues: no loop group is left for them.
  size_t roundingConvs = 0;
  for (const Group &g : *groups)
    roundingConvs += g.kind == GroupKind::Conv && g.epi.roundF16;
  EXPECT_EQ(roundingConvs, 2u);
}

// The f16 round trip after a widened Conv or MatMul (its only reader) joins
// the kernel's epilogue (EMBER_RT_*_ROUND_F16): NCHW and depthwise
// convolutions, a GEMM, with the kernel library (1 and 2 threads) and the
// portable runtime. The sums are exact in f32 in any order and need rounding
// to f16 (multiples of 1/64 above 32, a few above 65504 that become inf):
// bit-identical to the interpreter only if each result is rounded once.
TEST(CpuHalf, RoundTripJoinsTheKernelEpilogue) {
  const std::string text =
      R"(func @main(%x: f16[1,8,10,10], %w1: f16[12,8,3,3], %w2: f16[12,1,3,3], %w3: f16[4,12,1,1], %a: f16[7,20], %b: f16[20,9], %b2: f16[7,5]) {
  %c1 = Conv(%x, %w1) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : f16[1,12,10,10]
  %p1 = MaxPool(%c1) {kernel_shape = [1, 1]} : f16[1,12,10,10]
  %c2 = Conv(%p1, %w2) {group = 12, kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : f16[1,12,10,10]
  %p2 = MaxPool(%c2) {kernel_shape = [1, 1]} : f16[1,12,10,10]
  %c3 = Conv(%p2, %w3) {kernel_shape = [1, 1]} : f16[1,4,10,10]
  %m = MatMul(%a, %b) : f16[7,9]
  %t = Transpose(%m) {perm = [1, 0]} : f16[9,7]
  %m2 = MatMul(%t, %b2) : f16[9,5]
  return %c3, %m2
}
)";
  auto ref = parseLowered(text), m = parseLowered(text);
  ASSERT_TRUE(ref && m);
  std::mt19937 rng(11);
  std::vector<Tensor> in;
  for (auto *p : ref->main()->params()) {
    Tensor t(p->types[0]);
    const std::string &name = p->outNames[0];
    bool data = name == "x" || name == "a";
    for (int64_t i = 0; i < t.size(); ++i) {
      int r = int(rng() % 15) - 7;
      t.setDouble(i, data ? double(int(rng() % 513) - 256) / 64.0
                     : name == "w3" || name == "b2" ? double(r % 2) / 16.0
                     : name == "w2"                 ? double(r * 8)
                                                    : double(r));
    }
    in.push_back(std::move(t));
  }
  auto want = interpret(*ref->main(), in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  CompileConfig two = hostConfig(), portable = hostConfig();
  two.numThreads = 2;
  portable.kernels = Kernels::Portable;
  expectIdentical(runCpu(*m->main(), hostConfig(), in), *want);
  expectIdentical(runCpu(*m->main(), two, in), *want);
  expectIdentical(runCpu(*m->main(), portable, in), *want);
  auto groups = formGroups(*m->main(), hostConfig());
  ASSERT_TRUE(bool(groups)) << groups.status().message();
  size_t rounding = 0;
  for (const Group &g : *groups) {
    rounding += (g.kind == GroupKind::Conv || g.kind == GroupKind::MatMul) &&
                g.epi.roundF16;
  }
  std::ostringstream text2;
  printFunction(text2, *m->main());
  EXPECT_EQ(rounding, 3u) << text2.str(); // %c1, %c2, %m
}

// An int8 layer's elementwise tail after its GEMM's Requantize (QuantizedAdd
// of a constant bias row, DequantizeLinear, a per-channel affine, Relu,
// QuantizeLinear: the QLinear form of MLPerf Tiny's FC autoencoder) becomes a
// per-channel table computed by the interpreter, and stays bit-exact with the
// interpreter: per column of a MatMulInteger (u8), and per channel of an NCHW
// i8 tensor with a per-axis DequantizeLinear (axis 1, moved by the table's
// leading dim). The 8-bit operand is a step's result (the GEMM's, a pool's):
// a loop that fuses its producer reads that producer's operand instead.
TEST(CpuInt8, ElementwiseTailBecomesAPerChannelTable) {
  std::mt19937 rng(13);
  std::vector<uint8_t> w(24 * 16), bias(16);
  for (auto &v : w)
    v = uint8_t(rng());
  for (auto &v : bias)
    v = uint8_t(rng());
  std::vector<int32_t> mult(16), shift(16);
  std::vector<float> mul(16), add(16), mul8(8), add8(8), dqs(8);
  std::vector<int8_t> bias8(8), dz8{-10, -3, 0, 4, -10, 7, -128, 20};
  for (size_t i = 0; i < 16; ++i) {
    mult[i] = int32_t(1073741824 + rng() % 1073741823);
    shift[i] = -int32_t(8 + rng() % 4);
    mul[i] = float(int(rng() % 200) - 40) / 64.0f;
    add[i] = float(int(rng() % 200) - 100) / 32.0f;
  }
  for (size_t i = 0; i < 8; ++i) {
    mul8[i] = float(int(rng() % 200) - 40) / 64.0f;
    add8[i] = float(int(rng() % 200) - 100) / 32.0f;
    dqs[i] = float(1 + rng() % 50) / 256.0f;
    bias8[i] = int8_t(rng());
  }
  const std::string qadd =
      "{a_multiplier = 1073741824, a_shift = 0, a_zero_point = 103, "
      "b_multiplier = 1610431691, b_shift = -1, b_zero_point = 127, "
      "left_shift = 20, to = 2, y_multiplier = 1074004409, y_shift = -18, "
      "y_zero_point = 100}";
  const std::string qadd8 =
      "{a_multiplier = 1073741824, a_shift = 0, a_zero_point = -3, "
      "b_multiplier = 1610431691, b_shift = -1, b_zero_point = 5, "
      "left_shift = 20, to = 3, y_multiplier = 1074004409, y_shift = -18, "
      "y_zero_point = -10}";
  std::string text =
      "func @main(%a: f32[37,24], %x: f32[2,8,6,6]) {\n"
      "  %aq = Cast(%a) {to = 2} : u8[37,24]\n"
      "  %w = Constant " +
      hexDense("u8", "24,16", w.data(), w.size()) +
      "\n"
      "  %az = Constant dense<u8[]: [3]>\n"
      "  %wz = Constant dense<u8[]: [128]>\n"
      "  %mm = MatMulInteger(%aq, %w, %az, %wz) : i32[37,16]\n"
      "  %m = Constant " +
      hexDense("i32", "16", mult.data(), 64) +
      "\n"
      "  %e = Constant " +
      hexDense("i32", "16", shift.data(), 64) +
      "\n"
      "  %yz = Constant dense<u8[]: [90]>\n"
      "  %r = Requantize(%mm, %m, %e, _, %yz) {axis = 1, to = 2} : u8[37,16]\n"
      "  %b = Constant " +
      hexDense("u8", "16", bias.data(), bias.size()) +
      "\n"
      "  %qa = QuantizedAdd(%r, %b) " +
      qadd +
      " : u8[37,16]\n"
      "  %s = Constant dense<f32[]: [0.0234375]>\n"
      "  %z = Constant dense<u8[]: [100]>\n"
      "  %d = DequantizeLinear(%qa, %s, %z) : f32[37,16]\n"
      "  %c = Constant " +
      hexDense("f32", "16", mul.data(), 64) +
      "\n"
      "  %c1 = Constant " +
      hexDense("f32", "16", add.data(), 64) +
      "\n"
      "  %mu = Mul(%d, %c) : f32[37,16]\n"
      "  %ad = Add(%mu, %c1) : f32[37,16]\n"
      "  %re = Relu(%ad) : f32[37,16]\n"
      "  %s2 = Constant dense<f32[]: [0.0137]>\n"
      "  %z2 = Constant dense<u8[]: [0]>\n"
      "  %q = QuantizeLinear(%re, %s2, %z2) : u8[37,16]\n"
      "  %xc = Cast(%x) {to = 3} : i8[2,8,6,6]\n"
      "  %xq = MaxPool(%xc) {kernel_shape = [2, 2]} : i8[2,8,5,5]\n"
      "  %b8 = Constant " +
      hexDense("i8", "8,1,1", bias8.data(), bias8.size()) +
      "\n"
      "  %qa8 = QuantizedAdd(%xq, %b8) " +
      qadd8 +
      " : i8[2,8,5,5]\n"
      "  %ds = Constant " +
      hexDense("f32", "8", dqs.data(), 32) +
      "\n"
      "  %dz = Constant " +
      hexDense("i8", "8", dz8.data(), dz8.size()) +
      "\n"
      "  %d8 = DequantizeLinear(%qa8, %ds, %dz) {axis = 1} : f32[2,8,5,5]\n"
      "  %k = Constant " +
      hexDense("f32", "8,1,1", mul8.data(), 32) +
      "\n"
      "  %k1 = Constant " +
      hexDense("f32", "8,1,1", add8.data(), 32) +
      "\n"
      "  %mu8 = Mul(%d8, %k) : f32[2,8,5,5]\n"
      "  %ad8 = Add(%mu8, %k1) : f32[2,8,5,5]\n"
      "  %re8 = Relu(%ad8) : f32[2,8,5,5]\n"
      "  %s3 = Constant dense<f32[]: [0.011]>\n"
      "  %z3 = Constant dense<i8[]: [-128]>\n"
      "  %q8 = QuantizeLinear(%re8, %s3, %z3) : i8[2,8,5,5]\n"
      "  return %q, %q8\n}\n";
  auto ref = parseLowered(text);
  ASSERT_TRUE(ref);
  FusionStats st;
  {
    auto groups = formGroups(*ref->main(), hostConfig());
    ASSERT_TRUE(bool(groups)) << groups.status().message();
    EXPECT_TRUE(tabulateChannelLoops(*groups, hostConfig(), &st).isOk());
    EXPECT_EQ(st.tabulatedLoops, 2u);
    for (const Group &g : *groups) {
      if (g.chanTable) {
        EXPECT_EQ(g.chanAxis, 1) << g.root->describe(); // columns; channels
        EXPECT_EQ(g.chanTable->size(),
                  (g.root->kind == OpKind::QuantizeLinear &&
                           g.root->types[0].dims().size() == 2
                       ? 16
                       : 8) *
                      256);
      }
    }
    CompileConfig off = hostConfig();
    off.fuse = false;
    FusionStats none;
    EXPECT_TRUE(tabulateChannelLoops(*groups, off, &none).isOk());
    EXPECT_EQ(none.tabulatedLoops, 0u);
  }
  const Function &f = *ref->main();
  for (int trial = 0; trial < 3; ++trial) {
    std::vector<Tensor> in;
    for (auto *p : f.params()) {
      Tensor v(p->types[0]);
      for (int64_t i = 0; i < v.size(); ++i)
        v.setDouble(
            i, double(int(rng() % 256) - (p->outNames[0] == "x" ? 128 : 0)));
      in.push_back(std::move(v));
    }
    auto want = interpret(f, in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    auto m = parseLowered(text);
    ASSERT_TRUE(m);
    CompileConfig two = hostConfig();
    two.numThreads = 2;
    expectIdentical(runCpu(*m->main(), hostConfig(), in), *want);
    expectIdentical(runCpu(*m->main(), two, in), *want);
  }
}

// A QDQ HardSwish's integer form (x minus its zero point, times a
// TableLookup of x, requantized: MobileNetV3's activations) is a function of
// x alone, so it becomes one table too (the lookup table is indexed by x,
// not broadcast): bit-exact with the interpreter, u8 and s8, on 1 and 2
// threads.
TEST(CpuInt8, TableLookupTimesItsOperandBecomesATable) {
  std::mt19937 rng(19);
  for (bool s8 : {false, true}) {
    std::vector<uint8_t> lut(256);
    for (auto &v : lut)
      v = uint8_t(rng());
    const std::string xt = s8 ? "i8" : "u8", dims = "1,16,9,9";
    const std::string text =
        "func @main(%x: " + xt + "[" + dims + "]) {\n  %t = Constant " +
        hexDense("u8", "256", lut.data(), lut.size()) +
        "\n"
        "  %tl = TableLookup(%x, %t) : u8[" +
        dims +
        "]\n"
        "  %xi = Cast(%x) {to = 6} : i32[" +
        dims +
        "]\n"
        "  %z = Constant dense<i32[]: [" +
        std::string(s8 ? "-7" : "121") +
        "]>\n"
        "  %xs = Sub(%xi, %z) : i32[" +
        dims +
        "]\n"
        "  %ti = Cast(%tl) {to = 6} : i32[" +
        dims +
        "]\n"
        "  %mu = Mul(%xs, %ti) : i32[" +
        dims +
        "]\n"
        "  %m = Constant dense<i32[]: [1811464492]>\n"
        "  %e = Constant dense<i32[]: [-7]>\n"
        "  %yz = Constant dense<" +
        xt + "[]: [" + std::string(s8 ? "-3" : "29") +
        "]>\n"
        "  %r = Requantize(%mu, %m, %e, _, %yz) {to = " +
        std::string(s8 ? "3" : "2") + "} : " + xt + "[" + dims +
        "]\n"
        "  return %r\n}\n";
    auto ref = parseLowered(text);
    ASSERT_TRUE(ref) << text;
    FusionStats st;
    auto groups = formGroups(*ref->main(), hostConfig());
    ASSERT_TRUE(bool(groups)) << groups.status().message();
    EXPECT_TRUE(tabulateChannelLoops(*groups, hostConfig(), &st).isOk());
    EXPECT_EQ(st.tabulatedLoops, 1u);
    Function &f = *ref->main();
    std::vector<Tensor> in;
    Tensor v(f.params()[0]->types[0]);
    for (int64_t i = 0; i < v.size(); ++i)
      v.setDouble(i, double(int(i % 256) - (s8 ? 128 : 0)));
    in.push_back(std::move(v));
    auto want = interpret(f, in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    CompileConfig two = hostConfig();
    two.numThreads = 2;
    expectIdentical(runCpu(f, hostConfig(), in), *want);
    expectIdentical(runCpu(f, two, in), *want);
  }
}

// QuantizeLinear from f32 into 8 or 16 bits and DequantizeLinear of 8- or
// 16-bit values with an f32 scale compute in f32 (LoopOps.cpp), not in
// double as the reference writes them: the same values (q + zp and the
// clamp are exact in f32, or past the same bound; the product of an integer
// of at most 17 bits and an f32 scale is exact in double, so rounding it to
// f32 is the f32 product) in twice the lanes. Bit-exact with the
// interpreter on ties, NaN, infinities, values past 2^24, subnormal and
// overflowing products; and no double left in the generated code.
TEST(CpuInt8, EightBitQuantizeAndDequantizeComputeInF32) {
  const std::string text =
      R"(func @main(%x: f32[4,64], %q: u8[4,64], %p: i8[4,64], %h: i16[4,64]) {
  %s = Constant dense<f32[]: [0.0137]>
  %z = Constant dense<u8[]: [3]>
  %a = QuantizeLinear(%x, %s, %z) : u8[4,64]
  %s1 = Constant dense<f32[]: [0.5]>
  %z1 = Constant dense<i8[]: [-7]>
  %b = QuantizeLinear(%x, %s1, %z1) : i8[4,64]
  %s2 = Constant dense<f32[]: [0.00390625]>
  %z2 = Constant dense<i16[]: [-300]>
  %c = QuantizeLinear(%x, %s2, %z2) : i16[4,64]
  %ds = Constant dense<f32[]: [3.0e-39]>
  %dz = Constant dense<u8[]: [128]>
  %d = DequantizeLinear(%q, %ds, %dz) : f32[4,64]
  %es = Constant dense<f32[4]: [2.0e38, 0.0234375, 1.0e-45, 7.1e-3]>
  %ez = Constant dense<i8[4]: [0, -128, 5, 127]>
  %e = DequantizeLinear(%p, %es, %ez) {axis = 0} : f32[4,64]
  %fs = Constant dense<f32[]: [1.7e-5]>
  %fz = Constant dense<i16[]: [-32768]>
  %f = DequantizeLinear(%h, %fs, %fz) : f32[4,64]
  return %a, %b, %c, %d, %e, %f
}
)";
  auto ref = parseLowered(text), m = parseLowered(text);
  ASSERT_TRUE(ref && m);
  std::mt19937 rng(21);
  const float special[] = {std::nanf(""),
                           INFINITY,
                           -INFINITY,
                           1e30f,
                           -1e30f,
                           16777216.0f * 0.5f,
                           -16777217.0f * 0.5f,
                           0.5f,
                           1.5f,
                           -2.5f,
                           0.0137f * 2.5f,
                           -0.0f,
                           3.4028235e38f};
  std::vector<Tensor> in;
  for (auto *p : ref->main()->params()) {
    Tensor t(p->types[0]);
    const bool x = p->outNames[0] == "x";
    for (int64_t i = 0; i < t.size(); ++i) {
      if (x)
        t.setDouble(i, i < 13 ? double(special[i])
                              : double(int(rng() % 4001) - 2000) / 64.0);
      else
        t.setInt(i, t.elem() == ElemKind::I16
                        ? int64_t(int(rng() % 65536)) - 32768
                    : t.elem() == ElemKind::I8 ? int64_t(rng() % 256) - 128
                                               : int64_t(rng() % 256));
    }
    in.push_back(std::move(t));
  }
  auto want = interpret(*ref->main(), in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  CompileConfig cfg = hostConfig();
  cfg.dumpIr = ::testing::TempDir() + "ember_q_dq_f32.ll";
  expectIdentical(runCpu(*m->main(), cfg, in), *want);
  std::ifstream f(cfg.dumpIr);
  std::stringstream ir;
  ir << f.rdbuf();
  ASSERT_FALSE(ir.str().empty());
  EXPECT_EQ(ir.str().find("double"), std::string::npos)
      << "a Quantize/DequantizeLinear loop still computes in double";
  std::remove(cfg.dumpIr.c_str());
}

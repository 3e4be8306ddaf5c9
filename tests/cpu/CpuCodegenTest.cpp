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
#include <llvm/Target/TargetMachine.h>

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
  std::vector<Tensor> in = randomInputs(*m->main(), rng);
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
  std::vector<Tensor> in = randomInputs(*m->main(), rng);
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
  std::vector<Tensor> in = randomInputs(*m->main(), rng);
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
    std::vector<Tensor> in = randomInputs(*f, rng);
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
  std::vector<Tensor> in = randomInputs(f, rng);
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

// ConvTranspose sums each tap over a group's channels in MLAS's K blocks
// (ONNX Runtime's order, the interpreter's): a fused multiply-add chain per
// block, the blocks added in order, the taps added from zero in (kh, kw)
// order, then the bias. The kernel library path, at 1 and 2 threads, and
// the portable runtime give the interpreter's bits: 200 channels over 256
// input pixels (blocks of 128 and 72) with overlapping taps and with
// disjoint 2x2/2 ones, reading a channels-last Relu (where the host has
// it) or a graph input, writing a graph output or a channels-last value
// (read by an exact identity 1x1 Conv), 400 channels in 2 groups of 200,
// 300 channels over 36 pixels (blocks of 256 and 44) and 600 over 16 (one
// block of 600, deeper than the library's K block). Each of these differed
// in the last bits before the library path blocked K as MLAS does.
TEST(CpuRuntime, ConvTransposeSumsInTheReferenceOrder) {
  std::mt19937 rng(3);
  DenseConstant dense{rng};
  // A 1x1 Conv with identity weights: exact, and channels-last on hosts
  // that have it, so the ConvTranspose before it writes channels-last.
  auto identity = [](int64_t c) {
    std::string hex = "0x";
    for (int64_t o = 0; o < c; ++o)
      for (int64_t i = 0; i < c; ++i)
        hex += o == i ? "0000803f" : "00000000";
    return "Constant dense<f32[" + std::to_string(c) + "," + std::to_string(c) +
           ",1,1]: " + hex + ">";
  };
  const std::string overlap =
      "{kernel_shape = [3, 3], strides = [2, 2], pads = [1, 1, 1, 1]";
  auto m = parseLowered(
      "func @main(%x: f32[1,200,16,16], %g: f32[1,400,16,16], "
      "%s: f32[1,300,6,6], %d: f32[1,600,4,4]) {\n"
      "  %w = " +
      dense("200,4,3,3", 200 * 4 * 9, 0.1f) + "\n" +
      "  %w2 = " + dense("200,16,2,2", 200 * 16 * 4, 0.1f) + "\n" +
      "  %wg = " + dense("400,2,3,3", 400 * 2 * 9, 0.1f) + "\n" +
      "  %ws = " + dense("300,4,3,3", 300 * 4 * 9, 0.1f) + "\n" +
      "  %wd = " + dense("600,4,3,3", 600 * 4 * 9, 0.1f) + "\n" +
      "  %b = " + dense("4", 4, 1.0f) + "\n" +
      "  %w16 = " + dense("200,16,3,3", 200 * 16 * 9, 0.1f) + "\n" +
      "  %b16 = " + dense("16", 16, 1.0f) + "\n" +
      "  %r = Relu(%x) : f32[1,200,16,16]\n"
      "  %t1 = ConvTranspose(%r, %w, %b) " +
      overlap +
      "} : f32[1,4,31,31]\n"
      "  %o1 = Relu(%t1) : f32[1,4,31,31]\n"
      "  %t2 = ConvTranspose(%r, %w2, %b16) {kernel_shape = [2, 2], strides "
      "= [2, 2]} : f32[1,16,32,32]\n"
      "  %o2 = Relu(%t2) : f32[1,16,32,32]\n"
      "  %t3 = ConvTranspose(%x, %w, %b) " +
      overlap +
      "} : f32[1,4,31,31]\n"
      "  %t4 = ConvTranspose(%g, %wg, %b) " +
      overlap +
      ", group = 2} : f32[1,4,31,31]\n"
      "  %t5 = ConvTranspose(%s, %ws, %b) " +
      overlap +
      "} : f32[1,4,11,11]\n"
      "  %t6 = ConvTranspose(%d, %wd, %b) " +
      overlap +
      "} : f32[1,4,7,7]\n"
      "  %e = " +
      identity(16) + "\n" +
      "  %p7 = Conv(%t2, %e) {kernel_shape = [1, 1]} : f32[1,16,32,32]\n"
      "  %t8 = ConvTranspose(%r, %w16, %b16) " +
      overlap +
      "} : f32[1,16,31,31]\n"
      "  %p8 = Conv(%t8, %e) {kernel_shape = [1, 1]} : f32[1,16,31,31]\n"
      "  return %o1, %o2, %t3, %t4, %t5, %t6, %p7, %p8\n}\n");
  ASSERT_TRUE(m);
  std::vector<Tensor> in = randomInputs(*m->main(), rng);
  auto want = interpret(*m->main(), in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  CompileConfig lib = hostConfig(), two = hostConfig(), portable = hostConfig();
  two.numThreads = 2;
  portable.kernels = Kernels::Portable;
  if (channelsLastHost()) {
    // x channels-last for t1 and t2, y channels-last for t2 and t8.
    auto cm = compileModel(*m->main(), lib);
    ASSERT_TRUE(bool(cm)) << cm.status().message();
    std::set<std::string> nhwc(cm->channelsLast.begin(),
                               cm->channelsLast.end());
    for (const char *v : {"r", "t2", "t8"})
      EXPECT_TRUE(nhwc.count(v)) << v << " is not channels-last";
  }
  const char *names[] = {"o1", "o2", "t3", "t4", "t5", "t6", "p7", "p8"};
  for (const CompileConfig *cfg : {&lib, &two, &portable}) {
    std::vector<Tensor> got = runCpu(*m->main(), *cfg, in);
    ASSERT_EQ(got.size(), want->size());
    for (size_t k = 0; k < got.size(); ++k)
      EXPECT_EQ(std::memcmp(got[k].raw(), (*want)[k].raw(),
                            size_t((*want)[k].type().sizeInBytes())),
                0)
          << names[k] << " differs from the interpreter ("
          << (cfg == &portable ? "portable"
              : cfg == &two    ? "2 threads"
                               : "library")
          << ")";
  }
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
  std::vector<Tensor> in = randomInputs(*m->main(), rng);
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
  std::vector<Tensor> in = randomInputs(*m->main(), rng);
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
  std::vector<Tensor> in = randomInputs(*m->main(), rng);
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
        // (%c2 reads %a channels-last; its Abs, the graph output, is its
        // post function, so %c2 itself is not stored.)
        for (const char *v : {"c1", "d", "a"})
          EXPECT_TRUE(nhwc.count(v)) << v << " not channels-last: " << list;
        // (On AVX2, 3 output channels run channels-last: %c3 reads %r3 so.
        // Its Tanh, the graph output, is its post function, so %c3 itself
        // is not stored, as %c2.)
        EXPECT_EQ(nhwc.count("r3") != 0, avx2ChannelsLastHost())
            << "r3 channels-last: " << list;
        EXPECT_EQ(nhwc.count("c3"), 0u) << "c3 stored: " << list;
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
    std::vector<Tensor> in = randomInputs(*m->main(), rng);
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

// The constant region holds a convolution's weights once, packed, not
// also as stored; a constant a loop reads as stored is there too
// (Memory.cpp: the planner does not place constants).
TEST(CpuRuntime, ConstantRegionHoldsPackedWeightsOnce) {
  const size_t wn = 64 * 64 * 9, kn = 64 * 8 * 8;
  auto m = parseLowered("func @main(%x: f32[1,64,8,8]) {\n"
                        "  %w = Constant dense<f32[64,64,3,3]: " +
                        filled(0.015625f, wn) +
                        ">\n"
                        "  %k = Constant dense<f32[1,64,8,8]: " +
                        filled(0.5f, kn) +
                        ">\n"
                        "  %c = Conv(%x, %w) {kernel_shape = [3, 3], pads = "
                        "[1, 1, 1, 1]} : f32[1,64,8,8]\n"
                        "  %y = Add(%c, %k) : f32[1,64,8,8]\n"
                        "  return %y\n}\n");
  ASSERT_TRUE(m);
  auto cm = compileModel(*m->main(), hostConfig());
  ASSERT_TRUE(bool(cm)) << cm.status().message();
  const size_t wBytes = wn * 4, kBytes = kn * 4;
  EXPECT_GE(cm->weights.size(), wBytes + kBytes);
  EXPECT_LT(cm->weights.size(), wBytes + wBytes / 2 + kBytes)
      << "the weights are stored as they are besides packed";
  std::mt19937 rng(3);
  std::vector<Tensor> in = randomInputs(*m->main(), rng);
  auto want = interpret(*m->main(), in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  CompileConfig two = hostConfig();
  two.numThreads = 2;
  expectClose(runCpu(*m->main(), hostConfig(), in), *want, 1e-4, 1e-5);
  expectClose(runCpu(*m->main(), two, in), *want, 1e-4, 1e-5);
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

// A kernel path forced below the host's best (isa=avx2 on an AVX-512 host)
// generates the JIT's own code for that path too: the host's AVX-512 (and
// AVX-VNNI, AMX) features are off in its target machine, so the model runs
// where the path's kernels do. The host's best path keeps every feature.
TEST(CpuJit, ForcedPathCapsTheTargetFeatures) {
  using ember::cpu::Isa;
  CompileConfig cfg = hostConfig();
  auto host = makeTargetMachine(cfg);
  ASSERT_TRUE(bool(host)) << host.status().message();
  const std::string hostFeatures = (*host)->getTargetFeatureString().str();
  if (!ember::cpu::isaSupported(Isa::Avx512))
    GTEST_SKIP() << "the host has no AVX-512 to leave out";
  EXPECT_NE(hostFeatures.find("+avx512f"), std::string::npos) << hostFeatures;
  for (Isa path : {Isa::Avx2, Isa::AvxVnni, Isa::Generic}) {
    cfg.isa = uint8_t(path);
    auto tm = makeTargetMachine(cfg);
    ASSERT_TRUE(bool(tm)) << tm.status().message();
    const std::string f = (*tm)->getTargetFeatureString().str();
    const std::string name = ember::cpu::isaName(path);
    EXPECT_EQ(f.find("+avx512"), std::string::npos) << name << ": " << f;
    EXPECT_EQ(f.find("+amx"), std::string::npos) << name << ": " << f;
    // (Features are comma-separated "+name" / "-name".)
    auto on = [&](const std::string &feature) {
      return ("," + f + ",").find(",+" + feature + ",") != std::string::npos;
    };
    EXPECT_EQ(on("avx2"), path != Isa::Generic) << name << ": " << f;
    EXPECT_EQ(on("fma"), path != Isa::Generic) << name << ": " << f;
    if (path == Isa::Avx2) {
      EXPECT_FALSE(on("avxvnni")) << f;
    }
  }
}

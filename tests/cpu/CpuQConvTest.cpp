// The int8 convolution paths of the CPU backend's runtime (RtKernels.cpp)
// that a model's layout or size selects: each test runs a QDQ graph
// bit-exactly against the interpreter (docs/quantization.md) on 1 and 2
// threads, and checks from the compiled parameter blocks that the path it
// is about is the one taken.
#include "compiler/Compiler.h"
#include "ember/cpu/Kernels.h"
#include "interp/Interpreter.h"
#include "runtime/RtAbi.h"
#include "runtime/RtTranspose.h"
#include <gtest/gtest.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/Module.h>
#include <random>
#include <string>
#include <vector>

#include "CpuTestUtil.h"

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

namespace {

// The parameter blocks of the compiled int8 convolution steps.
std::vector<std::vector<int64_t>> qconvParams(const CompiledModel &cm) {
  std::vector<std::vector<int64_t>> out;
  for (const llvm::GlobalVariable &g : cm.module->globals()) {
    if (!g.getName().starts_with("params.") || !g.hasInitializer())
      continue;
    const auto *a = llvm::dyn_cast<llvm::ConstantDataArray>(g.getInitializer());
    if (!a || !a->getElementType()->isIntegerTy(64) ||
        a->getNumElements() != EMBER_RT_QCONV_NUM_FIELDS)
      continue;
    std::vector<int64_t> p;
    for (unsigned i = 0; i < a->getNumElements(); ++i)
      p.push_back(int64_t(a->getElementAsInteger(i)));
    out.push_back(std::move(p));
  }
  return out;
}

// Runs f on random inputs on 1 and 2 threads against the interpreter.
void expectBitExact(const std::string &text, std::mt19937 &rng) {
  auto m = parseLowered(text);
  ASSERT_TRUE(m);
  Function &f = *m->main();
  for (int trial = 0; trial < 2; ++trial) {
    std::vector<Tensor> in = randomInputs(f, rng);
    auto want = interpret(f, in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    CompileConfig two = hostConfig();
    two.numThreads = 2;
    expectIdentical(runCpu(f, hostConfig(), in), *want);
    expectIdentical(runCpu(f, two, in), *want);
  }
}

} // namespace

// ShuffleNet's unit: a grouped 1x1 convolution, the channel shuffle
// (Reshape, Transpose, Reshape), a depthwise 3x3 (stride 1 and 2) whose
// result a 1x1 convolution reads channels-last. The shuffle's views keep
// the channels-last bytes ([N][H][W][A][B] on the 5-D side), so the
// depthwise convolution reads its input channels-last in place. With H and
// W flattened into one dim the views are no channel split, the shuffle
// stays row-major, and the depthwise convolution reads a channels-last
// copy of it made at run time
// (RtKernels.cpp, xCopyBytes): on AVX2 and AVX-512 the channels-last
// kernels either way (and on VNNI hosts the 4-tap pack), bit-exactly.
TEST(CpuInt8, DepthwiseAfterAChannelShuffleReadsAChannelsLastCopy) {
  for (int64_t variant = 0; variant < 4; ++variant) {
    const int64_t stride = 1 + variant % 2;
    const bool flat = variant >= 2; // H and W flattened in the shuffle
    std::mt19937 rng(unsigned(21 + stride));
    const int64_t c = 80, g = 4, hw = 12, ohw = (hw - 1) / stride + 1;
    QdqText q{rng, "", 0};
    std::vector<int64_t> in{1, 16, hw, hw}, act{1, c, hw, hw},
        out{1, c, ohw, ohw};
    q.t = "func @main(%x: f32[" + dimsText(in) + "]) {\n";
    std::string x = q.qdq("%x", dimsText(in), 0.02f, 120);
    std::string c1 = q.conv(x, 0.02f, {c, 16 / g, 1, 1}, g, 1, act);
    std::string d1 = q.qdq(c1, dimsText(act), 0.03f, 100);
    // The split dims: [1, G, C/G, H, W], or with H and W flattened into
    // one dim (a form some exporters write; its views are not a channel
    // split of the channels-last bytes, so the shuffle stays row-major).
    const std::vector<int64_t> split =
        flat ? std::vector<int64_t>{1, g, c / g, hw * hw}
             : std::vector<int64_t>{1, g, c / g, hw, hw};
    const std::vector<int64_t> swapped =
        flat ? std::vector<int64_t>{1, c / g, g, hw * hw}
             : std::vector<int64_t>{1, c / g, g, hw, hw};
    q.t += "  %s5 = Constant dense<i64[" + std::to_string(split.size()) +
           "]: [" + dimsText(split) + "]>\n";
    // Each view between a Q and a DQ of the same parameters, as ORT writes
    // it (the integer lowering keeps them 8-bit views).
    q.t += "  %r5 = Reshape(" + d1 + ", %s5) : f32[" + dimsText(split) + "]\n";
    std::string d5 = q.qdq("%r5", dimsText(split), 0.03f, 100);
    q.t += "  %tr = Transpose(" + d5 + ") {perm = [" +
           (flat ? "0, 2, 1, 3" : "0, 2, 1, 3, 4") + "]} : f32[" +
           dimsText(swapped) + "]\n";
    std::string dt = q.qdq("%tr", dimsText(swapped), 0.03f, 100);
    q.t += "  %s4 = Constant dense<i64[4]: [" + dimsText(act) + "]>\n";
    q.t += "  %sh = Reshape(" + dt + ", %s4) : f32[" + dimsText(act) + "]\n";
    std::string d2 = q.qdq("%sh", dimsText(act), 0.03f, 100);
    std::string c2 = q.conv(d2, 0.03f, {c, 1, 3, 3}, c, stride, out);
    std::string d3 = q.qdq(c2, dimsText(out), 0.04f, 128);
    std::string c3 = q.conv(d3, 0.04f, {c, c, 1, 1}, 1, 1, out);
    std::string d4 = q.qdq(c3, dimsText(out), 0.05f, 128);
    q.t += "  return " + d4 + "\n}\n";

    auto m = parseLowered(q.t);
    ASSERT_TRUE(m);
    auto cm = compileModel(*m->main(), hostConfig());
    ASSERT_TRUE(bool(cm)) << cm.status().message();
    size_t depthwise = 0;
    for (const auto &p : qconvParams(*cm)) {
      if (!p[EMBER_RT_CONV_DEPTHWISE])
        continue;
      ++depthwise;
      EXPECT_EQ(p[EMBER_RT_QCONV_IN_NHWC], flat ? 0 : 1)
          << (flat ? "a flattened shuffle is row-major"
                   : "the shuffle is not channels-last");
      EXPECT_EQ(p[EMBER_RT_QCONV_OUT_NHWC], 1);
      uint8_t isa = uint8_t(
          ember::cpu::resolveIsa(ember::cpu::Isa(p[EMBER_RT_CONV_ISA])));
      if (!ember::cpu::isaHasAvx2(ember::cpu::Isa(isa)))
        continue;
      // The copy at the workspace's front (a row-major input only), and
      // the VNNI pack kept.
      if (flat)
        EXPECT_GE(ember_rt_qconv_workspace_size(p.data()), c * hw * hw)
            << "no channels-last copy of the row-major input";
      else
        EXPECT_LT(ember_rt_qconv_workspace_size(p.data()), c * hw * hw)
            << "a copy of an input already channels-last";
      if (isa == uint8_t(ember::cpu::Isa::Avx512Vnni)) {
        EXPECT_NE(p[EMBER_RT_QCONV_DW_VNNI], 0);
      }
    }
    EXPECT_EQ(depthwise, 1u);
    expectBitExact(q.t, rng);
  }
}

// Convolutions whose input or result stays row-major (here behind views
// that are no channel split, as a model's int8 input or output is): a
// dense convolution (6 channels, padded to 8 on the implicit path; one
// group or two) reads a channels-last copy of its row-major input made at
// run time (X_COPY; its weights packed for it), and a depthwise one on
// AVX2 or AVX-512 writes a channels-last copy of its row-major result,
// transposed into it at the end (RtKernels.cpp, xCopyBytes, yCopyBytes):
// the row-major forms read one byte per channel per tap, an H*W stride
// apart (a lone depthwise layer ran 10 times slower). Bit-exact on 1 and 2
// threads.
TEST(CpuInt8, RowMajorInputsAndResultsRunOnChannelsLastCopies) {
  for (int64_t variant = 0; variant < 4; ++variant) {
    const int64_t stride = 1 + variant % 2, groups = 1 + variant / 2;
    std::mt19937 rng(unsigned(31 + variant));
    const int64_t cin = 6, c = 24, hw = 11, ohw = (hw - 1) / stride + 1;
    QdqText q{rng, "", 0};
    std::vector<int64_t> in{1, cin, hw, hw}, act{1, c, hw, hw},
        out{1, c, ohw, ohw}, flatOut{1, c, ohw * ohw};
    q.t = "func @main(%x: f32[" + dimsText(in) + "]) {\n";
    std::string x = q.qdq("%x", dimsText(in), 0.02f, 120);
    // A channel shuffle over H*W flattened ([1, 2, 3, H*W], as some
    // exporters write it): no channel split, so x stays row-major.
    const std::vector<int64_t> split{1, 2, cin / 2, hw * hw},
        swapped{1, cin / 2, 2, hw * hw};
    q.t += "  %k4 = Constant dense<i64[4]: [" + dimsText(split) + "]>\n";
    q.t += "  %f4 = Reshape(" + x + ", %k4) : f32[" + dimsText(split) + "]\n";
    std::string d3 = q.qdq("%f4", dimsText(split), 0.02f, 120);
    q.t += "  %tr = Transpose(" + d3 + ") {perm = [0, 2, 1, 3]} : f32[" +
           dimsText(swapped) + "]\n";
    std::string dt = q.qdq("%tr", dimsText(swapped), 0.02f, 120);
    q.t += "  %k3 = Constant dense<i64[4]: [" + dimsText(in) + "]>\n";
    q.t += "  %f3 = Reshape(" + dt + ", %k3) : f32[" + dimsText(in) + "]\n";
    std::string d4 = q.qdq("%f3", dimsText(in), 0.02f, 120);
    std::string c1 = q.conv(d4, 0.02f, {c, cin / groups, 3, 3}, groups, 1, act);
    std::string d5 = q.qdq(c1, dimsText(act), 0.03f, 100);
    std::string c2 = q.conv(d5, 0.03f, {c, 1, 3, 3}, c, stride, out);
    std::string d6 = q.qdq(c2, dimsText(out), 0.04f, 128);
    // The result flattened: the depthwise convolution's result row-major.
    q.t += "  %k5 = Constant dense<i64[3]: [" + dimsText(flatOut) + "]>\n";
    q.t +=
        "  %f5 = Reshape(" + d6 + ", %k5) : f32[" + dimsText(flatOut) + "]\n";
    std::string d7 = q.qdq("%f5", dimsText(flatOut), 0.04f, 128);
    q.t += "  return " + d7 + "\n}\n";

    auto m = parseLowered(q.t);
    ASSERT_TRUE(m);
    auto cm = compileModel(*m->main(), hostConfig());
    ASSERT_TRUE(bool(cm)) << cm.status().message();
    size_t dense = 0, depthwise = 0;
    for (const auto &p : qconvParams(*cm)) {
      uint8_t isa = uint8_t(
          ember::cpu::resolveIsa(ember::cpu::Isa(p[EMBER_RT_CONV_ISA])));
      const int64_t ws = ember_rt_qconv_workspace_size(p.data());
      if (p[EMBER_RT_CONV_DEPTHWISE]) {
        ++depthwise;
        EXPECT_EQ(p[EMBER_RT_QCONV_IN_NHWC], 1);
        EXPECT_EQ(p[EMBER_RT_QCONV_OUT_NHWC], 0)
            << "the flattened result is not row-major";
        if (ember::cpu::isaHasAvx2(ember::cpu::Isa(isa))) {
          EXPECT_GE(ws, c * ohw * ohw) << "no channels-last result copy";
        }
        continue;
      }
      ++dense;
      EXPECT_EQ(p[EMBER_RT_QCONV_IN_NHWC], 0)
          << "the views do not keep x row-major";
      EXPECT_EQ(p[EMBER_RT_QCONV_X_COPY], 1);
      EXPECT_EQ(p[EMBER_RT_QCONV_OUT_NHWC], 1);
      EXPECT_GE(ws, cin * hw * hw) << "no channels-last copy of x";
    }
    EXPECT_EQ(dense, 1u);
    EXPECT_EQ(depthwise, 1u);
    expectBitExact(q.t, rng);
  }
}

// Depthwise convolutions of every common size in a chain, channels-last
// in and out: 3x3 at stride 1 and 2, 5x5 at stride 2, 7x7 at stride 1,
// on 72 channels (four whole 16-channel blocks and an overlapping fifth)
// and maps of 13x13 to 4x4 (mostly border pixels; at 2 threads, odd row
// counts, which split the channels into pieces too). On AVX2 hosts they
// run the AVX2 channels-last kernels (qdepthwiseRowAvx2Nhwc, and the
// sliding 3x3 one), on AVX-512 the AVX-512 ones; bit-exact on 1 and 2
// threads either way.
TEST(CpuInt8, DepthwiseConvolutionsOfEverySizeRunChannelsLast) {
  std::mt19937 rng(47);
  const int64_t c = 72;
  QdqText q{rng, "", 0};
  std::vector<int64_t> in{1, 16, 13, 13}, a{1, c, 13, 13}, b{1, c, 7, 7},
      d{1, c, 4, 4};
  q.t = "func @main(%x: f32[" + dimsText(in) + "]) {\n";
  std::string x = q.qdq("%x", dimsText(in), 0.02f, 120);
  std::string c1 = q.conv(x, 0.02f, {c, 16, 1, 1}, 1, 1, a);
  std::string d1 = q.qdq(c1, dimsText(a), 0.03f, 100);
  std::string c2 = q.conv(d1, 0.03f, {c, 1, 3, 3}, c, 1, a);
  std::string d2 = q.qdq(c2, dimsText(a), 0.03f, 90);
  std::string c3 = q.conv(d2, 0.03f, {c, 1, 5, 5}, c, 2, b);
  std::string d3 = q.qdq(c3, dimsText(b), 0.04f, 110);
  std::string c4 = q.conv(d3, 0.04f, {c, 1, 7, 7}, c, 1, b);
  std::string d4 = q.qdq(c4, dimsText(b), 0.04f, 128);
  std::string c5 = q.conv(d4, 0.04f, {c, 1, 3, 3}, c, 2, d);
  std::string d5 = q.qdq(c5, dimsText(d), 0.05f, 128);
  std::string c6 = q.conv(d5, 0.05f, {c, c, 1, 1}, 1, 1, d);
  std::string d6 = q.qdq(c6, dimsText(d), 0.05f, 128);
  q.t += "  return " + d6 + "\n}\n";

  auto m = parseLowered(q.t);
  ASSERT_TRUE(m);
  auto cm = compileModel(*m->main(), hostConfig());
  ASSERT_TRUE(bool(cm)) << cm.status().message();
  size_t depthwise = 0;
  for (const auto &p : qconvParams(*cm)) {
    if (!p[EMBER_RT_CONV_DEPTHWISE])
      continue;
    ++depthwise;
    // Channels-last both ways: the AVX2 / AVX-512 kernels' case.
    EXPECT_EQ(p[EMBER_RT_QCONV_IN_NHWC], 1);
    EXPECT_EQ(p[EMBER_RT_QCONV_OUT_NHWC], 1);
  }
  EXPECT_EQ(depthwise, 4u);
  expectBitExact(q.t, rng);
}

// 8-bit max pools (the integer form of a QDQ MaxPool, as ShuffleNet's
// after its first layer) take byte maxima in their unchecked windows
// (CodegenPool.cpp): channels-last between two int8 convolutions (24
// channels: a vector and a half), and row-major before a graph output, at
// strides 1 and 2 with pads; bit-exact on 1 and 2 threads.
TEST(CpuInt8, MaxPoolsTakeByteMaxima) {
  std::mt19937 rng(61);
  for (int64_t stride : {1, 2}) {
    QdqText q{rng, "", 0};
    const int64_t c = 24, hw = 17, ohw = (hw + 2 - 3) / stride + 1;
    std::vector<int64_t> in{1, 16, hw, hw}, a{1, c, hw, hw}, p{1, c, ohw, ohw};
    q.t = "func @main(%x: f32[" + dimsText(in) + "]) {\n";
    std::string x = q.qdq("%x", dimsText(in), 0.02f, 120);
    std::string c1 = q.conv(x, 0.02f, {c, 16, 1, 1}, 1, 1, a);
    std::string d1 = q.qdq(c1, dimsText(a), 0.03f, 100);
    std::string s = std::to_string(stride);
    q.t += "  %mp = MaxPool(" + d1 +
           ") {kernel_shape = [3, 3], pads = [1, 1, 1, 1], strides = [" + s +
           ", " + s + "]} : f32[" + dimsText(p) + "]\n";
    std::string d2 = q.qdq("%mp", dimsText(p), 0.03f, 100);
    std::string c2 = q.conv(d2, 0.03f, {c, c, 1, 1}, 1, 1, p);
    std::string d3 = q.qdq(c2, dimsText(p), 0.04f, 128);
    q.t += "  %mq = MaxPool(" + d3 +
           ") {kernel_shape = [2, 2], strides = [1, 1]} : f32[" +
           dimsText({1, c, ohw - 1, ohw - 1}) + "]\n";
    std::string d4 =
        q.qdq("%mq", dimsText({1, c, ohw - 1, ohw - 1}), 0.04f, 128);
    q.t += "  return " + d4 + "\n}\n";
    expectBitExact(q.t, rng);
  }
}

// The runtime's byte transpose (RtTranspose.cpp: a depthwise step's
// channels-last copy, a channels-first int8 result) against the
// definition: 16x16 blocks and their scalar edges, with padded strides.
TEST(CpuRuntime, ByteTransposesMatchTheDefinition) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    size_t rows = 1 + rng() % 70, cols = 1 + rng() % 100;
    size_t lds = cols + rng() % 5, ldd = rows + rng() % 5;
    std::vector<uint8_t> src(rows * lds), want(cols * ldd, 0xCD);
    for (auto &v : src)
      v = uint8_t(rng());
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c)
        want[c * ldd + r] = src[r * lds + c];
    std::vector<uint8_t> got(cols * ldd, 0xCD);
    transposeBytes(src.data(), lds, got.data(), ldd, rows, cols);
    ASSERT_EQ(got, want) << rows << "x" << cols;
  }
}

// How a GEMM-form int8 convolution is split over 2 workers
// (ember_rt_qconv_split): at least 4 pieces a worker, so one slowed by a
// core it shares hands its tail to the other; pixel chunks dealt evenly;
// and on the implicit-GEMM path a layer whose weights outweigh its input
// (as VGG's 14x14 and 28x28 ones) cut over output-channel panels first.
// Both layers run bit-exactly on 1 and 2 threads.
TEST(CpuInt8, ConvolutionsSplitIntoSeveralPiecesAWorker) {
  std::mt19937 rng(31);
  QdqText q{rng, "", 0};
  // a: 128 -> 192 channels on 6x6 (weights 221 KB, input 4.6 KB);
  // b: 16 -> 64 on 28x28 (weights 9 KB, input 12.5 KB).
  std::vector<int64_t> ina{1, 128, 6, 6}, outa{1, 192, 6, 6},
      inb{1, 16, 28, 28}, outb{1, 64, 28, 28};
  q.t = "func @main(%x: f32[" + dimsText(ina) + "], %y: f32[" + dimsText(inb) +
        "]) {\n";
  std::string xa = q.qdq("%x", dimsText(ina), 0.02f, 120);
  std::string ca = q.conv(xa, 0.02f, {192, 128, 3, 3}, 1, 1, outa);
  std::string da = q.qdq(ca, dimsText(outa), 0.05f, 128);
  std::string xb = q.qdq("%y", dimsText(inb), 0.02f, 120);
  std::string cb = q.conv(xb, 0.02f, {64, 16, 3, 3}, 1, 1, outb);
  std::string db = q.qdq(cb, dimsText(outb), 0.05f, 128);
  q.t += "  return " + da + ", " + db + "\n}\n";

  auto m = parseLowered(q.t);
  ASSERT_TRUE(m);
  CompileConfig two = hostConfig();
  two.numThreads = 2;
  auto cm = compileModel(*m->main(), two);
  ASSERT_TRUE(bool(cm)) << cm.status().message();
  auto params = qconvParams(*cm);
  ASSERT_EQ(params.size(), 2u);
  for (const auto &p : params) {
    // Packed weights of this shape (the split reads only their header).
    size_t C = size_t(p[EMBER_RT_CONV_C]), OC = size_t(p[EMBER_RT_CONV_OC]);
    size_t K = 9 * ((C + 3) / 4 * 4);
    auto isa = ember::cpu::Isa(p[EMBER_RT_CONV_ISA]);
    std::vector<int8_t> b(K * OC, 1), bz(OC, 0);
    std::vector<char> packed(ember::cpu::packedQBSize(K, OC, isa));
    ASSERT_EQ(ember::cpu::packQB(K, OC, b.data(), OC, 120, bz.data(), OC,
                                 nullptr, packed.data(), isa),
              ember::cpu::Status::Ok);
    int64_t chunk = 0, cols = 0;
    ember_rt_qconv_split(p.data(), packed.data(), 2, &chunk, &cols);
    int64_t P = p[EMBER_RT_CONV_OH] * p[EMBER_RT_CONV_OW];
    int64_t chunks = (P + chunk - 1) / chunk;
    ASSERT_GT(chunk, 0);
    EXPECT_GE(chunks * cols, 8)
        << "C=" << C << ": fewer than 4 pieces a worker";
    EXPECT_GE(P - (chunks - 1) * chunk, chunk / 2)
        << "C=" << C << ": an uneven last chunk of " << chunk << "-pixel ones";
    bool implicit = ember::cpu::qconv2dNhwcAvailable(isa, false);
    if (C == 128) {
      EXPECT_EQ(cols, implicit ? 3 : 1) << "weights outweigh the input";
    } else {
      EXPECT_EQ(cols, 1) << "the input outweighs the weights";
    }
  }
  expectBitExact(q.t, rng);
}

// On a host whose int8 path has vector kernels (AVX2 and up), every int8
// GEMM step's weights are packed for them, and every dense convolution over
// a channels-last input takes the implicit-GEMM kernel (qconv2dNhwc, no
// im2row): a 3-channel first layer (padded to 4 channels), a strided 3x3, a
// 1x1, a ConvInteger with u8 weights and per-channel zero points (AVX2
// folds them into its s16 weights; VNNI unfolds such a layer) and a Gemm,
// all bit-exact with the interpreter on 1 and 2 threads.
TEST(CpuInt8, GemmStepsRunTheHostsVectorKernels) {
  std::mt19937 rng(41);
  QdqText q{rng, "", 0};
  std::vector<int64_t> in{1, 3, 20, 20}, a1{1, 24, 20, 20}, a2{1, 40, 10, 10};
  q.t = "func @main(%x: f32[" + dimsText(in) + "], %x2: f32[1,20,9,9]) {\n";
  std::string x = q.qdq("%x", dimsText(in), 0.02f, 120);
  std::string c1 = q.conv(x, 0.02f, {24, 3, 3, 3}, 1, 1, a1);
  std::string d1 = q.qdq(c1, dimsText(a1), 0.03f, 100);
  std::string c2 = q.conv(d1, 0.03f, {40, 24, 3, 3}, 1, 2, a2);
  std::string d2 = q.qdq(c2, dimsText(a2), 0.04f, 128);
  std::string c3 = q.conv(d2, 0.04f, {40, 40, 1, 1}, 1, 1, a2);
  std::string d3 = q.qdq(c3, dimsText(a2), 0.05f, 110);
  q.t += "  %g = GlobalAveragePool(" + d3 + ") : f32[1,40,1,1]\n";
  std::string dg = q.qdq("%g", "1,40,1,1", 0.05f, 110);
  q.t += "  %fl = Flatten(" + dg + ") {axis = 1} : f32[1,40]\n";
  std::string bg, wg = q.weights({10, 40}, 0.05f, 0.01f, bg);
  std::string df = q.qdq("%fl", "1,40", 0.05f, 110);
  q.t += "  %gm = Gemm(" + df + ", " + wg + ", " + bg +
         ") {transB = 1} : f32[1,10]\n";
  std::string dy = q.qdq("%gm", "1,10", 0.01f, 128);
  std::vector<uint8_t> w(24 * 20 * 3 * 3), wz(24);
  for (auto &v : w)
    v = uint8_t(rng());
  for (auto &v : wz)
    v = uint8_t(100 + rng() % 56);
  q.t += "  %xq = Cast(%x2) {to = 2} : u8[1,20,9,9]\n";
  q.cst("%wu", hexDense("u8", "24,20,3,3", w.data(), w.size()));
  q.cst("%wuz", hexDense("u8", "24", wz.data(), wz.size()));
  q.t += "  %xz = Constant dense<u8[]: [7]>\n"
         "  %ci = ConvInteger(%xq, %wu, %xz, %wuz) {kernel_shape = [3, 3], "
         "pads = [1, 1, 1, 1]} : i32[1,24,9,9]\n";
  q.t += "  return " + dy + ", %ci\n}\n";

  auto m = parseLowered(q.t);
  ASSERT_TRUE(m);
  auto cm = compileModel(*m->main(), hostConfig());
  ASSERT_TRUE(bool(cm)) << cm.status().message();
  const auto isa = ember::cpu::Isa(hostConfig().isa);
  if (ember::cpu::qconv2dNhwcAvailable(isa, true)) {
    // The weights of each step, found by their packed headers (64-byte
    // aligned in the constant region).
    const std::string &wts = cm->weights;
    size_t native = 0, steps = 0, implicit = 0, nhwc = 0;
    for (size_t o = 0; o + 64 <= wts.size(); o += 64)
      native += ember::cpu::qgemmPackedNative(wts.data() + o, isa);
    for (const auto &p : qconvParams(*cm)) {
      ASSERT_EQ(p[EMBER_RT_CONV_DEPTHWISE], 0);
      ++steps;
      if (!p[EMBER_RT_QCONV_IN_NHWC])
        continue;
      ++nhwc;
      ember::cpu::Conv2DShape s;
      s.channels = size_t(p[EMBER_RT_CONV_C]);
      s.height = size_t(p[EMBER_RT_CONV_H]);
      s.width = size_t(p[EMBER_RT_CONV_W]);
      s.outChannels = size_t(p[EMBER_RT_CONV_OC]);
      s.kernelH = size_t(p[EMBER_RT_CONV_KH]);
      s.kernelW = size_t(p[EMBER_RT_CONV_KW]);
      s.strideH = size_t(p[EMBER_RT_CONV_SH]);
      s.strideW = size_t(p[EMBER_RT_CONV_SW]);
      s.padTop = size_t(p[EMBER_RT_CONV_PT]);
      s.padLeft = size_t(p[EMBER_RT_CONV_PL]);
      s.padBottom = size_t(p[EMBER_RT_CONV_PB]);
      s.padRight = size_t(p[EMBER_RT_CONV_PR]);
      bool found = false;
      for (size_t o = 0; o + 64 <= wts.size() && !found; o += 64)
        found = ember::cpu::qconv2dNhwcSupported(s, wts.data() + o, isa);
      implicit += found;
      EXPECT_TRUE(found) << s.channels << " -> " << s.outChannels << " "
                         << s.kernelH << "x" << s.kernelW
                         << ": not on the implicit-GEMM kernel";
    }
    EXPECT_EQ(steps, 4u);
    EXPECT_EQ(nhwc, 4u) << "every convolution reads a channels-last input";
    EXPECT_EQ(implicit, 4u);
    EXPECT_EQ(native, 5u) << "four convolutions and the Gemm";
  }
  expectBitExact(q.t, rng);
}

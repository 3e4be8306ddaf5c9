// Unit tests of the CPU backend's narrow types: Ember's int8 integer forms
// (docs/quantization.md) and f16/bf16 activations, each checked bit-exactly
// against the interpreter. Split from CpuCodegenTest.cpp.

#include "compiler/Compiler.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"
#include "passes/Pass.h"
#include "support/File.h"

#include "ember/quant/Arith.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

#include "CpuTestUtil.h"

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

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
// the implicit-GEMM and VNNI depthwise kernels on AVX-512 VNNI hosts), in
// both requantization profiles (docs/quantization.md).
TEST(CpuInt8, QdqNetworkIsBitExactWithTheInterpreter) {
  for (auto profile :
       {quant::RequantProfile::Fixed, quant::RequantProfile::Float32})
    for (int64_t c : {16, 64}) {
      SCOPED_TRACE(quant::profileName(profile));
      std::mt19937 rng(unsigned(7 + c));
      auto m = parseLowered(int8Network(rng, c, 12), profile);
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
        std::vector<Tensor> in = randomInputs(f, rng);
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

// The same through ops that only move elements (Ops.def's P_Rearrange): a
// channel Gather and a Tile between two widened convolutions keep the f32
// values, and the result is rounded where the reference rounds it.
TEST(CpuHalf, RearrangedActivationsBetweenWidenedConvsStayF32) {
  const std::string text =
      R"(func @main(%x: f16[1,16,8,8], %w1: f16[16,16,1,1], %w2: f16[8,16,1,1]) {
  %i = Constant dense<i64[16]: [3, 1, 4, 1, 5, 9, 2, 6, 15, 14, 13, 12, 11, 10, 8, 7]>
  %reps = Constant dense<i64[4]: [1, 1, 1, 2]>
  %c1 = Conv(%x, %w1) {kernel_shape = [1, 1]} : f16[1,16,8,8]
  %g = Gather(%c1, %i) {axis = 1} : f16[1,16,8,8]
  %t = Tile(%g, %reps) : f16[1,16,8,16]
  %c2 = Conv(%t, %w2) {kernel_shape = [1, 1]} : f16[1,8,8,16]
  return %c2
}
)";
  auto ref = parseLowered(text), m = parseLowered(text);
  ASSERT_TRUE(ref && m);
  std::mt19937 rng(7);
  std::vector<Tensor> in;
  for (auto *p : ref->main()->params()) {
    Tensor t(p->types[0]);
    bool data = p->outNames[0] == "x";
    bool last = p->outNames[0] == "w2";
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
  expectIdentical(runCpu(*m->main(), hostConfig(), in), *want);
  expectIdentical(runCpu(*m->main(), two, in), *want);
  // %c1's rounding cast (read by the round trip back to f32) and %c2's
  // result: the Gather and the Tile are f32.
  size_t halfValues = 0;
  for (auto &n : m->main()->nodes())
    if (n->kind != OpKind::Placeholder && n->numResults() == 1 &&
        n->types[0].elem() == ElemKind::F16)
      ++halfValues;
  std::ostringstream text2;
  printFunction(text2, *m->main());
  EXPECT_EQ(halfValues, 2u) << text2.str();
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
// Lowered in the float32 profile, which keeps a per-channel affine's float
// steps (the fixed profile writes the depthwise form: docs/quantization.md,
// "Per-channel affine").
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
  auto ref = parseLowered(text, quant::RequantProfile::Float32);
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
    auto m = parseLowered(text, quant::RequantProfile::Float32);
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
  auto ir = readFileBytes(cfg.dumpIr);
  ASSERT_TRUE(bool(ir)) << ir.status().message();
  ASSERT_FALSE(ir->empty());
  EXPECT_EQ(ir->find("double"), std::string::npos)
      << "a Quantize/DequantizeLinear loop still computes in double";
  std::remove(cfg.dumpIr.c_str());
}

// QuantizedSoftmax (an Emit row, ops/QuantizedSoftmax.cpp) gives the
// interpreter's bits (quant::softmaxLine) for u8 and i8, over the last and
// a middle axis, on lines of 1 to 1000 elements, with ONNX Runtime's output
// parameters and others: a zero point that saturates (u8 5), one whose
// int8 sum wraps (i8 0), an output multiplier the table overflows (100 on
// a line of one), at 1 and 2 threads; the values span the whole 8-bit range
// and repeat the maximum.
TEST(CpuInt8, QuantizedSoftmaxMatchesInterpreterBitForBit) {
  struct Case {
    ElemKind k;
    Dims dims;
    int64_t axis;
    float xScale, yScale;
    int64_t zp;
  };
  const Case cases[] = {
      {ElemKind::U8, {3, 1000}, 1, 0.1f, 1 / 255.0f, 0},
      {ElemKind::U8, {2, 7, 16}, 1, 0.02f, 1 / 256.0f, 5},
      {ElemKind::I8, {4, 3, 10}, -1, 0.3f, 1 / 256.0f, -128},
      {ElemKind::I8, {5, 1}, 1, 0.1f, 1 / 255.0f, 0},
      {ElemKind::U8, {5, 1}, 1, 0.1f, 1 / 255.0f, 200},
      {ElemKind::I8, {2, 33, 2}, 1, 0.004f, 0.01f, 0},
      {ElemKind::U8, {6, 2}, 0, 0.05f, 1 / 100.0f, 7},
  };
  std::mt19937 rng(5);
  for (const Case &c : cases) {
    Module m;
    Function *f = m.addFunction("main");
    Value x(f->addPlaceholder("x", Type(c.k, c.dims)));
    const int64_t axis = c.axis < 0 ? c.axis + int64_t(c.dims.size()) : c.axis;
    Tensor table(Type(ElemKind::F32, {quant::kSoftmaxTableEntries}));
    quant::makeSoftmaxTable(c.xScale, c.dims[size_t(axis)],
                            table.data<float>());
    Value t(f->addConstant("table", std::move(table)));
    auto n = f->create(
        OpKind::QuantizedSoftmax, {x, t},
        {{"axis", Attr::ofInt(c.axis)},
         {"scale", Attr::ofFloat(double(quant::softmaxScale(c.yScale)))},
         {"y_zero_point", Attr::ofInt(c.zp)}});
    ASSERT_TRUE(bool(n)) << n.status().message();
    f->addOutput(Value(*n), "y");
    Tensor in(Type(c.k, c.dims));
    const int64_t lo = c.k == ElemKind::I8 ? -128 : 0;
    for (int64_t i = 0; i < in.size(); ++i)
      in.setInt(i, i % 9 == 4 ? lo + 255 : lo + int64_t(rng() % 256));
    auto want = interpret(*f, {in});
    ASSERT_TRUE(bool(want)) << want.status().message();
    SCOPED_TRACE(Type(c.k, c.dims).toString() + " axis " +
                 std::to_string(c.axis));
    CompileConfig two = hostConfig();
    two.numThreads = 2;
    expectIdentical(runCpu(*f, hostConfig(), {in}), *want);
    expectIdentical(runCpu(*f, two, {in}), *want);
  }
}

// 16x8 layers (int16 activations, int8 weights; docs/npu-backend.md,
// "16-bit activations"): built in the layer IR, compiled, run on the golden
// and SystemC models and compared with a plain C++ reference of the 16x8
// definition (docs/quantization.md) bit for bit; and the abstract machine's
// 16-bit rows: the row-pair accesses dependency insertion orders, the text
// and program forms of the flags, the target's declaration.
#include "NpuTarget.h"
#include "Runtime.h"

#include "ember/accel/Program.h"
#include "ember/accel/Text.h"
#include "ember/npu/Arith.h"
#include "ember/quant/Arith.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <tuple>

using namespace ember::npusim;
namespace npu = ember::npu;

namespace {

struct Spec {
  int64_t N = 1, C = 16, H = 6, W = 6, K = 16, k = 3, s = 1, pad = 1,
          groups = 1;
  bool in16 = true, out16 = true;
  bool lut = false;           // an output table on the int8 result
  int32_t lo16 = 1, hi16 = 0; // an int16 result's clamp (random if lo > hi)
  // A 16x8 layer's bias: a random int32 shifted left by this (right when
  // negative); from 6, results mostly saturate.
  int bias16Shift = 6;
};

int tensor(LayerProgram &lp, const char *name, std::vector<int64_t> dims,
           NTensor::Kind kind, bool i16) {
  NTensor t;
  t.name = name;
  t.kind = kind;
  t.dims = dims;
  t.i16 = i16;
  t.C = dims[1];
  t.P = dims[0] * dims[2] * dims[3];
  t.lanes = npu::kDim;
  lp.tensors.push_back(t);
  return int(lp.tensors.size() - 1);
}

struct Case {
  LayerProgram lp;
  std::vector<uint8_t> in, expected;
};

// `input`: the layer's input bytes (else random ones).
Case wideConv(const Spec &s, uint32_t seed,
              const std::vector<uint8_t> *input = nullptr) {
  std::mt19937 rng(seed);
  Case c;
  const int64_t OH = (s.H + 2 * s.pad - s.k) / s.s + 1,
                OW = (s.W + 2 * s.pad - s.k) / s.s + 1;
  int x = tensor(c.lp, "x", {s.N, s.C, s.H, s.W}, NTensor::Kind::Input, s.in16);
  int y = tensor(c.lp, "y", {s.N, s.K, OH, OW}, NTensor::Kind::Output, s.out16);
  Layer L;
  L.name = "conv16";
  L.nodes = {"conv16"};
  GemmLayer &g = L.gemm;
  g.in = x, g.out = y;
  g.N = s.N, g.C = s.C, g.H = s.H, g.W = s.W, g.K = s.K, g.OH = OH, g.OW = OW;
  g.kh = g.kw = s.k, g.sh = g.sw = s.s;
  g.pt = g.pl = g.pb = g.pr = s.pad;
  g.groups = s.groups;
  g.flat = s.k == 1 && s.s == 1 && s.pad == 0;
  const int64_t Cg = s.C / s.groups, Kg = s.K / s.groups, per = Cg * s.k * s.k;
  g.w.resize(size_t(s.K * per));
  for (auto &v : g.w)
    v = int8_t(rng());
  g.in16 = s.in16;
  g.out16 = s.out16;
  g.bias.assign(size_t(s.K), 0);
  std::vector<int64_t> bias(size_t(s.K));
  for (auto &b : bias) // int64 biases beyond int32 (16x8 layers have them)
    b = s.in16
            ? (s.bias16Shift >= 0 ? int64_t(int32_t(rng())) << s.bias16Shift
                                  : int64_t(int32_t(rng())) >> -s.bias16Shift)
            : int32_t(rng() % 200001) - 100000;
  if (s.in16) { // the layer's bias: the model's plus the low plane's excess
    g.bias64 = bias;
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t t = 0; t < per; ++t)
        g.bias64[size_t(k)] += 128 * int64_t(g.w[size_t(k * per + t)]);
  } else {
    for (int64_t k = 0; k < s.K; ++k)
      g.bias[size_t(k)] = int32_t(bias[size_t(k)]);
  }
  g.requant = true;
  for (int64_t k = 0; k < s.K; ++k) {
    g.rq.mult.push_back(int32_t((1u << 30) + rng() % (1u << 30)));
    g.rq.shift.push_back(s.in16 ? -14 - int32_t(rng() % 3)
                                : (s.out16 ? -3 : -11) - int32_t(rng() % 3));
  }
  g.rq.zp = s.out16 ? 0 : int32_t(rng() % 21) - 10;
  g.rq.lo = s.out16 ? (rng() % 2 ? 0 : -32768) : -128;
  g.rq.hi = s.out16 ? (rng() % 2 ? 20000 : 32767) : 127;
  if (s.out16 && s.lo16 <= s.hi16)
    g.rq.lo = s.lo16, g.rq.hi = s.hi16;
  if (s.lut) { // entry k: the stored int8 result k - 128
    L.lut.resize(256);
    for (auto &v : L.lut)
      v = int8_t(rng());
  }
  L.usefulMacs = uint64_t(s.N * OH * OW * s.K * per);
  c.lp.layers.push_back(L);
  c.lp.inputs = {x};
  c.lp.outputs = {y};

  const size_t nIn = size_t(s.N * s.C * s.H * s.W);
  const size_t es = s.in16 ? 2 : 1, eo = s.out16 ? 2 : 1;
  c.in.resize(nIn * es);
  for (auto &b : c.in)
    b = uint8_t(rng());
  if (input)
    c.in = *input;
  auto xin = [&](size_t i) {
    if (!s.in16)
      return int64_t(int8_t(c.in[i]));
    int16_t v;
    std::memcpy(&v, &c.in[2 * i], 2);
    return int64_t(v);
  };
  c.expected.resize(size_t(s.N * s.K * OH * OW) * eo);
  for (int64_t n = 0; n < s.N; ++n)
    for (int64_t oc = 0; oc < s.K; ++oc)
      for (int64_t oy = 0; oy < OH; ++oy)
        for (int64_t ox = 0; ox < OW; ++ox) {
          int64_t a = bias[size_t(oc)];
          const int64_t grp = oc / Kg;
          for (int64_t icg = 0; icg < Cg; ++icg)
            for (int64_t ky = 0; ky < s.k; ++ky)
              for (int64_t kx = 0; kx < s.k; ++kx) {
                int64_t iy = oy * s.s - s.pad + ky, ix = ox * s.s - s.pad + kx;
                if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W)
                  continue; // padding reads 0 (zero points 0)
                int64_t ic = grp * Cg + icg;
                a += xin(size_t(((n * s.C + ic) * s.H + iy) * s.W + ix)) *
                     g.w[size_t(((oc * Cg + icg) * s.k + ky) * s.k + kx)];
              }
          const int32_t m = g.rq.mult[size_t(oc)], e = g.rq.shift[size_t(oc)];
          // (an int8 input's int32 sum does not wrap here: the same
          // rounding as the int8 MBQM)
          int32_t q = ember::quant::requantize16x8(a, {m, e}, g.rq.zp, g.rq.lo,
                                                   g.rq.hi);
          size_t at = size_t(((n * s.K + oc) * OH + oy) * OW + ox);
          if (s.out16) {
            int16_t v = int16_t(q);
            std::memcpy(&c.expected[2 * at], &v, 2);
          } else {
            c.expected[at] =
                s.lut ? uint8_t(L.lut[size_t(q + 128)]) : uint8_t(int8_t(q));
          }
        }
  return c;
}

void run(const Case &c, const std::string &what, Program *out = nullptr,
         const CodegenOptions &opts = {}) {
  Program p;
  ASSERT_EQ(compileLayers(c.lp, opts, p), "") << what;
  p.uid = newProgramUid();
  for (uint32_t exec : {uint32_t(EMBER_NPU_EXECUTOR_GOLDEN),
                        uint32_t(EMBER_NPU_EXECUTOR_SYSTEMC)}) {
    std::vector<uint8_t> got(c.expected.size(), 0xAB);
    std::vector<const void *> in = {c.in.data()};
    std::vector<void *> o = {got.data()};
    RunConfig rc;
    rc.executor = exec;
    RunResult rr;
    ASSERT_EQ(runProgram(p, rc, in, o, &rr), "") << what;
    size_t bad = 0;
    for (size_t i = 0; i < got.size(); ++i)
      bad += got[i] != c.expected[i];
    EXPECT_EQ(bad, 0u) << what << " on executor " << exec;
  }
  if (out)
    *out = p;
}

// Two layers, s1's output the input of s2 (s2.C == s1.K, the same map), the
// expected bytes s2's definition on s1's: one program input, one output.
Case wideChain(Spec s1, Spec s2, uint32_t seed) {
  s2.in16 = s1.out16;
  Case a = wideConv(s1, seed);
  Case b = wideConv(s2, seed + 1000, &a.expected);
  Case c = a;
  const int mid = a.lp.layers[0].gemm.out, off = int(c.lp.tensors.size());
  c.lp.tensors[size_t(mid)].kind = NTensor::Kind::Activation;
  for (size_t k = 1; k < b.lp.tensors.size(); ++k) // (0 is b's input)
    c.lp.tensors.push_back(b.lp.tensors[k]);
  Layer L2 = b.lp.layers[0];
  L2.name = L2.nodes[0] = "conv16b";
  L2.gemm.in = mid;
  L2.gemm.out = off + L2.gemm.out - 1;
  c.lp.layers.push_back(L2);
  c.lp.outputs = {L2.gemm.out};
  c.expected = b.expected;
  return c;
}

// Layer l's loads into the act memory.
size_t actLoads(const Program &p, int32_t l) {
  size_t n = 0;
  for (size_t k = 0; k < p.ops.size(); ++k)
    n += p.opLayer[k] == l && p.ops[k].kind == OpKind::Load &&
         p.ops[k].cls == Cls::Act;
  return n;
}

size_t countOps(const Program &p, OpKind k) {
  size_t n = 0;
  for (const Op &in : p.ops)
    n += in.kind == k;
  return n;
}

// Whether v holds access a (domain, rows and direction).
bool hasAccess(const std::vector<Access> &v, Access a) {
  for (const Access &x : v)
    if (x.domain == a.domain && x.lo == a.lo && x.hi == a.hi &&
        x.write == a.write)
      return true;
  return false;
}

} // namespace

// Every shape of GEMM layer the scheduler has (flat 1x1, strided 1x1, 3x3
// with padding, strided, grouped, depthwise on DwGemm, several input and
// output tiles, several images), in each precision pairing.
TEST(NpuWide16, ConvolutionsAgainstTheDefinition) {
  std::vector<Spec> specs;
  auto add = [&](Spec s) {
    for (auto [i16, o16] : {std::pair{true, true}, std::pair{true, false},
                            std::pair{false, true}}) {
      s.in16 = i16, s.out16 = o16;
      specs.push_back(s);
    }
  };
  add({});
  add({1, 16, 8, 8, 24, 1, 1, 0, 1, true, true});    // flat
  add({1, 20, 9, 9, 16, 1, 2, 0, 1, true, true});    // strided 1x1
  add({2, 37, 7, 5, 19, 3, 2, 1, 1, true, true});    // tiles, images
  add({1, 32, 10, 10, 32, 3, 1, 1, 32, true, true}); // depthwise
  add({1, 24, 6, 6, 12, 3, 1, 1, 3, true, true});    // grouped
  add({1, 8, 20, 20, 8, 5, 1, 2, 1, true, true});    // 5x5
  uint32_t seed = 1;
  for (const Spec &s : specs)
    run(wideConv(s, seed++),
        "C" + std::to_string(s.C) + " K" + std::to_string(s.K) + " k" +
            std::to_string(s.k) + " s" + std::to_string(s.s) + " g" +
            std::to_string(s.groups) + (s.in16 ? " in16" : " in8") +
            (s.out16 ? " out16" : " out8"));
}

// 16x8 layers whose output line does not fit whole run in column bands
// (their loads and stores of a band's columns 16-bit rows a line apart):
// an 11x11 stride 4 over 224 pixels, a 3x3 over 900, a depthwise 3x3
// stride 2 over 1100 (wider than a load's line).
TEST(NpuWide16, ColumnBands) {
  std::vector<Spec> specs;
  for (Spec s : {Spec{1, 3, 15, 224, 16, 11, 4, 0, 1, true, true},
                 Spec{1, 16, 5, 900, 16, 3, 1, 1, 1, true, true},
                 Spec{1, 16, 4, 1100, 16, 3, 2, 1, 16, true, true}})
    for (auto [i16, o16] : {std::pair{true, true}, std::pair{true, false},
                            std::pair{false, true}}) {
      s.in16 = i16, s.out16 = o16;
      specs.push_back(s);
    }
  uint32_t seed = 40;
  for (const Spec &s : specs)
    run(wideConv(s, seed++),
        "C" + std::to_string(s.C) + " W" + std::to_string(s.W) + " k" +
            std::to_string(s.k) + " s" + std::to_string(s.s) + " g" +
            std::to_string(s.groups) + (s.in16 ? " in16" : " in8") +
            (s.out16 ? " out16" : " out8"));
}

// A 16x8 layer requantizing to int8 with an output table (a clamp or an
// activation between two 8-bit tensors after it, as the global mean of a
// model whose last convolution is 16-bit): the table applies to the int8
// result; the blocks of the parameter memory's halves stay clear of the
// table's rows at its top.
TEST(NpuWide16, OutputTableAfterA16x8Layer) {
  std::vector<Spec> specs = {
      {},
      {1, 16, 8, 8, 24, 1, 1, 0, 1},    // flat
      {2, 37, 7, 5, 19, 3, 2, 1, 1},    // tiles, images
      {1, 32, 10, 10, 32, 3, 1, 1, 32}, // depthwise
      {1, 320, 7, 7, 1280, 1, 1, 0, 1}, // many output tiles
  };
  uint32_t seed = 100;
  for (Spec s : specs) {
    s.in16 = true, s.out16 = false, s.lut = true;
    run(wideConv(s, seed++), "C" + std::to_string(s.C) + " K" +
                                 std::to_string(s.K) + " k" +
                                 std::to_string(s.k) + " in16 out8 lut");
  }
}

// A 16x8 layer's input goes through the array once, each array op taking
// both byte planes (GEMM16: w16, in the lower halves of ACT and ACC); with
// act16=two, twice: each GEMM of the low plane has its twin on the high
// plane rows/2 up. The int8 layer has none up there; all three run
// bit-exact (run).
TEST(NpuWide16, TwoPlanesOnTheArray) {
  Spec s;
  s.C = s.K = 32, s.H = s.W = 12;
  Program p16, p16two, p8;
  run(wideConv(s, 7), "in16", &p16);
  CodegenOptions two;
  two.act16OnePass = false;
  run(wideConv(s, 7), "in16 act16=two", &p16two, two);
  s.in16 = s.out16 = false;
  run(wideConv(s, 7), "in8", &p8);
  auto count = [](const Program &p, OpKind k, bool w16) {
    size_t n = 0;
    for (const Op &op : p.ops)
      n += op.kind == k && op.w16 == w16;
    return n;
  };
  const Target &t = npuTarget();
  ASSERT_TRUE(t.array.act16OnePass);
  const int64_t actHalf = int64_t(t.memRows(t.memOf(Cls::Act)) / 2);
  auto high = [&](const Program &p) {
    size_t n = 0;
    for (const Op &op : p.ops)
      n += op.kind == OpKind::Gemm && op.act >= actHalf;
    return n;
  };
  EXPECT_EQ(high(p16), 0u);
  EXPECT_EQ(count(p16, OpKind::Gemm, false), 0u);
  EXPECT_GT(count(p16, OpKind::Gemm, true), 0u); // (tiled on half memories)
  EXPECT_EQ(count(p16two, OpKind::Gemm, true), 0u);
  EXPECT_EQ(2 * high(p16two), count(p16two, OpKind::Gemm, false));
  for (size_t i = 0; i + 1 < p16two.ops.size(); ++i)
    if (p16two.ops[i].kind == OpKind::Gemm && p16two.ops[i].act < actHalf) {
      EXPECT_EQ(p16two.ops[i + 1].act, p16two.ops[i].act + actHalf);
      EXPECT_EQ(p16two.ops[i + 1].wgt, p16two.ops[i].wgt);
    }
  EXPECT_GT(count(p8, OpKind::Gemm, false), 0u);
  size_t acc16 = 0;
  for (const Op &op : p16.ops)
    acc16 += op.kind == OpKind::Requant && op.acc16 && op.out16;
  EXPECT_GT(acc16, 0u);
  // The cost model charges the two-pass layer its second pass.
  ASSERT_EQ(p16.layers.size(), 1u);
  ASSERT_EQ(p16two.layers.size(), 1u);
  EXPECT_LT(p16.layers[0].predictedCycles, p16two.layers[0].predictedCycles);
}

TEST(NpuWide16, TargetDeclaresSixteenBitRows) {
  const Target &t = npuTarget();
  ASSERT_EQ(npuTargetError(), "");
  EXPECT_TRUE(t.wide16);
  for (const char *f : {"conv", "matmul", "add"})
    EXPECT_TRUE(t.form(f) && t.form(f)->act16) << f;
  EXPECT_GE(t.regs[size_t(Reg::Rq16Min)], 0);
  EXPECT_GE(t.regs[size_t(Reg::Rq16Max)], 0);
}

// A one-pass 16x8 array op (w16 on gemm and dwgemm): its act rows and
// accumulators as pairs, its weight tile once; the text round trip; refused
// on a target whose array takes one plane per op, and a description
// claiming the one pass without 16-bit activations is refused.
TEST(NpuWide16, OnePassArrayOps) {
  const Target &t = npuTarget();
  ASSERT_TRUE(t.array.act16OnePass);
  const int act = t.memOf(Cls::Act), wgt = t.memOf(Cls::Wgt),
            acc = t.memOf(Cls::Acc);
  const uint64_t actHalf = t.memRows(act) / 2, accHalf = t.memRows(acc) / 2,
                 wgtHalf = t.memRows(wgt) / 2;
  Op g = gemmOp(t, false, 40, 100, 32, 6, 2, 10, 8);
  g.w16 = true;
  Op d = dwgemmOp(t, true, 50, 200, 16, 5, 1, 0, 0, 3, 1, false);
  d.w16 = true;
  std::vector<Access> v;
  accesses(t, g, nullptr, v);
  EXPECT_TRUE(hasAccess(v, {act, 100 + actHalf, 116 + actHalf, false}));
  EXPECT_TRUE(hasAccess(v, {acc, 40 + accHalf, 54 + accHalf, false}));
  EXPECT_TRUE(hasAccess(v, {acc, 40 + accHalf, 54 + accHalf, true}));
  for (const Access &a : v)
    EXPECT_FALSE(a.domain == wgt && a.lo >= wgtHalf);
  accesses(t, d, nullptr, v); // reset: no accumulator read
  EXPECT_TRUE(hasAccess(v, {act, 200 + actHalf, 207 + actHalf, false}));
  EXPECT_TRUE(hasAccess(v, {acc, 50 + accHalf, 55 + accHalf, true}));
  EXPECT_FALSE(hasAccess(v, {acc, 50 + accHalf, 55 + accHalf, false}));
  Target twoPass = t;
  twoPass.array.act16OnePass = false;
  for (const Op &op : {g, d}) {
    const std::string s = formatOp(t, op);
    Op back;
    ASSERT_EQ(parseOp(t, s, back).message(), "") << s;
    EXPECT_EQ(formatOp(t, back), s);
    EXPECT_TRUE(back.w16);
    EXPECT_NE(parseOp(twoPass, s, back).message().find("one byte plane"),
              std::string::npos)
        << s;
  }
  std::string json = npuTargetJson();
  const size_t at = json.find("\"i16\"");
  ASSERT_NE(at, std::string::npos);
  json.replace(at, 5, "\"i8\"");
  Target bad;
  EXPECT_NE(parseTarget(json, bad).message().find("act16_one_pass"),
            std::string::npos);
}

// The row pairs: a 16-bit access touches the same rows rows/2 up (and
// twice the DRAM bytes); Requant acc16 with bias the bias's high word.
TEST(NpuWide16, AccessesCoverTheRowPairs) {
  const Target &t = npuTarget();
  const int act = t.memOf(Cls::Act), acc = t.memOf(Cls::Acc),
            out = t.memOf(Cls::Out), dram = int(t.memories.size());
  const uint64_t actHalf = t.memRows(act) / 2, accHalf = t.memRows(acc) / 2,
                 outHalf = t.memRows(out) / 2;
  std::vector<Access> v;
  Op l = loadOp(t, Cls::Act, 10, 4096, 1, 5, 5);
  l.w16 = true;
  accesses(t, l, nullptr, v);
  EXPECT_TRUE(hasAccess(v, {act, 10, 15, true}));
  EXPECT_TRUE(hasAccess(v, {act, 10 + actHalf, 15 + actHalf, true}));
  EXPECT_TRUE(
      hasAccess(v, {dram, 4096, 4096 + 5 * 2 * uint64_t(t.lanes), false}));
  Op r = requantOp(t, 3, 7, 4, 100, 0, 0, 0, true);
  r.acc16 = r.out16 = true;
  accesses(t, r, nullptr, v);
  EXPECT_TRUE(hasAccess(v, {acc, 7, 11, false}));
  EXPECT_TRUE(hasAccess(v, {acc, 7 + accHalf, 11 + accHalf, false}));
  EXPECT_TRUE(hasAccess(v, {acc, 102 + accHalf, 103 + accHalf, false}));
  EXPECT_TRUE(hasAccess(v, {out, 3 + outHalf, 7 + outHalf, true}));
  Op a = vaddOp(t, 0, 10, 20, 5);
  a.w16 = true;
  accesses(t, a, nullptr, v);
  EXPECT_TRUE(hasAccess(v, {out, 20 + outHalf, 25 + outHalf, false}));
  EXPECT_TRUE(hasAccess(v, {out, outHalf, 5 + outHalf, true}));
  // An 8-bit op touches the lower rows only.
  accesses(t, vaddOp(t, 0, 10, 20, 5), nullptr, v);
  EXPECT_EQ(v.size(), 3u);
}

TEST(NpuWide16, FlagsPrintAndParse) {
  const Target &t = npuTarget();
  Op r = requantOp(t, 3, 7, 4, 100, 0, 0, 0, true);
  r.acc16 = r.out16 = true;
  Op l = storeOp(t, Cls::Out, 0, 64, 1, 4, 4);
  l.w16 = true;
  for (const Op &op : {r, l}) {
    const std::string s = formatOp(t, op);
    Op back;
    ASSERT_EQ(parseOp(t, s, back).message(), "") << s;
    EXPECT_EQ(formatOp(t, back), s);
    EXPECT_EQ(back.w16, op.w16);
    EXPECT_EQ(back.acc16, op.acc16);
  }
  Target narrow = t;
  narrow.wide16 = false;
  Op back;
  EXPECT_NE(parseOp(narrow, formatOp(t, l), back).message().find("16-bit"),
            std::string::npos);
}

// VMul's 16-bit flags (a16, b16, out16, one) and a 16-bit pool layer: the
// text round trip, the row pairs they touch, and the refusal on a target
// without 16-bit rows.
TEST(NpuWide16, MulFlagsAndPoolLayerText) {
  const Target &t = npuTarget();
  const int out = t.memOf(Cls::Out);
  const uint64_t outHalf = t.memRows(out) / 2;
  Op m = vmulOp(t, 30, 10, 20, 4, true);
  m.a16 = m.out16 = true;
  Op c = vmulOp(t, 10, 10, 0, 6, false);
  c.one = c.out16 = true;
  for (const Op &op : {m, c}) {
    const std::string s = formatOp(t, op);
    Op back;
    ASSERT_EQ(parseOp(t, s, back).message(), "") << s;
    EXPECT_EQ(formatOp(t, back), s);
    EXPECT_EQ(back.a16, op.a16);
    EXPECT_EQ(back.b16, op.b16);
    EXPECT_EQ(back.out16, op.out16);
    EXPECT_EQ(back.one, op.one);
  }
  std::vector<Access> v;
  accesses(t, m, nullptr, v);
  EXPECT_TRUE(hasAccess(v, {out, 10 + outHalf, 14 + outHalf, false})); // a16
  EXPECT_FALSE(
      hasAccess(v, {out, 20 + outHalf, 21 + outHalf, false})); // b: 8-bit
  EXPECT_TRUE(hasAccess(v, {out, 30 + outHalf, 34 + outHalf, true})); // out16
  accesses(t, c, nullptr, v); // one: in place, no b
  EXPECT_TRUE(hasAccess(v, {out, 10, 16, false}));
  EXPECT_TRUE(hasAccess(v, {out, 10 + outHalf, 16 + outHalf, true}));
  Target narrow = t;
  narrow.wide16 = false;
  Op back;
  EXPECT_NE(parseOp(narrow, formatOp(t, c), back).message().find("16-bit"),
            std::string::npos);

  LayerProgram lp;
  NTensor x;
  x.name = "x";
  x.kind = NTensor::Kind::Input;
  x.i16 = true;
  x.dims = {1, 20, 6, 6};
  x.C = 20, x.P = 36, x.lanes = t.lanes;
  NTensor y = x;
  y.name = "y";
  y.kind = NTensor::Kind::Output;
  y.dims = {1, 20, 3, 3};
  y.P = 9;
  lp.tensors = {x, y};
  Layer L;
  L.kind = Layer::Kind::Pool;
  L.name = "p";
  PoolLayer &g = L.pool;
  g.in = 0, g.out = 1, g.C = 20, g.H = g.W = 6, g.OH = g.OW = 3;
  g.kh = g.kw = g.sh = g.sw = 2;
  g.padValue = -32768;
  g.w16 = true;
  lp.layers = {L};
  lp.inputs = {0};
  lp.outputs = {1};
  const std::string text = printLayers(t, lp);
  EXPECT_NE(text.find(" w16=1"), std::string::npos) << text;
  LayerProgram read;
  ASSERT_EQ(parseLayers(t, text, read).message(), "") << text;
  ASSERT_EQ(read.layers.size(), 1u);
  EXPECT_TRUE(read.layers[0].pool.w16);
  EXPECT_EQ(printLayers(t, read), text);
}

// Two 16x8 layers whose int16 tensor between them fits the out memory's
// lower half: it stays on chip (the first layer's REQUANT out16 into a gap
// whose high rows are free too, the second's loads MOVE w16), with the
// 16x8 definition's bytes on the golden and SystemC models, as with the
// tensor through DRAM.
TEST(NpuWide16, SixteenBitTensorCascaded) {
  for (auto [s1, s2] : {std::pair{Spec{1, 16, 8, 8, 32, 3, 1, 1, 1},
                                  Spec{1, 32, 8, 8, 24, 1, 1, 0, 1}},
                        std::pair{Spec{1, 32, 7, 7, 48, 3, 1, 1, 1},
                                  Spec{1, 48, 7, 7, 40, 3, 1, 1, 1}}}) {
    const Case c = wideChain(s1, s2, 7);
    std::vector<std::vector<uint8_t>> got;
    for (bool cascade : {true, false}) {
      CodegenOptions o;
      o.cascade = cascade;
      Program p;
      ASSERT_EQ(compileLayers(c.lp, o, p), "");
      ASSERT_EQ(p.layers.size(), 2u);
      EXPECT_EQ(p.layers[1].cascadedIn, cascade);
      p.uid = newProgramUid();
      for (uint32_t exec : {uint32_t(EMBER_NPU_EXECUTOR_GOLDEN),
                            uint32_t(EMBER_NPU_EXECUTOR_SYSTEMC)}) {
        std::vector<uint8_t> out(c.expected.size(), 0xAB);
        std::vector<const void *> in = {c.in.data()};
        std::vector<void *> o2 = {out.data()};
        RunConfig rc;
        rc.executor = exec;
        RunResult rr;
        ASSERT_EQ(runProgram(p, rc, in, o2, &rr), "");
        got.push_back(out);
      }
    }
    for (size_t k = 0; k < got.size(); ++k)
      EXPECT_EQ(got[k], c.expected) << "run " << k;
  }
}

// A 16x8 layer with a fused int16 add (a residual sum of two int16 maps):
// the same bytes as the layer followed by the int16 add as a layer of its
// own, on the golden and SystemC models, either operand order.
TEST(NpuWide16, FusedSixteenBitAdd) {
  AddRegs r; // the int16 form (ADD_LSHIFT 15), as the selection writes it
  r.lshift = 15;
  r.aMult = 1073741824, r.aShift = 0;
  r.bMult = 1610612736, r.bShift = -1;
  r.outMult = 1431655765, r.outShift = -14;
  r.lo = -32768, r.hi = 32767;
  uint32_t seed = 200;
  for (Spec s :
       {Spec{1, 16, 8, 8, 24, 1, 1, 0, 1}, Spec{1, 40, 9, 9, 33, 3, 1, 1, 1},
        Spec{1, 32, 10, 10, 32, 3, 1, 1, 32}})
    for (bool convIsA : {true, false}) {
      Case c = wideConv(s, seed++);
      const int y = c.lp.layers[0].gemm.out;
      const NTensor Y = c.lp.tensors[size_t(y)];
      const int other = tensor(c.lp, "r", Y.dims, NTensor::Kind::Input, true),
                sum = tensor(c.lp, "sum", Y.dims, NTensor::Kind::Output, true);
      std::vector<uint8_t> rin(
          size_t(Y.dims[0] * Y.dims[1] * Y.dims[2] * Y.dims[3] * 2));
      std::mt19937 rng(seed);
      for (auto &b : rin)
        b = uint8_t(rng());
      // Fused: the layer writes the sum.
      LayerProgram fused = c.lp;
      fused.tensors[size_t(y)].kind = NTensor::Kind::Activation;
      FusedAdd &f = fused.layers[0].gemm.add;
      f.on = true, f.other = other, f.convIsA = convIsA, f.regs = r;
      fused.layers[0].gemm.out = sum;
      fused.inputs = {c.lp.inputs[0], other};
      fused.outputs = {sum};
      // Apart: the layer, then the add.
      LayerProgram apart = c.lp;
      apart.tensors[size_t(y)].kind = NTensor::Kind::Activation;
      Layer A;
      A.kind = Layer::Kind::Add;
      A.name = "add16";
      A.nodes = {"add16"};
      A.add.a = convIsA ? y : other;
      A.add.b = convIsA ? other : y;
      A.add.out = sum;
      A.add.regs = r;
      A.add.w16 = true;
      apart.layers.push_back(A);
      apart.inputs = {c.lp.inputs[0], other};
      apart.outputs = {sum};
      std::vector<std::vector<uint8_t>> got;
      for (const LayerProgram *lp : {&fused, &apart}) {
        Program p;
        ASSERT_EQ(compileLayers(*lp, CodegenOptions{}, p), "");
        ASSERT_EQ(p.layers.size(), lp == &fused ? 1u : 2u);
        p.uid = newProgramUid();
        for (uint32_t exec : {uint32_t(EMBER_NPU_EXECUTOR_GOLDEN),
                              uint32_t(EMBER_NPU_EXECUTOR_SYSTEMC)}) {
          std::vector<uint8_t> out(rin.size(), 0xAB);
          std::vector<const void *> in = {c.in.data(), rin.data()};
          std::vector<void *> o = {out.data()};
          RunConfig rc;
          rc.executor = exec;
          RunResult rr;
          ASSERT_EQ(runProgram(p, rc, in, o, &rr), "");
          got.push_back(out);
        }
      }
      for (size_t k = 1; k < got.size(); ++k)
        EXPECT_EQ(got[k], got[0]) << "C" << s.C << " K" << s.K << " run " << k;
    }
}

// Layer cascading in stripes with 16-bit tensors and layers (Stripes.cpp):
// an int16 map between two layers goes through a ring of 16-bit rows (row
// pairs) of the out memory, written by the producer's REQUANT out16 and read
// by MOVE w16; a 16x8 layer next to an 8-bit one shares the memories it
// uses at 16 bits by quarters. Pairs: int16 -> int16 (a 16x8 layer into a
// 16x8 one), int8 -> int16 (an int8 layer writing int16) and int16 -> int8
// (a 16x8 layer writing int8 into an int8 one); each a 1x1 expand into a
// padded depthwise 3x3 and a 3x3 into a flat 1x1, bit-exact on golden and
// SystemC against the definition with stripes=all, on and off.
TEST(NpuStripes, SixteenBitPairs) {
  struct Pair {
    std::string what;
    Spec a, b;
  };
  std::vector<Pair> pairs;
  for (auto [in16, mid16, out16] :
       {std::tuple{true, true, true}, std::tuple{false, true, false},
        std::tuple{true, false, true}}) {
    const std::string w = std::string(in16 ? "16" : "8") + " -> " +
                          (mid16 ? "16" : "8") + " -> " + (out16 ? "16" : "8");
    // 1x1 expand 8 -> 3 DIM over 40 x 37 (3 channel tiles at every DIM:
    // 4,440 rows), into a depthwise 3x3 with padding 1.
    const int64_t e = 3 * npu::kDim, f = 4 * npu::kDim;
    pairs.push_back({"expand into depthwise, " + w,
                     {1, 8, 40, 37, e, 1, 1, 0, 1, in16, mid16},
                     {1, e, 40, 37, e, 3, 1, 1, e, mid16, out16}});
    // 3x3 5 -> 4 DIM over 36 x 29, into a flat 1x1 4 DIM -> 24.
    pairs.push_back({"3x3 into 1x1, " + w,
                     {1, 5, 36, 29, f, 3, 1, 1, 1, in16, mid16},
                     {1, f, 36, 29, 24, 1, 1, 0, 1, mid16, out16}});
  }
  // Different int16 clamps on the two sides (a Relu's, then none): the
  // interleaved requantizations each need their own RQ16 registers; biases
  // small enough that the results are mostly inside the clamps, so that a
  // wrong clamp shows.
  for (Pair &pr : pairs) {
    pr.a.lo16 = 0, pr.a.hi16 = 6000;
    pr.b.lo16 = -32768, pr.b.hi16 = 32767;
    pr.a.bias16Shift = pr.b.bias16Shift = -7; // results mostly in range
  }
  uint32_t seed = 90;
  for (const Pair &pr : pairs) {
    const Case c = wideChain(pr.a, pr.b, seed++);
    Program on, off, gain;
    CodegenOptions all, none, gated;
    all.stripes = StripeMode::All;
    none.stripes = StripeMode::Off;
    gated.stripes = StripeMode::On;
    run(c, pr.what + ", stripes=all", &on, all);
    run(c, pr.what + ", stripes=off", &off, none);
    run(c, pr.what + ", stripes=on", &gain, gated);
    if (HasFatalFailure())
      return;
    ASSERT_EQ(on.layers.size(), 2u) << pr.what;
    // The tensor is too large for the out memory whole (never cascaded), and
    // the mechanism runs every pair (the same tiles and rows at any DIM).
    EXPECT_FALSE(off.layers[0].cascadedOut) << pr.what;
    EXPECT_TRUE(on.layers[0].stripedOut)
        << pr.what << ": " << on.layers[0].notStriped;
    EXPECT_TRUE(on.layers[1].stripedIn) << pr.what;
    EXPECT_GT(on.layers[0].ringRows, 0u) << pr.what;
    EXPECT_EQ(on.layers[0].storeBytes, 0u) << pr.what;
    EXPECT_GT(off.layers[0].storeBytes, 0u) << pr.what;
    // The consumer loads no activation (its input comes by MOVE); its
    // weights and tables may load more often in its share of the memories.
    EXPECT_EQ(actLoads(on, 1), 0u) << pr.what;
    EXPECT_GT(actLoads(off, 1), 0u) << pr.what;
    EXPECT_EQ(countOps(off, OpKind::Copy), 0u) << pr.what;
    size_t moves16 = 0;
    for (const Op &in : on.ops)
      moves16 += in.kind == OpKind::Copy && in.w16;
    EXPECT_EQ(moves16 > 0, pr.b.in16 || pr.a.out16) << pr.what;
    // stripes=on: striped, or the estimate's reason.
    if (!gain.layers[0].stripedOut) {
      EXPECT_EQ(gain.layers[0].notStriped.rfind("no gain (", 0), 0u)
          << pr.what << ": " << gain.layers[0].notStriped;
    }
  }
}

// Form softmax (core/accel/forms/Softmax.cpp): the IntegerSoftmax nodes it
// refuses and why, the description that names it, its layer as text, and
// its program on the reference simulator against the interpreter.
#include "AccelTestUtil.h"

#include "backend/ProgramProto.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"

#include "ember/accel/Program.h"
#include "ember/accel/RefSim.h"
#include "ember/accel/Select.h"
#include "ember/accel/Text.h"
#include "ember/backend/v1/graph.pb.h"
#include "ember/quant/Transformer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <vector>

using namespace ember::accel;
namespace v1 = ember::backend::v1;

namespace {

// The edge description with the softmax form, its operations (vreduce
// with exp, rscalar, vrowexp) and registers added (as
// tests/lit/accel/Inputs/softmax-ops.sed does); with `rowexp` false, the
// row operations before spec version 10 (vreduce without exp, rscalar) and
// the output registers alone; with `smRegs` false, no row_sm_* registers;
// with `wide`, 16-bit rows (requant.outputs 'i16' and its registers).
std::string softmaxText(bool rowexp = true, bool smRegs = true,
                        bool wide = false) {
  std::string text = readTestTargetText("edge-ws");
  auto add = [&](const std::string &after, const std::string &what) {
    const size_t at = text.find(after);
    EXPECT_NE(at, std::string::npos) << after;
    if (at != std::string::npos)
      text.insert(at + after.size(), what);
  };
  add("{\"form\": \"reshape\"}", ", {\"form\": \"softmax\"}");
  add("\"runs\": [\"requant\", \"vadd\", \"pool\"",
      rowexp ? ", \"vreduce\", \"rscalar\", \"vrowexp\""
             : ", \"vreduce\", \"rscalar\"");
  add("\"finish\": {}",
      std::string(", \"vreduce\": {\"dst\": 8, \"src\": 10, \"rows\": 10, "
                  "\"len\": 10, \"gstride\": 10, \"kstride\": 10, \"last\": 6, "
                  "\"w16\": 1, \"sum\": 1") +
          (rowexp ? ", \"exp\": 1" : "") +
          "}, \"rscalar\": {\"dst\": 8, \"src\": 8, \"rows\": 8, "
          "\"rsqrt\": 1}" +
          (rowexp ? ", \"vrowexp\": {\"dst\": 14, \"src\": 14, \"rows\": 12, "
                    "\"stride\": 12, \"scal\": 11, \"sum\": 11, \"w16\": 1, "
                    "\"out16\": 1}"
                  : ""));
  std::string regs;
  int id = 20;
  for (const char *r : {"row_out_zp", "row_min", "row_max"})
    regs += std::string(", \"") + r + "\": {\"id\": " + std::to_string(id++) +
            ", \"engine\": \"VEC\"}";
  if (rowexp && smRegs)
    for (const char *r : {"row_sm_in_mult", "row_sm_in_shift",
                          "row_sm_out_mult", "row_sm_out_shift"})
      regs += std::string(", \"") + r + "\": {\"id\": " + std::to_string(id++) +
              ", \"engine\": \"VEC\"}";
  if (wide) {
    for (const char *r : {"rq16_min", "rq16_max"})
      regs += std::string(", \"") + r + "\": {\"id\": " + std::to_string(id++) +
              ", \"engine\": \"VEC\"}";
    add("\"outputs\": [\"i8\", \"u8\"", ", \"i16\"");
  }
  add("\"add_max\": {\"id\": 19, \"engine\": \"VEC\"}", regs);
  return text;
}

const Target &softmaxTarget() {
  static const Target t = [] {
    Target r;
    const ember::Status st = parseTarget(softmaxText(), r);
    EXPECT_TRUE(st.isOk()) << st.message();
    return r;
  }();
  return t;
}

const Target &softmaxTarget16() {
  static const Target t = [] {
    Target r;
    const ember::Status st = parseTarget(softmaxText(true, true, true), r);
    EXPECT_TRUE(st.isOk()) << st.message();
    return r;
  }();
  return t;
}

// One IntegerSoftmax of x (dims xd, dtype xt) into `to` along `axis`.
struct SoftmaxGraph {
  v1::Graph g;
  v1::Node *n = nullptr;

  int value(const std::string &name, const std::string &dtype,
            const std::vector<int64_t> &dims) {
    v1::Value *v = g.add_values();
    v->set_name(name);
    v->mutable_type()->set_dtype(dtype);
    for (int64_t d : dims)
      v->mutable_type()->add_dims(d);
    return g.values_size() - 1;
  }
  void attr(const char *name, int64_t v) {
    v1::Attribute *a = n->add_attributes();
    a->set_name(name);
    a->set_i(v);
  }

  SoftmaxGraph(const std::string &xt, const std::vector<int64_t> &xd,
               const std::string &yt, int64_t axis) {
    g.set_schema_version(1);
    const int x = value("x", xt, xd);
    g.add_inputs(x);
    const int y = value("y", yt, xd);
    n = g.add_nodes();
    n->set_op("IntegerSoftmax");
    n->set_name("sm");
    n->add_inputs(x);
    n->add_outputs(y);
    attr("axis", axis);
    attr("in_multiplier", 1518500250);
    attr("in_shift", 14);
    attr("out_multiplier", 1073741824);
    attr("out_shift", 9);
    attr("y_zero_point", yt == "u8" ? 0 : -128);
    g.add_outputs(y);
    g.add_output_names("y");
  }

  std::string why(const Target &t) const {
    const std::vector<std::string> w = whyNot(t, g);
    return w.empty() ? "(no answer)" : w[0];
  }
  std::string why() const { return why(softmaxTarget()); }
};

bool has(const std::string &why, const char *part) {
  return why.find(part) != std::string::npos;
}

} // namespace

// Every node that meets the form's constraints runs; each that does not is
// refused naming the constraint.
TEST(AccelSoftmax, RefusalsNameTheConstraint) {
  // A sequence and [tokens, C], i8 and u8, several channel tiles.
  EXPECT_EQ(SoftmaxGraph("i8", {1, 4, 16}, "i8", 2).why(), "");
  EXPECT_EQ(SoftmaxGraph("u8", {4, 40}, "u8", -1).why(), "");
  EXPECT_EQ(SoftmaxGraph("i8", {2, 24576}, "u8", 1).why(), "");
  // A map along its channels, axis 1 (each pixel a row).
  EXPECT_EQ(SoftmaxGraph("i8", {1, 16, 3, 5}, "i8", 1).why(), "");
  EXPECT_PRED2(has, SoftmaxGraph("i8", {1, 2, 3, 16}, "i8", 3).why(),
               "a softmax along axis 3 of a tensor laid out with its channels "
               "on axis 1 (the softmax form runs along the channels, the "
               "lanes)");
  EXPECT_PRED2(has, SoftmaxGraph("i8", {1, 4, 16}, "i8", 1).why(),
               "a softmax along axis 1 of a tensor laid out with its channels "
               "on axis 2");
  EXPECT_PRED2(has, SoftmaxGraph("i16", {4, 16}, "i8", 1).why(),
               "an int16 tensor (the target has no 16-bit rows");
  EXPECT_PRED2(has, SoftmaxGraph("i8", {4, 16}, "i16", -1).why(),
               "an int16 tensor");
  EXPECT_PRED2(has, SoftmaxGraph("i32", {4, 16}, "i8", 1).why(),
               "a softmax of i32 into i8 (the softmax form reads and writes "
               "i8, u8 or i16)");
  // edge-ws: a row's tiles in ASRAM's 768 rows of 32 lanes.
  EXPECT_PRED2(has, SoftmaxGraph("i8", {2, 24577}, "i8", 1).why(),
               "a row of 24577 channels takes 769 rows of ASRAM (it has "
               "768)");
}

// A description naming the form without vrowexp, without the row_sm_*
// registers or without vreduce's exp field is refused naming what it
// lacks.
TEST(AccelSoftmax, DescriptionNeedsTheOperationsAndRegisters) {
  EXPECT_NE(softmaxTarget().form("softmax"), nullptr);
  Target t;
  const ember::Status ops = parseTarget(softmaxText(false), t);
  EXPECT_TRUE(ops.failed());
  EXPECT_NE(ops.message().find("ops.vrowexp: missing"), std::string::npos)
      << ops.message();
  const ember::Status regs = parseTarget(softmaxText(true, false), t);
  EXPECT_TRUE(regs.failed());
  EXPECT_NE(regs.message().find("row_sm_in_mult"), std::string::npos)
      << regs.message();
  // vreduce without its exp field (a description before spec version 10).
  std::string noExp = softmaxText();
  noExp.replace(noExp.find(", \"exp\": 1"), 10, "");
  const ember::Status exp = parseTarget(noExp, t);
  EXPECT_TRUE(exp.failed());
  EXPECT_NE(exp.message().find("forms: 'softmax' needs ops.vreduce.exp"),
            std::string::npos)
      << exp.message();
}

TEST(AccelSoftmax, WithoutTheFormTheOpIsRefused) {
  SoftmaxGraph sg("i8", {1, 4, 16}, "i8", 2);
  const std::vector<std::string> w = whyNot(testTarget("edge-ws"), sg.g);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "op IntegerSoftmax is not in the forms of target 'edge-ws'");
}

TEST(AccelSoftmax, Claim) {
  int found = 0;
  for (const OpClaim &c : claimedOps(softmaxTarget()))
    if (c.op == "IntegerSoftmax") {
      ++found;
      EXPECT_EQ(c.dtypes, (std::vector<std::string>{"i8", "u8"}));
    }
  EXPECT_EQ(found, 1);
}

// A u8 softmax: a 1x1 pool layer over the rows, the parameters in stored
// terms.
TEST(AccelSoftmax, BuildsAPoolLayerWithTheSoftmax) {
  SoftmaxGraph sg("u8", {4, 40}, "u8", 1);
  LayerProgram lp;
  const ember::Status st = buildLayers(softmaxTarget(), sg.g, lp);
  ASSERT_TRUE(st.isOk()) << st.message();
  ASSERT_EQ(lp.layers.size(), 1u);
  const Layer &L = lp.layers[0];
  EXPECT_EQ(L.kind, Layer::Kind::Pool);
  EXPECT_EQ(L.pool.C, 40);
  EXPECT_EQ(L.pool.kh, 1);
  // The multipliers and shifts, the zero point (0 of u8, stored: -128) and
  // the clamp.
  EXPECT_EQ(
      L.attrs.at("softmax.params"),
      (std::vector<int64_t>{1518500250, 14, 1073741824, 9, -128, -128, 127}));
}

// The layer prints and parses back; a malformed one is refused naming the
// field.
TEST(AccelSoftmax, LayerAsText) {
  const Target &t = softmaxTarget();
  LayerProgram lp;
  for (const char *name : {"x", "y"}) {
    NTensor x;
    x.name = name;
    x.kind =
        std::string(name) == "x" ? NTensor::Kind::Input : NTensor::Kind::Output;
    x.dims = {1, 4, 40};
    x.axis = 2;
    x.C = 40, x.P = 4, x.lanes = t.lanes;
    lp.tensors.push_back(x);
  }
  lp.inputs = {0};
  lp.outputs = {1};
  Layer L;
  L.kind = Layer::Kind::Pool;
  L.name = "sm";
  L.nodes = {"sm"};
  L.pool.in = 0, L.pool.out = 1;
  L.pool.C = 40, L.pool.H = 1, L.pool.W = 4, L.pool.OH = 1, L.pool.OW = 4;
  L.attrs["softmax.params"] = {1518500250, 14, 1073741824, 9, -5, -128, 127};
  lp.layers.push_back(L);
  const std::string text = printLayers(t, lp);
  EXPECT_NE(text.find(" softmax.params=1518500250,14,1073741824,9,-5,-128,127"),
            std::string::npos)
      << text;
  LayerProgram back;
  ASSERT_TRUE(parseLayers(t, text, back).isOk());
  ASSERT_EQ(back.layers.size(), 1u);
  EXPECT_EQ(printLayers(t, back), text);
  EXPECT_EQ(back.layers[0].attrs, lp.layers[0].attrs);

  std::string short6 = text;
  short6.replace(short6.find(",-128,127"), 9, ",-128");
  const ember::Status st = parseLayers(t, short6, back);
  EXPECT_TRUE(st.failed());
  EXPECT_NE(st.message().find("a softmax needs softmax.params (in_mult, "
                              "in_shift, out_mult, out_shift, y_zp, lo, hi)"),
            std::string::npos)
      << st.message();
  std::string wide = text;
  wide.replace(wide.find("1518500250"), 10, "5000000000");
  const ember::Status big = parseLayers(t, wide, back);
  EXPECT_TRUE(big.failed());
  EXPECT_NE(big.message().find("softmax.params are int32"), std::string::npos)
      << big.message();
}

// Random softmaxes of sequences and [tokens, C] (C of one to several
// channel tiles, a last tile in part; up to 150 rows: several blocks of
// the 64 the accumulator memory holds), 8-bit, then on 16-bit rows an
// int16 input or result (its rows apart from the input's), scheduled and
// run on the reference simulator: the interpreter's bytes
// (quant::integerSoftmaxRow).
TEST(AccelSoftmax, RunsAsTheInterpreterComputes) {
  std::mt19937 rng(2026);
  auto pick = [&](int lo, int hi) { return lo + int(rng() % (hi - lo + 1)); };
  for (int i = 0; i < 24; ++i) {
    const bool wide = i >= 16, x16 = wide && i % 2 == 0, y16 = wide && !x16;
    const Target &t = wide ? softmaxTarget16() : softmaxTarget();
    const bool seq = i % 2 == 0;
    const int d0 = pick(1, seq ? 12 : 150), d1 = seq ? pick(1, 12) : 0;
    const int C = i == 0 ? 1 : pick(2, 100);
    const bool xu = !x16 && rng() % 2, yu = !y16 && rng() % 2;
    const double sx =
        (x16 ? 0.0002 : 0.01) * (1.0 + 20.0 * double(rng() % 1000) / 1000.0);
    const ember::quant::SoftmaxParams sp = ember::quant::makeSoftmaxParams(
        sx, y16 ? 1.0 / 32768 : 1.0 / 256, yu || y16 ? 0 : -128,
        y16  ? -32768
        : yu ? 0
             : -128,
        y16  ? 32767
        : yu ? 255
             : 127);
    const char *xt = x16 ? "i16" : xu ? "u8" : "i8";
    const char *yt = y16 ? "i16" : yu ? "u8" : "i8";
    const std::string shape =
        seq ? "[" + std::to_string(d0) + "," + std::to_string(d1) + "," +
                  std::to_string(C) + "]"
            : "[" + std::to_string(d0) + "," + std::to_string(C) + "]";
    std::ostringstream g;
    g << "func @main(%x: " << xt << shape << ") {\n"
      << "  %y = IntegerSoftmax(%x) {axis = " << (seq ? 2 : 1)
      << ", in_multiplier = " << sp.in.mult << ", in_shift = " << sp.in.shift
      << ", out_multiplier = " << sp.out.mult
      << ", out_shift = " << sp.out.shift << ", y_zero_point = " << sp.yZp
      << ", to = "
      << (y16  ? 5
          : yu ? 2
               : 3)
      << "} : " << yt << shape << " loc(\"sm\")\n"
      << "  return %y\n}\n";
    const std::string what = "case " + std::to_string(i) + ": " + g.str();
    auto m = ember::parseModule(g.str(), what);
    ASSERT_TRUE(m.hasValue()) << what << m.status().message();
    const ember::Function &f = *(*m)->main();
    std::vector<ember::Tensor> ins;
    for (const ember::Node *ph : f.params()) {
      ember::Tensor x(ph->types[0]);
      for (size_t b = 0; b < x.bytes(); ++b)
        x.data<uint8_t>()[b] = uint8_t(rng());
      ins.push_back(std::move(x));
    }
    auto want = ember::interpret(f, ins);
    ASSERT_TRUE(want.hasValue()) << what << want.status().message();
    ember::backend::v1::Graph pg;
    ASSERT_TRUE(ember::backend::toProto(f, pg).isOk()) << what;
    LayerProgram lp;
    const ember::Status built = buildLayers(t, pg, lp);
    ASSERT_TRUE(built.isOk()) << what << built.message();
    Program prog;
    ASSERT_EQ(generateProgram(t, lp, CodegenOptions(), prog).message(), "")
        << what;
    packReference(t, lp, prog);
    std::vector<uint8_t> got((*want)[0].bytes(), 0xAB);
    SimStats st;
    ASSERT_EQ(simulateProgram(t, prog, {ins[0].data<uint8_t>()}, {got.data()},
                              SimOptions(), &st)
                  .message(),
              "")
        << what;
    EXPECT_EQ(std::memcmp(got.data(), (*want)[0].data<uint8_t>(), got.size()),
              0)
        << what;
    // The predicted cycles (the blocks one after another, the operations as
    // the simulator times them) are the simulated ones within 10%.
    expectPredictedCycles(prog, st, what);
  }
}

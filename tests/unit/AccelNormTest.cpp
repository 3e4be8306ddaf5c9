// Form norm (core/accel/forms/Norm.cpp): the IntegerNormalization nodes it
// refuses and why, the description that names it, and its layer as text.
#include "AccelTestUtil.h"

#include "ember/accel/Program.h"
#include "ember/accel/RefSim.h"
#include "ember/accel/Select.h"
#include "ember/accel/Text.h"
#include "ember/backend/v1/graph.pb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using namespace ember::accel;
namespace v1 = ember::backend::v1;

namespace {

// The edge description with the norm form, its operations and its
// registers added (as tests/lit/accel/Inputs/norm-ops.sed does); with
// `ops` false, the form alone.
std::string normText(bool ops) {
  std::string text = readTestTargetText("edge-ws");
  auto add = [&](const std::string &after, const std::string &what) {
    const size_t at = text.find(after);
    EXPECT_NE(at, std::string::npos) << after;
    if (at != std::string::npos)
      text.insert(at + after.size(), what);
  };
  add("{\"form\": \"reshape\"}", ", {\"form\": \"norm\"}");
  if (!ops)
    return text;
  add("\"runs\": [\"requant\", \"vadd\", \"pool\"",
      ", \"vreduce\", \"rscalar\", \"vrowmul\"");
  add("\"finish\": {}",
      ", \"vreduce\": {\"dst\": 8, \"src\": 10, \"rows\": 10, \"len\": 10, "
      "\"gstride\": 10, \"kstride\": 10, \"last\": 6, \"w16\": 1, \"sum\": 1, "
      "\"sq\": 1, \"center\": 1}, \"rscalar\": {\"dst\": 8, \"src\": 8, "
      "\"rows\": 8, \"rsqrt\": 1}, \"vrowmul\": {\"dst\": 10, \"src\": 10, "
      "\"rows\": 10, \"stride\": 10, \"scal\": 8, \"sum\": 8, \"param\": 8, "
      "\"w16\": 1, \"out16\": 1, \"center\": 1}");
  std::string regs;
  int id = 20;
  for (const char *r : {"row_n", "row_x_zp", "row_out_zp", "row_min", "row_max",
                        "row_eps_lo", "row_eps_hi"})
    regs += std::string(", \"") + r + "\": {\"id\": " + std::to_string(id++) +
            ", \"engine\": \"VEC\"}";
  add("\"add_max\": {\"id\": 19, \"engine\": \"VEC\"}", regs);
  return text;
}

const Target &normTarget() {
  static const Target t = [] {
    Target r;
    const ember::Status st = parseTarget(normText(true), r);
    EXPECT_TRUE(st.isOk()) << st.message();
    return r;
  }();
  return t;
}

// One IntegerNormalization of x (dims xd, dtype xt) into `to`, with
// constant parameters of `count` entries (or a multiplier from an input).
struct NormGraph {
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
  int constant(const std::string &name, const std::string &dtype, int64_t count,
               int64_t each, size_t bytes) {
    const int v = value(name, dtype, {count});
    v1::Constant *c = g.add_constants();
    c->set_value(v);
    *c->mutable_data()->mutable_type() = g.values(v).type();
    std::string data(size_t(count) * bytes, '\0');
    for (int64_t k = 0; k < count; ++k)
      std::memcpy(&data[size_t(k) * bytes], &each, bytes); // little-endian
    c->mutable_data()->set_data(data);
    return v;
  }
  void attr(const char *name, int64_t v) {
    v1::Attribute *a = n->add_attributes();
    a->set_name(name);
    a->set_i(v);
  }

  NormGraph(const std::string &xt, const std::vector<int64_t> &xd,
            const std::string &yt, int64_t axis, int64_t count,
            bool hostMultiplier = false) {
    g.set_schema_version(1);
    const int x = value("x", xt, xd);
    g.add_inputs(x);
    int m = 0;
    if (hostMultiplier) {
      m = value("m", "i32", {count});
      g.add_inputs(m);
    } else {
      m = constant("m", "i32", count, 1500000000, 4);
    }
    const int s = constant("s", "i32", count, -2, 4);
    const int b = constant("b", "i64", count, 65536, 8);
    const int y = value("y", yt, xd);
    n = g.add_nodes();
    n->set_op("IntegerNormalization");
    n->set_name("ln");
    for (int k : {x, m, s, b})
      n->add_inputs(k);
    n->add_outputs(y);
    attr("axis", axis);
    attr("center", 1);
    attr("epsilon", 64);
    g.add_outputs(y);
    g.add_output_names("y");
  }

  std::string why() const {
    const std::vector<std::string> w = whyNot(normTarget(), g);
    return w.empty() ? "(no answer)" : w[0];
  }
};

} // namespace

TEST(AccelNorm, DescriptionNeedsTheOperations) {
  EXPECT_NE(normTarget().form("norm"), nullptr);
  Target t;
  const ember::Status st = parseTarget(normText(false), t);
  EXPECT_TRUE(st.failed());
  EXPECT_NE(st.message().find("ops.vreduce: missing"), std::string::npos)
      << st.message();
}

// Every node that meets the form's constraints runs; each that does not is
// refused naming the constraint.
TEST(AccelNorm, RefusalsNameTheConstraint) {
  auto has = [](const std::string &why, const char *part) {
    return why.find(part) != std::string::npos;
  };
  // A sequence and [tokens, C], per channel and per tensor.
  EXPECT_EQ(NormGraph("i8", {1, 4, 16}, "i8", 2, 16).why(), "");
  EXPECT_EQ(NormGraph("u8", {4, 40}, "u8", -1, 1).why(), "");
  EXPECT_PRED2(has, NormGraph("i8", {1, 2, 3, 16}, "i8", 3, 1).why(),
               "rank 4 (the norm form runs a sequence");
  EXPECT_PRED2(has, NormGraph("i8", {1, 4, 16}, "i8", 1, 1).why(),
               "normalizes the axes from 1 (the norm form normalizes the "
               "last axis alone)");
  EXPECT_PRED2(has, NormGraph("i8", {4, 16}, "i8", 1, 16, true).why(),
               "the multiplier, shift or bias is not a constant");
  EXPECT_PRED2(has, NormGraph("i16", {4, 16}, "i8", 1, 1).why(),
               "an int16 tensor (the target has no 16-bit rows");
  EXPECT_PRED2(has, NormGraph("i8", {4, 16}, "i16", 1, 1).why(),
               "an int16 tensor");
  EXPECT_PRED2(has, NormGraph("i32", {4, 16}, "i8", 1, 1).why(),
               "normalizes i32 into i8 (the norm form reads and writes i8, "
               "u8 or i16)");
  // edge-ws: 128 accumulator rows of 32 lanes: 31 tiles of parameters and
  // a token's two rows.
  EXPECT_EQ(NormGraph("i8", {2, 992}, "i8", 1, 1).why(), "");
  EXPECT_PRED2(has, NormGraph("i8", {2, 993}, "i8", 1, 1).why(),
               "993 channels (4 accumulator rows of parameters per channel "
               "tile: at most 992 in ACC)");
  // Neither one entry nor one per channel (the graph's own type rule
  // refuses it too; the form does not rely on that).
  EXPECT_PRED2(has, NormGraph("i8", {4, 16}, "i8", 1, 3).why(),
               "3 parameters (one, or one per channel: 16)");
}

TEST(AccelNorm, WithoutTheFormTheOpIsRefused) {
  NormGraph ng("i8", {1, 4, 16}, "i8", 2, 16);
  const std::vector<std::string> w = whyNot(testTarget("edge-ws"), ng.g);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "op IntegerNormalization is not in the forms of target "
                  "'edge-ws'");
}

TEST(AccelNorm, Claim) {
  int found = 0;
  for (const OpClaim &c : claimedOps(normTarget()))
    if (c.op == "IntegerNormalization") {
      ++found;
      EXPECT_EQ(c.dtypes, (std::vector<std::string>{"i8", "u8"}));
      EXPECT_EQ(c.minRank, 0u); // (its parameters may be scalars)
    }
  EXPECT_EQ(found, 1);
}

// A u8 normalization: a 1x1 pool layer over the tokens, the parameters in
// stored terms.
TEST(AccelNorm, BuildsAPoolLayerWithTheNormalization) {
  NormGraph ng("u8", {4, 40}, "u8", 1, 1);
  LayerProgram lp;
  const ember::Status st = buildLayers(normTarget(), ng.g, lp);
  ASSERT_TRUE(st.isOk()) << st.message();
  ASSERT_EQ(lp.layers.size(), 1u);
  const Layer &L = lp.layers[0];
  EXPECT_EQ(L.kind, Layer::Kind::Pool);
  EXPECT_EQ(L.pool.C, 40);
  EXPECT_EQ(L.pool.kh, 1);
  // center, epsilon, the zero points (x_zero_point 0 of u8, stored: -128)
  // and the clamp.
  EXPECT_EQ(L.attrs.at("norm.params"),
            (std::vector<int64_t>{1, 64, -128, -128, -128, 127}));
  EXPECT_EQ(L.attrs.at("norm.mult"), std::vector<int64_t>{1500000000});
  EXPECT_EQ(L.attrs.at("norm.bias"), std::vector<int64_t>{65536});
}

// The layer's predicted cycles (its blocks one after another, its operations
// as the reference simulator times them) are the simulated ones within 10%,
// over token counts that take one block or several and widths of one channel
// tile or several, with and without room to work in place.
TEST(AccelNorm, PredictedCyclesAreTheSimulatedOnes) {
  for (const std::vector<int64_t> &dims : std::vector<std::vector<int64_t>>{
           {1, 16}, {4, 40}, {37, 23}, {150, 96}, {600, 8}, {9, 200}}) {
    NormGraph ng("u8", dims, "u8", 1, dims[1]);
    const std::string what =
        "[" + std::to_string(dims[0]) + "," + std::to_string(dims[1]) + "]";
    LayerProgram lp;
    ASSERT_TRUE(buildLayers(normTarget(), ng.g, lp).isOk()) << what;
    Program prog;
    ASSERT_EQ(
        generateProgram(normTarget(), lp, CodegenOptions(), prog).message(), "")
        << what;
    packReference(normTarget(), lp, prog);
    SimStats st;
    ASSERT_EQ(simulateProgram(normTarget(), prog, {}, {}, SimOptions(), &st)
                  .message(),
              "")
        << what;
    expectPredictedCycles(prog, st, what);
  }
}

// The layer prints and parses back; a malformed one is refused naming the
// field.
TEST(AccelNorm, LayerAsText) {
  const Target &t = normTarget();
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
  L.name = "ln";
  L.nodes = {"ln"};
  L.pool.in = 0, L.pool.out = 1;
  L.pool.C = 40, L.pool.H = 1, L.pool.W = 4, L.pool.OH = 1, L.pool.OW = 4;
  L.attrs["norm.params"] = {0, 123456789012, -5, 3, -128, 127};
  L.attrs["norm.mult"] = {1500000000};
  L.attrs["norm.shift"] = {-2};
  L.attrs["norm.bias"] = {-70000};
  lp.layers.push_back(L);
  const std::string text = printLayers(t, lp);
  EXPECT_NE(text.find(" norm.bias=-70000 norm.mult=1500000000 "
                      "norm.params=0,123456789012,-5,3,-128,127 "
                      "norm.shift=-2"),
            std::string::npos)
      << text;
  LayerProgram back;
  ASSERT_TRUE(parseLayers(t, text, back).isOk());
  ASSERT_EQ(back.layers.size(), 1u);
  EXPECT_EQ(printLayers(t, back), text);
  EXPECT_EQ(back.layers[0].attrs, lp.layers[0].attrs);

  std::string two = text;
  two.replace(two.find("norm.mult=1500000000"), 20, "norm.mult=1,2");
  const ember::Status st = parseLayers(t, two, back);
  EXPECT_TRUE(st.failed());
  EXPECT_NE(st.message().find("norm.mult, norm.shift and norm.bias need 1 or "
                              "c entries"),
            std::string::npos)
      << st.message();
  std::string none = text;
  none.replace(none.find(" norm.params="), 13, " norm.nothing=");
  const ember::Status missing = parseLayers(t, none, back);
  EXPECT_TRUE(missing.failed());
  EXPECT_NE(missing.message().find("a normalization needs norm.params"),
            std::string::npos)
      << missing.message();
}

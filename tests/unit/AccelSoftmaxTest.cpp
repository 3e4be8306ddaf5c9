// Form softmax (core/accel/forms/Softmax.cpp): the IntegerSoftmax nodes it
// refuses and why, the description that names it, and its layer as text.
#include "AccelTestUtil.h"

#include "ember/accel/Select.h"
#include "ember/accel/Text.h"
#include "ember/backend/v1/graph.pb.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace ember::accel;
namespace v1 = ember::backend::v1;

namespace {

// The edge description with the softmax form and the row operations
// before spec version 10 (vreduce without exp, rscalar) and the output
// registers row_out_zp, row_min, row_max: no vrowexp.
std::string softmaxText() {
  std::string text = readTestTargetText("edge-ws");
  auto add = [&](const std::string &after, const std::string &what) {
    const size_t at = text.find(after);
    EXPECT_NE(at, std::string::npos) << after;
    if (at != std::string::npos)
      text.insert(at + after.size(), what);
  };
  add("{\"form\": \"reshape\"}", ", {\"form\": \"softmax\"}");
  add("\"runs\": [\"requant\", \"vadd\", \"pool\"",
      ", \"vreduce\", \"rscalar\"");
  add("\"finish\": {}",
      ", \"vreduce\": {\"dst\": 8, \"src\": 10, \"rows\": 10, \"len\": 10, "
      "\"gstride\": 10, \"kstride\": 10, \"last\": 6, \"w16\": 1, \"sum\": 1}, "
      "\"rscalar\": {\"dst\": 8, \"src\": 8, \"rows\": 8, \"rsqrt\": 1}");
  std::string regs;
  int id = 20;
  for (const char *r : {"row_out_zp", "row_min", "row_max"})
    regs += std::string(", \"") + r + "\": {\"id\": " + std::to_string(id++) +
            ", \"engine\": \"VEC\"}";
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

// Each node that does not meet the form's constraints is refused naming
// the constraint, before the target's operations.
TEST(AccelSoftmax, RefusalsNameTheConstraint) {
  EXPECT_PRED2(has, SoftmaxGraph("i8", {1, 2, 3, 16}, "i8", 3).why(),
               "rank 4 (the softmax form runs a sequence [B, S, C] or "
               "[tokens, C])");
  EXPECT_PRED2(has, SoftmaxGraph("i8", {1, 4, 16}, "i8", 1).why(),
               "a softmax along axis 1 (the softmax form runs along the last "
               "axis)");
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

// A node the form would run, on a description without vrowexp: refused
// naming the operation.
TEST(AccelSoftmax, WithoutTheOperationsTheOpIsRefused) {
  EXPECT_PRED2(has, SoftmaxGraph("i8", {1, 4, 16}, "i8", 2).why(),
               "the target has no vrowexp operation (the softmax form's)");
  // No claim in the manifest either.
  for (const OpClaim &c : claimedOps(softmaxTarget()))
    EXPECT_NE(c.op, "IntegerSoftmax");
}

TEST(AccelSoftmax, WithoutTheFormTheOpIsRefused) {
  SoftmaxGraph sg("i8", {1, 4, 16}, "i8", 2);
  const std::vector<std::string> w = whyNot(testTarget("edge-ws"), sg.g);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_EQ(w[0], "op IntegerSoftmax is not in the forms of target 'edge-ws'");
}

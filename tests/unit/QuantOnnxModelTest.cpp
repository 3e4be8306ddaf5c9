// The ONNX model helpers of `ember quantize` (core/quant/OnnxModel.h): the
// opset upgrade that per-axis QuantizeLinear/DequantizeLinear need.
#include "quant/OnnxModel.h"

#include <gtest/gtest.h>

using namespace ember;
using namespace ember::quant;

namespace {

void io(onnx::ValueInfoProto *v, const std::string &name,
        const std::vector<int64_t> &dims) {
  v->set_name(name);
  auto *tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims)
    tt->mutable_shape()->add_dim()->set_dim_value(d);
}

onnx::NodeProto *node(onnx::GraphProto &g, const std::string &op,
                      const std::vector<std::string> &in,
                      const std::vector<std::string> &out,
                      const std::string &name) {
  auto *n = g.add_node();
  n->set_op_type(op);
  n->set_name(name);
  for (auto &i : in)
    n->add_input(i);
  for (auto &o : out)
    n->add_output(o);
  return n;
}

} // namespace

// An opset-12 Softmax over a tensor whose shape is not written in the file
// (a MatMul's output with a symbolic batch, as exporters write it): ONNX's
// 12 -> 13 adapter needs its rank, which shape inference supplies.
TEST(OnnxModel, UpgradesASoftmaxWhoseShapeIsNotWritten) {
  onnx::ModelProto m;
  m.set_ir_version(7);
  m.add_opset_import()->set_version(12);
  auto &g = *m.mutable_graph();
  g.set_name("attention-scores");
  io(g.add_input(), "x", {1, 3, 4});
  g.mutable_input(0)
      ->mutable_type()
      ->mutable_tensor_type()
      ->mutable_shape()
      ->mutable_dim(0)
      ->set_dim_param("batch");
  io(g.add_output(), "y", {1, 3, 4});
  onnx::TensorProto *w = g.add_initializer();
  w->set_name("w");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(4);
  w->add_dims(4);
  for (int i = 0; i < 16; ++i)
    w->add_float_data(float(i % 5) * 0.25f - 0.5f);
  node(g, "MatMul", {"x", "w"}, {"s"}, "scores");
  auto *sm = node(g, "Softmax", {"s"}, {"y"}, "softmax");
  auto *axis = sm->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(2);
  Status st = upgradeForQdq(m, 13);
  ASSERT_TRUE(st.isOk()) << st.message();
  EXPECT_EQ(defaultOpset(m), 13);
  int softmax = 0;
  for (const auto &n : m.graph().node())
    softmax += n.op_type() == "Softmax";
  EXPECT_EQ(softmax, 1);
  EXPECT_EQ(m.graph().value_info_size(), 0); // only what the file had
}

TEST(OnnxModel, AnOpOnnxNoLongerDefinesIsNamedAtTheUpgrade) {
  onnx::ModelProto m;
  m.set_ir_version(3);
  m.add_opset_import()->set_version(7);
  auto &g = *m.mutable_graph();
  io(g.add_input(), "x", {1, 3, 4, 4});
  io(g.add_output(), "y", {1, 3, 4, 4});
  node(g, "ImageScaler", {"x"}, {"s"}, "scaler");
  node(g, "Relu", {"s"}, {"y"}, "relu");
  Status st = upgradeForQdq(m, 13);
  ASSERT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("node 'scaler' (ImageScaler) is an op ONNX no "
                              "longer defines"),
            std::string::npos)
      << st.message();
}

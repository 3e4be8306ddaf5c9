// Helpers of the quantizer's unit tests (QuantizerTest.cpp,
// QuantizerChannelsTest.cpp): seeded data, ONNX graphs built node by
// node, temporary folders and the reference interpreter's outputs.
#pragma once

#include "import/OnnxImporter.h"
#include "import/TensorIO.h"
#include "interp/Interpreter.h"
#include "quant/Quantizer.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace ember::quant_test {

using namespace ember::quant;

inline std::vector<float> gaussian(size_t n, uint64_t seed, float mean = 0,
                                   float sd = 1) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> d(mean, sd);
  std::vector<float> v(n);
  for (auto &x : v)
    x = d(rng);
  return v;
}

inline Tensor f32(Dims d, const std::vector<float> &v) {
  Tensor t(Type(ElemKind::F32, std::move(d)));
  for (size_t i = 0; i < v.size() && int64_t(i) < t.size(); ++i)
    t.data<float>()[i] = v[i];
  return t;
}

inline void addInit(onnx::GraphProto &g, const std::string &name,
                    const Tensor &t) {
  *g.add_initializer() = makeInitializer(name, t);
}

inline onnx::NodeProto *node(onnx::GraphProto &g, const std::string &op,
                             std::vector<std::string> in,
                             std::vector<std::string> out,
                             const std::string &name = "") {
  auto *n = g.add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? out[0] + "_node" : name);
  for (auto &i : in)
    n->add_input(i);
  for (auto &o : out)
    n->add_output(o);
  return n;
}

inline void io(onnx::ValueInfoProto *v, const std::string &name, Dims dims) {
  v->set_name(name);
  auto *tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims)
    tt->mutable_shape()->add_dim()->set_dim_value(d);
}

// An opset-13 model with input x of dims `in` and output y of dims `out`
// and no nodes yet.
inline onnx::ModelProto ioModel(Dims in, Dims out) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  io(m.mutable_graph()->add_input(), "x", std::move(in));
  io(m.mutable_graph()->add_output(), "y", std::move(out));
  return m;
}

// Sets integer attribute `name` (one value: INT, else INTS) of node n.
inline void intsAttr(onnx::NodeProto *n, const std::string &name,
                     const std::vector<int64_t> &v, bool one = false) {
  auto *a = n->add_attribute();
  a->set_name(name);
  if (one) {
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v.at(0));
    return;
  }
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t x : v)
    a->add_ints(x);
}

// x[1,2,6,6] -> Conv(3x3, 4 ch, bias) -> Relu -> MaxPool 2x2 -> Conv 1x1
// (3 ch, no bias) -> GlobalAveragePool -> Flatten -> Gemm(transB, C) ->
// Softmax -> y[1,5]
inline onnx::ModelProto smallModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto &g = *m.mutable_graph();
  g.set_name("small");
  io(g.add_input(), "x", {1, 2, 6, 6});
  io(g.add_output(), "y", {1, 5});
  addInit(g, "w1", f32({4, 2, 3, 3}, gaussian(72, 1, 0, 0.3f)));
  addInit(g, "b1", f32({4}, {0.1f, -0.2f, 0.05f, 0.3f}));
  addInit(g, "w2", f32({3, 4, 1, 1}, gaussian(12, 2, 0, 0.5f)));
  addInit(g, "wf", f32({5, 3}, gaussian(15, 3, 0, 0.7f)));
  addInit(g, "bf", f32({5}, {0, 0.1f, 0.2f, -0.1f, 0}));
  auto *c1 = node(g, "Conv", {"x", "w1", "b1"}, {"c1"}, "conv1");
  auto *pads = c1->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i)
    pads->add_ints(1);
  node(g, "Relu", {"c1"}, {"r1"}, "relu1");
  auto *mp = node(g, "MaxPool", {"r1"}, {"p1"}, "pool1");
  auto *ks = mp->add_attribute();
  ks->set_name("kernel_shape");
  ks->set_type(onnx::AttributeProto::INTS);
  ks->add_ints(2);
  ks->add_ints(2);
  auto *st = mp->add_attribute();
  st->set_name("strides");
  st->set_type(onnx::AttributeProto::INTS);
  st->add_ints(2);
  st->add_ints(2);
  node(g, "Conv", {"p1", "w2"}, {"c2"}, "conv2");
  node(g, "GlobalAveragePool", {"c2"}, {"gap"}, "gap");
  node(g, "Flatten", {"gap"}, {"flat"}, "flatten");
  auto *gm = node(g, "Gemm", {"flat", "wf", "bf"}, {"logits"}, "fc");
  auto *tb = gm->add_attribute();
  tb->set_name("transB");
  tb->set_type(onnx::AttributeProto::INT);
  tb->set_i(1);
  node(g, "Softmax", {"logits"}, {"y"}, "softmax");
  return m;
}

inline std::string tempDir(const std::string &tag) {
  std::string d = ::testing::TempDir() + "ember_quant_" + tag + "_" +
                  std::to_string(getpid());
  mkdir(d.c_str(), 0755);
  return d;
}

inline bool exists(const std::string &p) {
  struct stat s;
  return stat(p.c_str(), &s) == 0;
}

inline Expected<std::vector<Tensor>> runModel(const onnx::ModelProto &m,
                                              const Tensor &x) {
  std::string bytes;
  m.SerializeToString(&bytes);
  EMBER_ASSIGN(auto mod, importOnnxBytes(bytes, ".", {}));
  return interpret(*mod->main(), {x});
}

inline int countOps(const onnx::ModelProto &m, const std::string &op) {
  int n = 0;
  for (auto &x : m.graph().node())
    n += x.op_type() == op;
  return n;
}

// x[1,3,5,5] -> Conv 1x1 (4 ch, bias) -> Relu or Clip(0, 6) -> depthwise
// Conv 3x3 (4 groups, pads 1) -> y[1,4,5,5]. Conv1's channel 0 is 8x and
// channel 1 4x larger than the others.
inline onnx::ModelProto actEqModel(bool clip, float lo = 0, float hi = 6) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto &g = *m.mutable_graph();
  io(g.add_input(), "x", {1, 3, 5, 5});
  io(g.add_output(), "y", {1, 4, 5, 5});
  auto w1 = gaussian(4 * 3, 41, 0, 0.5f);
  for (int k = 0; k < 3; ++k) {
    w1[size_t(k)] *= 8.0f;
    w1[size_t(3 + k)] *= 4.0f;
  }
  addInit(g, "w1", f32({4, 3, 1, 1}, w1));
  addInit(g, "b1", f32({4}, {0.5f, 0.2f, 0.1f, 0.3f}));
  addInit(g, "w2", f32({4, 1, 3, 3}, gaussian(36, 42, 0, 0.3f)));
  node(g, "Conv", {"x", "w1", "b1"}, {"a"}, "c1");
  if (clip) {
    addInit(g, "lo", f32({}, {lo}));
    addInit(g, "hi", f32({}, {hi}));
    node(g, "Clip", {"a", "lo", "hi"}, {"r"}, "clip");
  } else {
    node(g, "Relu", {"a"}, {"r"}, "relu");
  }
  auto *c2 = node(g, "Conv", {"r", "w2"}, {"y"}, "c2");
  auto *grp = c2->add_attribute();
  grp->set_name("group");
  grp->set_type(onnx::AttributeProto::INT);
  grp->set_i(4);
  auto *pads = c2->add_attribute();
  pads->set_name("pads");
  pads->set_type(onnx::AttributeProto::INTS);
  for (int i = 0; i < 4; ++i)
    pads->add_ints(1);
  return m;
}

// The two models compute the same on every sample (relative 1e-4).
inline void expectSameOutputs(const onnx::ModelProto &a,
                              const onnx::ModelProto &b,
                              const std::vector<Sample> &samples) {
  for (auto &s : samples) {
    auto y0 = runModel(a, s.inputs[0]), y1 = runModel(b, s.inputs[0]);
    ASSERT_TRUE(y0.hasValue() && y1.hasValue());
    for (int64_t i = 0; i < (*y0)[0].size(); ++i)
      EXPECT_NEAR((*y1)[0].data<float>()[i], (*y0)[0].data<float>()[i],
                  1e-4 * (1 + std::fabs((*y0)[0].data<float>()[i])))
          << s.name << " element " << i;
  }
}

inline std::vector<Sample> actEqSamples(int n, float sd) {
  std::vector<Sample> s;
  for (int i = 0; i < n; ++i) {
    Sample x;
    x.name = "s" + std::to_string(i);
    x.inputs.push_back(
        f32({1, 3, 5, 5}, gaussian(75, 50 + uint64_t(i), 0, sd)));
    s.push_back(std::move(x));
  }
  return s;
}

// Writes `m` and four calibration samples x[1,3,5,5] ~ N(0, sd) (seeds
// seed, seed + 1, ...) to folder d, and sets `o` to quantize them (no
// refinement) with a profile out.
inline void writeEqRun(const std::string &d, const onnx::ModelProto &m,
                       uint64_t seed, float sd, QuantizeOptions &o) {
  std::string calib = d + "/calib";
  mkdir(calib.c_str(), 0755);
  o = QuantizeOptions();
  o.model = d + "/model.onnx";
  ASSERT_TRUE(writeOnnxModelAtomically(m, o.model).isOk());
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(writeTensorFile(
                    f32({1, 3, 5, 5}, gaussian(75, seed + uint64_t(i), 0, sd)),
                    calib + "/x" + std::to_string(i) + ".npy")
                    .isOk());
  o.calibrationDir = calib;
  o.output = d + "/q.onnx";
  o.profileOut = d + "/p.json";
  o.refineRanges = false;
}

// `o` again from the profile it wrote alone (no samples), into `output`.
inline QuantizeOptions fromProfile(const QuantizeOptions &o,
                                   const std::string &output) {
  QuantizeOptions p = o;
  p.calibrationDir.clear();
  p.profileIn = o.profileOut;
  p.profileOut.clear();
  p.output = output;
  return p;
}

} // namespace ember::quant_test

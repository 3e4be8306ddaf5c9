// Tests of `ember quantize`'s library (core/quant): observers and range
// methods, the profile format and graph hash, the QDQ plan and rewrite,
// bias correction, cross-layer equalization, calibration folders and the
// whole flow on a small model (reference interpreter, so no plugin needed).
#include "quant/Quantizer.h"
#include "QuantizerTestUtil.h"
#include "import/OnnxImporter.h"
#include "import/TensorIO.h"
#include "interp/Interpreter.h"
#include "quant/ActEqualization.h"
#include "quant/Equalization.h"
#include "quant/QdqRewrite.h"
#include "quant/Refine.h"
#include "quant/ResidualEqualization.h"
#include "support/Json.h"

#include <algorithm>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

using namespace ember;
using namespace ember::quant;

using namespace ember::quant_test;

TEST(Histogram, ExactMinMaxCountAndGrowth) {
  Histogram h;
  std::vector<float> a = {0.5f, 0.25f, 0.0f, 0.75f};
  h.add(a.data(), 4);
  std::vector<float> b = {-100.f, 300.f};
  h.add(b.data(), 2);
  EXPECT_EQ(h.count(), 6u);
  EXPECT_EQ(h.zeros(), 1u);
  EXPECT_EQ(h.min(), -100.0);
  EXPECT_EQ(h.max(), 300.0);
  EXPECT_LE(int64_t(h.counts().size()), Histogram::kMaxBins);
  uint64_t total = 0;
  for (auto c : h.counts())
    total += c;
  EXPECT_EQ(total, 6u);
  int e = 0;
  EXPECT_EQ(std::frexp(h.binWidth(), &e), 0.5); // a power of two
  EXPECT_LE(h.binLo(0), -100.0);
  EXPECT_GT(h.binLo(h.counts().size() - 1) + h.binWidth(), 300.0);
}

TEST(Histogram, MergeEqualsOneStream) {
  auto v = gaussian(5000, 7);
  auto w = gaussian(5000, 8, 3.0f, 4.0f);
  Histogram one, a, b;
  one.add(v.data(), int64_t(v.size()));
  one.add(w.data(), int64_t(w.size()));
  a.add(v.data(), int64_t(v.size()));
  b.add(w.data(), int64_t(w.size()));
  a.merge(b);
  EXPECT_EQ(a.count(), one.count());
  EXPECT_EQ(a.min(), one.min());
  EXPECT_EQ(a.max(), one.max());
  // Same width and same counts once aligned.
  EXPECT_EQ(a.binWidth(), one.binWidth());
  EXPECT_EQ(a.firstBin(), one.firstBin());
  EXPECT_EQ(a.counts(), one.counts());
}

TEST(Histogram, QuantileOfUniform) {
  std::vector<float> v(10001);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = float(i) / 10000.0f;
  Histogram h;
  h.add(v.data(), int64_t(v.size()));
  EXPECT_NEAR(h.quantile(0.5), 0.5, 2e-3);
  EXPECT_NEAR(h.quantile(0.99), 0.99, 2e-3);
  EXPECT_EQ(h.quantile(1.0), 1.0);
  EXPECT_EQ(h.quantile(0.0), 0.0);
}

TEST(RangeMethods, OutliersAndShapes) {
  auto v = gaussian(100000, 11);
  v.push_back(60.0f); // one outlier
  Histogram h;
  h.add(v.data(), int64_t(v.size()));
  Range mm = chooseRange(h, Method::MinMax);
  EXPECT_EQ(mm.hi, 60.0);
  EXPECT_EQ(mm.lo, h.min());
  for (Method m : {Method::Percentile, Method::Entropy}) {
    Range r = chooseRange(h, m);
    EXPECT_LT(r.hi, 20.0) << methodName(m); // the outlier is clipped
    EXPECT_GT(r.hi, 2.0) << methodName(m);
    EXPECT_LT(r.lo, -2.0) << methodName(m);
    EXPECT_LE(r.lo, 0.0);
    EXPECT_GE(r.hi, 0.0);
  }
  // MSE minimizes the expected error: no other method's range beats it.
  Range best = chooseRange(h, Method::Mse);
  double e = quantizationError(h, best.lo, best.hi, 256);
  for (Method m : {Method::MinMax, Method::Percentile, Method::Entropy}) {
    Range r = chooseRange(h, m);
    EXPECT_LE(e, quantizationError(h, r.lo, r.hi, 256) * 1.0001)
        << methodName(m);
  }
  // With many outliers, clipping them pays and MSE does.
  std::vector<float> heavy = gaussian(100000, 13);
  for (int i = 0; i < 20; ++i)
    heavy.push_back(30.0f + float(i));
  Histogram hh;
  hh.add(heavy.data(), int64_t(heavy.size()));
  EXPECT_LT(chooseRange(hh, Method::Mse).hi, 49.0);
  // One-sided data keeps 0 as its lower end.
  std::vector<float> pos;
  for (float x : gaussian(20000, 12))
    pos.push_back(std::fabs(x));
  Histogram hp;
  hp.add(pos.data(), int64_t(pos.size()));
  for (Method m :
       {Method::MinMax, Method::Percentile, Method::Entropy, Method::Mse})
    EXPECT_EQ(chooseRange(hp, m).lo, 0.0) << methodName(m);
  EXPECT_FALSE(methodFromName("kl").hasValue());
}

TEST(RangeMethods, AffineParamsKeepZeroExact) {
  QParams p = affineParams({0, 2.55}, 0, 255);
  EXPECT_FLOAT_EQ(p.scale, 0.01f);
  EXPECT_EQ(p.zeroPoint, 0);
  p = affineParams({-1.0, 3.0}, 0, 255);
  EXPECT_EQ(p.zeroPoint, 64);
  p = affineParams({-1.0, 1.0}, -128, 127);
  EXPECT_GE(p.zeroPoint, -128);
  EXPECT_LE(p.zeroPoint, 127);
  p = affineParams({0, 0}, 0, 255); // an all-zero tensor
  EXPECT_GT(p.scale, 0.0f);
  QParams s = symmetricParams(1.27, 127);
  EXPECT_FLOAT_EQ(s.scale, 0.01f);
  EXPECT_EQ(s.zeroPoint, 0);
}

TEST(Json, RoundTripAndErrors) {
  auto v = parseJson("{\"a\": [1, 2.5, -3e2], \"b\": \"x\\ny\", \"c\": true, "
                     "\"d\": null}");
  ASSERT_TRUE(v.hasValue()) << v.status().message();
  ASSERT_TRUE(v->get("a") && v->get("a")->isArray());
  EXPECT_EQ(v->get("a")->items()[2].num(), -300.0);
  EXPECT_EQ(v->get("b")->str(), "x\ny");
  auto bad = parseJson("{\"a\": [1,\n 2,, 3]}");
  ASSERT_FALSE(bad.hasValue());
  EXPECT_NE(bad.status().message().find("line 2"), std::string::npos);
  for (double x : {0.1, 1.0 / 3.0, 1e-300, 123456789.0, -2.5})
    EXPECT_EQ(std::strtod(jsonNumber(x).c_str(), nullptr), x);
}

TEST(Profile, JsonRoundTrip) {
  Profile p;
  p.graphHash = "0123456789abcdef";
  p.model = "m.onnx";
  p.preprocess = "opset>=13";
  p.samples = 3;
  p.inputShapes["x"] = {1, 2, 6, 6};
  TensorStats st;
  st.channelAxis = 1;
  auto v = gaussian(2 * 36, 5);
  st.add(v.data(), {1, 2, 6, 6});
  p.tensors["t"] = st;
  std::string j = profileToJson(p);
  auto q = profileFromJson(j, "p.json");
  ASSERT_TRUE(q.hasValue()) << q.status().message();
  EXPECT_EQ(q->graphHash, p.graphHash);
  EXPECT_EQ(q->inputShapes.at("x"), p.inputShapes.at("x"));
  const TensorStats &r = q->tensors.at("t");
  EXPECT_EQ(r.hist.counts(), st.hist.counts());
  EXPECT_EQ(r.hist.min(), st.hist.min());
  EXPECT_EQ(r.hist.binWidth(), st.hist.binWidth());
  EXPECT_EQ(r.channelMean(), st.channelMean());
  EXPECT_EQ(profileToJson(*q), j);
  // Corruptions are errors that name the file.
  std::string broken = j;
  broken.replace(broken.find("\"count\": "), 10, "\"count\": 9");
  auto e = profileFromJson(broken, "p.json");
  ASSERT_FALSE(e.hasValue());
  EXPECT_NE(e.status().message().find("p.json"), std::string::npos);
  EXPECT_FALSE(profileFromJson("{\"format\": \"other\"}", "p").hasValue());
}

TEST(GraphHash, ContentNotNames) {
  onnx::ModelProto a = smallModel(), b = smallModel();
  EXPECT_EQ(graphHash(a), graphHash(b));
  b.mutable_graph()->mutable_node(0)->set_name("renamed");
  b.set_doc_string("docs do not count");
  EXPECT_EQ(graphHash(a), graphHash(b));
  // A weight value does.
  Tensor w = *initializerTensor(b.graph().initializer(0));
  w.data<float>()[0] += 1.0f;
  *b.mutable_graph()->mutable_initializer(0) =
      makeInitializer(b.graph().initializer(0).name(), w);
  EXPECT_NE(graphHash(a), graphHash(b));
}

TEST(QdqPlan, GroupsAndTensors) {
  onnx::ModelProto m = smallModel();
  auto info = inspectTensors(m, {});
  ASSERT_TRUE(info.hasValue()) << info.status().message();
  auto plan = planQdq(m, *info, {});
  ASSERT_TRUE(plan.hasValue()) << plan.status().message();
  // conv1+relu1, pool1, conv2, gap, flatten, fc; softmax stays float.
  ASSERT_EQ(plan->groups.size(), 6u);
  EXPECT_EQ(plan->groups[0].kind, GroupKind::Linear);
  EXPECT_EQ(plan->groups[0].activation, 1);
  EXPECT_EQ(plan->groups[1].kind, GroupKind::SharedPool);
  EXPECT_EQ(plan->groups[4].kind, GroupKind::Movement);
  // The classifier's softmax stays float on purpose (only the graph output
  // reads its probabilities), without a note.
  EXPECT_TRUE(plan->noInt8Form.empty());
  EXPECT_EQ(plan->groupOf.back(), -1);
  // The conv's raw output is folded into the Relu: no Q/DQ on it.
  EXPECT_EQ(plan->spec("c1"), nullptr);
  ASSERT_NE(plan->spec("p1"), nullptr);
  EXPECT_EQ(plan->spec("p1")->shareWith, "r1");
  EXPECT_EQ(plan->spec("flat")->shareWith, "gap");
  EXPECT_TRUE(plan->spec("x")->graphInput);
  EXPECT_EQ(plan->observed.at("x"), 1); // channel means for bias correction
  EXPECT_EQ(plan->observed.count("p1"), 1u);
  EXPECT_EQ(plan->weights.size(), 3u);
  EXPECT_EQ(plan->weights[2].axis, 0); // Gemm transB: rows are channels
  EXPECT_EQ(plan->biases.size(), 2u);
  // --keep-float by node name and by tensor name.
  PlanOptions po;
  po.keepFloat = {"fc", "c2", "nothing"};
  auto p2 = planQdq(m, *info, po);
  ASSERT_TRUE(p2.hasValue());
  EXPECT_EQ(p2->groups.size(), 4u);
  EXPECT_EQ(p2->unmatchedKeepFloat, std::vector<std::string>{"nothing"});
}

// A Concat whose first input is a constant (a ViT's class token before the
// patch tokens) is quantized like any Concat: the constant quantized, the
// activation inputs with their own parameters. A Concat of constants alone
// is not (it folds).
TEST(QdqPlan, ConcatWithAConstantFirst) {
  onnx::ModelProto m = ioModel({1, 4, 8}, {1, 5, 8});
  auto &g = *m.mutable_graph();
  addInit(g, "cls", f32({1, 1, 8}, gaussian(8, 7, 0, 0.5f)));
  node(g, "Relu", {"x"}, {"r"}, "relu");
  intsAttr(node(g, "Concat", {"cls", "r"}, {"y"}, "concat"), "axis", {1}, true);
  auto info = inspectTensors(m, {});
  ASSERT_TRUE(info.hasValue()) << info.status().message();
  auto plan = planQdq(m, *info, {});
  ASSERT_TRUE(plan.hasValue()) << plan.status().message();
  EXPECT_TRUE(plan->noInt8Form.empty());
  EXPECT_GE(plan->groupOf[1], 0); // the Concat
  ASSERT_EQ(plan->constants.size(), 1u);
  EXPECT_EQ(plan->constants[0].tensor, "cls");
  EXPECT_NE(plan->spec("y"), nullptr);
}

TEST(QdqRewrite, StandardQdqModelThatComputesTheSame) {
  onnx::ModelProto m = smallModel();
  auto info = inspectTensors(m, {});
  ASSERT_TRUE(info.hasValue());
  auto plan = planQdq(m, *info, {});
  ASSERT_TRUE(plan.hasValue());
  Tensor x = f32({1, 2, 6, 6}, gaussian(72, 21));
  // Parameters from the fp32 tensors of this one input (minmax).
  auto ref = runModel(m, x);
  ASSERT_TRUE(ref.hasValue()) << ref.status().message();
  std::vector<std::string> names;
  for (auto &kv : plan->observed)
    names.push_back(kv.first);
  auto im = InstrumentedModel::create(m, names, {}, {});
  ASSERT_TRUE(im.hasValue()) << im.status().message();
  auto vals = (*im)->run({x});
  ASSERT_TRUE(vals.hasValue()) << vals.status().message();
  std::map<std::string, QParams> params;
  for (auto &kv : plan->observed) {
    Histogram h;
    const Tensor &t = vals->at(kv.first);
    h.add(t.data<float>(), t.size());
    params[kv.first] = affineParams(chooseRange(h, Method::MinMax), 0, 255);
  }
  RewriteOptions ro;
  ro.biasCorrection = false;
  RewriteStats rs;
  auto q = rewriteQdq(m, *plan, params, {}, ro, &rs);
  ASSERT_TRUE(q.hasValue()) << q.status().message();
  EXPECT_EQ(rs.weights, 3u);
  EXPECT_EQ(rs.biases, 2u);
  EXPECT_EQ(countOps(*q, "QuantizeLinear"), int(plan->tensors.size()));
  // Every original node is still there, under its name.
  for (auto &n : m.graph().node()) {
    bool found = false;
    for (auto &k : q->graph().node())
      found = found || (k.name() == n.name() && k.op_type() == n.op_type());
    EXPECT_TRUE(found) << n.name();
  }
  EXPECT_EQ(q->graph().output(0).name(), "y");
  // Weights are int8 per channel; the conv bias is int32 at sx * sw.
  const onnx::TensorProto *w1q = nullptr, *w1s = nullptr, *b1s = nullptr,
                          *xs = nullptr;
  for (auto &i : q->graph().initializer()) {
    if (i.name() == "w1_quantized")
      w1q = &i;
    if (i.name() == "w1_scale")
      w1s = &i;
    if (i.name() == "b1_scale")
      b1s = &i;
    if (i.name() == "x_scale")
      xs = &i;
    EXPECT_NE(i.name(), "w1"); // the float weight is gone
  }
  ASSERT_TRUE(w1q && w1s && b1s && xs);
  EXPECT_EQ(w1q->data_type(), onnx::TensorProto::INT8);
  Tensor ws = *initializerTensor(*w1s), bs = *initializerTensor(*b1s),
         sx = *initializerTensor(*xs);
  ASSERT_EQ(ws.size(), 4);
  for (int c = 0; c < 4; ++c)
    EXPECT_EQ(bs.data<float>()[c], sx.data<float>()[0] * ws.data<float>()[c]);
  // The QDQ model computes nearly what the float one does.
  auto out = runModel(*q, x);
  ASSERT_TRUE(out.hasValue()) << out.status().message();
  for (int64_t i = 0; i < 5; ++i)
    EXPECT_NEAR((*out)[0].data<float>()[i], (*ref)[0].data<float>()[i], 0.02);
}

namespace {
// y = x W + b: x [4,3], W [3,2], b [2]; the bias-correction tests' model.
onnx::ModelProto smallGemm() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto &g = *m.mutable_graph();
  io(g.add_input(), "x", {4, 3});
  io(g.add_output(), "y", {4, 2});
  addInit(g, "w", f32({3, 2}, {0.013f, 0.5f, -0.337f, 0.121f, 0.999f, -0.4f}));
  addInit(g, "b", f32({2}, {0.25f, -0.75f}));
  node(g, "Gemm", {"x", "w", "b"}, {"y"}, "fc");
  return m;
}
} // namespace

TEST(QdqRewrite, BiasCorrectionRemovesTheWeightRoundingShift) {
  // y = W x + b with x of known mean: the corrected bias makes E[W_q x + b']
  // equal E[W x + b].
  onnx::ModelProto m = smallGemm();
  auto info = inspectTensors(m, {});
  ASSERT_TRUE(info.hasValue());
  auto plan = planQdq(m, *info, {});
  ASSERT_TRUE(plan.hasValue());
  std::map<std::string, QParams> params = {{"x", {0.01f, 128}},
                                           {"y", {0.01f, 128}}};
  std::vector<double> mean = {2.0, -1.0, 0.5};
  RewriteOptions ro;
  auto q = rewriteQdq(m, *plan, params, {{"x", mean}}, ro, nullptr);
  ASSERT_TRUE(q.hasValue()) << q.status().message();
  Tensor W = *initializerTensor(m.graph().initializer(0));
  QuantizedWeight qw = quantizeWeight(W, 1);
  Tensor bq, bsc;
  for (auto &i : q->graph().initializer()) {
    if (i.name() == "b_quantized")
      bq = *initializerTensor(i);
    if (i.name() == "b_scale")
      bsc = *initializerTensor(i);
  }
  ASSERT_EQ(bq.elem(), ElemKind::I32);
  for (int o = 0; o < 2; ++o) {
    double shift = 0;
    for (int k = 0; k < 3; ++k)
      shift += (double(qw.q.data<int8_t>()[k * 2 + o]) * qw.scales[size_t(o)] -
                double(W.data<float>()[k * 2 + o])) *
               mean[size_t(k)];
    double want = std::nearbyint((double(o ? -0.75f : 0.25f) - shift) /
                                 double(bsc.data<float>()[o]));
    EXPECT_EQ(bq.data<int32_t>()[o], int32_t(want));
  }
}

TEST(Equalization, SameFunctionEqualRanges) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto &g = *m.mutable_graph();
  io(g.add_input(), "x", {1, 3, 5, 5});
  io(g.add_output(), "y", {1, 2, 5, 5});
  // Channel ranges that differ by 100x.
  auto w1 = gaussian(4 * 3, 31, 0, 1.0f);
  for (int k = 0; k < 3; ++k)
    w1[size_t(k)] *= 100.0f;
  addInit(g, "w1", f32({4, 3, 1, 1}, w1));
  addInit(g, "b1", f32({4}, {1, 2, 3, 4}));
  addInit(g, "w2", f32({2, 4, 1, 1}, gaussian(8, 32)));
  node(g, "Conv", {"x", "w1", "b1"}, {"a"}, "c1");
  node(g, "Relu", {"a"}, {"r"}, "relu");
  node(g, "Conv", {"r", "w2"}, {"y"}, "c2");
  Tensor x = f32({1, 3, 5, 5}, gaussian(75, 33));
  auto before = runModel(m, x);
  ASSERT_TRUE(before.hasValue());
  onnx::ModelProto e = m;
  auto st = equalizeCrossLayer(e);
  ASSERT_TRUE(st.hasValue()) << st.status().message();
  EXPECT_EQ(st->pairs, 1u);
  auto after = runModel(e, x);
  ASSERT_TRUE(after.hasValue());
  for (int64_t i = 0; i < (*before)[0].size(); ++i)
    EXPECT_NEAR((*after)[0].data<float>()[i], (*before)[0].data<float>()[i],
                1e-3 * (1 + std::fabs((*before)[0].data<float>()[i])));
  // Per channel, conv1's output range equals conv2's input range.
  Tensor a = *initializerTensor(e.graph().initializer(0));
  Tensor b = *initializerTensor(e.graph().initializer(2));
  for (int c = 0; c < 4; ++c) {
    double r1 = 0, r2 = 0;
    for (int k = 0; k < 3; ++k)
      r1 = std::max(r1, double(std::fabs(a.data<float>()[c * 3 + k])));
    for (int o = 0; o < 2; ++o)
      r2 = std::max(r2, double(std::fabs(b.data<float>()[o * 4 + c])));
    EXPECT_NEAR(r1, r2, 1e-3 * r1);
  }
}

TEST(Calibration, FolderErrors) {
  std::vector<InputDecl> in(1);
  in[0].name = "x";
  in[0].dims = {-1, 2};
  in[0].hasShape = true;
  std::string d = tempDir("calib");
  auto r = loadCalibrationDir(d, in);
  ASSERT_FALSE(r.hasValue());
  EXPECT_NE(r.status().message().find("no calibration samples"),
            std::string::npos);
  EXPECT_FALSE(loadCalibrationDir(d + "/missing", in).hasValue());
  ASSERT_TRUE(writeTensorFile(f32({1, 2}, {1, 2}), d + "/s2.npy").isOk());
  ASSERT_TRUE(writeTensorFile(f32({1, 2}, {3, 4}), d + "/s10.npy").isOk());
  auto ok = loadCalibrationDir(d, in);
  ASSERT_TRUE(ok.hasValue()) << ok.status().message();
  ASSERT_EQ(ok->size(), 2u);
  EXPECT_EQ(ok->at(1).inputs[0].data<float>()[0], 3.0f); // natural order
  ASSERT_TRUE(
      writeTensorFile(f32({1, 2}, {1, std::nanf("")}), d + "/s3.npy").isOk());
  r = loadCalibrationDir(d, in);
  ASSERT_FALSE(r.hasValue());
  EXPECT_NE(r.status().message().find("NaN"), std::string::npos);
  EXPECT_NE(r.status().message().find("s3.npy"), std::string::npos);
  ASSERT_TRUE(writeTensorFile(f32({1, 3}, {1, 2, 3}), d + "/s3.npy").isOk());
  r = loadCalibrationDir(d, in);
  ASSERT_FALSE(r.hasValue());
  EXPECT_NE(r.status().message().find("declared"), std::string::npos);
  std::vector<InputDecl> two = {in[0], in[0]};
  two[1].name = "z";
  EXPECT_FALSE(loadCalibrationDir(d, two).hasValue()); // .npy: one input
}

TEST(Quantize, EndToEndWithProfile) {
  std::string d = tempDir("e2e");
  std::string model = d + "/model.onnx", calib = d + "/calib";
  mkdir(calib.c_str(), 0755);
  ASSERT_TRUE(writeOnnxModelAtomically(smallModel(), model).isOk());
  for (int i = 0; i < 4; ++i)
    ASSERT_TRUE(writeTensorFile(f32({1, 2, 6, 6}, gaussian(72, 100 + i)),
                                calib + "/x" + std::to_string(i) + ".npy")
                    .isOk());
  QuantizeOptions o;
  o.model = model;
  o.calibrationDir = calib;
  o.output = d + "/q.onnx";
  o.profileOut = d + "/p.json";
  Status s = quantizeModel(o);
  ASSERT_TRUE(s.isOk()) << s.message();
  ASSERT_TRUE(exists(o.output) && exists(o.profileOut));
  auto q1 = readFileBytes(o.output);
  // The profile reproduces the model byte for byte (with the samples the
  // layer-wise refinement reads; no calibration runs).
  QuantizeOptions p = o;
  p.profileIn = o.profileOut;
  p.profileOut.clear();
  p.output = d + "/q2.onnx";
  s = quantizeModel(p);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(*readFileBytes(p.output), *q1);
  // Without samples, the profile alone quantizes (no refinement) as a run
  // without refinement does.
  {
    QuantizeOptions n = o;
    n.profileOut.clear();
    n.refineRanges = n.refineBias = false;
    n.output = d + "/n1.onnx";
    ASSERT_TRUE(quantizeModel(n).isOk());
    QuantizeOptions n2 = p;
    n2.calibrationDir.clear();
    n2.output = d + "/n2.onnx";
    s = quantizeModel(n2);
    ASSERT_TRUE(s.isOk()) << s.message();
    auto b1 = readFileBytes(n.output), b2 = readFileBytes(n2.output);
    EXPECT_EQ(*b1, *b2);
  }
  // A profile of another graph is refused, and nothing is written.
  onnx::ModelProto other = smallModel();
  other.mutable_graph()->mutable_initializer(1)->set_raw_data(
      std::string(16, '\0'));
  ASSERT_TRUE(writeOnnxModelAtomically(other, d + "/other.onnx").isOk());
  p.model = d + "/other.onnx";
  p.output = d + "/q3.onnx";
  s = quantizeModel(p);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("another graph"), std::string::npos);
  EXPECT_FALSE(exists(p.output));
  // Unknown --keep-float.
  QuantizeOptions k = o;
  k.profileOut.clear();
  k.output = d + "/q4.onnx";
  k.keepFloat = {"no_such_node"};
  s = quantizeModel(k);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("no_such_node"), std::string::npos);
  EXPECT_FALSE(exists(k.output));
  // Methods and options all produce a model.
  for (Method m : {Method::MinMax, Method::Entropy, Method::Mse}) {
    QuantizeOptions v = o;
    v.profileOut.clear();
    v.method = m;
    v.perChannel = m != Method::Mse;
    v.activationType = m == Method::Entropy ? ElemKind::I8 : ElemKind::U8;
    v.output = d + "/v.onnx";
    s = quantizeModel(v);
    EXPECT_TRUE(s.isOk()) << methodName(m) << ": " << s.message();
  }
}

// Method auto: minmax for a graph with attention. A CNN classifier's Softmax
// and a MatMul whose B is computed from initializers alone (a transposed
// weight) are not attention; Q x K^T of two projections is.
TEST(Quantize, AttentionIsASoftmaxAndAProductOfTwoActivations) {
  onnx::GraphProto cnn = smallModel().graph();
  EXPECT_FALSE(hasAttention(cnn));
  addInit(cnn, "wt", f32({3, 5}, gaussian(15, 4, 0, 0.7f)));
  node(cnn, "Transpose", {"wt"}, {"wtt"});
  node(cnn, "MatMul", {"flat", "wtt"}, {"mm"});
  EXPECT_FALSE(hasAttention(cnn)); // B folds from an initializer
  onnx::GraphProto att;
  addInit(att, "wq", f32({4, 4}, gaussian(16, 5, 0, 0.5f)));
  addInit(att, "wk", f32({4, 4}, gaussian(16, 6, 0, 0.5f)));
  node(att, "MatMul", {"x", "wq"}, {"q"});
  node(att, "MatMul", {"x", "wk"}, {"k"});
  node(att, "Transpose", {"k"}, {"kt"});
  node(att, "MatMul", {"q", "kt"}, {"s"});
  EXPECT_FALSE(hasAttention(att)); // no Softmax yet
  node(att, "Softmax", {"s"}, {"p"});
  EXPECT_TRUE(hasAttention(att));
}

// What method auto resolves to, as the output model's metadata records it:
// a CNN keeps percentile ranges refined by output error; a graph with
// attention gets minmax ranges, not refined unless --refine asks.
TEST(Quantize, AutoMethodPerGraph) {
  std::string d = tempDir("auto");
  auto metadata = [](const std::string &path) {
    auto m = loadOnnxModel(path);
    std::string v;
    if (m)
      for (auto &p : m->metadata_props())
        if (p.key() == "ember.quantize")
          v = p.value();
    return v;
  };
  auto run = [&](const onnx::ModelProto &m, Dims in, const std::string &tag,
                 bool refineGiven) {
    std::string dir = d + "/" + tag, calib = dir + "/calib";
    mkdir(dir.c_str(), 0755);
    mkdir(calib.c_str(), 0755);
    QuantizeOptions o;
    o.model = dir + "/model.onnx";
    EXPECT_TRUE(writeOnnxModelAtomically(m, o.model).isOk());
    int64_t n = 1;
    for (int64_t e : in)
      n *= e;
    for (int i = 0; i < 4; ++i)
      EXPECT_TRUE(writeTensorFile(f32(in, gaussian(size_t(n), 300 + i)),
                                  calib + "/x" + std::to_string(i) + ".npy")
                      .isOk());
    o.calibrationDir = calib;
    o.output = dir + "/q.onnx";
    o.refineGiven = refineGiven;
    Status s = quantizeModel(o);
    EXPECT_TRUE(s.isOk()) << s.message();
    return metadata(o.output);
  };
  std::string cnn = run(smallModel(), {1, 2, 6, 6}, "cnn", false);
  EXPECT_NE(cnn.find("method=percentile"), std::string::npos) << cnn;
  EXPECT_NE(cnn.find("refine=ranges"), std::string::npos) << cnn;
  onnx::ModelProto att = ioModel({1, 4, 8}, {1, 4, 8});
  auto &g = *att.mutable_graph();
  addInit(g, "wq", f32({8, 8}, gaussian(64, 11, 0, 0.4f)));
  addInit(g, "wk", f32({8, 8}, gaussian(64, 12, 0, 0.4f)));
  node(g, "MatMul", {"x", "wq"}, {"q"});
  node(g, "MatMul", {"x", "wk"}, {"k"});
  intsAttr(node(g, "Transpose", {"k"}, {"kt"}), "perm", {0, 2, 1});
  node(g, "MatMul", {"q", "kt"}, {"s"});
  node(g, "Softmax", {"s"}, {"p"});
  node(g, "MatMul", {"p", "x"}, {"y"});
  std::string a = run(att, {1, 4, 8}, "att", false);
  EXPECT_NE(a.find("method=minmax"), std::string::npos) << a;
  EXPECT_NE(a.find("refine=none"), std::string::npos) << a;
  std::string r = run(att, {1, 4, 8}, "att-refined", true);
  EXPECT_NE(r.find("method=minmax"), std::string::npos) << r;
  EXPECT_NE(r.find("refine=ranges"), std::string::npos) << r;
}

// The inputs of LayerNormalization, of a LayerNorm written out and of an
// RMSNorm written out are never clipped; a mean that is not subtracted
// (a global pool) is not a normalization.
TEST(Quantize, NormalizedTensors) {
  onnx::GraphProto g;
  node(g, "LayerNormalization", {"a", "ga", "ba"}, {"an"});
  node(g, "ReduceMean", {"b"}, {"bm"});
  node(g, "Sub", {"b", "bm"}, {"bd"});
  node(g, "Pow", {"bd", "two"}, {"bp"});
  node(g, "ReduceMean", {"bp"}, {"bv"});
  node(g, "Mul", {"c", "c"}, {"cs"});
  node(g, "ReduceMean", {"cs"}, {"cm"});
  node(g, "ReduceMean", {"d"}, {"dm"});
  node(g, "Mul", {"e", "f"}, {"ef"});
  node(g, "ReduceMean", {"ef"}, {"em"});
  const std::set<std::string> want = {"a", "b", "bd", "c"};
  EXPECT_EQ(normalizedTensors(g), want);
}

TEST(Refine, OutputErrorWeightsDepthwiseAndGemm) {
  onnx::NodeProto conv;
  conv.set_op_type("Conv");
  // Depthwise: 2 channels, 1x3 kernels; channel 1's weights are twice as
  // large, so its error reaches the output 4 times as strongly.
  Tensor dw = f32({2, 1, 1, 3}, {1, 0, 1, 2, 0, 2});
  auto w = outputErrorWeights(conv, dw, 2);
  ASSERT_EQ(w.size(), 2u);
  EXPECT_NEAR(w[0], 0.2, 1e-12);
  EXPECT_NEAR(w[1], 0.8, 1e-12);
  // Dense 1x1: every output channel reads every input channel.
  Tensor d = f32({2, 2, 1, 1}, {1, 0, 1, 1});
  w = outputErrorWeights(conv, d, 2);
  EXPECT_NEAR(w[0], 2.0 / 3, 1e-12);
  EXPECT_NEAR(w[1], 1.0 / 3, 1e-12);
  EXPECT_TRUE(outputErrorWeights(conv, d, 3).empty()); // shapes do not fit
  onnx::NodeProto gemm;
  gemm.set_op_type("Gemm");
  auto *tb = gemm.add_attribute();
  tb->set_name("transB");
  tb->set_type(onnx::AttributeProto::INT);
  tb->set_i(1);
  Tensor b = f32({2, 3}, {0, 3, 0, 0, 4, 0}); // [N=2, K=3]
  w = outputErrorWeights(gemm, b, 3);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_NEAR(w[0], 0, 1e-12);
  EXPECT_NEAR(w[1], 1, 1e-12);
  EXPECT_NEAR(w[2], 0, 1e-12);
}

TEST(Refine, RangeFollowsTheChannelsTheLayerUses) {
  // Channel 0: values in [0, 1]; channel 1: values up to 50. When the layer
  // barely reads channel 1, the best range clips it; when it reads both
  // alike, the range keeps most of channel 1.
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> u(0, 1);
  std::vector<float> a(4000), b(4000);
  for (auto &x : a)
    x = u(rng);
  for (auto &x : b)
    x = 50 * u(rng);
  auto best = [&](double wa, double wb) {
    WeightedHistogram h(0, 50, 1024);
    h.add(a.data(), int64_t(a.size()), wa);
    h.add(b.data(), int64_t(b.size()), wb);
    return h.bestRange(256);
  };
  Range ignored = best(1, 0), used = best(0.5, 0.5);
  EXPECT_EQ(ignored.lo, 0);
  EXPECT_GT(ignored.hi, 0.9);
  EXPECT_LT(ignored.hi, 1.1);
  EXPECT_GT(used.hi, 40);
  // The objective: clipped values cost their distance, exact zeros nothing.
  WeightedHistogram h(0, 4, 4);
  std::vector<float> v = {0, 0.5f, 3.5f};
  h.add(v.data(), 3, 1);
  double step = 2.0 / 255;
  EXPECT_NEAR(h.error(0, 2, 256), step * step / 12 + 1.5 * 1.5, 1e-9);
}

TEST(QdqRewrite, BiasCorrectionRemovesTheInputQuantizationShift) {
  // With the mean input quantization error E[Q(x) - x] known per channel,
  // the corrected bias also removes W_q E[Q(x) - x].
  onnx::ModelProto m = smallGemm();
  auto info = inspectTensors(m, {});
  ASSERT_TRUE(info.hasValue());
  auto plan = planQdq(m, *info, {});
  ASSERT_TRUE(plan.hasValue());
  std::map<std::string, QParams> params = {{"x", {0.01f, 128}},
                                           {"y", {0.01f, 128}}};
  std::vector<double> mean = {2.0, -1.0, 0.5}, err = {-0.3, 0.02, 0.1};
  std::map<std::string, std::vector<double>> errs = {{"x", err}};
  RewriteOptions ro;
  ro.inputErrorMeans = &errs;
  auto q = rewriteQdq(m, *plan, params, {{"x", mean}}, ro, nullptr);
  ASSERT_TRUE(q.hasValue()) << q.status().message();
  Tensor W = *initializerTensor(m.graph().initializer(0));
  QuantizedWeight qw = quantizeWeight(W, 1);
  Tensor bq, bsc;
  for (auto &i : q->graph().initializer()) {
    if (i.name() == "b_quantized")
      bq = *initializerTensor(i);
    if (i.name() == "b_scale")
      bsc = *initializerTensor(i);
  }
  ASSERT_EQ(bq.elem(), ElemKind::I32);
  for (int o = 0; o < 2; ++o) {
    double shift = 0;
    for (int k = 0; k < 3; ++k) {
      double wq = double(qw.q.data<int8_t>()[k * 2 + o]) * qw.scales[size_t(o)];
      shift += (wq - double(W.data<float>()[k * 2 + o])) * mean[size_t(k)] +
               wq * err[size_t(k)];
    }
    double want = std::nearbyint((double(o ? -0.75f : 0.25f) - shift) /
                                 double(bsc.data<float>()[o]));
    EXPECT_EQ(bq.data<int32_t>()[o], int32_t(want));
  }
}

TEST(ActEqualization, EvensTheChannelsAndKeepsTheFunction) {
  onnx::ModelProto m = actEqModel(false);
  auto tensors = actEqualizationTensors(m, {});
  ASSERT_EQ(tensors, std::vector<std::string>{"r"});
  auto samples = actEqSamples(6, 1.0f);
  std::map<std::string, Dims> shapes = {{"x", {1, 3, 5, 5}}};
  auto mx = measureChannelRanges(m, tensors, shapes, samples, {});
  ASSERT_TRUE(mx.hasValue()) << mx.status().message();
  const std::vector<double> before = mx->at("r").max;
  ASSERT_EQ(before.size(), 4u);
  std::vector<double> sorted = before;
  std::sort(sorted.begin(), sorted.end());
  double median = 0.5 * (sorted[1] + sorted[2]); // of the 4 positive maxima
  ASSERT_GT(before[0], 2 * median);
  onnx::ModelProto e = m;
  ActEqualizationOptions ao;
  ao.alpha = 1.0;
  auto st = equalizeActivations(e, *mx, ao);
  ASSERT_TRUE(st.hasValue()) << st.status().message();
  EXPECT_EQ(st->pairs, 1u);
  EXPECT_GE(st->channels, 1u);
  // alpha 1: every channel's maximum is now at most the median.
  auto mx2 = measureChannelRanges(e, tensors, shapes, samples, {});
  ASSERT_TRUE(mx2.hasValue());
  for (size_t c = 0; c < 4; ++c) {
    EXPECT_LE(mx2->at("r").max[c], median * (1 + 1e-5)) << c;
    if (before[c] <= median) {
      EXPECT_FLOAT_EQ(float(mx2->at("r").max[c]), float(before[c])) << c;
    }
  }
  // The same function.
  expectSameOutputs(m, e, samples);
  // alpha 0.5 moves half as far (in log), alpha 0 not at all.
  onnx::ModelProto h = m;
  ao.alpha = 0.5;
  ASSERT_TRUE(equalizeActivations(h, *mx, ao).hasValue());
  auto mx3 = measureChannelRanges(h, tensors, shapes, samples, {});
  EXPECT_NEAR(mx3->at("r").max[0], std::sqrt(before[0] * median),
              1e-4 * before[0]);
  // raiseSmall, alpha 1: every channel's maximum becomes the median.
  onnx::ModelProto u = m;
  ao.alpha = 1.0;
  ao.raiseSmall = true;
  ASSERT_TRUE(equalizeActivations(u, *mx, ao).hasValue());
  auto mx4 = measureChannelRanges(u, tensors, shapes, samples, {});
  for (size_t c = 0; c < 4; ++c)
    EXPECT_NEAR(mx4->at("r").max[c], median, 1e-5 * median) << c;
  ao.raiseSmall = false;
  onnx::ModelProto z = m;
  ao.alpha = 0;
  auto st0 = equalizeActivations(z, *mx, ao);
  ASSERT_TRUE(st0.hasValue());
  EXPECT_EQ(st0->channels, 0u);
  EXPECT_EQ(graphHash(z), graphHash(m));
}

TEST(ActEqualization, LinearPairsOnlyWhenAsked) {
  onnx::ModelProto m = actEqModel(false);
  // Drop the Relu: conv -> conv.
  auto *g = m.mutable_graph();
  g->mutable_node(2)->set_input(0, "a");
  g->mutable_node()->DeleteSubrange(1, 1);
  EXPECT_TRUE(actEqualizationTensors(m, {}).empty());
  ActEqualizationOptions ao;
  ao.alpha = 1.0;
  ao.linearPairs = true;
  auto tensors = actEqualizationTensors(m, ao);
  ASSERT_EQ(tensors, std::vector<std::string>{"a"});
  auto samples = actEqSamples(4, 1.0f);
  std::map<std::string, Dims> shapes = {{"x", {1, 3, 5, 5}}};
  auto mx = measureChannelRanges(m, tensors, shapes, samples, {});
  ASSERT_TRUE(mx.hasValue());
  onnx::ModelProto e = m;
  auto st = equalizeActivations(e, *mx, ao);
  ASSERT_TRUE(st.hasValue());
  EXPECT_EQ(st->pairs, 1u);
  expectSameOutputs(m, e, samples);
  // A two-sided Clip(-20, 20) is linear on these samples: taken with
  // linearPairs only, and the function stays.
  onnx::ModelProto c = actEqModel(true, -20, 20);
  EXPECT_TRUE(actEqualizationTensors(c, {}).empty());
  ASSERT_EQ(actEqualizationTensors(c, ao), std::vector<std::string>{"r"});
  auto cr = measureChannelRanges(c, {"r"}, shapes, samples, {});
  ASSERT_TRUE(cr.hasValue());
  EXPECT_LT(cr->at("r").min[0], 0.0);
  onnx::ModelProto ce = c;
  auto cs = equalizeActivations(ce, *cr, ao);
  ASSERT_TRUE(cs.hasValue());
  EXPECT_EQ(cs->pairs, 1u);
  expectSameOutputs(c, ce, samples);
}

TEST(ActEqualization, ClipChannelsThatBindStay) {
  onnx::ModelProto m = actEqModel(true);
  auto tensors = actEqualizationTensors(m, {});
  ASSERT_EQ(tensors.size(), 1u);
  // Large inputs: channel 0 reaches the clip at 6 on the samples.
  auto samples = actEqSamples(6, 3.0f);
  std::map<std::string, Dims> shapes = {{"x", {1, 3, 5, 5}}};
  auto mx = measureChannelRanges(m, tensors, shapes, samples, {});
  ASSERT_TRUE(mx.hasValue());
  ASSERT_EQ(mx->at("r").max[0], 6.0);
  onnx::ModelProto e = m;
  ActEqualizationOptions ao;
  ao.alpha = 1.0;
  auto st = equalizeActivations(e, *mx, ao);
  ASSERT_TRUE(st.hasValue());
  auto mx2 = measureChannelRanges(e, tensors, shapes, samples, {});
  EXPECT_EQ(mx2->at("r").max[0], 6.0); // bound by the clip: not scaled
  // The function is unchanged on the calibration samples.
  expectSameOutputs(m, e, samples);
  // Missing or mis-sized maxima are errors naming the tensor.
  auto bad = equalizeActivations(e, {}, ao);
  ASSERT_FALSE(bad.hasValue());
  EXPECT_NE(bad.status().message().find("'r'"), std::string::npos);
  auto bad2 = equalizeActivations(e, {{"r", {{0, 0}, {1.0, 2.0}}}}, ao);
  ASSERT_FALSE(bad2.hasValue());
  EXPECT_NE(bad2.status().message().find("channels"), std::string::npos);
}

TEST(ActEqualization, ProfileReproducesAndHashCoversIt) {
  std::string d = tempDir("acteq");
  QuantizeOptions o;
  ASSERT_NO_FATAL_FAILURE(writeEqRun(d, actEqModel(true), 200, 0.3f, o));
  o.actEqualize = 0.5;
  Status s = quantizeModel(o);
  ASSERT_TRUE(s.isOk()) << s.message();
  auto prof = profileFromJson(*readFileBytes(o.profileOut), "p.json");
  ASSERT_TRUE(prof.hasValue()) << prof.status().message();
  ASSERT_EQ(prof->channelRanges.count("r"), 1u);
  EXPECT_EQ(prof->channelRanges.at("r").max.size(), 4u);
  EXPECT_EQ(prof->channelRanges.at("r").min.size(), 4u);
  // Channel 1 moved (channel 0 reaches the clip).
  EXPECT_NE(prof->preprocess.find("equalize_activations=0.5:1/1"),
            std::string::npos)
      << prof->preprocess;
  // The profile alone (no samples) gives the same bytes.
  QuantizeOptions p = fromProfile(o, d + "/q2.onnx");
  s = quantizeModel(p);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(*readFileBytes(p.output), *readFileBytes(o.output));
  // Another strength, or none, is another graph: refused, with the reason.
  for (double alpha : {0.0, 1.0}) {
    QuantizeOptions r = p;
    r.actEqualize = alpha;
    r.output = d + "/q3.onnx";
    s = quantizeModel(r);
    ASSERT_FALSE(s.isOk()) << alpha;
    EXPECT_NE(s.message().find("another graph"), std::string::npos);
    EXPECT_NE(s.message().find("equalize_activations"), std::string::npos);
    EXPECT_FALSE(exists(r.output));
  }
  // A profile without maxima cannot drive the pass.
  QuantizeOptions n = o;
  n.actEqualize = 0;
  n.output = d + "/n.onnx";
  n.profileOut = d + "/n.json";
  ASSERT_TRUE(quantizeModel(n).isOk());
  QuantizeOptions n2 = p;
  n2.profileIn = n.profileOut;
  n2.output = d + "/n2.onnx";
  s = quantizeModel(n2);
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("no per-channel ranges"), std::string::npos);
}

namespace {

// A residual stream as MobileNetV2 has them: x[1,3,5,5] -> Conv 1x1 w0
// (4 ch, bias) -> a; a -> expand Conv 1x1 (6 ch) -> Relu -> project Conv
// 1x1 (4 ch, bias) -> b; s = Add(a, b) -> Clip(-clipAt, clipAt) -> t -> Conv
// 1x1 (5 ch) -> y. The stream is {a, b, s, t}: writers w0 and the
// projection, readers the expansion and the last conv. Channel 0 of both
// writers is 8x and channel 1 3x larger than the others.
onnx::ModelProto resEqModel(float clipAt = 100) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(13);
  auto &g = *m.mutable_graph();
  io(g.add_input(), "x", {1, 3, 5, 5});
  io(g.add_output(), "y", {1, 5, 5, 5});
  auto w0 = gaussian(4 * 3, 61, 0, 0.5f);
  auto wp = gaussian(4 * 6, 62, 0, 0.4f);
  for (int k = 0; k < 3; ++k) {
    w0[size_t(k)] *= 8.0f;
    w0[size_t(3 + k)] *= 3.0f;
  }
  for (int k = 0; k < 6; ++k) {
    wp[size_t(k)] *= 8.0f;
    wp[size_t(6 + k)] *= 3.0f;
  }
  addInit(g, "w0", f32({4, 3, 1, 1}, w0));
  addInit(g, "b0", f32({4}, {0.5f, -0.2f, 0.1f, 0.3f}));
  addInit(g, "we", f32({6, 4, 1, 1}, gaussian(24, 63, 0, 0.5f)));
  addInit(g, "wp", f32({4, 6, 1, 1}, wp));
  addInit(g, "bp", f32({4}, {-0.1f, 0.2f, 0.05f, -0.3f}));
  addInit(g, "wo", f32({5, 4, 1, 1}, gaussian(20, 64, 0, 0.5f)));
  addInit(g, "lo", f32({}, {-clipAt}));
  addInit(g, "hi", f32({}, {clipAt}));
  node(g, "Conv", {"x", "w0", "b0"}, {"a"}, "c0");
  node(g, "Conv", {"a", "we"}, {"e"}, "expand");
  node(g, "Relu", {"e"}, {"r"}, "relu");
  node(g, "Conv", {"r", "wp", "bp"}, {"b"}, "project");
  node(g, "Add", {"a", "b"}, {"s"}, "add");
  node(g, "Clip", {"s", "lo", "hi"}, {"t"}, "clip");
  node(g, "Conv", {"t", "wo"}, {"y"}, "out");
  return m;
}

// max / min of a tensor's channel magnitudes max(|min_c|, |max_c|).
double channelSpread(const ChannelRanges &r) {
  double lo = INFINITY, hi = 0;
  for (size_t c = 0; c < r.max.size(); ++c) {
    double m = std::max(std::fabs(r.min[c]), std::fabs(r.max[c]));
    lo = std::min(lo, m);
    hi = std::max(hi, m);
  }
  return hi / lo;
}

} // namespace

TEST(ResidualEqualization, FindsTheStream) {
  onnx::ModelProto m = resEqModel();
  auto streams = findResidualStreams(m);
  ASSERT_EQ(streams.size(), 1u);
  const ResidualStream &s = streams[0];
  EXPECT_EQ(s.tensors, (std::vector<std::string>{"a", "b", "s", "t"}));
  EXPECT_EQ(s.writers, (std::vector<int>{0, 3}));
  EXPECT_EQ(s.readers, (std::vector<int>{1, 6}));
  EXPECT_EQ(s.clips, std::vector<int>{5});
  EXPECT_EQ(s.channels, 4);
  // A stream tensor that something else reads (a graph output here) or an
  // Add of a constant is no stream the pass can take.
  onnx::ModelProto o = m;
  io(o.mutable_graph()->add_output(), "s", {1, 4, 5, 5});
  EXPECT_TRUE(findResidualStreams(o).empty());
  onnx::ModelProto k = m;
  k.mutable_graph()->mutable_node(4)->set_input(1, "bp");
  EXPECT_TRUE(findResidualStreams(k).empty());
  // A reader that is not a conv (a pooling) stops it too.
  onnx::ModelProto p = m;
  p.mutable_graph()->mutable_node(6)->set_op_type("GlobalAveragePool");
  p.mutable_graph()->mutable_node(6)->mutable_input()->RemoveLast();
  EXPECT_TRUE(findResidualStreams(p).empty());
}

TEST(ResidualEqualization, ExactInFp32AndEvensTheChannels) {
  onnx::ModelProto m = resEqModel();
  auto tensors = residualEqualizationTensors(m);
  ASSERT_EQ(tensors.size(), 4u);
  auto samples = actEqSamples(6, 1.0f);
  std::map<std::string, Dims> shapes = {{"x", {1, 3, 5, 5}}};
  auto before = measureChannelRanges(m, tensors, shapes, samples, {});
  ASSERT_TRUE(before.hasValue()) << before.status().message();
  for (auto &t : tensors)
    ASSERT_GT(channelSpread(before->at(t)), 3.0) << t;
  onnx::ModelProto e = m;
  ResidualEqualizationOptions ro;
  ro.alpha = 1.0;
  auto st = equalizeResidualStreams(e, *before, ro);
  ASSERT_TRUE(st.hasValue()) << st.status().message();
  EXPECT_EQ(st->streams, 1u);
  EXPECT_GE(st->channels, 3u);
  // The same function (Add, Relu and the non-binding Clip commute with the
  // per-channel scale).
  expectSameOutputs(m, e, samples);
  // The stream's channels are evener in every tensor of it: alpha 1 brings
  // each channel's largest normalized magnitude to the median, so no
  // tensor's spread exceeds the ratio its channels had among the tensors.
  auto after = measureChannelRanges(e, tensors, shapes, samples, {});
  ASSERT_TRUE(after.hasValue());
  for (auto &t : tensors)
    EXPECT_LT(channelSpread(after->at(t)), 0.5 * channelSpread(before->at(t)))
        << t;
  // alpha 0.5 evens them too (one scale per channel serves every tensor
  // of the stream, so no strength is best for each); alpha 0 changes
  // nothing.
  onnx::ModelProto h = m;
  ro.alpha = 0.5;
  ASSERT_TRUE(equalizeResidualStreams(h, *before, ro).hasValue());
  expectSameOutputs(m, h, samples);
  auto half = measureChannelRanges(h, tensors, shapes, samples, {});
  ASSERT_TRUE(half.hasValue());
  EXPECT_LT(channelSpread(half->at("s")), channelSpread(before->at("s")));
  onnx::ModelProto z = m;
  ro.alpha = 0;
  auto s0 = equalizeResidualStreams(z, *before, ro);
  ASSERT_TRUE(s0.hasValue());
  EXPECT_EQ(s0->channels, 0u);
  EXPECT_EQ(graphHash(z), graphHash(m));
  // Missing or mis-sized ranges are errors naming the tensor.
  ro.alpha = 1;
  auto missing = *before;
  missing.erase("b");
  auto bad = equalizeResidualStreams(e, missing, ro);
  ASSERT_FALSE(bad.hasValue());
  EXPECT_NE(bad.status().message().find("'b'"), std::string::npos);
  auto sized = *before;
  sized["s"].max.pop_back();
  auto bad2 = equalizeResidualStreams(e, sized, ro);
  ASSERT_FALSE(bad2.hasValue());
  EXPECT_NE(bad2.status().message().find("channels"), std::string::npos);
}

TEST(ResidualEqualization, ClipChannelsThatBindStay) {
  auto samples = actEqSamples(6, 1.0f);
  std::map<std::string, Dims> shapes = {{"x", {1, 3, 5, 5}}};
  // Where does channel 0 of the Add output go? Clip just below it.
  onnx::ModelProto probe = resEqModel();
  auto r0 = measureChannelRanges(probe, {"s"}, shapes, samples, {});
  ASSERT_TRUE(r0.hasValue());
  const ChannelRanges &s = r0->at("s");
  float at = float(0.9 * std::max(std::fabs(s.min[0]), s.max[0]));
  for (size_t c = 1; c < 4; ++c)
    ASSERT_LT(std::max(std::fabs(s.min[c]), s.max[c]), at) << c;
  onnx::ModelProto m = resEqModel(at);
  auto tensors = residualEqualizationTensors(m);
  auto before = measureChannelRanges(m, tensors, shapes, samples, {});
  ASSERT_TRUE(before.hasValue());
  onnx::ModelProto e = m;
  ResidualEqualizationOptions ro;
  ro.alpha = 1.0;
  auto st = equalizeResidualStreams(e, *before, ro);
  ASSERT_TRUE(st.hasValue());
  EXPECT_EQ(st->streams, 1u);
  auto after = measureChannelRanges(e, tensors, shapes, samples, {});
  ASSERT_TRUE(after.hasValue());
  // Channel 0 reaches the clip: not scaled, in every tensor; the others
  // move (up, towards it) and stay inside the clip.
  for (auto &t : tensors) {
    EXPECT_FLOAT_EQ(float(after->at(t).max[0]), float(before->at(t).max[0]))
        << t;
    EXPECT_FLOAT_EQ(float(after->at(t).min[0]), float(before->at(t).min[0]))
        << t;
  }
  for (size_t c = 1; c < 4; ++c) {
    EXPECT_LT(after->at("s").max[c], at) << c;
    EXPECT_GT(after->at("s").min[c], -at) << c;
  }
  EXPECT_LT(channelSpread(after->at("t")), channelSpread(before->at("t")));
  // The function is unchanged on the calibration samples.
  expectSameOutputs(m, e, samples);
}

TEST(ResidualEqualization, ProfileReproducesAndHashCoversIt) {
  std::string d = tempDir("reseq");
  QuantizeOptions o;
  ASSERT_NO_FATAL_FAILURE(writeEqRun(d, resEqModel(), 300, 1.0f, o));
  o.resEqualize = 0.5;
  Status s = quantizeModel(o);
  ASSERT_TRUE(s.isOk()) << s.message();
  auto prof = profileFromJson(*readFileBytes(o.profileOut), "p.json");
  ASSERT_TRUE(prof.hasValue()) << prof.status().message();
  for (const char *t : {"a", "b", "s", "t"})
    ASSERT_EQ(prof->channelRanges.count(t), 1u) << t;
  EXPECT_NE(prof->preprocess.find("equalize_residual=0.5:1/"),
            std::string::npos)
      << prof->preprocess;
  // The profile alone (no samples) gives the same bytes.
  QuantizeOptions p = fromProfile(o, d + "/q2.onnx");
  s = quantizeModel(p);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(*readFileBytes(p.output), *readFileBytes(o.output));
  // Another strength, or none, is another graph: refused, with the reason.
  for (double alpha : {0.0, 1.0}) {
    QuantizeOptions r = p;
    r.resEqualize = alpha;
    r.output = d + "/q3.onnx";
    s = quantizeModel(r);
    ASSERT_FALSE(s.isOk()) << alpha;
    EXPECT_NE(s.message().find("equalize_residual"), std::string::npos);
    EXPECT_FALSE(exists(r.output));
  }
  // Together with activation equalization (the expansion -> Relu ->
  // projection pair): one pre-pass, both recorded, reproduced.
  QuantizeOptions b = o;
  b.actEqualize = 0.5;
  b.output = d + "/qb.onnx";
  b.profileOut = d + "/pb.json";
  s = quantizeModel(b);
  ASSERT_TRUE(s.isOk()) << s.message();
  QuantizeOptions b2 = fromProfile(b, d + "/qb2.onnx");
  s = quantizeModel(b2);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_EQ(*readFileBytes(b2.output), *readFileBytes(b.output));
}

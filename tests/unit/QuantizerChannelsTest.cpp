// Tests of the quantizer's per-channel activation scales (core/quant,
// docs/quantization.md "Per-channel activations"): the rule, its scales
// and its noise against per-tensor ranges.
#include "QuantizerTestUtil.h"
#include "quant/Quantizer.h"

#include <gtest/gtest.h>

using namespace ember;
using namespace ember::quant;
using namespace ember::quant_test;

namespace {

// The scale initializer of the QuantizeLinear of tensor t ("<t>_float" in),
// and its axis attribute (-1 when absent).
const onnx::TensorProto *qScaleOf(const onnx::ModelProto &m,
                                  const std::string &t, int64_t &axis) {
  for (auto &n : m.graph().node()) {
    if (n.op_type() != "QuantizeLinear" || n.output(0) != t + "_quantized")
      continue;
    axis = -1;
    for (auto &a : n.attribute())
      if (a.name() == "axis")
        axis = a.i();
    for (auto &i : m.graph().initializer())
      if (i.name() == n.input(1))
        return &i;
  }
  return nullptr;
}

} // namespace

// Per-channel activations (docs/quantization.md, "Per-channel
// activations"): the rule picks a conv's output read only by a depthwise
// conv (Relu, or a Clip from 0), and nothing else; the QDQ model carries one
// scale per channel on it (axis 1, none coarser than the per-tensor scale,
// the 8x channel's the largest), the depthwise bias at s_x[c] s_w[c], and
// less output noise than one scale per tensor.
TEST(PerChannelActivations, RuleScalesAndNoise) {
  std::map<std::string, Dims> shapes = {{"x", {1, 3, 5, 5}}};
  auto candidates = [&](const onnx::ModelProto &m) {
    auto info = inspectTensors(m, shapes);
    EXPECT_TRUE(info.hasValue());
    auto plan = planQdq(m, *info, {});
    EXPECT_TRUE(plan.hasValue());
    return perChannelCandidates(m, *plan, *info);
  };
  EXPECT_EQ(candidates(actEqModel(false)), std::set<std::string>{"r"});
  EXPECT_EQ(candidates(actEqModel(true)), std::set<std::string>{"r"});
  // A Clip whose lower bound is above 0 would need a bound per channel.
  EXPECT_TRUE(candidates(actEqModel(true, 0.5f, 6)).empty());
  {
    // Read by a conv that mixes channels too.
    onnx::ModelProto m = actEqModel(false);
    auto &g = *m.mutable_graph();
    addInit(g, "w3", f32({2, 4, 1, 1}, gaussian(8, 43, 0, 0.5f)));
    node(g, "Conv", {"r", "w3"}, {"z"}, "c3");
    io(g.add_output(), "z", {1, 2, 5, 5});
    EXPECT_TRUE(candidates(m).empty());
  }
  {
    // A graph output.
    onnx::ModelProto m = actEqModel(false);
    io(m.mutable_graph()->add_output(), "r", {1, 4, 5, 5});
    EXPECT_TRUE(candidates(m).empty());
  }

  std::string d = tempDir("pcact");
  QuantizeOptions o;
  ASSERT_NO_FATAL_FAILURE(writeEqRun(d, actEqModel(true), 400, 1.0f, o));
  for (int i = 4; i < 32; ++i) // 32 samples in all
    ASSERT_TRUE(
        writeTensorFile(f32({1, 3, 5, 5}, gaussian(75, 400 + uint64_t(i))),
                        d + "/calib/x" + std::to_string(i) + ".npy")
            .isOk());
  o.profileOut.clear();
  o.perChannelActivations = false;
  o.output = d + "/off.onnx";
  ASSERT_TRUE(quantizeModel(o).isOk());
  o.perChannelActivations = true;
  o.output = d + "/on.onnx";
  ASSERT_TRUE(quantizeModel(o).isOk());
  auto off = loadOnnxModel(d + "/off.onnx"), on = loadOnnxModel(d + "/on.onnx");
  ASSERT_TRUE(off.hasValue() && on.hasValue());
  int64_t axisOff = 0, axisOn = 0;
  const onnx::TensorProto *sOff = qScaleOf(*off, "r", axisOff),
                          *sOn = qScaleOf(*on, "r", axisOn);
  ASSERT_TRUE(sOff && sOn);
  auto tOff = initializerTensor(*sOff), tOn = initializerTensor(*sOn);
  ASSERT_TRUE(tOff.hasValue() && tOn.hasValue());
  EXPECT_EQ(tOff->size(), 1);
  EXPECT_EQ(axisOff, -1);
  ASSERT_EQ(tOn->size(), 4);
  EXPECT_EQ(axisOn, 1);
  const float st = tOff->data<float>()[0];
  const float *sc = tOn->data<float>();
  for (int c = 0; c < 4; ++c)
    EXPECT_LE(sc[c], st) << c;
  EXPECT_EQ(sc[0], *std::max_element(sc, sc + 4));
  EXPECT_LT(sc[2], 0.5f * sc[0]);
  // The depthwise conv's bias: int32 at s_r[c] * s_w2[c], per channel.
  const onnx::NodeProto *dw = nullptr;
  for (auto &n : on->graph().node())
    if (n.op_type() == "Conv" && n.output(0) == "y_float")
      dw = &n;
  if (!dw)
    for (auto &n : on->graph().node())
      if (n.op_type() == "Conv" && n.input(0) == "r")
        dw = &n;
  ASSERT_TRUE(dw && dw->input_size() == 3);
  const onnx::NodeProto *bdq = nullptr, *wdq = nullptr;
  for (auto &n : on->graph().node()) {
    if (n.output(0) == dw->input(2))
      bdq = &n;
    if (n.output(0) == dw->input(1))
      wdq = &n;
  }
  ASSERT_TRUE(bdq && wdq);
  auto init = [&](const std::string &name) -> Tensor {
    for (auto &i : on->graph().initializer())
      if (i.name() == name)
        return *initializerTensor(i);
    ADD_FAILURE() << name;
    return Tensor();
  };
  Tensor bs = init(bdq->input(1)), ws = init(wdq->input(1));
  ASSERT_EQ(bs.size(), 4);
  for (int c = 0; c < 4; ++c)
    EXPECT_EQ(bs.data<float>()[c],
              sc[c] * ws.data<float>()[ws.size() == 1 ? 0 : c])
        << c;
  // Less quantization noise on r than one scale per tensor in the two
  // small channels, on calibration samples (400 values per channel, too
  // few for other samples not to exceed a channel's maximum; a model's
  // maps give thousands per sample); with the layer-wise refinement too
  // (the channels capped by the refined per-tensor range).
  QuantizeOptions rf = o;
  rf.refineRanges = true;
  rf.output = d + "/refined.onnx";
  ASSERT_TRUE(quantizeModel(rf).isOk());
  auto refinedModel = loadOnnxModel(rf.output);
  ASSERT_TRUE(refinedModel.hasValue());
  int64_t axisRf = 0;
  auto tRf = initializerTensor(*qScaleOf(*refinedModel, "r", axisRf));
  ASSERT_TRUE(tRf.hasValue());
  ASSERT_EQ(tRf->size(), 4);
  onnx::ModelProto withR = actEqModel(true);
  io(withR.mutable_graph()->add_output(), "r", {1, 4, 5, 5});
  std::vector<Sample> samples;
  for (int i = 0; i < 16; ++i) {
    Sample x;
    x.inputs.push_back(f32({1, 3, 5, 5}, gaussian(75, 400 + uint64_t(i))));
    samples.push_back(std::move(x));
  }
  auto noiseDb = [&](const float *scales, size_t n, int64_t c) {
    double sig = 0, noise = 0;
    for (auto &smp : samples) {
      auto y = runModel(withR, smp.inputs[0]);
      EXPECT_TRUE(y.hasValue());
      const Tensor &r = (*y)[1];
      for (int64_t k = c * 25; k < (c + 1) * 25; ++k) {
        double v = r.data<float>()[k], s = scales[n == 1 ? 0 : c];
        double q = std::clamp(std::nearbyint(v / s), 0.0, 255.0) * s;
        sig += v * v;
        noise += (v - q) * (v - q);
      }
    }
    return 10 * std::log10(sig / std::max(noise, 1e-30));
  };
  for (int64_t c = 2; c < 4; ++c) {
    double dbOff = noiseDb(tOff->data<float>(), 1, c), dbOn = noiseDb(sc, 4, c),
           dbRf = noiseDb(tRf->data<float>(), 4, c);
    EXPECT_GT(dbOn, dbOff + 3.0) << "channel " << c;
    EXPECT_GT(dbRf, dbOff + 3.0) << "channel " << c;
  }
  // The profile keeps the per-channel ranges: from it alone, the same model.
  QuantizeOptions p = o;
  p.profileOut = d + "/p.json";
  p.output = d + "/on2.onnx";
  ASSERT_TRUE(quantizeModel(p).isOk());
  QuantizeOptions p2 = fromProfile(p, d + "/on3.onnx");
  ASSERT_TRUE(quantizeModel(p2).isOk());
  EXPECT_EQ(*readFileBytes(p.output), *readFileBytes(p2.output));
  EXPECT_EQ(*readFileBytes(p.output), *readFileBytes(o.output));
}

// Per-channel activation scales must hold on images the calibration has
// not seen: with n calibration images a new image exceeds a channel's
// calibration maximum with probability 1 / (n + 1), so a scale set at that
// maximum clips most channels of a held-out image when n is small. On 48
// held-out samples of the same distribution, r's channels quantized with
// their own scales are on average no noisier than with the per-tensor
// scale, for 1 to 16 calibration images (with the calibration maximum as
// the bound: 12.1, 9.5 and 3.8 dB noisier at 1, 2 and 4), and at 16 they
// gain at least 3 dB.
TEST(PerChannelActivations, HeldOutNoNoisierThanPerTensor) {
  onnx::ModelProto withR = actEqModel(false);
  io(withR.mutable_graph()->add_output(), "r", {1, 4, 5, 5});
  std::vector<Tensor> heldOut; // r on 48 samples no calibration reads
  for (int i = 0; i < 48; ++i) {
    auto y =
        runModel(withR, f32({1, 3, 5, 5}, gaussian(75, 9000 + uint64_t(i))));
    ASSERT_TRUE(y.hasValue());
    heldOut.push_back((*y)[1]);
  }
  auto channelDb = [&](const Tensor &scales, int64_t c) {
    double sig = 0, noise = 0;
    for (const Tensor &r : heldOut)
      for (int64_t k = c * 25; k < (c + 1) * 25; ++k) {
        double v = r.data<float>()[k];
        double s = scales.data<float>()[scales.size() == 1 ? 0 : c];
        double q = std::clamp(std::nearbyint(v / s), 0.0, 255.0) * s;
        sig += v * v;
        noise += (v - q) * (v - q);
      }
    return 10 * std::log10(sig / std::max(noise, 1e-30));
  };
  for (int n : {1, 2, 4, 16}) {
    std::string d = tempDir("pcact-heldout");
    QuantizeOptions o;
    ASSERT_NO_FATAL_FAILURE(writeEqRun(d, actEqModel(false), 500, 1.0f, o));
    o.profileOut.clear();
    o.equalize = false;            // r as the float model computes it
    for (int i = 0; i < 16; ++i) { // exactly n images: x0 .. x(n-1)
      std::string f = d + "/calib/x" + std::to_string(i) + ".npy";
      if (i >= n) {
        std::remove(f.c_str());
      } else if (i >= 4) {
        Tensor x = f32({1, 3, 5, 5}, gaussian(75, 500 + uint64_t(i)));
        ASSERT_TRUE(writeTensorFile(x, f).isOk());
      }
    }
    Tensor scales[2];
    for (int on = 0; on < 2; ++on) {
      o.perChannelActivations = on == 1;
      o.output = d + (on ? "/on.onnx" : "/off.onnx");
      ASSERT_TRUE(quantizeModel(o).isOk()) << n;
      auto m = loadOnnxModel(o.output);
      ASSERT_TRUE(m.hasValue());
      int64_t axis = 0;
      const onnx::TensorProto *sp = qScaleOf(*m, "r", axis);
      ASSERT_TRUE(sp);
      auto t = initializerTensor(*sp);
      ASSERT_TRUE(t.hasValue());
      scales[on] = std::move(*t);
    }
    double off = 0, on = 0; // mean over the channels, dB
    for (int64_t c = 0; c < 4; ++c) {
      off += channelDb(scales[0], c) / 4;
      on += channelDb(scales[1], c) / 4;
    }
    EXPECT_GE(on, off - 0.1) << n << " calibration images";
    if (n == 16) {
      EXPECT_EQ(scales[1].size(), 4);
      EXPECT_GT(on, off + 3.0);
    }
  }
}

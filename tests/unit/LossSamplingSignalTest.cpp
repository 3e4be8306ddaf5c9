// Reference kernels and lowerings of the losses, sampling, detection,
// signal-processing and data-dependent ops (Ops.def's section of that name).
// Expected values are computed by hand (or with the formulas of the ONNX
// reference implementation).
#include "TestUtil.h"
#include "lower/Lowering.h"

#include <cmath>

using namespace ember;
using namespace ember::test;

namespace {

// Builds, runs and returns every result (fails the test on error).
std::vector<Tensor> runAll(OpKind kind, const std::vector<Tensor> &inputs,
                           const std::vector<Tensor> &consts = {},
                           AttrMap attrs = {}, int numResults = -1) {
  OneNode t;
  Status s = t.build(kind, inputs, consts, std::move(attrs), numResults);
  EXPECT_TRUE(s.isOk()) << s.message();
  if (!s.isOk())
    return {};
  auto r = t.run();
  EXPECT_TRUE(r.hasValue()) << r.status().message();
  if (!r.hasValue())
    return {};
  return *r;
}

Tensor runOne(OpKind kind, const std::vector<Tensor> &inputs,
              const std::vector<Tensor> &consts = {}, AttrMap attrs = {}) {
  auto r = runAll(kind, inputs, consts, std::move(attrs));
  return r.empty() ? Tensor() : r[0];
}

// Error message of building (type inference) or running the node.
std::string failure(OpKind kind, const std::vector<Tensor> &inputs,
                    const std::vector<Tensor> &consts = {},
                    AttrMap attrs = {}) {
  OneNode t;
  Status s = t.build(kind, inputs, consts, std::move(attrs));
  if (!s.isOk())
    return s.message();
  auto r = t.run();
  return r.hasValue() ? "" : r.status().message();
}

void expectValues(const Tensor &t, const std::vector<double> &want,
                  double tol = 1e-5) {
  ASSERT_EQ(t.size(), int64_t(want.size())) << t.type().toString();
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(t.getDouble(int64_t(i)), want[i],
                tol * (1 + std::fabs(want[i])))
        << "element " << i;
}

} // namespace

TEST(LossSamplingSignal, NllLossReductions) {
  Tensor x = makeF32({2, 3}, {-1, -2, -3, -4, -5, -6});
  Tensor t = makeI64({2}, {2, 0});
  Tensor none = runOne(OpKind::NegativeLogLikelihoodLoss, {x, t}, {},
                       {{"reduction", Attr::ofString("none")}});
  EXPECT_EQ(none.type().toString(), "f32[2]");
  expectValues(none, {3, 4});
  expectValues(runOne(OpKind::NegativeLogLikelihoodLoss, {x, t}), {3.5});
  // Weights: mean divides by the sum of gathered weights.
  Tensor w = makeF32({3}, {1, 2, 4});
  expectValues(runOne(OpKind::NegativeLogLikelihoodLoss, {x, t, w}),
               {(3 * 4 + 4 * 1) / 5.0});
  // An ignored target contributes nothing and has no weight.
  expectValues(runOne(OpKind::NegativeLogLikelihoodLoss, {x, t, w}, {},
                      {{"ignore_index", Attr::ofInt(0)}}),
               {3.0});
}

TEST(LossSamplingSignal, NllLossRejectsBadTargets) {
  Tensor x = makeF32({2, 3}, {-1, -2, -3, -4, -5, -6});
  EXPECT_NE(
      failure(OpKind::NegativeLogLikelihoodLoss, {x, makeI64({2}, {3, 0})}),
      "");
  EXPECT_NE(
      failure(OpKind::NegativeLogLikelihoodLoss, {x, makeI64({3}, {0, 0, 0})}),
      "");
}

TEST(LossSamplingSignal, SoftmaxCrossEntropyWithLogProb) {
  Tensor x = makeF32({1, 2, 2}, {0, 0, 1, 1}); // classes along axis 1
  Tensor t = makeI64({1, 2}, {0, 1});
  auto r = runAll(OpKind::SoftmaxCrossEntropyLoss, {x, t}, {},
                  {{"reduction", Attr::ofString("sum")}}, 2);
  ASSERT_EQ(r.size(), 2u);
  double l = std::log(1 + std::exp(1.0));
  // log_prob[n, c, d] = x - logsumexp over c.
  expectValues(r[1], {-l, -l, 1 - l, 1 - l});
  expectValues(r[0], {2 * l - 1});
}

TEST(LossSamplingSignal, GridSampleModes) {
  Tensor x = makeF32({1, 1, 2, 2}, {1, 2, 3, 4});
  // Center of the image, and the top-left corner.
  Tensor g = makeF32({1, 1, 2, 2}, {0, 0, -1, -1});
  expectValues(runOne(OpKind::GridSample, {x, g}, {},
                      {{"align_corners", Attr::ofInt(1)}}),
               {2.5, 1});
  // Without align_corners, (-1, -1) is the corner of pixel (0,0): with zero
  // padding a quarter of pixel (0,0) remains.
  expectValues(runOne(OpKind::GridSample, {x, g}), {2.5, 0.25});
  expectValues(runOne(OpKind::GridSample, {x, g}, {},
                      {{"padding_mode", Attr::ofString("border")}}),
               {2.5, 1});
  expectValues(runOne(OpKind::GridSample, {x, g}, {},
                      {{"mode", Attr::ofString("nearest")},
                       {"align_corners", Attr::ofInt(1)}}),
               {1, 1}); // (0 + 1) / 2 * (2 - 1) = 0.5 rounds to even: 0
}

TEST(LossSamplingSignal, AffineGridIdentity) {
  Tensor th = makeF32({1, 2, 3}, {1, 0, 0, 0, 1, 0});
  Tensor y = runOne(OpKind::AffineGrid, {th}, {makeI64({4}, {1, 1, 2, 2})},
                    {{"align_corners", Attr::ofInt(1)}});
  EXPECT_EQ(y.type().toString(), "f32[1,2,2,2]");
  expectValues(y, {-1, -1, 1, -1, -1, 1, 1, 1});
}

TEST(LossSamplingSignal, NonMaxSuppressionSuppressesOverlap) {
  Tensor boxes = makeF32({1, 3, 4}, {0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 5, 1, 6});
  Tensor scores = makeF32({1, 1, 3}, {0.9f, 0.8f, 0.7f});
  Tensor y = runOne(OpKind::NonMaxSuppression, {},
                    {boxes, scores, makeI64({1}, {10}), makeF32({1}, {0.5f})});
  EXPECT_EQ(y.type().toString(), "i64[2,3]");
  expectValues(y, {0, 0, 0, 0, 0, 2});
}

TEST(LossSamplingSignal, NonZeroUniqueCompress) {
  Tensor nz = runOne(OpKind::NonZero, {}, {makeF32({2, 2}, {1, 0, 0, 3})});
  EXPECT_EQ(nz.type().toString(), "i64[2,2]");
  expectValues(nz, {0, 1, 0, 1});
  auto u = runAll(OpKind::Unique, {}, {makeF32({5}, {2, 1, 2, 3, 1})},
                  {{"sorted", Attr::ofInt(0)}}, 4);
  ASSERT_EQ(u.size(), 4u);
  expectValues(u[0], {2, 1, 3});
  expectValues(u[1], {0, 1, 3});
  expectValues(u[2], {0, 1, 0, 2, 1});
  expectValues(u[3], {2, 2, 1});
  Tensor cond(Type(ElemKind::Bool, {3}));
  cond.setDouble(1, 1);
  Tensor c = runOne(OpKind::Compress, {makeF32({2, 3}, {1, 2, 3, 4, 5, 6})},
                    {cond}, {{"axis", Attr::ofInt(1)}});
  EXPECT_EQ(c.type().toString(), "f32[2,1]");
  expectValues(c, {2, 5});
}

TEST(LossSamplingSignal, NonZeroNeedsKnownValues) {
  OneNode t;
  Status s = t.build(OpKind::NonZero, {makeF32({2}, {1, 0})});
  EXPECT_FALSE(s.isOk());
}

TEST(LossSamplingSignal, OneHotEyeLikeReverseSequence) {
  Tensor oh = runOne(OpKind::OneHot, {makeI64({2}, {1, -1})},
                     {makeI64({}, {3}), makeF32({2}, {0, 5})});
  EXPECT_EQ(oh.type().toString(), "f32[2,3]");
  expectValues(oh, {0, 5, 0, 0, 0, 5});
  Tensor e = runOne(OpKind::EyeLike, {makeF32({2, 3}, {9, 9, 9, 9, 9, 9})}, {},
                    {{"k", Attr::ofInt(1)}, {"dtype", Attr::ofInt(7)}});
  EXPECT_EQ(e.type().toString(), "i64[2,3]");
  expectValues(e, {0, 1, 0, 0, 0, 1});
  // time_axis 0, batch_axis 1: batch 0 reverses 3 steps, batch 1 two.
  Tensor rs =
      runOne(OpKind::ReverseSequence,
             {makeF32({3, 2}, {1, 10, 2, 20, 3, 30}), makeI64({2}, {3, 2})});
  expectValues(rs, {3, 20, 2, 10, 1, 30});
}

TEST(LossSamplingSignal, DetAndEinsum) {
  expectValues(
      runOne(OpKind::Det, {makeF32({2, 2, 2}, {1, 2, 3, 4, 0, 1, 1, 0})}),
      {-2, -1});
  Tensor a = makeF32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor b = makeF32({3, 2}, {1, 0, 0, 1, 1, 1});
  expectValues(runOne(OpKind::Einsum, {a, b}, {},
                      {{"equation", Attr::ofString("ij,jk->ik")}}),
               {4, 5, 10, 11});
  // Implicit output: "ij,jk" sums j and keeps ik; trace via "ii".
  expectValues(runOne(OpKind::Einsum, {a, b}, {},
                      {{"equation", Attr::ofString("ij,jk")}}),
               {4, 5, 10, 11});
  expectValues(runOne(OpKind::Einsum, {makeF32({2, 2}, {1, 2, 3, 4})}, {},
                      {{"equation", Attr::ofString("ii")}}),
               {5});
  expectValues(runOne(OpKind::Einsum, {a}, {},
                      {{"equation", Attr::ofString("...j->...")}}),
               {6, 15});
  EXPECT_NE(failure(OpKind::Einsum, {a, a}, {},
                    {{"equation", Attr::ofString("ij,jk->ik")}}),
            "");
}

TEST(LossSamplingSignal, CenterCropPadAndMaxUnpool) {
  Tensor x = makeF32({3, 2}, {1, 2, 3, 4, 5, 6});
  Tensor y = runOne(OpKind::CenterCropPad, {x}, {makeI64({2}, {1, 4})});
  EXPECT_EQ(y.type().toString(), "f32[1,4]");
  expectValues(y, {0, 3, 4, 0});
  Tensor v = makeF32({1, 1, 1, 2}, {7, 8});
  Tensor ind = makeI64({1, 1, 1, 2}, {1, 2});
  Tensor u = runOne(OpKind::MaxUnpool, {v, ind}, {},
                    {{"kernel_shape", Attr::ofInts({1, 2})},
                     {"strides", Attr::ofInts({1, 2})}});
  EXPECT_EQ(u.type().toString(), "f32[1,1,1,4]");
  expectValues(u, {0, 7, 8, 0});
  EXPECT_NE(failure(OpKind::MaxUnpool, {v, makeI64({1, 1, 1, 2}, {1, 9})}, {},
                    {{"kernel_shape", Attr::ofInts({1, 2})},
                     {"strides", Attr::ofInts({1, 2})}}),
            "");
}

TEST(LossSamplingSignal, WindowsAndDft) {
  Tensor h = runOne(OpKind::HannWindow, {}, {makeI64({}, {4})});
  expectValues(h, {0, 0.5, 1, 0.5});
  Tensor hs = runOne(OpKind::HannWindow, {}, {makeI64({}, {3})},
                     {{"periodic", Attr::ofInt(0)}});
  expectValues(hs, {0, 1, 0});
  // DFT of [1, 2, 3, 4] (real): [10, -2+2i, -2, -2-2i]; onesided keeps 3.
  Tensor x = makeF32({1, 4, 1}, {1, 2, 3, 4});
  expectValues(runOne(OpKind::DFT, {x}), {10, 0, -2, 2, -2, 0, -2, -2});
  expectValues(runOne(OpKind::DFT, {x}, {}, {{"onesided", Attr::ofInt(1)}}),
               {10, 0, -2, 2, -2, 0});
  // The inverse of the spectrum gives the signal back.
  Tensor s = makeF32({1, 4, 2}, {10, 0, -2, 2, -2, 0, -2, -2});
  expectValues(runOne(OpKind::DFT, {s}, {}, {{"inverse", Attr::ofInt(1)}}),
               {1, 0, 2, 0, 3, 0, 4, 0});
  // Two frames of length 2 with a rectangular window, one-sided.
  Tensor st =
      runOne(OpKind::STFT, {x}, {makeI64({}, {2}), makeF32({2}, {1, 1})});
  EXPECT_EQ(st.type().toString(), "f32[1,2,2,2]");
  expectValues(st, {3, 0, -1, 0, 7, 0, -1, 0});
}

TEST(LossSamplingSignal, RoiAlignAverage) {
  Tensor x = makeF32({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor rois = makeF32({1, 4}, {0, 0, 1, 1});
  Tensor y = runOne(OpKind::RoiAlign, {x, rois, makeI64({1}, {0})}, {},
                    {{"sampling_ratio", Attr::ofInt(1)},
                     {"coordinate_transformation_mode",
                      Attr::ofString("output_half_pixel")}});
  EXPECT_EQ(y.type().toString(), "f32[1,1,1,1]");
  expectValues(y, {2.5}); // one sample at (0.5, 0.5)
}

TEST(LossSamplingSignal, DeformConvZeroOffsetIsConv) {
  Tensor x = makeF32({1, 1, 2, 2}, {1, 2, 3, 4});
  Tensor w = makeF32({1, 1, 2, 2}, {1, 1, 1, 1});
  Tensor off(Type(ElemKind::F32, {1, 8, 1, 1}));
  expectValues(runOne(OpKind::DeformConv, {x, w, off}), {10});
  // Shifting every tap right by one pixel reads zeros in the last column.
  for (int k = 0; k < 4; ++k)
    off.setDouble(2 * k + 1, 1.0);
  expectValues(runOne(OpKind::DeformConv, {x, w, off}), {6});
}

namespace {

// Runs the one-node graph, lowers it, runs again: results must agree and
// no node of the lowered op may survive.
void expectLoweringMatches(OneNode &t) {
  auto ref = t.run();
  ASSERT_TRUE(ref.hasValue()) << ref.status().message();
  size_t n = 0;
  Status s = lowerFunction(t.f, {}, &n);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_GE(n, 1u);
  for (auto &node : t.f.nodes())
    EXPECT_TRUE(isPrimitive(node->kind) || node->kind == OpKind::Constant ||
                node->kind == OpKind::Placeholder)
        << opName(node->kind) << " survived lowering";
  auto low = t.run();
  ASSERT_TRUE(low.hasValue()) << low.status().message();
  ASSERT_EQ(ref->size(), low->size());
  for (size_t i = 0; i < ref->size(); ++i) {
    ASSERT_EQ((*low)[i].type().toString(), (*ref)[i].type().toString());
    expectValues((*low)[i], (*ref)[i].toDoubles());
  }
}

} // namespace

TEST(LossSamplingSignal, LoweringsMatchKernels) {
  {
    OneNode t;
    ASSERT_TRUE(t.build(OpKind::OneHot, {makeI64({2, 2}, {0, -1, 2, 5})},
                        {makeI64({}, {3}), makeF32({2}, {-1, 4})},
                        {{"axis", Attr::ofInt(1)}})
                    .isOk());
    expectLoweringMatches(t);
  }
  {
    OneNode t;
    ASSERT_TRUE(t.build(OpKind::CenterCropPad,
                        {makeF32({3, 2}, {1, 2, 3, 4, 5, 6})},
                        {makeI64({2}, {2, 5})})
                    .isOk());
    expectLoweringMatches(t);
  }
  {
    Tensor cond(Type(ElemKind::Bool, {4}));
    cond.setDouble(0, 1);
    cond.setDouble(3, 1);
    OneNode t;
    ASSERT_TRUE(
        t.build(OpKind::Compress, {makeF32({2, 3}, {1, 2, 3, 4, 5, 6})}, {cond})
            .isOk());
    expectLoweringMatches(t);
  }
  {
    OneNode t;
    ASSERT_TRUE(t.build(OpKind::EyeLike, {makeF32({3, 3}, {})}, {},
                        {{"k", Attr::ofInt(-1)}})
                    .isOk());
    expectLoweringMatches(t);
  }
  {
    OneNode t;
    ASSERT_TRUE(t.build(OpKind::BlackmanWindow, {}, {makeI64({}, {5})}).isOk());
    expectLoweringMatches(t);
  }
  {
    OneNode t;
    ASSERT_TRUE(t.build(OpKind::Unique, {}, {makeF32({2, 2}, {1, 2, 1, 2})},
                        {{"axis", Attr::ofInt(0)}}, 4)
                    .isOk());
    expectLoweringMatches(t);
  }
}

TEST(LossSamplingSignal, EinsumLoweringMatchesKernel) {
  struct Case {
    const char *eq;
    std::vector<Dims> shapes;
  };
  std::vector<Case> cases = {
      {"ij,jk->ik", {{2, 3}, {3, 4}}},
      {"bij,bjk->bik", {{2, 2, 3}, {2, 3, 2}}},
      {"ii->i", {{3, 3}}},
      {"ii", {{3, 3}}},
      {"ij->", {{2, 3}}},
      {"ij->ji", {{2, 3}}},
      {"i,i", {{4}, {4}}},
      {"i,j->ij", {{2}, {3}}},
      {"...ij,...jk->...ik", {{2, 1, 2, 3}, {3, 3, 2}}},
      {"bhid,bhjd->bhij", {{1, 2, 3, 4}, {1, 2, 2, 4}}},
      {"ij,jk,kl->il", {{2, 3}, {3, 2}, {2, 2}}},
      {"iij,jk->ik", {{2, 2, 3}, {3, 2}}},
      {"ab,ab->a", {{1, 3}, {2, 3}}},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.eq);
    std::vector<Tensor> ins;
    for (const Dims &d : c.shapes) {
      Tensor t(Type(ElemKind::F32, d));
      for (int64_t i = 0; i < t.size(); ++i)
        t.setDouble(i, double((i * 5 + int64_t(ins.size()) * 3) % 7) - 3);
      ins.push_back(t);
    }
    OneNode t;
    Status s =
        t.build(OpKind::Einsum, ins, {}, {{"equation", Attr::ofString(c.eq)}});
    ASSERT_TRUE(s.isOk()) << s.message();
    expectLoweringMatches(t);
  }
}

TEST(LossSamplingSignal, LossLoweringsMatchKernels) {
  Tensor x = makeF32({2, 3, 2}, {-1, -2, -3, -4, -5, -6, 1, 2, 3, 4, 5, 6});
  Tensor t = makeI64({2, 2}, {2, 0, 1, 1});
  Tensor w = makeF32({3}, {1, 2, 4});
  for (const char *red : {"none", "sum", "mean"})
    for (bool withW : {false, true})
      for (bool ii : {false, true})
        for (OpKind k : {OpKind::NegativeLogLikelihoodLoss,
                         OpKind::SoftmaxCrossEntropyLoss}) {
          SCOPED_TRACE(std::string(opName(k)) + " " + red +
                       (withW ? " weight" : "") + (ii ? " ignore" : ""));
          std::vector<Tensor> ins{x, t};
          if (withW)
            ins.push_back(w);
          AttrMap attrs{{"reduction", Attr::ofString(red)}};
          if (ii)
            attrs["ignore_index"] = Attr::ofInt(1);
          OneNode n;
          int results = k == OpKind::SoftmaxCrossEntropyLoss ? 2 : 1;
          ASSERT_TRUE(n.build(k, ins, {}, attrs, results).isOk());
          expectLoweringMatches(n);
        }
}

TEST(LossSamplingSignal, NaNInputsDoNotCrash) {
  float nan = std::nanf("");
  // NaN coordinates read as outside; NaN values sort last.
  Tensor x = makeF32({1, 1, 2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(runOne(OpKind::RoiAlign,
                   {x, makeF32({1, 4}, {nan, 0, 1, 1}), makeI64({1}, {0})}, {},
                   {{"sampling_ratio", Attr::ofInt(1)}})
                .size(),
            1);
  for (const char *mode : {"linear", "nearest", "cubic"})
    for (const char *pm : {"zeros", "border", "reflection"})
      EXPECT_EQ(runOne(OpKind::GridSample,
                       {x, makeF32({1, 1, 2, 2}, {nan, 0, 1e30f, -1e30f})}, {},
                       {{"mode", Attr::ofString(mode)},
                        {"padding_mode", Attr::ofString(pm)}})
                    .size(),
                2);
  auto u = runAll(OpKind::Unique, {}, {makeF32({4}, {nan, 1, nan, 0})}, {}, 1);
  ASSERT_EQ(u.size(), 1u);
  EXPECT_EQ(u[0].size(), 3);
  EXPECT_EQ(u[0].getDouble(0), 0);
  Tensor off(Type(ElemKind::F32, {1, 8, 1, 1}));
  off.setDouble(0, nan);
  off.setDouble(1, 1e30);
  EXPECT_EQ(
      runOne(OpKind::DeformConv, {x, makeF32({1, 1, 2, 2}, {1, 1, 1, 1}), off})
          .size(),
      1);
}

TEST(LossSamplingSignal, DftAndStftLoweringsMatchKernels) {
  auto signal = [](Dims d) {
    Tensor t(Type(ElemKind::F32, d));
    for (int64_t i = 0; i < t.size(); ++i)
      t.setDouble(i, std::sin(0.7 * double(i)) + 0.1 * double(i % 3));
    return t;
  };
  for (int64_t c : {1, 2})
    for (int64_t axis : {1, 2})
      for (int inverse : {0, 1})
        for (int onesided : {0, 1})
          for (int64_t len : {0, 5, 8}) {
            if (inverse && onesided && c == 1)
              continue;
            SCOPED_TRACE(std::to_string(c) + " axis " + std::to_string(axis) +
                         " inv " + std::to_string(inverse) + " one " +
                         std::to_string(onesided) + " len " +
                         std::to_string(len));
            OneNode t;
            std::vector<Tensor> consts;
            AttrMap attrs{{"inverse", Attr::ofInt(inverse)},
                          {"onesided", Attr::ofInt(onesided)},
                          {"axis", Attr::ofInt(axis)}};
            if (len)
              consts.push_back(makeI64({}, {len}));
            ASSERT_TRUE(
                t.build(OpKind::DFT, {signal({2, 6, 3, c})}, consts, attrs)
                    .isOk());
            expectLoweringMatches(t);
          }
  for (int64_t c : {1, 2}) {
    OneNode t;
    ASSERT_TRUE(
        t.build(OpKind::STFT, {signal({2, 17, c})},
                {makeI64({}, {3}), makeF32({6}, {0, .3f, .8f, 1, .8f, .3f})},
                {{"onesided", Attr::ofInt(c == 1)}})
            .isOk());
    expectLoweringMatches(t);
  }
}

TEST(LossSamplingSignal, MoreLoweringsMatchKernels) {
  for (int64_t align : {0, 1})
    for (int64_t d : {2, 3}) {
      OneNode t;
      Tensor th(Type(ElemKind::F32, {2, d, d + 1}));
      for (int64_t i = 0; i < th.size(); ++i)
        th.setDouble(i, 0.1 * double(i % 7) - 0.2);
      std::vector<int64_t> size{2, 3, 4, 5, 3};
      size.resize(size_t(d + 2));
      ASSERT_TRUE(t.build(OpKind::AffineGrid, {th}, {makeI64({d + 2}, size)},
                          {{"align_corners", Attr::ofInt(align)}})
                      .isOk());
      expectLoweringMatches(t);
    }
  for (bool withShape : {false, true}) {
    OneNode t;
    std::vector<Tensor> consts;
    if (withShape)
      consts.push_back(makeI64({4}, {1, 2, 5, 5}));
    ASSERT_TRUE(t.build(OpKind::MaxUnpool,
                        {makeF32({1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}),
                         makeI64({1, 2, 2, 2}, {0, 3, 9, 14, 16, 18, 29, 31})},
                        consts,
                        {{"kernel_shape", Attr::ofInts({2, 2})},
                         {"strides", Attr::ofInts({2, 2})}})
                    .isOk());
    expectLoweringMatches(t);
  }
  for (int64_t ta : {0, 1}) {
    OneNode t;
    Tensor x(Type(ElemKind::F32, {3, 4, 2}));
    for (int64_t i = 0; i < x.size(); ++i)
      x.setDouble(i, double(i));
    Tensor lens = ta == 0 ? Tensor::fromInts(ElemKind::I32, {3, 0, 1, 2}, {4})
                          : Tensor::fromInts(ElemKind::I32, {4, 2, 1}, {3});
    ASSERT_TRUE(t.build(OpKind::ReverseSequence, {x, lens}, {},
                        {{"time_axis", Attr::ofInt(ta)},
                         {"batch_axis", Attr::ofInt(1 - ta)}})
                    .isOk());
    expectLoweringMatches(t);
  }
}

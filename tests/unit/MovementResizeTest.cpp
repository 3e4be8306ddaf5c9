// The Resize reference kernel: output sizes, nearest modes, linear and
// cubic interpolation (values from the ONNX reference implementation).
#include "TestUtil.h"

using namespace ember;
using namespace ember::test;

namespace {

// Resize(x, roi?, scales?, sizes?) with the given attributes; result #0.
Expected<Tensor> resize(const Tensor &x, const std::vector<double> &scales,
                        const std::vector<int64_t> &sizes, AttrMap attrs,
                        const std::vector<float> &roi = {}) {
  Function f("main");
  Value in(f.addPlaceholder("x", x.type()));
  Value r, s, z;
  if (!roi.empty())
    r = Value(f.addConstant("roi", makeF32({int64_t(roi.size())}, roi)));
  if (!scales.empty()) {
    std::vector<float> fs(scales.begin(), scales.end());
    s = Value(f.addConstant("scales", makeF32({int64_t(fs.size())}, fs)));
  }
  if (!sizes.empty())
    z = Value(f.addConstant("sizes", makeI64({int64_t(sizes.size())}, sizes)));
  std::vector<Value> ops = {in, r, s, z};
  while (!ops.back())
    ops.pop_back();
  auto n = f.create(OpKind::Resize, ops, std::move(attrs), "n");
  if (!n)
    return n.status();
  f.addOutput(Value(*n), "y");
  EMBER_ASSIGN(auto outs, interpret(f, {x}));
  return outs[0];
}

AttrMap attrs(std::initializer_list<std::pair<const char *, const char *>> kv) {
  AttrMap a;
  for (auto &p : kv)
    a[p.first] = Attr::ofString(p.second);
  return a;
}

void expectNear(const std::vector<double> &got,
                const std::vector<double> &want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-5) << "element " << i;
}

} // namespace

TEST(MovementResize, OutputSizeIsFloorOfScale) {
  auto y = resize(makeF32({1, 1, 3, 5}, std::vector<float>(15, 1.0f)),
                  {1, 1, 1.5, 0.5}, {}, attrs({{"mode", "nearest"}}));
  ASSERT_TRUE(y.hasValue()) << y.status().message();
  EXPECT_EQ(y->type().toString(), "f32[1,1,4,2]");
}

TEST(MovementResize, NearestModes) {
  Tensor x = makeF32({4}, {1, 2, 3, 4});
  // asymmetric, round_prefer_ceil, scale 2: x_ori = o / 2.
  auto y = resize(x, {2}, {},
                  attrs({{"mode", "nearest"},
                         {"coordinate_transformation_mode", "asymmetric"},
                         {"nearest_mode", "round_prefer_ceil"}}));
  ASSERT_TRUE(y.hasValue()) << y.status().message();
  EXPECT_EQ(y->toDoubles(), (std::vector<double>{1, 2, 2, 3, 3, 4, 4, 4}));
  auto f = resize(x, {2}, {},
                  attrs({{"mode", "nearest"},
                         {"coordinate_transformation_mode", "asymmetric"},
                         {"nearest_mode", "floor"}}));
  ASSERT_TRUE(f.hasValue());
  EXPECT_EQ(f->toDoubles(), (std::vector<double>{1, 1, 2, 2, 3, 3, 4, 4}));
}

TEST(MovementResize, NearestCopiesInt64Exactly) {
  Tensor x = Tensor::fromInts(ElemKind::I64, {(int64_t(1) << 60) + 1, 5}, {2});
  auto y = resize(x, {}, {4}, attrs({{"mode", "nearest"}}));
  ASSERT_TRUE(y.hasValue()) << y.status().message();
  EXPECT_EQ(y->toInts(), (std::vector<int64_t>{(int64_t(1) << 60) + 1,
                                               (int64_t(1) << 60) + 1, 5, 5}));
}

TEST(MovementResize, LinearHalfPixelUpsample) {
  // numpy reference: [1, 1.25, 1.75, 2] for [1, 2] upsampled by 2.
  auto y =
      resize(makeF32({1, 2}, {1, 2}), {1, 2}, {}, attrs({{"mode", "linear"}}));
  ASSERT_TRUE(y.hasValue()) << y.status().message();
  expectNear(y->toDoubles(), {1, 1.25, 1.75, 2});
}

TEST(MovementResize, LinearAlignCornersAndTrilinear) {
  auto y = resize(makeF32({3}, {0, 10, 20}), {}, {5},
                  attrs({{"mode", "linear"},
                         {"coordinate_transformation_mode", "align_corners"}}));
  ASSERT_TRUE(y.hasValue());
  expectNear(y->toDoubles(), {0, 5, 10, 15, 20});
  // 3-D linear: the center of a 2x2x2 cube averages all corners.
  auto z = resize(makeF32({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7}), {}, {3, 3, 3},
                  attrs({{"mode", "linear"},
                         {"coordinate_transformation_mode", "align_corners"}}));
  ASSERT_TRUE(z.hasValue());
  EXPECT_NEAR(z->toDoubles()[13], 3.5, 1e-9);
}

TEST(MovementResize, CubicMatchesReference) {
  // onnx.reference Resize(mode=cubic, scales=[2]) of [0, 1, 4, 9].
  auto y =
      resize(makeF32({4}, {0, 1, 4, 9}), {2}, {}, attrs({{"mode", "cubic"}}));
  ASSERT_TRUE(y.hasValue()) << y.status().message();
  expectNear(y->toDoubles(), {-0.10546875, 0.12109375, 0.45703125, 1.609375,
                              2.828125, 5.44921875, 7.97265625, 9.52734375});
}

TEST(MovementResize, TfCropAndResizeExtrapolates) {
  AttrMap a = attrs({{"mode", "linear"},
                     {"coordinate_transformation_mode", "tf_crop_and_resize"}});
  a["extrapolation_value"] = Attr::ofFloat(-1);
  auto y = resize(makeF32({3}, {0, 10, 20}), {}, {3}, a, {0.5f, 1.5f});
  ASSERT_TRUE(y.hasValue()) << y.status().message();
  expectNear(y->toDoubles(), {10, 20, -1});
}

TEST(MovementResize, KeepAspectRatioAndAxes) {
  AttrMap a =
      attrs({{"mode", "nearest"}, {"keep_aspect_ratio_policy", "not_larger"}});
  a["axes"] = Attr::ofInts({-1, -2});
  auto y = resize(makeF32({1, 2, 4}, std::vector<float>(8, 0)), {}, {6, 6}, a);
  ASSERT_TRUE(y.hasValue()) << y.status().message();
  EXPECT_EQ(y->type().toString(), "f32[1,3,6]");
}

TEST(MovementResize, RejectsBadOperands) {
  Tensor x = makeF32({2}, {1, 2});
  EXPECT_FALSE(resize(x, {}, {}, attrs({{"mode", "nearest"}})).hasValue());
  EXPECT_FALSE(resize(x, {2}, {}, attrs({{"mode", "bogus"}})).hasValue());
  EXPECT_FALSE(resize(x, {2, 2}, {}, attrs({{"mode", "nearest"}})).hasValue());
  EXPECT_FALSE(
      resize(x, {}, {4},
             attrs({{"mode", "linear"},
                    {"coordinate_transformation_mode", "tf_crop_and_resize"}}))
          .hasValue());
}

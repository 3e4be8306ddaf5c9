#include "TestUtil.h"

using namespace ember;
using namespace ember::test;

TEST(Elementwise, AddBroadcasts) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::Add, {makeF32({2, 3}, {1, 2, 3, 4, 5, 6}),
                                    makeF32({3}, {10, 20, 30})})
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[2,3]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{11, 22, 33, 14, 25, 36}));
}

TEST(Elementwise, IncompatibleShapesNameTheNode) {
  OneNode t;
  Status s = t.build(OpKind::Mul, {makeF32({2, 3}, {}), makeF32({4}, {})});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("'n' (Mul)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("do not broadcast"), std::string::npos);
}

TEST(Elementwise, IntegerModFollowsDivisorSign) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::Mod, {makeI64({4}, {-7, 7, -7, 7}),
                                    makeI64({4}, {3, -3, -3, 3})})
                  .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{2, -2, -1, 1}));
}

TEST(Elementwise, WhereSelects) {
  OneNode t;
  Tensor c = Tensor::fromInts(ElemKind::Bool, {1, 0, 1});
  ASSERT_TRUE(
      t.build(OpKind::Where, {c, makeF32({3}, {1, 2, 3}), makeF32({1}, {-1})})
          .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{1, -1, 3}));
}

TEST(Half, RoundTripsAndRoundsToEven) {
  EXPECT_EQ(float(Float16(1.0f)), 1.0f);
  EXPECT_EQ(Float16(65504.0f).bits, 0x7bff);
  EXPECT_EQ(Float16(65520.0f).bits, 0x7c00); // overflow rounds to inf
  EXPECT_EQ(Float16(5.960464477539063e-08f).bits, 0x0001); // min subnormal
  EXPECT_EQ(float(BFloat16(1.5f)), 1.5f);
}

#include "support/MiniFloat.h"

#include <cmath>

TEST(MiniFloat, Float8RoundsToNearestEvenAndSaturates) {
  // 8.5 is halfway between 8 and 9 in E4M3: ties go to the even mantissa.
  EXPECT_EQ(miniToFloat(floatToMini(8.5f, MiniFormat::F8E4M3FN, true),
                        MiniFormat::F8E4M3FN),
            8.0f);
  EXPECT_EQ(floatToMini(1e9f, MiniFormat::F8E4M3FN, true), 0x7e); // 448
  EXPECT_TRUE(std::isnan(miniToFloat(
      floatToMini(1e9f, MiniFormat::F8E4M3FN, false), MiniFormat::F8E4M3FN)));
  EXPECT_EQ(floatToMini(INFINITY, MiniFormat::F8E5M2, false), 0x7c);
  EXPECT_EQ(floatToMini(-0.0f, MiniFormat::F8E4M3FNUZ, true), 0x00);
  EXPECT_EQ(floatToMini(NAN, MiniFormat::F8E5M2FNUZ, true), 0x80);
  // Smallest E4M3FN subnormal is 2^-9; 1.5 * 2^-9 ties to 2 * 2^-9.
  EXPECT_EQ(floatToMini(0.0029296875f, MiniFormat::F8E4M3FN, true), 0x02);
}

TEST(MiniFloat, NarrowIntegersWrapLikeOnnx) {
  EXPECT_EQ(
      miniToFloat(floatToMini(8.5f, MiniFormat::I4, true), MiniFormat::I4),
      -8.0f);
  EXPECT_EQ(miniToFloat(intToMini(20, MiniFormat::U4), MiniFormat::U4), 4.0f);
  EXPECT_EQ(
      miniToFloat(floatToMini(7.9f, MiniFormat::I2, true), MiniFormat::I2),
      -1.0f);
  EXPECT_EQ(miniToFloat(floatToMini(0.3f, MiniFormat::F4E2M1, true),
                        MiniFormat::F4E2M1),
            0.5f);
  EXPECT_EQ(floatToMini(3.0f, MiniFormat::F8E8M0, true, 0), 129); // up: 4
  EXPECT_EQ(floatToMini(3.0f, MiniFormat::F8E8M0, true, 2), 128); // down: 2
}

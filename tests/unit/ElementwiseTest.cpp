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
  EXPECT_EQ((*r)[0].toDoubles(),
            (std::vector<double>{11, 22, 33, 14, 25, 36}));
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
  ASSERT_TRUE(t.build(OpKind::Where, {c, makeF32({3}, {1, 2, 3}),
                                      makeF32({1}, {-1})})
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

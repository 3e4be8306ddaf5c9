// Parameterized activations, Clip, PRelu and CastLike: kernel values and
// lowering-vs-kernel agreement.
#include "TestUtil.h"
#include "lower/Lowering.h"

#include <cmath>
#include <limits>

using namespace ember;
using namespace ember::test;

namespace {

// Runs the node, lowers the function, runs again and checks both agree.
void expectLowered(OneNode &t, double tol = 1e-5) {
  auto ref = t.run();
  ASSERT_TRUE(ref.hasValue()) << ref.status().message();
  Status s = lowerFunction(t.f);
  ASSERT_TRUE(s.isOk()) << s.message();
  for (auto &n : t.f.nodes())
    EXPECT_TRUE(isPrimitive(n->kind) || isStorage(n->kind))
        << opName(n->kind) << " survived lowering";
  auto got = interpret(t.f, t.feeds);
  ASSERT_TRUE(got.hasValue()) << got.status().message();
  auto a = (*ref)[0].toDoubles(), b = (*got)[0].toDoubles();
  EXPECT_EQ((*ref)[0].type(), (*got)[0].type());
  ASSERT_EQ(a.size(), b.size());
  for (size_t j = 0; j < a.size(); ++j) {
    if (std::isnan(a[j]) || std::isinf(a[j])) {
      EXPECT_EQ(std::isnan(a[j]), std::isnan(b[j])) << "at " << j;
      continue;
    }
    EXPECT_NEAR(a[j], b[j], tol * (1 + std::abs(a[j]))) << "at " << j;
  }
}

Tensor sample() {
  return makeF32({10}, {-100, -6, -3, -1, -0.25f, 0, 0.4f, 1, 3.5f, 90});
}

} // namespace

TEST(Activation, ValuesMatchFormulas) {
  auto run = [](OpKind k, AttrMap a, float x) {
    OneNode t;
    EXPECT_TRUE(t.build(k, {makeF32({1}, {x})}, {}, std::move(a)).isOk());
    auto r = t.run();
    EXPECT_TRUE(r.hasValue()) << r.status().message();
    return (*r)[0].toDoubles()[0];
  };
  EXPECT_FLOAT_EQ(run(OpKind::LeakyRelu, {}, -2), -0.02);
  EXPECT_FLOAT_EQ(run(OpKind::Elu, {{"alpha", Attr::ofFloat(2)}}, -1),
                  2 * (std::exp(-1.0) - 1));
  EXPECT_FLOAT_EQ(run(OpKind::Selu, {}, 1), 1.05070102214813232421875);
  EXPECT_FLOAT_EQ(run(OpKind::HardSigmoid, {}, 1), 0.7);
  EXPECT_FLOAT_EQ(run(OpKind::HardSwish, {}, 1), 1 * (1.0 / 6 + 0.5));
  EXPECT_FLOAT_EQ(run(OpKind::Softplus, {}, 100), 100);
  EXPECT_FLOAT_EQ(run(OpKind::Softsign, {}, -3), -0.75);
  EXPECT_FLOAT_EQ(run(OpKind::Gelu, {}, 1),
                  0.5 * (1 + std::erf(1 / std::sqrt(2.0))));
  EXPECT_FLOAT_EQ(run(OpKind::ThresholdedRelu, {}, 1), 0);
  EXPECT_FLOAT_EQ(run(OpKind::Shrink, {{"bias", Attr::ofFloat(1)}}, 3), 2);
  EXPECT_FLOAT_EQ(run(OpKind::Celu, {}, -1), std::exp(-1.0) - 1);
}

TEST(Activation, LoweringsMatchKernels) {
  struct Case {
    OpKind k;
    AttrMap a;
  };
  std::vector<Case> cases = {
      {OpKind::LeakyRelu, {}},
      {OpKind::LeakyRelu, {{"alpha", Attr::ofFloat(-2)}}},
      {OpKind::Elu, {{"alpha", Attr::ofFloat(0.5)}}},
      {OpKind::Selu, {}},
      {OpKind::Celu, {{"alpha", Attr::ofFloat(2)}}},
      {OpKind::HardSigmoid, {}},
      {OpKind::HardSwish, {}},
      {OpKind::Softplus, {}},
      {OpKind::Softsign, {}},
      {OpKind::Gelu, {}},
      {OpKind::Gelu, {{"approximate", Attr::ofString("tanh")}}},
      {OpKind::Mish, {}},
      {OpKind::ThresholdedRelu, {{"alpha", Attr::ofFloat(0.3)}}},
      {OpKind::Shrink,
       {{"bias", Attr::ofFloat(0.5)}, {"lambd", Attr::ofFloat(1)}}},
  };
  for (auto &c : cases) {
    SCOPED_TRACE(opName(c.k));
    OneNode t;
    ASSERT_TRUE(t.build(c.k, {sample()}, {}, c.a).isOk());
    expectLowered(t);
  }
}

TEST(Activation, ShrinkOnIntegers) {
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::Shrink, {makeI64({5}, {-3, -1, 0, 1, 3})}, {},
              {{"bias", Attr::ofFloat(1.5)}, {"lambd", Attr::ofFloat(1)}})
          .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{-1, 0, 0, 0, 1}));
  expectLowered(t);
}

TEST(Activation, ClipBoundsAreOptional) {
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::Clip, {sample()}, {makeF32({}, {-1}), makeF32({}, {2})})
          .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toDoubles()[0], -1);
  EXPECT_EQ((*r)[0].toDoubles()[9], 2);
  expectLowered(t);

  // Only max, given as a graph input; min absent.
  Function f("main");
  Node *x = f.addPlaceholder("x", Type(ElemKind::F32, {3}));
  Node *hi = f.addPlaceholder("hi", Type(ElemKind::F32, {1}));
  auto n = f.create(OpKind::Clip, {Value(x), Value(), Value(hi)});
  ASSERT_TRUE(n.hasValue()) << n.status().message();
  f.addOutput(Value(*n), "y");
  ASSERT_TRUE(lowerFunction(f).isOk());
  auto out = interpret(f, {makeF32({3}, {-5, 1, 5}), makeF32({1}, {2})});
  ASSERT_TRUE(out.hasValue()) << out.status().message();
  EXPECT_EQ((*out)[0].toDoubles(), (std::vector<double>{-5, 1, 2}));

  OneNode i;
  ASSERT_TRUE(
      i.build(OpKind::Clip, {makeI64({3}, {-5, 1, 5})}, {makeI64({}, {0})})
          .isOk());
  expectLowered(i);

  OneNode bad;
  EXPECT_FALSE(
      bad.build(OpKind::Clip, {sample()}, {makeF32({2}, {0, 1})}).isOk());
}

TEST(Activation, PReluBroadcastsSlope) {
  Tensor x = makeF32({2, 2}, {-1, 2, -3, 4});
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::PRelu, {x, makeF32({2}, {0.5f, 2})}).isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{-0.5, 2, -1.5, 4}));
  expectLowered(t);
  OneNode c;
  ASSERT_TRUE(c.build(OpKind::PRelu, {x}, {makeF32({2}, {0.25f, 1})}).isOk());
  expectLowered(c);
  OneNode bad;
  EXPECT_FALSE(bad.build(OpKind::PRelu,
                         {makeF32({2}, {1, 2}), makeF32({2, 2}, {1, 2, 3, 4})})
                   .isOk());
}

TEST(Activation, CastLikeTakesTargetType) {
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::CastLike, {makeF32({2}, {1.7f, -2.2f}), makeI64({0}, {})})
          .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "i64[2]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{1, -2}));
  expectLowered(t);
}

TEST(Activation, RejectsIntegerInputsForFloatOps) {
  OneNode t;
  Status s = t.build(OpKind::Gelu, {makeI64({1}, {1})});
  EXPECT_FALSE(s.isOk());
  EXPECT_EQ(s.code(), ErrorCode::Unsupported);
}

TEST(Activation, HalfPrecisionLoweringsComputeInF32) {
  Tensor x(Type(ElemKind::BF16, {4}));
  for (int64_t i = 0; i < 4; ++i)
    x.setDouble(i, -0.5 + 0.75 * double(i));
  for (OpKind k : {OpKind::Celu, OpKind::Gelu, OpKind::Mish, OpKind::Selu}) {
    SCOPED_TRACE(opName(k));
    OneNode t;
    ASSERT_TRUE(t.build(k, {x}, {}, {{"alpha", Attr::ofFloat(2)}}).isOk());
    // Rounded once from f32 in both: bit-identical.
    expectLowered(t, 0);
  }
}

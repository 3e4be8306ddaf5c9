// Reductions, Sum/Mean, ArgMax/ArgMin, CumSum, TopK and Softmax: kernel
// results against hand-computed values, and each composite's lowering
// against its kernel.
#include "TestUtil.h"
#include "lower/Lowering.h"

#include <cmath>
#include <limits>

using namespace ember;
using namespace ember::test;

namespace {

AttrMap attrs(std::initializer_list<std::pair<const std::string, Attr>> l) {
  return AttrMap(l);
}

// Runs the node, lowers the function, runs again and checks both agree.
void expectLoweringMatches(OneNode &t, double tol = 1e-5) {
  auto ref = t.run();
  ASSERT_TRUE(ref.hasValue()) << ref.status().message();
  size_t lowered = 0;
  Status s = lowerFunction(t.f, {}, &lowered);
  ASSERT_TRUE(s.isOk()) << s.message();
  for (auto &n : t.f.nodes())
    EXPECT_TRUE(isPrimitive(n->kind) || isStorage(n->kind))
        << opName(n->kind) << " survived lowering";
  auto got = interpret(t.f, t.feeds);
  ASSERT_TRUE(got.hasValue()) << got.status().message();
  ASSERT_EQ(ref->size(), got->size());
  for (size_t i = 0; i < ref->size(); ++i) {
    EXPECT_EQ((*ref)[i].type(), (*got)[i].type());
    auto a = (*ref)[i].toDoubles(), b = (*got)[i].toDoubles();
    ASSERT_EQ(a.size(), b.size());
    for (size_t j = 0; j < a.size(); ++j) {
      if (std::isnan(a[j]) || std::isinf(a[j])) {
        EXPECT_EQ(std::isnan(a[j]), std::isnan(b[j])) << "at " << j;
        if (std::isinf(a[j])) {
          EXPECT_EQ(a[j], b[j]) << "at " << j;
        }
        continue;
      }
      EXPECT_NEAR(a[j], b[j], tol * (1 + std::abs(a[j]))) << "at " << j;
    }
  }
}

const std::vector<float> k2x3 = {1, -2, 3, 4, 5, -6};

} // namespace

TEST(Reduce, SumOverAxisKeepsDims) {
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::ReduceSum, {makeF32({2, 3}, k2x3)}, {makeI64({1}, {1})})
          .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[2,1]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{2, 3}));
}

TEST(Reduce, NoAxesReducesAllUnlessNoop) {
  OneNode all;
  ASSERT_TRUE(all.build(OpKind::ReduceMax, {makeF32({2, 3}, k2x3)}, {},
                        attrs({{"keepdims", Attr::ofInt(0)}}))
                  .isOk());
  EXPECT_EQ(all.node->types[0].toString(), "f32[]");
  auto r = all.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{5}));

  OneNode noop;
  ASSERT_TRUE(noop.build(OpKind::ReduceSum, {makeF32({2, 3}, k2x3)},
                         {makeI64({0}, {})},
                         attrs({{"noop_with_empty_axes", Attr::ofInt(1)}}))
                  .isOk());
  EXPECT_EQ(noop.node->types[0].toString(), "f32[2,3]");
}

TEST(Reduce, NegativeAndMultipleAxes) {
  OneNode t;
  std::vector<float> v(24);
  for (int i = 0; i < 24; ++i)
    v[size_t(i)] = float(i);
  ASSERT_TRUE(t.build(OpKind::ReduceSum, {makeF32({2, 3, 4}, v)},
                      {makeI64({2}, {0, -1})},
                      attrs({{"keepdims", Attr::ofInt(0)}}))
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[3]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  // sum over i0, i2 of 12*i0 + 4*i1 + i2
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{60, 92, 124}));
}

TEST(Reduce, BadAxesAreErrors) {
  OneNode t;
  Status s =
      t.build(OpKind::ReduceSum, {makeF32({2, 3}, k2x3)}, {makeI64({1}, {2})});
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("out of range"), std::string::npos) << s.message();
  OneNode d;
  s = d.build(OpKind::ReduceSum, {makeF32({2, 3}, k2x3)},
              {makeI64({2}, {1, -1})});
  EXPECT_FALSE(s.isOk());
}

TEST(Reduce, AxesFromGraphInputAreDataDependent) {
  Function f("main");
  Node *x = f.addPlaceholder("x", Type(ElemKind::F32, {2, 3}));
  Node *a = f.addPlaceholder("a", Type(ElemKind::I64, {1}));
  auto n = f.create(OpKind::ReduceSum, {Value(x), Value(a)});
  ASSERT_FALSE(n.hasValue());
  EXPECT_EQ(n.status().code(), ErrorCode::DataDependent);
}

TEST(Reduce, EmptyReductionsGiveIdentities) {
  Tensor x(Type(ElemKind::F32, {2, 0}));
  auto run = [&](OpKind k) {
    OneNode t;
    EXPECT_TRUE(t.build(k, {x}, {makeI64({1}, {1})}).isOk());
    auto r = t.run();
    EXPECT_TRUE(r.hasValue());
    return (*r)[0].toDoubles();
  };
  double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(run(OpKind::ReduceSum), (std::vector<double>{0, 0}));
  EXPECT_EQ(run(OpKind::ReduceProd), (std::vector<double>{1, 1}));
  EXPECT_EQ(run(OpKind::ReduceMax), (std::vector<double>{-inf, -inf}));
  EXPECT_EQ(run(OpKind::ReduceMin), (std::vector<double>{inf, inf}));
  EXPECT_EQ(run(OpKind::ReduceLogSumExp), (std::vector<double>{-inf, -inf}));
  EXPECT_TRUE(std::isnan(run(OpKind::ReduceMean)[0]));

  OneNode ti;
  ASSERT_TRUE(
      ti.build(OpKind::ReduceMax, {Tensor(Type(ElemKind::I32, {0}))}).isOk());
  auto r = ti.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toInts(),
            (std::vector<int64_t>{std::numeric_limits<int32_t>::min()}));
}

TEST(Reduce, IntegerKindsAndNaN) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::ReduceMean, {makeI64({4}, {1, 2, 3, 5})}).isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{2}));

  OneNode n;
  float nan = std::numeric_limits<float>::quiet_NaN();
  ASSERT_TRUE(n.build(OpKind::ReduceMax, {makeF32({3}, {1, nan, 2})}).isOk());
  auto rn = n.run();
  ASSERT_TRUE(rn.hasValue());
  EXPECT_TRUE(std::isnan((*rn)[0].toDoubles()[0]));

  OneNode b;
  ASSERT_TRUE(
      b.build(OpKind::ReduceMin, {Tensor::fromInts(ElemKind::Bool, {1, 0, 1})})
          .isOk());
  auto rb = b.run();
  ASSERT_TRUE(rb.hasValue());
  EXPECT_EQ((*rb)[0].toInts(), (std::vector<int64_t>{0}));
}

// Max and Min of floats follow IEEE 754's maximum/minimum: +0 is above -0
// whichever comes first, so the result does not depend on the order a
// backend reduces in (the CPU backend's vectorized loops keep partial
// results side by side).
TEST(Reduce, SignedZerosInAnyOrder) {
  auto one = [](OpKind k, std::vector<float> v) {
    OneNode t;
    const int64_t n = int64_t(v.size());
    EXPECT_TRUE(t.build(k, {makeF32({n}, std::move(v))}).isOk());
    auto r = t.run();
    EXPECT_TRUE(r.hasValue());
    return (*r)[0].data<float>()[0];
  };
  for (auto v : {std::vector<float>{-0.0f, 0.0f, -1.0f},
                 std::vector<float>{0.0f, -0.0f, -1.0f}}) {
    float mx = one(OpKind::ReduceMax, v);
    EXPECT_EQ(mx, 0.0f);
    EXPECT_FALSE(std::signbit(mx));
  }
  for (auto v : {std::vector<float>{-0.0f, 0.0f, 1.0f},
                 std::vector<float>{0.0f, -0.0f, 1.0f}}) {
    float mn = one(OpKind::ReduceMin, v);
    EXPECT_EQ(mn, 0.0f);
    EXPECT_TRUE(std::signbit(mn));
  }
}

TEST(Reduce, CompositeValues) {
  auto one = [](OpKind k) {
    OneNode t;
    EXPECT_TRUE(t.build(k, {makeF32({2, 2}, {3, -4, 1, 2})},
                        {makeI64({1}, {1})},
                        attrs({{"keepdims", Attr::ofInt(0)}}))
                    .isOk());
    auto r = t.run();
    EXPECT_TRUE(r.hasValue());
    return (*r)[0].toDoubles();
  };
  EXPECT_EQ(one(OpKind::ReduceL1), (std::vector<double>{7, 3}));
  EXPECT_EQ(one(OpKind::ReduceL2)[0], 5);
  EXPECT_EQ(one(OpKind::ReduceSumSquare), (std::vector<double>{25, 5}));
  EXPECT_EQ(one(OpKind::ReduceMean), (std::vector<double>{-0.5, 1.5}));
  EXPECT_NEAR(one(OpKind::ReduceLogSum)[1], std::log(3.0), 1e-6);
  EXPECT_NEAR(one(OpKind::ReduceLogSumExp)[0],
              std::log(std::exp(3.0) + std::exp(-4.0)), 1e-6);
}

TEST(Reduce, CompositeLoweringsMatchKernels) {
  std::vector<float> v = {0.5f, -1.5f, 2, 3, -4, 1, 0.25f, 8, -2, 1, 6, -3};
  for (OpKind k : {OpKind::ReduceMean, OpKind::ReduceL1, OpKind::ReduceL2,
                   OpKind::ReduceLogSumExp, OpKind::ReduceSumSquare}) {
    for (int keep = 0; keep < 2; ++keep) {
      SCOPED_TRACE(std::string(opName(k)) +
                   " keepdims=" + std::to_string(keep));
      OneNode t;
      ASSERT_TRUE(t.build(k, {makeF32({2, 3, 2}, v)}, {makeI64({2}, {0, 2})},
                          attrs({{"keepdims", Attr::ofInt(keep)}}))
                      .isOk());
      expectLoweringMatches(t);
      OneNode all;
      ASSERT_TRUE(all.build(k, {makeF32({2, 3, 2}, v)}, {},
                            attrs({{"keepdims", Attr::ofInt(keep)}}))
                      .isOk());
      expectLoweringMatches(all);
    }
  }
  OneNode ls;
  std::vector<float> pos = {1, 2, 3, 4, 5, 6};
  ASSERT_TRUE(ls.build(OpKind::ReduceLogSum, {makeF32({2, 3}, pos)},
                       {makeI64({1}, {0})})
                  .isOk());
  expectLoweringMatches(ls);
  OneNode l2i;
  ASSERT_TRUE(l2i.build(OpKind::ReduceL2, {makeI64({3}, {3, 4, 1})}).isOk());
  expectLoweringMatches(l2i);
  OneNode empty;
  ASSERT_TRUE(
      empty
          .build(OpKind::ReduceLogSumExp, {Tensor(Type(ElemKind::F32, {2, 0}))},
                 {makeI64({1}, {1})}, attrs({{"keepdims", Attr::ofInt(0)}}))
          .isOk());
  expectLoweringMatches(empty);
}

TEST(Reduce, VariadicSumAndMean) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::Mean, {makeF32({2, 2}, {1, 2, 3, 4}),
                                     makeF32({2}, {10, 20}), makeF32({}, {3})})
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[2,2]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  std::vector<double> want = {14.0 / 3, 25.0 / 3, 16.0 / 3, 9};
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_FLOAT_EQ((*r)[0].toDoubles()[i], want[i]);
  expectLoweringMatches(t);
  OneNode s1;
  ASSERT_TRUE(s1.build(OpKind::Sum, {makeF32({2}, {1, 2})}).isOk());
  expectLoweringMatches(s1);
  OneNode s2;
  ASSERT_TRUE(
      s2.build(OpKind::Sum, {makeF32({2}, {1, 2}), makeF32({3}, {1, 2, 3})})
          .isOk() == false);
}

TEST(Reduce, ArgMaxSelectLastAndKeepDims) {
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::ArgMax, {makeF32({2, 3}, {1, 5, 5, 7, 2, 7})}, {},
              attrs({{"axis", Attr::ofInt(1)}, {"keepdims", Attr::ofInt(0)}}))
          .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "i64[2]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{1, 0}));

  OneNode l;
  ASSERT_TRUE(l.build(OpKind::ArgMin, {makeF32({2, 3}, {1, 5, 1, 7, 2, 2})}, {},
                      attrs({{"axis", Attr::ofInt(-1)},
                             {"select_last_index", Attr::ofInt(1)}}))
                  .isOk());
  EXPECT_EQ(l.node->types[0].toString(), "i64[2,1]");
  auto rl = l.run();
  ASSERT_TRUE(rl.hasValue());
  EXPECT_EQ((*rl)[0].toInts(), (std::vector<int64_t>{2, 2}));
}

TEST(Reduce, CumSumExclusiveReverse) {
  auto run = [](int excl, int rev) {
    OneNode t;
    EXPECT_TRUE(t.build(OpKind::CumSum, {makeF32({4}, {1, 2, 3, 4})},
                        {makeI64({}, {0})},
                        attrs({{"exclusive", Attr::ofInt(excl)},
                               {"reverse", Attr::ofInt(rev)}}))
                    .isOk());
    auto r = t.run();
    EXPECT_TRUE(r.hasValue());
    return (*r)[0].toDoubles();
  };
  EXPECT_EQ(run(0, 0), (std::vector<double>{1, 3, 6, 10}));
  EXPECT_EQ(run(1, 0), (std::vector<double>{0, 1, 3, 6}));
  EXPECT_EQ(run(0, 1), (std::vector<double>{10, 9, 7, 4}));
  EXPECT_EQ(run(1, 1), (std::vector<double>{9, 7, 4, 0}));
}

TEST(Reduce, TopKIsStable) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::TopK, {makeF32({2, 4}, {3, 1, 3, 2, 0, 0, 5, 0})},
                      {makeI64({1}, {3})})
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[2,3]");
  EXPECT_EQ(t.node->types[1].toString(), "i64[2,3]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{3, 3, 2, 5, 0, 0}));
  EXPECT_EQ((*r)[1].toInts(), (std::vector<int64_t>{0, 2, 3, 2, 0, 1}));

  OneNode s;
  ASSERT_TRUE(
      s.build(OpKind::TopK, {makeF32({2, 2}, {4, 1, 1, 3})},
              {makeI64({1}, {1})},
              attrs({{"axis", Attr::ofInt(0)}, {"largest", Attr::ofInt(0)}}))
          .isOk());
  auto rs = s.run();
  ASSERT_TRUE(rs.hasValue());
  EXPECT_EQ((*rs)[0].toDoubles(), (std::vector<double>{1, 1}));
  EXPECT_EQ((*rs)[1].toInts(), (std::vector<int64_t>{1, 0}));

  OneNode bad;
  EXPECT_FALSE(
      bad.build(OpKind::TopK, {makeF32({3}, {1, 2, 3})}, {makeI64({1}, {4})})
          .isOk());
}

TEST(Reduce, SoftmaxAndLowering) {
  std::vector<float> v = {1, 2, 3, -1, 0, 100};
  for (OpKind k : {OpKind::Softmax, OpKind::LogSoftmax})
    for (int axis : {-1, 0}) {
      OneNode t;
      ASSERT_TRUE(t.build(k, {makeF32({2, 3}, v)}, {},
                          attrs({{"axis", Attr::ofInt(axis)}}))
                      .isOk());
      expectLoweringMatches(t);
    }
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::Softmax, {makeF32({3}, {0, 0, 0})}).isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_NEAR((*r)[0].toDoubles()[1], 1.0 / 3, 1e-7);
}

TEST(Reduce, NarrowIntegerMeanLowersIn64Bits) {
  OneNode t;
  Tensor x(Type(ElemKind::I8, {2, 100}));
  for (int64_t i = 0; i < x.size(); ++i)
    x.setInt(i, i % 2 ? 100 : 90);
  ASSERT_TRUE(t.build(OpKind::ReduceMean, {x}, {makeI64({1}, {1})}).isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{95, 95}));
  expectLoweringMatches(t);
}

TEST(Reduce, HalfPrecisionSoftmaxAndSum) {
  Tensor x(Type(ElemKind::F16, {2, 3}));
  for (int64_t i = 0; i < x.size(); ++i)
    x.setDouble(i, 0.5 * double(i) - 1);
  for (OpKind k : {OpKind::Softmax, OpKind::LogSoftmax, OpKind::ReduceMean,
                   OpKind::ReduceLogSumExp}) {
    SCOPED_TRACE(opName(k));
    OneNode t;
    ASSERT_TRUE(t.build(k, {x}).isOk());
    expectLoweringMatches(t, 2e-3);
  }
}

TEST(Reduce, TopKPutsNaNFirstWhenLargest) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::TopK, {makeF32({4}, {1, nan, 3, nan})},
                      {makeI64({1}, {3})})
                  .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[1].toInts(), (std::vector<int64_t>{1, 3, 2}));
  OneNode i;
  ASSERT_TRUE(i.build(OpKind::TopK, {makeI64({4}, {5, -1, 5, 7})},
                      {makeI64({1}, {2})}, attrs({{"largest", Attr::ofInt(0)}}))
                  .isOk());
  auto ri = i.run();
  ASSERT_TRUE(ri.hasValue());
  EXPECT_EQ((*ri)[0].toInts(), (std::vector<int64_t>{-1, 5}));
  EXPECT_EQ((*ri)[1].toInts(), (std::vector<int64_t>{1, 0}));
}

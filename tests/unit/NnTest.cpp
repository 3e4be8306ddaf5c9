// Tests of the Nn kernels (MatMul, Gemm, Conv, pools, normalizations) and
// of their lowerings (lowered graph == reference kernel).
#include "TestUtil.h"
#include "lower/Lowering.h"

#include <cmath>

using namespace ember;
using namespace ember::test;

namespace {

Tensor iota(Dims d, float scale = 1.0f, float offset = 0.0f) {
  Tensor t(Type(ElemKind::F32, std::move(d)));
  for (int64_t i = 0; i < t.size(); ++i)
    t.data<float>()[i] = offset + scale * float((i * 7) % 11) - 3.0f * scale;
  return t;
}

void expectNear(const Tensor &a, const Tensor &b, double tol = 1e-5) {
  ASSERT_EQ(a.type().toString(), b.type().toString());
  for (int64_t i = 0; i < a.size(); ++i)
    ASSERT_NEAR(a.getDouble(i), b.getDouble(i),
                tol * (1 + std::fabs(b.getDouble(i))))
        << "element " << i;
}

// Runs the one-node graph, lowers it, runs again: results must agree.
void expectLoweringMatches(OneNode &t, double tol = 1e-5) {
  auto ref = t.run();
  ASSERT_TRUE(ref.hasValue()) << ref.status().message();
  size_t n = 0;
  Status s = lowerFunction(t.f, {}, &n);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_GE(n, 1u);
  for (auto &node : t.f.nodes())
    EXPECT_FALSE(node->kind == t.node->kind && !isPrimitive(node->kind))
        << "composite survived lowering";
  auto low = t.run();
  ASSERT_TRUE(low.hasValue()) << low.status().message();
  ASSERT_EQ(ref->size(), low->size());
  for (size_t i = 0; i < ref->size(); ++i)
    expectNear((*low)[i], (*ref)[i], tol);
}

// Direct 2-D convolution for checking (NCHW, group 1, symmetric pads).
std::vector<float> naiveConv(const Tensor &x, const Tensor &w, int64_t pad,
                             int64_t stride, int64_t &oh, int64_t &ow) {
  int64_t C = x.dims()[1], H = x.dims()[2], W = x.dims()[3];
  int64_t M = w.dims()[0], kh = w.dims()[2], kw = w.dims()[3];
  oh = (H + 2 * pad - kh) / stride + 1;
  ow = (W + 2 * pad - kw) / stride + 1;
  std::vector<float> y(size_t(M * oh * ow), 0.0f);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t i = 0; i < oh; ++i)
      for (int64_t j = 0; j < ow; ++j) {
        float acc = 0;
        for (int64_t c = 0; c < C; ++c)
          for (int64_t a = 0; a < kh; ++a)
            for (int64_t b = 0; b < kw; ++b) {
              int64_t r = i * stride - pad + a, q = j * stride - pad + b;
              if (r < 0 || r >= H || q < 0 || q >= W)
                continue;
              acc += x.data<float>()[(c * H + r) * W + q] *
                     w.data<float>()[((m * C + c) * kh + a) * kw + b];
            }
        y[size_t((m * oh + i) * ow + j)] = acc;
      }
  return y;
}

} // namespace

TEST(Nn, MatMulBroadcastsBatchesAndVectors) {
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::MatMul, {iota({2, 1, 2, 3}), iota({3, 3, 4})}).isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[2,3,2,4]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  // Check one element by hand: batch (1, 2), row 1, column 3.
  Tensor a = iota({2, 1, 2, 3}), b = iota({3, 3, 4});
  float want = 0;
  for (int k = 0; k < 3; ++k)
    want += a.data<float>()[1 * 6 + 1 * 3 + k] *
            b.data<float>()[2 * 12 + k * 4 + 3];
  EXPECT_FLOAT_EQ((*r)[0].data<float>()[((1 * 3 + 2) * 2 + 1) * 4 + 3], want);

  OneNode v;
  ASSERT_TRUE(v.build(OpKind::MatMul,
                      {makeF32({3}, {1, 2, 3}), makeF32({3}, {4, 5, 6})})
                  .isOk());
  EXPECT_EQ(v.node->types[0].toString(), "f32[]");
  auto rv = v.run();
  ASSERT_TRUE(rv.hasValue());
  EXPECT_EQ((*rv)[0].toDoubles(), (std::vector<double>{32}));
}

TEST(Nn, MatMulRejectsMismatchedInnerDims) {
  OneNode t;
  Status s = t.build(OpKind::MatMul, {iota({2, 3}), iota({4, 2})});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("inner dimensions"), std::string::npos)
      << s.message();
}

TEST(Nn, GemmAttributesAndLowering) {
  OneNode t;
  AttrMap attrs{{"transA", Attr::ofInt(1)},
                {"transB", Attr::ofInt(1)},
                {"alpha", Attr::ofFloat(0.5)},
                {"beta", Attr::ofFloat(2.0)}};
  ASSERT_TRUE(t.build(OpKind::Gemm, {iota({3, 2}), iota({4, 3})},
                      {makeF32({4}, {1, 2, 3, 4})}, attrs)
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[2,4]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  Tensor a = iota({3, 2}), b = iota({4, 3});
  // y[1][2] = 0.5 * sum_k A[k][1] * B[2][k] + 2 * C[2]
  float want = 0;
  for (int k = 0; k < 3; ++k)
    want += a.data<float>()[k * 2 + 1] * b.data<float>()[2 * 3 + k];
  EXPECT_FLOAT_EQ((*r)[0].data<float>()[1 * 4 + 2], 0.5f * want + 6.0f);
  expectLoweringMatches(t);
}

TEST(Nn, ConvMatchesNaiveWithPadsAndStrides) {
  Tensor x = iota({1, 3, 7, 6}, 0.5f), w = iota({4, 3, 3, 3}, 0.25f, 0.1f);
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::Conv, {x, w}, {},
                      {{"pads", Attr::ofInts({1, 1, 1, 1})},
                       {"strides", Attr::ofInts({2, 2})}})
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[1,4,4,3]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  int64_t oh, ow;
  auto want = naiveConv(x, w, 1, 2, oh, ow);
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR((*r)[0].data<float>()[i], want[i], 1e-4) << i;
}

TEST(Nn, ConvGroupsBiasAndAutoPad) {
  // Depthwise 1x1 with bias: y[c] = x[c] * w[c] + b[c].
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::Conv,
                      {makeF32({1, 2, 1, 2}, {1, 2, 3, 4}),
                       makeF32({2, 1, 1, 1}, {10, 100})},
                      {makeF32({2}, {1, 2})}, {{"group", Attr::ofInt(2)}})
                  .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{11, 21, 302, 402}));

  OneNode s;
  ASSERT_TRUE(s.build(OpKind::Conv, {iota({1, 1, 5, 5}), iota({1, 1, 3, 3})},
                      {},
                      {{"auto_pad", Attr::ofString("SAME_UPPER")},
                       {"strides", Attr::ofInts({2, 2})}})
                  .isOk());
  EXPECT_EQ(s.node->types[0].toString(), "f32[1,1,3,3]");
}

TEST(Nn, ConvRejectsChannelMismatch) {
  OneNode t;
  Status s = t.build(OpKind::Conv, {iota({1, 3, 4, 4}), iota({2, 2, 3, 3})});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("'n' (Conv)"), std::string::npos) << s.message();
}

TEST(Nn, ConvTransposeStride2) {
  // 1-D: x = [1, 2], w = [1, 1, 1], stride 2 -> [1, 1, 3, 2, 2].
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::ConvTranspose,
              {makeF32({1, 1, 2}, {1, 2}), makeF32({1, 1, 3}, {1, 1, 1})}, {},
              {{"strides", Attr::ofInts({2})}})
          .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[1,1,5]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{1, 1, 3, 2, 2}));
}

TEST(Nn, MaxPoolIndicesStorageOrderAndCeil) {
  Tensor x = makeF32({1, 1, 3, 3}, {1, 9, 2, 3, 4, 8, 7, 5, 6});
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::MaxPool, {x}, {},
                      {{"kernel_shape", Attr::ofInts({2, 2})},
                       {"strides", Attr::ofInts({2, 2})},
                       {"ceil_mode", Attr::ofInt(1)},
                       {"storage_order", Attr::ofInt(1)}},
                      2)
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[1,1,2,2]");
  EXPECT_EQ(t.node->types[1].toString(), "i64[1,1,2,2]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{9, 8, 7, 6}));
  // Column-major flat indices: (h, w) -> h + 3 * w.
  EXPECT_EQ((*r)[1].toInts(), (std::vector<int64_t>{3, 7, 2, 8}));
}

TEST(Nn, AveragePoolCountIncludePad) {
  Tensor x = makeF32({1, 1, 2, 2}, {1, 2, 3, 4});
  AttrMap a{{"kernel_shape", Attr::ofInts({2, 2})},
            {"pads", Attr::ofInts({1, 1, 0, 0})}};
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::AveragePool, {x}, {}, a).isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{1, 1.5, 2, 2.5}));
  a["count_include_pad"] = Attr::ofInt(1);
  OneNode u;
  ASSERT_TRUE(u.build(OpKind::AveragePool, {x}, {}, a).isOk());
  auto ru = u.run();
  ASSERT_TRUE(ru.hasValue());
  EXPECT_EQ((*ru)[0].toDoubles(), (std::vector<double>{0.25, 0.75, 1, 2.5}));
}

TEST(Nn, GlobalPoolsLower) {
  OneNode avg, mx;
  ASSERT_TRUE(
      avg.build(OpKind::GlobalAveragePool, {iota({2, 3, 4, 5})}).isOk());
  EXPECT_EQ(avg.node->types[0].toString(), "f32[2,3,1,1]");
  expectLoweringMatches(avg);
  ASSERT_TRUE(mx.build(OpKind::GlobalMaxPool, {iota({2, 3, 4, 5})}).isOk());
  expectLoweringMatches(mx);
}

TEST(Nn, BatchNormalizationFoldsConstants) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::BatchNormalization, {iota({2, 3, 2, 2})},
                      {makeF32({3}, {1, 2, 3}), makeF32({3}, {0, 1, -1}),
                       makeF32({3}, {0.5, -1, 2}), makeF32({3}, {1, 4, 9})},
                      {{"epsilon", Attr::ofFloat(1e-3)}})
                  .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  // Element (n=0, c=1, 0): (x - mean) / sqrt(var + eps) * scale + B.
  float x = iota({2, 3, 2, 2}).data<float>()[4];
  EXPECT_NEAR((*r)[0].data<float>()[4], (x + 1) / std::sqrt(4.001f) * 2 + 1,
              1e-5);
  expectLoweringMatches(t);
}

TEST(Nn, BatchNormalizationLowersRuntimeParameters) {
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::BatchNormalization,
              {iota({1, 2, 3}), makeF32({2}, {1, 2}), makeF32({2}, {0, 1}),
               makeF32({2}, {0.5, -1}), makeF32({2}, {1, 4})})
          .isOk());
  expectLoweringMatches(t);
}

TEST(Nn, InstanceNormalizationLowers) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::InstanceNormalization, {iota({2, 3, 4})},
                      {makeF32({3}, {1, 2, 3}), makeF32({3}, {0, 1, -1})})
                  .isOk());
  expectLoweringMatches(t, 1e-4);
}

TEST(Nn, LayerNormalizationThreeResultsLower) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::LayerNormalization, {iota({2, 3, 4})},
                      {iota({3, 4}, 0.1f, 1.0f), iota({4}, 0.2f)},
                      {{"axis", Attr::ofInt(1)}}, 3)
                  .isOk());
  EXPECT_EQ(t.node->types[1].toString(), "f32[2,1,1]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  // Mean of the first row.
  Tensor x = iota({2, 3, 4});
  double m = 0;
  for (int i = 0; i < 12; ++i)
    m += x.data<float>()[i];
  EXPECT_NEAR((*r)[1].data<float>()[0], m / 12, 1e-5);
  expectLoweringMatches(t, 1e-4);
}

TEST(Nn, LrnLowersThroughAveragePool) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::LRN, {iota({1, 5, 2, 2})}, {},
                      {{"size", Attr::ofInt(3)},
                       {"alpha", Attr::ofFloat(0.01)},
                       {"beta", Attr::ofFloat(0.75)},
                       {"bias", Attr::ofFloat(1.5)}})
                  .isOk());
  expectLoweringMatches(t, 1e-5);
}

TEST(Nn, HalfPrecisionLoweringsRoundOnce) {
  Tensor x = iota({1, 3, 4, 4}, 0.37f, 0.01f).convertTo(ElemKind::F16);
  OneNode g;
  ASSERT_TRUE(g.build(OpKind::GlobalAveragePool, {x}).isOk());
  EXPECT_EQ(g.node->types[0].toString(), "f16[1,3,1,1]");
  expectLoweringMatches(g, 0);
  OneNode bn;
  Tensor p = makeF32({3}, {1.5f, 2, 3}).convertTo(ElemKind::F16);
  ASSERT_TRUE(bn.build(OpKind::BatchNormalization, {x}, {p, p, p, p}).isOk());
  expectLoweringMatches(bn, 1e-3); // x*s + t vs (x - mean)*s + B in f32
}

TEST(Nn, LayerNormalizationStatsHaveStashType) {
  Tensor x = iota({2, 4}).convertTo(ElemKind::F16);
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::LayerNormalization, {x},
                      {makeF32({4}, {1, 1, 1, 1}).convertTo(ElemKind::F16)}, {},
                      3)
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f16[2,4]");
  EXPECT_EQ(t.node->types[1].toString(), "f32[2,1]");
  EXPECT_EQ(t.node->types[2].toString(), "f32[2,1]");
  expectLoweringMatches(t, 1e-3);
}

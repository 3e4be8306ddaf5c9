// Tests of the attention, normalization and sequence-model ops (Ops.def's
// section of that name: Attention, RotaryEmbedding, the statistics
// normalizations, LpPool, Trilu, CumProd, Hardmax, Swish, SwiGLU, RNN, GRU,
// LSTM, LinearAttention, CausalConvWithState, TensorScatter) and of their
// lowerings (lowered graph == reference kernel).
#include "TestUtil.h"
#include "lower/Lowering.h"

#include <cmath>
#include <limits>

using namespace ember;
using namespace ember::test;

namespace {

Tensor wave(Dims d, float scale = 1.0f, float offset = 0.0f) {
  Tensor t(Type(ElemKind::F32, std::move(d)));
  for (int64_t i = 0; i < t.size(); ++i)
    t.data<float>()[i] = offset + scale * std::sin(0.7f * float(i) + 0.3f);
  return t;
}

void expectNear(const Tensor &a, const Tensor &b, double tol = 1e-5) {
  ASSERT_EQ(a.type().toString(), b.type().toString());
  for (int64_t i = 0; i < a.size(); ++i) {
    double x = a.getDouble(i), y = b.getDouble(i);
    if (x == y || (std::isnan(x) && std::isnan(y)))
      continue; // also equal infinities
    ASSERT_NEAR(x, y, tol * (1 + std::fabs(y))) << "element " << i;
  }
}

std::vector<Tensor> runOk(OneNode &t) {
  auto r = t.run();
  EXPECT_TRUE(r.hasValue()) << r.status().message();
  return r.hasValue() ? *r : std::vector<Tensor>{};
}

// Runs the graph, lowers it, runs again: results must agree, and no node
// of the lowered kind may survive.
void expectLoweringMatches(OneNode &t, double tol = 1e-5) {
  auto ref = t.run();
  ASSERT_TRUE(ref.hasValue()) << ref.status().message();
  OpKind kind = t.node->kind;
  size_t n = 0;
  Status s = lowerFunction(t.f, {}, &n);
  ASSERT_TRUE(s.isOk()) << s.message();
  EXPECT_GE(n, 1u);
  for (auto &node : t.f.nodes())
    EXPECT_NE(node->kind, kind) << "composite survived lowering";
  auto low = t.run();
  ASSERT_TRUE(low.hasValue()) << low.status().message();
  ASSERT_EQ(ref->size(), low->size());
  for (size_t i = 0; i < ref->size(); ++i)
    expectNear((*low)[i], (*ref)[i], tol);
}

// Plain scaled-dot-product attention on 4-D [B, H, S, D] f32 inputs with
// an optional additive [Sq, Skv] bias (for checking).
std::vector<float> naiveAttention(const Tensor &q, const Tensor &k,
                                  const Tensor &v,
                                  const std::vector<float> *bias = nullptr) {
  int64_t B = q.dim(0), Hq = q.dim(1), Sq = q.dim(2), D = q.dim(3);
  int64_t Hkv = k.dim(1), S = k.dim(2), Dv = v.dim(3);
  std::vector<float> y(size_t(B * Hq * Sq * Dv));
  double sc = 1 / std::sqrt(double(D));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h)
      for (int64_t i = 0; i < Sq; ++i) {
        int64_t kh = h / (Hq / Hkv);
        std::vector<double> w(size_t(S), 0.0);
        double mx = -1e300, sum = 0;
        for (int64_t j = 0; j < S; ++j) {
          double acc = 0;
          for (int64_t d = 0; d < D; ++d)
            acc += q.getDouble(((b * Hq + h) * Sq + i) * D + d) *
                   k.getDouble(((b * Hkv + kh) * S + j) * D + d);
          w[size_t(j)] = acc * sc + (bias ? (*bias)[size_t(i * S + j)] : 0);
          mx = std::max(mx, w[size_t(j)]);
        }
        for (auto &e : w)
          sum += (e = std::exp(e - mx));
        for (int64_t e = 0; e < Dv; ++e) {
          double acc = 0;
          for (int64_t j = 0; j < S; ++j)
            acc += w[size_t(j)] / sum *
                   v.getDouble(((b * Hkv + kh) * S + j) * Dv + e);
          y[size_t(((b * Hq + h) * Sq + i) * Dv + e)] = float(acc);
        }
      }
  return y;
}

// Builds main(...) = Attention(operands) where a tensor without data marks
// an absent operand.
struct AttnGraph {
  Function f{"main"};
  std::vector<Tensor> feeds;
  Node *node = nullptr;
  Status build(const std::vector<Tensor> &ops, AttrMap attrs, int nres) {
    std::vector<Value> vs;
    for (size_t i = 0; i < ops.size(); ++i) {
      if (!ops[i].hasData()) {
        vs.push_back(Value());
        continue;
      }
      vs.push_back(
          Value(f.addPlaceholder("x" + std::to_string(i), ops[i].type())));
      feeds.push_back(ops[i]);
    }
    auto n = f.create(OpKind::Attention, vs, std::move(attrs), "attn", nres);
    if (!n)
      return n.status();
    node = *n;
    for (unsigned i = 0; i < node->numResults(); ++i)
      f.addOutput(Value(node, i), "y" + std::to_string(i));
    return Status::ok();
  }
};

// An absent optional operand for AttnGraph.
Tensor absent() { return Tensor::typeOnly(Type(ElemKind::F32, {0})); }

} // namespace

TEST(SequenceModelOps, AttentionMatchesNaive4D) {
  Tensor q = wave({2, 2, 3, 4}), k = wave({2, 2, 5, 4}, 0.8f, 0.1f),
         v = wave({2, 2, 5, 3}, 1.5f);
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::Attention, {q, k, v}).isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[2,2,3,3]");
  auto r = runOk(t);
  ASSERT_EQ(r.size(), 1u);
  auto want = naiveAttention(q, k, v);
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(r[0].data<float>()[i], want[i], 1e-5) << i;
  expectLoweringMatches(t);
}

TEST(SequenceModelOps, AttentionGqaCausalMatchesNaive) {
  // 4 query heads share 2 kv heads; causal mask = -inf above the diagonal.
  Tensor q = wave({1, 4, 3, 2}), k = wave({1, 2, 3, 2}, 0.5f),
         v = wave({1, 2, 3, 2}, 2.0f);
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::Attention, {q, k, v}, {}, {{"is_causal", Attr::ofInt(1)}})
          .isOk());
  auto r = runOk(t);
  std::vector<float> bias(9, 0.0f);
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 3; ++j)
      bias[size_t(i * 3 + j)] = -1e30f;
  auto want = naiveAttention(q, k, v, &bias);
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(r[0].data<float>()[i], want[i], 1e-5) << i;
  expectLoweringMatches(t);
}

TEST(SequenceModelOps, Attention3DPastBoolMaskAllOutputsLowering) {
  // 3-D inputs, GQA, past cache, a short bool mask (padded with false),
  // softcap and the qk output after bias.
  Tensor q = wave({2, 2, 12}), k = wave({2, 3, 6}, 0.7f),
         v = wave({2, 3, 4}, 1.3f), pk = wave({2, 2, 1, 3}, 0.9f),
         pv = wave({2, 2, 1, 2}, 1.1f);
  Tensor m(Type(ElemKind::Bool, {2, 3}));
  for (int64_t i = 0; i < m.size(); ++i)
    m.data<bool>()[i] = (i % 3) != 1;
  for (int64_t mode = 0; mode < 4; ++mode) {
    OneNode t;
    ASSERT_TRUE(t.build(OpKind::Attention, {q, k, v, m, pk, pv}, {},
                        {{"q_num_heads", Attr::ofInt(4)},
                         {"kv_num_heads", Attr::ofInt(2)},
                         {"softcap", Attr::ofFloat(2.0)},
                         {"qk_matmul_output_mode", Attr::ofInt(mode)}},
                        4)
                    .isOk());
    EXPECT_EQ(t.node->types[0].toString(), "f32[2,2,8]");
    EXPECT_EQ(t.node->types[1].toString(), "f32[2,2,4,3]");
    EXPECT_EQ(t.node->types[2].toString(), "f32[2,2,4,2]");
    EXPECT_EQ(t.node->types[3].toString(), "f32[2,4,2,4]");
    auto r = runOk(t);
    ASSERT_EQ(r.size(), 4u);
    // present_key = past ++ K in head layout: [b=0, h=1, s=1, d=2] is
    // K[b=0, s=0, h*3+d = 5].
    EXPECT_FLOAT_EQ(r[1].data<float>()[(1 * 4 + 1) * 3 + 2],
                    k.data<float>()[5]);
    expectLoweringMatches(t);
  }
}

TEST(SequenceModelOps, AttentionFullyMaskedRowIsZero) {
  Tensor q = wave({1, 1, 2, 2}), k = wave({1, 1, 2, 2}),
         v = wave({1, 1, 2, 2}, 1.0f, 3.0f);
  Tensor m(Type(ElemKind::Bool, {2, 2}));
  m.data<bool>()[0] = true; // row 0 attends key 0; row 1 attends nothing
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::Attention, {q, k, v, m}, {},
                      {{"qk_matmul_output_mode", Attr::ofInt(3)}}, 4)
                  .isOk());
  auto r = runOk(t);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_FLOAT_EQ(r[0].data<float>()[0], v.data<float>()[0]);
  EXPECT_EQ(r[0].data<float>()[2], 0.0f);
  EXPECT_EQ(r[0].data<float>()[3], 0.0f);
  EXPECT_EQ(r[3].data<float>()[2], 0.0f);
  EXPECT_FALSE(std::isnan(r[3].data<float>()[3]));
  expectLoweringMatches(t);
}

TEST(SequenceModelOps, AttentionNonpadCausalLowering) {
  Tensor q = wave({2, 2, 2, 3}), k = wave({2, 2, 4, 3}, 0.6f),
         v = wave({2, 2, 4, 2});
  Tensor np = makeI64({2}, {3, 1}); // batch 1: offset -1, row 0 masked
  AttnGraph g;
  ASSERT_TRUE(g.build({q, k, v, absent(), absent(), absent(), np},
                      {{"is_causal", Attr::ofInt(1)}}, 1)
                  .isOk());
  auto r = interpret(g.f, g.feeds);
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  // Batch 1, head 0, row 0 has no key (j <= 0 - 1): zeros.
  const float *y = (*r)[0].data<float>();
  EXPECT_EQ(y[((1 * 2 + 0) * 2 + 0) * 2 + 0], 0.0f);
  // Batch 1, row 1 sees key 0 only: V row 0.
  EXPECT_FLOAT_EQ(y[((1 * 2 + 0) * 2 + 1) * 2 + 1],
                  v.data<float>()[((1 * 2 + 0) * 4 + 0) * 2 + 1]);
  ASSERT_TRUE(lowerFunction(g.f).isOk());
  auto low = interpret(g.f, g.feeds);
  ASSERT_TRUE(low.hasValue()) << low.status().message();
  expectNear((*low)[0], (*r)[0]);
}

TEST(SequenceModelOps, AttentionRejectsBadShapes) {
  OneNode a;
  Status s = a.build(OpKind::Attention, {wave({1, 3, 2, 4}), wave({1, 2, 2, 4}),
                                         wave({1, 2, 2, 4})});
  EXPECT_FALSE(s.isOk()); // 3 q heads, 2 kv heads
  OneNode b;
  s = b.build(OpKind::Attention,
              {wave({1, 2, 6}), wave({1, 2, 6}), wave({1, 2, 6})});
  EXPECT_FALSE(s.isOk()); // 3-D without head counts
  OneNode c;
  s = c.build(OpKind::Attention, {wave({1, 1, 2, 4}), wave({1, 1, 3, 4}),
                                  wave({1, 1, 3, 2}), wave({2, 4})});
  EXPECT_FALSE(s.isOk()); // mask longer than the keys
}

TEST(SequenceModelOps, RotaryEmbeddingRotatesPairs) {
  // One head of size 4, rotary dim 2: (x0, x1) rotated, (x2, x3) kept.
  Tensor x = makeF32({1, 1, 1, 4}, {1, 2, 3, 4});
  Tensor c = makeF32({2, 1}, {1, 0}), s = makeF32({2, 1}, {0, 1});
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::RotaryEmbedding, {x, c, s, makeI64({1, 1}, {1})},
                      {}, {{"rotary_embedding_dim", Attr::ofInt(2)}})
                  .isOk());
  auto r = runOk(t);
  // position 1: cos 0, sin 1: (x0, x1) -> (-x1, x0).
  EXPECT_EQ(r[0].toDoubles(), (std::vector<double>{-2, 1, 3, 4}));
  OneNode bad;
  EXPECT_FALSE(
      bad.build(OpKind::RotaryEmbedding,
                {x, makeF32({2, 2}, {1, 0, 1, 0}), s, makeI64({1, 1}, {1})})
          .isOk());
  OneNode oob;
  ASSERT_TRUE(oob.build(OpKind::RotaryEmbedding,
                        {x, c, s, makeI64({1, 1}, {5})}, {},
                        {{"rotary_embedding_dim", Attr::ofInt(2)}})
                  .isOk());
  EXPECT_FALSE(oob.run().hasValue());
}

TEST(SequenceModelOps, RMSNormalizationValuesAndLowering) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::RMSNormalization,
                      {makeF32({2, 2}, {3, 4, 0, 0}), makeF32({2}, {1, 2})}, {},
                      {{"epsilon", Attr::ofFloat(0.0)}})
                  .isOk());
  auto r = runOk(t);
  // rms(3, 4) = sqrt(12.5)
  double rms = std::sqrt(12.5);
  EXPECT_NEAR(r[0].getDouble(0), 3 / rms, 1e-6);
  EXPECT_NEAR(r[0].getDouble(1), 8 / rms, 1e-6);
  OneNode l;
  ASSERT_TRUE(l.build(OpKind::RMSNormalization,
                      {wave({2, 3, 4}), wave({3, 4}, 0.5f, 1.0f)}, {},
                      {{"axis", Attr::ofInt(1)}})
                  .isOk());
  expectLoweringMatches(l);
}

TEST(SequenceModelOps, LpNormalizationZeroNormAndLowering) {
  for (int64_t p : {1, 2}) {
    OneNode t;
    ASSERT_TRUE(t.build(OpKind::LpNormalization,
                        {makeF32({2, 2}, {3, -4, 0, 0})}, {},
                        {{"p", Attr::ofInt(p)}})
                    .isOk());
    auto r = runOk(t);
    double n = p == 1 ? 7 : 5;
    EXPECT_EQ(r[0].toDoubles(),
              (std::vector<double>{float(3 / n), float(-4 / n), 0, 0}));
    expectLoweringMatches(t);
  }
  OneNode bad;
  EXPECT_FALSE(bad.build(OpKind::LpNormalization, {wave({2})}, {},
                         {{"p", Attr::ofInt(3)}})
                   .isOk());
}

TEST(SequenceModelOps, GroupAndMeanVarianceNormalizationLowering) {
  OneNode g;
  ASSERT_TRUE(g.build(OpKind::GroupNormalization,
                      {wave({2, 4, 3}), wave({4}, 1.0f, 1.0f), wave({4})}, {},
                      {{"num_groups", Attr::ofInt(2)}})
                  .isOk());
  auto r = runOk(g);
  // Each group is normalized: scale 1, bias 0 gives mean 0, variance ~1.
  OneNode unit;
  ASSERT_TRUE(
      unit.build(OpKind::GroupNormalization,
                 {wave({1, 2, 3}), makeF32({2}, {1, 1}), makeF32({2}, {0, 0})},
                 {}, {{"num_groups", Attr::ofInt(1)}})
          .isOk());
  auto u = runOk(unit);
  double sum = 0, sq = 0;
  for (int64_t i = 0; i < 6; ++i) {
    sum += u[0].getDouble(i);
    sq += u[0].getDouble(i) * u[0].getDouble(i);
  }
  EXPECT_NEAR(sum, 0, 1e-5);
  EXPECT_NEAR(sq / 6, 1, 1e-4);
  expectLoweringMatches(g);
  OneNode bad;
  EXPECT_FALSE(bad.build(OpKind::GroupNormalization,
                         {wave({1, 4, 3}), wave({4}), wave({4})}, {},
                         {{"num_groups", Attr::ofInt(3)}})
                   .isOk());

  OneNode m;
  ASSERT_TRUE(
      m.build(OpKind::MeanVarianceNormalization, {wave({2, 3, 2, 2})}).isOk());
  expectLoweringMatches(m, 1e-4);
}

TEST(SequenceModelOps, LpPoolSumsPowers) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::LpPool, {makeF32({1, 1, 4}, {3, -4, 0, 1})}, {},
                      {{"kernel_shape", Attr::ofInts({2})},
                       {"strides", Attr::ofInts({2})},
                       {"pads", Attr::ofInts({0, 1})}})
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[1,1,2]");
  auto r = runOk(t);
  EXPECT_NEAR(r[0].getDouble(0), 5, 1e-6);
  EXPECT_NEAR(r[0].getDouble(1), 1, 1e-6);
  OneNode bad;
  EXPECT_FALSE(bad.build(OpKind::LpPool, {wave({1, 1, 4})}).isOk());
}

TEST(SequenceModelOps, TriluUpperLowerWithK) {
  Tensor x = makeF32({2, 3}, {1, 2, 3, 4, 5, 6});
  OneNode up;
  ASSERT_TRUE(up.build(OpKind::Trilu, {x}, {makeI64({}, {1})}).isOk());
  EXPECT_EQ(runOk(up)[0].toDoubles(), (std::vector<double>{0, 2, 3, 0, 0, 6}));
  OneNode lo;
  ASSERT_TRUE(lo.build(OpKind::Trilu, {x, makeI64({}, {-1})}, {},
                       {{"upper", Attr::ofInt(0)}})
                  .isOk());
  EXPECT_EQ(runOk(lo)[0].toDoubles(), (std::vector<double>{0, 0, 0, 4, 0, 0}));
  OneNode bad;
  EXPECT_FALSE(bad.build(OpKind::Trilu, {makeF32({3}, {1, 2, 3})}).isOk());
}

TEST(SequenceModelOps, CumProdExclusiveReverseAndInts) {
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::CumProd, {makeF32({4}, {1, 2, 3, 4})}, {makeI64({}, {0})},
              {{"exclusive", Attr::ofInt(1)}, {"reverse", Attr::ofInt(1)}})
          .isOk());
  EXPECT_EQ(runOk(t)[0].toDoubles(), (std::vector<double>{24, 12, 4, 1}));
  OneNode i;
  Tensor xi = Tensor::fromInts(ElemKind::I32, {2, 3, 4, 5}, {2, 2});
  ASSERT_TRUE(i.build(OpKind::CumProd, {xi}, {makeI64({1}, {-1})}).isOk());
  EXPECT_EQ(runOk(i)[0].toInts(), (std::vector<int64_t>{2, 6, 4, 20}));
  OneNode bad;
  ASSERT_TRUE(bad.build(OpKind::CumProd, {xi}, {makeI64({}, {2})}).isOk());
  EXPECT_FALSE(bad.run().hasValue());
}

TEST(SequenceModelOps, HardmaxFirstMaximum) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::Hardmax, {makeF32({2, 3}, {1, 3, 3, 2, 0, -1})},
                      {}, {{"axis", Attr::ofInt(1)}})
                  .isOk());
  EXPECT_EQ(runOk(t)[0].toDoubles(), (std::vector<double>{0, 1, 0, 1, 0, 0}));
  OneNode a0;
  ASSERT_TRUE(a0.build(OpKind::Hardmax, {makeF32({2, 2}, {1, 5, 2, 4})}, {},
                       {{"axis", Attr::ofInt(0)}})
                  .isOk());
  EXPECT_EQ(runOk(a0)[0].toDoubles(), (std::vector<double>{0, 1, 1, 0}));
}

TEST(SequenceModelOps, SwishAndSwiGLU) {
  Tensor a = makeF32({3}, {-1, 0, 2}), b = makeF32({3}, {2, 5, 0.5});
  OneNode s;
  ASSERT_TRUE(
      s.build(OpKind::Swish, {a}, {}, {{"alpha", Attr::ofFloat(0.5)}}).isOk());
  auto r = runOk(s);
  EXPECT_NEAR(r[0].getDouble(2), 2 / (1 + std::exp(-1.0)), 1e-6);
  expectLoweringMatches(s);
  OneNode g;
  ASSERT_TRUE(g.build(OpKind::SwiGLU, {a, b}).isOk());
  auto rg = runOk(g);
  EXPECT_NEAR(rg[0].getDouble(0), -1 / (1 + std::exp(1.0)) * 2, 1e-6);
  expectLoweringMatches(g);
  OneNode bad;
  EXPECT_FALSE(bad.build(OpKind::SwiGLU, {a, makeF32({2}, {1, 2})}).isOk());
}

TEST(SequenceModelOps, RnnScalarRecurrenceAndSequenceLens) {
  // H = tanh(w x + r h + wb + rb) with scalars, two batches, the second of
  // length 1 (its step 2 output is 0 and Y_h keeps step 1).
  Tensor x = makeF32({2, 2, 1}, {1, 2, 3, 4}); // [S, B, I]
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::RNN,
                      {x, makeF32({1, 1, 1}, {0.5f}), makeF32({1, 1, 1}, {-1}),
                       makeF32({1, 2}, {0.1f, 0.2f}),
                       Tensor::fromInts(ElemKind::I32, {2, 1}, {2})},
                      {}, {{"hidden_size", Attr::ofInt(1)}}, 2)
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "f32[2,1,2,1]");
  auto r = runOk(t);
  ASSERT_EQ(r.size(), 2u);
  double h0 = std::tanh(0.5 * 1 + 0.3), h1 = std::tanh(0.5 * 2 + 0.3);
  double h0b = std::tanh(0.5 * 3 - h0 + 0.3);
  EXPECT_NEAR(r[0].getDouble(0), h0, 1e-6);
  EXPECT_NEAR(r[0].getDouble(1), h1, 1e-6);
  EXPECT_NEAR(r[0].getDouble(2), h0b, 1e-6);
  EXPECT_EQ(r[0].getDouble(3), 0.0);
  EXPECT_NEAR(r[1].getDouble(0), h0b, 1e-6);
  EXPECT_NEAR(r[1].getDouble(1), h1, 1e-6);
  OneNode bad;
  EXPECT_FALSE(bad.build(OpKind::RNN, {x, makeF32({1, 2, 1}, {1, 1}),
                                       makeF32({1, 1, 1}, {1})})
                   .isOk());
}

TEST(SequenceModelOps, GruLinearBeforeResetAndReverse) {
  // One step, scalars: z = s(wz x + rbz), r = s(wr x + rbr),
  // h~ = tanh(wh x + r * (rh h0 + rbh)) (linear_before_reset) or
  // tanh(wh x + rh (r h0) + rbh); H = (1 - z) h~ + z h0.
  Tensor x = makeF32({1, 1, 1}, {0.7f});
  Tensor w = makeF32({1, 3, 1}, {0.2f, -0.4f, 0.9f});
  Tensor rr = makeF32({1, 3, 1}, {0.3f, 0.5f, -0.6f});
  Tensor b = makeF32({1, 6}, {0, 0, 0, 0.1f, 0.2f, 0.3f});
  Tensor h0 = makeF32({1, 1, 1}, {0.25f});
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  double z = sig(0.2 * 0.7 + 0.3 * 0.25 + 0.1);
  double r = sig(-0.4 * 0.7 + 0.5 * 0.25 + 0.2);
  for (int lbr = 0; lbr < 2; ++lbr) {
    OneNode t;
    Tensor noLens = Tensor::fromInts(ElemKind::I32, {1}, {1});
    ASSERT_TRUE(t.build(OpKind::GRU, {x, w, rr, b, noLens, h0}, {},
                        {{"linear_before_reset", Attr::ofInt(lbr)},
                         {"direction", Attr::ofString("reverse")}},
                        2)
                    .isOk());
    auto res = runOk(t);
    double hh = lbr ? std::tanh(0.9 * 0.7 + r * (-0.6 * 0.25 + 0.3))
                    : std::tanh(0.9 * 0.7 - 0.6 * (r * 0.25) + 0.3);
    EXPECT_NEAR(res[1].getDouble(0), (1 - z) * hh + z * 0.25, 1e-6) << lbr;
  }
}

TEST(SequenceModelOps, LstmPeepholesAndInputForget) {
  Tensor x = makeF32({1, 1, 1}, {0.5f});
  Tensor w = makeF32({1, 4, 1}, {0.1f, 0.2f, 0.3f, 0.4f}); // i, o, f, c
  Tensor rr = makeF32({1, 4, 1}, {0.5f, 0.6f, 0.7f, 0.8f});
  Tensor b = makeF32({1, 8}, {0, 0, 0, 0, 0, 0, 0, 0});
  Tensor lens = Tensor::fromInts(ElemKind::I32, {1}, {1});
  Tensor h0 = makeF32({1, 1, 1}, {0.2f}), c0 = makeF32({1, 1, 1}, {-0.3f});
  Tensor p = makeF32({1, 3}, {0.05f, 0.06f, 0.07f}); // i, o, f
  auto sig = [](double v) { return 1 / (1 + std::exp(-v)); };
  for (int coupled = 0; coupled < 2; ++coupled) {
    OneNode t;
    ASSERT_TRUE(t.build(OpKind::LSTM, {x, w, rr, b, lens, h0, c0, p}, {},
                        {{"input_forget", Attr::ofInt(coupled)}}, 3)
                    .isOk());
    auto res = runOk(t);
    ASSERT_EQ(res.size(), 3u);
    double i = sig(0.05 + 0.1 + 0.05 * -0.3);
    double f = coupled ? 1 - i : sig(0.15 + 0.14 + 0.07 * -0.3);
    double c = f * -0.3 + i * std::tanh(0.2 + 0.16);
    double o = sig(0.1 + 0.12 + 0.06 * c);
    EXPECT_NEAR(res[2].getDouble(0), c, 1e-6);
    EXPECT_NEAR(res[1].getDouble(0), o * std::tanh(c), 1e-6);
    EXPECT_NEAR(res[0].getDouble(0), o * std::tanh(c), 1e-6);
  }
}

TEST(SequenceModelOps, LinearAttentionGatedDeltaOneHead) {
  // One head, Dk = Dv = 1: state s: s *= exp(g); v' = beta (v - s k);
  // s += k v'; out = scale q s with scale 1/sqrt(1).
  Tensor q = makeF32({1, 2, 1}, {1, 2}), k = makeF32({1, 2, 1}, {0.5f, 1});
  Tensor v = makeF32({1, 2, 1}, {3, 4}), s0 = makeF32({1, 1, 1, 1}, {0.2f});
  Tensor g = makeF32({1, 2, 1}, {-0.1f, -0.2f}),
         be = makeF32({1, 2, 1}, {0.5f, 0.25f});
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::LinearAttention, {q, k, v, s0, g, be}, {},
                      {{"q_num_heads", Attr::ofInt(1)},
                       {"kv_num_heads", Attr::ofInt(1)}},
                      2)
                  .isOk());
  auto r = runOk(t);
  double s = 0.2 * std::exp(-0.1);
  s += 0.5 * (0.5 * (3 - s * 0.5));
  double o0 = 1 * s;
  s *= std::exp(-0.2);
  s += 1 * (0.25 * (4 - s * 1));
  EXPECT_NEAR(r[0].getDouble(0), o0, 1e-5);
  EXPECT_NEAR(r[0].getDouble(1), 2 * s, 1e-5);
  EXPECT_NEAR(r[1].getDouble(0), s, 1e-5);
  OneNode bad; // gated_delta needs decay and beta
  EXPECT_FALSE(bad.build(OpKind::LinearAttention, {q, k, v}, {},
                         {{"q_num_heads", Attr::ofInt(1)},
                          {"kv_num_heads", Attr::ofInt(1)}})
                   .isOk());
}

TEST(SequenceModelOps, CausalConvWithStateCarriesState) {
  Tensor x = makeF32({1, 1, 3}, {1, 2, 3}),
         w = makeF32({1, 1, 3}, {1, 10, 100});
  Tensor past = makeF32({1, 1, 2}, {5, 6});
  OneNode t;
  Tensor noBias = makeF32({1}, {0.5f});
  ASSERT_TRUE(
      t.build(OpKind::CausalConvWithState, {x, w, noBias, past}, {}, {}, 2)
          .isOk());
  auto r = runOk(t);
  // seq = 5 6 1 2 3
  EXPECT_EQ(r[0].toDoubles(),
            (std::vector<double>{5 + 60 + 100 + 0.5, 6 + 10 + 200 + 0.5,
                                 1 + 20 + 300 + 0.5}));
  EXPECT_EQ(r[1].toDoubles(), (std::vector<double>{2, 3}));
}

TEST(SequenceModelOps, TensorScatterLinearAndCircular) {
  Tensor cache = makeF32({2, 3, 1}, {0, 0, 0, 0, 0, 0});
  Tensor up = makeF32({2, 2, 1}, {1, 2, 3, 4});
  OneNode lin;
  ASSERT_TRUE(
      lin.build(OpKind::TensorScatter, {cache, up, makeI64({2}, {0, 1})})
          .isOk());
  EXPECT_EQ(runOk(lin)[0].toDoubles(), (std::vector<double>{1, 2, 0, 0, 3, 4}));
  OneNode circ;
  ASSERT_TRUE(circ.build(OpKind::TensorScatter,
                         {cache, up, makeI64({2}, {2, 1})}, {},
                         {{"mode", Attr::ofString("circular")}})
                  .isOk());
  EXPECT_EQ(runOk(circ)[0].toDoubles(),
            (std::vector<double>{2, 0, 1, 0, 3, 4}));
  OneNode oob;
  ASSERT_TRUE(
      oob.build(OpKind::TensorScatter, {cache, up, makeI64({2}, {2, 0})})
          .isOk());
  EXPECT_FALSE(oob.run().hasValue());
}

TEST(SequenceModelOps, RotaryEmbeddingLowering) {
  for (int inter = 0; inter < 2; ++inter) {
    OneNode t; // 3-D input, 2 heads of 6, rotary dim 4, position ids
    ASSERT_TRUE(
        t.build(OpKind::RotaryEmbedding,
                {wave({2, 3, 12}), wave({5, 2}, 1.0f, 0.5f), wave({5, 2}, 0.7f),
                 makeI64({2, 3}, {0, 1, 2, 4, 3, -1})},
                {},
                {{"num_heads", Attr::ofInt(2)},
                 {"interleaved", Attr::ofInt(inter)},
                 {"rotary_embedding_dim", Attr::ofInt(4)}})
            .isOk());
    expectLoweringMatches(t);
    OneNode u; // 4-D input, per-batch caches, full rotation
    ASSERT_TRUE(u.build(OpKind::RotaryEmbedding,
                        {wave({2, 2, 3, 4}), wave({2, 3, 2}, 1.0f, 0.5f),
                         wave({2, 3, 2}, 0.7f)},
                        {}, {{"interleaved", Attr::ofInt(inter)}})
                    .isOk());
    expectLoweringMatches(u);
  }
}

TEST(SequenceModelOps, HardmaxAndTriluLowering) {
  for (int64_t axis : {0, 1, -1}) {
    OneNode t;
    ASSERT_TRUE(
        t.build(OpKind::Hardmax,
                {makeF32({2, 3, 2}, {1, 3, 3, 2, 0, -1, 5, 5, 1, 9, 2, 2})}, {},
                {{"axis", Attr::ofInt(axis)}})
            .isOk());
    expectLoweringMatches(t);
  }
  for (int upper = 0; upper < 2; ++upper) {
    OneNode t; // k from a graph input
    ASSERT_TRUE(t.build(OpKind::Trilu, {wave({2, 3, 4}), makeI64({}, {-1})}, {},
                        {{"upper", Attr::ofInt(upper)}})
                    .isOk());
    expectLoweringMatches(t);
    OneNode d; // default k
    ASSERT_TRUE(d.build(OpKind::Trilu, {wave({4, 3})}, {},
                        {{"upper", Attr::ofInt(upper)}})
                    .isOk());
    expectLoweringMatches(d);
  }
}

TEST(SequenceModelOps, EmptyTensorsDoNotCrash) {
  Tensor empty(Type(ElemKind::F32, {0, 4, 3}));
  OneNode g;
  ASSERT_TRUE(g.build(OpKind::GroupNormalization, {empty, wave({4}), wave({4})},
                      {}, {{"num_groups", Attr::ofInt(2)}})
                  .isOk());
  expectLoweringMatches(g);
  OneNode r;
  ASSERT_TRUE(r.build(OpKind::RMSNormalization, {empty, wave({3})}).isOk());
  EXPECT_TRUE(r.run().hasValue());
  OneNode a; // no keys: Y is 0
  ASSERT_TRUE(
      a.build(OpKind::Attention,
              {wave({1, 1, 2, 2}), Tensor(Type(ElemKind::F32, {1, 1, 0, 2})),
               Tensor(Type(ElemKind::F32, {1, 1, 0, 2}))})
          .isOk());
  auto y = runOk(a);
  ASSERT_EQ(y.size(), 1u);
  EXPECT_EQ(y[0].toDoubles(), (std::vector<double>{0, 0, 0, 0}));
}

TEST(SequenceModelOps, CausalConvAndTensorScatterLowering) {
  for (int withPast = 0; withPast < 2; ++withPast)
    for (const char *act : {"none", "silu"}) {
      OneNode t;
      std::vector<Tensor> ins{wave({2, 3, 5}), wave({3, 1, 4}, 0.5f),
                              wave({3}, 0.1f)};
      if (withPast)
        ins.push_back(wave({2, 3, 3}, 2.0f));
      ASSERT_TRUE(t.build(OpKind::CausalConvWithState, ins, {},
                          {{"activation", Attr::ofString(act)}}, 2)
                      .isOk());
      expectLoweringMatches(t);
    }
  OneNode k1; // kernel size 1: empty state
  ASSERT_TRUE(k1.build(OpKind::CausalConvWithState,
                       {wave({1, 2, 3}), wave({2, 1, 1})}, {}, {}, 2)
                  .isOk());
  EXPECT_EQ(k1.node->types[1].toString(), "f32[1,2,0]");
  expectLoweringMatches(k1);

  for (const char *mode : {"linear", "circular"}) {
    OneNode t;
    ASSERT_TRUE(t.build(OpKind::TensorScatter,
                        {wave({2, 2, 4, 3}), wave({2, 2, 2, 3}, 5.0f),
                         makeI64({2}, {mode[0] == 'c' ? 3 : 2, -2})},
                        {}, {{"mode", Attr::ofString(mode)}})
                    .isOk());
    expectLoweringMatches(t);
  }
}

TEST(SequenceModelOps, LpPoolLowering) {
  std::vector<AttrMap> cases = {
      {{"kernel_shape", Attr::ofInts({3, 2})}, {"p", Attr::ofInt(3)}},
      {{"kernel_shape", Attr::ofInts({3, 3})},
       {"strides", Attr::ofInts({2, 2})},
       {"pads", Attr::ofInts({1, 0, 1, 1})},
       {"ceil_mode", Attr::ofInt(1)}},
      {{"kernel_shape", Attr::ofInts({2, 2})},
       {"auto_pad", Attr::ofString("SAME_LOWER")},
       {"strides", Attr::ofInts({2, 1})},
       {"p", Attr::ofInt(1)}},
      {{"kernel_shape", Attr::ofInts({2, 2})},
       {"dilations", Attr::ofInts({2, 1})},
       {"auto_pad", Attr::ofString("VALID")}},
      {{"kernel_shape", Attr::ofInts({2, 2})},
       {"strides", Attr::ofInts({3, 3})}}, // input tail left over
  };
  for (auto &attrs : cases) {
    OneNode t;
    ASSERT_TRUE(
        t.build(OpKind::LpPool, {wave({2, 2, 7, 6})}, {}, attrs).isOk());
    expectLoweringMatches(t, 1e-4);
  }
}

// Tests of the fixed profile's integer softmax, LayerNorm/RMSNorm and GELU
// (ember/quant/Transformer.h, docs/quantization.md, "Transformers"): each
// against float over a generated sweep (the error bounds the docs state,
// in output quanta: |y - (f(x) / s_y + z_y)|, the exact real result before
// rounding, whose own rounding is 0.5), and the interpreter's kernels
// against the header's row functions bit for bit, with their type rules'
// refusals.
#include "TestUtil.h"

#include "ember/quant/Transformer.h"

#include <cmath>
#include <cstdio>
#include <random>

using namespace ember;
using namespace ember::test;

namespace {

struct Kind {
  ElemKind k;
  int32_t lo, hi;
};
const Kind kU8{ElemKind::U8, 0, 255}, kI8{ElemKind::I8, -128, 127},
    kI16{ElemKind::I16, -32768, 32767};

// The distance of integer y from the real target t (clamped to [lo, hi]).
double quantaError(int32_t y, double t, const Kind &k) {
  return std::fabs(double(y) - std::clamp(t, double(k.lo), double(k.hi)));
}

const int64_t kRowLengths[] = {1, 2, 3, 7, 16, 64, 128, 197, 384, 1000};

// Max error of integer softmax rows against the float softmax, over rows of
// every length in kRowLengths with values of a spread `spread` (real).
double softmaxSweep(const Kind &xk, const Kind &yk, double sx, double sy,
                    int32_t zy, double spread, std::mt19937 &rng) {
  const quant::SoftmaxParams p =
      quant::makeSoftmaxParams(sx, sy, zy, yk.lo, yk.hi);
  std::vector<int32_t> scratch;
  double worst = 0;
  std::normal_distribution<double> nd(0, spread);
  for (int rep = 0; rep < 4; ++rep)
    for (int64_t n : kRowLengths) {
      std::vector<int32_t> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
      for (auto &v : x)
        v = std::clamp(int32_t(std::lround(nd(rng) / sx)) +
                           (xk.k == ElemKind::U8 ? 128 : 0),
                       xk.lo, xk.hi);
      quant::integerSoftmaxRow(x.data(), y.data(), n, 1, p, scratch);
      const int32_t m = *std::max_element(x.begin(), x.end());
      double sum = 0;
      for (int32_t v : x)
        sum += std::exp(sx * (v - m));
      for (int64_t j = 0; j < n; ++j) {
        const double prob = std::exp(sx * (x[size_t(j)] - m)) / sum;
        worst = std::max(worst, quantaError(y[size_t(j)], prob / sy + zy, yk));
      }
    }
  return worst;
}

// Max error of integer normalization rows against float LayerNorm
// (center) or RMSNorm, gamma and beta random per element.
double normSweep(const Kind &xk, const Kind &yk, bool center, double sx,
                 double sy, int32_t zx, int32_t zy, std::mt19937 &rng) {
  double worst = 0;
  std::normal_distribution<double> nd(0, 1);
  for (int64_t n : {2, 8, 64, 197, 384, 768}) {
    std::vector<double> gamma(static_cast<size_t>(n)),
        beta(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
      gamma[size_t(j)] = 1 + 0.3 * nd(rng);
      beta[size_t(j)] = center ? 0.3 * nd(rng) : 0.0;
    }
    const double eps = 1e-5;
    const quant::NormParams p =
        quant::makeNormParams(sx, zx, sy, zy, yk.lo, yk.hi, n, center, eps,
                              gamma, center ? beta : std::vector<double>());
    for (int rep = 0; rep < 6; ++rep) {
      // Rows of several offsets and spreads, one nearly constant.
      const double mean = 0.5 * nd(rng) * (xk.hi - xk.lo) / 4;
      const double spread = rep == 5 ? 0.6 : (xk.hi - xk.lo) / 8.0 * (rep + 1);
      std::vector<int32_t> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
      for (auto &v : x)
        v = std::clamp(int32_t(std::lround(zx + mean + spread * nd(rng))),
                       xk.lo, xk.hi);
      quant::integerNormRow(x.data(), y.data(), n, p);
      double mu = 0, ss = 0;
      for (int32_t v : x)
        mu += sx * (v - zx);
      mu = center ? mu / double(n) : 0.0;
      for (int32_t v : x)
        ss += (sx * (v - zx) - mu) * (sx * (v - zx) - mu);
      const double inv = 1 / std::sqrt(ss / double(n) + eps);
      for (int64_t j = 0; j < n; ++j) {
        const double r =
            (sx * (x[size_t(j)] - zx) - mu) * inv * gamma[size_t(j)] +
            beta[size_t(j)];
        worst = std::max(worst, quantaError(y[size_t(j)], r / sy + zy, yk));
      }
    }
  }
  return worst;
}

} // namespace

TEST(QuantTransformer, TablesAreTheirFunctions) {
  const quant::TransformerTables &t = quant::transformerTables();
  EXPECT_EQ(t.exp2.front(), 32768);
  EXPECT_EQ(t.exp2.back(), 65536);
  EXPECT_EQ(t.recip.front(), 65536);
  EXPECT_EQ(t.recip.back(), 32768);
  EXPECT_EQ(t.rsqrt.front(), 32768);
  EXPECT_EQ(t.rsqrt.back(), 16384);
  // exp2NegQ23: 1 at 0, 1/2 one log2 unit down, 0 far down; within the
  // entries' rounding (2^-16 relative) elsewhere.
  EXPECT_EQ(quant::exp2NegQ23(0), 1 << 23);
  EXPECT_EQ(quant::exp2NegQ23(-65536), 1 << 22);
  EXPECT_EQ(quant::exp2NegQ23(-(40 << 16)), 0);
  for (int32_t u = -(20 << 16); u <= 0; u += 977) {
    const double want = std::ldexp(std::exp2(u / 65536.0), 23);
    EXPECT_NEAR(quant::exp2NegQ23(u), want, want * 2e-5 + 0.5) << u;
  }
  for (uint64_t s : {1ull, 3ull, 32768ull, 99999ull, 1ull << 40}) {
    quant::Reciprocal r = quant::reciprocalOf(s);
    EXPECT_NEAR(std::ldexp(double(r.r), -24 - r.p) * double(s), 1.0, 2e-5) << s;
  }
}

// The bounds docs/quantization.md states (measured: the printed figures).
TEST(QuantTransformer, SoftmaxWithinBoundOfFloat) {
  std::mt19937 rng(67);
  struct Case {
    const char *what;
    Kind x, y;
    double sx, sy;
    int32_t zy;
    double spread, bound;
  };
  const Case cases[] = {
      {"i8 -> i8 (1/256, -128)", kI8, kI8, 0.08, 1 / 256.0, -128, 3, 0.6},
      {"u8 -> u8 (1/255, 0)", kU8, kU8, 0.05, 1 / 255.0, 0, 2, 0.6},
      {"i8 -> i8 wide", kI8, kI8, 0.3, 1 / 256.0, -128, 12, 0.6},
      {"i16 -> i16 (2^-15)", kI16, kI16, 12.0 / 32768, 1 / 32768.0, 0, 3, 1.0},
      {"i16 -> i8", kI16, kI8, 20.0 / 32768, 1 / 256.0, -128, 5, 0.6},
  };
  for (const Case &c : cases) {
    const double err = softmaxSweep(c.x, c.y, c.sx, c.sy, c.zy, c.spread, rng);
    std::printf("softmax %-24s max error %.3f quanta\n", c.what, err);
    EXPECT_LE(err, c.bound) << c.what;
  }
}

TEST(QuantTransformer, NormalizationWithinBoundOfFloat) {
  std::mt19937 rng(68);
  for (bool center : {true, false}) {
    struct Case {
      const char *what;
      Kind x, y;
      double sx, sy;
      int32_t zx, zy;
      double bound;
    };
    const Case cases[] = {
        {"i8 -> i8", kI8, kI8, 0.05, 6.0 / 127, 3, -5, 0.6},
        {"u8 -> u8", kU8, kU8, 0.02, 6.0 / 127, 120, 128, 0.6},
        {"i16 -> i16", kI16, kI16, 1.0 / 4096, 6.0 / 32767, 0, 0, 1.0},
        {"i16 -> i8", kI16, kI8, 1.0 / 4096, 6.0 / 127, 0, 0, 0.6},
    };
    for (const Case &c : cases) {
      const double err =
          normSweep(c.x, c.y, center, c.sx, c.sy, c.zx, c.zy, rng);
      std::printf("%s %-12s max error %.3f quanta\n",
                  center ? "layernorm" : "rmsnorm", c.what, err);
      EXPECT_LE(err, c.bound) << c.what << (center ? " LayerNorm" : " RMSNorm");
    }
  }
}

// int16 GELU: the interpolated 513-entry table of the real function, every
// input; 8-bit GELU is a 256-entry table, exact by construction.
TEST(QuantTransformer, Gelu16WithinBoundOfFloat) {
  for (bool tanhForm : {false, true}) {
    auto f = [&](double v) {
      return tanhForm ? quant::geluTanh(v) : quant::geluErf(v);
    };
    const double sx = 8.0 / 32768, sy = 8.0 / 32768;
    int16_t table[quant::kTable16Entries];
    quant::makeTable16(f, sx, sy, table);
    double worst = 0;
    for (int32_t q = -32768; q <= 32767; ++q)
      worst = std::max(worst, quantaError(quant::tableLookup16(q, table),
                                          f(sx * q) / sy, kI16));
    std::printf("gelu %s i16 -> i16 max error %.3f quanta\n",
                tanhForm ? "tanh" : "erf", worst);
    EXPECT_LE(worst, 2.0);
  }
  // The tanh form stays within 1e-3 of the erf form (a real difference,
  // not an integer one).
  for (double v = -6; v <= 6; v += 0.01)
    EXPECT_NEAR(quant::geluTanh(v), quant::geluErf(v), 1e-3) << v;
}

// The interpreter's kernels are the header's rows: a middle softmax axis
// and per-element normalization parameters, 8- and 16-bit.
TEST(QuantTransformer, KernelsAreTheRowFunctions) {
  std::mt19937 rng(69);
  const quant::SoftmaxParams sp =
      quant::makeSoftmaxParams(0.1, 1 / 256.0, -128, -128, 127);
  for (ElemKind k : {ElemKind::I8, ElemKind::I16}) {
    Tensor x(Type(k, {2, 5, 3}));
    for (int64_t i = 0; i < x.size(); ++i)
      x.setInt(i, int64_t(rng() % 256) - 128);
    OneNode t;
    ASSERT_TRUE(t.build(OpKind::IntegerSoftmax, {x}, {},
                        {{"axis", Attr::ofInt(1)},
                         {"in_multiplier", Attr::ofInt(sp.in.mult)},
                         {"in_shift", Attr::ofInt(sp.in.shift)},
                         {"out_multiplier", Attr::ofInt(sp.out.mult)},
                         {"out_shift", Attr::ofInt(sp.out.shift)},
                         {"y_zero_point", Attr::ofInt(-128)},
                         {"to", Attr::ofInt(3)}})
                    .isOk());
    auto r = t.run();
    ASSERT_TRUE(r.hasValue()) << r.status().message();
    for (int64_t o = 0; o < 2; ++o)
      for (int64_t i = 0; i < 3; ++i) {
        int32_t xs[5], ys[5];
        std::vector<int32_t> scratch;
        for (int64_t j = 0; j < 5; ++j)
          xs[j] = int32_t(x.getInt(o * 15 + j * 3 + i));
        quant::integerSoftmaxRow(xs, ys, 5, 1, sp, scratch);
        for (int64_t j = 0; j < 5; ++j)
          EXPECT_EQ((*r)[0].getInt(o * 15 + j * 3 + i), ys[j]);
      }
  }
  std::vector<double> gamma{0.5, -1.5, 2, 1}, beta{0.1, 0, -0.2, 0.3};
  const quant::NormParams np = quant::makeNormParams(
      0.05, 2, 4.0 / 127, 1, -128, 127, 4, true, 1e-5, gamma, beta);
  Tensor x(Type(ElemKind::I8, {3, 4}));
  for (int64_t i = 0; i < x.size(); ++i)
    x.setInt(i, int64_t(rng() % 256) - 128);
  Tensor m(Type(ElemKind::I32, {4})), s(Type(ElemKind::I32, {4})),
      b(Type(ElemKind::I64, {4}));
  for (int64_t c = 0; c < 4; ++c) {
    m.setInt(c, np.mult[size_t(c)]);
    s.setInt(c, np.shift[size_t(c)]);
    b.setInt(c, np.bias[size_t(c)]);
  }
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::IntegerNormalization, {x}, {m, s, b},
                      {{"axis", Attr::ofInt(1)},
                       {"center", Attr::ofInt(1)},
                       {"epsilon", Attr::ofInt(np.epsilon)},
                       {"x_zero_point", Attr::ofInt(2)},
                       {"y_zero_point", Attr::ofInt(1)},
                       {"to", Attr::ofInt(3)}})
                  .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  for (int64_t row = 0; row < 3; ++row) {
    int32_t xs[4], ys[4];
    for (int64_t j = 0; j < 4; ++j)
      xs[j] = int32_t(x.getInt(row * 4 + j));
    quant::integerNormRow(xs, ys, 4, np);
    for (int64_t j = 0; j < 4; ++j)
      EXPECT_EQ((*r)[0].getInt(row * 4 + j), ys[j]);
  }
}

TEST(QuantTransformer, TypeRulesRefuseBadForms) {
  Tensor x(Type(ElemKind::I8, {2, 4}));
  AttrMap sm{{"axis", Attr::ofInt(2)},
             {"in_multiplier", Attr::ofInt(1)},
             {"out_multiplier", Attr::ofInt(1)},
             {"to", Attr::ofInt(3)}};
  OneNode a;
  EXPECT_FALSE(a.build(OpKind::IntegerSoftmax, {x}, {}, sm).isOk());
  sm["axis"] = Attr::ofInt(1);
  sm["in_shift"] = Attr::ofInt(40);
  OneNode b;
  EXPECT_FALSE(b.build(OpKind::IntegerSoftmax, {x}, {}, sm).isOk());
  sm["in_shift"] = Attr::ofInt(0);
  sm["to"] = Attr::ofInt(1); // f32
  OneNode c;
  EXPECT_FALSE(c.build(OpKind::IntegerSoftmax, {x}, {}, sm).isOk());
  // A multiplier of 3 entries for rows of 4; an i16 zero point.
  Tensor m(Type(ElemKind::I32, {3})), s(Type(ElemKind::I32, {3})),
      bias(Type(ElemKind::I64, {3}));
  AttrMap nm{{"axis", Attr::ofInt(1)}, {"to", Attr::ofInt(3)}};
  OneNode d;
  EXPECT_FALSE(
      d.build(OpKind::IntegerNormalization, {x}, {m, s, bias}, nm).isOk());
  Tensor m1(Type(ElemKind::I32, {1})), s1(Type(ElemKind::I32, {1})),
      b1(Type(ElemKind::I64, {1}));
  OneNode e;
  nm["to"] = Attr::ofInt(5); // i16
  nm["y_zero_point"] = Attr::ofInt(3);
  EXPECT_FALSE(
      e.build(OpKind::IntegerNormalization, {x}, {m1, s1, b1}, nm).isOk());
  nm["y_zero_point"] = Attr::ofInt(0);
  OneNode g;
  EXPECT_TRUE(
      g.build(OpKind::IntegerNormalization, {x}, {m1, s1, b1}, nm).isOk());
}

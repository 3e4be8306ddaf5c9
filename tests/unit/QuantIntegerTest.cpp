// Tests of Ember's integer arithmetic (ember/quant/Arith.h), the integer
// primitives (Requantize, TableLookup, integer AveragePool; QuantizedAdd in
// QuantAddTest.cpp)
// and the lowering of quantized patterns into them (docs/quantization.md).
// Expected values come from an independent Python model of the TFLite
// arithmetic, not from the implementation.
#include "TestUtil.h"
#include "lower/Lowering.h"

#include "ember/quant/Arith.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

using namespace ember;
using namespace ember::test;

namespace {

Tensor ints(ElemKind k, Dims d, std::vector<int64_t> v) {
  return Tensor::fromInts(k, v, std::move(d));
}

Tensor scalarOf(ElemKind k, double v) { return Tensor::scalar(k, v); }

size_t countKind(const Function &f, OpKind k) {
  size_t n = 0;
  for (auto &node : f.nodes())
    n += node->kind == k;
  return n;
}

} // namespace

TEST(QuantArith, QuantizeMultiplierEncodesTfliteStyle) {
  using quant::quantizeMultiplier;
  EXPECT_EQ(quantizeMultiplier(0.5), (quant::Multiplier{1 << 30, 0}));
  EXPECT_EQ(quantizeMultiplier(1.0), (quant::Multiplier{1 << 30, 1}));
  EXPECT_EQ(quantizeMultiplier(0.75), (quant::Multiplier{1610612736, 0}));
  // A fraction that rounds up to 2^31 moves to the next exponent.
  EXPECT_EQ(quantizeMultiplier(std::nextafter(1.0, 0.0)),
            (quant::Multiplier{1 << 30, 1}));
  // Too small: the result is just the zero point. Zero, negative, NaN too.
  EXPECT_EQ(quantizeMultiplier(1e-12), (quant::Multiplier{0, 0}));
  EXPECT_EQ(quantizeMultiplier(0.0), (quant::Multiplier{0, 0}));
  EXPECT_EQ(quantizeMultiplier(-1.0), (quant::Multiplier{0, 0}));
  EXPECT_EQ(quantizeMultiplier(std::nan("")), (quant::Multiplier{0, 0}));
  // Too large saturates.
  EXPECT_EQ(quantizeMultiplier(std::ldexp(1.0, 40)),
            (quant::Multiplier{2147483647, 30}));
  for (double m : {1e-6, 0.0123, 0.3, 0.999, 1.7, 250.0})
    EXPECT_NEAR(quant::multiplierValue(quantizeMultiplier(m)), m, m * 1e-9);
}

TEST(QuantArith, RequantizeRoundsOnceHalfUpAndClamps) {
  quant::Multiplier half = quant::quantizeMultiplier(0.5);
  EXPECT_EQ(quant::requantize(3, 0, half, 0, -128, 127), 2);
  EXPECT_EQ(quant::requantize(-3, 0, half, 0, -128, 127), -1);
  quant::Multiplier quarter = quant::quantizeMultiplier(0.25);
  EXPECT_EQ(quant::requantize(6, 0, quarter, 0, -128, 127), 2);
  EXPECT_EQ(quant::requantize(-6, 0, quarter, 0, -128, 127), -1);
  // 115 * 0.0043464 = 0.49984 with shift -7: one rounding keeps it below
  // .5 (gemmlowp's two-step form gives 1).
  quant::Multiplier small = quant::quantizeMultiplier(0.004346433870709485);
  EXPECT_EQ(small.shift, -7);
  EXPECT_EQ(quant::requantize(115, 0, small, 0, -128, 127), 0);
  EXPECT_EQ(quant::requantize(5, 1, half, 10, -128, 127), 12);
  EXPECT_EQ(quant::requantize(1000, 0, half, 0, -128, 127), 127);
  EXPECT_EQ(quant::requantize(-1000, 0, half, 0, 0, 255), 0);
  // lo > hi gives lo.
  EXPECT_EQ(quant::requantize(0, 0, half, 0, 20, 10), 20);
  // Average: half up, for negative sums too.
  EXPECT_EQ(quant::averageHalfUp(5, 2), 3);
  EXPECT_EQ(quant::averageHalfUp(-5, 2), -2);
  EXPECT_EQ(quant::averageHalfUp(-4, 3), -1);
  EXPECT_EQ(quant::averageHalfUp(-5, 3), -2);
}

TEST(QuantInteger, RequantizePerChannelWithZeroPointsAndRange) {
  // x i32[1,2,2]; channel 0 scaled by 0.5, channel 1 by 2.0.
  quant::Multiplier m0 = quant::quantizeMultiplier(0.5),
                    m1 = quant::quantizeMultiplier(2.0);
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::Requantize,
                      {ints(ElemKind::I32, {1, 2, 2}, {7, 13, -2, 80})},
                      {ints(ElemKind::I32, {2}, {m0.mult, m1.mult}),
                       ints(ElemKind::I32, {2}, {m0.shift, m1.shift}),
                       scalarOf(ElemKind::I32, 1), scalarOf(ElemKind::U8, 100)},
                      {{"to", Attr::ofInt(2)},
                       {"axis", Attr::ofInt(1)},
                       {"max", Attr::ofInt(200)}})
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "u8[1,2,2]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  // ch0: (7-1)*0.5=3, (13-1)*0.5=6; ch1: (-2-1)*2=-6, (80-1)*2=158 -> 200.
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{103, 106, 94, 200}));
}

TEST(QuantInteger, RequantizeRejectsBadTables) {
  OneNode t;
  Status s = t.build(
      OpKind::Requantize, {ints(ElemKind::I32, {1, 3}, {1, 2, 3})},
      {ints(ElemKind::I32, {2}, {1, 1}), ints(ElemKind::I32, {2}, {0, 0})},
      {{"to", Attr::ofInt(3)}, {"axis", Attr::ofInt(1)}});
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("2 entries"), std::string::npos) << s.message();
  OneNode u;
  s = u.build(OpKind::Requantize, {ints(ElemKind::I32, {2}, {1, 2})},
              {ints(ElemKind::I32, {1}, {1}), ints(ElemKind::I32, {1}, {0})});
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("'to'"), std::string::npos) << s.message();
}

// The float32 profile's softmax is ONNX Runtime's QLinearSoftmax, quirks
// and all (values measured with ONNX Runtime 1.31 on x86): the output is
// scaled by floor(1 / y_scale), 254 for 1/255; on a line of one element
// the product overflows and uint8 gives its zero point, int8 the x86
// conversion's INT32_MIN plus the zero point, wrapped, then clamped. The
// op refuses a table of another size and a scale that is not a positive
// float32.
TEST(QuantInteger, QuantizedSoftmaxIsOnnxRuntimesKernel) {
  EXPECT_EQ(quant::softmaxScale(1 / 255.0f), 254.0f);
  EXPECT_EQ(quant::softmaxScale(1 / 256.0f), 256.0f);
  float one[quant::kSoftmaxTableEntries];
  quant::makeSoftmaxTable(0.1f, 1, one);
  const float e = one[255], s254 = quant::softmaxScale(1 / 255.0f);
  EXPECT_TRUE(std::isinf(e * s254));
  EXPECT_FALSE(std::isinf(e * 148.0f));
  EXPECT_EQ(quant::softmaxStore(e, s254, e, 200, false), 200);
  EXPECT_EQ(quant::softmaxStore(e, s254, e, 0, true), -128);
  EXPECT_EQ(quant::softmaxStore(e, s254, e, -5, true), 127);
  EXPECT_EQ(quant::softmaxStore(e, 148.0f, e, -128, true), 20);
  EXPECT_EQ(quant::softmaxStore(1, 100.0f, 1, 200, false), 255);
  // SqueezeNet 1.1's output [0, 669] (docs/quantization.md): 29.568
  // quanta exact, 29 as ONNX Runtime scales by 254.
  EXPECT_EQ(quant::softmaxStore(29.568467191f / 255, s254, 1, 0, false), 29);

  // Interpreted: a uint8 line whose maximum repeats and an int8 line.
  float table[quant::kSoftmaxTableEntries];
  quant::makeSoftmaxTable(0.25f, 4, table);
  Tensor t(Type(ElemKind::F32, {quant::kSoftmaxTableEntries}));
  std::memcpy(t.data<float>(), table, sizeof table);
  OneNode u;
  ASSERT_TRUE(u.build(OpKind::QuantizedSoftmax,
                      {ints(ElemKind::U8, {2, 4}, {9, 9, 5, 0, 1, 2, 3, 4})},
                      {t},
                      {{"axis", Attr::ofInt(1)},
                       {"scale", Attr::ofFloat(254)},
                       {"y_zero_point", Attr::ofInt(0)}})
                  .isOk());
  auto r = u.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  // Row 0: e^0, e^0, e^-1 and e^-2.25 over their sum, times 254.
  std::vector<int64_t> want;
  for (const std::vector<int> &row :
       {std::vector<int>{9, 9, 5, 0}, std::vector<int>{1, 2, 3, 4}}) {
    int m = *std::max_element(row.begin(), row.end());
    float sum = 0;
    for (int v : row)
      sum = sum + table[255 - (m - v)];
    for (int v : row)
      want.push_back(
          quant::softmaxStore(table[255 - (m - v)], 254, sum, 0, false));
  }
  EXPECT_EQ((*r)[0].toInts(), want);
  EXPECT_EQ(want[0], 103); // 254 / (2 + e^-1 + e^-2.25) = 102.7
  OneNode bad;
  EXPECT_FALSE(bad.build(OpKind::QuantizedSoftmax,
                         {ints(ElemKind::U8, {2}, {1, 2})},
                         {ints(ElemKind::I32, {2}, {0, 0})},
                         {{"scale", Attr::ofFloat(254)}})
                   .isOk());
  OneNode zero;
  EXPECT_FALSE(zero.build(OpKind::QuantizedSoftmax,
                          {ints(ElemKind::U8, {2}, {1, 2})}, {t},
                          {{"scale", Attr::ofFloat(0)}})
                   .isOk());
}

// The float32 profile's Requantize: an f32 multiplier per channel and no
// shift; rne(f32(f32(x - x_zp) * m[c])) + y_zp, ties to even, clamped.
TEST(QuantInteger, RequantizeFloat32PerChannel) {
  Tensor m(Type(ElemKind::F32, {2}));
  m.data<float>()[0] = 0.5f;
  m.data<float>()[1] = 0.0123f;
  Tensor x = ints(ElemKind::I32, {1, 2, 3}, {5, 7, -5, 1000, 41, -2000});
  Function f("main");
  Value xv(f.addPlaceholder("x", x.type()));
  auto n =
      f.create(OpKind::Requantize,
               {xv, Value(f.addConstant("m", m)), Value(),
                Value(f.addConstant("xz", Tensor::scalar(ElemKind::I32, 1))),
                Value(f.addConstant("yz", Tensor::scalar(ElemKind::U8, 10)))},
               {{"to", Attr::ofInt(2)}, {"axis", Attr::ofInt(1)}});
  ASSERT_TRUE(n.hasValue()) << n.status().message();
  f.addOutput(Value(*n), "y");
  auto r = interpret(f, {x});
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  // ch0: (5-1)*0.5=2, (7-1)*0.5=3, (-5-1)*0.5=-3 -> 12, 13, 7; ch1: 999 *
  // 0.0123 = 12.2877 -> 22, 40 * 0.0123 = 0.492 -> 10, -2001 * 0.0123 ->
  // clamped to 0.
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{12, 13, 7, 22, 10, 0}));
  // Ties round to even: 3 * 0.5 = 1.5 -> 2, 5 * 0.5 = 2.5 -> 2.
  EXPECT_EQ(quant::requantizeFloat32(3, 0, 0.5f, 0, -128, 127), 2);
  EXPECT_EQ(quant::requantizeFloat32(5, 0, 0.5f, 0, -128, 127), 2);
  EXPECT_EQ(quant::requantizeFloat32(-3, 0, 0.5f, 0, -128, 127), -2);
  // f32(acc) rounds above 2^24, as ONNX Runtime's does.
  EXPECT_EQ(quant::requantizeFloat32((1 << 24) + 1, 0, 1.0f / (1 << 20), 0,
                                     -128, 127),
            16);
  // An f32 multiplier takes no shift; an i32 one needs it.
  OneNode u;
  Status s =
      u.build(OpKind::Requantize, {ints(ElemKind::I32, {2}, {1, 2})},
              {m, ints(ElemKind::I32, {2}, {0, 0})}, {{"to", Attr::ofInt(2)}});
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("takes no shift"), std::string::npos)
      << s.message();
}

TEST(QuantInteger, TableLookupIndexesFromTheLowestValue) {
  std::vector<int64_t> table(256);
  for (int i = 0; i < 256; ++i)
    table[size_t(i)] = 255 - i;
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::TableLookup,
                      {ints(ElemKind::I8, {4}, {-128, -1, 0, 127})},
                      {ints(ElemKind::U8, {256}, table)})
                  .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{255, 128, 127, 0}));
  OneNode bad;
  EXPECT_FALSE(bad.build(OpKind::TableLookup, {ints(ElemKind::U8, {1}, {0})},
                         {ints(ElemKind::U8, {10}, std::vector<int64_t>(10))})
                   .isOk());
}

// An i16 input looks up TFLite's 513-entry interpolated table
// (quant::tableLookup16) on every one of its 65,536 values; an i16 input
// with a 256-entry table is refused.
TEST(QuantInteger, TableLookupOfI16InterpolatesTheTable) {
  int16_t t16[quant::kTable16Entries];
  quant::makeTable16([](double x) { return std::tanh(x); }, 0x1p-12, 0x1p-15,
                     t16);
  std::vector<int64_t> table(t16, t16 + quant::kTable16Entries), xs;
  for (int64_t x = -32768; x <= 32767; ++x)
    xs.push_back(x);
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::TableLookup,
                      {ints(ElemKind::I16, {int64_t(xs.size())}, xs)},
                      {ints(ElemKind::I16, {quant::kTable16Entries}, table)})
                  .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  ASSERT_EQ((*r)[0].elem(), ElemKind::I16);
  std::vector<int64_t> got = (*r)[0].toInts();
  for (size_t i = 0; i < xs.size(); ++i)
    ASSERT_EQ(got[i], quant::tableLookup16(int32_t(xs[i]), t16)) << xs[i];
  // Within a few 2^-15 of tanh at the nodes' resolution.
  EXPECT_NEAR(double(got[32768 + 4096]) * 0x1p-15, std::tanh(1.0), 4e-4);
  OneNode bad;
  EXPECT_FALSE(
      bad.build(OpKind::TableLookup, {ints(ElemKind::I16, {1}, {0})},
                {ints(ElemKind::I16, {256}, std::vector<int64_t>(256))})
          .isOk());
}

TEST(QuantInteger, IntegerAveragePoolRoundsHalfUpWhateverTheStorage) {
  // 2x2 windows, stride 2, padding 1 with count_include_pad (pads read the
  // zero point): the same real values stored as u8 (zp 140) and as i8
  // (q - 128, zp 12) give results 128 apart.
  std::mt19937 rng(7);
  std::vector<int64_t> u(2 * 5 * 5), s;
  for (auto &v : u)
    v = int64_t(rng() % 256);
  for (auto v : u)
    s.push_back(v - 128);
  for (int includePad = 0; includePad < 2; ++includePad) {
    AttrMap attrs{{"kernel_shape", Attr::ofInts({2, 2})},
                  {"strides", Attr::ofInts({2, 2})},
                  {"pads", Attr::ofInts({1, 1, 1, 1})},
                  {"count_include_pad", Attr::ofInt(includePad)}};
    AttrMap au = attrs, as = attrs;
    au["pad_value"] = Attr::ofInt(140);
    as["pad_value"] = Attr::ofInt(12);
    OneNode tu, ts;
    ASSERT_TRUE(tu.build(OpKind::AveragePool,
                         {ints(ElemKind::U8, {1, 2, 5, 5}, u)}, {}, au)
                    .isOk());
    ASSERT_TRUE(ts.build(OpKind::AveragePool,
                         {ints(ElemKind::I8, {1, 2, 5, 5}, s)}, {}, as)
                    .isOk());
    auto ru = tu.run(), rs = ts.run();
    ASSERT_TRUE(ru.hasValue() && rs.hasValue());
    auto a = (*ru)[0].toInts(), b = (*rs)[0].toInts();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i)
      EXPECT_EQ(a[i] - 128, b[i]) << "at " << i;
  }
  // The corner window (one real tap, three padded) without
  // count_include_pad is that tap; with it, (tap + 3 * zp) / 4 rounded up.
  OneNode c;
  ASSERT_TRUE(c.build(OpKind::AveragePool,
                      {ints(ElemKind::I8, {1, 1, 1, 1}, {-3})}, {},
                      {{"kernel_shape", Attr::ofInts({2, 2})},
                       {"pads", Attr::ofInts({1, 1, 0, 0})},
                       {"count_include_pad", Attr::ofInt(1)},
                       {"pad_value", Attr::ofInt(-2)}})
                  .isOk());
  auto rc = c.run();
  ASSERT_TRUE(rc.hasValue()) << rc.status().message();
  EXPECT_EQ((*rc)[0].toInts(), (std::vector<int64_t>{-2})); // -9/4 -> -2
}

namespace {

// x f32 -> QuantizeLinear -> DequantizeLinear: a quantized activation.
Value quantizedInput(Function &f, Value x, double scale, int64_t zp,
                     ElemKind k) {
  Value s(f.addConstant("xs", Tensor::scalar(ElemKind::F32, scale)));
  Value z(f.addConstant("xz", Tensor::scalar(k, double(zp))));
  Node *q = *f.create(OpKind::QuantizeLinear, {x, s, z});
  return Value(*f.create(OpKind::DequantizeLinear, {Value(q), s, z}));
}

Value dequantizedConst(Function &f, Tensor q, std::vector<float> scales,
                       std::vector<int64_t> zps, int64_t axis) {
  ElemKind k = q.elem();
  Value c(f.addConstant("w", std::move(q)));
  Tensor st(Type(ElemKind::F32, {int64_t(scales.size())}));
  for (size_t i = 0; i < scales.size(); ++i)
    st.data<float>()[i] = scales[i];
  Value s(f.addConstant("ws", st));
  Value z(f.addConstant("wz", Tensor::fromInts(k, zps)));
  return Value(*f.create(OpKind::DequantizeLinear, {c, s, z},
                         {{"axis", Attr::ofInt(axis)}}));
}

Value quantizeOut(Function &f, Value v, double scale, int64_t zp, ElemKind k) {
  Value s(f.addConstant("ys", Tensor::scalar(ElemKind::F32, scale)));
  Value z(f.addConstant("yz", Tensor::scalar(k, double(zp))));
  return Value(*f.create(OpKind::QuantizeLinear, {v, s, z}));
}

std::vector<float> ramp(size_t n, float lo, float hi) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = lo + (hi - lo) * float((i * 37) % n) / float(n);
  return v;
}

} // namespace

// A QDQ Conv -> Relu -> QuantizeLinear becomes ConvInteger + Add +
// Requantize (with the Relu in its range) and computes exactly what
// QLinearConv with the same parameters, clamped at the zero point, does.
TEST(QuantLowering, QdqConvEqualsQLinearConv) {
  Tensor xin = makeF32({1, 3, 5, 5}, ramp(75, -1.0f, 2.0f));
  std::vector<int64_t> wv;
  for (int i = 0; i < 4 * 3 * 3 * 3; ++i)
    wv.push_back((i * 53) % 255 - 127);
  Tensor w = ints(ElemKind::I8, {4, 3, 3, 3}, wv);
  std::vector<float> ws{0.01f, 0.02f, 0.005f, 0.03f};
  Tensor bias = ints(ElemKind::I32, {4}, {100, -250, 3000, 0});
  AttrMap convAttrs{{"kernel_shape", Attr::ofInts({3, 3})},
                    {"pads", Attr::ofInts({1, 1, 1, 1})},
                    {"strides", Attr::ofInts({2, 2})}};

  Function f("main");
  Value x(f.addPlaceholder("x", xin.type()));
  Value xd = quantizedInput(f, x, 0.0123, 128, ElemKind::U8);
  Value wd = dequantizedConst(f, w, ws, {0, 0, 0, 0}, 0);
  std::vector<float> bs;
  for (float s : ws)
    bs.push_back(float(0.0123f) * s);
  Value bd = dequantizedConst(f, bias, bs, {0, 0, 0, 0}, 0);
  Node *conv = *f.create(OpKind::Conv, {xd, wd, bd}, convAttrs);
  Node *relu = *f.create(OpKind::Relu, {Value(conv)});
  Value y = quantizeOut(f, Value(relu), 0.047, 10, ElemKind::U8);
  f.addOutput(y, "y");
  ASSERT_TRUE(lowerFunction(f).isOk());
  EXPECT_EQ(countKind(f, OpKind::ConvInteger), 1u);
  EXPECT_EQ(countKind(f, OpKind::Requantize), 1u);
  EXPECT_EQ(countKind(f, OpKind::Conv), 0u);
  EXPECT_EQ(countKind(f, OpKind::Relu), 0u);
  auto lowered = interpret(f, {xin});
  ASSERT_TRUE(lowered.hasValue()) << lowered.status().message();

  // The same layer as one QLinearConv on the quantized input.
  Function g("ref");
  Value gx(g.addPlaceholder("x", xin.type()));
  Value s0(g.addConstant("s", Tensor::scalar(ElemKind::F32, 0.0123)));
  Value z0(g.addConstant("z", Tensor::scalar(ElemKind::U8, 128)));
  Node *q = *g.create(OpKind::QuantizeLinear, {gx, s0, z0});
  Tensor wst(Type(ElemKind::F32, {4}));
  for (size_t i = 0; i < 4; ++i)
    wst.data<float>()[i] = ws[i];
  Node *ql = *g.create(
      OpKind::QLinearConv,
      {Value(q), s0, z0, Value(g.addConstant("w", w)),
       Value(g.addConstant("ws", wst)),
       Value(g.addConstant("wz", ints(ElemKind::I8, {4}, {0, 0, 0, 0}))),
       Value(g.addConstant("ys", Tensor::scalar(ElemKind::F32, 0.047))),
       Value(g.addConstant("yz", Tensor::scalar(ElemKind::U8, 10))),
       Value(g.addConstant("b", bias))},
      convAttrs);
  g.addOutput(Value(ql), "y");
  auto ref = interpret(g, {xin});
  ASSERT_TRUE(ref.hasValue()) << ref.status().message();
  auto a = (*lowered)[0].toInts(), b = (*ref)[0].toInts();
  ASSERT_EQ(a.size(), b.size());
  size_t clamped = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i], std::max<int64_t>(b[i], 10)) << "at " << i;
    clamped += b[i] < 10;
  }
  EXPECT_GT(clamped, 0u); // the Relu did something
}

// DequantizeLinear -> Sigmoid -> QuantizeLinear becomes a 256-entry table
// that reproduces the float path exactly.
TEST(QuantLowering, ElementwiseRegionBecomesATable) {
  std::vector<float> xv = ramp(256, -6.0f, 6.0f);
  Tensor xin = makeF32({256}, xv);
  auto build = [&](Function &f) {
    Value x(f.addPlaceholder("x", xin.type()));
    Value xd = quantizedInput(f, x, 0.05, 3, ElemKind::I8);
    Node *sig = *f.create(OpKind::Sigmoid, {xd});
    Node *mul = *f.create(OpKind::Mul, {xd, Value(sig)}); // SiLU
    Value y = quantizeOut(f, Value(mul), 0.03, -100, ElemKind::I8);
    f.addOutput(y, "y");
  };
  Function f("main"), ref("ref");
  build(f);
  build(ref);
  auto want = interpret(ref, {xin});
  ASSERT_TRUE(want.hasValue()) << want.status().message();
  ASSERT_TRUE(lowerFunction(f).isOk());
  EXPECT_EQ(countKind(f, OpKind::TableLookup), 1u);
  EXPECT_EQ(countKind(f, OpKind::Sigmoid), 0u);
  auto got = interpret(f, {xin});
  ASSERT_TRUE(got.hasValue()) << got.status().message();
  EXPECT_EQ((*got)[0].toInts(), (*want)[0].toInts());
}

// DequantizeLinear -> ReduceMean(-1) -> ReduceMean(-1) -> QuantizeLinear
// (a mean over H, then W, as exporters write it) is one integer mean over
// both axes: ReduceSum in int32 and one Requantize, equal to the lowering of
// a single ReduceMean over the two axes and within one quantum of the float
// chain.
TEST(QuantLowering, ReduceMeanChainIsOneIntegerMean) {
  Tensor xin = makeF32({1, 3, 5, 4}, ramp(60, -1.0f, 2.0f));
  auto build = [&](Function &f, bool chain) {
    Value x(f.addPlaceholder("x", xin.type()));
    Value xd = quantizedInput(f, x, 0.0123, 100, ElemKind::U8);
    AttrMap drop{{"keepdims", Attr::ofInt(0)}};
    Value m;
    if (chain) {
      Value a(f.addConstant("a", Tensor::fromInts(ElemKind::I64, {-1})));
      Node *m1 = *f.create(OpKind::ReduceMean, {xd, a}, drop);
      m = Value(*f.create(OpKind::ReduceMean, {Value(m1), a}, drop));
    } else {
      Value a(f.addConstant("a", Tensor::fromInts(ElemKind::I64, {2, 3})));
      m = Value(*f.create(OpKind::ReduceMean, {xd, a}, drop));
    }
    f.addOutput(quantizeOut(f, m, 0.0031, -7, ElemKind::I8), "y");
  };
  Function f("chain"), one("one"), ref("float");
  build(f, true);
  build(one, false);
  build(ref, true);
  auto want = interpret(ref, {xin});
  ASSERT_TRUE(want.hasValue()) << want.status().message();
  ASSERT_TRUE(lowerFunction(f).isOk());
  ASSERT_TRUE(lowerFunction(one).isOk());
  EXPECT_EQ(countKind(f, OpKind::ReduceMean), 0u);
  EXPECT_EQ(countKind(f, OpKind::ReduceSum), 1u);
  EXPECT_EQ(countKind(f, OpKind::Requantize), 1u);
  auto got = interpret(f, {xin}), single = interpret(one, {xin});
  ASSERT_TRUE(got.hasValue()) << got.status().message();
  ASSERT_TRUE(single.hasValue()) << single.status().message();
  auto g = (*got)[0].toInts(), w = (*want)[0].toInts();
  EXPECT_EQ(g, (*single)[0].toInts());
  ASSERT_EQ(g.size(), 3u);
  for (size_t i = 0; i < g.size(); ++i)
    EXPECT_LE(std::abs(g[i] - w[i]), 1) << "at " << i;
}

// The chain's other forms: over non-spatial axes (C then H, without
// keepdims: one ReduceSum over both), with keepdims (W then H: the global
// form), each within one quantum of the float chain; and a chain whose
// first mean is also a function output stays float.
TEST(QuantLowering, ReduceMeanChainForms) {
  Tensor xin = makeF32({1, 3, 5, 4}, ramp(60, -1.0f, 2.0f));
  struct Form {
    std::vector<int64_t> a1, a2;
    int64_t keep;
    bool escapes;
  };
  for (const Form &fm : {Form{{1}, {1}, 0, false}, Form{{3}, {2}, 1, false},
                         Form{{-1}, {-1}, 0, true}}) {
    auto build = [&](Function &f) {
      Value x(f.addPlaceholder("x", xin.type()));
      Value xd = quantizedInput(f, x, 0.0123, 100, ElemKind::U8);
      AttrMap k{{"keepdims", Attr::ofInt(fm.keep)}};
      Value a1(f.addConstant("a1", Tensor::fromInts(ElemKind::I64, fm.a1)));
      Value a2(f.addConstant("a2", Tensor::fromInts(ElemKind::I64, fm.a2)));
      Node *m1 = *f.create(OpKind::ReduceMean, {xd, a1}, k);
      Node *m2 = *f.create(OpKind::ReduceMean, {Value(m1), a2}, k);
      f.addOutput(quantizeOut(f, Value(m2), 0.0031, -7, ElemKind::I8), "y");
      if (fm.escapes)
        f.addOutput(Value(m1), "m1");
    };
    Function f("chain"), ref("float");
    build(f);
    build(ref);
    auto want = interpret(ref, {xin});
    ASSERT_TRUE(want.hasValue()) << want.status().message();
    ASSERT_TRUE(lowerFunction(f).isOk());
    auto got = interpret(f, {xin});
    ASSERT_TRUE(got.hasValue()) << got.status().message();
    if (fm.escapes) { // float means (lowered to sums and divisions)
      EXPECT_EQ(countKind(f, OpKind::Requantize), 0u);
      EXPECT_EQ((*got)[0].toInts(), (*want)[0].toInts());
      continue;
    }
    EXPECT_EQ(countKind(f, OpKind::ReduceMean), 0u) << fm.keep;
    auto g = (*got)[0].toInts(), w = (*want)[0].toInts();
    ASSERT_EQ(g.size(), w.size());
    EXPECT_EQ((*got)[0].dims(), (*want)[0].dims());
    for (size_t i = 0; i < g.size(); ++i)
      EXPECT_LE(std::abs(g[i] - w[i]), 1) << "at " << i << " keep " << fm.keep;
  }
}

// A region whose intermediate value escapes is not a function of one
// quantized input: it stays float.
TEST(QuantLowering, EscapingRegionStaysFloat) {
  Function f("main");
  Tensor xin = makeF32({8}, ramp(8, -1.0f, 1.0f));
  Value x(f.addPlaceholder("x", xin.type()));
  Value xd = quantizedInput(f, x, 0.05, 0, ElemKind::I8);
  Node *sig = *f.create(OpKind::Sigmoid, {xd});
  Value y = quantizeOut(f, Value(sig), 0.01, 0, ElemKind::I8);
  f.addOutput(y, "y");
  f.addOutput(Value(sig), "sig");
  ASSERT_TRUE(lowerFunction(f).isOk());
  EXPECT_EQ(countKind(f, OpKind::TableLookup), 0u);
  EXPECT_EQ(countKind(f, OpKind::Sigmoid), 1u);
}

// A ConvTranspose's DequantizeLinear weight is folded into a constant, but
// ONNX Runtime computes it at run time (it folds no DequantizeLinear), which
// keeps MLAS's K blocks 128 deep (ember/math/GemmBlocks.h): lowering marks
// that ConvTranspose computed_weights = 1 in the float32 profile (the fixed
// profile writes its phases as ConvInteger layers). A float filter stays
// unmarked in both.
TEST(QuantLowering, ConvTransposeOfDequantizedWeightsIsMarked) {
  for (quant::RequantProfile profile :
       {quant::RequantProfile::Fixed, quant::RequantProfile::Float32}) {
    for (bool qdqWeights : {true, false}) {
      std::vector<int64_t> wv;
      for (int i = 0; i < 4 * 2 * 2 * 2; ++i)
        wv.push_back((i * 53) % 255 - 127);
      Function f("main");
      Value x(f.addPlaceholder("x", Type(ElemKind::F32, {1, 4, 3, 3})));
      Value xd = quantizedInput(f, x, 0.0123, 128, ElemKind::U8);
      Value wd = qdqWeights
                     ? dequantizedConst(f, ints(ElemKind::I8, {4, 2, 2, 2}, wv),
                                        {0.01f}, {0}, 1)
                     : Value(f.addConstant(
                           "wf", makeF32({4, 2, 2, 2}, ramp(32, -1.0f, 1.0f))));
      Node *ct = *f.create(OpKind::ConvTranspose, {xd, wd},
                           {{"kernel_shape", Attr::ofInts({2, 2})},
                            {"strides", Attr::ofInts({2, 2})}});
      f.addOutput(quantizeOut(f, Value(ct), 0.05, 0, ElemKind::U8), "y");
      LoweringOptions o;
      o.requant = profile;
      ASSERT_TRUE(lowerFunction(f, o).isOk());
      if (profile == quant::RequantProfile::Fixed && qdqWeights) {
        // The fixed profile's integer form: one ConvInteger per phase.
        EXPECT_EQ(countKind(f, OpKind::ConvTranspose), 0u);
        EXPECT_EQ(countKind(f, OpKind::ConvInteger), 4u);
        continue;
      }
      ASSERT_EQ(countKind(f, OpKind::ConvTranspose), 1u);
      for (auto &n : f.nodes()) {
        if (n->kind == OpKind::ConvTranspose) {
          EXPECT_EQ(n->attrInt("computed_weights", 0), qdqWeights ? 1 : 0)
              << (qdqWeights ? "dequantized" : "float") << " weights";
        }
      }
    }
  }
}

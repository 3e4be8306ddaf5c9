// Tests of the quantization kernels and the lowering of the QLinear ops
// into Ember's integer forms (lowered graph == reference kernel, bit for
// bit).
#include "TestUtil.h"
#include "lower/Lowering.h"

using namespace ember;
using namespace ember::test;

namespace {

Tensor ints(ElemKind k, Dims d, std::vector<int64_t> v) {
  return Tensor::fromInts(k, v, std::move(d));
}

Tensor scalarOf(ElemKind k, double v) { return Tensor::scalar(k, v); }

// Lowers and reruns: quantized results must be identical.
void expectLoweringExact(OneNode &t) {
  auto ref = t.run();
  ASSERT_TRUE(ref.hasValue()) << ref.status().message();
  Status s = lowerFunction(t.f);
  ASSERT_TRUE(s.isOk()) << s.message();
  auto low = t.run();
  ASSERT_TRUE(low.hasValue()) << low.status().message();
  EXPECT_EQ((*low)[0].type().toString(), (*ref)[0].type().toString());
  EXPECT_EQ((*low)[0].toInts(), (*ref)[0].toInts());
}

} // namespace

TEST(Quant, QuantizeLinearRoundsHalfToEvenAndSaturates) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::QuantizeLinear,
                      {makeF32({6}, {0.5f, 1.5f, 2.5f, -0.5f, 1000, -1000})},
                      {scalarOf(ElemKind::F32, 1.0), scalarOf(ElemKind::I8, 1)})
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "i8[6]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{1, 3, 3, 1, 127, -128}));
}

TEST(Quant, QuantizeLinearDefaultsToU8) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::QuantizeLinear, {makeF32({3}, {-1, 2, 600})},
                      {scalarOf(ElemKind::F32, 2.0)})
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "u8[3]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{0, 1, 255}));
}

TEST(Quant, DequantizeLinearPerAxisAndBlocked) {
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::DequantizeLinear,
              {ints(ElemKind::U8, {2, 2}, {10, 20, 30, 40})},
              {makeF32({2}, {0.5f, 2.0f}), ints(ElemKind::U8, {2}, {10, 0})},
              {{"axis", Attr::ofInt(0)}})
          .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{0, 5, 60, 80}));

  OneNode b;
  ASSERT_TRUE(
      b.build(OpKind::DequantizeLinear,
              {ints(ElemKind::I8, {1, 4}, {1, 2, 3, 4})},
              {makeF32({1, 2}, {1.0f, 10.0f})},
              {{"axis", Attr::ofInt(1)}, {"block_size", Attr::ofInt(2)}})
          .isOk());
  auto rb = b.run();
  ASSERT_TRUE(rb.hasValue()) << rb.status().message();
  EXPECT_EQ((*rb)[0].toDoubles(), (std::vector<double>{1, 2, 30, 40}));
}

TEST(Quant, DequantizeLinearRejectsBadScaleShape) {
  OneNode t;
  Status s = t.build(OpKind::DequantizeLinear,
                     {ints(ElemKind::U8, {2, 3}, {1, 2, 3, 4, 5, 6})},
                     {makeF32({2}, {1, 2})}, {{"axis", Attr::ofInt(1)}});
  ASSERT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("per-axis scale"), std::string::npos)
      << s.message();
}

TEST(Quant, MatMulIntegerSubtractsZeroPoints) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::MatMulInteger,
                      {ints(ElemKind::U8, {2, 2}, {1, 2, 3, 4}),
                       ints(ElemKind::U8, {2, 2}, {5, 6, 7, 8})},
                      {scalarOf(ElemKind::U8, 1), scalarOf(ElemKind::U8, 5)})
                  .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "i32[2,2]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue());
  // A - 1 = [[0,1],[2,3]], B - 5 = [[0,1],[2,3]].
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{2, 3, 6, 11}));
}

TEST(Quant, QLinearMatMulRequantizes) {
  // acc = [[2,3],[6,11]]; multiplier 0.5 -> 1, 1.5->2, 3, 5.5->6 (half away
  // from zero).
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::QLinearMatMul, {ints(ElemKind::U8, {2, 2}, {1, 2, 3, 4})},
              {scalarOf(ElemKind::F32, 0.5), scalarOf(ElemKind::U8, 1),
               ints(ElemKind::U8, {2, 2}, {5, 6, 7, 8}),
               scalarOf(ElemKind::F32, 1.0), scalarOf(ElemKind::U8, 5),
               scalarOf(ElemKind::F32, 1.0), scalarOf(ElemKind::U8, 10)})
          .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{11, 12, 13, 16}));
}

TEST(Quant, QLinearConvPerChannelScalesAndBias) {
  // 1x1 conv, two output channels with different weight scales.
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::QLinearConv, {ints(ElemKind::U8, {1, 1, 1, 2}, {12, 14})},
              {scalarOf(ElemKind::F32, 1.0), scalarOf(ElemKind::U8, 10),
               ints(ElemKind::I8, {2, 1, 1, 1}, {3, -1}),
               makeF32({2}, {0.5f, 2.0f}), ints(ElemKind::I8, {2}, {0, 0}),
               scalarOf(ElemKind::F32, 1.0), scalarOf(ElemKind::U8, 100),
               ints(ElemKind::I32, {2}, {1, 0})})
          .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "u8[1,2,1,2]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  // ch0: (x-10)*3+1 = 7, 13 -> *0.5 = 3.5->4, 6.5->7 (Ember rounds half
  // away from zero, docs/quantization.md); ch1: -2,-4 -> *2.
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{104, 107, 96, 92}));
}

TEST(Quant, ConvIntegerPads) {
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::ConvInteger,
                      {ints(ElemKind::U8, {1, 1, 2}, {3, 4}),
                       ints(ElemKind::U8, {1, 1, 2}, {1, 1})},
                      {scalarOf(ElemKind::U8, 1)},
                      {{"pads", Attr::ofInts({1, 1})}})
                  .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  // Centered x = [2, 3], padding contributes 0.
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{2, 5, 3}));
}

TEST(Quant, QLinearAddLoweringIsExact) {
  std::vector<int64_t> av, bv;
  for (int i = 0; i < 64; ++i) {
    av.push_back((i * 37) % 256);
    bv.push_back((i * 91 + 7) % 256);
  }
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::QLinearAdd, {ints(ElemKind::U8, {4, 16}, av)},
              {scalarOf(ElemKind::F32, 0.06828909), scalarOf(ElemKind::U8, 145),
               ints(ElemKind::U8, {4, 16}, bv),
               scalarOf(ElemKind::F32, 0.01787052), scalarOf(ElemKind::U8, 0),
               scalarOf(ElemKind::F32, 0.03040762), scalarOf(ElemKind::U8, 3)})
          .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  // a=150, b=43 is 36.4999... in real arithmetic: Ember's integer add
  // (TFLite's) gives 36 + 0 (ONNX Runtime's float form gives 37).
  OneNode h;
  ASSERT_TRUE(
      h.build(OpKind::QLinearAdd, {ints(ElemKind::U8, {2}, {150, 150})},
              {scalarOf(ElemKind::F32, 0.06828909), scalarOf(ElemKind::U8, 145),
               ints(ElemKind::U8, {2}, {43, 43}),
               scalarOf(ElemKind::F32, 0.01787052), scalarOf(ElemKind::U8, 0),
               scalarOf(ElemKind::F32, 0.03040762), scalarOf(ElemKind::U8, 0)})
          .isOk());
  auto rh = h.run();
  ASSERT_TRUE(rh.hasValue());
  EXPECT_EQ((*rh)[0].toInts(), (std::vector<int64_t>{36, 36}));
  expectLoweringExact(t);
  expectLoweringExact(h);
}

TEST(Quant, QLinearGlobalAveragePoolLoweringIsExact) {
  std::vector<int64_t> xv;
  for (int i = 0; i < 2 * 3 * 4 * 4; ++i)
    xv.push_back((i * 53) % 256 - 128);
  for (int last = 0; last < 2; ++last) {
    OneNode t;
    ASSERT_TRUE(
        t.build(OpKind::QLinearGlobalAveragePool,
                {ints(ElemKind::I8, {2, 3, 4, 4}, xv)},
                {scalarOf(ElemKind::F32, 0.1), scalarOf(ElemKind::I8, -3),
                 scalarOf(ElemKind::F32, 0.05), scalarOf(ElemKind::I8, 2)},
                {{"channels_last", Attr::ofInt(last)}})
            .isOk());
    EXPECT_EQ(t.node->types[0].toString(),
              last ? "i8[2,1,1,4]" : "i8[2,3,1,1]");
    expectLoweringExact(t);
  }
}

TEST(Quant, QLinearAddScalarOperandLowers) {
  std::vector<int64_t> av;
  for (int i = 0; i < 40; ++i)
    av.push_back((i * 29) % 256 - 128);
  for (int swap = 0; swap < 2; ++swap) {
    Tensor big = ints(ElemKind::I8, {5, 8}, av);
    Tensor one = ints(ElemKind::I8, {1}, {-77});
    OneNode t;
    ASSERT_TRUE(
        t.build(OpKind::QLinearAdd, {swap ? one : big},
                {scalarOf(ElemKind::F32, 0.021), scalarOf(ElemKind::I8, -5),
                 swap ? big : one, scalarOf(ElemKind::F32, 0.013),
                 scalarOf(ElemKind::I8, 7), scalarOf(ElemKind::F32, 0.017)})
            .isOk());
    EXPECT_EQ(t.node->types[0].toString(), "i8[5,8]");
    expectLoweringExact(t);
  }
}

TEST(Quant, NarrowIntegerAndFloat8Kinds) {
  OneNode t;
  ASSERT_TRUE(
      t.build(OpKind::QuantizeLinear,
              {makeF32({5}, {-100, -2.5f, 0.5f, 3, 100})},
              {scalarOf(ElemKind::F32, 1.0), ints(ElemKind::I4, {}, {1})})
          .isOk());
  EXPECT_EQ(t.node->types[0].toString(), "i4[5]");
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  EXPECT_EQ((*r)[0].toInts(), (std::vector<int64_t>{-8, -1, 1, 4, 7}));

  OneNode f;
  ASSERT_TRUE(f.build(OpKind::QuantizeLinear, {makeF32({2}, {1000, 0.3f})},
                      {scalarOf(ElemKind::F32, 0.5),
                       Tensor(Type(ElemKind::F8E4M3FN, {}))})
                  .isOk());
  auto rf = f.run();
  ASSERT_TRUE(rf.hasValue()) << rf.status().message();
  // Saturates to the largest E4M3FN value; 0.6 rounds to 0.625.
  EXPECT_EQ((*rf)[0].toDoubles(), (std::vector<double>{448, 0.625}));
}

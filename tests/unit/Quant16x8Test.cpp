// Tests of the 16-bit activation forms (16x8, docs/quantization.md
// "16-bit activations (16x8)"): the lowering of an int16 QDQ layer into
// ConvInteger (int64) + int64 bias + Requantize of an i64, computed by the
// interpreter exactly as the definition's own loop (written here from the
// formulas with ember/quant/Arith.h's requantize16x8), within one quantum
// of the float QDQ form; the 48-bit saturation of Requantize; the int16
// add.
#include "TestUtil.h"
#include "lower/Lowering.h"

#include "ember/quant/Arith.h"

#include <cmath>

using namespace ember;
using namespace ember::test;

namespace {

Tensor ints(ElemKind k, Dims d, std::vector<int64_t> v) {
  return Tensor::fromInts(k, v, std::move(d));
}

size_t countKind(const Function &f, OpKind k) {
  size_t n = 0;
  for (auto &node : f.nodes())
    n += node->kind == k;
  return n;
}

Value qdq(Function &f, Value x, double scale, ElemKind k, int64_t zp = 0) {
  Value s(f.addConstant("s", Tensor::scalar(ElemKind::F32, scale)));
  Value z(f.addConstant("z", Tensor::scalar(k, double(zp))));
  Node *q = *f.create(OpKind::QuantizeLinear, {x, s, z});
  return Value(*f.create(OpKind::DequantizeLinear, {Value(q), s, z}));
}

Value quantizeOut(Function &f, Value v, double scale, ElemKind k) {
  Value s(f.addConstant("ys", Tensor::scalar(ElemKind::F32, scale)));
  Value z(f.addConstant("yz", Tensor::scalar(k, 0.0)));
  return Value(*f.create(OpKind::QuantizeLinear, {v, s, z}));
}

struct Layer {
  std::vector<int64_t> w;
  std::vector<float> ws{0.011f, 0.023f, 0.0047f};
  std::vector<float> bias{0.75f, -1.5f, 0.125f};
  double sx = 4.0 / 32768, sy = 9.0 / 32768;
};

// x -> Q/DQ int16 -> Conv 3x3 (int8 per-channel weights, float bias) ->
// Q int16, its input the [1,2,5,5] x.
std::unique_ptr<Function> conv16(const Layer &l, const Tensor &xin) {
  auto f = std::make_unique<Function>("main");
  Value x(f->addPlaceholder("x", xin.type()));
  Value xd = qdq(*f, x, l.sx, ElemKind::I16);
  Value w(f->addConstant("w", ints(ElemKind::I8, {3, 2, 3, 3}, l.w)));
  Tensor st(Type(ElemKind::F32, {3}));
  for (size_t i = 0; i < 3; ++i)
    st.data<float>()[i] = l.ws[i];
  Value s(f->addConstant("ws", st));
  Value z(f->addConstant("wz", ints(ElemKind::I8, {3}, {0, 0, 0})));
  Value wd(*f->create(OpKind::DequantizeLinear, {w, s, z},
                      {{"axis", Attr::ofInt(0)}}));
  Value b(f->addConstant("b", makeF32({3}, l.bias)));
  Node *conv = *f->create(OpKind::Conv, {xd, wd, b},
                          {{"kernel_shape", Attr::ofInts({3, 3})},
                           {"pads", Attr::ofInts({1, 1, 1, 1})}});
  f->addOutput(quantizeOut(*f, Value(conv), l.sy, ElemKind::I16), "y");
  return f;
}

Tensor input(float lo, float hi) {
  std::vector<float> v(50);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = lo + (hi - lo) * float((i * 37) % 50) / 50.0f;
  return makeF32({1, 2, 5, 5}, v);
}

} // namespace

// The lowered 16x8 conv is ConvInteger -> i64, an i64 bias and a
// Requantize of the i64 sum, and the interpreter computes exactly the
// definition: acc = sum q_x q_w + round_half_even(b / (s_x s_w[c])) in
// int64, requantize16x8 with M = s_x s_w[c] / s_y. The float QDQ form (the
// unlowered graph) is within one quantum of it.
TEST(Quant16x8, ConvIsTheDefinitionAndWithinAQuantumOfFloat) {
  Layer l;
  for (int i = 0; i < 3 * 2 * 9; ++i)
    l.w.push_back((i * 53) % 255 - 127);
  Tensor xin = input(-3.9f, 3.9f);
  auto fl = conv16(l, xin);
  auto ref = interpret(*fl, {xin});
  ASSERT_TRUE(ref.hasValue()) << ref.status().message();
  auto f = conv16(l, xin);
  ASSERT_TRUE(lowerFunction(*f).isOk());
  EXPECT_EQ(countKind(*f, OpKind::ConvInteger), 1u);
  EXPECT_EQ(countKind(*f, OpKind::Conv), 0u);
  bool sawI64 = false;
  for (auto &n : f->nodes())
    sawI64 = sawI64 || (n->kind == OpKind::ConvInteger &&
                        n->types[0].elem() == ElemKind::I64);
  EXPECT_TRUE(sawI64);
  auto got = interpret(*f, {xin});
  ASSERT_TRUE(got.hasValue()) << got.status().message();
  ASSERT_EQ((*got)[0].elem(), ElemKind::I16);

  // The definition, written out.
  std::vector<int64_t> qx(50);
  for (size_t i = 0; i < 50; ++i)
    qx[i] = int64_t(
        std::clamp(std::nearbyint(double(xin.data<float>()[i] / float(l.sx))),
                   -32768.0, 32767.0));
  auto a = (*got)[0].toInts(), r = (*ref)[0].toInts();
  ASSERT_EQ(a.size(), 75u);
  for (int64_t c = 0; c < 3; ++c) {
    double accScale = l.sx * double(l.ws[size_t(c)]);
    int64_t bias =
        int64_t(std::nearbyint(double(l.bias[size_t(c)]) / accScale));
    quant::Multiplier m = quant::quantizeMultiplier(accScale / l.sy);
    for (int64_t oy = 0; oy < 5; ++oy)
      for (int64_t ox = 0; ox < 5; ++ox) {
        int64_t acc = bias;
        for (int64_t ic = 0; ic < 2; ++ic)
          for (int64_t ky = 0; ky < 3; ++ky)
            for (int64_t kx = 0; kx < 3; ++kx) {
              int64_t iy = oy + ky - 1, ix = ox + kx - 1;
              if (iy < 0 || iy >= 5 || ix < 0 || ix >= 5)
                continue;
              acc += qx[size_t((ic * 5 + iy) * 5 + ix)] *
                     l.w[size_t(((c * 2 + ic) * 3 + ky) * 3 + kx)];
            }
        size_t i = size_t((c * 5 + oy) * 5 + ox);
        EXPECT_EQ(a[i], quant::requantize16x8(acc, m, 0, -32768, 32767))
            << "at " << i;
        EXPECT_LE(std::abs(a[i] - r[i]), 1) << "float QDQ form at " << i;
      }
  }
}

// Requantize of an i64 reads it saturated to 48 bits (2^50 as 2^47 - 1)
// and applies the 31-bit multiplier with one rounding: requantize16x8.
TEST(Quant16x8, RequantizeOfI64SaturatesTo48Bits) {
  quant::Multiplier m = quant::quantizeMultiplier(std::ldexp(1.0, -32));
  const int64_t big = int64_t(1) << 50, lim = (int64_t(1) << 47) - 1;
  OneNode t;
  ASSERT_TRUE(t.build(OpKind::Requantize,
                      {ints(ElemKind::I64, {4}, {big, -big, 123456789012, -7})},
                      {ints(ElemKind::I32, {1}, {m.mult}),
                       ints(ElemKind::I32, {1}, {m.shift}),
                       Tensor::scalar(ElemKind::I64, 0),
                       Tensor::scalar(ElemKind::I16, 0)},
                      {{"to", Attr::ofInt(5)}})
                  .isOk());
  auto r = t.run();
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  std::vector<int64_t> want;
  for (int64_t v : {lim, -lim - 1, int64_t(123456789012), int64_t(-7)})
    want.push_back(quant::requantize16x8(v, m, 0, -32768, 32767));
  EXPECT_EQ((*r)[0].toInts(), want);
  // (2^47 - 1) / 2^32 and 2^50 / 2^32 both clamp to the int16 range;
  // 123456789012 / 2^32 = 28.74 rounds to 29; -7 / 2^32 to 0.
  EXPECT_EQ(want, (std::vector<int64_t>{32767, -32768, 29, 0}));
}

// An Add of two int16 tensors is QuantizedAdd with left shift 15, equal to
// quantizedAdd16 element by element.
TEST(Quant16x8, AddIsTheInt16Form) {
  Tensor xa = input(-2.0f, 2.0f), xb = input(-0.5f, 0.7f);
  const double sa = 2.0 / 32768, sb = 0.7 / 32768, sy = 3.0 / 32768;
  Function f("main");
  Value a(f.addPlaceholder("a", xa.type())),
      b(f.addPlaceholder("b", xb.type()));
  Value ad = qdq(f, a, sa, ElemKind::I16), bd = qdq(f, b, sb, ElemKind::I16);
  Node *add = *f.create(OpKind::Add, {ad, bd});
  f.addOutput(quantizeOut(f, Value(add), sy, ElemKind::I16), "y");
  ASSERT_TRUE(lowerFunction(f).isOk());
  ASSERT_EQ(countKind(f, OpKind::QuantizedAdd), 1u);
  for (auto &n : f.nodes()) {
    if (n->kind == OpKind::QuantizedAdd) {
      EXPECT_EQ(n->attrInt("left_shift", 0), 15);
    }
  }
  auto got = interpret(f, {xa, xb});
  ASSERT_TRUE(got.hasValue()) << got.status().message();
  quant::AddParams p = quant::makeAddParams16(sa, sb, sy, -32768, 32767);
  auto y = (*got)[0].toInts();
  for (size_t i = 0; i < y.size(); ++i) {
    int32_t qa =
        int32_t(std::nearbyint(double(xa.data<float>()[i] / float(sa))));
    int32_t qb =
        int32_t(std::nearbyint(double(xb.data<float>()[i] / float(sb))));
    EXPECT_EQ(y[i], quant::quantizedAdd16(std::clamp(qa, -32768, 32767),
                                          std::clamp(qb, -32768, 32767), p))
        << "at " << i;
  }
}

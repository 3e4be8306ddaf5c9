// The quantized add of both requantization profiles (docs/quantization.md,
// "Elementwise add"): the float32 profile's ONNX Runtime form step by step,
// the QuantizedAdd node in each profile, and the lowering of a QDQ Add in
// each profile.
#include "TestUtil.h"
#include "lower/Lowering.h"

#include "ember/quant/Arith.h"

#include <cmath>
#include <random>

using namespace ember;
using namespace ember::test;

namespace {

// The scales and zero points of an add y = a + b.
struct AddScales {
  float sa = 1, sb = 1, sy = 1;
  int32_t za = 0, zb = 0, zy = 0;
};

// Scales as quantize_static makes them: a range over 255.
float rangeScale(std::mt19937 &rng, double lo, double hi) {
  return float(std::exp(std::uniform_real_distribution<double>(
                   std::log(lo), std::log(hi))(rng)) /
               255.0);
}

AddScales randomScales(std::mt19937 &rng, int32_t zlo) {
  AddScales s;
  s.sa = rangeScale(rng, 0.5, 40);
  s.sb = rangeScale(rng, 0.5, 40);
  s.sy = rangeScale(rng, 0.5, 60);
  std::uniform_int_distribution<int32_t> z(zlo, zlo + 255);
  s.za = z(rng);
  s.zb = z(rng);
  s.zy = z(rng);
  return s;
}

Tensor ints(ElemKind k, Dims d, std::vector<int64_t> v) {
  return Tensor::fromInts(k, v, std::move(d));
}

quant::AddParams tfliteParams(const AddScales &s, int32_t lo, int32_t hi) {
  return quant::makeAddParams(s.sa, s.za, s.sb, s.zb, s.sy, s.zy, lo, hi);
}

} // namespace

// The float32 profile is ONNX Runtime's QLinearAdd (x86, AVX2): step by
// step in float32 with its two fused multiply-adds. Here each step is
// computed in double and rounded to float32, where the fused ones are
// exact (a float product has 48 bits, and the sums below stay within 53).
TEST(QuantAdd, Float32IsOnnxRuntimesFusedForm) {
  std::mt19937 rng(3);
  for (int trial = 0; trial < 20; ++trial) {
    AddScales s = randomScales(rng, 0);
    float ra = s.sa / s.sy, rb = s.sb / s.sy;
    quant::AddFloat32 p =
        quant::makeAddFloat32(ra, s.za, rb, s.zb, s.zy, 0, 255);
    float fused = float(double(ra) * double(float(s.za)) +
                        double(float(rb * float(s.zb))));
    float fixed = float(double(float(s.zy)) - double(fused));
    EXPECT_EQ(p.fixed, fixed);
    for (int32_t a = 0; a < 256; ++a)
      for (int32_t b = 0; b < 256; b += 7) {
        float t = float(double(b) * double(rb) + double(fixed));
        float v = float(double(a) * double(ra) + double(t));
        double r = std::nearbyint(double(v)); // ties to even
        int32_t want = int32_t(std::clamp(r, 0.0, 255.0));
        ASSERT_EQ(quant::addFloat32(a, b, p), want)
            << "trial " << trial << " a=" << a << " b=" << b;
      }
  }
  // An exact tie rounds to even: 0.5 + 0 * r.
  quant::AddFloat32 half = quant::makeAddFloat32(0.5f, 0, 0.5f, 0, 0, 0, 255);
  EXPECT_EQ(quant::addFloat32(1, 0, half), 0);
  EXPECT_EQ(quant::addFloat32(3, 0, half), 2);
}

// The QuantizedAdd node in each profile, with numpy broadcasting: fixed
// runs quant::quantizedAdd (TFLite's add), float32 quant::addFloat32; a
// float32 node's ratios must be float32 values.
TEST(QuantAdd, NodeInBothProfilesBroadcasts) {
  AddScales s;
  s.sa = 0.06828909f;
  s.za = 145;
  s.sb = 0.01787052f;
  s.zb = 0;
  s.sy = 0.03040762f;
  s.zy = 0;
  quant::AddParams p = tfliteParams(s, 0, 255);
  // The independent model gives 36 (ONNX Runtime's float form gives 37).
  EXPECT_EQ(quant::quantizedAdd(150, 43, p), 36);
  AttrMap fixed{{"to", Attr::ofInt(2)},
                {"left_shift", Attr::ofInt(p.leftShift)},
                {"a_zero_point", Attr::ofInt(p.aZp)},
                {"a_multiplier", Attr::ofInt(p.a.mult)},
                {"a_shift", Attr::ofInt(p.a.shift)},
                {"b_zero_point", Attr::ofInt(p.bZp)},
                {"b_multiplier", Attr::ofInt(p.b.mult)},
                {"b_shift", Attr::ofInt(p.b.shift)},
                {"y_zero_point", Attr::ofInt(p.yZp)},
                {"y_multiplier", Attr::ofInt(p.y.mult)},
                {"y_shift", Attr::ofInt(p.y.shift)}};
  float ra = s.sa / s.sy, rb = s.sb / s.sy;
  AttrMap f32{{"to", Attr::ofInt(2)},
              {"requant", Attr::ofString("float32")},
              {"a_ratio", Attr::ofFloat(double(ra))},
              {"b_ratio", Attr::ofFloat(double(rb))},
              {"a_zero_point", Attr::ofInt(s.za)},
              {"b_zero_point", Attr::ofInt(s.zb)},
              {"y_zero_point", Attr::ofInt(s.zy)}};
  quant::AddFloat32 pf =
      quant::makeAddFloat32(ra, s.za, rb, s.zb, s.zy, 0, 255);
  for (bool isF32 : {false, true}) {
    OneNode t;
    ASSERT_TRUE(t.build(OpKind::QuantizedAdd,
                        {ints(ElemKind::U8, {2, 1}, {150, 145}),
                         ints(ElemKind::U8, {3}, {43, 0, 255})},
                        {}, isF32 ? f32 : fixed)
                    .isOk());
    EXPECT_EQ(t.node->types[0].toString(), "u8[2,3]");
    auto r = t.run();
    ASSERT_TRUE(r.hasValue()) << r.status().message();
    std::vector<int64_t> want;
    for (int a : {150, 145})
      for (int b : {43, 0, 255})
        want.push_back(isF32 ? quant::addFloat32(a, b, pf)
                             : quant::quantizedAdd(a, b, p));
    EXPECT_EQ((*r)[0].toInts(), want) << (isF32 ? "float32" : "fixed");
    EXPECT_EQ(want[4], 0); // both at their zero points
  }
  EXPECT_EQ(quant::addFloat32(150, 43, pf), 37);
  OneNode v;
  AttrMap bad{{"to", Attr::ofInt(2)},
              {"requant", Attr::ofString("float32")},
              {"a_ratio", Attr::ofFloat(0.1)}, // not a float32 value
              {"b_ratio", Attr::ofFloat(0.5)}};
  Status st = v.build(
      OpKind::QuantizedAdd,
      {ints(ElemKind::U8, {1}, {1}), ints(ElemKind::U8, {1}, {1})}, {}, bad);
  EXPECT_FALSE(st.isOk());
  OneNode w;
  AttrMap unknown{{"to", Attr::ofInt(2)}, {"requant", Attr::ofString("exact")}};
  st = w.build(OpKind::QuantizedAdd,
               {ints(ElemKind::U8, {1}, {1}), ints(ElemKind::U8, {1}, {1})}, {},
               unknown);
  EXPECT_FALSE(st.isOk());
  EXPECT_NE(st.message().find("requant"), std::string::npos) << st.message();
}

namespace {

// QDQ(a) + QDQ(b) -> QuantizeLinear, u8 throughout (a and b are the float
// values the quantized ones stand for).
void buildAdd(Function &f, const Tensor &ain, const Tensor &bin,
              const AddScales &s) {
  auto dq = [&](Value x, float scale, int32_t zp, const char *n) {
    Value sc(f.addConstant(std::string(n) + "s",
                           Tensor::scalar(ElemKind::F32, scale)));
    Value z(
        f.addConstant(std::string(n) + "z", Tensor::scalar(ElemKind::U8, zp)));
    Node *q = *f.create(OpKind::QuantizeLinear, {x, sc, z});
    return Value(*f.create(OpKind::DequantizeLinear, {Value(q), sc, z}));
  };
  Value a(f.addPlaceholder("a", ain.type()));
  Value b(f.addPlaceholder("b", bin.type()));
  Node *add =
      *f.create(OpKind::Add, {dq(a, s.sa, s.za, "a"), dq(b, s.sb, s.zb, "b")});
  Value ys(f.addConstant("ys", Tensor::scalar(ElemKind::F32, s.sy)));
  Value yz(f.addConstant("yz", Tensor::scalar(ElemKind::U8, s.zy)));
  f.addOutput(Value(*f.create(OpKind::QuantizeLinear, {Value(add), ys, yz})),
              "y");
}

} // namespace

// The lowering of a QDQ Add: one QuantizedAdd in either profile, computing
// that profile's add (fixed: the exact one, its scales as attributes); in
// float32 an operand repeated over the innermost span
// (ONNX Runtime's scalar operand) is passed second.
TEST(QuantAdd, LoweringInBothProfiles) {
  AddScales s;
  s.sa = 0.05f;
  s.za = 120;
  s.sb = float(3.0 / 255);
  s.zb = 0;
  s.sy = float(6.0 / 255);
  s.zy = 0;
  std::vector<int64_t> bv{255, 0, 17};
  Tensor aq(Type(ElemKind::U8, {3, 256})), bq = ints(ElemKind::U8, {3, 1}, bv);
  for (int r = 0; r < 3; ++r)
    for (int i = 0; i < 256; ++i)
      aq.setInt(r * 256 + i, i);
  // The float inputs that quantize to aq and bq.
  Tensor af(Type(ElemKind::F32, aq.dims())), bf(Type(ElemKind::F32, bq.dims()));
  for (int64_t i = 0; i < aq.size(); ++i)
    af.setDouble(i, double(s.sa * float(aq.getInt(i) - s.za)));
  for (int64_t i = 0; i < bq.size(); ++i)
    bf.setDouble(i, double(s.sb * float(bq.getInt(i) - s.zb)));
  quant::AddScales es;
  es.sa = s.sa;
  es.sb = s.sb;
  es.sy = s.sy;
  es.za = s.za;
  es.zb = s.zb;
  es.zy = s.zy;
  quant::AddExact pe(es);
  for (auto profile :
       {quant::RequantProfile::Fixed, quant::RequantProfile::Float32}) {
    SCOPED_TRACE(quant::profileName(profile));
    Function f("main");
    buildAdd(f, af, bf, s);
    LoweringOptions lo;
    lo.requant = profile;
    ASSERT_TRUE(lowerFunction(f, lo).isOk());
    const Node *qa = nullptr;
    for (auto &n : f.nodes())
      if (n->kind == OpKind::QuantizedAdd)
        qa = n.get();
    ASSERT_NE(qa, nullptr);
    EXPECT_EQ(qa->attrString("requant", "fixed"), quant::profileName(profile));
    auto got = interpret(f, {af, bf});
    ASSERT_TRUE(got.hasValue()) << got.status().message();
    quant::AddFloat32 pf = quant::makeAddFloat32(s.sa / s.sy, s.za, s.sb / s.sy,
                                                 s.zb, s.zy, 0, 255);
    for (int r = 0; r < 3; ++r)
      for (int i = 0; i < 256; ++i) {
        int64_t want =
            profile == quant::RequantProfile::Fixed
                ? quant::addExact(i, int32_t(bv[size_t(r)]), pe, 0, 255)
                : quant::addFloat32(i, int32_t(bv[size_t(r)]), pf);
        ASSERT_EQ((*got)[0].getInt(r * 256 + i), want) << r << "," << i;
      }
    // x at its zero point plus 3: the exact tie 127.5, to even in float32,
    // up in the fixed profile; 128 either way.
    EXPECT_EQ((*got)[0].getInt(s.za), 128);
  }
  // b first: in float32 the lowering swaps it back to second.
  Function g("swapped");
  {
    auto dq = [&](Value x, float scale, int32_t zp, const char *n) {
      Value sc(g.addConstant(std::string(n) + "s",
                             Tensor::scalar(ElemKind::F32, scale)));
      Value z(g.addConstant(std::string(n) + "z",
                            Tensor::scalar(ElemKind::U8, zp)));
      Node *q = *g.create(OpKind::QuantizeLinear, {x, sc, z});
      return Value(*g.create(OpKind::DequantizeLinear, {Value(q), sc, z}));
    };
    Value a(g.addPlaceholder("a", af.type()));
    Value b(g.addPlaceholder("b", bf.type()));
    Node *add = *g.create(OpKind::Add,
                          {dq(b, s.sb, s.zb, "b"), dq(a, s.sa, s.za, "a")});
    Value ys(g.addConstant("ys", Tensor::scalar(ElemKind::F32, s.sy)));
    Value yz(g.addConstant("yz", Tensor::scalar(ElemKind::U8, s.zy)));
    g.addOutput(Value(*g.create(OpKind::QuantizeLinear, {Value(add), ys, yz})),
                "y");
  }
  LoweringOptions lo;
  lo.requant = quant::RequantProfile::Float32;
  ASSERT_TRUE(lowerFunction(g, lo).isOk());
  for (auto &n : g.nodes())
    if (n->kind == OpKind::QuantizedAdd) {
      EXPECT_EQ(n->inputs[0].type().dims(), af.dims());
      EXPECT_EQ(n->attrFloat("a_ratio", 0), double(s.sa / s.sy));
    }
}

namespace {

// The exact sum sa (a - za) + sb (b - zb) over sy, rounded once half up,
// plus zy, clamped to u8: rational arithmetic on the float32 scales (each
// m * 2^e with an integer m < 2^24), written apart from ember/quant.
int64_t exactAddU8(const AddScales &s, int64_t a, int64_t b) {
  __extension__ typedef __int128 I128;
  int ea = 0, eb = 0, ey = 0;
  I128 ma = I128(std::ldexp(std::frexp(double(s.sa), &ea), 24));
  I128 mb = I128(std::ldexp(std::frexp(double(s.sb), &eb), 24));
  I128 my = I128(std::ldexp(std::frexp(double(s.sy), &ey), 24));
  int e0 = std::min(ea, std::min(eb, ey));
  ma <<= ea - e0;
  mb <<= eb - e0;
  my <<= ey - e0;
  // floor(n / my + 1/2) = floor((2 n + my) / (2 my))
  I128 num = 2 * (ma * (a - s.za) + mb * (b - s.zb)) + my, den = 2 * my;
  I128 q = num / den;
  if (num % den != 0 && num < 0)
    --q;
  return std::clamp<int64_t>(int64_t(q) + s.zy, 0, 255);
}

// The lowered QDQ add of every pair of u8 inputs, interpreted, against
// exactAddU8; the number of pairs that differ.
int64_t inexactPairs(const AddScales &s) {
  Tensor af(Type(ElemKind::F32, {256, 1})), bf(Type(ElemKind::F32, {1, 256}));
  for (int i = 0; i < 256; ++i) {
    af.setDouble(i, double(s.sa * float(i - s.za)));
    bf.setDouble(i, double(s.sb * float(i - s.zb)));
  }
  Function f("main");
  buildAdd(f, af, bf, s);
  LoweringOptions lo;
  lo.requant = quant::RequantProfile::Fixed;
  EXPECT_TRUE(lowerFunction(f, lo).isOk());
  auto got = interpret(f, {af, bf});
  EXPECT_TRUE(got.hasValue()) << got.status().message();
  if (!got.hasValue())
    return -1;
  int64_t bad = 0;
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b)
      if ((*got)[0].getInt(a * 256 + b) != exactAddU8(s, a, b))
        ++bad;
  return bad;
}

} // namespace

// The fixed profile's QuantizedAdd is the exact sum rounded once, half up,
// exact ties included (docs/quantization.md): every one of the 65,536 input
// pairs against rational arithmetic, for HardSwish's `x + 3` with the scales
// quantize_static gives it (x at its zero point is the exact tie 127.5) and
// for general quantize_static-like scales.
TEST(QuantAdd, FixedRoundsTheExactSumOnceTiesIncluded) {
  std::mt19937 rng(43);
  for (int trial = 0; trial < 24; ++trial) {
    AddScales s = randomScales(rng, 0);
    if (trial % 2 == 0) { // HardSwish's x + 3: s_y = 2 s_b, z_b = z_y = 0
      s.sb = float(3.0 / 255);
      s.zb = 0;
      s.sy = float(6.0 / 255);
      s.zy = 0;
    }
    SCOPED_TRACE("trial " + std::to_string(trial));
    EXPECT_EQ(inexactPairs(s), 0)
        << "sa=" << s.sa << " za=" << s.za << " sb=" << s.sb << " zb=" << s.zb
        << " sy=" << s.sy << " zy=" << s.zy;
  }
  // The tie itself: x at its zero point plus 3 is 127.5 quanta, up to 128.
  AddScales h;
  h.sa = 0.0421875f;
  h.za = 97;
  h.sb = float(3.0 / 255);
  h.sy = float(6.0 / 255);
  EXPECT_EQ(exactAddU8(h, 97, 255), 128);
}

// The hardware form of the exact add (quant::AddFixed: the NPU's VADD
// exact, the CPU backend's kernel) against exactAddU8 on every input pair,
// for random quantize_static-like scales, int8 operands seen as u8 less 128
// and a clamp; the shift quantize_static's scales need; and scales too far
// apart for 48-bit multipliers are refused rather than rounded wrong.
TEST(QuantAdd, FixedHardwareFormIsTheDefinition) {
  std::mt19937 rng(7);
  int32_t maxShift = 0;
  for (int trial = 0; trial < 40; ++trial) {
    AddScales s = randomScales(rng, 0);
    const bool i8 = trial % 2 != 0;
    const int32_t lowest = i8 ? -128 : 0, lo = trial % 3 ? 0 : s.zy;
    quant::AddScales q{s.sa,          s.sb,          s.sy,
                       s.za + lowest, s.zb + lowest, s.zy + lowest};
    quant::AddFixed p;
    ASSERT_TRUE(
        quant::makeAddFixed(q, lowest, lowest, lo + lowest, 255 + lowest, p))
        << trial;
    maxShift = std::max(maxShift, p.shift);
    for (int a = 0; a < 256; ++a)
      for (int b = 0; b < 256; ++b)
        ASSERT_EQ(quant::addFixed(a + lowest, b + lowest, p) - lowest,
                  std::max<int64_t>(exactAddU8(s, a, b), lo))
            << "trial " << trial << " a=" << a << " b=" << b;
  }
  EXPECT_LE(maxShift, 40);
  // b's ratio 2^35, a's 2^2: no 48-bit multipliers separate every pair.
  quant::AddScales far{
      0x1.820c4ap-34f, 0x1.75c29p-1f, 0x1.6b851ep-36f, 53, 186, 159};
  quant::AddFixed p;
  EXPECT_TRUE(quant::AddExact(far).valid());
  EXPECT_FALSE(quant::makeAddFixed(far, 0, 0, 0, 255, p));
  quant::AddScales bad{0.0f, 1.0f, 1.0f, 0, 0, 0};
  EXPECT_FALSE(quant::AddExact(bad).valid());
}

// The declared arithmetics (docs/quantization.md, "Requantization
// profiles"): a generated sweep of quantized adds and requantizations, with
// ties, saturation and extreme multipliers, on which the definition
// (ember/quant/Arith.h), the reference interpreter, the CPU backend's
// generated code and the example NPU's golden model (where its registers
// express the profile: fixed and tflite; sat16's requantization, fixed's)
// agree bit
// for bit, per integer profile. A fixed seed; every int8 input pair of each
// add.
#include "CpuTestUtil.h"

#include "ember/quant/Arith.h"

#ifdef EMBER_HAVE_GOLDEN
#include "ember/npu/Arith.h"
#endif

#include <array>

namespace ember::cpugen::test {
namespace {

using quant::RequantProfile;

constexpr RequantProfile kIntegerProfiles[] = {
    RequantProfile::Fixed, RequantProfile::Tflite, RequantProfile::Gemmlowp,
    RequantProfile::Sat16};

// One add's scales and zero points, and its clamp.
struct AddCase {
  float sa, sb, sy;
  int32_t za, zb, zy, lo = -128, hi = 127;
};

// Scales quantize_static writes, ties (HardSwish's x + 3: s_y = 2 s_b, every
// zero point 0, and equal scales with odd sums), saturation (an output
// scale far below the inputs', a narrow clamp; sat16's 16-bit sum: inputs
// after a Relu, zero points -128, added into an output of twice the scale)
// and extreme ratios (2^-20 to 2^12 between the inputs' and the output's
// scales).
std::vector<AddCase> addCases(std::mt19937 &rng) {
  std::vector<AddCase> c;
  const float s3 = 3.0f / 255;
  c.push_back({0.0213f, s3, 2 * s3, 0, 0, 0});
  c.push_back({0.05f, 0.05f, 0.1f, 1, -3, 0});
  c.push_back({0.02f, 0.03f, 0.0004f, 5, -7, 3});
  c.push_back({0.02f, 0.03f, 0.05f, 0, 0, -2, -20, 40});
  c.push_back({std::ldexp(1.0f, -20), 0.5f, 0.25f, -128, 4, 1});
  c.push_back({0.75f, std::ldexp(1.0f, -14), std::ldexp(1.0f, -12), 9, 0, -9});
  c.push_back({0.05f, 0.05f, 0.1f, -128, -128, -128});
  std::uniform_real_distribution<float> e(-12, 6);
  std::uniform_int_distribution<int32_t> z(-128, 127);
  while (c.size() < 15)
    c.push_back({std::exp2(e(rng)), std::exp2(e(rng)), std::exp2(e(rng)),
                 z(rng), z(rng), z(rng)});
  return c;
}

// Parameters a program may give beyond those of scales (the profiles but
// fixed's, which adds scales exactly): multipliers up to 2^31 - 1 at shift
// 0 (x 1), shifts up to 30, left shifts 8 to 20; with sat16's 16-bit lanes
// the rescaled inputs saturate (a multiplier near 1 at left shift 8), and
// their sum does (two inputs of 1/2 after a Relu, zero points -128).
std::vector<quant::AddParams> rawAddCases() {
  auto P = [](int32_t L, int32_t za, quant::Multiplier a, int32_t zb,
              quant::Multiplier b, quant::Multiplier y, int32_t zy) {
    quant::AddParams q;
    q.leftShift = L;
    q.aZp = za;
    q.bZp = zb;
    q.yZp = zy;
    q.a = a;
    q.b = b;
    q.y = y;
    return q;
  };
  return {P(8, -128, {1 << 30, 0}, -128, {1 << 30, 0}, {1 << 30, -7}, -128),
          P(8, 0, {INT32_MAX, 0}, 5, {1 << 30, 0}, {1 << 30, -6}, 0),
          P(8, -128, {INT32_MAX, 0}, -128, {INT32_MAX, 0}, {1 << 30, -8}, 7),
          P(20, 3, {1 << 30, 0}, -2, {1518500250, -3}, {INT32_MAX, -21}, -1),
          P(12, 0, {1, 30}, 0, {INT32_MAX, -31}, {1 << 30, 0}, 0)};
}

// A raw case's attributes (graph text) in profile p.
std::string rawAttrs(RequantProfile p, const quant::AddParams &q) {
  auto i = [](int32_t v) { return std::to_string(v); };
  return "{to = 3, requant = \"" + std::string(quant::profileName(p)) +
         "\", left_shift = " + i(q.leftShift) + ", a_zero_point = " + i(q.aZp) +
         ", a_multiplier = " + i(q.a.mult) + ", a_shift = " + i(q.a.shift) +
         ", b_zero_point = " + i(q.bZp) + ", b_multiplier = " + i(q.b.mult) +
         ", b_shift = " + i(q.b.shift) + ", y_zero_point = " + i(q.yZp) +
         ", y_multiplier = " + i(q.y.mult) + ", y_shift = " + i(q.y.shift) +
         "}";
}

// The profile's add of a case as lowering writes it (attributes of graph
// text): fixed the exact add (its scales), the others TFLite's form naming
// the profile.
std::string addAttrs(RequantProfile p, const AddCase &c, quant::AddParams &q) {
  auto f = [](float v) {
    char b[64];
    std::snprintf(b, sizeof b, "%.17g", double(v)); // the float, exactly
    return std::string(b);
  };
  std::string s = "{to = 3, min = " + std::to_string(c.lo) +
                  ", max = " + std::to_string(c.hi);
  q = quant::makeAddParams(c.sa, c.za, c.sb, c.zb, c.sy, c.zy, c.lo, c.hi,
                           quant::addLeftShift(p, false));
  if (p == RequantProfile::Fixed)
    return s + ", a_scale = " + f(c.sa) + ", b_scale = " + f(c.sb) +
           ", y_scale = " + f(c.sy) +
           ", a_zero_point = " + std::to_string(c.za) +
           ", b_zero_point = " + std::to_string(c.zb) +
           ", y_zero_point = " + std::to_string(c.zy) + "}";
  auto i = [](int32_t v) { return std::to_string(v); };
  return s + ", requant = \"" + quant::profileName(p) +
         "\", left_shift = " + i(q.leftShift) + ", a_zero_point = " + i(q.aZp) +
         ", a_multiplier = " + i(q.a.mult) + ", a_shift = " + i(q.a.shift) +
         ", b_zero_point = " + i(q.bZp) + ", b_multiplier = " + i(q.b.mult) +
         ", b_shift = " + i(q.b.shift) + ", y_zero_point = " + i(q.yZp) +
         ", y_multiplier = " + i(q.y.mult) + ", y_shift = " + i(q.y.shift) +
         "}";
}

// What the definition gives for a case's pair (a, b) in profile p.
int32_t defined(RequantProfile p, const AddCase &c, const quant::AddParams &q,
                int32_t a, int32_t b) {
  if (p == RequantProfile::Fixed) {
    quant::AddExact e({c.sa, c.sb, c.sy, c.za, c.zb, c.zy});
    return quant::addExact(a, b, e, c.lo, c.hi);
  }
  return quant::quantizedAddIn(p, a, b, q);
}

// The example NPU's golden model, where its vadd expresses the profile
// (the exact flag: fixed; the attribute form: tflite): its registers for a
// case (`ok` false for gemmlowp and sat16, whose add vadd cannot express,
// or an exact add its 64-bit form cannot hold), then one pair.
struct Golden {
  bool ok = false;
#ifdef EMBER_HAVE_GOLDEN
  npu::AddExactRegs exact;
  npu::AddParams regs{};
#endif
};

Golden goldenOf(RequantProfile p, const AddCase &c, const quant::AddParams &q) {
  Golden g;
#ifdef EMBER_HAVE_GOLDEN
  if (p == RequantProfile::Fixed) {
    // (Registers as addExactFromRegs reads them: the 64-bit form
    // unclamped, then MIN and MAX.)
    g.ok = quant::makeAddFixed({c.sa, c.sb, c.sy, c.za, c.zb, c.zy}, -128, -128,
                               c.lo, c.hi, g.exact.p);
    g.exact.p.lo = std::numeric_limits<int32_t>::min();
    g.exact.p.hi = std::numeric_limits<int32_t>::max();
    g.exact.lo = c.lo;
    g.exact.hi = c.hi;
  } else if (p == RequantProfile::Tflite) {
    g.regs = {q.leftShift, q.aZp,    q.a.mult,  q.a.shift, q.bZp, q.b.mult,
              q.b.shift,   q.y.mult, q.y.shift, q.yZp,     q.lo,  q.hi};
    g.ok = true;
  }
#else
  (void)p, (void)c, (void)q; // a build without the example NPU
#endif
  return g;
}

int32_t goldenAdd(RequantProfile p, const Golden &g, int32_t a, int32_t b) {
#ifdef EMBER_HAVE_GOLDEN
  if (p == RequantProfile::Fixed)
    return npu::quantAddExact(int8_t(a), int8_t(b), g.exact);
  return npu::quantAdd(int8_t(a), int8_t(b), g.regs);
#else
  (void)p, (void)g;
  return a + b;
#endif
}

TEST(CpuArithmetic, AddSweepAgreesPerProfile) {
  std::mt19937 rng(64);
  const std::vector<AddCase> cases = addCases(rng);
  const std::vector<quant::AddParams> raw = rawAddCases();
  for (RequantProfile p : kIntegerProfiles) {
    SCOPED_TRACE(quant::profileName(p));
    // Every int8 pair: a [256, 1] against b [1, 256], one add per case
    // (the scale cases, then, but in fixed, the raw ones).
    const size_t nraw = p == RequantProfile::Fixed ? 0 : raw.size();
    std::string t = "func @main(%a: i8[256,1], %b: i8[1,256]) {\n";
    std::vector<quant::AddParams> qs(cases.size());
    std::string ret;
    for (size_t k = 0; k < cases.size() + nraw; ++k) {
      std::string y = "%y" + std::to_string(k);
      std::string attrs = k < cases.size() ? addAttrs(p, cases[k], qs[k])
                                           : rawAttrs(p, raw[k - cases.size()]);
      t += "  " + y + " = QuantizedAdd(%a, %b) " + attrs + " : i8[256,256]\n";
      ret += (k ? ", " : "") + y;
    }
    qs.insert(qs.end(), raw.begin(), raw.begin() + long(nraw));
    t += "  return " + ret + "\n}\n";
    auto m = parseLowered(t);
    ASSERT_TRUE(m);
    Tensor a(Type(ElemKind::I8, {256, 1})), b(Type(ElemKind::I8, {1, 256}));
    for (int i = 0; i < 256; ++i) {
      a.setInt(i, i - 128);
      b.setInt(i, i - 128);
    }
    auto want = interpret(*m->main(), {a, b});
    ASSERT_TRUE(bool(want)) << want.status().message();
    expectIdentical(runCpu(*m->main(), hostConfig(), {a, b}), *want);
    size_t goldenCases = 0;
    for (size_t k = 0; k < qs.size(); ++k) {
      // (A raw case's scales are unused: its profile is not fixed.)
      const AddCase &c = cases[std::min(k, cases.size() - 1)];
      const Golden g = goldenOf(p, c, qs[k]);
      goldenCases += g.ok;
      for (int i = 0; i < 256 * 256; ++i) {
        int32_t x = i / 256 - 128, w = i % 256 - 128;
        int32_t d = defined(p, c, qs[k], x, w);
        ASSERT_EQ((*want)[k].getInt(i), d)
            << "case " << k << ", a " << x << ", b " << w;
        if (g.ok) {
          ASSERT_EQ(goldenAdd(p, g, x, w), d)
              << "golden model, case " << k << ", a " << x << ", b " << w;
        }
      }
    }
#ifdef EMBER_HAVE_GOLDEN
    if (p == RequantProfile::Gemmlowp || p == RequantProfile::Sat16)
      EXPECT_EQ(goldenCases, 0u);
    else
      EXPECT_GE(goldenCases, cases.size() - 2);
#endif
  }
}

// sat16's saturation points bite: each saturated step (an input, the sum)
// moves results that tflite's 32-bit steps keep, by hand and over the raw
// cases' pairs; with lowering's parameters (left shift 7) no scale case
// saturates.
TEST(CpuArithmetic, Sat16SaturationBites) {
  const std::vector<quant::AddParams> raw = rawAddCases();
  // Sum: 255 << 8 halved is 32640 per input; 65280 saturates to 32767,
  // / 256 = 127.996 -> 128, + -128 = 0 (tflite: 255 - 128 = 127).
  EXPECT_EQ(quant::quantizedAddIn(RequantProfile::Sat16, 127, 127, raw[0]), 0);
  EXPECT_EQ(quant::quantizedAddIn(RequantProfile::Tflite, 127, 127, raw[0]),
            127);
  // Input (the third raw case): (127 + 128) << 8 times ~1 is 65280, which
  // saturates to 32767 before the sum.
  size_t sum = 0, input = 0;
  for (size_t k = 0; k < raw.size(); ++k)
    for (int x = -128; x < 128; ++x)
      for (int w = -128; w < 128; ++w) {
        const quant::AddParams &q = raw[k];
        const int L = q.leftShift;
        const int32_t ra = quant::mbqm(quant::wrapShl(x - q.aZp, L), q.a.mult,
                                       q.a.shift),
                      rb = quant::mbqm(quant::wrapShl(w - q.bZp, L), q.b.mult,
                                       q.b.shift);
        const bool inSat = ra != quant::sat16(ra) || rb != quant::sat16(rb);
        const bool sumSat = !inSat && ra + rb != quant::sat16(ra + rb);
        const bool moved =
            quant::quantizedAddIn(RequantProfile::Sat16, x, w, q) !=
            quant::quantizedAddIn(RequantProfile::Tflite, x, w, q);
        input += inSat && moved;
        sum += sumSat && moved;
      }
  EXPECT_GT(input, 0u);
  EXPECT_GT(sum, 0u);
  // Lowering's parameters: no scale case's pair saturates.
  std::mt19937 rng(64);
  for (const AddCase &c : addCases(rng)) {
    quant::AddParams q =
        quant::makeAddParams(c.sa, c.za, c.sb, c.zb, c.sy, c.zy, c.lo, c.hi,
                             quant::addLeftShift(RequantProfile::Sat16, false));
    for (int x = -128; x < 128; ++x)
      for (int w = -128; w < 128; ++w) {
        const int32_t ra = quant::mbqm(quant::wrapShl(x - q.aZp, 7), q.a.mult,
                                       q.a.shift),
                      rb = quant::mbqm(quant::wrapShl(w - q.bZp, 7), q.b.mult,
                                       q.b.shift);
        ASSERT_EQ(quant::sat16(ra + rb), ra + rb);
      }
  }
}

// The three integer adds differ where they should: HardSwish's tie rounds
// up in fixed, and gemmlowp's half-away-from-zero second rounding moves
// results tflite's one rounding keeps (so a backend that computes one
// profile for another fails the sweep above).
TEST(CpuArithmetic, ProfilesDiffer) {
  std::mt19937 rng(64);
  const std::vector<AddCase> cases = addCases(rng);
  size_t tfliteVsGemm = 0, fixedVsTflite = 0;
  for (const AddCase &c : cases) {
    quant::AddParams q;
    addAttrs(RequantProfile::Tflite, c, q);
    for (int x = -128; x < 128; ++x)
      for (int w = -128; w < 128; ++w) {
        int32_t f = defined(RequantProfile::Fixed, c, q, x, w),
                t = defined(RequantProfile::Tflite, c, q, x, w),
                g = defined(RequantProfile::Gemmlowp, c, q, x, w);
        tfliteVsGemm += t != g;
        fixedVsTflite += f != t;
      }
  }
  EXPECT_GT(tfliteVsGemm, 0u);
  EXPECT_GT(fixedVsTflite, 0u);
  // gemmlowp's primitives, by hand: the one overflow saturates; the
  // doubling multiply's ties go up (-1.5 -> -1, 1.5 -> 2); the divide's
  // away from zero (-3 / 2 -> -2), so -2 x 0.25 = -0.5 is -1 where mbqm's
  // one rounding, half up, gives 0.
  EXPECT_EQ(quant::doublingHighMul(INT32_MIN, INT32_MIN), INT32_MAX);
  EXPECT_EQ(quant::doublingHighMul(-3, 1 << 30), -1);
  EXPECT_EQ(quant::doublingHighMul(3, 1 << 30), 2);
  EXPECT_EQ(quant::roundingDividePot(-3, 1), -2);
  EXPECT_EQ(quant::roundingDividePot(3, 1), 2);
  EXPECT_EQ(quant::mbqmDoubling(-2, 1 << 30, -1), -1);
  EXPECT_EQ(quant::mbqm(-2, 1 << 30, -1), 0);
}

// Requantize: int32 accumulators (zero, ties at every shift, the int32
// extremes, random values) per channel, each channel a multiplier and
// shift from the extremes (2^30, 2^31 - 1, 1, shifts -31 .. 30) or random.
TEST(CpuArithmetic, RequantizeSweepAgreesPerProfile) {
  std::mt19937 rng(64);
  std::vector<int32_t> mult, shift;
  for (int32_t e : {-31, -20, -8, -1, 0, 1, 12, 30})
    for (int32_t m : {1 << 30, INT32_MAX, 1, 1518500250}) {
      mult.push_back(m);
      shift.push_back(e);
    }
  std::uniform_int_distribution<int32_t> me(1 << 30, INT32_MAX), se(-24, 4);
  for (int i = 0; i < 16; ++i) {
    mult.push_back(me(rng));
    shift.push_back(se(rng));
  }
  const int64_t C = int64_t(mult.size()), N = 256;
  Tensor x(Type(ElemKind::I32, {C, N}));
  std::uniform_int_distribution<int32_t> any(INT32_MIN, INT32_MAX),
      small(-70000, 70000);
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < N; ++i) {
      int32_t v;
      if (i < 64) // +-(2^k + 2^(k-1)): an exact .5 at shift k
        v = int32_t((i % 2 ? -1 : 1) * ((int64_t(1) << (i / 2 % 31)) +
                                        (int64_t(1) << (i / 2 % 31)) / 2));
      else if (i < 68)
        v = std::array<int32_t, 4>{INT32_MIN, INT32_MAX, 0, -1}[size_t(i - 64)];
      else
        v = i % 2 ? any(rng) : small(rng);
      x.setInt(c * N + i, v);
    }
  for (RequantProfile p : kIntegerProfiles) {
    SCOPED_TRACE(quant::profileName(p));
    const std::string attrs =
        p == RequantProfile::Gemmlowp ? ", requant = \"gemmlowp\"" : "";
    std::string t =
        "func @main(%x: i32[" + std::to_string(C) + "," + std::to_string(N) +
        "]) {\n  %m = Constant " +
        hexDense("i32", std::to_string(C), mult.data(), mult.size() * 4) +
        "\n  %e = Constant " +
        hexDense("i32", std::to_string(C), shift.data(), shift.size() * 4) +
        "\n  %z = Constant dense<i8[]: [3]>\n"
        "  %y = Requantize(%x, %m, %e, _, %z) {axis = 0, to = 3" +
        attrs + "} : i8[" + std::to_string(C) + "," + std::to_string(N) +
        "]\n  return %y\n}\n";
    auto m = parseLowered(t);
    ASSERT_TRUE(m);
    auto want = interpret(*m->main(), {x});
    ASSERT_TRUE(bool(want)) << want.status().message();
    expectIdentical(runCpu(*m->main(), hostConfig(), {x}), *want);
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < N; ++i) {
        const int32_t v = int32_t(x.getInt(c * N + i));
        const quant::Multiplier mm{mult[size_t(c)], shift[size_t(c)]};
        const int32_t d = quant::requantizeIn(p, v, 0, mm, 3, -128, 127);
        ASSERT_EQ((*want)[0].getInt(c * N + i), d) << "channel " << c;
#ifdef EMBER_HAVE_GOLDEN
        if (p != RequantProfile::Gemmlowp) { // REQUANT rounds once
          ASSERT_EQ(npu::requantize(v, mm.mult, mm.shift, 3, -128, 127), d);
        }
#endif
      }
  }
}

} // namespace
} // namespace ember::cpugen::test

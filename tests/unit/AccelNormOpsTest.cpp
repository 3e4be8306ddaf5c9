// The integer normalization's operations of the NPU compiler layer (Op.h:
// vreduce, rscalar, vrowmul, and the row_* registers): random sequences on
// the reference simulator against the definition (quant::integerNormRow),
// whole rows of int8 and int16, in both channel-tiled layouts; their text,
// binary form, accesses, timing and the description's rules.
#include "AccelTestUtil.h"

#include "ember/accel/Op.h"
#include "ember/accel/Program.h"
#include "ember/accel/RefSim.h"
#include "ember/accel/Sync.h"
#include "ember/accel/Text.h"
#include "ember/quant/Transformer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

using namespace ember::accel;
namespace q = ember::quant;

namespace {

// scratchpads.json (8 lanes, acc and out memories of 512 rows) with the
// normalization's operations on its vector engine, their registers and
// 16-bit rows. `sq`: vreduce declares its squared reduction.
std::string normTargetText(bool sq = true) {
  std::string s = readTestTargetText("scratchpads");
  auto sub = [&](const std::string &from, const std::string &to) {
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos)
      s.replace(at, from.size(), to);
  };
  sub(R"("runs": ["requant", "vadd", "pool"])",
      R"("runs": ["requant", "vadd", "pool", "vreduce", "rscalar", "vrowmul"])");
  sub(R"("finish": {})",
      R"("finish": {},
    "vreduce": {"dst": 9, "src": 9, "rows": 9, "len": 6, "gstride": 9,
                "kstride": 9, "last": 4, "w16": 1, "sum": 1)" +
          std::string(sq ? R"(, "sq": 1, "center": 1)" : "") + R"(},
    "rscalar": {"dst": 9, "src": 9, "rows": 9, "rsqrt": 1},
    "vrowmul": {"dst": 9, "src": 9, "rows": 9, "stride": 9, "scal": 9,
                "sum": 9, "param": 9, "w16": 1, "out16": 1, "center": 1})");
  sub(R"("add_max": {"id": 27, "engine": "VEC"})",
      R"("add_max": {"id": 27, "engine": "VEC"},
    "rq16_min": {"id": 28, "engine": "VEC"}, "rq16_max": {"id": 29, "engine": "VEC"},
    "row_n": {"id": 40, "engine": "VEC"}, "row_x_zp": {"id": 41, "engine": "VEC"},
    "row_out_zp": {"id": 42, "engine": "VEC"}, "row_min": {"id": 43, "engine": "VEC"},
    "row_max": {"id": 44, "engine": "VEC"}, "row_eps_lo": {"id": 45, "engine": "VEC"},
    "row_eps_hi": {"id": 46, "engine": "VEC"})");
  sub(R"("outputs": ["i8", "u8"])", R"("outputs": ["i8", "u8", "i16"])");
  return s;
}

const Target &normTarget() {
  static const Target t = [] {
    Target x;
    const std::string err = parseTarget(normTargetText(), x).message();
    EXPECT_EQ(err, "");
    return x;
  }();
  return t;
}

// One normalization of R rows of C channels: where its tensors lie and the
// operations that compute it.
struct NormCase {
  int64_t C = 13, R = 3;
  bool w16 = false, out16 = false, center = true;
  bool tileMajor = true; // tile k of row i at k*R + i (else i*T + k)
  bool inPlace = true;   // rscalar in place (else to rows apart)
  uint32_t seed = 1;
};

std::string describe(const NormCase &c) {
  return "C" + std::to_string(c.C) + " R" + std::to_string(c.R) +
         (c.w16 ? " i16" : " i8") + (c.out16 ? "->i16" : "->i8") +
         (c.center ? " layernorm" : " rmsnorm") +
         (c.tileMajor ? " tile-major" : " row-major") +
         (c.inPlace ? "" : " rscalar-apart") + " seed " +
         std::to_string(c.seed);
}

void runNormCase(const Target &t, const NormCase &c) {
  SCOPED_TRACE(describe(c));
  std::mt19937 rng(c.seed);
  const int64_t L = t.lanes, T = (c.C + L - 1) / L, last = c.C % L;
  const int outM = t.memOf(Cls::Out), accM = t.memOf(Cls::Acc);
  const int64_t outRb = int64_t(t.memories[size_t(outM)].rowBytes),
                accRb = int64_t(t.memories[size_t(accM)].rowBytes),
                outHalf = int64_t(t.memRows(outM) / 2);
  auto at = [&](int64_t i, int64_t k) {
    return c.tileMajor ? k * c.R + i : i * T + k;
  };
  // Out rows: the input at 5, the result at 90; acc rows: the sums at 20,
  // the sums of squares at 40, the scalars there or at 60, the parameters at
  // 100 (four rows a channel tile).
  const int64_t src = 5, dst = 90, S = 20, W = 40, Z = c.inPlace ? W : 60,
                P = 100;
  RefMachine m(t, 64);
  std::vector<uint8_t> &om = m.memory(outM), &am = m.memory(accM);
  auto putOut = [&](int64_t r, int64_t l, int32_t v, bool w16) {
    if (w16) {
      om[size_t(r * outRb + l)] = uint8_t((v & 0xff) ^ 0x80);
      om[size_t((r + outHalf) * outRb + l)] = uint8_t(v >> 8);
    } else {
      om[size_t(r * outRb + l)] = uint8_t(v);
    }
  };
  auto getOut = [&](int64_t r, int64_t l, bool w16) {
    if (!w16)
      return int32_t(int8_t(om[size_t(r * outRb + l)]));
    return int32_t(int8_t(om[size_t((r + outHalf) * outRb + l)])) * 256 +
           int32_t(om[size_t(r * outRb + l)] ^ 0x80);
  };
  auto putAcc = [&](int64_t r, int64_t l, int32_t v) {
    std::memcpy(&am[size_t(r * accRb + 4 * l)], &v, 4);
  };
  // Garbage everywhere first: lanes past C must not count.
  for (uint8_t &b : om)
    b = uint8_t(rng());
  for (uint8_t &b : am)
    b = uint8_t(rng());

  const int32_t xlo = c.w16 ? -32768 : -128, xhi = c.w16 ? 32767 : 127;
  const int32_t xZp = c.w16 ? 0 : int32_t(rng() % 21) - 10;
  std::vector<std::vector<int32_t>> x(size_t(c.R));
  for (int64_t i = 0; i < c.R; ++i)
    for (int64_t ch = 0; ch < c.C; ++ch) {
      // A narrower spread on some rows (and one constant row): small W.
      const int32_t spread = i == 1 ? 0 : i == 2 ? 5 : xhi;
      const int32_t v = std::clamp<int32_t>(
          xZp + int32_t(rng() % uint32_t(2 * spread + 1)) - spread, xlo, xhi);
      x[size_t(i)].push_back(v);
      putOut(src + at(i, ch / L), ch % L, v, c.w16);
    }
  std::vector<double> gamma, beta;
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  for (int64_t ch = 0; ch < c.C; ++ch) {
    gamma.push_back(1.0 + 0.5 * u(rng));
    beta.push_back(0.5 * u(rng));
  }
  const int32_t ylo = c.out16 ? -32768 + int32_t(rng() % 100) : -128 + 3,
                yhi = c.out16 ? 32767 - int32_t(rng() % 100) : 127 - 2;
  const q::NormParams p =
      q::makeNormParams(c.w16 ? 0.001 : 0.05, xZp, c.out16 ? 0.0002 : 0.03,
                        c.out16 ? 0 : int32_t(rng() % 11) - 5, ylo, yhi, c.C,
                        c.center, 1e-5 * (1 + rng() % 100), gamma, beta);
  for (int64_t k = 0; k < T; ++k)
    for (int64_t l = 0; l < L && k * L + l < c.C; ++l) {
      const size_t ch = size_t(k * L + l);
      putAcc(P + 4 * k, l, p.mult[ch]);
      putAcc(P + 4 * k + 1, l, p.shift[ch]);
      putAcc(P + 4 * k + 2, l, int32_t(uint32_t(uint64_t(p.bias[ch]))));
      putAcc(P + 4 * k + 3, l, int32_t(uint32_t(uint64_t(p.bias[ch]) >> 32)));
    }

  std::vector<Op> ops;
  const uint64_t eps = uint64_t(p.epsilon);
  for (auto rv : {std::pair<Reg, int64_t>{Reg::RowN, c.C},
                  {Reg::RowXZp, xZp},
                  {Reg::RowOutZp, p.yZp},
                  {Reg::RowMin, p.lo},
                  {Reg::RowMax, p.hi},
                  {Reg::RowEpsLo, int64_t(int32_t(uint32_t(eps)))},
                  {Reg::RowEpsHi, int64_t(int32_t(uint32_t(eps >> 32)))}})
    ops.push_back(setregOp(t, rv.first, rv.second));
  const int64_t gstride = c.tileMajor ? 1 : T, kstride = c.tileMajor ? c.R : 1;
  auto reduce = [&](int64_t to, bool sum, bool sq, bool center) {
    ops.push_back(vreduceOp(t, to, src, c.R, T, gstride, kstride, last, c.w16,
                            sum, sq, center));
  };
  if (c.center) {
    reduce(S, true, false, false); // the sums vrowmul reads
    reduce(W, true, false, false); // the sums vreduce sq replaces
    reduce(W, false, true, true);
  } else {
    reduce(W, false, true, false);
  }
  ops.push_back(rscalarOp(t, Z, W, c.R, true));
  for (int64_t k = 0; k < T; ++k)
    ops.push_back(vrowmulOp(t, dst + at(0, k), src + at(0, k), c.R,
                            c.tileMajor ? 1 : T, Z, S, P + 4 * k, c.w16,
                            c.out16, c.center));
  ops.push_back(finishOp());
  SimStats st;
  ASSERT_EQ(m.run(ops, SimOptions(), &st).message(), "");

  // Each operation's cycles: its rows at the vector unit's rate plus its
  // issue overhead (vrowmul a row more: its parameters' second read).
  const int64_t ov = int64_t(t.vector.issueOverhead);
  for (size_t i = 0; i + 1 < ops.size(); ++i) {
    const Op &o = ops[i];
    const int64_t want = o.kind == OpKind::VReduce   ? o.rows * o.len + ov
                         : o.kind == OpKind::RScalar ? o.rows + ov
                         : o.kind == OpKind::VRowMul ? o.rows + 1 + ov
                                                     : 1;
    EXPECT_EQ(int64_t(st.spans[i].second - st.spans[i].first), want)
        << formatOp(t, o);
  }

  for (int64_t i = 0; i < c.R; ++i) {
    std::vector<int32_t> want(size_t(c.C));
    const std::vector<int32_t> &xi = x[size_t(i)];
    if (c.w16) {
      std::vector<int16_t> in(xi.begin(), xi.end());
      if (c.out16) {
        std::vector<int16_t> y(size_t(c.C));
        q::integerNormRow(in.data(), y.data(), c.C, p);
        want.assign(y.begin(), y.end());
      } else {
        std::vector<int8_t> y(size_t(c.C));
        q::integerNormRow(in.data(), y.data(), c.C, p);
        want.assign(y.begin(), y.end());
      }
    } else {
      std::vector<int8_t> in(xi.begin(), xi.end());
      if (c.out16) {
        std::vector<int16_t> y(size_t(c.C));
        q::integerNormRow(in.data(), y.data(), c.C, p);
        want.assign(y.begin(), y.end());
      } else {
        std::vector<int8_t> y(size_t(c.C));
        q::integerNormRow(in.data(), y.data(), c.C, p);
        want.assign(y.begin(), y.end());
      }
    }
    int distinct = 0;
    for (int64_t ch = 0; ch < c.C; ++ch) {
      const int32_t got = getOut(dst + at(i, ch / L), ch % L, c.out16);
      ASSERT_EQ(got, want[size_t(ch)]) << "row " << i << " channel " << ch;
      distinct += ch > 0 && want[size_t(ch)] != want[0];
    }
    // The case tests something: a varied row gives varied results.
    if (i == 0) {
      EXPECT_GT(distinct, 0);
    }
  }
}

TEST(AccelNormOps, RandomSequencesMatchIntegerNormRow) {
  const Target &t = normTarget();
  ASSERT_TRUE(t.has(OpKind::VReduce) && t.has(OpKind::RScalar) &&
              t.has(OpKind::VRowMul) && t.wide16);
  uint32_t seed = 1;
  // 8 lanes: 8 and 16 channels fill their tiles, 13, 21 and 3 end in a
  // partial one (last lanes); 3 tiles at most.
  for (int64_t C : {8, 13, 16, 21, 3})
    for (int wide = 0; wide < 4; ++wide)
      for (int form = 0; form < 4; ++form) {
        NormCase c;
        c.C = C;
        c.R = 3 + int64_t(seed % 3); // rows 1 and 2 are the narrow ones
        c.w16 = wide & 1;
        c.out16 = wide & 2;
        c.center = form & 1;
        c.tileMajor = !(form & 2);
        c.inPlace = seed % 3 != 0;
        c.seed = seed++;
        runNormCase(t, c);
        if (::testing::Test::HasFatalFailure())
          return;
      }
}

// Every normalization op prints and parses to itself (the layer text), and
// survives the binary program.
TEST(AccelNormOps, TextAndBinaryRoundTrip) {
  const Target &t = normTarget();
  std::vector<Op> ops = {
      vreduceOp(t, 1, 2, 3, 4, 5, 6, 7, false, false),
      vreduceOp(t, 8, 9, 10, 11, 1, 10, 0, true, true),
      vreduceOp(t, 20, 30, 2, 3, 3, 1, 5, false, false, true, true),
      vreduceOp(t, 20, 30, 2, 3, 3, 1, 5, true, false, true, false),
      rscalarOp(t, 4, 4, 9, true),
      rscalarOp(t, 40, 4, 9, false),
      vrowmulOp(t, 1, 2, 3, 4, 5, 6, 7, false, false, false),
      vrowmulOp(t, 11, 12, 13, 14, 15, 16, 17, true, true, true),
      setregOp(t, Reg::RowEpsHi, -5),
      finishOp()};
  Program p;
  p.lanes = t.lanes;
  for (const Op &o : ops) {
    const std::string text = formatOp(t, o);
    Op back;
    ASSERT_EQ(parseOp(t, text, back).message(), "") << text;
    EXPECT_EQ(formatOp(t, back), text);
    EXPECT_EQ(back.engine, o.engine) << text;
    p.ops.push_back(o);
  }
  EXPECT_EQ(formatOp(t, ops[2]),
            "vreduce dst=20 src=30 rows=2 len=3 gstride=3 kstride=1 last=5 "
            "sum=0 sq=1 center=1");
  EXPECT_EQ(formatOp(t, ops[7]),
            "vrowmul dst=11 src=12 rows=13 stride=14 scal=15 sum=16 param=17 "
            "center=1 w16=1 out16=1");
  EXPECT_EQ(formatOp(t, ops[4]), "rscalar dst=4 src=4 rows=9 rsqrt=1");
  EXPECT_EQ(formatOp(t, ops[8]), "setreg reg=row_eps_hi value=-5");
  Program back, text;
  ASSERT_EQ(deserializeProgram(t, serializeProgram(t, p), back).message(), "");
  ASSERT_EQ(back.ops.size(), ops.size());
  for (size_t i = 0; i < ops.size(); ++i)
    EXPECT_EQ(formatOp(t, back.ops[i]), formatOp(t, ops[i]));
  // The program text (Text.h) prints and reads them as well.
  ASSERT_EQ(parseProgram(t, printProgram(t, p), text).message(), "");
  EXPECT_EQ(printProgram(t, text), printProgram(t, p));
}

TEST(AccelNormOps, TextRefusesWhatTheTargetLacks) {
  Target t;
  ASSERT_EQ(parseTarget(normTargetText(false), t).message(), "");
  Op op;
  ember::Status st = parseOp(t, "vreduce dst=0 src=0 rows=1 len=1 sq=1", op);
  EXPECT_NE(st.message().find("the target's vreduce has no flag 'sq'"),
            std::string::npos)
      << st.message();
  st = parseOp(t, "rscalar dst=0 src=0 rows=1 len=3", op);
  EXPECT_NE(st.message().find("'len' is not a field of rscalar"),
            std::string::npos)
      << st.message();
  const Target &plain = testTarget("scratchpads");
  st = parseOp(plain, "vrowmul dst=0 src=0 rows=1", op);
  EXPECT_NE(st.message().find("the target has no 'vrowmul' operation"),
            std::string::npos)
      << st.message();
  st = parseOp(plain, "setreg reg=row_n value=3", op);
  EXPECT_NE(st.message().find("'row_n' is not a register of the target"),
            std::string::npos)
      << st.message();
}

// A description that declares the operations needs their registers and
// memories for their rows.
TEST(AccelNormOps, DescriptionRules) {
  auto refusal = [](std::string text, const std::string &from,
                    const std::string &to) {
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos)
      text.replace(at, from.size(), to);
    Target t;
    return parseTarget(text, t).message();
  };
  const std::string s = normTargetText();
  EXPECT_EQ(refusal(s, R"("row_max": {"id": 44, "engine": "VEC"},)", ""),
            "registers.row_max: missing; vrowmul takes its parameters from "
            "it");
  EXPECT_EQ(refusal(s, R"("row_eps_hi": {"id": 46, "engine": "VEC"})",
                    R"("row_x": {"id": 46, "engine": "VEC"})"),
            "registers.row_x: not a register role of the layer");
  EXPECT_EQ(refusal(s, R"("scal": 9,)", R"("scal": 8,)"),
            "ops.vrowmul.scal: 8 bits cannot address memories[2] 'PSUM' "
            "(512 rows)");
  EXPECT_EQ(refusal(s, R"("vreduce": {"dst": 9,)",
                    R"("vreduce": {"dst": 9, "stride": 3,)")
                .find("ops.vreduce.stride: not a field of vreduce"),
            0u);
}

// What dependency insertion and the simulator's checks see: a vreduce
// reads out rows (both rows of a 16-bit pair) and writes acc rows; vrowmul
// reads its scalars, sums and parameters; a load before and a store after
// are ordered against them.
TEST(AccelNormOps, AccessesAndDependencies) {
  const Target &t = normTarget();
  const int outM = t.memOf(Cls::Out), accM = t.memOf(Cls::Acc);
  const uint64_t half = t.memRows(outM) / 2;
  std::vector<Access> acc;
  accesses(t, vreduceOp(t, 7, 10, 2, 3, 1, 2, 0, true, true), nullptr, acc);
  auto has = [&](int d, uint64_t lo, uint64_t hi, bool w) {
    for (const Access &a : acc)
      if (a.domain == d && a.lo == lo && a.hi == hi && a.write == w)
        return true;
    return false;
  };
  // Rows 10 + g*1 + k*2, g < 2, k < 3: [10, 16).
  EXPECT_TRUE(has(outM, 10, 16, false));
  EXPECT_TRUE(has(outM, 10 + half, 16 + half, false));
  EXPECT_TRUE(has(accM, 7, 9, true));
  EXPECT_FALSE(
      has(accM, 7 + t.memRows(accM) / 2, 9 + t.memRows(accM) / 2, true));
  accesses(t, vrowmulOp(t, 50, 10, 3, 2, 30, 20, 100, false, true, true),
           nullptr, acc);
  EXPECT_TRUE(has(outM, 10, 15, false));
  EXPECT_TRUE(has(accM, 30, 33, false));
  EXPECT_TRUE(has(accM, 20, 23, false));
  EXPECT_TRUE(has(accM, 100, 104, false));
  EXPECT_TRUE(has(outM, 50, 55, true));
  EXPECT_TRUE(has(outM, 50 + half, 55 + half, true));
  accesses(t, rscalarOp(t, 4, 9, 2, true), nullptr, acc);
  EXPECT_TRUE(has(accM, 9, 11, false));
  EXPECT_TRUE(has(accM, 4, 6, true));

  std::vector<Op> prog = {
      loadOp(t, Cls::Out, 10, 0, 1, 6, 6),
      vreduceOp(t, 7, 10, 2, 3, 1, 2, 0, false, true),
      rscalarOp(t, 7, 7, 2, false),
      vrowmulOp(t, 10, 10, 2, 1, 7, 7, 100, false, false, false),
      storeOp(t, Cls::Out, 10, 0, 1, 6, 6),
      finishOp()};
  ASSERT_EQ(assignSync(t, prog, nullptr).message(), "");
  EXPECT_NE(prog[1].wait, 0u) << "vreduce waits for the load";
  EXPECT_NE(prog[4].wait, 0u) << "the store waits for vrowmul";
}

// What the hardware refuses, the simulator refuses, naming the operation.
TEST(AccelNormOps, SimulatorRefusals) {
  const Target &t = normTarget();
  auto run = [&](const Op &o) {
    RefMachine m(t, 64);
    return m.run({o, finishOp()}, SimOptions(), nullptr).message();
  };
  EXPECT_NE(run(vreduceOp(t, 0, 0, 1, 1, 1, 1, 0, false, true, true))
                .find("sum and sq are exclusive"),
            std::string::npos);
  EXPECT_NE(run(vreduceOp(t, 0, 0, 1, 1, 1, 1, 0, false, false, false, true))
                .find("center needs sq"),
            std::string::npos);
  EXPECT_NE(run(vreduceOp(t, 0, 0, 1, 1, 1, 1, 9, false, false))
                .find("last = 9 is beyond the row's 8 lanes"),
            std::string::npos);
  EXPECT_NE(run(rscalarOp(t, 1, 0, 2, true))
                .find("dst rows must be src's rows or apart from them"),
            std::string::npos);
  EXPECT_NE(run(vrowmulOp(t, 1, 0, 2, 1, 0, 0, 0, false, false, false))
                .find("apart from them"),
            std::string::npos);
  const std::string err =
      run(vreduceOp(t, 0, 500, 1, 2, 1, 20, 0, false, true));
  EXPECT_NE(err.find("operation 0 (vreduce on VEC, cycle 0): reads rows"),
            std::string::npos)
      << err;
  EXPECT_EQ(run(vrowmulOp(t, 0, 0, 2, 1, 0, 0, 0, true, true, false)), "");
}

} // namespace

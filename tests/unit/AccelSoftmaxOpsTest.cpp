// The integer softmax's operations of the NPU compiler layer (Op.h: vreduce
// exp, vrowexp, and the row_sm_* registers): random sequences of vreduce
// max, vreduce exp, rscalar and vrowexp on the reference simulator against
// the definition (quant::integerSoftmaxRow), whole rows of int8 and int16,
// in both channel-tiled layouts; their text, binary form, accesses, timing
// and the description's rules.
#include "AccelTestUtil.h"

#include "ember/accel/Op.h"
#include "ember/accel/Program.h"
#include "ember/accel/RefSim.h"
#include "ember/accel/Sync.h"
#include "ember/accel/Text.h"
#include "ember/quant/Transformer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

using namespace ember::accel;
namespace q = ember::quant;

namespace {

// scratchpads.json (8 lanes, acc and out memories of 512 rows) with the
// softmax's operations on its vector engine, their registers and 16-bit
// rows. `exp`: vreduce declares its softmax form.
std::string softmaxTargetText(bool exp = true) {
  std::string s = readTestTargetText("scratchpads");
  auto sub = [&](const std::string &from, const std::string &to) {
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos)
      s.replace(at, from.size(), to);
  };
  sub(R"("runs": ["requant", "vadd", "pool"])",
      R"("runs": ["requant", "vadd", "pool", "vreduce", "rscalar", "vrowexp"])");
  sub(R"("finish": {})",
      R"("finish": {},
    "vreduce": {"dst": 9, "src": 9, "rows": 9, "len": 6, "gstride": 9,
                "kstride": 9, "last": 4, "w16": 1, "sum": 1)" +
          std::string(exp ? R"(, "exp": 1)" : "") + R"(},
    "rscalar": {"dst": 9, "src": 9, "rows": 9, "rsqrt": 1},
    "vrowexp": {"dst": 9, "src": 9, "rows": 9, "stride": 9, "scal": 9,
                "sum": 9, "w16": 1, "out16": 1})");
  sub(R"("add_max": {"id": 27, "engine": "VEC"})",
      R"("add_max": {"id": 27, "engine": "VEC"},
    "rq16_min": {"id": 28, "engine": "VEC"}, "rq16_max": {"id": 29, "engine": "VEC"},
    "row_out_zp": {"id": 42, "engine": "VEC"}, "row_min": {"id": 43, "engine": "VEC"},
    "row_max": {"id": 44, "engine": "VEC"},
    "row_sm_in_mult": {"id": 50, "engine": "VEC"},
    "row_sm_in_shift": {"id": 51, "engine": "VEC"},
    "row_sm_out_mult": {"id": 52, "engine": "VEC"},
    "row_sm_out_shift": {"id": 53, "engine": "VEC"})");
  sub(R"("outputs": ["i8", "u8"])", R"("outputs": ["i8", "u8", "i16"])");
  return s;
}

const Target &softmaxTarget() {
  static const Target t = [] {
    Target x;
    const std::string err = parseTarget(softmaxTargetText(), x).message();
    EXPECT_EQ(err, "");
    return x;
  }();
  return t;
}

// One softmax of R rows of C channels: where its tensors lie and the
// operations that compute it.
struct SoftmaxCase {
  int64_t C = 13, R = 3;
  bool w16 = false, out16 = false;
  bool tileMajor = true; // tile k of row i at k*R + i (else i*T + k)
  bool inPlace = false;  // vrowexp writes over its input (else to rows apart)
  double sx = 0.1;       // the input's scale
  uint32_t seed = 1;
};

std::string describe(const SoftmaxCase &c) {
  return "C" + std::to_string(c.C) + " R" + std::to_string(c.R) +
         (c.w16 ? " i16" : " i8") + (c.out16 ? "->i16" : "->i8") +
         (c.tileMajor ? " tile-major" : " row-major") +
         (c.inPlace ? " in-place" : "") + " sx " + std::to_string(c.sx) +
         " seed " + std::to_string(c.seed);
}

// integerSoftmaxRow of one row, as int32 values.
std::vector<int32_t> softmaxRow(const std::vector<int32_t> &x, bool w16,
                                bool out16, const q::SoftmaxParams &p) {
  std::vector<int32_t> scratch, want;
  auto run = [&](auto in, auto y) {
    q::integerSoftmaxRow(in.data(), y.data(), int64_t(x.size()), 1, p, scratch);
    want.assign(y.begin(), y.end());
  };
  std::vector<int8_t> i8(x.begin(), x.end()), o8(x.size());
  std::vector<int16_t> i16(x.begin(), x.end()), o16(x.size());
  if (w16)
    out16 ? run(i16, o16) : run(i16, o8);
  else
    out16 ? run(i8, o16) : run(i8, o8);
  return want;
}

void runSoftmaxCase(const Target &t, const SoftmaxCase &c) {
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
  // Out rows: the input at 5, the result there or at 90; acc rows: the
  // maxima and sums at 20 (A), the reciprocals at 40 (B).
  const int64_t src = 5, dst = c.inPlace ? src : 90, A = 20, B = 40;
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
  auto getAcc = [&](int64_t r, int64_t l) {
    int32_t v;
    std::memcpy(&v, &am[size_t(r * accRb + 4 * l)], 4);
    return v;
  };
  // Garbage everywhere first: lanes past C must not count.
  for (uint8_t &b : om)
    b = uint8_t(rng());
  for (uint8_t &b : am)
    b = uint8_t(rng());

  const int32_t xlo = c.w16 ? -32768 : -128, xhi = c.w16 ? 32767 : 127;
  std::vector<std::vector<int32_t>> x(size_t(c.R));
  for (int64_t i = 0; i < c.R; ++i)
    for (int64_t ch = 0; ch < c.C; ++ch) {
      // A narrow spread on row 2 (and a constant row 1): the sum of many
      // exponentials near the maximum's.
      const int32_t spread = i == 1 ? 0 : i == 2 ? 3 : xhi;
      const int32_t v =
          std::clamp<int32_t>(int32_t(rng() % uint32_t(2 * spread + 1)) -
                                  spread + int32_t(rng() % 7) - 3,
                              xlo, xhi);
      x[size_t(i)].push_back(v);
      putOut(src + at(i, ch / L), ch % L, v, c.w16);
    }
  const double sy = c.out16 ? 1.0 / 32768 : 1.0 / 256;
  const int32_t yZp = c.out16 ? int32_t(rng() % 11) - 5 : -128,
                ylo = c.out16 ? -32768 + int32_t(rng() % 100) : -128 + 1,
                yhi = c.out16 ? 32767 - int32_t(rng() % 100) : 127 - 2;
  const q::SoftmaxParams p = q::makeSoftmaxParams(c.sx, sy, yZp, ylo, yhi);

  std::vector<Op> ops;
  for (auto rv : {std::pair<Reg, int64_t>{Reg::RowSmInMult, p.in.mult},
                  {Reg::RowSmInShift, p.in.shift},
                  {Reg::RowSmOutMult, p.out.mult},
                  {Reg::RowSmOutShift, p.out.shift},
                  {Reg::RowOutZp, p.yZp},
                  {Reg::RowMin, p.lo},
                  {Reg::RowMax, p.hi}})
    ops.push_back(setregOp(t, rv.first, rv.second));
  const int64_t gstride = c.tileMajor ? 1 : T, kstride = c.tileMajor ? c.R : 1;
  ops.push_back(
      vreduceOp(t, A, src, c.R, T, gstride, kstride, last, c.w16, false));
  ops.push_back(vreduceOp(t, A, src, c.R, T, gstride, kstride, last, c.w16,
                          false, false, false, true));
  ops.push_back(rscalarOp(t, B, A, c.R, false));
  for (int64_t k = 0; k < T; ++k)
    ops.push_back(vrowexpOp(t, dst + at(0, k), src + at(0, k), c.R,
                            c.tileMajor ? 1 : T, B, A, c.w16, c.out16));
  ops.push_back(finishOp());
  SimStats st;
  ASSERT_EQ(m.run(ops, SimOptions(), &st).message(), "");

  // Each operation's cycles: its rows at the vector unit's rate plus its
  // issue overhead (vrowexp a row more, as vrowmul).
  const int64_t ov = int64_t(t.vector.issueOverhead);
  for (size_t i = 0; i + 1 < ops.size(); ++i) {
    const Op &o = ops[i];
    const int64_t want = o.kind == OpKind::VReduce   ? o.rows * o.len + ov
                         : o.kind == OpKind::RScalar ? o.rows + ov
                         : o.kind == OpKind::VRowExp ? o.rows + 1 + ov
                                                     : 1;
    EXPECT_EQ(int64_t(st.spans[i].second - st.spans[i].first), want)
        << formatOp(t, o);
  }

  for (int64_t i = 0; i < c.R; ++i) {
    const std::vector<int32_t> &xi = x[size_t(i)];
    // vreduce exp's row: the sum of the exponentials in lanes 0..2, the
    // maximum in lane 3, 0 in the others.
    const int32_t mx = *std::max_element(xi.begin(), xi.end());
    uint64_t sum = 0;
    for (int32_t v : xi)
      sum += uint64_t(q::exp2NegQ23(q::mbqm(v - mx, p.in.mult, p.in.shift)));
    for (int64_t l = 0; l < L; ++l)
      EXPECT_EQ(getAcc(A + i, l), l == 0   ? int32_t(uint32_t(sum))
                                  : l == 1 ? int32_t(uint32_t(sum >> 32))
                                  : l == 3 ? mx
                                           : 0)
          << "row " << i << " lane " << l;
    const std::vector<int32_t> want = softmaxRow(xi, c.w16, c.out16, p);
    int distinct = 0;
    for (int64_t ch = 0; ch < c.C; ++ch) {
      const int32_t got = getOut(dst + at(i, ch / L), ch % L, c.out16);
      ASSERT_EQ(got, want[size_t(ch)]) << "row " << i << " channel " << ch;
      distinct += ch > 0 && want[size_t(ch)] != want[0];
    }
    // The case tests something: a varied row gives varied results.
    if (i == 0 && c.C > 4) {
      EXPECT_GT(distinct, 0);
    }
  }
}

TEST(AccelSoftmaxOps, RandomSequencesMatchIntegerSoftmaxRow) {
  const Target &t = softmaxTarget();
  ASSERT_TRUE(t.has(OpKind::VReduce) && t.has(OpKind::RScalar) &&
              t.has(OpKind::VRowExp) && t.declares(OpKind::VReduce, "exp") &&
              t.wide16);
  uint32_t seed = 1;
  // 8 lanes: 8 and 16 channels fill their tiles, 13, 21 and 3 end in a
  // partial one (last lanes); 3 tiles at most. Input scales from one where
  // most exponentials underflow to one where few do.
  for (int64_t C : {8, 13, 16, 21, 3})
    for (int wide = 0; wide < 4; ++wide)
      for (int form = 0; form < 4; ++form) {
        SoftmaxCase c;
        c.C = C;
        c.R = 3 + int64_t(seed % 3); // rows 1 and 2 are the narrow ones
        c.w16 = wide & 1;
        c.out16 = wide & 2;
        c.tileMajor = !(form & 1);
        // In place only where the widths agree (a 16-bit row is two).
        c.inPlace = (form & 2) && c.w16 == c.out16;
        const double scales[3] = {0.02, 0.1, 0.5};
        c.sx = scales[seed % 3] / (c.w16 ? 256 : 1);
        c.seed = seed++;
        runSoftmaxCase(t, c);
        if (::testing::Test::HasFatalFailure())
          return;
      }
}

// Every softmax op prints and parses to itself (the layer text), and
// survives the binary program; a vreduce without exp prints as before.
TEST(AccelSoftmaxOps, TextAndBinaryRoundTrip) {
  const Target &t = softmaxTarget();
  std::vector<Op> ops = {
      vreduceOp(t, 1, 2, 3, 4, 5, 6, 7, false, false),
      vreduceOp(t, 20, 30, 2, 3, 3, 1, 5, true, false, false, false, true),
      vrowexpOp(t, 1, 2, 3, 4, 5, 6, false, false),
      vrowexpOp(t, 11, 12, 13, 14, 15, 16, true, true),
      setregOp(t, Reg::RowSmInMult, 1 << 30),
      setregOp(t, Reg::RowSmOutShift, -3),
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
  EXPECT_EQ(formatOp(t, ops[0]),
            "vreduce dst=1 src=2 rows=3 len=4 gstride=5 kstride=6 last=7 "
            "sum=0");
  EXPECT_EQ(formatOp(t, ops[1]),
            "vreduce dst=20 src=30 rows=2 len=3 gstride=3 kstride=1 last=5 "
            "sum=0 exp=1 w16=1");
  EXPECT_EQ(formatOp(t, ops[3]),
            "vrowexp dst=11 src=12 rows=13 stride=14 scal=15 sum=16 w16=1 "
            "out16=1");
  EXPECT_EQ(formatOp(t, ops[4]), "setreg reg=row_sm_in_mult value=1073741824");
  EXPECT_EQ(formatOp(t, ops[5]), "setreg reg=row_sm_out_shift value=-3");
  EXPECT_TRUE(ops[1].exp);
  EXPECT_EQ(ops[2].engine, t.kindEngine[size_t(OpKind::VRowExp)]);
  Program back, text;
  ASSERT_EQ(deserializeProgram(t, serializeProgram(t, p), back).message(), "");
  ASSERT_EQ(back.ops.size(), ops.size());
  for (size_t i = 0; i < ops.size(); ++i)
    EXPECT_EQ(formatOp(t, back.ops[i]), formatOp(t, ops[i]));
  EXPECT_TRUE(back.ops[1].exp);
  EXPECT_FALSE(back.ops[0].exp);
  // The program text (Text.h) prints and reads them as well.
  ASSERT_EQ(parseProgram(t, printProgram(t, p), text).message(), "");
  EXPECT_EQ(printProgram(t, text), printProgram(t, p));
}

TEST(AccelSoftmaxOps, TextRefusesWhatTheTargetLacks) {
  Target t;
  ASSERT_EQ(parseTarget(softmaxTargetText(false), t).message(), "");
  Op op;
  ember::Status st = parseOp(t, "vreduce dst=0 src=0 rows=1 len=1 exp=1", op);
  EXPECT_NE(st.message().find("the target's vreduce has no flag 'exp'"),
            std::string::npos)
      << st.message();
  st = parseOp(t, "vrowexp dst=0 src=0 rows=1 param=3", op);
  EXPECT_NE(st.message().find("'param' is not a field of vrowexp"),
            std::string::npos)
      << st.message();
  const Target &plain = testTarget("scratchpads");
  st = parseOp(plain, "vrowexp dst=0 src=0 rows=1", op);
  EXPECT_NE(st.message().find("the target has no 'vrowexp' operation"),
            std::string::npos)
      << st.message();
  st = parseOp(plain, "setreg reg=row_sm_in_mult value=3", op);
  EXPECT_NE(
      st.message().find("'row_sm_in_mult' is not a register of the target"),
      std::string::npos)
      << st.message();
}

// A description that declares the operations needs their registers and
// memories for their rows.
TEST(AccelSoftmaxOps, DescriptionRules) {
  auto refusal = [](std::string text, const std::string &from,
                    const std::string &to) {
    const size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos)
      text.replace(at, from.size(), to);
    Target t;
    return parseTarget(text, t).message();
  };
  const std::string s = softmaxTargetText();
  EXPECT_EQ(
      refusal(s, R"("row_sm_out_mult": {"id": 52, "engine": "VEC"},)", ""),
      "registers.row_sm_out_mult: missing; vrowexp takes its "
      "parameters from it");
  EXPECT_EQ(refusal(s, R"("row_max": {"id": 44, "engine": "VEC"},)", ""),
            "registers.row_max: missing; vrowexp takes its parameters from "
            "it");
  // Without vrowexp, vreduce's exp form still reads the multipliers.
  std::string reduceOnly = s;
  auto cut = [&](const std::string &from, const std::string &to) {
    const size_t at = reduceOnly.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    reduceOnly.replace(at, from.size(), to);
  };
  cut(R"(, "vrowexp"])", "]");
  cut(R"("row_sm_in_shift": {"id": 51, "engine": "VEC"},)", "");
  const size_t vr = reduceOnly.find(R"("vrowexp": {)");
  ASSERT_NE(vr, std::string::npos);
  reduceOnly.erase(vr, reduceOnly.find('}', vr) + 1 - vr);
  // (the comma after rscalar's entry now ends the object)
  cut(R"("rsqrt": 1},
    )",
      R"("rsqrt": 1})");
  Target t;
  EXPECT_EQ(parseTarget(reduceOnly, t).message(),
            "registers.row_sm_in_shift: missing; vreduce exp takes its "
            "parameters from it");
  EXPECT_EQ(refusal(s, R"("scal": 9,)", R"("scal": 8,)"),
            "ops.vrowexp.scal: 8 bits cannot address memories[2] 'PSUM' "
            "(512 rows)");
  EXPECT_EQ(refusal(s, R"("vrowexp": {"dst": 9,)",
                    R"("vrowexp": {"dst": 9, "param": 3,)")
                .find("ops.vrowexp.param: not a field of vrowexp"),
            0u);
}

// What dependency insertion and the simulator's checks see: vreduce exp
// reads its groups' maxima (acc rows) before it writes them; vrowexp reads
// out rows (both rows of a 16-bit pair), its reciprocals and maxima; a load
// before and a store after are ordered against them.
TEST(AccelSoftmaxOps, AccessesAndDependencies) {
  const Target &t = softmaxTarget();
  const int outM = t.memOf(Cls::Out), accM = t.memOf(Cls::Acc);
  const uint64_t half = t.memRows(outM) / 2;
  std::vector<Access> acc;
  auto has = [&](int d, uint64_t lo, uint64_t hi, bool w) {
    for (const Access &a : acc)
      if (a.domain == d && a.lo == lo && a.hi == hi && a.write == w)
        return true;
    return false;
  };
  accesses(t, vreduceOp(t, 7, 10, 2, 3, 1, 2, 0, true, false), nullptr, acc);
  EXPECT_FALSE(has(accM, 7, 9, false)) << "a vreduce max reads no acc row";
  accesses(t,
           vreduceOp(t, 7, 10, 2, 3, 1, 2, 0, true, false, false, false, true),
           nullptr, acc);
  // Rows 10 + g*1 + k*2, g < 2, k < 3: [10, 16).
  EXPECT_TRUE(has(outM, 10, 16, false));
  EXPECT_TRUE(has(outM, 10 + half, 16 + half, false));
  EXPECT_TRUE(has(accM, 7, 9, false));
  EXPECT_TRUE(has(accM, 7, 9, true));
  accesses(t, vrowexpOp(t, 50, 10, 3, 2, 30, 20, false, true), nullptr, acc);
  EXPECT_TRUE(has(outM, 10, 15, false));
  EXPECT_FALSE(has(outM, 10 + half, 15 + half, false));
  EXPECT_TRUE(has(accM, 30, 33, false));
  EXPECT_TRUE(has(accM, 20, 23, false));
  EXPECT_TRUE(has(outM, 50, 55, true));
  EXPECT_TRUE(has(outM, 50 + half, 55 + half, true));
  EXPECT_EQ(acc.size(), 5u);

  std::vector<Op> prog = {
      loadOp(t, Cls::Out, 10, 0, 1, 6, 6),
      vreduceOp(t, 7, 10, 2, 3, 1, 2, 0, false, false),
      vreduceOp(t, 7, 10, 2, 3, 1, 2, 0, false, false, false, false, true),
      rscalarOp(t, 20, 7, 2, false),
      vrowexpOp(t, 10, 10, 2, 1, 20, 7, false, false),
      storeOp(t, Cls::Out, 10, 0, 1, 6, 6),
      finishOp()};
  ASSERT_EQ(assignSync(t, prog, nullptr).message(), "");
  EXPECT_NE(prog[1].wait, 0u) << "vreduce waits for the load";
  EXPECT_NE(prog[5].wait, 0u) << "the store waits for vrowexp";
}

// What the hardware refuses, the simulator refuses, naming the operation.
TEST(AccelSoftmaxOps, SimulatorRefusals) {
  const Target &t = softmaxTarget();
  auto run = [&](const Op &o) {
    RefMachine m(t, 64);
    return m.run({o, finishOp()}, SimOptions(), nullptr).message();
  };
  EXPECT_NE(
      run(vreduceOp(t, 0, 0, 1, 1, 1, 1, 0, false, true, false, false, true))
          .find("exp excludes sum and sq"),
      std::string::npos);
  EXPECT_NE(
      run(vrowexpOp(t, 1, 0, 2, 1, 0, 0, false, false)).find("apart from them"),
      std::string::npos);
  EXPECT_NE(run(vrowexpOp(t, 0, 0, 0, 1, 0, 0, false, false))
                .find("rows and stride must be at least 1"),
            std::string::npos);
  EXPECT_EQ(run(vrowexpOp(t, 0, 0, 2, 1, 0, 0, true, true)), "");
  EXPECT_EQ(run(vrowexpOp(t, 10, 0, 2, 5, 0, 0, false, false)), "");
}

} // namespace

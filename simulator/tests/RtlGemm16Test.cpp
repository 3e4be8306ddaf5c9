//===- RtlGemm16Test.cpp - the RTL's 16x8 array ops (spec version 5) ------===//
//
// GEMM16 and DWGEMM16 on the RTL, held to their definition: "exactly GEMM at
// (acc, act) followed by GEMM at (acc + ACC rows/2, act + ACT rows/2), in the
// cycles of one GEMM" (DWGEMM16 likewise, with the bias on the low plane
// only). Each program runs three times on the RTL:
//   (a) with the 16x8 ops,
//   (b) with each 16x8 op replaced by its two int8 ops (low plane, then high
//       plane without bias),
//   (c) with each 16x8 op replaced by its low-plane op only;
// (a)'s ACC must equal (b)'s bit for bit (and the golden model's run of (b)),
// and (a) must take exactly (c)'s cycles.
// The programs load random activations (both planes), weights and
// accumulators, then run shapes around the array size, every DWGEMM tap count
// and stride with and without bias, reset and accumulate, back-to-back
// instructions on the same accumulator rows (the forwarding of each half of
// the pair, also from and to int8 GEMMs on the high plane's rows) and random
// mixes.
//===----------------------------------------------------------------------===//
#include "../golden/Golden.h"
#include "../rtl/RtlModel.h"
#include "NpuTestUtil.h"

#include "ember/npu/Builders.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>

namespace ember::npu::test {
namespace {

constexpr int64_t kAccHalf = EMBER_NPU_ACC_HALF;
constexpr int64_t kActHalf = EMBER_NPU_ACT_HALF;
constexpr uint64_t kDram = 1 << 20;
// Rows loaded with random data: ACT [0, kActRows) and [kActHalf, kActHalf +
// kActRows), WGT [0, kWgtRows), ACC [0, kAccRows) and [kAccHalf, kAccHalf +
// kAccRows).
constexpr int64_t kActRows = 640, kWgtRows = 256, kAccRows = 448;

/// One instruction of a test program: a GEMM or DWGEMM at its low-plane
/// operands, and whether it is the 16x8 form.
struct Op {
  Insn insn;
  bool w16 = false;
};

enum class Form { Wide, Pairs, LowOnly };

/// The 16x8 form of an int8 array op: GEMM16/DWGEMM16 over the same fields.
Insn widened(Insn i) {
  i.op = i.op == Opcode::GEMM ? Opcode::GEMM16 : Opcode::DWGEMM16;
  return i;
}

/// The high plane's op of a 16x8 op: the int8 op at (acc + half, act + half),
/// without bias.
Insn highPlane(Insn i) {
  i.acc += kAccHalf;
  i.act += kActHalf;
  if (i.op == Opcode::DWGEMM)
    i.bias = 0;
  return i;
}

struct Program {
  std::vector<Word> words;
  std::vector<Insn> decoded; // for the RTL's messages
};

/// The loads of the random data, a FENCE, the ops in `form`, FINISH.
Program build(const std::vector<Op> &ops, Form form) {
  std::vector<Insn> head;
  const int64_t ab = kDim, cb = 4 * kDim;
  head.push_back(loadInsn(EMBER_NPU_MEM_ACT, 0, 0, 1, kActRows, kActRows));
  head.push_back(loadInsn(EMBER_NPU_MEM_ACT, kActHalf, kActRows * ab, 1,
                          kActRows, kActRows));
  head.push_back(
      loadInsn(EMBER_NPU_MEM_WGT, 0, 2 * kActRows * ab, 1, kWgtRows, kWgtRows));
  const int64_t accDram = (2 * kActRows + kWgtRows) * ab;
  head.push_back(
      loadInsn(EMBER_NPU_MEM_ACC, 0, accDram, 1, kAccRows, kAccRows));
  head.push_back(loadInsn(EMBER_NPU_MEM_ACC, kAccHalf, accDram + kAccRows * cb,
                          1, kAccRows, kAccRows));
  head.push_back(makeInsn(Opcode::FENCE));
  Program p;
  auto add = [&](const Insn &i) {
    p.words.push_back(encode(i));
    p.decoded.push_back(i);
  };
  for (const Insn &i : head)
    add(i);
  for (const Op &o : ops) {
    if (!o.w16 || form == Form::LowOnly) {
      add(o.insn);
    } else if (form == Form::Wide) {
      add(widened(o.insn));
    } else {
      add(o.insn);
      add(highPlane(o.insn));
    }
  }
  add(makeInsn(Opcode::FINISH));
  return p;
}

std::vector<uint8_t> randomDram(uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> d(kDram, 0);
  const size_t bytes =
      (2 * kActRows + kWgtRows) * kDim + 2 * kAccRows * 4 * kDim;
  for (size_t k = 0; k < bytes; ++k)
    d[k] = static_cast<uint8_t>(rng());
  return d;
}

struct Run {
  std::string error;
  uint64_t cycles = 0, macs = 0;
  std::vector<uint8_t> acc;
};

Run runRtl(RtlModel &m, const Program &p, const std::vector<uint8_t> &dram) {
  std::vector<uint8_t> d = dram;
  RtlResult r = m.run(p.words, p.decoded, d.data(), d.size(), RtlConfig());
  Run out;
  out.error = r.error;
  out.cycles = r.counters.cycles;
  out.macs = r.counters.macs;
  out.acc.resize(static_cast<size_t>(EMBER_NPU_ACC_ROWS) * 4 * kDim);
  m.readSram(EMBER_NPU_MEM_ACC, 0, out.acc.data(), EMBER_NPU_ACC_ROWS);
  return out;
}

/// Checks one program: (a) == (b) == golden(b) in ACC, cycles(a) == cycles(c).
void check(RtlModel &m, const std::string &name, const std::vector<Op> &ops,
           uint32_t seed) {
  SCOPED_TRACE(name);
  const std::vector<uint8_t> dram = randomDram(seed);
  Program wide = build(ops, Form::Wide), pairs = build(ops, Form::Pairs),
          low = build(ops, Form::LowOnly);
  // Every op (both planes) is a valid int8 program: the reference is legal.
  std::vector<Insn> checked;
  ASSERT_EQ(checkProgram(pairs.words, kDram, checked), "");
  ASSERT_EQ(checkProgram(low.words, kDram, checked), "");
  Run a = runRtl(m, wide, dram), b = runRtl(m, pairs, dram),
      c = runRtl(m, low, dram);
  ASSERT_EQ(a.error, "");
  ASSERT_EQ(b.error, "");
  ASSERT_EQ(c.error, "");
  EXPECT_TRUE(a.acc == b.acc) << "ACC differs from the two int8 ops' result";
  if (a.acc != b.acc) {
    for (size_t k = 0; k < a.acc.size(); k += 4 * kDim)
      if (std::memcmp(&a.acc[k], &b.acc[k], 4 * kDim)) {
        ADD_FAILURE() << "first differing ACC row " << k / (4 * kDim);
        break;
      }
  }
  // The high planes did something: (a) differs from the low planes alone.
  bool anyWide = false;
  for (const Op &o : ops)
    anyWide = anyWide || o.w16;
  if (anyWide) {
    EXPECT_FALSE(a.acc == c.acc) << "the high planes wrote nothing";
  }
  EXPECT_EQ(a.cycles, c.cycles) << "the 16x8 ops take other cycles than the "
                                   "low plane's int8 ops";
  // A 16x8 row counts DIM^2 multiply-accumulates, like an int8 row.
  EXPECT_EQ(a.macs, c.macs);
  GoldenMachine g;
  std::vector<uint8_t> gd = dram;
  ember_npu_counters_t gc{};
  gc.struct_size = sizeof gc;
  ASSERT_EQ(g.run(pairs.decoded, gd, gc), "");
  EXPECT_TRUE(
      std::memcmp(g.sram(EMBER_NPU_MEM_ACC), a.acc.data(), a.acc.size()) == 0)
      << "ACC differs from the golden model's run of the two int8 ops";
}

Op gemm(bool w16, bool reset, int64_t acc, int64_t act, int64_t wgt,
        int64_t inner, int64_t outer, int64_t aos = 0, int64_t cos = 0) {
  return {gemmInsn(reset, acc, act, wgt, inner, outer, aos, cos), w16};
}

Op dwgemm(bool w16, bool reset, int64_t acc, int64_t act, int64_t wgt,
          int64_t inner, int64_t outer, int64_t aos, int64_t cos, int64_t taps,
          int64_t stride = 1, bool bias = false) {
  return {dwgemmInsn(reset, acc, act, wgt, inner, outer, aos, cos, taps, stride,
                     bias),
          w16};
}

TEST(RtlGemm16, GemmShapes) {
  RtlModel m(false);
  int n = 0;
  for (int rows : {1, 2, kDim - 1, kDim, kDim + 1, 3 * kDim, 100}) {
    for (bool reset : {true, false}) {
      std::vector<Op> ops;
      ops.push_back(gemm(true, reset, 0, 0, 0, rows, 1));
      // outer lines with strides, overlapping accumulator lines
      ops.push_back(
          gemm(true, false, 200, 10, 32, rows, 3, rows + 2, rows / 2));
      ops.push_back(gemm(true, reset, 5, 3, 64, rows, 2, 0, 0));
      check(m, "gemm16_rows" + std::to_string(rows) + (reset ? "_reset" : ""),
            ops, 100 + n++);
    }
  }
}

TEST(RtlGemm16, DwgemmShapes) {
  RtlModel m(false);
  int n = 0;
  for (int taps : {1, 3, kDim - 4, kDwMaxTaps}) {
    for (int inner : {1, 7, kDim, 56}) {
      for (int stride : {1, 2, 3}) {
        const bool biasOk = taps <= kDim - 4;
        std::vector<Op> ops;
        ops.push_back(dwgemm(true, true, 0, 0, 0, inner, 3,
                             (inner - 1) * stride + taps + 1, inner, taps,
                             stride, biasOk));
        ops.push_back(dwgemm(true, false, 0, 5, 32, inner, 2, inner, inner,
                             taps, stride));
        ops.push_back(dwgemm(true, false, 0, 9, 48, inner, 2, 3 * inner, inner,
                             taps, stride, biasOk));
        ops.push_back(dwgemm(true, biasOk, 7, 1, 16, inner, 1, 0, 0, taps,
                             stride, biasOk));
        check(m,
              "dwgemm16_t" + std::to_string(taps) + "_i" +
                  std::to_string(inner) + "_s" + std::to_string(stride),
              ops, 200 + n++);
      }
    }
  }
}

// Back-to-back writes of one accumulator row: an instruction of DIM lines of
// one row each (DWGEMM: one tap), all into the same ACC row (every write
// forwarded to the next),
// followed at once by another into that row or into the high plane's row, in
// every combination of int8 and 16x8 (the forwarding of each half of the pair
// to each half of the next).
TEST(RtlGemm16, BackToBackSameRows) {
  RtlModel m(false);
  int n = 0;
  const int64_t x = 40;
  for (int first = 0; first < 3; ++first) {
    for (int second = 0; second < 3; ++second) {
      for (bool dw : {false, true}) {
        // 0: 16x8 at x; 1: int8 at x; 2: int8 at x + half (the high row)
        auto op = [&](int kind, bool reset, int64_t act, int64_t wgt) {
          const bool w16 = kind == 0;
          const int64_t acc = kind == 2 ? x + kAccHalf : x;
          const int64_t a = kind == 2 ? act + kActHalf : act;
          if (dw)
            return dwgemm(w16, reset, acc, a, wgt, 1, kDim, 1, 0, 1, 1, true);
          return gemm(w16, reset, acc, a, wgt, 1, kDim, 1, 0);
        };
        std::vector<Op> ops;
        ops.push_back(op(first, false, 0, 0));
        ops.push_back(op(second, false, 100, 32));
        ops.push_back(op(first, true, 200, 64));
        ops.push_back(op(0, false, 300, 96));
        ops.push_back(op(second, false, 5, 128));
        check(m,
              std::string(dw ? "dw" : "") + "b2b_" + std::to_string(first) +
                  std::to_string(second),
              ops, 300 + n++);
      }
    }
  }
}

TEST(RtlGemm16, RandomMixes) {
  RtlModel m(false);
  std::mt19937 rng(5);
  auto rnd = [&](int lo, int hi) {
    return lo + static_cast<int>(rng() % (hi - lo + 1));
  };
  const int count = 24;
  for (int n = 0; n < count; ++n) {
    std::vector<Op> ops;
    for (int k = 0; k < 16; ++k) {
      const int kind = rnd(0, 5);
      // int8 ops on either plane's rows, 16x8 ops in the lower halves
      const bool w16 = kind < 4;
      const bool high = !w16 && rng() % 2;
      const int64_t acc = rnd(0, 120) + (high ? kAccHalf : 0);
      const int64_t act = rnd(0, 150) + (high ? kActHalf : 0);
      const int64_t wgt = rnd(0, kWgtRows - kDim);
      if (kind % 2 == 0) {
        ops.push_back(gemm(w16, rnd(0, 1), acc, act, wgt, rnd(1, 40), rnd(1, 3),
                           rnd(0, 40), rnd(0, 40)));
      } else {
        const int taps = rnd(1, kDwMaxTaps);
        ops.push_back(dwgemm(w16, rnd(0, 1), acc, act, wgt, rnd(1, 30),
                             rnd(1, 3), rnd(0, 40), rnd(0, 40), taps, rnd(1, 3),
                             taps <= kDim - 4 && rng() % 2));
      }
    }
    check(m, "random_" + std::to_string(n), ops, 400 + n);
  }
}

} // namespace
} // namespace ember::npu::test

//===- GoldenTest.cpp - The golden model against hand-computed values -----===//
//
// The golden model defines the NPU; these tests pin that definition to Ember's
// int8 arithmetic (docs/quantization.md: TFLite's single-rounding conventions)
// and to hand-computed results of single instructions.
//
//===----------------------------------------------------------------------===//
#include "NpuTestUtil.h"
#include "ember/npu/Arith.h"
#include "ember/npu/Builders.h"

#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <iterator>
#include <random>

namespace ember::npu::test {
namespace {

TEST(NpuArith, MultiplyByQuantizedMultiplier) {
  EXPECT_EQ(mbqm(100, 1 << 30, 0), 50);
  EXPECT_EQ(mbqm(1000, 1518500250, -2), 177);                // 176.78
  EXPECT_EQ(mbqm(3, 1 << 30, 2), 6);                         // left shift
  EXPECT_EQ(mbqm(1, INT32_MAX, 40), mbqm(1, INT32_MAX, 31)); // shift clamped
  EXPECT_EQ(mbqm(123456, 1 << 30, -40), 0);
  // One rounding, half up: 2.5 -> 3, -2.5 -> -2, and a value a hair below
  // .5 stays below (115 * M = 0.49984 with a large right shift, where the
  // two-step gemmlowp form gives 1).
  EXPECT_EQ(mbqm(5, 1 << 30, 0), 3);
  EXPECT_EQ(mbqm(-5, 1 << 30, 0), -2);
  EXPECT_EQ(mbqm(115, 1194738645, -7), 0);
  EXPECT_EQ(mbqm(INT32_MAX, INT32_MAX, 30), INT32_MAX); // saturates
  EXPECT_EQ(mbqm(INT32_MIN, INT32_MAX, 30), INT32_MIN);
}

TEST(NpuArith, RequantizeClipsAndAddsZeroPoint) {
  EXPECT_EQ(requantize(-1000, 1 << 30, -1, 5, -128, 127), -128); // -250 + 5
  EXPECT_EQ(requantize(200, 1 << 30, -1, 5, -128, 127), 55);
  EXPECT_EQ(requantize(200, 1 << 30, -1, 5, 5, 50), 50); // relu6-style clip
  EXPECT_EQ(requantize(-200, 1 << 30, -1, 5, 5, 127),
            5);                                   // relu at the zero point
  EXPECT_EQ(requantize(0, 0, 0, 3, 10, -10), 10); // min > max gives min
}

TEST(NpuArith, QuantizedAddAndAveragePool) {
  int32_t regs[EMBER_NPU_NUM_REGS] = {};
  regs[EMBER_NPU_REG_ADD_LSHIFT] = 20;
  regs[EMBER_NPU_REG_ADD_A_MULT] = 1 << 30;
  regs[EMBER_NPU_REG_ADD_B_MULT] = 1 << 30;
  regs[EMBER_NPU_REG_ADD_OUT_MULT] = 1 << 30;
  regs[EMBER_NPU_REG_ADD_OUT_SHIFT] = -19;
  regs[EMBER_NPU_REG_ADD_MIN] = -128;
  regs[EMBER_NPU_REG_ADD_MAX] = 127;
  AddParams p = addParamsFromRegs(regs);
  EXPECT_EQ(quantAdd(10, 20, p), 15); // (a + b) / 2
  EXPECT_EQ(quantAdd(11, 20, p), 16); // 15.5 rounds up
  EXPECT_EQ(quantAdd(-11, -20, p), -15);
  regs[EMBER_NPU_REG_ADD_A_ZP] = 10;
  p = addParamsFromRegs(regs);
  EXPECT_EQ(quantAdd(10, 20, p), 10); // a is at its zero point
  EXPECT_EQ(poolAverage(5, 2), 3);
  EXPECT_EQ(poolAverage(-5, 2), -2); // half up, not away from zero
  EXPECT_EQ(poolAverage(-3, 2), -1);
  EXPECT_EQ(poolAverage(-1, 2), 0);
  EXPECT_EQ(poolAverage(4, 3), 1);
  EXPECT_EQ(poolAverage(-4, 3), -1);
}

// The 16x8 definition (docs/quantization.md, "16-bit activations (16x8)").
TEST(NpuArith16, RequantizationOfA48BitAccumulator) {
  // A 32-bit input gives the int8 form's result.
  for (int32_t x : {0, 1, -1, 5, -5, 123456789, INT32_MIN, INT32_MAX})
    for (int32_t e : {-31, -7, 0, 9, 30})
      EXPECT_EQ(quant::mbqm64(x, 1518500250, e), mbqm(x, 1518500250, e))
          << x << " " << e;
  // Beyond 32 bits: exact (2^40 * 0.5 * 2^-20 = 2^19), one rounding half up.
  const int64_t t40 = int64_t(1) << 40;
  EXPECT_EQ(quant::mbqm64(t40, 1 << 30, -20), 1 << 19);
  EXPECT_EQ(quant::mbqm64(t40 + (int64_t(1) << 20), 1 << 30, -20),
            (1 << 19) + 1); // x.5 -> up
  EXPECT_EQ(quant::mbqm64(-t40 - (int64_t(1) << 20), 1 << 30, -20),
            -(1 << 19)); // -x.5 -> up
  // Saturated to 48 bits first: 2^50 acts as 2^47 - 1.
  EXPECT_EQ(quant::mbqm64(int64_t(1) << 50, 1 << 30, -31),
            quant::mbqm64((int64_t(1) << 47) - 1, 1 << 30, -31));
  EXPECT_EQ(quant::mbqm64(-(int64_t(1) << 50), 1 << 30, -31),
            quant::mbqm64(-(int64_t(1) << 47), 1 << 30, -31));
  EXPECT_EQ(quant::mbqm64(int64_t(1) << 46, INT32_MAX, 30), INT32_MAX);
  // The full 31-bit multiplier: 382325 * M = 4353.50025 rounds to 4354,
  // where TFLite's multiplier reduced to 16 bits gives 4353.
  EXPECT_EQ(quant::mbqm64(382325, 1565004952, -6), 4354);
  // REQUANT's accumulator from its plane sums and an int64 bias.
  EXPECT_EQ(acc16Value(-128, 3, int64_t(1) << 33),
            3 * 256 - 128 + (int64_t(1) << 33));
  EXPECT_EQ(wideWord(-1, 0), int64_t(0xffffffffu));
  EXPECT_EQ(wideWord(0, -1), -(int64_t(1) << 32));
  EXPECT_EQ(
      quant::requantize16x8(int64_t(1) << 36, {1 << 30, -20}, 0, -32768, 32767),
      32767);
  EXPECT_EQ(requantizeAny(true, 0, 1000, 1 << 30, 0, 0, -7, 32767, true), 500);
  EXPECT_EQ(requantizeAny(true, 0, 1000, 1 << 30, 0, 3, -128, 127, false), 127);
}

TEST(NpuArith16, StorageOfInt16Rows) {
  for (int32_t v = -32768; v <= 32767; ++v) {
    ASSERT_EQ(wideValue(wideLo(v), wideHi(v)), v);
    // The low byte excess-128: what the array multiplies, v - 256 hi - 128.
    ASSERT_EQ(int32_t(wideLo(v)), v - 256 * int32_t(wideHi(v)) - 128);
  }
}

TEST(NpuArith16, Int16AddAndTable) {
  // The int16 add is the int8 one with L = 15 and int16 bounds.
  quant::AddParams p =
      quant::makeAddParams16(0.001, 0.002, 0.003, -32768, 32767);
  EXPECT_EQ(p.leftShift, 15);
  EXPECT_EQ(quant::quantizedAdd16(30000, 15000, p), 20000); // 30 + 30 = 60
  EXPECT_EQ(quant::quantizedAdd16(-32768, -32768, p), -32768);
  // The table: nodes give their entries, the interpolation lies between
  // neighbours, rounds its half step up, and the slope is exact.
  int16_t t[quant::kTable16Entries];
  for (int i = 0; i < quant::kTable16Entries; ++i)
    t[i] = int16_t(i % 2 ? 32767 : -32768);
  EXPECT_EQ(quant::tableLookup16(-32768, t), -32768);
  EXPECT_EQ(quant::tableLookup16(-32768 + 128, t), 32767);
  EXPECT_EQ(quant::tableLookup16(-32768 + 64, t), 0); // 65535 / 2 + .5
  // 32767: from T[511] = 32767 toward T[512] = -32768, 127/128 of the way.
  EXPECT_EQ(quant::tableLookup16(32767, t), 32767 - 65023);
  quant::makeTable16([](double x) { return 1 / (1 + std::exp(-x)); },
                     8.0 / 32768, 1.0 / 32768, t);
  int worst = 0;
  for (int32_t x = -32768; x <= 32767; ++x) {
    double f = 1 / (1 + std::exp(-x * 8.0 / 32768)) * 32768;
    int32_t want = int32_t(std::min(32767.0, std::round(f)));
    worst = std::max(worst, std::abs(quant::tableLookup16(x, t) - want));
  }
  EXPECT_LE(worst, 2); // the interpolated sigmoid within 2 quanta
}

/// Runs `program` on the golden executor with `dram` and returns the result.
RunOutput golden(const std::vector<Insn> &program,
                 const std::vector<uint8_t> &dram) {
  ember_npu_device_t *dev = makeDevice(EMBER_NPU_EXECUTOR_GOLDEN, dram.size());
  RunOutput out = runProgram(dev, encodeAll(program), dram);
  ember_npu_device_destroy(dev);
  return out;
}

TEST(NpuGolden, LoadPadsAroundA2DStridedBlock) {
  std::vector<uint8_t> dram(4096);
  for (size_t i = 0; i < dram.size(); ++i)
    dram[i] = static_cast<uint8_t>(i / kDim); // every byte of row r holds r
  Insn pad = makeInsn(Opcode::SETREG);
  pad.reg = EMBER_NPU_REG_PAD_VALUE;
  pad.value = -1;
  Insn ld = makeInsn(Opcode::LOAD);
  ld.mem = EMBER_NPU_MEM_ACT;
  ld.sram = 0;
  ld.dram = 3 * kDim; // starts at row 3
  ld.ysize = 2;
  ld.xsize = 2;
  ld.stride = 10; // the second line starts at row 13
  ld.pad_top = 1;
  ld.pad_left = 1;
  RunOutput r = golden({pad, ld, makeInsn(Opcode::FINISH)}, dram);
  ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
  // 3 x 3 block: a padding line, then [pad, 3, 4] and [pad, 13, 14].
  const int expect[9] = {-1, -1, -1, -1, 3, 4, -1, 13, 14};
  for (int row = 0; row < 9; ++row)
    for (int l = 0; l < kDim; ++l)
      EXPECT_EQ(static_cast<int8_t>(r.srams[EMBER_NPU_MEM_ACT][row * kDim + l]),
                expect[row])
          << "row " << row;
  EXPECT_EQ(r.counters.load_bytes, 4u * kDim);
}

TEST(NpuGolden, GemmIsActTimesWeightTransposeAndAccumulates) {
  std::vector<uint8_t> dram(4096, 0);
  // act row 0 = [1, 2, 0, ...]; weight row j = [j, 1, 0, ...] -> acc[j] = j + 2
  dram[0] = 1;
  dram[1] = 2;
  for (int j = 0; j < kDim; ++j) {
    dram[1024 + j * kDim] = static_cast<uint8_t>(j);
    dram[1024 + j * kDim + 1] = 1;
  }
  Insn la = makeInsn(Opcode::LOAD);
  la.mem = EMBER_NPU_MEM_ACT;
  la.ysize = 1;
  la.xsize = 1;
  Insn lw = la;
  lw.mem = EMBER_NPU_MEM_WGT;
  lw.dram = 1024;
  lw.xsize = kDim;
  lw.stride = kDim;
  lw.signal = 1u << EMBER_NPU_TOKEN_CHANNEL(EMBER_NPU_ENGINE_LOAD,
                                            EMBER_NPU_ENGINE_GEMM);
  Insn g = makeInsn(Opcode::GEMM);
  g.reset = 1;
  g.inner = 1;
  g.outer = 1;
  g.wait = lw.signal;
  Insn g2 = g;
  g2.reset = 0;
  g2.wait = 0;
  RunOutput r = golden({la, lw, g, g2, makeInsn(Opcode::FINISH)}, dram);
  ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
  for (int j = 0; j < kDim; ++j) {
    int32_t v;
    std::memcpy(&v, &r.srams[EMBER_NPU_MEM_ACC][4 * j], 4);
    EXPECT_EQ(v, 2 * (j + 2)) << "lane " << j; // accumulated twice
  }
  EXPECT_EQ(r.counters.macs, 2u * kDim * kDim);
}

TEST(NpuGolden, MaxPoolTwoByTwoStrideTwo) {
  std::vector<uint8_t> dram(4096, 0);
  // A 4x4 image, one value per row (all lanes equal): pixel (y, x) = 10 * y + x
  // - 20.
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      std::memset(&dram[(y * 4 + x) * kDim], 10 * y + x - 20, kDim);
  std::vector<Insn> p;
  const std::pair<unsigned, int> regs[] = {{EMBER_NPU_REG_POOL_KH, 2},
                                           {EMBER_NPU_REG_POOL_KW, 2},
                                           {EMBER_NPU_REG_POOL_STRIDE, 2},
                                           {EMBER_NPU_REG_POOL_IN_W, 4},
                                           {EMBER_NPU_REG_POOL_OUT_W, 2}};
  for (const auto &[reg, value] : regs) {
    Insn s = makeInsn(Opcode::SETREG);
    s.reg = reg;
    s.value = value;
    p.push_back(s);
  }
  Insn ld = makeInsn(Opcode::LOAD);
  ld.mem = EMBER_NPU_MEM_OUT;
  ld.ysize = 1;
  ld.xsize = 16;
  ld.stride = 16;
  ld.signal = 1u << EMBER_NPU_TOKEN_CHANNEL(EMBER_NPU_ENGINE_LOAD,
                                            EMBER_NPU_ENGINE_VECTOR);
  p.push_back(ld);
  Insn pool = makeInsn(Opcode::POOL);
  pool.dst = 100;
  pool.rows = 4;
  pool.wait = ld.signal;
  p.push_back(pool);
  p.push_back(makeInsn(Opcode::FINISH));
  RunOutput r = golden(p, dram);
  ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
  const int expect[4] = {11 - 20, 13 - 20, 31 - 20, 33 - 20};
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(static_cast<int8_t>(r.srams[EMBER_NPU_MEM_OUT][(100 + i) * kDim]),
              expect[i]);
}

// VREDUCE (spec version 6): a tile-major tensor of 3 softmax rows of 2.5
// tiles (40 elements at DIM 16), element j of row g = (7 j + 13 g) mod 41 - 20
// as int16 (times 1000 for w16): each row's maximum and sum, computed here
// from the elements, in every lane of its ACC row.
TEST(NpuGolden, RowReductionIsTheMaximumOrSumOfEachRow) {
  const int groups = 3, tiles = 3, n = 2 * kDim + kDim / 2;
  for (bool w16 : {false, true}) {
    for (bool sum : {false, true}) {
      std::vector<uint8_t> dram(8192, 0);
      int32_t want[groups];
      for (int g = 0; g < groups; ++g) {
        int32_t mx = INT32_MIN, total = 0;
        for (int j = 0; j < tiles * kDim; ++j) {
          const int32_t v =
              ((7 * j + 13 * g) % 41 - 20) * (w16 ? 1000 : 1) -
              (j >= n ? 30000 : 0); // beyond the row: never counted
          const int64_t row = (j / kDim) * groups + g; // tile-major
          const int32_t s = w16 ? v : int32_t(int8_t(v));
          if (w16) {
            dram[(row * kDim + j % kDim) * 2] = uint8_t(s & 0xff);
            dram[(row * kDim + j % kDim) * 2 + 1] = uint8_t((s >> 8) & 0xff);
          } else {
            dram[row * kDim + j % kDim] = uint8_t(s);
          }
          if (j < n) {
            mx = std::max(mx, s);
            total += s;
          }
        }
        want[g] = sum ? total : mx;
      }
      const unsigned lv = 1u << EMBER_NPU_TOKEN_CHANNEL(
                              EMBER_NPU_ENGINE_LOAD, EMBER_NPU_ENGINE_VECTOR);
      Insn ld = w16 ? load16Insn(EMBER_NPU_MEM_OUT, 0, 0, 1, tiles * groups,
                                 tiles * groups)
                    : loadInsn(EMBER_NPU_MEM_OUT, 0, 0, 1, tiles * groups,
                               tiles * groups);
      ld.signal = lv;
      Insn red =
          vreduceInsn(50, 0, groups, tiles, 1, groups, n % kDim, w16, sum);
      red.wait = lv;
      RunOutput r = golden({ld, red, makeInsn(Opcode::FINISH)}, dram);
      ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
      for (int g = 0; g < groups; ++g)
        for (int l = 0; l < kDim; ++l) {
          int32_t v;
          std::memcpy(
              &v, &r.srams[EMBER_NPU_MEM_ACC][((50 + g) * kDim + l) * 4], 4);
          EXPECT_EQ(v, want[g]) << "w16 " << w16 << " sum " << sum << " row "
                                << g << " lane " << l;
        }
    }
  }
}

// RSCALAR (spec version 7): the spec's ROMs are Transformer.h's tables, and
// the per-row scalar is its reciprocalOf (extended to 96 bits) and its
// normalization's 1/sqrt, within the tables' interpolation error.
TEST(NpuArith, RowScalarIsTransformerReciprocalAndRsqrt) {
  const quant::TransformerTables &tb = quant::transformerTables();
  const int32_t recip[] = {
#define X(v) v,
      EMBER_NPU_TAB_RECIP_LIST(X)
#undef X
  };
  const int32_t rsqrt[] = {
#define X(v) v,
      EMBER_NPU_TAB_RSQRT_LIST(X)
#undef X
  };
  ASSERT_EQ(std::size(recip), tb.recip.size());
  ASSERT_EQ(std::size(rsqrt), tb.rsqrt.size());
  for (size_t j = 0; j < tb.recip.size(); ++j)
    EXPECT_EQ(recip[j], tb.recip[j]) << "recip entry " << j;
  for (size_t j = 0; j < tb.rsqrt.size(); ++j)
    EXPECT_EQ(rsqrt[j], tb.rsqrt[j]) << "rsqrt entry " << j;

  std::mt19937_64 rng(77);
  for (int k = 0; k < 20000; ++k) {
    // Softmax sums (at least 2^23) up to the 64 bits reciprocalOf takes.
    const uint64_t s = k == 0 ? UINT64_MAX : k == 1 ? 1 : (rng() >> (k % 64));
    if (s == 0)
      continue;
    const uint32_t w[3] = {uint32_t(s), uint32_t(s >> 32), 0};
    const RowScalar got = rowScalar(w, false);
    const quant::Reciprocal want = quant::reciprocalOf(s);
    ASSERT_EQ(got.value, want.r) << s;
    ASSERT_EQ(got.shift, want.p) << s;
  }
  for (int k = 0; k < 20000; ++k) {
    // Sums of squares up to 96 bits: 1/sqrt(W) = R 2^(-86 + s/2).
    uint32_t w[3] = {uint32_t(rng()), uint32_t(rng()), uint32_t(rng())};
    w[k % 3] >>= (k / 3) % 32;
    if (k % 5 == 0)
      w[2] = 0;
    const RowScalar got = rowScalar(w, true);
    const double v = std::ldexp(double(w[2]), 64) +
                     std::ldexp(double(w[1]), 32) + double(w[0]);
    if (v == 0) {
      EXPECT_EQ(got.value, 0);
      continue;
    }
    ASSERT_EQ(got.shift % 2, 0);
    ASSERT_GT(got.value, 1 << 22);
    ASSERT_LE(got.value, 1 << 23);
    const double approx = std::ldexp(double(got.value), -86 + got.shift / 2);
    EXPECT_NEAR(approx * std::sqrt(v), 1.0, 1.0 / 16384) << v;
  }
  const uint32_t zero[3] = {0, 0, 0};
  EXPECT_EQ(rowScalar(zero, false).value, 0);
  EXPECT_EQ(rowScalar(zero, true).shift, 0);
}

} // namespace
} // namespace ember::npu::test

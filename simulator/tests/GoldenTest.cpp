//===- GoldenTest.cpp - The golden model against hand-computed values -----===//
//
// The golden model defines the NPU; these tests pin that definition to Ember's
// int8 arithmetic (docs/quantization.md: TFLite's single-rounding conventions)
// and to hand-computed results of single instructions.
//
//===----------------------------------------------------------------------===//
#include "NpuTestUtil.h"
#include "ProgramGen.h"
#include "ember/npu/Arith.h"
#include "ember/npu/Builders.h"

#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <cstdio>
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

// VROWMUL (spec version 8): VREDUCE's sum, RSCALAR's 1/sqrt of W and
// VROWMUL per channel tile compute Transformer.h's integerNormRow bit for bit
// (LayerNorm and RMSNorm, per-channel gamma and beta, 8- and 16-bit inputs
// and outputs), on the golden and the SystemC model. W (the squared
// reduction's result) is computed here and loaded, or computed by VREDUCE sq
// (spec version 9): the whole normalization on the NPU.
TEST(NpuGolden, RowMultiplyIsTransformerIntegerNorm) {
  constexpr int kGroups = 3, kTiles = 3, kN = 2 * kDim + kDim / 2;
  constexpr int64_t kWAt = 16384, kParamAt = 24576;
  const int accRowBytes = 4 * kDim;
  auto putI32 = [](std::vector<uint8_t> &d, uint64_t at, int32_t v) {
    std::memcpy(&d[at], &v, 4);
  };
  std::mt19937 rng(67);
  for (int variant = 0; variant < 16; ++variant) {
    const bool w16 = variant & 1, out16 = variant & 2, center = !(variant & 4);
    const bool sq = variant & 8; // W by VREDUCE sq (spec version 9), or loaded
    const int32_t xZp = center ? 0 : int32_t(rng() % 21) - 10;
    const int32_t lo = out16 ? -32768 : -128, hi = out16 ? 32767 : 127;
    std::vector<double> gamma, beta;
    for (int c = 0; c < kN; ++c) {
      gamma.push_back((c % 5 == 0 ? -1 : 1) * (0.25 + (rng() % 1000) / 400.0));
      beta.push_back((int(rng() % 1000) - 500) / 300.0);
    }
    const double sx = w16 ? 0.0004 : 0.05, sy = out16 ? 0.0003 : 0.04;
    const quant::NormParams p = quant::makeNormParams(
        sx, xZp, sy, out16 ? 0 : 3, lo, hi, kN, center, 1e-5, gamma, beta);
    std::vector<uint8_t> dram(32768, 0);
    std::vector<int32_t> x(size_t(kGroups * kTiles * kDim));
    for (int g = 0; g < kGroups; ++g)
      for (int j = 0; j < kTiles * kDim; ++j) {
        const int32_t v = w16 ? int32_t(int16_t(rng())) / (g + 1)
                              : int32_t(int8_t(rng())) / (g + 1);
        const size_t e = size_t((g * kTiles + j / kDim) * kDim + j % kDim);
        x[e] = v;
        if (w16) {
          dram[2 * e] = uint8_t(v & 0xff);
          dram[2 * e + 1] = uint8_t((v >> 8) & 0xff);
        } else {
          dram[e] = uint8_t(v);
        }
      }
    // W per group (integerNormRow's), as the 96-bit lanes 0..2 of ACC rows.
    for (int g = 0; g < kGroups; ++g) {
      int64_t sum = 0;
      for (int j = 0; j < kN; ++j)
        sum += x[size_t(g * kTiles * kDim + j)] - xZp;
      quant::UInt128 w = uint64_t(p.epsilon);
      for (int j = 0; j < kN; ++j) {
        const int64_t c = x[size_t(g * kTiles * kDim + j)] - xZp;
        const int64_t d = center ? int64_t(kN) * c - sum : c;
        w += quant::UInt128(quant::Int128(d) * d);
      }
      for (int k = 0; k < 3; ++k)
        putI32(dram, uint64_t(kWAt + g * accRowBytes + 4 * k),
               int32_t(uint32_t(uint64_t(w >> (32 * k)))));
    }
    for (int k = 0; k < kTiles; ++k)
      for (int l = 0; l < kDim; ++l) {
        const size_t c = size_t(std::min(k * kDim + l, kN - 1));
        const uint64_t at = uint64_t(kParamAt + 4 * k * accRowBytes + 4 * l);
        putI32(dram, at, p.mult[c]);
        putI32(dram, at + uint64_t(accRowBytes), p.shift[c]);
        putI32(dram, at + uint64_t(2 * accRowBytes), int32_t(p.bias[c]));
        putI32(dram, at + uint64_t(3 * accRowBytes), int32_t(p.bias[c] >> 32));
      }
    SafeProgramBuilder b;
    const int64_t rows = kGroups * kTiles;
    b.add(w16 ? load16Insn(EMBER_NPU_MEM_OUT, 0, 0, 1, rows, rows)
              : loadInsn(EMBER_NPU_MEM_OUT, 0, 0, 1, rows, rows));
    if (!sq)
      b.add(loadInsn(EMBER_NPU_MEM_ACC, 100, kWAt, 1, kGroups, kGroups));
    b.add(
        loadInsn(EMBER_NPU_MEM_ACC, 200, kParamAt, 1, 4 * kTiles, 4 * kTiles));
    b.add(vreduceInsn(50, 0, kGroups, kTiles, kTiles, 1, kN % kDim, w16, true));
    b.add(setregInsn(EMBER_NPU_REG_ROW_N, kN));
    b.add(setregInsn(EMBER_NPU_REG_ROW_X_ZP, xZp));
    if (sq) { // the sums again, then W over them in place
      b.add(setregInsn(EMBER_NPU_REG_ROW_EPS_LO, int32_t(uint32_t(p.epsilon))));
      b.add(setregInsn(EMBER_NPU_REG_ROW_EPS_HI, int32_t(p.epsilon >> 32)));
      b.add(vreduceInsn(100, 0, kGroups, kTiles, kTiles, 1, kN % kDim, w16,
                        true));
      b.add(vreduceInsn(100, 0, kGroups, kTiles, kTiles, 1, kN % kDim, w16,
                        false, true, center));
    }
    b.add(rscalarInsn(100, 100, kGroups, true));
    b.add(setregInsn(EMBER_NPU_REG_ROW_OUT_ZP, p.yZp));
    b.add(setregInsn(EMBER_NPU_REG_ROW_MIN, lo));
    b.add(setregInsn(EMBER_NPU_REG_ROW_MAX, hi));
    const int64_t dst =
        variant % 3 == 0 && w16 == out16 ? 0 : 40; // in place or apart
    for (int k = 0; k < kTiles; ++k)
      b.add(vrowmulInsn(dst + k, k, kGroups, kTiles, 100, 50, 200 + 4 * k, w16,
                        out16, center));
    const std::vector<Insn> prog = b.finish();
    for (ember_npu_executor_t ex :
         {EMBER_NPU_EXECUTOR_GOLDEN, EMBER_NPU_EXECUTOR_SYSTEMC}) {
      ember_npu_device_t *dev = makeDevice(ex, dram.size());
      const RunOutput r = runProgram(dev, encodeAll(prog), dram);
      ember_npu_device_destroy(dev);
      ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
      const std::vector<uint8_t> &out = r.srams[EMBER_NPU_MEM_OUT];
      for (int g = 0; g < kGroups; ++g) {
        std::vector<int32_t> want(static_cast<size_t>(kN));
        const int32_t *row = &x[size_t(g * kTiles * kDim)];
        if (w16) {
          std::vector<int16_t> in(row, row + kN);
          quant::integerNormRow(in.data(), want.data(), kN, p);
        } else {
          std::vector<int8_t> in(row, row + kN);
          quant::integerNormRow(in.data(), want.data(), kN, p);
        }
        for (int j = 0; j < kN; ++j) {
          const size_t at =
              size_t((dst + g * kTiles + j / kDim) * kDim + j % kDim);
          const int32_t got =
              out16 ? int32_t(int16_t(uint16_t(
                          (out[at + size_t(EMBER_NPU_OUT_HALF * kDim)] << 8) |
                          (out[at] ^ 0x80))))
                    : int32_t(int8_t(out[at]));
          ASSERT_EQ(got, want[size_t(j)])
              << "executor " << ex << " variant " << variant << " group " << g
              << " element " << j;
        }
      }
    }
  }
}

// VREDUCE exp and VROWEXP (spec versions 10 and 11): the 2^x ROM is
// Transformer.h's table, and softmax's exponential is its exp2NegQ23 of the
// clamped MBQM (x - m wrapping when m is no real maximum).
TEST(NpuArith, SoftmaxExpIsTransformerExp2) {
  const int32_t exp2[] = {
#define X(v) v,
      EMBER_NPU_TAB_EXP2_LIST(X)
#undef X
  };
  const quant::TransformerTables &tb = quant::transformerTables();
  ASSERT_EQ(std::size(exp2), tb.exp2.size());
  for (size_t j = 0; j < tb.exp2.size(); ++j)
    EXPECT_EQ(exp2[j], tb.exp2[j]) << "exp2 entry " << j;
  std::mt19937 rng(71);
  for (int k = 0; k < 20000; ++k) {
    const int32_t x = int16_t(rng()), m = x + int32_t(rng() % 70000);
    const int32_t mult = int32_t((rng() >> 1) | 0x40000000u),
                  shift = int32_t(rng() % 17);
    const int32_t u = quant::mbqm(x - m, mult, shift);
    ASSERT_EQ(softmaxExp(x, m, mult, shift),
              quant::exp2NegQ23(std::max(u, -(32 << 16))));
  }
  EXPECT_EQ(softmaxExp(5, 5, INT32_MAX, 0), 1 << 23);
  EXPECT_EQ(softmaxExp(7, 5, INT32_MAX, 30), 1 << 23); // above m: 2^0
  EXPECT_EQ(softmaxExp(-32768, 32767, INT32_MAX, 30), 0);
  // x - m wraps: 0 - INT32_MIN is INT32_MIN, far below the row's maximum.
  EXPECT_EQ(softmaxExp(0, INT32_MIN, INT32_MAX, 0), 0);
}

// A whole integer softmax on the NPU: VREDUCE max, VREDUCE exp, RSCALAR and
// VROWEXP per channel tile compute Transformer.h's integerSoftmaxRow bit for
// bit (8- and 16-bit inputs and outputs, rows of 1 to several hundred
// elements with partial last tiles, multipliers as makeSoftmaxParams makes
// them from random scales), on the golden and the SystemC model. Lanes past
// a row's end hold other values: the reductions skip them.
TEST(NpuGolden, SoftmaxIsTransformerIntegerSoftmax) {
  constexpr int kGroups = 3;
  constexpr int64_t kAccA = 100, kAccB = 200;
  std::mt19937 rng(73);
  int checked = 0;
  const int lengths[] = {1, 2, kDim - 1, kDim, kDim + 3, 77, 300, 517};
  for (int variant = 0; variant < 64; ++variant) {
    const bool w16 = variant & 1, out16 = variant & 2;
    const int n = lengths[(variant >> 2) % 8];
    const int tiles = (n + kDim - 1) / kDim;
    const int32_t lo = out16 ? -32768 : -128, hi = out16 ? 32767 : 127;
    // Input scales of int8 and int16 activations, output scales from a
    // probability's 1/256 or 1/32768 to coarser ones.
    const double sx = (w16 ? 0.00005 : 0.005) * (1 + rng() % 100);
    const double sy =
        (out16 ? 1.0 / 32768 : 1.0 / 256) * (variant & 32 ? 1 + rng() % 8 : 1);
    const quant::SoftmaxParams p =
        quant::makeSoftmaxParams(sx, sy, out16 ? 0 : -128, lo, hi);
    const int64_t rows = int64_t(kGroups) * tiles;
    std::vector<uint8_t> dram(32768, 0);
    std::vector<int32_t> x(size_t(rows * kDim));
    for (size_t e = 0; e < x.size(); ++e) {
      const int g = int(e / size_t(tiles * kDim));
      const int32_t v = w16 ? int32_t(int16_t(rng())) / (g + 1)
                            : int32_t(int8_t(rng())) / (g + 1);
      x[e] = v;
      if (w16) {
        dram[2 * e] = uint8_t(v & 0xff);
        dram[2 * e + 1] = uint8_t((v >> 8) & 0xff);
      } else {
        dram[e] = uint8_t(v);
      }
    }
    SafeProgramBuilder b;
    b.add(w16 ? load16Insn(EMBER_NPU_MEM_OUT, 0, 0, 1, rows, rows)
              : loadInsn(EMBER_NPU_MEM_OUT, 0, 0, 1, rows, rows));
    b.add(setregInsn(EMBER_NPU_REG_ROW_SM_IN_MULT, p.in.mult));
    b.add(setregInsn(EMBER_NPU_REG_ROW_SM_IN_SHIFT, p.in.shift));
    b.add(setregInsn(EMBER_NPU_REG_ROW_SM_OUT_MULT, p.out.mult));
    b.add(setregInsn(EMBER_NPU_REG_ROW_SM_OUT_SHIFT, p.out.shift));
    b.add(setregInsn(EMBER_NPU_REG_ROW_OUT_ZP, p.yZp));
    b.add(setregInsn(EMBER_NPU_REG_ROW_MIN, lo));
    b.add(setregInsn(EMBER_NPU_REG_ROW_MAX, hi));
    b.add(
        vreduceInsn(kAccA, 0, kGroups, tiles, tiles, 1, n % kDim, w16, false));
    b.add(vreduceInsn(kAccA, 0, kGroups, tiles, tiles, 1, n % kDim, w16, false,
                      false, false, true));
    b.add(rscalarInsn(kAccB, kAccA, kGroups, false));
    // In place, or apart (16-bit results in the lower half).
    const int64_t dst = variant % 3 == 0 && w16 == out16 ? 0 : rows + 8;
    for (int k = 0; k < tiles; ++k)
      b.add(vrowexpInsn(dst + k, k, kGroups, tiles, kAccB, kAccA, w16, out16));
    const std::vector<Insn> prog = b.finish();
    for (ember_npu_executor_t ex :
         {EMBER_NPU_EXECUTOR_GOLDEN, EMBER_NPU_EXECUTOR_SYSTEMC}) {
      ember_npu_device_t *dev = makeDevice(ex, dram.size());
      const RunOutput r = runProgram(dev, encodeAll(prog), dram);
      ember_npu_device_destroy(dev);
      ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
      const std::vector<uint8_t> &out = r.srams[EMBER_NPU_MEM_OUT];
      std::vector<int32_t> scratch;
      for (int g = 0; g < kGroups; ++g) {
        std::vector<int32_t> want(static_cast<size_t>(n));
        const int32_t *row = &x[size_t(g * tiles * kDim)];
        if (w16) {
          std::vector<int16_t> in(row, row + n);
          quant::integerSoftmaxRow(in.data(), want.data(), n, 1, p, scratch);
        } else {
          std::vector<int8_t> in(row, row + n);
          quant::integerSoftmaxRow(in.data(), want.data(), n, 1, p, scratch);
        }
        for (int j = 0; j < n; ++j) {
          const size_t at =
              size_t((dst + g * tiles + j / kDim) * kDim + j % kDim);
          const int32_t got =
              out16 ? int32_t(int16_t(uint16_t(
                          (out[at + size_t(EMBER_NPU_OUT_HALF * kDim)] << 8) |
                          (out[at] ^ 0x80))))
                    : int32_t(int8_t(out[at]));
          ASSERT_EQ(got, want[size_t(j)])
              << "executor " << ex << " variant " << variant << " n " << n
              << " group " << g << " element " << j;
          ++checked;
        }
      }
    }
  }
  // Every element of every row on both models.
  EXPECT_GT(checked, 2 * kGroups * 900);
  std::printf("softmax: %d elements bit-exact\n", checked);
}

} // namespace
} // namespace ember::npu::test

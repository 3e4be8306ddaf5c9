//===- ErrorTest.cpp - bad programs stop with an error naming the cause ---===//
#include "NpuTestUtil.h"
#include "ProgramGen.h"
#include "ember/npu/Assembler.h"
#include "ember/npu/Builders.h"

#include <gtest/gtest.h>

#include <random>

namespace ember::npu::test {
namespace {

constexpr uint32_t kLoadToGemm =
    1u << EMBER_NPU_TOKEN_CHANNEL(EMBER_NPU_ENGINE_LOAD, EMBER_NPU_ENGINE_GEMM);

Insn gemm1() {
  Insn g = makeInsn(Opcode::GEMM);
  g.inner = 1;
  g.outer = 1;
  return g;
}

Insn load1(int64_t dram) {
  Insn l = makeInsn(Opcode::LOAD);
  l.ysize = 1;
  l.xsize = 1;
  l.dram = dram;
  return l;
}

class Errors : public ::testing::TestWithParam<ember_npu_executor_t> {
protected:
  void SetUp() override {
    dev_ = makeDevice(GetParam(), 4096);
    if (!dev_ && GetParam() == EMBER_NPU_EXECUTOR_RTL)
      GTEST_SKIP() << "this build has no RTL executor";
  }
  void TearDown() override { ember_npu_device_destroy(dev_); }
  RunOutput run(const std::vector<Word> &words) {
    return runProgram(dev_, words, std::vector<uint8_t>(4096, 1), false);
  }
  RunOutput run(const std::vector<Insn> &prog) { return run(encodeAll(prog)); }
  // One instruction, then FINISH.
  RunOutput runOne(const Insn &i) {
    return run(std::vector<Insn>{i, makeInsn(Opcode::FINISH)});
  }
  // runOne refuses the program with "instruction 0: " + what.
  void expectError(const Insn &i, const std::string &what) {
    RunOutput r = runOne(i);
    EXPECT_EQ(r.status, EMBER_NPU_STATUS_BAD_PROGRAM) << formatInsn(i);
    EXPECT_EQ(r.error, "instruction 0: " + what) << formatInsn(i);
  }
  ember_npu_device_t *dev_ = nullptr;
};

TEST_P(Errors, UnknownOpcode) {
  std::vector<Word> w = encodeAll({gemm1(), makeInsn(Opcode::FINISH)});
  w.insert(w.begin() + 1, Word{0xc8, 0});
  RunOutput r = run(w);
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_BAD_PROGRAM);
  EXPECT_EQ(r.error, "instruction 1: unknown opcode 200");
}

TEST_P(Errors, ReservedBits) {
  std::vector<Word> w = encodeAll({makeInsn(Opcode::FINISH)});
  w[0].hi |= 1ull << 60;
  RunOutput r = run(w);
  EXPECT_EQ(r.error, "instruction 0: reserved bits set for finish");
}

TEST_P(Errors, SramOutOfRange) {
  Insn g = gemm1();
  g.acc = EMBER_NPU_ACC_ROWS - 2;
  g.inner = 4;
  RunOutput r = run(std::vector<Insn>{load1(0), g, makeInsn(Opcode::FINISH)});
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_BAD_PROGRAM);
  EXPECT_NE(r.error.find("instruction 1: acc rows"), std::string::npos)
      << r.error;
}

TEST_P(Errors, RequantBiasRowBeyondAcc) {
  // mult and shift fit in the last two ACC rows; the bias row would not.
  Insn q = makeInsn(Opcode::REQUANT);
  q.rows = 1;
  q.param = EMBER_NPU_ACC_ROWS - 2;
  EXPECT_EQ(run(std::vector<Insn>{q, makeInsn(Opcode::FINISH)}).status,
            EMBER_NPU_STATUS_OK);
  q.bias = 1;
  RunOutput r = run(std::vector<Insn>{q, makeInsn(Opcode::FINISH)});
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_BAD_PROGRAM);
  EXPECT_NE(r.error.find("instruction 0: param rows"), std::string::npos)
      << r.error;
}

TEST_P(Errors, DmaBeyondDram) {
  RunOutput r =
      run(std::vector<Insn>{load1(4096 - 4), makeInsn(Opcode::FINISH)});
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_BAD_PROGRAM);
  EXPECT_NE(r.error.find("instruction 0: DMA beyond DRAM"), std::string::npos)
      << r.error;
}

TEST_P(Errors, IllegalTokenBit) {
  Insn g = gemm1();
  g.signal = kLoadToGemm; // GEMM cannot signal on LOAD->GEMM
  RunOutput r = run(std::vector<Insn>{g, makeInsn(Opcode::FINISH)});
  EXPECT_NE(r.error.find("instruction 0: signal bit"), std::string::npos)
      << r.error;
}

TEST_P(Errors, MissingFinish) {
  RunOutput r = run(std::vector<Insn>{gemm1()});
  EXPECT_EQ(r.error, "instruction 1: program does not end with finish");
}

TEST_P(Errors, TokenUnderflowIsDeadlock) {
  Insn g = gemm1();
  g.wait = kLoadToGemm; // nobody ever signals
  RunOutput r =
      run(std::vector<Insn>{load1(0), gemm1(), g, makeInsn(Opcode::FINISH)});
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_EXEC_ERROR);
  EXPECT_EQ(r.error.rfind("instruction 2: ", 0), 0u) << r.error;
  if (GetParam() == EMBER_NPU_EXECUTOR_GOLDEN)
    EXPECT_NE(r.error.find("token underflow on channel LOAD->GEMM"),
              std::string::npos);
  else
    EXPECT_NE(
        r.error.find("deadlock: gemm on GEMM waits for a token on LOAD->GEMM"),
        std::string::npos)
        << r.error;
  // The device recovers: a valid program runs afterwards.
  RunOutput ok =
      run(std::vector<Insn>{load1(0), gemm1(), makeInsn(Opcode::FINISH)});
  EXPECT_EQ(ok.status, EMBER_NPU_STATUS_OK) << ok.error;
}

TEST_P(Errors, BadPoolGeometry) {
  Insn p = makeInsn(Opcode::POOL);
  p.rows = 4; // POOL_* registers are all zero
  RunOutput r = run(std::vector<Insn>{p, makeInsn(Opcode::FINISH)});
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_EXEC_ERROR);
  EXPECT_EQ(
      r.error,
      "instruction 0: POOL_KH/KW/STRIDE/IN_W/OUT_W registers must be >= 1");
}

TEST_P(Errors, BoundedPoolGeometry) {
  // Checked when the pool starts, by every executor, with one message.
  std::vector<Insn> regs{setregInsn(EMBER_NPU_REG_POOL_KH, 3),
                         setregInsn(EMBER_NPU_REG_POOL_KW, 3),
                         setregInsn(EMBER_NPU_REG_POOL_STRIDE, 1),
                         setregInsn(EMBER_NPU_REG_POOL_IN_W, 4),
                         setregInsn(EMBER_NPU_REG_POOL_OUT_W, 4)};
  auto runPool = [&](Insn p) {
    std::vector<Insn> prog = regs;
    prog.push_back(p);
    prog.push_back(makeInsn(Opcode::FINISH));
    return run(prog);
  };
  RunOutput r = runPool(poolInsn(false, 100, 0, 16, 3, 1, 4));
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_EXEC_ERROR);
  EXPECT_EQ(r.error, "instruction 5: pool pad_top 3 / pad_left 1 must be "
                     "below POOL_KH 3 / POOL_KW 3");
  // Line 4 of the output starts its window at line 3 of a 2-line map.
  r = runPool(poolInsn(true, 100, 0, 17, 1, 1, 2));
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_EXEC_ERROR);
  EXPECT_EQ(r.error, "instruction 5: pool window of output line 4, column 3 "
                     "lies outside the 2 x 4 source");
  r = runPool(poolInsn(false, 100, EMBER_NPU_OUT_ROWS - 10, 4, 1, 1, 3));
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_EXEC_ERROR);
  EXPECT_NE(r.error.find("out of range of OUT"), std::string::npos) << r.error;
  EXPECT_EQ(runPool(poolInsn(false, 100, 0, 16, 1, 1, 4)).status,
            EMBER_NPU_STATUS_OK);
}

TEST_P(Errors, Version2FieldsAreValidated) {
  RunOutput r = runOne(poolInsn(false, 100, 0, 4, 1, 0, 0));
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_BAD_PROGRAM);
  EXPECT_EQ(r.error, "instruction 0: pad_top and pad_left need in_h (the "
                     "input lines) >= 1");
  r = runOne(upsampleInsn(0, 100, 2, 2, 0, 1, 1, 3));
  EXPECT_NE(r.error.find("instruction 0: mode must be 0"), std::string::npos)
      << r.error;
  r = runOne(upsampleInsn(0, 100, 2, 2, 3, 2, 1, 1));
  EXPECT_EQ(r.error, "instruction 0: output lines [3, 5) beyond the 4 lines "
                     "of the result");
  r = runOne(upsampleInsn(EMBER_NPU_OUT_ROWS - 10, 100, 4, 2, 0, 2, 1, 1));
  EXPECT_NE(r.error.find("instruction 0: dst rows"), std::string::npos)
      << r.error;
  r = runOne(lutldInsn(EMBER_NPU_ACC_ROWS - 1));
  EXPECT_NE(r.error.find("instruction 0: src rows"), std::string::npos)
      << r.error;
  r = runOne(vmulInsn(0, 0, EMBER_NPU_OUT_ROWS - 1, 4));
  EXPECT_NE(r.error.find("instruction 0: b rows"), std::string::npos)
      << r.error;
  EXPECT_EQ(runOne(vmulInsn(0, 0, EMBER_NPU_OUT_ROWS - 1, 4, true)).status,
            EMBER_NPU_STATUS_OK); // a broadcast b is one row
  // STORE's repetition counts in its DRAM extent; lane groups beyond DIM.
  r = runOne(storeInsn(EMBER_NPU_MEM_OUT, 0, 4096 - 4 * kDim, 1, 2, 2, 1));
  EXPECT_NE(r.error.find("instruction 0: DMA beyond DRAM"), std::string::npos)
      << r.error;
  if (kNumLaneGroups < 4) {
    r = runOne(
        storeInsn(EMBER_NPU_MEM_OUT, 0, 0, 1, 1, 1, 0, 0, 1 << kNumLaneGroups));
    EXPECT_NE(r.error.find("selects lane groups beyond DIM"), std::string::npos)
        << r.error;
  }
  Insn m = moveInsn(EMBER_NPU_ACT_ROWS - 10, 0, 1, 3, 3, 0, 0, 0, 0, 3);
  r = runOne(m); // 12 rows with the repetition
  EXPECT_NE(r.error.find("instruction 0: dst rows"), std::string::npos)
      << r.error;
}

TEST_P(Errors, Version3FieldsAreValidated) {
  const int64_t actHalf = EMBER_NPU_ACT_HALF, accHalf = EMBER_NPU_ACC_HALF,
                outHalf = EMBER_NPU_OUT_HALF;
  const int kAct = EMBER_NPU_MEM_ACT, kOut = EMBER_NPU_MEM_OUT;
  expectError(load16Insn(EMBER_NPU_MEM_WGT, 0, 0, 1, 1, 1),
              "load16 moves 16-bit rows of ACT or OUT (mem 0 or 3), not WGT");
  expectError(store16Insn(EMBER_NPU_MEM_ACC, 0, 0, 1, 1, 1),
              "store16 moves 16-bit rows of ACT or OUT (mem 0 or 3), not ACC");
  expectError(load16Insn(kAct, actHalf - 3, 0, 2, 3, 3),
              "sram 16-bit rows [" + std::to_string(actHalf - 3) + ", " +
                  std::to_string(actHalf + 3) +
                  ") out of range of the lower half of ACT (" +
                  std::to_string(actHalf) + " rows)");
  // A DRAM row of LOAD16 is 2 DIM bytes.
  RunOutput r = runOne(load16Insn(kOut, 0, 4096 - 2 * kDim, 1, 2, 2));
  EXPECT_NE(r.error.find("instruction 0: DMA beyond DRAM"), std::string::npos)
      << r.error;
  EXPECT_EQ(runOne(load16Insn(kOut, 0, 4096 - 4 * kDim, 1, 2, 2)).status,
            EMBER_NPU_STATUS_OK);
  expectError(moveInsn(0, outHalf - 2, 1, 3, 3, 0, 0, 0, 0, 0, true),
              "src 16-bit rows [" + std::to_string(outHalf - 2) + ", " +
                  std::to_string(outHalf + 1) +
                  ") out of range of the lower half of OUT (" +
                  std::to_string(outHalf) + " rows)");
  expectError(requantInsn(0, 0, 4, 100, 3, 0, 0, false, false, true, true),
              "out16 takes its clamp from RQ16_MIN/RQ16_MAX and has no zero "
              "point (int16 is symmetric): zp, min and max must be 0");
  expectError(requantInsn(0, 0, 4, 100, 0, 0, 0, false, true, false, true),
              "lut needs an int8 result (requant with a 16-bit result; LUT "
              "w16 is the 16-bit table)");
  expectError(
      requantInsn(0, accHalf - 2, 4, 100, 0, -128, 127, false, false, true),
      "src 16-bit rows [" + std::to_string(accHalf - 2) + ", " +
          std::to_string(accHalf + 2) +
          ") out of range of the lower half of ACC (" +
          std::to_string(accHalf) + " rows)");
  expectError(
      requantInsn(0, 0, 4, accHalf - 2, 0, -128, 127, true, false, true),
      "acc16 with bias: the int64 bias row param + 2 = " +
          std::to_string(accHalf) +
          " must lie in the lower half of ACC (its high word " +
          std::to_string(accHalf) + " rows above)");
  EXPECT_EQ(
      runOne(requantInsn(0, 0, 4, accHalf - 3, 0, -128, 127, true, false, true))
          .status,
      EMBER_NPU_STATUS_OK);
  // 8-bit operands of a 16-bit instruction may lie anywhere.
  EXPECT_EQ(runOne(requantInsn(outHalf + 5, 0, 4, 100, 0, -128, 127, false,
                               false, true))
                .status,
            EMBER_NPU_STATUS_OK);
  expectError(vaddInsn(outHalf - 1, 0, 10, 2, false, true),
              "dst 16-bit rows [" + std::to_string(outHalf - 1) + ", " +
                  std::to_string(outHalf + 1) +
                  ") out of range of the lower half of OUT (" +
                  std::to_string(outHalf) + " rows)");
  Insn one = rescaleInsn(0, 0, 4, false, true);
  one.b = 7;
  expectError(one, "one (a requantization of a alone) reads no b: b, bcast "
                   "and b16 must be 0");
  EXPECT_EQ(runOne(vmulInsn(0, outHalf + 100, outHalf + 200, 4, false, false,
                            false, false, true))
                .status,
            EMBER_NPU_STATUS_OK);
  expectError(lutldInsn(EMBER_NPU_ACC_ROWS - kLut16Rows + 1, true),
              "src rows [" +
                  std::to_string(EMBER_NPU_ACC_ROWS - kLut16Rows + 1) + ", " +
                  std::to_string(EMBER_NPU_ACC_ROWS + 1) +
                  ") out of range of ACC (" +
                  std::to_string(EMBER_NPU_ACC_ROWS) + " rows)");
  expectError(lutInsn(outHalf - 1, 0, 4, true),
              "dst 16-bit rows [" + std::to_string(outHalf - 1) + ", " +
                  std::to_string(outHalf + 3) +
                  ") out of range of the lower half of OUT (" +
                  std::to_string(outHalf) + " rows)");
  expectError(upsampleInsn(0, 0, 2, 2, 0, 1, 1, 1, 0, true, true),
              "lut needs an int8 result (upsample with a 16-bit result; LUT "
              "w16 is the 16-bit table)");
  // A 16-bit map's span is checked at run time against OUT's lower half.
  std::vector<Insn> pool = {
      setregInsn(EMBER_NPU_REG_POOL_KH, 2),
      setregInsn(EMBER_NPU_REG_POOL_KW, 2),
      setregInsn(EMBER_NPU_REG_POOL_STRIDE, 1),
      setregInsn(EMBER_NPU_REG_POOL_IN_W, 4),
      setregInsn(EMBER_NPU_REG_POOL_OUT_W, 3),
      poolInsn(false, 0, outHalf - 10, 3, 0, 0, 3, false, true),
      makeInsn(Opcode::FINISH)};
  r = run(pool);
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_EXEC_ERROR);
  EXPECT_EQ(r.error, "instruction 5: pool reads src rows [" +
                         std::to_string(outHalf - 10) + ", " +
                         std::to_string(outHalf + 2) +
                         ") out of range of the lower half of OUT (16-bit "
                         "rows)");
}

// GEMM16 and DWGEMM16 (spec version 5): the act and acc blocks are 16-bit
// rows and accumulator pairs, so each must lie in the lower half; the weight
// tile and DWGEMM's taps, stride and bias are checked as for GEMM / DWGEMM.
TEST_P(Errors, Version5FieldsAreValidated) {
  auto half = [](const char *what, const char *mem, int64_t first, int64_t last,
                 int64_t rows) {
    return std::string(what) + " 16-bit rows [" + std::to_string(first) + ", " +
           std::to_string(last) + ") out of range of the lower half of " + mem +
           " (" + std::to_string(rows) + " rows)";
  };
  const int64_t actHalf = EMBER_NPU_ACT_HALF, accHalf = EMBER_NPU_ACC_HALF;
  // The act block's last line reaches the upper half (by one row); ending
  // at the half runs.
  expectError(gemm16Insn(true, 0, actHalf - 19, 0, 4, 3, 8),
              half("act", "ACT", actHalf - 19, actHalf + 1, actHalf));
  RunOutput ok = runOne(gemm16Insn(true, 0, actHalf - 20, 0, 4, 3, 8));
  EXPECT_EQ(ok.status, EMBER_NPU_STATUS_OK) << ok.error;
  // The acc block: its lines acc_ostride apart.
  expectError(gemm16Insn(false, accHalf - 10, 0, 0, 4, 3, 0, 4),
              half("acc", "ACC", accHalf - 10, accHalf + 2, accHalf));
  // Wholly in the upper half, and beyond the memory.
  expectError(gemm16Insn(true, accHalf, 0, 0, 1, 1),
              half("acc", "ACC", accHalf, accHalf + 1, accHalf));
  expectError(gemm16Insn(true, 0, 2 * actHalf - 2, 0, 4, 1),
              half("act", "ACT", 2 * actHalf - 2, 2 * actHalf + 2, actHalf));
  // DWGEMM16: a line streams (inner - 1) stride + taps rows.
  expectError(dwgemm16Insn(true, 0, actHalf - 12, 0, 4, 1, 0, 0, 4, 3),
              half("act", "ACT", actHalf - 12, actHalf + 1, actHalf));
  expectError(dwgemm16Insn(true, accHalf - 3, 0, 0, 4, 1, 0, 0, 3),
              half("acc", "ACC", accHalf - 3, accHalf + 1, accHalf));
  expectError(dwgemm16Insn(true, 0, 0, 0, 4, 1, 0, 0, 0),
              "taps must be in 1.." + std::to_string(kDwMaxTaps));
  expectError(dwgemm16Insn(true, 0, 0, 0, 4, 1, 0, 0, 3, 0),
              "stride must be in 1..3");
  expectError(dwgemm16Insn(true, 0, 0, 0, 4, 1, 0, 0, kDim - 3, 1, true),
              "bias needs taps <= " + std::to_string(kDim - 4));
  expectError(gemm16Insn(true, 0, 0, 0, 0, 1), "inner and outer must be >= 1");
  expectError(gemm16Insn(true, 0, 0, EMBER_NPU_WGT_ROWS - kDim + 1, 1, 1),
              "wgt rows [" + std::to_string(EMBER_NPU_WGT_ROWS - kDim + 1) +
                  ", " + std::to_string(EMBER_NPU_WGT_ROWS + 1) +
                  ") out of range of WGT (" +
                  std::to_string(EMBER_NPU_WGT_ROWS) + " rows)");
  // The 8-bit ops still reach the upper halves.
  RunOutput r = runOne(gemmInsn(true, accHalf, actHalf, 0, 4, 1));
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
}

// VREDUCE (spec version 6): at least one group of at least one row, at most
// DIM lanes in the last row, every source row in OUT (16-bit: its lower
// half), every result row in ACC.
TEST_P(Errors, Version6FieldsAreValidated) {
  const int64_t outHalf = EMBER_NPU_OUT_HALF, accRows = EMBER_NPU_ACC_ROWS;
  expectError(vreduceInsn(0, 0, 0, 1, 1, 1, 0, false, false),
              "rows and len must be >= 1");
  expectError(vreduceInsn(0, 0, 1, 0, 1, 1, 0, false, true),
              "rows and len must be >= 1");
  expectError(vreduceInsn(0, 0, 1, 1, 1, 1, kDim + 1, false, false),
              "last (the lanes of a group's last row) must be in 0.." +
                  std::to_string(kDim));
  // Groups 10 apart, tiles 3 apart: the last row is src + 2*10 + 3*3.
  expectError(vreduceInsn(0, outHalf - 29, 3, 4, 10, 3, 0, true, false),
              "src 16-bit rows [" + std::to_string(outHalf - 29) + ", " +
                  std::to_string(outHalf + 1) +
                  ") out of range of the lower half of OUT (" +
                  std::to_string(outHalf) + " rows)");
  expectError(vreduceInsn(accRows - 2, 0, 3, 1, 1, 1, 0, false, true),
              "dst rows [" + std::to_string(accRows - 2) + ", " +
                  std::to_string(accRows + 1) + ") out of range of ACC (" +
                  std::to_string(accRows) + " rows)");
  RunOutput ok = runOne(
      vreduceInsn(accRows - 3, outHalf - 30, 3, 4, 10, 3, kDim, true, false));
  EXPECT_EQ(ok.status, EMBER_NPU_STATUS_OK) << ok.error;
}

// RSCALAR (spec version 7): at least one row, source and destination rows in
// ACC, the destination the source itself or apart from it.
TEST_P(Errors, Version7FieldsAreValidated) {
  const int64_t accRows = EMBER_NPU_ACC_ROWS;
  expectError(rscalarInsn(0, 10, 0, false), "rows must be >= 1");
  expectError(rscalarInsn(0, accRows - 2, 3, true),
              "src rows [" + std::to_string(accRows - 2) + ", " +
                  std::to_string(accRows + 1) + ") out of range of ACC (" +
                  std::to_string(accRows) + " rows)");
  expectError(rscalarInsn(accRows - 1, 0, 2, false),
              "dst rows [" + std::to_string(accRows - 1) + ", " +
                  std::to_string(accRows + 1) + ") out of range of ACC (" +
                  std::to_string(accRows) + " rows)");
  expectError(rscalarInsn(11, 10, 4, true),
              "dst rows must be src's rows or apart from them");
  expectError(rscalarInsn(7, 10, 4, false),
              "dst rows must be src's rows or apart from them");
  for (const Insn &ok :
       {rscalarInsn(10, 10, 4, true), rscalarInsn(14, 10, 4, false),
        rscalarInsn(0, accRows - 5, 5, true)}) {
    RunOutput r = runOne(ok);
    EXPECT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
  }
}

// VROWMUL (spec version 8): rows and stride at least 1, the OUT spans of
// either width, the ACC rows of the scalars, sums and four parameter rows,
// the destination the source itself (same width) or apart from it.
// VREDUCE sq (spec version 9): a squared reduction is not also a sum, and
// center is one of its fields.
TEST_P(Errors, Version9FieldsAreValidated) {
  expectError(vreduceInsn(0, 0, 2, 2, 2, 1, 0, false, true, true, false),
              "sum and sq are exclusive");
  expectError(vreduceInsn(0, 0, 2, 2, 2, 1, 0, false, false, false, true),
              "center needs sq");
  RunOutput r =
      runOne(vreduceInsn(0, 0, 2, 2, 2, 1, 0, true, false, true, true));
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
}

TEST_P(Errors, Version8FieldsAreValidated) {
  const int64_t accRows = EMBER_NPU_ACC_ROWS, outRows = EMBER_NPU_OUT_ROWS,
                half = EMBER_NPU_OUT_HALF;
  auto rm = [](int64_t dst, int64_t src, int64_t rows, int64_t stride,
               int64_t scal, int64_t sum, int64_t param, bool w16, bool out16) {
    return vrowmulInsn(dst, src, rows, stride, scal, sum, param, w16, out16,
                       true);
  };
  expectError(rm(100, 0, 0, 1, 0, 0, 0, false, false),
              "rows and stride must be >= 1");
  expectError(rm(100, 0, 2, 0, 0, 0, 0, false, false),
              "rows and stride must be >= 1");
  expectError(rm(100, outRows - 3, 2, 3, 0, 0, 0, false, false),
              "src rows [" + std::to_string(outRows - 3) + ", " +
                  std::to_string(outRows + 1) + ") out of range of OUT (" +
                  std::to_string(outRows) + " rows)");
  expectError(rm(0, 100, 2, 1, accRows - 1, 0, 0, false, false),
              "scal rows [" + std::to_string(accRows - 1) + ", " +
                  std::to_string(accRows + 1) + ") out of range of ACC (" +
                  std::to_string(accRows) + " rows)");
  expectError(rm(0, 100, 2, 1, 0, accRows - 1, 0, false, false),
              "sum rows [" + std::to_string(accRows - 1) + ", " +
                  std::to_string(accRows + 1) + ") out of range of ACC (" +
                  std::to_string(accRows) + " rows)");
  expectError(rm(0, 100, 2, 1, 0, 0, accRows - 3, false, false),
              "param rows [" + std::to_string(accRows - 3) + ", " +
                  std::to_string(accRows + 1) + ") out of range of ACC (" +
                  std::to_string(accRows) + " rows)");
  const std::string apart =
      "dst rows must be src's rows (same width) or apart from them";
  expectError(rm(101, 100, 4, 1, 0, 0, 0, false, false), apart);
  expectError(rm(100, 100, 4, 1, 0, 0, 0, true, false), apart);
  // A 16-bit source's high plane under an 8-bit destination.
  expectError(rm(half + 102, 100, 4, 1, 0, 0, 0, true, false), apart);
  for (const Insn &ok :
       {rm(100, 100, 4, 2, 0, 0, 0, true, true),
        rm(108, 100, 4, 2, 0, 0, 0, false, false),
        rm(half + 200, 100, 4, 1, 8, 0, accRows - 4, true, false)}) {
    RunOutput r = runOne(ok);
    EXPECT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
  }
}

// VREDUCE exp (spec version 10): softmax's sum of exponentials is not also a
// sum, a squared reduction or centered. VROWEXP (spec version 11): VROWMUL's
// ranges without its parameter rows.
TEST_P(Errors, Version10And11FieldsAreValidated) {
  const std::string excl = "exp excludes sum, sq and center";
  auto ex = [](bool sum, bool sq, bool center) {
    return vreduceInsn(0, 0, 2, 2, 2, 1, 0, false, sum, sq, center, true);
  };
  expectError(ex(true, false, false), excl);
  expectError(ex(false, true, false), excl);
  expectError(ex(false, false, true), excl);
  expectError(ex(false, true, true), excl);
  RunOutput r = runOne(ex(false, false, false));
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
  const int64_t accRows = EMBER_NPU_ACC_ROWS, outRows = EMBER_NPU_OUT_ROWS,
                half = EMBER_NPU_OUT_HALF;
  expectError(vrowexpInsn(100, 0, 0, 1, 0, 0, false, false),
              "rows and stride must be >= 1");
  expectError(vrowexpInsn(100, 0, 2, 0, 0, 0, false, false),
              "rows and stride must be >= 1");
  expectError(vrowexpInsn(100, outRows - 3, 2, 3, 0, 0, false, false),
              "src rows [" + std::to_string(outRows - 3) + ", " +
                  std::to_string(outRows + 1) + ") out of range of OUT (" +
                  std::to_string(outRows) + " rows)");
  expectError(vrowexpInsn(half - 1, 0, 2, 1, 0, 0, false, true),
              "dst 16-bit rows [" + std::to_string(half - 1) + ", " +
                  std::to_string(half + 1) +
                  ") out of range of the lower half of OUT (" +
                  std::to_string(half) + " rows)");
  expectError(vrowexpInsn(0, 100, 2, 1, accRows - 1, 0, false, false),
              "scal rows [" + std::to_string(accRows - 1) + ", " +
                  std::to_string(accRows + 1) + ") out of range of ACC (" +
                  std::to_string(accRows) + " rows)");
  expectError(vrowexpInsn(0, 100, 2, 1, 0, accRows - 1, false, false),
              "sum rows [" + std::to_string(accRows - 1) + ", " +
                  std::to_string(accRows + 1) + ") out of range of ACC (" +
                  std::to_string(accRows) + " rows)");
  const std::string apart =
      "dst rows must be src's rows (same width) or apart from them";
  expectError(vrowexpInsn(101, 100, 4, 1, 0, 0, false, false), apart);
  expectError(vrowexpInsn(100, 100, 4, 1, 0, 0, true, false), apart);
  expectError(vrowexpInsn(half + 102, 100, 4, 1, 0, 0, true, false), apart);
  for (const Insn &ok : {vrowexpInsn(100, 100, 4, 2, 0, 0, true, true),
                         vrowexpInsn(108, 100, 4, 2, 0, 0, false, false),
                         vrowexpInsn(half + 200, 100, 4, 1, accRows - 4,
                                     accRows - 4, true, false)}) {
    RunOutput ran = runOne(ok);
    EXPECT_EQ(ran.status, EMBER_NPU_STATUS_OK) << ran.error;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Executors, Errors,
    ::testing::Values(EMBER_NPU_EXECUTOR_GOLDEN, EMBER_NPU_EXECUTOR_SYSTEMC,
                      EMBER_NPU_EXECUTOR_RTL),
    [](const auto &info) {
      return info.param == EMBER_NPU_EXECUTOR_GOLDEN
                 ? "golden"
                 : (info.param == EMBER_NPU_EXECUTOR_RTL ? "rtl" : "systemc");
    });

} // namespace
} // namespace ember::npu::test

namespace ember::npu::test {
namespace {

// Property: a program that is valid in program order (golden model succeeds)
// always completes on the concurrent SystemC model; anything else ends in an
// error, never a crash or a hang. Token masks of race-free random programs are
// mutated to produce underflows, overflows and deadlocks.
TEST(NpuRobustness, MutatedTokenMasksNeverHang) {
  ember_npu_device_t *golden =
      makeDevice(EMBER_NPU_EXECUTOR_GOLDEN, kTestDramBytes);
  ember_npu_device_t *systemc =
      makeDevice(EMBER_NPU_EXECUTOR_SYSTEMC, kTestDramBytes);
  ember_npu_device_t *rtl =
      makeDevice(EMBER_NPU_EXECUTOR_RTL, kTestDramBytes); // may be absent
  ASSERT_NE(systemc, nullptr);
  int rtlErr = 0;
  std::mt19937 rng(99);
  int goldenOk = 0, goldenErr = 0, systemcErr = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    TestCase tc = randomCase(seed + 1000, 30);
    for (int m = 0; m < 1 + static_cast<int>(rng() % 3); ++m) {
      Insn &i = tc.program[rng() % (tc.program.size() - 1)];
      Engine e = engineOf(i);
      if (e == Engine::Fetch)
        continue;
      int other = static_cast<int>(rng() % kNumEngines);
      if (other == static_cast<int>(e))
        continue;
      int eng = static_cast<int>(e);
      if (rng() % 2)
        i.wait ^= 1u << EMBER_NPU_TOKEN_CHANNEL(other, eng);
      else
        i.signal ^= 1u << EMBER_NPU_TOKEN_CHANNEL(eng, other);
    }
    std::vector<Word> words = encodeAll(tc.program);
    RunOutput g = runProgram(golden, words, tc.dram, false);
    RunOutput s = runProgram(systemc, words, tc.dram, false);
    if (g.status == EMBER_NPU_STATUS_OK) {
      ++goldenOk;
      EXPECT_EQ(s.status, EMBER_NPU_STATUS_OK) << tc.name << ": " << s.error;
    } else {
      ++goldenErr;
      EXPECT_EQ(g.error.rfind("instruction ", 0), 0u) << g.error;
    }
    if (s.status != EMBER_NPU_STATUS_OK) {
      ++systemcErr;
      EXPECT_EQ(s.error.rfind("instruction ", 0), 0u) << s.error;
    }
    if (rtl) {
      // The RTL completes whatever the golden model accepts and otherwise stops
      // with the same error as the SystemC model (its deadlock detector names
      // the same instruction).
      RunOutput r = runProgram(rtl, words, tc.dram, false);
      if (g.status == EMBER_NPU_STATUS_OK) {
        EXPECT_EQ(r.status, EMBER_NPU_STATUS_OK) << tc.name << ": " << r.error;
      }
      if (r.status != EMBER_NPU_STATUS_OK) {
        ++rtlErr;
        EXPECT_EQ(r.error, s.error) << tc.name;
      }
    }
  }
  if (rtl) {
    EXPECT_EQ(rtlErr, systemcErr);
  }
  ember_npu_device_destroy(rtl);
  EXPECT_GT(goldenOk, 10);
  EXPECT_GT(goldenErr, 10);
  EXPECT_GT(systemcErr, 10);
  ember_npu_device_destroy(golden);
  ember_npu_device_destroy(systemc);
}

// Random encodings of the instructions of spec versions 2, 3, 5, 6, 7 and 8 and
// of the older opcodes they extended (their 16-bit fields set at random too),
// at any field values: whatever the static checks accept runs to the same end
// on every executor (the same state, or the same error naming the instruction),
// never a crash or a hang.
TEST(NpuRobustness, RandomLaterInstructionsAgreeOrFailAlike) {
  ember_npu_device_t *golden =
      makeDevice(EMBER_NPU_EXECUTOR_GOLDEN, kTestDramBytes);
  ember_npu_device_t *systemc =
      makeDevice(EMBER_NPU_EXECUTOR_SYSTEMC, kTestDramBytes);
  ember_npu_device_t *rtl = makeDevice(EMBER_NPU_EXECUTOR_RTL, kTestDramBytes);
  const Opcode ops[] = {
      Opcode::LUTLD,    Opcode::LUT,     Opcode::VMUL,    Opcode::UPSAMPLE,
      Opcode::POOL,     Opcode::STORE,   Opcode::MOVE,    Opcode::REQUANT,
      Opcode::VADD,     Opcode::LOAD16,  Opcode::STORE16, Opcode::GEMM16,
      Opcode::DWGEMM16, Opcode::VREDUCE, Opcode::RSCALAR, Opcode::VROWMUL};
  constexpr int kOps = sizeof ops / sizeof ops[0];
  std::mt19937_64 rng(2024);
  int ran = 0, failed = 0, perOp[kOps] = {};
  for (int tries = 0; tries < 800000 && ran < kOps * 16; ++tries) {
    const int k = tries % kOps;
    if (perOp[k] == 16)
      continue;
    Word w{rng(), rng()};
    setBits(w, 0, 8, static_cast<uint64_t>(ops[k]));
    setBits(w, 8, 32, 0); // no tokens
    Insn insn;
    decode(w, insn); // reserved bits aside, the fields as drawn
    // Small sizes more often, so that some pass the range checks.
    for (const FieldDesc &f : fieldsOf(insn.op))
      if (!f.isSigned && f.width > 4 && rng() % 2)
        insn.*f.member %= 1 + static_cast<int64_t>(rng() % 64);
    std::vector<Insn> prog;
    // POOL's geometry, sometimes valid.
    const int64_t geom[] = {int64_t(rng() % 4), int64_t(rng() % 4), 1,
                            int64_t(1 + rng() % 8), int64_t(1 + rng() % 8)};
    for (int r = 0; r < 5; ++r)
      prog.push_back(setregInsn(EMBER_NPU_REG_POOL_KH + r, geom[r]));
    prog.push_back(insn);
    prog.push_back(makeInsn(Opcode::FINISH));
    std::vector<Insn> decoded;
    std::vector<Word> words = encodeAll(prog);
    if (!checkProgram(words, kTestDramBytes, decoded).empty())
      continue;
    std::vector<uint8_t> dram(kTestDramBytes);
    for (auto &b : dram)
      b = static_cast<uint8_t>(rng());
    RunOutput g = runProgram(golden, words, dram);
    RunOutput sc = runProgram(systemc, words, dram);
    ++ran;
    ++perOp[k];
    EXPECT_EQ(g.status, sc.status) << formatInsn(insn) << ": " << sc.error;
    EXPECT_EQ(g.error, sc.error) << formatInsn(insn);
    if (g.status != EMBER_NPU_STATUS_OK) {
      ++failed;
    } else {
      EXPECT_TRUE(g.dram == sc.dram) << formatInsn(insn);
      for (int m = 0; m < kNumMems; ++m)
        EXPECT_TRUE(g.srams[m] == sc.srams[m]) << formatInsn(insn);
    }
    if (rtl) {
      RunOutput r = runProgram(rtl, words, dram);
      EXPECT_EQ(r.status, g.status) << formatInsn(insn) << ": " << r.error;
      if (r.status == EMBER_NPU_STATUS_OK) {
        EXPECT_TRUE(g.dram == r.dram) << formatInsn(insn);
        for (int m = 0; m < kNumMems; ++m)
          EXPECT_TRUE(g.srams[m] == r.srams[m]) << formatInsn(insn);
      } else {
        EXPECT_EQ(r.error, sc.error) << formatInsn(insn);
      }
    }
  }
  EXPECT_EQ(ran, kOps * 16); // 16 of each opcode
  EXPECT_GT(failed, 0);      // bad pool geometries among them
  EXPECT_LT(failed, ran);    // and instructions that ran
  ember_npu_device_destroy(rtl);
  ember_npu_device_destroy(golden);
  ember_npu_device_destroy(systemc);
}

TEST(NpuRobustness, ImpossibleDramSizeIsAnError) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  cfg.dram_bytes = 1ull << 40;
  ember_npu_device_t *dev = nullptr;
  EXPECT_EQ(ember_npu_device_create(&cfg, &dev),
            EMBER_NPU_STATUS_INVALID_ARGUMENT);
  cfg.dram_bytes = 4096;
  ASSERT_EQ(ember_npu_device_create(&cfg, &dev), EMBER_NPU_STATUS_OK);
  ember_npu_device_destroy(dev);
}

} // namespace
} // namespace ember::npu::test

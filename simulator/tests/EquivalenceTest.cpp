//===- EquivalenceTest.cpp - SystemC bit-exact against the golden model ---===//
#include "NpuTestUtil.h"
#include "ProgramGen.h"

#include <gtest/gtest.h>

#include <random>

namespace ember::npu::test {
namespace {

class Equivalence : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    golden_ = makeDevice(EMBER_NPU_EXECUTOR_GOLDEN, kTestDramBytes);
    systemc_ = makeDevice(EMBER_NPU_EXECUTOR_SYSTEMC, kTestDramBytes);
  }
  static void TearDownTestSuite() {
    ember_npu_device_destroy(golden_);
    ember_npu_device_destroy(systemc_);
  }

  /// Runs on both executors and compares DRAM, every scratchpad and the
  /// functional counters.
  static void expectSame(const TestCase &tc) {
    SCOPED_TRACE(tc.name);
    std::vector<Word> words = encodeAll(tc.program);
    RunOutput g = runProgram(golden_, words, tc.dram);
    RunOutput s = runProgram(systemc_, words, tc.dram);
    ASSERT_EQ(g.status, EMBER_NPU_STATUS_OK) << g.error;
    ASSERT_EQ(s.status, EMBER_NPU_STATUS_OK) << s.error;
    ASSERT_TRUE(g.dram == s.dram) << "DRAM differs";
    for (int m = 0; m < kNumMems; ++m)
      ASSERT_TRUE(g.srams[m] == s.srams[m]) << memName(m) << " differs";
    EXPECT_EQ(g.counters.insns, s.counters.insns);
    EXPECT_EQ(g.counters.macs, s.counters.macs);
    EXPECT_EQ(g.counters.load_bytes, s.counters.load_bytes);
    EXPECT_EQ(g.counters.store_bytes, s.counters.store_bytes);
    EXPECT_GT(s.counters.cycles, 0u);
    ++programsCompared_;
  }

  static ember_npu_device_t *golden_;
  static ember_npu_device_t *systemc_;
  static int programsCompared_;
};

ember_npu_device_t *Equivalence::golden_ = nullptr;
ember_npu_device_t *Equivalence::systemc_ = nullptr;
int Equivalence::programsCompared_ = 0;

TEST_F(Equivalence, DirectedPrograms) {
  ASSERT_NE(golden_, nullptr);
  ASSERT_NE(systemc_, nullptr);
  std::vector<TestCase> cases = directedCases();
  EXPECT_GE(cases.size(), 100u);
  for (const TestCase &tc : cases)
    expectSame(tc);
}

TEST_F(Equivalence, RandomPrograms) {
  ASSERT_NE(systemc_, nullptr);
  for (uint32_t seed = 1; seed <= 400; ++seed)
    expectSame(randomCase(seed, 10 + static_cast<int>(seed % 70)));
  EXPECT_GE(programsCompared_, 400);
}

// GEMM16 and DWGEMM16 (spec version 5) leave the memory the two planes'
// GEMMs and DWGEMMs leave (the bias on the low plane's only), on both
// executors, and take the SystemC cycles of the low plane's ops alone,
// counting each 16x8 multiply-accumulate once.
TEST_F(Equivalence, Gemm16IsBothPlanesInTheCyclesOfOne) {
  ASSERT_NE(systemc_, nullptr);
  std::mt19937 rng(55);
  std::vector<uint8_t> dram(kTestDramBytes);
  for (auto &b : dram)
    b = static_cast<uint8_t>(rng());
  const int kAct = EMBER_NPU_MEM_ACT, kWgt = EMBER_NPU_MEM_WGT,
            kAcc = EMBER_NPU_MEM_ACC;
  const int64_t actHalf = EMBER_NPU_ACT_HALF, accHalf = EMBER_NPU_ACC_HALF;
  const int64_t taps = kDim - 4;
  const std::vector<Insn> ops = {
      gemm16Insn(false, 0, 3, 0, 10, 3, 12, 7), // lines overlapping in ACC
      gemm16Insn(true, 40, 0, kDim, 16, 2, 20, 16),
      dwgemm16Insn(false, 10, 5, 2 * kDim, 6, 2, 9, 8, taps, 2, true),
      dwgemm16Insn(true, 80, 1, 2 * kDim, 5, 3, 7, 5, 3, 1, false),
      dwgemm16Insn(false, 80, 2, kDim, 4, 2, 11, 6, taps, 3, true),
      gemm16Insn(false, accHalf - 9, actHalf - 7, 2 * kDim, 7, 1)};
  // form 0: the 16x8 ops; 1: each as the low and the high plane's op; 2: the
  // low plane's op alone.
  auto program = [&](int form) {
    std::vector<Insn> p = {loadInsn(kAct, 0, 0, 1, 64, 64),
                           loadInsn(kAct, actHalf - 8, 2048, 1, 8, 8),
                           loadInsn(kAct, actHalf, 4096, 1, 64, 64),
                           loadInsn(kAct, 2 * actHalf - 8, 6144, 1, 8, 8),
                           loadInsn(kWgt, 0, 8192, 1, 3 * kDim, 3 * kDim),
                           loadInsn(kAcc, 0, 16384, 1, 40, 40),
                           loadInsn(kAcc, accHalf, 24576, 1, 40, 40),
                           makeInsn(Opcode::FENCE)};
    for (Insn op : ops) {
      if (form == 0) {
        p.push_back(op);
        continue;
      }
      op.op = op.op == Opcode::GEMM16 ? Opcode::GEMM : Opcode::DWGEMM;
      p.push_back(op);
      if (form == 1) {
        op.act += actHalf;
        op.acc += accHalf;
        op.bias = 0;
        p.push_back(op);
      }
    }
    p.push_back(makeInsn(Opcode::FENCE));
    p.push_back(makeInsn(Opcode::FINISH));
    return encodeAll(p);
  };
  RunOutput g16 = runProgram(golden_, program(0), dram),
            gPlanes = runProgram(golden_, program(1), dram),
            s16 = runProgram(systemc_, program(0), dram),
            sPlanes = runProgram(systemc_, program(1), dram),
            sLow = runProgram(systemc_, program(2), dram);
  for (const RunOutput *r : {&g16, &gPlanes, &s16, &sPlanes, &sLow})
    ASSERT_EQ(r->status, EMBER_NPU_STATUS_OK) << r->error;
  for (const RunOutput *r : {&gPlanes, &s16, &sPlanes}) {
    EXPECT_TRUE(r->dram == g16.dram);
    for (int m = 0; m < kNumMems; ++m)
      EXPECT_TRUE(r->srams[m] == g16.srams[m]) << memName(m) << " differs";
  }
  // Not a vacuous comparison: the high plane's accumulators moved.
  EXPECT_FALSE(sLow.srams[kAcc] == s16.srams[kAcc]);
  EXPECT_EQ(s16.counters.cycles, sLow.counters.cycles);
  EXPECT_EQ(s16.counters.gemm_busy, sLow.counters.gemm_busy);
  EXPECT_LT(s16.counters.cycles, sPlanes.counters.cycles);
  EXPECT_EQ(g16.counters.macs, sLow.counters.macs);
  EXPECT_EQ(s16.counters.macs, sLow.counters.macs);
  EXPECT_EQ(2 * s16.counters.macs, sPlanes.counters.macs);
}

} // namespace
} // namespace ember::npu::test

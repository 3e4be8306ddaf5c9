//===- EquivalenceTest.cpp - SystemC bit-exact against the golden model ---===//
#include "NpuTestUtil.h"
#include "ProgramGen.h"

#include <gtest/gtest.h>

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

} // namespace
} // namespace ember::npu::test

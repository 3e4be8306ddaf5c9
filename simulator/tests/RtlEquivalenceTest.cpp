//===- RtlEquivalenceTest.cpp - the RTL bit-exact against golden ----------===//
//
// The RTL bit-exact against the golden model. The same directed and random
// race-free programs that hold the SystemC model to the golden model
// (ProgramGen.cpp), and the example kernels, run on the RTL (hw/rtl under
// Verilator) through driver.h: DRAM, all four scratchpads and the functional
// counters must be identical. EMBER_NPU_RTL_RANDOM=N changes the number of
// random programs (default 400).
//===----------------------------------------------------------------------===//
#include "../rtl/RtlModel.h"
#include "Kernels.h"
#include "NpuTestUtil.h"
#include "ProgramGen.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>

namespace ember::npu::test {
namespace {

class RtlEquivalence : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    golden_ = makeDevice(EMBER_NPU_EXECUTOR_GOLDEN, kTestDramBytes);
    rtl_ = makeDevice(EMBER_NPU_EXECUTOR_RTL, kTestDramBytes);
  }
  static void TearDownTestSuite() {
    ember_npu_device_destroy(golden_);
    ember_npu_device_destroy(rtl_);
  }

  static void expectSame(const TestCase &tc) {
    SCOPED_TRACE(tc.name);
    std::vector<Word> words = encodeAll(tc.program);
    RunOutput g = runProgram(golden_, words, tc.dram);
    RunOutput r = runProgram(rtl_, words, tc.dram);
    ASSERT_EQ(g.status, EMBER_NPU_STATUS_OK) << g.error;
    ASSERT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
    for (int m = 0; m < kNumMems; ++m) {
      if (g.srams[m] == r.srams[m])
        continue;
      size_t rb = static_cast<size_t>(memRowBytes(m)), first = 0;
      while (g.srams[m][first] == r.srams[m][first])
        ++first;
      ADD_FAILURE() << memName(m) << " differs, first at row " << first / rb
                    << " byte " << first % rb;
    }
    ASSERT_TRUE(g.dram == r.dram) << "DRAM differs";
    EXPECT_EQ(g.counters.insns, r.counters.insns);
    EXPECT_EQ(g.counters.macs, r.counters.macs);
    EXPECT_EQ(g.counters.load_bytes, r.counters.load_bytes);
    EXPECT_EQ(g.counters.store_bytes, r.counters.store_bytes);
    EXPECT_GT(r.counters.cycles, 0u);
    ++programsCompared_;
  }

  static ember_npu_device_t *golden_;
  static ember_npu_device_t *rtl_;
  static int programsCompared_;
};

ember_npu_device_t *RtlEquivalence::golden_ = nullptr;
ember_npu_device_t *RtlEquivalence::rtl_ = nullptr;
int RtlEquivalence::programsCompared_ = 0;

TEST_F(RtlEquivalence, DeviceReportsRtl) {
  ASSERT_NE(rtl_, nullptr);
  ember_npu_device_info_t info;
  info.struct_size = sizeof info;
  ASSERT_EQ(ember_npu_device_query(rtl_, &info), EMBER_NPU_STATUS_OK);
  EXPECT_STREQ(info.name, "rtl");
  EXPECT_EQ(info.dim, static_cast<uint32_t>(kDim));
  EXPECT_EQ(info.timed, 1u);
  EXPECT_EQ(info.concurrent, 1u);
}

TEST_F(RtlEquivalence, DirectedPrograms) {
  ASSERT_NE(rtl_, nullptr);
  std::vector<TestCase> cases = directedCases();
  EXPECT_GE(cases.size(), 100u);
  for (const TestCase &tc : cases)
    expectSame(tc);
}

TEST_F(RtlEquivalence, RandomPrograms) {
  ASSERT_NE(rtl_, nullptr);
  const char *env = std::getenv("EMBER_NPU_RTL_RANDOM");
  uint32_t n = env ? static_cast<uint32_t>(std::atoi(env)) : 400;
  for (uint32_t seed = 1; seed <= n; ++seed)
    expectSame(randomCase(seed, 10 + static_cast<int>(seed % 70)));
}

TEST(RtlKernels, MatchReference) {
  std::vector<kernels::Kernel> ks;
  ks.push_back(kernels::buildGemm(128, 128, 64, true, 3));
  ks.push_back(kernels::buildGemm(64, 64, 64, false, 5));
  ks.push_back(kernels::buildConv3x3(16, 16, 32, 32, true, 4));
  ks.push_back(kernels::buildConv3x3(16, 16, 32, 32, true, 4, true)); // 16x8
  ks.push_back(kernels::buildConv3x3(8, 8, 64, 32, false,
                                     6)); // channels: multiples of DIM 8-32
  for (const kernels::Kernel &k : ks) {
    ember_npu_device_t *dev = makeDevice(EMBER_NPU_EXECUTOR_RTL, 1 << 20);
    ASSERT_NE(dev, nullptr);
    RunOutput out =
        runProgram(dev, kernels::encodeProgram(k.program), k.dram, false);
    ASSERT_EQ(out.status, EMBER_NPU_STATUS_OK) << k.name << ": " << out.error;
    std::vector<int8_t> got(k.expected.size());
    ember_npu_dram_read(dev, k.outAddr, got.data(), got.size());
    EXPECT_TRUE(got == k.expected) << k.name;
    EXPECT_EQ(out.counters.macs, k.macs) << k.name;
    ember_npu_device_destroy(dev);
  }
}

// A stuck engine (here: a DRAM that stops answering in the middle of a LOAD)
// becomes an error naming the instruction and the engine, and the model runs
// the next program normally.
TEST(RtlWatchdog, StuckEngineIsAnErrorNamingInstructionAndEngine) {
  RtlModel model(false);
  kernels::Kernel k = kernels::buildGemm(64, 64, 32, true, 9);
  std::vector<Word> words = kernels::encodeProgram(k.program);
  std::vector<Insn> decoded;
  std::vector<uint8_t> dram = k.dram;
  dram.resize(1 << 20);
  ASSERT_EQ(checkProgram(words, dram.size(), decoded), "");
  RtlConfig cfg;
  cfg.watchdogCycles = 5000;
  // The engine watchdog, not the run's stall bound (derived from the
  // program: at DIM 8 it comes before 5,000 cycles; StallTest covers it).
  cfg.stallCycles = EMBER_NPU_STALL_OFF;
  cfg.freezeDramAtCycle = 40;
  RtlResult r = model.run(words, decoded, dram.data(), dram.size(), cfg);
  EXPECT_EQ(r.error.rfind("instruction 0: watchdog: load on LOAD made no "
                          "progress for 5000 cycles",
                          0),
            0u)
      << r.error;
  cfg.freezeDramAtCycle = UINT64_MAX;
  r = model.run(words, decoded, dram.data(), dram.size(), cfg);
  EXPECT_EQ(r.error, "");
}

TEST(RtlConfig, RejectsBurstsItsDmaCannotIssue) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  cfg.executor = EMBER_NPU_EXECUTOR_RTL;
  cfg.dram_bytes = 4096;
  ember_npu_device_t *dev = nullptr;
  cfg.dram_burst_bytes = 96; // not a power of two
  EXPECT_EQ(ember_npu_device_create(&cfg, &dev),
            EMBER_NPU_STATUS_INVALID_ARGUMENT);
  cfg.dram_burst_bytes = 8192; // larger than the STORE staging buffer
  EXPECT_EQ(ember_npu_device_create(&cfg, &dev),
            EMBER_NPU_STATUS_INVALID_ARGUMENT);
  cfg.dram_burst_bytes = 64;
  ASSERT_EQ(ember_npu_device_create(&cfg, &dev), EMBER_NPU_STATUS_OK);
  ember_npu_device_destroy(dev);
  // A caller compiled against the first, shorter config struct still creates
  // devices.
  cfg.struct_size = offsetof(ember_npu_config_t, waveform_path);
  ASSERT_EQ(ember_npu_device_create(&cfg, &dev), EMBER_NPU_STATUS_OK);
  ember_npu_device_destroy(dev);
}

} // namespace
} // namespace ember::npu::test

//===- StallTest.cpp - The stall watchdog (driver.h, "Stalls") ------------===//
//
// The derived stall limit (ember/npu/Stall.h) against every correct run the
// tests have: no gap between two retirements of the SystemC model (whose
// cycles are the RTL's, npu.RtlCycleTest) on the directed and random
// programs and the kernels, at several DRAM timings, may exceed it. Planted
// stalls (config options "fault=stall-ENGINE@I") in the SystemC model and,
// when it is built, the RTL end the run within the limit, name the engine
// and say what it and the others wait on. Bad options are refused.
//===----------------------------------------------------------------------===//
#include "ember/npu/Stall.h"
#include "Kernels.h"
#include "NpuTestUtil.h"
#include "ProgramGen.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace ember::npu;
using namespace ember::npu::test;

namespace {

struct Gaps {
  std::vector<uint64_t> cycles;
};
int recordCycle(void *user, const ember_npu_retire_t *r) {
  if (!(r->flags & EMBER_NPU_RETIRE_LATE))
    static_cast<Gaps *>(user)->cycles.push_back(r->cycle);
  return 0;
}

/// The longest stretch of a run without a retirement (from its start).
uint64_t longestGap(std::vector<uint64_t> cycles) {
  std::sort(cycles.begin(), cycles.end());
  uint64_t prev = 0, worst = 0;
  for (uint64_t c : cycles) {
    worst = std::max(worst, c - prev);
    prev = c;
  }
  return worst;
}

ember_npu_device_t *makeTimed(ember_npu_executor_t ex, uint64_t dramBytes,
                              const DramParams &d, const char *options,
                              uint64_t stall = EMBER_NPU_STALL_DERIVED) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  cfg.executor = ex;
  cfg.dram_bytes = dramBytes;
  cfg.dram_bytes_per_cycle = d.bytesPerCycle;
  cfg.dram_latency_cycles = d.latencyCycles;
  cfg.dram_zero_latency = d.latencyCycles == 0;
  cfg.dram_burst_bytes = d.burstBytes;
  cfg.options = options;
  cfg.stall_cycles = stall;
  ember_npu_device_t *dev = nullptr;
  if (ember_npu_device_create(&cfg, &dev) != EMBER_NPU_STATUS_OK)
    return nullptr;
  return dev;
}

/// Runs `program` and checks its longest gap against the derived limit;
/// prints the kernels' (the margin the docs quote).
void expectWithinLimit(ember_npu_device_t *dev, const std::string &name,
                       const std::vector<Insn> &program,
                       const std::vector<uint8_t> &dram, const DramParams &d,
                       bool print = false) {
  Gaps g;
  ember_npu_set_retire_callback(dev, recordCycle, &g);
  RunOutput out = runProgram(dev, encodeAll(program), dram, false);
  ember_npu_set_retire_callback(dev, nullptr, nullptr);
  if (out.status != EMBER_NPU_STATUS_OK) {
    // A program made to fail (a bad POOL geometry, say) fails for its own
    // reason, never as a stall.
    EXPECT_EQ(out.error.find("stall:"), std::string::npos)
        << name << ": " << out.error;
    return;
  }
  const uint64_t limit = defaultStallLimit(program, d);
  if (print)
    std::printf("%s at %u B/cycle, latency %u, burst %u: longest gap %llu, "
                "limit %llu\n",
                name.c_str(), d.bytesPerCycle, d.latencyCycles, d.burstBytes,
                static_cast<unsigned long long>(longestGap(g.cycles)),
                static_cast<unsigned long long>(limit));
  EXPECT_LE(longestGap(g.cycles), limit)
      << name << " at " << d.bytesPerCycle << " B/cycle, latency "
      << d.latencyCycles << ", burst " << d.burstBytes;
  ember_npu_stop_state_t s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  ASSERT_EQ(ember_npu_stop_state(dev, &s), EMBER_NPU_STATUS_OK);
  EXPECT_FALSE(s.stalled) << name;
  EXPECT_EQ(s.fetched, program.size()) << name;
  EXPECT_EQ(s.stall_cycles, limit) << name;
}

TEST(StallTest, DerivedLimitCoversEveryCorrectRun) {
  const std::vector<DramParams> timings = {
      {16, 64, 256}, {4, 1024, 256}, {64, 0, 4096}, {2, 300, 64}};
  for (const DramParams &d : timings) {
    ember_npu_device_t *dev =
        makeTimed(EMBER_NPU_EXECUTOR_SYSTEMC, kTestDramBytes, d, nullptr);
    ASSERT_NE(dev, nullptr);
    for (const TestCase &tc : directedCases())
      expectWithinLimit(dev, tc.name, tc.program, tc.dram, d);
    const GenBias biases[] = {GenBias::None, GenBias::Dma, GenBias::Gemm,
                              GenBias::Vector, GenBias::Hazards};
    for (uint32_t seed = 1; seed <= 40; ++seed) {
      TestCase tc = randomCase(seed, 60, biases[seed % 5]);
      expectWithinLimit(dev, "random " + std::to_string(seed), tc.program,
                        tc.dram, d);
    }
    ember_npu_device_destroy(dev);
  }
  // The kernels: long DMA instructions behind each other's bursts.
  for (const DramParams &d : timings) {
    ember_npu_device_t *dev =
        makeTimed(EMBER_NPU_EXECUTOR_SYSTEMC, 1 << 20, d, nullptr);
    ASSERT_NE(dev, nullptr);
    for (const kernels::Kernel &k :
         {kernels::buildGemm(256, 256, 256, true, 1),
          kernels::buildConv3x3(32, 32, 64, 64, true, 2),
          kernels::buildGemm(64, 256, 128, false, 5)})
      expectWithinLimit(dev, k.name, k.program, k.dram, d, true);
    ember_npu_device_destroy(dev);
  }
}

/// A kernel with a stall planted at instruction `at` of `engine` must stop
/// within the limit of the last retirement and say where every engine was.
void expectPlantedStall(ember_npu_executor_t ex, const char *engine,
                        int engineId, uint32_t expectPhase) {
  kernels::Kernel k = kernels::buildGemm(64, 64, 64, true, 7);
  // The first instruction of that engine after the middle of the program.
  uint64_t at = k.program.size() / 2;
  while (at < k.program.size() &&
         (static_cast<int>(engineOf(k.program[at])) != engineId ||
          k.program[at].op == Opcode::SETREG))
    ++at;
  ASSERT_LT(at, k.program.size());
  const std::string opt =
      std::string("fault=stall-") + engine + "@" + std::to_string(at);
  const DramParams d;
  ember_npu_device_t *dev = makeTimed(ex, 1 << 20, d, opt.c_str());
  ASSERT_NE(dev, nullptr) << opt;
  RunOutput out = runProgram(dev, encodeAll(k.program), k.dram, false);
  EXPECT_EQ(out.status, EMBER_NPU_STATUS_EXEC_ERROR) << opt;
  ember_npu_stop_state_t s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  ASSERT_EQ(ember_npu_stop_state(dev, &s), EMBER_NPU_STATUS_OK);
  ember_npu_device_destroy(dev);
  const uint64_t limit = defaultStallLimit(k.program, d);
  EXPECT_TRUE(s.stalled) << opt;
  EXPECT_EQ(s.stall_cycles, limit);
  EXPECT_GT(s.cycle - s.last_retire_cycle, limit);
  EXPECT_LE(s.cycle - s.last_retire_cycle, limit + 2);
  const ember_npu_engine_state_t &e = s.engines[engineId];
  EXPECT_EQ(e.phase, expectPhase) << opt << ": " << out.error;
  if (engineId == EMBER_NPU_ENGINE_GEMM)
    EXPECT_GE(e.index, at) << opt;
  else
    EXPECT_EQ(e.index, at) << opt;
  EXPECT_EQ(oldestUnretired(s), e.index) << opt << ": " << out.error;
  const std::string want = "instruction " + std::to_string(e.index) +
                           ": stall: " + opcodeName(k.program[e.index].op) +
                           " on " + engineName(static_cast<Engine>(engineId)) +
                           " did not retire";
  EXPECT_EQ(out.error.rfind(want, 0), 0u) << out.error;
  for (const char *part : {"; LOAD: ", "; GEMM: ", "; VECTOR: ", "; STORE: ",
                           "; tokens: ", "; DMA: "})
    EXPECT_NE(out.error.find(part), std::string::npos) << part << out.error;
}

TEST(StallTest, PlantedStallsInTheSystemCModel) {
  expectPlantedStall(EMBER_NPU_EXECUTOR_SYSTEMC, "gemm", EMBER_NPU_ENGINE_GEMM,
                     EMBER_NPU_PHASE_SHADOW);
  expectPlantedStall(EMBER_NPU_EXECUTOR_SYSTEMC, "load", EMBER_NPU_ENGINE_LOAD,
                     EMBER_NPU_PHASE_EXEC);
  expectPlantedStall(EMBER_NPU_EXECUTOR_SYSTEMC, "vector",
                     EMBER_NPU_ENGINE_VECTOR, EMBER_NPU_PHASE_EXEC);
  expectPlantedStall(EMBER_NPU_EXECUTOR_SYSTEMC, "store",
                     EMBER_NPU_ENGINE_STORE, EMBER_NPU_PHASE_EXEC);
}

TEST(StallTest, PlantedStallsInTheRtl) {
  if (ember_npu_device_t *rtl = makeDevice(EMBER_NPU_EXECUTOR_RTL, 4096))
    ember_npu_device_destroy(rtl);
  else
    GTEST_SKIP() << "no RTL executor in this build";
  expectPlantedStall(EMBER_NPU_EXECUTOR_RTL, "gemm", EMBER_NPU_ENGINE_GEMM,
                     EMBER_NPU_PHASE_SHADOW);
  expectPlantedStall(EMBER_NPU_EXECUTOR_RTL, "load", EMBER_NPU_ENGINE_LOAD,
                     EMBER_NPU_PHASE_EXEC);
  expectPlantedStall(EMBER_NPU_EXECUTOR_RTL, "vector", EMBER_NPU_ENGINE_VECTOR,
                     EMBER_NPU_PHASE_EXEC);
  expectPlantedStall(EMBER_NPU_EXECUTOR_RTL, "store", EMBER_NPU_ENGINE_STORE,
                     EMBER_NPU_PHASE_EXEC);
}

TEST(StallTest, AGivenLimitAppliesAndOffTurnsItOff) {
  kernels::Kernel k = kernels::buildGemm(64, 64, 64, true, 8);
  const DramParams d;
  // A limit below the DRAM latency trips on a correct run: the option is the
  // limit, as given.
  ember_npu_device_t *dev =
      makeTimed(EMBER_NPU_EXECUTOR_SYSTEMC, 1 << 20, d, nullptr, 20);
  ASSERT_NE(dev, nullptr);
  RunOutput out = runProgram(dev, encodeAll(k.program), k.dram, false);
  EXPECT_EQ(out.status, EMBER_NPU_STATUS_EXEC_ERROR);
  EXPECT_NE(out.error.find("stall:"), std::string::npos) << out.error;
  EXPECT_NE(out.error.find("the stall limit 20)"), std::string::npos)
      << out.error;
  ember_npu_device_destroy(dev);
  dev = makeTimed(EMBER_NPU_EXECUTOR_SYSTEMC, 1 << 20, d, nullptr,
                  EMBER_NPU_STALL_OFF);
  ASSERT_NE(dev, nullptr);
  out = runProgram(dev, encodeAll(k.program), k.dram, true);
  EXPECT_EQ(out.status, EMBER_NPU_STATUS_OK) << out.error;
  ember_npu_device_destroy(dev);
}

TEST(StallTest, BadOptionsAreRefused) {
  const DramParams d;
  for (const char *bad :
       {"fault=stall-gemm", "fault=stall-alu@3", "fault=stall-load@-1",
        "fault=stall-load@x", "trace=on", "fault=hang-gemm@1"}) {
    EXPECT_EQ(makeTimed(EMBER_NPU_EXECUTOR_SYSTEMC, 4096, d, bad), nullptr)
        << bad;
    EXPECT_NE(std::string(ember_npu_last_load_error()).find(bad),
              std::string::npos)
        << bad << ": " << ember_npu_last_load_error();
  }
  // The golden model runs one instruction at a time: nothing to stall.
  EXPECT_EQ(makeTimed(EMBER_NPU_EXECUTOR_GOLDEN, 4096, d, "fault=stall-gemm@1"),
            nullptr);
  ember_npu_device_t *dev =
      makeTimed(EMBER_NPU_EXECUTOR_GOLDEN, 4096, d, nullptr);
  ASSERT_NE(dev, nullptr);
  ember_npu_stop_state_t s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  EXPECT_EQ(ember_npu_stop_state(dev, &s), EMBER_NPU_STATUS_UNSUPPORTED);
  ember_npu_device_destroy(dev);
}

} // namespace

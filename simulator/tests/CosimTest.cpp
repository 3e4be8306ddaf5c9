//===- CosimTest.cpp - Lockstep comparison and planted bugs ---------------===//
//
// ember/npu/Cosim.h over the driver: the golden model against SystemC and
// the RTL agree at every retirement on directed and random programs (8- and
// 16-bit forms) and the example kernels; a DUT with a planted bug (an
// executor of one's own behind ember_npu_device_create_external that wraps
// the golden model and corrupts one instruction's result, drops a write or
// miscounts: FaultyDut.h, also the library tests/npu/FaultyExecutor.cpp)
// is caught at that instruction, with its bytes.
//
//===----------------------------------------------------------------------===//
#include "ember/npu/Cosim.h"
#include "FaultyDut.h"
#include "Kernels.h"
#include "NpuTestUtil.h"
#include "ProgramGen.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>

namespace ember::npu::test {
namespace {

ember_npu_device_t *load(ember_npu_device_t *d, const TestCase &tc) {
  std::vector<uint8_t> zero(kTestDramBytes, 0);
  ember_npu_dram_write(d, 0, zero.data(), zero.size());
  ember_npu_dram_write(d, 0, tc.dram.data(), tc.dram.size());
  return d;
}

CosimResult cosim(ember_npu_device_t *ref, ember_npu_device_t *dut,
                  const TestCase &tc) {
  CosimResult res;
  std::string err =
      cosimulate(load(ref, tc), load(dut, tc), encodeAll(tc.program), res);
  EXPECT_EQ(err, "");
  return res;
}

std::vector<TestCase> someCases(int randomCount) {
  std::vector<TestCase> cases = directedCases();
  for (int s = 0; s < randomCount; ++s)
    cases.push_back(randomCase(9000 + uint32_t(s), 60));
  // Every bias of `ember-npu gen`, hazards (token FIFOs filled) the most.
  const GenBias biases[] = {GenBias::Dma, GenBias::Gemm, GenBias::Vector,
                            GenBias::Hazards, GenBias::Hazards};
  for (int s = 0; s < randomCount / 3; ++s)
    cases.push_back(randomCase(9500 + uint32_t(s), 150, biases[s % 5]));
  return cases;
}

void expectAgree(ember_npu_executor_t executor, int randomCount) {
  ember_npu_device_t *g = makeDevice(EMBER_NPU_EXECUTOR_GOLDEN, kTestDramBytes);
  ember_npu_device_t *d = makeDevice(executor, kTestDramBytes);
  ASSERT_NE(d, nullptr);
  int n = 0;
  for (const TestCase &tc : someCases(randomCount)) {
    CosimResult r = cosim(g, d, tc);
    EXPECT_TRUE(r.agree) << tc.name << ":\n"
                         << formatDivergence(r.first, encodeAll(tc.program))
                         << r.refError << " / " << r.dutError;
    EXPECT_EQ(r.compared, r.retired) << tc.name;
    ++n;
  }
  EXPECT_GT(n, 100);
  ember_npu_device_destroy(g);
  ember_npu_device_destroy(d);
}

TEST(Cosim, GoldenAgreesWithSystemCAtEveryRetirement) {
  expectAgree(EMBER_NPU_EXECUTOR_SYSTEMC, 60);
}

#if EMBER_NPU_TEST_RTL
TEST(Cosim, GoldenAgreesWithRtlAtEveryRetirement) {
  expectAgree(EMBER_NPU_EXECUTOR_RTL, 60);
}

TEST(Cosim, RtlWritesAWaveformWindow) {
  ember_npu_device_t *d = makeDevice(EMBER_NPU_EXECUTOR_RTL, kTestDramBytes);
  std::string path = ::testing::TempDir() + "cosim_window.fst";
  std::remove(path.c_str());
  ember_npu_status_t st =
      ember_npu_set_waveform_window(d, path.c_str(), 100, 300);
  if (st == EMBER_NPU_STATUS_UNSUPPORTED) {
    ember_npu_device_destroy(d);
    GTEST_SKIP() << "a build without waveform support";
  }
  ASSERT_EQ(st, EMBER_NPU_STATUS_OK);
  TestCase tc = randomCase(4242, 80);
  RunOutput r = runProgram(d, encodeAll(tc.program), tc.dram);
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
  std::FILE *f = std::fopen(path.c_str(), "rb");
  ASSERT_NE(f, nullptr);
  std::fseek(f, 0, SEEK_END);
  EXPECT_GT(std::ftell(f), 100);
  std::fclose(f);
  ember_npu_set_waveform_window(d, nullptr, 0, 0);
  ember_npu_device_destroy(d);
}
#endif

TEST(Cosim, PlantedBugsAreNamedAtTheirInstruction) {
  ember_npu_device_t *g = makeDevice(EMBER_NPU_EXECUTOR_GOLDEN, kTestDramBytes);
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  cfg.dram_bytes = kTestDramBytes;
  int caught = 0, planted = 0;
  // Twelve victims, from as many seeds as it takes (a program whose later
  // two thirds hold none of the victims' opcodes is skipped), the three
  // fault modes in turn.
  for (uint32_t seed = 0; seed < 64 && planted < 12; ++seed) {
    TestCase tc = randomCase(7100 + seed, 50);
    // A victim that writes something: the golden model's own records say.
    // Not a REQUANT through the output table: the table may still be all
    // zeros, and a dropped write of zeros over zeros is no divergence.
    std::vector<Insn> &p = tc.program;
    uint64_t victim = p.size();
    for (uint64_t i = p.size() / 3; i < p.size() && victim == p.size(); ++i)
      if (p[i].op == Opcode::GEMM ||
          (p[i].op == Opcode::REQUANT && !p[i].lut) || p[i].op == Opcode::LOAD)
        victim = i;
    if (victim == p.size())
      continue;
    const char modes[] = {'f', 'd', 'c'}, mode = modes[planted % 3];
    char opt[32];
    std::snprintf(opt, sizeof opt, "%c%llu", mode,
                  static_cast<unsigned long long>(victim));
    ember_npu_device_t *dut = nullptr;
    ASSERT_EQ(ember_npu_device_create_external(&cfg, faulty::ops(), opt, &dut),
              EMBER_NPU_STATUS_OK)
        << ember_npu_last_load_error();
    CosimResult r = cosim(g, dut, tc);
    ++planted;
    if (!r.agree && r.first.index == victim)
      ++caught;
    EXPECT_FALSE(r.agree) << tc.name << " mode " << opt;
    EXPECT_EQ(r.first.index, victim) << tc.name << " mode " << opt;
    if (mode == 'f') {
      ASSERT_EQ(r.first.bytes.size(), 1u);
      EXPECT_EQ(r.first.bytes[0].ref ^ r.first.bytes[0].dut, 0x40);
    }
    if (mode == 'c') {
      EXPECT_EQ(r.first.dutCounts[0], r.first.refCounts[0] + 1);
    }
    std::string text = formatDivergence(r.first, encodeAll(tc.program));
    EXPECT_NE(text.find("instruction " + std::to_string(victim) + ": " +
                        opcodeName(p[victim].op)),
              std::string::npos)
        << text;
    ember_npu_device_destroy(dut);
  }
  EXPECT_EQ(planted, 12);
  EXPECT_EQ(caught, planted);
  ember_npu_device_destroy(g);
}

TEST(Cosim, LibraryExecutorsThatCannotLoadAreNamed) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  ember_npu_device_t *d = nullptr;
  EXPECT_EQ(ember_npu_device_open_library(&cfg, "/nonexistent/dut.so", "", &d),
            EMBER_NPU_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(
      std::string(ember_npu_last_load_error()).find("/nonexistent/dut.so"),
      std::string::npos);
  ember_npu_executor_ops_t bad;
  std::memset(&bad, 0, sizeof bad);
  bad.struct_size = sizeof bad;
  bad.abi_version = 99;
  EXPECT_EQ(ember_npu_device_create_external(&cfg, &bad, "", &d),
            EMBER_NPU_STATUS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(ember_npu_last_load_error()).find("ABI version"),
            std::string::npos);
}

} // namespace
} // namespace ember::npu::test

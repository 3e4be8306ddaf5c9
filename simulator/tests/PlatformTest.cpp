//===- PlatformTest.cpp - SystemC cores on one DRAM (driver.h jobs) -----===//
//
// A platform device runs jobs on its cores at the same time: results are the
// single core's, bit for bit; a core alone takes the single core's cycles;
// cores that stream DRAM at once contend for the shared channel (slower when
// it is no wider than one core's port); a core's jobs run in order, back to
// back; a deadlock or a bad program fails its job only.
#include "Kernels.h"
#include "NpuTestUtil.h"

#include <gtest/gtest.h>

#include <cstring>

using namespace ember::npu;
using namespace ember::npu::test;

namespace {

struct Job {
  ember_npu_job_t *job = nullptr;
  std::vector<uint8_t> words, out;
  std::vector<ember_npu_copy_t> writes, reads;
  ember_npu_job_desc_t desc;
};

ember_npu_device_t *makePlatform(uint32_t cores, uint64_t window,
                                 uint32_t sharedBytesPerCycle) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  cfg.executor = EMBER_NPU_EXECUTOR_SYSTEMC;
  cfg.cores = cores;
  cfg.dram_bytes = window;
  cfg.shared_dram_bytes_per_cycle = sharedBytesPerCycle;
  ember_npu_device_t *d = nullptr;
  EXPECT_EQ(ember_npu_device_create(&cfg, &d), EMBER_NPU_STATUS_OK);
  return d;
}

// Kernel `k` on `core` as a job: its DRAM image in, its output out.
std::unique_ptr<Job> prepare(unsigned core, const kernels::Kernel &k,
                             const std::vector<Insn> *program = nullptr,
                             uint64_t key = 0) {
  auto j = std::make_unique<Job>();
  std::vector<Word> w = kernels::encodeProgram(program ? *program : k.program);
  j->words.resize(w.size() * 16);
  for (size_t i = 0; i < w.size(); ++i) {
    std::memcpy(&j->words[16 * i], &w[i].lo, 8);
    std::memcpy(&j->words[16 * i + 8], &w[i].hi, 8);
  }
  j->out.assign(k.expected.size(), 0);
  j->writes.push_back(
      {0, const_cast<uint8_t *>(k.dram.data()), k.dram.size(), key});
  j->reads.push_back({k.outAddr, j->out.data(), j->out.size(), 0});
  std::memset(&j->desc, 0, sizeof j->desc);
  j->desc.struct_size = sizeof j->desc;
  j->desc.core = core;
  j->desc.insns = j->words.data();
  j->desc.count = w.size();
  j->desc.writes = j->writes.data();
  j->desc.num_writes = j->writes.size();
  j->desc.reads = j->reads.data();
  j->desc.num_reads = j->reads.size();
  return j;
}

std::unique_ptr<Job> submit(ember_npu_device_t *d, unsigned core,
                            const kernels::Kernel &k,
                            const std::vector<Insn> *program = nullptr,
                            uint64_t key = 0) {
  auto j = prepare(core, k, program, key);
  EXPECT_EQ(ember_npu_job_submit(d, &j->desc, &j->job), EMBER_NPU_STATUS_OK);
  return j;
}

ember_npu_job_info_t infoOf(ember_npu_job_t *j) {
  ember_npu_job_info_t info;
  std::memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  info.counters.struct_size = sizeof info.counters;
  EXPECT_EQ(ember_npu_job_info(j, &info), EMBER_NPU_STATUS_OK);
  return info;
}

bool sameBytes(const std::vector<uint8_t> &a, const std::vector<int8_t> &b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

// A DMA-heavy kernel: a GEMM whose weights stream once per output tile.
const kernels::Kernel &streaming() {
  static const kernels::Kernel k = kernels::buildGemm(16, 512, 512, true, 7);
  return k;
}

uint64_t singleCoreCycles(const kernels::Kernel &k) {
  ember_npu_device_t *d = makeDevice(EMBER_NPU_EXECUTOR_SYSTEMC, 1 << 22);
  RunOutput r = runProgram(d, kernels::encodeProgram(k.program), k.dram);
  ember_npu_device_destroy(d);
  EXPECT_EQ(r.status, EMBER_NPU_STATUS_OK) << r.error;
  return r.counters.cycles;
}

TEST(Platform, ACoreAloneTakesTheSingleCoresCycles) {
  const kernels::Kernel &k = streaming();
  uint64_t single = singleCoreCycles(k);
  ember_npu_device_t *d = makePlatform(2, 1 << 22, 0);
  auto j = submit(d, 1, k);
  ASSERT_EQ(ember_npu_job_wait(j->job, UINT64_MAX), EMBER_NPU_STATUS_OK)
      << ember_npu_job_error(j->job);
  EXPECT_TRUE(sameBytes(j->out, k.expected));
  EXPECT_EQ(infoOf(j->job).counters.cycles, single);
  ember_npu_job_release(j->job);
  ember_npu_device_destroy(d);
}

TEST(Platform, CoresRunAtOnceAndContendForTheSharedChannel) {
  const kernels::Kernel &k = streaming();
  uint64_t single = singleCoreCycles(k);
  // A channel as wide as one core's port: two streaming cores slow down; a
  // channel twice as wide serves both (nearly) at full speed.
  for (uint32_t bw : {16u, 32u}) {
    ember_npu_device_t *d = makePlatform(2, 1 << 22, bw);
    auto a = prepare(0, k), b = prepare(1, k);
    ember_npu_job_desc_t descs[] = {a->desc, b->desc};
    ember_npu_job_t *jobs[2] = {nullptr, nullptr};
    ASSERT_EQ(ember_npu_job_submit_all(d, descs, 2, jobs), EMBER_NPU_STATUS_OK);
    a->job = jobs[0];
    b->job = jobs[1];
    ASSERT_EQ(ember_npu_job_wait(a->job, UINT64_MAX), EMBER_NPU_STATUS_OK);
    ASSERT_EQ(ember_npu_job_wait(b->job, UINT64_MAX), EMBER_NPU_STATUS_OK);
    EXPECT_TRUE(sameBytes(a->out, k.expected));
    EXPECT_TRUE(sameBytes(b->out, k.expected));
    ember_npu_job_info_t ia = infoOf(a->job), ib = infoOf(b->job);
    // Queued together: they started together.
    EXPECT_EQ(ia.start_cycle, ib.start_cycle);
    uint64_t slower = std::max(ia.counters.cycles, ib.counters.cycles);
    if (bw == 16)
      EXPECT_GT(double(slower), 1.2 * double(single))
          << "single " << single << ", together " << ia.counters.cycles
          << " and " << ib.counters.cycles;
    else
      EXPECT_LT(double(slower), 1.1 * double(single))
          << "single " << single << ", together " << ia.counters.cycles
          << " and " << ib.counters.cycles;
    ember_npu_job_release(a->job);
    ember_npu_job_release(b->job);
    ember_npu_device_destroy(d);
  }
}

TEST(Platform, ACoresJobsRunInOrderBackToBack) {
  const kernels::Kernel &k = streaming();
  ember_npu_device_t *d = makePlatform(2, 1 << 22, 0);
  std::vector<std::unique_ptr<Job>> jobs;
  for (int i = 0; i < 3; ++i)
    jobs.push_back(submit(d, 0, k, nullptr, /*key=*/42));
  uint64_t prevEnd = 0;
  for (auto &j : jobs) {
    ASSERT_EQ(ember_npu_job_wait(j->job, UINT64_MAX), EMBER_NPU_STATUS_OK);
    EXPECT_TRUE(sameBytes(j->out, k.expected));
    ember_npu_job_info_t info = infoOf(j->job);
    EXPECT_EQ(info.core, 0u);
    if (prevEnd) {
      EXPECT_EQ(info.start_cycle, prevEnd);
    }
    prevEnd = info.end_cycle;
    ember_npu_job_release(j->job);
  }
  ember_npu_device_destroy(d);
}

TEST(Platform, AFailingJobFailsAloneAndItsCoreRecovers) {
  const kernels::Kernel &k = streaming();
  ember_npu_device_t *d = makePlatform(2, 1 << 22, 0);
  // Core 1: its first GEMM waits for a token nobody gives, while core 0
  // keeps the kernel busy; then a program without FINISH.
  std::vector<Insn> stuck = k.program;
  for (Insn &i : stuck)
    if (i.op == Opcode::GEMM) {
      i.wait |= 1u << EMBER_NPU_TOKEN_CHANNEL(EMBER_NPU_ENGINE_VECTOR,
                                              EMBER_NPU_ENGINE_GEMM);
      break;
    }
  std::vector<Insn> unfinished(k.program.begin(), k.program.end() - 1);
  auto a = submit(d, 0, k), b = submit(d, 1, k, &stuck),
       c = submit(d, 1, k, &unfinished), e = submit(d, 1, k);
  EXPECT_EQ(ember_npu_job_wait(b->job, UINT64_MAX),
            EMBER_NPU_STATUS_EXEC_ERROR);
  EXPECT_NE(std::string(ember_npu_job_error(b->job)).find("deadlock: gemm"),
            std::string::npos)
      << ember_npu_job_error(b->job);
  EXPECT_EQ(ember_npu_job_wait(c->job, UINT64_MAX),
            EMBER_NPU_STATUS_BAD_PROGRAM);
  EXPECT_NE(std::string(ember_npu_job_error(c->job)).find("finish"),
            std::string::npos)
      << ember_npu_job_error(c->job);
  ASSERT_EQ(ember_npu_job_wait(a->job, UINT64_MAX), EMBER_NPU_STATUS_OK);
  ASSERT_EQ(ember_npu_job_wait(e->job, UINT64_MAX), EMBER_NPU_STATUS_OK)
      << ember_npu_job_error(e->job);
  EXPECT_TRUE(sameBytes(a->out, k.expected));
  EXPECT_TRUE(sameBytes(e->out, k.expected));
  for (auto *j : {&a, &b, &c, &e})
    ember_npu_job_release((*j)->job);
  ember_npu_device_destroy(d);
}

TEST(Platform, RefusesWhatItCannotRun) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  ember_npu_device_t *d = nullptr;
  cfg.cores = EMBER_NPU_PLATFORM_CORES + 1;
  EXPECT_EQ(ember_npu_device_create(&cfg, &d),
            EMBER_NPU_STATUS_INVALID_ARGUMENT);
  cfg.cores = 2;
  cfg.executor = EMBER_NPU_EXECUTOR_GOLDEN;
  EXPECT_EQ(ember_npu_device_create(&cfg, &d), EMBER_NPU_STATUS_UNSUPPORTED);
  d = makePlatform(2, 1 << 20, 0);
  ember_npu_device_info_t info;
  std::memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  ASSERT_EQ(ember_npu_device_query(d, &info), EMBER_NPU_STATUS_OK);
  EXPECT_EQ(info.cores, 2u);
  EXPECT_EQ(info.core_dram_bytes, 1u << 20);
  EXPECT_EQ(info.dram_bytes, 2u << 20);
  EXPECT_EQ(info.clock_hz, EMBER_NPU_PLATFORM_CLOCK_HZ);
  // A second SystemC device while the platform holds the kernel.
  cfg.executor = EMBER_NPU_EXECUTOR_SYSTEMC;
  ember_npu_device_t *other = nullptr;
  EXPECT_EQ(ember_npu_device_create(&cfg, &other), EMBER_NPU_STATUS_BUSY);
  uint8_t byte = 1;
  ember_npu_copy_t outside{(1 << 20) - 1, &byte, 2, 0};
  ember_npu_job_desc_t jd;
  std::memset(&jd, 0, sizeof jd);
  jd.struct_size = sizeof jd;
  jd.writes = &outside;
  jd.num_writes = 1;
  ember_npu_job_t *j = nullptr;
  EXPECT_EQ(ember_npu_job_submit(d, &jd, &j),
            EMBER_NPU_STATUS_INVALID_ARGUMENT);
  jd.num_writes = 0;
  jd.core = 2;
  EXPECT_EQ(ember_npu_job_submit(d, &jd, &j),
            EMBER_NPU_STATUS_INVALID_ARGUMENT);
  ember_npu_device_destroy(d);
}

} // namespace

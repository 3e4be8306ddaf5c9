//===- NpuBench.cpp - figures for docs/npu-performance.md -----------------===//
//
// Runs the example kernels on the SystemC model through driver.h and prints
// cycles, MAC utilization, overlap, DMA bytes and simulation speed (best of N
// runs, tracing off), plus a DRAM bandwidth sweep. With --trace-dir DIR it also
// writes Chrome traces for the plot script.
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"
#include "ember/npu/driver.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

using namespace ember::npu;

namespace {

struct Result {
  ember_npu_counters_t c;
  double bestSeconds;
  bool correct;
};

Result run(const kernels::Kernel &k, uint32_t bw, uint32_t latency, int reps,
           const char *trace = nullptr) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  cfg.executor = EMBER_NPU_EXECUTOR_SYSTEMC;
  cfg.dram_bytes = 1 << 20;
  cfg.dram_bytes_per_cycle = bw;
  cfg.dram_latency_cycles = latency;
  cfg.dram_zero_latency = latency == 0;
  cfg.trace_path = trace;
  ember_npu_device_t *dev = nullptr;
  Result r{};
  if (ember_npu_device_create(&cfg, &dev) != EMBER_NPU_STATUS_OK)
    return r;
  std::vector<Word> words = kernels::encodeProgram(k.program);
  r.bestSeconds = 1e30;
  for (int i = 0; i < reps; ++i) {
    ember_npu_dram_write(dev, 0, k.dram.data(), k.dram.size());
    ember_npu_program_load(dev, words.data(), words.size());
    auto t0 = std::chrono::steady_clock::now();
    if (ember_npu_run(dev) != EMBER_NPU_STATUS_OK) {
      std::fprintf(stderr, "error: %s (%s)\n", ember_npu_device_last_error(dev),
                   k.name.c_str());
      break;
    }
    double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    r.bestSeconds = std::min(r.bestSeconds, s);
  }
  std::vector<int8_t> out(k.expected.size());
  ember_npu_dram_read(dev, k.outAddr, out.data(), out.size());
  r.correct = out == k.expected;
  r.c.struct_size = sizeof r.c;
  ember_npu_counters_read(dev, &r.c);
  ember_npu_device_destroy(dev);
  return r;
}

double util(const ember_npu_counters_t &c) {
  return double(c.macs) /
         (double(EMBER_NPU_DIM) * EMBER_NPU_DIM * double(c.cycles));
}

} // namespace

int main(int argc, char **argv) {
  std::string traceDir;
  int reps = 10;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--trace-dir") && i + 1 < argc)
      traceDir = argv[++i];
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = std::atoi(argv[++i]);
  }
  std::printf("DIM=%d, DRAM default latency %d cycles, burst %d bytes\n\n",
              EMBER_NPU_DIM, EMBER_NPU_DRAM_LATENCY_CYCLES_DEFAULT,
              EMBER_NPU_DRAM_BURST_BYTES_DEFAULT);
  std::printf("| kernel | buffering | cycles | MAC util | overlap (LOAD under "
              "GEMM) | DMA bytes | "
              "GEMM busy | LOAD busy | STORE busy | correct | sim cycles/s "
              "(best of %d) |\n",
              reps);
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (int kind = 0; kind < 2; ++kind) {
    for (int db = 1; db >= 0; --db) {
      kernels::Kernel k = kind == 0
                              ? kernels::buildGemm(256, 256, 256, db, 1)
                              : kernels::buildConv3x3(32, 32, 64, 64, db, 2);
      Result r = run(k, 16, EMBER_NPU_DRAM_LATENCY_CYCLES_DEFAULT, reps);
      std::printf(
          "| %s | %s | %" PRIu64 " | %.3f | %.3f | %" PRIu64 " | %" PRIu64
          " | %" PRIu64 " | %" PRIu64 " | %s | %.1fM |\n",
          k.name.c_str(), db ? "double" : "serialized", r.c.cycles, util(r.c),
          r.c.load_busy ? double(r.c.overlap) / double(r.c.load_busy) : 0.0,
          r.c.load_bytes + r.c.store_bytes, r.c.gemm_busy, r.c.load_busy,
          r.c.store_busy, r.correct ? "yes" : "NO",
          double(r.c.cycles) / r.bestSeconds / 1e6);
      if (!traceDir.empty() && db) {
        std::string path = traceDir + "/" + k.name + ".trace.json";
        run(k, 16, EMBER_NPU_DRAM_LATENCY_CYCLES_DEFAULT, 1, path.c_str());
      }
    }
  }
  std::printf("\nDRAM bandwidth sweep (double-buffered, latency %d):\n\n",
              EMBER_NPU_DRAM_LATENCY_CYCLES_DEFAULT);
  std::printf("| bytes/cycle | GEMM cycles | GEMM MAC util | conv cycles | "
              "conv MAC util |\n");
  std::printf("|---|---|---|---|---|\n");
  kernels::Kernel g = kernels::buildGemm(256, 256, 256, true, 1);
  kernels::Kernel cv = kernels::buildConv3x3(32, 32, 64, 64, true, 2);
  for (uint32_t bw : {2u, 4u, 8u, 16u, 32u, 64u}) {
    Result a = run(g, bw, EMBER_NPU_DRAM_LATENCY_CYCLES_DEFAULT, 1);
    Result b = run(cv, bw, EMBER_NPU_DRAM_LATENCY_CYCLES_DEFAULT, 1);
    std::printf("| %u | %" PRIu64 " | %.3f | %" PRIu64 " | %.3f |\n", bw,
                a.c.cycles, util(a.c), b.c.cycles, util(b.c));
  }
  std::printf("\nDRAM latency sweep (double-buffered, 16 bytes/cycle):\n\n");
  std::printf("| latency (cycles) | GEMM cycles | GEMM MAC util | conv cycles "
              "| conv MAC util |\n");
  std::printf("|---|---|---|---|---|\n");
  for (uint32_t lat : {0u, 64u, 256u, 1024u}) {
    Result a = run(g, 16, lat, 1);
    Result b = run(cv, 16, lat, 1);
    std::printf("| %u | %" PRIu64 " | %.3f | %" PRIu64 " | %.3f |\n", lat,
                a.c.cycles, util(a.c), b.c.cycles, util(b.c));
  }
  return 0;
}

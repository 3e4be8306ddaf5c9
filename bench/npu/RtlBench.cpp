//===- RtlBench.cpp - simulation speed of the NPU RTL ---------------------===//
//
// Simulation speed of the NPU RTL under Verilator. Runs the example kernels on
// the RTL executor (tracing off, one thread) and prints simulated cycles per
// second, from wall time and from the process's CPU time (the machine is
// shared: CPU time is what the model costs, wall time what a user waits),
// against the SystemC model in the same run. Goal (docs/npu-rtl.md, "Simulation
// speed and build cost"): >= 300 k cycles/s at DIM 16. With --fst DIR it also
// times one run with an FST waveform.
//===----------------------------------------------------------------------===//
#include "Kernels.h"
#include "ember/npu/driver.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

using namespace ember::npu;

namespace {

double cpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

struct Speed {
  uint64_t cycles = 0;
  double wall = 0, cpu = 0; // median seconds per run
  bool ok = false;
};

Speed measure(ember_npu_executor_t ex, const kernels::Kernel &k, int reps,
              const char *waveform = nullptr) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  cfg.executor = ex;
  cfg.dram_bytes = 1 << 20;
  cfg.waveform_path = waveform;
  ember_npu_device_t *dev = nullptr;
  Speed s;
  if (ember_npu_device_create(&cfg, &dev) != EMBER_NPU_STATUS_OK)
    return s;
  std::vector<Word> words = kernels::encodeProgram(k.program);
  std::vector<double> walls, cpus;
  for (int r = 0; r < reps; ++r) {
    ember_npu_dram_write(dev, 0, k.dram.data(), k.dram.size());
    ember_npu_program_load(dev, words.data(), words.size());
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpuSeconds();
    if (ember_npu_run(dev) != EMBER_NPU_STATUS_OK) {
      std::fprintf(stderr, "error: %s (%s)\n", ember_npu_device_last_error(dev),
                   k.name.c_str());
      ember_npu_device_destroy(dev);
      return s;
    }
    cpus.push_back(cpuSeconds() - c0);
    walls.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count());
  }
  std::vector<int8_t> out(k.expected.size());
  ember_npu_dram_read(dev, k.outAddr, out.data(), out.size());
  ember_npu_counters_t c;
  c.struct_size = sizeof c;
  ember_npu_counters_read(dev, &c);
  ember_npu_device_destroy(dev);
  std::sort(walls.begin(), walls.end());
  std::sort(cpus.begin(), cpus.end());
  s.cycles = c.cycles;
  s.wall = walls[walls.size() / 2];
  s.cpu = cpus[cpus.size() / 2];
  s.ok = out == k.expected;
  return s;
}

} // namespace

int main(int argc, char **argv) {
  int reps = 5;
  std::string fstDir;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--fst") && i + 1 < argc)
      fstDir = argv[++i];
  }
  std::vector<kernels::Kernel> ks = {
      kernels::buildGemm(256, 256, 256, true, 1),
      kernels::buildConv3x3(32, 32, 64, 64, true, 2)};
  std::printf("DIM=%d, %d runs each, medians; M = million simulated cycles per "
              "second\n\n",
              EMBER_NPU_DIM, reps);
  std::printf("| kernel | cycles (RTL) | RTL cycles/s (CPU) | RTL cycles/s "
              "(wall) | SystemC "
              "cycles/s (CPU) | SystemC / RTL | correct "
              "|\n|---|---|---|---|---|---|---|\n");
  for (const kernels::Kernel &k : ks) {
    Speed r = measure(EMBER_NPU_EXECUTOR_RTL, k, reps);
    Speed s = measure(EMBER_NPU_EXECUTOR_SYSTEMC, k, reps);
    if (!r.ok || !s.ok) {
      std::fprintf(stderr,
                   "error: %s did not run correctly (rtl %d, systemc %d)\n",
                   k.name.c_str(), r.ok, s.ok);
      return 1;
    }
    double rc = double(r.cycles) / r.cpu, rw = double(r.cycles) / r.wall;
    double sc = double(s.cycles) / s.cpu;
    std::printf("| %s | %llu | %.3f M | %.3f M | %.1f M | %.0fx | yes |\n",
                k.name.c_str(), static_cast<unsigned long long>(r.cycles),
                rc / 1e6, rw / 1e6, sc / 1e6, sc / rc);
  }
  if (!fstDir.empty()) {
    std::string path = fstDir + "/" + ks[0].name + ".fst";
    Speed w = measure(EMBER_NPU_EXECUTOR_RTL, ks[0], 1, path.c_str());
    if (w.ok)
      std::printf("\nwith an FST waveform (%s): %.3f M cycles/s (CPU)\n",
                  path.c_str(), double(w.cycles) / w.cpu / 1e6);
    else
      std::printf("\nno waveform support in this build\n");
  }
  return 0;
}

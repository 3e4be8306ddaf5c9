//===- RtlBench.cpp - simulation speed of the NPU RTL and SystemC model ---===//
//
// Simulation speed of the NPU's two timed executors on the example kernels
// (the 256^3 GEMM and the 3x3 convolution, tracing off, one thread): the RTL
// under Verilator and the SystemC model. After one untimed run (the SystemC
// model elaborates in the first), for each run it takes the wall time,
// the process's CPU time (user + sys: what the model costs on a shared
// machine) and, where the kernel lets a process count its own instructions
// (perf_event_open, user space only), the instructions retired per simulated
// cycle, which does not depend on the machine's load. It prints the median of
// each over --reps runs beside the rates before (kBefore below: the last
// commit that met the goals, the regressed one and the one before the array's
// rework) and the goals
// (docs/npu-rtl.md, "Simulation speed"; docs/npu-performance.md).
//
//   npu-rtl-bench [--reps N] [--executor rtl,systemc] [--kernel gemm,conv]
//                 [--fst DIR] [--raw]
//
// --raw prints one line per measurement (`raw EXECUTOR KERNEL cycles cpu_s
// wall_s insns`) for bench/npu/sim_speed.py, which runs two builds'
// benchmarks interleaved. With --fst DIR it also times one RTL run with an
// FST waveform.
//===----------------------------------------------------------------------===//
#include "Kernels.h"
#include "ember/npu/driver.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <linux/perf_event.h>
#include <string>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <vector>

using namespace ember::npu;

namespace {

double cpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

/// The user-space instructions this thread retires, from the CPU's counter
/// (-1 when the kernel does not allow it: a container, perf_event_paranoid 3).
class InsnCounter {
public:
  InsnCounter() {
    perf_event_attr a;
    std::memset(&a, 0, sizeof a);
    a.size = sizeof a;
    a.type = PERF_TYPE_HARDWARE;
    a.config = PERF_COUNT_HW_INSTRUCTIONS;
    a.exclude_kernel = 1;
    a.exclude_hv = 1;
    fd_ = static_cast<int>(syscall(SYS_perf_event_open, &a, 0, -1, -1, 0));
  }
  ~InsnCounter() {
    if (fd_ >= 0)
      close(fd_);
  }
  int64_t read() const {
    uint64_t v = 0;
    if (fd_ < 0 || ::read(fd_, &v, sizeof v) != sizeof v)
      return -1;
    return static_cast<int64_t>(v);
  }

private:
  int fd_ = -1;
};

struct Speed {
  uint64_t cycles = 0;
  std::vector<double> wall, cpu, insns; // per run
  bool ok = false;
};

double median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

Speed measure(ember_npu_executor_t ex, const kernels::Kernel &k, int reps,
              const InsnCounter &counter, const char *waveform = nullptr) {
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
  // One run first, not timed: the SystemC model elaborates in its first run
  // of the process, and the first run of either touches its memory first.
  for (int r = -1; r < reps; ++r) {
    ember_npu_dram_write(dev, 0, k.dram.data(), k.dram.size());
    ember_npu_program_load(dev, words.data(), words.size());
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpuSeconds();
    int64_t i0 = counter.read();
    if (ember_npu_run(dev) != EMBER_NPU_STATUS_OK) {
      std::fprintf(stderr, "error: %s (%s)\n", ember_npu_device_last_error(dev),
                   k.name.c_str());
      ember_npu_device_destroy(dev);
      return s;
    }
    int64_t i1 = counter.read();
    if (r < 0)
      continue;
    s.cpu.push_back(cpuSeconds() - c0);
    s.wall.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count());
    if (i0 >= 0 && i1 >= i0)
      s.insns.push_back(double(i1 - i0));
  }
  std::vector<int8_t> out(k.expected.size());
  ember_npu_dram_read(dev, k.outAddr, out.data(), out.size());
  ember_npu_counters_t c;
  c.struct_size = sizeof c;
  ember_npu_counters_read(dev, &c);
  ember_npu_device_destroy(dev);
  s.cycles = c.cycles;
  s.ok = out == k.expected;
  return s;
}

/// The figures before: fc73077, the last table that met both goals (spec
/// version 3, before version 4's exact VADD and version 5's 16x8 array;
/// docs/npu-rtl.md's history in docs/changelog/npu-rtl.md), 49eddf8, the
/// commit before the simulators were made faster again, and d1ddd13, the
/// datapath enables before the array's offset-binary operands and shared
/// delay lines, all at DIM 16: median CPU-time rates (M cycles/s) with this
/// program (docs/npu-rtl.md and docs/npu-performance.md, "Simulation speed",
/// and their changelogs). All were measured on a loaded machine, 49eddf8's and
/// d1ddd13's interleaved with a newer build's by bench/npu/sim_speed.py; a rate
/// depends on the machine and its load, so compare builds side by side with
/// sim_speed.py.
struct Before {
  const char *executor, *kernel;
  double goodMcps, lastMcps, prevMcps;
};
constexpr Before kBefore[] = {
    {"rtl", "gemm", 0.38, 0.102, 0.273},
    {"rtl", "conv", 0.52, 0.094, 0.284},
    {"systemc", "gemm", 34.4, 22.8, 35.0},
    {"systemc", "conv", 55.9, 30.3, 57.4},
};
constexpr const char *kGoodCommit = "fc73077", *kLastCommit = "49eddf8",
                     *kPrevCommit = "d1ddd13";

const Before *beforeOf(const std::string &ex, const std::string &kernel) {
  if (EMBER_NPU_DIM != 16)
    return nullptr;
  for (const Before &b : kBefore)
    if (ex == b.executor && kernel == b.kernel)
      return &b;
  return nullptr;
}

bool listHas(const std::string &list, const std::string &item) {
  return ("," + list + ",").find("," + item + ",") != std::string::npos;
}

} // namespace

int main(int argc, char **argv) {
  int reps = 5;
  std::string fstDir, executors = "rtl,systemc", kernelList = "gemm,conv";
  bool raw = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = std::max(1, std::atoi(argv[++i]));
    else if (!std::strcmp(argv[i], "--fst") && i + 1 < argc)
      fstDir = argv[++i];
    else if (!std::strcmp(argv[i], "--executor") && i + 1 < argc)
      executors = argv[++i];
    else if (!std::strcmp(argv[i], "--kernel") && i + 1 < argc)
      kernelList = argv[++i];
    else if (!std::strcmp(argv[i], "--raw"))
      raw = true;
    else {
      std::fprintf(stderr,
                   "usage: %s [--reps N] [--executor rtl,systemc] "
                   "[--kernel gemm,conv] [--fst DIR] [--raw]\n",
                   argv[0]);
      return 2;
    }
  }
  struct Job {
    std::string kernel;
    kernels::Kernel k;
  };
  std::vector<Job> ks;
  if (listHas(kernelList, "gemm"))
    ks.push_back({"gemm", kernels::buildGemm(256, 256, 256, true, 1)});
  if (listHas(kernelList, "conv"))
    ks.push_back({"conv", kernels::buildConv3x3(32, 32, 64, 64, true, 2)});
  struct Ex {
    const char *name;
    ember_npu_executor_t ex;
  };
  std::vector<Ex> exs;
  for (Ex e : {Ex{"rtl", EMBER_NPU_EXECUTOR_RTL},
               Ex{"systemc", EMBER_NPU_EXECUTOR_SYSTEMC}})
    if (listHas(executors, e.name))
      exs.push_back(e);
  InsnCounter counter;
  if (!raw) {
    std::printf("DIM=%d, %d runs each, medians; M = million simulated cycles "
                "per second of CPU time (user + sys); insns/cycle = "
                "user-space instructions per simulated cycle; before: the "
                "CPU-time rates of %s (goals met), %s (regressed) and %s "
                "(DIM 16)\n\n",
                EMBER_NPU_DIM, reps, kGoodCommit, kLastCommit, kPrevCommit);
    std::printf("| executor | kernel | cycles | cycles/s (CPU) | %s | %s | %s "
                "| cycles/s (wall) | insns/cycle | goal | correct "
                "|\n|---|---|---|---|---|---|---|---|---|---|---|\n",
                kGoodCommit, kLastCommit, kPrevCommit);
  }
  for (const Job &j : ks) {
    for (const Ex &e : exs) {
      Speed s = measure(e.ex, j.k, reps, counter);
      if (!s.ok) {
        std::fprintf(stderr, "error: %s did not run correctly on %s\n",
                     j.k.name.c_str(), e.name);
        return 1;
      }
      if (raw) {
        for (size_t r = 0; r < s.cpu.size(); ++r)
          std::printf("raw %s %s %llu %.6f %.6f %.0f\n", e.name,
                      j.kernel.c_str(),
                      static_cast<unsigned long long>(s.cycles), s.cpu[r],
                      s.wall[r], r < s.insns.size() ? s.insns[r] : -1.0);
        continue;
      }
      double cyc = double(s.cycles);
      double cpu = median(s.cpu), wall = median(s.wall), ins = median(s.insns);
      const Before *b = beforeOf(e.name, j.kernel);
      char bg[32] = "-", bl[32] = "-", bp[32] = "-", ipc[32] = "n/a";
      if (b) {
        std::snprintf(bg, sizeof bg, "%.3f M", b->goodMcps);
        std::snprintf(bl, sizeof bl, "%.3f M", b->lastMcps);
        std::snprintf(bp, sizeof bp, "%.3f M", b->prevMcps);
      }
      if (!s.insns.empty())
        std::snprintf(ipc, sizeof ipc, "%.0f", ins / cyc);
      bool rtl = e.ex == EMBER_NPU_EXECUTOR_RTL;
      std::printf("| %s | %s | %llu | **%.3f M** | %s | %s | %s | %.3f M | %s "
                  "| %s | yes |\n",
                  e.name, j.k.name.c_str(),
                  static_cast<unsigned long long>(s.cycles), cyc / cpu / 1e6,
                  bg, bl, bp, cyc / wall / 1e6, ipc,
                  rtl ? ">= 0.3 M" : (j.kernel == "gemm" ? ">= 25 M" : "-"));
    }
  }
  if (!fstDir.empty() && !ks.empty()) {
    std::string path = fstDir + "/" + ks[0].k.name + ".fst";
    Speed w =
        measure(EMBER_NPU_EXECUTOR_RTL, ks[0].k, 1, counter, path.c_str());
    if (w.ok)
      std::printf("\nwith an FST waveform (%s): %.3f M cycles/s (CPU)\n",
                  path.c_str(), double(w.cycles) / median(w.cpu) / 1e6);
    else
      std::printf("\nno waveform support in this build\n");
  }
  return 0;
}

//===- BenchTiming.h - medians of repeated calls for the kernel benches ---===//
//
// The timer gemm_bench and roofline_bench share: a call repeated until a
// minimum time has passed, its median and best time; by the wall clock or,
// with gCpuTime, by the calling thread's CPU clock.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_BENCH_CPU_KERNELS_BENCH_TIMING_H
#define EMBER_BENCH_CPU_KERNELS_BENCH_TIMING_H

#include <algorithm>
#include <chrono>
#include <ctime>
#include <vector>

namespace ember::bench {

struct Timing {
  double median = 0, best = 0;
};

/// --cpu-time: time by this thread's CPU clock rather than the wall clock,
/// so that time the thread spends descheduled on a shared, loaded machine
/// does not count (caches shared with other jobs still do).
inline bool gCpuTime = false;

inline double nowSeconds() {
  if (gCpuTime) {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) +
           1e-9 * static_cast<double>(ts.tv_nsec);
  }
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// Runs f until `minTime` seconds and at least `minReps` repeats have been
/// spent (after one warm-up call) and returns the median and best time.
template <typename F> Timing timeIt(F f, double minTime, int minReps = 7) {
  f();
  std::vector<double> t;
  double total = 0;
  while (total < minTime || static_cast<int>(t.size()) < minReps) {
    const double t0 = nowSeconds();
    f();
    t.push_back(nowSeconds() - t0);
    total += t.back();
  }
  std::sort(t.begin(), t.end());
  return Timing{t[t.size() / 2], t[0]};
}

} // namespace ember::bench

#endif // EMBER_BENCH_CPU_KERNELS_BENCH_TIMING_H

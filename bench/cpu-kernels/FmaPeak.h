//===- FmaPeak.h - single-core fp32 FMA peak of this machine ----*- C++ -*-===//
//
// Each loop iteration issues 12 independent FMA chains (FMA latency x FMA
// pipes is 8 on Zen 4/5 and recent Intel cores; 12 leaves slack), so
// throughput, not latency, bounds the loop. The loops are inline assembly
// so the compiler can neither spill the accumulators nor fold the chains.
// The best of several repeats is the peak: interference from other
// processes only ever slows a run down.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_BENCH_CPU_KERNELS_FMAPEAK_H
#define EMBER_BENCH_CPU_KERNELS_FMAPEAK_H

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace ember::bench {

inline constexpr int kAcc = 12;            // independent accumulators per loop
inline constexpr int64_t kIters = 1 << 24; // loop iterations per measurement

#define EMBER_FMA12(R)                                                         \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "0\n\t"                             \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "1\n\t"                             \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "2\n\t"                             \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "3\n\t"                             \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "4\n\t"                             \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "5\n\t"                             \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "6\n\t"                             \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "7\n\t"                             \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "8\n\t"                             \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "9\n\t"                             \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "10\n\t"                            \
  "vfmadd231ps %%" R "14, %%" R "15, %%" R "11\n\t"

#define EMBER_CLOBBER(R)                                                       \
  R "0", R "1", R "2", R "3", R "4", R "5", R "6", R "7", R "8", R "9",        \
      R "10", R "11", R "14", R "15"

__attribute__((target("avx512f"), noinline)) inline double
fmaAvx512(int64_t iters) {
  auto t0 = std::chrono::steady_clock::now();
  int64_t n = iters;
  __asm__ volatile("vxorps %%zmm14, %%zmm14, %%zmm14\n\t"
                   "vxorps %%zmm15, %%zmm15, %%zmm15\n\t"
                   "1:\n\t" EMBER_FMA12("zmm") "dec %0\n\t"
                                               "jnz 1b\n\t"
                   : "+r"(n)
                   :
                   : EMBER_CLOBBER("xmm"), "cc");
  auto t1 = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(t1 - t0).count();
  return static_cast<double>(iters) * kAcc * 16 * 2 / secs * 1e-9;
}

__attribute__((target("avx2,fma"), noinline)) inline double
fmaAvx2(int64_t iters) {
  auto t0 = std::chrono::steady_clock::now();
  int64_t n = iters;
  __asm__ volatile("vxorps %%ymm14, %%ymm14, %%ymm14\n\t"
                   "vxorps %%ymm15, %%ymm15, %%ymm15\n\t"
                   "1:\n\t" EMBER_FMA12("ymm") "dec %0\n\t"
                                               "jnz 1b\n\t"
                   : "+r"(n)
                   :
                   : EMBER_CLOBBER("xmm"), "cc");
  auto t1 = std::chrono::steady_clock::now();
  double secs = std::chrono::duration<double>(t1 - t0).count();
  return static_cast<double>(iters) * kAcc * 8 * 2 / secs * 1e-9;
}

template <typename F> double bestOf(F f, int repeats) {
  double b = 0;
  for (int r = 0; r < repeats; ++r)
    b = std::max(b, f(kIters));
  return b;
}

/// Peak GFLOP/s of one core with AVX-512 and with AVX2 (0 when the CPU
/// lacks the extension).
struct FmaPeak {
  double avx512 = 0, avx2 = 0;
};

inline FmaPeak measureFmaPeak(int repeats = 7) {
  FmaPeak p;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    fmaAvx2(kIters / 8); // warm up (clock ramp)
    p.avx2 = bestOf(fmaAvx2, repeats);
  }
  if (__builtin_cpu_supports("avx512f")) {
    fmaAvx512(kIters / 8);
    p.avx512 = bestOf(fmaAvx512, repeats);
  }
  return p;
}

} // namespace ember::bench

#endif // EMBER_BENCH_CPU_KERNELS_FMAPEAK_H

//===- FmaPeak.h - single-core fp32 FMA peak of this machine ----*- C++ -*-===//
//
// Each loop iteration issues 12 independent FMA chains (FMA latency x FMA
// pipes is 8 on Zen 4/5 and recent Intel cores; 12 leaves slack), so
// throughput, not latency, bounds the loop. The loops are inline assembly
// so the compiler can neither spill the accumulators nor fold the chains.
// The best of several repeats is the peak: interference from other
// processes only ever slows a run down. Time is the thread's CPU time, so
// that on a shared machine the time the thread spends descheduled does not
// count (gemm_bench --cpu-time times the kernels the same way).
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_BENCH_CPU_KERNELS_FMAPEAK_H
#define EMBER_BENCH_CPU_KERNELS_FMAPEAK_H

#include <algorithm>
#include <cpuid.h>
#include <cstdint>
#include <ctime>

namespace ember::bench {

inline constexpr int kAcc = 12;            // independent accumulators per loop
inline constexpr int64_t kIters = 1 << 24; // loop iterations per measurement

/// This thread's CPU time in seconds.
inline double threadSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         1e-9 * static_cast<double>(ts.tv_nsec);
}

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
  const double t0 = threadSeconds();
  int64_t n = iters;
  __asm__ volatile("vxorps %%zmm14, %%zmm14, %%zmm14\n\t"
                   "vxorps %%zmm15, %%zmm15, %%zmm15\n\t"
                   "1:\n\t" EMBER_FMA12("zmm") "dec %0\n\t"
                                               "jnz 1b\n\t"
                   : "+r"(n)
                   :
                   : EMBER_CLOBBER("xmm"), "cc");
  const double secs = threadSeconds() - t0;
  return static_cast<double>(iters) * kAcc * 16 * 2 / secs * 1e-9;
}

__attribute__((target("avx2,fma"), noinline)) inline double
fmaAvx2(int64_t iters) {
  const double t0 = threadSeconds();
  int64_t n = iters;
  __asm__ volatile("vxorps %%ymm14, %%ymm14, %%ymm14\n\t"
                   "vxorps %%ymm15, %%ymm15, %%ymm15\n\t"
                   "1:\n\t" EMBER_FMA12("ymm") "dec %0\n\t"
                                               "jnz 1b\n\t"
                   : "+r"(n)
                   :
                   : EMBER_CLOBBER("xmm"), "cc");
  const double secs = threadSeconds() - t0;
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

//===----------------------------------------------------------------------===//
// int8 peaks: the fastest sequence each path has for u8 x s8 products summed
// into s32 lanes, 12 independent accumulator chains (as the FMA loops), in
// GOP/s (2 operations a multiply-add).
//===----------------------------------------------------------------------===//

// AVX-512 VNNI and AVX-VNNI: one vpdpbusd (4 multiply-adds a 32-bit lane).
#define EMBER_DPBUSD12(P, R)                                                   \
  P "vpdpbusd %%" R "14, %%" R "15, %%" R "0\n\t" P "vpdpbusd %%" R "14, %%" R \
    "15, %%" R "1\n\t" P "vpdpbusd %%" R "14, %%" R "15, %%" R "2\n\t" P       \
    "vpdpbusd %%" R "14, %%" R "15, %%" R "3\n\t" P "vpdpbusd %%" R "14, %%" R \
    "15, %%" R "4\n\t" P "vpdpbusd %%" R "14, %%" R "15, %%" R "5\n\t" P       \
    "vpdpbusd %%" R "14, %%" R "15, %%" R "6\n\t" P "vpdpbusd %%" R "14, %%" R \
    "15, %%" R "7\n\t" P "vpdpbusd %%" R "14, %%" R "15, %%" R "8\n\t" P       \
    "vpdpbusd %%" R "14, %%" R "15, %%" R "9\n\t" P "vpdpbusd %%" R "14, %%" R \
    "15, %%" R "10\n\t" P "vpdpbusd %%" R "14, %%" R "15, %%" R "11\n\t"

__attribute__((target("avx512f,avx512vnni"), noinline)) inline double
dpbusdAvx512(int64_t iters) {
  const double t0 = threadSeconds();
  int64_t n = iters;
  __asm__ volatile("vpxord %%zmm14, %%zmm14, %%zmm14\n\t"
                   "vpxord %%zmm15, %%zmm15, %%zmm15\n\t"
                   "1:\n\t" EMBER_DPBUSD12("", "zmm") "dec %0\n\t"
                                                      "jnz 1b\n\t"
                   : "+r"(n)
                   :
                   : EMBER_CLOBBER("xmm"), "cc");
  const double secs = threadSeconds() - t0;
  return static_cast<double>(iters) * kAcc * 64 * 2 / secs * 1e-9;
}

__attribute__((target("avx2,avxvnni"), noinline)) inline double
dpbusdAvxVnni(int64_t iters) {
  const double t0 = threadSeconds();
  int64_t n = iters;
  __asm__ volatile("vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
                   "vpxor %%ymm15, %%ymm15, %%ymm15\n\t"
                   "1:\n\t" EMBER_DPBUSD12("%{vex%} ", "ymm") "dec %0\n\t"
                                                              "jnz 1b\n\t"
                   : "+r"(n)
                   :
                   : EMBER_CLOBBER("xmm"), "cc");
  const double secs = threadSeconds() - t0;
  return static_cast<double>(iters) * kAcc * 32 * 2 / secs * 1e-9;
}

// AVX2: vpmaddubsw (u8 x s8 pairs summed into s16, saturating), vpmaddwd by
// ones (pairs of s16 into s32), vpaddd: 32 multiply-adds in 3 operations,
// ONNX Runtime's AVX2 sequence and the split and paired tiles'. 12 of them
// an iteration into 6 accumulators (ymm0-5), products through ymm6-11, A and
// B in ymm12/13, the ones in ymm14.
#define EMBER_MADDUBS(T, C)                                                    \
  "vpmaddubsw %%ymm13, %%ymm12, %%ymm" T "\n\t"                                \
  "vpmaddwd %%ymm14, %%ymm" T ", %%ymm" T "\n\t"                               \
  "vpaddd %%ymm" T ", %%ymm" C ", %%ymm" C "\n\t"
// clang-format off
#define EMBER_MADDUBS12                                                        \
  EMBER_MADDUBS("6", "0")                                                      \
  EMBER_MADDUBS("7", "1")                                                      \
  EMBER_MADDUBS("8", "2")                                                      \
  EMBER_MADDUBS("9", "3")                                                      \
  EMBER_MADDUBS("10", "4")                                                     \
  EMBER_MADDUBS("11", "5")                                                     \
  EMBER_MADDUBS("6", "0")                                                      \
  EMBER_MADDUBS("7", "1")                                                      \
  EMBER_MADDUBS("8", "2")                                                      \
  EMBER_MADDUBS("9", "3")                                                      \
  EMBER_MADDUBS("10", "4")                                                     \
  EMBER_MADDUBS("11", "5")
// clang-format on

__attribute__((target("avx2"), noinline)) inline double
maddubsAvx2(int64_t iters) {
  const double t0 = threadSeconds();
  int64_t n = iters;
  __asm__ volatile("vpxor %%ymm12, %%ymm12, %%ymm12\n\t"
                   "vpxor %%ymm13, %%ymm13, %%ymm13\n\t"
                   "vpxor %%ymm14, %%ymm14, %%ymm14\n\t"
                   "1:\n\t" EMBER_MADDUBS12 "dec %0\n\t"
                   "jnz 1b\n\t"
                   : "+r"(n)
                   :
                   : EMBER_CLOBBER("xmm"), "xmm12", "xmm13", "cc");
  const double secs = threadSeconds() - t0;
  return static_cast<double>(iters) * 12 * 32 * 2 / secs * 1e-9;
}

// AVX2, exact: vpmaddwd (s16 x s16 pairs into s32) and vpaddd, 16
// multiply-adds in 2 operations (the exact tile's step).
#define EMBER_MADDWD(T, C)                                                     \
  "vpmaddwd %%ymm13, %%ymm12, %%ymm" T "\n\t"                                  \
  "vpaddd %%ymm" T ", %%ymm" C ", %%ymm" C "\n\t"
// clang-format off
#define EMBER_MADDWD12                                                         \
  EMBER_MADDWD("6", "0")                                                       \
  EMBER_MADDWD("7", "1")                                                       \
  EMBER_MADDWD("8", "2")                                                       \
  EMBER_MADDWD("9", "3")                                                       \
  EMBER_MADDWD("10", "4")                                                      \
  EMBER_MADDWD("11", "5")                                                      \
  EMBER_MADDWD("6", "0")                                                       \
  EMBER_MADDWD("7", "1")                                                       \
  EMBER_MADDWD("8", "2")                                                       \
  EMBER_MADDWD("9", "3")                                                       \
  EMBER_MADDWD("10", "4")                                                      \
  EMBER_MADDWD("11", "5")
// clang-format on

__attribute__((target("avx2"), noinline)) inline double
maddwdAvx2(int64_t iters) {
  const double t0 = threadSeconds();
  int64_t n = iters;
  __asm__ volatile("vpxor %%ymm12, %%ymm12, %%ymm12\n\t"
                   "vpxor %%ymm13, %%ymm13, %%ymm13\n\t"
                   "1:\n\t" EMBER_MADDWD12 "dec %0\n\t"
                   "jnz 1b\n\t"
                   : "+r"(n)
                   :
                   : EMBER_CLOBBER("xmm"), "xmm12", "xmm13", "cc");
  const double secs = threadSeconds() - t0;
  return static_cast<double>(iters) * 12 * 16 * 2 / secs * 1e-9;
}

/// Whether the CPU has AVX-VNNI (cpuid leaf 7.1 eax bit 4); GCC 12's
/// __builtin_cpu_supports does not report it.
inline bool hasAvxVnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__builtin_cpu_supports("avx2") ||
      !__get_cpuid_count(7, 1, &a, &b, &c, &d))
    return false;
  return (a >> 4) & 1;
}

/// Peak int8 GOP/s of one core per path (0 when the CPU lacks it):
/// vpdpbusd on zmm (AVX-512 VNNI) and on ymm (AVX-VNNI), the vpmaddubsw
/// sequence (AVX2's int8 peak) and the exact vpmaddwd one.
struct Int8Peak {
  double avx512vnni = 0, avxvnni = 0, avx2 = 0, avx2Exact = 0;
};

inline Int8Peak measureInt8Peak(int repeats = 7) {
  Int8Peak p;
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2")) {
    maddubsAvx2(kIters / 8);
    p.avx2 = bestOf(maddubsAvx2, repeats);
    p.avx2Exact = bestOf(maddwdAvx2, repeats);
  }
  if (hasAvxVnni()) {
    dpbusdAvxVnni(kIters / 8);
    p.avxvnni = bestOf(dpbusdAvxVnni, repeats);
  }
  if (__builtin_cpu_supports("avx512vnni")) {
    dpbusdAvx512(kIters / 8);
    p.avx512vnni = bestOf(dpbusdAvx512, repeats);
  }
  return p;
}

} // namespace ember::bench

#endif // EMBER_BENCH_CPU_KERNELS_FMAPEAK_H

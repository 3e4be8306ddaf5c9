//===- CpuFeatures.cpp - which kernel paths this CPU can run --------------===//
//
// The only process-wide state of the library: the CPU's feature set, read
// once (a function-local static, thread-safe in C++11 and later). How the
// paths stand to each other (resolveIsa's fallbacks, the fp32 families) is
// IsaRules.inc, which the bundles' constant path (runtime/BundleIsa.cpp)
// shares.
//
//===----------------------------------------------------------------------===//
#include "ember/cpu/Kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace ember::cpu {

namespace {

#if defined(__x86_64__) || defined(__i386__)
/// AVX-VNNI (cpuid leaf 7, subleaf 1, eax bit 4), which GCC 12's
/// __builtin_cpu_supports does not report. The ymm state is the OS's to
/// save as for AVX2 (which libgcc checks against XCR0).
bool cpuHasAvxVnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid_count(7, 1, &a, &b, &c, &d))
    return false;
  return (a >> 4) & 1;
}
#endif

/// Bit i: the CPU can run Isa(i).
uint32_t querySupported() {
  uint32_t s = (1u << uint8_t(Isa::Auto)) | (1u << uint8_t(Isa::Generic));
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512dq") &&
                __builtin_cpu_supports("avx512vl");
  if (avx2)
    s |= 1u << uint8_t(Isa::Avx2);
  if (avx2 && cpuHasAvxVnni())
    s |= 1u << uint8_t(Isa::AvxVnni);
  if (avx512)
    s |= 1u << uint8_t(Isa::Avx512);
  if (avx512 && __builtin_cpu_supports("avx512vnni"))
    s |= 1u << uint8_t(Isa::Avx512Vnni);
#endif
  return s;
}

uint32_t supportedSet() {
  static const uint32_t set = querySupported();
  return set;
}

} // namespace

Isa detectIsa() {
  static const Isa best = [] {
    const Isa preferred[] = {Isa::Avx512Vnni, Isa::Avx512, Isa::AvxVnni,
                             Isa::Avx2};
    for (Isa i : preferred)
      if (isaSupported(i))
        return i;
    return Isa::Generic;
  }();
  return best;
}

bool isaSupported(Isa isa) {
  return uint8_t(isa) < 32 && ((supportedSet() >> uint8_t(isa)) & 1);
}

#include "IsaRules.inc"

const char *isaName(Isa isa) {
  switch (isa) {
  case Isa::Auto:
    return "auto";
  case Isa::Generic:
    return "generic";
  case Isa::Avx2:
    return "avx2";
  case Isa::Avx512:
    return "avx512";
  case Isa::Avx512Vnni:
    return "avx512vnni";
  case Isa::AvxVnni:
    return "avxvnni";
  }
  return "?";
}

const char *statusName(Status s) {
  switch (s) {
  case Status::Ok:
    return "ok";
  case Status::InvalidArgument:
    return "invalid argument";
  case Status::LayoutMismatch:
    return "packed layout mismatch";
  case Status::OutOfMemory:
    return "out of memory";
  }
  return "?";
}

} // namespace ember::cpu

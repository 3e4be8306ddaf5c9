//===- CpuFeatures.cpp - which kernel paths this CPU can run --------------===//
//
// The only process-wide state of the library: the CPU's feature set, read
// once (a function-local static, thread-safe in C++11 and later).
//
//===----------------------------------------------------------------------===//
#include "ember/cpu/Kernels.h"

namespace ember::cpu {

namespace {

Isa queryIsa() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  bool avx512 = avx2 && __builtin_cpu_supports("avx512f") &&
                __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512dq") &&
                __builtin_cpu_supports("avx512vl");
  bool vnni = avx512 && __builtin_cpu_supports("avx512vnni");
  if (vnni)
    return Isa::Avx512Vnni;
  if (avx512)
    return Isa::Avx512;
  if (avx2)
    return Isa::Avx2;
#endif
  return Isa::Generic;
}

} // namespace

Isa detectIsa() {
  static const Isa detected = queryIsa();
  return detected;
}

bool isaSupported(Isa isa) {
  if (isa == Isa::Auto)
    return true;
  return static_cast<uint8_t>(isa) <= static_cast<uint8_t>(detectIsa());
}

Isa resolveIsa(Isa requested) {
  Isa best = detectIsa();
  if (requested == Isa::Auto)
    return best;
  return static_cast<uint8_t>(requested) <= static_cast<uint8_t>(best)
             ? requested
             : best;
}

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

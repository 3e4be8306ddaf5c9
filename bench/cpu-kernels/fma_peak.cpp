//===- fma_peak.cpp - this machine's single-core fp32 FMA peak ------------===//
//
// Output (one line): peak_gflops avx512=<x> avx2=<y>
// Usage: fma_peak [--repeats=N]
//
//===----------------------------------------------------------------------===//
#include "FmaPeak.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

int main(int argc, char **argv) {
  int repeats = 7;
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], "--repeats=", 10) == 0)
      repeats = std::max(1, std::atoi(argv[i] + 10));
  ember::bench::FmaPeak p = ember::bench::measureFmaPeak(repeats);
  std::printf("peak_gflops avx512=%.1f avx2=%.1f\n", p.avx512, p.avx2);
  return 0;
}

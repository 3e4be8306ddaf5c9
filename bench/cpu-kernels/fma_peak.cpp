//===- fma_peak.cpp - this machine's single-core fp32 FMA peak ------------===//
//
// Output (two lines): peak_gflops avx512=<x> avx2=<y>
//                     peak_int8_gops avx512vnni=<a> avxvnni=<b> avx2=<c>
//                       avx2_exact=<d>
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
  ember::bench::Int8Peak q = ember::bench::measureInt8Peak(repeats);
  std::printf("peak_int8_gops avx512vnni=%.1f avxvnni=%.1f avx2=%.1f "
              "avx2_exact=%.1f\n",
              q.avx512vnni, q.avxvnni, q.avx2, q.avx2Exact);
  return 0;
}

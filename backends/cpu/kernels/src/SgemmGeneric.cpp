//===- SgemmGeneric.cpp - portable fp32 micro-kernels ---------------------===//
//
// Plain C++ MR x NR micro-kernels: the fallback on any CPU, and the kernel
// that reads a packed layout made for another path (e.g. weights packed for
// AVX-512 run on an AVX2-only machine).
//
//===----------------------------------------------------------------------===//
#include "Internal.h"
#include "TileEpilogue.h"

namespace ember::cpu::detail {

namespace {

template <int MR, int NR> void tileGeneric(const TileArgs &t) {
  float acc[MR][NR] = {};
  const float *a = t.a;
  const float *b = t.b;
  for (size_t k = 0; k < t.kc; ++k, a += MR, b += NR)
    for (int i = 0; i < MR; ++i) {
      float ai = a[i];
      for (int j = 0; j < NR; ++j)
        acc[i][j] += ai * b[j];
    }
  for (int i = t.rowBegin; i < t.rowEnd; ++i)
    for (int j = t.colBegin; j < t.colEnd; ++j)
      t.c[static_cast<size_t>(i) * t.ldc + j] =
          finishElement(t, i, j, acc[i][j]);
}

// The native generic kernel shares the AVX2 layout (6 x 16), so weights
// packed for AVX2 run at full generic speed here.
constexpr GemmKernel kGeneric = {
    Isa::Generic, 6, 16, 120, 256, 2048, false, &tileGeneric<6, 16>};

// One entry per packed layout any path produces.
constexpr GemmKernel kLayouts[] = {
    kGeneric,
    {Isa::Generic, 14, 32, 126, 256, 2048, false, &tileGeneric<14, 32>},
    {Isa::Generic, 6, 64, 120, 256, 2048, false, &tileGeneric<6, 64>},
};

} // namespace

const GemmKernel &gemmKernelGeneric() { return kGeneric; }

const GemmKernel *gemmKernelGenericFor(int mr, int nr) {
  for (const GemmKernel &k : kLayouts)
    if ((mr == 0 || k.mr == mr) && (nr == 0 || k.nr == nr))
      return &k;
  return nullptr;
}

size_t gemmMaxWorkspaceFloats() {
  size_t m = 0;
  for (const GemmKernel &k : kLayouts)
    m = gemmWorkspaceFloats(k) > m ? gemmWorkspaceFloats(k) : m;
  return m;
}

} // namespace ember::cpu::detail

//===- RowKernelTest.cpp - The SystemC model's row kernels ----------------===//
//
// macRows and requantRows (simulator/systemc/MacRows.h) against the
// definitions, element by element, on random values and every edge the
// arithmetic has: the shifts beyond mbqm's clamp, the int32 extremes of the
// accumulator, the multiplier and the bias, -128 activations and weights,
// rounding ties. Every kernel this build and CPU have (plain C++, SSE2, AVX2,
// AVX-VNNI) is checked, so the fallbacks of a host without AVX2 or AVX-VNNI
// (or not x86) are checked against the fast paths on one that has them.
//===----------------------------------------------------------------------===//
#include "../systemc/MacRows.h"

#include "ember/npu/Arith.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace ember::npu;

namespace {

/// The kernels this build and CPU can run (at least Scalar).
std::vector<RowPath> availablePaths() {
  std::vector<RowPath> paths;
  for (RowPath p :
       {RowPath::Scalar, RowPath::Sse2, RowPath::Avx2, RowPath::AvxVnni})
    if (rowPathAvailable(p))
      paths.push_back(p);
  return paths;
}

constexpr int32_t kMin = std::numeric_limits<int32_t>::min();
constexpr int32_t kMax = std::numeric_limits<int32_t>::max();

int32_t pick(std::mt19937 &rng, const std::vector<int32_t> &edges) {
  if (rng() % 3 == 0)
    return edges[rng() % edges.size()];
  return static_cast<int32_t>(rng());
}

TEST(RowKernelTest, RequantRowsIsRequantize) {
  std::mt19937 rng(5);
  const std::vector<int32_t> accEdges = {
      kMin, kMin + 1, -1, 0, 1, kMax - 1, kMax, 1 << 30, -(1 << 30)};
  const std::vector<int32_t> multEdges = {kMin, kMax, 0, 1, -1, 1 << 30};
  for (int trial = 0; trial < 2000; ++trial) {
    const int64_t rows = 1 + rng() % 5;
    std::vector<int32_t> acc(size_t(rows * kDim)), bias(kDim), mult(kDim),
        shift(kDim);
    for (int32_t &a : acc)
      a = pick(rng, accEdges);
    for (int l = 0; l < kDim; ++l) {
      bias[size_t(l)] = pick(rng, accEdges);
      mult[size_t(l)] = pick(rng, multEdges);
      // Beyond the clamp to [-31, 30] too, and small shifts (rounding ties).
      shift[size_t(l)] = rng() % 4 == 0
                             ? pick(rng, {kMin, -32, -31, 30, 31, kMax})
                             : int32_t(rng() % 80) - 40;
    }
    const int32_t zp = pick(rng, {kMin, -128, 0, 127, kMax});
    int32_t lo = int32_t(rng() % 300) - 150, hi = int32_t(rng() % 300) - 150;
    const bool withBias = trial % 2;
    for (RowPath path : availablePaths()) {
      std::vector<int8_t> got(acc.size());
      requantRows(acc.data(), rows, withBias ? bias.data() : nullptr,
                  mult.data(), shift.data(), zp, lo, hi, got.data(), path);
      for (int64_t i = 0; i < rows; ++i)
        for (int l = 0; l < kDim; ++l) {
          const size_t e = size_t(i * kDim + l);
          int32_t x = withBias ? wrapAdd(acc[e], bias[size_t(l)]) : acc[e];
          ASSERT_EQ(got[e], requantize(x, mult[size_t(l)], shift[size_t(l)], zp,
                                       lo, hi))
              << "kernel " << rowPathName(path) << ": acc " << x << " mult "
              << mult[size_t(l)] << " shift " << shift[size_t(l)] << " zp "
              << zp << " lo " << lo << " hi " << hi;
        }
    }
  }
}

TEST(RowKernelTest, MacRowsIsTheSum) {
  std::mt19937 rng(6);
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t rows = 1 + rng() % 9;
    std::vector<int8_t> act(size_t(rows * kDim)), w(kDim * kDim); // W[j][k]
    for (int8_t &a : act)
      a = rng() % 4 == 0 ? int8_t(-128) : static_cast<int8_t>(rng());
    for (int8_t &v : w)
      v = rng() % 4 == 0 ? int8_t(-128) : static_cast<int8_t>(rng());
    std::vector<int32_t> acc0(size_t(rows * kDim)), want(acc0.size());
    for (size_t e = 0; e < acc0.size(); ++e)
      want[e] = acc0[e] = trial % 3 == 0 ? kMax - int32_t(rng() % 1000)
                                         : static_cast<int32_t>(rng());
    for (int64_t i = 0; i < rows; ++i)
      for (int j = 0; j < kDim; ++j)
        for (int k = 0; k < kDim; ++k)
          want[size_t(i * kDim + j)] = wrapAdd(
              want[size_t(i * kDim + j)],
              int32_t(act[size_t(i * kDim + k)]) * w[size_t(j * kDim + k)]);
    for (RowPath path : availablePaths()) {
      WeightTile tile;
      prepareTile(w.data(), tile, path);
      std::vector<int32_t> acc = acc0;
      macRows(act.data(), rows, tile, acc.data(), path);
      ASSERT_EQ(acc, want) << "trial " << trial << ", kernel "
                           << rowPathName(path);
    }
  }
}

TEST(RowKernelTest, PathsAreOrderedAndTheChoiceIsAvailable) {
  // The portable paths exist on every host (SSE2 on every x86-64 build); the
  // chosen one is available, and is the best available one unless
  // EMBER_NPU_ROW_KERNEL caps it.
  EXPECT_TRUE(rowPathAvailable(RowPath::Scalar));
#if defined(__x86_64__)
  EXPECT_TRUE(rowPathAvailable(RowPath::Sse2));
#endif
  if (rowPathAvailable(RowPath::AvxVnni)) {
    EXPECT_TRUE(rowPathAvailable(RowPath::Avx2));
  }
  EXPECT_TRUE(rowPathAvailable(bestRowPath()));
  const char *cap = std::getenv("EMBER_NPU_ROW_KERNEL");
  if (!cap || !*cap) {
    EXPECT_EQ(bestRowPath(), availablePaths().back());
    return;
  }
  // Under the cap (the ctests npu.EquivalenceTest.rows_*): that kernel when
  // this host has it.
  for (RowPath p : availablePaths()) {
    if (std::strcmp(cap, rowPathName(p)) == 0) {
      EXPECT_EQ(bestRowPath(), p);
    }
  }
}

} // namespace

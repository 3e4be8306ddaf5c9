//===- QGemmPaired.cpp - the int8 GEMM's paired k order (AVX2) ------------===//
//
// QLayout::Paired (QGemm.h; kernels README, "AVX2 without saturation:
// paired rows"): an order of B's rows in which every two consecutive rows
// fit vpmaddubsw's s16 pair sum in every column, the B panels and column
// terms packed through it, and A gathered into it as it is packed. The
// tile is qtilePanel<true> (QGemmAvx2.cpp); qgemmPacked (QGemm.cpp) drives.
//
//===----------------------------------------------------------------------===//
#include "QGemm.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace ember::cpu::detail {

/// The most groups of 4 a Paired packing of depth K may take: 9/8 of K
/// (past that the exact tile is as fast; docs/changelog/cpu-performance.md).
size_t pairedMaxGroups(size_t K) {
  const size_t g = (K + K / 8 + 3) / 4;
  return g < ceilDiv(K, 4) ? ceilDiv(K, 4) : g;
}

size_t pairedSectionBytes(size_t groups) {
  return roundUp(kPairedOrderAt + 4 * groups * sizeof(int32_t), 64);
}

/// Paired: A rows into panels of MR rows (at most 8: the kernels take 4 or
/// 6) of 4 bytes a group, gathered through the packed order (4 x groups
/// row indices), each byte xor-ed with flip. A panel's rows past `rows`
/// repeat its first row (the tiles compute them and store nothing).
void packQAPermuted(size_t rows, const int32_t *perm, size_t groups,
                    const uint8_t *A, size_t lda, int mr, uint8_t *dst,
                    uint8_t flip) {
  const uint32_t flip4 = 0x01010101u * flip;
  const size_t MR = static_cast<size_t>(mr);
  const uint8_t *src[8];
  for (size_t r0 = 0; r0 < rows; r0 += MR, dst += groups * 4 * MR) {
    for (size_t i = 0; i < MR; ++i)
      src[i] = A + (r0 + (r0 + i < rows ? i : 0)) * lda;
    const int32_t *q = perm;
    uint8_t *d = dst;
    for (size_t g = 0; g < groups; ++g, q += 4, d += 4 * MR) {
      const size_t k0 = static_cast<size_t>(q[0]),
                   k1 = static_cast<size_t>(q[1]),
                   k2 = static_cast<size_t>(q[2]),
                   k3 = static_cast<size_t>(q[3]);
      for (size_t i = 0; i < MR; ++i) {
        const uint8_t *r = src[i];
        const uint32_t v = (uint32_t(r[k0]) | uint32_t(r[k1]) << 8 |
                            uint32_t(r[k2]) << 16 | uint32_t(r[k3]) << 24) ^
                           flip4;
        std::memcpy(d + 4 * i, &v, 4);
      }
    }
  }
}

/// The Paired order of B's rows (QLayout::Paired), or empty when none fits
/// in maxGroups groups of 4. Two weights of a column may share a
/// vpmaddubsw pair when their sum lies in [-128, 128] (then 255 times it
/// fits s16); two weights in [-64, 64] always may, so only a row's "hot"
/// entries (outside it) are checked. Greedy: the rows with the most hot
/// entries first, each with the first of the coolest free rows it fits
/// (at most kTries looked at), else with a zero row (-1 in the order).
std::vector<int32_t> planPairs(size_t K, size_t N, const int8_t *B, size_t ldb,
                               size_t maxGroups) {
  constexpr size_t kTries = 64;
  auto hot = [](int v) { return v > 64 || v < -64; };
  std::vector<uint32_t> start(K + 1, 0);
  for (size_t k = 0; k < K; ++k) {
    uint32_t c = 0;
    for (size_t n = 0; n < N; ++n)
      c += hot(B[k * ldb + n]);
    start[k + 1] = start[k] + c;
  }
  // Weights mostly outside [-64, 64] seldom pair: not worth the search.
  if (size_t(start[K]) * 4 > K * N)
    return {};
  std::vector<uint32_t> cols(start[K]);
  for (size_t k = 0; k < K; ++k) {
    uint32_t *c = cols.data() + start[k];
    for (size_t n = 0; n < N; ++n)
      if (hot(B[k * ldb + n]))
        *c++ = static_cast<uint32_t>(n);
  }
  auto fitsOver = [&](size_t i, size_t j) {
    for (uint32_t e = start[i]; e < start[i + 1]; ++e) {
      const int sum = B[i * ldb + cols[e]] + B[j * ldb + cols[e]];
      if (sum > 128 || sum < -128)
        return false;
    }
    return true;
  };
  std::vector<int32_t> order(K);
  for (size_t k = 0; k < K; ++k)
    order[k] = static_cast<int32_t>(k);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const uint32_t ha = start[a + 1] - start[a], hb = start[b + 1] - start[b];
    return ha != hb ? ha > hb : a < b;
  });
  const size_t slots = 4 * maxGroups; // positions, pads included
  std::vector<char> used(K, 0);
  std::vector<int32_t> perm;
  perm.reserve(slots);
  size_t coolest = K; // order[coolest - 1] is the coolest row not yet used
  for (size_t x = 0; x < K; ++x) {
    const size_t i = static_cast<size_t>(order[x]);
    if (used[i])
      continue;
    used[i] = 1;
    perm.push_back(static_cast<int32_t>(i));
    while (coolest > 0 && used[size_t(order[coolest - 1])])
      --coolest;
    int32_t mate = -1;
    size_t tries = 0;
    for (size_t y = coolest; y > 0 && tries < kTries; --y) {
      const size_t j = static_cast<size_t>(order[y - 1]);
      if (used[j])
        continue;
      ++tries;
      if (fitsOver(i, j) && fitsOver(j, i)) {
        mate = static_cast<int32_t>(j);
        break;
      }
    }
    if (mate >= 0)
      used[size_t(mate)] = 1;
    perm.push_back(mate);
    if (perm.size() > slots)
      return {};
  }
  perm.resize(roundUp(perm.size(), 4), -1);
  if (perm.size() > slots)
    return {};
  return perm;
}

void writePairedPanels(const std::vector<int32_t> &order, size_t N, size_t NR,
                       const int8_t *B, size_t ldb, int8_t *panels) {
  const size_t groups = order.size() / 4;
  for (size_t q = 0; q < order.size(); ++q) {
    if (order[q] < 0)
      continue; // a zero row (the panels come zeroed)
    const int8_t *row = B + static_cast<size_t>(order[q]) * ldb;
    for (size_t n = 0; n < N; ++n)
      panels[((n / NR) * groups + q / 4) * 4 * NR + (n % NR) * 4 + q % 4] =
          row[n];
  }
}

void writePairingSection(const std::vector<int32_t> &order, char *sec) {
  const uint64_t groups = order.size() / 4;
  std::memset(sec, 0, pairedSectionBytes(groups));
  std::memcpy(sec, &groups, sizeof(groups));
  // A pad is stored as row 0: A is gathered from a real row there and meets
  // a zero weight.
  int32_t *stored = reinterpret_cast<int32_t *>(sec + kPairedOrderAt);
  for (size_t q = 0; q < order.size(); ++q)
    stored[q] = order[q] < 0 ? 0 : order[q];
}

} // namespace ember::cpu::detail

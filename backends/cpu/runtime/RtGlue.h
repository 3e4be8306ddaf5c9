// Helpers shared by the runtime's glue files (RtKernels.cpp,
// RtConvTranspose.cpp): a parameter-block value as a size, rounding, and
// the even split of n items into pieces. Linked natively and compiled to
// bitcode with them, so libc++ headers only.
#ifndef EMBER_CPU_RT_GLUE_H
#define EMBER_CPU_RT_GLUE_H

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace ember::cpugen::rt {

inline size_t u(int64_t v) { return size_t(v); }

inline size_t roundUp(size_t v, size_t m) { return (v + m - 1) / m * m; }

// [begin, end) of piece `i` of `pieces` over n items, aligned to `granule`:
// the ceil(n / granule) units dealt out evenly (piece sizes differ by at
// most one unit; a piece may be empty when there are fewer units).
inline void pieceRange(size_t n, size_t pieces, size_t granule, size_t i,
                       size_t &begin, size_t &end) {
  size_t units = (n + granule - 1) / granule;
  begin = std::min(n, units * i / pieces * granule);
  end = std::min(n, units * (i + 1) / pieces * granule);
}

} // namespace ember::cpugen::rt

#endif

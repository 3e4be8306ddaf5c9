// The static DRAM image's layout (Pack.cpp): where a GEMM layer's constants
// go (GemmTables, Program.h), which weight tiles are all zero, and which
// bias paths its values allow. The bytes are the vendor's (its packing,
// Vendor.h); only a constant tensor's bytes, already in the tiled layout,
// are written here.
#pragma once

#include "ember/accel/Pack.h"
#include "ember/accel/Program.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace ember::accel {

inline uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// The static DRAM image: regions appended, each aligned.
struct Image {
  explicit Image(const Target &t) : align(t.dram.alignment) {}
  uint64_t align;
  std::vector<uint8_t> bytes;
  uint64_t put(const void *data, size_t n) {
    uint64_t at = reserve(n);
    if (n)
      std::memcpy(bytes.data() + at, data, n);
    return at;
  }
  uint64_t reserve(size_t n) {
    uint64_t at = alignUp(bytes.size(), align);
    bytes.resize(at + n, 0);
    return at;
  }
};

// Lays out `g`'s weights (DwGemm tiles when `useDwgemm` and it qualifies),
// bias rows, bias tiles and requantization tables in `img` (bytes left
// zero), in this order, and finds its all-zero weight tiles.
GemmTables layoutGemm(const Target &t, const GemmLayer &g, Image &img,
                      bool useDwgemm);

} // namespace ember::accel

// Internal to the NPU backend's code generator: the static DRAM image and a
// GEMM layer's packed constants in it (weight tiles, bias rows and tiles,
// requantization tables with or without REQUANT's bias row), Pack.cpp.
#pragma once

#include "Layers.h"

#include <cstdint>
#include <cstring>
#include <vector>

namespace ember::npusim {

constexpr uint64_t kDramAlign = 64; // every tensor and table starts here

inline uint64_t alignUp(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// The static DRAM image: constants appended, each aligned.
struct Image {
  std::vector<uint8_t> bytes;
  uint64_t put(const void *data, size_t n) {
    uint64_t at = alignUp(bytes.size(), kDramAlign);
    bytes.resize(at + n, 0);
    if (n)
      std::memcpy(bytes.data() + at, data, n);
    return at;
  }
  uint64_t reserve(size_t n) {
    uint64_t at = alignUp(bytes.size(), kDramAlign);
    bytes.resize(at + n, 0);
    return at;
  }
};

struct GemmTables {
  std::vector<std::vector<int64_t>> rel; // per output tile: input tiles
  std::vector<uint64_t> wOff;            // per output tile: weights in DRAM
  std::vector<std::vector<bool>> zero;   // per (ko, ri*taps+tap): all zero
  uint64_t biasOff = 0, paramOff = 0;
  bool sum = false; // one identity tile (GemmLayer::sum)
  // Depthwise by DWGEMM (dwgemmLayer): per channel tile one weight tile per
  // kernel row, row j = channel j, lane t = tap (ky, t); `zero` is indexed by
  // kernel row. Otherwise one diagonal tile per tap.
  bool dw = false;
  // DWGEMM's own bias (kw <= DIM - 4): the bias of channel j in lanes
  // DIM-4..DIM-1 of row j of the first kernel row's tile, added by that
  // DWGEMM (reset): no bias rows through DRAM, no bias GEMM.
  bool dwBias = false;
  // Bias by GEMM (when every bias of the layer is representable): the
  // constant ACT row v = (1, -128, ..., -128) and per output tile a weight
  // tile B whose row j satisfies sum_k v_k B[j][k] = bias_j, so one GEMM
  // with reset over the accumulator rows (the act row repeated, ostride 0)
  // initializes them to the bias instead of a stride-0 LOAD of DIM x int32
  // per row through DRAM.
  bool gemmBias = false;
  uint64_t onesOff = 0, biasTileOff = 0;
  // Bias by REQUANT (biasByRequantPossible): per output tile the table
  // rows mult, shift, bias at rqParamOff; REQUANT's `bias` bit adds the
  // third to the accumulator (int32, wrapping), whose first GEMM resets.
  bool rqBias = false;
  uint64_t rqParamOff = 0;
  // Whether the accumulators can take their bias by `path` (TileChoice::bias:
  // 1 GEMM, 2 REQUANT; 0, DRAM, always): neither of the first two next to
  // DWGEMM's own bias, which leaves no bias to take.
  bool biasPathUsable(int path) const {
    return path == 0 ||
           (!dwBias && ((path == 1 && gemmBias) || (path == 2 && rqBias)));
  }
};

// A depthwise convolution (one input channel per output channel) that
// DWGEMM runs (see Pack.cpp).
bool dwgemmLayer(const GemmLayer &g);

// Packs `g`'s weights (DWGEMM tiles when `useDwgemm` and it qualifies), bias
// rows, bias tiles and requantization tables into `img`.
GemmTables packGemm(const GemmLayer &g, Image &img, bool useDwgemm);

} // namespace ember::npusim

// The DMA and timing helpers code generation and its cost model share
// (Emit.h).
#include "Emit.h"
#include "Layers.h"

#include <algorithm>

namespace ember::npusim {

using npu::Insn;

// How `rows` contiguous rows split into one 2-D transfer of y lines of x
// rows (stride x): the largest x <= 1023 dividing `rows` with y <= 1023, so
// that, e.g., 1280 weight rows are one LOAD (2 x 640) rather than 1023 + 257
// (each DMA instruction pays the DRAM latency once). {0, 0} when none does.
std::pair<int64_t, int64_t> oneTransfer(int64_t rows) {
  if (rows <= 0)
    return {0, 0};
  for (int64_t x = std::min(rows, kMaxLoop); x * kMaxLoop >= rows; --x)
    if (rows % x == 0)
      return {x, rows / x};
  return {0, 0};
}

namespace {

// The first transfer of moveRows for `rows` (> 0) rows: all of them when
// oneTransfer finds a split, else the most whole lines of kMaxLoop rows.
std::pair<int64_t, int64_t> nextTransfer(int64_t rows) {
  auto [x, y] = oneTransfer(rows);
  if (!x) {
    x = std::min(rows, kMaxLoop);
    y = std::min(rows / x, kMaxLoop);
  }
  return {x, y};
}

} // namespace

// `rows` contiguous rows between DRAM and a scratchpad, as few LOAD/STOREs
// as the 10-bit size fields allow.
void moveRows(std::vector<Insn> &out, bool store, int mem, int64_t sram,
              uint64_t dram, int64_t rows) {
  uint64_t rb = uint64_t(npu::memRowBytes(mem));
  while (rows > 0) {
    auto [x, y] = nextTransfer(rows);
    out.push_back(store ? storeInsn(mem, sram, int64_t(dram), y, x, x)
                        : loadInsn(mem, sram, int64_t(dram), y, x, x));
    sram += x * y;
    dram += uint64_t(x * y) * rb;
    rows -= x * y;
  }
}

// One DRAM row repeated `rows` times (stride 0): bias rows, broadcast adds.
void repeatRow(std::vector<Insn> &out, int mem, int64_t sram, uint64_t dram,
               int64_t rows) {
  while (rows > 0) {
    int64_t y = std::min(rows, kMaxLoop);
    out.push_back(loadInsn(mem, sram, int64_t(dram), y, 1, 0));
    sram += y;
    rows -= y;
  }
}

// Instructions moveRows and repeatRow emit for `rows` rows.
uint64_t moveRowsCount(int64_t rows) {
  uint64_t n = 0;
  while (rows > 0) {
    auto [x, y] = nextTransfer(rows);
    rows -= x * y;
    ++n;
  }
  return n;
}
uint64_t repeatRowCount(int64_t rows) {
  return uint64_t(std::max<int64_t>(0, ceilDiv(rows, kMaxLoop)));
}

// Array cycles of one GEMM of `rows` rows (SystemC and RTL: a weight tile
// is preloaded while the previous GEMM streams, so max(rows, DIM)).
uint64_t gemmCycles(int64_t rows) {
  return uint64_t(std::max<int64_t>(rows, kDim)) +
         EMBER_NPU_GEMM_ISSUE_OVERHEAD_CYCLES;
}
uint64_t vectorCycles(int64_t rows) {
  return uint64_t(rows) / EMBER_NPU_SRAM_ROWS_PER_CYCLE +
         EMBER_NPU_VECTOR_ISSUE_OVERHEAD_CYCLES;
}

} // namespace ember::npusim

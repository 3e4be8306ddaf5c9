// The DMA and timing helpers scheduling and its cost model share (Emit.h).
#include "Emit.h"

#include "ember/accel/Layers.h"

#include <algorithm>

namespace ember::accel {

// The largest x <= maxX dividing `rows` with y <= maxY, so that, e.g., 1280
// weight rows are one load (2 x 640) rather than a full line of maxX rows
// plus the rest (each DMA op pays the DRAM latency once). {0, 0} when none
// does.
std::pair<int64_t, int64_t> oneTransfer(const Target &t, int64_t rows) {
  if (rows <= 0)
    return {0, 0};
  for (int64_t x = std::min(rows, t.maxX); x * t.maxY >= rows; --x)
    if (rows % x == 0)
      return {x, rows / x};
  return {0, 0};
}

namespace {

// The first transfer of moveRows for `rows` (> 0) rows: all of them when
// oneTransfer finds a split, else the most whole lines of maxX rows.
std::pair<int64_t, int64_t> nextTransfer(const Target &t, int64_t rows) {
  auto [x, y] = oneTransfer(t, rows);
  if (!x) {
    x = std::min(rows, t.maxX);
    y = std::min(rows / x, t.maxY);
  }
  return {x, y};
}

} // namespace

void moveRows(const Target &t, std::vector<Op> &out, bool store, Cls c,
              int64_t sram, uint64_t dram, int64_t rows, bool w16) {
  const uint64_t rb = uint64_t(t.clsRowBytes(c)) * (w16 ? 2 : 1);
  while (rows > 0) {
    auto [x, y] = nextTransfer(t, rows);
    out.push_back(store ? storeOp(t, c, sram, int64_t(dram), y, x, x)
                        : loadOp(t, c, sram, int64_t(dram), y, x, x));
    out.back().w16 = w16;
    sram += x * y;
    dram += uint64_t(x * y) * rb;
    rows -= x * y;
  }
}

void repeatRow(const Target &t, std::vector<Op> &out, Cls c, int64_t sram,
               uint64_t dram, int64_t rows) {
  while (rows > 0) {
    int64_t y = std::min(rows, t.maxY);
    out.push_back(loadOp(t, c, sram, int64_t(dram), y, 1, 0));
    sram += y;
    rows -= y;
  }
}

uint64_t moveRowsCount(const Target &t, int64_t rows) {
  uint64_t n = 0;
  while (rows > 0) {
    auto [x, y] = nextTransfer(t, rows);
    rows -= x * y;
    ++n;
  }
  return n;
}

uint64_t repeatRowCount(const Target &t, int64_t rows) {
  return uint64_t(std::max<int64_t>(0, ceilDiv(rows, t.maxY)));
}

// A weight-stationary array preloads the next weight tile while the op
// before streams, so an op takes max(rows, preload) cycles; an
// output-stationary one streams its rows (its drain is per accumulator
// block, counted by the caller). Each row takes lanes / rows x lanes / cols
// array cycles when the array is narrower than the layout.
uint64_t gemmCycles(const Target &t, int64_t rows) {
  const int64_t per = (t.lanes / t.array.rows) * (t.lanes / t.array.cols);
  return uint64_t(std::max<int64_t>(rows * per, t.array.preloadRows)) +
         uint64_t(t.array.issueOverhead);
}

uint64_t vectorCycles(const Target &t, int64_t rows) {
  return uint64_t(double(rows) / t.vector.rowsPerCycle) +
         t.vector.issueOverhead;
}

} // namespace ember::accel

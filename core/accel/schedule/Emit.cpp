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

void moveBand(const Target &t, std::vector<Op> &out, bool store, Cls c,
              int64_t sram, uint64_t dram, int64_t lines, int64_t cols,
              int64_t pitch, bool w16) {
  const uint64_t rb = uint64_t(t.clsRowBytes(c)) * (w16 ? 2 : 1);
  for (int64_t l = 0; l < lines; l += t.maxY) {
    const int64_t y = std::min(t.maxY, lines - l);
    const int64_t at = int64_t(dram + uint64_t(l * pitch) * rb);
    out.push_back(store ? storeOp(t, c, sram + l * cols, at, y, cols, pitch)
                        : loadOp(t, c, sram + l * cols, at, y, cols, pitch));
    out.back().w16 = w16;
  }
}

uint64_t moveBandCount(const Target &t, int64_t lines) {
  return uint64_t(std::max<int64_t>(0, ceilDiv(lines, t.maxY)));
}

void loadBlock(const Target &t, std::vector<Op> &out, Cls c, int64_t sram,
               uint64_t dram, int64_t lines, int64_t cols, int64_t stride,
               int64_t padTop, int64_t padBottom, int64_t padLeft,
               int64_t padRight) {
  const uint64_t rb = uint64_t(t.clsRowBytes(c));
  const int64_t pitch = padLeft + cols + padRight;
  int64_t l = 0, row = sram;
  do {
    const int64_t y = std::min(t.maxY, lines - l);
    const int64_t top = l == 0 ? padTop : 0;
    const int64_t bottom = l + y >= lines ? padBottom : 0;
    out.push_back(loadOp(t, c, row, dram + uint64_t(l * stride) * rb, y, cols,
                         stride, top, bottom, padLeft, padRight));
    row += (top + y + bottom) * pitch;
    l += y;
  } while (l < lines);
}

uint64_t loadBlockCount(const Target &t, int64_t lines) {
  return uint64_t(std::max<int64_t>(1, ceilDiv(lines, t.maxY)));
}

uint64_t repeatRowCount(const Target &t, int64_t rows) {
  return uint64_t(std::max<int64_t>(0, ceilDiv(rows, t.maxY)));
}

void upsampleRows(const Target &t, std::vector<Op> &out, Cls c, int64_t sram,
                  uint64_t dram, int64_t rows, int64_t up, uint64_t pitch) {
  const uint64_t rb = uint64_t(t.clsRowBytes(c));
  for (int64_t dy = 0; dy < up; ++dy)
    for (int64_t dx = 0; dx < up; ++dx)
      for (int64_t k = 0; k < rows; k += t.maxY) {
        int64_t y = std::min(rows - k, t.maxY);
        out.push_back(storeOp(
            t, c, sram + k,
            int64_t(dram + uint64_t(dy) * pitch + uint64_t(k * up + dx) * rb),
            y, 1, up));
      }
}

uint64_t upsampleRowsCount(const Target &t, int64_t rows, int64_t up) {
  return uint64_t(up * up) * repeatRowCount(t, rows);
}

namespace {

// Whether one repeating store writes `lines` lines of `rows` rows, each
// row up x up times.
bool repeatingStore(const Target &t, int64_t lines, int64_t rows, int64_t up,
                    int64_t width) {
  const OpDesc &st = t.ops[size_t(OpKind::Store)];
  return up > 1 && t.declares(OpKind::Store, "rep") &&
         up - 1 <= st.max("rep") && lines <= t.maxY && rows <= t.maxX &&
         width * up <= t.maxStride;
}

} // namespace

void upsampleStore(const Target &t, std::vector<Op> &out, Cls c, int64_t sram,
                   uint64_t dram, int64_t lines, int64_t rows, int64_t up,
                   int64_t width) {
  if (width <= 0)
    width = rows;
  const uint64_t pitch = uint64_t(width * up * t.clsRowBytes(c));
  if (repeatingStore(t, lines, rows, up, width)) {
    out.push_back(storeOp(t, c, sram, int64_t(dram), lines, rows, width * up));
    out.back().rep = up - 1;
    return;
  }
  for (int64_t y = 0; y < lines; ++y)
    upsampleRows(t, out, c, sram + y * rows, dram + uint64_t(y * up) * pitch,
                 rows, up, pitch);
}

uint64_t upsampleStoreCount(const Target &t, int64_t lines, int64_t rows,
                            int64_t up, int64_t width) {
  return repeatingStore(t, lines, rows, up, width <= 0 ? rows : width)
             ? 1
             : uint64_t(lines) * upsampleRowsCount(t, rows, up);
}

namespace {

// The phase stores of phaseStore, each as (first phase pixel, lines,
// pixels a line, the first pixel's owner line and column), whole lines
// together where one store writes them, the pixels outside the owner
// skipped.
template <typename F>
void phaseRuns(const Target &t, int64_t p0, int64_t rows, const PhasePlace &q,
               F &&run) {
  const bool xstep = q.sx == 2 && t.declares(OpKind::Store, "xstep");
  // The pixels of a phase line inside the owner: x in [xlo, xhi); its lines
  // inside it: y in [ylo, yhi).
  auto firstAt = [](int64_t lo, int64_t off, int64_t s) { // s*v + off >= lo
    return lo - off <= 0 ? int64_t(0) : ceilDiv(lo - off, s);
  };
  const int64_t xlo = std::min(q.ow, firstAt(0, q.px - q.left, q.sx));
  const int64_t xhi = std::min(q.ow, firstAt(q.OW, q.px - q.left, q.sx));
  const int64_t ylo = std::min(q.oh, firstAt(0, q.py - q.top, q.sy));
  const int64_t yhi = std::min(q.oh, firstAt(q.OH, q.py - q.top, q.sy));
  const bool whole = xlo == 0 && xhi == q.ow;
  const int64_t end = p0 + rows;
  for (int64_t p = p0; p < end;) {
    const int64_t y = (p % (q.oh * q.ow)) / q.ow, x = p % q.ow;
    const int64_t lineEnd = std::min(end, p - x + q.ow);
    if (y < ylo || y >= yhi || x >= xhi) {
      p = lineEnd;
      continue;
    }
    if (x < xlo) {
      p = std::min(end, p + xlo - x);
      continue;
    }
    const int64_t Y = q.sy * y + q.py - q.top, X = q.sx * x + q.px - q.left;
    if (xstep && whole && x == 0 && end - p >= q.ow && q.ow <= t.maxX &&
        q.sy * q.OW <= t.maxStride) {
      const int64_t lines = std::min({(end - p) / q.ow, t.maxY, yhi - y});
      run(p, lines, q.ow, Y, X);
      p += lines * q.ow;
      continue;
    }
    const int64_t n = std::min({xhi - x, end - p, xstep ? t.maxX : t.maxY});
    run(p, int64_t(1), n, Y, X);
    p += n;
  }
}

} // namespace

PhasePlace phasePlace(const NTensor &x, const NTensor &owner) {
  PhasePlace q;
  q.oh = x.dims[2], q.ow = x.dims[3];
  q.sy = x.strideY(), q.sx = x.strideX();
  q.py = x.phase / q.sx, q.px = x.phase % q.sx;
  q.top = x.top, q.left = x.left;
  q.OH = owner.dims[2], q.OW = owner.dims[3];
  return q;
}

void phaseStore(const Target &t, std::vector<Op> &out, Cls c, int64_t sram,
                uint64_t tile, int64_t p0, int64_t rows, const PhasePlace &q) {
  const bool xstep = q.sx == 2 && t.declares(OpKind::Store, "xstep");
  const uint64_t rb = uint64_t(t.clsRowBytes(c));
  phaseRuns(t, p0, rows, q,
            [&](int64_t p, int64_t lines, int64_t n, int64_t Y, int64_t X) {
              const int64_t img = p / (q.oh * q.ow);
              const int64_t to = (img * q.OH + Y) * q.OW + X;
              const uint64_t dram = tile + uint64_t(to) * rb;
              if (xstep) {
                out.push_back(storeOp(t, c, sram + (p - p0), int64_t(dram),
                                      lines, n, lines > 1 ? q.sy * q.OW : n));
                out.back().xstep = 1;
              } else { // a column of n one-row lines, sx rows apart
                out.push_back(
                    storeOp(t, c, sram + (p - p0), int64_t(dram), n, 1, q.sx));
              }
            });
}

uint64_t phaseStoreCount(const Target &t, int64_t p0, int64_t rows,
                         const PhasePlace &q) {
  uint64_t k = 0;
  phaseRuns(t, p0, rows, q,
            [&](int64_t, int64_t, int64_t, int64_t, int64_t) { ++k; });
  return k;
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

void addRegSetup(const Target &t, const AddRegs &r, std::vector<Op> &out) {
  if (r.exact) {
    auto lo32 = [](int64_t v) { return int64_t(int32_t(uint32_t(v))); };
    auto hi32 = [](int64_t v) {
      return int64_t(int32_t(uint32_t(uint64_t(v) >> 32)));
    };
    const std::pair<Reg, int64_t> regs[] = {
        {Reg::AddXShift, r.xShift},
        {Reg::AddXOffsetLo, lo32(r.xOffset)},
        {Reg::AddXOffsetHi, hi32(r.xOffset)},
        {Reg::AddXAMult, lo32(r.xaMult)},
        {Reg::AddXAMultHi, hi32(r.xaMult)},
        {Reg::AddXBMult, lo32(r.xbMult)},
        {Reg::AddXBMultHi, hi32(r.xbMult)},
        {Reg::AddMin, r.lo},
        {Reg::AddMax, r.hi}};
    for (auto &kv : regs)
      out.push_back(setregOp(t, kv.first, kv.second));
    return;
  }
  const std::pair<Reg, int32_t> regs[] = {{Reg::AddLshift, r.lshift},
                                          {Reg::AddAZp, r.aZp},
                                          {Reg::AddAMult, r.aMult},
                                          {Reg::AddAShift, r.aShift},
                                          {Reg::AddBZp, r.bZp},
                                          {Reg::AddBMult, r.bMult},
                                          {Reg::AddBShift, r.bShift},
                                          {Reg::AddOutMult, r.outMult},
                                          {Reg::AddOutShift, r.outShift},
                                          {Reg::AddOutZp, r.outZp},
                                          {Reg::AddMin, r.lo},
                                          {Reg::AddMax, r.hi}};
  for (auto &kv : regs)
    out.push_back(setregOp(t, kv.first, kv.second));
}

} // namespace ember::accel

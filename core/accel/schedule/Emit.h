// The DMA and timing helpers scheduling emits with (docs/npu-sdk.md,
// "Layout and tiling"). The cost model's side of a layer (the tiling
// problems of Codegen.cpp and GemmCode.cpp) counts DMA operations and array
// and vector cycles with the same functions that emit them, so the two
// cannot drift apart.
#pragma once

#include "ember/accel/Layers.h"
#include "ember/accel/Op.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace ember::accel {

// How `rows` contiguous rows split into one 2-D transfer of y lines of x
// rows (stride x), x <= maxX and y <= maxY; {0, 0} when no split does.
std::pair<int64_t, int64_t> oneTransfer(const Target &t, int64_t rows);
// `rows` contiguous rows of class `c` between DRAM and its memory, in as few
// loads or stores as the size fields allow; moveRowsCount: how many.
void moveRows(const Target &t, std::vector<Op> &out, bool store, Cls c,
              int64_t sram, uint64_t dram, int64_t rows, bool w16 = false);
uint64_t moveRowsCount(const Target &t, int64_t rows);
// One DRAM row repeated `rows` times (stride 0): bias rows, broadcast adds;
// repeatRowCount: how many loads.
void repeatRow(const Target &t, std::vector<Op> &out, Cls c, int64_t sram,
               uint64_t dram, int64_t rows);
uint64_t repeatRowCount(const Target &t, int64_t rows);
// A band of `lines` image lines of `cols` rows each, contiguous in the
// memory of class `c` and `pitch` rows apart in DRAM (a column band of a
// convolution's output or add operand), in as few 2-D loads or stores as
// the size fields allow (cols <= Target::maxX); moveBandCount: how many.
void moveBand(const Target &t, std::vector<Op> &out, bool store, Cls c,
              int64_t sram, uint64_t dram, int64_t lines, int64_t cols,
              int64_t pitch, bool w16 = false);
uint64_t moveBandCount(const Target &t, int64_t lines);
// A block of `lines` image lines of `cols` rows each, `stride` rows apart
// in DRAM, loaded with its padding into the memory of class `c`: each line
// padLeft + cols + padRight rows, padTop padding lines above and padBottom
// below, in loads of at most Target::maxY lines (the top padding with the
// first, the bottom with the last); loadBlockCount: how many.
void loadBlock(const Target &t, std::vector<Op> &out, Cls c, int64_t sram,
               uint64_t dram, int64_t lines, int64_t cols, int64_t stride,
               int64_t padTop, int64_t padBottom, int64_t padLeft,
               int64_t padRight);
uint64_t loadBlockCount(const Target &t, int64_t lines);
// Nearest upsampling by `up` as rows are stored: `rows` rows from `sram`,
// one image line, each to `up` x `up` DRAM rows (its output line's first
// row at `dram`, `pitch` bytes between output lines), as strided stores of
// one row a line; upsampleRowsCount: how many.
void upsampleRows(const Target &t, std::vector<Op> &out, Cls c, int64_t sram,
                  uint64_t dram, int64_t rows, int64_t up, uint64_t pitch);
uint64_t upsampleRowsCount(const Target &t, int64_t rows, int64_t up);
// The same for `lines` image lines of `rows` rows each (the result lines
// `width` x up rows apart in DRAM: a column band of lines `width` pixels
// wide; 0: `rows`, consecutive lines): one store repeating each row up x up
// times (its rep field) when the target declares it and the block fits its
// fields, else upsampleRows line by line; upsampleStoreCount: how many.
void upsampleStore(const Target &t, std::vector<Op> &out, Cls c, int64_t sram,
                   uint64_t dram, int64_t lines, int64_t rows, int64_t up,
                   int64_t width = 0);
// Where a phase map's pixels go (NTensor::ilv): the phase map of oh x ow
// pixels an image, phase (py, px) of sy x sx, pixel (y, x) at (sy*y + py -
// top, sx*x + px - left) of the owner's OH x OW map, or nowhere outside it.
struct PhasePlace {
  int64_t oh = 0, ow = 0, sy = 1, sx = 1, py = 0, px = 0, top = 0, left = 0;
  int64_t OH = 0, OW = 0;
};
PhasePlace phasePlace(const NTensor &x, const NTensor &owner);
// Rows [p0, p0 + rows) of a phase map stored at their pixels of the owner,
// whose tile starts at `tile`: whole lines with one store of x step 1 for
// sx = 2 where the target declares it (block row (y, x) to (sy*y + py)*OW +
// 2x + px: sy owner lines a phase line), else each line (its pixels inside
// the owner) as a column of one-row lines sx rows apart; lines outside the
// owner are not stored. phaseStoreCount: how many stores.
void phaseStore(const Target &t, std::vector<Op> &out, Cls c, int64_t sram,
                uint64_t tile, int64_t p0, int64_t rows, const PhasePlace &q);
uint64_t phaseStoreCount(const Target &t, int64_t p0, int64_t rows,
                         const PhasePlace &q);
uint64_t upsampleStoreCount(const Target &t, int64_t lines, int64_t rows,
                            int64_t up, int64_t width = 0);

// Array cycles of one array op streaming `rows` rows; engine cycles of one
// vector op over `rows` rows.
uint64_t gemmCycles(const Target &t, int64_t rows);
uint64_t vectorCycles(const Target &t, int64_t rows);

// The SetRegs of a quantized add's registers (TFLite's, or the exact add's
// add_x_* and clamp), appended to `out`.
void addRegSetup(const Target &t, const AddRegs &r, std::vector<Op> &out);

} // namespace ember::accel

// Tiling and double buffering for a small scratchpad (docs/lir.md, "Tiling
// and double buffering"). A backend whose compute reads a small `sram`
// space calls tileForSram on unplanned LIR (after IRGen, before
// planMemory): each MatMul or Conv whose operands do not fit is rewritten
// into a loop-free sequence of tiles. Every tile's operands are copied into
// sram with dma.start (tile t+1's loads are issued before tile t's
// compute), waited right before the compute that reads them, and each
// result tile goes back with an asynchronous dma.start that is waited
// before its sram buffer half is written again. The tiles run the same
// kernels on smaller shapes, so results are bit-identical.
#pragma once

#include "lir/LIR.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ember::lir {

struct TilingOptions {
  std::string sramSpace = "sram";
  // Bytes of the space the tiles may use; 0 takes the space's capacity.
  // Inputs, outputs and weights placed in the space and activations live
  // across the instruction are subtracted from it.
  uint64_t capacity = 0;
  // Instruction indices to tile (each must be a MatMul or Conv); empty
  // means every MatMul and Conv whose operands do not fit in the budget.
  std::vector<size_t> only;
};

// One tiled instruction.
struct TiledInst {
  std::string op;   // "MatMul" or "Conv"
  std::string loc;  // the instruction's loc
  size_t index = 0; // index of the original instruction
  // MatMul: rows of A and columns of B per tile; Conv: output rows and
  // output channels per tile.
  int64_t tileRows = 0, tileCols = 0;
  bool outerOverCols = false; // loop order: column/channel blocks outermost
  size_t tiles = 0;
  size_t dmas = 0;         // dma.start instructions (loads + stores)
  uint64_t loadBytes = 0;  // bytes moved into sram
  uint64_t storeBytes = 0; // bytes moved out of sram
  uint64_t sramBytes = 0;  // aligned bytes of the sram buffers
  uint64_t sramBudget = 0; // what was available
};

struct TilingReport {
  std::vector<TiledInst> tiled;
};

// Rewrites `f` in place. Fails (leaving `f` unchanged) when a selected
// instruction cannot be tiled: an unsupported shape or attribute, or a
// smallest tile that does not fit the budget.
Expected<TilingReport> tileForSram(Function &f, const TilingOptions &o = {});

} // namespace ember::lir

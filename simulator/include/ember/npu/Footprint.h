//===- Footprint.h - What each NPU instruction reads and writes -----------===//
//
// The one description of an instruction's memory accesses, used by the golden
// model's retirement records (the bytes an instruction wrote), by the random
// program generator (tokens between engines whose accesses conflict) and by
// the coverage model (hazards). Writes cover every byte the instruction
// writes: exactly those for the 8-bit forms and for GEMM16/DWGEMM16 (spec
// version 5: their rows and the upper-half twins), and for the other 16-bit
// forms (spec version 3) also the upper-half twin of every row
// (footprintExact says which). Reads are the ranges the instruction may read
// (POOL's from its registers).
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_FOOTPRINT_H
#define EMBER_NPU_FOOTPRINT_H

#include "ember/npu/Isa.h"

#include <cstdint>
#include <vector>

namespace ember::npu {

/// Address spaces of a footprint and of a retirement record (driver.h): the
/// scratchpads (EMBER_NPU_MEM_*), DRAM and the VECTOR engine's output table.
/// Every address is a byte address inside its space (a scratchpad row r starts
/// at r x its row bytes).
constexpr int kSpaceDram = kNumMems;
constexpr int kSpaceLut = kNumMems + 1;
constexpr int kNumSpaces = kNumMems + 2;
/// The table space: the 8-bit output table at bytes [0, 256), the 16-bit
/// table's 513 little-endian int16 entries at [256, 1282).
constexpr uint64_t kLut16Offset = 256;
constexpr uint64_t kLutSpaceBytes = kLut16Offset + 2 * 513;
const char *spaceName(int space);
/// Bytes of the space: a scratchpad's, the tables' 1282, or `dramBytes`.
uint64_t spaceBytes(int space, uint64_t dramBytes);

struct Access {
  int space;
  uint64_t lo, hi; // bytes [lo, hi)
  bool write;
};

/// Every access of `insn`, `regs` holding the registers at its point in the
/// program (POOL's geometry). With `exactWrites` a STORE's writes are its
/// rows (and lane groups) one by one, merged where they touch; without, one
/// range from its first to its last byte (enough to order accesses).
std::vector<Access> footprint(const Insn &insn, const int32_t *regs,
                              bool exactWrites = true);

/// Whether footprint()'s writes are exactly the bytes `insn` writes (false:
/// a superset).
bool footprintExact(const Insn &insn);

/// Sorts and merges overlapping or touching ranges of one kind (in place).
void mergeAccesses(std::vector<Access> &ranges);

} // namespace ember::npu

#endif // EMBER_NPU_FOOTPRINT_H

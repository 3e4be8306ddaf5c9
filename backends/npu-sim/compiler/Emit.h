// The DMA and timing helpers code generation emits with (docs/npu-backend.md,
// "Layout and tiling"); the instruction builders themselves are the
// simulator's (ember/npu/Builders.h), shared with the test generators. The cost
// model's side of a layer (Codegen.cpp's tiling problems) counts DMA
// instructions and GEMM and VECTOR cycles with the same functions that emit
// them, so the two cannot drift apart.
#pragma once

#include "ember/npu/Builders.h"
#include "ember/npu/Isa.h"
#include "ember/npu/NpuSpec.h"

#include <cstdint>
#include <utility>
#include <vector>

namespace ember::npusim {

constexpr int64_t kMaxLoop = 1023;   // 10-bit size and loop fields
constexpr int64_t kMaxStride = 4095; // LOAD's 12-bit stride field

using npu::dwgemmInsn;
using npu::gemmInsn;
using npu::loadInsn;
using npu::makeInsn;
using npu::moveInsn;
using npu::poolInsn;
using npu::requantInsn;
using npu::setregInsn;
using npu::storeInsn;
using npu::vaddInsn;

// How `rows` contiguous rows split into one 2-D transfer of y lines of x
// rows (stride x), x and y <= kMaxLoop; {0, 0} when no split does.
std::pair<int64_t, int64_t> oneTransfer(int64_t rows);
// `rows` contiguous rows between DRAM and a scratchpad, in as few LOADs or
// STOREs as the size fields allow; moveRowsCount: how many.
void moveRows(std::vector<npu::Insn> &out, bool store, int mem, int64_t sram,
              uint64_t dram, int64_t rows);
uint64_t moveRowsCount(int64_t rows);
// One DRAM row repeated `rows` times (stride 0): bias rows, broadcast adds;
// repeatRowCount: how many LOADs.
void repeatRow(std::vector<npu::Insn> &out, int mem, int64_t sram,
               uint64_t dram, int64_t rows);
uint64_t repeatRowCount(int64_t rows);

// Array cycles of one GEMM of `rows` rows; engine cycles of one VECTOR op.
uint64_t gemmCycles(int64_t rows);
uint64_t vectorCycles(int64_t rows);

} // namespace ember::npusim

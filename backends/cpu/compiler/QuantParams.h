// The output side of an int8 step and the helpers every int8 packing shares
// (ParamBlocks.cpp for the kernel library, EdgeParams.cpp for the Arm
// runtime): the fused Requantize's result kind, zero point, clamp and table,
// the QGEMM block's common fields, and a node's zero points.
#pragma once

#include "Program.h"
#include "runtime/RtAbi.h"

#include <climits>
#include <cstdint>
#include <vector>

namespace ember::cpugen {

// The output side of an int8 step (RtAbi.h): the result kind, zero point,
// clamp and the requantization table (multipliers, then shifts; in the
// float32 profile the f32 multipliers' bits, then zeros) from the group's
// fused Requantize; without one, the int32 accumulator.
struct QOut {
  int64_t kind = EMBER_RT_Y_I32, zp = 0, lo = INT32_MIN, hi = INT32_MAX;
  int64_t floatScale = 0;
  std::vector<int32_t> table{0, 0}; // count 1: multiplier 0, shift 0
  size_t count() const { return table.size() / 2; }
};

QOut qoutOf(const Group &g);

// A QGEMM parameter block's shape, output and ISA fields (the rest zero).
void qgemmParams(std::vector<int64_t> &p, int64_t M, int64_t N, int64_t K,
                 const QOut &qo, int64_t isa);

// Zero point operand i of n (absent: 0), value `c` of a per-channel one.
int64_t zeroPointAt(const Node &n, size_t i, int64_t c);

} // namespace ember::cpugen

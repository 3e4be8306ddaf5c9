// Dependency-token assignment (docs/npu-backend.md, "Tokens"). The code
// generator emits instructions without wait/signal masks; this pass derives
// each instruction's memory footprint from its fields (scratchpad rows and
// DRAM bytes read and written), finds for every instruction the latest
// conflicting instruction (read after write, write after read, write after
// write) on each other engine, and turns those edges into tokens: one
// signal on the producer and one wait on the consumer, paired in program
// order on each channel. An edge already implied by an earlier wait on the
// same channel is dropped. The result is checked: executed in program
// order, no channel underflows or exceeds the FIFO depth, so the concurrent
// machine cannot deadlock.
#pragma once

#include "ember/npu/Isa.h"

#include <string>
#include <vector>

namespace ember::npusim {

struct TokenStats {
  size_t edges = 0;    // token pairs inserted
  size_t maxDepth = 0; // most tokens outstanding on one channel
};

// Sets wait/signal on every instruction of `prog` (ending in FINISH).
// Returns "" or the reason the program cannot be made valid.
std::string assignTokens(std::vector<npu::Insn> &prog, TokenStats *stats);

// Whether `in` reads or writes rows [lo, hi) of scratchpad `mem`, or bytes
// [lo, hi) of DRAM when `mem` is npu::kNumMems (a POOL, whose span depends on
// registers, counts as touching all of OUT and no DRAM). The code generator
// asks before it moves an instruction across others; stripes ask which
// instructions touch a tensor's DRAM bytes.
bool touchesRows(const npu::Insn &in, int mem, uint64_t lo, uint64_t hi);

// The [lo, hi) ranges `in` reads or writes in domain `mem` (a scratchpad id,
// or npu::kNumMems for DRAM bytes), appended to `out`; `regs` the VECTOR
// registers in effect (POOL's window). Layer cascading asks which OUT rows
// two layers use and which instructions touch a tensor's DRAM bytes.
void accessedRanges(const npu::Insn &in, const int32_t *regs, int mem,
                    std::vector<std::pair<uint64_t, uint64_t>> &out);

// Program-order validity: "" or "instruction i: ..." (underflow/overflow).
std::string checkTokens(const std::vector<npu::Insn> &prog);

} // namespace ember::npusim

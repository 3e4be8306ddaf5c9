//===- Stall.h - The stall watchdog's limit and report ----------*- C++ -*-===//
//
// A DUT that stops retiring would run forever. The timed executors (SystemC,
// RTL) stop a run when no instruction has retired for a limit of cycles and
// report where every engine stood (driver.h, "Stalls"). This file holds what
// they and `ember cosim` share: the default limit, derived from the program
// and the DRAM timing, and the report's text. docs/npu-rtl.md, "Stall
// watchdog".
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_STALL_H
#define EMBER_NPU_STALL_H

#include "ember/npu/Isa.h"
#include "ember/npu/driver.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ember::npu {

/// The DRAM model's timing (the executors' DramTiming / RtlConfig fields).
struct DramParams {
  uint32_t bytesPerCycle = EMBER_NPU_DRAM_BYTES_PER_CYCLE_DEFAULT;
  uint32_t latencyCycles = EMBER_NPU_DRAM_LATENCY_CYCLES_DEFAULT;
  uint32_t burstBytes = EMBER_NPU_DRAM_BURST_BYTES_DEFAULT;
};

/// Requests the DRAM model's queue holds (hw/sim/npu_dram_model.sv's QD, the
/// SystemC DramTarget's).
constexpr uint32_t kDramQueueDepth = 64;

/// An upper bound on the cycles `insn` takes from the moment every older
/// instruction has retired until it retires itself, on the spec's timing and
/// the DRAM model (`regs`: the registers as the program has set them before
/// it, for POOL's window): its fetch and issue, its rows, and each of its DRAM
/// bursts behind a full request queue of the other DMA engine's bursts, the
/// channel's occupancy and the latency.
uint64_t retireLatencyBound(const Insn &insn, const int32_t *regs,
                            const DramParams &dram);

/// The default stall limit of `program` (EMBER_NPU_STALL_DERIVED): no
/// correct run of it goes longer without a retirement. In a program the
/// golden model completes, the oldest instruction not retired has its tokens
/// (their producers are older) and space for its own (the consumers of the
/// tokens before it are older too), so it retires within its
/// retireLatencyBound; the limit is the largest bound over the program plus
/// a margin.
uint64_t defaultStallLimit(const std::vector<Insn> &program,
                           const DramParams &dram);

/// The limit a run applies: `configured` (driver.h's stall_cycles), or the
/// derived one for EMBER_NPU_STALL_DERIVED.
uint64_t stallLimitFor(uint64_t configured, const std::vector<Insn> &program,
                       const DramParams &dram);

/// The oldest instruction a stopped run has not retired: the lowest index
/// an engine holds or queues, else the next one to fetch.
uint64_t oldestUnretired(const ember_npu_stop_state_t &s);

/// One engine's line of a stop state: what it holds and waits on.
std::string describeEngine(const ember_npu_stop_state_t &s, int engine,
                           const std::vector<Insn> &program);

/// The token channels holding tokens, and the DMA state, as text.
std::string describeTokens(const ember_npu_stop_state_t &s);
std::string describeDma(const ember_npu_stop_state_t &s);

/// A run's error for a stall: "instruction <i>: stall: <op> on <engine> did
/// not retire: ..." with every engine, the tokens and DMA, on one line.
std::string stallError(const ember_npu_stop_state_t &s,
                       const std::vector<Insn> &program);

/// A planted fault ("fault=stall-ENGINE@I" in driver.h's config options):
/// the engine stops for good at its first instruction at or after I (SETREG
/// aside): it never finishes it (GEMM: never preloads its tile).
struct FaultPlan {
  int engine = -1; ///< kNumEngines-range, -1: none
  uint64_t index = 0;
  bool on() const { return engine >= 0; }
};
/// Parses a built-in executor's option string ("" or null: no options);
/// returns "" or what is wrong with it.
std::string parseExecutorOptions(const char *options, FaultPlan &fault);

} // namespace ember::npu

#endif // EMBER_NPU_STALL_H

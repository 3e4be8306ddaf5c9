//===- Cosim.h - Lockstep comparison of two NPU executors ------*- C++ -*-===//
//
// Runs one program on a reference executor (REF) and a device under test
// (DUT), both behind the C driver (driver.h), and compares them at every
// instruction's retirement: the bytes it wrote (scratchpads, DRAM, the
// VECTOR engine's tables) and its own counter contributions (MACs, DMA
// bytes). The first divergence is the divergent instruction the DUT retired
// first (an instruction it never retired counts at the end of its run).
// docs/npu-rtl.md, "Verification flow".
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_COSIM_H
#define EMBER_NPU_COSIM_H

#include "ember/npu/Isa.h"
#include "ember/npu/driver.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ember::npu {

/// One byte on which the two executors disagree.
struct ByteDiff {
  int space; // EMBER_NPU_MEM_* or EMBER_NPU_SPACE_*
  uint64_t addr;
  int ref, dut; // the value each left there; -1: it did not write it
};

struct Divergence {
  uint64_t index = 0;          // the instruction
  uint32_t engine = 0;         // EMBER_NPU_ENGINE_* (kNumEngines: fetch)
  uint64_t dutCycle = 0;       // when the DUT retired it (or its run ended)
  bool dutRetired = true;      // false: the DUT never retired it
  std::string what;            // one line: what differs
  std::vector<ByteDiff> bytes; // the differing bytes, in address order
  uint64_t byteCount = 0;      // all of them (bytes holds the first ones)
  uint64_t refCounts[3] = {0, 0, 0}; // macs, load bytes, store bytes
  uint64_t dutCounts[3] = {0, 0, 0};
  /// When the REF retired it: its place in the REF's retirements (1 = first)
  /// of refRetired, and its cycle (a timed REF's only).
  uint64_t refOrder = 0, refRetired = 0, refCycle = 0;
  bool refTimed = false;
  /// An untimed REF's: the cycle a timed model retires it in (kNotRetired:
  /// none was run), set by the caller.
  uint64_t timedCycle = ~uint64_t(0);
  /// The DUT stalled (driver.h, "Stalls") with this instruction not retired:
  /// where its engines stood then.
  bool stalled = false;
  ember_npu_stop_state_t stop{};
};

struct CosimResult {
  bool agree = false;
  uint64_t retired = 0; // instructions the REF retired
  uint64_t compared = 0;
  uint64_t divergent = 0;         // instructions that differ
  std::string refError, dutError; // the runs' own errors ("" when fine)
  uint64_t dutCycles = 0;
  Divergence first; // when !agree
  /// DRAM bytes that differ after both runs (writes no instruction owned).
  uint64_t dramDiffs = 0;
  /// Per instruction, the cycle each side retired it in (kNotRetired: it
  /// did not), for comparing two timed executors' timing.
  static constexpr uint64_t kNotRetired = ~uint64_t(0);
  std::vector<uint64_t> refRetire, dutRetire;
  uint64_t refCycles = 0;
  bool timing = false; // set by a caller comparing timing: it differed
  /// The DUT's run was stopped by its stall limit (driver.h, "Stalls");
  /// dutStop says where its engines stood.
  bool stalled = false;
  ember_npu_stop_state_t dutStop{};
};

/// The first timing difference of two timed executors' runs: the
/// instruction whose retire cycles differ that either side retired first.
struct TimingDiff {
  bool differs = false;
  uint64_t index = 0, refCycle = 0, dutCycle = 0; // kNotRetired: never
};
TimingDiff firstTimingDiff(const CosimResult &res);

/// Runs `program` on `ref`, then on `dut` (both with the same DRAM contents
/// on entry: the caller loads both), and compares. Keeps at most `maxBytes`
/// differing bytes in the report. Returns "" or a setup error. A DUT that
/// stops retiring (no retirement for its stall limit while the REF retired
/// the rest) diverges at the first instruction, in the REF's retirement
/// order, that it did not retire, with where its engines stood.
std::string cosimulate(ember_npu_device_t *ref, ember_npu_device_t *dut,
                       const std::vector<Word> &program, CosimResult &out,
                       size_t maxBytes = 16);

/// The report's text: the first divergence (index, instruction text, engine,
/// DUT cycle, differing bytes with addresses) or the agreement.
/// `layer`, when not empty, is a line naming the instruction's source layer
/// and nodes (a compiled model's layer map, ember/plugin_handover.hpp).
std::string formatDivergence(const Divergence &d,
                             const std::vector<Word> &program,
                             const std::string &layer = "");

} // namespace ember::npu

#endif // EMBER_NPU_COSIM_H

//===- NpuModel.h - SystemC/TLM-2.0 approximately-timed NPU model ---------===//
//
// Four engine threads (LOAD, GEMM, VECTOR, STORE) and a fetch thread, connected
// by dependency-token channels. Engines reach the scratchpads and the DRAM
// through TLM-2.0 sockets and a router; the DRAM target models bandwidth,
// latency and burst size. One event per instruction (plus one per token
// hand-over), so DMA overlaps compute exactly as far as the tokens allow. The
// model is a process-wide singleton because SystemC has one kernel per process.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_SYSTEMC_NPUMODEL_H
#define EMBER_NPU_SYSTEMC_NPUMODEL_H

#include "ember/npu/Isa.h"
#include "ember/npu/driver.h"

#include <array>
#include <string>
#include <vector>

namespace ember::npu {

struct DramTiming {
  uint32_t bytesPerCycle = EMBER_NPU_DRAM_BYTES_PER_CYCLE_DEFAULT;
  uint32_t latencyCycles = EMBER_NPU_DRAM_LATENCY_CYCLES_DEFAULT;
  uint32_t burstBytes = EMBER_NPU_DRAM_BURST_BYTES_DEFAULT;
};

/// One executed instruction on one engine, in cycles from the start of the run.
struct BusyInterval {
  uint64_t start;
  uint64_t end;
  uint32_t insnIndex;
  Opcode op;
  bool stall; // waiting for a token (or FIFO space) rather than executing
};

struct SimResult {
  std::string error; // "" or "instruction <i>: <cause>"
  ember_npu_counters_t counters{};
  std::array<std::vector<BusyInterval>, kNumEngines>
      busy; // executing, in order
  std::array<std::vector<BusyInterval>, kNumEngines>
      stalls; // token waits, in order
};

class NpuTop;

class SystemCModel {
public:
  /// The process-wide model (elaborated on first use).
  static SystemCModel &instance();
  /// Resets scratchpads/registers/tokens and runs `program` (checked with
  /// checkProgram) on `dram` until FINISH, an execution error or a detected
  /// deadlock.
  SimResult run(const std::vector<Insn> &program, uint8_t *dram,
                uint64_t dramBytes, const DramTiming &timing);
  uint8_t *sram(int mem);

private:
  SystemCModel();
  NpuTop *top_;
};

/// Writes a Chrome/Perfetto trace (one track per engine, slices for executing
/// instructions and "wait" slices for token stalls; 1 cycle shown as 1 us).
std::string writeChromeTrace(const std::string &path, const SimResult &result);

} // namespace ember::npu

#endif // EMBER_NPU_SYSTEMC_NPUMODEL_H

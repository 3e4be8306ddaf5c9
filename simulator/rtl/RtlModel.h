//===- RtlModel.h - the NPU RTL (hw/rtl) under Verilator --------*- C++ -*-===//
//
// The third executor behind driver.h: the SystemVerilog NPU of hw/rtl with the
// behavioural DRAM of hw/sim, verilated in --cc mode and clocked from a plain
// C++ loop. The instruction port is fed from the program one instruction per
// cycle; DRAM contents live in the driver's buffer and are reached through
// DPI-C. Scratchpads are cleared and read back directly (public arrays). Unlike
// the SystemC model, any number of RTL devices may exist at once (one thread
// each).
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_RTL_RTLMODEL_H
#define EMBER_NPU_RTL_RTLMODEL_H

#include "ember/npu/Isa.h"
#include "ember/npu/Stall.h"
#include "ember/npu/driver.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ember::npu {

struct RtlConfig {
  uint32_t bytesPerCycle = EMBER_NPU_DRAM_BYTES_PER_CYCLE_DEFAULT;
  uint32_t latencyCycles = EMBER_NPU_DRAM_LATENCY_CYCLES_DEFAULT;
  uint32_t burstBytes = EMBER_NPU_DRAM_BURST_BYTES_DEFAULT;
  /// Cycles without progress (no instruction fetched or retired, no SRAM or
  /// DRAM transfer) after which a run fails naming the oldest executing
  /// instruction; 0 = a default that covers the DRAM latency.
  uint64_t watchdogCycles = 0;
  std::string waveformPath; ///< FST waveform of each run, or empty
  /// Cycles without a retirement after which a run stops as a stall (driver.h,
  /// "Stalls"): EMBER_NPU_STALL_DERIVED (the program's bound,
  /// ember/npu/Stall.h) or EMBER_NPU_STALL_OFF.
  uint64_t stallCycles = EMBER_NPU_STALL_DERIVED;
  /// A planted fault (driver.h's config options): from the cycle its engine
  /// holds the instruction, the engine never finishes it (a register of its
  /// control held: the datapath's setup flag, GEMM's shadow-weight countdown).
  FaultPlan fault;
  /// Test hook: from this cycle of the run on the DRAM model stops responding.
  uint64_t freezeDramAtCycle = UINT64_MAX;
  /// Retirement records (driver.h), from hw/sim/npu_retire_monitor.sv; a
  /// nonzero return of retireFn stops the run.
  ember_npu_retire_fn retireFn = nullptr;
  void *retireUser = nullptr;
  /// An FST waveform of cycles [windowFirst, windowLast] only (a model made
  /// with waveform support), or empty.
  std::string windowPath;
  uint64_t windowFirst = 0, windowLast = 0;
};

struct RtlResult {
  std::string error; ///< "" or "instruction <i>: <cause>"
  ember_npu_counters_t counters{};
  /// Where every engine stood when the run stopped (its `stalled` set when
  /// the stall limit stopped it).
  ember_npu_stop_state_t stop{};
};

class RtlModel {
public:
  /// Largest burst the RTL's STORE staging buffer takes (bytes).
  static constexpr uint32_t kMaxBurstBytes = 4096;
  /// Width of the memory port in bytes: one ACC row per beat.
  static constexpr uint32_t kBusBytes = 4 * EMBER_NPU_DIM;

  explicit RtlModel(bool waveforms);
  ~RtlModel();
  RtlModel(const RtlModel &) = delete;
  RtlModel &operator=(const RtlModel &) = delete;

  /// "" or why the RTL cannot run with this DRAM configuration.
  static std::string checkConfig(const RtlConfig &config);
  /// Whether this build can write waveforms.
  static bool waveformsSupported();
  /// Whether this model was made with waveform support.
  bool waveforms() const;

  /// Resets the NPU (scratchpads, registers, tokens) and runs `program`
  /// (already checked with checkProgram, decoded in `decoded`) on `dram` until
  /// FINISH or an error.
  RtlResult run(const std::vector<Word> &program,
                const std::vector<Insn> &decoded, uint8_t *dram,
                uint64_t dramBytes, const RtlConfig &config);
  /// Copies `rows` rows of scratchpad `mem` from `row` on.
  void readSram(int mem, uint32_t row, void *data, uint32_t rows) const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace ember::npu

#endif // EMBER_NPU_RTL_RTLMODEL_H

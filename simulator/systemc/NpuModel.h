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
#include "ember/npu/Stall.h"
#include "ember/npu/driver.h"

#include <array>
#include <functional>
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
  /// Where every engine stood when the run stopped (driver.h, "Stalls").
  ember_npu_stop_state_t stop{};
};

/// How SystemCModel::run runs a program beyond its inputs.
struct RunControl {
  /// Retirement records (driver.h); a nonzero return stops the run.
  ember_npu_retire_fn retireFn = nullptr;
  void *retireUser = nullptr;
  /// The stall limit (driver.h's stall_cycles: EMBER_NPU_STALL_DERIVED, a
  /// number of cycles or EMBER_NPU_STALL_OFF).
  uint64_t stallCycles = EMBER_NPU_STALL_DERIVED;
  /// A planted stall (driver.h's config options).
  FaultPlan fault;
};

class NpuTop;

/// The multi-core platform (hw/spec/npu.json, "platform"):
/// EMBER_NPU_PLATFORM_CORES cores, each with its own fetch, engines,
/// scratchpads and DRAM port, elaborated once per process (SystemC has one
/// kernel). A run started on a core begins at the kernel's current time, and
/// advance() runs every busy core at once; runs started with a shared channel
/// book their DRAM bursts on it too, so cores contend for its bandwidth. Core
/// 0 is the model SystemCModel runs. One thread drives it at a time.
class SystemCPlatform {
public:
  /// No instruction keeps a core without progress this long: a core that
  /// makes none while others keep the kernel busy is deadlocked.
  static constexpr uint64_t kWatchdogCycles = 4000000;

  static SystemCPlatform &instance();
  /// True when this copy of the model has not elaborated yet but the
  /// process's SystemC kernel already holds modules: another copy (another
  /// NPU plugin, e.g. another array size) owns the one kernel a process has.
  static bool kernelTakenElsewhere();
  unsigned cores() const;
  bool busy(unsigned core) const;
  /// Starts `program` on an idle core now: resets its scratchpads,
  /// registers and tokens; `dram` is its window of the DRAM.
  /// sharedBytesPerCycle: the bandwidth of the channel all cores share,
  /// which its bursts also book (0: none, the core alone). `result`
  /// receives the run until finish().
  void start(unsigned core, const std::vector<Insn> &program, uint8_t *dram,
             uint64_t dramBytes, const DramTiming &timing,
             uint32_t sharedBytesPerCycle, SimResult *result);
  /// Runs the kernel until a run ends, `cycles` pass or nothing is left to
  /// happen (toTime: the `cycles` pass even then); returns the cores whose
  /// runs ended since the last call (FINISH reached, an execution error, or a
  /// deadlock: nothing left to happen, or no progress in kWatchdogCycles while
  /// other cores ran).
  std::vector<unsigned> advance(uint64_t cycles, bool toTime = false);
  /// Makes a running advance() return soon (from any thread).
  void interrupt();
  /// Closes an ended run: the deadlock report when FINISH was not reached,
  /// the derived counters (gemm_busy, overlap). The core is idle after.
  void finish(unsigned core);
  /// The kernel's time, and when the current (or last) run of `core`
  /// started, in cycles since elaboration.
  uint64_t now() const;
  uint64_t runStart(unsigned core) const;
  uint8_t *sram(unsigned core, int mem);
  /// Later runs of `core` report retirements to `fn` (driver.h; NULL: off).
  void setRetireCallback(unsigned core, ember_npu_retire_fn fn, void *user);
  /// Later runs of `core` stall at `fault` (none: FaultPlan()).
  void setFault(unsigned core, const FaultPlan &fault);
  /// The kernel's cycle of the last retirement of the run on `core` (its
  /// start before the first).
  uint64_t lastRetire(unsigned core) const;
  /// Ends the run on `core` as a stall: its error and stop state (`limit`:
  /// the stall limit that applied). finish() closes it as for any run.
  void stall(unsigned core, uint64_t limit);

private:
  SystemCPlatform();
  struct State;
  State *s_;
};

class SystemCModel {
public:
  /// The process-wide model (core 0 of the platform).
  static SystemCModel &instance();
  /// Resets scratchpads/registers/tokens and runs `program` (checked with
  /// checkProgram) on `dram` until FINISH, an execution error, a detected
  /// deadlock or a stall (no retirement for the stall limit).
  SimResult run(const std::vector<Insn> &program, uint8_t *dram,
                uint64_t dramBytes, const DramTiming &timing,
                const RunControl &control = RunControl());
  uint8_t *sram(int mem);

private:
  SystemCModel();
};

// ---- core control: what SystemCPlatform (NpuPlatform.cpp) drives each core
// with (NpuModel.cpp, where the core's modules are defined).
/// Elaborates a core; `onRunEnd` is called in the kernel when a run ends
/// (FINISH reached, or an error unwound it).
NpuTop *newCore(const char *name, std::function<void()> onRunEnd);
/// The DRAM channel a platform's cores share (NpuPlatform.cpp): books a
/// burst of `bytes` in the first free slot from `fromCycle` (its port is
/// free) and returns the slot's start, in cycles (a fraction of a cycle for
/// a short burst); `nowCycle` lets it forget slots in the past.
struct SharedDram;
double bookSharedDram(SharedDram &s, double nowCycle, double fromCycle,
                      uint64_t bytes);
/// Resets the core and starts `program` at the kernel's current time; its
/// DRAM bursts also book `shared` (null: the core alone).
void beginRun(NpuTop &t, const std::vector<Insn> &program, uint8_t *dram,
              uint64_t dramBytes, const DramTiming &timing, SharedDram *shared,
              SimResult *result);
/// Closes the run: the deadlock report when FINISH was not reached (then
/// unwinds the core's threads), the derived counters.
void endRun(NpuTop &t);
uint8_t *coreSram(NpuTop &t, int mem);
/// Later runs of the core report retirements to `fn` (driver.h; NULL: off).
void setRetireCallback(NpuTop &t, ember_npu_retire_fn fn, void *user);
uint64_t coreRunStart(const NpuTop &t);
/// Later runs of the core stall at `fault`.
void setCoreFault(NpuTop &t, const FaultPlan &fault);
/// The kernel cycle of the run's last retirement (its start before any).
uint64_t coreLastRetire(const NpuTop &t);
/// Where the core's engines stand now, for a stop state (cycles relative to
/// the run's start).
ember_npu_stop_state_t coreStopState(NpuTop &t, uint64_t limit);
/// Ends the run in progress as a stall: the error and the stop state; then
/// endRun unwinds it.
void stallRun(NpuTop &t, uint64_t limit);

/// Writes a Chrome/Perfetto trace (one track per engine, slices for executing
/// instructions and "wait" slices for token stalls; 1 cycle shown as 1 us).
std::string writeChromeTrace(const std::string &path, const SimResult &result);
/// The same, of the instructions that overlap cycles [first, last] only.
std::string writeChromeTrace(const std::string &path, const SimResult &result,
                             uint64_t first, uint64_t last);

} // namespace ember::npu

#endif // EMBER_NPU_SYSTEMC_NPUMODEL_H

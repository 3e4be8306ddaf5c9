// Running a compiled NPU program through the simulator's C driver
// (simulator/include/ember/npu/driver.h): the golden model, the SystemC
// model, or any other executor behind that interface. Converts the
// partition's inputs from the host layout (dense, row-major; uint8 as is)
// to the NPU layout in DRAM and the outputs back, and collects counters,
// per-layer figures and trace slices.
#pragma once

#include "NpuTarget.h"

#include "ember/npu/driver.h"
#include "ember/plugin_handover.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ember::npusim {

struct RunConfig {
  uint32_t executor = EMBER_NPU_EXECUTOR_SYSTEMC;
  uint64_t dramBytes = EMBER_NPU_DRAM_BYTES_DEFAULT;
  // dram_bytes given: the device has exactly that much DRAM, and a program
  // that needs more is refused. Not given: the simulated device gets the
  // DRAM its program needs (at least the spec's default).
  bool dramGiven = false;
  uint32_t bytesPerCycle = 0, latency = 0, burst = 0; // 0: spec defaults
  bool zeroLatency = false;
  // The platform's shared DRAM channel (SystemC; 0: the spec's).
  uint32_t sharedBytesPerCycle = 0;
  int profile = 0; // 0: counters; 1: + per layer; 2: + trace slices
  // Co-simulation (docs/npu-rtl.md, "Whole models"). cosimRef (backend option
  // cosim=golden|systemc|rtl, 0: off): each run of a golden or RTL executor
  // runs on this reference executor too, from the same DRAM, and a
  // divergence fails the run, naming the first divergent instruction, its
  // layer and source nodes. handoverDir (option handover=DIR): every run is
  // also handed over (program, DRAM, layer map; ember/plugin_handover.hpp)
  // into DIR, for `ember cosim DIR` to replay.
  uint32_t cosimRef = 0;
  bool cosim = false;
  std::string handoverDir;
};

// The program's instructions as the NPU reads them: 16 bytes each,
// little-endian (the command stream of an artifact's npu.insns).
std::vector<uint8_t> programWords(const Program &p);

// The layer map of `p` (instruction -> layer and source nodes).
ember_plugin::LayerMap layerMap(const Program &p);

struct LayerStats {
  uint64_t cycles = 0;   // from its first instruction's start to its last's end
  uint64_t gemmBusy = 0; // cycles the array computed for it
  uint64_t stallData = 0;  // GEMM/VECTOR waiting for LOAD
  uint64_t stallArray = 0; // LOAD waiting for GEMM/VECTOR to free a buffer
  uint64_t loadBusy = 0;   // cycles LOAD moved data for it
  uint64_t loadHidden = 0; // of those, cycles GEMM or VECTOR computed (any
                           // layer's work: the DMA was hidden behind it)
};

struct Slice {
  int engine = 0;
  std::string name; // the source layer
  bool stall = false;
  uint64_t start = 0, duration = 0;
};

struct RunResult {
  ember_npu_counters_t counters{};
  std::string executor; // "golden", "systemc", ...
  bool timed = false;
  std::vector<LayerStats> layers; // profile >= 1, timed executors
  std::vector<Slice> slices;      // profile >= 2
  std::vector<uint64_t> alone;    // profile >= 1: runLayersAlone's cycles
  // SystemC: the run on the platform's clock (shared by its cores).
  bool platform = false;
  uint64_t startCycle = 0, endCycle = 0;
};

// Devices: with SystemC, device d is core d of the platform (the spec's
// cores on one DRAM, one SystemC kernel); each core runs its programs in the
// order they were started, every core at the same time. With golden or RTL,
// each device is an independent single core.

// A program started on a device (startRun), not yet finished.
struct PendingRun;

// Starts `p` on `device`. inputs/outputs: one host buffer per program
// input/output, dense row-major in the tensor's graph dtype, borrowed until
// finishRun. SystemC: the inputs are converted and the program queued on
// the core now (it starts when the core is free); golden and RTL run in
// finishRun. Thread-safe.
void releaseRun(PendingRun *r);
struct PendingRunDeleter {
  void operator()(PendingRun *r) const { releaseRun(r); }
};
using PendingRunPtr = std::unique_ptr<PendingRun, PendingRunDeleter>;
std::string startRun(unsigned device, const Program &p, const RunConfig &c,
                     const std::vector<const void *> &inputs,
                     const std::vector<void *> &outputs, PendingRunPtr &out);
// Waits for the run, writes its outputs and fills `result` (may be null).
std::string finishRun(PendingRun &r, RunResult *result);

// Starts and finishes `p` on `device`.
std::string runProgram(const Program &p, const RunConfig &c,
                       const std::vector<const void *> &inputs,
                       const std::vector<void *> &outputs, RunResult *result,
                       unsigned device = 0);

// Each layer of `p` alone on the timed executor of `c` (SystemC when `c`'s
// is untimed): its operations with fresh tokens, from an idle machine, the
// way the cost model predicts it (docs/npu-backend.md, "--npu-report":
// `alone`). Timing does not depend on data, so DRAM holds whatever it holds.
std::string runLayersAlone(const Program &p, const RunConfig &c,
                           std::vector<uint64_t> &cycles, unsigned device = 0);

// The tuner's measurement (accel::MeasureFn) on SystemC with this DRAM
// timing: a one-layer program's cycles.
std::string measureOnSystemC(const RunConfig &c, const Program &p,
                             uint64_t &cycles);

} // namespace ember::npusim

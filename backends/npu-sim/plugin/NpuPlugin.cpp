// The npu-sim backend plugin (docs/npu-backend.md): compiles int8
// partitions for the example NPU and runs them on its simulator through
// driver.h (SystemC by default; `--backend-opt executor=golden|systemc|rtl`).
// A plugin like any vendor's: it sees Ember only through the ABI header,
// the schemas, the helpers and the SDK's NPU compiler layer (Ember::accel),
// which does selection, tiling, scheduling and dependency insertion from
// this NPU's target description (NpuTarget.h). The ABI entries come from the
// SDK's NPU plugin base (ember/npu_plugin.hpp); this file is what is this
// NPU's own: its options, devices, runs and profiles.
#include "ember/npu_plugin.hpp"

#include "NpuTarget.h"
#include "Runtime.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace v1 = ember::backend::v1;
namespace ns = ember::npusim;
using namespace ember_plugin::npu;

namespace {

// Devices: the cores of the SystemC platform (with golden or RTL, as many
// independent single cores).
constexpr uint32_t kCores = uint32_t(EMBER_NPU_PLATFORM_CORES);
// Executions per device, for fault=deadlock@D:N.
std::array<std::atomic<uint64_t>, kCores> gRuns{};

// A test fault (backend option fault=deadlock[@DEVICE:N]): every execution
// deadlocks, or only the N-th on device DEVICE (counting every execution
// on that device since the plugin was loaded).
struct Fault {
  bool deadlock = false;
  int device = -1;
  uint64_t run = 0;
};

// The device's settings (the runtime's RunConfig), the fault, and with
// fault=deadlock@D:N the program that deadlocks.
struct NpuConfig : ns::RunConfig {
  Fault fault;
  ns::Program faulty;
};

// fault=deadlock[@DEVICE:N] (a test hook: a program that deadlocks, to check
// the error path; with @D:N only the N-th execution on device D, a fault
// mid-stream).
ember::Status parseFault(const std::string &val, Fault &f) {
  f = Fault();
  f.deadlock = true;
  unsigned long long d = 0, r = 0;
  char tail = 0;
  if (val == "deadlock")
    return ember::Status::ok();
  if (std::sscanf(val.c_str(), "deadlock@%llu:%llu%c", &d, &r, &tail) != 2 ||
      d >= kCores || r < 1)
    return ember::invalid("fault '", val,
                          "' is not known (deadlock, or deadlock@DEVICE:N: "
                          "the N-th execution on device DEVICE, N >= 1, "
                          "DEVICE < ",
                          kCores, ")");
  f.device = int(d);
  f.run = r;
  return ember::Status::ok();
}

// executor=|cosim=golden|systemc|rtl.
ember::Status parseExecutor(const std::string &k, const std::string &val,
                            ns::RunConfig &rc) {
  const char *const words[] = {"golden", "systemc", "rtl"};
  const uint32_t ids[] = {EMBER_NPU_EXECUTOR_GOLDEN, EMBER_NPU_EXECUTOR_SYSTEMC,
                          EMBER_NPU_EXECUTOR_RTL};
  int i = 0;
  while (i < 3 && val != words[i])
    ++i;
  if (i == 3)
    return ember::invalid(k, " '", val, "' is not one of golden, systemc, rtl");
  if (k == "cosim") {
    rc.cosimRef = ids[i];
    rc.cosim = true;
  } else {
    rc.executor = ids[i];
  }
  return ember::Status::ok();
}

// The counters, and per layer (profile >= 1) its figures against the cost
// model and the roofline; trace slices at profile 2.
void profileOf(const ns::Program &p, const ns::RunConfig &c,
               const ns::RunResult &r, v1::ExecutionProfile &pr) {
  pr.set_device("npu");
  pr.set_executor(r.executor);
  pr.set_timed(r.timed);
  pr.set_clock_hz(double(EMBER_NPU_PLATFORM_CLOCK_HZ)); // the spec's clock
  const ember_npu_counters_t &k = r.counters;
  uint64_t useful = 0;
  for (const ns::LayerInfo &l : p.layers)
    useful += l.usefulMacs;
  addRunCounters(pr, {double(k.cycles), double(p.lanes) * double(p.lanes),
                      double(useful), double(k.macs),
                      double(k.load_bytes + k.store_bytes), double(k.load_busy),
                      double(k.overlap), double(k.insns)});
  auto *cs = pr.mutable_counters();
  addValue(cs, "gemm_busy", double(k.gemm_busy));
  addValue(cs, "vector_busy", double(k.vector_busy));
  addValue(cs, "store_busy", double(k.store_busy));
  if (r.platform) { // on the platform's clock, shared by its cores
    addValue(cs, "start_cycle", double(r.startCycle));
    addValue(cs, "end_cycle", double(r.endCycle));
  }
  bool tuned = false;
  for (const ns::LayerInfo &l : p.layers)
    tuned = tuned || !l.tune.source.empty();
  if (c.profile >= 1)
    for (size_t i = 0; i < p.layers.size(); ++i) {
      const ns::LayerInfo &l = p.layers[i];
      v1::ProfileLayer *pl = addLayer(pr, l);
      std::string detail =
          l.shape.empty() ? l.tiling : l.shape + "; " + l.tiling;
      if (l.cascadedIn || l.cascadedOut)
        detail += std::string("; cascaded") +
                  (l.cascadedIn ? " in (MOVE from OUT)" : "") +
                  (l.cascadedIn && l.cascadedOut ? "," : "") +
                  (l.cascadedOut ? " out (kept in OUT)" : "");
      if (l.stripedIn || l.stripedOut) // one side of one pair at most
        detail += std::string("; striped ") +
                  (l.stripedIn ? "in (MOVE from" : "out (into") +
                  " a ring of " + std::to_string(l.ringRows) + " OUT rows)";
      else if (!l.notStriped.empty())
        detail += "; not striped: " + l.notStriped;
      if (!l.tune.source.empty())
        detail += "; tuned (" + l.tune.source + ", " +
                  std::to_string(l.tune.candidates) + " candidates, kept #" +
                  std::to_string(l.tune.rank + 1) + ")";
      pl->set_detail(detail);
      ns::LayerStats s = i < r.layers.size() ? r.layers[i] : ns::LayerStats();
      const double peak = double(p.lanes) * double(p.lanes);
      auto *vs = pl->mutable_values();
      // The cost model and the roofline (docs/npu-performance.md, "Compiled
      // models"): bound = max(MACs / DIM^2, compulsory DRAM bytes /
      // bandwidth); roof = bound / cycles.
      double bw = c.bytesPerCycle
                      ? double(c.bytesPerCycle)
                      : double(EMBER_NPU_DRAM_BYTES_PER_CYCLE_DEFAULT);
      double bound =
          std::max(double(l.usefulMacs) / peak, double(l.minDramBytes) / bw);
      // cycles: the layer's span in the network (first instruction's start
      // to last's end: it includes waiting for the previous layer's
      // results); alone: the layer run alone from an idle machine, which is
      // what the cost model predicts, so model_err is against it.
      uint64_t alone = i < r.alone.size() ? r.alone[i] : 0;
      addLayerTiming(vs, s.cycles, alone, l.predictedCycles);
      addValue(vs, "bound", bound);
      addValue(vs, "roof", s.cycles ? bound / double(s.cycles) : 0);
      addValue(vs, "mac_util",
               s.cycles ? double(l.usefulMacs) / (peak * double(s.cycles)) : 0);
      addValue(vs, "mapping_eff",
               l.arrayMacs ? double(l.usefulMacs) / double(l.arrayMacs) : 0);
      addValue(vs, "dma_bytes", double(l.loadBytes + l.storeBytes));
      addValue(vs, "stall_data", double(s.stallData));
      addValue(vs, "stall_array", double(s.stallArray));
      // DMA hidden (docs/npu-performance.md): the share of the layer's LOAD
      // cycles during which GEMM or VECTOR computed; mac_bound: its roofline
      // bound is the array's side (the layers the goal is stated for).
      addValue(vs, "load_busy", double(s.loadBusy));
      addValue(vs, "dma_hidden",
               s.loadBusy ? double(s.loadHidden) / double(s.loadBusy) : 0);
      addValue(vs, "mac_bound",
               double(l.usefulMacs) / peak >= double(l.minDramBytes) / bw ? 1
                                                                          : 0);
      addValue(vs, "macs", double(l.usefulMacs));
      if (tuned) {
        // What tuning gained over the model's pick (each alone on SystemC).
        addValue(vs, "tune_gain",
                 l.tune.modelCycles ? (double(l.tune.modelCycles) -
                                       double(l.tune.tunedCycles)) /
                                          double(l.tune.modelCycles)
                                    : 0);
        addValue(vs, "tune_rank", double(l.tune.rank));
      }
    }
  if (c.profile >= 2) {
    static const char *const engines[] = {"LOAD", "GEMM", "VECTOR", "STORE"};
    for (const ns::Slice &s : r.slices) {
      v1::TraceSlice *ts = pr.add_slices();
      ts->set_track(engines[s.engine & 3]);
      ts->set_name(s.name);
      ts->set_category(s.stall ? "stall" : "exec");
      ts->set_start(double(s.start));
      ts->set_duration(double(s.duration));
    }
  }
}

// This NPU's part of the plugin (ember/npu_plugin.hpp lists the hooks).
struct ExampleNpu {
  static constexpr const char *name = "npu-sim";
  static constexpr const char *version = "0.1.0";
  static constexpr const char *device = "the NPU";
  static constexpr uint32_t devices = kCores;
  static constexpr double clockHz = double(EMBER_NPU_PLATFORM_CLOCK_HZ);
  static constexpr const char *optionKeys =
      "executor, cosim, handover, dram_burst, shared_dram_bw, fault,";
  using Config = NpuConfig;
  using Exec = Executable<ExampleNpu>;

  // The target description is compiled in (NpuTarget.h).
  static const ns::Target &target() { return ns::npuTarget(); }
  static ember::Status targetError() {
    return okOr(ember::ErrorCode::Invalid, ns::npuTargetError());
  }
  static const char *targetJson() { return ns::npuTargetJson(); }

  // Vendor options (`--backend-opt KEY=VALUE`, docs/npu-backend.md): the
  // device's; the compiler layer's come to the base's LayerOptions.
  static ember::Status option(const std::string &k, const std::string &val,
                              Config &rc, bool &known) {
    known = true;
    uint64_t n = 0;
    if (k == "fault")
      return parseFault(val, rc.fault);
    if (k == "handover") {
      // Co-simulation hand-over (docs/npu-rtl.md, "Whole models").
      rc.handoverDir = val;
      return okOr(ember::ErrorCode::Invalid,
                  val.empty() ? "backend option handover needs a directory"
                              : "");
    }
    if (k == "executor" || k == "cosim")
      return parseExecutor(k, val, rc);
    if (k == "dram_burst" || k == "shared_dram_bw") {
      if (!ns::parseCount(val, n) || n == 0 || n > UINT32_MAX)
        return ember::invalid("backend option ", k, "=", val,
                              " is not a valid count");
      (k == "dram_burst" ? rc.burst : rc.sharedBytesPerCycle) = uint32_t(n);
      return ember::Status::ok();
    }
    known = false;          // the layer's; the DRAM ones are the device's too
    ns::parseCount(val, n); // checked by the layer
    if (k == "dram_bytes") {
      rc.dramBytes = n;
      rc.dramGiven = true;
    } else if (k == "dram_bw") {
      rc.bytesPerCycle = uint32_t(n);
    } else if (k == "dram_latency") {
      rc.zeroLatency = n == 0;
      rc.latency = n ? uint32_t(n) : rc.latency;
    }
    return ember::Status::ok();
  }

  static void pack(const ns::LayerProgram &lp, ns::Program &p) {
    ns::packImage(target(), lp, p);
  }
  static ember::Status encode(const ns::Program &p, std::vector<uint8_t> &w) {
    w = ns::programWords(p);
    return ember::Status::ok();
  }
  static std::string assembly(const ns::Program &p) {
    return ns::programAsm(target(), p);
  }

  // A timing run of the host's tuner is measured on the timed model.
  static void timingRun(Config &c) { c.executor = EMBER_NPU_EXECUTOR_SYSTEMC; }

  // The simulated device's DRAM when dram_bytes was not given: what the
  // program needs, at least the spec's default. fault=deadlock: the
  // program, or a copy run only by the N-th execution, deadlocks (compiled
  // executables only).
  static ember::Status prepare(Exec &x, bool compiled) {
    Config &c = x.config;
    if (!c.dramGiven)
      c.dramBytes = std::max(c.dramBytes, x.program.dramBytes);
    if (!compiled)
      c.fault = Fault();
    if (c.fault.deadlock && c.fault.device < 0)
      ns::injectDeadlock(target(), x.program);
    if (c.fault.device >= 0) {
      c.faulty = x.program;
      c.faulty.uid = ns::newProgramUid();
      ns::injectDeadlock(target(), c.faulty);
    }
    return ember::Status::ok();
  }

  // A core of the SystemC platform (or, with golden or RTL, an independent
  // single core); its DRAM window is what programs may use.
  static void describe(uint32_t index, const Config &rc,
                       v1::DeviceDescription &d) {
    const bool systemc = rc.executor == EMBER_NPU_EXECUTOR_SYSTEMC;
    const uint64_t window =
        rc.dramGiven ? rc.dramBytes : EMBER_NPU_PLATFORM_CORE_DRAM_BYTES;
    const uint32_t shared =
        rc.sharedBytesPerCycle
            ? rc.sharedBytesPerCycle
            : uint32_t(EMBER_NPU_PLATFORM_DRAM_BYTES_PER_CYCLE);
    const std::string core = "example NPU core " + std::to_string(index) +
                             " of " + std::to_string(kCores);
    d.set_name(systemc ? core + " (SystemC; " + std::to_string(window >> 20) +
                             " MiB DRAM window, a DRAM channel of " +
                             std::to_string(shared) + " B/cycle shared)"
                       : core + (rc.executor == EMBER_NPU_EXECUTOR_GOLDEN
                                     ? " (golden model, untimed)"
                                     : " (RTL)"));
    d.set_memory_bytes(window);
    d.set_simulated(systemc);
    if (systemc) {
      for (uint32_t c = 0; c < kCores; ++c)
        if (c != index)
          d.add_shares_bandwidth_with(c);
      d.set_shared_bytes_per_second(double(shared) * clockHz);
    }
  }

  // Queued on the device now (a core runs its programs in the order they
  // were started); the event's worker waits for it. A failure to start is
  // the event's error too.
  static Run start(uint32_t dev, const Exec &x,
                   const std::vector<const void *> &ins,
                   const std::vector<void *> &outs) {
    const uint64_t nth = ++gRuns[dev];
    const Config &c = x.config;
    const ns::Program *prog = c.fault.device == int(dev) && nth == c.fault.run
                                  ? &c.faulty
                                  : &x.program;
    auto run = std::make_shared<ns::PendingRunPtr>();
    std::string started = ns::startRun(dev, *prog, c, ins, outs, *run);
    return [&c, prog, dev, run, started](v1::ExecutionProfile &pr) {
      // The runtime says "" or why; a failed run is the device's error.
      EMBER_TRY(okOr(ember::ErrorCode::Internal, started));
      ns::RunResult r;
      const std::string err = ns::finishRun(**run, &r);
      run->reset();
      EMBER_TRY(okOr(ember::ErrorCode::Internal, err));
      // The per-layer report compares the cost model with each layer run
      // alone (what it predicts), besides its span in the network.
      if (c.profile >= 1 && r.timed)
        EMBER_TRY(okOr(ember::ErrorCode::Internal,
                       ns::runLayersAlone(*prog, c, r.alone, dev)));
      profileOf(*prog, c, r, pr);
      return ember::Status::ok();
    };
  }
};

} // namespace

EMBER_PLUGIN_ENTRY(ember_plugin::npu::NpuPlugin<ExampleNpu>)

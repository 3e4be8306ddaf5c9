// The second NPU's Ember plugin (libember_second_npu.so,
// `--target=plugin:ember_second_npu`). Ember's NPU compiler layer selects,
// tiles, schedules and synchronizes for the target description (target.json);
// the SDK's NPU plugin base (ember/npu_plugin.hpp) implements the ABI
// entries. This file is what is the second NPU's own: its options, its
// simulator as the device, and its profile.
#include "ember/npu_plugin.hpp"

#include "SecondNpu.h"

#include <string>
#include <vector>

namespace v1 = ember::backend::v1;
namespace sn = second_npu;
using namespace ember_plugin::npu;

namespace {

// The simulator's nominal clock: a cycle is shown as a nanosecond.
constexpr double kClockHz = 1e9;

// The counters, and per layer (profile >= 1) its cycles in the network and
// alone against the cost model's prediction; trace slices at profile 2.
void profileOf(const sn::Program &p, const sn::RunConfig &c,
               const sn::RunResult &r, v1::ExecutionProfile &pr) {
  pr.set_device("second-npu");
  pr.set_executor("snpu-sim");
  pr.set_timed(true);
  pr.set_clock_hz(kClockHz);
  const snpu_counters &k = r.counters;
  const double peak = double(snpu::kArrayInputs) * snpu::kLanes;
  uint64_t useful = 0;
  for (const sn::LayerInfo &l : p.layers)
    useful += l.usefulMacs;
  addRunCounters(
      pr, {double(k.cycles), peak, double(useful), double(k.array_macs),
           double(k.load_bytes + k.store_bytes), double(k.busy[0] + k.busy[1]),
           double(k.overlap), double(k.insns)});
  auto *cs = pr.mutable_counters();
  addValue(cs, "mac_busy", double(k.busy[snpu::MAC]));
  addValue(cs, "out_busy", double(k.busy[snpu::OUT]));
  addValue(cs, "port_stall", double(k.port_stall));
  addValue(cs, "dram_stall", double(k.dram_stall));
  if (c.profile >= 1)
    for (size_t i = 0; i < p.layers.size(); ++i) {
      const sn::LayerInfo &l = p.layers[i];
      v1::ProfileLayer *pl = addLayer(pr, l);
      pl->set_detail(l.shape.empty() ? l.tiling : l.shape + "; " + l.tiling);
      const sn::LayerStats s =
          i < r.layers.size() ? r.layers[i] : sn::LayerStats();
      const uint64_t alone = i < r.alone.size() ? r.alone[i] : 0;
      auto *vs = pl->mutable_values();
      addLayerTiming(vs, s.cycles, alone, l.predictedCycles);
      addValue(vs, "mac_util",
               s.cycles ? double(l.usefulMacs) / (peak * double(s.cycles)) : 0);
      addValue(vs, "mapping_eff",
               l.arrayMacs ? double(l.usefulMacs) / double(l.arrayMacs) : 0);
      addValue(vs, "dma_bytes", double(l.loadBytes + l.storeBytes));
      addValue(vs, "array_busy", double(s.arrayBusy));
      addValue(vs, "dma_busy", double(s.dmaBusy));
      addValue(vs, "macs", double(l.usefulMacs));
    }
  if (c.profile >= 2) {
    for (size_t i = 0; i < r.spans.size() && i < p.ops.size(); ++i) {
      const int32_t l = i < p.opLayer.size() ? p.opLayer[i] : -1;
      if (r.spans[i].end == r.spans[i].start)
        continue;
      v1::TraceSlice *ts = pr.add_slices();
      ts->set_track(
          sn::target()
              .engines[size_t(p.ops[i].engine < 0 ? 0 : p.ops[i].engine)]
              .name);
      ts->set_name(l >= 0 ? p.layers[size_t(l)].name : "");
      ts->set_category("exec");
      ts->set_start(double(r.spans[i].start));
      ts->set_duration(double(r.spans[i].end - r.spans[i].start));
    }
  }
}

struct SecondNpu {
  static constexpr const char *name = "second-npu";
  static constexpr const char *version = "0.1.0";
  static constexpr const char *device = "the second NPU";
  static constexpr uint32_t devices = 1;
  static constexpr double clockHz = kClockHz;
  static constexpr const char *optionKeys = "executor";
  using Config = sn::RunConfig;

  static const sn::Target &target() { return sn::target(); }
  static ember::Status targetError() {
    return okOr(ember::ErrorCode::Invalid, sn::targetError());
  }
  static const char *targetJson() { return sn::targetJson(); }

  // One executor, the simulator (a board's driver would add "device"), and
  // the DRAM (dram_bytes, dram_bw, dram_latency: the layer's keys, which
  // its cost model reads too).
  static ember::Status option(const std::string &k, const std::string &val,
                              Config &rc, bool &known) {
    uint64_t n = 0;
    known = k == "executor";
    if (known && val != "sim")
      return ember::invalid("executor '", val,
                            "' is not known (second-npu runs on its "
                            "simulator: sim)");
    sn::parseCount(val, n); // the DRAM keys are checked by the layer
    if (k == "dram_bytes") {
      rc.dramBytes = n;
      rc.dramGiven = true;
    } else if (k == "dram_bw") {
      rc.bytesPerCycle = uint32_t(n);
    } else if (k == "dram_latency") {
      rc.latency = uint32_t(n);
      rc.zeroLatency = n == 0;
    }
    return ember::Status::ok();
  }

  static void pack(const sn::LayerProgram &lp, sn::Program &p) {
    sn::packImage(lp, p);
  }
  static ember::Status encode(const sn::Program &p, std::vector<uint8_t> &w) {
    return okOr(ember::ErrorCode::Internal, sn::emitProgram(p, w));
  }
  static std::string assembly(const sn::Program &p) {
    return sn::programAsm(p);
  }

  // One program's cycles on the simulator (each layer alone, for the
  // profile).
  static ember::Status measure(const Config &c, const sn::Program &p,
                               uint64_t &cycles) {
    sn::RunResult r;
    const std::string e = sn::runProgram(p, c, {}, {}, &r);
    cycles = r.counters.cycles;
    return okOr(ember::ErrorCode::Internal, e);
  }

  // One simulated device, one execution at a time.
  static void describe(uint32_t, const Config &rc, v1::DeviceDescription &d) {
    const uint64_t dram =
        rc.dramGiven ? rc.dramBytes : uint64_t(sn::target().dram.bytes);
    d.set_name("second NPU (simulator; " + std::to_string(dram >> 20) +
               " MiB DRAM)");
    d.set_memory_bytes(dram);
    d.set_simulated(true);
  }

  // Runs on the event's worker; at profile >= 1 each layer alone too.
  static Run start(uint32_t, const Executable<SecondNpu> &x,
                   const std::vector<const void *> &ins,
                   const std::vector<void *> &outs) {
    return [&x, ins, outs](v1::ExecutionProfile &pr) {
      sn::RunResult r;
      EMBER_TRY(okOr(ember::ErrorCode::Internal,
                     sn::runProgram(x.program, x.config, ins, outs, &r)));
      Config alone = x.config;
      alone.profile = 0;
      if (x.config.profile >= 1)
        EMBER_TRY(layersAlone(
            target(), x.program,
            [&alone](const sn::Program &q, uint64_t &cycles) {
              return measure(alone, q, cycles);
            },
            r.alone));
      profileOf(x.program, x.config, r, pr);
      return ember::Status::ok();
    };
  }
};

} // namespace

EMBER_PLUGIN_ENTRY(ember_plugin::npu::NpuPlugin<SecondNpu>)

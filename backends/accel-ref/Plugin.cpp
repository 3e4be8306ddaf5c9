// The reference simulator as an Ember device (libember_accel_ref.so; docs/
// npu-sdk.md, "The reference simulator"). `ember ... --target=accel:DESC.json`
// loads it with the description's path in EMBER_ACCEL_TARGET (tools/api,
// pluginPathFor); the description is read when the plugin loads. Everything
// else is the SDK's: the NPU plugin base (ember/npu_plugin.hpp) selects,
// tiles and schedules for the description, packReference fills the image,
// and the reference simulator (ember/accel/RefSim.h) runs, times and checks
// every program. So a hardware team sees its description run real models
// before it writes emission, packing or a simulator of its own.
#include "ember/npu_plugin.hpp"

#include "ember/accel/RefSim.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace v1 = ember::backend::v1;
namespace accel = ember::accel;
using namespace ember_plugin::npu;

namespace {

// A cycle is shown as a nanosecond (the description declares no clock).
constexpr double kClockHz = 1e9;

struct Loaded {
  accel::Target target;
  ember::Status error;
  std::string json;
};

// The description named by EMBER_ACCEL_TARGET, read and checked once.
const Loaded &loaded() {
  static const Loaded l = [] {
    Loaded r;
    const char *path = std::getenv("EMBER_ACCEL_TARGET");
    if (!path || !*path) {
      r.error = ember::invalid("no description (EMBER_ACCEL_TARGET is not "
                               "set; use --target=accel:DESC.json)");
      return r;
    }
    std::ifstream f(path);
    if (!f) {
      r.error =
          ember::makeError(ember::ErrorCode::Io, "cannot read '", path, "'");
      return r;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    r.json = ss.str();
    r.error = accel::parseTarget(r.json, r.target);
    if (r.error.failed())
      r.error = ember::Status(r.error.code(), r.error.message() + " (" +
                                                  std::string(path) + ")");
    return r;
  }();
  return l;
}

struct Config {
  int profile = 0;
  accel::SimOptions sim;
};

// Busy cycles of the DMA engines that load and of the compute engines, and
// how many cycles both were busy at once (the `overlap` of the summary).
void overlapOf(const accel::Target &t, const accel::Program &p,
               const accel::SimStats &s, uint64_t &loadBusy,
               uint64_t &overlap) {
  using Span = std::pair<uint64_t, uint64_t>;
  std::vector<Span> load, compute;
  for (size_t i = 0; i < p.ops.size() && i < s.spans.size(); ++i) {
    const accel::Op &o = p.ops[i];
    if (s.spans[i].second <= s.spans[i].first)
      continue;
    if (o.kind == accel::OpKind::Load)
      load.push_back(s.spans[i]);
    else if (o.kind != accel::OpKind::Store &&
             o.kind != accel::OpKind::SetReg && o.kind != accel::OpKind::Finish)
      compute.push_back(s.spans[i]);
  }
  auto merge = [](std::vector<Span> &v) {
    std::sort(v.begin(), v.end());
    std::vector<Span> m;
    for (const Span &x : v)
      if (!m.empty() && x.first <= m.back().second)
        m.back().second = std::max(m.back().second, x.second);
      else
        m.push_back(x);
    v.swap(m);
  };
  merge(load);
  merge(compute);
  loadBusy = overlap = 0;
  for (const Span &x : load)
    loadBusy += x.second - x.first;
  for (size_t a = 0, b = 0; a < load.size() && b < compute.size();) {
    const uint64_t lo = std::max(load[a].first, compute[b].first),
                   hi = std::min(load[a].second, compute[b].second);
    overlap += hi > lo ? hi - lo : 0;
    (load[a].second < compute[b].second ? a : b)++;
  }
  (void)t;
}

void profileOf(const accel::Target &t, const accel::Program &p, const Config &c,
               const accel::SimStats &s, const std::vector<uint64_t> &alone,
               v1::ExecutionProfile &pr) {
  pr.set_device("npu");
  pr.set_executor("reference");
  pr.set_timed(true);
  pr.set_clock_hz(kClockHz);
  const double peak = double(t.array.rows) * double(t.array.cols);
  uint64_t useful = 0, arrayMacs = 0;
  for (const accel::LayerInfo &l : p.layers) {
    useful += l.usefulMacs;
    arrayMacs += l.arrayMacs;
  }
  uint64_t loadBusy = 0, overlap = 0;
  overlapOf(t, p, s, loadBusy, overlap);
  addRunCounters(pr, {double(s.cycles), peak, double(useful), double(arrayMacs),
                      double(s.loadBytes + s.storeBytes), double(loadBusy),
                      double(overlap), double(s.ops)});
  addValue(pr.mutable_counters(), "dram_stall", double(s.dramStall));
  if (c.profile >= 1)
    for (size_t i = 0; i < p.layers.size(); ++i) {
      const accel::LayerInfo &l = p.layers[i];
      uint64_t first = UINT64_MAX, last = 0;
      for (size_t k = 0; k < p.opLayer.size() && k < s.spans.size(); ++k)
        if (p.opLayer[k] == int32_t(i)) {
          first = std::min(first, s.spans[k].first);
          last = std::max(last, s.spans[k].second);
        }
      const uint64_t cycles = last > first ? last - first : 0;
      v1::ProfileLayer *pl = addLayer(pr, l);
      pl->set_detail(l.shape.empty() ? l.tiling : l.shape + "; " + l.tiling);
      auto *vs = pl->mutable_values();
      const uint64_t a = i < alone.size() ? alone[i] : 0;
      addLayerTiming(vs, cycles, a, l.predictedCycles);
      addValue(vs, "mac_util",
               cycles ? double(l.usefulMacs) / (peak * double(cycles)) : 0);
      addValue(vs, "dma_bytes", double(l.loadBytes + l.storeBytes));
      addValue(vs, "macs", double(l.usefulMacs));
    }
  if (c.profile >= 2)
    for (size_t i = 0; i < s.spans.size() && i < p.ops.size(); ++i) {
      if (s.spans[i].second == s.spans[i].first)
        continue;
      const int32_t l = i < p.opLayer.size() ? p.opLayer[i] : -1;
      const int e = p.ops[i].engine;
      v1::TraceSlice *ts = pr.add_slices();
      ts->set_track(e >= 0 && size_t(e) < t.engines.size()
                        ? t.engines[size_t(e)].name
                        : "");
      ts->set_name(l >= 0 ? p.layers[size_t(l)].name : "");
      ts->set_category("exec");
      ts->set_start(double(s.spans[i].first));
      ts->set_duration(double(s.spans[i].second - s.spans[i].first));
    }
}

struct AccelRef {
  static constexpr const char *name = "accel-ref";
  static constexpr const char *version = "0.1.0";
  static constexpr const char *device = "the reference simulator";
  static constexpr uint32_t devices = 1;
  static constexpr double clockHz = kClockHz;
  static constexpr const char *optionKeys = "check";
  using Config = ::Config;

  static const accel::Target &target() { return loaded().target; }
  static ember::Status targetError() { return loaded().error; }
  static const char *targetJson() { return loaded().json.c_str(); }

  // check=all (the default: ordering, depths, ranges) or check=ranges (no
  // ordering check, for speed); the DRAM timing keys are the layer's.
  static ember::Status option(const std::string &k, const std::string &val,
                              Config &c, bool &known) {
    known = k == "check";
    if (known) {
      if (val != "all" && val != "ranges")
        return ember::invalid("check '", val, "' is not known (all or ranges)");
      c.sim.checkOrder = val == "all";
    }
    unsigned long long n = 0;
    const bool num = std::sscanf(val.c_str(), "%llu", &n) == 1;
    if (num && k == "dram_bw")
      c.sim.bytesPerCycle = uint32_t(n);
    else if (num && k == "dram_latency")
      c.sim.latency = int64_t(n);
    return ember::Status::ok();
  }

  static void pack(const accel::LayerProgram &lp, accel::Program &p) {
    accel::packReference(target(), lp, p);
  }
  // The reference machine has no instruction encoding: the artifact's
  // npu.program holds its operations, npu.insns is empty.
  static ember::Status encode(const accel::Program &, std::vector<uint8_t> &w) {
    w.clear();
    return ember::Status::ok();
  }
  static std::string assembly(const accel::Program &p) {
    return accel::printProgram(target(), p);
  }

  static ember::Status measure(const Config &c, const accel::Program &p,
                               uint64_t &cycles) {
    accel::SimStats s;
    accel::SimOptions o = c.sim;
    o.checkOrder = false; // each layer alone, measured; the run checks
    ember::Status st = accel::simulateProgram(target(), p, {}, {}, o, &s);
    cycles = s.cycles;
    return st;
  }

  static void describe(uint32_t, const Config &, v1::DeviceDescription &d) {
    d.set_name("reference simulator of '" + target().name + "' (" +
               std::to_string(target().dram.bytes >> 20) + " MiB DRAM)");
    d.set_memory_bytes(target().dram.bytes);
    d.set_simulated(true);
  }

  static Run start(uint32_t, const Executable<AccelRef> &x,
                   const std::vector<const void *> &ins,
                   const std::vector<void *> &outs) {
    return [&x, ins, outs](v1::ExecutionProfile &pr) {
      accel::SimStats s;
      EMBER_TRY(accel::simulateProgram(target(), x.program, ins, outs,
                                       x.config.sim, &s));
      std::vector<uint64_t> alone;
      if (x.config.profile >= 1)
        EMBER_TRY(layersAlone(
            target(), x.program,
            [&x](const accel::Program &q, uint64_t &cycles) {
              return measure(x.config, q, cycles);
            },
            alone));
      profileOf(target(), x.program, x.config, s, alone, pr);
      return ember::Status::ok();
    };
  }
};

} // namespace

EMBER_PLUGIN_ENTRY(ember_plugin::npu::NpuPlugin<AccelRef>)

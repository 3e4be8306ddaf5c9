// Running programs on the second NPU's simulator through driver.h
// (SecondNpu.h): the host layout to the channel-tiled DRAM layout and back,
// the static image, the program's words, counters and per-layer figures.
#include "SecondNpu.h"

#include "ember/accel/Device.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace second_npu {

namespace {

// One device per configuration, kept while the configuration holds (its
// DRAM is large); runs are serialized.
std::mutex gMutex;
snpu_device *gDev = nullptr;
snpu_config gCfg{};
uint64_t gLoaded = 0; // Program::uid whose image the device holds

std::string openDevice(const RunConfig &c, uint64_t need) {
  snpu_config cfg;
  snpu_config_init(&cfg);
  if (c.dramGiven)
    cfg.dram_bytes = c.dramBytes;
  else
    cfg.dram_bytes = std::max<uint64_t>(need, 1 << 20);
  cfg.dram_bytes = (cfg.dram_bytes + 4095) / 4096 * 4096;
  if (c.bytesPerCycle)
    cfg.dram_bytes_per_cycle = c.bytesPerCycle;
  if (c.latency || c.zeroLatency)
    cfg.dram_latency = c.zeroLatency ? 0 : c.latency;
  if (gDev && gCfg.dram_bytes == cfg.dram_bytes &&
      gCfg.dram_bytes_per_cycle == cfg.dram_bytes_per_cycle &&
      gCfg.dram_latency == cfg.dram_latency)
    return "";
  snpu_device_destroy(gDev);
  gDev = nullptr;
  gLoaded = 0;
  if (snpu_device_create(&cfg, &gDev) != SNPU_OK)
    return "cannot create the second NPU's device (" +
           std::to_string(cfg.dram_bytes) + " bytes of DRAM)";
  gCfg = cfg;
  return "";
}

void layerStats(const Program &p, const std::vector<snpu_span> &spans,
                RunResult &r) {
  r.layers.assign(p.layers.size(), LayerStats());
  std::vector<uint64_t> lo(p.layers.size(), UINT64_MAX), hi(p.layers.size());
  for (size_t i = 0; i < spans.size() && i < p.opLayer.size(); ++i) {
    const int32_t l = p.opLayer[i];
    if (l < 0 || size_t(l) >= p.layers.size())
      continue;
    LayerStats &s = r.layers[size_t(l)];
    lo[size_t(l)] = std::min(lo[size_t(l)], spans[i].start);
    hi[size_t(l)] = std::max(hi[size_t(l)], spans[i].end);
    const uint64_t d = spans[i].end - spans[i].start;
    if (p.ops[i].kind == OpKind::Gemm)
      s.arrayBusy += d;
    else if (p.ops[i].kind == OpKind::Load || p.ops[i].kind == OpKind::Store)
      s.dmaBusy += d;
  }
  for (size_t l = 0; l < p.layers.size(); ++l)
    if (hi[l] > lo[l])
      r.layers[l].cycles = hi[l] - lo[l];
}

} // namespace

std::string runProgram(const Program &p, const RunConfig &c,
                       const std::vector<const void *> &inputs,
                       const std::vector<void *> &outputs, RunResult *r) {
  if (inputs.size() != p.inputs.size() || outputs.size() != p.outputs.size())
    return "the program has " + std::to_string(p.inputs.size()) +
           " inputs and " + std::to_string(p.outputs.size()) + " outputs";
  if (c.dramGiven && p.dramBytes > c.dramBytes)
    return "the program needs " + std::to_string(p.dramBytes) +
           " bytes of DRAM, the device has " + std::to_string(c.dramBytes);
  std::vector<uint8_t> words;
  std::string err = emitProgram(p, words);
  if (!err.empty())
    return err;
  std::lock_guard<std::mutex> lock(gMutex);
  err = openDevice(c, p.dramBytes);
  if (!err.empty())
    return err;
  auto fail = [&](const char *what) {
    gLoaded = 0;
    return std::string(what) + ": " + snpu_last_error(gDev);
  };
  if (p.uid == 0 || gLoaded != p.uid) {
    if (snpu_dram_write(gDev, 0, p.image.data(), p.image.size()))
      return fail("writing the constants to DRAM");
    gLoaded = p.uid;
  }
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < inputs.size(); ++i) {
    buf.resize(size_t(p.inputs[i].bytes()));
    toTiled(p.inputs[i], inputs[i], buf.data());
    if (snpu_dram_write(gDev, uint64_t(p.inputs[i].dram), buf.data(),
                        buf.size()))
      return fail("writing an input to DRAM");
  }
  if (snpu_program_load(gDev, words.data(), p.ops.size()))
    return fail("loading the program");
  if (snpu_run(gDev) != SNPU_OK) {
    std::string msg = snpu_last_error(gDev);
    size_t at = 0;
    if (std::sscanf(msg.c_str(), "instruction %zu", &at) == 1 &&
        at < p.opLayer.size() && p.opLayer[at] >= 0)
      msg += " (layer '" + p.layers[size_t(p.opLayer[at])].name + "')";
    gLoaded = 0;
    return "the second NPU's program failed: " + msg;
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    buf.assign(size_t(p.outputs[i].bytes()), 0);
    if (snpu_dram_read(gDev, uint64_t(p.outputs[i].dram), buf.data(),
                       buf.size()))
      return fail("reading an output from DRAM");
    fromTiled(p.outputs[i], buf.data(), outputs[i]);
  }
  if (r) {
    *r = RunResult();
    r->counters.struct_size = sizeof r->counters;
    snpu_counters_read(gDev, &r->counters);
    if (c.profile >= 1) {
      std::vector<snpu_span> spans(p.ops.size());
      spans.resize(snpu_spans_read(gDev, spans.data(), spans.size()));
      layerStats(p, spans, *r);
      if (c.profile >= 2)
        r->spans = spans;
    }
  }
  return "";
}

} // namespace second_npu

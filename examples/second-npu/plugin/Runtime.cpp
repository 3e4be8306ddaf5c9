// Running programs on the second NPU's simulator through driver.h
// (SecondNpu.h): the host layout to the channel-tiled DRAM layout and back,
// the static image, the program's words, counters and per-layer figures.
#include "SecondNpu.h"

#include "ember/accel/Sync.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace second_npu {

namespace {

// Element e of the host tensor (dense, row-major) <-> its byte in the tiled
// layout [channel tile][pixel][lanes].
template <typename F> void forEachElement(const NTensor &t, F f) {
  int64_t pre = 1, post = 1;
  for (size_t i = 0; i < t.dims.size(); ++i) {
    if (int(i) < t.axis)
      pre *= t.dims[i];
    else if (int(i) > t.axis)
      post *= t.dims[i];
  }
  for (int64_t a = 0; a < pre; ++a)
    for (int64_t c = 0; c < t.C; ++c)
      for (int64_t b = 0; b < post; ++b) {
        const int64_t host = (a * t.C + c) * post + b, pix = a * post + b;
        f(host, ((c / t.lanes) * t.P + pix) * t.lanes + c % t.lanes);
      }
}

void toDevice(const NTensor &t, const void *host, std::vector<uint8_t> &buf) {
  buf.assign(size_t(t.bytes()), 0);
  const uint8_t *h = static_cast<const uint8_t *>(host);
  const int64_t es = t.elemBytes();
  forEachElement(t, [&](int64_t src, int64_t dst) {
    if (es == 4)
      std::memcpy(&buf[size_t(dst * 4)], h + src * 4, 4);
    else
      buf[size_t(dst)] = t.u8 ? uint8_t(h[src] - 128) : h[src];
  });
}

void fromDevice(const NTensor &t, const std::vector<uint8_t> &buf, void *host) {
  uint8_t *h = static_cast<uint8_t *>(host);
  const int64_t es = t.elemBytes();
  forEachElement(t, [&](int64_t dst, int64_t src) {
    if (es == 4)
      std::memcpy(h + dst * 4, &buf[size_t(src * 4)], 4);
    else
      h[dst] = t.u8 ? uint8_t(buf[size_t(src)] + 128) : buf[size_t(src)];
  });
}

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
    toDevice(p.inputs[i], inputs[i], buf);
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
    fromDevice(p.outputs[i], buf, outputs[i]);
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

std::string runLayersAlone(const Program &p, const RunConfig &c,
                           std::vector<uint64_t> &cycles) {
  cycles.assign(p.layers.size(), 0);
  RunConfig rc = c;
  rc.profile = 0;
  for (size_t i = 0; i < p.layers.size(); ++i) {
    const LayerInfo &l = p.layers[i];
    if (l.endInsn <= l.firstInsn || l.endInsn > p.ops.size())
      continue;
    // Its prefetched loads first, then its own operations (not the next
    // layer's prefetch), with fresh synchronization.
    Program q;
    const size_t nf = i + 1 < p.layers.size() ? p.layers[i + 1].prefetchFirst
                                              : 0,
                 ne = i + 1 < p.layers.size() ? p.layers[i + 1].prefetchEnd : 0;
    if (l.prefetchFirst < l.prefetchEnd && l.prefetchEnd <= p.ops.size())
      q.ops.assign(p.ops.begin() + long(l.prefetchFirst),
                   p.ops.begin() + long(l.prefetchEnd));
    for (size_t k = l.firstInsn; k < l.endInsn; ++k)
      if ((k < nf || k >= ne) &&
          (k >= p.opLayer.size() || p.opLayer[k] == int32_t(i)))
        q.ops.push_back(p.ops[k]);
    q.ops.push_back(finishOp());
    std::string err = assignSync(target(), q.ops, nullptr);
    if (err.empty()) {
      q.opLayer.assign(q.ops.size(), 0);
      q.dramBytes = p.dramBytes;
      RunResult r;
      err = runProgram(q, rc, {}, {}, &r);
      cycles[i] = r.counters.cycles;
    }
    if (!err.empty())
      return "layer '" + l.name + "' alone: " + err;
  }
  return "";
}

} // namespace second_npu

// Program execution through driver.h (Runtime.h).
#include "Runtime.h"

#include "ember/accel/Device.h"
#include "ember/accel/Sync.h"
#include "ember/npu/Cosim.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <unistd.h>

namespace ember::npusim {

namespace {

// The plugin's devices. SystemC: the cores of one platform device (the spec's
// cores on one DRAM), made again when the DRAM settings change while no job
// is pending. Golden and RTL: one independent device per index, made again
// when the configuration changes. Guarded by gMutex.
struct PlatformState {
  ember_npu_device_t *dev = nullptr;
  RunConfig config;
  uint64_t window = 0;
  unsigned pending = 0; // jobs queued or running
};
struct SingleState {
  ember_npu_device_t *dev = nullptr;
  RunConfig config;
  bool traced = false;
  uint64_t loaded = 0; // Program::uid whose image DRAM holds
  std::mutex run;      // one run at a time
};
std::mutex gMutex;
PlatformState gPlatform;
std::map<unsigned, std::unique_ptr<SingleState>> gSingles;
uint64_t gTraceSeq = 0;

std::string tracePath(uint64_t seq = 0) {
  static const std::string path = [] {
    const char *tmp = getenv("TMPDIR");
    return std::string(tmp && *tmp ? tmp : "/tmp") + "/ember-npu-trace-" +
           std::to_string(getpid());
  }();
  return path + (seq ? "-" + std::to_string(seq) : "") + ".json";
}

bool sameTiming(const RunConfig &a, const RunConfig &b) {
  return a.executor == b.executor && a.bytesPerCycle == b.bytesPerCycle &&
         a.latency == b.latency && a.burst == b.burst &&
         a.zeroLatency == b.zeroLatency &&
         a.sharedBytesPerCycle == b.sharedBytesPerCycle;
}

void fillConfig(ember_npu_config_t &cfg, const RunConfig &c) {
  ember_npu_config_init(&cfg);
  cfg.executor = c.executor;
  cfg.dram_bytes = c.dramBytes;
  cfg.dram_bytes_per_cycle = c.bytesPerCycle;
  cfg.dram_latency_cycles = c.latency;
  cfg.dram_burst_bytes = c.burst;
  cfg.dram_zero_latency = c.zeroLatency;
}

std::string createError(ember_npu_status_t s, uint64_t bytes) {
  if (s == EMBER_NPU_STATUS_UNSUPPORTED)
    return "this build's NPU driver has no such executor (the RTL executor "
           "comes with the Verilator model)";
  if (s == EMBER_NPU_STATUS_BUSY)
    return "the SystemC NPU model is in use by another device in this "
           "process, or another NPU plugin (another array size) has taken "
           "the process's one SystemC kernel: run each in its own process";
  return "cannot create the NPU device (status " + std::to_string(int(s)) +
         ", " + std::to_string(bytes) + " bytes of DRAM)";
}

// Under gMutex: the platform, ready for a program needing `need` bytes of
// its core's window.
std::string platformFor(const RunConfig &c, uint64_t need) {
  uint64_t window =
      c.dramGiven
          ? c.dramBytes
          : std::max<uint64_t>({EMBER_NPU_PLATFORM_CORE_DRAM_BYTES, need,
                                gPlatform.dev && sameTiming(gPlatform.config, c)
                                    ? gPlatform.window
                                    : 0});
  if (gPlatform.dev && sameTiming(gPlatform.config, c) &&
      gPlatform.window == window)
    return "";
  if (gPlatform.dev && gPlatform.pending)
    return "the NPU cores are running programs compiled with other DRAM "
           "options (dram_bytes, dram_bw, dram_latency, dram_burst, "
           "shared_dram_bw must be the same for every program at once)";
  if (gPlatform.dev)
    ember_npu_device_destroy(gPlatform.dev);
  gPlatform = PlatformState();
  for (auto &[i, single] : gSingles)
    if (single->dev && single->config.executor == EMBER_NPU_EXECUTOR_SYSTEMC)
      return "internal: a single SystemC device is open";
  ember_npu_config_t cfg;
  fillConfig(cfg, c);
  cfg.dram_bytes = window;
  cfg.cores = EMBER_NPU_PLATFORM_CORES;
  cfg.shared_dram_bytes_per_cycle = c.sharedBytesPerCycle;
  ember_npu_status_t s = ember_npu_device_create(&cfg, &gPlatform.dev);
  if (s != EMBER_NPU_STATUS_OK)
    return createError(s, window);
  gPlatform.config = c;
  gPlatform.window = window;
  return "";
}

// Under gMutex: device `index`'s own single-core device (golden, RTL).
std::string singleFor(unsigned index, const RunConfig &c, bool traced,
                      SingleState *&out) {
  auto &slot = gSingles[index];
  if (!slot)
    slot = std::make_unique<SingleState>();
  out = slot.get();
  SingleState &d = *slot;
  if (d.dev && sameTiming(d.config, c) && d.config.dramBytes == c.dramBytes &&
      d.traced == traced)
    return "";
  if (d.dev)
    ember_npu_device_destroy(d.dev);
  d.dev = nullptr;
  d.loaded = 0;
  ember_npu_config_t cfg;
  fillConfig(cfg, c);
  std::string trace = tracePath(index + 1);
  cfg.trace_path = traced ? trace.c_str() : nullptr;
  ember_npu_status_t s = ember_npu_device_create(&cfg, &d.dev);
  if (s != EMBER_NPU_STATUS_OK)
    return createError(s, c.dramBytes);
  d.config = c;
  d.traced = traced;
  return "";
}

// One event of the driver's Chrome trace (one per line).
struct Event {
  int tid = 0;
  bool stall = false;
  uint64_t ts = 0, dur = 0;
  size_t insn = 0;
};

bool field(const std::string &line, const char *key, uint64_t &v) {
  size_t k = line.find(key);
  if (k == std::string::npos)
    return false;
  v = std::strtoull(line.c_str() + k + std::strlen(key), nullptr, 10);
  return true;
}

std::vector<Event> readTrace(const std::string &path) {
  std::vector<Event> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("\"ph\":\"X\"") == std::string::npos)
      continue;
    Event e;
    uint64_t tid = 0, insn = 0;
    if (!field(line, "\"tid\":", tid) || !field(line, "\"ts\":", e.ts) ||
        !field(line, "\"dur\":", e.dur) || !field(line, "\"insn\":", insn))
      continue;
    e.tid = int(tid);
    e.insn = size_t(insn);
    e.stall = line.find("\"cat\":\"stall\"") != std::string::npos;
    out.push_back(e);
  }
  return out;
}

void profile(const Program &p, const std::vector<Event> &events, int level,
             RunResult &r) {
  r.layers.assign(p.layers.size(), LayerStats());
  std::vector<uint64_t> lo(p.layers.size(), UINT64_MAX), hi(p.layers.size(), 0);
  // When GEMM or VECTOR computed: the union of their busy intervals, sorted
  // and disjoint, against which each LOAD's cycles count as hidden or not.
  std::vector<std::pair<uint64_t, uint64_t>> busy;
  for (const Event &e : events)
    if (!e.stall && e.dur > 0 &&
        (e.tid == EMBER_NPU_ENGINE_GEMM || e.tid == EMBER_NPU_ENGINE_VECTOR))
      busy.push_back({e.ts, e.ts + e.dur});
  std::sort(busy.begin(), busy.end());
  std::vector<std::pair<uint64_t, uint64_t>> merged;
  for (const auto &b : busy)
    if (!merged.empty() && b.first <= merged.back().second)
      merged.back().second = std::max(merged.back().second, b.second);
    else
      merged.push_back(b);
  auto hiddenOf = [&](uint64_t a, uint64_t b) {
    uint64_t h = 0;
    auto it = std::upper_bound(merged.begin(), merged.end(),
                               std::make_pair(a, UINT64_MAX));
    if (it != merged.begin())
      --it;
    for (; it != merged.end() && it->first < b; ++it)
      if (it->second > a)
        h += std::min(b, it->second) - std::max(a, it->first);
    return h;
  };
  const uint32_t fromLoad = (1u << EMBER_NPU_TOKEN_CHANNEL(0, 1)) |
                            (1u << EMBER_NPU_TOKEN_CHANNEL(0, 2)) |
                            (1u << EMBER_NPU_TOKEN_CHANNEL(0, 3));
  for (const Event &e : events) {
    if (e.insn >= p.opLayer.size())
      continue;
    int32_t l = p.opLayer[e.insn];
    if (l < 0 || size_t(l) >= r.layers.size())
      continue;
    LayerStats &s = r.layers[size_t(l)];
    const Op &in = p.ops[e.insn];
    if (e.stall) {
      if (e.tid == EMBER_NPU_ENGINE_LOAD)
        s.stallArray += e.dur;
      else if ((e.tid == EMBER_NPU_ENGINE_GEMM ||
                e.tid == EMBER_NPU_ENGINE_VECTOR) &&
               (in.wait & fromLoad))
        s.stallData += e.dur;
    } else {
      lo[size_t(l)] = std::min(lo[size_t(l)], e.ts);
      hi[size_t(l)] = std::max(hi[size_t(l)], e.ts + e.dur);
      if (e.tid == EMBER_NPU_ENGINE_GEMM)
        s.gemmBusy += e.dur;
      if (e.tid == EMBER_NPU_ENGINE_LOAD) {
        s.loadBusy += e.dur;
        s.loadHidden += hiddenOf(e.ts, e.ts + e.dur);
      }
    }
    if (level >= 2) {
      // Consecutive slices of one layer on one engine merge.
      const std::string &name = p.layers[size_t(l)].name;
      Slice *last = nullptr;
      for (auto it = r.slices.rbegin(); it != r.slices.rend(); ++it)
        if (it->engine == e.tid) {
          last = &*it;
          break;
        }
      if (last && last->stall == e.stall && last->name == name &&
          last->start + last->duration >= e.ts)
        last->duration = std::max(last->duration, e.ts + e.dur - last->start);
      else
        r.slices.push_back({e.tid, name, e.stall, e.ts, e.dur});
    }
  }
  for (size_t l = 0; l < r.layers.size(); ++l)
    if (hi[l] > 0)
      r.layers[l].cycles = hi[l] - lo[l];
}

} // namespace

struct PendingRun {
  unsigned device = 0;
  const Program *program = nullptr;
  RunConfig config;
  std::vector<const void *> inputs;
  std::vector<void *> outputs;
  // SystemC: the job on the device's core, its copies and their buffers.
  ember_npu_job_t *job = nullptr;
  std::vector<std::vector<uint8_t>> in, out;
  std::vector<ember_npu_copy_t> writes, reads;
  std::vector<uint8_t> words;
  std::string trace; // the job's Chrome trace (profile >= 1)
  ~PendingRun() {
    if (job) {
      ember_npu_job_release(job);
      std::lock_guard<std::mutex> l(gMutex);
      --gPlatform.pending;
    }
  }
};

std::vector<uint8_t> programWords(const Program &p) {
  std::vector<uint8_t> words(p.ops.size() * 16);
  for (size_t i = 0; i < p.ops.size(); ++i) {
    npu::Word w = npu::encode(encodeOp(npuTarget(), p.ops[i]));
    std::memcpy(&words[16 * i], &w.lo, 8);
    std::memcpy(&words[16 * i + 8], &w.hi, 8);
  }
  return words;
}

namespace {

// Under gMutex: the hand-over runs written so far in this process.
uint64_t gHandoverSeq = 0;

// Hands the run over (program, DRAM as it starts, layer map) into
// c.handoverDir; `dram` holds the image and the inputs.
std::string handOver(const Program &p, const RunConfig &c,
                     const std::vector<uint8_t> &dram) {
  ember_plugin::ProgramHandover h;
  h.program = programAsm(npuTarget(), p);
  h.programExt = ".nasm";
  h.insns = p.ops.size();
  h.dram = dram;
  h.dramBytes =
      c.dramGiven ? c.dramBytes : std::max<uint64_t>(p.dramBytes, dram.size());
  h.layers = layerMap(p);
  std::lock_guard<std::mutex> lock(gMutex);
  return ember_plugin::writeHandover(c.handoverDir, gHandoverSeq++, h);
}

// DRAM [0, p.dramBytes) as a run of `p` starts: the image and the inputs.
std::vector<uint8_t> startDram(const Program &p,
                               const std::vector<const void *> &inputs) {
  std::vector<uint8_t> dram(size_t(
      std::max<uint64_t>(p.dramBytes, std::max<uint64_t>(p.image.size(), 1))));
  std::copy(p.image.begin(), p.image.end(), dram.begin());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const NTensor &t = p.inputs[i];
    if (uint64_t(t.dram) + uint64_t(t.bytes()) > dram.size())
      dram.resize(size_t(uint64_t(t.dram) + uint64_t(t.bytes())));
    accel::toTiled(t, inputs[i], dram.data() + t.dram);
  }
  return dram;
}

const char *executorWord(uint32_t e) {
  return e == EMBER_NPU_EXECUTOR_GOLDEN ? "golden"
         : e == EMBER_NPU_EXECUTOR_RTL  ? "rtl"
                                        : "systemc";
}

std::string failure(const Program &p, std::string msg);

// The checked run (RunConfig::cosimRef): `d` (the DUT) holds the program's
// DRAM; the REF gets a copy, both run, and a divergence is the error.
std::string cosimRun(const Program &p, const RunConfig &c,
                     ember_npu_device_t *d) {
  ember_npu_device_info_t info;
  std::memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  if (ember_npu_device_query(d, &info) != EMBER_NPU_STATUS_OK)
    return "co-simulation: cannot query the device";
  std::vector<uint8_t> dram(size_t(info.dram_bytes));
  if (ember_npu_dram_read(d, 0, dram.data(), dram.size()))
    return "co-simulation: cannot read the device's DRAM";
  RunConfig rc = c;
  rc.executor = c.cosimRef;
  rc.dramBytes = info.dram_bytes;
  ember_npu_config_t cfg;
  fillConfig(cfg, rc);
  ember_npu_device_t *ref = nullptr;
  ember_npu_status_t s = ember_npu_device_create(&cfg, &ref);
  if (s != EMBER_NPU_STATUS_OK)
    return "co-simulation reference " + std::string(executorWord(c.cosimRef)) +
           ": " + createError(s, info.dram_bytes);
  std::vector<npu::Word> prog(p.ops.size());
  for (size_t i = 0; i < p.ops.size(); ++i)
    prog[i] = npu::encode(encodeOp(npuTarget(), p.ops[i]));
  npu::CosimResult res;
  std::string err;
  if (ember_npu_dram_write(ref, 0, dram.data(), dram.size()))
    err = "co-simulation: cannot write the reference's DRAM";
  else
    err = npu::cosimulate(ref, d, prog, res, 4);
  ember_npu_device_destroy(ref);
  if (!err.empty())
    return "co-simulation: " + err;
  // A program that fails on both (a deadlock, a bad address) is the
  // program's error, not a divergence.
  if (!res.refError.empty() && !res.dutError.empty())
    return failure(p, res.dutError);
  if (res.agree)
    return "";
  const std::string who = std::string(executorWord(c.executor)) +
                          " executor diverged from the " +
                          executorWord(c.cosimRef) + " reference";
  if (!res.divergent)
    return "the " + who + " (" +
           (res.dramDiffs ? std::to_string(res.dramDiffs) +
                                " DRAM bytes differ after the runs"
                          : "REF: " + res.refError + "; DUT: " + res.dutError) +
           ")";
  // One line: the report of `ember cosim`, its lines joined.
  const std::string layer = layerMap(p).describe(res.first.index);
  std::string text = npu::formatDivergence(res.first, prog, layer);
  std::string line;
  for (size_t a = 0; a < text.size();) {
    size_t b = text.find('\n', a);
    std::string part = text.substr(a, b == std::string::npos ? b : b - a);
    size_t k = part.find_first_not_of(' ');
    if (k != std::string::npos)
      line += (line.empty() ? "" : "; ") + part.substr(k);
    a = b == std::string::npos ? text.size() : b + 1;
  }
  return "the " + who + ": " + line +
         (res.dramDiffs ? "; " + std::to_string(res.dramDiffs) +
                              " DRAM bytes differ after the runs"
                        : "");
}

// The simulator's message, with the layer of the instruction it names.
std::string failure(const Program &p, std::string msg) {
  size_t at = std::string::npos;
  if (std::sscanf(msg.c_str(), "instruction %zu", &at) == 1 &&
      at < p.opLayer.size() && p.opLayer[at] >= 0)
    msg += " (layer '" + p.layers[size_t(p.opLayer[at])].name + "')";
  return "the NPU program failed: " + msg;
}

// Golden and RTL: the whole run on device `r.device`'s own device.
std::string runSingle(PendingRun &r, RunResult *result) {
  const Program &p = *r.program;
  const RunConfig &c = r.config;
  bool traced = c.profile >= 1 && c.executor != EMBER_NPU_EXECUTOR_GOLDEN;
  SingleState *st = nullptr;
  {
    std::lock_guard<std::mutex> lock(gMutex);
    std::string err = singleFor(r.device, c, traced, st);
    if (!err.empty())
      return err;
  }
  std::lock_guard<std::mutex> run(st->run);
  ember_npu_device_t *d = st->dev;
  auto fail = [&](const char *what) {
    return std::string(what) + ": " + ember_npu_device_last_error(d);
  };
  // The static image, unless this program's is still there.
  if (p.uid == 0 || st->loaded != p.uid) {
    if (ember_npu_dram_write(d, 0, p.image.data(), p.image.size()))
      return fail("writing the weights to NPU DRAM");
    st->loaded = p.uid;
  }
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    const NTensor &t = p.inputs[i];
    buf.resize(size_t(t.bytes()));
    accel::toTiled(t, r.inputs[i], buf.data());
    if (ember_npu_dram_write(d, uint64_t(t.dram), buf.data(), buf.size()))
      return fail("writing an input to NPU DRAM");
  }
  if (c.cosim) {
    // The checked run: both executors, compared at every retirement.
    st->loaded = 0;
    std::string err = cosimRun(p, c, d);
    if (!err.empty())
      return err;
  } else {
    std::vector<uint8_t> words = programWords(p);
    if (ember_npu_program_load(d, words.data(), p.ops.size()))
      return fail("loading the NPU program");
    ember_npu_status_t s = ember_npu_run(d);
    if (s != EMBER_NPU_STATUS_OK) {
      st->loaded = 0; // a failed run may leave anything in DRAM
      return failure(p, ember_npu_device_last_error(d));
    }
  }
  for (size_t i = 0; i < r.outputs.size(); ++i) {
    const NTensor &t = p.outputs[i];
    buf.resize(size_t(t.bytes()));
    if (ember_npu_dram_read(d, uint64_t(t.dram), buf.data(), buf.size()))
      return fail("reading an output from NPU DRAM");
    accel::fromTiled(t, buf.data(), r.outputs[i]);
  }
  if (result) {
    *result = RunResult();
    result->counters.struct_size = sizeof result->counters;
    ember_npu_counters_read(d, &result->counters);
    ember_npu_device_info_t info;
    std::memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (ember_npu_device_query(d, &info) == EMBER_NPU_STATUS_OK) {
      result->executor = info.name ? info.name : "";
      result->timed = info.timed != 0;
    }
    if (traced) {
      std::string path = tracePath(r.device + 1);
      profile(p, readTrace(path), c.profile, *result);
      std::remove(path.c_str());
    }
  }
  return "";
}

} // namespace

std::string startRun(unsigned device, const Program &p, const RunConfig &c,
                     const std::vector<const void *> &inputs,
                     const std::vector<void *> &outputs, PendingRunPtr &out) {
  if (inputs.size() != p.inputs.size() || outputs.size() != p.outputs.size())
    return "the program has " + std::to_string(p.inputs.size()) +
           " inputs and " + std::to_string(p.outputs.size()) + " outputs";
  if (c.dramGiven && p.dramBytes > c.dramBytes)
    return "the program needs " + std::to_string(p.dramBytes) +
           " bytes of NPU DRAM, the device has " + std::to_string(c.dramBytes);
  if (c.cosim && c.executor == EMBER_NPU_EXECUTOR_SYSTEMC)
    return "backend option cosim needs executor=golden or executor=rtl (the "
           "SystemC model runs as the cores of one platform)";
  if (!c.handoverDir.empty()) {
    std::string err = handOver(p, c, startDram(p, inputs));
    if (!err.empty())
      return err;
  }
  PendingRunPtr r(new PendingRun());
  r->device = device;
  r->program = &p;
  r->config = c;
  r->inputs = inputs;
  r->outputs = outputs;
  if (c.executor != EMBER_NPU_EXECUTOR_SYSTEMC) {
    if (!c.dramGiven) // the device gets the DRAM the program needs
      r->config.dramBytes = std::max(r->config.dramBytes, p.dramBytes);
    out = std::move(r);
    return "";
  }
  if (device >= EMBER_NPU_PLATFORM_CORES)
    return "device " + std::to_string(device) + " is not a core of the " +
           std::to_string(EMBER_NPU_PLATFORM_CORES) + "-core platform";
  // The job's copies: the weights (skipped while the core still holds
  // them), the inputs in the NPU layout, and the outputs back.
  r->words = programWords(p);
  r->writes.push_back(
      {0, const_cast<uint8_t *>(p.image.data()), p.image.size(), p.uid});
  for (size_t i = 0; i < inputs.size(); ++i) {
    const NTensor &t = p.inputs[i];
    r->in.emplace_back(size_t(t.bytes()));
    accel::toTiled(t, inputs[i], r->in.back().data());
  }
  for (size_t i = 0; i < inputs.size(); ++i)
    r->writes.push_back(
        {uint64_t(p.inputs[i].dram), r->in[i].data(), r->in[i].size(), 0});
  for (size_t i = 0; i < outputs.size(); ++i)
    r->out.emplace_back(size_t(p.outputs[i].bytes()));
  for (size_t i = 0; i < outputs.size(); ++i)
    r->reads.push_back(
        {uint64_t(p.outputs[i].dram), r->out[i].data(), r->out[i].size(), 0});
  ember_npu_job_desc_t jd;
  std::memset(&jd, 0, sizeof jd);
  jd.struct_size = sizeof jd;
  jd.core = device;
  jd.insns = r->words.data();
  jd.count = p.ops.size();
  jd.writes = r->writes.data();
  jd.num_writes = r->writes.size();
  jd.reads = r->reads.data();
  jd.num_reads = r->reads.size();
  std::lock_guard<std::mutex> lock(gMutex);
  std::string err = platformFor(c, p.dramBytes);
  if (!err.empty())
    return err;
  if (p.dramBytes > gPlatform.window)
    return "the program needs " + std::to_string(p.dramBytes) +
           " bytes of NPU DRAM, the core's window has " +
           std::to_string(gPlatform.window);
  if (c.profile >= 1) {
    r->trace = tracePath(1000 + ++gTraceSeq);
    jd.trace_path = r->trace.c_str();
  }
  ember_npu_status_t s = ember_npu_job_submit(gPlatform.dev, &jd, &r->job);
  if (s != EMBER_NPU_STATUS_OK)
    return "cannot queue the program on NPU core " + std::to_string(device) +
           ": " + ember_npu_device_last_error(gPlatform.dev);
  ++gPlatform.pending;
  out = std::move(r);
  return "";
}

std::string finishRun(PendingRun &r, RunResult *result) {
  if (!r.job)
    return runSingle(r, result);
  const Program &p = *r.program;
  ember_npu_status_t s = ember_npu_job_wait(r.job, UINT64_MAX);
  if (s != EMBER_NPU_STATUS_OK) {
    if (!r.trace.empty())
      std::remove(r.trace.c_str());
    return failure(p, ember_npu_job_error(r.job));
  }
  for (size_t i = 0; i < r.outputs.size(); ++i)
    accel::fromTiled(p.outputs[i], r.out[i].data(), r.outputs[i]);
  if (result) {
    *result = RunResult();
    ember_npu_job_info_t info;
    std::memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    info.counters.struct_size = sizeof info.counters;
    if (ember_npu_job_info(r.job, &info) == EMBER_NPU_STATUS_OK) {
      result->counters = info.counters;
      result->startCycle = info.start_cycle;
      result->endCycle = info.end_cycle;
      result->platform = true;
    }
    result->executor = "systemc";
    result->timed = true;
    if (!r.trace.empty())
      profile(p, readTrace(r.trace), r.config.profile, *result);
  }
  if (!r.trace.empty())
    std::remove(r.trace.c_str());
  return "";
}

void releaseRun(PendingRun *r) { delete r; }

ember_plugin::LayerMap layerMap(const Program &p) {
  ember_plugin::LayerMap m;
  for (const LayerInfo &l : p.layers)
    m.layers.push_back({l.name, l.nodes});
  m.insnLayer.assign(p.ops.size(), -1);
  for (size_t i = 0; i < p.ops.size() && i < p.opLayer.size(); ++i)
    if (p.opLayer[i] >= 0 && size_t(p.opLayer[i]) < p.layers.size())
      m.insnLayer[i] = p.opLayer[i];
  return m;
}

std::string runProgram(const Program &p, const RunConfig &c,
                       const std::vector<const void *> &inputs,
                       const std::vector<void *> &outputs, RunResult *result,
                       unsigned device) {
  PendingRunPtr r;
  std::string err = startRun(device, p, c, inputs, outputs, r);
  if (!err.empty())
    return err;
  return finishRun(*r, result);
}

std::string runLayersAlone(const Program &p, const RunConfig &c,
                           std::vector<uint64_t> &cycles, unsigned device) {
  cycles.assign(p.layers.size(), 0);
  RunConfig rc = c;
  rc.profile = 0;
  if (rc.executor == EMBER_NPU_EXECUTOR_GOLDEN)
    rc.executor = EMBER_NPU_EXECUTOR_SYSTEMC;
  for (size_t i = 0; i < p.layers.size(); ++i) {
    const LayerInfo &l = p.layers[i];
    if (l.endInsn <= l.firstInsn || l.endInsn > p.ops.size())
      continue;
    Program q;
    // Its own instructions: the weight loads prefetched during the layer
    // before (they lead, as they would have without prefetch), then its
    // range less the loads it prefetches for the layer after and, when it
    // runs interleaved with the layer before or after (a striped boundary),
    // less that layer's instructions.
    const size_t nf = p.layers.size() > i + 1 ? p.layers[i + 1].prefetchFirst
                                              : 0,
                 ne = p.layers.size() > i + 1 ? p.layers[i + 1].prefetchEnd : 0;
    if (l.prefetchFirst < l.prefetchEnd && l.prefetchEnd <= p.ops.size())
      q.ops.assign(p.ops.begin() + long(l.prefetchFirst),
                   p.ops.begin() + long(l.prefetchEnd));
    for (size_t k = l.firstInsn; k < l.endInsn; ++k)
      if ((k < nf || k >= ne) &&
          (k >= p.opLayer.size() || p.opLayer[k] == int32_t(i)))
        q.ops.push_back(p.ops[k]);
    q.ops.push_back(finishOp());
    std::string err = assignSync(npuTarget(), q.ops, nullptr).message();
    if (!err.empty())
      return "layer '" + l.name + "' alone: " + err;
    q.opLayer.assign(q.ops.size(), 0);
    q.dramBytes = p.dramBytes;
    RunResult r;
    err = runProgram(q, rc, {}, {}, &r, device);
    if (!err.empty())
      return "layer '" + l.name + "' alone: " + err;
    cycles[i] = r.counters.cycles;
  }
  return "";
}

std::string measureOnSystemC(const RunConfig &c, const Program &p,
                             uint64_t &cycles) {
  RunConfig r = c;
  r.executor = EMBER_NPU_EXECUTOR_SYSTEMC;
  r.profile = 0;
  r.dramGiven = false;
  r.dramBytes = std::max<uint64_t>(EMBER_NPU_DRAM_BYTES_DEFAULT, p.dramBytes);
  RunResult res;
  std::string e = runProgram(p, r, {}, {}, &res);
  cycles = res.counters.cycles;
  return e;
}

} // namespace ember::npusim

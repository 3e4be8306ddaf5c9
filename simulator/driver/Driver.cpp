//===- Driver.cpp - driver.h over the golden, SystemC and RTL models ------===//
#include "ember/npu/driver.h"

#include "../golden/Golden.h"
#include "../systemc/NpuModel.h"
#include "Platform.h"
#include "ember/npu/Footprint.h"
#include "ember/npu/Isa.h"
#include "ember/npu/Stall.h"
#if EMBER_NPU_HAVE_RTL
#include "../rtl/RtlModel.h"
#endif

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <dlfcn.h>
#include <memory>
#include <new>
#include <string>
#include <vector>

using namespace ember::npu;

struct ember_npu_device {
  ember_npu_config_t config;
  std::string tracePath;
  std::vector<uint8_t> dram;
  std::vector<Word> program;
  ember_npu_counters_t counters;
  std::string lastError;
  std::unique_ptr<GoldenMachine> golden;
  std::unique_ptr<PlatformRunner> platform; // config.cores >= 1
#if EMBER_NPU_HAVE_RTL
  std::unique_ptr<RtlModel> rtl;
  RtlConfig rtlConfig;
#endif
  // Co-simulation (the appended block of driver.h).
  ember_npu_retire_fn retireFn = nullptr;
  void *retireUser = nullptr;
  std::string windowPath;
  uint64_t windowFirst = 0, windowLast = 0;
  const ember_npu_executor_ops_t *ext = nullptr; // an external executor
  void *extCtx = nullptr;
  std::string extName;
  // Stalls (driver.h, "Stalls"): the planted fault of config.options, and
  // where the last run stopped.
  FaultPlan fault;
  ember_npu_stop_state_t stop{};
  bool hasStop = false;
};

namespace {
bool gSystemCInUse = false;

// The config struct as first published (before the RTL fields were appended).
constexpr size_t kConfigV0Size = offsetof(ember_npu_config_t, waveform_path);

ember_npu_status_t setError(ember_npu_device_t *d, ember_npu_status_t s,
                            std::string msg) {
  d->lastError = std::move(msg);
  return s;
}

// The device's DRAM: its own, or a platform's (every core's window).
uint8_t *dramData(ember_npu_device_t *d) {
  return d->platform ? d->platform->dram() : d->dram.data();
}
uint64_t dramSize(const ember_npu_device_t *d) {
  return d->platform ? d->platform->dramBytes() : d->dram.size();
}

DramTiming timingOf(const ember_npu_config_t &c) {
  DramTiming t;
  if (c.dram_bytes_per_cycle)
    t.bytesPerCycle = c.dram_bytes_per_cycle;
  if (c.dram_latency_cycles || c.dram_zero_latency)
    t.latencyCycles = c.dram_latency_cycles;
  if (c.dram_burst_bytes)
    t.burstBytes = c.dram_burst_bytes;
  return t;
}

/// The golden model's record of instruction `i`: the bytes its footprint
/// writes (ember/npu/Footprint.h) as they are after it, and its
/// counter contributions (the golden model runs one instruction at a time).
bool reportGoldenRetire(GoldenMachine &g, const std::vector<Insn> &program,
                        size_t i, std::vector<uint8_t> &dram,
                        const ember_npu_counters_t &now,
                        ember_npu_counters_t &before, ember_npu_retire_fn fn,
                        void *user) {
  const Insn &insn = program[i];
  std::vector<Access> fp = footprint(insn, g.regs().data());
  std::vector<ember_npu_write_t> writes;
  uint8_t tables[kLutSpaceBytes];
  std::memcpy(tables, g.lut().data(), 256);
  for (size_t e = 0; e < g.lut16().size(); ++e) {
    tables[kLut16Offset + 2 * e] = uint8_t(uint16_t(g.lut16()[e]));
    tables[kLut16Offset + 2 * e + 1] = uint8_t(uint16_t(g.lut16()[e]) >> 8);
  }
  for (const Access &a : fp) {
    if (!a.write)
      continue;
    const uint8_t *base =
        a.space == kSpaceDram
            ? dram.data()
            : (a.space == kSpaceLut ? tables : g.sram(a.space));
    writes.push_back({static_cast<uint32_t>(a.space),
                      static_cast<uint32_t>(a.hi - a.lo), a.lo, base + a.lo});
  }
  ember_npu_retire_t r;
  std::memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  Engine e = engineOf(insn);
  r.engine = static_cast<uint32_t>(e);
  r.index = i;
  r.macs = now.macs - before.macs;
  r.load_bytes = now.load_bytes - before.load_bytes;
  r.store_bytes = now.store_bytes - before.store_bytes;
  r.spaces = EMBER_NPU_SPACES_ALL;
  r.flags = footprintExact(insn) ? 0 : EMBER_NPU_RETIRE_SUPERSET;
  r.num_writes = static_cast<uint32_t>(writes.size());
  r.writes = writes.data();
  before = now;
  return fn(user, &r) == 0;
}

thread_local std::string gLoadError;

ember_npu_status_t loadError(std::string msg) {
  gLoadError = std::move(msg);
  return EMBER_NPU_STATUS_INVALID_ARGUMENT;
}
} // namespace

extern "C" {

void ember_npu_config_init(ember_npu_config_t *config) {
  std::memset(config, 0, sizeof *config);
  config->struct_size = sizeof *config;
  config->executor = EMBER_NPU_EXECUTOR_SYSTEMC;
}

ember_npu_status_t ember_npu_device_create(const ember_npu_config_t *config,
                                           ember_npu_device_t **out_device) {
  if (!config || !out_device || config->struct_size < kConfigV0Size)
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  // Fields beyond the caller's struct_size read as zero.
  ember_npu_config_t cfg;
  std::memset(&cfg, 0, sizeof cfg);
  std::memcpy(&cfg, config, std::min<size_t>(config->struct_size, sizeof cfg));
  cfg.struct_size = sizeof cfg;
  if (cfg.executor == EMBER_NPU_EXECUTOR_RTL) {
#if !EMBER_NPU_HAVE_RTL
    return EMBER_NPU_STATUS_UNSUPPORTED;
#endif
  } else if (cfg.executor == EMBER_NPU_EXECUTOR_SYSTEMC) {
    if (gSystemCInUse || SystemCPlatform::kernelTakenElsewhere())
      return EMBER_NPU_STATUS_BUSY;
  } else if (cfg.executor != EMBER_NPU_EXECUTOR_GOLDEN) {
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  }
  uint64_t bytes = cfg.dram_bytes ? cfg.dram_bytes
                   : cfg.cores    ? EMBER_NPU_PLATFORM_CORE_DRAM_BYTES
                                  : EMBER_NPU_DRAM_BYTES_DEFAULT;
  // DMA addresses are 32-bit, so more DRAM than 4 GiB is unreachable.
  if (bytes > (1ull << 32))
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  // Platforms: SystemC only, up to the spec's cores.
  if (cfg.cores && (cfg.executor != EMBER_NPU_EXECUTOR_SYSTEMC ||
                    cfg.cores > EMBER_NPU_PLATFORM_CORES))
    return cfg.executor == EMBER_NPU_EXECUTOR_SYSTEMC
               ? EMBER_NPU_STATUS_INVALID_ARGUMENT
               : EMBER_NPU_STATUS_UNSUPPORTED;
  if (cfg.cores && !cfg.shared_dram_bytes_per_cycle)
    cfg.shared_dram_bytes_per_cycle =
        uint32_t(EMBER_NPU_PLATFORM_DRAM_BYTES_PER_CYCLE);
  // Executor options: planted faults, for the timed executors' single runs.
  FaultPlan fault;
  if (std::string err = parseExecutorOptions(cfg.options, fault);
      !err.empty() ||
      (fault.on() && (cfg.executor == EMBER_NPU_EXECUTOR_GOLDEN || cfg.cores)))
    return loadError(err.empty() ? "faults are planted in the SystemC and "
                                   "RTL executors' single-core runs"
                                 : err);
  cfg.options = nullptr; // parsed; nothing passed in is retained
#if EMBER_NPU_HAVE_RTL
  RtlConfig rc;
  if (cfg.executor == EMBER_NPU_EXECUTOR_RTL) {
    if (cfg.dram_bytes_per_cycle)
      rc.bytesPerCycle = cfg.dram_bytes_per_cycle;
    if (cfg.dram_latency_cycles || cfg.dram_zero_latency)
      rc.latencyCycles = cfg.dram_latency_cycles;
    if (cfg.dram_burst_bytes)
      rc.burstBytes = cfg.dram_burst_bytes;
    rc.watchdogCycles = cfg.watchdog_cycles;
    rc.stallCycles = cfg.stall_cycles;
    rc.fault = fault;
    if (cfg.waveform_path)
      rc.waveformPath = cfg.waveform_path;
    // The RTL writes waveforms, not Chrome traces; a burst must suit its DMA.
    if (cfg.trace_path || !RtlModel::checkConfig(rc).empty())
      return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  }
#endif
  auto *d = new (std::nothrow) ember_npu_device();
  if (d) {
    try {
      if (cfg.cores)
        d->platform = std::make_unique<PlatformRunner>(
            cfg.cores, bytes, timingOf(cfg), cfg.shared_dram_bytes_per_cycle);
      else
        d->dram.assign(bytes, 0);
#if EMBER_NPU_HAVE_RTL
      if (cfg.executor == EMBER_NPU_EXECUTOR_RTL) {
        d->rtl = std::make_unique<RtlModel>(!rc.waveformPath.empty());
        d->rtlConfig = rc;
      }
#endif
    } catch (const std::bad_alloc &) {
      delete d;
      d = nullptr;
    }
  }
  if (!d)
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  if (cfg.executor == EMBER_NPU_EXECUTOR_SYSTEMC)
    gSystemCInUse = true;
  d->config = cfg;
  d->fault = fault;
  if (cfg.trace_path)
    d->tracePath = cfg.trace_path;
  d->config.trace_path = nullptr;
  d->config.waveform_path = nullptr;
  std::memset(&d->counters, 0, sizeof d->counters);
  d->counters.struct_size = sizeof d->counters;
  if (cfg.executor == EMBER_NPU_EXECUTOR_GOLDEN)
    d->golden = std::make_unique<GoldenMachine>();
  *out_device = d;
  return EMBER_NPU_STATUS_OK;
}

void ember_npu_device_destroy(ember_npu_device_t *device) {
  if (!device)
    return;
  if (device->ext && device->ext->destroy)
    device->ext->destroy(device->extCtx);
  else if (device->config.executor == EMBER_NPU_EXECUTOR_SYSTEMC)
    gSystemCInUse = false;
  delete device;
}

const char *ember_npu_device_last_error(const ember_npu_device_t *device) {
  return device ? device->lastError.c_str() : "null device";
}

ember_npu_status_t ember_npu_device_query(const ember_npu_device_t *d,
                                          ember_npu_device_info_t *out) {
  if (!d || !out || out->struct_size < sizeof(ember_npu_device_info_t))
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  uint32_t size = out->struct_size;
  std::memset(out, 0, sizeof *out);
  out->struct_size = size;
  out->executor = d->config.executor;
  bool golden = d->config.executor == EMBER_NPU_EXECUTOR_GOLDEN;
  out->name =
      golden
          ? "golden"
          : (d->config.executor == EMBER_NPU_EXECUTOR_RTL ? "rtl" : "systemc");
  out->dim = EMBER_NPU_DIM;
  out->timed = golden ? 0 : 1;
  out->concurrent = golden ? 0 : 1;
  if (d->ext) {
    out->executor = EMBER_NPU_EXECUTOR_EXTERNAL;
    out->name = d->extName.c_str();
    out->timed = d->ext->timed;
    out->concurrent = d->ext->concurrent;
  }
  out->dram_bytes = dramSize(d);
  for (int m = 0; m < kNumMems; ++m)
    out->mem_rows[m] = static_cast<uint32_t>(memRows(m));
  if (d->platform) {
    out->cores = d->platform->cores();
    out->shared_dram_bytes_per_cycle = d->platform->sharedBytesPerCycle();
    out->core_dram_bytes = d->platform->windowBytes();
  }
  out->clock_hz = EMBER_NPU_PLATFORM_CLOCK_HZ;
  return EMBER_NPU_STATUS_OK;
}

ember_npu_status_t ember_npu_dram_write(ember_npu_device_t *d, uint64_t addr,
                                        const void *data, size_t bytes) {
  if (!d || (!data && bytes) || addr > dramSize(d) ||
      bytes > dramSize(d) - addr)
    return d ? setError(d, EMBER_NPU_STATUS_INVALID_ARGUMENT,
                        "DRAM write out of range")
             : EMBER_NPU_STATUS_INVALID_ARGUMENT;
  if (bytes)
    std::memcpy(dramData(d) + addr, data, bytes);
  return EMBER_NPU_STATUS_OK;
}

ember_npu_status_t ember_npu_dram_read(ember_npu_device_t *d, uint64_t addr,
                                       void *data, size_t bytes) {
  if (!d || (!data && bytes) || addr > dramSize(d) ||
      bytes > dramSize(d) - addr)
    return d ? setError(d, EMBER_NPU_STATUS_INVALID_ARGUMENT,
                        "DRAM read out of range")
             : EMBER_NPU_STATUS_INVALID_ARGUMENT;
  if (bytes)
    std::memcpy(data, dramData(d) + addr, bytes);
  return EMBER_NPU_STATUS_OK;
}

ember_npu_status_t ember_npu_sram_read(ember_npu_device_t *d, uint32_t mem,
                                       uint32_t row, void *data,
                                       uint32_t rows) {
  if (!d || mem >= static_cast<uint32_t>(kNumMems) || !data ||
      uint64_t(row) + rows >
          static_cast<uint64_t>(memRows(static_cast<int>(mem))))
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  int m = static_cast<int>(mem);
  if (d->ext) {
    if (!d->ext->sram_read)
      return EMBER_NPU_STATUS_UNSUPPORTED;
    return d->ext->sram_read(d->extCtx, mem, row, data, rows)
               ? EMBER_NPU_STATUS_INVALID_ARGUMENT
               : EMBER_NPU_STATUS_OK;
  }
#if EMBER_NPU_HAVE_RTL
  if (d->rtl) {
    d->rtl->readSram(m, row, data, rows);
    return EMBER_NPU_STATUS_OK;
  }
#endif
  const uint8_t *base =
      d->golden ? d->golden->sram(m) : SystemCModel::instance().sram(m);
  std::memcpy(data, base + size_t(row) * memRowBytes(m),
              size_t(rows) * memRowBytes(m));
  return EMBER_NPU_STATUS_OK;
}

ember_npu_status_t ember_npu_program_load(ember_npu_device_t *d,
                                          const void *insns, size_t count) {
  if (!d || (!insns && count))
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  d->program.assign(count, Word());
  const uint8_t *p = static_cast<const uint8_t *>(insns);
  for (size_t i = 0; i < count; ++i) {
    std::memcpy(&d->program[i].lo, p + 16 * i, 8);
    std::memcpy(&d->program[i].hi, p + 16 * i + 8, 8);
  }
  return EMBER_NPU_STATUS_OK;
}

ember_npu_status_t ember_npu_run(ember_npu_device_t *d) {
  if (!d)
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  std::memset(&d->counters, 0, sizeof d->counters);
  d->counters.struct_size = sizeof d->counters;
  if (d->platform) {
    // Core 0, as a job over the DRAM as it is.
    ember_npu_job_desc_t jd;
    std::memset(&jd, 0, sizeof jd);
    jd.struct_size = sizeof jd;
    std::vector<uint8_t> words(d->program.size() * 16);
    for (size_t i = 0; i < d->program.size(); ++i) {
      std::memcpy(&words[16 * i], &d->program[i].lo, 8);
      std::memcpy(&words[16 * i + 8], &d->program[i].hi, 8);
    }
    jd.insns = words.data();
    jd.count = d->program.size();
    jd.trace_path = d->tracePath.empty() ? nullptr : d->tracePath.c_str();
    ember_npu_job_t *job = nullptr;
    ember_npu_status_t s = d->platform->submit(&jd, 1, &job);
    if (s != EMBER_NPU_STATUS_OK)
      return setError(d, s, "cannot queue the program on core 0");
    s = ember_npu_job_wait(job, UINT64_MAX);
    std::string err = ember_npu_job_error(job);
    ember_npu_job_info_t info;
    std::memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    info.counters.struct_size = sizeof info.counters;
    if (ember_npu_job_info(job, &info) == EMBER_NPU_STATUS_OK) {
      d->counters = info.counters;
      d->counters.struct_size = sizeof d->counters;
    }
    ember_npu_job_release(job);
    if (s != EMBER_NPU_STATUS_OK)
      return setError(d, s, err);
    d->lastError.clear();
    return EMBER_NPU_STATUS_OK;
  }
  std::vector<Insn> decoded;
  std::string err = checkProgram(d->program, d->dram.size(), decoded);
  if (!err.empty())
    return setError(d, EMBER_NPU_STATUS_BAD_PROGRAM, err);
  d->hasStop = false;
  if (d->ext) {
    char msg[1024] = "";
    ember_npu_counters_t c;
    std::memset(&c, 0, sizeof c);
    c.struct_size = sizeof c;
    int rc = d->ext->run(d->extCtx, d->program.data(), d->program.size(),
                         d->dram.data(), d->dram.size(), &c, d->retireFn,
                         d->retireUser, msg, sizeof msg);
    d->counters = c;
    if (d->ext->struct_size > offsetof(ember_npu_executor_ops_t, stop_state) &&
        d->ext->stop_state) {
      std::memset(&d->stop, 0, sizeof d->stop);
      d->stop.struct_size = sizeof d->stop;
      d->hasStop = d->ext->stop_state(d->extCtx, &d->stop) == 0;
    }
    if (rc) {
      msg[sizeof msg - 1] = 0;
      return setError(d, EMBER_NPU_STATUS_EXEC_ERROR,
                      msg[0] ? msg : "the executor failed without a message");
    }
  } else if (d->golden) {
    d->golden->reset();
    GoldenMachine::RetireHook hook;
    ember_npu_counters_t before = d->counters;
    if (d->retireFn)
      hook = [&](size_t i) {
        return reportGoldenRetire(*d->golden, decoded, i, d->dram, d->counters,
                                  before, d->retireFn, d->retireUser);
      };
    err = d->golden->run(decoded, d->dram, d->counters, hook);
#if EMBER_NPU_HAVE_RTL
  } else if (d->rtl) {
    d->rtlConfig.retireFn = d->retireFn;
    d->rtlConfig.retireUser = d->retireUser;
    RtlResult r = d->rtl->run(d->program, decoded, d->dram.data(),
                              d->dram.size(), d->rtlConfig);
    uint32_t size = d->counters.struct_size;
    d->counters = r.counters;
    d->counters.struct_size = size;
    d->stop = r.stop;
    d->hasStop = true;
    err = r.error;
#endif
  } else {
    DramTiming t = timingOf(d->config);
    RunControl ctl;
    ctl.retireFn = d->retireFn;
    ctl.retireUser = d->retireUser;
    ctl.stallCycles = d->config.stall_cycles;
    ctl.fault = d->fault;
    SimResult r = SystemCModel::instance().run(decoded, d->dram.data(),
                                               d->dram.size(), t, ctl);
    d->stop = r.stop;
    d->hasStop = true;
    if (!d->windowPath.empty() && err.empty()) {
      std::string werr =
          writeChromeTrace(d->windowPath, r, d->windowFirst, d->windowLast);
      if (!werr.empty() && r.error.empty())
        return setError(d, EMBER_NPU_STATUS_INVALID_ARGUMENT, werr);
    }
    uint32_t size = d->counters.struct_size;
    d->counters = r.counters;
    d->counters.struct_size = size;
    err = r.error;
    if (err.empty() && !d->tracePath.empty()) {
      std::string terr = writeChromeTrace(d->tracePath, r);
      if (!terr.empty())
        return setError(d, EMBER_NPU_STATUS_INVALID_ARGUMENT, terr);
    }
  }
  if (!err.empty())
    return setError(d, EMBER_NPU_STATUS_EXEC_ERROR, err);
  d->lastError.clear();
  return EMBER_NPU_STATUS_OK;
}

ember_npu_status_t ember_npu_job_submit_all(ember_npu_device_t *d,
                                            const ember_npu_job_desc_t *descs,
                                            size_t count,
                                            ember_npu_job_t **out) {
  if (!d || (!descs && count) || (!out && count))
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  if (!d->platform)
    return setError(d, EMBER_NPU_STATUS_UNSUPPORTED,
                    "jobs run on platform devices (config.cores >= 1)");
  // Fields beyond a caller's struct_size read as zero.
  std::vector<ember_npu_job_desc_t> jds(count);
  for (size_t i = 0; i < count; ++i) {
    if (descs[i].struct_size < offsetof(ember_npu_job_desc_t, trace_path))
      return EMBER_NPU_STATUS_INVALID_ARGUMENT;
    std::memset(&jds[i], 0, sizeof jds[i]);
    std::memcpy(&jds[i], &descs[i],
                std::min<size_t>(descs[i].struct_size, sizeof jds[i]));
  }
  return d->platform->submit(jds.data(), count, out);
}

ember_npu_status_t ember_npu_job_submit(ember_npu_device_t *d,
                                        const ember_npu_job_desc_t *desc,
                                        ember_npu_job_t **out) {
  if (!desc)
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  return ember_npu_job_submit_all(d, desc, 1, out);
}

ember_npu_status_t ember_npu_counters_read(const ember_npu_device_t *d,
                                           ember_npu_counters_t *out) {
  if (!d || !out || out->struct_size < sizeof(ember_npu_counters_t))
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  uint32_t size = out->struct_size;
  *out = d->counters;
  out->struct_size = size;
  return EMBER_NPU_STATUS_OK;
}

ember_npu_status_t ember_npu_set_retire_callback(ember_npu_device_t *d,
                                                 ember_npu_retire_fn fn,
                                                 void *user) {
  if (!d)
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  d->retireFn = fn;
  d->retireUser = fn ? user : nullptr;
  return EMBER_NPU_STATUS_OK;
}

ember_npu_status_t ember_npu_stop_state(const ember_npu_device_t *d,
                                        ember_npu_stop_state_t *out) {
  if (!d || !out || out->struct_size < sizeof(ember_npu_stop_state_t))
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  if (!d->hasStop)
    return EMBER_NPU_STATUS_UNSUPPORTED;
  uint32_t size = out->struct_size;
  *out = d->stop;
  out->struct_size = size;
  return EMBER_NPU_STATUS_OK;
}

ember_npu_status_t ember_npu_set_waveform_window(ember_npu_device_t *d,
                                                 const char *path,
                                                 uint64_t first,
                                                 uint64_t last) {
  if (!d || (path && last < first))
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  if (d->ext) {
    if (!d->ext->set_waveform_window)
      return EMBER_NPU_STATUS_UNSUPPORTED;
    char msg[512] = "";
    if (d->ext->set_waveform_window(d->extCtx, path, first, last, msg,
                                    sizeof msg)) {
      msg[sizeof msg - 1] = 0;
      return setError(d, EMBER_NPU_STATUS_INVALID_ARGUMENT, msg);
    }
    return EMBER_NPU_STATUS_OK;
  }
  if (d->golden)
    return EMBER_NPU_STATUS_UNSUPPORTED;
#if EMBER_NPU_HAVE_RTL
  if (d->rtl) {
    if (!RtlModel::waveformsSupported())
      return setError(d, EMBER_NPU_STATUS_UNSUPPORTED,
                      "this build of the RTL executor has no waveform support "
                      "(EMBER_NPU_RTL_TRACE=OFF)");
    // A model built for waveforms (the default one is not: tracing support
    // costs it time on every cycle).
    if (path && !d->rtl->waveforms())
      d->rtl = std::make_unique<RtlModel>(true);
    d->rtlConfig.windowPath = path ? path : "";
    d->rtlConfig.windowFirst = first;
    d->rtlConfig.windowLast = last;
    return EMBER_NPU_STATUS_OK;
  }
#endif
  d->windowPath = path ? path : "";
  d->windowFirst = first;
  d->windowLast = last;
  return EMBER_NPU_STATUS_OK;
}

ember_npu_status_t ember_npu_device_create_external(
    const ember_npu_config_t *config, const ember_npu_executor_ops_t *ops,
    const char *options, ember_npu_device_t **out_device) {
  if (!config || !ops || !out_device || config->struct_size < kConfigV0Size)
    return loadError("invalid arguments");
  if (ops->struct_size < offsetof(ember_npu_executor_ops_t, sram_read) ||
      ops->abi_version != EMBER_NPU_EXECUTOR_ABI_VERSION || !ops->create ||
      !ops->run || !ops->destroy)
    return loadError("the executor's table is not of ABI version " +
                     std::to_string(EMBER_NPU_EXECUTOR_ABI_VERSION) +
                     " or lacks create, run or destroy");
  ember_npu_config_t cfg;
  std::memset(&cfg, 0, sizeof cfg);
  std::memcpy(&cfg, config, std::min<size_t>(config->struct_size, sizeof cfg));
  cfg.struct_size = sizeof cfg;
  uint64_t bytes =
      cfg.dram_bytes ? cfg.dram_bytes : EMBER_NPU_DRAM_BYTES_DEFAULT;
  if (bytes > (1ull << 32))
    return loadError("more DRAM than 4 GiB");
  cfg.dram_bytes = bytes;
  auto *d = new (std::nothrow) ember_npu_device();
  if (!d)
    return loadError("out of memory");
  try {
    d->dram.assign(bytes, 0);
  } catch (const std::bad_alloc &) {
    delete d;
    return loadError("out of memory for " + std::to_string(bytes) +
                     " bytes of DRAM");
  }
  char msg[512] = "";
  void *ctx = nullptr;
  if (ops->create(&cfg, options ? options : "", &ctx, msg, sizeof msg)) {
    msg[sizeof msg - 1] = 0;
    delete d;
    return loadError(std::string("the executor's create failed: ") + msg);
  }
  d->config = cfg;
  d->config.trace_path = nullptr;
  d->config.waveform_path = nullptr;
  d->ext = ops;
  d->extCtx = ctx;
  d->extName = ops->name ? ops->name : "external";
  std::memset(&d->counters, 0, sizeof d->counters);
  d->counters.struct_size = sizeof d->counters;
  *out_device = d;
  return EMBER_NPU_STATUS_OK;
}

ember_npu_status_t
ember_npu_device_open_library(const ember_npu_config_t *config,
                              const char *path, const char *options,
                              ember_npu_device_t **out_device) {
  if (!path)
    return loadError("no library path");
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    return loadError(std::string("cannot load '") + path +
                     "': " + (e ? e : "unknown dlopen error"));
  }
  auto entry = reinterpret_cast<ember_npu_executor_entry_fn>(
      dlsym(h, EMBER_NPU_EXECUTOR_ENTRY_SYMBOL));
  if (!entry)
    return loadError(std::string("'") + path + "' does not export " +
                     EMBER_NPU_EXECUTOR_ENTRY_SYMBOL);
  const ember_npu_executor_ops_t *ops = entry();
  if (!ops)
    return loadError(std::string("'") + path + "': " +
                     EMBER_NPU_EXECUTOR_ENTRY_SYMBOL + " returned NULL");
  return ember_npu_device_create_external(config, ops, options, out_device);
}

const char *ember_npu_last_load_error(void) { return gLoadError.c_str(); }

} // extern "C"

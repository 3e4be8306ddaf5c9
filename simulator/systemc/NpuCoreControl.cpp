//===- NpuCoreControl.cpp - Starting, closing and inspecting a core -------===//
//
// What SystemCPlatform (NpuPlatform.cpp) drives a core of the SystemC model
// with (NpuModel.h, "core control"): runs begun and ended, retirement records,
// planted faults, stop states, Chrome traces of a run.
//
//===----------------------------------------------------------------------===//
#include "NpuCore.h"

#include "ember/npu/Stall.h"

#include <fstream>

namespace ember::npu {

NpuTop *newCore(const char *name, std::function<void()> onRunEnd) {
  NpuTop *t = new NpuTop(name);
  t->onRunEnd = std::move(onRunEnd);
  return t;
}

void setRetireCallback(NpuTop &t, ember_npu_retire_fn fn, void *user) {
  t.retireLog.fn = fn;
  t.retireLog.user = fn ? user : nullptr;
}

uint8_t *coreSram(NpuTop &t, int mem) { return t.srams[mem]->storage.data(); }

uint64_t coreRunStart(const NpuTop &t) { return toCycles(t.startTime); }

void setCoreFault(NpuTop &t, const FaultPlan &fault) { t.fault = fault; }

uint64_t coreLastRetire(const NpuTop &t) { return t.lastRetire; }

ember_npu_stop_state_t coreStopState(NpuTop &t, uint64_t limit) {
  ember_npu_stop_state_t s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  const uint64_t start = toCycles(t.startTime), now = t.now();
  s.cycle = now;
  s.last_retire_cycle = t.lastRetire - start;
  s.stall_cycles = limit;
  s.fetched = t.fetched;
  for (int e = 0; e < kNumEngines; ++e) {
    ember_npu_engine_state_t &es = s.engines[e];
    const EngineModule &m = *t.engines[e];
    es.queued = static_cast<uint32_t>(t.queues[e].size());
    es.index =
        t.queues[e].empty() ? EMBER_NPU_NO_INSN : t.queues[e].front().index;
    es.phase = EMBER_NPU_PHASE_IDLE;
    // A token or space wait (GEMM's retire stage has a slot of its own).
    auto blocked = [&](int slot) {
      if (t.blockedChannel[slot] < 0)
        return false;
      es.phase = t.blockedForSpace[slot] ? EMBER_NPU_PHASE_SPACE
                                         : EMBER_NPU_PHASE_TOKEN;
      es.channel = static_cast<uint32_t>(t.blockedChannel[slot]);
      es.index = static_cast<uint64_t>(t.blockedInsn[slot]);
      return true;
    };
    if (e != EMBER_NPU_ENGINE_GEMM) {
      if (m.held >= 0 && !blocked(e)) {
        es.phase = EMBER_NPU_PHASE_EXEC;
        es.index = static_cast<uint64_t>(m.held);
      }
      continue;
    }
    es.in_flight = static_cast<uint32_t>(m.retires.size());
    if (!m.retires.empty()) {
      const EngineModule::Retire &r = m.retires.front();
      es.index = r.index;
      if (blocked(kNumEngines))
        continue;
      // Where its timing puts it now (cycles from the run's start).
      es.phase = now < r.preload    ? EMBER_NPU_PHASE_SHADOW
                 : now < r.firstRow ? EMBER_NPU_PHASE_PRELOAD
                 : now <= r.lastRow ? EMBER_NPU_PHASE_STREAM
                                    : EMBER_NPU_PHASE_DRAIN;
    } else if (m.held >= 0 && !blocked(e)) {
      es.phase = EMBER_NPU_PHASE_EXEC;
      es.index = static_cast<uint64_t>(m.held);
    }
  }
  for (int c = 0; c < kNumChannels; ++c)
    s.tokens[c] = static_cast<uint32_t>(std::max(t.tokens[c], 0));
  // DMA: the bursts booked on the DRAM channel (kernel cycles).
  const uint64_t abs = toCycles(sc_core::sc_time_stamp());
  t.dram.forgetDone(abs);
  uint64_t lastBeat = t.dram.lastBeatDone;
  for (const DramTarget::Burst &b : t.dram.booked) {
    if (b.start > abs) {
      ++s.dram_queue;
      if (!b.write)
        s.load_pending_bytes += b.bytes;
      continue;
    }
    if (b.done >= abs)
      ++(b.write ? s.dram_writes : s.dram_reads);
    if (!b.write && b.lastBeat >= abs)
      s.load_pending_bytes += b.bytes;
    const uint64_t beat = std::min(b.lastBeat, abs);
    if (lastBeat == UINT64_MAX || beat > lastBeat)
      lastBeat = beat;
  }
  s.last_beat_cycle = lastBeat == UINT64_MAX || lastBeat < start
                          ? EMBER_NPU_NO_INSN
                          : lastBeat - start;
  return s;
}

void stallRun(NpuTop &t, uint64_t limit) {
  SimResult &r = *t.result;
  r.stop = coreStopState(t, limit);
  r.stop.stalled = 1;
  if (r.error.empty())
    r.error = stallError(r.stop, *t.program);
}

void beginRun(NpuTop &t, const std::vector<Insn> &program, uint8_t *dram,
              uint64_t dramBytes, const DramTiming &timing, SharedDram *shared,
              SimResult *result) {
  t.retireLog.clear();
  for (SramTarget *s : t.srams)
    std::fill(s->storage.begin(), s->storage.end(), 0);
  t.regs.fill(0);
  t.lut.fill(0);
  t.lut16.fill(0);
  t.tokens.fill(0);
  t.lastTake.fill(-1);
  for (auto &q : t.queues)
    q.clear();
  t.active.fill(false);
  t.gemmInflight = 0;
  ++t.runId;
  t.blockedChannel.fill(-1);
  t.program = &program;
  t.result = result;
  t.finished = false;
  t.aborting = false;
  t.dram.data = dram;
  t.dram.bytes = dramBytes;
  t.dram.timing = timing;
  t.dram.shared = shared;
  t.startTime = sc_core::sc_time_stamp();
  t.dram.busyUntil = t.startTime;
  t.dram.queued.clear();
  t.dram.resetPort();
  t.dram.booked.clear();
  t.dram.lastBeatDone = UINT64_MAX;
  t.lastRetire = toCycles(t.startTime);
  t.fetched = 0;
  for (EngineModule *e : t.engines) {
    e->held = -1;
    e->retires.clear();
  }
  t.runPending = true;
  t.startEv.notify(SC_ZERO_TIME);
}

void endRun(NpuTop &t) {
  SimResult &result = *t.result;
  const std::vector<Insn> &program = *t.program;
  if (!result.stop.stalled)
    result.stop = coreStopState(t, EMBER_NPU_STALL_OFF);
  if (!t.finished && result.error.empty()) {
    // Nothing left to happen but FINISH was not reached: report the oldest
    // blocked instruction.
    int64_t oldest = -1;
    int who = -1;
    for (int e = 0; e <= kNumEngines;
         ++e) { // slot kNumEngines: GEMM's retire stage
      if (t.blockedChannel[e] >= 0 &&
          (oldest < 0 || t.blockedInsn[e] < oldest)) {
        oldest = t.blockedInsn[e];
        who = e;
      }
    }
    if (who >= 0)
      result.error =
          "instruction " + std::to_string(oldest) +
          ": deadlock: " + opcodeName(program[oldest].op) + " on " +
          engineName(who == kNumEngines ? Engine::GEMM
                                        : static_cast<Engine>(who)) +
          (t.blockedForSpace[who] ? " waits for space on token channel "
                                  : " waits for a token on ") +
          channelName(t.blockedChannel[who]) +
          (t.blockedForSpace[who] ? " that is never drained"
                                  : " that is never signalled");
    else
      result.error =
          "instruction " + std::to_string(program.size()) + ": deadlock";
  }
  if (!t.finished) {
    // Unwind every blocked thread so the next run starts clean: the abort
    // reaches them in the next delta cycles (no time passes, so runs on
    // other cores are not disturbed).
    t.aborting = true;
    t.abortEv.notify(SC_ZERO_TIME);
    for (int i = 0; i < 3; ++i)
      sc_core::sc_start(SC_ZERO_TIME);
    t.aborting = false;
  }
  // GEMM instructions overlap in its pipeline: busy = cycles with one in flight
  // (the union).
  std::vector<BusyInterval> gm;
  for (const BusyInterval &b : result.busy[EMBER_NPU_ENGINE_GEMM]) {
    if (!gm.empty() && b.start <= gm.back().end)
      gm.back().end = std::max(gm.back().end, b.end);
    else
      gm.push_back(b);
  }
  for (const BusyInterval &b : gm)
    result.counters.gemm_busy += b.end - b.start;
  // Overlap: cycles where LOAD and GEMM are both busy (both interval lists are
  // sorted).
  const auto &ld = result.busy[EMBER_NPU_ENGINE_LOAD];
  size_t i = 0, j = 0;
  while (i < ld.size() && j < gm.size()) {
    uint64_t lo = std::max(ld[i].start, gm[j].start),
             hi = std::min(ld[i].end, gm[j].end);
    if (hi > lo)
      result.counters.overlap += hi - lo;
    (ld[i].end < gm[j].end) ? ++i : ++j;
  }
  t.program = nullptr;
  t.result = nullptr;
  t.dram.shared = nullptr;
}

std::string writeChromeTrace(const std::string &path, const SimResult &result) {
  return writeChromeTrace(path, result, 0, UINT64_MAX);
}

std::string writeChromeTrace(const std::string &path, const SimResult &result,
                             uint64_t firstCycle, uint64_t lastCycle) {
  std::ofstream out(path);
  if (!out)
    return "cannot open '" + path + "' for writing";
  out << "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"time_unit\":\"1 cycle = "
         "1 us\"},"
         "\"traceEvents\":[\n";
  bool first = true;
  for (int e = 0; e < kNumEngines; ++e) {
    out << (first ? "" : ",\n")
        << "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":" << e
        << ",\"args\":{\"name\":\"" << engineName(static_cast<Engine>(e))
        << "\"}}";
    first = false;
  }
  for (int e = 0; e < kNumEngines; ++e) {
    for (const auto *list : {&result.busy[e], &result.stalls[e]}) {
      for (const BusyInterval &b : *list)
        if (b.end >= firstCycle && b.start <= lastCycle)
          out << ",\n{\"name\":\"" << (b.stall ? "wait " : "")
              << opcodeName(b.op) << "\",\"cat\":\""
              << (b.stall ? "stall" : "exec")
              << "\",\"ph\":\"X\",\"pid\":0,\"tid\":" << e
              << ",\"ts\":" << b.start << ",\"dur\":" << (b.end - b.start)
              << ",\"args\":{\"insn\":" << b.insnIndex << "}}";
    }
  }

  out << "\n]}\n";
  return out ? "" : "write to '" + path + "' failed";
}

} // namespace ember::npu

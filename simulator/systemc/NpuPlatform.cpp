//===- NpuPlatform.cpp - NPU cores on one SystemC kernel and DRAM -------===//
//
// SystemCPlatform (NpuModel.h): the spec's cores, elaborated once, each driven
// through the core control of NpuModel.cpp; the shared DRAM channel their
// ports book; the kernel stepped until a run ends, with the deadlock checks
// a multi-core kernel needs. SystemCModel is core 0 run alone.
//
//===----------------------------------------------------------------------===//
#include "NpuModel.h"

#include <systemc>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <map>

namespace ember::npu {

namespace {

const sc_core::sc_time kCycle(1, sc_core::SC_NS);

uint64_t toCycles(const sc_core::sc_time &t) {
  return static_cast<uint64_t>(t / kCycle + 0.5);
}

// A run's progress for the watchdog: instructions retired and intervals
// recorded (each instruction adds at least one).
uint64_t progressOf(const SimResult &r) {
  uint64_t n = r.counters.insns;
  for (int e = 0; e < kNumEngines; ++e)
    n += r.busy[e].size() + r.stalls[e].size();
  return n;
}

// Stops the kernel at its next update phase, rung from any thread (SystemC's
// thread-safe async_request_update): a job queued for an idle core is taken
// up at once, without waiting for the running ones to end.
class Doorbell : public sc_core::sc_prim_channel {
public:
  Doorbell() : sc_core::sc_prim_channel("platform_doorbell") {}
  void ring() { async_request_update(); }

protected:
  void update() override { sc_core::sc_pause(); }
};

} // namespace

/// The shared channel: a burst holds it bytes / bytesPerCycle cycles.
/// Bursts are booked ahead (when requested), so it keeps a calendar of its
/// booked intervals and one core's bursts fill the gaps between another's.
struct SharedDram {
  uint32_t bytesPerCycle = 0;
  std::map<double, double> booked; // start -> end, disjoint, in cycles
};

double bookSharedDram(SharedDram &s, double now, double from, uint64_t bytes) {
  const double len = static_cast<double>(bytes) / s.bytesPerCycle;
  while (!s.booked.empty() && s.booked.begin()->second <= now)
    s.booked.erase(s.booked.begin());
  double t = from;
  auto it = s.booked.upper_bound(t);
  if (it != s.booked.begin() && std::prev(it)->second > t)
    t = std::prev(it)->second;
  for (; it != s.booked.end() && it->first < t + len; ++it)
    if (it->second > t)
      t = it->second;
  // Merged with the interval it starts at the end of, if any.
  auto prev = s.booked.lower_bound(t);
  if (prev != s.booked.begin() && std::prev(prev)->second == t)
    std::prev(prev)->second = t + len;
  else
    s.booked[t] = t + len;
  return t;
}

struct SystemCPlatform::State {
  std::vector<NpuTop *> cores;
  SharedDram *shared = nullptr;
  // Per core: a run in progress; its end seen (onRunEnd or a deadlock);
  // reported by advance(); its result; progress for the watchdog.
  std::vector<bool> running, ended, reported;
  std::vector<SimResult *> results;
  std::vector<uint64_t> progress, progressAt;
  Doorbell *doorbell = nullptr;
};

namespace {
bool gElaborated = false; // this copy's platform exists
} // namespace

SystemCPlatform &SystemCPlatform::instance() {
  // Never destroyed: one kernel per process, elaborated once.
  static SystemCPlatform *platform = new SystemCPlatform();
  gElaborated = true;
  return *platform;
}

bool SystemCPlatform::kernelTakenElsewhere() {
  return !gElaborated && !sc_core::sc_get_top_level_objects().empty();
}

SystemCPlatform::SystemCPlatform() : s_(new State()) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  // Closing a deadlocked run steps the kernel with nothing left to do.
  sc_core::sc_report_handler::set_actions(sc_core::SC_ID_NO_SC_START_ACTIVITY_,
                                          sc_core::SC_DO_NOTHING);
  const unsigned n = static_cast<unsigned>(EMBER_NPU_PLATFORM_CORES);
  s_->running.assign(n, false);
  s_->ended.assign(n, false);
  s_->reported.assign(n, false);
  s_->results.assign(n, nullptr);
  s_->progress.assign(n, 0);
  s_->progressAt.assign(n, 0);
  s_->shared = new SharedDram();
  s_->doorbell = new Doorbell();
  for (unsigned c = 0; c < n; ++c) {
    // Core 0 keeps the single model's name ("npu").
    std::string name = c ? "npu" + std::to_string(c) : std::string("npu");
    s_->cores.push_back(newCore(name.c_str(), [this, c] {
      if (!s_->running[c] || s_->ended[c])
        return; // the unwinding of a run already closed
      s_->ended[c] = true;
      sc_core::sc_pause();
    }));
  }
}

unsigned SystemCPlatform::cores() const {
  return static_cast<unsigned>(s_->cores.size());
}

bool SystemCPlatform::busy(unsigned core) const { return s_->running[core]; }

void SystemCPlatform::interrupt() { s_->doorbell->ring(); }

uint64_t SystemCPlatform::now() const {
  return toCycles(sc_core::sc_time_stamp());
}

uint64_t SystemCPlatform::runStart(unsigned core) const {
  return coreRunStart(*s_->cores[core]);
}

void SystemCPlatform::setRetireCallback(unsigned core, ember_npu_retire_fn fn,
                                        void *user) {
  ember::npu::setRetireCallback(*s_->cores[core], fn, user);
}

void SystemCPlatform::setFault(unsigned core, const FaultPlan &fault) {
  setCoreFault(*s_->cores[core], fault);
}

uint64_t SystemCPlatform::lastRetire(unsigned core) const {
  return coreLastRetire(*s_->cores[core]);
}

void SystemCPlatform::stall(unsigned core, uint64_t limit) {
  stallRun(*s_->cores[core], limit);
  s_->ended[core] = true;
}

uint8_t *SystemCPlatform::sram(unsigned core, int mem) {
  return coreSram(*s_->cores[core], mem);
}

void SystemCPlatform::start(unsigned core, const std::vector<Insn> &program,
                            uint8_t *dram, uint64_t dramBytes,
                            const DramTiming &timing,
                            uint32_t sharedBytesPerCycle, SimResult *result) {
  s_->shared->bytesPerCycle = sharedBytesPerCycle;
  beginRun(*s_->cores[core], program, dram, dramBytes, timing,
           sharedBytesPerCycle ? s_->shared : nullptr, result);
  s_->running[core] = true;
  s_->ended[core] = false;
  s_->reported[core] = false;
  s_->results[core] = result;
  s_->progress[core] = 0;
  s_->progressAt[core] = now();
}

std::vector<unsigned> SystemCPlatform::advance(uint64_t cycles, bool toTime) {
  State &st = *s_;
  bool any = false;
  for (unsigned c = 0; c < cores(); ++c)
    any = any || (st.running[c] && !st.ended[c]);
  if (any) {
    // Bounded so that a sc_time of the limit does not overflow.
    double n = static_cast<double>(std::min<uint64_t>(cycles, 1ull << 50));
    sc_core::sc_start(kCycle * n, toTime ? sc_core::SC_RUN_TO_TIME
                                         : sc_core::SC_EXIT_ON_STARVATION);
  }
  // Nothing left to happen: every run still open can never end.
  const bool starved = !sc_core::sc_pending_activity();
  const uint64_t t = now();
  std::vector<unsigned> out;
  for (unsigned c = 0; c < cores(); ++c) {
    if (!st.running[c] || st.reported[c])
      continue;
    if (!st.ended[c]) {
      uint64_t p = progressOf(*st.results[c]);
      if (p != st.progress[c]) {
        st.progress[c] = p;
        st.progressAt[c] = t;
      }
      // Another core keeps the kernel busy; this one has made no progress
      // for longer than any instruction takes.
      if (starved || t - st.progressAt[c] > kWatchdogCycles)
        st.ended[c] = true;
    }
    if (st.ended[c]) {
      st.reported[c] = true;
      out.push_back(c);
    }
  }
  return out;
}

void SystemCPlatform::finish(unsigned core) {
  s_->running[core] = false;
  s_->results[core] = nullptr;
  endRun(*s_->cores[core]);
}

// ---- one core alone -----------------------------------------------------

SystemCModel &SystemCModel::instance() {
  static SystemCModel *model =
      new SystemCModel(); // never destroyed: one kernel per process
  return *model;
}

SystemCModel::SystemCModel() { SystemCPlatform::instance(); }

uint8_t *SystemCModel::sram(int mem) {
  return SystemCPlatform::instance().sram(0, mem);
}

SimResult SystemCModel::run(const std::vector<Insn> &program, uint8_t *dram,
                            uint64_t dramBytes, const DramTiming &timing,
                            const RunControl &control) {
  SimResult result;
  SystemCPlatform &p = SystemCPlatform::instance();
  p.setRetireCallback(0, control.retireFn, control.retireUser);
  p.setFault(0, control.fault);
  p.start(0, program, dram, dramBytes, timing, 0, &result);
  // The stall watchdog (driver.h, "Stalls"): the kernel runs to the cycle the
  // limit would pass without a retirement, and again while there was one.
  const uint64_t limit =
      stallLimitFor(control.stallCycles, program,
                    DramParams{timing.bytesPerCycle, timing.latencyCycles,
                               timing.burstBytes});
  for (;;) {
    uint64_t step = UINT64_MAX;
    if (limit != EMBER_NPU_STALL_OFF) {
      const uint64_t due = p.lastRetire(0) + limit + 1, now = p.now();
      step = due > now ? due - now : 1;
    }
    // To the due cycle even when nothing happens before it (the next event
    // of a stuck engine may lie beyond).
    std::vector<unsigned> ended =
        p.advance(step, /*toTime=*/limit != EMBER_NPU_STALL_OFF);
    if (std::find(ended.begin(), ended.end(), 0u) != ended.end())
      break;
    if (limit != EMBER_NPU_STALL_OFF && p.now() - p.lastRetire(0) > limit) {
      p.stall(0, limit);
      break;
    }
  }
  p.finish(0);
  p.setRetireCallback(0, nullptr, nullptr);
  p.setFault(0, FaultPlan());
  result.stop.stall_cycles = limit;
  return result;
}

} // namespace ember::npu

// ===- Platform.cpp - Jobs on the cores of a multi-core platform (driver.h)
// -===//
#include "Platform.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>

using namespace ember::npu;

struct ember_npu_job {
  unsigned core = 0;
  std::vector<Word> words;
  std::vector<Insn> decoded;
  std::vector<ember_npu_copy_t> writes, reads;
  std::string tracePath;
  // Set by the platform's thread; read by waiters under the runner's mutex.
  SimResult result;
  bool done = false;
  ember_npu_status_t status = EMBER_NPU_STATUS_OK;
  std::string error;
  uint64_t startCycle = 0, endCycle = 0;
  std::mutex *mu = nullptr; // the runner's
  std::condition_variable cv;
};

namespace ember::npu {

namespace {
// How far the kernel runs at most before it checks its cores (it stops
// earlier when a run ends or a job is queued for an idle core).
constexpr uint64_t kQuantum = 1u << 22;
} // namespace

void PlatformRunner::FreeDeleter::operator()(uint8_t *p) const { std::free(p); }

PlatformRunner::PlatformRunner(unsigned cores, uint64_t windowBytes,
                               const DramTiming &t,
                               uint32_t sharedBytesPerCycle)
    : cores_(cores), window_(windowBytes), timing_(t),
      shared_(sharedBytesPerCycle),
      dram_(static_cast<uint8_t *>(
          std::calloc(size_t(uint64_t(cores) * windowBytes), 1))),
      queues_(cores), running_(cores, nullptr), keys_(cores, 0) {
  if (!dram_)
    throw std::bad_alloc();
  SystemCPlatform::instance(); // elaborate on this thread
  thread_ = std::thread([this] { loop(); });
}

PlatformRunner::~PlatformRunner() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    for (auto &q : queues_)
      for (ember_npu_job_t *j : q) {
        j->status = EMBER_NPU_STATUS_EXEC_ERROR;
        j->error = "the device was destroyed before the job ran";
        j->done = true;
        j->cv.notify_all();
      }
    for (auto &q : queues_)
      q.clear();
  }
  cv_.notify_all();
  thread_.join();
}

namespace {
// A job of `d`, or null when `d` is not valid for a platform of `cores`
// cores with windows of `window` bytes.
ember_npu_job_t *makeJob(const ember_npu_job_desc_t &d, unsigned cores,
                         uint64_t window) {
  if (d.core >= cores || (!d.insns && d.count) || (!d.writes && d.num_writes) ||
      (!d.reads && d.num_reads))
    return nullptr;
  for (const auto &[list, n] : {std::make_pair(d.writes, d.num_writes),
                                std::make_pair(d.reads, d.num_reads)})
    for (size_t i = 0; i < n; ++i)
      if ((!list[i].host && list[i].bytes) || list[i].addr > window ||
          list[i].bytes > window - list[i].addr)
        return nullptr;
  auto *j = new (std::nothrow) ember_npu_job();
  if (!j)
    return nullptr;
  j->core = d.core;
  j->words.resize(d.count);
  const uint8_t *p = static_cast<const uint8_t *>(d.insns);
  for (size_t i = 0; i < d.count; ++i) {
    std::memcpy(&j->words[i].lo, p + 16 * i, 8);
    std::memcpy(&j->words[i].hi, p + 16 * i + 8, 8);
  }
  j->writes.assign(d.writes, d.writes + d.num_writes);
  j->reads.assign(d.reads, d.reads + d.num_reads);
  if (d.trace_path)
    j->tracePath = d.trace_path;
  return j;
}
} // namespace

ember_npu_status_t PlatformRunner::submit(const ember_npu_job_desc_t *descs,
                                          size_t count, ember_npu_job_t **out) {
  std::vector<ember_npu_job_t *> jobs;
  for (size_t i = 0; i < count; ++i) {
    ember_npu_job_t *j = makeJob(descs[i], cores_, window_);
    if (!j) {
      for (ember_npu_job_t *k : jobs)
        delete k;
      return EMBER_NPU_STATUS_INVALID_ARGUMENT;
    }
    j->mu = &mu_;
    jobs.push_back(j);
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) {
      for (ember_npu_job_t *k : jobs)
        delete k;
      return EMBER_NPU_STATUS_BUSY;
    }
    bool idle = false;
    for (size_t i = 0; i < count; ++i) {
      idle = idle || !running_[jobs[i]->core];
      queues_[jobs[i]->core].push_back(jobs[i]);
      out[i] = jobs[i];
    }
    // An idle core takes its job now, while the others run.
    if (idle)
      SystemCPlatform::instance().interrupt();
  }
  cv_.notify_all();
  return EMBER_NPU_STATUS_OK;
}

// Under mu_: takes up `job` on the idle core.
void PlatformRunner::startJob(unsigned core, ember_npu_job_t *j) {
  SystemCPlatform &sim = SystemCPlatform::instance();
  j->error = checkProgram(j->words, window_, j->decoded);
  if (!j->error.empty()) {
    j->status = EMBER_NPU_STATUS_BAD_PROGRAM;
    j->startCycle = j->endCycle = sim.now();
    j->done = true;
    j->cv.notify_all();
    return;
  }
  uint8_t *win = dram_.get() + uint64_t(core) * window_;
  for (const ember_npu_copy_t &c : j->writes) {
    if (c.key) {
      if (keys_[core] == c.key)
        continue;
      keys_[core] = c.key;
    }
    if (c.bytes)
      std::memcpy(win + c.addr, c.host, size_t(c.bytes));
  }
  j->result = SimResult();
  sim.start(core, j->decoded, win, window_, timing_, shared_, &j->result);
  j->startCycle = sim.runStart(core);
  running_[core] = j;
}

// Under mu_: closes the ended run of `core`.
void PlatformRunner::endJob(unsigned core) {
  SystemCPlatform &sim = SystemCPlatform::instance();
  ember_npu_job_t *j = running_[core];
  running_[core] = nullptr;
  sim.finish(core);
  j->endCycle = sim.now();
  if (!j->result.error.empty()) {
    j->status = EMBER_NPU_STATUS_EXEC_ERROR;
    j->error = j->result.error;
    keys_[core] = 0; // a failed run may leave anything in the window
  } else {
    uint8_t *win = dram_.get() + uint64_t(core) * window_;
    for (const ember_npu_copy_t &c : j->reads)
      if (c.bytes)
        std::memcpy(c.host, win + c.addr, size_t(c.bytes));
    if (!j->tracePath.empty()) {
      std::string err = writeChromeTrace(j->tracePath, j->result);
      if (!err.empty()) {
        j->status = EMBER_NPU_STATUS_INVALID_ARGUMENT;
        j->error = err;
      }
    }
  }
  j->done = true;
  j->cv.notify_all();
}

void PlatformRunner::loop() {
  SystemCPlatform &sim = SystemCPlatform::instance();
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    bool anyRunning = false;
    for (unsigned c = 0; c < cores_; ++c) {
      while (!running_[c] && !queues_[c].empty()) {
        ember_npu_job_t *j = queues_[c].front();
        queues_[c].pop_front();
        startJob(c, j);
      }
      anyRunning = anyRunning || running_[c];
    }
    if (!anyRunning) {
      if (stop_)
        return;
      cv_.wait(l);
      continue;
    }
    // The kernel runs without the lock: submitters queue meanwhile.
    l.unlock();
    std::vector<unsigned> ended = sim.advance(kQuantum);
    l.lock();
    for (unsigned c : ended)
      endJob(c);
  }
}

} // namespace ember::npu

extern "C" {

ember_npu_status_t ember_npu_job_wait(ember_npu_job_t *j, uint64_t timeout_ns) {
  if (!j)
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  std::unique_lock<std::mutex> l(*j->mu);
  if (timeout_ns == UINT64_MAX) {
    j->cv.wait(l, [j] { return j->done; });
  } else if (!j->cv.wait_for(l, std::chrono::nanoseconds(timeout_ns),
                             [j] { return j->done; })) {
    return EMBER_NPU_STATUS_BUSY;
  }
  return j->status;
}

const char *ember_npu_job_error(const ember_npu_job_t *j) {
  if (!j)
    return "null job";
  std::lock_guard<std::mutex> l(*j->mu);
  return j->done ? j->error.c_str() : "";
}

ember_npu_status_t ember_npu_job_info(const ember_npu_job_t *j,
                                      ember_npu_job_info_t *out) {
  if (!j || !out || out->struct_size < sizeof(ember_npu_job_info_t) ||
      out->counters.struct_size < sizeof(ember_npu_counters_t))
    return EMBER_NPU_STATUS_INVALID_ARGUMENT;
  std::lock_guard<std::mutex> l(*j->mu);
  if (!j->done)
    return EMBER_NPU_STATUS_BUSY;
  uint32_t size = out->struct_size, csize = out->counters.struct_size;
  std::memset(out, 0, sizeof *out);
  out->struct_size = size;
  out->core = j->core;
  out->start_cycle = j->startCycle;
  out->end_cycle = j->endCycle;
  out->counters = j->result.counters;
  out->counters.struct_size = csize;
  return EMBER_NPU_STATUS_OK;
}

void ember_npu_job_release(ember_npu_job_t *j) {
  if (!j)
    return;
  ember_npu_job_wait(j, UINT64_MAX);
  delete j;
}

} // extern "C"

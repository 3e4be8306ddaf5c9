#include "ThreadPool.h"

#include "RtAbi.h"

#include <climits>
#include <cstdio>
#include <cstdlib>

#if defined(__linux__)
#include <pthread.h>
#include <time.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace ember::cpugen {

namespace {
thread_local ThreadPool *tCurrent = nullptr;
// Busy-wait this many polls for new work before sleeping: a model runs its
// steps back to back, so a worker that sleeps between steps costs a wake-up
// (tens of microseconds) per step.
constexpr int kSpinPolls = 200000;
// Every this many of those polls, the worker yields its core: when the
// machine is loaded and the caller waits for a core (often the worker's
// own), the worker's spinning would take half of it while the caller does
// every step alone. On an idle core a yield returns at once.
constexpr int kYieldEvery = 256;
// The calling thread's wait for the other pieces: some tens of microseconds
// of pauses before it starts yielding.
constexpr int kWaitSpinPolls = 2000;
// How long the caller waits for a joined worker before it reads the
// worker's CPU clock (StallRule: a wait is long past 1 ms; the probe's
// window is what tells a preempted worker from a running one). A chunk is
// a fraction of one step, microseconds to a few hundred. On a loaded
// machine a worker is descheduled at nearly every step, each making the
// caller wait milliseconds for the scheduler to run it again (SqueezeNet at
// 2 threads beside two busy processes took 112 ms, not 3.5); a worker that
// runs a long chunk makes it wait too, and must not make the pool serial.
// (An idle VM stalls a worker about once in 400 ms, 1-4 ms each.)
constexpr auto kProbeAfter = std::chrono::microseconds(250);
// A share is claimed in about this many chunks: finer chunks bound the
// imbalance left at the end tighter, at one compare-and-swap and one call
// of the task function each.
constexpr int64_t kChunksPerShare = 8;

// One poll of a spin-wait: a pause (it frees the core's shared resources
// for the sibling hyperthread and saves power), never a system call.
inline void spinPause() {
#if defined(__x86_64__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

constexpr int64_t kNoClock = INT64_MIN;
// A worker's entry in the probe when it was already done (a CPU time is
// never negative; -1 means it could not be read).
constexpr int64_t kNotProbed = -2;

int64_t wallNs(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             t.time_since_epoch())
      .count();
}
} // namespace

ThreadPool::ThreadPool(unsigned numThreads)
    : shares_(new Share[numThreads ? numThreads : 1]),
      slots_(new Slot[numThreads ? numThreads : 1]) {
  for (unsigned i = 1; i < numThreads; ++i) {
    workers_.emplace_back([this, i] { workerLoop(i); });
    // (Thread CPU clock ids are negative numbers on Linux: kNoClock marks
    // a worker without one.)
    int64_t id = kNoClock;
#if defined(__linux__)
    clockid_t c;
    if (pthread_getcpuclockid(workers_.back().native_handle(), &c) == 0)
      id = int64_t(c);
#endif
    cpuClocks_.push_back(id);
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  { std::lock_guard<std::mutex> l(mu_); }
  wake_.notify_all();
  for (auto &t : workers_)
    t.join();
  if (!std::getenv("EMBER_POOL_STATS") || workers_.empty())
    return;
  uint64_t tasks = 0, taken = 0, sleeps = 0;
  for (unsigned i = 1; i < size(); ++i) {
    tasks += slots_[i].tasks.load();
    taken += slots_[i].taken.load();
    sleeps += slots_[i].sleeps.load();
  }
  std::fprintf(
      stderr,
      "ember pool: %llu steps (%llu serial), %llu joined, %llu "
      "revoked, %llu waits (%.3f ms), %llu long, %llu stalls, %llu "
      "switches; "
      "tasks: caller %llu (%llu taken), workers %llu (%llu taken); "
      "worker sleeps %llu\n",
      (unsigned long long)stats_.steps, (unsigned long long)stats_.serialSteps,
      (unsigned long long)stats_.joined, (unsigned long long)stats_.revoked,
      (unsigned long long)stats_.waits, stats_.waitNs * 1e-6,
      (unsigned long long)stats_.longWaits, (unsigned long long)stats_.stalls,
      (unsigned long long)stats_.switches,
      (unsigned long long)slots_[0].tasks.load(),
      (unsigned long long)slots_[0].taken.load(), (unsigned long long)tasks,
      (unsigned long long)taken, (unsigned long long)sleeps);
}

int64_t ThreadPool::cpuTimeNs(unsigned worker) const {
  if (hooks_.cpuTimeNs)
    return hooks_.cpuTimeNs(hooks_.ctx, worker);
#if defined(__linux__)
  timespec ts;
  if (cpuClocks_[worker - 1] != kNoClock &&
      clock_gettime(clockid_t(cpuClocks_[worker - 1]), &ts) == 0)
    return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
#endif
  return -1;
}

bool ThreadPool::claim(Share &s, bool front, int64_t &begin, int64_t &end) {
  uint64_t v = s.range.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t b = int64_t(v >> 32), e = int64_t(v & 0xffffffffu);
    if (b >= e)
      return false;
    const int64_t c = e - b < chunk_ ? e - b : chunk_;
    const uint64_t next = front ? uint64_t(b + c) << 32 | uint64_t(e)
                                : uint64_t(b) << 32 | uint64_t(e - c);
    // (A failed exchange reloads v.)
    if (s.range.compare_exchange_weak(v, next, std::memory_order_relaxed)) {
      begin = front ? b : e - c;
      end = front ? b + c : e;
      return true;
    }
  }
}

void ThreadPool::work(unsigned index) {
  int64_t b, e;
  int64_t own = 0, taken = 0;
  while (claim(shares_[index], true, b, e)) {
    fn_(ctx_, b, e, int64_t(index));
    own += e - b;
  }
  for (unsigned k = 1; k < size(); ++k) {
    Share &other = shares_[(index + k) % size()];
    while (claim(other, false, b, e)) {
      fn_(ctx_, b, e, int64_t(index));
      taken += e - b;
    }
  }
  // (Each slot's counters have one writer: loads and stores, no locked
  // instruction.)
  Slot &s = slots_[index];
  s.tasks.store(s.tasks.load(std::memory_order_relaxed) + uint64_t(own + taken),
                std::memory_order_relaxed);
  s.taken.store(s.taken.load(std::memory_order_relaxed) + uint64_t(taken),
                std::memory_order_relaxed);
}

void ThreadPool::run(void (*fn)(void *, int64_t, int64_t, int64_t), void *ctx,
                     int64_t n) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  if (workers_.empty() || n <= 1 || uint64_t(n) > 0xffffffffu ||
      start < rule_.serialUntil()) {
    // (Shares pack 32-bit bounds; no step has that many tasks.)
    if (start < rule_.serialUntil() && n > 1)
      ++stats_.serialSteps;
    if (n > 0)
      fn(ctx, 0, n, 0);
    return;
  }
  ++stats_.steps;
  fn_ = fn;
  ctx_ = ctx;
  const int64_t w = int64_t(size()), step = (n + w - 1) / w;
  for (int64_t i = 0; i < w; ++i) {
    const int64_t b = i * step < n ? i * step : n;
    const int64_t e = b + step < n ? b + step : n;
    shares_[i].range.store(uint64_t(b) << 32 | uint64_t(e),
                           std::memory_order_relaxed);
  }
  chunk_ = (step + kChunksPerShare - 1) / kChunksPerShare;
  // Every worker's last step is done or revoked, so nobody reads the job
  // fields or its slot while they are rewritten here.
  const uint64_t gen = generation_.load(std::memory_order_relaxed) + 1;
  for (unsigned i = 1; i < size(); ++i) {
    slots_[i].probe.store(false, std::memory_order_relaxed);
    slots_[i].doneWallNs = 0;
    slots_[i].state.store(gen << 2 | kOpen, std::memory_order_relaxed);
  }
  // Publishes the job. Workers still spinning see the generation change;
  // only sleeping ones need the (system call) notification. A worker
  // counts itself a sleeper before it checks the generation one last time
  // (both sequentially consistent), so either it sees this generation or
  // this load sees it; taking mu_ makes sure it is waiting, not between
  // its check and its wait, when notified.
  generation_.store(gen);
  if (sleepers_.load() != 0) {
    { std::lock_guard<std::mutex> l(mu_); }
    wake_.notify_all();
  }
  work(0);
  // Nothing is left to claim: a worker that has not joined yet would find
  // nothing, so its slot is revoked rather than waited for.
  bool wait = false;
  for (unsigned i = 1; i < size(); ++i) {
    uint64_t open = gen << 2 | kOpen;
    if (slots_[i].state.compare_exchange_strong(open, gen << 2 | kRevoked,
                                                std::memory_order_acq_rel)) {
      ++stats_.revoked;
    } else {
      ++stats_.joined;
      wait |= open != (gen << 2 | kDone);
    }
  }
  if (wait)
    waitForJoined(gen, start);
}

void ThreadPool::waitForJoined(uint64_t gen,
                               std::chrono::steady_clock::time_point start) {
  using Clock = std::chrono::steady_clock;
  // Joined workers end in kDone; revoked slots never change again.
  auto pending = [&] {
    for (unsigned i = 1; i < size(); ++i)
      if (slots_[i].state.load(std::memory_order_acquire) ==
          (gen << 2 | kJoined))
        return true;
    return false;
  };
  // The other pieces usually finish within microseconds of this one: spin
  // with pauses (a sched_yield per poll was a system call each), then yield
  // so that a descheduled worker gets this core on a loaded machine. Past
  // kProbeAfter, read the CPU clock of each worker still busy.
  const Clock::time_point worked = Clock::now();
  ++stats_.waits;
  bool probed = false;
  int64_t probeWall = 0;
  std::vector<int64_t> probeCpu;
  for (int polls = 0; pending(); ++polls) {
    if (polls < kWaitSpinPolls) {
      spinPause();
      continue;
    }
    std::this_thread::yield();
    if (probed)
      continue;
    const Clock::time_point now = Clock::now();
    if (now - worked < kProbeAfter)
      continue;
    probed = true;
    probeWall = wallNs(now);
    probeCpu.assign(size(), kNotProbed);
    for (unsigned i = 1; i < size(); ++i)
      if (slots_[i].state.load(std::memory_order_acquire) ==
          (gen << 2 | kJoined)) {
        probeCpu[i] = cpuTimeNs(i);
        slots_[i].probe.store(true, std::memory_order_relaxed);
      }
  }
  const Clock::time_point done = Clock::now();
  stats_.waitNs += uint64_t(wallNs(done) - wallNs(worked));
  if (!StallRule::isLong(start, worked, done))
    return;
  ++stats_.longWaits;
  // A stall: a probed worker off its core for most of the time from the
  // probe to its end, which it read when it saw the probe. A long wait
  // without a probe is the caller's own time off its core (it yields after
  // its spins), and a worker that ended before it saw the probe was not
  // what the caller waited for: neither is evidence of a preempted worker,
  // and serial steps would not help either.
  bool stall = false;
  for (unsigned i = 1; probed && i < size(); ++i) {
    if (probeCpu[i] == kNotProbed)
      continue;
    const Slot &s = slots_[i];
    if (s.doneWallNs == 0)
      continue;
    stall |=
        StallRule::offCore(probeWall, probeCpu[i], s.doneWallNs, s.doneCpuNs);
  }
  if (!stall)
    return;
  ++stats_.stalls;
  if (rule_.onStall(start, done))
    ++stats_.switches;
}

bool StallRule::onStall(Clock::time_point start, Clock::time_point done) {
  // (From the last stall's end to this step's start: how long the stall
  // itself lasted does not matter.)
  strikes_ = start - lastStall_ <= kStrikeWindow ? strikes_ + 1 : 1;
  lastStall_ = done;
  if (strikes_ < kStrikes)
    return false;
  serialUntil_ = done + kSerialPeriod;
  strikes_ = 0;
  return true;
}

void ThreadPool::workerLoop(unsigned index) {
  uint64_t seen = 0;
  Slot &slot = slots_[index];
  for (;;) {
    int polls = 0;
    while (generation_.load(std::memory_order_acquire) == seen &&
           polls < kSpinPolls) {
      if (++polls % kYieldEvery == 0)
        std::this_thread::yield();
      else
        spinPause();
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> l(mu_);
      sleepers_.fetch_add(1);
      slot.sleeps.store(slot.sleeps.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
      wake_.wait(l, [&] { return generation_.load() != seen; });
      sleepers_.fetch_sub(1);
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load())
      return;
    if (hooks_.beforeJoin)
      hooks_.beforeJoin(hooks_.ctx, index);
    // Joining orders this worker's reads of the job after the caller's
    // writes (the generation's release); a revoked or newer slot means
    // the caller has moved on without it.
    uint64_t open = seen << 2 | kOpen;
    if (!slot.state.compare_exchange_strong(open, seen << 2 | kJoined,
                                            std::memory_order_acq_rel))
      continue;
    work(index);
    if (slot.probe.load(std::memory_order_relaxed)) {
      slot.doneCpuNs = cpuTimeNs(index);
      slot.doneWallNs = wallNs(std::chrono::steady_clock::now());
    }
    slot.state.store(seen << 2 | kDone, std::memory_order_release);
  }
}

ThreadPool::Binding::Binding(ThreadPool *pool) : prev_(tCurrent) {
  tCurrent = pool;
}
ThreadPool::Binding::~Binding() { tCurrent = prev_; }
ThreadPool *ThreadPool::current() { return tCurrent; }

} // namespace ember::cpugen

extern "C" {

void ember_rt_parallel_for(ember_rt_task fn, void *ctx, int64_t n) {
  ember::cpugen::ThreadPool *p = ember::cpugen::ThreadPool::current();
  if (p)
    p->run(fn, ctx, n);
  else if (n > 0)
    fn(ctx, 0, n, 0);
}

int64_t ember_rt_num_workers(void) {
  ember::cpugen::ThreadPool *p = ember::cpugen::ThreadPool::current();
  return p ? int64_t(p->size()) : 1;
}

} // extern "C"

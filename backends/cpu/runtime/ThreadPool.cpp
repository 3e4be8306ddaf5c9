#include "ThreadPool.h"

#include "RtAbi.h"

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
// The calling thread's wait for the other pieces: some tens of microseconds
// of pauses before it starts yielding.
constexpr int kWaitSpinPolls = 2000;
// A worker still busy this long after the caller ran out of work to take
// (and longer than the caller's own part took) was descheduled: a chunk is
// a fraction of one step, microseconds to a few hundred. On a loaded
// machine that happens at nearly every step, each waiting milliseconds for
// the scheduler to run the worker again (SqueezeNet at 2 threads beside
// two busy processes took 112 ms, not 3.5). So kStrikes stalls, each in a
// step that started within kStrikeWindow of the last stall's end, make the
// pool run steps on the caller alone for kSerialPeriod; then it tries its
// workers again. (An idle VM stalls a worker about once in 400 ms, 1-4 ms
// each: no reason to stop.)
constexpr auto kStragglerLimit = std::chrono::milliseconds(1);
constexpr auto kStrikeWindow = std::chrono::milliseconds(20);
constexpr int kStrikes = 3;
constexpr auto kSerialPeriod = std::chrono::milliseconds(100);
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
} // namespace

ThreadPool::ThreadPool(unsigned numThreads)
    : shares_(new Share[numThreads ? numThreads : 1]) {
  for (unsigned i = 1; i < numThreads; ++i)
    workers_.emplace_back([this, i] { workerLoop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    generation_.fetch_add(1);
  }
  wake_.notify_all();
  for (auto &t : workers_)
    t.join();
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
  while (claim(shares_[index], true, b, e))
    fn_(ctx_, b, e, int64_t(index));
  for (unsigned k = 1; k < size(); ++k) {
    Share &other = shares_[(index + k) % size()];
    while (claim(other, false, b, e))
      fn_(ctx_, b, e, int64_t(index));
  }
}

void ThreadPool::run(void (*fn)(void *, int64_t, int64_t, int64_t), void *ctx,
                     int64_t n) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  if (workers_.empty() || n <= 1 || uint64_t(n) > 0xffffffffu ||
      start < serialUntil_) {
    // (Shares pack 32-bit bounds; no step has that many tasks.)
    if (n > 0)
      fn(ctx, 0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
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
    pending_.store(unsigned(workers_.size()));
    generation_.fetch_add(1);
  }
  // Workers still spinning see the generation change; only sleeping ones
  // need the (system call) notification. A worker counts itself a sleeper
  // under mu_ before it waits, so one that saw the old generation is
  // counted by the time mu_ was released above.
  if (sleepers_.load() != 0)
    wake_.notify_all();
  work(0);
  if (pending_.load(std::memory_order_acquire) == 0)
    return;
  // The other pieces usually finish within microseconds of this one: spin
  // with pauses (a sched_yield per poll was a system call each), then yield
  // so that a descheduled worker gets this core on a loaded machine.
  const Clock::time_point worked = Clock::now();
  for (int polls = 0; pending_.load(std::memory_order_acquire) != 0; ++polls) {
    if (polls < kWaitSpinPolls)
      spinPause();
    else
      std::this_thread::yield();
  }
  const Clock::time_point done = Clock::now();
  if (done - worked <= kStragglerLimit || done - worked <= worked - start)
    return;
  // (From the last stall's end to this step's start: how long the stall
  // itself lasted does not matter.)
  strikes_ = start - lastStall_ <= kStrikeWindow ? strikes_ + 1 : 1;
  lastStall_ = done;
  if (strikes_ >= kStrikes) {
    serialUntil_ = done + kSerialPeriod;
    strikes_ = 0;
  }
}

void ThreadPool::workerLoop(unsigned index) {
  uint64_t seen = 0;
  for (;;) {
    int polls = 0;
    while (generation_.load(std::memory_order_acquire) == seen &&
           polls < kSpinPolls) {
      spinPause();
      ++polls;
    }
    {
      // The job fields were written under mu_ before the generation moved;
      // taking mu_ orders this worker's reads after them.
      std::unique_lock<std::mutex> l(mu_);
      if (generation_.load() == seen) {
        sleepers_.fetch_add(1);
        wake_.wait(l, [&] { return generation_.load() != seen; });
        sleepers_.fetch_sub(1);
      }
      seen = generation_.load();
      if (stop_)
        return;
    }
    work(index);
    pending_.fetch_sub(1, std::memory_order_release);
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

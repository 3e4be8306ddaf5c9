// The plugin's thread pool behind ember_rt_parallel_for (RtAbi.h). Each
// executable owns one pool of num_threads - 1 workers; the thread that runs
// ember_main is worker 0 and binds the pool for the call (Binding), so
// generated code and the runtime find it without a parameter.
//
// Work: [0, n) is cut into one contiguous share per worker, as a static
// partition would. Each worker runs its own share front to back, a chunk
// at a time; a worker that runs out takes chunks from the back of the
// others' shares. So a worker that was slowed (a remote cache, an uneven
// piece, a preempted core) hands its tail to the others, and most of each
// share still runs where the previous step's share of the same data ran.
// Tasks write disjoint outputs and use per-worker scratch only within one
// call, so results never depend on which worker ran a task.
//
// Joining: a worker takes part in a step only by joining it (its slot goes
// from open to joined) before it claims anything. When the caller has run
// out of work to take, it revokes every slot still open, so it waits only
// for workers that hold a chunk, never for one that has not started (a
// worker descheduled between steps, or still waking up).
//
// On a loaded machine a worker can be descheduled in the middle of a chunk;
// the caller then waits for the scheduler to run it again. A wait of over a
// millisecond (and longer than the caller's own part) is a stall when the
// worker was off its core for most of it (its thread's CPU clock advanced
// less than half the wall time); a worker that was running all along is
// merely slow (a long chunk) and no stall. Three stalls in a row, each in a
// step started within 20 ms of the last one's end, make the pool run the
// next 100 ms of steps on the calling thread alone; then it tries again.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace ember::cpugen {

// The pool's stall rule, apart from the threads so that tests can give it
// times. Each wait of the caller on joined workers is reported with the
// step's start, when the caller ran out of work (worked) and when the last
// worker was done. A wait over kLongWait and longer than the caller's own
// part is long; a long wait on a worker that was off its core (offCore) is
// a stall. kStrikes stalls, each in a step started within kStrikeWindow of
// the last stall's end, make steps serial until kSerialPeriod after the
// last one. A long wait on a running worker neither strikes nor resets.
class StallRule {
public:
  using Clock = std::chrono::steady_clock;
  static constexpr auto kLongWait = std::chrono::milliseconds(1);
  static constexpr auto kStrikeWindow = std::chrono::milliseconds(20);
  static constexpr int kStrikes = 3;
  static constexpr auto kSerialPeriod = std::chrono::milliseconds(100);

  enum class Wait { Short, Slow, Stall };
  static bool isLong(Clock::time_point start, Clock::time_point worked,
                     Clock::time_point done) {
    return done - worked > kLongWait && done - worked > worked - start;
  }
  // A worker whose CPU clock advanced less than half the wall time from
  // the probe to its end was off its core; a clock that could not be read
  // (negative) counts as off.
  static bool offCore(int64_t probeWallNs, int64_t probeCpuNs,
                      int64_t endWallNs, int64_t endCpuNs) {
    return probeCpuNs < 0 || endCpuNs < 0 ||
           2 * (endCpuNs - probeCpuNs) < endWallNs - probeWallNs;
  }
  // Records a wait; true when it switched steps to serial.
  bool onStall(Clock::time_point start, Clock::time_point done);
  Clock::time_point serialUntil() const { return serialUntil_; }

private:
  Clock::time_point serialUntil_{}, lastStall_{};
  int strikes_ = 0; // stalls in a row, each soon after the last
};

class ThreadPool {
public:
  explicit ThreadPool(unsigned numThreads);
  ~ThreadPool();
  ThreadPool(const ThreadPool &) = delete;
  ThreadPool &operator=(const ThreadPool &) = delete;

  unsigned size() const { return unsigned(workers_.size()) + 1; }
  // Runs fn(ctx, begin, end, worker) for each worker's piece of [0, n).
  void run(void (*fn)(void *, int64_t, int64_t, int64_t), void *ctx, int64_t n);
  // Whether run() currently keeps steps on the calling thread.
  bool serialFallback() const {
    return std::chrono::steady_clock::now() < rule_.serialUntil();
  }

  // What the calling thread saw, counted since the pool was made.
  struct Stats {
    uint64_t steps = 0;       // run() calls given to the workers
    uint64_t serialSteps = 0; // run() calls kept on the caller (fallback)
    uint64_t joined = 0;      // worker slots joined in time
    uint64_t revoked = 0;     // worker slots revoked: the caller did it all
    uint64_t waits = 0;       // steps whose caller waited for a worker
    uint64_t waitNs = 0;      // the caller's time in those waits
    uint64_t longWaits = 0;   // waits over the straggler limit
    uint64_t stalls = 0;      // long waits on a worker off its core
    uint64_t switches = 0;    // times the pool went serial
  };
  const Stats &stats() const { return stats_; }

  // For tests: a worker's CPU time in nanoseconds (default: its thread's
  // CPU clock) and a hook each worker calls before it tries to join a step
  // (default: none). Set before the first run().
  struct TestHooks {
    int64_t (*cpuTimeNs)(void *ctx, unsigned worker) = nullptr;
    void (*beforeJoin)(void *ctx, unsigned worker) = nullptr;
    void *ctx = nullptr;
  };
  void setTestHooks(const TestHooks &h) { hooks_ = h; }

  // Makes `pool` the current thread's pool for the lifetime of the object.
  class Binding {
  public:
    explicit Binding(ThreadPool *pool);
    ~Binding();

  private:
    ThreadPool *prev_;
  };
  static ThreadPool *current();

private:
  // One worker's share of the current job, [begin, end) packed as
  // begin << 32 | end: the owner claims chunks at the front, other workers
  // at the back, each by one compare-and-swap.
  struct alignas(64) Share {
    std::atomic<uint64_t> range{0};
  };
  // A worker's part in step `generation`: generation << 2 | one of the
  // states below. The caller opens it; the worker joins (or finds it
  // revoked) and marks it done; the caller revokes what is still open.
  enum : uint64_t { kOpen = 0, kJoined = 1, kDone = 2, kRevoked = 3 };
  struct alignas(64) Slot {
    std::atomic<uint64_t> state{kRevoked};
    // Set by the caller when it probes a long wait: the worker then reads
    // its CPU clock and the time when it is done.
    std::atomic<bool> probe{false};
    int64_t doneCpuNs = 0, doneWallNs = 0;
    // Tasks this worker ran, of them taken from others' shares, and its
    // sleeps on wake_ (EMBER_POOL_STATS prints them).
    std::atomic<uint64_t> tasks{0}, taken{0}, sleeps{0};
  };

  void workerLoop(unsigned index);
  // Runs worker `index`'s share, then what is left of the others'.
  void work(unsigned index);
  bool claim(Share &s, bool front, int64_t &begin, int64_t &end);
  int64_t cpuTimeNs(unsigned worker) const;
  // Waits for the joined workers; counts and classifies a long wait.
  void waitForJoined(uint64_t gen, std::chrono::steady_clock::time_point start);

  std::vector<std::thread> workers_;
  std::vector<int64_t> cpuClocks_; // clockid_t of each worker, by index
  std::mutex mu_;                  // guards only the sleep on wake_
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<unsigned> sleepers_{0}; // workers blocked on wake_
  std::atomic<bool> stop_{false};
  // The job of the current generation: written before the generation
  // moves, read by a worker only after it joined that generation.
  void (*fn_)(void *, int64_t, int64_t, int64_t) = nullptr;
  void *ctx_ = nullptr;
  int64_t chunk_ = 1;               // tasks per claim
  std::unique_ptr<Share[]> shares_; // size() of them
  std::unique_ptr<Slot[]> slots_;   // size() of them (0 unused)
  TestHooks hooks_;
  // When steps run on the caller alone (a worker was descheduled). Read
  // and written by the calling thread only (run is not reentrant).
  StallRule rule_;
  Stats stats_;
};

} // namespace ember::cpugen

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
// On a loaded machine a worker can be descheduled in the middle of a chunk;
// the caller then waits for the scheduler to run it again. When such waits
// (over a millisecond, and longer than the caller's own part) come three
// in a row, each in a step started within 20 ms of the last one's end, the
// pool runs the next 100 ms of steps on the calling thread alone, then
// tries again.
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
    return std::chrono::steady_clock::now() < serialUntil_;
  }

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

  void workerLoop(unsigned index);
  // Runs worker `index`'s share, then what is left of the others'.
  void work(unsigned index);
  bool claim(Share &s, bool front, int64_t &begin, int64_t &end);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<unsigned> pending_{0};
  std::atomic<unsigned> sleepers_{0}; // workers blocked on wake_
  bool stop_ = false;
  // The job of the current generation.
  void (*fn_)(void *, int64_t, int64_t, int64_t) = nullptr;
  void *ctx_ = nullptr;
  int64_t chunk_ = 1;               // tasks per claim
  std::unique_ptr<Share[]> shares_; // size() of them
  // Until then, steps run on the caller alone (a worker was descheduled).
  // Read and written by the calling thread only (run is not reentrant).
  std::chrono::steady_clock::time_point serialUntil_{}, lastStall_{};
  int strikes_ = 0; // stalls in a row, each soon after the last
};

} // namespace ember::cpugen

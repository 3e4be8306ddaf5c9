// The plugin's thread pool behind ember_rt_parallel_for (RtAbi.h). Each
// executable owns one pool of num_threads - 1 workers; the thread that runs
// ember_main is worker 0 and binds the pool for the call (Binding), so
// generated code and the runtime find it without a parameter. Work is a
// static partition of [0, n) into one contiguous piece per worker, so a
// result never depends on timing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
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
  void workerLoop(unsigned index);
  void piece(unsigned index);

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
  int64_t n_ = 0;
};

} // namespace ember::cpugen

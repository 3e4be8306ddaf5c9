// The CPU backend's thread pool (backends/cpu/runtime/ThreadPool.cpp): every
// task once, a late worker revoked instead of waited for, and the stall rule
// that tells a preempted worker from a merely slow one (backends/cpu/README.md,
// "Runtime, kernels and threads"). Split from CpuCodegenTest.cpp.
#include "compiler/Compiler.h"
#include "runtime/ThreadPool.h"

#include "import/OnnxImporter.h"
#include "interp/Interpreter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <thread>

#include "CpuTestUtil.h"

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

// The pool runs every task exactly once, in ranges that never overlap, and
// a worker held up in its first task has the rest of its share taken over.
TEST(CpuThreadPool, CoversEachTaskOnceAndTakesOverASlowShare) {
  struct Job {
    std::atomic<int> runs[100];
    std::atomic<int> byWorker0InShare1{0};
  } job;
  for (auto &r : job.runs)
    r = 0;
  ThreadPool pool(2);
  auto task = [](void *ctx, int64_t b, int64_t e, int64_t worker) {
    Job &j = *static_cast<Job *>(ctx);
    for (int64_t i = b; i < e; ++i) {
      j.runs[i].fetch_add(1);
      if (worker == 1 && i == 50) // worker 1's first task
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (worker == 0 && i >= 50)
        j.byWorker0InShare1.fetch_add(1);
    }
  };
  pool.run(task, &job, 100);
  for (int i = 0; i < 100; ++i)
    EXPECT_EQ(job.runs[i].load(), 1) << "task " << i;
  // (If worker 1 starts late, worker 0 takes all of share 1.)
  EXPECT_GT(job.byWorker0InShare1.load(), 0);
  // Fewer tasks than workers, one task, none.
  for (int64_t n : {0, 1, 3}) {
    for (auto &r : job.runs)
      r = 0;
    pool.run(task, &job, n);
    for (int i = 0; i < 100; ++i)
      EXPECT_EQ(job.runs[i].load(), i < n ? 1 : 0) << "n " << n;
  }
}

// A worker descheduled in the middle of a chunk (here: its first task
// sleeps 30 ms, far longer than the caller's part even on a loaded host),
// three steps in a row, makes the pool run the next steps on the caller
// alone; one such step does not. After the serial period (100 ms) it uses
// its workers again.
TEST(CpuThreadPool, RunsOnTheCallerAloneAfterAWorkerStalls) {
  struct Job {
    std::atomic<int> byWorker1{0}, runs{0};
    std::atomic<bool> stall{false}, worker1In{false}, handshake{false};
    int busyUs = 10;
  } job;
  // Each task busy for busyUs, so that both workers get some of 200. With
  // `handshake`, the caller's tasks first wait (up to 1 s) for worker 1 to
  // start one, so that it has joined the step.
  auto task = [](void *ctx, int64_t b, int64_t e, int64_t worker) {
    Job &j = *static_cast<Job *>(ctx);
    const auto giveUp =
        std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (worker == 0 && j.handshake.load() && !j.worker1In.load() &&
           std::chrono::steady_clock::now() < giveUp)
      std::this_thread::yield();
    for (int64_t i = b; i < e; ++i) {
      j.runs.fetch_add(1);
      if (worker == 1) {
        j.byWorker1.fetch_add(1);
        j.worker1In = true;
        if (j.stall.exchange(false))
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
      }
      auto until = std::chrono::steady_clock::now() +
                   std::chrono::microseconds(j.busyUs);
      while (std::chrono::steady_clock::now() < until) {
      }
    }
  };
  ThreadPool pool(2);
  job.stall = true;
  pool.run(task, &job, 200);
  EXPECT_FALSE(pool.serialFallback()) << "after one stall";
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  // (The handshake makes worker 1 join each step; retried for up to 10 s:
  // on a loaded machine the caller's own part can still outlast the
  // worker's 30 ms, which is then no stall.)
  job.busyUs = 1;
  job.handshake = true;
  const auto giveUp =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pool.serialFallback() && std::chrono::steady_clock::now() < giveUp) {
    job.worker1In = false;
    job.stall = true;
    pool.run(task, &job, 200);
  }
  ASSERT_TRUE(pool.serialFallback());
  job.handshake = false;
  job.byWorker1 = 0;
  job.runs = 0;
  pool.run(task, &job, 200);
  EXPECT_EQ(job.runs.load(), 200);
  EXPECT_EQ(job.byWorker1.load(), 0) << "a step ran on the stalled worker";
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  EXPECT_FALSE(pool.serialFallback());
  // Runs of 20 ms, so that worker 1 gets tasks even when other processes
  // keep this machine's cores busy (ctest -j); if they stall it three times
  // again, the pool is serial again for a while and the next try waits.
  job.busyUs = 100;
  for (int attempt = 0; attempt < 10 && job.byWorker1.load() == 0; ++attempt) {
    if (pool.serialFallback())
      std::this_thread::sleep_for(std::chrono::milliseconds(110));
    pool.run(task, &job, 200);
  }
  EXPECT_GT(job.byWorker1.load(), 0) << "the workers were not used again";
}

// A worker that has not joined a step by the time the caller has taken every
// task (here: held in the pool's hook before it joins, as a worker
// descheduled between steps would be) is revoked, not waited for: the caller
// runs the whole step and returns while the worker is still held. Without
// revocation run() would wait for the worker, which the hook releases only
// after 10 s (so the test fails instead of hanging).
TEST(CpuThreadPool, DoesNotWaitForAWorkerThatHasNotJoined) {
  struct Hold {
    std::atomic<bool> hold{true}, timedOut{false};
    std::atomic<int> held{0};
  } hold;
  struct Job {
    std::atomic<int> runs[64];
    std::atomic<int> byWorker1{0};
  } job;
  for (auto &r : job.runs)
    r = 0;
  auto task = [](void *ctx, int64_t b, int64_t e, int64_t worker) {
    Job &j = *static_cast<Job *>(ctx);
    for (int64_t i = b; i < e; ++i) {
      j.runs[i].fetch_add(1);
      if (worker == 1)
        j.byWorker1.fetch_add(1);
    }
  };
  ThreadPool pool(2);
  ThreadPool::TestHooks hooks;
  hooks.ctx = &hold;
  hooks.beforeJoin = [](void *ctx, unsigned) {
    Hold &h = *static_cast<Hold *>(ctx);
    if (!h.hold.load())
      return;
    h.held.fetch_add(1);
    const auto giveUp =
        std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (h.hold.load() && std::chrono::steady_clock::now() < giveUp)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (h.hold.load())
      h.timedOut = true;
  };
  pool.setTestHooks(hooks);
  pool.run(task, &job, 64);
  EXPECT_FALSE(hold.timedOut.load()) << "run() waited for a held worker";
  for (int i = 0; i < 64; ++i)
    EXPECT_EQ(job.runs[i].load(), 1) << "task " << i;
  EXPECT_EQ(job.byWorker1.load(), 0);
  EXPECT_EQ(pool.stats().revoked, 1u);
  EXPECT_EQ(pool.stats().joined, 0u);
  // The worker reaches the hook (it saw the step) and, released, takes part
  // in later steps again. (Retried: a step can end before it joins.)
  const auto giveUp =
      std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (hold.held.load() == 0 && std::chrono::steady_clock::now() < giveUp)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(hold.held.load(), 1);
  hold.hold = false;
  auto slowTask = [](void *ctx, int64_t b, int64_t e, int64_t worker) {
    Job &j = *static_cast<Job *>(ctx);
    for (int64_t i = b; i < e; ++i) {
      if (worker == 1)
        j.byWorker1.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  };
  while (job.byWorker1.load() == 0 && std::chrono::steady_clock::now() < giveUp)
    pool.run(slowTask, &job, 64);
  EXPECT_GT(job.byWorker1.load(), 0) << "the worker was not used again";
  EXPECT_FALSE(hold.timedOut.load());
}

// The stall rule with given times: what is a long wait, when a worker was
// off its core, and three stalls in a row (not three long waits on a
// running worker, nor three stalls far apart) switching to serial steps.
TEST(CpuThreadPool, StallRuleTellsAPreemptedWorkerFromASlowOne) {
  using Clock = StallRule::Clock;
  using std::chrono::microseconds;
  using std::chrono::milliseconds;
  const Clock::time_point t0 = Clock::now() + std::chrono::hours(1);
  // Long: over 1 ms and longer than the caller's own part.
  EXPECT_FALSE(
      StallRule::isLong(t0, t0 + microseconds(100), t0 + microseconds(900)));
  EXPECT_FALSE(
      StallRule::isLong(t0, t0 + milliseconds(3), t0 + milliseconds(5)));
  EXPECT_TRUE(
      StallRule::isLong(t0, t0 + milliseconds(1), t0 + milliseconds(5)));
  // Off its core: under half the wall time on the CPU, or no clock.
  const int64_t ms = 1000000;
  EXPECT_TRUE(StallRule::offCore(0, 7 * ms, 4 * ms, 7 * ms));   // none
  EXPECT_TRUE(StallRule::offCore(0, 7 * ms, 4 * ms, 8 * ms));   // 1 of 4
  EXPECT_FALSE(StallRule::offCore(0, 7 * ms, 4 * ms, 9 * ms));  // 2 of 4
  EXPECT_FALSE(StallRule::offCore(0, 7 * ms, 4 * ms, 11 * ms)); // all
  EXPECT_TRUE(StallRule::offCore(0, -1, 4 * ms, 11 * ms));      // no clock
  // Three stalls in steps back to back: serial for 100 ms after the third.
  StallRule rule;
  Clock::time_point t = t0;
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(rule.onStall(t, t + milliseconds(4)), k == 2) << "stall " << k;
    t += milliseconds(5);
  }
  EXPECT_EQ(rule.serialUntil(),
            t0 + milliseconds(14) + StallRule::kSerialPeriod);
  // Stalls 30 ms apart never add up (each starts a new row).
  StallRule apart;
  for (int k = 0; k < 10; ++k)
    EXPECT_FALSE(apart.onStall(t0 + k * milliseconds(30),
                               t0 + k * milliseconds(30) + milliseconds(4)));
  EXPECT_EQ(apart.serialUntil(), Clock::time_point{});
}

// The pool feeds the rule: a long wait on a joined worker is a stall only
// when the worker was off its core (its CPU clock stood still); a worker
// that ran all along is merely slow (a long chunk) and never switches the
// pool to serial steps. The CPU clock here is the test's: it follows the
// wall clock (slow) or stands still (preempted). Each step, the caller's
// first task waits for worker 1 to start one (so the worker has joined),
// and worker 1's first task then sleeps 20 ms, far longer than what is left
// of the caller's part.
TEST(CpuThreadPool, AStallIsAWorkerOffItsCoreNotAMerelySlowOne) {
  struct Job {
    std::atomic<bool> stall{false}, running{true}, worker1In{false};
  } job;
  auto task = [](void *ctx, int64_t b, int64_t e, int64_t worker) {
    Job &j = *static_cast<Job *>(ctx);
    if (worker == 1 && j.stall.exchange(false)) {
      j.worker1In = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    const auto giveUp =
        std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (worker == 0 && !j.worker1In.load() &&
           std::chrono::steady_clock::now() < giveUp)
      std::this_thread::yield();
  };
  ThreadPool pool(2);
  ThreadPool::TestHooks hooks;
  hooks.ctx = &job;
  hooks.cpuTimeNs = [](void *ctx, unsigned) -> int64_t {
    if (!static_cast<Job *>(ctx)->running.load())
      return 1000; // descheduled: no CPU time passes
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  };
  pool.setTestHooks(hooks);
  auto step = [&] {
    job.worker1In = false;
    job.stall = true;
    pool.run(task, &job, 64);
  };
  // Merely slow: long waits back to back, and no stall. (Retried: on a
  // loaded machine the caller's own part can outlast the worker's sleep.)
  auto giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (pool.stats().longWaits < 4 &&
         std::chrono::steady_clock::now() < giveUp)
    step();
  ASSERT_GE(pool.stats().longWaits, 4u);
  EXPECT_EQ(pool.stats().stalls, 0u);
  EXPECT_EQ(pool.stats().switches, 0u);
  EXPECT_FALSE(pool.serialFallback());
  // Preempted: the same waits are stalls, and three in a row switch.
  job.running = false;
  giveUp = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!pool.serialFallback() && std::chrono::steady_clock::now() < giveUp)
    step();
  ASSERT_TRUE(pool.serialFallback());
  EXPECT_GE(pool.stats().stalls, 3u);
  EXPECT_EQ(pool.stats().switches, 1u);
}

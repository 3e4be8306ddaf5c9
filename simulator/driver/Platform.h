// ===- Platform.h - A multi-core platform device of the C driver (driver.h)
// -===//
//
// Runs jobs on the cores of the SystemC platform (SystemCPlatform): one
// thread of its own drives the simulation kernel; each core takes its queued
// jobs one after another, every core at the same time. Internal to the
// driver; callers see driver.h only.
#pragma once

#include "../systemc/NpuModel.h"
#include "ember/npu/driver.h"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ember::npu {

class PlatformRunner {
public:
  // `cores` of SystemCPlatform (the caller holds the SystemC kernel), each
  // with `windowBytes` of the DRAM.
  PlatformRunner(unsigned cores, uint64_t windowBytes, const DramTiming &t,
                 uint32_t sharedBytesPerCycle);
  // Fails the jobs still queued, waits for the running ones, stops.
  ~PlatformRunner();
  PlatformRunner(const PlatformRunner &) = delete;
  PlatformRunner &operator=(const PlatformRunner &) = delete;

  unsigned cores() const { return cores_; }
  uint64_t windowBytes() const { return window_; }
  uint32_t sharedBytesPerCycle() const { return shared_; }
  uint8_t *dram() { return dram_.get(); }
  uint64_t dramBytes() const { return uint64_t(cores_) * window_; }

  // Queues the jobs together (none is taken up before all are queued).
  ember_npu_status_t submit(const ember_npu_job_desc_t *descs, size_t count,
                            ember_npu_job_t **out);

private:
  void loop();
  void startJob(unsigned core, ember_npu_job_t *job);
  void endJob(unsigned core);

  unsigned cores_;
  uint64_t window_;
  DramTiming timing_;
  uint32_t shared_;
  struct FreeDeleter {
    void operator()(uint8_t *p) const;
  };
  std::unique_ptr<uint8_t, FreeDeleter> dram_; // calloc: pages on first use

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<std::deque<ember_npu_job_t *>> queues_;
  std::vector<ember_npu_job_t *> running_;
  std::vector<uint64_t> keys_; // per core: the key its window holds, or 0
  std::thread thread_;
};

} // namespace ember::npu

// The runtime's executor (docs/runtime.md, "Execution"): runs a placement's
// stages for many requests at once. The stages form a DAG; a stage of a
// request is ready when the stages it reads from are done, and each device
// runs the ready stages of every request, oldest request first, so
// independent stages run at the same time and requests pipeline through the
// devices (while one device runs request n + 1's first stage, the next runs
// request n's second). At most `queueDepth` requests are in flight; a
// submit waits for one to finish. A stage that fails fails its request,
// named with the stage and the device; the other requests go on.
#pragma once

#include "runtime/Placement.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

namespace ember::runtime {

struct ExecutorOptions {
  // Runs the host stages: a plugin (the CPU backend), or null: the
  // reference interpreter.
  std::shared_ptr<backend::Plugin> host;
  std::string hostName = "interp";
  backend::CompileOptions hostCompile;
  // Requests in flight at once (submitted, not finished); at least 1.
  unsigned queueDepth = 2;
};

// One execution of one stage of one request.
struct JobRecord {
  size_t request = 0, stage = 0;
  int device = kHost;
  // Wall time since the executor started, in milliseconds: handed to the
  // device, and done.
  double startMs = 0, endMs = 0;
  // A simulated device: the execution on its plugin's clock (cycles).
  bool simulated = false;
  double simStart = 0, simEnd = 0, cycles = 0;
  std::string profile; // the serialized ExecutionProfile, if any
  bool ok = true;
};

struct RequestResult {
  Status status = Status::ok();
  std::vector<Tensor> outputs; // in the function's output order
  double submitMs = 0, doneMs = 0;
};

class Executor {
public:
  // Compiles every stage on its device (host stages on `o.host`, or the
  // interpreter where it refuses) and starts one worker per device.
  static Expected<std::unique_ptr<Executor>> create(const Function &f,
                                                    DeviceSet &devs,
                                                    Placement p,
                                                    const ExecutorOptions &o);
  ~Executor(); // waits for what is in flight, then stops the workers
  Executor(const Executor &) = delete;
  Executor &operator=(const Executor &) = delete;

  struct Request;
  using Ticket = std::shared_ptr<Request>;
  // Admits a request (one tensor per parameter of the function), waiting
  // while queueDepth requests are in flight.
  Ticket submit(std::vector<Tensor> inputs);
  // Its result once it finished.
  RequestResult wait(const Ticket &t);
  // Submits every request in order and waits for all; results in order.
  std::vector<RequestResult> runAll(std::vector<std::vector<Tensor>> requests);

  const Placement &placement() const { return placement_; }
  const DeviceSet &devices() const { return devs_; }
  // Every job finished so far, in completion order; clearJobs() forgets
  // them (and restarts request numbering).
  std::vector<JobRecord> jobs() const;
  void clearJobs();
  double nowMs() const;

  struct Lane; // Executor.cpp

private:
  Executor(const Function &f, DeviceSet &d, Placement p);
  void enqueue(const Ticket &r, size_t stage);
  void complete(Lane &lane, const Ticket &r, size_t stage,
                Expected<std::vector<Tensor>> outs, JobRecord rec);
  void finishIfDone(const Ticket &r);
  void laneLoop(Lane &lane);
  Expected<std::vector<const Tensor *>> inputsOf(const Request &r,
                                                 const Stage &st) const;

  const Function &f_;
  DeviceSet &devs_;
  Placement placement_;
  ExecutorOptions opts_;
  struct Compiled;
  std::vector<std::unique_ptr<Compiled>> compiled_; // per stage
  backend::Device hostDevice_;
  std::vector<std::unique_ptr<Lane>> lanes_; // per device, then the host's
  mutable std::mutex mu_;
  std::condition_variable admitCv_, doneCv_;
  unsigned inFlight_ = 0;
  size_t nextRequest_ = 0;
  bool stopping_ = false;
  std::vector<JobRecord> jobs_;
  std::chrono::steady_clock::time_point epoch_;
};

} // namespace ember::runtime

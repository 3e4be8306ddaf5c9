// `--devices` on the `ember` commands (docs/runtime.md): the device list's
// plugins, the placement of a model on them, the executor, and what run,
// bench, compile and conform print of it.
#pragma once

#include "Driver.h"
#include "Options.h"

#include "runtime/Executor.h"

#include <memory>
#include <ostream>

namespace ember::cli {

// A device list with its plugins loaded (before any case forks), and the
// host that runs what no device of the list does.
struct DeviceRuntime {
  std::vector<runtime::DeviceKind> kinds;
  std::shared_ptr<backend::Plugin> host; // null: the interpreter
  std::string hostName = "interp";
  bool allowHost = true;          // --fallback=none: false
  backend::CompileOptions common; // every compile (no vendor options)
};

// --devices with the target options (--backend-opt to the first kind,
// --fallback for the host, -O, --threads, --timeout's limit).
Expected<DeviceRuntime> loadDevices(const DeviceOptions &d,
                                    const TargetOptions &t);

// The devices opened, the model placed and compiled, ready to run.
struct DeviceModel {
  std::unique_ptr<runtime::DeviceSet> devices;
  std::unique_ptr<runtime::Executor> executor;
};
Expected<DeviceModel> prepareOnDevices(const DeviceRuntime &r,
                                       const Function &f, unsigned depth);

// `ember compile --devices ... --emit=partitions`.
Status printDevicePlacement(std::ostream &os, const DeviceRuntime &r,
                            const Function &f);

// One request through the devices (conform, run).
Expected<std::vector<Tensor>> runOnDevices(const DeviceRuntime &r,
                                           const Function &f,
                                           const std::vector<Tensor> &inputs);

// `ember bench --devices`: times `requests` requests with `concurrency` in
// flight after `warmup` untimed ones; prints the stages' predicted and
// measured times, latency and throughput, and the last line
//   devices=<n> requests=<n> p50_ms=<x> p99_ms=<x> throughput=<req/s>
//   sim_throughput=<req/s>
// Writes a Chrome/Perfetto trace of every device's timeline when
// `tracePath` is set. Returns the exit code.
int benchOnDevices(const DeviceRuntime &r, const Function &f,
                   const std::map<std::string, Tensor> &given, uint64_t seed,
                   unsigned requests, unsigned concurrency, unsigned warmup,
                   const std::string &tracePath);

// The commands with --devices, after their options were parsed: load the
// model, load the devices, then bench or run. Return the exit code.
int benchDevicesCommand(const std::string &model, const ImportOptions &io,
                        const std::map<std::string, Tensor> &given,
                        const TargetOptions &t, const DeviceOptions &d,
                        uint64_t seed, unsigned warmup,
                        const std::string &tracePath);
int runDevicesCommand(const std::string &model, const ImportOptions &io,
                      const std::map<std::string, Tensor> &given,
                      const TargetOptions &t, const DeviceOptions &d,
                      uint64_t seed, const std::string &saveDir);

} // namespace ember::cli

// The runtime's devices (docs/runtime.md): a list of plugin devices, what
// each says of itself through the ABI (device_describe, ABI 1.4) or what
// the host assumes for a plugin that does not answer, and the predicted
// cost of a partition on a device (estimate_cost, or the host's estimate).
#pragma once

#include "backend/CompileOptions.h"
#include "backend/Plugin.h"
#include "ir/Graph.h"

#include <memory>
#include <string>
#include <vector>

namespace ember::backend::v1 {
class CostEstimate;
}

namespace ember::runtime {

// One entry of a device list ("npu-sim:2"): a target as --target names it
// and how many of its devices.
struct DeviceRequest {
  std::string target;
  uint32_t count = 1;
};

// "npu-sim:2,cpu" -> {npu-sim x 2, cpu x 1}. A count is a trailing ":N"
// (1 to 64); a target may itself contain ':' (plugin:PATH.so:2). Errors
// name the entry.
Expected<std::vector<DeviceRequest>> parseDeviceList(const std::string &spec);

// What the runtime knows of a device.
struct DeviceTraits {
  std::string description;  // the plugin's name for it ("" if none)
  uint64_t memoryBytes = 0; // 0: no limit
  uint32_t concurrency = 1;
  bool simulated = false; // timing in cycles on a clock its plugin shares
  double clockHz = 0;
  double transferBytesPerSec = 0; // 0: no copies outside its executions
  // Devices of its plugin it shares a bandwidth with (by device index),
  // and that bandwidth (0: not known).
  std::vector<uint32_t> sharesBandwidthWith;
  double sharedBytesPerSec = 0;
  bool described = false; // false: the host's assumptions (no query)
};

// The devices of one plugin in the list: they share a plugin (a kind).
struct DeviceKind {
  std::string target;                      // as given ("npu-sim")
  std::shared_ptr<backend::Plugin> plugin; // loaded
  uint32_t count = 1;
  // What its programs are compiled with (vendor options included for the
  // kind they were given to).
  backend::CompileOptions compile;
};

struct RuntimeDevice {
  std::string name; // "npu-sim:0": target and the device's index
  size_t kind = 0;  // index into DeviceSet::kinds()
  uint32_t index = 0;
  std::shared_ptr<backend::Plugin> plugin;
  backend::Device handle;
  DeviceTraits traits;
};

// Opened devices, in list order: kind by kind, each kind's devices 0..n-1.
class DeviceSet {
public:
  // Asks each plugin for its device count (an error when the list asks for
  // more), opens the devices and describes each.
  static Expected<std::unique_ptr<DeviceSet>> open(std::vector<DeviceKind> k);
  const std::vector<DeviceKind> &kinds() const { return kinds_; }
  std::vector<RuntimeDevice> &devices() { return devices_; }
  const std::vector<RuntimeDevice> &devices() const { return devices_; }
  // The devices of kind `k`, in order.
  std::vector<size_t> devicesOf(size_t k) const;

private:
  std::vector<DeviceKind> kinds_;
  std::vector<RuntimeDevice> devices_;
};

// The predicted cost of running a graph once on a device.
struct CostEstimate {
  double seconds = 0;
  uint64_t memoryBytes = 0;
  // Per compute node of the graph (computeNodes order).
  std::vector<double> nodeSeconds;
  std::vector<uint64_t> nodeMemory;
  std::vector<int32_t> nodeGroup; // -1: none
  std::string basis;
  // Bytes an execution moves through the bandwidth the device shares.
  double trafficBytes = 0;
  // true: the device's cost model (its plugin's estimate_cost, or the NPU
  // layer's on the host for a plugin that takes scheduled programs); false:
  // the host's nominal rates
  bool fromPlugin = false;
};

// The cost of `f` on device `d`: for a plugin that takes scheduled programs
// the NPU layer's cost model on the program the host schedules
// (backend::estimateOnHost), else the plugin's estimate_cost, or the host's
// nominal rates when it has none (hostEstimate). Node costs the estimate
// leaves out are 0.
Expected<CostEstimate> estimateOn(RuntimeDevice &d, const DeviceKind &k,
                                  const Function &f);

// The host's estimate when a plugin has no estimate_cost: every node at
// nominal rates, kHostMacsPerSec multiply-accumulates and
// kHostBytesPerSec bytes (of its operands and results) per second; memory
// is the constants the nodes read.
constexpr double kHostMacsPerSec = 1e9, kHostBytesPerSec = 4e9;
CostEstimate hostEstimate(const Function &f);
// The same in the schema (for a plugin that answers like the host).
void toProto(const CostEstimate &c, backend::v1::CostEstimate &out);

} // namespace ember::runtime

// Placing a lowered model on a list of devices (docs/runtime.md,
// "Placement"): each node goes to the first kind of device in the list that
// runs it (else to the host), and the nodes of a kind are cut into pipeline
// stages, one per device of the kind, balanced by the predicted time of each
// stage (estimate_cost) within each device's memory (device_describe). The
// result is a DAG of stages, each a standalone partition on one device.
#pragma once

#include "backend/Partitioner.h"
#include "runtime/Devices.h"

#include <ostream>

namespace ember::runtime {

constexpr int kHost = -1; // a stage the host runs (the fallback)

struct Stage {
  int device = kHost; // index into DeviceSet::devices(), or kHost
  backend::Partition part;
  std::vector<size_t> deps; // stages whose outputs it reads
  // The prediction: one execution's compute alone, the copies of its
  // inputs from other devices, the time it loses to devices it shares a
  // bandwidth with (their stages running at once when requests pipeline),
  // and the device memory it holds.
  double computeSec = 0, transferSec = 0, contentionSec = 0;
  uint64_t memoryBytes = 0;
  double trafficBytes = 0; // through the bandwidth its device shares
  double predicted() const { return computeSec + transferSec + contentionSec; }
  std::string basis; // how it was predicted
  std::string why;   // why it is here
};

struct Placement {
  std::vector<Stage> stages; // in a topological order
  // Per compute node (computeNodes order): its device, or kHost, and for
  // host nodes why no device of the list runs it.
  std::vector<int> nodeDevice;
  std::vector<std::string> hostReasons;
  // Per device: predicted seconds of one request's stages there, and the
  // device memory its stages hold.
  std::vector<double> deviceLoad;
  std::vector<uint64_t> deviceMemory;
  double hostLoad = 0;
  // The largest device load: the predicted time between requests when
  // they pipeline through the devices.
  double period = 0;
  std::vector<std::string> notes; // how the plan was chosen
};

struct PlacementOptions {
  // Nodes no device of the list runs go to the host (the fallback); false:
  // an error naming the first.
  bool allowHost = true;
  // Rounds of re-balancing with each stage's own estimate.
  unsigned refineRounds = 3;
};

Expected<Placement> place(const Function &f, DeviceSet &devs,
                          const PlacementOptions &o = {});

// `ember compile --emit=partitions --devices ...`: the devices, then each
// stage with its device, predicted times, memory, why, and its nodes.
void printPlacement(std::ostream &os, const Function &f, const Placement &p,
                    const DeviceSet &d, const std::string &hostName);

// Splits items [0, n) into `parts` contiguous chunks (empty ones allowed),
// cutting only where cutOk[i] (before item i; cutOk has n + 1 entries),
// minimizing the largest chunk's cost, every chunk's memory at most
// cap[chunk] (0: no limit). Returns the parts + 1 chunk bounds, or nothing
// when no split fits.
std::vector<size_t> balancedCuts(const std::vector<double> &cost,
                                 const std::vector<double> &mem,
                                 const std::vector<bool> &cutOk,
                                 const std::vector<double> &cap);

} // namespace ember::runtime

// Device profiles of a run on a plugin target (ABI 1.3 event_profile):
// the totals over a model's plugin partitions, the per-layer rows and the
// per-engine trace slices, as data (the Python package) and as the text
// `ember run|bench` print (the summary line, --npu-report, --trace FILE).
// See docs/npu-backend.md, "Running".
#pragma once

#include "backend/Partitioner.h"

#include <map>
#include <ostream>
#include <string>
#include <vector>

namespace ember::api {

// The device counters of the last run summed over its plugin partitions.
struct ProfileTotals {
  std::string device; // empty: the plugin reported no profile
  std::string executor;
  bool timed = false;
  double cycles = 0, usefulMacs = 0, dmaBytes = 0, dmaInBusy = 0,
         overlapCycles = 0, peakMacsPerCycle = 0;
  // useful MACs / (peak x cycles); overlap cycles / DMA-in busy cycles;
  // the share of the model's MACs (graph nodes) in plugin partitions.
  double macUtil = 0, overlap = 0, macShare = 0;
  // Partitions of the model (device and host), and the graph nodes in host
  // partitions (what the device does not run).
  size_t partitions = 0, hostNodes = 0;
  // Every counter by name, summed over the partitions.
  std::map<std::string, double> counters;
};
ProfileTotals profileTotals(const backend::PartitionedExecutable &x);

// One layer row of a plugin partition's profile.
struct ProfileLayerRow {
  size_t partition = 0;
  std::string name, op, detail;
  std::vector<std::pair<std::string, double>> values;
};
std::vector<ProfileLayerRow>
profileLayers(const backend::PartitionedExecutable &x);

// One slice of a device engine's trace (device cycles from the start of
// its partition's run; `offset` places the partition on the model's
// timeline: the cycles of the device partitions before it).
struct ProfileSlice {
  size_t partition = 0;
  std::string track, name, category;
  double start = 0, duration = 0, offset = 0;
};
std::vector<ProfileSlice>
profileSlices(const backend::PartitionedExecutable &x);

// "<device>: cycles=<n> mac_util=<0..1> dma_bytes=<n> overlap=<0..1>
// <device>_mac_share=<0..1>" over every plugin partition of the last run;
// empty when the plugin reported no profile.
std::string profileSummary(const backend::PartitionedExecutable &x);

// The per-layer table of the last run.
void printProfileReport(std::ostream &os,
                        const backend::PartitionedExecutable &x);

// A Chrome/Perfetto trace of the last run: one track per partition on the
// host (wall time) and, per plugin partition, one track per device engine
// (device time at the plugin's clock), slices named after source layers.
Status writeProfileTrace(const std::string &path,
                         const backend::PartitionedExecutable &x);

} // namespace ember::api

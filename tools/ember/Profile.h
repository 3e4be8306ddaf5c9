// Device profiles of a run on a plugin target (ABI 1.3 event_profile):
// the summary line, the per-layer table (--npu-report) and a Perfetto
// trace of the whole model (--trace FILE), host and device partitions on
// one timeline. See docs/npu-backend.md, "Running".
#pragma once

#include "backend/Partitioner.h"

#include <ostream>
#include <string>

namespace ember::cli {

struct ProfileRequest {
  bool report = false;   // --npu-report
  std::string tracePath; // --trace FILE
  // CompileOptions.profile_level for these wishes.
  uint32_t level() const { return !tracePath.empty() ? 2 : report ? 1 : 0; }
};

// "<device>: cycles=<n> mac_util=<0..1> dma_bytes=<n> overlap=<0..1>
// <device>_mac_share=<0..1>" over every plugin partition of the last run;
// empty when the plugin reported no profile. The share is of the model's
// multiply-accumulates (graph nodes) that ran in plugin partitions.
std::string profileSummary(const backend::PartitionedExecutable &x,
                           const Function &f);

// The per-layer table of the last run.
void printProfileReport(std::ostream &os,
                        const backend::PartitionedExecutable &x);

// A Chrome/Perfetto trace of the last run: one track per partition on the
// host (wall time) and, per plugin partition, one track per device engine
// (device time at the plugin's clock), slices named after source layers.
Status writeProfileTrace(const std::string &path,
                         const backend::PartitionedExecutable &x);

// After a run: the per-layer table (when asked), the trace (when asked) and
// the device summary line last. Returns the exit code. `x` null: the
// interpreter ran, nothing to print.
int printProfiles(const backend::PartitionedExecutable *x, const Function &f,
                  const ProfileRequest &r);

} // namespace ember::cli

// What `ember run|bench` print of a device profile: the wishes
// (--npu-report, --trace FILE) and the printing after a run. The profile
// itself is read by ember_api (ember/api/Profile.h).
#pragma once

#include "ember/api/Profile.h"

#include <string>

namespace ember::cli {

struct ProfileRequest {
  bool report = false;   // --npu-report
  std::string tracePath; // --trace FILE
  // CompileOptions.profile_level for these wishes.
  uint32_t level() const { return !tracePath.empty() ? 2 : report ? 1 : 0; }
};

// After a run: the per-layer table (when asked), the trace (when asked) and
// the device summary line last. Returns the exit code. `x` null: the
// interpreter ran, nothing to print.
int printProfiles(const backend::PartitionedExecutable *x,
                  const ProfileRequest &r);

} // namespace ember::cli

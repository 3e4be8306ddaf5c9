#include "Profile.h"

#include "Driver.h"

#include <cstdio>
#include <sstream>

namespace ember::cli {

int printProfiles(const backend::PartitionedExecutable *x,
                  const ProfileRequest &r) {
  if (!x)
    return 0;
  if (r.report) {
    std::ostringstream os;
    printProfileReport(os, *x);
    std::fputs(os.str().c_str(), stdout);
  }
  if (!r.tracePath.empty()) {
    Status s = writeProfileTrace(r.tracePath, *x);
    if (!s.isOk())
      return reportError(s);
  }
  std::string line = profileSummary(*x);
  if (!line.empty())
    std::printf("%s\n", line.c_str());
  return 0;
}

} // namespace ember::cli

// The options the `ember` subcommands share, each declared once here: its
// spelling, help text, default and value check. A subcommand builds a
// cmdline::Command, adds the groups it takes and its own options, and
// parses (docs/command-line.md). Adding an option that several commands
// take (a timeout, a dimension binding) means one declaration here and one
// field in the struct its group fills.
#pragma once

#include "ember/api/Target.h"

#include "ember/CommandLine.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ember::cli {

using cmdline::Command;
using namespace ember::api;

// What a run reports of the device (--npu-report, --trace FILE).
struct ProfileRequest;

// Parts of the target group a command takes.
enum TargetParts : unsigned {
  kTarget = 1,      // --target
  kFallback = 2,    // --fallback
  kThreads = 4,     // --threads
  kBackendOpt = 8,  // --backend-opt
  kOptLevel = 16,   // -O<N>, --O0
  kAotTarget = 32,  // --target-triple, --target-cpu
  kTimeout = 64,    // --timeout
  kRequant = 128,   // --requant
  kOpLibrary = 256, // --op-library
  kRunTarget = kTarget | kFallback | kThreads | kBackendOpt | kOptLevel |
               kTimeout | kRequant | kOpLibrary,
};

// ---- devices: the runtime (docs/runtime.md) --------------------------------
// --devices LIST places the model on a list of devices instead of one
// target; bench also takes --requests and --concurrency.
struct DeviceOptions {
  std::string list;         // --devices ("": one target, as --target says)
  unsigned requests = 16;   // --requests N (bench)
  unsigned concurrency = 0; // --concurrency K (bench); 0: devices + 1
  bool given() const { return !list.empty(); }
};
void addDeviceOptions(Command &c, DeviceOptions &d, bool bench);

// Adds the target options to `c` (section "target"). `threadsDefault` and
// `fallbackDefault` describe the --threads and --fallback defaults in help
// (empty: the usual ones).
void addTargetOptions(Command &c, TargetOptions &t, unsigned parts,
                      const std::string &threadsDefault = "",
                      const std::string &fallbackDefault = "");
// --dim and --input-shape, and with `files` also --input and --seed
// (section "inputs").
void addInputOptions(Command &c, InputOptions &in, bool files);
// --npu-report and --trace FILE (section "target").
void addProfileOptions(Command &c, ProfileRequest &p);

} // namespace ember::cli

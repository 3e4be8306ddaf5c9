// The options the `ember` subcommands share, each declared once here: its
// spelling, help text, default and value check. A subcommand builds a
// cmdline::Command, adds the groups it takes and its own options, and
// parses (docs/command-line.md). Adding an option that several commands
// take (a timeout, a dimension binding) means one declaration here and one
// field in the struct its group fills.
#pragma once

#include "backend/CompileOptions.h"
#include "import/OnnxImporter.h"
#include "passes/Pass.h"

#include "ember/CommandLine.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ember::cli {

using cmdline::Command;

// Where a model runs and what every compile for it is asked.
struct TargetOptions {
  std::string target = "interp";
  // Where nodes the target's plugin does not claim run: interp, none or a
  // target name; empty: the target's default (cpu for npu-sim when it is
  // built, else interp). Commands that compile ahead of time have none.
  std::string fallback;
  // opt level (-O<N>), threads, --backend-opt; -O2 unless told otherwise.
  // profileLevel comes from the profile group (--npu-report, --trace).
  backend::CompileOptions compile = defaultCompileOptions();
  // --timeout SEC; unset: kDefaultPluginTimeoutSec for a plugin target, no
  // limit for interp. Applied by applyTimeout().
  std::optional<double> timeout;

  static backend::CompileOptions defaultCompileOptions() {
    backend::CompileOptions c;
    c.optLevel = 2;
    return c;
  }
  // --skip-pass NAME: default-pipeline passes left out (A/B runs).
  std::vector<std::string> skipPasses;
  // -O0 also skips the graph optimization passes.
  bool optimizeGraph() const { return compile.optLevel.value_or(2) > 0; }
  // The graph pipeline these options ask for (-O<N>, --skip-pass).
  PipelineOptions pipeline() const {
    PipelineOptions po;
    po.optimize = optimizeGraph();
    po.skip = skipPasses;
    return po;
  }
};

// What a model's inputs are: dims and shapes to bind, files, the seed for
// the rest. The bindings are kept as given and checked together by
// readShapeOptions() (their conflicts name both options).
struct InputOptions {
  std::vector<std::string> dims;   // --dim NAME=N
  std::vector<std::string> shapes; // --input-shape NAME=DxD..
  std::vector<std::string> files;  // --input NAME=FILE
  uint64_t seed = 0;               // --seed
};

// What a run reports of the device (--npu-report, --trace FILE).
struct ProfileRequest;

// Parts of the target group a command takes.
enum TargetParts : unsigned {
  kTarget = 1,     // --target
  kFallback = 2,   // --fallback
  kThreads = 4,    // --threads
  kBackendOpt = 8, // --backend-opt
  kOptLevel = 16,  // -O<N>, --O0
  kAotTarget = 32, // --target-triple, --target-cpu
  kTimeout = 64,   // --timeout
  kRunTarget =
      kTarget | kFallback | kThreads | kBackendOpt | kOptLevel | kTimeout,
};

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

// The bindings of `in` into io.shapes, with defaults on (an unbound
// batch-like or sequence dim is 1, with a note): every --dim, then every
// --input-shape, then (when `given` is not null) every --input file, read
// into `given`, whose shape binds the input's. Messages name the option as
// the user gave it.
Status readShapeOptions(const InputOptions &in, ImportOptions &io,
                        std::map<std::string, Tensor> *given);

// Sets the plugin call limit (backend::setCallTimeout) from t.timeout or
// the target's default; `seconds` receives the limit (0: none).
constexpr double kDefaultPluginTimeoutSec = 300;
void applyTimeout(const TargetOptions &t, double *seconds = nullptr);

// A target name as --target takes it: interp, cpu, npu-sim, plugin:PATH.so,
// plugin:NAME. "" when good, else what is wrong. (Whether the plugin exists
// is checked when it is opened.)
std::string checkTargetSpelling(const std::string &target);

} // namespace ember::cli

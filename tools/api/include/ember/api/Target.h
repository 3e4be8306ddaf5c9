// Targets: the in-process reference interpreter (`interp`) or a backend
// plugin loaded through the ABI: `plugin:PATH.so`, `plugin:NAME`
// (libember_NAME.so in the plugin folder) and the built-in names `cpu` and
// `npu-sim` (plugins of those names); what every compile for a target is
// asked (TargetOptions), a model's input bindings (InputOptions), and a
// model compiled for a target (CompiledModel). The `ember` command and the
// Python package both use this library (ember_api); neither parses the
// other's arguments.
#pragma once

#include "backend/CompileOptions.h"
#include "backend/Partitioner.h"
#include "backend/Plugin.h"
#include "import/OnnxImporter.h"
#include "passes/Pass.h"

#include "ember/quant/Profile.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ember::api {

// Where a model runs and what every compile for it is asked.
struct TargetOptions {
  std::string target = "interp";
  // Where nodes the target's plugin does not claim run: interp, none or a
  // target name; empty: the target's default (cpu for npu-sim when it is
  // built, else interp). Commands that compile ahead of time have none.
  std::string fallback;
  // opt level (-O<N>), threads, --backend-opt; -O2 unless told otherwise.
  // profileLevel comes from the profile options (--npu-report, --trace).
  backend::CompileOptions compile = defaultCompileOptions();
  // --timeout SEC; unset: kDefaultPluginTimeoutSec for a plugin target, no
  // limit for interp. Applied by applyTimeout().
  std::optional<double> timeout;
  // --requant fixed|float32: the requantization profile of the integer
  // forms (docs/quantization.md); unset: the target's (interp: fixed, a
  // plugin: the first its manifest declares). Resolved by openTarget().
  std::optional<quant::RequantProfile> requant;

  static backend::CompileOptions defaultCompileOptions() {
    backend::CompileOptions c;
    c.optLevel = 2;
    return c;
  }
  // --skip-pass NAME: default-pipeline passes left out (A/B runs).
  std::vector<std::string> skipPasses;
  // --integer-recurrent: LSTMs and GRUs of quantized graphs as integer
  // forms (fixed profile; docs/quantization.md, "LSTM" and "GRU").
  bool integerRecurrent = false;
  // --op-library PATH.so (repeatable): op libraries whose custom ops the
  // model uses (docs/custom-ops.md); loaded by loadOpLibraries().
  std::vector<std::string> opLibraries;
  // -O0 also skips the graph optimization passes.
  bool optimizeGraph() const { return compile.optLevel.value_or(2) > 0; }
  // The graph pipeline these options ask for (-O<N>, --skip-pass).
  PipelineOptions pipeline() const {
    PipelineOptions po;
    po.optimize = optimizeGraph();
    po.skip = skipPasses;
    po.integerRecurrent = integerRecurrent;
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

// The folder plugins are found in by name: the one setPluginDir() gave,
// else <dir of the executable>/../lib/ember (`ember` in a build or an
// install prefix).
std::string pluginDir();
// Another host (the Python package) keeps its plugins elsewhere.
void setPluginDir(const std::string &dir);

// "" for interp; the plugin's path otherwise. Checks the name, and that the
// file exists.
Expected<std::string> pluginPathFor(const std::string &target);
// The plugin of a library file, loaded once per process (a second load
// would give it a second host): the same Plugin while anyone holds it.
Expected<std::shared_ptr<backend::Plugin>>
loadPluginOnce(const std::string &path);

struct Target {
  std::string name;                          // as given on the command line
  std::shared_ptr<backend::Plugin> plugin;   // null: the interpreter
  std::shared_ptr<backend::Plugin> fallback; // null: the interpreter
  std::string fallbackName = "interp";
  bool allowFallback = true;
  // What every compile of the plugin and of the fallback is asked (-O<N>,
  // --threads, --backend-opt for the plugin only, profile_level from
  // --npu-report and --trace).
  backend::CompileOptions compile;
  // An accelerator target (npu-sim): a model it places nothing of is an
  // error naming the first node and why, not a silent run on the host.
  bool requirePlacement = false;
  // ExecutorOptions::artifactCacheDir of every compile (empty: none).
  std::string artifactCacheDir;
  // The requantization profile lowering uses: --requant, or the plugin's
  // (its manifest's first), fixed for the interpreter. The target and the
  // fallback both compute it.
  quant::RequantProfile requant = quant::RequantProfile::Fixed;
  // The custom ops the plugin claims by name, kept whole by lowering
  // (PipelineOptions::keepCustom); null: none.
  std::function<bool(const Node &)> keepCustom;
  // The graph pipeline for this target: `po` with its requantization
  // profile and the custom ops it keeps whole.
  PipelineOptions pipeline(PipelineOptions po) const {
    po.requant = requant;
    po.keepCustom = keepCustom;
    return po;
  }
};

// Loads t.opLibraries (--op-library), in order; errors name the library
// and the cause.
Status loadOpLibraries(const TargetOptions &t);

// Target name check: interp | cpu | npu-sim | plugin:PATH (the file
// exists).
Status checkTarget(const std::string &target);

// --target and --fallback (interp | none | a target name) into a Target,
// loading the plugins. An empty fallback is the target's default: the CPU
// backend for npu-sim when it is built (an accelerator's unclaimed nodes
// run on the host's fast path), the interpreter otherwise.
// t.compile is every compile's options. The requantization profile is
// --requant when the target and the fallback both declare it (an error
// naming the one that does not, otherwise), else the target's own.
Expected<Target> openTarget(const TargetOptions &t);

// The executor options a target implies (fallback, compile options).
backend::ExecutorOptions executorOptions(const Target &t);

// Whether MODEL is an ONNX file (by its extension).
bool isOnnxPath(const std::string &path);

// Compiles a lowered function for the target once; run() executes it.
class CompiledModel {
public:
  static Expected<std::unique_ptr<CompiledModel>> create(const Target &t,
                                                         const Function &f);
  Expected<std::vector<Tensor>> run(const std::vector<Tensor> &inputs);
  // "partitions=N plugin_partitions=N plugin_nodes=N fallback_nodes=N", or
  // empty for the interpreter.
  std::string summary() const;
  // The partitioned executable (null for the interpreter).
  backend::PartitionedExecutable *partitioned() const { return exe_.get(); }

private:
  const Function *f_ = nullptr;
  std::unique_ptr<backend::PartitionedExecutable> exe_;
};

// An accelerator target (Target::requirePlacement) that places nothing of
// `f`: the error naming the first node and why; OK otherwise.
Status checkPlacement(const Target &t, const backend::PartitionedExecutable *x,
                      const Function &f);

// Runs a lowered function on the target: the interpreter directly, or the
// partitioned executable (plugin partitions + fallback partitions).
Expected<std::vector<Tensor>> runOnTarget(const Target &t, const Function &f,
                                          const std::vector<Tensor> &inputs,
                                          std::string *summary = nullptr);

// Loads MODEL: .onnx through the importer, anything else as graph IR text.
// The importer's notes go to `notes` when given.
Expected<std::unique_ptr<Module>>
loadModel(const std::string &path, const ImportOptions &io,
          std::vector<std::string> *notes = nullptr);

// One tensor per parameter of `f`: from `given` (element types must match;
// every entry must name a parameter) or seeded random.
Expected<std::vector<Tensor>> bindInputs(const Function &f,
                                         std::map<std::string, Tensor> given,
                                         uint64_t seed);

// Deterministic pseudo-random tensor (uniform [-1, 1) for floats, small ints
// for integers, alternating for bool) from a seed.
Tensor randomTensor(const Type &t, uint64_t seed);

} // namespace ember::api

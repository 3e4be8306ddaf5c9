// Targets of the `ember` command: the in-process reference interpreter
// (`interp`) or a backend plugin loaded through the ABI: `plugin:PATH.so`,
// `plugin:NAME` (lib/ember/libember_NAME.so beside the ember binary) and the
// built-in names `cpu` and `npu-sim` (plugins of those names).
#pragma once

#include "Driver.h"
#include "Options.h"

#include "backend/Partitioner.h"
#include "backend/Plugin.h"

#include <map>
#include <memory>
#include <string>

namespace ember::cli {

// Where `ember` looks for plugins by name: <dir of ember>/../lib/ember.
std::string pluginDir();

// "" for interp; the plugin's path otherwise. Checks the name, and that the
// file exists.
Expected<std::string> pluginPathFor(const std::string &target);

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
};

// Target name check: interp | cpu | npu-sim | plugin:PATH (the file
// exists).
Status checkTarget(const std::string &target);

// --target and --fallback (interp | none | a target name) into a Target,
// loading the plugins. An empty fallback is the target's default: the CPU
// backend for npu-sim when it is built (an accelerator's unclaimed nodes
// run on the host's fast path), the interpreter otherwise.
// t.compile is every compile's options.
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

} // namespace ember::cli

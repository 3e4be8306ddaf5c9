// Capability-driven partitioning of a lowered graph between a plugin and a
// fallback (the reference interpreter, or another plugin such as the CPU
// backend), and the executor that runs the partitions. Partitions exchange
// tensors through host memory.
#pragma once

#include "backend/CompileOptions.h"
#include "backend/Plugin.h"
#include "ir/Graph.h"

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace ember::backend {

namespace v1 {
class CapabilityManifest;
}

// Per non-storage node of a function (in list order, the numbering of
// Graph.nodes in the protobuf program): may the plugin run it, and if not,
// why.
struct Support {
  std::vector<bool> supported;
  std::vector<std::string> reasons;
  size_t count() const;
  // Index of the first node the plugin does not run, or -1.
  long firstUnsupported() const;
};

// The non-storage nodes of `f` in list order: the numbering Support uses.
std::vector<const Node *> computeNodes(const Function &f);

// Whether a node is covered by the static manifest (op listed, every operand
// and result dtype listed, rank in range, quantized types allowed); the
// reason when not.
bool manifestClaims(const v1::CapabilityManifest &m, const Node &n,
                    std::string &reason);

// The custom ops a manifest claims by name ("domain::name"): the lowering
// for that plugin keeps them whole (PipelineOptions::keepCustom). Null when
// it claims none.
std::function<bool(const Node &)>
keepClaimedCustomOps(const v1::CapabilityManifest &m);

// Asks the plugin: query_support when it has one, else the manifest. A node
// must be claimed by both when both exist. `o`: the options the partitions
// will be compiled with (the plugin's claims may depend on its own).
Expected<Support> querySupport(Plugin &p, const Function &f,
                               const CompileOptions *o = nullptr);

struct Partition {
  bool onPlugin = false;
  int label = 0;                   // partitionByLabel's label
  std::vector<const Node *> nodes; // original nodes, in execution order
  std::vector<Value> inputs;       // original values read from outside
  std::vector<Value> outputs;      // original values read after it
  std::unique_ptr<Module> graph;   // standalone: params = inputs, outputs
};

struct PartitionPlan {
  std::vector<Partition> parts;
  Support support;
};

// Splits `f` (lowered) into partitions: a topological order that stays on
// one side as long as it can, cut into maximal runs. Deterministic.
Expected<PartitionPlan> partition(const Function &f, Support support);

// The same over any labels, one per compute node (computeNodes order): a
// topological order that stays on one label as long as it can (else the
// earliest ready node in list order), cut into maximal runs of one label,
// each a standalone function. partition() is this with labels 1 (plugin)
// and 0 (fallback).
Expected<std::vector<Partition>> partitionByLabel(const Function &f,
                                                  const std::vector<int> &l);

// `ember compile --emit=partitions`.
void printPartitions(std::ostream &os, const Function &f,
                     const PartitionPlan &plan, const std::string &pluginName,
                     const std::string &fallbackName);

struct ExecutorOptions {
  // Runs the fallback partitions; null: the reference interpreter.
  std::shared_ptr<Plugin> fallback;
  // Refuse to run when any node is unsupported by the plugin (conformance:
  // a plugin passes only what it runs itself).
  bool requireFullSupport = false;
  // Every partition's compile, the plugin's and the fallback's (the
  // fallback's without `vendor`: those are the target plugin's own). With
  // compile.profileLevel > 0 each run keeps the plugin partitions' profiles
  // (event_profile, ABI 1.3) and every partition's wall time.
  CompileOptions compile;
  // A folder of compiled partitions by content (empty: none): before
  // compiling a partition the executor looks for the artifact of the same
  // plugin file, program and options there (executable_load), and stores
  // what it compiles (executable_serialize) for the next process. Plugins
  // without artifacts compile as usual.
  std::string artifactCacheDir;
};

// Multiply-accumulates of a node, by its op's MacRule (the Macs column of
// core/ir/Ops.def: convolutions and matrix products); 0 for other ops.
uint64_t macsOf(const Node &n);

// One partition's part of the last run.
struct PartitionRun {
  bool onPlugin = false;
  double wallMs = 0;   // host wall time of the partition
  std::string profile; // serialized ExecutionProfile (plugin partitions)
  // Host addresses the plugin used in place (buffer_import_host, ABI 1.2):
  // the partition's inputs, then its outputs; empty when it copied.
  std::vector<const void *> imported;
};

// Compiles every plugin partition once and runs the whole graph.
class PartitionedExecutable {
public:
  static Expected<std::unique_ptr<PartitionedExecutable>>
  create(const Function &lowered, std::shared_ptr<Plugin> plugin,
         const ExecutorOptions &o = {});
  const PartitionPlan &plan() const { return plan_; }
  // What the last run() recorded, one entry per partition.
  const std::vector<PartitionRun> &lastRun() const { return lastRun_; }
  // Text of every plugin partition in `format` (ABI 1.3 executable_emit),
  // in partition order.
  Expected<std::vector<std::string>> emit(const std::string &format);
  // Inputs in params() order; results in outputs() order.
  Expected<std::vector<Tensor>> run(const std::vector<Tensor> &inputs);

private:
  struct Compiled {
    Plugin *plugin = nullptr; // null: interpreter
    Device *device = nullptr;
    Executable exe;
    std::vector<Type> outTypes;
    Plugin::RunBuffers buffers; // allocated by the first run, then reused
  };
  const Function *f_ = nullptr;
  std::shared_ptr<Plugin> plugin_, fallback_;
  Device device_, fallbackDevice_;
  PartitionPlan plan_;
  std::vector<Compiled> compiled_;
  std::vector<PartitionRun> lastRun_;
  uint32_t profileLevel_ = 0;
};

} // namespace ember::backend

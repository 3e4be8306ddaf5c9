// The ABI's scheduled-program path (docs/npu-sdk.md, "Through the ABI"): a
// plugin whose manifest sets accepts_layers and carries its target
// description receives each partition as a scheduled program
// (EMBER_PROGRAM_LAYERS, ember.backend.v1.LayerProgram) instead of a graph.
// Ember does the selection, tiling, residency, DMA schedule and
// synchronization with the NPU compiler layer (Ember::accel) and, with the
// option tune=N, measures the cost model's candidates on the plugin's timed
// device; the plugin packs, encodes and runs.
//
// This is the NPU layer's one home: every caller that compiles a function
// on a plugin (the partitioner, ahead-of-time artifacts, heterogeneous
// bundles, the multi-device runtime, the conformance kit) goes through
// compileOnPlugin, which decides here which form crosses the ABI, and the
// runtime's cost estimates of such a plugin come from the same host-built
// program (estimateOnHost).
#pragma once

#include "backend/CompileOptions.h"
#include "backend/Partitioner.h"
#include "backend/Plugin.h"
#include "ir/Graph.h"
#include "support/Error.h"

#include "ember/accel/Select.h"
#include "ember/accel/Target.h"
#include "ember/backend/v1/runtime.pb.h"

#include <optional>
#include <string>

namespace ember::backend {

// Whether plugin `p` (manifest `m`) asks for scheduled programs: ABI 1.5
// or later, accepts_layers and a target description.
bool takesLayers(const Plugin &p, const v1::CapabilityManifest &m);

// The plugin's target description, parsed and validated; an error naming
// the plugin and the field when it cannot work.
Expected<accel::Target> layerTarget(const Plugin &p,
                                    const v1::CapabilityManifest &m);

// Partitions `f` (Partitioner.h) for the layer of target `t`: each plugin
// partition's layers are built as scheduling will build them, and a node
// whose partition cannot be built (an input it cannot place, one the cut
// leaves to the host) goes to the fallback with the builder's reason, and
// the graph is cut again, until every plugin partition builds. So a node
// the plugin is given is one the layer can compile.
Expected<PartitionPlan> partitionForLayers(const Function &f, Support s,
                                           const accel::Target &t,
                                           const accel::SelectOptions &so);

// The layer's selection options among a compile's backend options (the
// plugin's own keys, and any error, are left to scheduling).
accel::SelectOptions layerSelectOptions(const CompileOptions &o);

// The plan a run executes: with the plugin's layer target `t`
// (hostLayerTarget), partitionForLayers under compile `o`'s selection
// options; without one, the support's cut (partition).
Expected<PartitionPlan> runPlan(const Function &f, Support s,
                                const std::optional<accel::Target> &t,
                                const CompileOptions &o);

// The serialized ember.backend.v1.LayerProgram of partition `f` for plugin
// `p` (whose device `d` a tuning run measures on; null: its device 0, opened
// when tuning measures).
Expected<std::string> scheduleForPlugin(Plugin &p, Device *d,
                                        const accel::Target &t,
                                        const Function &f,
                                        const CompileOptions &o);

// The cost estimate of `f` on plugin `p` that takes scheduled programs for
// `t`, with options `o`: the layer's cost model (accel::costEstimate) on
// the program the host schedules for it (without tuning), at the device's
// clock `clockHz`; each layer's cycles charged to its nodes. The runtime
// asks this instead of the plugin's estimate_cost.
Expected<v1::CostEstimate> estimateOnHost(Plugin &p, const accel::Target &t,
                                          const Function &f,
                                          const CompileOptions &o,
                                          double clockHz);

// The cost estimate of `f` on device `index` of plugin `p`, as the runtime
// and the quantizer ask it: estimateOnHost when `t` (hostLayerTarget(p)) is
// set, else the plugin's estimate_cost (Unsupported when it has none).
Expected<v1::CostEstimate>
estimateOnPlugin(Plugin &p, uint32_t index,
                 const std::optional<accel::Target> &t, const Function &f,
                 const CompileOptions &o, double clockHz);

// The target description plugin `p` is scheduled for on the host, or none
// when it takes graphs (takesLayers false): the one place that decides
// which program kind a plugin is sent.
Expected<std::optional<accel::Target>> hostLayerTarget(Plugin &p);

// A function's program for a plugin: its kind and the bytes
// executable_compile takes.
struct PluginProgram {
  uint32_t kind = EMBER_PROGRAM_GRAPH;
  std::string bytes;
};

// The program plugin `p` compiles for `f` with options `o`: scheduled on
// the host for `t` (EMBER_PROGRAM_LAYERS, scheduleForPlugin) when `t` is
// set, else the serialized graph (EMBER_PROGRAM_GRAPH). `t` is
// hostLayerTarget(p), which a caller compiling many functions resolves once.
Expected<PluginProgram> programForPlugin(Plugin &p, Device *d,
                                         const std::optional<accel::Target> &t,
                                         const Function &f,
                                         const CompileOptions &o);

// The one host entry of the plugin path: compiles `f` on plugin `p` (device
// `d`, may be null) with options `o`, as programForPlugin decides.
Expected<Executable> compileOnPlugin(Plugin &p, Device *d,
                                     const std::optional<accel::Target> &t,
                                     const Function &f,
                                     const CompileOptions &o);
// The same, resolving hostLayerTarget(p) first.
Expected<Executable> compileOnPlugin(Plugin &p, Device *d, const Function &f,
                                     const CompileOptions &o);

} // namespace ember::backend

// The ABI's scheduled-program path (docs/npu-sdk.md, "Through the ABI"): a
// plugin whose manifest sets accepts_layers and carries its target
// description receives each partition as a scheduled program
// (EMBER_PROGRAM_LAYERS, ember.backend.v1.LayerProgram) instead of a graph.
// Ember does the selection, tiling, residency, DMA schedule and
// synchronization with the NPU compiler layer (Ember::accel) and, with the
// option tune=N, measures the cost model's candidates on the plugin's timed
// device; the plugin packs, encodes and runs.
#pragma once

#include "backend/CompileOptions.h"
#include "backend/Partitioner.h"
#include "backend/Plugin.h"
#include "ir/Graph.h"
#include "support/Error.h"

#include "ember/accel/Select.h"
#include "ember/accel/Target.h"

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

// The serialized ember.backend.v1.LayerProgram of partition `f` for plugin
// `p` (whose device `d` a tuning run measures on; null: its device 0, opened
// when tuning measures).
Expected<std::string> scheduleForPlugin(Plugin &p, Device *d,
                                        const accel::Target &t,
                                        const Function &f,
                                        const CompileOptions &o);

} // namespace ember::backend

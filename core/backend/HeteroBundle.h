// Heterogeneous bundles (docs/edge.md, "Heterogeneous bundles"): a model
// partly on an NPU, ahead of time. The partitions an NPU plugin claims are
// compiled by it into command streams (its artifact's npu.insns and
// npu.program files); the rest by the CPU plugin into objects for the
// application core (each with its own entry point). The bundle's model.c
// runs them in order over one arena and hands each command stream to the NPU
// through the small C driver interface of ember_npu.h (the Ethos-U pattern:
// one call per NPU partition, the NPU's memory a window the application
// owns). `ember compile MODEL --target=npu-sim --emit=bundle --target-triple
// T -o DIR` writes one.
#pragma once

#include "backend/CompileOptions.h"
#include "backend/Plugin.h"
#include "ir/Graph.h"

#include <string>

namespace ember::backend {

// Compiles `lowered` into a heterogeneous bundle in `dir`: the NPU
// plugin's partitions and the CPU plugin's (o's target triple and CPU),
// model.h/model.c, ember_npu.h/ember_npu.c, main.c, weights.bin and the
// partitions' objects. Prints each file and the footprint line.
Status writeHeteroBundle(Plugin &npu, Plugin &cpu, const Function &lowered,
                         const CompileOptions &o, const std::string &dir);

} // namespace ember::backend

// The run functions of the passes (Passes.def), one file each.
#pragma once

#include "ember/accel/Pipeline.h"

#include <string>

namespace ember::accel {

#define EMBER_ACCEL_PASS(Id, name, in, out, fromText, description)             \
  Status run##Id(const PassContext &ctx, PipelineState &st);
#include "Passes.def"
#undef EMBER_ACCEL_PASS

// Emits the program from the scheduler's state, when it holds one (the
// program's passes read it; the pipeline's end prints it).
Status emitScheduled(const PassContext &ctx, PipelineState &st);

} // namespace ember::accel

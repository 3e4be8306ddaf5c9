// The operation stream of a scheduled program (Stream.cpp; docs/npu-sdk.md,
// "Residency", "Weight prefetch").
#pragma once

#include "CodegenInternal.h"
#include "Stripes.h"

#include "ember/accel/Program.h"

#include <vector>

namespace ember::accel {

// Appends the layers' code to out.ops / out.opLayer, unit by unit
// (Stripes.h, layerUnitCount): per layer its setup, then its steps
// software-pipelined (the loads of step s + 1 before the compute of step s,
// after it when that step single-buffers), the two layers of a striped pair
// interleaved in StripedPair::order. With `prefetch`, the first step's
// loads of layer i + 1 that read only the constant image (below
// out.activationBase), load no class of the out memory, and write no row
// layer i's last step uses are taken
// out of codes[i + 1] and issued where layer i's last step would issue the
// loads of a next step. Sets LayerInfo::firstInsn / endInsn /
// prefetchFirst / prefetchEnd of out.layers (sized as codes).
void emitStream(const Target &t, std::vector<LayerCode> &codes,
                const std::vector<StripedPair> &pairs, bool prefetch,
                Program &out);

} // namespace ember::accel

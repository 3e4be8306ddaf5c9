// The instruction stream of an NPU program (Stream.cpp;
// docs/npu-backend.md, "Layer cascading", "Stripes").
#pragma once

#include "CodegenInternal.h"
#include "Program.h"
#include "Stripes.h"

#include <vector>

namespace ember::npusim {

// Appends the layers' code to out.insns / out.insnLayer, unit by unit
// (Stripes.h, layerUnitCount): per layer its setup, then its steps
// software-pipelined (the loads of step s + 1 before the compute of step s,
// after it when that step single-buffers), the two layers of a striped pair
// interleaved in StripedPair::order. With `prefetch`, the first step's
// loads of layer i + 1 that read only the constant image (below
// out.activationBase) and write no row layer i's last step uses are taken
// out of codes[i + 1] and issued where layer i's last step would issue the
// loads of a next step. Sets LayerInfo::firstInsn / endInsn /
// prefetchFirst / prefetchEnd of out.layers (sized as codes).
void emitStream(std::vector<LayerCode> &codes,
                const std::vector<StripedPair> &pairs, bool prefetch,
                Program &out);

} // namespace ember::npusim

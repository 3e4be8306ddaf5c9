// Layer cascading for the NPU backend (Cascade.cpp; docs/npu-backend.md,
// "Layer cascading").
#pragma once

#include "CodegenInternal.h"
#include "Program.h"

#include <functional>
#include <string>
#include <vector>

namespace ember::npusim {

// Generates layer `i` again: its input comes from OUT by MOVE (`inOn`), its
// output stays in OUT (`outOn`), with the tiling `keep`. Returns "" or the
// error.
using RegenerateFn = std::function<std::string(size_t i, bool inOn, bool outOn,
                                               const TileChoice *keep)>;

// Finds the boundaries whose tensor stays in OUT (every layer generated;
// `codes[i]` and `infos[i]` per layer) and rewrites the code of the layers
// on both sides. The boundaries are found on the code; the GEMM layers next
// to one are generated again with the same tiling, knowing it (their
// predicted cycles and compulsory bytes then count MOVEs, not DRAM loads and
// stores), and the boundaries found again until they agree (at most three
// rounds; a boundary lost in the last only leaves its layers' prediction
// off). The tiling is kept: letting the cost model choose again with MOVEs
// costed as a row a cycle picked tilings that ran slower in the network
// (DS-CNN +1.7% cycles). Sets LayerInfo::cascadedIn / cascadedOut.
std::string cascadeLayers(std::vector<LayerCode> &codes,
                          std::vector<LayerInfo> &infos, const LayerProgram &lp,
                          const std::vector<NTensor> &ts,
                          const RegenerateFn &regenerate);

} // namespace ember::npusim

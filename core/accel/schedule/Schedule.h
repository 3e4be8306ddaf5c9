// The scheduler's phases (Codegen.cpp) and the state between them:
// generateProgram runs them in order; the passes `tiling` and `residency`
// (core/accel/passes) run them one at a time, so that the program can be
// printed between them (docs/npu-sdk.md, "The pipeline").
#pragma once

#include "CodegenInternal.h"
#include "Pack.h"
#include "Stripes.h"

#include "ember/accel/Program.h"

#include <string>
#include <vector>

namespace ember::accel {

struct ScheduleState {
  explicit ScheduleState(const Target &t) : img(t) {}
  std::vector<NTensor> ts; // the layer program's tensors, placed in DRAM
  Image img;               // the static image (constants)
  std::vector<GemmTables> tables;
  bool anyTable = false, anyTable16 = false;
  // Per layer: the boundary after it may run in stripes; its input, its
  // output predicted on chip (Cascade.h, predictCascadedInputs).
  std::vector<char> stripeCand, predIn, predOut;
  std::vector<LayerCode> codes; // each layer's operations, by step
  std::vector<StripedPair> pairs;
  Program out; // its layers, activation base and DRAM size so far
};

// Tiling: the constants laid out in the image, the activations placed in
// DRAM, each layer tiled to the target's memories and its steps generated
// (with the tensors layer cascading will likely keep on chip when o.cascade).
// Ok or an error naming the layer.
Status tileLayers(const Target &t, const LayerProgram &lp,
                  const CodegenOptions &o, ScheduleState &st);

// Residency: layer cascading (o.cascade) and stripes (o.stripes) over the
// tiled layers, which it regenerates where their boundaries change.
Status keepOnChip(const Target &t, const LayerProgram &lp,
                  const CodegenOptions &o, ScheduleState &st);

// The program: the layers' operations streamed (weight prefetch with
// o.prefetch), the finish, the image, tables, inputs and outputs; no
// synchronization. Takes the codes and the image out of `st`.
Status emitProgram(const Target &t, const LayerProgram &lp,
                   const CodegenOptions &o, ScheduleState &st, Program &out);

} // namespace ember::accel

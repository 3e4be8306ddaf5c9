// Layer cascading (Cascade.cpp; docs/npu-sdk.md, "Residency"): a tensor
// between two layers kept in the out memory, the consumer's loads turned
// into copies.
#pragma once

#include "CodegenInternal.h"

#include "ember/accel/Program.h"

#include <functional>
#include <string>
#include <vector>

namespace ember::accel {

using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

// Every range of domain `mem` (a memory, or t.memories.size() for DRAM
// bytes) the operations of a layer's code touch.
void layerRanges(const Target &t, const LayerCode &c, int mem, Ranges &out);

// Whether any range in `rs` meets [lo, hi).
bool overlaps(const Ranges &rs, uint64_t lo, uint64_t hi);

// A store of tensor T's rows (T at DRAM byte `lo`, `rb` bytes a row) in a
// step's tail, as layer cascading takes it apart: the vector op (Requant,
// VAdd or Pool) before its run of stores wrote its rows (moveRows may split
// one op's rows over consecutive stores).
struct StoredRows {
  size_t vec = 0;     // the op's index in the tail
  int64_t row = 0;    // T's row of the op's first row
  bool first = false; // the op's first store: the run stores all its rows,
                      // contiguously in T
};

// Fills `out` for the store at tail[k] (from the out memory, stride xsize,
// within T) or says why it is not a store of the vector op's rows: the op is
// not there, the store's rows are not the op's, or the op's rows are not all
// stored, in order, by the run's stores into T (checked at its first store;
// a later one is taken only when the run's first store stores into T at the
// op's row).
Status storedRows(const std::vector<Op> &tail, size_t k, uint64_t lo,
                  uint64_t rb, StoredRows &out);

// The rules for keeping tensor `tensor` between layers i and i + 1 on chip
// that hold whatever the code: an int8 or int16 activation of its own storage,
// neither an input nor an output of the program, referenced (itself or a
// whole view of it: the same bytes in the same layout) by layers i and i + 1
// only.
bool cascadableTensor(const std::vector<NTensor> &ts, const LayerProgram &lp,
                      size_t i, int tensor);

// Whether tensor T takes at most half of the out memory: whole-tensor
// cascading is
// predicted for such a tensor (predictCascadedInputs; whether it fits beside
// both layers' slots, the tilings decide), stripes are for the larger ones
// (stripeCandidates).
bool fitsHalfOfOut(const Target &t, const NTensor &T);

// Generates layer `i` again: its input comes from the out memory by copies
// (`inOn`), its output stays there (`outOn`), with the tiling `keep` (null:
// the cost model's pick) and its slots within `outRows` rows of the out
// memory (0: all of it). Returns ok or the error.
using RegenerateFn = std::function<Status(
    size_t i, bool inOn, bool outOn, const TileChoice *keep, uint64_t outRows)>;

// Per layer, whether its input will likely stay on chip, predicted before any
// layer is tiled (the boundaries themselves are found on the generated code,
// after tiling): a GEMM layer whose input is the output of the layer before,
// a tensor cascadeBoundary's code-independent rules allow (an int8
// activation of its own storage, not a program input or output, referenced
// by the two layers only) and that takes at most half of the out memory (the
// rest is
// for the two layers' own out-memory slots, which their tilings decide). The
// code generator tiles these layers with the input costed as copies from the
// start, so the cost model chooses their tiling knowing that the input does
// not come from DRAM (a layer tiled as if alone reloads its weights to
// start on a smaller first input block sooner, which a copied input does
// not need).
std::vector<char> predictCascadedInputs(const Target &t, const LayerProgram &lp,
                                        const std::vector<NTensor> &ts);

// Finds the boundaries whose tensor stays on chip (every layer generated;
// `codes[i]` and `infos[i]` per layer; `generatedIn[i]`: layer i was
// generated with its input costed as copies, predictCascadedInputs) and
// rewrites the code of the layers on both sides. The boundaries are found on
// the code; the GEMM layers next to one whose side differs from how they were
// generated are generated again with the same tiling, knowing it (their
// predicted cycles and compulsory bytes then count copies, not DRAM loads and
// stores), and the boundaries found again until they agree (at most three
// rounds; a boundary lost in the last only leaves its layers' prediction
// off). The tiling is kept: letting the cost model choose again with the
// producer's stores dropped as well picked tilings that ran slower in the
// network (DS-CNN +1.7% cycles); the consumer's input side is chosen up
// front instead (predictCascadedInputs). Before the rounds, a boundary whose
// tensor fits the out memory but not beside the two layers' slots gets its
// consumer tiled again within the rows the tensor leaves, kept when the
// cost model predicts it no slower and the boundary then holds (the
// consumer's budget; docs/npu-backend.md, "Layer cascading"). Sets
// LayerInfo::cascadedIn / cascadedOut.
Status cascadeLayers(const Target &t, std::vector<LayerCode> &codes,
                     std::vector<LayerInfo> &infos, const LayerProgram &lp,
                     const std::vector<NTensor> &ts,
                     const std::vector<char> &generatedIn,
                     const std::vector<char> &generatedOut,
                     const RegenerateFn &regenerate);

} // namespace ember::accel

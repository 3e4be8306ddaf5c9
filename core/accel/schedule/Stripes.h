// Layer cascading in stripes (Stripes.cpp; docs/npu-sdk.md, "Residency").
#pragma once

#include "CodegenInternal.h"

#include "ember/accel/Program.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ember::accel {

// A striped boundary: the output of layer `producer` goes through a ring of
// lines in the out memory to layer producer + 1, and the two layers'
// instructions are interleaved unit by unit (the units of layerUnitCount
// below).
struct StripedPair {
  size_t producer = 0;
  int64_t ringRows =
      0; // the ring's out-memory rows, as many for each channel tile
  // The stream: (0: the producer, 1: the consumer; the unit's index).
  std::vector<std::pair<int, size_t>> order;
};

// The units of a layer's stream, in the order the stream emits them: unit 0
// is the setup and the first step's loads, unit s + 1 the loads of step
// s + 1 (after step s's compute when that step single-buffers, else before
// it), the compute and the tail of step s.
inline size_t layerUnitCount(const LayerCode &c) { return c.steps.size() + 1; }

// Per layer i: whether the boundary i -> i + 1 may run in stripes, by the
// rules that do not depend on the code: both are GEMM layers over one image,
// layer i + 1 reads the output of layer i as its input, a tensor that
// cascadableTensor allows and that is too large to be kept in the out memory
// whole (not fitsHalfOfOut, predictCascadedInputs's rule).
std::vector<char> stripeCandidates(const Target &t, const LayerProgram &lp,
                                   const std::vector<NTensor> &ts);

// Runs tensor `tensor` between layers i and i + 1 (generated with
// CodegenOptions::striped: their memory slots disjoint, their y loops
// outside the output-tile loops) through a ring in the out memory: the
// producer's vector ops that wrote the tensor's rows for its stores write them
// into the ring instead (split at the ring's wrap), the stores go, the
// consumer's loads of the tensor become copies from the ring (split at its
// wrap), and `pair.order` interleaves the two layers' units so that each
// consumer unit comes after the producer units writing the lines it reads
// and each producer unit after the consumer units still reading the lines it
// overwrites. Returns ok (codes rewritten) or why not (codes untouched).
Status stripeBoundary(const Target &t, std::vector<LayerCode> &codes, size_t i,
                      const std::vector<NTensor> &ts, int tensor,
                      StripedPair &pair);

// Generates layer `i` again as one side of a striped boundary (`share`: the
// rows of each memory it may take; CodegenOptions::striped). Returns ok
// or the error.
using StripeRegenerateFn = std::function<Status(
    size_t i, bool inOn, bool outOn, const std::vector<uint64_t> *share)>;

// Tries the candidate boundaries (stripeCandidates) left to right, each
// layer in one striped pair at most and neither layer cascaded whole
// (LayerInfo::cascadedIn / cascadedOut): both layers generated striped, then
// stripeBoundary, with a half and with three quarters of the out memory for the
// ring; the pair with the lower estimate of the two layers interleaved (their
// predictions alone, the array and the load engine shared) is kept when
// `all`, or when it is below 0.93 of the two layers one after the other;
// else both are generated again as they were. Sets
// LayerInfo::stripedIn / stripedOut / ringRows and appends the pairs done.
// A pair that cannot be generated or rewritten is no error: both layers stay
// as they were, and the producer's LayerInfo::notStriped says why (so does
// a pair the estimate rejects).
void stripeLayers(const Target &t, std::vector<LayerCode> &codes,
                  std::vector<LayerInfo> &infos, const LayerProgram &lp,
                  const std::vector<NTensor> &ts,
                  const std::vector<char> &candidates, bool all,
                  const StripeRegenerateFn &regenerate,
                  std::vector<StripedPair> &pairs);

} // namespace ember::accel

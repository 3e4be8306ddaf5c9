// Selection (docs/npu-sdk.md, "Selection"): from the partition graph the
// host sends (ember.backend.v1.Graph, lowered int8 primitives) to the layer
// IR: which nodes the target runs, with the violated constraint for every
// node it does not (query_support), and the layers of a partition
// (compile). One function decides both, so a plugin never claims a node
// that compile then refuses. What runs is the target's layer forms
// (Target::forms) read through the layer's form table, which also gives the
// capability manifest's claims.
#ifndef EMBER_ACCEL_SELECT_H
#define EMBER_ACCEL_SELECT_H

#include "ember/accel/Layers.h"
#include "ember/accel/Program.h"
#include "ember/accel/Target.h"
#include "support/Error.h"

#include <string>
#include <vector>

namespace ember::backend::v1 {
class CostEstimate;
class Graph;
} // namespace ember::backend::v1

namespace ember::accel {

// What the claims weigh besides the target's forms.
struct SelectOptions {
  // Islands (docs/npu-backend.md, "Islands"): a group of claimed nodes that
  // would be a device partition of its own between host nodes, doing fewer
  // MACs per byte crossing its boundary than the array does per DRAM byte
  // and fewer than 2^20 MACs, is left on the host when it does no MAC
  // (backend option islands=free, the default), or whatever its MACs
  // (islandMacs: islands=host, which trades MACs for partitions); false:
  // claimed (islands=keep).
  bool hostIslands = true;
  bool islandMacs = false;
  // Patches (docs/npu-backend.md, "Channel-poor convolutions"): a
  // convolution whose input comes from the host and has few channels reads
  // it as its patches, laid out by the host (packPatches; backend option
  // patches=on, the default; off: as the graph has it).
  bool patches = true;
  // The device's DRAM (backend option dram_bytes; 0: the description's
  // dram.bytes): a layer whose packed constants would take the partition's
  // program past it runs on the host (partitionForLayers).
  uint64_t dramBytes = 0;
};

// Per node of `g` (Graph.nodes order): "" when the target runs it, else why
// not, naming the op, the value and the constraint.
std::vector<std::string> whyNot(const Target &t,
                                const ember::backend::v1::Graph &g,
                                const SelectOptions &o = SelectOptions());

// The answer to the runtime's estimate_cost (ABI 1.4) for program `p`
// compiled from `g`, at `clockHz`: its cycles (the sum of its layers'
// predictions, each layer alone), DRAM and DMA bytes, and per node of `g`
// a layer covers, that layer's index as its group and, for the nodes doing
// the array's work (its convolutions and MatMuls; else all its nodes,
// evenly), the layer's time. A fused stage, or a Concat two layers write
// into, costs no time of its own. The basis is the caller's.
void costEstimate(const ember::backend::v1::Graph &g, const Program &p,
                  double clockHz, ember::backend::v1::CostEstimate &out);

// The layers of a partition: every node must be claimed (an error naming
// the node otherwise). Returns ok or the error; `failedNode` (optional) the
// node of g whose build failed, or -1 when the error names none.
Status buildLayers(const Target &t, const ember::backend::v1::Graph &g,
                   LayerProgram &out, const SelectOptions &o = SelectOptions(),
                   int *failedNode = nullptr);

// buildLayers without the patches pass it ends with (the pipeline's pass
// `build`, Passes.def, then `patches`): what it claims is the same.
Status buildLayersUnpacked(const Target &t, const ember::backend::v1::Graph &g,
                           LayerProgram &out, const SelectOptions &o,
                           int *failedNode = nullptr);

// The pass buildLayers ends with when SelectOptions::patches: a GEMM layer
// that alone reads a partition input (directly, or through one elementwise
// layer that keeps the padding value), a dense convolution with a kernel
// larger than 1x1, reads that input as its patches (NTensor::Patches: the
// host lays them out as it converts the input, Device.h): whole windows,
// kh kw C channels a pixel of the output, and the layer becomes a 1x1
// convolution; or, when those take more than 4 times the input's DRAM
// bytes, the kernel's rows, kw C channels a pixel of the input's lines, and
// the layer becomes a kh x 1 convolution. Either only when it at least
// halves the array's passes (kh kw ceil(C / lanes) before). The weights are
// reordered to match and the sums are the same integers. Returns how many
// layers it changed.
int packPatches(const Target &t, LayerProgram &lp);

// After packPatches: ok when every convolution is within the conv form's
// kernel, stride and dilation limits, else an error naming the first that
// is not (one selection claimed as its patches whose layer, epilogue
// included, did not fit on them), and its layer's name in `layer`.
Status patchedLimits(const Target &t, const LayerProgram &lp,
                     std::string *layer = nullptr);

// The ops the manifest lists (ember.backend.v1.OpCapability): name, dtypes,
// constraint text, the lowest rank, and the context the op runs in when the
// target runs it only inside a fused pattern or placement (for the dtypes
// of contextDtypes; empty: all), and dtypes claimed only on index operands.
struct OpClaim {
  std::string op;
  std::vector<std::string> dtypes;
  std::string constraints;
  unsigned minRank = 0;
  // Tensors of rank above 4 only inside a phase interleave (form
  // 'interleave': its [N, s, s, K, H, W] reshape and transpose), else 4.
  unsigned maxRank = 4;
  std::string context;
  std::vector<std::string> contextDtypes, indexDtypes;
};
std::vector<OpClaim> claimedOps(const Target &t);

} // namespace ember::accel

#endif // EMBER_ACCEL_SELECT_H

// A compiled NPU partition: one instruction stream, a static DRAM image
// (packed weights, bias rows, requantization tables, constants) and where
// the partition's inputs and outputs live in DRAM. Also what the profiler
// and the assembly printer need: which layer each instruction belongs to.
#pragma once

#include "Layers.h"

#include "ember/scratchpad/TilePlanner.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ember::npusim {

// A layer's tiling as the tuner names it: tile sizes and loop order of its
// tiling problem (docs/npu-backend.md, "Tiling") and, for GEMM layers, the
// bias path (-1: not a GEMM layer or any path).
struct TileChoice {
  std::vector<int64_t> tile;
  std::vector<size_t> order;
  int bias = -1;        // 0: DRAM, 1: GEMM, 2: REQUANT (BiasMode)
  double predicted = 0; // the cost model's cycles (candidates)
  bool empty() const { return tile.empty(); }
  bool same(const TileChoice &o) const {
    return tile == o.tile && order == o.order && bias == o.bias;
  }
  std::string text() const; // "tile=1,4,1,2 order=0,1,2,3 bias=requant"
};

// What tuning did for a layer (--backend-opt tune=N; docs/npu-backend.md,
// "Tuning against the simulator").
struct TuneInfo {
  // "": not tuned; "sim": measured now; "cache": from the tuning cache;
  // "single": only one candidate fits, nothing to measure.
  std::string source;
  uint64_t modelCycles = 0; // the model's pick, simulated alone
  uint64_t tunedCycles = 0; // the kept candidate, simulated alone
  uint32_t candidates = 0;  // candidates measured (or measured then)
  int32_t rank = 0;         // the kept candidate's rank in the model's order
};

struct LayerInfo {
  std::string name, op;           // source node and what the layer does
  std::vector<std::string> nodes; // every source node it covers
  uint64_t usefulMacs = 0;        // the model's MACs
  uint64_t arrayMacs = 0;         // DIM x DIM x rows over its GEMMs
  uint64_t loadBytes = 0, storeBytes = 0;
  size_t firstInsn = 0, endInsn = 0; // [first, end) in the program (its
                                     // prefetched loads lie before first)
  // Its weight loads prefetched during the layer before: [first, end) in
  // the program, inside that layer's range (empty: none). A layer run alone
  // (runLayersAlone, the report's `alone`) issues them first.
  size_t prefetchFirst = 0, prefetchEnd = 0;
  // Layer cascading: its input came from the layer before through OUT
  // (MOVEs, no DRAM), or its output stayed in OUT for the layer after.
  bool cascadedIn = false, cascadedOut = false;
  // Layer cascading in stripes (Stripes.cpp): its input came from a ring of
  // lines in OUT that the layer before fills as it runs, interleaved with it
  // (stripedIn), or its output went into such a ring (stripedOut); ringRows:
  // the ring's OUT rows. Its instructions then interleave with the other
  // layer's in [firstInsn, endInsn) (Program::insnLayer tells them apart).
  bool stripedIn = false, stripedOut = false;
  uint32_t ringRows = 0;
  // A candidate producer (stripeCandidates) whose boundary to the next
  // layer was not striped: why (stripeBoundary's reason, a layer that does
  // not fit its share, or "no gain (...)": the estimate's rejection). Empty
  // otherwise. For --npu-report.
  std::string notStriped;
  std::string tiling; // the chosen tiling, for the report
  std::string shape;  // e.g. "C64 K128 3x3/2 g1 28x28" (GEMM), "C64 14x14"
  // The cost model (docs/npu-backend.md, "Cost-model tiling"): predicted
  // cycles of the chosen tiling, and the layer's compulsory DRAM bytes
  // (every input, weight and table read once, the output written once: the
  // roofline's memory side).
  double predictedCycles = 0;
  uint64_t minDramBytes = 0;
  // Of the prediction, the busiest compute engine's and the LOAD engine's
  // busy cycles (the choice of striped boundaries; not serialized).
  double predictedCompute = 0, predictedLoad = 0;
  // The chosen tiling, and the cost model's best candidates (best first;
  // filled when CodegenOptions::candidates > 0; not serialized).
  TileChoice choice;
  std::vector<TileChoice> candidates;
  TuneInfo tune;
};

struct Program {
  std::vector<npu::Insn> insns;
  std::vector<int32_t> insnLayer;       // per instruction: layer, or -1
  std::vector<uint8_t> image;           // DRAM bytes [0, image.size())
  uint64_t dramBytes = 0;               // DRAM the program needs in total
  uint64_t activationBase = 0;          // where planned activations start
  std::vector<NTensor> inputs, outputs; // dram = resolved row-0 address
  std::vector<LayerInfo> layers;
  int32_t dim = int32_t(kDim);
  // Identifies the program on a device (whose weights DRAM holds); 0:
  // none, always rewritten. Set by newProgramUid(), not serialized.
  uint64_t uid = 0;
};

uint64_t newProgramUid();

// Where accumulators get their bias: a stride-0 LOAD of the bias row per
// accumulator row (DRAM), one GEMM with reset from a constant row and a bias
// tile (the array), the bias row of the requantization table that REQUANT's
// `bias` bit adds (requant: no array rows, no per-row DMA; layers that
// requantize, not the pooling sums), or whichever the cost model predicts
// fastest (auto). Values as TileChoice::bias.
enum class BiasMode { Auto = -1, Dram = 0, Gemm = 1, Requant = 2 };

// CodegenOptions::cascadePredict.
enum class CascadePredict { Off, Out, Both };

// CodegenOptions::stripes.
enum class StripeMode { Off, On, All };

struct CodegenOptions {
  uint64_t dramCapacity = EMBER_NPU_DRAM_BYTES_DEFAULT;
  // Tiling: by predicted cycles (the cost model of docs/npu-backend.md,
  // "Cost-model tiling"), or by DMA bytes alone (the rule before it; backend
  // option tiling=bytes, kept to measure the model against).
  bool cycleTiling = true;
  // The DRAM the cost model assumes (backend options dram_bw, dram_latency).
  uint32_t bytesPerCycle = EMBER_NPU_DRAM_BYTES_PER_CYCLE_DEFAULT;
  uint32_t latency = EMBER_NPU_DRAM_LATENCY_CYCLES_DEFAULT;
  bool predict = true;            // fill LayerInfo::predictedCycles
  BiasMode bias = BiasMode::Auto; // option bias=auto|dram|gemm|requant
  // Tuning: collect the model's `candidates` best tilings per layer
  // (LayerInfo::candidates); and per layer index a forced tiling (an empty
  // choice, or none: the model's pick). A forced tiling that does not fit is
  // an error naming the layer.
  unsigned candidates = 0;
  std::vector<TileChoice> forced;
  const TileChoice *force = nullptr; // internal: the current layer's
  // Depthwise convolutions with stride 1 along the width as DWGEMM (a kernel
  // row per instruction), or as one GEMM per tap with a diagonal weight tile
  // (backend option depthwise=dwgemm|gemm, the mapping before DWGEMM).
  bool dwgemm = true;
  // Weight prefetch across layers (backend option prefetch=on|off): the
  // next layer's first weight and table loads during the last step of the
  // layer before (docs/npu-backend.md, "Weight prefetch").
  bool prefetch = true;
  // Layer cascading (backend option cascade=on|off): a tensor that one layer
  // writes and only the next layer reads stays in OUT when it fits beside
  // both layers' OUT slots; the consumer's activation LOADs become MOVEs
  // (docs/npu-backend.md, "Layer cascading").
  bool cascade = true;
  // With cascading (backend option cascade_predict=off|out|both): which
  // side of a boundary that will likely be cascaded (Cascade.h,
  // predictCascadedInputs) the first tiling of its layers assumes on chip.
  // Out: the producer is tiled without the STOREs of its output (the
  // default); both: the consumer also with its input by MOVE; off: every
  // layer tiled as if alone (cascadeLayers then only corrects predictions).
  CascadePredict cascadePredict = CascadePredict::Out;
  // Layer cascading in stripes (backend option stripes=off|on|all): a tensor
  // between two GEMM layers that does not fit OUT whole goes through a ring
  // of lines in OUT, the two layers' steps interleaved (Stripes.h;
  // docs/npu-backend.md, "Stripes"). On: where the cost model estimates a
  // gain; all: wherever it can (to measure and test the mechanism).
  StripeMode stripes = StripeMode::On;
  // Internal, per layer: one side of a striped boundary. Its scratchpads are
  // shared with the other layer (each gets `shareRows` rows of each memory,
  // 0: all) and its y loop must be outside its output-tile loop, so that a
  // stripe of lines is complete across all channel tiles before the next.
  bool striped = false;
  std::vector<uint64_t> shareRows;
  // The pipeline fill of a GEMM layer (backend option fill=N, 1-16; 1: off):
  // its first step loads the input and weight tiles in up to N pieces along
  // the input tiles, each piece's input rows and weights together, so the
  // first GEMMs start after a piece instead of the whole blocks
  // (docs/npu-backend.md, "Within a layer: the fill and the DMA stream").
  unsigned fillPieces = 4;
  // Internal, per layer: its scratchpad slots from the top of each memory.
  bool slotsFromTop = false;
  // Internal, per layer: a layer before it in the partition, so weight
  // prefetch issues its first step's constant loads (weights, tables) ahead
  // of its own, and a run of it alone issues them first (the cost model's
  // first-step load order).
  bool prefetchable = false;
  // Internal, per layer: its input comes from OUT by MOVE, its output stays
  // in OUT (layer cascading decided; the cost model counts no DRAM for them).
  bool inOnChip = false, outOnChip = false;
};

// Tiles every layer to the scratchpads (core's tile planner, the SDK's
// Ember::scratchpad), emits its instructions double-buffered (the loads of
// tile t + 1 before the GEMMs of tile t), places the activations in DRAM
// (the SDK's interval planner) and assigns the dependency tokens. Returns
// "" or an error naming the layer.
std::string generateProgram(const LayerProgram &lp, const CodegenOptions &o,
                            Program &out);

// "" when layer `L` over tensors `ts` tiles to the scratchpads, else why
// not (the selector asks before fusing a pool or an add into a layer).
std::string layerFits(const Layer &L, const std::vector<NTensor> &ts);

// Whether every bias of `g` is representable by the bias GEMM (else the
// layer takes its bias through DRAM).
bool biasByGemmPossible(const GemmLayer &g);

// Whether `g` can take its bias in REQUANT (it requantizes and is not a
// pooling sum, whose one accumulator row many GEMMs reset-free accumulate).
bool biasByRequantPossible(const GemmLayer &g);

// "dram", "gemm", "requant" (TileChoice::bias >= 0).
const char *biasPathName(int bias);

// The cost model's machine for these options (the spec's DMA timing).
scratchpad::Machine npuMachine(const CodegenOptions &o);

// Test hook (backend option fault=deadlock): the first GEMM also waits on
// VECTOR->GEMM, which nothing signals before it, so the program deadlocks.
void injectDeadlock(Program &p);

// The program in the assembler's syntax (round-trips through `ember asm`),
// with a comment naming the source layer before each instruction group.
std::string programAsm(const Program &p);

// Serialization (artifacts): the whole Program as bytes and back.
std::string serializeProgram(const Program &p);
std::string deserializeProgram(const std::string &bytes, Program &p);

} // namespace ember::npusim

// A scheduled partition (docs/npu-sdk.md): one stream of operations (Op.h)
// with its synchronization, a static DRAM image (packed weights, bias rows,
// requantization tables, constants) and where the partition's inputs and
// outputs live in DRAM. Also what a profiler and a printer need: which layer
// each operation belongs to, and per layer its tiling, residency and the
// cost model's prediction. generateProgram makes one from the layer IR.
#ifndef EMBER_ACCEL_PROGRAM_H
#define EMBER_ACCEL_PROGRAM_H

#include "ember/accel/Layers.h"
#include "ember/accel/Op.h"
#include "ember/accel/Target.h"
#include "support/Error.h"

#include "ember/scratchpad/TilePlanner.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ember::accel {

// A layer's tiling as the tuner names it: tile sizes and loop order of its
// tiling problem (docs/npu-sdk.md, "Tiling") and, for GEMM layers, the
// bias path (-1: not a GEMM layer or any path).
struct TileChoice {
  std::vector<int64_t> tile;
  std::vector<size_t> order;
  int bias = -1;        // 0: DRAM, 1: GEMM, 2: Requant (BiasMode)
  double predicted = 0; // the cost model's cycles (candidates)
  bool empty() const { return tile.empty(); }
  bool same(const TileChoice &o) const {
    return tile == o.tile && order == o.order && bias == o.bias;
  }
  std::string text() const; // "tile=1,4,1,2 order=0,1,2,3 bias=requant"
};

// What tuning did for a layer (option tune=N; docs/npu-sdk.md, "Tuning").
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
  uint64_t arrayMacs = 0;         // lanes x lanes x rows over its array ops
  uint64_t loadBytes = 0, storeBytes = 0;
  size_t firstInsn = 0, endInsn = 0; // [first, end) in the program (its
                                     // prefetched loads lie before first)
  // Its weight loads prefetched during the layer before: [first, end) in
  // the program, inside that layer's range (empty: none). A layer run alone
  // (runLayersAlone, the report's `alone`) issues them first.
  size_t prefetchFirst = 0, prefetchEnd = 0;
  // Layer cascading: its input came from the layer before through the out
  // memory (copies, no DRAM), or its output stayed in the out memory for the
  // layer after.
  bool cascadedIn = false, cascadedOut = false;
  // Layer cascading in stripes (Stripes.cpp): its input came from a ring of
  // lines in the out memory that the layer before fills as it runs, interleaved
  // with it (stripedIn), or its output went into such a ring (stripedOut);
  // ringRows: the ring's out-memory rows. Its instructions then interleave with
  // the other layer's in [firstInsn, endInsn) (Program::insnLayer tells them
  // apart).
  bool stripedIn = false, stripedOut = false;
  uint32_t ringRows = 0;
  // A candidate producer (stripeCandidates) whose boundary to the next
  // layer was not striped: why (stripeBoundary's reason, a layer that does
  // not fit its share, or "no gain (...)": the estimate's rejection). Empty
  // otherwise. For --npu-report.
  std::string notStriped;
  std::string tiling; // the chosen tiling, for the report
  std::string shape;  // e.g. "C64 K128 3x3/2 g1 28x28" (GEMM), "C64 14x14"
  // The cost model: predicted cycles of the chosen tiling, and
  // the layer's compulsory DRAM bytes (every input, weight and table read
  // once, the output written once: the roofline's memory side).
  double predictedCycles = 0;
  uint64_t minDramBytes = 0;
  // Of the prediction, the busiest compute engine's and the load engine's
  // busy cycles (the choice of striped boundaries; not serialized).
  double predictedCompute = 0, predictedLoad = 0;
  // The chosen tiling, and the cost model's best candidates (best first;
  // filled when CodegenOptions::candidates > 0; not serialized).
  TileChoice choice;
  std::vector<TileChoice> candidates;
  TuneInfo tune;
};

// Where a GEMM layer's constants lie in the static image (Pack.cpp lays them
// out; the vendor's packing fills the bytes): per output tile the input
// tiles it reads and its weight tiles ([input tile][tap], lanes rows of
// lanes bytes each, or one per kernel row for a depthwise array op), which
// of those are all zero (skipped), and the bias and table rows.
struct GemmTables {
  std::vector<std::vector<int64_t>> rel; // per output tile: input tiles
  std::vector<uint64_t> wOff;            // per output tile: weights in DRAM
  std::vector<std::vector<bool>> zero;   // per (ko, ri*taps+tap): all zero
  uint64_t biasOff = 0, paramOff = 0;
  // The layer's output table (Layer::lut): 256 bytes at lutOff, loaded into
  // the top Target::lutRows() param rows and given to LutLd by the layer's
  // setup; the producing vector op carries the lut flag.
  bool lut = false;
  uint64_t lutOff = 0;
  // A 16-bit table layer (Layer::lut16): its 1026 bytes at lutOff, loaded
  // into the param rows below the output table's (table16Reserve) and given
  // to LutLd w16 by the layer's setup.
  bool lut16 = false;
  bool sum = false; // one identity tile (GemmLayer::sum)
  // Depthwise by DwGemm (dwgemmLayer): per channel tile one weight tile per
  // kernel row, row j = channel j, lane t = tap (ky, t); `zero` is indexed
  // by kernel row. Otherwise one diagonal tile per tap.
  bool dw = false;
  // DwGemm's own bias (kw <= lanes - bias lanes): the bias of channel j in
  // the last lanes of row j of the first kernel row's tile, added by that
  // DwGemm (reset): no bias rows through DRAM, no bias GEMM.
  bool dwBias = false;
  // Bias by the array (when every bias of the layer is representable,
  // biasTileRow): a constant act row v = (1, -128, ..., -128) and per
  // output tile a weight tile B whose row j satisfies sum_k v_k B[j][k] =
  // bias_j, so one GEMM with reset over the accumulator rows (the act row
  // repeated, ostride 0) initializes them to the bias instead of a stride-0
  // load of lanes x int32 per row through DRAM.
  bool gemmBias = false;
  uint64_t onesOff = 0, biasTileOff = 0;
  // Bias by Requant (biasByRequantPossible and the target's requant bias
  // row): per output tile the table rows mult, shift, bias at rqParamOff;
  // Requant's bias flag adds the third to the accumulator (int32, wrapping),
  // whose first GEMM resets.
  bool rqBias = false;
  uint64_t rqParamOff = 0;
  // 16x8 (GemmLayer::in16): the int64 bias's high words, the table's layout
  // (row 2 of each output tile's three), loaded rows/2 above it.
  uint64_t rqParamHiOff = 0;
  // Whether the accumulators can take their bias by `path` (TileChoice::bias:
  // 1 GEMM, 2 Requant; 0, DRAM, always): neither of the first two next to
  // DwGemm's own bias, which leaves no bias to take.
  bool biasPathUsable(int path) const {
    return path == 0 ||
           (!dwBias && ((path == 1 && gemmBias) || (path == 2 && rqBias)));
  }
};

struct Program {
  std::vector<Op> ops;
  std::vector<int32_t> opLayer;         // per operation: layer, or -1
  std::vector<uint8_t> image;           // DRAM bytes [0, image.size())
  uint64_t dramBytes = 0;               // DRAM the program needs in total
  uint64_t activationBase = 0;          // where planned activations start
  std::vector<NTensor> inputs, outputs; // dram = resolved row-0 address
  std::vector<LayerInfo> layers;
  // Per layer: where a GEMM layer's constants are in the image (empty
  // tables for the other kinds); the vendor's packing fills them.
  std::vector<GemmTables> tables;
  // The constant tensors of the layer program in the image: tensor index
  // and DRAM byte (their bytes are already in the tiled layout).
  std::vector<std::pair<int, uint64_t>> constants;
  int64_t lanes = 0;
  // Identifies the program on a device (whose weights DRAM holds); 0:
  // none, always rewritten. Set by newProgramUid(), not serialized.
  uint64_t uid = 0;
};

uint64_t newProgramUid();

// Where accumulators get their bias: a stride-0 load of the bias row per
// accumulator row (DRAM), one GEMM with reset from a constant row and a bias
// tile (the array), the bias row of the requantization table that Requant's
// `bias` bit adds (requant: no array rows, no per-row DMA; layers that
// requantize, not the pooling sums), or whichever the cost model predicts
// fastest (auto). Values as TileChoice::bias.
enum class BiasMode { Auto = -1, Dram = 0, Gemm = 1, Requant = 2 };

// CodegenOptions::cascadePredict.
enum class CascadePredict { Off, Out, Both };

// CodegenOptions::stripes.
enum class StripeMode { Off, On, All };

struct CodegenOptions {
  // The device's DRAM (option dram_bytes; 0: the description's dram.bytes).
  // A program that needs more is refused, naming its largest layer.
  uint64_t dramCapacity = 0;
  // Tiling: by predicted cycles (the cost model of docs/npu-sdk.md,
  // "Cost-model tiling"), or by DMA bytes alone (the rule before it; backend
  // option tiling=bytes, kept to measure the model against).
  bool cycleTiling = true;
  // The DRAM the cost model assumes (options dram_bw, dram_latency; 0 and
  // -1: the target's).
  uint32_t bytesPerCycle = 0;
  int64_t latency = -1;
  bool predict = true;            // fill LayerInfo::predictedCycles
  BiasMode bias = BiasMode::Auto; // option bias=auto|dram|gemm|requant
  // Tuning: collect the model's `candidates` best tilings per layer
  // (LayerInfo::candidates); and per layer index a forced tiling (an empty
  // choice, or none: the model's pick). A forced tiling that does not fit is
  // an error naming the layer.
  unsigned candidates = 0;
  std::vector<TileChoice> forced;
  const TileChoice *force = nullptr; // internal: the current layer's
  // Depthwise convolutions as DwGemm where the target has it (a kernel row
  // per op), or as one GEMM per tap with a diagonal weight tile (option
  // depthwise=dwgemm|gemm).
  bool dwgemm = true;
  // 16x8 array ops (backend option act16=one|two): both byte planes in one
  // op where the target's array takes them at once (Target.h,
  // act16OnePass), or one op per plane (the form of arrays without it, kept
  // to measure the one-pass form against).
  bool act16OnePass = true;
  // Weight prefetch across layers (backend option prefetch=on|off): the
  // next layer's first weight and table loads during the last step of the
  // layer before (docs/npu-sdk.md, "Weight prefetch").
  bool prefetch = true;
  // Layer cascading (backend option cascade=on|off): a tensor that one layer
  // writes and only the next layer reads stays in the out memory when it fits
  // beside both layers' out-memory slots; the consumer's activation loads
  // become copies (docs/npu-sdk.md, "Layer cascading").
  bool cascade = true;
  // With cascading (backend option cascade_predict=off|out|both): which
  // side of a boundary that will likely be cascaded (Cascade.h,
  // predictCascadedInputs) the first tiling of its layers assumes on chip.
  // Out: the producer is tiled without the stores of its output (the
  // default); both: the consumer also with its input by copy; off: every
  // layer tiled as if alone (cascadeLayers then only corrects predictions).
  CascadePredict cascadePredict = CascadePredict::Out;
  // Layer cascading in stripes (backend option stripes=off|on|all): a tensor
  // between two GEMM layers that does not fit the out memory whole goes through
  // a ring of lines in the out memory, the two layers' steps interleaved
  // (Stripes.h; docs/npu-sdk.md, "Stripes"). On: where the cost model estimates
  // a gain; all: wherever it can (to measure and test the mechanism).
  StripeMode stripes = StripeMode::On;
  // Internal, per layer: one side of a striped boundary. Its memories are
  // shared with the other layer (each gets `shareRows` rows of each memory,
  // 0: all) and its y loop must be outside its output-tile loop, so that a
  // stripe of lines is complete across all channel tiles before the next.
  bool striped = false;
  std::vector<uint64_t> shareRows;
  // The pipeline fill of a GEMM layer (backend option fill=N, 1-16; 1: off):
  // its first step loads the input and weight tiles in up to N pieces along
  // the input tiles, each piece's input rows and weights together, so the
  // first GEMMs start after a piece instead of the whole blocks
  // (docs/npu-sdk.md, "Within a layer: the fill and the DMA stream").
  unsigned fillPieces = 4;
  // The tile planner's search with the cycle model (backend option
  // plan_steps=N; 0: no limit): it scores a layer's tilings fewest steps
  // first until their steps reach N (scratchpad::PlanOptions::stepBudget),
  // so a small memory's thousands of tilings of many small steps cost a
  // bounded, deterministic search. Above what any layer of the example
  // NPU's and second NPU's models needs.
  uint64_t planSteps = uint64_t(1) << 21;
  // Tap split of a convolution (backend option taps=auto|N; docs/npu-sdk.md,
  // "Split tiling"): its kernel taps over passes that accumulate into the
  // same accumulator rows, each pass loading the weights of a group of taps.
  // 0 (auto): offered to the cost model when the weights of one input tile's
  // taps do not fit half of the weight space; N: always, at most N taps a
  // pass (to test and measure the split where it is not needed).
  int64_t tapGroup = 0;
  // Internal, per layer: its memory slots from the top of each memory.
  bool slotsFromTop = false;
  // Internal: rows at the top of the param memory that no layer's slots use
  // (the output table's, when a layer of the program has one).
  uint64_t paramReserve = 0;
  // Internal, per layer: a layer before it in the partition, so weight
  // prefetch issues its first step's constant loads (weights, tables) ahead
  // of its own, and a run of it alone issues them first (the cost model's
  // first-step load order).
  bool prefetchable = false;
  // Dependency insertion (Sync.h) at the end; off, the operations carry no
  // synchronization (a stage's text, ember-accel --stop-after).
  bool sync = true;
  // Internal, per layer: its input comes from the out memory by copy, its
  // output stays in the out memory (layer cascading decided; the cost model
  // counts no DRAM for them).
  bool inOnChip = false, outOnChip = false;
};

// Tiles every layer to the target's memories (the SDK's tile planner),
// schedules its operations double-buffered (the loads of tile t + 1 before
// the compute of tile t), lays out the constants in the static image (the
// bytes stay zero until the vendor's packing fills them), places the
// activations in DRAM (the SDK's interval planner), keeps tensors on chip
// where it can (Cascade.h, Stripes.h) and inserts the synchronization
// (Sync.h). Returns ok or an error naming the layer.
Status generateProgram(const Target &t, const LayerProgram &lp,
                       const CodegenOptions &o, Program &out);

// The bytes of the static image each layer of `lp` adds (its packed
// weights, bias and requantization rows, output tables, its form's
// constants, and the constant tensors it is the first to read), as
// generateProgram lays them out with options `o`: what a program's
// constants take of the DRAM before any activation.
std::vector<uint64_t> layerImageBytes(const Target &t, const LayerProgram &lp,
                                      const CodegenOptions &o);

// Ok when layer `L` over tensors `ts` tiles to the target's memories, else
// why not (the selector asks before fusing a pool or an add into a layer).
Status layerFits(const Target &t, const Layer &L,
                 const std::vector<NTensor> &ts);

// Whether every bias of `g` is representable by the bias GEMM (else the
// layer takes its bias through DRAM).
bool biasByGemmPossible(const Target &t, const GemmLayer &g);

// Whether `g` can take its bias in Requant (it requantizes and is not a
// pooling sum, whose one accumulator row many GEMMs reset-free accumulate).
bool biasByRequantPossible(const Target &t, const GemmLayer &g);

// "dram", "gemm", "requant" (TileChoice::bias >= 0).
const char *biasPathName(int bias);

// The cost model's machine for these options (the target's DMA timing).
scratchpad::Machine machineOf(const Target &t, const CodegenOptions &o);

// Writes the constant tensors of `lp` into the image of `p` where
// generateProgram placed them (Program::constants): with the vendor's
// packing of the GEMM layers' tables, what a program sent without its image
// needs. The layers' output tables too (GemmTables::lutOff: 256 bytes in the
// abstract machine's order, the same for every vendor), and the constants
// of the layers whose forms emit them (their forms' packing).
void writeConstants(const LayerProgram &lp, Program &p);

// Serialization (artifacts, and the ABI's scheduled programs): the whole
// Program as bytes and back, checked against the target on the way in;
// without the image, only its size (it reads back as zeros, for packing).
std::string serializeProgram(const Target &t, const Program &p,
                             bool withImage = true);
Status deserializeProgram(const Target &t, const std::string &bytes,
                          Program &p);

} // namespace ember::accel

#endif // EMBER_ACCEL_PROGRAM_H

// Tiling a loop nest to the scratchpad budgets a target declares, and the
// double-buffered schedule of its tiles (docs/lir.md, "Tiling and double
// buffering"). Part of the SDK (Ember::scratchpad): the LIR tiler and the
// NPU backend both use it, and so can any vendor whose accelerator computes
// out of small on-chip memories fed by DMA. Self-contained: standard C++.
//
// The caller describes one layer as a loop nest (LoopDim: extents; reduction
// dims are accumulated over) and its operands: where each lives (a Space with
// a capacity in the caller's units: bytes, rows, ...), which loop dims select
// its block, how much space one block takes at given tile sizes, and how many
// bytes one block moves to or from backing memory. planTiles picks tile sizes
// and a loop order that fit every space (operands whose block changes get two
// slots, so the next block loads while the current one is in use) and
// minimise a cost (DMA bytes by default, or the caller's model). schedule()
// lists the steps of the chosen tiling with, per operand, its block, its slot
// and whether the step begins or ends that block.
#ifndef EMBER_SCRATCHPAD_TILE_PLANNER_H
#define EMBER_SCRATCHPAD_TILE_PLANNER_H

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace ember::scratchpad {

struct Space {
  std::string name;
  uint64_t capacity = 0; // the caller's units; 0: unbounded
};

struct LoopDim {
  std::string name;
  int64_t extent = 1;
  // Accumulated over: reduction dims are innermost, in their given order,
  // so an accumulator block is complete when they have all run.
  bool reduction = false;
  // Tile sizes to consider; empty: every distinct ceil(extent / k).
  std::vector<int64_t> sizes;
};

enum class Role {
  Input,       // copied in when its block changes (a DMA load)
  Output,      // written on chip, copied out when its block is complete
  Accumulator, // written on chip over the reduction dims, never copied
};

struct Operand {
  std::string name;
  size_t space = 0; // index into Problem::spaces
  Role role = Role::Input;
  std::vector<size_t> dims; // loop dims (indices) that select its block
  // Space units one block takes at these tile sizes (one entry per dim).
  std::function<uint64_t(const std::vector<int64_t> &tile)> footprint;
  // Bytes one block moves to or from backing memory (unused for
  // accumulators); empty: none.
  std::function<uint64_t(const std::vector<int64_t> &tile)> bytes;
  // Optional, exact: the bytes of one pass over all of its distinct blocks
  // (edge tiles and halos counted as they are). When given, the DMA cost is
  // (blocks begun / distinct blocks) x this, instead of blocks x bytes.
  std::function<uint64_t(const std::vector<int64_t> &tile)> totalBytes;
  // Cycle model only (predictCycles). DMA instructions one block takes
  // (each pays the DMA latency and issue overhead); empty: 1 when the block
  // moves bytes.
  std::function<uint64_t(const std::vector<int64_t> &tile)> transfers = nullptr;
  // Cycle model only: scratchpad rows one block's DMA writes or reads
  // (padding included; a DMA engine moves at most Machine::rowsPerCycle);
  // empty: bytes alone bound the transfer.
  std::function<uint64_t(const std::vector<int64_t> &tile)> rows = nullptr;
  // Cycle model only: of those rows, the ones a load writes without DRAM
  // data (padding): written while the data is still on its way, they bound
  // the transfer from its start, not after the latency. Empty: none.
  std::function<uint64_t(const std::vector<int64_t> &tile)> padRows = nullptr;
  // An input whose blocks come from another on-chip memory, not backing
  // memory (the NPU: a tensor the layer before left in OUT, copied to ACT by
  // MOVE): no DRAM bytes (`bytes` is ignored, in the cycle model and in
  // Tiling::dmaBytes), no transfer latency unless `transfers` says so; the
  // copy takes the load engine for its `rows` (rowsPerCycle a cycle).
  bool onChip = false;
  // The compute engine (index into what Problem::compute returns) that
  // reads an input block or writes an output block: a load into a slot
  // waits for that engine to finish the step that last used the slot, and a
  // store waits for it to finish the step that ends the block.
  size_t engine = 0;
  // Cycle model only: the compute engine that waits for an input block's
  // load before it starts the step (SIZE_MAX: `engine`). Differs from
  // `engine` when one engine reads a block and another frees its slot (an
  // accumulator's bias rows: GEMM adds to them, VECTOR releases them).
  size_t reader = SIZE_MAX;
};

struct StepOperand {
  int64_t block = 0;   // linear index of the operand's block
  unsigned slot = 0;   // which of its slots holds the block
  bool begins = false; // first step of this block (load it, or reset it)
  bool ends = false;   // last step of this block (store it, or release it)
};

// Cycles one step keeps each compute engine busy. The engines form a
// pipeline (engine e of a step starts when engine e - 1 of that step and
// engine e of the previous step are done); `tile` holds the step's own tile
// sizes (edge tiles clipped to the extent), `index` its tile index per dim,
// `ops` per operand whether the step begins or ends its block.
struct Tiling;
using ComputeFn = std::function<std::vector<uint64_t>(
    const Tiling &t, const std::vector<int64_t> &index,
    const std::vector<int64_t> &tile, const std::vector<StepOperand> &ops)>;

struct Problem {
  std::vector<Space> spaces;
  std::vector<LoopDim> dims;
  std::vector<Operand> operands;
  // The dim whose tile is made as large as fits (binary search) for every
  // combination of the other dims' sizes; SIZE_MAX: enumerate every dim.
  size_t greedyDim = SIZE_MAX;
  // Cycle model only: the compute engines' cycles per step.
  ComputeFn compute = nullptr;
  // Cycle model only: the order in which a step's loads are issued (operand
  // indices; empty, or operands left out: operand order, after these).
  std::vector<size_t> loadOrder;
  // Cycle model only: the first step's order when it differs (a backend
  // that issues some of its loads ahead of the layer, e.g. weight prefetch
  // across layers, which a layer run alone issues first); empty: loadOrder.
  // Not used for a fill in pieces (fillPieces).
  std::vector<size_t> firstLoadOrder;
  // Cycle model only: the pipeline fill. With fillPieces > 1 the first
  // step's loads of the input operands that compute engine 0 reads and that
  // depend on `fillDim` are issued in min(fillPieces, that step's fillDim
  // tile) pieces along fillDim, each piece of every such operand together
  // (the other loads engine 0 reads before them, the rest after), and
  // engine 0 computes a piece's share of the step once the piece has
  // arrived, instead of waiting for whole blocks. A piece of an operand
  // takes max(1, transfers / pieces) DMA instructions.
  size_t fillDim = SIZE_MAX;
  unsigned fillPieces = 1;
  // Cycle model only: operands the fill loads whole, ahead of the pieces,
  // although they depend on fillDim (a backend that prefetches them across
  // layers: in a network they arrive while the layer before computes, so
  // splitting them would only add DMA latencies to the layer run alone and
  // would make the pieces look dearer than they are where it counts).
  std::vector<size_t> fillAhead;
  // A tiling that double buffering does not fit may single-buffer operands
  // (the largest first, per space that overflows): their next block then
  // loads only after the step that last read the slot. For a cost model,
  // which can weigh the lost overlap against, say, a weight stream reloaded
  // per block of smaller tiles; false: such tilings do not fit.
  bool singleBufferFallback = false;
  // Loop-order constraints: each pair (outer, inner) of dim indices keeps
  // outer's loop outside inner's (earlier in Tiling::order) whenever both
  // have more than one tile (a dim of one tile is no loop: its place in the
  // order changes nothing). planTiles scores only the orders that keep every
  // pair (keepsOrder); evaluate does not check them. E.g. a backend that
  // needs each band of output lines complete before the next begins keeps
  // the line dim outside the channel dim. Reduction dims are innermost in
  // their given order whatever this says.
  std::vector<std::pair<size_t, size_t>> outside;
};

// The DMA side of a machine, as a target declares it (the NPU: from its
// spec's DRAM bandwidth, latency and DMA issue overhead).
struct Machine {
  double bytesPerCycle = 16;     // DRAM bandwidth (loads and stores share it)
  uint64_t latencyCycles = 64;   // request to first data, per DMA instruction
  uint64_t transferOverhead = 4; // issue cycles per DMA instruction
  double rowsPerCycle = 1;       // scratchpad rows a DMA engine moves a cycle
};

struct Tiling {
  std::vector<int64_t> tile;    // tile size per dim
  std::vector<int64_t> count;   // tiles per dim, ceil(extent / tile)
  std::vector<size_t> order;    // dims, outermost first
  std::vector<unsigned> slots;  // per operand: 1, or 2 (double-buffered)
  std::vector<uint64_t> blocks; // per operand: blocks begun over the nest
  std::vector<uint64_t> used;   // per space: units taken by all slots
  uint64_t dmaBytes = 0;        // loads + stores over the whole nest
  uint64_t steps = 0;           // tiles over the whole nest
  double cost = 0;
};

using CostFn = std::function<double(const Problem &, const Tiling &)>;

struct PlanOptions {
  bool doubleBuffer = true; // operands with more than one block get 2 slots
  CostFn cost;              // empty: dmaBytes, then fewer steps
  // With a greedy dim: besides its largest fitting size, also score this
  // many smaller candidates (smaller tiles fill the pipeline sooner and
  // balance edge tiles; a cycle cost can prefer them).
  unsigned greedyAlternatives = 0;
  // Also keep the next best tilings: PlanResult::ranked holds up to this
  // many, best first (a tuner measures them; with cycleCost, pass the same
  // number to it so their costs are exact, not pruned lower bounds).
  unsigned keep = 1;
  // With a cost: the most steps (Tiling::steps, summed over the tilings
  // scored) the cost is asked to score. A cycle model walks every step of
  // a tiling, and a small memory makes many tilings of many small steps:
  // the search stops there, deterministically (the tilings are scored
  // fewest steps first, so those left are the ones with the most steps;
  // the first is always scored). 0: no limit.
  uint64_t stepBudget = uint64_t(1) << 21;
};

struct PlanResult {
  bool ok = false;
  Tiling tiling;
  std::vector<Tiling> ranked; // when ok: up to PlanOptions::keep, best first
  size_t scored = 0;          // tilings that fit and were scored
  size_t unscored = 0;        // tilings that fit, left by the step budget
  uint64_t stepsScored = 0;   // their steps (what a cycle cost walked)
  std::string error; // when !ok: what the smallest tile needs, per space
};

// Fills count, slots, blocks, used, dmaBytes, steps and cost of `t`
// (tile and order set by the caller); false when a space overflows.
bool evaluate(const Problem &p, const PlanOptions &o, Tiling &t);

// Whether the order of `t` keeps Problem::outside at t's tile sizes (for a
// tiling the caller brings, e.g. a tuner's; planTiles checks its own).
bool keepsOrder(const Problem &p, const Tiling &t);

// The best tiling that fits: for every combination of candidate sizes and
// every order of the non-reduction dims (reduction dims innermost) that
// keeps Problem::outside. The tilings that fit are scored fewest steps
// first, within PlanOptions::stepBudget when there is a cost.
PlanResult planTiles(const Problem &p, const PlanOptions &o = {});

struct Step {
  std::vector<int64_t> index;        // tile index per dim
  std::vector<StepOperand> operands; // per operand
};

// Predicted cycles of a tiling (docs/npu-backend.md): the steps in loop
// order, software-pipelined as schedule() describes (the loads of step s + 1
// run on the DMA engine while the compute engines work on step s, into the
// other slot). Per step: loads = per input block begun, in loadOrder, each
// after the previous one and after its slot is free, transfers x (latency
// + overhead), then its bytes on the DRAM channel at the bandwidth, at most
// rowsPerCycle scratchpad rows a cycle; compute = Problem::compute, each
// engine after the loads it reads (Operand::reader); stores = per output
// block ended, after the engine writing it: bytes, then latencies. Loads and
// stores share the channel: each transfer's bytes take its free time from
// when the transfer starts, in the order the walk meets them (a store of
// step s may take a gap between loads booked before it), so a layer whose
// loads and stores both stream is as slow as its total bytes allow. The
// first step may load in pieces (Problem::fillPieces). The result is the
// last engine's end, at least the total DMA bytes over the bandwidth.
// Needs Problem::compute.
struct Prediction {
  double cycles = 0;        // the whole nest
  double computeCycles = 0; // the busiest compute engine, summed over steps
  double loadCycles = 0;    // DMA-in engine busy
  double storeCycles = 0;   // DMA-out engine busy
};
// With `stopAbove`: the walk stops once the steps so far take longer, and
// `cycles` is that partial time (a lower bound).
Prediction predictCycles(const Problem &p, const Tiling &t, const Machine &m,
                         double stopAbove = HUGE_VAL);

// The pieces the first step of `t` loads in (Problem::fillPieces): of 1 ..
// min(fillPieces, the first fillDim tile), the count for which the layer
// ends first, estimated as the longer of its compute chain (the fill on an
// idle machine: each piece's part of every pieced operand after the one
// before, max(1, transfers / pieces) instructions each, engine 0 computing a
// piece's share of the step once it has arrived; then the other steps as
// long as the first) and its DMA chain (the nest's bytes over the bandwidth
// plus the instructions the pieces add: a DMA-bound layer only pays for
// them). Needs evaluate()'s t.dmaBytes and t.steps. 1 without a fillDim.
// predictCycles uses it; a target's code generator calls it to emit the
// same pieces.
unsigned fillPieceCount(const Problem &p, const Tiling &t, const Machine &m);

// A CostFn from predictCycles (ties: fewer DMA bytes). It remembers the
// `keep` lowest costs it returned and stops walking tilings that cannot beat
// the highest of them (their cost is then a lower bound), so make one per
// planTiles call, with the same `keep` as PlanOptions::keep.
CostFn cycleCost(const Machine &m, unsigned keep = 1);

// The steps of `t` in loop order. A block's slots alternate when it has
// two, so the block after the next reuses the slot of the current one. To
// overlap DMA with compute, issue the loads of step s + 1 before the compute
// of step s; a load into a slot waits for the last step that used it (the
// step where the previous block in that slot `ends`).
std::vector<Step> schedule(const Problem &p, const Tiling &t);

} // namespace ember::scratchpad

#endif // EMBER_SCRATCHPAD_TILE_PLANNER_H

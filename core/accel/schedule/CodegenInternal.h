// Internal to the layer's scheduling (Codegen.cpp, GemmCode.cpp,
// GemmLimits.cpp, Cascade.cpp, Stripes.cpp, Stream.cpp): a layer's scheduled
// operations before they are streamed, and tensor addresses.
#pragma once

#include "ember/accel/Layers.h"
#include "ember/accel/Op.h"
#include "ember/accel/Program.h"

#include "ember/scratchpad/TilePlanner.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ember::accel {

struct StepCode {
  std::vector<Op> loads, compute, tail;
  // Its loads write a single slot (a single-buffered operand's next block,
  // Problem::singleBufferFallback) that the step before still reads: they
  // are issued after that step's compute, not ahead of it.
  bool afterPrev = false;
};

// Byte address of row `p` of channel tile `t` of tensor `k`.
struct Addr {
  const std::vector<NTensor> &ts;
  uint64_t operator()(int k, int64_t t, int64_t p) const {
    if (k < 0 || size_t(k) >= ts.size())
      return 0; // a layer being checked for fit before its output exists
    const NTensor &x = ts[size_t(k)];
    const NTensor &own = x.base >= 0 ? ts[size_t(x.base)] : x;
    if (x.pixOff >= 0) // a pixel view: tiles its owner's P apart
      return uint64_t(own.dram) +
             uint64_t(((x.tileOffset + t) * own.P + x.pixOff + p) *
                      x.rowBytes());
    return uint64_t(own.dram) +
           uint64_t(((x.tileOffset + t) * x.P + p) * x.rowBytes());
  }
};

struct LayerCode {
  std::vector<Op> setup; // register writes, before the first load
  std::vector<StepCode> steps;
  std::string tiling;
};

// ---- shared by the layer kinds' schedulers (Codegen.cpp, GemmCode.cpp) ----

// An operand of a tiling problem.
scratchpad::Operand
operand(std::string name, int space, scratchpad::Role role,
        std::vector<size_t> dims,
        std::function<uint64_t(const std::vector<int64_t> &)> footprint,
        std::function<uint64_t(const std::vector<int64_t> &)> bytes);

// The target's memories as the tile planner's spaces (capacities in rows;
// `share`: at most these rows of each, 0: all).
// `paramReserve`: rows at the top of the param memory left out.
std::vector<scratchpad::Space> spacesOf(const Target &t,
                                        const std::vector<uint64_t> &share,
                                        uint64_t paramReserve = 0);

// Plans a layer's problem: by the cost model or by DMA bytes, or the tiling
// the tuner forces (checked to fit); fills the choice and prediction of
// `info` (and its candidates with o.candidates). Unsupported, naming why,
// when no tiling fits the memories.
Expected<scratchpad::PlanResult> planLayer(const Target &t,
                                           const scratchpad::Problem &layer,
                                           const CodegenOptions &o,
                                           LayerInfo &info);

// Memory rows of each operand's slots, allocated in order per memory, from
// the bottom or (fromTop) from the top down.
struct Slots {
  std::vector<std::vector<int64_t>> base; // per operand, per slot
};
// `tops` (with fromTop): per memory, the row the slots end below instead of
// the memory's top (a 16-bit layer's lower halves, Stripes.h).
// An internal error when the slots overflow a memory (the planner checked
// the tiling against the same capacities, so it names a planner fault).
Expected<Slots> allocate(const Target &t, const scratchpad::Problem &p,
                         const scratchpad::Tiling &tl, bool fromTop,
                         uint64_t paramReserve = 0,
                         const std::vector<int64_t> *tops = nullptr);

// "n=1x1 y=4x3 ..." of a tiling.
std::string tilingText(const scratchpad::Problem &p,
                       const scratchpad::Tiling &tl);

// Bytes of tensor `k` in DRAM (0 for a layer checked before it exists).
uint64_t tensorBytes(const std::vector<NTensor> &ts, int k);

// The image layout of a GEMM layer's constants (Pack.h) the scheduler reads.
struct GemmTables;

// Whether one output line of a convolution (input width W, padded Wp,
// output width OW, ekh input lines at line stride sh) fits the layer's
// fields and memories whole (`actRows`: the activation memory's rows the
// layer may use): ok if so, else unsupported naming why. A line that does
// not runs in column bands (genGemm); convLimits refuses what bands cannot do.
Status convLineFits(const Target &t, int64_t W, int64_t Wp, int64_t OW,
                    int64_t ekh, int64_t sh, uint64_t actRows);

// Ok, or why the GEMM layer's form cannot be scheduled on the target
// (GemmLimits.cpp).
Status refuseForm(const Target &t, const GemmLayer &g,
                  const std::vector<NTensor> &ts, const GemmTables &tb);

// A 16-bit layer's operations from its 8-bit schedule (GemmLimits.cpp).
void widen16(const Target &t, const GemmLayer &g, const GemmTables &tb,
             bool onePass, LayerCode &code);

// The per-layer schedulers: ok or why the layer cannot be scheduled.
Status genGemm(const Target &t, const Layer &L, const std::vector<NTensor> &ts,
               const GemmTables &tb, const CodegenOptions &o, int biasPath,
               LayerCode &code, LayerInfo &info);
// genGemm in its two halves: planGemm chooses the tiling for one bias path
// (LayerInfo's choice, predicted cycles and candidates), emitGemm writes
// that plan's code (and the rest of LayerInfo), so a caller comparing bias
// paths emits only the one it keeps. The plan refers to the layer, tensors
// and tables it was made with; they must outlive it.
struct GemmPlan;
struct GemmPlanDeleter {
  void operator()(GemmPlan *pl) const;
};
using GemmPlanPtr = std::unique_ptr<GemmPlan, GemmPlanDeleter>;
Expected<GemmPlanPtr> planGemm(const Target &t, const Layer &L,
                               const std::vector<NTensor> &ts,
                               const GemmTables &tb, const CodegenOptions &o,
                               int biasPath, LayerInfo &info);
Status emitGemm(const Layer &L, GemmPlan &plan, LayerCode &code,
                LayerInfo &info);
// The param rows a program with 16-bit tables keeps at the top of the
// param memory: the output table's (at the top) and the 16-bit table's
// below them (loaded by each table layer's setup).
inline int64_t table16Reserve(const Target &t) {
  return t.lutRows() + t.lut16Rows();
}

// What a pool layer's blocks run instead of the pool (a form's vector op
// over a map, e.g. a table lookup): the setup (instead of the window
// registers), the engine cycles of the op over `rows` rows, and the op.
struct PoolOps {
  std::vector<Op> setup;
  std::function<uint64_t(int64_t rows)> cycles;
  std::function<Op(int64_t dst, int64_t src, int64_t rows)> op;
};

// A pool layer: its blocks of lines loaded into the out memory with their
// padding, pooled (or run through `ops`), stored (Codegen.cpp).
Status genPool(const Target &t, const Layer &L, const std::vector<NTensor> &ts,
               const CodegenOptions &o, LayerCode &code, LayerInfo &info,
               const PoolOps *ops = nullptr);
Status genAdd(const Target &t, const Layer &L, const std::vector<NTensor> &ts,
              const CodegenOptions &o, LayerCode &code, LayerInfo &info);

} // namespace ember::accel

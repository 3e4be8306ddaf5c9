// LIR passes (docs/lir.md, "Passes"): one file per pass, listed in
// LirPasses.def, run by runLirPasses. A pass takes unplanned, verified LIR
// and leaves it verified; memory planning runs after the passes.
#pragma once

#include "lir/LIR.h"

#include <string>
#include <vector>

namespace ember::lir {

struct LirPassStats {
  size_t changed = 0; // instructions removed, rewritten or moved
};

#define EMBER_LIR_PASS(Class, Name, Desc)                                      \
  Status run##Class(Function &f, LirPassStats &s);
#include "lir/LirPasses.def"

struct LirPassInfo {
  const char *name;
  const char *description;
  Status (*run)(Function &, LirPassStats &);
};
const std::vector<LirPassInfo> &allLirPasses();
const LirPassInfo *findLirPass(const std::string &name);
// The order buildPlannedLir and `ember compile --emit=lir` use.
const std::vector<std::string> &defaultLirPassOrder();

// Clears planned offsets (the passes change lifetimes, so a plan is stale),
// then runs the named passes in order, verifying after each. Unknown names
// are an error. The caller plans memory afterwards.
Status runLirPasses(Function &f, const std::vector<std::string> &names);

// ---- helpers shared by the passes (LirPasses.cpp) ----------------------
inline bool isLifetime(const Instruction &in) {
  return in.kind == InstKind::Alloc || in.kind == InstKind::Dealloc;
}

// The operands an instruction touches for dependence and lifetime
// purposes: a dma.wait touches what its dma.start touches (the transfer
// is in flight until the wait). Empty for alloc/dealloc.
std::vector<Operand> touchedOperands(const Function &f, size_t inst);

// Per base buffer, the indices of the non-lifetime instructions that touch
// it (each instruction once, ascending).
std::vector<std::vector<size_t>> bufferUses(const Function &f);

// Buffers touched by any dma.start (passes that rename storage skip them).
std::vector<bool> dmaBuffers(const Function &f);

// Rewrites every use of activation `from` as storage of `to` at byte
// `offset` (a view when the type or offset differs; views of `from` move
// to `to`). Lifetimes: `to` (when an activation) keeps the earliest alloc
// and the latest dealloc of the two; `from` loses its alloc and dealloc.
// `from` is left unreferenced; removeUnusedDecls drops it. When `track` is
// given, the instruction index it holds is updated for removed markers.
void mergeBuffer(Function &f, unsigned from, unsigned to, uint64_t offset,
                 size_t *track = nullptr);

// Drops views no instruction references, then activations and weights no
// instruction or view references, renumbering the rest in order.
void removeUnusedDecls(Function &f);

// Removes every alloc/dealloc and puts an alloc right before each
// activation's first use and a dealloc right after its last (uses as in
// touchedOperands, so a DMA operand lives until the wait). Returns how
// many lifetime markers moved.
size_t rebuildLifetimes(Function &f);

} // namespace ember::lir

// Entry points the `ember` driver uses: graph -> LIR -> planned LIR.
// (Not named Lir.h: that would collide with LIR.h on case-insensitive file
// systems.)
#pragma once

#include "lir/LIR.h"

#include <ostream>
#include <string>
#include <vector>

namespace ember {

// IRGen + verify + LIR passes (lir/LirPass.h; `lirPasses` null runs
// lir::defaultLirPassOrder(), an empty list none) + plan + verify the
// planned LIR, for the lowered `g`.
Expected<lir::Function>
buildPlannedLir(const Function &g, lir::MemoryPlan *plan = nullptr,
                const lir::IRGenOptions &opts = {},
                const std::vector<std::string> *lirPasses = nullptr);

// For `ember compile --emit=lir [--memory-report]`: `m` must already be
// lowered (runPipeline with lower = true). Prints the planned LIR of
// m.main() to `os`; with memoryReport, one line per memory space to
// `report`: "memory: space=<name> peak=<bytes> lower_bound=<bytes>
// no_reuse=<bytes>".
// elideConstantsAbove > 0 prints bigger weights as `elided`. `lirPasses`
// as for buildPlannedLir (null: the default order).
Status emitLir(Module &m, std::ostream &os, bool memoryReport,
               std::ostream &report, int64_t elideConstantsAbove = 0,
               const std::vector<std::string> *lirPasses = nullptr);

// For `ember compile FILE.lir --emit=lir` (lit tests of LIR text): parses,
// verifies, plans when an activation has no offset or memoryReport is set
// (planning overwrites offsets), verifies again and prints. Text that is
// already planned prints back byte-identical. With a non-empty `lirPasses`
// (null or empty: none, so LIR text round-trips) the passes run after the
// first verify and the result is always planned afresh.
Status emitLirText(const std::string &text, const std::string &fileName,
                   std::ostream &os, bool memoryReport, std::ostream &report,
                   const std::vector<std::string> *lirPasses = nullptr);

// For `ember conform --lir`: IRGen + plan + LIR interpreter on a lowered
// function; inputs and results as for interpret().
Expected<std::vector<Tensor>> runLir(const Function &lowered,
                                     const std::vector<Tensor> &inputs);

} // namespace ember

#include "lir/LirPipeline.h"

#include "lir/LirPass.h"

namespace ember {

Expected<lir::Function>
buildPlannedLir(const Function &g, lir::MemoryPlan *plan,
                const lir::IRGenOptions &opts,
                const std::vector<std::string> *lirPasses) {
  EMBER_ASSIGN(lir::Function f, lir::generateLir(g, opts));
  EMBER_TRY(lir::verify(f).withContext("LIR after IRGen"));
  EMBER_TRY(lir::runLirPasses(f, lirPasses ? *lirPasses
                                           : lir::defaultLirPassOrder()));
  EMBER_ASSIGN(lir::MemoryPlan p, lir::planMemory(f));
  EMBER_TRY(lir::verify(f, lir::VerifyOptions{/*requirePlanned=*/true})
                .withContext("LIR after memory planning"));
  if (plan)
    *plan = std::move(p);
  return f;
}

Status emitLir(Module &m, std::ostream &os, bool memoryReport,
               std::ostream &report, int64_t elideConstantsAbove,
               const std::vector<std::string> *lirPasses) {
  if (!m.main())
    return invalid("the module has no function");
  lir::MemoryPlan plan;
  EMBER_ASSIGN(lir::Function f,
               buildPlannedLir(*m.main(), &plan, {}, lirPasses));
  lir::printFunction(os, f, elideConstantsAbove);
  if (memoryReport)
    lir::printMemoryReport(report, plan);
  return Status::ok();
}

Status emitLirText(const std::string &text, const std::string &fileName,
                   std::ostream &os, bool memoryReport, std::ostream &report,
                   const std::vector<std::string> *lirPasses) {
  EMBER_ASSIGN(lir::Function f, lir::parseFunction(text, fileName));
  EMBER_TRY(lir::verify(f));
  bool passes = lirPasses && !lirPasses->empty();
  if (passes)
    EMBER_TRY(lir::runLirPasses(f, *lirPasses));
  bool unplanned = passes;
  for (auto &b : f.buffers)
    unplanned =
        unplanned || (b.kind == lir::BufferKind::Activation && b.offset < 0);
  if (unplanned || memoryReport) {
    EMBER_ASSIGN(lir::MemoryPlan plan, lir::planMemory(f));
    EMBER_TRY(lir::verify(f, lir::VerifyOptions{/*requirePlanned=*/true}));
    if (memoryReport)
      lir::printMemoryReport(report, plan);
  }
  lir::printFunction(os, f);
  return Status::ok();
}

Expected<std::vector<Tensor>> runLir(const Function &lowered,
                                     const std::vector<Tensor> &inputs) {
  EMBER_ASSIGN(lir::Function f, buildPlannedLir(lowered));
  return lir::execute(f, inputs);
}

} // namespace ember

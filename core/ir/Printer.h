// Text form of the graph IR (see docs/graph-ir.md). printModule and
// parseModule round-trip exactly (tests/lit/ir).
#pragma once

#include "ir/Graph.h"
#include "support/Quote.h"

#include <ostream>

namespace ember {

struct PrintOptions {
  // Print constants bigger than this many elements as "elided" (not
  // parseable); 0 prints everything.
  int64_t elideConstantsAbove = 0;
};

void printModule(std::ostream &os, const Module &m, const PrintOptions &o = {});
void printFunction(std::ostream &os, const Function &f,
                   const PrintOptions &o = {});
std::string printTensorLiteral(const Tensor &t, int64_t elideAbove = 0);
// A value name as it appears in text: %name or %"quoted name".
std::string valueRef(const std::string &name);

Expected<std::unique_ptr<Module>> parseModule(const std::string &text,
                                              const std::string &fileName);

// Graphviz DOT export of a function.
void printDot(std::ostream &os, const Function &f);

} // namespace ember

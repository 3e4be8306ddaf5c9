// The reference interpreter for graph IR: slow, obviously correct, the
// oracle every other execution path is compared against.
#pragma once

#include "ir/Graph.h"

namespace ember {

// Runs `f` on `inputs` (one per placeholder, in order; types must match
// exactly) and returns one tensor per function output.
Expected<std::vector<Tensor>> interpret(const Function &f,
                                        const std::vector<Tensor> &inputs);

// Runs a single node on concrete operands (used by constant folding).
Expected<std::vector<Tensor>>
evaluateNode(const Node &n, const std::vector<const Tensor *> &ins);

} // namespace ember

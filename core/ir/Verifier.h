// The graph verifier (Verifier.cpp): structure (operands defined before use,
// in this function, result counts), types (re-inferred and compared), names,
// and after lowering the primitive-only rule. The parser runs it on every
// function it reads; the pass pipeline after import, each pass and lowering.
#pragma once

#include "ir/Graph.h"

namespace ember {

// Verifies the function and its subgraphs; `lowered` additionally rejects
// ops that are not primitives.
Status verifyFunction(const Function &f, bool lowered = false);

} // namespace ember

// Parse helpers of the control-flow ops (If, Loop, Scan), shared by their
// type rules (ir/typerules/ControlFlow.cpp) and reference kernels
// (interp/kernels/ControlFlow.cpp). They read the subgraphs' signatures and
// declared types only; running a subgraph is the interpreter's business.
#pragma once

#include "ir/TypeRules.h"

#include <vector>

namespace ember {

// Loops with a trip count above this are refused rather than run for hours.
constexpr int64_t kMaxLoopIterations = int64_t(1) << 24;

// If: the branch a known condition takes (-1 when unknown) and the captures
// split (operands 1..thenCaptures feed then_branch, the rest else_branch).
struct IfPlan {
  Function *thenG = nullptr, *elseG = nullptr;
  int64_t thenCaptures = 0;
  int known = -1;
  std::vector<Type> results;
};
Expected<IfPlan> ifPlan(const TypeContext &ctx);

// Loop(M?, cond?, carried..., captures...): nState carried values, nScan
// scan outputs stacked over the trip count (known when M is constant and the
// body keeps the condition true; -1 otherwise).
struct LoopPlan {
  Function *body = nullptr;
  int64_t captures = 0, trips = -1;
  size_t nState = 0, nScan = 0;
  std::vector<Type> results;
};
Expected<LoopPlan> loopPlan(const TypeContext &ctx);

// Scan(state..., scan inputs..., captures...): m scan inputs of length len
// sliced along axes[j]; nScanOut outputs stacked along oaxes[k].
struct ScanPlan {
  Function *body = nullptr;
  int64_t captures = 0, m = 0, len = -1;
  size_t nState = 0, nScanOut = 0;
  std::vector<int64_t> inDirs, outDirs;
  std::vector<size_t> axes, oaxes;
  std::vector<Type> results;
};
Expected<ScanPlan> scanPlan(const TypeContext &ctx);

} // namespace ember

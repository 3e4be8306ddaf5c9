// Shared pieces of the reduction kernels: which dims a ReduceX node reduces
// and the result shape.
#pragma once

#include "interp/Kernel.h"

namespace ember {

struct ReducePlan {
  std::vector<bool> reduced; // per input dim
  Dims outDims;              // the result shape (honours keepdims)
  Dims keptDims;             // the result shape with keepdims=1
  int64_t count = 1;         // input elements folded into each result element
};

// Reads ReduceX(data, axes?) with attrs keepdims and noop_with_empty_axes.
// The axes operand must be known (it fixes the result shape).
inline Expected<ReducePlan> planReduce(const KernelContext &ctx) {
  const Dims &in = ctx.in(0).dims();
  size_t rank = in.size();
  std::vector<int64_t> axes;
  if (ctx.has(1)) {
    if (ctx.in(1).rank() > 1)
      return ctx.error("axes must be a 1-D tensor, got ",
                       ctx.in(1).type().toString());
    EMBER_ASSIGN(axes, ctx.ints(1));
  }
  bool keepDims = ctx.attrInt("keepdims", 1) != 0;
  bool noop = ctx.attrInt("noop_with_empty_axes", 0) != 0;
  ReducePlan p;
  p.reduced.assign(rank, axes.empty() && !noop);
  for (int64_t a : axes) {
    EMBER_ASSIGN(int64_t ax, normalizeAxis(ctx, a, rank));
    if (p.reduced[size_t(ax)])
      return ctx.error("axis ", a, " is listed twice");
    p.reduced[size_t(ax)] = true;
  }
  for (size_t d = 0; d < rank; ++d) {
    if (p.reduced[d]) {
      p.count *= in[d];
      p.keptDims.push_back(1);
      if (keepDims)
        p.outDims.push_back(1);
    } else {
      p.keptDims.push_back(in[d]);
      p.outDims.push_back(in[d]);
    }
  }
  return p;
}

// For each input element (row-major order), the flat index of the result
// element it folds into. Calls f(inIndex, outIndex).
template <typename F>
void forEachReduced(const Dims &in, const ReducePlan &p, F f) {
  size_t rank = in.size();
  int64_t n = numElements(in);
  if (n == 0)
    return;
  std::vector<int64_t> ostr = stridesOf(p.keptDims);
  for (size_t d = 0; d < rank; ++d)
    if (p.reduced[d])
      ostr[d] = 0;
  std::vector<int64_t> idx(rank, 0);
  int64_t o = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, o);
    // Advance the multi-index and the result offset together.
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < in[d]) {
        o += ostr[d];
        break;
      }
      o -= ostr[d] * (in[d] - 1);
      idx[d] = 0;
    }
  }
}

} // namespace ember

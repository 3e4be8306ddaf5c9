// Shared pieces of the reduction kernels: the walk over a ReducePlan (which
// dims a ReduceX node reduces and the result shape: planReduce,
// ir/typerules/Parse.h).
#pragma once

#include "interp/Kernel.h"
#include "ir/typerules/Parse.h"

namespace ember {

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

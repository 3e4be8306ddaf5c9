// Reference kernels of ops whose result shape depends on operand values:
// NonMaxSuppression, NonZero, Unique, Compress. They read the operand with
// ctx.valueOf, which fails with DataDependent when the value is unknown at
// compile time; the type rules (ir/typerules/DataDependent.cpp) compute the
// selections and keep them (keepForKernel), which these kernels then copy
// out.
#include "interp/kernels/MovementUtil.h"
#include "interp/kernels/ValueUtil.h"

#include <algorithm>
#include <cstring>

namespace ember {

Status kernel_NonMaxSuppression(KernelContext &ctx) {
  EMBER_ASSIGN(const std::vector<int64_t> *sel,
               ctx.keptByRule<std::vector<int64_t>>());
  Tensor &y = ctx.out(0);
  std::copy(sel->begin(), sel->end(), y.data<int64_t>());
  return Status::ok();
}

Status kernel_NonZero(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(const std::vector<int64_t> *kept,
               ctx.keptByRule<std::vector<int64_t>>());
  const std::vector<int64_t> &hits = *kept;
  size_t r = x.rank();
  std::vector<int64_t> str = stridesOf(x.dims());
  int64_t nnz = int64_t(hits.size());
  Tensor &y = ctx.out(0);
  int64_t *py = y.data<int64_t>();
  for (size_t k = 0; k < r; ++k)
    for (int64_t j = 0; j < nnz; ++j)
      py[int64_t(k) * nnz + j] = (hits[size_t(j)] / str[k]) % x.dim(k);
  return Status::ok();
}

Status kernel_Unique(KernelContext &ctx) {
  const Tensor *x = &ctx.in(0);
  EMBER_ASSIGN(const UniquePlan *kept, ctx.keptByRule<UniquePlan>());
  const UniquePlan &p = *kept;
  int64_t n = p.n, outer = p.outer, inner = p.inner;
  int64_t u = int64_t(p.first.size());
  const std::vector<int64_t> &first = p.first, &counts = p.counts,
                             &inverse = p.inverse;
  auto elemAt = [&](int64_t o, int64_t s, int64_t i) {
    return (o * n + s) * inner + i;
  };
  Tensor &y = ctx.out(0);
  size_t es = elemSize(x->elem());
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k = 0; k < u; ++k)
      std::memcpy(y.raw() + size_t((o * u + k) * inner) * es,
                  x->raw() + size_t(elemAt(o, first[size_t(k)], 0)) * es,
                  size_t(inner) * es);
  if (ctx.numOutputs() > 1)
    std::copy(first.begin(), first.end(), ctx.out(1).data<int64_t>());
  if (ctx.numOutputs() > 2)
    std::copy(inverse.begin(), inverse.end(), ctx.out(2).data<int64_t>());
  if (ctx.numOutputs() > 3)
    std::copy(counts.begin(), counts.end(), ctx.out(3).data<int64_t>());
  return Status::ok();
}

Status kernel_Compress(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(const CompressPlan *kept, ctx.keptByRule<CompressPlan>());
  const CompressPlan &p = *kept;
  int64_t axis = p.axis;
  const Dims &d = p.view;
  int64_t n = d[size_t(axis)];
  const std::vector<int64_t> &keep = p.keep;
  Tensor &y = ctx.out(0);
  int64_t outer = 1, inner = 1;
  for (size_t k = 0; k < d.size(); ++k)
    if (k < size_t(axis))
      outer *= d[k];
    else if (k > size_t(axis))
      inner *= d[k];
  size_t chunk = size_t(inner) * elemSize(x.elem());
  uint8_t *dst = y.raw();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i : keep) {
      if (chunk)
        std::memcpy(dst, x.raw() + size_t(o * n + i) * chunk, chunk);
      dst += chunk;
    }
  return Status::ok();
}

} // namespace ember

#include "interp/Kernel.h"

namespace ember {

static const KernelFn kKernels[] = {
#define EMBER_OP(Name, ...) &kernel_##Name,
#include "ir/Ops.def"
};

Status runKernel(KernelContext &ctx) {
  OpKind k = ctx.node().kind;
  EMBER_TRY(typeRuleFor(k)(ctx));
  for (size_t i = 0; i < ctx.outs_.size(); ++i)
    ctx.outs_[i] = Tensor(ctx.outType(i));
  return kKernels[unsigned(k)](ctx);
}

BroadcastIndexer::BroadcastIndexer(const Dims &outDims, const Dims &inDims)
    : outDims_(outDims), inStrides_(outDims.size(), 0) {
  identity_ = outDims == inDims;
  auto st = stridesOf(inDims);
  size_t off = outDims.size() - inDims.size();
  for (size_t i = 0; i < inDims.size(); ++i)
    inStrides_[off + i] = inDims[i] == 1 ? 0 : st[i];
}

int64_t BroadcastIndexer::map(int64_t flat) const {
  if (identity_)
    return flat;
  int64_t idx = 0;
  for (size_t d = outDims_.size(); d-- > 0;) {
    int64_t c = flat % outDims_[d];
    flat /= outDims_[d];
    idx += c * inStrides_[d];
  }
  return idx;
}

} // namespace ember

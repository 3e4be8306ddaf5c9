// Storage ops: graph inputs and constants.
#include "interp/Kernel.h"

namespace ember {

Status kernel_Placeholder(KernelContext &ctx) {
  return ctx.error("a graph input is bound by the caller, not computed");
}

Status kernel_Constant(KernelContext &ctx) {
  const Tensor *t = ctx.node().payload.get();
  if (!t)
    return ctx.error("constant has no payload");
  Tensor &y = ctx.setOutput(0, t->type());
  if (!ctx.inferOnly())
    y = *t;
  return Status::ok();
}

} // namespace ember

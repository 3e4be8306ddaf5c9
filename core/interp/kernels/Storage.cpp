// Storage ops: graph inputs and constants.
#include "interp/Kernel.h"

namespace ember {

Status kernel_Placeholder(KernelContext &ctx) {
  return ctx.error("a graph input is bound by the caller, not computed");
}

Status kernel_Constant(KernelContext &ctx) {
  ctx.out(0) = *ctx.node().payload;
  return Status::ok();
}

} // namespace ember

// The reference kernel of custom ops: the op library's kernel
// (ir/OpRegistry.h), with state made for this evaluation and guard zones
// around its results, so that a kernel writing outside them is an error
// naming its library instead of a corrupted interpreter.
#include "interp/Kernel.h"

namespace ember {

Status kernel_Custom(KernelContext &ctx) {
  EMBER_ASSIGN(const CustomOp *op, requireCustomOp(ctx.node()));
  KernelOptions o;
  o.guard = true;
  EMBER_ASSIGN(std::unique_ptr<CustomKernel> k, op->instantiate(ctx.node(), o));
  std::vector<const void *> ins(ctx.numInputs(), nullptr);
  for (size_t i = 0; i < ins.size(); ++i)
    if (ctx.has(i))
      ins[i] = ctx.in(i).raw();
  std::vector<void *> outs(ctx.numOutputs());
  for (size_t i = 0; i < outs.size(); ++i)
    outs[i] = ctx.out(i).raw();
  return k->run(ins.data(), outs.data());
}

} // namespace ember

// The type rule of custom ops (kernel: interp/kernels/Custom.cpp): the
// operand and result counts the op's library declares, then the library's
// type and shape function (ir/OpRegistry.h).
#include "ir/TypeRules.h"

namespace ember {

Status types_Custom(TypeContext &ctx) {
  EMBER_ASSIGN(const CustomOp *op, requireCustomOp(ctx.node()));
  const size_t nin = ctx.numInputs(), nout = ctx.numOutputs();
  auto range = [](unsigned lo, unsigned hi) {
    return hi == CustomOp::kVariadic ? concat(lo, " or more")
           : lo == hi                ? concat(lo)
                                     : concat(lo, " to ", hi);
  };
  if (nin < op->minInputs ||
      (op->maxInputs != CustomOp::kVariadic && nin > op->maxInputs))
    return ctx.error("takes ", range(op->minInputs, op->maxInputs),
                     " operands (", op->describeLibrary(), "), got ", nin);
  for (size_t i = 0; i < op->minInputs; ++i)
    if (!ctx.has(i))
      return ctx.error("operand ", i, " is required (", op->describeLibrary(),
                       ")");
  if (nout < op->minOutputs ||
      (op->maxOutputs != CustomOp::kVariadic && nout > op->maxOutputs))
    return ctx.error("has ", range(op->minOutputs, op->maxOutputs),
                     " results (", op->describeLibrary(), "), the node ", nout);
  return op->infer(ctx);
}

} // namespace ember

// Type rules of the ops whose reference kernels are in
// interp/kernels/ReduceVariadic.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

static Status sumOperandsRule(TypeContext &ctx) {
  ElemKind k = ctx.in(0).elem();
  Dims od = ctx.in(0).dims();
  for (size_t i = 1; i < ctx.numInputs(); ++i) {
    const Tensor &t = ctx.in(i);
    if (t.elem() != k)
      return ctx.error("operand #", i, " has type ", t.type().toString(),
                       ", expected element type ", elemKindName(k));
    Dims b;
    if (!broadcastShapes(od, t.dims(), b))
      return ctx.error("operand #", i, " ", t.type().toString(),
                       " does not broadcast with shape ", dimsToString(od));
    od = b;
  }
  ctx.setOutput(0, Type(k, od));
  return Status::ok();
}

Status types_Sum(TypeContext &ctx) { return sumOperandsRule(ctx); }
Status types_Mean(TypeContext &ctx) { return sumOperandsRule(ctx); }

} // namespace ember

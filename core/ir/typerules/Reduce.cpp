// Type rules of the ops whose reference kernels are in
// interp/kernels/Reduce.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

static Status reduceRule(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(ReducePlan p, planReduce(ctx));
  ctx.setOutput(0, Type(x.elem(), p.outDims));
  return Status::ok();
}

Status types_ReduceSum(TypeContext &ctx) { return reduceRule(ctx); }
Status types_ReduceSumSquare(TypeContext &ctx) { return reduceRule(ctx); }
Status types_ReduceL1(TypeContext &ctx) { return reduceRule(ctx); }
Status types_ReduceL2(TypeContext &ctx) { return reduceRule(ctx); }
Status types_ReduceLogSum(TypeContext &ctx) { return reduceRule(ctx); }
Status types_ReduceLogSumExp(TypeContext &ctx) { return reduceRule(ctx); }
Status types_ReduceMean(TypeContext &ctx) { return reduceRule(ctx); }
Status types_ReduceProd(TypeContext &ctx) { return reduceRule(ctx); }
Status types_ReduceMax(TypeContext &ctx) { return reduceRule(ctx); }
Status types_ReduceMin(TypeContext &ctx) { return reduceRule(ctx); }

} // namespace ember

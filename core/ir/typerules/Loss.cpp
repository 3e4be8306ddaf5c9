// Type rules of the ops whose reference kernels are in
// interp/kernels/Loss.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

namespace {

// When `softmax` is set the scores are log_softmax(x) over axis 1 (result 1
// when the node has two results).
Status lossRule(TypeContext &ctx, bool softmax) {
  EMBER_TRY(requireFloat(ctx, 0, "input"));
  EMBER_TRY(requireIndex(ctx, 1, "target"));
  const Tensor &x = ctx.in(0), &tg = ctx.in(1);
  if (x.rank() < 2)
    return ctx.error("input must have rank >= 2, got ", x.type().toString());
  Dims td(x.dims());
  td.erase(td.begin() + 1);
  if (tg.dims() != td)
    return ctx.error("target ", tg.type().toString(), " must have shape [",
                     dimsToString(td), "] for input ", x.type().toString());
  int64_t C = x.dim(1);
  bool hasW = ctx.has(2);
  if (hasW) {
    const Tensor &w = ctx.in(2);
    if (w.elem() != x.elem() || w.rank() != 1 || w.dim(0) != C)
      return ctx.error("weight ", w.type().toString(), " must be [", C,
                       "] of the input's element type");
  }
  std::string red = ctx.attrString("reduction", "mean");
  if (red != "none" && red != "sum" && red != "mean")
    return ctx.error("reduction must be none, sum or mean, got '", red, "'");
  if (ctx.numOutputs() < 1 || ctx.numOutputs() > (softmax ? 2u : 1u))
    return ctx.error("unexpected number of results ", ctx.numOutputs());
  ctx.setOutput(0, Type(x.elem(), red == "none" ? td : Dims{}));
  if (ctx.numOutputs() == 2)
    ctx.setOutput(1, Type(x.elem(), x.dims()));
  return Status::ok();
}

} // namespace

Status types_NegativeLogLikelihoodLoss(TypeContext &ctx) {
  return lossRule(ctx, false);
}

Status types_SoftmaxCrossEntropyLoss(TypeContext &ctx) {
  return lossRule(ctx, true);
}
} // namespace ember

// Type rules of the parameterized activations, Clip, PRelu, CastLike and the
// gated Swish and SwiGLU (kernels: interp/kernels/Activation.cpp).
#include "ir/typerules/Parse.h"

namespace ember {

#define UNARY(Name)                                                            \
  Status types_##Name(TypeContext &ctx) { return unaryRule(ctx); }
UNARY(LeakyRelu)
UNARY(Elu)
UNARY(Selu)
UNARY(Celu)
UNARY(HardSigmoid)
UNARY(HardSwish)
UNARY(Softplus)
UNARY(Softsign)
UNARY(Mish)
UNARY(ThresholdedRelu)
UNARY(Shrink)
UNARY(Swish)
#undef UNARY

Expected<bool> geluTanh(const TypeContext &ctx) {
  std::string approx = ctx.attrString("approximate", "none");
  if (approx != "none" && approx != "tanh")
    return ctx.error("approximate must be 'none' or 'tanh', got '", approx,
                     "'");
  return approx == "tanh";
}

Status types_Gelu(TypeContext &ctx) {
  EMBER_ASSIGN(bool tanhApprox, geluTanh(ctx));
  (void)tanhApprox;
  return unaryRule(ctx);
}

// Clip(x, min?, max?): min/max are one-element tensors of x's type.
Status types_Clip(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has(i))
      continue;
    const Tensor &b = ctx.in(i);
    if (b.elem() != x.elem())
      return ctx.error("bound #", i, " has type ", b.type().toString(),
                       ", expected element type ", elemKindName(x.elem()));
    if (b.size() != 1)
      return ctx.error("bound #", i, " must have one element, got ",
                       b.type().toString());
  }
  ctx.setOutput(0, x.type().withDims(x.dims()));
  return Status::ok();
}

// PRelu(x, slope): slope broadcasts unidirectionally to x.
Status types_PRelu(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &s = ctx.in(1);
  if (x.elem() != s.elem())
    return ctx.error("operand types differ: ", x.type().toString(), " vs ",
                     s.type().toString());
  Dims od;
  if (!broadcastShapes(x.dims(), s.dims(), od) || od != x.dims())
    return ctx.error("slope ", s.type().toString(),
                     " does not broadcast to the input ", x.type().toString());
  ctx.setOutput(0, Type(x.elem(), x.dims()));
  return Status::ok();
}

// CastLike(x, target): Cast to target's element type (target's data unused).
Status types_CastLike(TypeContext &ctx) {
  ctx.setOutput(0, Type(ctx.in(1).elem(), ctx.in(0).dims()));
  return Status::ok();
}

// SwiGLU(A, B): A and B have one type and shape.
Status types_SwiGLU(TypeContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  if (a.type() != b.type())
    return ctx.error("A ", a.type().toString(), " and B ", b.type().toString(),
                     " must have the same type and shape");
  ctx.setOutput(0, a.type().withDims(a.dims()));
  return Status::ok();
}

} // namespace ember

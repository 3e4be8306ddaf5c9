// Type rules of the elementwise unary, binary, comparison, logical and
// selection ops (kernels: interp/kernels/Elementwise.cpp).
#include "ir/typerules/Parse.h"

namespace ember {

Expected<Dims> broadcastOperands(const TypeContext &ctx, const Tensor &a,
                                 const Tensor &b) {
  Dims od;
  if (!broadcastShapes(a.dims(), b.dims(), od))
    return ctx.error("shapes ", a.type().toString(), " and ",
                     b.type().toString(), " do not broadcast");
  return od;
}

Status unaryRule(TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  ctx.setOutput(0, Type(x.elem(), x.dims()));
  return Status::ok();
}

Status broadcastBinaryRule(TypeContext &ctx, ElemKind outKind) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  if (a.elem() != b.elem())
    return ctx.error("operand types differ: ", a.type().toString(), " vs ",
                     b.type().toString());
  EMBER_ASSIGN(Dims od, broadcastOperands(ctx, a, b));
  ctx.setOutput(0, Type(outKind, od));
  return Status::ok();
}

#define UNARY(Name)                                                            \
  Status types_##Name(TypeContext &ctx) { return unaryRule(ctx); }
UNARY(Exp)
UNARY(Log)
UNARY(Sqrt)
UNARY(Reciprocal)
UNARY(Sigmoid)
UNARY(Tanh)
UNARY(Erf)
UNARY(Floor)
UNARY(Ceil)
UNARY(Round)
UNARY(Sin)
UNARY(Cos)
UNARY(Tan)
UNARY(Asin)
UNARY(Acos)
UNARY(Atan)
UNARY(Sinh)
UNARY(Cosh)
UNARY(Asinh)
UNARY(Acosh)
UNARY(Atanh)
UNARY(Abs)
UNARY(Neg)
UNARY(Sign)
UNARY(Relu)
UNARY(Not)
UNARY(BitwiseNot)
#undef UNARY

Status types_Identity(TypeContext &ctx) {
  ctx.setOutput(0, ctx.in(0).type());
  return Status::ok();
}

// Predicates on floats (T_Float in Ops.def) producing bool.
static Status floatPredicateRule(TypeContext &ctx) {
  ctx.setOutput(0, Type(ElemKind::Bool, ctx.in(0).dims()));
  return Status::ok();
}
Status types_IsNaN(TypeContext &ctx) { return floatPredicateRule(ctx); }
Status types_IsInf(TypeContext &ctx) { return floatPredicateRule(ctx); }

Expected<CastParams> castParams(const TypeContext &ctx) {
  CastParams p;
  int64_t onnxTo = ctx.attrInt("to", -1);
  if (!elemKindFromOnnx(int(onnxTo), p.to))
    return ctx.unsupportedError("cast to ONNX data type ", onnxTo,
                                " is not supported");
  std::string rm = ctx.attrString("round_mode", "up");
  p.roundMode = rm == "nearest" ? 1 : rm == "down" ? 2 : 0;
  if (rm != "up" && rm != "nearest" && rm != "down")
    return ctx.error("round_mode must be up, nearest or down, got '", rm, "'");
  p.saturate = ctx.attrInt("saturate", 1) != 0;
  return p;
}

Status types_Cast(TypeContext &ctx) {
  EMBER_ASSIGN(CastParams p, castParams(ctx));
  ctx.setOutput(0, Type(p.to, ctx.in(0).dims()));
  return Status::ok();
}

// ---- binary arithmetic ----------------------------------------------------

#define SAME_KIND_BINARY(Name)                                                 \
  Status types_##Name(TypeContext &ctx) {                                      \
    return broadcastBinaryRule(ctx, ctx.in(0).elem());                         \
  }
SAME_KIND_BINARY(Add)
SAME_KIND_BINARY(Sub)
SAME_KIND_BINARY(Mul)
SAME_KIND_BINARY(Div)
SAME_KIND_BINARY(Mod)
SAME_KIND_BINARY(BitwiseAnd)
SAME_KIND_BINARY(BitwiseOr)
SAME_KIND_BINARY(BitwiseXor)
#undef SAME_KIND_BINARY

Status types_Pow(TypeContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  EMBER_ASSIGN(Dims od, broadcastOperands(ctx, a, b));
  ctx.setOutput(0, Type(a.elem(), od));
  return Status::ok();
}

// Variadic Max/Min with multidirectional broadcasting.
static Status variadicMinMaxRule(TypeContext &ctx) {
  Dims od = ctx.in(0).dims();
  ElemKind k = ctx.in(0).elem();
  for (size_t i = 1; i < ctx.numInputs(); ++i) {
    if (ctx.in(i).elem() != k)
      return ctx.error("operand types differ");
    Dims t;
    if (!broadcastShapes(od, ctx.in(i).dims(), t))
      return ctx.error("operand shapes do not broadcast");
    od = t;
  }
  ctx.setOutput(0, Type(k, od));
  return Status::ok();
}
Status types_Max(TypeContext &ctx) { return variadicMinMaxRule(ctx); }
Status types_Min(TypeContext &ctx) { return variadicMinMaxRule(ctx); }

// ---- comparisons and logic -------------------------------------------------

#define BOOL_BINARY(Name)                                                      \
  Status types_##Name(TypeContext &ctx) {                                      \
    return broadcastBinaryRule(ctx, ElemKind::Bool);                           \
  }
BOOL_BINARY(Equal)
BOOL_BINARY(Less)
BOOL_BINARY(Greater)
BOOL_BINARY(LessOrEqual)
BOOL_BINARY(GreaterOrEqual)
BOOL_BINARY(And)
BOOL_BINARY(Or)
BOOL_BINARY(Xor)
#undef BOOL_BINARY

Expected<bool> bitShiftLeft(const TypeContext &ctx) {
  std::string dir = ctx.attrString("direction");
  if (dir != "LEFT" && dir != "RIGHT")
    return ctx.error("direction must be LEFT or RIGHT, got '", dir, "'");
  return dir == "LEFT";
}

Status types_BitShift(TypeContext &ctx) {
  EMBER_ASSIGN(bool left, bitShiftLeft(ctx));
  (void)left;
  return broadcastBinaryRule(ctx, ctx.in(0).elem());
}

Status types_Where(TypeContext &ctx) {
  const Tensor &c = ctx.in(0), &a = ctx.in(1), &b = ctx.in(2);
  if (a.elem() != b.elem())
    return ctx.error("value operand types differ");
  Dims t, od;
  if (!broadcastShapes(c.dims(), a.dims(), t) ||
      !broadcastShapes(t, b.dims(), od))
    return ctx.error("operand shapes do not broadcast");
  ctx.setOutput(0, Type(a.elem(), od));
  return Status::ok();
}

} // namespace ember

// Type rules of the ops whose reference kernels are in
// interp/kernels/QuantLinear.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

namespace {

bool is8Bit(ElemKind k) { return k == ElemKind::U8 || k == ElemKind::I8; }

// The accumulator of an integer matmul/conv: int32, or int64 for a 16x8
// layer (int16 activations, docs/quantization.md).
ElemKind accumulatorOf(ElemKind x) {
  return x == ElemKind::I16 ? ElemKind::I64 : ElemKind::I32;
}

// Operand kinds: 8-bit x 8-bit, or int16 x int8 (16x8).
bool integerOperands(ElemKind x, ElemKind w) {
  return is8Bit(w) && (is8Bit(x) || (x == ElemKind::I16 && w == ElemKind::I8));
}

// Zero points / scales along one dim: a single value or one per index.
Status checkVecParam(const TypeContext &ctx, size_t i, int64_t n,
                     const char *what, bool wantFloat,
                     ElemKind intKind = ElemKind::U8) {
  if (!ctx.has(i))
    return Status::ok();
  const Tensor &t = ctx.in(i);
  if (t.rank() > 1 || (t.size() != 1 && t.size() != n))
    return ctx.error(what, " ", t.type().toString(), " must be a scalar or [",
                     n, "]");
  if (wantFloat ? !isComputeFloatKind(t.elem()) : t.elem() != intKind)
    return ctx.error(what, " has type ", elemKindName(t.elem()),
                     wantFloat ? ", expected floating point"
                               : ", expected the quantized input type");
  return Status::ok();
}

} // namespace

Status types_MatMulInteger(TypeContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  if (!integerOperands(a.elem(), b.elem()))
    return ctx.unsupportedError("operand types ", elemKindName(a.elem()),
                                " and ", elemKindName(b.elem()));
  EMBER_ASSIGN(MatMulShape s, matmulShape(ctx, a.dims(), b.dims()));
  EMBER_TRY(checkVecParam(ctx, 2, s.M, "a_zero_point", false, a.elem()));
  EMBER_TRY(checkVecParam(ctx, 3, s.N, "b_zero_point", false, b.elem()));
  ctx.setOutput(0, Type(accumulatorOf(a.elem()), s.out));
  return Status::ok();
}

Status types_QLinearMatMul(TypeContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(3);
  if (!is8Bit(a.elem()) || !is8Bit(b.elem()))
    return ctx.unsupportedError("operand types ", elemKindName(a.elem()),
                                " and ", elemKindName(b.elem()));
  EMBER_ASSIGN(MatMulShape s, matmulShape(ctx, a.dims(), b.dims()));
  ElemKind yk = ctx.in(7).elem();
  if (!is8Bit(yk))
    return ctx.unsupportedError("output type ", elemKindName(yk));
  EMBER_TRY(checkVecParam(ctx, 1, s.M, "a_scale", true));
  EMBER_TRY(checkVecParam(ctx, 2, s.M, "a_zero_point", false, a.elem()));
  EMBER_TRY(checkVecParam(ctx, 4, s.N, "b_scale", true));
  EMBER_TRY(checkVecParam(ctx, 5, s.N, "b_zero_point", false, b.elem()));
  EMBER_TRY(checkVecParam(ctx, 6, 1, "y_scale", true));
  EMBER_TRY(checkVecParam(ctx, 7, 1, "y_zero_point", false, yk));
  ctx.setOutput(0, Type(yk, s.out));
  return Status::ok();
}

Status types_ConvInteger(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  if (!integerOperands(x.elem(), w.elem()))
    return ctx.unsupportedError("operand types ", elemKindName(x.elem()),
                                " and ", elemKindName(w.elem()));
  EMBER_ASSIGN(ConvProblem p, convProblem(ctx, x.dims(), w.dims()));
  EMBER_TRY(checkVecParam(ctx, 2, 1, "x_zero_point", false, x.elem()));
  EMBER_TRY(checkVecParam(ctx, 3, p.outC, "w_zero_point", false, w.elem()));
  ctx.setOutput(0, Type(accumulatorOf(x.elem()), convOutDims(p)));
  return Status::ok();
}

Status types_QLinearConv(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(3);
  if (!is8Bit(x.elem()) || !is8Bit(w.elem()))
    return ctx.unsupportedError("operand types ", elemKindName(x.elem()),
                                " and ", elemKindName(w.elem()));
  EMBER_ASSIGN(ConvProblem p, convProblem(ctx, x.dims(), w.dims()));
  ElemKind yk = ctx.in(7).elem();
  if (!is8Bit(yk))
    return ctx.unsupportedError("output type ", elemKindName(yk));
  EMBER_TRY(checkVecParam(ctx, 1, 1, "x_scale", true));
  EMBER_TRY(checkVecParam(ctx, 2, 1, "x_zero_point", false, x.elem()));
  EMBER_TRY(checkVecParam(ctx, 4, p.outC, "w_scale", true));
  EMBER_TRY(checkVecParam(ctx, 5, p.outC, "w_zero_point", false, w.elem()));
  EMBER_TRY(checkVecParam(ctx, 6, 1, "y_scale", true));
  EMBER_TRY(checkVecParam(ctx, 7, 1, "y_zero_point", false, yk));
  if (ctx.has(8) &&
      (ctx.in(8).elem() != ElemKind::I32 || ctx.in(8).dims() != Dims{p.outC}))
    return ctx.error("B ", ctx.in(8).type().toString(), " must be i32[", p.outC,
                     "]");
  ctx.setOutput(0, Type(yk, convOutDims(p)));
  return Status::ok();
}
} // namespace ember

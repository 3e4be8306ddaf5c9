// Type rules of the ops whose reference kernels are in
// interp/kernels/NnMatMul.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

static bool matmulKind(ElemKind k) {
  return isComputeFloatKind(k) || k == ElemKind::I32 || k == ElemKind::I64 ||
         k == ElemKind::U32 || k == ElemKind::U64;
}

Status types_MatMul(TypeContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  if (a.elem() != b.elem())
    return ctx.error("operand types differ: ", a.type().toString(), " vs ",
                     b.type().toString());
  if (!matmulKind(a.elem()))
    return ctx.unsupportedError("element type ", elemKindName(a.elem()));
  EMBER_ASSIGN(MatMulShape s, matmulShape(ctx, a.dims(), b.dims()));
  ctx.setOutput(0, Type(a.elem(), s.out));
  return Status::ok();
}

Expected<GemmShape> gemmShape(const TypeContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  if (a.elem() != b.elem() || (ctx.has(2) && ctx.in(2).elem() != a.elem()))
    return ctx.error("operand types differ");
  if (!matmulKind(a.elem()))
    return ctx.unsupportedError("element type ", elemKindName(a.elem()));
  if (a.rank() != 2 || b.rank() != 2)
    return ctx.error("A and B must be 2-D, got ", a.type().toString(), " and ",
                     b.type().toString());
  GemmShape g;
  bool tA = g.transA = ctx.attrInt("transA", 0) != 0;
  bool tB = g.transB = ctx.attrInt("transB", 0) != 0;
  g.alpha = ctx.attrFloat("alpha", 1.0);
  g.beta = ctx.attrFloat("beta", 1.0);
  int64_t M = g.M = tA ? a.dims()[1] : a.dims()[0];
  int64_t K = g.K = tA ? a.dims()[0] : a.dims()[1];
  int64_t Kb = tB ? b.dims()[1] : b.dims()[0];
  int64_t N = g.N = tB ? b.dims()[0] : b.dims()[1];
  if (K != Kb)
    return ctx.error("inner dimensions differ: A ", a.type().toString(),
                     " transA=", tA, ", B ", b.type().toString(),
                     " transB=", tB);
  Dims od{M, N}, bc;
  if (ctx.has(2) && (!broadcastShapes(ctx.in(2).dims(), od, bc) || bc != od))
    return ctx.error("C ", ctx.in(2).type().toString(),
                     " does not broadcast to [", M, ",", N, "]");
  return g;
}

Status types_Gemm(TypeContext &ctx) {
  EMBER_ASSIGN(GemmShape g, gemmShape(ctx));
  ctx.setOutput(0, Type(ctx.in(0).elem(), {g.M, g.N}));
  return Status::ok();
}

Status types_Det(TypeContext &ctx) {
  EMBER_TRY(requireFloat(ctx, 0, "X"));
  const Tensor &x = ctx.in(0);
  size_t r = x.rank();
  if (r < 2 || x.dim(r - 1) != x.dim(r - 2))
    return ctx.error("X must be [..., M, M], got ", x.type().toString());
  Dims yd(x.dims().begin(), x.dims().end() - 2);
  ctx.setOutput(0, Type(x.elem(), yd));
  return Status::ok();
}
} // namespace ember

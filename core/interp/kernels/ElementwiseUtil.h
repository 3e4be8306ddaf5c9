// Building blocks for elementwise kernels: unary maps and broadcasting
// binary maps over every storage type.
#pragma once

#include "interp/Kernel.h"

namespace ember {

// Applies f to each element of operand 0; result has the same type.
// f is called as f(ComputeT<T> x) and returns a value convertible to T.
// Operand 0's kind is in the op's Types class (Ops.def, checked before any
// kernel runs).
template <typename F> Status mapUnary(KernelContext &ctx, F f) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.setOutput(0, Type(x.elem(), x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeT<T>;
    const T *src = x.data<T>();
    T *dst = y.data<T>();
    for (int64_t i = 0, n = x.size(); i < n; ++i)
      dst[i] = T(f(C(src[i])));
  });
  return Status::ok();
}

// Broadcasting binary map: out[i] = f(a[i'], b[i'']) with out element kind
// `outKind` (ResT is its storage type). A and B share element kind.
template <typename F>
Status mapBinary(KernelContext &ctx, ElemKind outKind, F f) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  if (a.elem() != b.elem())
    return ctx.error("operand types differ: ", a.type().toString(), " vs ",
                     b.type().toString());
  Dims od;
  if (!broadcastShapes(a.dims(), b.dims(), od))
    return ctx.error("shapes ", a.type().toString(), " and ",
                     b.type().toString(), " do not broadcast");
  Tensor &y = ctx.setOutput(0, Type(outKind, od));
  if (ctx.inferOnly())
    return Status::ok();
  BroadcastIndexer ia(od, a.dims()), ib(od, b.dims());
  Status st;
  dispatchElem(a.elem(), [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeT<T>;
    dispatchElem(outKind, [&](auto rtag) {
      using R = decltype(rtag);
      const T *pa = a.data<T>();
      const T *pb = b.data<T>();
      R *py = y.data<R>();
      for (int64_t i = 0, n = y.size(); i < n; ++i)
        py[i] = R(f(C(pa[ia.map(i)]), C(pb[ib.map(i)])));
    });
  });
  return st;
}

} // namespace ember

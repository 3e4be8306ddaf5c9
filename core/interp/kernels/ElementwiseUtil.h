// Building blocks for elementwise kernels: unary maps and broadcasting
// binary maps over every storage type.
#pragma once

#include "interp/Kernel.h"
#include "ir/typerules/Parse.h"

#include "ember/math/Erf.h"
#include "ember/math/Exp.h"
#include "ember/math/Tanh.h"

#include <cmath>
#include <type_traits>

namespace ember {

/// erf, exp and tanh as Ember defines them: f32 (and the 16-bit floats,
/// computed in f32) with ember/math's functions, the sequences the CPU backend
/// vectorizes, so both agree bit for bit; f64 with the C library's.
template <typename C> C erfOf(C x) {
  if constexpr (std::is_same_v<C, float>)
    return math::erfF32(x);
  else
    return C(std::erf(x));
}
template <typename C> C expOf(C x) {
  if constexpr (std::is_same_v<C, float>)
    return math::expF32(x);
  else
    return C(std::exp(x));
}
template <typename C> C tanhOf(C x) {
  if constexpr (std::is_same_v<C, float>)
    return math::tanhF32(x);
  else
    return C(std::tanh(x));
}

// Applies f to each element of operand 0 into result 0 (same kind and
// shape).
// f is called as f(ComputeT<T> x) and returns a value convertible to T.
// Operand 0's kind is in the op's Types class (Ops.def, checked before any
// kernel runs).
template <typename F> Status mapUnary(KernelContext &ctx, F f) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
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

// Broadcasting binary map: out[i] = f(a[i'], b[i'']) into result 0, whose
// type broadcastBinaryRule (ir/typerules/Parse.h) derived. A and B share
// element kind. The result's kind is A's for an f that returns a number and
// bool for an f that returns bool (comparisons, logic): one loop per kind of
// A, not one per pair of kinds; any other result kind is an error.
template <typename F> Status mapBinary(KernelContext &ctx, F f) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  Tensor &y = ctx.out(0);
  const Dims &od = y.dims();
  BroadcastIndexer ia(od, a.dims()), ib(od, b.dims());
  return dispatchElem(a.elem(), [&](auto tag) -> Status {
    using T = decltype(tag);
    using C = ComputeT<T>;
    using Res = decltype(f(C{}, C{}));
    using R = std::conditional_t<std::is_same_v<Res, bool>, bool, T>;
    if (y.elem() != ElemKindOf<R>::value)
      return invalid("binary kernel: a result of ", elemKindName(y.elem()),
                     " for operands of ", elemKindName(a.elem()));
    const T *pa = a.data<T>();
    const T *pb = b.data<T>();
    R *py = y.data<R>();
    for (int64_t i = 0, n = y.size(); i < n; ++i)
      py[i] = R(f(C(pa[ia.map(i)]), C(pb[ib.map(i)])));
    return Status::ok();
  });
}

} // namespace ember

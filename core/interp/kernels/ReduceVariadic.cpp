// Sum and Mean: elementwise reductions across a variable number of operands
// with multidirectional (numpy) broadcasting.
#include "interp/kernels/ElementwiseUtil.h"

namespace ember {

namespace {

template <bool IsMean> Status sumOperands(KernelContext &ctx) {
  Tensor &y = ctx.out(0);
  const Dims &od = y.dims();
  dispatchElem(y.elem(), [&](auto tag) {
    using T = decltype(tag);
    using A = std::conditional_t<
        isFloatLike<T>, double,
        std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;
    std::vector<A> acc(size_t(y.size()), A(0));
    for (size_t j = 0; j < ctx.numInputs(); ++j) {
      const Tensor &t = ctx.in(j);
      BroadcastIndexer ix(od, t.dims());
      const T *p = t.data<T>();
      for (int64_t i = 0; i < y.size(); ++i) {
        A v = A(p[ix.map(i)]);
        if constexpr (std::is_integral_v<A>)
          acc[size_t(i)] = A(uint64_t(acc[size_t(i)]) + uint64_t(v));
        else
          acc[size_t(i)] += v;
      }
    }
    A n = A(ctx.numInputs());
    T *py = y.data<T>();
    for (int64_t i = 0; i < y.size(); ++i) {
      A a = acc[size_t(i)];
      if (IsMean)
        a = a / n;
      if constexpr (std::is_same_v<T, bool>)
        py[i] = a != 0;
      else
        py[i] = T(a);
    }
  });
  return Status::ok();
}

} // namespace

Status kernel_Sum(KernelContext &ctx) { return sumOperands<false>(ctx); }
Status kernel_Mean(KernelContext &ctx) { return sumOperands<true>(ctx); }

} // namespace ember

// ReduceX(data, axes?) kernels. Floats accumulate in double, integers in
// 64 bits wrapping to the element type like numpy. Reducing zero elements
// gives the identity: 0 for sums, 1 for products, -inf / the lowest integer
// for max, +inf / the highest for min, -inf for the log reductions and NaN
// (0 for integers) for the mean.
#include "interp/kernels/ElementwiseUtil.h"
#include "interp/kernels/ReduceUtil.h"

#include <cmath>
#include <limits>

namespace ember {

namespace {

enum class Red {
  Sum,
  SumSquare,
  L1,
  L2,
  LogSum,
  LogSumExp,
  Mean,
  Prod,
  Max,
  Min
};

template <typename T> struct AccType {
  using type = std::conditional_t<
      isFloatLike<T>, double,
      std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;
};
template <typename T> using AccT = typename AccType<T>::type;

template <typename A> A wrapMul(A a, A b) {
  if constexpr (std::is_integral_v<A>)
    return A(uint64_t(a) * uint64_t(b));
  else
    return a * b;
}
template <typename A> A wrapAdd(A a, A b) {
  if constexpr (std::is_integral_v<A>)
    return A(uint64_t(a) + uint64_t(b));
  else
    return a + b;
}

template <typename T> AccT<T> initial(Red r) {
  using A = AccT<T>;
  constexpr bool fl = isFloatLike<T>;
  switch (r) {
  case Red::Prod:
    return A(1);
  case Red::Max:
    if constexpr (fl)
      return -std::numeric_limits<double>::infinity();
    else
      return A(std::numeric_limits<T>::lowest());
  case Red::Min:
    if constexpr (fl)
      return std::numeric_limits<double>::infinity();
    else
      return A(std::numeric_limits<T>::max());
  case Red::Sum:
  case Red::SumSquare:
  case Red::L1:
  case Red::L2:
  case Red::LogSum:
  case Red::LogSumExp:
  case Red::Mean:
    break;
  }
  return A(0);
}

template <typename T>
void reduceTyped(Red r, const Tensor &x, const ReducePlan &p, Tensor &y) {
  using A = AccT<T>;
  constexpr bool fl = isFloatLike<T>;
  const T *src = x.data<T>();
  int64_t outN = y.size();
  std::vector<A> acc(size_t(outN), initial<T>(r));
  auto fold = [&](Red how, auto pre) {
    forEachReduced(x.dims(), p, [&](int64_t i, int64_t o) {
      A v = pre(A(src[i]), o);
      A &a = acc[size_t(o)];
      switch (how) {
      case Red::Max:
        // Floats: NaN sticks (nothing compares greater than it) and +0 is
        // above -0, IEEE 754's maximum: the result does not depend on the
        // order the elements come in (backends may reduce in any).
        if constexpr (fl) {
          if (std::isnan(v) || v > a ||
              (v == a && std::signbit(a) && !std::signbit(v)))
            a = v;
        } else if (v > a) {
          a = v;
        }
        break;
      case Red::Min:
        if constexpr (fl) {
          if (std::isnan(v) || v < a ||
              (v == a && !std::signbit(a) && std::signbit(v)))
            a = v;
        } else if (v < a) {
          a = v;
        }
        break;
      case Red::Prod:
        a = wrapMul(a, v);
        break;
      case Red::Sum:
      case Red::SumSquare:
      case Red::L1:
      case Red::L2:
      case Red::LogSum:
      case Red::LogSumExp:
      case Red::Mean:
        a = wrapAdd(a, v);
        break;
      }
    });
  };
  auto same = [](A v, int64_t) { return v; };
  std::vector<A> shift; // LogSumExp: per-result max (0 when infinite)
  switch (r) {
  case Red::Sum:
  case Red::Mean:
  case Red::Prod:
  case Red::Max:
  case Red::Min:
  case Red::LogSum:
    fold(r, same);
    break;
  case Red::SumSquare:
  case Red::L2:
    fold(r, [](A v, int64_t) { return wrapMul(v, v); });
    break;
  case Red::L1:
    fold(r, [](A v, int64_t) {
      if constexpr (std::is_signed_v<A>)
        return v < A(0) ? A(A(0) - v) : v;
      else
        return v;
    });
    break;
  case Red::LogSumExp:
    if constexpr (fl) {
      fold(Red::Max, same);
      shift = acc;
      for (A &s : shift)
        if (std::isinf(s))
          s = 0;
      std::fill(acc.begin(), acc.end(), A(0));
      fold(Red::Sum,
           [&](A v, int64_t o) { return std::exp(v - shift[size_t(o)]); });
    }
    break;
  }
  T *dst = y.data<T>();
  for (int64_t o = 0; o < outN; ++o) {
    A a = acc[size_t(o)];
    switch (r) {
    case Red::L2:
      if constexpr (fl)
        a = std::sqrt(a);
      else
        a = A(std::sqrt(double(a)));
      break;
    case Red::LogSum:
      if constexpr (fl)
        a = std::log(a);
      break;
    case Red::LogSumExp:
      if constexpr (fl)
        a = std::log(a) + shift[size_t(o)];
      break;
    case Red::Mean:
      if constexpr (fl)
        a = a / double(p.count);
      else
        a = p.count == 0 ? A(0) : A(a / A(p.count));
      break;
    case Red::Sum:
    case Red::SumSquare:
    case Red::L1:
    case Red::Prod:
    case Red::Max:
    case Red::Min:
      break;
    }
    if constexpr (std::is_same_v<T, bool>)
      dst[o] = a != 0;
    else
      dst[o] = T(a);
  }
}

// Operand 0's kind is in the op's Types class (Ops.def).
Status reduceKernel(KernelContext &ctx, Red r) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(ReducePlan p, planReduce(ctx));
  Tensor &y = ctx.out(0);
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    reduceTyped<T>(r, x, p, y);
  });
  return Status::ok();
}

} // namespace

Status kernel_ReduceSum(KernelContext &ctx) {
  return reduceKernel(ctx, Red::Sum);
}
Status kernel_ReduceSumSquare(KernelContext &ctx) {
  return reduceKernel(ctx, Red::SumSquare);
}
Status kernel_ReduceL1(KernelContext &ctx) {
  return reduceKernel(ctx, Red::L1);
}
Status kernel_ReduceL2(KernelContext &ctx) {
  return reduceKernel(ctx, Red::L2);
}
Status kernel_ReduceLogSum(KernelContext &ctx) {
  return reduceKernel(ctx, Red::LogSum);
}
Status kernel_ReduceLogSumExp(KernelContext &ctx) {
  return reduceKernel(ctx, Red::LogSumExp);
}
Status kernel_ReduceMean(KernelContext &ctx) {
  return reduceKernel(ctx, Red::Mean);
}
Status kernel_ReduceProd(KernelContext &ctx) {
  return reduceKernel(ctx, Red::Prod);
}
Status kernel_ReduceMax(KernelContext &ctx) {
  return reduceKernel(ctx, Red::Max);
}
Status kernel_ReduceMin(KernelContext &ctx) {
  return reduceKernel(ctx, Red::Min);
}

} // namespace ember

// Ops that work along one axis: ArgMax, ArgMin, CumSum, CumProd, TopK,
// Softmax, LogSoftmax and Hardmax. A tensor is viewed as [outer, n, inner]
// around the axis.
#include "interp/kernels/ElementwiseUtil.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace ember {

namespace {

struct AxisView {
  int64_t outer = 1, n = 1, inner = 1;
  AxisView(const Dims &d, size_t axis) {
    for (size_t i = 0; i < d.size(); ++i) {
      if (i < axis)
        outer *= d[i];
      else if (i == axis)
        n = d[i];
      else
        inner *= d[i];
    }
  }
  int64_t at(int64_t o, int64_t j, int64_t i) const {
    return (o * n + j) * inner + i;
  }
};

// A total order on numbers in which NaN is greater than everything (numpy's
// sort order); NaNs are equal to each other.
template <typename C> bool nanLast(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(b))
      return !std::isnan(a);
    if (std::isnan(a))
      return false;
  }
  return a < b;
}

template <typename C> bool isNaN(C v) {
  if constexpr (std::is_floating_point_v<C>)
    return std::isnan(v);
  else
    return false;
}

template <bool IsMax> Status argExtreme(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", 0), x.rank()));
  bool last = ctx.attrInt("select_last_index", 0) != 0;
  AxisView v(x.dims(), size_t(axis));
  Tensor &y = ctx.out(0);
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeT<T>;
    const T *src = x.data<T>();
    int64_t *dst = y.data<int64_t>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t i = 0; i < v.inner; ++i) {
        int64_t best = 0;
        C bv = C(src[v.at(o, 0, i)]);
        for (int64_t j = 1; j < v.n; ++j) {
          C c = C(src[v.at(o, j, i)]);
          // NaN wins (numpy); among equals the first, or the last when asked.
          bool better, equal;
          if (isNaN(bv)) {
            better = false;
            equal = isNaN(c);
          } else if (isNaN(c)) {
            better = true;
            equal = false;
          } else {
            better = IsMax ? c > bv : c < bv;
            equal = c == bv;
          }
          if (better || (last && equal)) {
            best = j;
            bv = c;
          }
        }
        dst[o * v.inner + i] = best;
      }
  });
  return Status::ok();
}

template <bool Log> Status softmaxKernel(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  Tensor &y = ctx.out(0);
  AxisView v(x.dims(), size_t(axis));
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      const T *src = x.data<T>();
      T *dst = y.data<T>();
      for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t i = 0; i < v.inner; ++i) {
          double m = -std::numeric_limits<double>::infinity();
          for (int64_t j = 0; j < v.n; ++j) {
            double c = double(src[v.at(o, j, i)]);
            if (std::isnan(c) || c > m)
              m = std::isnan(m) ? m : c;
          }
          double s = 0;
          for (int64_t j = 0; j < v.n; ++j)
            s += std::exp(double(src[v.at(o, j, i)]) - m);
          for (int64_t j = 0; j < v.n; ++j) {
            double d = double(src[v.at(o, j, i)]) - m;
            double r = Log ? d - std::log(s) : std::exp(d) / s;
            dst[v.at(o, j, i)] = T(r);
          }
        }
    }
  });
  return Status::ok();
}

} // namespace

Status kernel_ArgMax(KernelContext &ctx) { return argExtreme<true>(ctx); }
Status kernel_ArgMin(KernelContext &ctx) { return argExtreme<false>(ctx); }
Status kernel_Softmax(KernelContext &ctx) { return softmaxKernel<false>(ctx); }
Status kernel_LogSoftmax(KernelContext &ctx) {
  return softmaxKernel<true>(ctx);
}

// CumSum(x, axis): axis is a one-element integer tensor; attrs exclusive and
// reverse. The result has x's type, so the axis value is only needed to run.
Status kernel_CumSum(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  EMBER_ASSIGN(std::vector<int64_t> axisV, ctx.ints(1));
  EMBER_ASSIGN(int64_t axis, normalizeAxis(ctx, axisV[0], x.rank()));
  bool exclusive = ctx.attrInt("exclusive", 0) != 0;
  bool reverse = ctx.attrInt("reverse", 0) != 0;
  AxisView v(x.dims(), size_t(axis));
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    using A = std::conditional_t<
        isFloatLike<T>, double,
        std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;
    const T *src = x.data<T>();
    T *dst = y.data<T>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t i = 0; i < v.inner; ++i) {
        A acc = A(0);
        for (int64_t k = 0; k < v.n; ++k) {
          int64_t j = reverse ? v.n - 1 - k : k;
          A c = A(src[v.at(o, j, i)]);
          auto add = [](A a, A b) {
            if constexpr (std::is_integral_v<A>)
              return A(uint64_t(a) + uint64_t(b)); // wraps like numpy
            else
              return a + b;
          };
          if (!exclusive)
            acc = add(acc, c);
          if constexpr (std::is_same_v<T, bool>)
            dst[v.at(o, j, i)] = acc != 0;
          else
            dst[v.at(o, j, i)] = T(acc);
          if (exclusive)
            acc = add(acc, c);
        }
      }
  });
  return Status::ok();
}

// TopK(X, K): the K largest (or smallest) along axis, sorted, ties broken
// by the lower index (stable). NaN counts as the largest value.
Status kernel_TopK(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  bool largest = ctx.attrInt("largest", 1) != 0;
  Tensor &vals = ctx.out(0);
  Tensor &idxs = ctx.out(1);
  AxisView v(x.dims(), size_t(axis));
  AxisView w(vals.dims(), size_t(axis));
  int64_t n = x.dims()[size_t(axis)], k = vals.dims()[size_t(axis)];
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeT<T>;
    const T *src = x.data<T>();
    T *pv = vals.data<T>();
    int64_t *pi = idxs.data<int64_t>();
    std::vector<C> row(static_cast<size_t>(n));
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t i = 0; i < v.inner; ++i) {
        for (int64_t j = 0; j < n; ++j)
          row[size_t(j)] = C(src[v.at(o, j, i)]);
        std::iota(order.begin(), order.end(), int64_t(0));
        auto before = [&](int64_t a, int64_t b) {
          C va = row[size_t(a)], vb = row[size_t(b)];
          bool first = largest ? nanLast(vb, va) : nanLast(va, vb);
          bool second = largest ? nanLast(va, vb) : nanLast(vb, va);
          return first || (!second && a < b);
        };
        std::partial_sort(order.begin(), order.begin() + k, order.end(),
                          before);
        for (int64_t j = 0; j < k; ++j) {
          pv[w.at(o, j, i)] = T(row[size_t(order[size_t(j)])]);
          pi[w.at(o, j, i)] = order[size_t(j)];
        }
      }
  });
  return Status::ok();
}

// CumProd(x, axis) attrs exclusive, reverse (like CumSum with products).
Status kernel_CumProd(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  EMBER_ASSIGN(int64_t axisV, scalarIntOperand(ctx, 1, "axis"));
  EMBER_ASSIGN(int64_t axis, normalizeAxis(ctx, axisV, x.rank()));
  bool exclusive = ctx.attrInt("exclusive", 0) != 0;
  bool reverse = ctx.attrInt("reverse", 0) != 0;
  AxisView v(x.dims(), size_t(axis));
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    // Integers multiply in 64-bit unsigned arithmetic (wraps like numpy).
    using A = std::conditional_t<isFloatLike<T>, double, uint64_t>;
    const T *src = x.data<T>();
    T *dst = y.data<T>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t i = 0; i < v.inner; ++i) {
        A acc = A(1);
        for (int64_t s = 0; s < v.n; ++s) {
          int64_t j = reverse ? v.n - 1 - s : s;
          A c;
          if constexpr (isFloatLike<T>)
            c = A(ComputeT<T>(src[v.at(o, j, i)]));
          else
            c = A(int64_t(src[v.at(o, j, i)]));
          if (!exclusive)
            acc = A(acc * c);
          if constexpr (isFloatLike<T>)
            dst[v.at(o, j, i)] = T(ComputeT<T>(acc));
          else
            dst[v.at(o, j, i)] = T(acc);
          if (exclusive)
            acc = A(acc * c);
        }
      }
  });
  return Status::ok();
}

// Hardmax(input) attr axis=-1: 1 at the first maximum along axis (the first
// NaN if any, like numpy argmax), 0 elsewhere.
Status kernel_Hardmax(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  Tensor &y = ctx.out(0);
  AxisView v(x.dims(), size_t(axis));
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeT<T>;
    const T *src = x.data<T>();
    T *dst = y.data<T>();
    for (int64_t o = 0; o < v.outer; ++o)
      for (int64_t i = 0; i < v.inner; ++i) {
        if (v.n == 0)
          continue;
        int64_t best = 0;
        C bv = C(src[v.at(o, 0, i)]);
        for (int64_t j = 1; j < v.n; ++j) {
          C c = C(src[v.at(o, j, i)]);
          bool bvNan = false, cNan = false;
          if constexpr (std::is_floating_point_v<C>) {
            bvNan = std::isnan(bv);
            cNan = std::isnan(c);
          }
          if (bvNan)
            break;
          if (cNan || c > bv) {
            best = j;
            bv = c;
          }
        }
        dst[v.at(o, best, i)] = T(C(1));
      }
  });
  return Status::ok();
}

} // namespace ember

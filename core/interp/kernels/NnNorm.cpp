// Normalization reference kernels: BatchNormalization (inference),
// InstanceNormalization, LayerNormalization, LRN, RMSNormalization,
// LpNormalization, GroupNormalization and MeanVarianceNormalization.
#include "interp/kernels/NnUtil.h"

#include <cmath>

namespace ember {

namespace {
// Statistics type: double for f64 data, float otherwise (stash_type 1).
template <typename T>
using StatT = std::conditional_t<std::is_same_v<T, double>, double, float>;

} // namespace

Status kernel_BatchNormalization(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t c = x.dims()[1];
  double eps = ctx.attrFloat("epsilon", 1e-5);
  Tensor &y = ctx.out(0);
  int64_t inner = x.size() / std::max<int64_t>(1, x.dims()[0] * c);
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = ComputeT<T>;
      std::vector<C> scale = toVector<C>(ctx.in(1)),
                     bias = toVector<C>(ctx.in(2)),
                     mean = toVector<C>(ctx.in(3)),
                     var = toVector<C>(ctx.in(4));
      const T *px = x.data<T>();
      T *py = y.data<T>();
      for (int64_t n = 0; n < x.dims()[0]; ++n)
        for (int64_t ch = 0; ch < c; ++ch) {
          size_t k = size_t(ch);
          C s = C(scale[k] / std::sqrt(var[k] + C(eps)));
          int64_t base = (n * c + ch) * inner;
          for (int64_t i = 0; i < inner; ++i)
            py[base + i] = T(C((C(px[base + i]) - mean[k]) * s + bias[k]));
        }
    }
  });
  return Status::ok();
}

Status kernel_InstanceNormalization(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t c = x.dims()[1];
  double eps = ctx.attrFloat("epsilon", 1e-5);
  Tensor &y = ctx.out(0);
  int64_t inner = x.size() / std::max<int64_t>(1, x.dims()[0] * c);
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = StatT<T>;
      std::vector<C> scale = toVector<C>(ctx.in(1)),
                     bias = toVector<C>(ctx.in(2));
      const T *px = x.data<T>();
      T *py = y.data<T>();
      for (int64_t n = 0; n < x.dims()[0]; ++n)
        for (int64_t ch = 0; ch < c; ++ch) {
          int64_t base = (n * c + ch) * inner;
          C sum = 0, sq = 0;
          for (int64_t i = 0; i < inner; ++i)
            sum += C(px[base + i]);
          C mean = sum / C(inner);
          for (int64_t i = 0; i < inner; ++i) {
            C d = C(px[base + i]) - mean;
            sq += d * d;
          }
          C inv = C(1) / std::sqrt(sq / C(inner) + C(eps));
          for (int64_t i = 0; i < inner; ++i)
            py[base + i] =
                T((C(px[base + i]) - mean) * inv * scale[size_t(ch)] +
                  bias[size_t(ch)]);
        }
    }
  });
  return Status::ok();
}

Status kernel_LayerNormalization(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  double eps = ctx.attrFloat("epsilon", 1e-5);
  Tensor &y = ctx.out(0);
  int64_t rows = 1;
  for (int64_t d = 0; d < axis; ++d)
    rows *= x.dim(size_t(d));
  int64_t cols = x.size() / std::max<int64_t>(rows, 1);
  BroadcastIndexer is(x.dims(), ctx.in(1).dims());
  BroadcastIndexer ib(x.dims(), ctx.has(2) ? ctx.in(2).dims() : x.dims());
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = StatT<T>;
      const T *px = x.data<T>();
      std::vector<C> scale = toVector<C>(ctx.in(1)), bias;
      if (ctx.has(2))
        bias = toVector<C>(ctx.in(2));
      T *py = y.data<T>();
      for (int64_t r = 0; r < rows; ++r) {
        int64_t base = r * cols;
        C sum = 0, sq = 0;
        for (int64_t i = 0; i < cols; ++i)
          sum += C(px[base + i]);
        C mean = sum / C(cols);
        for (int64_t i = 0; i < cols; ++i) {
          C d = C(px[base + i]) - mean;
          sq += d * d;
        }
        C inv = C(1) / std::sqrt(sq / C(cols) + C(eps));
        for (int64_t i = 0; i < cols; ++i) {
          int64_t f = base + i;
          C v = (C(px[f]) - mean) * inv * scale[size_t(is.map(f))];
          if (ctx.has(2))
            v += bias[size_t(ib.map(f))];
          py[f] = T(v);
        }
        if (ctx.numOutputs() > 1)
          ctx.out(1).setDouble(r, double(mean));
        if (ctx.numOutputs() > 2)
          ctx.out(2).setDouble(r, double(inv));
      }
    }
  });
  return Status::ok();
}

Status kernel_LRN(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t size = ctx.attrInt("size", 0);
  double alpha = ctx.attrFloat("alpha", 1e-4),
         beta = ctx.attrFloat("beta", 0.75), bias = ctx.attrFloat("bias", 1.0);
  Tensor &y = ctx.out(0);
  int64_t c = x.dims()[1],
          inner = x.size() / std::max<int64_t>(1, x.dims()[0] * c);
  int64_t before = (size - 1) / 2, after = size - 1 - before;
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = ComputeT<T>;
      const T *px = x.data<T>();
      T *py = y.data<T>();
      for (int64_t n = 0; n < x.dims()[0]; ++n)
        for (int64_t ch = 0; ch < c; ++ch)
          for (int64_t i = 0; i < inner; ++i) {
            C sq = 0;
            for (int64_t j = std::max<int64_t>(0, ch - before);
                 j <= std::min(c - 1, ch + after); ++j) {
              C v = C(px[(n * c + j) * inner + i]);
              sq += v * v;
            }
            int64_t f = (n * c + ch) * inner + i;
            py[f] = T(C(px[f]) /
                      C(std::pow(C(bias) + C(alpha) / C(size) * sq, C(beta))));
          }
    }
  });
  return Status::ok();
}

namespace {

// [outer, n, inner] view around one axis.
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
  AxisSplit(const Dims &d, size_t axis) {
    for (size_t i = 0; i < d.size(); ++i)
      (i < axis ? outer : i == axis ? n : inner) *= d[i];
  }
};
} // namespace

// RMSNormalization(X, scale) attrs axis=-1, epsilon=1e-5, stash_type=1:
// Y = X / sqrt(mean(X^2 over axes [axis, rank)) + epsilon) * scale. The
// result has scale's element type (ONNX type V).
Status kernel_RMSNormalization(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  double eps = ctx.attrFloat("epsilon", 1e-5);
  Tensor &y = ctx.out(0);
  int64_t cols = 1;
  for (size_t d = size_t(axis); d < x.rank(); ++d)
    cols *= x.dim(d);
  int64_t rows = cols ? x.size() / cols : 0;
  BroadcastIndexer iw(x.dims(), w.dims());
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = StatT<T>;
      const T *px = x.data<T>();
      std::vector<C> sc = toVector<C>(w);
      for (int64_t r = 0; r < rows; ++r) {
        int64_t base = r * cols;
        C sq = 0;
        for (int64_t i = 0; i < cols; ++i) {
          C v = C(px[base + i]);
          sq += v * v;
        }
        C inv = C(1) / std::sqrt(sq / C(cols) + C(eps));
        for (int64_t i = 0; i < cols; ++i) {
          int64_t f = base + i;
          y.setDouble(f, double(C(px[f]) * inv * sc[size_t(iw.map(f))]));
        }
      }
    }
  });
  return Status::ok();
}

// LpNormalization(X) attrs axis=-1, p=2 (1 or 2): X / ||X||_p along axis;
// a zero norm gives 0.
Status kernel_LpNormalization(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  int64_t p = ctx.attrInt("p", 2);
  Tensor &y = ctx.out(0);
  AxisSplit v(x.dims(), size_t(axis));
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = ComputeT<T>;
      const T *px = x.data<T>();
      T *py = y.data<T>();
      for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t i = 0; i < v.inner; ++i) {
          C s = 0;
          for (int64_t j = 0; j < v.n; ++j) {
            C e = C(px[(o * v.n + j) * v.inner + i]);
            s += p == 1 ? std::fabs(e) : e * e;
          }
          C norm = p == 1 ? s : std::sqrt(s);
          for (int64_t j = 0; j < v.n; ++j) {
            int64_t f = (o * v.n + j) * v.inner + i;
            py[f] = norm == C(0) ? T(0) : T(C(px[f]) / norm);
          }
        }
    }
  });
  return Status::ok();
}

// GroupNormalization(X, scale, bias) attrs num_groups, epsilon=1e-5,
// stash_type=1 (opset-21 form: scale and bias are per channel, [C]).
Status kernel_GroupNormalization(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  int64_t g = ctx.attrInt("num_groups", 0), c = x.dim(1);
  double eps = ctx.attrFloat("epsilon", 1e-5);
  Tensor &y = ctx.out(0);
  int64_t n = x.dim(0), spatial = n > 0 && c > 0 ? x.size() / (n * c) : 0;
  int64_t cg = c / g, cnt = cg * spatial;
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = StatT<T>;
      const T *px = x.data<T>();
      T *py = y.data<T>();
      std::vector<C> sc = toVector<C>(ctx.in(1)), bi = toVector<C>(ctx.in(2));
      for (int64_t b = 0; b < n; ++b)
        for (int64_t gi = 0; gi < g; ++gi) {
          int64_t base = (b * c + gi * cg) * spatial;
          C sum = 0, sq = 0;
          for (int64_t i = 0; i < cnt; ++i)
            sum += C(px[base + i]);
          C mean = cnt ? sum / C(cnt) : C(0);
          for (int64_t i = 0; i < cnt; ++i) {
            C d = C(px[base + i]) - mean;
            sq += d * d;
          }
          C inv = C(1) / std::sqrt((cnt ? sq / C(cnt) : C(0)) + C(eps));
          for (int64_t i = 0; i < cnt; ++i) {
            size_t ch = size_t(gi * cg + i / std::max<int64_t>(spatial, 1));
            py[base + i] = T((C(px[base + i]) - mean) * inv * sc[ch] + bi[ch]);
          }
        }
    }
  });
  return Status::ok();
}

// MeanVarianceNormalization(X) attr axes=[0,2,3]:
// (X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9) over the axes.
Status kernel_MeanVarianceNormalization(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(std::vector<bool> reduced, mvnReducedAxes(ctx));
  Tensor &y = ctx.out(0);
  // Statistics index of each element: the multi-index with reduced axes
  // dropped.
  Dims statDims = x.dims();
  for (size_t d = 0; d < x.rank(); ++d)
    if (reduced[d])
      statDims[d] = 1;
  BroadcastIndexer is(x.dims(), statDims);
  int64_t ns = numElements(statDims);
  int64_t cnt = ns ? x.size() / ns : 0;
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = ComputeT<T>;
      const T *px = x.data<T>();
      T *py = y.data<T>();
      std::vector<double> s1(size_t(ns), 0), s2(size_t(ns), 0);
      for (int64_t i = 0; i < x.size(); ++i) {
        double v = double(C(px[i]));
        s1[size_t(is.map(i))] += v;
        s2[size_t(is.map(i))] += v * v;
      }
      std::vector<C> mean(size_t(ns), C(0)), den(size_t(ns), C(0));
      for (size_t k = 0; k < size_t(ns); ++k) {
        C m = C(s1[k] / double(cnt)), ex2 = C(s2[k] / double(cnt));
        mean[k] = m;
        den[k] = C(std::sqrt(ex2 - m * m) + C(1e-9));
      }
      for (int64_t i = 0; i < x.size(); ++i) {
        size_t k = size_t(is.map(i));
        py[i] = T((C(px[i]) - mean[k]) / den[k]);
      }
    }
  });
  return Status::ok();
}

} // namespace ember

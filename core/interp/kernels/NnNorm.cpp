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

Status checkPerChannel(KernelContext &ctx, size_t first, size_t last,
                       int64_t c) {
  for (size_t i = first; i <= last; ++i) {
    if (!isComputeFloatKind(ctx.in(i).elem()))
      return ctx.error("operand #", i, " must be floating point, got ",
                       ctx.in(i).type().toString());
    if (ctx.in(i).size() != c || ctx.in(i).rank() != 1)
      return ctx.error("operand #", i, " ", ctx.in(i).type().toString(),
                       " must be [", c, "]");
  }
  return Status::ok();
}
} // namespace

Status kernel_BatchNormalization(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.rank() < 2)
    return ctx.error("X must have rank >= 2, got ", x.type().toString());
  if (ctx.attrInt("training_mode", 0) != 0)
    return ctx.unsupportedError("training_mode=1 is not supported");
  if (ctx.numOutputs() != 1)
    return ctx.unsupportedError("only the inference form (one result)");
  int64_t c = x.dims()[1];
  EMBER_TRY(checkPerChannel(ctx, 1, 4, c));
  double eps = ctx.attrFloat("epsilon", 1e-5);
  Tensor &y = ctx.setOutput(0, x.type().withDims(x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
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
  if (x.rank() < 3)
    return ctx.error("X must have rank >= 3, got ", x.type().toString());
  int64_t c = x.dims()[1];
  EMBER_TRY(checkPerChannel(ctx, 1, 2, c));
  double eps = ctx.attrFloat("epsilon", 1e-5);
  Tensor &y = ctx.setOutput(0, Type(x.elem(), x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
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
  if (ctx.numOutputs() < 1 || ctx.numOutputs() > 3)
    return ctx.error("expects 1 to 3 results, got ", ctx.numOutputs());
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  double eps = ctx.attrFloat("epsilon", 1e-5);
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has(i))
      continue;
    Dims bc;
    if (ctx.in(i).elem() != x.elem() ||
        !broadcastShapes(x.dims(), ctx.in(i).dims(), bc) || bc != x.dims())
      return ctx.error("operand #", i, " ", ctx.in(i).type().toString(),
                       " does not broadcast to X ", x.type().toString());
  }
  // Mean and InvStdDev have the stash type (ONNX type inference).
  ElemKind statKind;
  int64_t stash = ctx.attrInt("stash_type", 1);
  if (!elemKindFromOnnx(int(stash), statKind) || !isComputeFloatKind(statKind))
    return ctx.unsupportedError("stash_type ", stash);
  Dims statDims = x.dims();
  for (size_t d = size_t(axis); d < statDims.size(); ++d)
    statDims[d] = 1;
  Tensor &y = ctx.setOutput(0, Type(x.elem(), x.dims()));
  for (size_t i = 1; i < ctx.numOutputs(); ++i)
    ctx.setOutput(i, Type(statKind, statDims));
  if (ctx.inferOnly())
    return Status::ok();
  int64_t rows = numElements(statDims),
          cols = x.size() / std::max<int64_t>(rows, 1);
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
  if (x.rank() < 3)
    return ctx.error("X must have rank >= 3, got ", x.type().toString());
  int64_t size = ctx.attrInt("size", 0);
  if (size < 1)
    return ctx.error("size must be >= 1, got ", size);
  double alpha = ctx.attrFloat("alpha", 1e-4),
         beta = ctx.attrFloat("beta", 0.75), bias = ctx.attrFloat("bias", 1.0);
  Tensor &y = ctx.setOutput(0, Type(x.elem(), x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
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

Status requireFloat(KernelContext &ctx, const Tensor &t) {
  if (!isFloatKind(t.elem()))
    return ctx.unsupportedError("element type ", elemKindName(t.elem()),
                                " is not supported (floating point only)");
  return Status::ok();
}

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
  EMBER_TRY(requireFloat(ctx, x));
  EMBER_TRY(requireFloat(ctx, w));
  if (x.rank() < 1)
    return ctx.error("X must have rank >= 1, got ", x.type().toString());
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  if (ctx.attrInt("stash_type", 1) != 1)
    return ctx.unsupportedError("stash_type ", ctx.attrInt("stash_type", 1),
                                " (only 1, float statistics)");
  Dims bc;
  if (!broadcastShapes(x.dims(), w.dims(), bc) || bc != x.dims())
    return ctx.error("scale ", w.type().toString(), " does not broadcast to X ",
                     x.type().toString());
  double eps = ctx.attrFloat("epsilon", 1e-5);
  Tensor &y = ctx.setOutput(0, Type(w.elem(), x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
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
  if (x.rank() < 1)
    return ctx.error("X must have rank >= 1");
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  int64_t p = ctx.attrInt("p", 2);
  if (p != 1 && p != 2)
    return ctx.error("p must be 1 or 2, got ", p);
  Tensor &y = ctx.setOutput(0, Type(x.elem(), x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
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
  EMBER_TRY(requireFloat(ctx, x));
  if (x.rank() < 2)
    return ctx.error("X must have rank >= 2, got ", x.type().toString());
  int64_t g = ctx.attrInt("num_groups", 0), c = x.dim(1);
  if (g < 1 || c % g != 0)
    return ctx.error("num_groups ", g, " must be >= 1 and divide the ", c,
                     " channels");
  if (ctx.attrInt("stash_type", 1) != 1)
    return ctx.unsupportedError("stash_type ", ctx.attrInt("stash_type", 1),
                                " (only 1, float statistics)");
  for (size_t i = 1; i < 3; ++i) {
    EMBER_TRY(requireFloat(ctx, ctx.in(i)));
    if (ctx.in(i).rank() != 1 || ctx.in(i).dim(0) != c)
      return ctx.error("operand #", i, " ", ctx.in(i).type().toString(),
                       " must be [", c, "] (opset-21 per-channel form)");
  }
  double eps = ctx.attrFloat("epsilon", 1e-5);
  Tensor &y = ctx.setOutput(0, Type(x.elem(), x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
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
  std::vector<int64_t> axes = ctx.hasAttr("axes")
                                  ? ctx.attrInts("axes")
                                  : std::vector<int64_t>{0, 2, 3};
  std::vector<bool> reduced(x.rank(), false);
  for (int64_t a : axes) {
    EMBER_ASSIGN(int64_t na, normalizeAxis(ctx, a, x.rank()));
    if (reduced[size_t(na)])
      return ctx.error("axis ", a, " repeated in axes");
    reduced[size_t(na)] = true;
  }
  Tensor &y = ctx.setOutput(0, Type(x.elem(), x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
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

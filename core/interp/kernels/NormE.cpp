// Family E normalization reference kernels: RMSNormalization,
// LpNormalization, GroupNormalization, MeanVarianceNormalization and the
// LpPool window norm.
#include "interp/kernels/NnUtil.h"

#include <cmath>

namespace ember {

namespace {
// Statistics type: double for f64 data, float otherwise (stash_type 1).
template <typename T>
using StatE = std::conditional_t<std::is_same_v<T, double>, double, float>;

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
      using C = StatE<T>;
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
  EMBER_TRY(requireFloat(ctx, x));
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
      using C = StatE<T>;
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
  EMBER_TRY(requireFloat(ctx, x));
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

// LpPool(X) attrs p=2, kernel_shape, auto_pad, ceil_mode, dilations, pads,
// strides: (sum over the window of |x|^p)^(1/p); padding contributes 0.
Status kernel_LpPool(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_TRY(requireFloat(ctx, x));
  if (x.rank() < 3 || x.rank() > 10)
    return ctx.error("X must have rank 3 to 10 (N, C, spatial...), got ",
                     x.type().toString());
  if (!ctx.hasAttr("kernel_shape"))
    return ctx.error("kernel_shape is required");
  int64_t p = ctx.attrInt("p", 2);
  if (p < 1)
    return ctx.error("p must be >= 1, got ", p);
  Dims in(x.dims().begin() + 2, x.dims().end());
  EMBER_ASSIGN(WindowGeom g, windowGeom(ctx, in, ctx.attrInts("kernel_shape"),
                                        ctx.attrInt("ceil_mode", 0) != 0));
  Dims od = {x.dim(0), x.dim(1)};
  od.insert(od.end(), g.out.begin(), g.out.end());
  Tensor &y = ctx.setOutput(0, Type(x.elem(), od));
  if (ctx.inferOnly())
    return Status::ok();
  size_t nsp = g.rank();
  int64_t inP = numElements(g.in), outP = g.outSize(), kP = g.kernelSize();
  std::vector<int64_t> inStr = stridesOf(g.in), outStr = stridesOf(g.out),
                       kStr = stridesOf(g.kernel);
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      const T *px = x.data<T>();
      T *py = y.data<T>();
      double pd = double(p);
      for (int64_t nc = 0; nc < x.dim(0) * x.dim(1); ++nc)
        for (int64_t o = 0; o < outP; ++o) {
          double acc = 0;
          for (int64_t k = 0; k < kP; ++k) {
            int64_t off = 0;
            bool inside = true;
            for (size_t d = 0; d < nsp; ++d) {
              int64_t c = ((o / outStr[d]) % g.out[d]) * g.strides[d] -
                          g.padBegin[d] +
                          ((k / kStr[d]) % g.kernel[d]) * g.dilations[d];
              inside = inside && c >= 0 && c < g.in[d];
              off += c * inStr[d];
            }
            if (inside) {
              double v = std::fabs(double(ComputeT<T>(px[nc * inP + off])));
              acc += p == 1 ? v : p == 2 ? v * v : std::pow(v, pd);
            }
          }
          py[nc * outP + o] = T(p == 1   ? acc
                                : p == 2 ? std::sqrt(acc)
                                         : std::pow(acc, 1 / pd));
        }
    }
  });
  return Status::ok();
}

} // namespace ember

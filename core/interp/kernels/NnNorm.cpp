// Normalization reference kernels: BatchNormalization (inference),
// InstanceNormalization, LayerNormalization, LRN.
#include "interp/kernels/NnUtil.h"

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

} // namespace ember

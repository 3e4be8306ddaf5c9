// Family E reference kernels of sequence-model helpers: Trilu, CumProd,
// Hardmax and the gated activations Swish and SwiGLU.
#include "interp/kernels/ElementwiseUtil.h"

#include <cmath>

namespace ember {

namespace {
struct AxisSplitE {
  int64_t outer = 1, n = 1, inner = 1;
  AxisSplitE(const Dims &d, size_t axis) {
    for (size_t i = 0; i < d.size(); ++i)
      (i < axis ? outer : i == axis ? n : inner) *= d[i];
  }
  int64_t at(int64_t o, int64_t j, int64_t i) const {
    return (o * n + j) * inner + i;
  }
};

// A one-element integer operand (rank 0 or [1]), read at run time.
Expected<int64_t> scalarOperand(KernelContext &ctx, size_t i,
                                const char *what) {
  const Tensor &t = ctx.in(i);
  if (!isIntKind(t.elem()) || t.size() != 1 || t.rank() > 1)
    return ctx.error(what, " must be a one-element integer tensor, got ",
                     t.type().toString());
  EMBER_ASSIGN(std::vector<int64_t> v, ctx.ints(i));
  return v[0];
}
} // namespace

// Trilu(input, k?) attr upper=1: keeps the elements on and above (upper) or
// on and below (lower) the k-th diagonal of the last two dims, zeroes the
// rest.
Status kernel_Trilu(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.rank() < 2)
    return ctx.error("input must have rank >= 2, got ", x.type().toString());
  if (ctx.has(1) && (!isIntKind(ctx.in(1).elem()) || ctx.in(1).size() != 1 ||
                     ctx.in(1).rank() > 1))
    return ctx.error("k must be a one-element integer tensor, got ",
                     ctx.in(1).type().toString());
  Tensor &y = ctx.setOutput(0, x.type().withDims(x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
  int64_t k = 0;
  if (ctx.has(1)) {
    EMBER_ASSIGN(k, scalarOperand(ctx, 1, "k"));
  }
  bool upper = ctx.attrInt("upper", 1) != 0;
  int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  size_t es = elemSize(x.elem());
  int64_t mats = rows > 0 && cols > 0 ? x.size() / (rows * cols) : 0;
  const uint8_t *src = x.raw();
  uint8_t *dst = y.raw(); // zero-filled
  for (int64_t m = 0; m < mats; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        // j - i >= k: on/above the k-th diagonal.
        bool keep = upper ? j - i >= k : j - i <= k;
        if (keep) {
          size_t off = size_t((m * rows + i) * cols + j) * es;
          std::memcpy(dst + off, src + off, es);
        }
      }
  return Status::ok();
}

// CumProd(x, axis) attrs exclusive, reverse (like CumSum with products).
Status kernel_CumProd(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (ctx.in(1).size() != 1 || ctx.in(1).rank() > 1 ||
      !isIntKind(ctx.in(1).elem()))
    return ctx.error("axis must be an integer scalar, got ",
                     ctx.in(1).type().toString());
  if (x.rank() < 1)
    return ctx.error("x must have rank >= 1");
  Tensor &y = ctx.setOutput(0, x.type().withDims(x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
  EMBER_ASSIGN(int64_t axisV, scalarOperand(ctx, 1, "axis"));
  EMBER_ASSIGN(int64_t axis, normalizeAxis(ctx, axisV, x.rank()));
  bool exclusive = ctx.attrInt("exclusive", 0) != 0;
  bool reverse = ctx.attrInt("reverse", 0) != 0;
  AxisSplitE v(x.dims(), size_t(axis));
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
  if (x.rank() < 1)
    return ctx.error("input must have rank >= 1");
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -1), x.rank()));
  Tensor &y = ctx.setOutput(0, x.type().withDims(x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
  AxisSplitE v(x.dims(), size_t(axis));
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

// Swish(X) attr alpha=1: X * sigmoid(alpha * X).
Status kernel_Swish(KernelContext &ctx) {
  double alpha = ctx.attrFloat("alpha", 1.0);
  return mapUnary(ctx, [alpha](auto v) {
    using C = decltype(v);
    C s = C(1) / (C(1) + std::exp(-C(alpha) * v));
    return v * s;
  });
}

// SwiGLU(A, B) attr alpha=1: Swish_alpha(A) * B; A and B have one shape.
Status kernel_SwiGLU(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  if (a.type() != b.type())
    return ctx.error("A ", a.type().toString(), " and B ", b.type().toString(),
                     " must have the same type and shape");
  double alpha = ctx.attrFloat("alpha", 1.0);
  Tensor &y = ctx.setOutput(0, a.type().withDims(a.dims()));
  if (ctx.inferOnly())
    return Status::ok();
  dispatchElem(a.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = ComputeT<T>;
      const T *pa = a.data<T>(), *pb = b.data<T>();
      T *py = y.data<T>();
      for (int64_t i = 0; i < a.size(); ++i) {
        C v = C(pa[i]);
        T sig = T(C(1) / (C(1) + std::exp(-C(alpha) * v)));
        T sw = T(v * C(sig));
        py[i] = T(C(sw) * C(pb[i]));
      }
    }
  });
  return Status::ok();
}

} // namespace ember

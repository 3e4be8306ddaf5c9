// Parameterized elementwise activations (LeakyRelu ... Shrink), Clip, PRelu,
// CastLike and the gated Swish and SwiGLU. All are Composite ops: these
// kernels are the direct definitions that their lowerings
// (lower/LowerActivation.cpp) are checked against.
#include "interp/kernels/ElementwiseUtil.h"

#include <cmath>

namespace ember {

namespace {

// Softplus without overflow: log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)).
template <typename C> C softplus(C x) {
  if (std::isnan(double(x)))
    return x;
  return C(std::max(x, C(0)) + std::log1p(std::exp(-std::abs(x))));
}

// min(max(x, 0), 1) that keeps NaN (like numpy's maximum/minimum).
template <typename C> C clamp01(C x) {
  return std::max(std::min(x, C(1)), C(0));
}

} // namespace

#define FLOAT_ACTIVATION(Name, setup, expr)                                    \
  Status kernel_##Name(KernelContext &ctx) {                                   \
    setup;                                                                     \
    return mapUnary(ctx, [=](auto x) {                                         \
      using C = decltype(x);                                                   \
      if constexpr (std::is_floating_point_v<C>)                               \
        return C(expr);                                                        \
      else                                                                     \
        return x;                                                              \
    });                                                                        \
  }

FLOAT_ACTIVATION(LeakyRelu, double alpha = ctx.attrFloat("alpha", 0.01),
                 x < C(0) ? C(x * C(alpha)) : x)
FLOAT_ACTIVATION(Elu, double alpha = ctx.attrFloat("alpha", 1.0),
                 x < C(0) ? C(C(alpha) * (std::exp(x) - C(1))) : x)
FLOAT_ACTIVATION(Selu, double alpha = ctx.attrFloat("alpha",
                                                    1.67326319217681884765625);
                 double gamma = ctx.attrFloat("gamma",
                                              1.05070102214813232421875),
                 x > C(0) ? C(C(gamma) * x)
                          : C(C(gamma) * (C(alpha) * std::exp(x) - C(alpha))))
FLOAT_ACTIVATION(Celu, double alpha = ctx.attrFloat("alpha", 1.0),
                 std::max(x, C(0)) +
                     std::min(C(0),
                              C(C(alpha) * (std::exp(x / C(alpha)) - C(1)))))
FLOAT_ACTIVATION(HardSigmoid, double alpha = ctx.attrFloat("alpha", 0.2);
                 double beta = ctx.attrFloat("beta", 0.5),
                 clamp01(C(C(alpha) * x + C(beta))))
FLOAT_ACTIVATION(HardSwish, (void)0, x *clamp01(C(x / C(6) + C(0.5))))
FLOAT_ACTIVATION(Softplus, (void)0, softplus(x))
FLOAT_ACTIVATION(Softsign, (void)0, x / (C(1) + std::abs(x)))
FLOAT_ACTIVATION(Mish, (void)0, x *tanhOf(C(softplus(x))))
FLOAT_ACTIVATION(ThresholdedRelu, double alpha = ctx.attrFloat("alpha", 1.0),
                 x > C(alpha) ? x : C(0))
#undef FLOAT_ACTIVATION

Status kernel_Gelu(KernelContext &ctx) {
  EMBER_ASSIGN(bool tanhApprox, geluTanh(ctx));
  if (!tanhApprox)
    return mapUnary(ctx, [](auto x) {
      using C = decltype(x);
      if constexpr (std::is_floating_point_v<C>)
        return C(C(0.5) * x * (C(1) + erfOf(C(x * C(0.70710678118654752440)))));
      else
        return x;
    });
  return mapUnary(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_floating_point_v<C>) {
      C inner = C(0.79788456080286535588) * (x + C(0.044715) * x * x * x);
      return C(C(0.5) * x * (C(1) + tanhOf(inner)));
    } else {
      return x;
    }
  });
}

Status kernel_Shrink(KernelContext &ctx) {
  double bias = ctx.attrFloat("bias", 0.0);
  double lambd = ctx.attrFloat("lambd", 0.5);
  return mapUnary(ctx, [=](auto x) {
    using C = decltype(x);
    // Compare in double so negative thresholds work on unsigned types.
    double v = double(x), r = 0;
    if (v < -lambd)
      r = v + bias;
    else if (v > lambd)
      r = v - bias;
    if constexpr (std::is_integral_v<C>)
      return C(int64_t(r)); // wraps like numpy's astype
    else
      return C(r);
  });
}

// Clip(x, min?, max?): min/max are one-element tensors of x's type.
Status kernel_Clip(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeT<T>;
    bool hasLo = ctx.has(1), hasHi = ctx.has(2);
    C lo = hasLo ? C(ctx.in(1).data<T>()[0]) : C(0);
    C hi = hasHi ? C(ctx.in(2).data<T>()[0]) : C(0);
    const T *src = x.data<T>();
    T *dst = y.data<T>();
    for (int64_t i = 0, n = x.size(); i < n; ++i) {
      C v = C(src[i]);
      if (hasLo && v < lo) // NaN stays NaN
        v = lo;
      if (hasHi && v > hi)
        v = hi;
      dst[i] = T(v);
    }
  });
  return Status::ok();
}

// PRelu(x, slope): slope broadcasts unidirectionally to x.
Status kernel_PRelu(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &s = ctx.in(1);
  Tensor &y = ctx.out(0);
  BroadcastIndexer is(x.dims(), s.dims());
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeT<T>;
    const T *px = x.data<T>();
    const T *ps = s.data<T>();
    T *py = y.data<T>();
    for (int64_t i = 0, n = x.size(); i < n; ++i) {
      C v = C(px[i]);
      if constexpr (std::is_signed_v<C> || isFloatLike<T>)
        py[i] = v < C(0) ? T(C(v * C(ps[is.map(i)]))) : T(v);
      else
        py[i] = T(v); // unsigned: never negative
    }
  });
  return Status::ok();
}

// CastLike(x, target): Cast to target's element type (target's data unused).
Status kernel_CastLike(KernelContext &ctx) {
  std::string rm = ctx.attrString("round_mode", "up");
  int roundMode = rm == "nearest" ? 1 : rm == "down" ? 2 : 0;
  bool saturate = ctx.attrInt("saturate", 1) != 0;
  ctx.out(0) = ctx.in(0).convertTo(ctx.in(1).elem(), saturate, roundMode);
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
  double alpha = ctx.attrFloat("alpha", 1.0);
  Tensor &y = ctx.out(0);
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

// Elementwise unary, binary, comparison, logical and selection kernels.
#include "interp/kernels/ElementwiseUtil.h"

#include <cmath>
#include <limits>

namespace ember {

namespace {
template <typename C> C sgn(C x) { return C((x > C(0)) - (x < C(0))); }
// Round half to even (numpy/ONNX Round).
template <typename C> C roundEven(C x) { return C(std::nearbyint(double(x))); }
} // namespace

#define FLOAT_UNARY(Name, expr)                                                \
  Status kernel_##Name(KernelContext &ctx) {                                   \
    return mapUnary(ctx, [](auto x) {                                          \
      using C = decltype(x);                                                   \
      return C(expr);                                                          \
    });                                                                        \
  }

FLOAT_UNARY(Exp, expOf(x))
FLOAT_UNARY(Log, std::log(x))
FLOAT_UNARY(Sqrt, std::sqrt(x))
FLOAT_UNARY(Reciprocal, C(1) / x)
FLOAT_UNARY(Sigmoid, x >= C(0) ? C(1) / (C(1) + expOf(C(-x)))
                               : expOf(x) / (C(1) + expOf(x)))
FLOAT_UNARY(Tanh, tanhOf(x))
FLOAT_UNARY(Erf, erfOf(x))
FLOAT_UNARY(Floor, std::floor(x))
FLOAT_UNARY(Ceil, std::ceil(x))
FLOAT_UNARY(Round, roundEven(x))
FLOAT_UNARY(Sin, std::sin(x))
FLOAT_UNARY(Cos, std::cos(x))
FLOAT_UNARY(Tan, std::tan(x))
FLOAT_UNARY(Asin, std::asin(x))
FLOAT_UNARY(Acos, std::acos(x))
FLOAT_UNARY(Atan, std::atan(x))
FLOAT_UNARY(Sinh, std::sinh(x))
FLOAT_UNARY(Cosh, std::cosh(x))
FLOAT_UNARY(Asinh, std::asinh(x))
FLOAT_UNARY(Acosh, std::acosh(x))
FLOAT_UNARY(Atanh, std::atanh(x))
#undef FLOAT_UNARY

Status kernel_Identity(KernelContext &ctx) {
  ctx.out(0) = ctx.in(0);
  return Status::ok();
}

Status kernel_Abs(KernelContext &ctx) {
  return mapUnary(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_unsigned_v<C>)
      return x;
    else
      return x < C(0) ? C(-x) : x;
  });
}

Status kernel_Neg(KernelContext &ctx) {
  return mapUnary(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_integral_v<C>) // wrap like numpy on INT_MIN
      return C(C(0) - x);
    else
      return C(-x);
  });
}

Status kernel_Sign(KernelContext &ctx) {
  return mapUnary(ctx, [](auto x) { return sgn(x); });
}

Status kernel_Relu(KernelContext &ctx) {
  return mapUnary(ctx, [](auto x) {
    using C = decltype(x);
    return x > C(0) ? x : C(0);
  });
}

Status kernel_Not(KernelContext &ctx) {
  return mapUnary(ctx, [](auto x) { return !x; });
}

Status kernel_BitwiseNot(KernelContext &ctx) {
  return mapUnary(ctx, [](auto x) {
    using C = decltype(x);
    if constexpr (std::is_integral_v<C> && !std::is_same_v<C, bool>)
      return C(~x);
    else
      return x;
  });
}

// Predicates on floats (T_Float in Ops.def) producing bool.
template <typename F> static Status floatPredicate(KernelContext &ctx, F f) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  for (int64_t i = 0; i < x.size(); ++i)
    y.data<bool>()[i] = f(x.getDouble(i));
  return Status::ok();
}

Status kernel_IsNaN(KernelContext &ctx) {
  return floatPredicate(ctx, [](double v) { return std::isnan(v); });
}

Status kernel_IsInf(KernelContext &ctx) {
  bool pos = ctx.attrInt("detect_positive", 1) != 0;
  bool neg = ctx.attrInt("detect_negative", 1) != 0;
  return floatPredicate(ctx, [=](double v) {
    return std::isinf(v) && ((v > 0 && pos) || (v < 0 && neg));
  });
}

Status kernel_Cast(KernelContext &ctx) {
  EMBER_ASSIGN(CastParams p, castParams(ctx));
  ctx.out(0) = ctx.in(0).convertTo(p.to, p.saturate, p.roundMode);
  return Status::ok();
}

// ---- binary arithmetic ----------------------------------------------------

Status kernel_Add(KernelContext &ctx) {
  return mapBinary(ctx, [](auto a, auto b) {
    using C = decltype(a);
    return C(a + b);
  });
}
Status kernel_Sub(KernelContext &ctx) {
  return mapBinary(ctx, [](auto a, auto b) {
    using C = decltype(a);
    return C(a - b);
  });
}
Status kernel_Mul(KernelContext &ctx) {
  return mapBinary(ctx, [](auto a, auto b) {
    using C = decltype(a);
    if constexpr (std::is_same_v<C, bool>)
      return a && b;
    else
      return C(a * b);
  });
}
Status kernel_Div(KernelContext &ctx) {
  // Integer division by zero is undefined in ONNX; define it as 0 here
  // rather than trapping.
  return mapBinary(ctx, [](auto a, auto b) {
    using C = decltype(a);
    if constexpr (std::is_integral_v<C>) {
      if (b == C(0))
        return C(0);
      if constexpr (std::is_signed_v<C>)
        if (b == C(-1))
          return C(C(0) - a);
      return C(a / b);
    } else {
      return C(a / b);
    }
  });
}

Status kernel_Mod(KernelContext &ctx) {
  bool fmod = ctx.attrInt("fmod", 0) != 0;
  return mapBinary(ctx, [fmod](auto a, auto b) {
    using C = decltype(a);
    if constexpr (std::is_integral_v<C>) {
      if (b == C(0))
        return C(0);
      if constexpr (std::is_signed_v<C>) {
        if (b == C(-1))
          return C(0);
        C r = C(a % b);
        if (!fmod && r != C(0) && ((r < 0) != (b < 0)))
          r = C(r + b);
        return r;
      } else {
        return C(a % b);
      }
    } else {
      C r = C(std::fmod(a, b));
      // fmod=0 on floats: numpy.mod, the sign of the divisor.
      if (!fmod && r != C(0) && ((r < C(0)) != (b < C(0))))
        r = C(r + b);
      return r;
    }
  });
}

Status kernel_Pow(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  Tensor &y = ctx.out(0);
  const Dims &od = y.dims();
  BroadcastIndexer ia(od, a.dims()), ib(od, b.dims());
  bool intBase = isIntKind(a.elem());
  for (int64_t i = 0; i < y.size(); ++i) {
    if (intBase && isIntKind(b.elem())) {
      int64_t base = a.getInt(ia.map(i)), e = b.getInt(ib.map(i)), r = 1;
      if (e < 0)
        r = base == 1 ? 1 : (base == -1 ? (e % 2 ? -1 : 1) : 0);
      for (int64_t k = 0; k < e && k < 64; ++k)
        r *= base;
      y.setInt(i, r);
    } else {
      double v = std::pow(a.getDouble(ia.map(i)), b.getDouble(ib.map(i)));
      if (a.elem() == ElemKind::F32)
        y.data<float>()[i] = std::pow(float(a.getDouble(ia.map(i))),
                                      float(b.getDouble(ib.map(i))));
      else if (intBase)
        y.setInt(i, int64_t(v));
      else
        y.setDouble(i, v);
    }
  }
  return Status::ok();
}

// Variadic Max/Min with multidirectional broadcasting.
template <bool IsMax> static Status variadicMinMax(KernelContext &ctx) {
  Tensor &y = ctx.out(0);
  const Dims &od = y.dims();
  ElemKind k = y.elem();
  dispatchElem(k, [&](auto tag) {
    using T = decltype(tag);
    using C = ComputeT<T>;
    T *py = y.data<T>();
    for (size_t j = 0; j < ctx.numInputs(); ++j) {
      BroadcastIndexer ix(od, ctx.in(j).dims());
      const T *p = ctx.in(j).data<T>();
      for (int64_t i = 0; i < y.size(); ++i) {
        C v = C(p[ix.map(i)]);
        if (j == 0) {
          py[i] = T(v);
          continue;
        }
        C cur = C(py[i]);
        if constexpr (isFloatLike<T>) {
          if (std::isnan(double(v)) || std::isnan(double(cur))) {
            py[i] = T(std::numeric_limits<C>::quiet_NaN());
            continue;
          }
        }
        if (IsMax ? v > cur : v < cur)
          py[i] = T(v);
      }
    }
  });
  return Status::ok();
}

Status kernel_Max(KernelContext &ctx) { return variadicMinMax<true>(ctx); }
Status kernel_Min(KernelContext &ctx) { return variadicMinMax<false>(ctx); }

// ---- comparisons and logic -------------------------------------------------

#define COMPARE(Name, op)                                                      \
  Status kernel_##Name(KernelContext &ctx) {                                   \
    return mapBinary(ctx, [](auto a, auto b) { return a op b; });              \
  }
COMPARE(Equal, ==)
COMPARE(Less, <)
COMPARE(Greater, >)
COMPARE(LessOrEqual, <=)
COMPARE(GreaterOrEqual, >=)
#undef COMPARE

#define LOGICAL(Name, expr)                                                    \
  Status kernel_##Name(KernelContext &ctx) {                                   \
    return mapBinary(ctx, [](auto a, auto b) { return bool(expr); });          \
  }
LOGICAL(And, a &&b)
LOGICAL(Or, a || b)
LOGICAL(Xor, bool(a) != bool(b))
#undef LOGICAL

#define BITWISE(Name, op)                                                      \
  Status kernel_##Name(KernelContext &ctx) {                                   \
    return mapBinary(ctx, [](auto a, auto b) {                                 \
      using C = decltype(a);                                                   \
      if constexpr (std::is_integral_v<C>)                                     \
        return C(a op b);                                                      \
      else                                                                     \
        return a;                                                              \
    });                                                                        \
  }
BITWISE(BitwiseAnd, &)
BITWISE(BitwiseOr, |)
BITWISE(BitwiseXor, ^)
#undef BITWISE

Status kernel_BitShift(KernelContext &ctx) {
  EMBER_ASSIGN(bool left, bitShiftLeft(ctx));
  // Shifts by a negative amount or by the bit width or more give 0 (or -1
  // for a right shift of a negative signed value); a left shift of a signed
  // value wraps like the unsigned one.
  return mapBinary(ctx, [left](auto a, auto b) {
    using C = decltype(a);
    if constexpr (std::is_integral_v<C> && !std::is_same_v<C, bool>) {
      using U = std::make_unsigned_t<C>;
      bool outOfRange = b < C(0) || uint64_t(b) >= sizeof(C) * 8;
      if (outOfRange)
        return (!left && a < C(0)) ? C(-1) : C(0);
      if (left)
        return C(U(U(a) << unsigned(b)));
      return C(a >> unsigned(b)); // arithmetic for signed (C++20, gcc/clang)
    } else {
      return a;
    }
  });
}

Status kernel_Where(KernelContext &ctx) {
  const Tensor &c = ctx.in(0), &a = ctx.in(1), &b = ctx.in(2);
  Tensor &y = ctx.out(0);
  const Dims &od = y.dims();
  BroadcastIndexer ic(od, c.dims()), ia(od, a.dims()), ib(od, b.dims());
  size_t es = elemSize(a.elem());
  for (int64_t i = 0; i < y.size(); ++i) {
    const uint8_t *src = c.data<bool>()[ic.map(i)]
                             ? a.raw() + ia.map(i) * int64_t(es)
                             : b.raw() + ib.map(i) * int64_t(es);
    std::memcpy(y.raw() + i * int64_t(es), src, es);
  }
  return Status::ok();
}

} // namespace ember

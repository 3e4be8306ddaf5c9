// Quantization reference kernels: QuantizeLinear, DequantizeLinear (as ONNX
// defines them) and the contrib ops QLinearAdd and QLinearGlobalAveragePool
// (Ember's integer arithmetic, docs/quantization.md).
#include "interp/kernels/QuantUtil.h"

#include "ember/quant/Arith.h"
#include "support/MiniFloat.h"

namespace ember {

namespace {
bool miniIsFloat(ElemKind k) {
  return isMiniKind(k) && !miniIsInteger(miniFormatOf(k));
}

void miniIntRange(MiniFormat f, int64_t &lo, int64_t &hi) {
  lo = 0;
  hi = 0;
  switch (f) {
  case MiniFormat::U4:
    hi = 15;
    break;
  case MiniFormat::I4:
    lo = -8;
    hi = 7;
    break;
  case MiniFormat::U2:
    hi = 3;
    break;
  case MiniFormat::I2:
    lo = -2;
    hi = 1;
    break;
  default:
    break;
  }
}

// Stores x/scale (`q`, already in the division's precision) quantized to a
// narrow kind, as the ONNX reference does: integers round half to even, add
// the zero point and clip; float8 casts (saturating when asked); float4
// adds the zero point and casts.
void storeMini(Tensor &y, int64_t i, double q, const Tensor *zp, int64_t k,
               bool saturate) {
  MiniFormat f = miniFormatOf(y.elem());
  if (miniIsInteger(f)) {
    int64_t lo, hi;
    miniIntRange(f, lo, hi);
    int64_t r = int64_t(std::nearbyint(q)) + (zp ? zp->getInt(k) : 0);
    y.setInt(i, std::min(hi, std::max(lo, r)));
  } else if (f == MiniFormat::F4E2M1) {
    float v = float(q) + (zp ? float(zp->getDouble(k)) : 0.0f);
    y.raw()[i] = floatToMini(v, f, true);
  } else {
    y.raw()[i] = floatToMini(float(q), f, saturate);
  }
}
} // namespace

Status kernel_QuantizeLinear(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &scale = ctx.in(1);
  const Tensor *zp = ctx.has(2) ? &ctx.in(2) : nullptr;
  EMBER_ASSIGN(QuantIndexer qi, quantIndexer(ctx, x.dims(), scale, zp));
  Tensor &y = ctx.out(0);
  bool saturate = ctx.attrInt("saturate", 1) != 0;
  dispatchElem(scale.elem(), [&](auto stag) {
    using S = decltype(stag);
    if constexpr (isFloatLike<S>) {
      const S *ps = scale.data<S>();
      if (isMiniKind(y.elem())) {
        for (int64_t i = 0; i < x.size(); ++i) {
          int64_t k = qi(i);
          double q = x.elem() == scale.elem()
                         ? quantDivide<S>(x.data<S>()[i], ps[k])
                         : double(x.getInt(i)) / double(ComputeT<S>(ps[k]));
          storeMini(y, i, q, zp, k, saturate);
        }
        return;
      }
      dispatchElem(y.elem(), [&](auto qtag) {
        using Q = decltype(qtag);
        if constexpr (std::is_integral_v<Q> && !std::is_same_v<Q, bool>) {
          Q *py = y.data<Q>();
          for (int64_t i = 0; i < x.size(); ++i) {
            int64_t k = qi(i);
            int64_t z = zp ? zp->getInt(k) : 0;
            if (x.elem() == scale.elem()) {
              py[i] = quantizeValue<Q, S>(x.data<S>()[i], ps[k], z);
            } else {
              double q = std::nearbyint(double(x.getInt(i)) /
                                        double(ComputeT<S>(ps[k])));
              py[i] = saturateRound<Q>(q + double(z));
            }
          }
        }
      });
    }
  });
  return Status::ok();
}

Status kernel_DequantizeLinear(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &scale = ctx.in(1);
  const Tensor *zp = ctx.has(2) ? &ctx.in(2) : nullptr;
  EMBER_ASSIGN(QuantIndexer qi, quantIndexer(ctx, x.dims(), scale, zp));
  Tensor &y = ctx.out(0);
  // Narrow floats (float8, float4) ignore the zero point, as the ONNX
  // reference does; everything else subtracts it exactly. The product is
  // exact in double and rounds once to the result type.
  bool floatQ = miniIsFloat(x.elem());
  for (int64_t i = 0; i < x.size(); ++i) {
    int64_t k = qi(i);
    double dx = floatQ ? x.getDouble(i)
                       : double(x.getInt(i) - (zp ? zp->getInt(k) : 0));
    y.setDouble(i, dx * scale.getDouble(k));
  }
  return Status::ok();
}

// com.microsoft QLinearAdd(A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp?)
// Ember's QuantizedAdd of the fixed profile (docs/quantization.md): the
// exact sum rounded once, half up, as lowering writes it.
Status kernel_QLinearAdd(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(3);
  Tensor &y = ctx.out(0);
  const Dims &od = y.dims();
  quant::Range r = quant::rangeOf(a.elem() == ElemKind::I8);
  quant::AddScales s;
  s.sa = float(ctx.in(1).getDouble(0));
  s.za = int32_t(ctx.in(2).getInt(0));
  s.sb = float(ctx.in(4).getDouble(0));
  s.zb = int32_t(ctx.in(5).getInt(0));
  s.sy = float(ctx.in(6).getDouble(0));
  s.zy = ctx.has(7) ? int32_t(ctx.in(7).getInt(0)) : 0;
  quant::AddExact e(s);
  if (!e.valid())
    return ctx.error("QLinearAdd scales ", s.sa, ", ", s.sb, " and ", s.sy,
                     " are not positive finite values within 2^60 of each "
                     "other");
  BroadcastIndexer ia(od, a.dims()), ib(od, b.dims());
  for (int64_t i = 0; i < y.size(); ++i)
    y.setInt(i, quant::addExact(int32_t(a.getInt(ia.map(i))),
                                int32_t(b.getInt(ib.map(i))), e, r.lo, r.hi));
  return Status::ok();
}

// com.microsoft QLinearGlobalAveragePool(X, x_scale, x_zp, y_scale, y_zp):
// with equal input and output parameters, the integer average rounded half
// up; otherwise sum(q - x_zp) in int32 requantized with
// x_scale / (y_scale * count) (docs/quantization.md).
Status kernel_QLinearGlobalAveragePool(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  const Dims &od = y.dims();
  // Elements averaged per result: the pooled dims' extents (a pooled dim of
  // extent 1 counts 1 either way).
  int64_t count = 1;
  for (size_t d = 0; d < od.size(); ++d)
    count *= od[d] == x.dim(d) ? 1 : x.dim(d);
  double xs = ctx.in(1).getDouble(0), ys = ctx.in(3).getDouble(0);
  int32_t xz = int32_t(ctx.in(2).getInt(0)), yz = int32_t(ctx.in(4).getInt(0));
  bool same = xs == ys && xz == yz;
  std::vector<int64_t> sums(size_t(y.size()), 0);
  BroadcastIndexer iy(x.dims(), od); // maps x element -> its output element
  for (int64_t i = 0; i < x.size(); ++i)
    sums[size_t(iy.map(i))] += x.getInt(i) - (same ? 0 : xz);
  quant::Range r = quant::rangeOf(x.elem() == ElemKind::I8);
  quant::Multiplier m = quant::quantizeMultiplier(xs / (ys * double(count)));
  for (int64_t o = 0; o < y.size(); ++o)
    y.setInt(o, same ? quant::averageHalfUp(sums[size_t(o)], count)
                     : quant::requantize(int32_t(sums[size_t(o)]), 0, m, yz,
                                         r.lo, r.hi));
  return Status::ok();
}

} // namespace ember

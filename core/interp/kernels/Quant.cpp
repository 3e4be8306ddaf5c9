// Quantization reference kernels: QuantizeLinear, DequantizeLinear (as ONNX
// defines them) and the contrib ops QLinearAdd and QLinearGlobalAveragePool
// (Ember's integer arithmetic, docs/quantization.md).
#include "interp/kernels/QuantUtil.h"

#include "ember/quant/Arith.h"
#include "support/MiniFloat.h"

namespace ember {

Expected<QuantIndexer> quantIndexer(const KernelContext &ctx, const Dims &x,
                                    const Tensor &scale, const Tensor *zp) {
  QuantIndexer q;
  if (zp && (zp->size() != scale.size() ||
             (scale.size() > 1 && zp->dims() != scale.dims())))
    return ctx.error("zero point ", zp->type().toString(),
                     " does not match scale ", scale.type().toString());
  int64_t block = ctx.attrInt("block_size", 0);
  if (scale.rank() == 0 ||
      (scale.rank() == 1 && scale.size() == 1 && block == 0)) {
    if (scale.size() != 1)
      return ctx.error("scale is empty");
    return q;
  }
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", 1), x.size()));
  q.axisDim = x[size_t(axis)];
  q.inner = 1;
  for (size_t d = size_t(axis) + 1; d < x.size(); ++d)
    q.inner *= x[d];
  if (block == 0) {
    if (scale.rank() != 1 || scale.size() != q.axisDim)
      return ctx.error("per-axis scale ", scale.type().toString(), " must be [",
                       q.axisDim, "] for axis ", axis);
    q.mode = QuantIndexer::PerAxis;
    return q;
  }
  if (block < 0)
    return ctx.error("block_size must be >= 0, got ", block);
  Dims want = x;
  want[size_t(axis)] = (q.axisDim + block - 1) / block;
  if (scale.dims() != want)
    return ctx.error("blocked scale ", scale.type().toString(),
                     " does not match x with axis ", axis, " and block_size ",
                     block);
  q.mode = QuantIndexer::Blocked;
  q.block = block;
  q.scaleAxisDim = want[size_t(axis)];
  return q;
}

namespace {
// Narrow kinds QuantizeLinear/DequantizeLinear accept: float8 (not E8M0),
// float4 E2M1 and the 4/2-bit integers.
bool isMiniQuantKind(ElemKind k) {
  return isMiniKind(k) && miniFormatOf(k) != MiniFormat::F8E8M0;
}

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
  if (!isComputeFloatKind(x.elem()) && x.elem() != ElemKind::I32)
    return ctx.unsupportedError("input type ", elemKindName(x.elem()));
  if (!isComputeFloatKind(scale.elem()))
    return ctx.error("scale must be floating point, got ",
                     scale.type().toString());
  if (isComputeFloatKind(x.elem()) && scale.elem() != x.elem())
    return ctx.error("scale type ", elemKindName(scale.elem()),
                     " differs from input type ", elemKindName(x.elem()));
  ElemKind outKind = ElemKind::U8;
  if (zp) {
    outKind = zp->elem();
  } else if (int64_t dt = ctx.attrInt("output_dtype", 0)) {
    if (!elemKindFromOnnx(int(dt), outKind))
      return ctx.unsupportedError("output_dtype ", dt);
  }
  if (!isQuantKind(outKind) && !isMiniQuantKind(outKind))
    return ctx.unsupportedError("quantized type ", elemKindName(outKind));
  EMBER_ASSIGN(QuantIndexer qi, quantIndexer(ctx, x.dims(), scale, zp));
  Tensor &y = ctx.setOutput(0, Type(outKind, x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
  bool saturate = ctx.attrInt("saturate", 1) != 0;
  dispatchElem(scale.elem(), [&](auto stag) {
    using S = decltype(stag);
    if constexpr (isFloatLike<S>) {
      const S *ps = scale.data<S>();
      if (isMiniKind(outKind)) {
        for (int64_t i = 0; i < x.size(); ++i) {
          int64_t k = qi(i);
          double q = x.elem() == scale.elem()
                         ? quantDivide<S>(x.data<S>()[i], ps[k])
                         : double(x.getInt(i)) / double(ComputeT<S>(ps[k]));
          storeMini(y, i, q, zp, k, saturate);
        }
        return;
      }
      dispatchElem(outKind, [&](auto qtag) {
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
  if (!isQuantKind(x.elem()) && !isMiniQuantKind(x.elem()) &&
      x.elem() != ElemKind::I32)
    return ctx.unsupportedError("quantized type ", elemKindName(x.elem()));
  if (!isComputeFloatKind(scale.elem()))
    return ctx.error("scale must be floating point, got ",
                     scale.type().toString());
  if (zp && zp->elem() != x.elem())
    return ctx.error("zero point type ", elemKindName(zp->elem()),
                     " differs from input type ", elemKindName(x.elem()));
  ElemKind outKind = scale.elem();
  if (int64_t dt = ctx.attrInt("output_dtype", 0)) {
    if (!elemKindFromOnnx(int(dt), outKind) || outKind != scale.elem())
      return ctx.unsupportedError("output_dtype ", dt,
                                  " differing from the scale type");
  }
  EMBER_ASSIGN(QuantIndexer qi, quantIndexer(ctx, x.dims(), scale, zp));
  Tensor &y = ctx.setOutput(0, Type(outKind, x.dims()));
  if (ctx.inferOnly())
    return Status::ok();
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

namespace {
Status checkScalarParam(KernelContext &ctx, size_t scaleIdx, size_t zpIdx,
                        ElemKind qKind) {
  const Tensor &s = ctx.in(scaleIdx);
  if (s.size() != 1 || !isComputeFloatKind(s.elem()))
    return ctx.error("operand #", scaleIdx, " ", s.type().toString(),
                     " must be a single floating-point scale");
  if (ctx.has(zpIdx) &&
      (ctx.in(zpIdx).size() != 1 || ctx.in(zpIdx).elem() != qKind))
    return ctx.error("operand #", zpIdx, " ", ctx.in(zpIdx).type().toString(),
                     " must be a single ", elemKindName(qKind), " zero point");
  return Status::ok();
}

} // namespace

// com.microsoft QLinearAdd(A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp?)
// Ember's QuantizedAdd (docs/quantization.md): TFLite's integer add, with
// the parameters derived from the scales as lowering derives them.
Status kernel_QLinearAdd(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(3);
  if ((a.elem() != ElemKind::U8 && a.elem() != ElemKind::I8) ||
      b.elem() != a.elem())
    return ctx.unsupportedError("operand types ", elemKindName(a.elem()),
                                " and ", elemKindName(b.elem()),
                                " (expected both u8 or both i8)");
  EMBER_TRY(checkScalarParam(ctx, 1, 2, a.elem()));
  EMBER_TRY(checkScalarParam(ctx, 4, 5, a.elem()));
  EMBER_TRY(checkScalarParam(ctx, 6, 7, a.elem()));
  Dims od;
  if (!broadcastShapes(a.dims(), b.dims(), od))
    return ctx.error("shapes ", a.type().toString(), " and ",
                     b.type().toString(), " do not broadcast");
  Tensor &y = ctx.setOutput(0, Type(a.elem(), od));
  if (ctx.inferOnly())
    return Status::ok();
  quant::Range r = quant::rangeOf(a.elem() == ElemKind::I8);
  quant::AddParams p = quant::makeAddParams(
      ctx.in(1).getDouble(0), int32_t(ctx.in(2).getInt(0)),
      ctx.in(4).getDouble(0), int32_t(ctx.in(5).getInt(0)),
      ctx.in(6).getDouble(0), ctx.has(7) ? int32_t(ctx.in(7).getInt(0)) : 0,
      r.lo, r.hi);
  BroadcastIndexer ia(od, a.dims()), ib(od, b.dims());
  for (int64_t i = 0; i < y.size(); ++i)
    y.setInt(i, quant::quantizedAdd(int32_t(a.getInt(ia.map(i))),
                                    int32_t(b.getInt(ib.map(i))), p));
  return Status::ok();
}

// com.microsoft QLinearGlobalAveragePool(X, x_scale, x_zp, y_scale, y_zp):
// with equal input and output parameters, the integer average rounded half
// up; otherwise sum(q - x_zp) in int32 requantized with
// x_scale / (y_scale * count) (docs/quantization.md).
Status kernel_QLinearGlobalAveragePool(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (x.elem() != ElemKind::U8 && x.elem() != ElemKind::I8)
    return ctx.unsupportedError("element type ", elemKindName(x.elem()),
                                " (expected u8 or i8)");
  EMBER_TRY(checkScalarParam(ctx, 1, 2, x.elem()));
  EMBER_TRY(checkScalarParam(ctx, 3, 4, x.elem()));
  if (x.rank() < 3)
    return ctx.error("X must have rank >= 3, got ", x.type().toString());
  bool last = ctx.attrInt("channels_last", 0) != 0;
  Dims od = x.dims();
  size_t first = last ? 1 : 2, end = last ? od.size() - 1 : od.size();
  int64_t count = 1;
  for (size_t d = first; d < end; ++d) {
    count *= od[d];
    od[d] = 1;
  }
  Tensor &y = ctx.setOutput(0, Type(x.elem(), od));
  if (ctx.inferOnly())
    return Status::ok();
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

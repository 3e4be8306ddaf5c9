// Quantization reference kernels: QuantizeLinear, DequantizeLinear and the
// contrib ops QLinearAdd (ONNX Runtime's float multiply-add form) and
// QLinearGlobalAveragePool (dequantize, average in float, quantize with
// round-half-to-even).
#include "interp/kernels/QuantUtil.h"
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
  if (!isComputeFloat(x.elem()) && x.elem() != ElemKind::I32)
    return ctx.unsupportedError("input type ", elemKindName(x.elem()));
  if (!isComputeFloat(scale.elem()))
    return ctx.error("scale must be floating point, got ",
                     scale.type().toString());
  if (isComputeFloat(x.elem()) && scale.elem() != x.elem())
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
  if (!isComputeFloat(scale.elem()))
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
  if (s.size() != 1 || !isComputeFloat(s.elem()))
    return ctx.error("operand #", scaleIdx, " ", s.type().toString(),
                     " must be a single floating-point scale");
  if (ctx.has(zpIdx) &&
      (ctx.in(zpIdx).size() != 1 || ctx.in(zpIdx).elem() != qKind))
    return ctx.error("operand #", zpIdx, " ", ctx.in(zpIdx).type().toString(),
                     " must be a single ", elemKindName(qKind), " zero point");
  return Status::ok();
}

int64_t saturateTo(ElemKind k, double v) {
  return dispatchElem(k, [&](auto tag) -> int64_t {
    using Q = decltype(tag);
    if constexpr (std::is_integral_v<Q> && !std::is_same_v<Q, bool>)
      return int64_t(saturateRound<Q>(v));
    else
      return 0;
  });
}

// Quantizes a float value as QuantizeLinear with an f32 scale does.
int64_t requantize(float v, float scale, int64_t zp, ElemKind k) {
  double q = std::nearbyint(double(v / scale)) + double(zp);
  return dispatchElem(k, [&](auto tag) -> int64_t {
    using Q = decltype(tag);
    if constexpr (std::is_integral_v<Q> && !std::is_same_v<Q, bool>)
      return int64_t(saturateRound<Q>(q));
    else
      return 0;
  });
}
} // namespace

// com.microsoft QLinearAdd(A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp?)
// Computed as ONNX Runtime does (see qaddParams) so quantized models match
// it bit for bit; mathematically sat(rint((A - za)*As/Cs + (B - zb)*Bs/Cs)
// + zc), i.e. dequantize, add, quantize.
Status kernel_QLinearAdd(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(3);
  if (!isQuantKind(a.elem()) || b.elem() != a.elem())
    return ctx.unsupportedError("operand types ", elemKindName(a.elem()),
                                " and ", elemKindName(b.elem()));
  EMBER_TRY(checkScalarParam(ctx, 1, 2, a.elem()));
  EMBER_TRY(checkScalarParam(ctx, 4, 5, a.elem()));
  EMBER_TRY(checkScalarParam(ctx, 6, 7, a.elem()));
  if (ctx.in(1).elem() != ElemKind::F32 || ctx.in(4).elem() != ElemKind::F32 ||
      ctx.in(6).elem() != ElemKind::F32)
    return ctx.unsupportedError("scales must be f32");
  Dims od;
  if (!broadcastShapes(a.dims(), b.dims(), od))
    return ctx.error("shapes ", a.type().toString(), " and ",
                     b.type().toString(), " do not broadcast");
  Tensor &y = ctx.setOutput(0, Type(a.elem(), od));
  if (ctx.inferOnly())
    return Status::ok();
  float as = float(ctx.in(1).getDouble(0)), bs = float(ctx.in(4).getDouble(0)),
        cs = float(ctx.in(6).getDouble(0));
  int64_t az = ctx.in(2).getInt(0), bz = ctx.in(5).getInt(0),
          cz = ctx.has(7) ? ctx.in(7).getInt(0) : 0;
  BroadcastIndexer ia(od, a.dims()), ib(od, b.dims());
  QAddParams qp = qaddParams(as, bs, cs, az, bz, cz);
  bool scalarA = a.size() == 1, scalarB = !scalarA && b.size() == 1;
  for (int64_t i = 0; i < y.size(); ++i) {
    float av = float(a.getInt(ia.map(i))), bv = float(b.getInt(ib.map(i)));
    float v;
    if (scalarA) {
      float c = qp.zpc + av * qp.ra;
      v = fusedMulAdd(bv, qp.rb, c);
    } else if (scalarB) {
      float c = qp.zpc + bv * qp.rb;
      v = fusedMulAdd(av, qp.ra, c);
    } else {
      v = fusedMulAdd(av, qp.ra, fusedMulAdd(bv, qp.rb, qp.zpc));
    }
    y.setInt(i, saturateTo(a.elem(), std::nearbyint(double(v))));
  }
  return Status::ok();
}

// com.microsoft QLinearGlobalAveragePool(X, x_scale, x_zp, y_scale, y_zp)
Status kernel_QLinearGlobalAveragePool(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  if (!isQuantKind(x.elem()))
    return ctx.unsupportedError("element type ", elemKindName(x.elem()));
  EMBER_TRY(checkScalarParam(ctx, 1, 2, x.elem()));
  EMBER_TRY(checkScalarParam(ctx, 3, 4, x.elem()));
  if (ctx.in(1).elem() != ElemKind::F32 || ctx.in(3).elem() != ElemKind::F32)
    return ctx.unsupportedError("scales must be f32");
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
  float xs = float(ctx.in(1).getDouble(0)), ys = float(ctx.in(3).getDouble(0));
  int64_t xz = ctx.in(2).getInt(0), yz = ctx.in(4).getInt(0);
  // Sum in float in input order over the reduced positions.
  std::vector<float> sums(size_t(y.size()), 0.0f);
  BroadcastIndexer iy(x.dims(), od); // maps x element -> its output element
  for (int64_t i = 0; i < x.size(); ++i)
    sums[size_t(iy.map(i))] +=
        float(dequantizeValue(x.getInt(i), xz, xs, false));
  for (int64_t o = 0; o < y.size(); ++o)
    y.setInt(o, requantize(sums[size_t(o)] / float(count), ys, yz, x.elem()));
  return Status::ok();
}

} // namespace ember

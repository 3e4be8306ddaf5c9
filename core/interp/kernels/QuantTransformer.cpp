// The fixed profile's integer softmax and normalization
// (docs/quantization.md, "Transformers"): each row as
// ember/quant/Transformer.h computes it, the one definition the CPU
// backend's generated rows (backends/cpu/compiler/ops/IntegerSoftmax.cpp,
// IntegerNormalization.cpp) and a device follow.
#include "interp/kernels/QuantUtil.h"

#include "ember/quant/Transformer.h"

namespace ember {

namespace {

// Calls f(px, py) with x's and y's data as their stored types.
template <class F> void withStored(const Tensor &x, Tensor &y, F f) {
  auto out = [&](auto *px) {
    switch (y.elem()) {
    case ElemKind::I8:
      f(px, y.data<int8_t>());
      return;
    case ElemKind::I16:
      f(px, y.data<int16_t>());
      return;
    default:
      f(px, y.data<uint8_t>());
      return;
    }
  };
  if (x.elem() == ElemKind::I8)
    out(x.data<int8_t>());
  else if (x.elem() == ElemKind::I16)
    out(x.data<int16_t>());
  else
    out(x.data<uint8_t>());
}

quant::Range storedRange(ElemKind k) {
  return k == ElemKind::I16 ? quant::rangeOf(true, 16)
                            : quant::rangeOf(k == ElemKind::I8);
}

int64_t normalizedAxis(const KernelContext &ctx, const Tensor &x) {
  int64_t axis = ctx.attrInt("axis", -1);
  return axis < 0 ? axis + int64_t(x.rank()) : axis;
}

} // namespace

// IntegerSoftmax(x) {axis, in_multiplier, in_shift, out_multiplier,
// out_shift, y_zero_point}: each line along the axis as
// quant::integerSoftmaxRow computes it.
Status kernel_IntegerSoftmax(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  if (x.size() == 0)
    return Status::ok();
  const int64_t axis = normalizedAxis(ctx, x);
  int64_t outer = 1, n = x.dims()[size_t(axis)], inner = 1;
  for (int64_t d = 0; d < int64_t(x.rank()); ++d)
    if (d != axis)
      (d < axis ? outer : inner) *= x.dims()[size_t(d)];
  const quant::Range r = storedRange(y.elem());
  quant::SoftmaxParams p;
  p.in = {int32_t(ctx.attrInt("in_multiplier", 0)),
          int32_t(ctx.attrInt("in_shift", 0))};
  p.out = {int32_t(ctx.attrInt("out_multiplier", 0)),
           int32_t(ctx.attrInt("out_shift", 0))};
  p.yZp = int32_t(ctx.attrInt("y_zero_point", 0));
  p.lo = r.lo;
  p.hi = r.hi;
  std::vector<int32_t> scratch;
  withStored(x, y, [&](auto *px, auto *py) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i)
        quant::integerSoftmaxRow(px + o * n * inner + i, py + o * n * inner + i,
                                 n, inner, p, scratch);
  });
  return Status::ok();
}

// IntegerNormalization(x, multiplier, shift, bias) {axis, center, epsilon,
// x_zero_point, y_zero_point}: each row (the axes from axis on) as
// quant::integerNormRow computes it.
Status kernel_IntegerNormalization(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  if (x.size() == 0)
    return Status::ok();
  const int64_t axis = normalizedAxis(ctx, x);
  int64_t n = 1;
  for (size_t d = size_t(axis); d < x.rank(); ++d)
    n *= x.dims()[d];
  const quant::Range r = storedRange(y.elem());
  quant::NormParams p;
  p.center = ctx.attrInt("center", 1) != 0;
  p.epsilon = ctx.attrInt("epsilon", 0);
  p.xZp = int32_t(ctx.attrInt("x_zero_point", 0));
  p.yZp = int32_t(ctx.attrInt("y_zero_point", 0));
  p.lo = r.lo;
  p.hi = r.hi;
  const Tensor &m = ctx.in(1), &e = ctx.in(2), &b = ctx.in(3);
  for (int64_t c = 0; c < m.size(); ++c) {
    p.mult.push_back(int32_t(m.getInt(c)));
    p.shift.push_back(int32_t(e.getInt(c)));
    p.bias.push_back(b.getInt(c));
  }
  withStored(x, y, [&](auto *px, auto *py) {
    for (int64_t row = 0; row < x.size() / n; ++row)
      quant::integerNormRow(px + row * n, py + row * n, n, p);
  });
  return Status::ok();
}

} // namespace ember

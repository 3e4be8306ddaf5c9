// Lowerings of the float-domain quantized contrib ops: dequantize, compute
// in float, quantize (QuantizeLinear rounds half to even and saturates).
#include "lower/Lowering.h"

namespace ember {

// QLinearAdd(A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp?)
Expected<std::vector<Value>> lower_QLinearAdd(LoweringBuilder &b) {
  EMBER_ASSIGN(Value a,
               b.op(OpKind::DequantizeLinear, {b.in(0), b.in(1), b.in(2)}));
  EMBER_ASSIGN(Value c,
               b.op(OpKind::DequantizeLinear, {b.in(3), b.in(4), b.in(5)}));
  EMBER_ASSIGN(Value sum, b.op(OpKind::Add, {a, c}));
  Value zp = b.has(7) ? b.in(7) : b.scalar(b.inType(0).elem(), 0);
  EMBER_ASSIGN(Value y, b.op(OpKind::QuantizeLinear, {sum, b.in(6), zp}));
  return std::vector<Value>{y};
}

// QLinearGlobalAveragePool(X, x_scale, x_zp, y_scale, y_zp), channels_last.
Expected<std::vector<Value>>
lower_QLinearGlobalAveragePool(LoweringBuilder &b) {
  const Type &xt = b.inType(0);
  if (xt.rank() < 3)
    return invalid("QLinearGlobalAveragePool: X must have rank >= 3");
  bool last = b.node().attrInt("channels_last", 0) != 0;
  int64_t first = last ? 1 : 2, end = int64_t(xt.rank()) - (last ? 1 : 0);
  std::vector<int64_t> axes;
  int64_t count = 1;
  for (int64_t d = first; d < end; ++d) {
    axes.push_back(d);
    count *= xt.dim(size_t(d));
  }
  EMBER_ASSIGN(Value x,
               b.op(OpKind::DequantizeLinear, {b.in(0), b.in(1), b.in(2)}));
  EMBER_ASSIGN(Value s, b.op(OpKind::ReduceSum, {x, b.ints(axes)},
                             {{"keepdims", Attr::ofInt(1)}}));
  EMBER_ASSIGN(
      s, b.op(OpKind::Div, {s, b.scalar(x.type().elem(), double(count))}));
  EMBER_ASSIGN(Value y, b.op(OpKind::QuantizeLinear, {s, b.in(3), b.in(4)}));
  return std::vector<Value>{y};
}

} // namespace ember

// The float32 profile's InstanceNormalization of a dequantized tensor
// (docs/quantization.md, "Float ops between a DequantizeLinear and a
// QuantizeLinear"): ONNX Runtime keeps DequantizeLinear ->
// InstanceNormalization -> QuantizeLinear in float, and its kernel
// (instance_norm.cc) computes per plane i (channel c = i % C, W elements)
// with Eigen, in float32 and in this order:
//
//   mean = sum(x) / W            Eigen's packet sum of the plane in memory
//   ss   = sum((x - mean)^2)     the same over an expression (no head)
//   inv  = 1 / sqrt(ss / W + epsilon)
//   a    = inv * scale[c]
//   b    = B[c] - mean * a
//   y    = x * a + b             (a product, then a sum: no fma)
//
// Both sums are PacketSum (ember/math/PacketSum.h, 4 lanes: SSE). The mean's
// is read from memory, so it starts at the plane's first 16-byte-aligned
// element: ONNX Runtime allocates the dequantized tensor aligned, and plane
// i starts at element i * W (aligned = 1). The squared differences are an
// expression, read as packets from the plane's first element (aligned = 0).
#include "lower/IntegerForms.h"

namespace ember {

Expected<std::optional<Value>> ortFloatInstanceNorm(LoweringBuilder &b,
                                                    const Node &n) {
  const std::optional<Value> none;
  if (n.kind != OpKind::InstanceNormalization || n.numResults() != 1)
    return none;
  const Type &xt = n.inputs[0].type();
  if (xt.elem() != ElemKind::F32 || xt.rank() < 3 ||
      n.inputs[1].type().elem() != ElemKind::F32 ||
      n.inputs[2].type().elem() != ElemKind::F32)
    return none;
  const Dims &xd = xt.dims();
  const int64_t c = xd[1];
  int64_t w = 1;
  for (size_t d = 2; d < xd.size(); ++d)
    w *= xd[d];
  if (w < 1 || xt.numElements() == 0 || n.inputs[1].type().numElements() != c ||
      n.inputs[2].type().numElements() != c)
    return none;
  const float eps = float(n.attrFloat("epsilon", 1e-5));
  auto sum = [&](Value v, bool aligned) {
    return b.op(OpKind::PacketSum, {v},
                {{"axis", Attr::ofInt(2)},
                 {"lanes", Attr::ofInt(4)},
                 {"aligned", Attr::ofInt(aligned ? 1 : 0)}});
  };
  // scale and B as [C, 1, ...]: broadcast over the planes' elements.
  Dims cd(xd.size() - 1, 1);
  cd[0] = c;
  auto perChannel = [&](Value v) {
    return b.op(OpKind::Reshape, {v, b.ints(cd)});
  };
  const Value x = n.inputs[0], fw = b.scalar(ElemKind::F32, double(w));
  EMBER_ASSIGN(Value s, sum(x, true));
  EMBER_ASSIGN(Value mean, b.op(OpKind::Div, {s, fw}));
  EMBER_ASSIGN(Value d, b.op(OpKind::Sub, {x, mean}));
  EMBER_ASSIGN(Value sq, b.op(OpKind::Mul, {d, d}));
  EMBER_ASSIGN(Value ss, sum(sq, false));
  EMBER_ASSIGN(Value v, b.op(OpKind::Div, {ss, fw}));
  EMBER_ASSIGN(v, b.op(OpKind::Add, {v, b.scalar(ElemKind::F32, eps)}));
  EMBER_ASSIGN(v, b.op(OpKind::Sqrt, {v}));
  EMBER_ASSIGN(Value inv, b.op(OpKind::Div, {b.scalar(ElemKind::F32, 1.0), v}));
  EMBER_ASSIGN(Value scale, perChannel(n.inputs[1]));
  EMBER_ASSIGN(Value bias, perChannel(n.inputs[2]));
  EMBER_ASSIGN(Value a, b.op(OpKind::Mul, {inv, scale}));
  EMBER_ASSIGN(Value ma, b.op(OpKind::Mul, {mean, a}));
  EMBER_ASSIGN(Value shift, b.op(OpKind::Sub, {bias, ma}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Mul, {x, a}));
  EMBER_ASSIGN(y, b.op(OpKind::Add, {y, shift}));
  return std::optional<Value>(y);
}

} // namespace ember

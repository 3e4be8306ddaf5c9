// Lowerings of the quantized contrib ops. QLinearGlobalAveragePool (and
// QLinearAdd with non-constant quantization parameters) dequantize, compute
// in float and quantize (QuantizeLinear rounds half to even and saturates);
// QLinearAdd with constant parameters reproduces the reference kernel's
// arithmetic (ONNX Runtime's multiply-add form) with float primitives.
#include "interp/kernels/QuantUtil.h"
#include "lower/Lowering.h"

namespace ember {

namespace {
const Tensor *constantOf(Value v) {
  return v.node && v.node->kind == OpKind::Constant ? v.node->payload.get()
                                                    : nullptr;
}

Expected<Value> cast(LoweringBuilder &b, Value v, ElemKind k) {
  return b.op(OpKind::Cast, {v}, {{"to", Attr::ofInt(elemKindToOnnx(k))}});
}

// fma(x, r, c) rounded to f32, computed exactly in f64 (as the kernel).
Expected<Value> fusedMulAdd(LoweringBuilder &b, Value x, float r, Value c) {
  EMBER_ASSIGN(Value xd, cast(b, x, ElemKind::F64));
  EMBER_ASSIGN(Value cd, cast(b, c, ElemKind::F64));
  EMBER_ASSIGN(Value v, b.op(OpKind::Mul, {xd, b.scalar(ElemKind::F64, r)}));
  EMBER_ASSIGN(v, b.op(OpKind::Add, {v, cd}));
  return cast(b, v, ElemKind::F32);
}

// c + s * r in f32 (two roundings), s a quantized operand.
Expected<Value> scalarPart(LoweringBuilder &b, Value s, float r, float c) {
  EMBER_ASSIGN(Value v, cast(b, s, ElemKind::F32));
  EMBER_ASSIGN(v, b.op(OpKind::Mul, {v, b.scalar(ElemKind::F32, r)}));
  return b.op(OpKind::Add, {v, b.scalar(ElemKind::F32, c)});
}

// The kernel's form (qaddParams) with f32/f64 primitives.
Expected<Value> multiplyAddForm(LoweringBuilder &b, const QAddParams &qp) {
  ElemKind k = b.inType(0).elem();
  Value a = b.in(0), c = b.in(3);
  Value v;
  if (b.inType(0).numElements() == 1) {
    EMBER_ASSIGN(Value part, scalarPart(b, a, qp.ra, qp.zpc));
    EMBER_ASSIGN(v, fusedMulAdd(b, c, qp.rb, part));
  } else if (b.inType(3).numElements() == 1) {
    EMBER_ASSIGN(Value part, scalarPart(b, c, qp.rb, qp.zpc));
    EMBER_ASSIGN(v, fusedMulAdd(b, a, qp.ra, part));
  } else {
    EMBER_ASSIGN(Value inner,
                 fusedMulAdd(b, c, qp.rb, b.scalar(ElemKind::F32, qp.zpc)));
    EMBER_ASSIGN(v, fusedMulAdd(b, a, qp.ra, inner));
  }
  EMBER_ASSIGN(v, b.op(OpKind::Round, {v}));
  double lo = 0, hi = 255;
  if (k == ElemKind::I8) {
    lo = -128;
    hi = 127;
  } else if (k == ElemKind::I16) {
    lo = -32768;
    hi = 32767;
  } else if (k == ElemKind::U16) {
    hi = 65535;
  }
  EMBER_ASSIGN(v, b.op(OpKind::Max, {v, b.scalar(ElemKind::F32, lo)}));
  EMBER_ASSIGN(v, b.op(OpKind::Min, {v, b.scalar(ElemKind::F32, hi)}));
  return cast(b, v, k);
}
} // namespace

// QLinearAdd(A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp?): the
// kernel's arithmetic when scales and zero points are constants, else
// dequantize / add / quantize.
Expected<std::vector<Value>> lower_QLinearAdd(LoweringBuilder &b) {
  const Tensor *as = constantOf(b.in(1)), *az = constantOf(b.in(2)),
               *bs = constantOf(b.in(4)), *bz = constantOf(b.in(5)),
               *cs = constantOf(b.in(6));
  const Tensor *cz = b.has(7) ? constantOf(b.in(7)) : nullptr;
  if (as && az && bs && bz && cs && (cz || !b.has(7)) && as->size() == 1 &&
      az->size() == 1 && bs->size() == 1 && bz->size() == 1 &&
      cs->size() == 1 && (!cz || cz->size() == 1)) {
    QAddParams qp = qaddParams(float(as->getDouble(0)), float(bs->getDouble(0)),
                               float(cs->getDouble(0)), az->getInt(0),
                               bz->getInt(0), cz ? cz->getInt(0) : 0);
    EMBER_ASSIGN(Value y, multiplyAddForm(b, qp));
    return std::vector<Value>{y};
  }
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

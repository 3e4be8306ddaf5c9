// The float32 profile's quantized softmax (docs/quantization.md, "Softmax"):
// ONNX Runtime fuses DequantizeLinear -> Softmax -> QuantizeLinear of one
// 8-bit type into its QLinearSoftmax, which works on the stored integers
// alone. Per line along the axis (the input's zero point drops out: only a
// value's distance d from the line's maximum matters):
//
//   e   = T[255 - d]            T: quant::makeSoftmaxTable(x_scale, n)
//   sum = e_0 + e_1 + ...       in float, in index order
//   y   = e * floor(1 / y_scale) / sum, rounded half to even, plus y_zp
//
// One QuantizedSoftmax computes it (quant::softmaxLine); the table is its
// constant operand. The fixed profile keeps the float Softmax between the
// DequantizeLinear and the QuantizeLinear, rounded once as ONNX defines it,
// and so does the float32 profile where ONNX Runtime does not fuse
// (ortStoredKind below).
#include "lower/IntegerForms.h"

namespace ember {

Expected<Value> ortQuantizedSoftmax(LoweringBuilder &b, Value q, int64_t axis,
                                    const QParams &px, const QParams &py) {
  const Type &t = q.type();
  const int64_t r = int64_t(t.rank());
  if (axis < -r || axis >= r)
    return invalid("Softmax: axis ", axis, " is out of range for rank ", r);
  if (axis < 0)
    axis += r;
  Tensor table(Type(ElemKind::F32, {quant::kSoftmaxTableEntries}));
  quant::makeSoftmaxTable(float(px.scale()), t.dims()[size_t(axis)],
                          table.data<float>());
  AttrMap attrs;
  attrs["axis"] = Attr::ofInt(axis);
  attrs["scale"] =
      Attr::ofFloat(double(quant::softmaxScale(float(py.scale()))));
  attrs["y_zero_point"] = Attr::ofInt(py.zeroPoint());
  return b.op(OpKind::QuantizedSoftmax,
              {q, b.constant(std::move(table), "softmax_table")}, attrs);
}

// ONNX Runtime's x86 kernels take uint8 activations: its QDQS8ToU8
// transformer turns an int8 QuantizeLinear -> DequantizeLinear pair into
// uint8 (both zero points + 128) when the QuantizeLinear feeds that
// DequantizeLinear alone and their zero points are equal int8 constants
// of one element. EnsureUniqueDQForNodeUnit has given each reader of a
// DequantizeLinear its own copy first, so the pair survives only when the
// DequantizeLinear feeds one node, or none (a graph output). Its fused
// kernels need operands and results of one kind: an int8 pattern whose
// ends convert differently (a pair at one end, a graph input or output
// at the other) stays float there.
ElemKind
ortStoredKind(Value q,
              const std::unordered_map<const Node *, std::vector<Use>> &users) {
  const ElemKind k = q.type().elem();
  const Node *qn = q.node;
  if (k != ElemKind::I8 || !qn || qn->kind != OpKind::QuantizeLinear)
    return k;
  auto readers = [&](const Node *n) {
    auto it = users.find(n);
    return it == users.end() ? std::vector<Use>() : it->second;
  };
  const std::vector<Use> qr = readers(qn);
  const Node *dq = qr.size() == 1 ? qr[0].user : nullptr;
  if (!dq || dq->kind != OpKind::DequantizeLinear)
    return k;
  size_t nodes = 0, outputs = 0;
  for (const Use &u : readers(dq))
    (u.user ? nodes : outputs)++;
  if (nodes > 1 || (nodes == 1 && outputs > 0))
    return k;
  const Tensor *zq = qn->hasInput(2) ? constantOf(qn->inputs[2]) : nullptr;
  const Tensor *zd = dq->hasInput(2) ? constantOf(dq->inputs[2]) : nullptr;
  if (!zq || !zd || zq->size() != 1 || zd->size() != 1 ||
      zq->getInt(0) != zd->getInt(0))
    return k;
  return ElemKind::U8;
}

OrtKinds ortStoredKinds(
    const Function &f,
    const std::unordered_map<const Node *, std::vector<Use>> &users) {
  OrtKinds kinds;
  for (auto &np : f.nodes()) {
    Node *n = np.get();
    if (n->kind == OpKind::QuantizeLinear)
      kinds[n] = ortStoredKind(Value(n, 0), users);
    else if (n->kind == OpKind::DequantizeLinear)
      kinds[n] = ortStoredKind(n->inputs[0], users);
  }
  return kinds;
}

ElemKind
ortKindAt(const OrtKinds &kinds, const Node *qdq, Value q,
          const std::unordered_map<const Node *, std::vector<Use>> &users) {
  auto it = kinds.find(qdq);
  return it != kinds.end() ? it->second : ortStoredKind(q, users);
}

} // namespace ember

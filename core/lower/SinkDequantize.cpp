// A quantizer that leaves a model's last ops in float (one told to quantize
// only convolutions and matrix products, as PaddleSlim does) writes a
// detection head as DequantizeLinear -> Split -> Sigmoid -> Reshape ->
// Transpose -> Concat of the levels, float up to the model's outputs, with
// no QuantizeLinear after it: nothing of it is an integer pattern. The
// movement in it does not need the float values: this pass moves each
// DequantizeLinear with one scale and zero point past the rearrangements
// (P_Rearrange: Split, Reshape, Transpose, Flatten, Squeeze, Unsqueeze,
// Slice, Gather ...) and Concats after it, so that they move the stored
// integers (docs/quantization.md, "Movement after the last
// DequantizeLinear"):
//   - Rearrange(DequantizeLinear(x)) -> DequantizeLinear(Rearrange(x)),
//     one DequantizeLinear per result of a Split;
//   - Rearrange(U(v)), U a float elementwise unary op (Sigmoid, Tanh,
//     Relu, ...) whose operand is computed from a DequantizeLinear by such
//     ops -> U(Rearrange(v)), per result;
//   - Concat(U(a), U(b), ...) of the same op and attributes ->
//     U(Concat(a, b, ...));
//   - Concat(DequantizeLinear(a), DequantizeLinear(b), ...) of one stored
//     kind -> DequantizeLinear(Concat(a, b, ...)), per-axis along the
//     Concat's axis where the inputs' scales or zero points differ (each
//     input's rows carry its own).
// Every rewritten value is read by nothing but the op it moves past. Exact
// for every element: each result element is the same stored integer
// dequantized by the same scale and zero point and then the same unary op.
#include "lower/LowerUtil.h"

namespace ember {

namespace {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

// A float elementwise op of one operand.
bool floatUnary(const Node *n) {
  return n && n->numResults() == 1 && n->inputs.size() == 1 &&
         hasProp(n->kind, P_Elementwise) && hasProp(n->kind, P_Unary) &&
         n->kind != OpKind::Identity && isFloatKind(n->types[0].elem()) &&
         isFloatKind(n->inputs[0].type().elem());
}

// v is a per-tensor DequantizeLinear's result, or a float unary op's of
// such a value.
bool fromDequantize(Value v) {
  for (Node *n = v.node; n; n = n->inputs[0].node) {
    if (perTensorDequantize(n))
      return true;
    if (!floatUnary(n))
      return false;
  }
  return false;
}

class SinkDequantize {
public:
  explicit SinkDequantize(Function &f) : f_(f) {}

  Expected<size_t> run() {
    size_t total = 0;
    for (bool changed = true; changed;) {
      changed = false;
      std::vector<Node *> work;
      for (auto &np : f_.nodes())
        if (hasProp(np->kind, P_Rearrange) || np->kind == OpKind::Concat)
          work.push_back(np.get());
      bool stale = true; // (the readers change with each rewrite)
      for (Node *m : work) {
        if (stale)
          users_ = f_.computeUsers();
        EMBER_ASSIGN(bool done,
                     m->kind == OpKind::Concat ? concat(*m) : rearrange(*m));
        stale = done;
        total += done;
        changed |= done;
      }
    }
    return total;
  }

private:
  Function &f_;
  Users users_;

  // The op with m's operands but operand 0 replaced by v (its result
  // types inferred again).
  Expected<std::vector<Value>> again(LoweringBuilder &b, const Node &m,
                                     Value v) {
    std::vector<Value> ins = m.inputs;
    ins[0] = v;
    return b.opN(m.kind, ins, m.attrs, int(m.numResults()));
  }

  // Rearrange(DequantizeLinear(x)) and Rearrange(U(v)).
  Expected<bool> rearrange(Node &m) {
    if (m.inputs.empty() || m.kind == OpKind::Identity)
      return false;
    Node *p = m.inputs[0].node;
    if (!p || soleReaderOf(users_, p) != &m || !fromDequantize(m.inputs[0]))
      return false;
    // Operand 0 alone is rearranged; the others (shapes, indices) are read
    // as they are.
    for (size_t i = 1; i < m.inputs.size(); ++i)
      if (m.inputs[i].node == p)
        return false;
    LoweringBuilder b(f_, m);
    EMBER_ASSIGN(std::vector<Value> moved, again(b, m, p->inputs[0]));
    for (unsigned i = 0; i < m.numResults(); ++i) {
      std::vector<Value> pi = p->inputs;
      pi[0] = moved[i];
      EMBER_ASSIGN(Value y, b.op(p->kind, pi, p->attrs));
      f_.replaceAllUses(Value(&m, i), y);
    }
    f_.erase(&m);
    f_.erase(p);
    return true;
  }

  Expected<bool> concat(Node &c) {
    std::vector<Node *> ps;
    for (const Value &v : c.inputs) {
      if (!v.node || soleReaderOf(users_, v.node) != &c || !fromDequantize(v))
        return false;
      ps.push_back(v.node);
    }
    if (ps.empty())
      return false;
    for (Node *p : ps)
      if (p->kind != ps[0]->kind || p->attrs != ps[0]->attrs)
        return false;
    if (floatUnary(ps[0]))
      return unaryConcat(c, ps);
    return dequantizeConcat(c, ps);
  }

  // Concat(U(a), U(b), ...) -> U(Concat(a, b, ...)).
  Expected<bool> unaryConcat(Node &c, const std::vector<Node *> &ps) {
    LoweringBuilder b(f_, c);
    std::vector<Value> ins;
    for (Node *p : ps)
      ins.push_back(p->inputs[0]);
    EMBER_ASSIGN(Value y, b.op(OpKind::Concat, ins, c.attrs));
    EMBER_ASSIGN(y, b.op(ps[0]->kind, {y}, ps[0]->attrs));
    finish(c, ps, y);
    return true;
  }

  // Concat(DequantizeLinear(a), ...) -> DequantizeLinear(Concat(a, ...)).
  Expected<bool> dequantizeConcat(Node &c, const std::vector<Node *> &ps) {
    const ElemKind stored = ps[0]->inputs[0].type().elem();
    const ElemKind scaleKind = constantOf(ps[0]->inputs[1])->elem();
    const bool zps = ps[0]->hasInput(2);
    bool same = true;
    for (Node *p : ps) {
      if (p->inputs[0].type().elem() != stored ||
          constantOf(p->inputs[1])->elem() != scaleKind ||
          p->hasInput(2) != zps)
        return false;
      same &= constantOf(p->inputs[1])->getDouble(0) ==
                  constantOf(ps[0]->inputs[1])->getDouble(0) &&
              (!zps || constantOf(p->inputs[2])->getInt(0) ==
                           constantOf(ps[0]->inputs[2])->getInt(0));
    }
    const Dims &yd = c.types[0].dims();
    EMBER_ASSIGN(int64_t axis,
                 checkedAxis("Concat", c.attrInt("axis", 0), yd.size()));
    LoweringBuilder b(f_, c);
    std::vector<Value> ins;
    for (Node *p : ps)
      ins.push_back(p->inputs[0]);
    EMBER_ASSIGN(Value y, b.op(OpKind::Concat, ins, c.attrs));
    std::vector<Value> dq = ps[0]->inputs;
    dq[0] = y;
    AttrMap attrs = ps[0]->attrs;
    if (!same) {
      // Each input's rows along the axis carry its scale and zero point.
      Tensor s(Type(scaleKind, {yd[size_t(axis)]}));
      Tensor z(Type(stored, {yd[size_t(axis)]}));
      int64_t k = 0;
      for (Node *p : ps)
        for (int64_t r = 0; r < p->types[0].dims()[size_t(axis)]; ++r, ++k) {
          s.setDouble(k, constantOf(p->inputs[1])->getDouble(0));
          z.setInt(k, zps ? constantOf(p->inputs[2])->getInt(0) : 0);
        }
      dq[1] = b.constant(std::move(s), "scale");
      if (zps)
        dq[2] = b.constant(std::move(z), "zero_point");
      attrs["axis"] = Attr::ofInt(axis);
    }
    EMBER_ASSIGN(y, b.op(OpKind::DequantizeLinear, dq, attrs));
    finish(c, ps, y);
    return true;
  }

  void finish(Node &c, const std::vector<Node *> &ps, Value y) {
    f_.replaceAllUses(Value(&c, 0), y);
    f_.erase(&c);
    for (Node *p : ps)
      f_.erase(p);
  }
};

} // namespace

Status sinkDequantize(Function &f, size_t *numRewritten) {
  SinkDequantize s(f);
  EMBER_ASSIGN(size_t n, s.run());
  if (numRewritten)
    *numRewritten += n;
  return Status::ok();
}

} // namespace ember

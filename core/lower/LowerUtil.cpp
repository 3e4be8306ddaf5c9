#include "lower/LowerUtil.h"

#include "interp/Interpreter.h"

namespace ember {

Expected<Value> castTo(LoweringBuilder &b, Value v, ElemKind k) {
  if (v.type().elem() == k)
    return v;
  return b.op(OpKind::Cast, {v}, {{"to", Attr::ofInt(elemKindToOnnx(k))}});
}

// Arithmetic type: f32 for 16-bit floats, else the type itself.
ElemKind wideKind(ElemKind k) {
  return k == ElemKind::F16 || k == ElemKind::BF16 ? ElemKind::F32 : k;
}

Expected<int64_t> checkedAxis(const char *op, int64_t axis, size_t rank) {
  int64_t r = int64_t(rank);
  if (axis < -r || axis >= r)
    return invalid(op, ": axis ", axis, " out of range for rank ", r);
  return axis < 0 ? axis + r : axis;
}

Expected<Value> swish(LoweringBuilder &b, Value x, double alpha) {
  ElemKind k = x.type().elem();
  Value ax = x;
  if (alpha != 1.0) {
    EMBER_ASSIGN(ax, b.op(OpKind::Mul, {x, b.scalar(k, alpha)}));
  }
  EMBER_ASSIGN(Value s, b.op(OpKind::Sigmoid, {ax}));
  return b.op(OpKind::Mul, {x, s});
}

const Tensor *constantOf(Value v) {
  return v.node && v.node->kind == OpKind::Constant ? v.node->payload.get()
                                                    : nullptr;
}

namespace {
// n's scale (operand 1) and zero point (operand 2, if any) are constants
// of one element.
bool oneScale(const Node *n) {
  if (n->inputs.size() < 2)
    return false;
  const Tensor *s = constantOf(n->inputs[1]);
  if (!s || s->size() != 1 || s->dims().size() > 1)
    return false;
  if (!n->hasInput(2))
    return true;
  const Tensor *z = constantOf(n->inputs[2]);
  return z && z->size() == 1 && z->dims().size() <= 1;
}
} // namespace

bool channelSliceRange(const Node &s, const Dims &dims, int64_t &a,
                       int64_t &b) {
  if (s.kind != OpKind::Slice || dims.size() < 2 || !s.hasInput(3))
    return false;
  const Tensor *st = s.constantInput(1), *en = s.constantInput(2),
               *ax = s.constantInput(3);
  if (!st || !en || !ax || st->size() != 1 || en->size() != 1 ||
      ax->size() != 1)
    return false;
  const int64_t r = int64_t(dims.size()), C = dims[1];
  const int64_t axis = ax->getInt(0) < 0 ? ax->getInt(0) + r : ax->getInt(0);
  if (axis != 1)
    return false;
  if (s.hasInput(4)) {
    const Tensor *sp = s.constantInput(4);
    if (!sp || sp->size() != 1 || sp->getInt(0) != 1)
      return false;
  }
  auto clampBound = [&](int64_t v) {
    return std::max<int64_t>(0, std::min(v < 0 ? v + C : v, C));
  };
  a = clampBound(st->getInt(0));
  b = clampBound(en->getInt(0));
  return a < b;
}

Expected<Value> makeBefore(Function &f, Node *before, OpKind k,
                           std::vector<Value> ins, AttrMap attrs,
                           const std::string &name) {
  EMBER_ASSIGN(Node * nd,
               f.create(k, std::move(ins), std::move(attrs), name, -1, before));
  return Value(nd, 0);
}

Expected<Value> selectionWeights(LoweringBuilder &b, Tensor w,
                                 const std::string &what) {
  Value wq = b.constant(std::move(w), what);
  Value one = b.constant(Tensor::scalar(ElemKind::F32, 1.0), "one");
  Value zero = b.constant(Tensor::scalar(ElemKind::I8, 0), "zero");
  return b.op(OpKind::DequantizeLinear, {wq, one, zero});
}

Value int64Constant(Function &f, const std::string &name,
                    const std::vector<int64_t> &v) {
  return Value(f.addConstant(name, Tensor::fromInts(ElemKind::I64, v)));
}

bool perTensorDequantize(const Node *n) {
  return n && n->kind == OpKind::DequantizeLinear && oneScale(n);
}

bool perTensorQuantize(const Node *n) {
  return n && n->kind == OpKind::QuantizeLinear && oneScale(n);
}

Node *
soleReaderOf(const std::unordered_map<const Node *, std::vector<Use>> &users,
             const Node *n) {
  auto it = users.find(n);
  if (it == users.end() || it->second.size() != 1 || !it->second[0].user)
    return nullptr;
  return it->second[0].user;
}

void eraseUnread(Function &f, Node *n, std::set<const Node *> &gone,
                 bool everyInput) {
  if (gone.count(n))
    return;
  auto users = f.computeUsers();
  auto it = users.find(n);
  if (it != users.end() && !it->second.empty())
    return;
  std::vector<Node *> ins;
  for (const Value &v : n->inputs)
    if (v.node && (everyInput || v.node->kind == OpKind::Constant))
      ins.push_back(v.node);
  gone.insert(n);
  f.erase(n);
  for (Node *c : ins)
    eraseUnread(f, c, gone, everyInput);
}

// Runs the node's reference kernel and returns its results as constants.
// Operands that are not constants are passed as zero tensors of their type,
// so only use this where the kernel does not read them (or where type
// inference already required them to be constant).
Expected<std::vector<Value>> foldToConstants(LoweringBuilder &b,
                                             bool allowUnknown) {
  Node &n = b.node();
  std::vector<Tensor> zeros(n.inputs.size());
  std::vector<const Tensor *> ins(n.inputs.size(), nullptr);
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (!b.has(i))
      continue;
    if (const Tensor *c = constantOf(b.in(i))) {
      ins[i] = c;
      continue;
    }
    if (!allowUnknown)
      return unsupported(opName(n.kind), ": operand #", i,
                         " must be a constant to lower ", n.describe());
    zeros[i] = Tensor(b.inType(i));
    ins[i] = &zeros[i];
  }
  EMBER_ASSIGN(std::vector<Tensor> values, evaluateNode(n, ins));
  std::vector<Value> out;
  for (Tensor &t : values)
    out.push_back(b.constant(std::move(t)));
  return out;
}

} // namespace ember

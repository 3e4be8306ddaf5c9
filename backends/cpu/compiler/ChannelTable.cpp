// Loop groups that are a function of one 8-bit operand and the channel
// index become table lookups (README.md, "Per-channel tables").
//
// An int8 layer's elementwise tail (QuantizedAdd of a constant bias row, then
// DequantizeLinear, a per-channel affine (BatchNormalization), Relu and
// QuantizeLinear; or a HardSwish's x times a TableLookup of x, requantized)
// reads one 8-bit value per element; every other operand is a constant that
// varies along one axis at most (or a lookup table). Such a group takes at most
// 256 values per channel, so it is tabulated at compile time by the
// reference interpreter itself, over a [256, (1..,) C, (..1)] operand that
// holds every 8-bit value in every channel, and the loop becomes
// y = table[c * 256 + (x - lowest)]: bit-exact by construction with every
// rounding of the chain (Requantize's, QuantizedAdd's, QuantizeLinear's
// division), at the cost of one load per element.
#include "Capability.h"
#include "Program.h"

#include "interp/Interpreter.h"

#include <unordered_map>

namespace ember::cpugen {

namespace {

// Tables above this many bytes stay expression loops (a table should stay
// in the first two cache levels beside the data it maps).
constexpr int64_t kMaxTableBytes = 64 << 10;

bool tabulable(ElemKind k) {
  switch (k) {
  case ElemKind::U8:
  case ElemKind::I8:
  case ElemKind::U16:
  case ElemKind::I16:
  case ElemKind::I32:
  case ElemKind::U32:
  case ElemKind::F32:
    return true;
  default:
    return false;
  }
}

// Members whose arithmetic costs more than a table load per element: the
// fixed-point steps (64-bit products) and the transcendental functions.
// Chains of cheap float steps vectorize to a fraction of a cycle an
// element, less than the (scalar) table load, and stay expressions.
bool costly(OpKind k) {
  return hasProp(k, P_Transcendental) || k == OpKind::QuantizedAdd ||
         k == OpKind::Requantize;
}

bool hasAxis(OpKind k) {
  return k == OpKind::QuantizeLinear || k == OpKind::DequantizeLinear ||
         k == OpKind::Requantize;
}

// The axis (of rank-r `dims`, right-aligned) along which constant operand c
// of member n varies: -1 when it is one value; -2 when it varies along
// several, or is not a numpy broadcast to the loop.
int64_t varyingAxis(const Node &n, size_t operand, const Value &c,
                    const Dims &dims) {
  const Dims &d = c.type().dims();
  if (c.type().numElements() == 1)
    return -1;
  if (hasAxis(n.kind) && operand > 0) {
    // A per-axis scale or zero point: 1-D along the node's axis.
    int64_t r = int64_t(n.inputs[0].type().dims().size());
    int64_t a = n.attrInt("axis", 1);
    a = a < 0 ? a + r : a;
    if (d.size() != 1 || a < 0 || a >= r || n.inputs[0].type().dims() != dims)
      return -2;
    return a;
  }
  if (d.size() > dims.size())
    return -2;
  int64_t axis = -1;
  size_t off = dims.size() - d.size();
  for (size_t i = 0; i < d.size(); ++i) {
    if (d[i] == 1)
      continue;
    if (d[i] != dims[off + i] || axis >= 0)
      return -2;
    axis = int64_t(off + i);
  }
  return axis;
}

// Whether `g` qualifies; sets the 8-bit operand and the channel axis.
bool qualifies(const Group &g, Value &x, int64_t &axis) {
  if (g.kind != GroupKind::Loop || g.members.size() < 2)
    return false;
  const Dims &dims = g.root->types[0].dims();
  if (!tabulable(g.root->types[0].elem()) || dims.empty())
    return false;
  axis = -1;
  bool worth = false;
  for (const Node *m : g.members)
    worth = worth || costly(m->kind);
  if (!worth)
    return false;
  for (const Node *m : g.members) {
    if (opClass(m->kind) != OpClass::Loop || m->numResults() != 1 ||
        m->kind == OpKind::ConstantOfShape ||
        (m->hasAttr("axis") && !hasAxis(m->kind)) || m->types[0].dims() != dims)
      return false;
    for (size_t i = 0; i < m->inputs.size(); ++i) {
      const Value &in = m->inputs[i];
      if (!in || contains(g, in.node))
        continue;
      // A TableLookup's 256 entries are indexed by its 8-bit operand, not
      // broadcast over the loop: the same for every element (MobileNetV3's
      // HardSwish in QDQ models: x times a table of x, requantized).
      if (m->kind == OpKind::TableLookup && i == 1 && isConstant(in))
        continue;
      if (isConstant(in)) {
        int64_t a = varyingAxis(*m, i, in, dims);
        if (a == -2 || (a >= 0 && axis >= 0 && a != axis))
          return false;
        if (a >= 0)
          axis = a;
        continue;
      }
      if (x && in != x)
        return false;
      x = in;
    }
  }
  return x &&
         (x.type().elem() == ElemKind::U8 || x.type().elem() == ElemKind::I8) &&
         x.type().dims() == dims;
}

// The group evaluated by the interpreter on every 8-bit value of x in every
// channel: [256 * C] values, row q holding x = lowest + q.
Expected<Tensor> evaluate(const Group &g, const Value &x, int64_t axis) {
  const Dims &dims = g.root->types[0].dims();
  int64_t C = axis >= 0 ? dims[size_t(axis)] : 1;
  Dims td(dims.size() + 1, 1);
  td[0] = 256;
  if (axis >= 0)
    td[size_t(axis) + 1] = C;
  Function tf("table");
  ElemKind xk = x.type().elem();
  Node *p = tf.addPlaceholder("x", Type(xk, td));
  std::unordered_map<const Node *, Node *> map;
  auto operand = [&](const Value &v) -> Value {
    if (!v)
      return Value();
    if (v == x)
      return Value(p);
    auto it = map.find(v.node);
    if (it != map.end())
      return Value(it->second, v.idx);
    Node *c = tf.addConstant(v.name(), v.node->payload);
    map[v.node] = c;
    return Value(c);
  };
  for (const Node *m : g.members) {
    std::vector<Value> ins;
    for (auto &in : m->inputs)
      ins.push_back(operand(in));
    AttrMap attrs = m->attrs;
    if (hasAxis(m->kind) && attrs.count("axis") &&
        attrs.at("axis").kind == Attr::Kind::Int && attrs.at("axis").i >= 0)
      attrs["axis"].i += 1; // the table's leading dim of 256
    EMBER_ASSIGN(Node * c, tf.create(m->kind, ins, attrs, m->name, 1));
    if (c->types[0].elem() != m->types[0].elem())
      return makeError(ErrorCode::Internal, "table of ", m->describe(),
                       ": result kind differs");
    map[m] = c;
  }
  tf.addOutput(Value(map.at(g.root)), "y");
  Tensor xs(Type(xk, td));
  int64_t lowest = xk == ElemKind::I8 ? -128 : 0;
  for (int64_t q = 0; q < 256; ++q)
    for (int64_t c = 0; c < C; ++c)
      xs.setDouble(q * C + c, double(lowest + q));
  EMBER_ASSIGN(auto outs, interpret(tf, {xs}));
  // [256][C] -> [C][256]
  const Tensor &y = outs[0];
  Tensor t(Type(y.type().elem(), {C * 256}));
  size_t es = size_t(elemSize(y.type().elem()));
  for (int64_t q = 0; q < 256; ++q)
    for (int64_t c = 0; c < C; ++c)
      std::memcpy(
          static_cast<uint8_t *>(t.raw()) + size_t(c * 256 + q) * es,
          static_cast<const uint8_t *>(y.raw()) + size_t(q * C + c) * es, es);
  return t;
}

} // namespace

Status tabulateChannelLoops(std::vector<Group> &groups,
                            const CompileConfig &cfg, FusionStats *stats) {
  if (!cfg.fuse)
    return Status::ok();
  for (Group &g : groups) {
    Value x;
    int64_t axis = -1;
    if (!qualifies(g, x, axis))
      continue;
    const Dims &dims = g.root->types[0].dims();
    int64_t C = axis >= 0 ? dims[size_t(axis)] : 1;
    const int64_t tableBytes =
        C * 256 * int64_t(elemSize(g.root->types[0].elem()));
    if (tableBytes > kMaxTableBytes)
      continue;
    // Arm bundles (a microcontroller's flash is its budget): a table only
    // where the loop computes at least as many elements as it has entries.
    if (cfg.kernels == Kernels::Edge &&
        g.root->types[0].numElements() < C * 256)
      continue;
    auto t = evaluate(g, x, axis);
    if (!t)
      continue; // the interpreter refused the table's shapes: keep the loop
    g.chanTable = std::make_shared<const Tensor>(std::move(*t));
    g.chanInput = x;
    g.chanAxis = int(axis);
    if (stats)
      ++stats->tabulatedLoops;
  }
  return Status::ok();
}

} // namespace ember::cpugen

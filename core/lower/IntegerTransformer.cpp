// Lowers the QDQ transformer patterns ONNX Runtime's quantize_static writes
// into the fixed profile's integer forms (docs/quantization.md,
// "Transformers: softmax, normalization and GELU"; ember/quant/
// Transformer.h):
//
//   DQ -> Softmax -> Q                              IntegerSoftmax
//   DQ -> LayerNormalization / RMSNormalization -> Q
//   DQ -> ReduceMean, Sub, Pow (or Mul), ReduceMean, Add(eps), Sqrt, Div
//         [-> Mul(gamma) -> Add(beta)] -> Q         IntegerNormalization
//         (RMS: no ReduceMean/Sub; Q -> DQ pairs on the variance path are
//         passed through: the integer form keeps the variance exact; the
//         difference may be transposed, the mean over the axes the
//         Transpose moves last: the transposed integers normalized)
//   DQ -> ReduceMax, Sub, Exp, ReduceSum, Div -> Q  IntegerSoftmax
//         (the decomposed Softmax; ReduceMax and Sub may be absent, Q -> DQ
//         pairs between them are passed through)
//   DQ -> a region with Erf, Tanh or Gelu (GELU in either form, crossing
//         Q -> DQ pairs) -> Q                       TableLookup
//         (int16: any region with a curve, a HardSwish or SiLU written
//         out included: the interpolated 16-bit table)
//
// u8, i8 and int16 (zero point 0) activations, per tensor. It runs before
// lowerIntegerPatterns, while the patterns are whole, in the fixed profile
// only: the float32 profile promises ONNX Runtime's bits, and ONNX Runtime
// runs these ops in float (its QLinearSoftmax: Float32Softmax.cpp).
#include "lower/IntegerForms.h"

#include "interp/Interpreter.h"

#include "ember/quant/Transformer.h"

#include <algorithm>
#include <iterator>
#include <set>

namespace ember {

// Named: a unity build puts this file's helpers next to other lowerings'.
namespace transformer_patterns {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

// A stored activation an integer transformer form reads or writes: 8-bit,
// or int16 with zero point 0, per tensor.
bool storedActivation(const QParams &p) {
  if (!p.perTensor())
    return false;
  if (p.kind == ElemKind::U8 || p.kind == ElemKind::I8)
    return true;
  return p.kind == ElemKind::I16 && p.zeroPoint() == 0;
}

struct Stored {
  Value q;
  QParams p;
};

std::optional<Stored> dequantizedInput(Value v) {
  if (!v.node || v.node->kind != OpKind::DequantizeLinear)
    return std::nullopt;
  auto p = dequantizeParams(*v.node);
  if (!p || !storedActivation(*p))
    return std::nullopt;
  return Stored{v.node->inputs[0], *p};
}

const std::vector<Use> &usersOf(const Users &users, const Node *n) {
  static const std::vector<Use> none;
  auto it = users.find(n);
  return it == users.end() ? none : it->second;
}

Node *soleUser(const Users &users, const Node *n) {
  const std::vector<Use> &u = usersOf(users, n);
  return u.size() == 1 ? u[0].user : nullptr;
}

// The real values of a constant, or of the DequantizeLinear of constants.
std::optional<Tensor> realConstant(Value v) {
  if (const Tensor *c = constantOf(v))
    return isFloatKind(c->elem()) ? std::optional<Tensor>(*c) : std::nullopt;
  if (!v.node || v.node->kind != OpKind::DequantizeLinear)
    return std::nullopt;
  Function g("constant");
  std::vector<Value> ins;
  for (const Value &in : v.node->inputs) {
    const Tensor *c = in.node ? constantOf(in) : nullptr;
    if (in.node && !c)
      return std::nullopt;
    ins.push_back(c ? Value(g.addConstant("c", *c)) : Value());
  }
  auto dq = g.create(OpKind::DequantizeLinear, ins, v.node->attrs);
  if (!dq)
    return std::nullopt;
  g.addOutput(Value(*dq), "y");
  auto outs = interpret(g, {});
  if (!outs || outs->size() != 1)
    return std::nullopt;
  return std::move((*outs)[0]);
}

// The values of a real constant that multiplies or adds along a row of
// `row` (the trailing dims of x from the normalized axis): one value, or one
// per element of a row (its dims those trailing dims, leading 1s aside).
std::optional<std::vector<double>> rowConstant(Value v, const Dims &row) {
  auto t = realConstant(v);
  if (!t)
    return std::nullopt;
  std::vector<double> out;
  if (t->size() != 1) {
    Dims d = t->dims(), r = row;
    while (!d.empty() && d.front() == 1)
      d.erase(d.begin());
    while (!r.empty() && r.front() == 1)
      r.erase(r.begin());
    if (d != r)
      return std::nullopt;
  }
  for (int64_t i = 0; i < t->size(); ++i)
    out.push_back(t->getDouble(i));
  return out;
}

std::optional<double> scalarConstant(Value v) {
  auto t = realConstant(v);
  if (!t || t->size() != 1)
    return std::nullopt;
  return t->getDouble(0);
}

// The axes a reduction of `kind` (ReduceMean unless said) reduces (sorted,
// normalized), or empty when n is not one, its axes are not constant or
// keepdims is 0.
Dims reducedAxes(const Node &n, OpKind kind = OpKind::ReduceMean) {
  if (n.kind != kind || n.attrInt("keepdims", 1) == 0)
    return {};
  std::vector<int64_t> axes;
  if (n.hasInput(1)) {
    const Tensor *a = constantOf(n.inputs[1]);
    if (!a)
      return {};
    for (int64_t i = 0; i < a->size(); ++i)
      axes.push_back(a->getInt(i));
  } else {
    axes = n.attrInts("axes");
  }
  const int64_t r = int64_t(n.inputs[0].type().rank());
  Dims out;
  for (int64_t a : axes) {
    if (a < -r || a >= r)
      return {};
    out.push_back(a < 0 ? a + r : a);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// True when axes are [first, rank) for some first.
bool trailingAxes(const Dims &axes, size_t rank) {
  if (axes.empty())
    return false;
  for (size_t i = 0; i < axes.size(); ++i)
    if (axes[i] != int64_t(rank - axes.size() + i))
      return false;
  return true;
}

// v with any QuantizeLinear -> DequantizeLinear pairs before it passed
// through (their rounding is what the integer form leaves out), recording
// the nodes passed.
Value throughPairs(Value v, std::vector<Node *> &seen) {
  while (v.node && v.node->kind == OpKind::DequantizeLinear &&
         v.node->inputs[0].node &&
         v.node->inputs[0].node->kind == OpKind::QuantizeLinear) {
    seen.push_back(v.node);
    seen.push_back(v.node->inputs[0].node);
    v = v.node->inputs[0].node->inputs[0];
  }
  return v;
}

AttrMap resultAttrs(const QParams &py) {
  AttrMap a;
  a["to"] = Attr::ofInt(elemKindToOnnx(py.kind));
  a["y_zero_point"] = Attr::ofInt(py.zeroPoint());
  return a;
}

class TransformerRewriter {
public:
  explicit TransformerRewriter(Function &f) : f_(f) {}

  Expected<size_t> run() {
    std::vector<Node *> work;
    for (auto &np : f_.nodes())
      work.push_back(np.get());
    users_ = f_.computeUsers();
    for (Node *n : work) {
      if (gone_.count(n))
        continue;
      bool done = false;
      const OpKind k = n->kind;
      if (k == OpKind::Softmax) {
        EMBER_ASSIGN(done, softmax(*n));
      } else if (k == OpKind::LayerNormalization ||
                 k == OpKind::RMSNormalization) {
        EMBER_ASSIGN(done, normalization(*n));
      } else if (k == OpKind::Div) {
        EMBER_ASSIGN(done, decomposedNorm(*n));
        if (!done) {
          EMBER_ASSIGN(done, decomposedSoftmax(*n));
        }
      } else if (k == OpKind::DequantizeLinear) {
        EMBER_ASSIGN(done, tableRegion(*n));
      }
      if (done) {
        ++count_;
        users_ = f_.computeUsers();
      }
    }
    // (A normalization that reads a QuantizeLinear placed after its Div.)
    if (sort_)
      EMBER_TRY(f_.topoSort());
    return count_;
  }

private:
  // The QuantizeLinear that alone reads result 0 of n (dims unchanged).
  std::optional<std::pair<Node *, QParams>> quantizedBy(Node &n) {
    Node *q = soleUser(users_, &n);
    if (!q || q->kind != OpKind::QuantizeLinear || q->inputs[0] != Value(&n, 0))
      return std::nullopt;
    auto p = quantizeParams(*q);
    if (!p || !storedActivation(*p))
      return std::nullopt;
    return std::make_pair(q, *p);
  }

  // Replaces the QuantizeLinear q by y, then erases the nodes of `pattern`
  // nothing reads any more (readers first).
  void replace(Node *q, Value y, std::vector<Node *> pattern) {
    f_.replaceAllUses(Value(q, 0), y);
    pattern.push_back(q);
    for (bool changed = true; changed;) {
      changed = false;
      Users users = f_.computeUsers();
      for (Node *&n : pattern)
        if (n && !users.count(n)) {
          gone_.insert(n);
          f_.erase(n);
          n = nullptr;
          changed = true;
        }
    }
  }

  // Every reader of the nodes in `inner` is in `pattern` (or is `out`).
  bool closed(const std::vector<Node *> &inner,
              const std::vector<Node *> &pattern, const Node *out) {
    std::set<const Node *> in(pattern.begin(), pattern.end());
    for (const Node *n : inner)
      for (const Use &u : usersOf(users_, n))
        if (!u.user || (u.user != out && !in.count(u.user)))
          return false;
    return true;
  }

  // The IntegerSoftmax of x along `axis` (normalized) into py.
  Expected<Value> buildSoftmax(Node &at, const Stored &x, int64_t axis,
                               const QParams &py) {
    quant::SoftmaxParams sp = quant::makeSoftmaxParams(
        x.p.scale(), py.scale(), int32_t(py.zeroPoint()),
        int32_t(lowestOf(py.kind)), int32_t(highestOf(py.kind)));
    AttrMap a = resultAttrs(py);
    a["axis"] = Attr::ofInt(axis);
    a["in_multiplier"] = Attr::ofInt(sp.in.mult);
    a["in_shift"] = Attr::ofInt(sp.in.shift);
    a["out_multiplier"] = Attr::ofInt(sp.out.mult);
    a["out_shift"] = Attr::ofInt(sp.out.shift);
    LoweringBuilder b(f_, at);
    return b.op(OpKind::IntegerSoftmax, {x.q}, a);
  }

  Expected<bool> softmax(Node &n) {
    auto x = dequantizedInput(n.inputs[0]);
    auto out = quantizedBy(n);
    if (!x || !out)
      return false;
    const int64_t r = int64_t(x->q.type().rank());
    int64_t axis = n.attrInt("axis", -1);
    if (axis < -r || axis >= r)
      return false;
    EMBER_ASSIGN(Value y,
                 buildSoftmax(n, *x, axis < 0 ? axis + r : axis, out->second));
    replace(out->first, y, {&n});
    return true;
  }

  // The decomposed Softmax, anchored on its Div(e, ReduceSum(e)) with
  // e = Exp(x - ReduceMax(x)) or Exp(x), over one axis, keepdims (how
  // exporters that write Softmax out, and Softmax's own ONNX function body,
  // put it), x a DequantizeLinear's result of the Div's shape.
  Expected<bool> decomposedSoftmax(Node &div) {
    std::vector<Node *> pat{&div};
    Value e = div.inputs[0];
    Value sum = throughPairs(div.inputs[1], pat);
    if (!sum.node)
      return false;
    Node *rs = sum.node;
    const Dims axes = reducedAxes(*rs, OpKind::ReduceSum);
    if (axes.size() != 1 || rs->inputs[0] != e)
      return false;
    pat.push_back(rs);
    Value ex = throughPairs(e, pat);
    if (!ex.node || ex.node->kind != OpKind::Exp)
      return false;
    pat.push_back(ex.node);
    Value t = throughPairs(ex.node->inputs[0], pat);
    Value xdq = t;
    if (t.node && t.node->kind == OpKind::Sub) {
      Node *mx = throughPairs(t.node->inputs[1], pat).node;
      if (!mx || reducedAxes(*mx, OpKind::ReduceMax) != axes ||
          mx->inputs[0] != t.node->inputs[0])
        return false;
      pat.push_back(t.node);
      pat.push_back(mx);
      xdq = t.node->inputs[0];
    }
    auto x = dequantizedInput(xdq);
    if (!x || xdq.type().dims() != div.types[0].dims())
      return false;
    auto out = quantizedBy(div);
    if (!out || !closed(pat, pat, out->first))
      return false;
    EMBER_ASSIGN(Value y, buildSoftmax(div, *x, axes.front(), out->second));
    replace(out->first, y, pat);
    return true;
  }

  // The IntegerNormalization of x over the axes from `axis` into py.
  Expected<Value> buildNorm(Node &at, const Stored &x, int64_t axis,
                            bool center, double eps,
                            const std::vector<double> &gamma,
                            const std::vector<double> &beta,
                            const QParams &py) {
    const Dims &dims = x.q.type().dims();
    int64_t row = 1;
    for (size_t d = size_t(axis); d < dims.size(); ++d)
      row *= dims[d];
    quant::NormParams np = quant::makeNormParams(
        x.p.scale(), int32_t(x.p.zeroPoint()), py.scale(),
        int32_t(py.zeroPoint()), int32_t(lowestOf(py.kind)),
        int32_t(highestOf(py.kind)), row, center, eps, gamma, beta);
    const int64_t c = int64_t(np.mult.size());
    Tensor m(Type(ElemKind::I32, {c})), s(Type(ElemKind::I32, {c})),
        bias(Type(ElemKind::I64, {c}));
    for (int64_t i = 0; i < c; ++i) {
      m.setInt(i, np.mult[size_t(i)]);
      s.setInt(i, np.shift[size_t(i)]);
      bias.setInt(i, np.bias[size_t(i)]);
    }
    AttrMap a = resultAttrs(py);
    a["axis"] = Attr::ofInt(axis);
    a["center"] = Attr::ofInt(center ? 1 : 0);
    a["epsilon"] = Attr::ofInt(np.epsilon);
    a["x_zero_point"] = Attr::ofInt(x.p.zeroPoint());
    LoweringBuilder b(f_, at);
    return b.op(OpKind::IntegerNormalization,
                {x.q, b.constant(std::move(m), "norm_multiplier"),
                 b.constant(std::move(s), "norm_shift"),
                 b.constant(std::move(bias), "norm_bias")},
                a);
  }

  // LayerNormalization(x, scale, bias?) or RMSNormalization(x, scale)
  // between a DequantizeLinear and a QuantizeLinear.
  Expected<bool> normalization(Node &n) {
    auto x = dequantizedInput(n.inputs[0]);
    auto out = quantizedBy(n);
    if (!x || !out)
      return false;
    // Its mean and inverse deviation results (LayerNormalization's
    // optional ones) unread.
    for (const Use &u : usersOf(users_, &n))
      if (!u.user || u.user->inputs[u.operand] != Value(&n, 0))
        return false;
    const Dims &dims = x->q.type().dims();
    const int64_t r = int64_t(dims.size());
    int64_t axis = n.attrInt("axis", -1);
    if (axis < -r || axis >= r)
      return false;
    axis = axis < 0 ? axis + r : axis;
    const Dims row(dims.begin() + axis, dims.end());
    auto gamma = rowConstant(n.inputs[1], row);
    std::optional<std::vector<double>> beta = std::vector<double>();
    const bool center = n.kind == OpKind::LayerNormalization;
    if (center && n.hasInput(2))
      beta = rowConstant(n.inputs[2], row);
    if (!gamma || !beta)
      return false;
    EMBER_ASSIGN(Value y,
                 buildNorm(n, *x, axis, center, n.attrFloat("epsilon", 1e-5),
                           *gamma, *beta, out->second));
    replace(out->first, y, {&n});
    return true;
  }

  // The decomposed forms, anchored on their Div(t, Sqrt(...)).
  Expected<bool> decomposedNorm(Node &div) {
    std::vector<Node *> pat{&div};
    Value t = div.inputs[0];
    Value s = throughPairs(div.inputs[1], pat);
    if (!s.node || s.node->kind != OpKind::Sqrt)
      return false;
    pat.push_back(s.node);
    Value ve = throughPairs(s.node->inputs[0], pat);
    if (!ve.node || ve.node->kind != OpKind::Add)
      return false;
    Node *add = ve.node;
    pat.push_back(add);
    std::optional<double> eps;
    Value var;
    for (int side = 0; side < 2 && !eps; ++side)
      if ((eps = scalarConstant(add->inputs[size_t(side)])))
        var = throughPairs(add->inputs[size_t(1 - side)], pat);
    if (!eps || !var.node || var.node->kind != OpKind::ReduceMean)
      return false;
    Node *m2 = var.node;
    pat.push_back(m2);
    const Dims axes = reducedAxes(*m2);
    Node *sq = m2->inputs[0].node;
    if (!sq || !trailingAxes(axes, t.type().rank()))
      return false;
    const bool pow = sq->kind == OpKind::Pow && sq->inputs[0] == t &&
                     scalarConstant(sq->inputs[1]) == std::optional(2.0);
    const bool mul =
        sq->kind == OpKind::Mul && sq->inputs[0] == t && sq->inputs[1] == t;
    if (!pow && !mul)
      return false;
    pat.push_back(sq);
    // t = x - mean(x) (LayerNorm) or x (RMSNorm); or t = Transpose(x -
    // mean(x)) with the mean over the axes the Transpose moves to `axes`
    // (ONNX Runtime's pre-processing writes a sequence's LayerNorm after
    // a flatten so: the mean and the Sub before the tokens' Transpose),
    // normalized as the mean of Transpose(x).
    bool center = false;
    Value xdq = t;
    std::vector<int64_t> perm;
    Node *sub = t.node;
    if (sub && sub->kind == OpKind::Transpose && sub->inputs[0].node &&
        sub->inputs[0].node->kind == OpKind::Sub &&
        soleUser(users_, sub->inputs[0].node) == sub) {
      perm = sub->attrInts("perm");
      pat.push_back(sub);
      sub = sub->inputs[0].node;
    }
    if (sub && sub->kind == OpKind::Sub) {
      Node *m1 = sub->inputs[1].node;
      Dims moved;
      if (m1)
        for (int64_t a : reducedAxes(*m1))
          for (size_t i = 0; i < perm.size(); ++i)
            if (perm[i] == a)
              moved.push_back(int64_t(i));
      std::sort(moved.begin(), moved.end());
      if (!m1 || (perm.empty() ? reducedAxes(*m1) : moved) != axes ||
          m1->inputs[0] != sub->inputs[0])
        return false;
      center = true;
      xdq = sub->inputs[0];
      pat.push_back(sub);
      pat.push_back(m1);
    } else if (!perm.empty()) {
      return false;
    }
    auto x = dequantizedInput(xdq);
    Dims xd = xdq.type().dims();
    if (!perm.empty() && perm.size() == xd.size())
      for (size_t i = 0; i < perm.size(); ++i)
        xd[i] = xdq.type().dims()[size_t(perm[i])];
    if (!x || xd != div.types[0].dims())
      return false;
    // [Mul(gamma)] [Add(beta)] then the QuantizeLinear.
    const Dims &dims = xd;
    const Dims row(dims.begin() + axes.front(), dims.end());
    std::vector<double> gamma{1.0}, beta;
    Node *last = &div;
    for (OpKind k : {OpKind::Mul, OpKind::Add}) {
      Node *u = soleUser(users_, last);
      if (!u || u->kind != k || u->inputs.size() != 2)
        continue;
      // Either operand order (exporters write gamma * x as well).
      const size_t side = u->inputs[0] == Value(last, 0) ? 1 : 0;
      if (u->inputs[1 - side] != Value(last, 0))
        continue;
      auto c = rowConstant(u->inputs[side], row);
      if (!c || u->types[0].dims() != dims)
        continue;
      (k == OpKind::Mul ? gamma : beta) = *c;
      pat.push_back(u);
      last = u;
    }
    auto out = quantizedBy(*last);
    std::vector<Node *> inner(pat.begin(), pat.end());
    if (!out || !closed(inner, pat, out->first))
      return false;
    if (!perm.empty()) {
      EMBER_ASSIGN(x->q, transposed(div, xdq, *x, perm));
    }
    EMBER_ASSIGN(Value y, buildNorm(div, *x, axes.front(), center, *eps, gamma,
                                    beta, out->second));
    replace(out->first, y, pat);
    return true;
  }

  // The stored integers of Transpose(xdq) (xdq the DequantizeLinear of x):
  // the QuantizeLinear of a float Transpose of xdq with x's parameters when
  // the graph has one (the same integers), else an integer Transpose of x.
  Expected<Value> transposed(Node &at, Value xdq, const Stored &x,
                             const std::vector<int64_t> &perm) {
    for (const Use &u : usersOf(users_, xdq.node))
      if (u.user && u.user->kind == OpKind::Transpose &&
          u.user->attrInts("perm") == perm)
        if (auto q = quantizedBy(*u.user);
            q && q->second.kind == x.p.kind &&
            q->second.scale() == x.p.scale() &&
            q->second.zeroPoint() == x.p.zeroPoint()) {
          sort_ = true;
          return Value(q->first, 0);
        }
    EMBER_ASSIGN(Node * tr,
                 f_.create(OpKind::Transpose, {x.q},
                           {{"perm", Attr::ofInts(perm)}}, at.name, 1, &at));
    return Value(tr, 0);
  }

  // A member of a table region: an elementwise float op on region values
  // and single-element constants, or a QuantizeLinear / DequantizeLinear
  // pair inside it, all of d's shape.
  bool regionMember(const Node &n, const std::set<const Node *> &region,
                    const Dims &dims) {
    if (n.numResults() != 1 || n.types[0].dims() != dims)
      return false;
    // Cheap tests first: this runs for every node after every
    // DequantizeLinear.
    bool any = false;
    for (const Value &in : n.inputs)
      any |= in.node && region.count(in.node);
    if (!any)
      return false;
    bool reads = false;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Value &in = n.inputs[i];
      if (!in.node)
        continue;
      if (region.count(in.node)) {
        reads = true;
        continue;
      }
      const Tensor *ic = constantOf(in);
      // A scalar, or the DequantizeLinear of one (never a weight's).
      const Tensor *dqc = in.node->kind == OpKind::DequantizeLinear
                              ? constantOf(in.node->inputs[0])
                              : nullptr;
      auto c = (ic && ic->size() == 1) || (dqc && dqc->size() == 1)
                   ? realConstant(in)
                   : std::nullopt;
      const bool param = (n.kind == OpKind::QuantizeLinear ||
                          n.kind == OpKind::DequantizeLinear) &&
                         i > 0 && ic && ic->size() == 1;
      if (!param && !(c && c->size() == 1))
        return false;
    }
    if (!reads)
      return false;
    if (n.kind == OpKind::QuantizeLinear || n.kind == OpKind::DequantizeLinear)
      return n.hasInput(1) && constantOf(n.inputs[1]) &&
             constantOf(n.inputs[1])->size() == 1;
    return hasProp(n.kind, P_Elementwise) && isFloatKind(n.types[0].elem());
  }

  static bool nonlinearUnary(OpKind k) {
    static constexpr OpKind kCurves[] = {
        OpKind::Exp,        OpKind::Log,      OpKind::Sqrt,
        OpKind::Reciprocal, OpKind::Sigmoid,  OpKind::HardSigmoid,
        OpKind::HardSwish,  OpKind::Softplus, OpKind::Elu,
        OpKind::Selu,       OpKind::Mish,     OpKind::Swish};
    return std::find(std::begin(kCurves), std::end(kCurves), k) !=
           std::end(kCurves);
  }

  Expected<bool> tableRegion(Node &d) {
    auto x = dequantizedInput(Value(&d, 0));
    if (!x)
      return false;
    const Dims &dims = d.types[0].dims();
    std::set<const Node *> region{&d};
    std::vector<Node *> members; // program order, d excluded
    bool gelu = false, curve = false, after = false;
    for (auto &np : f_.nodes()) {
      Node *n = np.get();
      if (!after) {
        after = n == &d;
        continue;
      }
      if (!regionMember(*n, region, dims))
        continue;
      // (A product of two region values: x * f(x), a HardSwish or SiLU
      // written out.)
      int inside = 0;
      for (const Value &in : n->inputs)
        inside += in.node && region.count(in.node);
      region.insert(n);
      members.push_back(n);
      gelu |= n->kind == OpKind::Erf || n->kind == OpKind::Tanh ||
              n->kind == OpKind::Gelu;
      curve |= inside > 1 || nonlinearUnary(n->kind);
    }
    // A DequantizeLinear read only outside the region is where it ends:
    // it stays, reading the region's QuantizeLinear.
    for (auto it = members.begin(); it != members.end();) {
      const std::vector<Use> &us = usersOf(users_, *it);
      bool outside = !us.empty();
      for (const Use &u : us)
        outside &= !u.user || !region.count(u.user);
      if ((*it)->kind == OpKind::DequantizeLinear && outside) {
        region.erase(*it);
        it = members.erase(it);
      } else {
        ++it;
      }
    }
    // One exit: a QuantizeLinear; every other member read inside.
    Node *exit = nullptr;
    for (Node *m : members)
      for (const Use &u : usersOf(users_, m))
        if (!u.user || !region.count(u.user)) {
          if (exit && exit != m)
            return false;
          exit = m;
        }
    // An int16 region of any curve (a HardSwish written out on a 16-bit
    // tensor) is a table too: no other integer form takes it. Clamps and
    // affine maps alone keep their exact forms (lowerIntegerPatterns), and
    // 8-bit regions their 256-entry tables there.
    const bool wide = x->p.kind == ElemKind::I16;
    if (!(gelu || (wide && curve)) || !exit ||
        exit->kind != OpKind::QuantizeLinear)
      return false;
    auto py = quantizeParams(*exit);
    if (!py || !storedActivation(*py) ||
        (py->kind == ElemKind::I16) != (x->p.kind == ElemKind::I16))
      return false;
    // Only members the exit depends on.
    std::set<const Node *> need{exit};
    for (auto it = members.rbegin(); it != members.rend(); ++it)
      if (need.count(*it))
        for (const Value &in : (*it)->inputs)
          need.insert(in.node);
    std::vector<Node *> used;
    for (Node *m : members)
      if (need.count(m))
        used.push_back(m);
    EMBER_ASSIGN(Tensor table, regionTable(d, used, *x, *py));
    LoweringBuilder b(f_, *used.front());
    EMBER_ASSIGN(Value y, b.op(OpKind::TableLookup,
                               {x->q, b.constant(std::move(table), "table")}));
    used.pop_back(); // the exit, which replace() adds
    replace(exit, y, used);
    return true;
  }

  // The region's results on `in` (stored values of x's kind).
  Expected<Tensor> evaluate(const Node &d, const std::vector<Node *> &used,
                            const Tensor &in) {
    Function g("region");
    std::unordered_map<const Node *, Value> map;
    map[&d] = Value(g.addPlaceholder("x", in.type()));
    auto operand = [&](const Value &v) -> Expected<Value> {
      if (!v.node)
        return Value();
      auto it = map.find(v.node);
      if (it != map.end())
        return it->second;
      auto c = constantOf(v) ? std::optional<Tensor>(*constantOf(v))
                             : realConstant(v);
      if (!c)
        return makeError(ErrorCode::Internal, "region operand ", v.name());
      return map[v.node] = Value(g.addConstant("c", *c));
    };
    std::vector<Value> dqIns;
    for (size_t i = 1; i < d.inputs.size(); ++i) {
      EMBER_ASSIGN(Value v, operand(d.inputs[i]));
      dqIns.push_back(v);
    }
    dqIns.insert(dqIns.begin(), map[&d]);
    EMBER_ASSIGN(Node * dq, g.create(OpKind::DequantizeLinear, dqIns, d.attrs));
    map[&d] = Value(dq);
    for (Node *m : used) {
      std::vector<Value> ins;
      for (const Value &v : m->inputs) {
        EMBER_ASSIGN(Value o, operand(v));
        ins.push_back(o);
      }
      EMBER_ASSIGN(Node * c, g.create(m->kind, ins, m->attrs));
      map[m] = Value(c);
    }
    g.addOutput(map.at(used.back()), "y");
    EMBER_ASSIGN(auto outs, interpret(g, {in}));
    return std::move(outs.at(0));
  }

  // 8-bit: the region on all 256 inputs. int16: the interpolated 513-entry
  // table (quant::makeTable16) of the region evaluated at its nodes and
  // midpoints (every 64th input).
  Expected<Tensor> regionTable(const Node &d, const std::vector<Node *> &used,
                               const Stored &x, const QParams &py) {
    const ElemKind xk = x.p.kind;
    if (xk != ElemKind::I16) {
      Tensor in(Type(xk, {256}));
      for (int64_t i = 0; i < 256; ++i)
        in.setInt(i, lowestOf(xk) + i);
      return evaluate(d, used, in);
    }
    Tensor in(Type(ElemKind::I16, {1025}));
    for (int64_t k = 0; k <= 1024; ++k)
      in.setInt(k, std::min<int64_t>(64 * k - 32768, 32767));
    EMBER_ASSIGN(Tensor ys, evaluate(d, used, in));
    const double sx = x.p.scale(), sy = py.scale();
    auto f = [&](double v) {
      const int64_t k = std::clamp<int64_t>(
          int64_t(std::llround((v / sx + 32768.0) / 64.0)), 0, 1024);
      return double(ys.getInt(k)) * sy;
    };
    Tensor table(Type(ElemKind::I16, {quant::kTable16Entries}));
    quant::makeTable16(f, sx, sy, table.data<int16_t>());
    return table;
  }

  Function &f_;
  Users users_;
  std::set<const Node *> gone_;
  bool sort_ = false;
  size_t count_ = 0;
};

} // namespace transformer_patterns

Status lowerIntegerTransformer(Function &f, quant::RequantProfile profile,
                               size_t *numRewritten) {
  size_t n = 0;
  if (profile == quant::RequantProfile::Fixed) {
    transformer_patterns::TransformerRewriter r(f);
    EMBER_ASSIGN(n, r.run());
  }
  if (numRewritten)
    *numRewritten = n;
  return Status::ok();
}

} // namespace ember

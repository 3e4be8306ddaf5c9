// Custom ops in lowering (docs/custom-ops.md): the first step of
// lowerFunction, before the integer patterns, so that the ops a lowering
// gives between a DequantizeLinear and a QuantizeLinear become Ember's
// integer forms like any others.
//  - An op with the integer kernel form (IntegerForm::Kernel) whose float
//    operands are all dequantized (8-bit, per tensor) and whose results all
//    go to a QuantizeLinear becomes the same op on the stored integers, the
//    tensors' parameters in its `$quant` attribute.
//  - Every other op with a lowering that the target does not keep whole
//    (LoweringOptions::keep: a plugin that claims it by name) is replaced by
//    its lowering: the library's graph IR text, parsed, verified, checked
//    against the node's operands and results, and inlined before the node.
//    Ops without a lowering stay: their reference kernel runs them.
#include "lower/IntegerForms.h"
#include "lower/Lowering.h"

#include "ir/OpRegistry.h"
#include "ir/Printer.h"

#include <unordered_map>

namespace ember {

namespace {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

// ---- the integer kernel form ------------------------------------------------
bool isStored8(ElemKind k) { return k == ElemKind::U8 || k == ElemKind::I8; }

// The one QuantizeLinear reading result r of n (at its operand 0), or null
// when anything else reads it (another op, a function output) or nothing.
Node *soleQuantize(const Function &f, const Users &users, Node &n, unsigned r) {
  auto it = users.find(&n);
  if (it == users.end())
    return nullptr;
  Node *q = nullptr;
  for (const Use &u : it->second) {
    const Value &v =
        u.user ? u.user->inputs[u.operand] : f.outputs()[u.operand].value;
    if (v != Value(&n, r))
      continue;
    if (q || !u.user || u.operand != 0 ||
        u.user->kind != OpKind::QuantizeLinear)
      return nullptr;
    q = u.user;
  }
  return q;
}

// The node's integer form when the pattern fits; null otherwise (the op
// then computes in float between the DequantizeLinear and the
// QuantizeLinear).
Expected<Node *> integerKernelForm(Function &f, Node &n, const Users &users) {
  std::vector<Value> ins;
  std::vector<double> quant;
  auto add = [&](double s, int64_t z, ElemKind k) {
    quant.push_back(s);
    quant.push_back(double(z));
    quant.push_back(double(elemKindToOnnx(k)));
  };
  for (auto &v : n.inputs) {
    if (!v.node || !isFloatKind(v.type().elem())) {
      ins.push_back(v);
      add(0, 0, v.node ? v.type().elem() : ElemKind::F32);
      continue;
    }
    if (v.node->kind != OpKind::DequantizeLinear)
      return nullptr;
    auto p = dequantizeParams(*v.node);
    if (!p || !p->perTensor() || !isStored8(p->kind))
      return nullptr;
    ins.push_back(v.node->inputs[0]);
    add(p->scale(), p->zeroPoint(), p->kind);
  }
  std::vector<Node *> qs;
  for (unsigned r = 0; r < n.numResults(); ++r) {
    Node *q = soleQuantize(f, users, n, r);
    if (!q)
      return nullptr;
    auto p = quantizeParams(*q);
    if (!p || !p->perTensor() || !isStored8(p->kind))
      return nullptr;
    add(p->scale(), p->zeroPoint(), p->kind);
    qs.push_back(q);
  }
  AttrMap attrs = n.attrs;
  attrs[kCustomQuantAttr] = Attr::ofFloats(quant);
  std::vector<std::string> names;
  for (Node *q : qs)
    names.push_back(q->outNames[0] + ".int");
  auto m = f.create(OpKind::Custom, ins, attrs, n.name, int(n.numResults()), &n,
                    names);
  if (!m)
    return m.status().withContext("the integer kernel form of " + n.describe());
  for (size_t r = 0; r < qs.size(); ++r) {
    if ((*m)->types[r].elem() != qs[r]->types[0].elem() ||
        (*m)->types[r].dims() != qs[r]->types[0].dims())
      return invalid(n.describe(), ": its integer kernel form gives result ", r,
                     " ", (*m)->types[r].toString(), ", not ",
                     qs[r]->types[0].toString(),
                     " (the QuantizeLinear after it)");
  }
  for (size_t r = 0; r < qs.size(); ++r) {
    f.replaceAllUses(Value(qs[r], 0), Value(*m, unsigned(r)));
    f.erase(qs[r]);
  }
  return *m;
}

// ---- lowerings --------------------------------------------------------------
// The parsed lowering of n, checked against n's operands and results.
Expected<std::unique_ptr<Module>> parseLowering(const CustomOp &op,
                                                const Node &n) {
  EMBER_ASSIGN(std::string text, op.lowering(n));
  const std::string what =
      concat(op.describeLibrary(), ": the lowering of ", op.fullName());
  auto m = parseModule(text, "lowering of " + op.fullName());
  if (!m) {
    const std::string &msg = m.status().message();
    bool verify = msg.find("verifier") != std::string::npos;
    return makeError(ErrorCode::Backend, what, " does not ",
                     verify ? "verify" : "parse", ": ", msg, " (at ",
                     n.describe(), ")");
  }
  auto bad = [&](const auto &...why) {
    return makeError(ErrorCode::Backend, what, " does not verify: ", why...,
                     " (at ", n.describe(), ")");
  };
  if ((*m)->functions().size() != 1)
    return bad("it holds ", (*m)->functions().size(),
               " functions; a lowering is one");
  const Function &g = *(*m)->main();
  std::vector<Value> present;
  for (auto &v : n.inputs)
    if (v.node)
      present.push_back(v);
  if (g.params().size() != present.size())
    return bad("it takes ", g.params().size(), " parameters; the node has ",
               present.size(), " operands");
  for (size_t i = 0; i < present.size(); ++i) {
    const Type &want = present[i].type(), &got = g.params()[i]->types[0];
    if (want.elem() != got.elem() || want.dims() != got.dims())
      return bad("parameter ", i, " is ", got.toString(), " but operand ", i,
                 " is ", want.toString());
  }
  if (g.outputs().size() != n.numResults())
    return bad("it returns ", g.outputs().size(), " values; the node has ",
               n.numResults(), " results");
  for (size_t i = 0; i < g.outputs().size(); ++i) {
    const Type &want = n.types[i], &got = g.outputs()[i].value.type();
    if (want.elem() != got.elem() || want.dims() != got.dims())
      return bad("it returns ", got.toString(), " as result ", i,
                 ", which the type and shape function gives as ",
                 want.toString());
  }
  return m;
}

// Inlines the lowering g of n before n and replaces n's results.
void inlineLowering(Function &f, Node &n, Function &g) {
  std::unordered_map<const Node *, Node *> map;
  std::vector<Value> present;
  for (auto &v : n.inputs)
    if (v.node)
      present.push_back(v);
  auto mapped = [&](const Value &v) -> Value {
    for (size_t i = 0; i < g.params().size(); ++i)
      if (v.node == g.params()[i])
        return present[i];
    return Value(map.at(v.node), v.idx);
  };
  const std::string base = n.outNames.empty() ? "lowered" : n.outNames[0];
  for (auto &np : g.nodes()) {
    Node &m = *np;
    if (m.kind == OpKind::Placeholder)
      continue;
    if (m.kind == OpKind::Constant) {
      map[&m] = f.addConstant(base + "." + m.outNames[0], m.payload);
      continue;
    }
    auto c = std::make_unique<Node>();
    c->kind = m.kind;
    c->name = n.name;
    c->attrs = m.attrs;
    c->types = m.types;
    for (auto &nm : m.outNames)
      c->outNames.push_back(f.freshName(base + "." + nm));
    for (auto &v : m.inputs)
      c->inputs.push_back(v.node ? mapped(v) : Value());
    map[&m] = f.insertRaw(std::move(c), &n);
  }
  for (unsigned r = 0; r < n.numResults(); ++r)
    f.replaceAllUses(Value(&n, r), mapped(g.outputs()[r].value));
  f.erase(&n);
}

} // namespace

Status expandCustomOps(Function &f, const LoweringOptions &opts,
                       size_t *count) {
  // A lowering may give custom ops with lowerings of their own; a chain
  // deeper than this is a lowering that (indirectly) gives itself.
  constexpr int kMaxRounds = 16;
  for (int round = 0;; ++round) {
    std::vector<Node *> work;
    for (auto &n : f.nodes())
      if (n->kind == OpKind::Custom && !n->hasAttr(kCustomQuantAttr))
        work.push_back(n.get());
    if (work.empty())
      return Status::ok();
    Users users = f.computeUsers();
    bool changed = false;
    for (Node *n : work) {
      EMBER_ASSIGN(const CustomOp *op, requireCustomOp(*n));
      if (opts.keep && opts.keep(*n))
        continue;
      if (op->integerForm == IntegerForm::Kernel) {
        EMBER_ASSIGN(Node * m, integerKernelForm(f, *n, users));
        if (m) {
          f.erase(n);
          users = f.computeUsers();
          ++*count;
          changed = true;
          continue;
        }
      }
      if (!op->hasLowering)
        continue;
      if (round == kMaxRounds)
        return makeError(ErrorCode::Backend, op->describeLibrary(),
                         ": the lowering of ", op->fullName(), " gives ",
                         "custom ops whose lowerings give it again (",
                         kMaxRounds, " levels deep, at ", n->describe(), ")");
      EMBER_ASSIGN(std::unique_ptr<Module> m, parseLowering(*op, *n));
      inlineLowering(f, *n, *m->main());
      users = f.computeUsers();
      ++*count;
      changed = true;
    }
    if (!changed)
      return Status::ok();
  }
}

} // namespace ember

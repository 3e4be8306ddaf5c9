// 16-bit float Conv, ConvTranspose, MatMul, pooling, reductions and the
// recurrent cells run on the f32 kernels and loops: before grouping, each such
// node gets its f16/bf16 operands cast to f32 (constants converted here, once)
// and its results cast back. The reference computes these ops in f32 (the
// recurrent cells in double) and rounds each result to the 16-bit kind, which
// is what the casts do; only the f32 summation order of the kernels differs
// (reductions accumulate in double either way, so theirs match exactly). The
// casts are elementwise, so they fuse with their neighbours.
//
// Two rewrites then keep the activations between widened ops in f32
// (README.md, "16-bit floats"), each exact:
//  - A Relu of a widened result moves before the cast back to 16 bits
//    (Relu(round(y)) == round(Relu(y)) bit for bit: rounding is monotone and
//    keeps the sign, and both give +0 for every y <= 0 and NaN), so it joins
//    the convolution's epilogue.
//  - A 16-bit value whose readers only move or select its elements (Concat,
//    Relu, and the ops Ops.def marks P_Rearrange or P_Select: views,
//    Transpose, Slice, Gather, Tile, MaxPool's cast, Max/Min, ...) and
//    finally cast it back to f32 is stored as f32 holding the rounded values:
//    the cast to 16 bits becomes a round trip (f32 -> f16 -> f32, one fused
//    loop, round to nearest even as before) and the readers' casts to f32
//    disappear. Moving or selecting elements of 16-bit-exact values yields
//    16-bit-exact values, so these give the reference's values; a round trip
//    of a value that is 16-bit-exact already (a MaxPool's result) is dropped.
#include "Capability.h"
#include "Compiler.h"

#include <functional>
#include <unordered_set>

namespace ember::cpugen {

namespace {

bool widens(const Node &n) {
  OpClass c = opClass(n.kind);
  if (c != OpClass::Conv && c != OpClass::ConvT && c != OpClass::MatMul &&
      c != OpClass::Pool && c != OpClass::Reduce && c != OpClass::Recurrent)
    return false;
  for (auto &in : n.inputs)
    if (in && isHalfFloatKind(in.type().elem()))
      return true;
  return false;
}

Node *nextNode(Function &f, const Node *n) {
  for (auto it = f.nodes().begin(); it != f.nodes().end(); ++it)
    if (it->get() == n) {
      ++it;
      return it == f.nodes().end() ? nullptr : it->get();
    }
  return nullptr;
}

// A Cast from f32 to f16/bf16.
bool isHalfCast(const Node &n) {
  return n.kind == OpKind::Cast && n.numResults() == 1 &&
         n.inputs[0].type().elem() == ElemKind::F32 &&
         isHalfFloatKind(n.types[0].elem());
}

// A Cast from f16/bf16 to f32.
bool isWidenCast(const Node &n) {
  return n.kind == OpKind::Cast && n.numResults() == 1 &&
         isHalfFloatKind(n.inputs[0].type().elem()) &&
         n.types[0].elem() == ElemKind::F32;
}

// Ops whose result is made of operand elements (moved, or selected by
// comparison; Ops.def's P_Rearrange and P_Select, Concat, and Relu's
// max(x, 0)): on 16-bit-exact f32 operands they give what the 16-bit op
// gives, with no rounding. True for the operands that are such elements.
bool selectsElements(const Node &n, size_t operand) {
  if (hasProp(n.kind, P_Select) || n.kind == OpKind::Concat)
    return true;
  if (hasProp(n.kind, P_Rearrange) || n.kind == OpKind::Relu)
    return operand == 0;
  return false;
}

// Relu(Cast-to-half(y)) -> Cast-to-half(Relu(y)), y f32.
Status sinkRelu(Function &f) {
  auto users = f.computeUsers();
  std::vector<Node *> work;
  for (auto &n : f.nodes()) {
    if (n->kind != OpKind::Relu || !n->inputs[0].node ||
        !isHalfCast(*n->inputs[0].node))
      continue;
    auto it = users.find(n->inputs[0].node);
    if (it != users.end() && it->second.size() == 1 && it->second[0].user)
      work.push_back(n.get());
  }
  for (Node *relu : work) {
    Node *cast = relu->inputs[0].node;
    ElemKind half = cast->types[0].elem();
    relu->inputs[0] = cast->inputs[0];
    relu->types[0] = relu->types[0].withElem(ElemKind::F32);
    EMBER_ASSIGN(Node * back,
                 f.create(OpKind::Cast, {Value(relu)},
                          {{"to", Attr::ofInt(elemKindToOnnx(half))}},
                          cast->name, -1, nextNode(f, relu),
                          {relu->outNames[0] + ".half"}));
    f.replaceAllUses(Value(relu), Value(back));
    back->inputs[0] = Value(relu);
    f.erase(cast);
  }
  return Status::ok();
}

Status keepHalfInF32(Function &f) {
  auto users = f.computeUsers();
  // Candidates: 16-bit results of half casts and of element-selecting ops.
  std::unordered_set<const Node *> cand;
  for (auto &n : f.nodes()) {
    if (n->numResults() != 1 || !isHalfFloatKind(n->types[0].elem()))
      continue;
    if (isHalfCast(*n) || selectsElements(*n, 0))
      cand.insert(n.get());
  }
  // Drop candidates until every remaining one is read only by widening
  // casts and remaining candidates, and every remaining selecting op reads
  // its 16-bit data operands from remaining candidates or constants.
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = cand.begin(); it != cand.end();) {
      const Node *n = *it;
      bool keep = !isGraphOutput(users, n);
      auto ut = users.find(n);
      if (keep && ut != users.end())
        for (auto &u : ut->second)
          keep = keep && u.user &&
                 (isWidenCast(*u.user) ||
                  (cand.count(u.user) && selectsElements(*u.user, u.operand)));
      if (keep && !isHalfCast(*n))
        for (size_t i = 0; i < n->inputs.size(); ++i) {
          const Value &in = n->inputs[i];
          if (!in || !isHalfFloatKind(in.type().elem()))
            continue;
          keep = keep && selectsElements(*n, i) &&
                 (isConstant(in) || cand.count(in.node));
        }
      if (keep) {
        ++it;
      } else {
        it = cand.erase(it);
        changed = true;
      }
    }
  }
  if (cand.empty())
    return Status::ok();
  // Values that hold 16-bit-exact f32 numbers after the rewrite.
  std::unordered_set<const Node *> exact;
  std::function<bool(const Value &)> isExact = [&](const Value &v) {
    if (!v.node || v.type().elem() != ElemKind::F32)
      return false;
    if (exact.count(v.node) || isWidenCast(*v.node))
      return true;
    // A reader's cast to f32 whose operand is f32 already (removed below).
    if (v.node->kind == OpKind::Cast &&
        v.node->inputs[0].type().elem() == ElemKind::F32)
      return isExact(v.node->inputs[0]);
    if (v.node->numResults() != 1 || !selectsElements(*v.node, 0) ||
        v.node->kind == OpKind::Max || v.node->kind == OpKind::Min)
      return false;
    for (size_t i = 0; i < v.node->inputs.size(); ++i)
      if (selectsElements(*v.node, i) && !isExact(v.node->inputs[i]))
        return false;
    return true;
  };
  std::vector<Node *> order;
  for (auto &n : f.nodes())
    if (cand.count(n.get()))
      order.push_back(n.get());
  std::vector<Node *> widenings;
  for (Node *n : order)
    for (auto &u : users[n])
      if (isWidenCast(*u.user))
        widenings.push_back(u.user);
  for (Node *n : order) {
    if (!isHalfCast(*n)) {
      n->types[0] = n->types[0].withElem(ElemKind::F32);
      for (size_t i = 0; i < n->inputs.size(); ++i) {
        Value in = n->inputs[i];
        if (in && isHalfFloatKind(in.type().elem()) && isConstant(in)) {
          Tensor t = in.node->payload->convertTo(ElemKind::F32);
          n->inputs[i] =
              Value(f.addConstant(f.freshName(in.name() + ".f32"), t));
        }
      }
      exact.insert(n);
      continue;
    }
    if (isExact(n->inputs[0])) {
      // Already 16-bit-exact: the round trip is the identity.
      f.replaceAllUses(Value(n), n->inputs[0]);
      continue;
    }
    EMBER_ASSIGN(Node * back,
                 f.create(OpKind::Cast, {Value(n)},
                          {{"to", Attr::ofInt(elemKindToOnnx(ElemKind::F32))}},
                          n->name, -1, nextNode(f, n),
                          {n->outNames[0] + ".f32"}));
    f.replaceAllUses(Value(n), Value(back));
    back->inputs[0] = Value(n);
    exact.insert(back);
  }
  // The readers' casts to f32 now read f32: they are the identity.
  for (Node *w : widenings) {
    f.replaceAllUses(Value(w), w->inputs[0]);
    f.erase(w);
  }
  // The half casts now unread (their round trip was the identity). Erasing
  // one drops only its read of an f32 value, never another's reader.
  auto readers = f.computeUsers();
  for (Node *n : order)
    if (isHalfCast(*n) && readers[n].empty())
      f.erase(n);
  return Status::ok();
}

} // namespace

Status widenHalfKernels(Function &f) {
  std::vector<Node *> work;
  for (auto &n : f.nodes())
    if (widens(*n))
      work.push_back(n.get());
  for (Node *n : work) {
    ElemKind half = ElemKind::F16;
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      Value in = n->inputs[i];
      if (!in || !isHalfFloatKind(in.type().elem()))
        continue;
      half = in.type().elem();
      if (isConstant(in)) {
        Tensor t = in.node->payload->convertTo(ElemKind::F32);
        Node *c = f.addConstant(f.freshName(in.name() + ".f32"), std::move(t));
        n->inputs[i] = Value(c);
        continue;
      }
      EMBER_ASSIGN(
          Node * c,
          f.create(OpKind::Cast, {in},
                   {{"to", Attr::ofInt(elemKindToOnnx(ElemKind::F32))}},
                   n->name, -1, n, {in.name() + ".f32"}));
      n->inputs[i] = Value(c);
    }
    // The node now computes in f32; its results go back to the 16-bit kind.
    Node *next = nextNode(f, n);
    for (unsigned r = 0; r < n->numResults(); ++r) {
      if (!isHalfFloatKind(n->types[r].elem()))
        continue;
      n->types[r] = n->types[r].withElem(ElemKind::F32);
      Value res(n, r);
      EMBER_ASSIGN(Node * back,
                   f.create(OpKind::Cast, {res},
                            {{"to", Attr::ofInt(elemKindToOnnx(half))}},
                            n->name, -1, next, {n->outNames[r] + ".half"}));
      f.replaceAllUses(res, Value(back));
      back->inputs[0] = res;
    }
  }
  if (work.empty())
    return Status::ok();
  EMBER_TRY(sinkRelu(f));
  return keepHalfInF32(f);
}

} // namespace ember::cpugen

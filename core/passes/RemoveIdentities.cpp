// Removes nodes that return their (first) operand unchanged: Identity,
// Dropout in inference, Cast to the same type, Reshape/Expand to the same
// shape, Transpose with the identity permutation, full-range Slice.
#include "passes/Pass.h"

namespace ember {

// The rules name the few ops that can be no-ops; every other op computes
// something, so this tests kinds instead of switching over OpKind (the style
// keeps every switch over the op enum exhaustive, without `default:`, and a
// new op should not have to visit this pass).
static bool isNoOp(const Node &n) {
  if (n.inputs.empty() || !n.inputs[0].node)
    return false;
  const Type &in = n.inputs[0].type();
  const Type &out = n.types[0];
  bool sameType = in.elem() == out.elem() && in.dims() == out.dims();
  // Whether operand v is a constant whose every value is `want`.
  auto allConstant = [](const Value &v, int64_t want) {
    if (v.node->kind != OpKind::Constant)
      return false;
    for (int64_t x : v.node->payload->toInts())
      if (x != want)
        return false;
    return true;
  };
  OpKind k = n.kind;
  if (k == OpKind::Identity)
    return true;
  if (k == OpKind::Dropout) {
    // Only inference Dropout: training_mode absent or a constant false (a
    // used mask is checked by the caller).
    if (!n.hasInput(2))
      return true;
    const Node *tm = n.inputs[2].node;
    return tm->kind == OpKind::Constant && tm->payload->size() == 1 &&
           tm->payload->getInt(0) == 0;
  }
  if (k == OpKind::Cast || k == OpKind::Reshape || k == OpKind::Expand ||
      k == OpKind::Tile)
    return sameType;
  // Slice and Pad: only when they keep the shape and read all of it.
  if (k == OpKind::Slice) // negative steps reverse even when the shape is kept
    return sameType && (!n.hasInput(4) || allConstant(n.inputs[4], 1));
  if (k == OpKind::Pad)
    return sameType && allConstant(n.inputs[1], 0);
  if (k == OpKind::Transpose) {
    auto perm = n.attrInts("perm");
    for (size_t i = 0; i < perm.size(); ++i)
      if (perm[i] != int64_t(i))
        return false;
    return sameType;
  }
  return false;
}

Status runRemoveIdentities(Function &f, PassStats &s) {
  std::vector<Node *> work;
  for (auto &n : f.nodes())
    work.push_back(n.get());
  auto users = f.computeUsers();
  for (Node *n : work) {
    if (!isNoOp(*n))
      continue;
    if (n->kind == OpKind::Dropout && n->numResults() > 1) {
      // Keep the node if anything reads the mask.
      auto it = users.find(n);
      bool maskUsed = false;
      if (it != users.end())
        for (auto &u : it->second) {
          const Value &v =
              u.user ? u.user->inputs[u.operand] : f.outputs()[u.operand].value;
          maskUsed = maskUsed || v.idx == 1;
        }
      if (maskUsed)
        continue;
    }
    // Function outputs keep their names; the operand takes the place.
    f.replaceAllUses(Value(n, 0), n->inputs[0]);
    f.erase(n);
    ++s.changed;
  }
  return Status::ok();
}

} // namespace ember

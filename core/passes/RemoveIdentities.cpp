// Removes nodes that return their (first) operand unchanged: Identity,
// Dropout in inference, Cast to the same type, Reshape/Expand to the same
// shape, Transpose with the identity permutation, full-range Slice.
#include "passes/Pass.h"

namespace ember {

static bool isNoOp(const Node &n) {
  if (n.inputs.empty() || !n.inputs[0].node)
    return false;
  const Type &in = n.inputs[0].type();
  const Type &out = n.types[0];
  bool sameType = in.elem() == out.elem() && in.dims() == out.dims();
  switch (n.kind) {
  case OpKind::Identity:
    return true;
  case OpKind::Dropout: {
    // Only inference Dropout: training_mode absent or a constant false (a
    // used mask is checked by the caller).
    if (!n.hasInput(2))
      return true;
    const Node *tm = n.inputs[2].node;
    return tm->kind == OpKind::Constant && tm->payload->size() == 1 &&
           tm->payload->getInt(0) == 0;
  }
  case OpKind::Cast:
  case OpKind::Reshape:
  case OpKind::Expand:
  case OpKind::Slice:
  case OpKind::Pad:
  case OpKind::Tile:
    if (n.kind == OpKind::Pad || n.kind == OpKind::Slice ||
        n.kind == OpKind::Tile) {
      // Only when it does not change the shape and reads all of it.
      if (!sameType)
        return false;
      if (n.kind == OpKind::Slice) {
        // Negative steps reverse the data even when the shape is kept.
        if (n.hasInput(4)) {
          const Node *st = n.inputs[4].node;
          if (st->kind != OpKind::Constant)
            return false;
          for (int64_t v : st->payload->toInts())
            if (v != 1)
              return false;
        }
        return true;
      }
      if (n.kind == OpKind::Pad) {
        const Node *pads = n.inputs[1].node;
        if (pads->kind != OpKind::Constant)
          return false;
        for (int64_t v : pads->payload->toInts())
          if (v != 0)
            return false;
        return true;
      }
      return true;
    }
    return sameType;
  case OpKind::Transpose: {
    auto perm = n.attrInts("perm");
    for (size_t i = 0; i < perm.size(); ++i)
      if (perm[i] != int64_t(i))
        return false;
    return sameType;
  }
  default:
    return false;
  }
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

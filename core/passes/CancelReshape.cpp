// Reshape(Reshape(x)) -> Reshape(x); a Reshape back to x's own shape
// disappears. Flatten/Squeeze/Unsqueeze are Reshapes after lowering, so the
// pass also runs well after lowering.
#include "passes/Pass.h"

namespace ember {

static bool isReshapeLike(OpKind k) {
  return k == OpKind::Reshape || k == OpKind::Flatten || k == OpKind::Squeeze ||
         k == OpKind::Unsqueeze;
}

Status runCancelReshape(Function &f, PassStats &s) {
  for (bool changed = true; changed;) {
    changed = false;
    auto users = f.computeUsers();
    for (auto &np : f.nodes()) {
      Node *n = np.get();
      if (!isReshapeLike(n->kind) || !isReshapeLike(n->inputs[0].node->kind))
        continue;
      Node *inner = n->inputs[0].node;
      Value src = inner->inputs[0];
      const Dims &want = n->types[0].dims();
      if (src.type().dims() == want) {
        f.replaceAllUses(Value(n, 0), src);
      } else {
        Value shape(f.addConstant(n->outNames[0] + ".shape",
                                  Tensor::fromInts(ElemKind::I64, want)));
        auto r = f.create(OpKind::Reshape, {src, shape},
                          {{"allowzero", Attr::ofInt(1)}}, n->name, 1, n,
                          {n->outNames[0] + ".merged"});
        if (!r)
          return r.status();
        f.replaceAllUses(Value(n, 0), Value(*r, 0));
      }
      f.erase(n);
      if (users[inner].size() == 1)
        f.erase(inner);
      ++s.changed;
      changed = true;
      break;
    }
  }
  return Status::ok();
}

} // namespace ember

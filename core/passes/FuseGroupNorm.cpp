// GroupNorm as older exporters write it (PyTorch below opset 18):
//   Reshape(x [N, C, spatial...], [N, G, -1]) -> InstanceNormalization(
//   scale [G], bias [G]) -> Reshape back to x's shape
// becomes GroupNormalization(x, scale', bias') {num_groups = G} with the
// per-group scale and bias repeated over each group's C/G channels (the
// IR's per-channel form). The same statistics over the same values (each
// group's C/G * spatial elements), but the activations are never
// reshaped, so a backend that stores them channels-last keeps them so
// (GroupNormalization's lowering sums per channel, then per group).
// Constant scale and bias only, each Reshape read by the next op alone.
#include "passes/Pass.h"

namespace ember {

namespace {

// The one node reading n's result, or null.
Node *
soleReader(const std::unordered_map<const Node *, std::vector<Use>> &users,
           const Node *n) {
  auto it = users.find(n);
  if (it == users.end() || it->second.size() != 1)
    return nullptr;
  return it->second[0].user;
}

} // namespace

Status runFuseGroupNorm(Function &f, PassStats &s) {
  for (bool changed = true; changed;) {
    changed = false;
    auto users = f.computeUsers();
    for (auto &np : f.nodes()) {
      Node *in = np.get();
      if (in->kind != OpKind::InstanceNormalization || in->numResults() != 1)
        continue;
      Node *r1 = in->inputs[0].node;
      Node *r2 = soleReader(users, in);
      if (!r1 || r1->kind != OpKind::Reshape || !r2 ||
          r2->kind != OpKind::Reshape || soleReader(users, r1) != in)
        continue;
      const Value x = r1->inputs[0];
      const Dims &xd = x.type().dims(), &gd = in->types[0].dims();
      if (xd.size() < 3 || gd.size() != 3 || r2->types[0].dims() != xd ||
          gd[0] != xd[0] || gd[1] < 1 || xd[1] % gd[1] != 0 ||
          gd[2] != x.type().numElements() / (xd[0] * gd[1]))
        continue;
      const Node *sc = in->inputs[1].node, *bi = in->inputs[2].node;
      if (!sc || !bi || sc->kind != OpKind::Constant ||
          bi->kind != OpKind::Constant || sc->payload->size() != gd[1] ||
          bi->payload->size() != gd[1])
        continue;
      const int64_t C = xd[1], per = C / gd[1];
      Tensor scale(Type(x.type().elem(), {C})),
          bias(Type(x.type().elem(), {C}));
      for (int64_t c = 0; c < C; ++c) {
        scale.setDouble(c, sc->payload->getDouble(c / per));
        bias.setDouble(c, bi->payload->getDouble(c / per));
      }
      AttrMap attrs{{"num_groups", Attr::ofInt(gd[1])},
                    {"epsilon", Attr::ofFloat(in->attrFloat("epsilon", 1e-5))}};
      auto g = f.create(
          OpKind::GroupNormalization,
          {x,
           Value(f.addConstant(in->outNames[0] + ".scale", std::move(scale))),
           Value(f.addConstant(in->outNames[0] + ".bias", std::move(bias)))},
          attrs, in->name, 1, r2, {f.freshName(r2->outNames[0])});
      if (!g)
        return g.status();
      f.replaceAllUses(Value(r2, 0), Value(*g, 0));
      f.erase(r2);
      f.erase(in);
      f.erase(r1);
      ++s.changed;
      changed = true;
      break;
    }
  }
  return Status::ok();
}

} // namespace ember

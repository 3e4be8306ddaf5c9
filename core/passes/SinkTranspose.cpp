// Transpose rewrites that shorten chains and cancel pairs:
//  - Transpose(Transpose(x, p1), p2) -> Transpose(x, p1 then p2), and the
//    identity permutation disappears;
//  - Transpose below a unary elementwise op: U(Transpose(x)) ->
//    Transpose(U(x)), so it can meet and cancel the next Transpose;
//  - B(Transpose(a, p), Transpose(b, p)) -> Transpose(B(a, b), p) for binary
//    elementwise ops whose operands have the same rank.
#include "passes/Pass.h"

namespace ember {

static std::vector<int64_t> permOf(const Node &t) {
  auto p = t.attrInts("perm");
  if (p.empty()) { // default: reverse
    size_t r = t.types[0].rank();
    for (size_t i = 0; i < r; ++i)
      p.push_back(int64_t(r - 1 - i));
  }
  return p;
}

static bool isIdentityPerm(const std::vector<int64_t> &p) {
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i] != int64_t(i))
      return false;
  return true;
}

Status runSinkTranspose(Function &f, PassStats &s) {
  for (bool changed = true; changed;) {
    changed = false;
    auto users = f.computeUsers();
    for (auto &np : f.nodes()) {
      Node *n = np.get();
      // Transpose of Transpose.
      if (n->kind == OpKind::Transpose &&
          n->inputs[0].node->kind == OpKind::Transpose) {
        Node *inner = n->inputs[0].node;
        auto p1 = permOf(*inner), p2 = permOf(*n);
        std::vector<int64_t> p(p2.size());
        for (size_t i = 0; i < p2.size(); ++i)
          p[i] = p1[size_t(p2[i])];
        Value src = inner->inputs[0];
        if (isIdentityPerm(p)) {
          f.replaceAllUses(Value(n, 0), src);
        } else {
          auto t =
              f.create(OpKind::Transpose, {src}, {{"perm", Attr::ofInts(p)}},
                       n->name, 1, n, {n->outNames[0] + ".merged"});
          if (!t)
            return t.status();
          f.replaceAllUses(Value(n, 0), Value(*t, 0));
        }
        f.erase(n);
        if (users[inner].size() == 1)
          f.erase(inner);
        ++s.changed;
        changed = true;
        break;
      }
      // Unary elementwise op on a single-use Transpose.
      if (hasProp(n->kind, P_Elementwise) && hasProp(n->kind, P_Unary) &&
          n->inputs.size() == 1 &&
          n->inputs[0].node->kind == OpKind::Transpose &&
          users[n->inputs[0].node].size() == 1) {
        Node *t = n->inputs[0].node;
        auto u = f.create(n->kind, {t->inputs[0]}, n->attrs, n->name, 1, n,
                          {n->outNames[0] + ".pre"});
        if (!u)
          return u.status();
        auto nt = f.create(OpKind::Transpose, {Value(*u, 0)}, t->attrs, t->name,
                           1, n, {n->outNames[0] + ".t"});
        if (!nt)
          return nt.status();
        f.replaceAllUses(Value(n, 0), Value(*nt, 0));
        f.erase(n);
        f.erase(t);
        ++s.changed;
        changed = true;
        break;
      }
      // Binary elementwise op on two Transposes with the same permutation.
      if (hasProp(n->kind, P_Elementwise) && hasProp(n->kind, P_Binary) &&
          n->inputs[0].node->kind == OpKind::Transpose &&
          n->inputs[1].node->kind == OpKind::Transpose &&
          permOf(*n->inputs[0].node) == permOf(*n->inputs[1].node) &&
          n->inputs[0].type().rank() == n->inputs[1].type().rank()) {
        Node *ta = n->inputs[0].node, *tb = n->inputs[1].node;
        auto b = f.create(n->kind, {ta->inputs[0], tb->inputs[0]}, n->attrs,
                          n->name, 1, n, {n->outNames[0] + ".pre"});
        if (!b)
          continue; // e.g. shapes that broadcast only after transposing
        auto nt = f.create(OpKind::Transpose, {Value(*b, 0)},
                           {{"perm", Attr::ofInts(permOf(*ta))}}, ta->name, 1,
                           n, {n->outNames[0] + ".t"});
        if (!nt)
          return nt.status();
        f.replaceAllUses(Value(n, 0), Value(*nt, 0));
        f.erase(n);
        if (users[ta].size() == 1)
          f.erase(ta);
        if (tb != ta && users[tb].size() == 1)
          f.erase(tb);
        ++s.changed;
        changed = true;
        break;
      }
    }
  }
  return Status::ok();
}

} // namespace ember

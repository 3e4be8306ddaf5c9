// Merges nodes that compute the same thing: same op, same operands, same
// attributes (and constants with identical type and bytes).
#include "passes/Pass.h"

#include <functional>

namespace ember {

static size_t hashNode(const Node &n) {
  size_t h = std::hash<unsigned>()(unsigned(n.kind));
  auto mix = [&](size_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  };
  for (auto &in : n.inputs) {
    mix(std::hash<const void *>()(in.node));
    mix(in.idx);
  }
  for (auto &kv : n.attrs)
    mix(std::hash<std::string>()(kv.first));
  if (n.payload) {
    mix(std::hash<std::string>()(n.payload->type().toString()));
    std::string_view bytes(reinterpret_cast<const char *>(n.payload->raw()),
                           std::min<size_t>(n.payload->bytes(), 4096));
    mix(std::hash<std::string_view>()(bytes));
  }
  return h;
}

static bool sameNode(const Node &a, const Node &b) {
  if (a.kind != b.kind || a.inputs != b.inputs || a.attrs != b.attrs ||
      a.types.size() != b.types.size())
    return false;
  for (size_t i = 0; i < a.types.size(); ++i)
    if (a.types[i] != b.types[i])
      return false;
  if (a.kind == OpKind::Constant)
    return a.payload->bitEqual(*b.payload);
  return true;
}

Status runCommonSubexpressionElimination(Function &f, PassStats &s) {
  std::unordered_multimap<size_t, Node *> seen;
  std::vector<Node *> order;
  for (auto &n : f.nodes())
    order.push_back(n.get());
  for (Node *n : order) {
    if (n->kind == OpKind::Placeholder)
      continue;
    size_t h = hashNode(*n);
    Node *same = nullptr;
    auto range = seen.equal_range(h);
    for (auto it = range.first; it != range.second; ++it)
      if (sameNode(*it->second, *n)) {
        same = it->second;
        break;
      }
    if (!same) {
      seen.emplace(h, n);
      continue;
    }
    for (unsigned i = 0; i < n->numResults(); ++i)
      f.replaceAllUses(Value(n, i), Value(same, i));
    f.erase(n);
    ++s.changed;
  }
  return Status::ok();
}

} // namespace ember

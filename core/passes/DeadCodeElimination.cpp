// Removes nodes (and constants/unused results' producers) that no function
// output depends on. Placeholders stay: they are the function's signature.
#include "passes/Pass.h"

namespace ember {

Status runDeadCodeElimination(Function &f, PassStats &s) {
  std::unordered_set<const Node *> live;
  std::vector<const Node *> work;
  for (auto &o : f.outputs())
    if (live.insert(o.value.node).second)
      work.push_back(o.value.node);
  while (!work.empty()) {
    const Node *n = work.back();
    work.pop_back();
    for (auto &in : n->inputs)
      if (in.node && live.insert(in.node).second)
        work.push_back(in.node);
  }
  // Erase in reverse order so users go before producers.
  std::vector<Node *> dead;
  for (auto it = f.nodes().rbegin(); it != f.nodes().rend(); ++it)
    if (!live.count(it->get()) && (*it)->kind != OpKind::Placeholder)
      dead.push_back(it->get());
  for (Node *n : dead)
    f.erase(n);
  s.changed += dead.size();
  return Status::ok();
}

} // namespace ember

// Helpers over the CPU backend's compiled form (Program.h).
#include "Capability.h"

#include <algorithm>

namespace ember::cpugen {

bool isConstant(const Value &v) {
  return v && v.node->kind == OpKind::Constant && v.node->payload;
}

bool scalarConstant(const Value &v, double &out) {
  if (!isConstant(v) || v.node->payload->size() != 1 ||
      !loopKind(v.node->payload->type().elem()))
    return false;
  out = v.node->payload->getDouble(0);
  return true;
}

bool constantInts(const Value &v, std::vector<int64_t> &out) {
  if (!isConstant(v) || !isIntKind(v.node->payload->type().elem()))
    return false;
  out = v.node->payload->toInts();
  return true;
}

bool isGraphOutput(
    const std::unordered_map<const Node *, std::vector<Use>> &users,
    const Node *n) {
  auto it = users.find(n);
  if (it == users.end())
    return false;
  for (auto &u : it->second)
    if (!u.user)
      return true;
  return false;
}

bool contains(const Group &g, const Node *n) {
  return std::find(g.members.begin(), g.members.end(), n) != g.members.end();
}

} // namespace ember::cpugen

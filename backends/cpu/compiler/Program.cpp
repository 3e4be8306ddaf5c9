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

bool constantIndexGather(const Node &n, size_t &axis, int64_t &index) {
  if (n.kind != OpKind::Gather || n.inputs.size() != 2 ||
      !isConstant(n.inputs[1]) || n.inputs[1].type().rank() != 0 ||
      !isIntKind(n.inputs[1].type().elem()))
    return false;
  const Dims &d = n.inputs[0].type().dims();
  int64_t a = n.attrInt("axis", 0);
  if (a < 0)
    a += int64_t(d.size());
  if (a < 0 || a >= int64_t(d.size()))
    return false;
  int64_t i = n.inputs[1].node->payload->getInt(0);
  if (i < 0)
    i += d[size_t(a)];
  // Out of range: the step's run-time error, as the reference reports it.
  if (i < 0 || i >= d[size_t(a)])
    return false;
  axis = size_t(a);
  index = i;
  return true;
}

OpClass loopClass(const Node &n) {
  size_t axis;
  int64_t index;
  return constantIndexGather(n, axis, index) ? OpClass::Move : opClass(n.kind);
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

// Detection heads write a map's channels last as Reshape([N, C, H, W] ->
// [N, C, H*W]) then Transpose(perm [0, 2, 1]) (PicoDet's and YOLO's
// per-level class and box maps before their Concat). The same elements in
// the same order are Transpose(perm [0, 2, 3, 1]) to [N, H, W, C] then
// Reshape to [N, H*W, C]: a rank-4 permutation of the map a backend holds
// channel-tiled, and a reshape that only merges the pixel axes
// (docs/npu-backend.md, "What runs on the NPU"). Pure movement: exact for
// every element type.
#include "lower/LowerUtil.h"
#include "lower/Lowering.h"

namespace ember {

namespace {

// n: Reshape of a rank-4 x into [N, C, H*W], read only by a Transpose of
// perm [0, 2, 1]; that Transpose, or null.
Node *channelsLastPair(
    Node &n, const std::unordered_map<const Node *, std::vector<Use>> &users) {
  if (n.kind != OpKind::Reshape || n.inputs[0].type().rank() != 4 ||
      n.types[0].rank() != 3)
    return nullptr;
  const Dims &x = n.inputs[0].type().dims(), &y = n.types[0].dims();
  if (y[0] != x[0] || y[1] != x[1] || y[2] != x[2] * x[3])
    return nullptr;
  auto it = users.find(&n);
  if (it == users.end() || it->second.size() != 1 || !it->second[0].user)
    return nullptr;
  Node *t = it->second[0].user;
  if (t->kind != OpKind::Transpose ||
      t->attrInts("perm") != std::vector<int64_t>{0, 2, 1})
    return nullptr;
  return t;
}

} // namespace

Status moveChannelsLast(Function &f, size_t *numRewritten) {
  std::vector<Node *> work;
  for (auto &np : f.nodes())
    if (np->kind == OpKind::Reshape)
      work.push_back(np.get());
  auto users = f.computeUsers();
  size_t n = 0;
  for (Node *r : work) {
    Node *t = channelsLastPair(*r, users);
    if (!t)
      continue;
    const Dims &x = r->inputs[0].type().dims();
    LoweringBuilder b(f, *t);
    EMBER_ASSIGN(Value p, b.op(OpKind::Transpose, {r->inputs[0]},
                               {{"perm", Attr::ofInts({0, 2, 3, 1})}}));
    EMBER_ASSIGN(Value y,
                 b.op(OpKind::Reshape, {p, b.ints({x[0], x[2] * x[3], x[1]})}));
    f.replaceAllUses(Value(t, 0), y);
    f.erase(t);
    f.erase(r);
    ++n;
  }
  if (numRewritten)
    *numRewritten += n;
  return Status::ok();
}

} // namespace ember

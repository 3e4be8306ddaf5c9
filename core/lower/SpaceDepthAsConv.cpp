// DepthToSpace and SpaceToDepth of a dequantized tensor, every reader a
// QuantizeLinear, as the convolutions they are: a ConvTranspose (kernel
// and stride the block size r) and a Conv (the same), whose int8 weights
// (dequantized with scale 1, zero point 0) are 1 where an output element
// takes an input element and 0 elsewhere. Each output element is then one
// input element times 1 (plus zeros): the same float value, so the graph
// computes what it did, and the integer patterns lower the convolutions
// (docs/quantization.md, "DepthToSpace and SpaceToDepth"): a
// ConvTranspose's output phases become 1x1 ConvIntegers stored
// interleaved, which an accelerator that runs transposed convolutions
// runs (the example NPU); the Reshape-Transpose-Reshape movement they were
// moved the channel-tiled layout, which it does not. Exporters write
// DepthToSpace for a super-resolution network's pixel shuffle and a
// segmentation head's upsampling, SpaceToDepth for a YOLO-style focus.
//   DepthToSpace DCR: y[n, c, h r + i, w r + j] = x[n, (i r + j) C + c, h, w]
//   DepthToSpace CRD: y[n, c, h r + i, w r + j] = x[n, c r r + i r + j, h, w]
//   SpaceToDepth:     y[n, (i r + j) C + c, h, w] = x[n, c, h r + i, w r + j]
// Fixed profiles only (the float32 profile keeps ONNX Runtime's float
// ConvTranspose, which would leave the op on the host), and at most 16
// channels on the space side: a backend that multiplies the zeros too (the
// CPU's) pays C r r multiply-adds per output element for what was a copy,
// at most 64 here; the example NPU skips the all-zero weight tiles.
#include "lower/LowerUtil.h"

namespace ember {

namespace {

// Every reader of n is a QuantizeLinear.
bool allReadersQuantize(
    const std::unordered_map<const Node *, std::vector<Use>> &users,
    const Node *n) {
  auto it = users.find(n);
  if (it == users.end() || it->second.empty())
    return false;
  for (const Use &u : it->second)
    if (!u.user || u.user->kind != OpKind::QuantizeLinear || u.operand != 0)
      return false;
  return true;
}

Status spaceDepthRewrite(Function &f, Node &n) {
  const Dims &xd = n.inputs[0].type().dims();
  const int64_t r = n.attrInt("blocksize", 0);
  const bool d2s = n.kind == OpKind::DepthToSpace;
  const bool crd = d2s && n.attrString("mode", "DCR") == "CRD";
  // C: the channels of the space side (y for DepthToSpace, x for
  // SpaceToDepth).
  const int64_t C = d2s ? xd[1] / (r * r) : xd[1];
  // Weights: ConvTranspose [C r r, C, r, r] (input channels first), Conv
  // [C r r, C, r, r] (output channels first): the same shape.
  Tensor w(Type(ElemKind::I8, {C * r * r, C, r, r}));
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < r; ++j) {
        const int64_t deep = crd ? c * r * r + i * r + j : (i * r + j) * C + c;
        w.setInt(((deep * C + c) * r + i) * r + j, 1);
      }
  LoweringBuilder b(f, n);
  EMBER_ASSIGN(Value wd, selectionWeights(b, std::move(w), "select"));
  AttrMap a;
  a["kernel_shape"] = Attr::ofInts({r, r});
  a["strides"] = Attr::ofInts({r, r});
  EMBER_ASSIGN(Value y, b.op(d2s ? OpKind::ConvTranspose : OpKind::Conv,
                             {n.inputs[0], wd}, a));
  f.replaceAllUses(Value(&n, 0), y);
  f.erase(&n);
  return Status::ok();
}

} // namespace

Status spaceDepthAsConv(Function &f, size_t *numRewritten) {
  auto users = f.computeUsers();
  std::vector<Node *> work;
  for (auto &np : f.nodes()) {
    Node *n = np.get();
    if ((n->kind != OpKind::DepthToSpace && n->kind != OpKind::SpaceToDepth) ||
        !n->inputs[0].node || !perTensorDequantize(n->inputs[0].node) ||
        !allReadersQuantize(users, n))
      continue;
    const Dims &xd = n->inputs[0].type().dims();
    const int64_t r = n->attrInt("blocksize", 0);
    if (xd.size() != 4 || r < 2 || xd[1] <= 0 || xd[2] <= 0 || xd[3] <= 0 ||
        (n->kind == OpKind::DepthToSpace ? xd[1] / (r * r) : xd[1]) > 16 ||
        (n->kind == OpKind::DepthToSpace && xd[1] % (r * r)) ||
        (n->kind == OpKind::SpaceToDepth && (xd[2] % r || xd[3] % r)))
      continue;
    work.push_back(n);
  }
  for (Node *n : work)
    EMBER_TRY(spaceDepthRewrite(f, *n));
  if (numRewritten)
    *numRewritten += work.size();
  return Status::ok();
}

} // namespace ember

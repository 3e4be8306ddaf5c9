// Lowerings of the composite movement ops: Flatten, Squeeze and Unsqueeze
// become Reshape with a constant i64 shape; DepthToSpace and SpaceToDepth
// become Reshape+Transpose+Reshape; Dropout (inference) becomes its input
// and, for a mask result, a constant all-true tensor.
#include "lower/Lowering.h"

#include <algorithm>
#include <cstring>

namespace ember {

// Reshape of `v` to `d`; allowzero=1 when d has zero dims (a 0 then means
// an empty dim, not "copy the input dim").
static Expected<Value> reshapeTo(LoweringBuilder &b, Value v, const Dims &d) {
  AttrMap attrs;
  if (std::find(d.begin(), d.end(), 0) != d.end())
    attrs["allowzero"] = Attr::ofInt(1);
  return b.op(OpKind::Reshape, {v, b.ints(d)}, std::move(attrs));
}

// Reshape of the node's operand 0 to its result shape.
static Expected<std::vector<Value>> reshapeToResult(LoweringBuilder &b) {
  EMBER_ASSIGN(Value v, reshapeTo(b, b.in(0), b.node().types[0].dims()));
  return std::vector<Value>{v};
}

Expected<std::vector<Value>> lower_Flatten(LoweringBuilder &b) {
  return reshapeToResult(b);
}

Expected<std::vector<Value>> lower_Squeeze(LoweringBuilder &b) {
  return reshapeToResult(b);
}

Expected<std::vector<Value>> lower_Unsqueeze(LoweringBuilder &b) {
  return reshapeToResult(b);
}

// Shared by DepthToSpace / SpaceToDepth: reshape to `mid`, permute, reshape
// to the node's result shape.
static Expected<std::vector<Value>>
reshapeTransposeReshape(LoweringBuilder &b, const Dims &mid,
                        const std::vector<int64_t> &perm) {
  EMBER_ASSIGN(Value r1, reshapeTo(b, b.in(0), mid));
  AttrMap attrs;
  attrs["perm"] = Attr::ofInts(perm);
  EMBER_ASSIGN(Value t, b.op(OpKind::Transpose, {r1}, std::move(attrs)));
  EMBER_ASSIGN(Value r2, reshapeTo(b, t, b.node().types[0].dims()));
  return std::vector<Value>{r2};
}

Expected<std::vector<Value>> lower_DepthToSpace(LoweringBuilder &b) {
  const Dims &x = b.inType(0).dims();
  int64_t bs = b.node().attrInt("blocksize", 0);
  if (x.size() != 4 || bs <= 0 || x[1] % (bs * bs) != 0)
    return invalid("DepthToSpace: bad input ", b.inType(0).toString(),
                   " or blocksize ", bs);
  int64_t N = x[0], C = x[1], H = x[2], W = x[3], c = C / (bs * bs);
  if (b.node().attrString("mode", "DCR") == "CRD")
    return reshapeTransposeReshape(b, {N, c, bs, bs, H, W}, {0, 1, 4, 2, 5, 3});
  return reshapeTransposeReshape(b, {N, bs, bs, c, H, W}, {0, 3, 4, 1, 5, 2});
}

Expected<std::vector<Value>> lower_SpaceToDepth(LoweringBuilder &b) {
  const Dims &x = b.inType(0).dims();
  int64_t bs = b.node().attrInt("blocksize", 0);
  if (x.size() != 4 || bs <= 0 || x[2] % bs != 0 || x[3] % bs != 0)
    return invalid("SpaceToDepth: bad input ", b.inType(0).toString(),
                   " or blocksize ", bs);
  int64_t N = x[0], C = x[1], H = x[2], W = x[3];
  if (b.node().attrString("mode", "DCR") == "CRD")
    return reshapeTransposeReshape(b, {N, C, H / bs, bs, W / bs, bs},
                                   {0, 1, 3, 5, 2, 4});
  return reshapeTransposeReshape(b, {N, C, H / bs, bs, W / bs, bs},
                                 {0, 3, 5, 1, 2, 4});
}

// True when `v` is a constant whose first element is zero.
static bool isConstantZero(Value v) {
  if (!v || v.node->kind != OpKind::Constant || !v.node->payload ||
      v.node->payload->size() == 0)
    return false;
  return v.node->payload->getDouble(0) == 0;
}

Expected<std::vector<Value>> lower_Dropout(LoweringBuilder &b) {
  // Inference semantics. Unless training_mode is known to be false (or
  // absent) or the ratio known to be zero, the node may be random dropout,
  // which cannot be lowered to deterministic primitives.
  bool inference = !b.has(2) || isConstantZero(b.in(2));
  bool noDrop = b.has(1) && isConstantZero(b.in(1));
  if (!inference && !noDrop)
    return unsupported("Dropout: training_mode is not known to be false; "
                       "random dropout cannot be lowered");
  std::vector<Value> res{b.in(0)};
  if (b.node().numResults() == 2) {
    Tensor mask(Type(ElemKind::Bool, b.inType(0).dims()));
    std::fill(mask.data<bool>(), mask.data<bool>() + mask.size(), true);
    res.push_back(b.constant(std::move(mask)));
  }
  return res;
}

} // namespace ember

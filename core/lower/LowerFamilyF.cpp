// Lowerings of the family F composites. Ops whose results are fixed at
// compile time (window generators, MelWeightMatrix, EyeLike) and ops whose
// result shape already required their operand values (NonZero, Unique,
// NonMaxSuppression) fold into constants by running the reference kernel;
// OneHot, Compress and CenterCropPad rebuild from Equal/Where, Gather and
// Slice/Pad.
#include "interp/Kernel.h"
#include "lower/Lowering.h"

namespace ember {

namespace {

const Tensor *constantOf(Value v) {
  return v.node && v.node->kind == OpKind::Constant ? v.node->payload.get()
                                                    : nullptr;
}

// Runs the node's reference kernel and returns its results as constants.
// Operands that are not constants are passed as zero tensors of their type,
// so only use this where the kernel does not read them (or where type
// inference already required them to be constant).
Expected<std::vector<Value>> foldToConstants(LoweringBuilder &b,
                                             bool allowUnknown) {
  Node &n = b.node();
  std::vector<Tensor> zeros(n.inputs.size());
  std::vector<const Tensor *> ins(n.inputs.size(), nullptr);
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (!b.has(i))
      continue;
    if (const Tensor *c = constantOf(b.in(i))) {
      ins[i] = c;
      continue;
    }
    if (!allowUnknown)
      return unsupported(opName(n.kind), ": operand #", i,
                         " must be a constant to lower ", n.describe());
    zeros[i] = Tensor(b.inType(i));
    ins[i] = &zeros[i];
  }
  KernelContext ctx(n, ins, false);
  EMBER_TRY(kernelFor(n.kind)(ctx));
  std::vector<Value> out;
  for (Tensor &t : ctx.outputs())
    out.push_back(b.constant(std::move(t)));
  return out;
}

} // namespace

Expected<std::vector<Value>> lower_EyeLike(LoweringBuilder &b) {
  return foldToConstants(b, true);
}
Expected<std::vector<Value>> lower_HannWindow(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_HammingWindow(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_BlackmanWindow(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_MelWeightMatrix(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_NonZero(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_Unique(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_NonMaxSuppression(LoweringBuilder &b) {
  return foldToConstants(b, false);
}

// OneHot: Where(Equal(wrapped indices with a size-1 dim at axis,
// [0..depth) along axis), on, off).
Expected<std::vector<Value>> lower_OneHot(LoweringBuilder &b) {
  const Type &ot = b.node().types[0];
  Value ind = b.in(0);
  const Type &it = b.inType(0);
  int64_t r = int64_t(it.rank());
  int64_t axis = b.node().attrInt("axis", -1);
  if (axis < 0)
    axis += r + 1;
  int64_t depth = ot.dim(size_t(axis));
  ElemKind ik = it.elem();
  EMBER_ASSIGN(Value neg, b.op(OpKind::Less, {ind, b.scalar(ik, 0)}));
  EMBER_ASSIGN(Value up, b.op(OpKind::Add, {ind, b.scalar(ik, double(depth))}));
  EMBER_ASSIGN(Value w, b.op(OpKind::Where, {neg, up, ind}));
  Dims shape = it.dims();
  shape.insert(shape.begin() + axis, 1);
  EMBER_ASSIGN(Value col, b.op(OpKind::Reshape, {w, b.ints(shape)}));
  Dims rd(size_t(r + 1), 1);
  rd[size_t(axis)] = depth;
  Tensor range(Type(ik, rd));
  for (int64_t k = 0; k < depth; ++k)
    range.setDouble(k, double(k));
  EMBER_ASSIGN(Value eq, b.op(OpKind::Equal, {col, b.constant(range)}));
  Value vals = b.in(2);
  EMBER_ASSIGN(Value off,
               b.op(OpKind::Slice, {vals, b.ints({0}), b.ints({1})}));
  EMBER_ASSIGN(Value on, b.op(OpKind::Slice, {vals, b.ints({1}), b.ints({2})}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Where, {eq, on, off}));
  return std::vector<Value>{y};
}

// Compress: Gather of the selected indices (the condition is a constant:
// the result shape depends on it).
Expected<std::vector<Value>> lower_Compress(LoweringBuilder &b) {
  const Tensor *cond = constantOf(b.in(1));
  if (!cond)
    return unsupported("Compress: the condition must be a constant to lower ",
                       b.node().describe());
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond->size(); ++i)
    if (cond->getDouble(i) != 0)
      keep.push_back(i);
  Value x = b.in(0);
  int64_t axis = 0;
  if (b.node().hasAttr("axis")) {
    axis = b.node().attrInt("axis", 0);
    if (axis < 0)
      axis += int64_t(b.inType(0).rank());
  } else {
    EMBER_ASSIGN(x, b.op(OpKind::Reshape, {x, b.ints({-1})}));
  }
  Value idx =
      b.constant(Tensor::fromInts(ElemKind::I64, keep, {int64_t(keep.size())}));
  EMBER_ASSIGN(Value y,
               b.op(OpKind::Gather, {x, idx}, {{"axis", Attr::ofInt(axis)}}));
  return std::vector<Value>{y};
}

// CenterCropPad: Slice the cropped axes, then zero-Pad the padded ones.
Expected<std::vector<Value>> lower_CenterCropPad(LoweringBuilder &b) {
  const Type &xt = b.inType(0), &yt = b.node().types[0];
  size_t r = xt.rank();
  std::vector<int64_t> starts, ends, axes, pads(2 * r, 0);
  bool anyPad = false;
  for (size_t k = 0; k < r; ++k) {
    int64_t d = xt.dim(k), s = yt.dim(k);
    if (s < d) {
      starts.push_back((d - s) / 2);
      ends.push_back((d - s) / 2 + s);
      axes.push_back(int64_t(k));
    } else if (s > d) {
      pads[k] = (s - d) / 2;
      pads[k + r] = s - d - (s - d) / 2;
      anyPad = true;
    }
  }
  Value v = b.in(0);
  if (!axes.empty()) {
    EMBER_ASSIGN(v, b.op(OpKind::Slice,
                         {v, b.ints(starts), b.ints(ends), b.ints(axes)}));
  }
  if (anyPad) {
    EMBER_ASSIGN(v, b.op(OpKind::Pad, {v, b.ints(pads)}));
  }
  if (axes.empty() && !anyPad) {
    EMBER_ASSIGN(v, b.op(OpKind::Identity, {v}));
  }
  return std::vector<Value>{v};
}

} // namespace ember

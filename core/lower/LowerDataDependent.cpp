// Lowerings of the ops whose result shape already required their operand
// values at type inference (NonZero, Unique, NonMaxSuppression): the result
// is folded into constants by running the reference kernel. Compress
// rebuilds from a Gather of the selected indices.
#include "lower/LowerUtil.h"

namespace ember {

Expected<std::vector<Value>> lower_NonZero(LoweringBuilder &b) {
  return foldToConstants(b, false);
}

Expected<std::vector<Value>> lower_Unique(LoweringBuilder &b) {
  return foldToConstants(b, false);
}

Expected<std::vector<Value>> lower_NonMaxSuppression(LoweringBuilder &b) {
  return foldToConstants(b, false);
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

} // namespace ember

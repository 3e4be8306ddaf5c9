// A constant Pad of only the spatial axes read by a convolution that pads
// with the same value: the convolution reads the Pad's operand and pads it
// itself, its `pads` grown by the Pad's.
//
// A Conv pads with 0.0; a ConvInteger pads with its input zero point (it
// sums (x - x_zero_point) products, and a padded element contributes 0).
// So the fold needs a Pad in constant mode whose value is 0 (a Conv) or the
// ConvInteger's x_zero_point (a QDQ Pad lowered to the stored integers pads
// with the zero point: docs/quantization.md, "Pad"), constant non-negative
// pads on axes 2 and up only, and a convolution with explicit padding
// (auto_pad NOTSET). Every output element sums the same products, so the
// results are the same bits. Exporters write such Pads for asymmetric or
// TensorFlow-style "SAME" padding (Keras' ZeroPadding2D before a stride-2
// convolution); without the fold an accelerator with no Pad form leaves
// each of them on the host between two device runs. The Pad stays for its
// other readers; dce removes it when none is left. The pipeline runs it
// before lowering (float Pads) and after it (the integer ones).
#include "passes/Pass.h"

#include <optional>

namespace ember {

namespace {

// The scalar of a constant operand, or nullopt.
std::optional<double> padScalarInput(const Node &n, size_t i) {
  const Tensor *t = n.constantInput(i);
  if (!t || t->size() != 1)
    return std::nullopt;
  return t->getDouble(0);
}

// The Pad's begin and end amounts per axis of its rank-`rank` operand, when
// it is a constant-mode Pad by constants with nothing removed; else empty.
std::vector<int64_t> padAmounts(const Node &p, size_t rank) {
  if (p.kind != OpKind::Pad || p.numResults() != 1 ||
      p.attrString("mode", "constant") != "constant" || !p.hasInput(1))
    return {};
  const Tensor *pads = p.constantInput(1);
  if (!pads)
    return {};
  std::vector<int64_t> axes;
  if (p.hasInput(3)) {
    const Tensor *a = p.constantInput(3);
    if (!a)
      return {};
    for (int64_t i = 0; i < a->size(); ++i) {
      int64_t ax = a->getInt(i);
      axes.push_back(ax < 0 ? ax + int64_t(rank) : ax);
    }
  } else {
    for (size_t i = 0; i < rank; ++i)
      axes.push_back(int64_t(i));
  }
  if (pads->size() != int64_t(2 * axes.size()))
    return {};
  std::vector<int64_t> amounts(2 * rank, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    if (axes[k] < 0 || axes[k] >= int64_t(rank))
      return {};
    const int64_t b = pads->getInt(int64_t(k)),
                  e = pads->getInt(int64_t(k + axes.size()));
    if (b < 0 || e < 0)
      return {};
    amounts[size_t(axes[k])] += b;
    amounts[size_t(axes[k]) + rank] += e;
  }
  return amounts;
}

// The value a convolution pads its input with: 0 (Conv) or the constant
// input zero point (ConvInteger); nullopt when not known.
std::optional<double> convPadValue(const Node &c) {
  if (c.kind == OpKind::Conv)
    return 0.0;
  if (c.kind == OpKind::ConvInteger)
    return c.hasInput(2) ? padScalarInput(c, 2) : std::optional<double>(0.0);
  return std::nullopt;
}

bool foldPadInto(Node &c) {
  if (!c.hasInput(0) || !c.inputs[0].node)
    return false;
  const Node &p = *c.inputs[0].node;
  const size_t rank = c.inputs[0].type().dims().size();
  if (rank < 3 || c.attrString("auto_pad", "NOTSET") != "NOTSET")
    return false;
  const std::vector<int64_t> amounts = padAmounts(p, rank);
  if (amounts.empty() || amounts[0] || amounts[1] || amounts[rank] ||
      amounts[rank + 1])
    return false; // batch or channels padded
  const std::optional<double> value =
      p.hasInput(2) ? padScalarInput(p, 2) : std::optional<double>(0.0);
  const std::optional<double> wanted = convPadValue(c);
  if (!value || !wanted || *value != *wanted)
    return false;
  const size_t sp = rank - 2;
  std::vector<int64_t> pads = c.attrInts("pads");
  if (pads.empty())
    pads.assign(2 * sp, 0);
  if (pads.size() != 2 * sp)
    return false;
  for (size_t i = 0; i < sp; ++i) {
    pads[i] += amounts[2 + i];
    pads[sp + i] += amounts[rank + 2 + i];
  }
  c.attrs["pads"] = Attr::ofInts(pads);
  c.inputs[0] = p.inputs[0];
  return true;
}

} // namespace

Status runFoldPad(Function &f, PassStats &s) {
  for (auto &np : f.nodes()) {
    Node &c = *np;
    if ((c.kind == OpKind::Conv || c.kind == OpKind::ConvInteger) &&
        foldPadInto(c))
      ++s.changed;
  }
  return Status::ok();
}

} // namespace ember

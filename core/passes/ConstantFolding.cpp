// Replaces every node whose operands are all constants by constants holding
// its results, computed with the reference kernels. DequantizeLinear is kept
// (a quantized weight); lowering folds the ones it does not consume.
#include "passes/Pass.h"

#include "import/TensorIO.h"
#include "interp/Interpreter.h"

namespace ember {

// Results larger than this, and larger than the constants they are computed
// from, stay computed at run time (a folded broadcast could otherwise blow
// up the weights). A result no larger than its operands (a Transpose, a
// Slice, a Cast to a narrower kind of a big weight) always folds. VGG-19's
// fc6 weight is 411 MB: with a 256 MB limit its transpose (Gemm's
// lowering) ran on every inference, and in the ONNX light zoo, where the
// weights are ConstantOfShape fills, the 411 MB fill too (light VGG-19 ran
// at a fifth of ONNX Runtime's speed).
static constexpr uint64_t kMaxFoldBytes = uint64_t(1) << 30;

Status runConstantFolding(Function &f, PassStats &s) {
  std::vector<Node *> work;
  for (auto &n : f.nodes())
    work.push_back(n.get());
  for (Node *n : work) {
    if (isStorage(n->kind))
      continue;
    if (!foldableBeforeLowering(n->kind))
      continue;
    bool allConst = true;
    uint64_t bytes = 0, inBytes = 0;
    for (auto &in : n->inputs) {
      if (in.node && in.node->kind != OpKind::Constant)
        allConst = false;
      else if (in.node)
        inBytes += in.type().sizeInBytes();
    }
    for (auto &t : n->types)
      bytes += t.sizeInBytes();
    if (!allConst || (bytes > kMaxFoldBytes && bytes > inBytes))
      continue;
    std::vector<const Tensor *> ins;
    for (auto &in : n->inputs)
      ins.push_back(in.node ? in.node->payload.get() : nullptr);
    auto res = evaluateNode(*n, ins);
    if (!res)
      return res.status();
    for (unsigned i = 0; i < n->numResults(); ++i) {
      Node *c = f.addConstant(n->outNames[i] + ".folded", std::move((*res)[i]));
      f.replaceAllUses(Value(n, i), Value(c));
    }
    f.erase(n);
    ++s.changed;
  }
  return Status::ok();
}

} // namespace ember

// A Slice of an integer tensor's channels (axis 1 of a rank-3 or higher
// tensor, constant bounds, step 1) as the part of a Split along the
// channels: Split(x, [a, b - a, C - b]) (empty parts left out), the Slice's
// readers reading the middle part. The same elements in the same order.
//
// Exporters write a channel split as Slices as often as a Split (a CSP
// block's or a ShuffleNet unit's halves, one Slice per half); an
// accelerator that runs a Split along the channels as views of its input
// (the example NPU's channel tiles, a part inside a tile copied: docs/
// npu-backend.md, "What runs on the NPU") then runs these too, where each
// Slice was a host node between two device runs. The parts nothing reads
// are views that cost nothing there; a backend that copies every part of a
// Split copies them too. Only integer tensors (the stored 8- and 16-bit
// integers the accelerators read): the pipeline runs it after lowering.
#include "lower/LowerUtil.h"
#include "passes/Pass.h"

namespace ember {

namespace {

bool storedInteger(ElemKind k) {
  return k == ElemKind::U8 || k == ElemKind::I8 || k == ElemKind::I16 ||
         k == ElemKind::U16;
}

} // namespace

Status runSliceAsSplit(Function &f, PassStats &s) {
  std::vector<Node *> work;
  for (auto &np : f.nodes())
    if (np->kind == OpKind::Slice && np->numResults() == 1 && np->hasInput(0) &&
        storedInteger(np->types[0].elem()))
      work.push_back(np.get());
  for (Node *sl : work) {
    const Value x = sl->inputs[0];
    const Dims &d = x.type().dims();
    const int64_t rank = int64_t(d.size());
    if (rank < 3 || d[1] <= 0)
      continue;
    const int64_t C = d[1];
    int64_t a = 0, b = 0;
    if (!channelSliceRange(*sl, d, a, b) || (a == 0 && b == C))
      continue; // (the whole axis: remove-identity's)
    std::vector<int64_t> parts;
    if (a > 0)
      parts.push_back(a);
    const unsigned mid = unsigned(parts.size());
    parts.push_back(b - a);
    if (b < C)
      parts.push_back(C - b);
    Tensor sizes(Type(ElemKind::I64, {int64_t(parts.size())}));
    for (size_t i = 0; i < parts.size(); ++i)
      sizes.setInt(int64_t(i), parts[i]);
    const std::string base = sl->outNames[0];
    Value sv(f.addConstant(f.freshName(base + ".split"), std::move(sizes)));
    std::vector<std::string> names;
    for (size_t i = 0; i < parts.size(); ++i)
      names.push_back(f.freshName(base + ".part" + std::to_string(i)));
    EMBER_ASSIGN(Node * sp,
                 f.create(OpKind::Split, {x, sv}, {{"axis", Attr::ofInt(1)}},
                          "", int(parts.size()), sl, names));
    f.replaceAllUses(Value(sl, 0), Value(sp, mid));
    ++s.changed;
  }
  return Status::ok();
}

} // namespace ember

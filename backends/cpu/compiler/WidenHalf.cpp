// 16-bit float Conv, ConvTranspose, MatMul, pooling and reductions run on
// the f32 kernels and loops: before grouping, each such node gets its f16/bf16
// operands cast to f32 (constants converted here, once) and its results cast
// back. The reference computes these ops in f32 and rounds each result to the
// 16-bit kind, which is what the casts do; only the f32 summation order of the
// kernels differs (reductions accumulate in double either way, so theirs
// match exactly).
// The casts are elementwise, so they fuse with their neighbours.
#include "Capability.h"
#include "Compiler.h"

namespace ember::cpugen {

namespace {

bool widens(const Node &n) {
  OpClass c = opClass(n.kind);
  if (c != OpClass::Conv && c != OpClass::ConvT && c != OpClass::MatMul &&
      c != OpClass::Pool && c != OpClass::Reduce)
    return false;
  for (auto &in : n.inputs)
    if (in && isHalfFloatKind(in.type().elem()))
      return true;
  return false;
}

} // namespace

Status widenHalfKernels(Function &f) {
  std::vector<Node *> work;
  for (auto &n : f.nodes())
    if (widens(*n))
      work.push_back(n.get());
  for (Node *n : work) {
    ElemKind half = ElemKind::F16;
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      Value in = n->inputs[i];
      if (!in || !isHalfFloatKind(in.type().elem()))
        continue;
      half = in.type().elem();
      if (isConstant(in)) {
        Tensor t = in.node->payload->convertTo(ElemKind::F32);
        Node *c = f.addConstant(f.freshName(in.name() + ".f32"), std::move(t));
        n->inputs[i] = Value(c);
        continue;
      }
      EMBER_ASSIGN(
          Node * c,
          f.create(OpKind::Cast, {in},
                   {{"to", Attr::ofInt(elemKindToOnnx(ElemKind::F32))}},
                   n->name, -1, n, {in.name() + ".f32"}));
      n->inputs[i] = Value(c);
    }
    // The node now computes in f32; its results go back to the 16-bit kind.
    Node *next = nullptr;
    for (auto it = f.nodes().begin(); it != f.nodes().end(); ++it)
      if (it->get() == n) {
        ++it;
        next = it == f.nodes().end() ? nullptr : it->get();
        break;
      }
    for (unsigned r = 0; r < n->numResults(); ++r) {
      if (!isHalfFloatKind(n->types[r].elem()))
        continue;
      n->types[r] = n->types[r].withElem(ElemKind::F32);
      Value res(n, r);
      EMBER_ASSIGN(Node * back,
                   f.create(OpKind::Cast, {res},
                            {{"to", Attr::ofInt(elemKindToOnnx(half))}},
                            n->name, -1, next, {n->outNames[r] + ".half"}));
      f.replaceAllUses(res, Value(back));
      back->inputs[0] = res;
    }
  }
  return Status::ok();
}

} // namespace ember::cpugen

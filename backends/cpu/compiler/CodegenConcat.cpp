// Copy loops: Concat (one loop per operand into its slice of the result,
// skipped for operands computed in place) and Split (one loop per result),
// ordered by the store's strides so a channels-last copy runs along channels.
#include "LoopGen.h"

namespace ember::cpugen {

Status Codegen::emitConcat(const Group &g) {
  const Node &n = *g.root;
  Value root(const_cast<Node *>(g.root), 0);
  const Dims &od = root.type().dims();
  int64_t axis = n.attrInt("axis", 0);
  if (axis < 0)
    axis += int64_t(od.size());
  std::vector<int64_t> ostr = physStrides(root); // as stored (maybe NHWC)
  ElemKind k = root.type().elem();
  int64_t at = 0;
  for (auto &in : n.inputs) {
    Dims dims = in.type().dims();
    int64_t extent = dims[size_t(axis)];
    Loc src = locOf(in), dst = locOf(root);
    bool inPlace =
        src.kind == dst.kind && src.index == dst.index &&
        src.offset ==
            dst.offset + uint64_t(at * ostr[size_t(axis)]) * elemSize(k);
    if (in.type().numElements() == 0 || inPlace) {
      at += extent;
      continue;
    }
    LoopGen lg(*this, g, *b_, dims);
    int leaf = lg.leafFor(in);
    std::vector<int64_t> store = ostr;
    int64_t storeOff = at * ostr[size_t(axis)];
    std::vector<std::vector<int64_t> *> vecs = {
        &lg.leaves[size_t(leaf)].a.strides, &store};
    storeOrder(dims, vecs); // channels innermost when stored channels-last
    coalesce(dims, vecs);
    int64_t per = 1;
    for (size_t d = 1; d < dims.size(); ++d)
      per *= dims[d];
    emitTask("concat", dims[0], per, [&](llvm::Value *begin, llvm::Value *end) {
      lg.bases = {ptrOfValue(lg.leaves[size_t(leaf)].a.base)};
      llvm::Value *out = ptrOfValue(root);
      emitNest(dims, begin, end, [&](std::vector<llvm::Value *> &idx) {
        lg.idx = idx;
        llvm::Value *v = b_->CreateLoad(elemType(k), lg.address(leaf, nullptr));
        llvm::Value *lin = b_->getInt64(uint64_t(storeOff));
        for (size_t d = 0; d < idx.size(); ++d)
          if (store[d])
            lin = b_->CreateAdd(
                lin, b_->CreateMul(idx[d], b_->getInt64(uint64_t(store[d]))));
        b_->CreateStore(v, b_->CreateInBoundsGEP(elemType(k), out, lin));
      });
    });
    at += extent;
  }
  return Status::ok();
}

Status Codegen::emitSplit(const Group &g) {
  const Node &n = *g.root;
  const Value &x = n.inputs[0];
  const Dims &in = x.type().dims();
  int64_t axis = n.attrInt("axis", 0);
  if (axis < 0)
    axis += int64_t(in.size());
  std::vector<int64_t> istr = physStrides(x); // as stored (maybe NHWC)
  ElemKind k = x.type().elem();
  int64_t at = 0;
  for (unsigned r = 0; r < n.numResults(); ++r) {
    Value res(const_cast<Node *>(&n), r);
    Dims dims = n.types[r].dims();
    int64_t extent = dims[size_t(axis)];
    // (A part inside the input, Views.cpp, is no copy.)
    if (res.type().numElements() == 0 || inside_.count(keyOf(res))) {
      at += extent;
      continue;
    }
    LoopGen lg(*this, g, *b_, dims);
    Leaf l;
    l.a.base = x;
    l.a.offset = at * istr[size_t(axis)];
    l.a.strides = istr;
    l.elem = k;
    int leaf = lg.addLeaf(l);
    std::vector<int64_t> store = physStrides(res); // (maybe NHWC)
    std::vector<std::vector<int64_t> *> vecs = {
        &lg.leaves[size_t(leaf)].a.strides, &store};
    storeOrder(dims, vecs); // channels innermost when stored channels-last
    coalesce(dims, vecs);
    int64_t per = 1;
    for (size_t d = 1; d < dims.size(); ++d)
      per *= dims[d];
    emitTask("split", dims[0], per, [&](llvm::Value *begin, llvm::Value *end) {
      lg.bases = {ptrOfValue(x)};
      llvm::Value *out = ptrOfValue(res);
      emitNest(dims, begin, end, [&](std::vector<llvm::Value *> &idx) {
        lg.idx = idx;
        llvm::Value *v = b_->CreateLoad(elemType(k), lg.address(leaf, nullptr));
        llvm::Value *lin = b_->getInt64(0);
        for (size_t d = 0; d < idx.size(); ++d)
          if (store[d])
            lin = b_->CreateAdd(
                lin, b_->CreateMul(idx[d], b_->getInt64(uint64_t(store[d]))));
        b_->CreateStore(v, b_->CreateInBoundsGEP(elemType(k), out, lin));
      });
    });
    at += extent;
  }
  return Status::ok();
}

} // namespace ember::cpugen

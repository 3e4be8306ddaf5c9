// Generated loops: fused elementwise groups (with Transpose/Slice/Expand
// folded into affine loads and Gather's data-dependent load). Every shape,
// stride and offset is a compile-time constant, so after the O3 pipeline the
// inner loops are specialized and vectorized. This file plans a group's loads
// and evaluates its expression; LoopOps.cpp has each op's arithmetic,
// CodegenConcat.cpp and CodegenReduce.cpp the copy and reduction loops.
#include "LoopGen.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/MDBuilder.h>

#include <algorithm>

namespace ember::cpugen {

bool isSignedInt(ElemKind k) {
  return k == ElemKind::I8 || k == ElemKind::I16 || k == ElemKind::I32 ||
         k == ElemKind::I64;
}

unsigned kindBits(ElemKind k) {
  return k == ElemKind::Bool ? 1 : unsigned(elemSize(k) * 8);
}

std::vector<int64_t> contiguous(const Dims &d) {
  std::vector<int64_t> s(d.size());
  int64_t acc = 1;
  for (size_t i = d.size(); i-- > 0;) {
    s[i] = acc;
    acc *= d[i];
  }
  return s;
}

std::vector<int64_t> broadcastTo(const std::vector<int64_t> &strides,
                                 const Dims &from, const Dims &to) {
  std::vector<int64_t> out(to.size(), 0);
  for (size_t i = 0; i < from.size() && i < to.size(); ++i) {
    size_t fi = from.size() - 1 - i, ti = to.size() - 1 - i;
    out[ti] = from[fi] == 1 && to[ti] != 1 ? 0 : strides[fi];
  }
  return out;
}

void coalesce(Dims &dims, std::vector<std::vector<int64_t> *> vecs,
              const std::function<bool(size_t last, size_t d)> &mayMerge,
              std::vector<size_t> *from) {
  Dims nd;
  std::vector<std::vector<int64_t>> nv(vecs.size());
  std::vector<size_t> last;
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1)
      continue;
    bool merge = !nd.empty() && (!mayMerge || mayMerge(last.back(), d));
    for (size_t k = 0; k < vecs.size() && merge; ++k)
      merge = nv[k].back() == (*vecs[k])[d] * dims[d];
    if (merge) {
      nd.back() *= dims[d];
      last.back() = d;
      for (size_t k = 0; k < vecs.size(); ++k)
        nv[k].back() = (*vecs[k])[d];
    } else {
      nd.push_back(dims[d]);
      last.push_back(d);
      for (size_t k = 0; k < vecs.size(); ++k)
        nv[k].push_back((*vecs[k])[d]);
    }
  }
  if (nd.empty()) {
    nd.push_back(1);
    for (auto &v : nv)
      v.push_back(0);
  }
  dims = nd;
  for (size_t k = 0; k < vecs.size(); ++k)
    *vecs[k] = nv[k];
  if (from)
    *from = last;
}

void storeOrder(Dims &dims, std::vector<std::vector<int64_t> *> vecs) {
  const std::vector<int64_t> &st = *vecs.back();
  std::vector<size_t> order(dims.size());
  for (size_t d = 0; d < order.size(); ++d)
    order[d] = d;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return st[a] > st[b]; });
  Dims nd(dims.size());
  for (size_t d = 0; d < order.size(); ++d)
    nd[d] = dims[order[d]];
  dims = nd;
  for (auto *v : vecs) {
    std::vector<int64_t> nv(v->size());
    for (size_t d = 0; d < order.size(); ++d)
      nv[d] = (*v)[order[d]];
    *v = nv;
  }
}

void sliceMap(const Node &n, std::vector<int64_t> &first,
              std::vector<int64_t> &step) {
  const Dims &in = n.inputs[0].type().dims();
  size_t r = in.size();
  first.assign(r, 0);
  step.assign(r, 1);
  std::vector<int64_t> starts, ends, axes, steps;
  constantInts(n.inputs[1], starts);
  constantInts(n.inputs[2], ends);
  if (n.hasInput(3) && n.inputs[3].type().numElements() > 0)
    constantInts(n.inputs[3], axes);
  else
    for (size_t i = 0; i < starts.size(); ++i)
      axes.push_back(int64_t(i));
  if (n.hasInput(4) && n.inputs[4].type().numElements() > 0)
    constantInts(n.inputs[4], steps);
  else
    steps.assign(starts.size(), 1);
  for (size_t i = 0; i < axes.size() && i < starts.size(); ++i) {
    int64_t a = axes[i] < 0 ? axes[i] + int64_t(r) : axes[i];
    int64_t dim = in[size_t(a)], s = steps[i], bgn = starts[i];
    if (bgn < 0)
      bgn = bgn < -dim ? -1 : bgn + dim;
    if (dim == 0)
      bgn = 0;
    else if (s > 0)
      bgn = std::clamp<int64_t>(bgn, 0, dim);
    else
      bgn = std::clamp<int64_t>(bgn, -1, dim - 1);
    first[size_t(a)] = bgn;
    step[size_t(a)] = s;
  }
}

Affine Codegen::affineOf(const Group &g, const Value &v) const {
  const Node *n = v.node;
  if (!contains(g, n) || loopClass(*n) != OpClass::Move) {
    Affine a;
    a.base = v;
    a.strides = physStrides(v);
    return a;
  }
  Affine a = affineOf(g, n->inputs[0]);
  const Dims &in = n->inputs[0].type().dims();
  const Dims &out = n->types[0].dims();
  size_t axis;
  int64_t index;
  if (n->kind == OpKind::Transpose) {
    std::vector<int64_t> perm;
    if (n->hasAttr("perm"))
      perm = n->attrInts("perm");
    else
      for (size_t i = in.size(); i-- > 0;)
        perm.push_back(int64_t(i));
    std::vector<int64_t> s(out.size());
    for (size_t i = 0; i < out.size(); ++i)
      s[i] = a.strides[size_t(perm[i])];
    a.strides = s;
  } else if (constantIndexGather(*n, axis, index)) {
    a.offset += index * a.strides[axis];
    a.strides.erase(a.strides.begin() + ptrdiff_t(axis));
  } else if (n->kind == OpKind::Slice) {
    std::vector<int64_t> first, step;
    sliceMap(*n, first, step);
    for (size_t d = 0; d < in.size(); ++d) {
      a.offset += first[d] * a.strides[d];
      a.strides[d] *= step[d];
    }
  } else { // Expand
    a.strides = broadcastTo(a.strides, in, out);
  }
  return a;
}

int LoopGen::addLeaf(const Leaf &l) {
  leaves.push_back(l);
  return int(leaves.size() - 1);
}

// Leaf for operand value v (materialized or a folded Move) read at the
// loop index, broadcast to the loop dims.
int LoopGen::leafFor(const Value &v) {
  auto it = leafOf.find(keyOf(v));
  if (it != leafOf.end())
    return it->second;
  Leaf l;
  l.a = cg.affineOf(g, v);
  l.a.strides = broadcastTo(l.a.strides, v.type().dims(), dims);
  l.elem = v.type().elem();
  int id = addLeaf(l);
  leafOf[keyOf(v)] = id;
  return id;
}

// Scale or zero point (operand i) of QuantizeLinear/DequantizeLinear n, or
// multiplier, shift or zero point of Requantize n: one value, or one per
// index of the `axis` dim of operand 0.
int LoopGen::axisLeaf(const Node &n, size_t i) {
  auto key = std::make_pair(&n, i);
  auto it = special.find(key);
  if (it != special.end())
    return it->second;
  const Value &v = n.inputs[i];
  Leaf l;
  l.a = cg.affineOf(g, v);
  l.elem = v.type().elem();
  std::vector<int64_t> st(dims.size(), 0);
  if (v.type().numElements() != 1) {
    size_t r = n.inputs[0].type().rank();
    int64_t axis = n.attrInt("axis", 1);
    if (axis < 0)
      axis += int64_t(r);
    st[dims.size() - r + size_t(axis)] =
        l.a.strides.empty() ? 1 : l.a.strides[0];
  }
  l.a.strides = st;
  int id = addLeaf(l);
  special[key] = id;
  return id;
}

// GatherElements node n (a member): data read at the indices' value
// along `axis`, elsewhere at the loop index.
int LoopGen::gatherElementsLeaf(const Node &n) {
  const Value &data = n.inputs[0], &ind = n.inputs[1];
  const Dims &dd = data.type().dims();
  int64_t axis = n.attrInt("axis", 0);
  if (axis < 0)
    axis += int64_t(dd.size());
  Affine da = cg.affineOf(g, data);
  Leaf il;
  il.a = cg.affineOf(g, ind);
  il.a.strides = broadcastTo(il.a.strides, ind.type().dims(), dims);
  il.elem = ind.type().elem();
  Leaf dl;
  dl.a = da;
  std::vector<int64_t> own = da.strides;
  own[size_t(axis)] = 0;
  dl.a.strides = broadcastTo(own, ind.type().dims(), dims);
  dl.elem = data.type().elem();
  dl.indices = addLeaf(il);
  dl.gatherStride = da.strides[size_t(axis)];
  dl.gatherDim = dd[size_t(axis)];
  int id = addLeaf(dl);
  leafOf[keyOf(&n)] = id;
  return id;
}

// Pad/Tile node n: its operand read through per-axis source tables (the
// reference kernel's gatherByTables).
int LoopGen::tableLeaf(const Node &n) {
  const Value &data = n.inputs[0];
  const Dims &in = data.type().dims(), &out = n.types[0].dims();
  size_t r = in.size(), lead = dims.size() - r;
  std::vector<int64_t> begin(r, 0);
  std::string mode = n.attrString("mode", "constant");
  Leaf l;
  l.a = cg.affineOf(g, data);
  l.elem = data.type().elem();
  if (n.kind == OpKind::Pad) {
    std::vector<int64_t> pads, axes;
    constantInts(n.inputs[1], pads);
    if (n.hasInput(3) && n.inputs[3].type().numElements() > 0)
      constantInts(n.inputs[3], axes);
    else
      for (size_t i = 0; i < r; ++i)
        axes.push_back(int64_t(i));
    for (size_t i = 0; i < axes.size(); ++i)
      begin[size_t(axes[i] < 0 ? axes[i] + int64_t(r) : axes[i])] = pads[i];
    double c;
    if (n.hasInput(2) && scalarConstant(n.inputs[2], c))
      l.fill = c;
  }
  std::vector<int64_t> st(dims.size(), 0);
  l.tables.assign(dims.size(), {});
  for (size_t a = 0; a < r; ++a) {
    st[lead + a] = l.a.strides[a];
    std::vector<int64_t> &t = l.tables[lead + a];
    for (int64_t j = 0; j < out[a]; ++j) {
      int64_t i = j - begin[a], m = in[a];
      if (n.kind == OpKind::Tile)
        i = m ? j % m : -1;
      else if (i < 0 || i >= m) {
        if (mode == "constant" || m == 0)
          i = -1;
        else if (mode == "edge")
          i = i < 0 ? 0 : m - 1;
        else if (mode == "wrap")
          i = ((i % m) + m) % m;
        else if (m == 1)
          i = 0;
        else {
          int64_t per = 2 * (m - 1), k = ((i % per) + per) % per;
          i = k < m ? k : per - k;
        }
      }
      t.push_back(i);
    }
  }
  l.a.strides = st;
  int id = addLeaf(l);
  leafOf[keyOf(&n)] = id;
  return id;
}

// A Gather row's member n: plans its loads (the leaf of its value, -1 when
// gatherValue computes it from several).
int LoopGen::gatherLeaf(const Node &n) {
  auto it = leafOf.find(keyOf(&n));
  if (it != leafOf.end())
    return it->second;
  switch (gatherOpOf(n.kind)) {
  case GatherOp::Gather:
    return indexLeaf(n);
  case GatherOp::GatherElements:
    return gatherElementsLeaf(n);
  case GatherOp::Pad:
  case GatherOp::Tile:
    return tableLeaf(n);
  case GatherOp::Resize:
    return resizeLeaf(n);
  }
  return -1;
}

// A Gather row's member n: its value at the loop index.
llvm::Value *LoopGen::gatherValue(const Node &n) {
  switch (gatherOpOf(n.kind)) {
  case GatherOp::Gather:
  case GatherOp::GatherElements:
  case GatherOp::Pad:
  case GatherOp::Tile:
    break;
  case GatherOp::Resize:
    return resizeValue(n);
  }
  return load(leafOf.at(keyOf(&n)));
}

// Gather node n (a member): leaves for its indices and data.
int LoopGen::indexLeaf(const Node &n) {
  const Value &data = n.inputs[0], &ind = n.inputs[1];
  const Dims &dd = data.type().dims(), &di = ind.type().dims();
  int64_t axis = n.attrInt("axis", 0);
  if (axis < 0)
    axis += int64_t(dd.size());
  size_t a = size_t(axis), q = di.size();
  const Dims &gd = n.types[0].dims();
  size_t lead = dims.size() - gd.size();
  Affine da = cg.affineOf(g, data), ia = cg.affineOf(g, ind);
  Leaf il;
  il.a = ia;
  il.a.strides.assign(dims.size(), 0);
  il.elem = ind.type().elem();
  Leaf dl;
  dl.a = da;
  dl.a.strides.assign(dims.size(), 0);
  dl.elem = data.type().elem();
  for (size_t j = 0; j < gd.size(); ++j) {
    if (j < a)
      dl.a.strides[lead + j] = da.strides[j];
    else if (j < a + q)
      il.a.strides[lead + j] = ia.strides[j - a];
    else
      dl.a.strides[lead + j] = da.strides[j - q + 1];
  }
  dl.indices = addLeaf(il);
  dl.gatherStride = da.strides[a];
  dl.gatherDim = dd[a];
  int id = addLeaf(dl);
  leafOf[keyOf(&n)] = id;
  return id;
}

// First pass: which loads the expression needs.
void LoopGen::plan(const Value &v) {
  const Node *n = v.node;
  double s;
  if (scalarConstant(v, s))
    return;
  if (!contains(g, n) || loopClass(*n) == OpClass::Move) {
    leafFor(v);
    return;
  }
  if (opClass(n->kind) == OpClass::Gather) {
    gatherLeaf(*n);
    return;
  }
  if (n->kind == OpKind::ConstantOfShape)
    return;
  if (n->kind == OpKind::TableLookup) { // the table is a constant global
    plan(n->inputs[0]);
    return;
  }
  if (n->kind == OpKind::QuantizeLinear ||
      n->kind == OpKind::DequantizeLinear || n->kind == OpKind::Requantize) {
    plan(n->inputs[0]);
    for (size_t i = 1; i < n->inputs.size(); ++i)
      if (n->inputs[i] && !scalarConstant(n->inputs[i], s))
        axisLeaf(*n, i);
    return;
  }
  for (auto &in : n->inputs)
    if (in)
      plan(in);
}

llvm::Type *LoopGen::regType(ElemKind k) {
  if (isHalfFloatKind(k))
    return b.getFloatTy();
  return k == ElemKind::Bool ? b.getInt1Ty() : cg.elemType(k);
}

// A table of source indices as a constant global.
llvm::Value *LoopGen::table(const std::vector<int64_t> &t) {
  auto *ty = llvm::ArrayType::get(b.getInt64Ty(), t.size());
  std::vector<llvm::Constant *> vals;
  for (int64_t v : t)
    vals.push_back(b.getInt64(uint64_t(v)));
  auto *gv = new llvm::GlobalVariable(
      *cg.mod_, ty, true, llvm::GlobalValue::PrivateLinkage,
      llvm::ConstantArray::get(ty, vals), "pad.table");
  gv->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  return gv;
}

llvm::Value *LoopGen::address(int leaf, std::vector<int64_t> *stridesOverride) {
  const Leaf &l = leaves[size_t(leaf)];
  const std::vector<int64_t> &st =
      stridesOverride ? *stridesOverride : l.a.strides;
  llvm::Value *lin = b.getInt64(uint64_t(l.a.offset));
  valid = nullptr;
  for (size_t d = 0; d < idx.size(); ++d) {
    if (d < l.tables.size() && !l.tables[d].empty() && int(d) != rawDim) {
      const std::vector<int64_t> &t = l.tables[d];
      llvm::Value *src =
          b.CreateLoad(b.getInt64Ty(),
                       b.CreateInBoundsGEP(b.getInt64Ty(), table(t), idx[d]));
      if (std::find(t.begin(), t.end(), -1) != t.end()) {
        llvm::Value *ok = b.CreateICmpSGE(src, b.getInt64(0));
        valid = valid ? b.CreateAnd(valid, ok) : ok;
        src = b.CreateSelect(ok, src, b.getInt64(0));
      }
      lin = b.CreateAdd(lin, b.CreateMul(src, b.getInt64(uint64_t(st[d]))));
      continue;
    }
    if (st[d])
      lin = b.CreateAdd(lin, b.CreateMul(idx[d], b.getInt64(uint64_t(st[d]))));
  }
  if (l.indices >= 0) {
    llvm::Value *iv = load(l.indices);
    ElemKind ik = leaves[size_t(l.indices)].elem;
    iv = b.CreateSExt(iv, b.getInt64Ty());
    (void)ik;
    llvm::Value *dim = b.getInt64(uint64_t(l.gatherDim));
    iv = b.CreateSelect(b.CreateICmpSLT(iv, b.getInt64(0)),
                        b.CreateAdd(iv, dim), iv);
    // Out of range is an error in the reference: flag it (ember_main
    // returns it) and read a valid element meanwhile.
    llvm::Value *bad = b.CreateOr(b.CreateICmpSLT(iv, b.getInt64(0)),
                                  b.CreateICmpSGE(iv, dim));
    cg.flagError(bad, kStatusIndexOutOfRange);
    iv = b.CreateSelect(bad, b.getInt64(0), iv);
    lin =
        b.CreateAdd(lin, b.CreateMul(iv, b.getInt64(uint64_t(l.gatherStride))));
  }
  return b.CreateInBoundsGEP(cg.elemType(l.elem), bases[size_t(leaf)], lin);
}

// 16-bit float storage <-> f32 registers (F16: IEEE half, RNE; BF16: the
// reference's bit rounding, NaN quieted).
llvm::Value *LoopGen::widen(llvm::Value *bitsV, ElemKind k) {
  if (k == ElemKind::F16)
    return b.CreateFPExt(b.CreateBitCast(bitsV, b.getHalfTy()), b.getFloatTy());
  return b.CreateBitCast(b.CreateShl(b.CreateZExt(bitsV, b.getInt32Ty()), 16),
                         b.getFloatTy());
}

llvm::Value *LoopGen::narrow(llvm::Value *f, ElemKind k) {
  if (k == ElemKind::F16)
    return b.CreateBitCast(b.CreateFPTrunc(f, b.getHalfTy()), b.getInt16Ty());
  llvm::Value *x = b.CreateBitCast(f, b.getInt32Ty());
  llvm::Value *nan = b.CreateICmpUGT(b.CreateAnd(x, b.getInt32(0x7fffffffu)),
                                     b.getInt32(0x7f800000u));
  llvm::Value *quiet = b.CreateOr(b.CreateLShr(x, 16), b.getInt32(0x40));
  llvm::Value *lsb = b.CreateAnd(b.CreateLShr(x, 16), b.getInt32(1));
  llvm::Value *r =
      b.CreateLShr(b.CreateAdd(x, b.CreateAdd(b.getInt32(0x7fff), lsb)), 16);
  return b.CreateTrunc(b.CreateSelect(nan, quiet, r), b.getInt16Ty());
}

llvm::Value *LoopGen::roundTo(llvm::Value *f, ElemKind k) {
  return isHalfFloatKind(k) ? widen(narrow(f, k), k) : f;
}

llvm::Value *LoopGen::load(int leaf) {
  const Leaf &l = leaves[size_t(leaf)];
  llvm::LoadInst *ld =
      b.CreateLoad(cg.elemType(l.elem), address(leaf, nullptr));
  if (noaliasOut && size_t(leaf) < disjointFromOut.size() &&
      disjointFromOut[size_t(leaf)])
    ld->setMetadata(llvm::LLVMContext::MD_noalias, noaliasOut);
  llvm::Value *v = ld;
  if (l.elem == ElemKind::Bool)
    v = b.CreateICmpNE(v, b.getInt8(0));
  if (isHalfFloatKind(l.elem))
    v = widen(v, l.elem);
  if (valid)
    v = b.CreateSelect(valid, v, constant(l.elem, l.fill));
  return v;
}

llvm::Value *LoopGen::constant(ElemKind k, double v) {
  if (isComputeFloatKind(k))
    return llvm::ConstantFP::get(regType(k), v);
  if (k == ElemKind::Bool)
    return b.getInt1(v != 0);
  return llvm::ConstantInt::get(regType(k), uint64_t(int64_t(v)),
                                isSignedInt(k));
}

llvm::Value *LoopGen::eval(const Value &v) {
  const Node *n = v.node;
  double s;
  if (scalarConstant(v, s)) {
    // Exact for every integer kind: read the payload as an integer.
    ElemKind k = v.type().elem();
    if (!isComputeFloatKind(k) && k != ElemKind::Bool)
      return llvm::ConstantInt::get(regType(k), uint64_t(n->payload->getInt(0)),
                                    true);
    return constant(k, s);
  }
  if (!contains(g, n) || loopClass(*n) == OpClass::Move)
    return load(leafOf.at(keyOf(v)));
  auto it = memo.find(n);
  if (it != memo.end())
    return it->second;
  llvm::Value *r;
  if (opClass(n->kind) == OpClass::Gather) {
    r = gatherValue(*n);
  } else if (n->kind == OpKind::ConstantOfShape) {
    std::vector<llvm::Value *> none = {nullptr};
    r = op(*n, none);
  } else if (n->kind == OpKind::TableLookup) {
    std::vector<llvm::Value *> ops = {eval(n->inputs[0]), nullptr};
    r = op(*n, ops);
  } else if (n->kind == OpKind::QuantizeLinear ||
             n->kind == OpKind::DequantizeLinear ||
             n->kind == OpKind::Requantize) {
    std::vector<llvm::Value *> ops = {eval(n->inputs[0])};
    for (size_t i = 1; i < n->inputs.size(); ++i) {
      double c;
      if (!n->inputs[i])
        ops.push_back(nullptr);
      else if (scalarConstant(n->inputs[i], c))
        ops.push_back(eval(n->inputs[i]));
      else
        ops.push_back(load(special.at({n, i})));
    }
    r = op(*n, ops);
  } else {
    std::vector<llvm::Value *> ops;
    for (auto &in : n->inputs)
      ops.push_back(in ? eval(in) : nullptr);
    r = op(*n, ops);
  }
  r = roundTo(r, n->types[0].elem());
  memo[n] = r;
  return r;
}

Status Codegen::emitLoopGroup(const Group &g) {
  Value root(const_cast<Node *>(g.root), 0);
  LoopGen lg(*this, g, *b_, root.type().dims());
  // A tabulated group reads its 8-bit operand and the table (ChannelTable.cpp).
  const bool tabulated = bool(g.chanTable);
  lg.plan(tabulated ? g.chanInput : root);
  Dims dims = lg.dims;
  std::vector<int64_t> store = physStrides(root);
  std::vector<std::vector<int64_t> *> vecs;
  for (auto &l : lg.leaves)
    vecs.push_back(&l.a.strides);
  vecs.push_back(&store);
  // The tabulated form needs the channel index: logical dims, as tables.
  bool tables = tabulated && g.chanAxis >= 0;
  for (auto &l : lg.leaves)
    tables = tables || !l.tables.empty();
  // With per-dim tables the leaves keep the logical dims: the nest runs
  // them in store order (a channels-last result innermost over channels),
  // and each iteration maps its indices back.
  std::vector<size_t> order;
  if (!tables) {
    storeOrder(dims, vecs);
    coalesce(dims, vecs);
  } else if (dims.empty()) {
    dims.push_back(1), store.push_back(0);
  } else {
    // Extent-1 dims leave the nest (their index is 0), so the outermost
    // loop, the one split over the workers, is a real one (not the batch
    // of 1 that would run a whole upsample on one worker).
    for (size_t d = 0; d < dims.size(); ++d)
      if (dims[d] > 1)
        order.push_back(d);
    if (order.empty())
      order.push_back(dims.size() - 1);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return store[a] > store[b]; });
    Dims nd;
    std::vector<int64_t> ns;
    for (size_t d : order)
      nd.push_back(dims[d]), ns.push_back(store[d]);
    dims = nd;
    store = ns;
  }
  if (root.type().numElements() == 0)
    return Status::ok();
  int64_t per = 1;
  for (size_t d = 1; d < dims.size(); ++d)
    per *= dims[d];
  ElemKind rk = root.type().elem();
  // Operands whose bytes the result's cannot overlap (constants, or arena
  // values in other byte ranges; an operand updated in place shares them):
  // their loads and the result's store get alias scopes, so that a
  // broadcast operand (a per-channel mean) is not reloaded after every
  // store, which kept such loops from vectorizing.
  llvm::MDNode *outScope = nullptr;
  {
    Loc lo = locOf(root);
    uint64_t o0 = 0, o1 = 0;
    bool outArena = lo.kind == LocKind::Arena;
    if (outArena) {
      o0 = bufferOffset_[lo.index] + lo.offset;
      o1 = o0 + storedBytes(root);
    }
    bool any = false;
    for (auto &l : lg.leaves) {
      Loc ll = locOf(l.a.base);
      bool disjoint = ll.kind == LocKind::Weight;
      if (outArena && ll.kind == LocKind::Arena) {
        uint64_t l0 = bufferOffset_[ll.index] + ll.offset;
        uint64_t l1 = l0 + storedBytes(l.a.base);
        disjoint = l1 <= o0 || o1 <= l0;
      }
      lg.disjointFromOut.push_back(disjoint);
      any = any || disjoint;
    }
    if (any && (outArena || lo.kind == LocKind::Output)) {
      llvm::MDBuilder mdb(*ctx_);
      llvm::MDNode *dom = mdb.createAnonymousAliasScopeDomain("loop");
      llvm::MDNode *scope = mdb.createAnonymousAliasScope(dom, "result");
      outScope = llvm::MDNode::get(*ctx_, {scope});
      lg.noaliasOut = outScope;
    } else {
      lg.disjointFromOut.clear();
    }
  }
  llvm::GlobalVariable *chanTable = nullptr;
  if (tabulated) {
    const Tensor &t = *g.chanTable;
    llvm::Type *et = elemType(t.elem());
    auto *ty = llvm::ArrayType::get(et, uint64_t(t.size()));
    std::vector<llvm::Constant *> vals;
    for (int64_t i = 0; i < t.size(); ++i)
      vals.push_back(
          t.elem() == ElemKind::F32
              ? llvm::ConstantFP::get(et, double(t.data<float>()[i]))
              : llvm::ConstantInt::get(et, uint64_t(t.getInt(i)), true));
    chanTable = new llvm::GlobalVariable(
        *mod_, ty, true, llvm::GlobalValue::PrivateLinkage,
        llvm::ConstantArray::get(ty, vals), "chan_lut");
    chanTable->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
    chanTable->setAlignment(llvm::Align(64));
  }
  // Linear/cubic Resize with the last pass's dim innermost (a row-major
  // result): its other passes go into a row buffer per output row.
  size_t rowPlans =
      !order.empty() && dims.size() > 1 ? lg.resizeRows(order.back()) : 0;
  bool rows = rowPlans > 0;
  out_.fusion.resizeRowBuffers += rowPlans;
  // lg.idx from the nest's indices (the outer ones only: the rest are 0).
  auto setIdx = [&](std::vector<llvm::Value *> &idx) {
    lg.idx = idx;
    if (!order.empty())
      lg.idx.assign(lg.dims.size(), b_->getInt64(0));
    for (size_t d = 0; d < order.size() && d < idx.size(); ++d)
      lg.idx[order[d]] = idx[d];
    lg.memo.clear();
  };
  emitTask("loop", dims[0], per, [&](llvm::Value *begin, llvm::Value *end) {
    lg.bases.clear();
    for (auto &l : lg.leaves)
      lg.bases.push_back(ptrOfValue(l.a.base));
    llvm::Value *out = ptrOfValue(root);
    if (rows)
      lg.allocRows();
    Codegen::NestBody fill = nullptr;
    if (rows)
      fill = [&](std::vector<llvm::Value *> &idx) {
        setIdx(idx);
        lg.fillRows();
      };
    emitNest(
        dims, begin, end,
        [&](std::vector<llvm::Value *> &idx) {
          setIdx(idx);
          llvm::Value *v;
          if (tabulated) {
            // table[c * 256 + (x - lowest)]
            bool sg = g.chanInput.type().elem() == ElemKind::I8;
            llvm::Value *x = lg.eval(g.chanInput);
            llvm::Value *i =
                sg ? b_->CreateAdd(b_->CreateSExt(x, b_->getInt64Ty()),
                                   b_->getInt64(128))
                   : b_->CreateZExt(x, b_->getInt64Ty());
            if (g.chanAxis >= 0)
              i = b_->CreateAdd(i, b_->CreateMul(lg.idx[size_t(g.chanAxis)],
                                                 b_->getInt64(256)));
            llvm::Type *et = elemType(rk);
            v = b_->CreateLoad(et, b_->CreateInBoundsGEP(et, chanTable, i),
                               "lut");
          } else {
            v = lg.eval(root);
            innerInterleave_ = interleaveFor(lg.curves, dims.back());
          }
          if (rk == ElemKind::Bool)
            v = b_->CreateZExt(v, b_->getInt8Ty());
          else if (isHalfFloatKind(rk))
            v = lg.narrow(v, rk);
          llvm::Value *lin = b_->getInt64(0);
          for (size_t d = 0; d < idx.size(); ++d)
            if (store[d])
              lin = b_->CreateAdd(
                  lin, b_->CreateMul(idx[d], b_->getInt64(uint64_t(store[d]))));
          llvm::StoreInst *st =
              b_->CreateStore(v, b_->CreateInBoundsGEP(elemType(rk), out, lin));
          if (outScope)
            st->setMetadata(llvm::LLVMContext::MD_alias_scope, outScope);
        },
        fill);
  });
  return Status::ok();
}

} // namespace ember::cpugen

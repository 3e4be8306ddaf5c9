// Generated loops: fused elementwise groups (with Transpose/Slice/Expand
// folded into affine loads and Gather's data-dependent load), Concat and
// reductions. Every shape, stride and offset is a compile-time constant, so
// after the O3 pipeline the inner loops are specialized and vectorized.
// Each op computes exactly what its reference kernel (core/interp/kernels)
// computes, in the same precision.
#include "Capability.h"
#include "Codegen.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Intrinsics.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace ember::cpugen {

namespace {

// Floats (isComputeFloatKind): f32, f64, and the 16-bit kinds
// (isHalfFloatKind), which compute in f32 registers and are rounded to their
// kind after every op (the reference computes in float and stores each
// result).
// Signed integers (isSignedKind includes the floats).
bool isSigned(ElemKind k) {
  return k == ElemKind::I8 || k == ElemKind::I16 || k == ElemKind::I32 ||
         k == ElemKind::I64;
}
unsigned bits(ElemKind k) {
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

// Strides over `from` broadcast (numpy rules, right-aligned) to `to`.
std::vector<int64_t> broadcastTo(const std::vector<int64_t> &strides,
                                 const Dims &from, const Dims &to) {
  std::vector<int64_t> out(to.size(), 0);
  for (size_t i = 0; i < from.size() && i < to.size(); ++i) {
    size_t fi = from.size() - 1 - i, ti = to.size() - 1 - i;
    out[ti] = from[fi] == 1 && to[ti] != 1 ? 0 : strides[fi];
  }
  return out;
}

// Coalesces loop dims: drops extent-1 dims and merges neighbours that every
// stride vector walks contiguously. Updates dims and all vectors.
void coalesce(Dims &dims, std::vector<std::vector<int64_t> *> vecs) {
  Dims nd;
  std::vector<std::vector<int64_t>> nv(vecs.size());
  for (size_t d = 0; d < dims.size(); ++d) {
    if (dims[d] == 1)
      continue;
    bool merge = !nd.empty();
    for (size_t k = 0; k < vecs.size() && merge; ++k)
      merge = nv[k].back() == (*vecs[k])[d] * dims[d];
    if (merge) {
      nd.back() *= dims[d];
      for (size_t k = 0; k < vecs.size(); ++k)
        nv[k].back() = (*vecs[k])[d];
    } else {
      nd.push_back(dims[d]);
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
}

// Orders the loop dims by the last vector's strides (the store),
// outermost first, so a result stored in another layout than its logical
// order (channels-last int8 tensors) is written contiguously by the inner
// loop instead of one strided byte at a time. Every element is computed
// independently, so any order is correct; ties keep the logical order.
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

// Slice bounds normalized as the reference kernel does: first index and
// step per axis of the operand.
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

} // namespace

Affine Codegen::affineOf(const Group &g, const Value &v) const {
  const Node *n = v.node;
  if (!contains(g, n) || opClass(n->kind) != OpClass::Move) {
    Affine a;
    a.base = v;
    a.strides = physStrides(v);
    return a;
  }
  Affine a = affineOf(g, n->inputs[0]);
  const Dims &in = n->inputs[0].type().dims();
  const Dims &out = n->types[0].dims();
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

namespace {

// The evaluation of one fused loop group.
struct LoopGen {
  Codegen &cg;
  const Group &g;
  llvm::IRBuilder<> &b;
  Dims dims; // the loop's index space (the root's result dims)
  std::vector<Leaf> leaves;
  std::map<ValueKey, int> leafOf;
  // Loads that are not numpy broadcasts: per-axis quantization parameters.
  std::map<std::pair<const Node *, size_t>, int> special;
  std::vector<llvm::Value *> bases;           // per leaf, in the task
  std::map<const Node *, llvm::Value *> memo; // per iteration
  std::vector<llvm::Value *> idx;

  LoopGen(Codegen &c, const Group &grp, llvm::IRBuilder<> &builder, Dims d)
      : cg(c), g(grp), b(builder), dims(std::move(d)) {}

  int addLeaf(const Leaf &l) {
    leaves.push_back(l);
    return int(leaves.size() - 1);
  }

  // Leaf for operand value v (materialized or a folded Move) read at the
  // loop index, broadcast to the loop dims.
  int leafFor(const Value &v) {
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

  // Scale or zero point (operand i) of QuantizeLinear/DequantizeLinear n:
  // one value, or one per index of the `axis` dim of operand 0.
  int axisLeaf(const Node &n, size_t i) {
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
  int gatherElementsLeaf(const Node &n) {
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
  int tableLeaf(const Node &n) {
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

  // Gather node n (a member): leaves for its indices and data.
  int gatherLeaf(const Node &n) {
    auto it = leafOf.find(keyOf(&n));
    if (it != leafOf.end())
      return it->second;
    if (n.kind == OpKind::GatherElements)
      return gatherElementsLeaf(n);
    if (n.kind == OpKind::Pad || n.kind == OpKind::Tile)
      return tableLeaf(n);
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
  void plan(const Value &v) {
    const Node *n = v.node;
    double s;
    if (scalarConstant(v, s))
      return;
    if (!contains(g, n) || opClass(n->kind) == OpClass::Move) {
      leafFor(v);
      return;
    }
    if (opClass(n->kind) == OpClass::Gather) {
      gatherLeaf(*n);
      return;
    }
    if (n->kind == OpKind::ConstantOfShape)
      return;
    if (n->kind == OpKind::QuantizeLinear ||
        n->kind == OpKind::DequantizeLinear) {
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

  llvm::Type *regType(ElemKind k) {
    if (isHalfFloatKind(k))
      return b.getFloatTy();
    return k == ElemKind::Bool ? b.getInt1Ty() : cg.elemType(k);
  }

  // A table of source indices as a constant global.
  llvm::Value *table(const std::vector<int64_t> &t) {
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

  llvm::Value *valid = nullptr; // set by address() for tables with fills

  llvm::Value *address(int leaf, std::vector<int64_t> *stridesOverride) {
    const Leaf &l = leaves[size_t(leaf)];
    const std::vector<int64_t> &st =
        stridesOverride ? *stridesOverride : l.a.strides;
    llvm::Value *lin = b.getInt64(uint64_t(l.a.offset));
    valid = nullptr;
    for (size_t d = 0; d < idx.size(); ++d) {
      if (d < l.tables.size() && !l.tables[d].empty()) {
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
        lin =
            b.CreateAdd(lin, b.CreateMul(idx[d], b.getInt64(uint64_t(st[d]))));
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
      lin = b.CreateAdd(lin,
                        b.CreateMul(iv, b.getInt64(uint64_t(l.gatherStride))));
    }
    return b.CreateInBoundsGEP(cg.elemType(l.elem), bases[size_t(leaf)], lin);
  }

  // 16-bit float storage <-> f32 registers (F16: IEEE half, RNE; BF16: the
  // reference's bit rounding, NaN quieted).
  llvm::Value *widen(llvm::Value *bitsV, ElemKind k) {
    if (k == ElemKind::F16)
      return b.CreateFPExt(b.CreateBitCast(bitsV, b.getHalfTy()),
                           b.getFloatTy());
    return b.CreateBitCast(b.CreateShl(b.CreateZExt(bitsV, b.getInt32Ty()), 16),
                           b.getFloatTy());
  }
  llvm::Value *narrow(llvm::Value *f, ElemKind k) {
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
  llvm::Value *roundTo(llvm::Value *f, ElemKind k) {
    return isHalfFloatKind(k) ? widen(narrow(f, k), k) : f;
  }

  llvm::Value *load(int leaf) {
    const Leaf &l = leaves[size_t(leaf)];
    llvm::Value *v = b.CreateLoad(cg.elemType(l.elem), address(leaf, nullptr));
    if (l.elem == ElemKind::Bool)
      v = b.CreateICmpNE(v, b.getInt8(0));
    if (isHalfFloatKind(l.elem))
      v = widen(v, l.elem);
    if (valid)
      v = b.CreateSelect(valid, v, constant(l.elem, l.fill));
    return v;
  }

  llvm::Value *constant(ElemKind k, double v) {
    if (isComputeFloatKind(k))
      return llvm::ConstantFP::get(regType(k), v);
    if (k == ElemKind::Bool)
      return b.getInt1(v != 0);
    return llvm::ConstantInt::get(regType(k), uint64_t(int64_t(v)),
                                  isSigned(k));
  }

  llvm::Value *eval(const Value &v) {
    const Node *n = v.node;
    double s;
    if (scalarConstant(v, s)) {
      // Exact for every integer kind: read the payload as an integer.
      ElemKind k = v.type().elem();
      if (!isComputeFloatKind(k) && k != ElemKind::Bool)
        return llvm::ConstantInt::get(regType(k),
                                      uint64_t(n->payload->getInt(0)), true);
      return constant(k, s);
    }
    if (!contains(g, n) || opClass(n->kind) == OpClass::Move)
      return load(leafOf.at(keyOf(v)));
    auto it = memo.find(n);
    if (it != memo.end())
      return it->second;
    llvm::Value *r;
    if (opClass(n->kind) == OpClass::Gather) {
      r = load(leafOf.at(keyOf(v)));
    } else if (n->kind == OpKind::ConstantOfShape) {
      std::vector<llvm::Value *> none = {nullptr};
      r = op(*n, none);
    } else if (n->kind == OpKind::QuantizeLinear ||
               n->kind == OpKind::DequantizeLinear) {
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

  llvm::Value *call(const std::string &name, llvm::Type *t,
                    std::vector<llvm::Value *> args) {
    std::vector<llvm::Type *> tys(args.size(), t);
    llvm::FunctionCallee f = cg.mod_->getOrInsertFunction(
        name, llvm::FunctionType::get(t, tys, false));
    if (auto *fn = llvm::dyn_cast<llvm::Function>(f.getCallee()))
      fn->addFnAttr(llvm::Attribute::NoUnwind);
    return b.CreateCall(f, args);
  }
  llvm::Value *libm(const char *name, ElemKind k, llvm::Value *x) {
    std::string n = name;
    if (k == ElemKind::F32 || isHalfFloatKind(k))
      n += "f";
    return call(n, regType(k), {x});
  }
  llvm::Value *intrinsic(llvm::Intrinsic::ID id, llvm::Value *x) {
    return b.CreateUnaryIntrinsic(id, x);
  }

  llvm::Value *cast(llvm::Value *v, ElemKind from, ElemKind to) {
    if (from == to)
      return v;
    // The reference converts 16-bit floats through float both ways.
    if (isHalfFloatKind(from))
      return cast(v, ElemKind::F32, to);
    if (isHalfFloatKind(to))
      return roundTo(cast(v, from, ElemKind::F32), to);
    llvm::Type *tt = regType(to);
    if (to == ElemKind::Bool) {
      if (isComputeFloatKind(from))
        return b.CreateFCmpUNE(v, llvm::ConstantFP::get(v->getType(), 0.0));
      return b.CreateICmpNE(v, llvm::ConstantInt::get(v->getType(), 0));
    }
    if (from == ElemKind::Bool)
      return isComputeFloatKind(to) ? b.CreateUIToFP(v, tt)
                                    : b.CreateZExt(v, tt);
    if (isComputeFloatKind(to)) {
      if (isComputeFloatKind(from))
        return to == ElemKind::F64 ? b.CreateFPExt(v, tt)
                                   : b.CreateFPTrunc(v, tt);
      return isSigned(from) ? b.CreateSIToFP(v, tt) : b.CreateUIToFP(v, tt);
    }
    if (isComputeFloatKind(from)) {
      // The reference: NaN -> 0, |d| >= 2^63 -> INT64_MIN, else trunc
      // through int64, wrapping to the target width.
      llvm::Value *d =
          from == ElemKind::F32 ? b.CreateFPExt(v, b.getDoubleTy()) : v;
      llvm::Value *lim =
          llvm::ConstantFP::get(b.getDoubleTy(), 9.2233720368547758e18);
      llvm::Value *big = b.CreateOr(
          b.CreateFCmpOGE(d, lim),
          b.CreateFCmpOLT(d, llvm::ConstantFP::get(b.getDoubleTy(),
                                                   -9.2233720368547758e18)));
      llvm::Value *nan = b.CreateFCmpUNO(d, d);
      llvm::Value *safe = b.CreateSelect(
          b.CreateOr(big, nan), llvm::ConstantFP::get(b.getDoubleTy(), 0.0), d);
      llvm::Value *i = b.CreateFPToSI(safe, b.getInt64Ty());
      i = b.CreateSelect(big, b.getInt64(uint64_t(INT64_MIN)), i);
      return b.CreateTrunc(i, tt);
    }
    unsigned fb = bits(from), tb = bits(to);
    if (tb < fb)
      return b.CreateTrunc(v, tt);
    if (tb > fb)
      return isSigned(from) ? b.CreateSExt(v, tt) : b.CreateZExt(v, tt);
    return v;
  }

  // Integer division with the reference's rules for 0 and -1 divisors.
  llvm::Value *safeDivisor(llvm::Value *d, bool sgn) {
    llvm::Value *zero = llvm::ConstantInt::get(d->getType(), 0);
    llvm::Value *bad = b.CreateICmpEQ(d, zero);
    if (sgn)
      bad = b.CreateOr(bad, b.CreateICmpEQ(d, llvm::ConstantInt::getSigned(
                                                  d->getType(), -1)));
    return b.CreateSelect(bad, llvm::ConstantInt::get(d->getType(), 1), d);
  }

  llvm::Value *minMax(bool isMax, ElemKind k, llvm::Value *cur,
                      llvm::Value *v) {
    if (isComputeFloatKind(k)) {
      llvm::Value *nan =
          b.CreateOr(b.CreateFCmpUNO(v, v), b.CreateFCmpUNO(cur, cur));
      llvm::Value *better =
          isMax ? b.CreateFCmpOGT(v, cur) : b.CreateFCmpOLT(v, cur);
      llvm::Value *r = b.CreateSelect(better, v, cur);
      return b.CreateSelect(nan, llvm::ConstantFP::getNaN(v->getType()), r);
    }
    bool sg = isSigned(k);
    llvm::Value *better =
        isMax ? (sg ? b.CreateICmpSGT(v, cur) : b.CreateICmpUGT(v, cur))
              : (sg ? b.CreateICmpSLT(v, cur) : b.CreateICmpULT(v, cur));
    return b.CreateSelect(better, v, cur);
  }

  llvm::Value *op(const Node &n, std::vector<llvm::Value *> &o) {
    ElemKind k = n.inputs[0].type().elem();
    bool fl = isComputeFloatKind(k), sg = isSigned(k);
    llvm::Value *x = o[0];
    llvm::Type *t = regType(k);
    auto fconst = [&](double c) { return llvm::ConstantFP::get(t, c); };
    auto iconst = [&](int64_t c) {
      return llvm::ConstantInt::get(t, uint64_t(c), true);
    };
    // One case per Loop row of CpuOps.def; no default, so a row without
    // code here does not compile.
    switch (loopOpOf(n.kind)) {
    case LoopOp::Exp:
      return intrinsic(llvm::Intrinsic::exp, x);
    case LoopOp::Log:
      return intrinsic(llvm::Intrinsic::log, x);
    case LoopOp::Sqrt:
      return intrinsic(llvm::Intrinsic::sqrt, x);
    case LoopOp::Reciprocal:
      return b.CreateFDiv(fconst(1.0), x);
    case LoopOp::Sigmoid: {
      // exp(-|x|) is exp(-x) for x >= 0 and exp(x) below: one call.
      llvm::Value *e =
          intrinsic(llvm::Intrinsic::exp,
                    b.CreateFNeg(intrinsic(llvm::Intrinsic::fabs, x)));
      llvm::Value *den = b.CreateFAdd(fconst(1.0), e);
      return b.CreateSelect(b.CreateFCmpOGE(x, fconst(0.0)),
                            b.CreateFDiv(fconst(1.0), den),
                            b.CreateFDiv(e, den));
    }
    case LoopOp::Tanh:
      return libm("tanh", k, x);
    case LoopOp::Erf:
      return libm("erf", k, x);
    case LoopOp::Floor:
      return intrinsic(llvm::Intrinsic::floor, x);
    case LoopOp::Ceil:
      return intrinsic(llvm::Intrinsic::ceil, x);
    case LoopOp::Round:
      return intrinsic(llvm::Intrinsic::roundeven, x);
    case LoopOp::Sin:
      return libm("sin", k, x);
    case LoopOp::Cos:
      return libm("cos", k, x);
    case LoopOp::Tan:
      return libm("tan", k, x);
    case LoopOp::Asin:
      return libm("asin", k, x);
    case LoopOp::Acos:
      return libm("acos", k, x);
    case LoopOp::Atan:
      return libm("atan", k, x);
    case LoopOp::Sinh:
      return libm("sinh", k, x);
    case LoopOp::Cosh:
      return libm("cosh", k, x);
    case LoopOp::Asinh:
      return libm("asinh", k, x);
    case LoopOp::Acosh:
      return libm("acosh", k, x);
    case LoopOp::Atanh:
      return libm("atanh", k, x);
    case LoopOp::Abs:
      if (fl)
        return b.CreateSelect(b.CreateFCmpOLT(x, fconst(0.0)), b.CreateFNeg(x),
                              x);
      if (!sg)
        return x;
      return b.CreateSelect(b.CreateICmpSLT(x, iconst(0)),
                            b.CreateSub(iconst(0), x), x);
    case LoopOp::Neg:
      return fl ? b.CreateFNeg(x) : b.CreateSub(iconst(0), x);
    case LoopOp::Sign: {
      if (fl)
        return b.CreateSelect(b.CreateFCmpOGT(x, fconst(0.0)), fconst(1.0),
                              b.CreateSelect(b.CreateFCmpOLT(x, fconst(0.0)),
                                             fconst(-1.0), fconst(0.0)));
      llvm::Value *pos =
          sg ? b.CreateICmpSGT(x, iconst(0)) : b.CreateICmpUGT(x, iconst(0));
      llvm::Value *neg = sg ? b.CreateICmpSLT(x, iconst(0)) : b.getInt1(false);
      return b.CreateSelect(pos, iconst(1),
                            b.CreateSelect(neg, iconst(-1), iconst(0)));
    }
    case LoopOp::Relu:
      if (fl)
        return b.CreateSelect(b.CreateFCmpOGT(x, fconst(0.0)), x, fconst(0.0));
      return b.CreateSelect(b.CreateICmpSGT(x, iconst(0)), x, iconst(0));
    case LoopOp::Not:
      return b.CreateNot(x);
    case LoopOp::IsNaN:
      return b.CreateFCmpUNO(x, x);
    case LoopOp::IsInf: {
      bool pos = n.attrInt("detect_positive", 1) != 0;
      bool neg = n.attrInt("detect_negative", 1) != 0;
      double inf = std::numeric_limits<double>::infinity();
      llvm::Value *r = b.getInt1(false);
      if (pos)
        r = b.CreateOr(r, b.CreateFCmpOEQ(x, fconst(inf)));
      if (neg)
        r = b.CreateOr(r, b.CreateFCmpOEQ(x, fconst(-inf)));
      return r;
    }
    case LoopOp::BitwiseNot:
      return b.CreateNot(x);
    case LoopOp::Cast:
      return cast(x, k, n.types[0].elem());
    case LoopOp::Add:
      if (k == ElemKind::Bool) // bool(a + b)
        return b.CreateOr(x, o[1]);
      return fl ? b.CreateFAdd(x, o[1]) : b.CreateAdd(x, o[1]);
    case LoopOp::Sub:
      if (k == ElemKind::Bool) // bool(a - b)
        return b.CreateXor(x, o[1]);
      return fl ? b.CreateFSub(x, o[1]) : b.CreateSub(x, o[1]);
    case LoopOp::Mul:
      if (k == ElemKind::Bool)
        return b.CreateAnd(x, o[1]);
      return fl ? b.CreateFMul(x, o[1]) : b.CreateMul(x, o[1]);
    case LoopOp::Div: {
      if (k == ElemKind::Bool) // b == 0 gives 0, else a / 1
        return b.CreateAnd(x, o[1]);
      if (fl)
        return b.CreateFDiv(x, o[1]);
      llvm::Value *d = safeDivisor(o[1], sg);
      llvm::Value *q = sg ? b.CreateSDiv(x, d) : b.CreateUDiv(x, d);
      if (sg)
        q = b.CreateSelect(b.CreateICmpEQ(o[1], iconst(-1)),
                           b.CreateSub(iconst(0), x), q);
      return b.CreateSelect(b.CreateICmpEQ(o[1], iconst(0)), iconst(0), q);
    }
    case LoopOp::Mod: {
      if (k == ElemKind::Bool) // a % 1 and the b == 0 rule: always 0
        return b.getInt1(false);
      bool fmodAttr = n.attrInt("fmod", 0) != 0;
      llvm::Value *bv = o[1];
      if (fl) {
        llvm::Value *r = b.CreateFRem(x, bv);
        if (fmodAttr)
          return r;
        llvm::Value *fix =
            b.CreateAnd(b.CreateFCmpUNE(r, fconst(0.0)),
                        b.CreateXor(b.CreateFCmpOLT(r, fconst(0.0)),
                                    b.CreateFCmpOLT(bv, fconst(0.0))));
        return b.CreateSelect(fix, b.CreateFAdd(r, bv), r);
      }
      llvm::Value *d = safeDivisor(bv, sg);
      llvm::Value *r = sg ? b.CreateSRem(x, d) : b.CreateURem(x, d);
      if (sg && !fmodAttr) {
        llvm::Value *fix =
            b.CreateAnd(b.CreateICmpNE(r, iconst(0)),
                        b.CreateXor(b.CreateICmpSLT(r, iconst(0)),
                                    b.CreateICmpSLT(bv, iconst(0))));
        r = b.CreateSelect(fix, b.CreateAdd(r, bv), r);
      }
      llvm::Value *zero = b.CreateICmpEQ(bv, iconst(0));
      if (sg)
        zero = b.CreateOr(zero, b.CreateICmpEQ(bv, iconst(-1)));
      return b.CreateSelect(zero, iconst(0), r);
    }
    case LoopOp::Pow: {
      if (isHalfFloatKind(k)) { // the reference: std::pow in double
        llvm::Type *d = b.getDoubleTy();
        llvm::Value *e = cast(o[1], n.inputs[1].type().elem(), ElemKind::F64);
        return b.CreateFPTrunc(b.CreateBinaryIntrinsic(llvm::Intrinsic::pow,
                                                       b.CreateFPExt(x, d), e),
                               b.getFloatTy());
      }
      llvm::Value *e = cast(o[1], n.inputs[1].type().elem(), k);
      return b.CreateBinaryIntrinsic(llvm::Intrinsic::pow, x, e);
    }
    case LoopOp::Max:
    case LoopOp::Min: {
      llvm::Value *cur = x;
      for (size_t i = 1; i < o.size(); ++i)
        cur = minMax(n.kind == OpKind::Max, k, cur, o[i]);
      return cur;
    }
    case LoopOp::Equal:
      if (fl)
        return b.CreateFCmpOEQ(x, o[1]);
      return b.CreateICmpEQ(x, o[1]);
    case LoopOp::Less:
      return fl ? b.CreateFCmpOLT(x, o[1])
                : (sg ? b.CreateICmpSLT(x, o[1]) : b.CreateICmpULT(x, o[1]));
    case LoopOp::Greater:
      return fl ? b.CreateFCmpOGT(x, o[1])
                : (sg ? b.CreateICmpSGT(x, o[1]) : b.CreateICmpUGT(x, o[1]));
    case LoopOp::LessOrEqual:
      return fl ? b.CreateFCmpOLE(x, o[1])
                : (sg ? b.CreateICmpSLE(x, o[1]) : b.CreateICmpULE(x, o[1]));
    case LoopOp::GreaterOrEqual:
      return fl ? b.CreateFCmpOGE(x, o[1])
                : (sg ? b.CreateICmpSGE(x, o[1]) : b.CreateICmpUGE(x, o[1]));
    case LoopOp::And:
    case LoopOp::BitwiseAnd:
      return b.CreateAnd(x, o[1]);
    case LoopOp::Or:
    case LoopOp::BitwiseOr:
      return b.CreateOr(x, o[1]);
    case LoopOp::Xor:
    case LoopOp::BitwiseXor:
      return b.CreateXor(x, o[1]);
    case LoopOp::BitShift: {
      bool left = n.attrString("direction", "") == "LEFT";
      llvm::Value *s = o[1];
      unsigned w = bits(k);
      llvm::Value *out = b.CreateICmpUGE(s, iconst(int64_t(w)));
      if (sg)
        out = b.CreateOr(out, b.CreateICmpSLT(s, iconst(0)));
      llvm::Value *safe = b.CreateSelect(out, iconst(0), s);
      llvm::Value *r =
          left ? b.CreateShl(x, safe)
               : (sg ? b.CreateAShr(x, safe) : b.CreateLShr(x, safe));
      llvm::Value *fill = iconst(0);
      if (!left && sg)
        fill = b.CreateSelect(b.CreateICmpSLT(x, iconst(0)), iconst(-1),
                              iconst(0));
      return b.CreateSelect(out, fill, r);
    }
    case LoopOp::Where:
      return b.CreateSelect(x, o[1], o[2]);
    case LoopOp::ConstantOfShape: {
      const Tensor *t = n.attrTensor("value");
      ElemKind rk = n.types[0].elem();
      if (!t)
        return constant(rk, 0.0);
      if (isComputeFloatKind(rk) || rk == ElemKind::Bool)
        return constant(rk, t->getDouble(0));
      return llvm::ConstantInt::get(regType(rk), uint64_t(t->getInt(0)), true);
    }
    case LoopOp::QuantizeLinear: {
      // nearbyint(x / scale) in the x/scale type, + zero point, saturated
      // (NaN -> 0), as QuantUtil.h does.
      ElemKind qk = n.types[0].elem();
      llvm::Type *d = b.getDoubleTy();
      llvm::Value *q =
          intrinsic(llvm::Intrinsic::roundeven, b.CreateFDiv(x, o[1]));
      if (k == ElemKind::F32)
        q = b.CreateFPExt(q, d);
      if (o.size() > 2 && o[2])
        q = b.CreateFAdd(q, cast(o[2], qk, ElemKind::F64));
      unsigned w = bits(qk);
      bool sq = isSigned(qk);
      double lo = sq ? -std::ldexp(1.0, int(w) - 1) : 0.0;
      double hi =
          sq ? std::ldexp(1.0, int(w) - 1) - 1 : std::ldexp(1.0, int(w)) - 1;
      llvm::Value *c =
          b.CreateSelect(b.CreateFCmpOLT(q, llvm::ConstantFP::get(d, lo)),
                         llvm::ConstantFP::get(d, lo), q);
      c = b.CreateSelect(b.CreateFCmpOGT(c, llvm::ConstantFP::get(d, hi)),
                         llvm::ConstantFP::get(d, hi), c);
      c = b.CreateSelect(b.CreateFCmpUNO(q, q), llvm::ConstantFP::get(d, 0.0),
                         c);
      return b.CreateTrunc(b.CreateFPToSI(c, b.getInt64Ty()), regType(qk));
    }
    case LoopOp::DequantizeLinear: {
      // double(x - zero point) * scale, rounded once to the result type.
      llvm::Value *xi = sg ? b.CreateSExt(x, b.getInt64Ty())
                           : b.CreateZExt(x, b.getInt64Ty());
      if (o.size() > 2 && o[2]) {
        llvm::Value *z = sg ? b.CreateSExt(o[2], b.getInt64Ty())
                            : b.CreateZExt(o[2], b.getInt64Ty());
        xi = b.CreateSub(xi, z);
      }
      ElemKind sk = n.inputs[1].type().elem();
      llvm::Value *sd =
          sk == ElemKind::F32 ? b.CreateFPExt(o[1], b.getDoubleTy()) : o[1];
      llvm::Value *r = b.CreateFMul(b.CreateSIToFP(xi, b.getDoubleTy()), sd);
      return sk == ElemKind::F32 ? b.CreateFPTrunc(r, b.getFloatTy()) : r;
    }
    }
    return nullptr; // (every case returns)
  }
};

} // namespace

Status Codegen::emitLoopGroup(const Group &g) {
  Value root(const_cast<Node *>(g.root), 0);
  LoopGen lg(*this, g, *b_, root.type().dims());
  lg.plan(root);
  Dims dims = lg.dims;
  std::vector<int64_t> store = physStrides(root);
  std::vector<std::vector<int64_t> *> vecs;
  for (auto &l : lg.leaves)
    vecs.push_back(&l.a.strides);
  vecs.push_back(&store);
  bool tables = false;
  for (auto &l : lg.leaves)
    tables = tables || !l.tables.empty();
  if (!tables) { // per-dim tables need the dims as they are
    storeOrder(dims, vecs);
    coalesce(dims, vecs);
  } else if (dims.empty()) {
    dims.push_back(1), store.push_back(0);
  }
  if (root.type().numElements() == 0)
    return Status::ok();
  int64_t per = 1;
  for (size_t d = 1; d < dims.size(); ++d)
    per *= dims[d];
  ElemKind rk = root.type().elem();
  emitTask("loop", dims[0], per, [&](llvm::Value *begin, llvm::Value *end) {
    lg.bases.clear();
    for (auto &l : lg.leaves)
      lg.bases.push_back(ptrOfValue(l.a.base));
    llvm::Value *out = ptrOfValue(root);
    emitNest(dims, begin, end, [&](std::vector<llvm::Value *> &idx) {
      lg.idx = idx;
      lg.memo.clear();
      llvm::Value *v = lg.eval(root);
      if (rk == ElemKind::Bool)
        v = b_->CreateZExt(v, b_->getInt8Ty());
      else if (isHalfFloatKind(rk))
        v = lg.narrow(v, rk);
      llvm::Value *lin = b_->getInt64(0);
      for (size_t d = 0; d < idx.size(); ++d)
        if (store[d])
          lin = b_->CreateAdd(
              lin, b_->CreateMul(idx[d], b_->getInt64(uint64_t(store[d]))));
      b_->CreateStore(v, b_->CreateInBoundsGEP(elemType(rk), out, lin));
    });
  });
  return Status::ok();
}

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

// ArgMax/ArgMin: the reference's order (NaN wins, first or last among
// equals), over one axis viewed as [outer, n, inner].
static void argBody(Codegen &cg, llvm::IRBuilder<> &b, const Node &n,
                    llvm::Value *in, llvm::Value *out, llvm::Value *base,
                    llvm::Value *olin, int64_t extent, int64_t stride) {
  ElemKind k = n.inputs[0].type().elem();
  bool fl = isComputeFloatKind(k), sg = isSigned(k);
  bool isMax = n.kind == OpKind::ArgMax;
  bool last = n.attrInt("select_last_index", 0) != 0;
  llvm::Type *et = cg.elemType(k);
  llvm::Value *bestV = b.CreateAlloca(et);
  llvm::Value *bestI = b.CreateAlloca(b.getInt64Ty());
  b.CreateStore(b.CreateLoad(et, b.CreateInBoundsGEP(et, in, base)), bestV);
  b.CreateStore(b.getInt64(0), bestI);
  if (extent > 1)
    cg.emitNest(
        {extent - 1}, b.getInt64(0), b.getInt64(uint64_t(extent - 1)),
        [&](std::vector<llvm::Value *> &idx) {
          llvm::Value *j = b.CreateAdd(idx[0], b.getInt64(1));
          llvm::Value *lin =
              b.CreateAdd(base, b.CreateMul(j, b.getInt64(uint64_t(stride))));
          llvm::Value *c = b.CreateLoad(et, b.CreateInBoundsGEP(et, in, lin));
          llvm::Value *bv = b.CreateLoad(et, bestV);
          llvm::Value *better, *equal;
          if (fl) {
            llvm::Value *bn = b.CreateFCmpUNO(bv, bv);
            llvm::Value *cn = b.CreateFCmpUNO(c, c);
            llvm::Value *cmp =
                isMax ? b.CreateFCmpOGT(c, bv) : b.CreateFCmpOLT(c, bv);
            better = b.CreateSelect(bn, b.getInt1(false), b.CreateOr(cn, cmp));
            equal = b.CreateSelect(bn, cn, b.CreateFCmpOEQ(c, bv));
          } else {
            better =
                isMax ? (sg ? b.CreateICmpSGT(c, bv) : b.CreateICmpUGT(c, bv))
                      : (sg ? b.CreateICmpSLT(c, bv) : b.CreateICmpULT(c, bv));
            equal = b.CreateICmpEQ(c, bv);
          }
          llvm::Value *take = last ? b.CreateOr(better, equal) : better;
          b.CreateStore(b.CreateSelect(take, c, bv), bestV);
          b.CreateStore(
              b.CreateSelect(take, j, b.CreateLoad(b.getInt64Ty(), bestI)),
              bestI);
        });
  b.CreateStore(b.CreateLoad(b.getInt64Ty(), bestI),
                b.CreateInBoundsGEP(b.getInt64Ty(), out, olin));
}

Status Codegen::emitArg(const Group &g) {
  const Node &n = *g.root;
  Value root(const_cast<Node *>(g.root), 0);
  const Value &x = n.inputs[0];
  const Dims &di = x.type().dims();
  int64_t axis = n.attrInt("axis", 0);
  if (axis < 0)
    axis += int64_t(di.size());
  int64_t outer = 1, inner = 1, extent = di[size_t(axis)];
  for (size_t d = 0; d < di.size(); ++d)
    if (int64_t(d) < axis)
      outer *= di[d];
    else if (int64_t(d) > axis)
      inner *= di[d];
  if (root.type().numElements() == 0)
    return Status::ok();
  Dims dims = {outer, inner};
  emitTask(
      "arg", outer, inner * extent, [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *in = ptrOfValue(x);
        llvm::Value *out = ptrOfValue(root);
        emitNest(dims, begin, end, [&](std::vector<llvm::Value *> &idx) {
          llvm::Value *base = b_->CreateAdd(
              b_->CreateMul(idx[0], b_->getInt64(uint64_t(extent * inner))),
              idx[1]);
          llvm::Value *olin = b_->CreateAdd(
              b_->CreateMul(idx[0], b_->getInt64(uint64_t(inner))), idx[1]);
          argBody(*this, *b_, n, in, out, base, olin, extent, inner);
        });
      });
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
    if (res.type().numElements() == 0) {
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
    std::vector<int64_t> store = contiguous(dims);
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

Status Codegen::emitReduce(const Group &g) {
  const Node &n = *g.root;
  if (n.kind == OpKind::ArgMax || n.kind == OpKind::ArgMin)
    return emitArg(g);
  Value root(const_cast<Node *>(g.root), 0);
  const Value &x = n.inputs[0];
  const Dims &di = x.type().dims();
  size_t r = di.size();
  std::vector<int64_t> axes;
  if (n.hasInput(1))
    constantInts(n.inputs[1], axes);
  else if (n.hasAttr("axes"))
    axes = n.attrInts("axes");
  std::vector<bool> reduced(r, false);
  if (axes.empty()) {
    if (!n.attrInt("noop_with_empty_axes", 0))
      reduced.assign(r, true);
  } else {
    for (int64_t a : axes)
      reduced[size_t(a < 0 ? a + int64_t(r) : a)] = true;
  }
  std::vector<int64_t> istr = physStrides(x); // as stored (maybe NHWC)
  Dims keptDims, redDims;
  std::vector<int64_t> keptStr, redStr;
  for (size_t d = 0; d < r; ++d)
    if (reduced[d]) {
      redDims.push_back(di[d]);
      redStr.push_back(istr[d]);
    } else {
      keptDims.push_back(di[d]);
      keptStr.push_back(istr[d]);
    }
  std::vector<int64_t> ostr = contiguous(keptDims);
  {
    std::vector<std::vector<int64_t> *> kv = {&keptStr, &ostr};
    coalesce(keptDims, kv);
    std::vector<std::vector<int64_t> *> rv = {&redStr};
    coalesce(redDims, rv);
  }
  if (root.type().numElements() == 0)
    return Status::ok();
  ElemKind k = x.type().elem();
  bool fl = isComputeFloatKind(k), sg = isSigned(k);
  OpKind op = n.kind;
  int64_t per = 1;
  for (size_t d = 1; d < keptDims.size(); ++d)
    per *= keptDims[d];
  for (int64_t e : redDims)
    per *= e;
  llvm::Type *acct = fl ? b_->getDoubleTy() : b_->getInt64Ty();
  llvm::Type *et = elemType(k);
  // The accumulator's start value and one step (the element widened to
  // double or int64, NaN winning Max and Min).
  auto initValue = [&]() -> llvm::Value * {
    double inf = std::numeric_limits<double>::infinity();
    unsigned w = bits(k);
    if (op == OpKind::ReduceProd)
      return fl ? llvm::ConstantFP::get(acct, 1.0) : b_->getInt64(1);
    if (op == OpKind::ReduceMax)
      return fl ? llvm::ConstantFP::get(acct, -inf)
                : b_->getInt64(
                      sg ? uint64_t(
                               llvm::APInt::getSignedMinValue(w).getSExtValue())
                         : 0);
    if (op == OpKind::ReduceMin)
      return fl ? llvm::ConstantFP::get(acct, inf)
                : b_->getInt64(
                      sg ? uint64_t(
                               llvm::APInt::getSignedMaxValue(w).getSExtValue())
                         : llvm::APInt::getMaxValue(w).getZExtValue());
    return fl ? llvm::ConstantFP::get(acct, 0.0) : b_->getInt64(0);
  };
  auto combine = [&](llvm::Value *a, llvm::Value *v) -> llvm::Value * {
    v = fl ? (k == ElemKind::F32 ? b_->CreateFPExt(v, acct) : v)
           : (sg ? b_->CreateSExt(v, acct) : b_->CreateZExt(v, acct));
    if (op == OpKind::ReduceSum)
      return fl ? b_->CreateFAdd(a, v) : b_->CreateAdd(a, v);
    if (op == OpKind::ReduceProd)
      return fl ? b_->CreateFMul(a, v) : b_->CreateMul(a, v);
    bool isMax = op == OpKind::ReduceMax;
    llvm::Value *better;
    if (fl)
      better = b_->CreateOr(b_->CreateFCmpUNO(v, v),
                            isMax ? b_->CreateFCmpOGT(v, a)
                                  : b_->CreateFCmpOLT(v, a));
    else
      better = isMax ? (sg ? b_->CreateICmpSGT(v, a) : b_->CreateICmpUGT(v, a))
                     : (sg ? b_->CreateICmpSLT(v, a) : b_->CreateICmpULT(v, a));
    return b_->CreateSelect(better, v, a);
  };
  auto narrow = [&](llvm::Value *a) {
    return fl ? (k == ElemKind::F32 ? b_->CreateFPTrunc(a, et) : a)
              : b_->CreateTrunc(a, et);
  };
  auto linear = [&](llvm::Value *lin, const std::vector<llvm::Value *> &idx,
                    const std::vector<int64_t> &str) {
    for (size_t d = 0; d < idx.size(); ++d)
      if (str[d])
        lin = b_->CreateAdd(
            lin, b_->CreateMul(idx[d], b_->getInt64(uint64_t(str[d]))));
    return lin;
  };
  bool trivialRed = redDims.size() == 1 && redDims[0] == 1 && redStr[0] == 0;
  // Kept elements contiguous and innermost in memory (a global pool of a
  // channels-last value: channels kept, pixels reduced): reduce a block of
  // them at a time, reduced indices outer, so the inner loop walks
  // contiguous elements with independent accumulators (vectorized) rather
  // than one latency-bound chain per element over strided loads. Each
  // element still combines its inputs in the same order.
  constexpr int64_t kBlock = 256;
  bool keptInner = !trivialRed && !keptDims.empty() && keptStr.back() == 1 &&
                   keptDims.back() >= 8 &&
                   std::all_of(redStr.begin(), redStr.end(),
                               [](int64_t st) { return st > 1; });
  if (keptInner) {
    std::vector<int64_t> outer(keptDims.begin(), keptDims.end() - 1);
    int64_t inner = keptDims.back();
    // Tasks over the outermost kept dim, or blocks of the inner one.
    bool overOuter =
        !outer.empty() &&
        outer[0] >= 2 * int64_t(cfg_.numThreads ? cfg_.numThreads : 1);
    int64_t nBlocks = (inner + kBlock - 1) / kBlock;
    int64_t tasks = overOuter ? outer[0] : nBlocks;
    int64_t work = per * keptDims[0] / (tasks ? tasks : 1);
    emitTask("reduce", tasks, work, [&](llvm::Value *begin, llvm::Value *end) {
      llvm::Value *acc =
          b_->CreateAlloca(llvm::ArrayType::get(acct, uint64_t(kBlock)));
      llvm::Value *in = ptrOfValue(x);
      llvm::Value *out = ptrOfValue(root);
      // One block [j0, j0 + len) of the inner kept dim at outer offsets
      // ibase (input) and obase (output).
      auto block = [&](llvm::Value *ibase, llvm::Value *obase, llvm::Value *j0,
                       llvm::Value *len) {
        llvm::Value *zero = b_->getInt64(0);
        auto slot = [&](llvm::Value *j) {
          return b_->CreateInBoundsGEP(llvm::ArrayType::get(acct, kBlock), acc,
                                       {zero, j});
        };
        emitNest({kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
          b_->CreateStore(initValue(), slot(j[0]));
        });
        emitNest(
            redDims, zero, b_->getInt64(uint64_t(redDims[0])),
            [&](std::vector<llvm::Value *> &ridx) {
              llvm::Value *row = linear(b_->CreateAdd(ibase, j0), ridx, redStr);
              emitNest({kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
                llvm::Value *v = b_->CreateLoad(
                    et,
                    b_->CreateInBoundsGEP(et, in, b_->CreateAdd(row, j[0])));
                llvm::Value *a = b_->CreateLoad(acct, slot(j[0]));
                b_->CreateStore(combine(a, v), slot(j[0]));
              });
            });
        emitNest({kBlock}, zero, len, [&](std::vector<llvm::Value *> &j) {
          llvm::Value *a = b_->CreateLoad(acct, slot(j[0]));
          b_->CreateStore(
              narrow(a),
              b_->CreateInBoundsGEP(
                  et, out, b_->CreateAdd(obase, b_->CreateAdd(j0, j[0]))));
        });
      };
      auto blocksOf = [&](llvm::Value *ibase, llvm::Value *obase,
                          llvm::Value *lo, llvm::Value *hi) {
        emitNest({nBlocks}, lo, hi, [&](std::vector<llvm::Value *> &bi) {
          llvm::Value *j0 = b_->CreateMul(bi[0], b_->getInt64(kBlock));
          llvm::Value *left = b_->CreateSub(b_->getInt64(uint64_t(inner)), j0);
          llvm::Value *len =
              b_->CreateSelect(b_->CreateICmpSLT(left, b_->getInt64(kBlock)),
                               left, b_->getInt64(kBlock));
          block(ibase, obase, j0, len);
        });
      };
      if (outer.empty()) {
        blocksOf(b_->getInt64(0), b_->getInt64(0), begin, end);
        return;
      }
      std::vector<int64_t> ko(keptStr.begin(), keptStr.end() - 1);
      std::vector<int64_t> oo(ostr.begin(), ostr.end() - 1);
      llvm::Value *lo = overOuter ? begin : b_->getInt64(0);
      llvm::Value *hi = overOuter ? end : b_->getInt64(uint64_t(outer[0]));
      emitNest(outer, lo, hi, [&](std::vector<llvm::Value *> &kidx) {
        llvm::Value *ib = linear(b_->getInt64(0), kidx, ko);
        llvm::Value *ob = linear(b_->getInt64(0), kidx, oo);
        if (overOuter)
          blocksOf(ib, ob, b_->getInt64(0), b_->getInt64(uint64_t(nBlocks)));
        else
          blocksOf(ib, ob, begin, end);
      });
    });
    return Status::ok();
  }
  emitTask(
      "reduce", keptDims[0], per, [&](llvm::Value *begin, llvm::Value *end) {
        llvm::Value *acc = b_->CreateAlloca(acct);
        llvm::Value *in = ptrOfValue(x);
        llvm::Value *out = ptrOfValue(root);
        emitNest(keptDims, begin, end, [&](std::vector<llvm::Value *> &kidx) {
          b_->CreateStore(initValue(), acc);
          llvm::Value *base = linear(b_->getInt64(0), kidx, keptStr);
          auto step = [&](std::vector<llvm::Value *> &ridx) {
            llvm::Value *lin = linear(base, ridx, redStr);
            llvm::Value *v =
                b_->CreateLoad(et, b_->CreateInBoundsGEP(et, in, lin));
            b_->CreateStore(combine(b_->CreateLoad(acct, acc), v), acc);
          };
          if (trivialRed) {
            std::vector<llvm::Value *> none = {b_->getInt64(0)};
            step(none);
          } else {
            emitNest(redDims, b_->getInt64(0),
                     b_->getInt64(uint64_t(redDims[0])), step);
          }
          b_->CreateStore(narrow(b_->CreateLoad(acct, acc)),
                          b_->CreateInBoundsGEP(
                              et, out, linear(b_->getInt64(0), kidx, ostr)));
        });
      });
  return Status::ok();
}

} // namespace ember::cpugen

// Resize as loads of a generated loop (a Gather row of CpuOps.def), so the
// elementwise ops that read it (an FPN's lateral Add, a Concat's loop, an
// activation) fuse with it and the upsampled tensor is often never stored.
//
// Everything that depends only on shapes is computed here, at compile time,
// with the reference kernel's arithmetic (core/ir/ResizeCoordinates.h,
// shared with core/interp/kernels/ResizeKernel.cpp): per resized axis, the
// source index of every output index (nearest) or its taps' clamped source
// indices and weights (linear, cubic, antialiased, exclude_outside), as
// constant tables. The loop then reads the tables at its index; it never
// computes a coordinate.
//
// Nearest copies elements (exact for every kind). Linear and cubic sum the
// taps in double in the reference's order (the first resized axis
// innermost, each sum starting from 0) and round once, so the result is
// bit-identical to the interpreter's.
//
// Row buffers. The reference's sum is nested: the last pass's sum (W, the
// last resized axis) is outermost, over the sums of the earlier passes (H)
// at the W taps' input columns. When the loop runs the last pass's dim
// innermost (a row-major result), those inner sums depend on the output
// row only, so they are computed once per output row for every input
// column into a buffer of doubles (a contiguous, vectorized pass over the
// input row), and each element then sums the last pass's taps from the
// buffer: the same products and additions in the same order, so still
// bit-identical. Channels-last results (channels innermost) read the taps
// directly: their tables are invariant in the inner loop.
#include "LoopGen.h"

#include "ir/ResizeCoordinates.h"
#include "ir/TypeRules.h"
#include "ir/typerules/Parse.h"

#include <llvm/IR/Constants.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace ember::cpugen {

namespace {

// ---- the node's geometry ----------------------------------------------------

struct Geometry {
  ResizeAttrs a;
  std::vector<int64_t> axes; // resized axes, in the node's order
  std::vector<double> scale, roiLo, roiHi;
  Dims in, out;
  bool useRoi = false;

  bool identity(size_t ax) const {
    auto close = [](double p, double q) {
      return std::fabs(p - q) <= 1e-9 * std::max(std::fabs(p), std::fabs(q));
    };
    bool roiTrivial = !useRoi || (roiLo[ax] == 0 && close(roiHi[ax], 1.0));
    return close(scale[ax], 1.0) && out[ax] == in[ax] && roiTrivial;
  }
};

bool fail(std::string &reason, std::string why) {
  reason = std::move(why);
  return false;
}

// The reference kernel's scales and region of interest for node n, from
// its constant operands; false (with the reason) when they are not
// constants or the node is one the loops do not take. The attributes, the
// resized axes and the per-dim scale are the type rule's (resizePlan).
bool geometryOf(const Node &n, Geometry &g, std::string &reason) {
  g.in = n.inputs[0].type().dims();
  g.out = n.types[0].dims();
  if (g.out.size() != g.in.size())
    return fail(reason, "result rank differs from the operand's");
  auto given = [&](size_t i) {
    return n.hasInput(i) && n.inputs[i].type().numElements() > 0;
  };
  for (size_t i = 1; i < 4; ++i)
    if (given(i) && !isConstant(n.inputs[i]))
      return fail(reason, concat("operand ", i, " is not a constant"));
  std::vector<Tensor> typeOnly;
  Expected<ResizePlan> plan =
      resizePlan(TypeContext(n, staticOperands(n, typeOnly)));
  if (!plan)
    return fail(reason, plan.status().message());
  g.a = plan->attrs;
  g.axes = plan->axes;
  g.scale = plan->scale;
  g.roiLo.assign(g.in.size(), 0.0);
  g.roiHi.assign(g.in.size(), 1.0);
  const ResizeAttrs &a = g.a;
  g.useRoi = a.ctm == "tf_crop_and_resize";
  if (g.useRoi) {
    if (!given(1))
      return fail(reason, "tf_crop_and_resize without a roi");
    std::vector<double> roi = n.inputs[1].node->payload->toDoubles();
    if (roi.size() != 2 * g.axes.size())
      return fail(reason, "roi does not match the axes");
    for (size_t i = 0; i < g.axes.size(); ++i) {
      g.roiLo[size_t(g.axes[i])] = roi[i];
      g.roiHi[size_t(g.axes[i])] = roi[g.axes.size() + i];
    }
  }
  return true;
}

bool resized(const Geometry &g, size_t ax) {
  return std::find(g.axes.begin(), g.axes.end(), int64_t(ax)) != g.axes.end();
}

// Nearest: the source index of each output index of axis ax (-1: the
// extrapolation value).
std::vector<int64_t> nearestTable(const Geometry &g, size_t ax) {
  const ResizeAttrs &a = g.a;
  int64_t inW = g.in[ax], outW = g.out[ax];
  std::vector<int64_t> t(static_cast<size_t>(outW));
  for (int64_t o = 0; o < outW; ++o) {
    t[size_t(o)] = resizeNearestIndex(a, o, g.scale[ax], inW, outW, g.roiLo[ax],
                                      g.roiHi[ax]);
  }
  return t;
}

// Linear/cubic: one interpolation pass over a loop dim.
struct Pass {
  size_t dim = 0; // loop dim
  size_t taps = 0;
  std::vector<std::vector<int64_t>> index; // [tap][output index]
  std::vector<std::vector<double>> weight; // [tap][output index]
  std::vector<uint8_t> extrap;             // [output index]
  bool anyExtrap = false;
};

Pass interpolationPass(const Geometry &g, size_t ax, size_t dim) {
  const ResizeAttrs &a = g.a;
  int64_t inW = g.in[ax], outW = g.out[ax];
  Pass p;
  p.dim = dim;
  p.extrap.assign(size_t(outW), 0);
  std::vector<int64_t> offs;
  std::vector<double> w;
  for (int64_t o = 0; o < outW; ++o) {
    int64_t base;
    bool ex = resizeInterpolationTaps(a, o, g.scale[ax], inW, outW, g.roiLo[ax],
                                      g.roiHi[ax], base, offs, w);
    p.extrap[size_t(o)] = ex;
    p.anyExtrap = p.anyExtrap || ex;
    if (p.index.empty()) {
      p.taps = offs.size();
      p.index.assign(p.taps, std::vector<int64_t>(size_t(outW)));
      p.weight.assign(p.taps, std::vector<double>(size_t(outW)));
    }
    for (size_t k = 0; k < p.taps; ++k) {
      p.index[k][size_t(o)] = std::clamp<int64_t>(base + offs[k], 0, inW - 1);
      p.weight[k][size_t(o)] = w[k];
    }
  }
  return p;
}

// Tap combinations a linear/cubic node reads per element: the loads of
// its loop, bounded to keep the generated code small.
constexpr size_t kMaxCorners = 64;

size_t cornerCount(const Geometry &g) {
  size_t c = 1;
  for (int64_t ax : g.axes) {
    if (g.identity(size_t(ax)) || g.out[size_t(ax)] == 0)
      continue;
    Pass p = interpolationPass(g, size_t(ax), 0);
    c *= std::max<size_t>(p.taps, 1);
    if (c > kMaxCorners)
      return c;
  }
  return c;
}

struct Plan {
  std::vector<Pass> passes; // in the reference's pass order
  std::vector<int> corners; // leaf per tap combination (pass 0 fastest)
  double extrapolation = 0;
  ElemKind in = ElemKind::F32;
  // Row buffer (resizeRows): the sums of passes before the last one at
  // every input index of the last pass's axis, for the current output row.
  bool rows = false;
  int64_t rowLen = 0;
  llvm::Value *rowBuf = nullptr;
};

// A row buffer pays when the last pass upsamples or keeps its axis (its
// input row is no longer than the output row, so the earlier passes run
// at most once per output element instead of once per tap) and stays in
// L1 (doubles, on the task's stack).
constexpr int64_t kMaxRowLen = 4096;

} // namespace

bool checkResize(const Node &n, std::string &reason) {
  Geometry g;
  if (!geometryOf(n, g, reason))
    return false;
  const std::string &m = g.a.mode;
  if (m != "nearest" && m != "linear" && m != "cubic")
    return fail(reason, concat("mode '", m, "'"));
  if (m == "nearest")
    return true;
  ElemKind k = n.inputs[0].type().elem();
  if (k == ElemKind::Bool || k == ElemKind::I64 || k == ElemKind::U64)
    return fail(reason, concat(m, " interpolation of ", elemKindName(k)));
  if (cornerCount(g) > kMaxCorners)
    return fail(reason, concat("more than ", kMaxCorners, " taps per element (",
                               m, ")"));
  return true;
}

int LoopGen::resizeLeaf(const Node &n) {
  Geometry geo;
  std::string why;
  geometryOf(n, geo, why); // checkResize passed
  const Value &data = n.inputs[0];
  size_t r = geo.in.size(), lead = dims.size() - r;
  Leaf base;
  base.a = cg.affineOf(g, data);
  base.elem = data.type().elem();
  base.fill = geo.a.extrapolation;
  std::vector<int64_t> st(dims.size(), 0);
  for (size_t ax = 0; ax < r; ++ax)
    st[lead + ax] = geo.in[ax] == 1 ? 0 : base.a.strides[ax];
  base.a.strides = st;
  if (geo.a.mode == "nearest") {
    base.tables.assign(dims.size(), {});
    for (size_t ax = 0; ax < r; ++ax) {
      if (!resized(geo, ax) || geo.identity(ax))
        continue;
      std::vector<int64_t> t = nearestTable(geo, ax);
      bool same = geo.in[ax] == geo.out[ax];
      for (size_t o = 0; o < t.size() && same; ++o)
        same = t[o] == int64_t(o);
      if (!same) // an identity map reads through the stride
        base.tables[lead + ax] = std::move(t);
    }
    int id = addLeaf(base);
    leafOf[keyOf(&n)] = id;
    return id;
  }
  auto plan = std::make_shared<Plan>();
  plan->extrapolation = geo.a.extrapolation;
  plan->in = data.type().elem();
  for (int64_t ax : geo.axes)
    if (!geo.identity(size_t(ax)) && geo.out[size_t(ax)] > 0)
      plan->passes.push_back(
          interpolationPass(geo, size_t(ax), lead + size_t(ax)));
  size_t corners = 1;
  for (const Pass &p : plan->passes)
    corners *= p.taps;
  for (size_t c = 0; c < corners; ++c) {
    Leaf l = base;
    l.tables.assign(dims.size(), {});
    size_t rest = c;
    for (const Pass &p : plan->passes) {
      l.tables[p.dim] = p.index[rest % p.taps];
      rest /= p.taps;
    }
    plan->corners.push_back(addLeaf(l));
  }
  plans[&n] = plan;
  leafOf[keyOf(&n)] = -1;
  return -1;
}

namespace {

llvm::GlobalVariable *constantGlobal(llvm::Module &m, llvm::Constant *init,
                                     const char *name) {
  auto *gv = new llvm::GlobalVariable(
      m, init->getType(), true, llvm::GlobalValue::PrivateLinkage, init, name);
  gv->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
  return gv;
}

// Pass p's sum for the taps of the passes after p fixed in `corner` (the
// reference's order: dst = 0, dst += w * src per tap), each tap's value
// from `tap(pass, t, inner corner, inner radix)`.
llvm::Value *
passSum(LoopGen &lg, const Plan &plan, const Pass &ps, size_t corner,
        size_t radix,
        const std::function<llvm::Value *(size_t, size_t, size_t)> &tap) {
  llvm::IRBuilder<> &b = lg.b;
  llvm::Type *f64 = b.getDoubleTy();
  size_t inner = radix / ps.taps;
  llvm::Value *o = lg.idx[ps.dim];
  llvm::Value *acc = llvm::ConstantFP::get(f64, 0.0);
  for (size_t t = 0; t < ps.taps; ++t) {
    llvm::Constant *wt =
        llvm::ConstantDataArray::get(b.getContext(), ps.weight[t]);
    llvm::Value *w = b.CreateLoad(
        f64, b.CreateInBoundsGEP(
                 f64, constantGlobal(*lg.cg.mod_, wt, "resize.weight"), o));
    acc = b.CreateFAdd(acc, b.CreateFMul(w, tap(t, corner + t * inner, inner)));
  }
  if (ps.anyExtrap) {
    llvm::Constant *ex =
        llvm::ConstantDataArray::get(b.getContext(), ps.extrap);
    llvm::Value *e =
        b.CreateLoad(b.getInt8Ty(),
                     b.CreateInBoundsGEP(
                         b.getInt8Ty(),
                         constantGlobal(*lg.cg.mod_, ex, "resize.extrap"), o));
    acc = b.CreateSelect(b.CreateICmpNE(e, b.getInt8(0)),
                         llvm::ConstantFP::get(f64, plan.extrapolation), acc);
  }
  return acc;
}

// The nested sum of passes [0, p] with the taps of the later passes fixed
// in `corner`: the element's loads at p < 0.
llvm::Value *nestedSum(LoopGen &lg, const Plan &plan, int p, size_t corner,
                       size_t radix) {
  llvm::IRBuilder<> &b = lg.b;
  if (p < 0) {
    llvm::Value *v = lg.load(plan.corners[corner]);
    llvm::Type *f64 = b.getDoubleTy();
    if (isComputeFloatKind(plan.in))
      return v->getType()->isDoubleTy() ? v : b.CreateFPExt(v, f64);
    return isSignedInt(plan.in) ? b.CreateSIToFP(v, f64)
                                : b.CreateUIToFP(v, f64);
  }
  return passSum(lg, plan, plan.passes[size_t(p)], corner, radix,
                 [&](size_t, size_t c, size_t inner) {
                   return nestedSum(lg, plan, p - 1, c, inner);
                 });
}

// The group's linear/cubic Resize nodes and plans in graph order (plans
// is keyed by pointer, whose order is not the same from run to run).
std::vector<std::pair<const Node *, Plan *>> plansInOrder(LoopGen &lg) {
  std::vector<std::pair<const Node *, Plan *>> r;
  for (const Node *m : lg.g.members) {
    auto it = lg.plans.find(m);
    if (it != lg.plans.end())
      r.emplace_back(m, static_cast<Plan *>(it->second.get()));
  }
  return r;
}

} // namespace

size_t LoopGen::resizeRows(size_t innerDim) {
  size_t count = 0;
  for (auto &[node, planPtr] : plansInOrder(*this)) {
    Plan &plan = *planPtr;
    if (plan.passes.size() < 2)
      continue;
    const Pass &last = plan.passes.back();
    const Node &n = *node;
    size_t r = n.types[0].rank(), lead = dims.size() - r;
    if (last.dim != innerDim || last.anyExtrap || last.dim < lead)
      continue;
    int64_t inW = n.inputs[0].type().dim(last.dim - lead),
            outW = n.types[0].dim(last.dim - lead);
    if (inW > outW || inW > kMaxRowLen)
      continue;
    plan.rows = true;
    plan.rowLen = inW;
    ++count;
  }
  return count;
}

void LoopGen::allocRows() {
  for (auto &[node, planPtr] : plansInOrder(*this)) {
    Plan &plan = *planPtr;
    if (plan.rows)
      plan.rowBuf = b.CreateAlloca(
          llvm::ArrayType::get(b.getDoubleTy(), uint64_t(plan.rowLen)), nullptr,
          "resize.row");
  }
}

void LoopGen::fillRows() {
  for (auto &[node, planPtr] : plansInOrder(*this)) {
    const Plan &plan = *planPtr;
    if (!plan.rows)
      continue;
    // for (i = 0; i < rowLen; ++i) row[i] = the earlier passes' sum with the
    // last pass's tap 0, its dim read at i itself.
    llvm::Type *i64 = b.getInt64Ty(), *f64 = b.getDoubleTy();
    size_t dim = plan.passes.back().dim;
    llvm::Function *fn = b.GetInsertBlock()->getParent();
    llvm::BasicBlock *pre = b.GetInsertBlock();
    auto *loop = llvm::BasicBlock::Create(b.getContext(), "row", fn);
    auto *exit = llvm::BasicBlock::Create(b.getContext(), "row.end", fn);
    b.CreateBr(loop);
    b.SetInsertPoint(loop);
    llvm::PHINode *iv = b.CreatePHI(i64, 2, "i");
    iv->addIncoming(b.getInt64(0), pre);
    llvm::Value *saved = idx[dim];
    idx[dim] = iv;
    rawDim = int(dim);
    memo.clear();
    size_t inner = plan.corners.size() / plan.passes.back().taps;
    llvm::Value *v =
        nestedSum(*this, plan, int(plan.passes.size()) - 2, 0, inner);
    rawDim = -1;
    idx[dim] = saved;
    memo.clear();
    b.CreateStore(v, b.CreateInBoundsGEP(f64, plan.rowBuf, iv));
    llvm::Value *next = b.CreateAdd(iv, b.getInt64(1), "", true, true);
    iv->addIncoming(next, b.GetInsertBlock());
    b.CreateCondBr(b.CreateICmpSLT(next, b.getInt64(uint64_t(plan.rowLen))),
                   loop, exit);
    b.SetInsertPoint(exit);
  }
}

llvm::Value *LoopGen::resizeValue(const Node &n) {
  auto it = plans.find(&n);
  if (it == plans.end()) // nearest: one leaf
    return load(leafOf.at(keyOf(&n)));
  const Plan &plan = *static_cast<const Plan *>(it->second.get());
  ElemKind out = n.types[0].elem();
  llvm::Type *f64 = b.getDoubleTy();
  llvm::Value *v;
  if (plan.rows) {
    // The last pass's taps read the row buffer at their source index.
    const Pass &last = plan.passes.back();
    v = passSum(*this, plan, last, 0, plan.corners.size(),
                [&](size_t t, size_t, size_t) -> llvm::Value * {
                  llvm::Value *src = b.CreateLoad(
                      b.getInt64Ty(),
                      b.CreateInBoundsGEP(b.getInt64Ty(), table(last.index[t]),
                                          idx[last.dim]));
                  return b.CreateLoad(
                      f64, b.CreateInBoundsGEP(f64, plan.rowBuf, src));
                });
  } else {
    v = nestedSum(*this, plan, int(plan.passes.size()) - 1, 0,
                  plan.corners.size());
  }
  // The reference's saturating conversion: floats clamp to the finite range
  // (NaN kept), integers round half to even and clamp (NaN: 0).
  auto clampTo = [&](llvm::Value *x, double lo, double hi) {
    x = b.CreateSelect(b.CreateFCmpOLT(x, llvm::ConstantFP::get(f64, lo)),
                       llvm::ConstantFP::get(f64, lo), x);
    return b.CreateSelect(b.CreateFCmpOGT(x, llvm::ConstantFP::get(f64, hi)),
                          llvm::ConstantFP::get(f64, hi), x);
  };
  if (isComputeFloatKind(out)) {
    double hi = out == ElemKind::F16    ? 65504.0
                : out == ElemKind::BF16 ? 3.3895313892515355e38
                : out == ElemKind::F32
                    ? double(std::numeric_limits<float>::max())
                    : std::numeric_limits<double>::max();
    v = clampTo(v, -hi, hi);
    return out == ElemKind::F64 ? v : b.CreateFPTrunc(v, b.getFloatTy());
  }
  unsigned w = kindBits(out);
  bool sgn = isSignedInt(out);
  double lo = sgn ? -std::ldexp(1.0, int(w) - 1) : 0.0;
  double hi =
      sgn ? std::ldexp(1.0, int(w) - 1) - 1 : std::ldexp(1.0, int(w)) - 1;
  llvm::Value *nan = b.CreateFCmpUNO(v, v);
  v = b.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven, v);
  v = clampTo(v, lo, hi);
  v = b.CreateSelect(nan, llvm::ConstantFP::get(f64, 0.0), v);
  return sgn ? b.CreateFPToSI(v, regType(out))
             : b.CreateFPToUI(v, regType(out));
}

} // namespace ember::cpugen

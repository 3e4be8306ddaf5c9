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
#include "LoopGen.h"

#include "ir/ResizeCoordinates.h"

#include <llvm/IR/Constants.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace ember::cpugen {

namespace {

// ---- the node's geometry
// -----------------------------------------------------

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
// constants or the node is one the loops do not take.
bool geometryOf(const Node &n, Geometry &g, std::string &reason) {
  ResizeAttrs &a = g.a;
  a.mode = n.attrString("mode", "nearest");
  a.ctm = n.attrString("coordinate_transformation_mode", "half_pixel");
  a.nearestMode = n.attrString("nearest_mode", "round_prefer_floor");
  a.cubicA = n.attrFloat("cubic_coeff_a", -0.75);
  a.extrapolation = n.attrFloat("extrapolation_value", 0);
  a.excludeOutside = n.attrInt("exclude_outside", 0) != 0;
  a.antialias = n.attrInt("antialias", 0) != 0;
  std::string policy = n.attrString("keep_aspect_ratio_policy", "stretch");
  g.in = n.inputs[0].type().dims();
  g.out = n.types[0].dims();
  size_t r = g.in.size();
  if (g.out.size() != r)
    return fail(reason, "result rank differs from the operand's");
  if (n.hasAttr("axes")) {
    for (int64_t ax : n.attrInts("axes"))
      g.axes.push_back(ax < 0 ? ax + int64_t(r) : ax);
  } else {
    for (size_t i = 0; i < r; ++i)
      g.axes.push_back(int64_t(i));
  }
  for (int64_t ax : g.axes)
    if (ax < 0 || ax >= int64_t(r))
      return fail(reason, "axis out of range");
  g.scale.assign(r, 1.0);
  g.roiLo.assign(r, 0.0);
  g.roiHi.assign(r, 1.0);
  auto given = [&](size_t i) {
    return n.hasInput(i) && n.inputs[i].type().numElements() > 0;
  };
  for (size_t i = 1; i < 4; ++i)
    if (given(i) && !isConstant(n.inputs[i]))
      return fail(reason, concat("operand ", i, " is not a constant"));
  if (given(2)) {
    std::vector<double> s = n.inputs[2].node->payload->toDoubles();
    if (s.size() != g.axes.size())
      return fail(reason, "scales do not match the axes");
    for (size_t i = 0; i < g.axes.size(); ++i)
      g.scale[size_t(g.axes[i])] = s[i];
  } else if (given(3)) {
    std::vector<int64_t> sz;
    if (!constantInts(n.inputs[3], sz) || sz.size() != g.axes.size())
      return fail(reason, "sizes do not match the axes");
    for (size_t i = 0; i < g.axes.size(); ++i) {
      size_t ax = size_t(g.axes[i]);
      if (g.in[ax] == 0)
        return fail(reason, "resizing an empty axis");
      g.scale[ax] = double(sz[i]) / double(g.in[ax]);
    }
    if (policy != "stretch" && !g.axes.empty()) {
      double s = g.scale[size_t(g.axes[0])];
      for (int64_t ax : g.axes)
        s = policy == "not_larger" ? std::min(s, g.scale[size_t(ax)])
                                   : std::max(s, g.scale[size_t(ax)]);
      for (int64_t ax : g.axes)
        g.scale[size_t(ax)] = s;
    }
  } else {
    return fail(reason, "neither scales nor sizes");
  }
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
};

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

llvm::Value *LoopGen::resizeValue(const Node &n) {
  auto it = plans.find(&n);
  if (it == plans.end()) // nearest: one leaf
    return load(leafOf.at(keyOf(&n)));
  const Plan &plan = *static_cast<const Plan *>(it->second.get());
  ElemKind in = n.inputs[0].type().elem(), out = n.types[0].elem();
  llvm::Type *f64 = b.getDoubleTy();
  auto global = [&](llvm::Constant *init, const char *name) {
    auto *gv =
        new llvm::GlobalVariable(*cg.mod_, init->getType(), true,
                                 llvm::GlobalValue::PrivateLinkage, init, name);
    gv->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
    return gv;
  };
  auto toDouble = [&](llvm::Value *v) -> llvm::Value * {
    if (isComputeFloatKind(in))
      return v->getType()->isDoubleTy() ? v : b.CreateFPExt(v, f64);
    return isSigned(in) ? b.CreateSIToFP(v, f64) : b.CreateUIToFP(v, f64);
  };
  // Pass p's sum for the taps of passes > p fixed in `corner` (the
  // reference's order: dst = 0, dst += w * src per tap).
  std::function<llvm::Value *(int, size_t, size_t)> sum =
      [&](int p, size_t corner, size_t radix) -> llvm::Value * {
    if (p < 0)
      return toDouble(load(plan.corners[corner]));
    const Pass &ps = plan.passes[size_t(p)];
    size_t inner = radix / ps.taps;
    llvm::Value *o = idx[ps.dim];
    llvm::Value *acc = llvm::ConstantFP::get(f64, 0.0);
    for (size_t t = 0; t < ps.taps; ++t) {
      llvm::Constant *wt = llvm::ConstantDataArray::get(*cg.ctx_, ps.weight[t]);
      llvm::Value *w = b.CreateLoad(
          f64, b.CreateInBoundsGEP(f64, global(wt, "resize.weight"), o));
      llvm::Value *v = sum(p - 1, corner + t * inner, inner);
      acc = b.CreateFAdd(acc, b.CreateFMul(w, v));
    }
    if (ps.anyExtrap) {
      llvm::Constant *ex = llvm::ConstantDataArray::get(*cg.ctx_, ps.extrap);
      llvm::Value *e = b.CreateLoad(
          b.getInt8Ty(),
          b.CreateInBoundsGEP(b.getInt8Ty(), global(ex, "resize.extrap"), o));
      acc = b.CreateSelect(b.CreateICmpNE(e, b.getInt8(0)),
                           llvm::ConstantFP::get(f64, plan.extrapolation), acc);
    }
    return acc;
  };
  size_t corners = plan.corners.size();
  llvm::Value *v = sum(int(plan.passes.size()) - 1, 0, corners);
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
  unsigned w = bits(out);
  bool sgn = isSigned(out);
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

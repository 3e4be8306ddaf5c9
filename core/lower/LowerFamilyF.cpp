// Lowerings of the family F composites. The losses become GatherElements,
// Gather, Where and ReduceSum (after LogSoftmax for SoftmaxCrossEntropyLoss).
// Einsum becomes diagonal masks, ReduceSum, Transpose/Reshape and batched
// MatMul per operand pair. Ops whose results are fixed at compile time
// (window generators, MelWeightMatrix, EyeLike) and ops whose result shape
// already required their operand values (NonZero, Unique, NonMaxSuppression)
// fold into constants by running the reference kernel; OneHot, Compress and
// CenterCropPad rebuild from Equal/Where, Gather and Slice/Pad. DFT and STFT
// become MatMuls with constant twiddle matrices, AffineGrid one MatMul with
// a constant base grid, MaxUnpool a ScatterElements and ReverseSequence a
// GatherElements with computed indices.
#include "interp/Kernel.h"
#include "interp/kernels/MiscFUtil.h"
#include "lower/Lowering.h"

#include <algorithm>
#include <set>

namespace ember {

namespace {

const Tensor *constantOf(Value v) {
  return v.node && v.node->kind == OpKind::Constant ? v.node->payload.get()
                                                    : nullptr;
}

// Runs the node's reference kernel and returns its results as constants.
// Operands that are not constants are passed as zero tensors of their type,
// so only use this where the kernel does not read them (or where type
// inference already required them to be constant).
Expected<std::vector<Value>> foldToConstants(LoweringBuilder &b,
                                             bool allowUnknown) {
  Node &n = b.node();
  std::vector<Tensor> zeros(n.inputs.size());
  std::vector<const Tensor *> ins(n.inputs.size(), nullptr);
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (!b.has(i))
      continue;
    if (const Tensor *c = constantOf(b.in(i))) {
      ins[i] = c;
      continue;
    }
    if (!allowUnknown)
      return unsupported(opName(n.kind), ": operand #", i,
                         " must be a constant to lower ", n.describe());
    zeros[i] = Tensor(b.inType(i));
    ins[i] = &zeros[i];
  }
  KernelContext ctx(n, ins, false);
  EMBER_TRY(kernelFor(n.kind)(ctx));
  std::vector<Value> out;
  for (Tensor &t : ctx.outputs())
    out.push_back(b.constant(std::move(t)));
  return out;
}

} // namespace

Expected<std::vector<Value>> lower_EyeLike(LoweringBuilder &b) {
  return foldToConstants(b, true);
}
Expected<std::vector<Value>> lower_HannWindow(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_HammingWindow(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_BlackmanWindow(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_MelWeightMatrix(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_NonZero(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_Unique(LoweringBuilder &b) {
  return foldToConstants(b, false);
}
Expected<std::vector<Value>> lower_NonMaxSuppression(LoweringBuilder &b) {
  return foldToConstants(b, false);
}

// OneHot: Where(Equal(wrapped indices with a size-1 dim at axis,
// [0..depth) along axis), on, off).
Expected<std::vector<Value>> lower_OneHot(LoweringBuilder &b) {
  const Type &ot = b.node().types[0];
  Value ind = b.in(0);
  const Type &it = b.inType(0);
  int64_t r = int64_t(it.rank());
  int64_t axis = b.node().attrInt("axis", -1);
  if (axis < 0)
    axis += r + 1;
  int64_t depth = ot.dim(size_t(axis));
  ElemKind ik = it.elem();
  EMBER_ASSIGN(Value neg, b.op(OpKind::Less, {ind, b.scalar(ik, 0)}));
  EMBER_ASSIGN(Value up, b.op(OpKind::Add, {ind, b.scalar(ik, double(depth))}));
  EMBER_ASSIGN(Value w, b.op(OpKind::Where, {neg, up, ind}));
  Dims shape = it.dims();
  shape.insert(shape.begin() + axis, 1);
  EMBER_ASSIGN(Value col, b.op(OpKind::Reshape, {w, b.ints(shape)}));
  Dims rd(size_t(r + 1), 1);
  rd[size_t(axis)] = depth;
  Tensor range(Type(ik, rd));
  for (int64_t k = 0; k < depth; ++k)
    range.setDouble(k, double(k));
  EMBER_ASSIGN(Value eq, b.op(OpKind::Equal, {col, b.constant(range)}));
  Value vals = b.in(2);
  EMBER_ASSIGN(Value off,
               b.op(OpKind::Slice, {vals, b.ints({0}), b.ints({1})}));
  EMBER_ASSIGN(Value on, b.op(OpKind::Slice, {vals, b.ints({1}), b.ints({2})}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Where, {eq, on, off}));
  return std::vector<Value>{y};
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

// CenterCropPad: Slice the cropped axes, then zero-Pad the padded ones.
Expected<std::vector<Value>> lower_CenterCropPad(LoweringBuilder &b) {
  const Type &xt = b.inType(0), &yt = b.node().types[0];
  size_t r = xt.rank();
  std::vector<int64_t> starts, ends, axes, pads(2 * r, 0);
  bool anyPad = false;
  for (size_t k = 0; k < r; ++k) {
    int64_t d = xt.dim(k), s = yt.dim(k);
    if (s < d) {
      starts.push_back((d - s) / 2);
      ends.push_back((d - s) / 2 + s);
      axes.push_back(int64_t(k));
    } else if (s > d) {
      pads[k] = (s - d) / 2;
      pads[k + r] = s - d - (s - d) / 2;
      anyPad = true;
    }
  }
  Value v = b.in(0);
  if (!axes.empty()) {
    EMBER_ASSIGN(v, b.op(OpKind::Slice,
                         {v, b.ints(starts), b.ints(ends), b.ints(axes)}));
  }
  if (anyPad) {
    EMBER_ASSIGN(v, b.op(OpKind::Pad, {v, b.ints(pads)}));
  }
  if (axes.empty() && !anyPad) {
    EMBER_ASSIGN(v, b.op(OpKind::Identity, {v}));
  }
  return std::vector<Value>{v};
}

namespace {

// An intermediate Einsum operand: a value and one distinct label per dim.
struct ETerm {
  Value v;
  std::vector<int> labels;
};

bool contains(const std::vector<int> &v, int l) {
  return std::find(v.begin(), v.end(), l) != v.end();
}

// Keeps the diagonal of every repeated label: multiply by an identity mask
// over the two dims, then sum one of them away.
Status takeDiagonals(LoweringBuilder &b, ETerm &t) {
  for (size_t q = 1; q < t.labels.size(); ++q)
    for (size_t p = 0; p < q; ++p) {
      if (t.labels[p] != t.labels[q])
        continue;
      const Type &ty = t.v.type();
      int64_t d = ty.dim(p);
      if (ty.dim(q) != d)
        return unsupported("Einsum: diagonal over dims of sizes ", d, " and ",
                           ty.dim(q));
      Dims md(ty.rank(), 1);
      md[p] = md[q] = d;
      Tensor mask(Type(ty.elem(), md));
      for (int64_t i = 0; i < d; ++i)
        mask.setDouble(i * d + i, 1.0);
      EMBER_ASSIGN(Value m, b.op(OpKind::Mul, {t.v, b.constant(mask)}));
      EMBER_ASSIGN(t.v, b.op(OpKind::ReduceSum, {m, b.ints({int64_t(q)})},
                             {{"keepdims", Attr::ofInt(0)}}));
      t.labels.erase(t.labels.begin() + int64_t(q));
      return takeDiagonals(b, t);
    }
  return Status::ok();
}

// Sums away the labels of t that are not in `keep`.
Status sumOutExcept(LoweringBuilder &b, ETerm &t, const std::set<int> &keep) {
  std::vector<int64_t> axes;
  std::vector<int> rest;
  for (size_t k = 0; k < t.labels.size(); ++k)
    if (keep.count(t.labels[k]))
      rest.push_back(t.labels[k]);
    else
      axes.push_back(int64_t(k));
  if (axes.empty())
    return Status::ok();
  EMBER_ASSIGN(t.v, b.op(OpKind::ReduceSum, {t.v, b.ints(axes)},
                         {{"keepdims", Attr::ofInt(0)}}));
  t.labels = rest;
  return Status::ok();
}

// Transposes t to the label order `order` (a permutation of its labels).
Status permuteTo(LoweringBuilder &b, ETerm &t, const std::vector<int> &order) {
  if (order == t.labels)
    return Status::ok();
  std::vector<int64_t> perm;
  for (int l : order)
    perm.push_back(int64_t(std::find(t.labels.begin(), t.labels.end(), l) -
                           t.labels.begin()));
  EMBER_ASSIGN(t.v,
               b.op(OpKind::Transpose, {t.v}, {{"perm", Attr::ofInts(perm)}}));
  t.labels = order;
  return Status::ok();
}

// Broadcasts size-1 dims of t whose label has size > 1 in `other`.
Status expandTo(LoweringBuilder &b, ETerm &t, const ETerm &other) {
  Dims d = t.v.type().dims();
  bool any = false;
  for (size_t k = 0; k < t.labels.size(); ++k) {
    auto it = std::find(other.labels.begin(), other.labels.end(), t.labels[k]);
    if (it == other.labels.end())
      continue;
    int64_t od = other.v.type().dim(size_t(it - other.labels.begin()));
    if (d[k] == 1 && od != 1) {
      d[k] = od;
      any = true;
    }
  }
  if (any) {
    EMBER_ASSIGN(t.v, b.op(OpKind::Expand, {t.v, b.ints(d)}));
  }
  return Status::ok();
}

int64_t product(const Dims &d, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t k = from; k < to; ++k)
    p *= d[k];
  return p;
}

// Contracts a and b into one term keeping the labels in `keep`: a becomes
// [batch, M, K], b [batch, K, N], one MatMul, reshaped back.
Expected<ETerm> contract(LoweringBuilder &b, ETerm a, ETerm c,
                         const std::set<int> &keep) {
  std::set<int> keepA = keep, keepC = keep;
  keepA.insert(c.labels.begin(), c.labels.end());
  keepC.insert(a.labels.begin(), a.labels.end());
  EMBER_TRY(sumOutExcept(b, a, keepA));
  EMBER_TRY(sumOutExcept(b, c, keepC));
  EMBER_TRY(expandTo(b, a, c));
  EMBER_TRY(expandTo(b, c, a));
  std::vector<int> batch, contr, aOnly, cOnly;
  for (int l : a.labels)
    if (contains(c.labels, l))
      (keep.count(l) ? batch : contr).push_back(l);
    else
      aOnly.push_back(l);
  for (int l : c.labels)
    if (!contains(a.labels, l))
      cOnly.push_back(l);
  std::vector<int> oa = batch, oc = batch;
  oa.insert(oa.end(), aOnly.begin(), aOnly.end());
  oa.insert(oa.end(), contr.begin(), contr.end());
  oc.insert(oc.end(), contr.begin(), contr.end());
  oc.insert(oc.end(), cOnly.begin(), cOnly.end());
  EMBER_TRY(permuteTo(b, a, oa));
  EMBER_TRY(permuteTo(b, c, oc));
  const Dims &da = a.v.type().dims(), &dc = c.v.type().dims();
  size_t nb = batch.size(), na = aOnly.size(), nk = contr.size();
  int64_t B = product(da, 0, nb), M = product(da, nb, nb + na),
          K = product(da, nb + na, da.size()),
          N = product(dc, nb + nk, dc.size());
  EMBER_ASSIGN(Value a3, b.op(OpKind::Reshape, {a.v, b.ints({B, M, K})}));
  EMBER_ASSIGN(Value c3, b.op(OpKind::Reshape, {c.v, b.ints({B, K, N})}));
  EMBER_ASSIGN(Value mm, b.op(OpKind::MatMul, {a3, c3}));
  Dims od(da.begin(), da.begin() + int64_t(nb + na));
  od.insert(od.end(), dc.begin() + int64_t(nb + nk), dc.end());
  ETerm r;
  EMBER_ASSIGN(r.v, b.op(OpKind::Reshape, {mm, b.ints(od)}));
  r.labels = batch;
  r.labels.insert(r.labels.end(), aOnly.begin(), aOnly.end());
  r.labels.insert(r.labels.end(), cOnly.begin(), cOnly.end());
  return r;
}

} // namespace

Expected<std::vector<Value>> lower_Einsum(LoweringBuilder &b) {
  Node &n = b.node();
  std::vector<Dims> shapes;
  for (size_t i = 0; i < n.inputs.size(); ++i)
    shapes.push_back(b.inType(i).dims());
  EMBER_ASSIGN(EinsumSpec spec,
               parseEinsum(n.attrString("equation", ""), shapes));
  std::set<int> out(spec.output.begin(), spec.output.end());
  std::vector<ETerm> terms;
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    ETerm t{b.in(i), spec.inputs[i]};
    EMBER_TRY(takeDiagonals(b, t));
    terms.push_back(t);
  }
  // Labels needed after combining operands 0..i: the output's and those of
  // the operands not combined yet.
  auto neededAfter = [&](size_t i) {
    std::set<int> s = out;
    for (size_t j = i + 1; j < terms.size(); ++j)
      s.insert(terms[j].labels.begin(), terms[j].labels.end());
    return s;
  };
  ETerm acc = terms[0];
  for (size_t i = 1; i < terms.size(); ++i) {
    EMBER_ASSIGN(acc, contract(b, acc, terms[i], neededAfter(i)));
  }
  EMBER_TRY(sumOutExcept(b, acc, out));
  EMBER_TRY(permuteTo(b, acc, spec.output));
  const Type &want = n.types[0];
  if (acc.v.type().dims() != want.dims()) {
    EMBER_ASSIGN(acc.v, b.op(OpKind::Expand, {acc.v, b.ints(want.dims())}));
  }
  if (acc.v == b.in(0)) {
    EMBER_ASSIGN(acc.v, b.op(OpKind::Identity, {acc.v}));
  }
  return std::vector<Value>{acc.v};
}

namespace {

// Shared lowering of the losses over scores `sc` ([N, C, d...]: the input,
// or its LogSoftmax): loss = -GatherElements(sc, target) * weight, with
// ignored targets redirected to class 0 and given weight 0; "mean" divides
// by the summed weights.
Expected<Value> lowerLoss(LoweringBuilder &b, Value sc) {
  Node &n = b.node();
  const Type &xt = sc.type();
  Value t = b.in(1);
  const Type &tt = b.inType(1);
  ElemKind xk = xt.elem(), tk = tt.elem();
  bool ignore = n.hasAttr("ignore_index");
  Value eq, tc = t;
  if (ignore) {
    EMBER_ASSIGN(eq,
                 b.op(OpKind::Equal,
                      {t, b.scalar(tk, double(n.attrInt("ignore_index", 0)))}));
    EMBER_ASSIGN(tc, b.op(OpKind::Where, {eq, b.scalar(tk, 0), t}));
  }
  Dims col = tt.dims();
  col.insert(col.begin() + 1, 1);
  EMBER_ASSIGN(Value tcol, b.op(OpKind::Reshape, {tc, b.ints(col)}));
  EMBER_ASSIGN(Value g, b.op(OpKind::GatherElements, {sc, tcol},
                             {{"axis", Attr::ofInt(1)}}));
  EMBER_ASSIGN(Value g2, b.op(OpKind::Reshape, {g, b.ints(tt.dims())}));
  EMBER_ASSIGN(Value loss, b.op(OpKind::Neg, {g2}));
  Value w;
  if (b.has(2)) {
    EMBER_ASSIGN(
        w, b.op(OpKind::Gather, {b.in(2), tc}, {{"axis", Attr::ofInt(0)}}));
  }
  if (ignore) {
    Value keep = w ? w : b.scalar(xk, 1);
    EMBER_ASSIGN(w, b.op(OpKind::Where, {eq, b.scalar(xk, 0), keep}));
  }
  if (w) {
    EMBER_ASSIGN(loss, b.op(OpKind::Mul, {loss, w}));
  }
  std::string red = n.attrString("reduction", "mean");
  if (red == "none")
    return loss;
  AttrMap all{{"keepdims", Attr::ofInt(0)}};
  EMBER_ASSIGN(Value sum, b.op(OpKind::ReduceSum, {loss}, all));
  if (red == "sum")
    return sum;
  if (red != "mean")
    return invalid(opName(n.kind), ": unknown reduction '", red, "'");
  Value den;
  if (w) {
    // w may be a scalar (ignore without weights): broadcast to the loss.
    EMBER_ASSIGN(Value wf, b.op(OpKind::Expand, {w, b.ints(tt.dims())}));
    EMBER_ASSIGN(den, b.op(OpKind::ReduceSum, {wf}, all));
  } else {
    den = b.scalar(xk, double(numElements(tt.dims())));
  }
  return b.op(OpKind::Div, {sum, den});
}

} // namespace

Expected<std::vector<Value>>
lower_NegativeLogLikelihoodLoss(LoweringBuilder &b) {
  EMBER_ASSIGN(Value y, lowerLoss(b, b.in(0)));
  return std::vector<Value>{y};
}

Expected<std::vector<Value>> lower_SoftmaxCrossEntropyLoss(LoweringBuilder &b) {
  EMBER_ASSIGN(Value lp,
               b.op(OpKind::LogSoftmax, {b.in(0)}, {{"axis", Attr::ofInt(1)}}));
  EMBER_ASSIGN(Value y, lowerLoss(b, lp));
  std::vector<Value> out{y};
  if (b.node().numResults() == 2)
    out.push_back(lp);
  return out;
}

namespace {

// Reads a one-value constant operand i, or returns def when absent.
Expected<int64_t> constInt(LoweringBuilder &b, size_t i, int64_t def) {
  if (!b.has(i))
    return def;
  const Tensor *c = constantOf(b.in(i));
  if (!c || c->size() != 1)
    return unsupported(opName(b.node().kind), ": operand #", i,
                       " must be a one-value constant to lower ",
                       b.node().describe());
  return c->getInt(0);
}

// The transform along dim r-2 of v ([..., m, 1 or 2]) as MatMuls with
// constant matrices: out = re @ A_rr + im @ A_ir (real part) and
// re @ A_ri + im @ A_ii (imaginary part). `irfft`: Hermitian half spectrum
// in, real signal out ([..., L, 1]).
Expected<Value> dftByMatMul(LoweringBuilder &b, Value v, int64_t L,
                            int64_t lout, bool inverse, bool irfft) {
  const Type &t = v.type();
  size_t r = t.rank();
  int64_t m = t.dim(r - 2);
  ElemKind k = t.elem();
  bool cplx = t.dim(r - 1) == 2;
  Dims flat(t.dims().begin(), t.dims().end() - 1);
  auto part = [&](int64_t p) -> Expected<Value> {
    Value x = v;
    if (cplx) {
      EMBER_ASSIGN(x, b.op(OpKind::Slice, {v, b.ints({p}), b.ints({p + 1}),
                                           b.ints({int64_t(r - 1)})}));
    }
    return b.op(OpKind::Reshape, {x, b.ints(flat)});
  };
  // A[j][t] for the four real maps, computed in double.
  std::vector<double> arr(size_t(m * lout)), air(arr.size()), ari(arr.size()),
      aii(arr.size());
  auto tw = [&](int64_t a, int64_t c2, bool sine) {
    double ang = 2 * 3.14159265358979323846 * double((a * c2) % L) / double(L);
    return sine ? std::sin(ang) : std::cos(ang);
  };
  double scale = inverse ? 1.0 / double(L) : 1.0, sgn = inverse ? 1.0 : -1.0;
  if (irfft) {
    for (int64_t kk = 0; kk < L; ++kk) {
      int64_t j = kk <= L / 2 ? kk : L - kk;
      double conj = kk <= L / 2 ? 1.0 : -1.0;
      if (j >= m)
        continue;
      for (int64_t o = 0; o < lout; ++o) {
        arr[size_t(j * lout + o)] += scale * tw(kk, o, false);
        air[size_t(j * lout + o)] -= scale * conj * tw(kk, o, true);
      }
    }
  } else {
    for (int64_t j = 0; j < std::min(m, L); ++j)
      for (int64_t o = 0; o < lout; ++o) {
        double c = scale * tw(j, o, false), sn = scale * sgn * tw(j, o, true);
        size_t e = size_t(j * lout + o);
        arr[e] = c;
        air[e] = -sn;
        ari[e] = sn;
        aii[e] = c;
      }
  }
  auto mat = [&](const std::vector<double> &a) {
    Tensor c(Type(k, {m, lout}));
    for (size_t e = 0; e < a.size(); ++e)
      c.setDouble(int64_t(e), a[e]);
    return b.constant(std::move(c));
  };
  EMBER_ASSIGN(Value re, part(0));
  Value im;
  if (cplx) {
    EMBER_ASSIGN(im, part(1));
  }
  auto combine = [&](const std::vector<double> &fromRe,
                     const std::vector<double> &fromIm) -> Expected<Value> {
    EMBER_ASSIGN(Value y, b.op(OpKind::MatMul, {re, mat(fromRe)}));
    if (cplx) {
      EMBER_ASSIGN(Value yi, b.op(OpKind::MatMul, {im, mat(fromIm)}));
      EMBER_ASSIGN(y, b.op(OpKind::Add, {y, yi}));
    }
    Dims od = flat;
    od.back() = lout;
    od.push_back(1);
    return b.op(OpKind::Reshape, {y, b.ints(od)});
  };
  EMBER_ASSIGN(Value outRe, combine(arr, air));
  if (irfft)
    return outRe;
  EMBER_ASSIGN(Value outIm, combine(ari, aii));
  return b.op(OpKind::Concat, {outRe, outIm},
              {{"axis", Attr::ofInt(int64_t(r - 1))}});
}

} // namespace

// DFT: move the signal axis next to the complex dim, then dftByMatMul.
Expected<std::vector<Value>> lower_DFT(LoweringBuilder &b) {
  Node &n = b.node();
  const Type &xt = b.inType(0), &yt = n.types[0];
  int64_t r = int64_t(xt.rank());
  EMBER_ASSIGN(int64_t axis, constInt(b, 2, n.attrInt("axis", -2)));
  if (axis < 0)
    axis += r;
  bool inverse = n.attrInt("inverse", 0) != 0;
  bool onesided = n.attrInt("onesided", 0) != 0;
  int64_t m = xt.dim(size_t(axis));
  EMBER_ASSIGN(int64_t L,
               constInt(b, 1, inverse && onesided ? 2 * (m - 1) : m));
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < r - 1; ++d)
    if (d != axis)
      perm.push_back(d);
  perm.push_back(axis);
  perm.push_back(r - 1);
  bool moved = axis != r - 2;
  Value v = b.in(0);
  if (moved) {
    EMBER_ASSIGN(v,
                 b.op(OpKind::Transpose, {v}, {{"perm", Attr::ofInts(perm)}}));
  }
  EMBER_ASSIGN(Value y, dftByMatMul(b, v, L, yt.dim(size_t(axis)), inverse,
                                    inverse && onesided));
  if (moved) {
    std::vector<int64_t> inv(perm.size());
    for (size_t d = 0; d < perm.size(); ++d)
      inv[size_t(perm[d])] = int64_t(d);
    EMBER_ASSIGN(y,
                 b.op(OpKind::Transpose, {y}, {{"perm", Attr::ofInts(inv)}}));
  }
  return std::vector<Value>{y};
}

// STFT: Gather the frames ([B, frames, L, c]), apply the window, then the
// forward transform of each frame.
Expected<std::vector<Value>> lower_STFT(LoweringBuilder &b) {
  Node &n = b.node();
  const Type &yt = n.types[0];
  int64_t frames = yt.dim(1), bins = yt.dim(2);
  EMBER_ASSIGN(int64_t step, constInt(b, 1, 1));
  int64_t L = b.has(2) ? b.inType(2).dim(0) : b.inType(0).dim(1);
  EMBER_ASSIGN(L, constInt(b, 3, L));
  Tensor idx(Type(ElemKind::I64, {frames, L}));
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t j = 0; j < L; ++j)
      idx.setInt(f * L + j, f * step + j);
  EMBER_ASSIGN(Value fr, b.op(OpKind::Gather, {b.in(0), b.constant(idx)},
                              {{"axis", Attr::ofInt(1)}}));
  if (b.has(2)) {
    EMBER_ASSIGN(Value w, b.op(OpKind::Reshape, {b.in(2), b.ints({L, 1})}));
    EMBER_ASSIGN(fr, b.op(OpKind::Mul, {fr, w}));
  }
  EMBER_ASSIGN(Value y, dftByMatMul(b, fr, L, bins, false, false));
  return std::vector<Value>{y};
}

// AffineGrid: constant homogeneous base grid [points, r+1] times each
// theta transposed ([N, r+1, r]) in one broadcast MatMul.
Expected<std::vector<Value>> lower_AffineGrid(LoweringBuilder &b) {
  Node &n = b.node();
  const Type &yt = n.types[0];
  size_t r = yt.rank() - 2;
  bool align = n.attrInt("align_corners", 0) != 0;
  Dims sd(yt.dims().begin() + 1, yt.dims().end() - 1);
  int64_t pts = numElements(sd);
  Tensor base(Type(yt.elem(), {pts, int64_t(r + 1)}));
  std::vector<int64_t> str = stridesOf(sd);
  for (int64_t p = 0; p < pts; ++p) {
    for (size_t k = 0; k < r; ++k) {
      int64_t i = (p / str[k]) % sd[k], L = sd[k];
      double c = align
                     ? (L == 1 ? -1.0 : -1.0 + 2.0 * double(i) / double(L - 1))
                     : -1.0 + (2.0 * double(i) + 1.0) / double(L);
      base.setDouble(p * int64_t(r + 1) + int64_t(r - 1 - k), c);
    }
    base.setDouble(p * int64_t(r + 1) + int64_t(r), 1.0);
  }
  EMBER_ASSIGN(Value tt, b.op(OpKind::Transpose, {b.in(0)},
                              {{"perm", Attr::ofInts({0, 2, 1})}}));
  EMBER_ASSIGN(Value g, b.op(OpKind::MatMul, {b.constant(base), tt}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Reshape, {g, b.ints(yt.dims())}));
  return std::vector<Value>{y};
}

// MaxUnpool: ScatterElements of X into a flat zero tensor of the inferred
// shape at the recorded indices, reshaped, then zero-padded at the end of
// each dim up to output_shape.
Expected<std::vector<Value>> lower_MaxUnpool(LoweringBuilder &b) {
  Node &n = b.node();
  const Type &xt = b.inType(0), &yt = n.types[0];
  size_t s = xt.rank() - 2;
  std::vector<int64_t> ks = n.attrInts("kernel_shape"),
                       pads = n.attrInts("pads"), st = n.attrInts("strides");
  if (pads.empty())
    pads.assign(2 * s, 0);
  if (st.empty())
    st.assign(s, 1);
  Dims inferred{xt.dim(0), xt.dim(1)};
  for (size_t k = 0; k < s; ++k)
    inferred.push_back((xt.dim(k + 2) - 1) * st[k] - pads[k] - pads[k + s] +
                       ks[k]);
  Value zeros = b.constant(Tensor(Type(xt.elem(), {numElements(inferred)})));
  EMBER_ASSIGN(Value idx, b.op(OpKind::Reshape, {b.in(1), b.ints({-1})}));
  EMBER_ASSIGN(Value upd, b.op(OpKind::Reshape, {b.in(0), b.ints({-1})}));
  EMBER_ASSIGN(Value sc, b.op(OpKind::ScatterElements, {zeros, idx, upd},
                              {{"axis", Attr::ofInt(0)}}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Reshape, {sc, b.ints(inferred)}));
  if (yt.dims() != inferred) {
    std::vector<int64_t> pp(2 * inferred.size(), 0);
    for (size_t k = 0; k < inferred.size(); ++k)
      pp[k + inferred.size()] = yt.dim(k) - inferred[k];
    EMBER_ASSIGN(y, b.op(OpKind::Pad, {y, b.ints(pp)}));
  }
  return std::vector<Value>{y};
}

// ReverseSequence: per (time, batch) source index t < len ? len - 1 - t : t,
// expanded over the remaining dims, then GatherElements along time.
Expected<std::vector<Value>> lower_ReverseSequence(LoweringBuilder &b) {
  Node &n = b.node();
  const Type &xt = b.inType(0);
  int64_t r = int64_t(xt.rank());
  int64_t ba = n.attrInt("batch_axis", 1), ta = n.attrInt("time_axis", 0);
  if (ba < 0)
    ba += r;
  if (ta < 0)
    ta += r;
  int64_t T = xt.dim(size_t(ta)), B = xt.dim(size_t(ba));
  Value lens = b.in(1);
  if (b.inType(1).elem() != ElemKind::I64) {
    EMBER_ASSIGN(lens,
                 b.op(OpKind::Cast, {lens},
                      {{"to", Attr::ofInt(elemKindToOnnx(ElemKind::I64))}}));
  }
  // Shapes with T on the time axis and B on the batch axis, 1 elsewhere.
  Dims tShape(size_t(r), 1), bShape(size_t(r), 1);
  tShape[size_t(ta)] = T;
  bShape[size_t(ba)] = B;
  std::vector<int64_t> steps(static_cast<size_t>(T));
  for (int64_t i = 0; i < T; ++i)
    steps[size_t(i)] = i;
  Value t = b.constant(Tensor::fromInts(ElemKind::I64, steps, tShape));
  EMBER_ASSIGN(Value l, b.op(OpKind::Reshape, {lens, b.ints(bShape)}));
  EMBER_ASSIGN(Value inside, b.op(OpKind::Less, {t, l}));
  EMBER_ASSIGN(Value lm1, b.op(OpKind::Sub, {l, b.scalar(ElemKind::I64, 1)}));
  EMBER_ASSIGN(Value rev, b.op(OpKind::Sub, {lm1, t}));
  EMBER_ASSIGN(Value src, b.op(OpKind::Where, {inside, rev, t}));
  EMBER_ASSIGN(Value full, b.op(OpKind::Expand, {src, b.ints(xt.dims())}));
  EMBER_ASSIGN(Value y, b.op(OpKind::GatherElements, {b.in(0), full},
                             {{"axis", Attr::ofInt(ta)}}));
  return std::vector<Value>{y};
}

} // namespace ember

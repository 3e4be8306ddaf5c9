// Lowerings built from index arithmetic: OneHot (Equal against an iota and
// Where), EyeLike (folded to a constant), CenterCropPad (Slice/Pad),
// MaxUnpool (ScatterElements), ReverseSequence (GatherElements with computed
// indices), Trilu (a constant mask and Where) and AffineGrid (one MatMul
// with a constant base grid).
#include "lower/LowerUtil.h"

#include <algorithm>

namespace ember {

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

Expected<std::vector<Value>> lower_EyeLike(LoweringBuilder &b) {
  return foldToConstants(b, true);
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

// Trilu: Where(j - i >= k (upper) or j - i <= k (lower), x, 0) over the last
// two dims; k (default 0) may be a run-time value.
Expected<std::vector<Value>> lower_Trilu(LoweringBuilder &b) {
  const Type &xt = b.inType(0);
  if (xt.rank() < 2)
    return invalid("Trilu: input must have rank >= 2");
  int64_t rows = xt.dim(xt.rank() - 2), cols = xt.dim(xt.rank() - 1);
  Tensor rel(Type(ElemKind::I64, {rows, cols}));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      rel.data<int64_t>()[i * cols + j] = j - i;
  Value k;
  if (b.has(1)) {
    EMBER_ASSIGN(k, castTo(b, b.in(1), ElemKind::I64));
  } else {
    k = b.scalar(ElemKind::I64, 0);
  }
  bool upper = b.node().attrInt("upper", 1) != 0;
  EMBER_ASSIGN(Value keep,
               b.op(upper ? OpKind::GreaterOrEqual : OpKind::LessOrEqual,
                    {b.constant(rel), k}));
  EMBER_ASSIGN(Value y,
               b.op(OpKind::Where, {keep, b.in(0), b.scalar(xt.elem(), 0)}));
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

} // namespace ember

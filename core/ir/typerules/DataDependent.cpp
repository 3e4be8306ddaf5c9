// Type rules of the ops whose reference kernels are in
// interp/kernels/DataDependent.cpp.
#include "ir/typerules/Parse.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ember {

namespace {

// [min, max] of two coordinates.
void minMax(double a, double b, double &lo, double &hi) {
  lo = std::min(a, b);
  hi = std::max(a, b);
}

// True when box i suppresses box j (IoU strictly above the threshold).
bool suppresses(const double *b1, const double *b2, bool center,
                double iouThreshold) {
  double x1lo, x1hi, y1lo, y1hi, x2lo, x2hi, y2lo, y2hi;
  if (!center) {
    minMax(b1[1], b1[3], x1lo, x1hi);
    minMax(b2[1], b2[3], x2lo, x2hi);
    minMax(b1[0], b1[2], y1lo, y1hi);
    minMax(b2[0], b2[2], y2lo, y2hi);
  } else {
    x1lo = b1[0] - b1[2] / 2, x1hi = b1[0] + b1[2] / 2;
    x2lo = b2[0] - b2[2] / 2, x2hi = b2[0] + b2[2] / 2;
    y1lo = b1[1] - b1[3] / 2, y1hi = b1[1] + b1[3] / 2;
    y2lo = b2[1] - b2[3] / 2, y2hi = b2[1] + b2[3] / 2;
  }
  double ixlo = std::max(x1lo, x2lo), ixhi = std::min(x1hi, x2hi);
  double iylo = std::max(y1lo, y2lo), iyhi = std::min(y1hi, y2hi);
  if (ixhi <= ixlo || iyhi <= iylo)
    return false;
  double inter = (ixhi - ixlo) * (iyhi - iylo);
  double a1 = (x1hi - x1lo) * (y1hi - y1lo), a2 = (x2hi - x2lo) * (y2hi - y2lo);
  double uni = a1 + a2 - inter;
  if (inter <= 0 || a1 <= 0 || a2 <= 0 || uni <= 0)
    return false;
  return inter / uni > iouThreshold;
}

// Total order on doubles for sorting: NaN equals NaN and follows every
// number (as numpy sorts). Returns -1, 0 or 1.
int cmpWithNaN(double a, double b) {
  bool na = std::isnan(a), nb = std::isnan(b);
  if (na || nb)
    return na == nb ? 0 : na ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

// Optional scalar operand i as a double (def when absent or empty).
Expected<double> optScalar(const TypeContext &ctx, size_t i, double def) {
  if (!ctx.has(i))
    return def;
  EMBER_ASSIGN(const Tensor *t, ctx.valueOf(i));
  if (t->size() == 0)
    return def;
  return t->getDouble(0);
}

} // namespace

// NonMaxSuppression: the selected [batch, class, box] triples, flattened.
static Expected<std::vector<int64_t>>
nmsSelectedIndices(const TypeContext &ctx) {
  EMBER_TRY(requireFloat(ctx, 0, "boxes"));
  EMBER_TRY(requireFloat(ctx, 1, "scores"));
  const Tensor &bx = ctx.in(0), &sc = ctx.in(1);
  if (bx.rank() != 3 || bx.dim(2) != 4)
    return ctx.error("boxes must be [batches, boxes, 4], got ",
                     bx.type().toString());
  if (sc.rank() != 3 || sc.dim(0) != bx.dim(0) || sc.dim(2) != bx.dim(1))
    return ctx.error("scores ", sc.type().toString(), " must be [", bx.dim(0),
                     ", classes, ", bx.dim(1), "]");
  EMBER_ASSIGN(double maxOutD, optScalar(ctx, 2, 0));
  EMBER_ASSIGN(double iou, optScalar(ctx, 3, 0));
  bool hasScoreTh = false;
  double scoreTh = 0;
  if (ctx.has(4)) {
    EMBER_ASSIGN(const Tensor *t, ctx.valueOf(4));
    if (t->size() > 0) {
      hasScoreTh = true;
      scoreTh = t->getDouble(0);
    }
  }
  int64_t maxOut = std::max<int64_t>(0, int64_t(maxOutD));
  int64_t cp = ctx.attrInt("center_point_box", 0);
  if (cp != 0 && cp != 1)
    return ctx.error("center_point_box must be 0 or 1, got ", cp);
  EMBER_ASSIGN(const Tensor *bt, ctx.valueOf(0));
  EMBER_ASSIGN(const Tensor *st, ctx.valueOf(1));
  std::vector<double> boxes = bt->toDoubles(), scores = st->toDoubles();
  int64_t B = bx.dim(0), S = bx.dim(1), C = sc.dim(1);
  std::vector<int64_t> sel;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      const double *s = &scores[size_t((b * C + c) * S)];
      std::vector<int64_t> cand;
      for (int64_t i = 0; i < S; ++i)
        if (!hasScoreTh || s[i] > scoreTh)
          cand.push_back(i);
      // Highest score first; ties keep the lower box index first.
      std::stable_sort(cand.begin(), cand.end(), [&](int64_t a, int64_t z) {
        return cmpWithNaN(s[a], s[z]) > 0;
      });
      std::vector<int64_t> kept;
      for (int64_t i : cand) {
        if (int64_t(kept.size()) >= maxOut)
          break;
        const double *bi = &boxes[size_t((b * S + i) * 4)];
        bool ok = true;
        for (int64_t k : kept)
          if (suppresses(bi, &boxes[size_t((b * S + k) * 4)], cp == 1, iou)) {
            ok = false;
            break;
          }
        if (!ok)
          continue;
        kept.push_back(i);
        sel.insert(sel.end(), {b, c, i});
      }
    }
  return sel;
}

Status types_NonMaxSuppression(TypeContext &ctx) {
  EMBER_ASSIGN(std::vector<int64_t> sel, nmsSelectedIndices(ctx));
  ctx.setOutput(0, Type(ElemKind::I64, {int64_t(sel.size() / 3), 3}));
  ctx.keepForKernel(std::move(sel));
  return Status::ok();
}

// NonZero: flat indices of the nonzero elements, in order.
static Expected<std::vector<int64_t>> nonZeroIndices(const TypeContext &ctx) {
  EMBER_ASSIGN(const Tensor *x, ctx.valueOf(0));
  std::vector<int64_t> hits;
  for (int64_t i = 0, n = x->size(); i < n; ++i)
    if (x->getDouble(i) != 0)
      hits.push_back(i);
  return hits;
}

Status types_NonZero(TypeContext &ctx) {
  EMBER_ASSIGN(std::vector<int64_t> hits, nonZeroIndices(ctx));
  ctx.setOutput(0, Type(ElemKind::I64,
                        {int64_t(ctx.in(0).rank()), int64_t(hits.size())}));
  ctx.keepForKernel(std::move(hits));
  return Status::ok();
}

static Expected<UniquePlan> uniquePlan(const TypeContext &ctx) {
  EMBER_ASSIGN(const Tensor *x, ctx.valueOf(0));
  bool hasAxis = ctx.hasAttr("axis");
  bool sorted = ctx.attrInt("sorted", 1) != 0;
  int64_t axis = 0;
  Dims d = x->dims();
  if (hasAxis) {
    EMBER_ASSIGN(axis, normalizeAxis(ctx, ctx.attrInt("axis", 0), x->rank()));
  } else {
    d = Dims{x->size()};
  }
  // View as [outer, n, inner]: slices along `axis` are compared.
  int64_t n = d[size_t(axis)], outer = 1, inner = 1;
  for (size_t k = 0; k < d.size(); ++k)
    if (k < size_t(axis))
      outer *= d[k];
    else if (k > size_t(axis))
      inner *= d[k];
  bool isFloat = isFloatKind(x->elem());
  std::vector<double> fv;
  std::vector<int64_t> iv;
  if (isFloat)
    fv = x->toDoubles();
  else
    iv = x->toInts();
  auto elemAt = [&](int64_t o, int64_t s, int64_t i) {
    return (o * n + s) * inner + i;
  };
  // Lexicographic comparison of slices a and b (-1, 0, 1).
  auto cmp = [&](int64_t a, int64_t b) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        size_t ea = size_t(elemAt(o, a, i)), eb = size_t(elemAt(o, b, i));
        if (isFloat) {
          if (int c = cmpWithNaN(fv[ea], fv[eb]))
            return c;
        } else if (iv[ea] != iv[eb]) {
          return iv[ea] < iv[eb] ? -1 : 1;
        }
      }
    return 0;
  };
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return cmp(a, b) < 0; });
  // Groups of equal slices in sorted order; first = smallest index.
  std::vector<int64_t> first, counts, inverse(static_cast<size_t>(n));
  for (size_t k = 0; k < order.size(); ++k) {
    if (k == 0 || cmp(order[k - 1], order[k]) != 0) {
      first.push_back(order[k]);
      counts.push_back(0);
    }
    counts.back()++;
    inverse[size_t(order[k])] = int64_t(first.size()) - 1;
  }
  std::vector<int64_t> rank(first.size());
  std::iota(rank.begin(), rank.end(), 0);
  if (!sorted) {
    std::vector<int64_t> perm(first.size());
    std::iota(perm.begin(), perm.end(), 0);
    std::sort(perm.begin(), perm.end(), [&](int64_t a, int64_t b) {
      return first[size_t(a)] < first[size_t(b)];
    });
    std::vector<int64_t> f2, c2;
    for (size_t k = 0; k < perm.size(); ++k) {
      rank[size_t(perm[k])] = int64_t(k);
      f2.push_back(first[size_t(perm[k])]);
      c2.push_back(counts[size_t(perm[k])]);
    }
    first = f2;
    counts = c2;
    for (int64_t &v : inverse)
      v = rank[size_t(v)];
  }
  int64_t u = int64_t(first.size());
  Dims yd = d;
  yd[size_t(axis)] = u;
  if (ctx.numOutputs() < 1 || ctx.numOutputs() > 4)
    return ctx.error("expects 1 to 4 results, got ", ctx.numOutputs());
  UniquePlan p;
  p.axis = axis;
  p.outer = outer;
  p.n = n;
  p.inner = inner;
  p.first = std::move(first);
  p.counts = std::move(counts);
  p.inverse = std::move(inverse);
  p.out = std::move(yd);
  return p;
}

Status types_Unique(TypeContext &ctx) {
  EMBER_ASSIGN(UniquePlan p, uniquePlan(ctx));
  ctx.setOutput(0, Type(ctx.in(0).elem(), p.out));
  int64_t u = int64_t(p.first.size());
  if (ctx.numOutputs() > 1)
    ctx.setOutput(1, Type(ElemKind::I64, {u}));
  if (ctx.numOutputs() > 2)
    ctx.setOutput(2, Type(ElemKind::I64, {p.n}));
  if (ctx.numOutputs() > 3)
    ctx.setOutput(3, Type(ElemKind::I64, {u}));
  ctx.keepForKernel(std::move(p));
  return Status::ok();
}

static Expected<CompressPlan> compressPlan(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(const Tensor *cond, ctx.valueOf(1));
  if (cond->rank() != 1)
    return ctx.error("condition must be 1-D, got ", cond->type().toString());
  bool hasAxis = ctx.hasAttr("axis");
  int64_t axis = 0;
  Dims d = x.dims();
  if (hasAxis) {
    EMBER_ASSIGN(axis, normalizeAxis(ctx, ctx.attrInt("axis", 0), x.rank()));
  } else {
    d = Dims{x.size()};
  }
  int64_t n = d[size_t(axis)];
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < cond->size(); ++i)
    if (cond->getDouble(i) != 0) {
      if (i >= n)
        return ctx.error("condition selects index ", i,
                         " beyond the axis size ", n);
      keep.push_back(i);
    }
  CompressPlan p;
  p.axis = axis;
  p.view = std::move(d);
  p.keep = std::move(keep);
  return p;
}

Status types_Compress(TypeContext &ctx) {
  EMBER_ASSIGN(CompressPlan p, compressPlan(ctx));
  Dims yd = p.view;
  yd[size_t(p.axis)] = int64_t(p.keep.size());
  ctx.setOutput(0, Type(ctx.in(0).elem(), yd));
  ctx.keepForKernel(std::move(p));
  return Status::ok();
}

} // namespace ember

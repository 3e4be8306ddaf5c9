// Einsum's lowering: per operand, diagonal masks for repeated labels and
// ReduceSum of labels no one else needs; then operand pairs contracted by
// Transpose/Reshape and a batched MatMul.
#include "lower/LowerUtil.h"

#include "ir/EinsumEquation.h"

#include <algorithm>
#include <set>

namespace ember {

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

} // namespace ember

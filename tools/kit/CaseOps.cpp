// The per-op case builders: for each primitive op, a node with valid
// operands and attributes drawn by a Draw (shapes of a given rank in a
// style, attribute values the op allows), its canonical case being the
// kit's fixed sample. Index-like operands (axes, shapes, indices) are
// constants, as they are after import and lowering. Integer sums are kept
// short enough not to overflow their element type. GridSample, RoiAlign,
// the recurrent ops, DeformConv and LinearAttention draw data, not shapes.
#include "Cases.h"
#include "KitInternal.h"

#include "ember/quant/Arith.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ember::kit {
namespace {

// Not a switch over OpKind: a new op must not need an entry here.
Domain unaryDomain(OpKind k) {
  if (k == OpKind::Log || k == OpKind::Sqrt)
    return Domain::Positive;
  if (k == OpKind::Acosh)
    return Domain::AboveOne;
  if (k == OpKind::Asin || k == OpKind::Acos || k == OpKind::Atanh)
    return Domain::Unit;
  if (k == OpKind::Reciprocal)
    return Domain::NonZero;
  return Domain::Default;
}

// An axis of a rank-r tensor, sometimes written negative.
int64_t drawAxis(Draw &d, int64_t canon, unsigned r) {
  if (d.canonical() || r == 0)
    return canon;
  int64_t a = d.range(canon, 0, int64_t(r) - 1);
  return d.coin(false) ? a - int64_t(r) : a;
}

int64_t positive(int64_t axis, size_t r) {
  return axis < 0 ? axis + int64_t(r) : axis;
}

// Halves the largest of `dims[axes]` until their product is at most `limit`.
void limitProduct(Dims &dims, const std::vector<size_t> &axes, int64_t limit) {
  auto product = [&] {
    int64_t p = 1;
    for (size_t a : axes)
      p *= dims[a];
    return p;
  };
  while (!axes.empty() && product() > std::max<int64_t>(limit, 1)) {
    size_t at = axes[0];
    for (size_t a : axes)
      if (dims[a] > dims[at])
        at = a;
    dims[at] = std::max<int64_t>(1, dims[at] / 2);
  }
}

// A random permutation of [0, n).
std::vector<int64_t> permutation(Draw &d, size_t n) {
  std::vector<int64_t> p(n);
  std::iota(p.begin(), p.end(), 0);
  std::shuffle(p.begin(), p.end(), d.rng());
  return p;
}

Status unary(Builder &b, OpKind k, Draw &d) {
  Value x = b.in(d.shape({2, 3, 4}), unaryDomain(k));
  if ((k == OpKind::IsNaN || k == OpKind::IsInf) && b.isFloat()) {
    b.setLastInput(1, std::nan(""));
    b.setLastInput(5, INFINITY);
    b.setLastInput(9, -INFINITY);
  }
  return b.node(k, {x});
}

Status cast(Builder &b, OpKind k, Draw &d) {
  // Into f32 from the element type; from f32 into i32 for f32 itself.
  // Other targets where every source value has an exact meaning (no
  // unsigned or bool targets of negative or fractional values).
  Value x = b.in(d.shape({2, 3, 4}));
  ElemKind canon = b.d() == ElemKind::F32 ? ElemKind::I32 : ElemKind::F32;
  ElemKind to = d.pick(canon, {ElemKind::F32, ElemKind::F64, ElemKind::I32,
                               ElemKind::I64, ElemKind::F16});
  return b.node(k, {x}, {{"to", Attr::ofInt(elemKindToOnnx(to))}});
}

Status binary(Builder &b, OpKind k, Draw &d) {
  Domain da = Domain::Default, db = Domain::Default;
  AttrMap attrs;
  if (k == OpKind::Div || k == OpKind::Mod) {
    db = Domain::NonZero;
    if (k == OpKind::Mod && (b.isFloat() || d.coin(false)))
      attrs["fmod"] = Attr::ofInt(1);
  } else if (k == OpKind::Pow) {
    da = b.isFloat() ? Domain::NearOne : Domain::Shift;
    db = b.isFloat() ? Domain::Default : Domain::Shift;
  } else if (k == OpKind::BitShift) {
    db = Domain::Shift;
    attrs["direction"] =
        Attr::ofString(d.pick<std::string>("LEFT", {"LEFT", "RIGHT"}));
  }
  // Canonical: [2,3,4] with [3,1], broadcasting on both sides of the
  // second operand.
  Dims xs = d.shape({2, 3, 4});
  Value a = b.in(xs, da);
  Value c = b.in(d.partner(xs, {3, 1}), db);
  return b.node(k, {a, c}, attrs);
}

Status variadic(Builder &b, OpKind k, Draw &d) {
  Dims xs = d.shape({2, 3, 4});
  std::vector<Value> ins = {b.in(xs)};
  int64_t n = d.range(3, 1, 3);
  static const Dims canon[] = {{3, 1}, {4}};
  for (int64_t i = 1; i < n; ++i)
    ins.push_back(b.in(d.partner(xs, canon[i - 1])));
  return b.node(k, ins);
}

Status where(Builder &b, OpKind k, Draw &d) {
  Dims xs = d.shape({2, 3, 4});
  Value c = b.in(Type(ElemKind::Bool, d.partner(xs, {2, 3, 4})));
  Value x = b.in(xs), y = b.in(d.partner(xs, {4}));
  return b.node(k, {c, x, y});
}

Status reduce(Builder &b, OpKind k, Draw &d) {
  bool prod = k == OpKind::ReduceProd;
  Domain dom = prod ? Domain::NearOne : Domain::Small;
  Dims xs = d.shape({2, 3, 4});
  unsigned r = unsigned(xs.size());
  std::vector<int64_t> axes = {1};
  if (!d.canonical()) {
    axes.clear();
    for (unsigned a = 0; a < r; ++a)
      if (d.coin(false))
        axes.push_back(a);
    if (axes.empty())
      axes.push_back(int64_t(d.rng()() % r));
  }
  std::vector<size_t> reduced;
  for (int64_t a : axes)
    reduced.push_back(size_t(a));
  // Integer sums and products must fit the element type.
  limitProduct(xs, reduced,
               prod && !b.isFloat() ? 6 : b.sumLimit(dom, 1 << 20));
  double terms = 1;
  for (size_t a : reduced)
    terms *= double(xs[a]);
  for (auto &a : axes)
    if (d.coin(false))
      a -= int64_t(r);
  Value x = b.in(xs, dom);
  AttrMap attrs;
  bool maxMin = k == OpKind::ReduceMax || k == OpKind::ReduceMin;
  int64_t keep = d.pick<int64_t>(maxMin ? 0 : 1, {0, 1});
  if (keep != 1)
    attrs["keepdims"] = Attr::ofInt(keep);
  return b.node(k, {x, b.ints(axes)}, attrs, -1, terms);
}

Status argReduce(Builder &b, OpKind k, Draw &d) {
  Dims xs = d.shape({3, 4, 5});
  Value x = b.in(xs);
  AttrMap attrs = {{"axis", Attr::ofInt(drawAxis(d, 1, unsigned(xs.size())))},
                   {"keepdims", Attr::ofInt(d.pick<int64_t>(0, {0, 1}))}};
  if (d.coin(false))
    attrs["select_last_index"] = Attr::ofInt(1);
  return b.node(k, {x}, attrs);
}

Status cumulative(Builder &b, OpKind k, Draw &d) {
  bool prod = k == OpKind::CumProd;
  Domain dom = prod ? Domain::NearOne : Domain::Small;
  Dims xs = d.shape({3, 4});
  int64_t axis = drawAxis(d, 1, unsigned(xs.size()));
  size_t pa = size_t(positive(axis, xs.size()));
  limitProduct(xs, {pa}, prod && !b.isFloat() ? 6 : b.sumLimit(dom, 1 << 20));
  Value x = b.in(xs, dom);
  AttrMap attrs;
  if (d.coin(false))
    attrs["exclusive"] = Attr::ofInt(1);
  if (d.coin(false))
    attrs["reverse"] = Attr::ofInt(1);
  return b.node(k, {x, b.ints({axis}, {})}, attrs, -1, double(xs[pa]));
}

// PacketSum: lines of any length (shorter than a packet too), each lane
// count, heads from the lines' alignment or none.
Status packetSum(Builder &b, OpKind k, Draw &d) {
  if (b.d() != ElemKind::F32)
    return unsupported("PacketSum takes f32");
  Dims xs = d.shape({2, 3, 7});
  const int64_t r = int64_t(xs.size());
  const int64_t axis = r == 0 ? 0 : d.range(1, 0, r);
  const int64_t lanes = d.pick<int64_t>(4, {1, 2, 4, 8, 16});
  const int64_t aligned = d.coin(true) ? 1 : 0;
  int64_t terms = 1;
  for (int64_t a = axis; a < r; ++a)
    terms *= xs[size_t(a)];
  return b.node(k, {b.in(xs, Domain::Small)},
                {{"axis", Attr::ofInt(axis)},
                 {"lanes", Attr::ofInt(lanes)},
                 {"aligned", Attr::ofInt(aligned)}},
                -1, double(std::max<int64_t>(terms, 1)));
}

Status topK(Builder &b, OpKind k, Draw &d) {
  Dims xs = d.shape({3, 6});
  int64_t axis = drawAxis(d, -1, unsigned(xs.size()));
  int64_t n = xs[size_t(positive(axis, xs.size()))];
  int64_t kk = d.range(3, 1, n);
  AttrMap attrs = {{"axis", Attr::ofInt(axis)}};
  if (!d.coin(true))
    attrs["largest"] = Attr::ofInt(0);
  return b.node(k, {b.in(xs), b.ints({kk}, {1})}, attrs, 2);
}

Status matMul(Builder &b, OpKind k, Draw &d) {
  if (d.canonical()) {
    Value a = b.in({2, 3, 4}, Domain::Small), c = b.in({4, 5}, Domain::Small);
    return b.node(k, {a, c}, {}, -1, 4);
  }
  unsigned ra = d.rank(3);
  int64_t K = std::min(d.dim(4), b.sumLimit(Domain::Small, 1024));
  int64_t M = d.dim(3), N = d.dim(5);
  while (M * K * N > (1 << 20) && std::max(M, N) > 1)
    (M > N ? M : N) /= 2;
  // Batch dimensions 1 to 3 while the product stays small.
  bool small = M * K * N <= (1 << 17);
  auto batchDims = [&](size_t n) {
    Dims v;
    for (size_t i = 0; i < n; ++i)
      v.push_back(small ? 1 + int64_t(d.rng()() % 3) : 1);
    return v;
  };
  Dims a, c;
  if (ra <= 1) {
    a = {K};
  } else {
    a = batchDims(ra - 2);
    a.push_back(M);
    a.push_back(K);
  }
  // The second operand: a vector, a matrix, or batched like the first
  // (some batch dims 1, or fewer of them).
  unsigned rc = unsigned(d.range(2, 1, std::max(2u, ra)));
  if (rc <= 1) {
    c = {K};
  } else {
    size_t nb = rc - 2;
    size_t na = a.size() >= 2 ? a.size() - 2 : 0;
    for (size_t i = 0; i < nb; ++i) {
      // Aligned at the right with a's batch dims: equal or 1.
      size_t fromRight = nb - i;
      int64_t ad = fromRight <= na ? a[na - fromRight] : 1;
      c.push_back(d.coin(false) ? 1 : ad);
    }
    c.push_back(K);
    c.push_back(N);
  }
  Value x = b.in(a, Domain::Small), y = b.in(c, Domain::Small);
  return b.node(k, {x, y}, {}, -1, double(K));
}

// A window op's spatial geometry (Conv, ConvTranspose, pools).
struct Window {
  Dims in, kernel, strides, dilations, pads; // pads: begins, then ends
};

// Spatial sizes with at least one output along each axis, at most `cap`
// each.
Window drawWindow(Draw &d, unsigned spatial, bool dilate, bool padBelowKernel,
                  int64_t cap) {
  Window w;
  for (unsigned i = 0; i < spatial; ++i) {
    w.kernel.push_back(d.pick<int64_t>(3, {1, 2, 3, 5}));
    w.strides.push_back(d.pick<int64_t>(1, {1, 2, 3}));
    w.dilations.push_back(dilate ? d.pick<int64_t>(1, {1, 1, 2}) : 1);
  }
  for (unsigned i = 0; i < 2 * spatial; ++i) { // begins, then ends
    unsigned a = i % spatial;
    int64_t span = w.dilations[a] * (w.kernel[a] - 1) + 1;
    w.pads.push_back(
        d.range(1, 0, padBelowKernel ? w.kernel[a] - 1 : span - 1));
  }
  for (unsigned i = 0; i < spatial; ++i) {
    int64_t span = w.dilations[i] * (w.kernel[i] - 1) + 1;
    int64_t need = std::max<int64_t>(1, span - w.pads[i] - w.pads[spatial + i]);
    w.in.push_back(std::max(need, d.dim(6, cap)));
  }
  return w;
}

// The largest spatial size of a window op: more for fewer dimensions.
int64_t spatialCap(unsigned spatial) {
  return spatial == 1 ? 257 : spatial == 2 ? 24 : 8;
}

Status conv(Builder &b, OpKind k, Draw &d) {
  if (d.canonical()) {
    Value x = b.in({1, 2, 6, 6}, Domain::Small);
    Value w = b.weight({3, 2, 3, 3}), bias = b.weight({3});
    return b.node(k, {x, w, bias},
                  {{"kernel_shape", Attr::ofInts({3, 3})},
                   {"pads", Attr::ofInts({1, 1, 1, 1})},
                   {"strides", Attr::ofInts({1, 2})},
                   {"dilations", Attr::ofInts({1, 1})},
                   {"group", Attr::ofInt(1)}},
                  -1, 18);
  }
  unsigned spatial = d.rank(4) - 2;
  Window g = drawWindow(d, spatial, true, false, spatialCap(spatial));
  int64_t group = d.pick<int64_t>(1, {1, 1, 2, 3});
  int64_t cin = d.range(2, 1, 4), mper = d.range(3, 1, 4);
  if (d.coin(false)) { // depthwise: one input channel per group
    cin = 1;
    group = d.range(2, 1, 8);
  }
  int64_t terms = cin;
  for (int64_t kk : g.kernel)
    terms *= kk;
  Dims xs = {d.range(1, 1, 2), cin * group};
  xs.insert(xs.end(), g.in.begin(), g.in.end());
  Dims ws = {mper * group, cin};
  ws.insert(ws.end(), g.kernel.begin(), g.kernel.end());
  Value x = b.in(xs, Domain::Small);
  Value w = b.weight(ws);
  std::vector<Value> ins = {x, w};
  if (d.coin(true))
    ins.push_back(b.weight({mper * group}));
  AttrMap attrs = {{"kernel_shape", Attr::ofInts(g.kernel)},
                   {"pads", Attr::ofInts(g.pads)},
                   {"strides", Attr::ofInts(g.strides)},
                   {"dilations", Attr::ofInts(g.dilations)},
                   {"group", Attr::ofInt(group)}};
  return b.node(k, ins, attrs, -1, double(terms));
}

Status convTranspose(Builder &b, OpKind k, Draw &d) {
  if (d.canonical()) {
    Value x = b.in({1, 2, 3, 3}, Domain::Small);
    Value w = b.weight({2, 3, 3, 3}), bias = b.weight({3});
    return b.node(k, {x, w, bias},
                  {{"kernel_shape", Attr::ofInts({3, 3})},
                   {"strides", Attr::ofInts({2, 2})},
                   {"pads", Attr::ofInts({1, 1, 1, 1})}},
                  -1, 18);
  }
  unsigned spatial = d.rank(4) - 2;
  Dims in, kernel, strides, pads, outPad;
  for (unsigned i = 0; i < spatial; ++i) {
    int64_t kk = d.pick<int64_t>(3, {1, 2, 3, 4});
    int64_t s = d.pick<int64_t>(2, {1, 2, 3});
    kernel.push_back(kk);
    strides.push_back(s);
    in.push_back(d.dim(3, spatial == 1 ? 65 : 9));
    outPad.push_back(d.range(0, 0, s - 1));
  }
  for (unsigned i = 0; i < 2 * spatial; ++i)
    pads.push_back(d.range(1, 0, kernel[i % spatial] - 1));
  for (unsigned i = 0; i < spatial; ++i) { // at least one output
    int64_t out = strides[i] * (in[i] - 1) + outPad[i] + kernel[i] - pads[i] -
                  pads[spatial + i];
    if (out < 1)
      pads[i] = pads[spatial + i] = 0;
  }
  int64_t group = d.pick<int64_t>(1, {1, 1, 2});
  int64_t cin = d.range(2, 1, 3), mper = d.range(3, 1, 3);
  int64_t terms = cin;
  for (int64_t kk : kernel)
    terms *= kk;
  Dims xs = {d.range(1, 1, 2), cin * group};
  xs.insert(xs.end(), in.begin(), in.end());
  Dims ws = {cin * group, mper};
  ws.insert(ws.end(), kernel.begin(), kernel.end());
  std::vector<Value> ins = {b.in(xs, Domain::Small), b.weight(ws)};
  if (d.coin(true))
    ins.push_back(b.weight({mper * group}));
  AttrMap attrs = {{"kernel_shape", Attr::ofInts(kernel)},
                   {"strides", Attr::ofInts(strides)},
                   {"pads", Attr::ofInts(pads)},
                   {"group", Attr::ofInt(group)}};
  bool anyOutPad = false;
  for (int64_t v : outPad)
    anyOutPad = anyOutPad || v;
  if (anyOutPad)
    attrs["output_padding"] = Attr::ofInts(outPad);
  return b.node(k, ins, attrs, -1, double(terms));
}

Status pool(Builder &b, OpKind k, Draw &d) {
  bool avg = k == OpKind::AveragePool;
  if (d.canonical()) {
    Value x = b.in({1, 2, 6, 6}, Domain::Small);
    AttrMap attrs = {{"kernel_shape", Attr::ofInts({3, 3})},
                     {"strides", Attr::ofInts({2, 2})},
                     {"pads", Attr::ofInts({1, 1, 1, 1})}};
    return b.node(k, {x}, attrs, 1, avg ? 9 : 1);
  }
  unsigned spatial = d.rank(4) - 2;
  bool ceil = d.coin(false);
  bool dilate = !avg && !ceil;
  Window g = drawWindow(d, spatial, dilate, true, spatialCap(spatial));
  for (unsigned i = 0; i < spatial; ++i) // a window fits inside
    g.in[i] = std::max(g.in[i], g.dilations[i] * (g.kernel[i] - 1) + 1);
  Dims xs = {d.range(1, 1, 2), d.range(2, 1, 4)};
  xs.insert(xs.end(), g.in.begin(), g.in.end());
  AttrMap attrs = {{"kernel_shape", Attr::ofInts(g.kernel)},
                   {"strides", Attr::ofInts(g.strides)},
                   {"pads", Attr::ofInts(g.pads)}};
  if (ceil)
    attrs["ceil_mode"] = Attr::ofInt(1);
  if (dilate)
    attrs["dilations"] = Attr::ofInts(g.dilations);
  if (avg && d.coin(false))
    attrs["count_include_pad"] = Attr::ofInt(1);
  double terms = 1;
  for (int64_t kk : g.kernel)
    terms *= double(kk);
  return b.node(k, {b.in(xs, Domain::Small)}, attrs, 1, avg ? terms : 1);
}

Status reshape(Builder &b, OpKind k, Draw &d) {
  Dims xs = d.shape({2, 3, 4});
  std::vector<int64_t> target = {4, -1};
  if (!d.canonical()) {
    // The element count's factors dealt over 1 to 5 dimensions.
    int64_t n = numElements(xs);
    std::vector<int64_t> factors;
    for (int64_t p = 2; p * p <= n; ++p)
      while (n % p == 0) {
        factors.push_back(p);
        n /= p;
      }
    if (n > 1)
      factors.push_back(n);
    size_t t = size_t(d.range(2, 1, 5));
    target.assign(t, 1);
    for (int64_t f : factors)
      target[d.rng()() % t] *= f;
    if (d.coin(false))
      target[d.rng()() % t] = -1;
  }
  return b.node(k, {b.in(xs), b.ints(target)});
}

Status transpose(Builder &b, OpKind k, Draw &d) {
  Dims xs = d.shape({2, 3, 4});
  std::vector<int64_t> perm = {2, 0, 1};
  if (!d.canonical())
    perm = permutation(d, xs.size());
  return b.node(k, {b.in(xs)}, {{"perm", Attr::ofInts(perm)}});
}

Status slice(Builder &b, OpKind k, Draw &d) {
  if (d.canonical())
    return b.node(k, {b.in({4, 6}), b.ints({1, 0}), b.ints({3, 6}),
                      b.ints({0, 1}), b.ints({1, 2})});
  Dims xs = d.shape({4, 6});
  std::vector<int64_t> starts, ends, axes, steps;
  for (size_t a = 0; a < xs.size(); ++a) {
    if (!d.coin(false) && !(a + 1 == xs.size() && axes.empty()))
      continue;
    int64_t n = xs[a];
    int64_t step = d.pick<int64_t>(1, {1, 1, 2, 3, -1, -2});
    int64_t s, e;
    if (step > 0) {
      s = d.range(0, 0, n - 1);
      e = d.range(n, s + 1, n + 2); // past the end clamps
    } else {
      s = d.range(n - 1, 0, n - 1);
      e = d.range(-1, -1, s - 1);
      if (e == -1)
        e = -n - 1; // through index 0
    }
    if (d.coin(false) && s < n)
      s -= n; // the same start, counted from the end
    starts.push_back(s);
    ends.push_back(e);
    axes.push_back(d.coin(false) ? int64_t(a) - int64_t(xs.size())
                                 : int64_t(a));
    steps.push_back(step);
  }
  return b.node(
      k, {b.in(xs), b.ints(starts), b.ints(ends), b.ints(axes), b.ints(steps)});
}

Status concat(Builder &b, OpKind k, Draw &d) {
  if (d.canonical())
    return b.node(k, {b.in({2, 3}), b.in({2, 2})}, {{"axis", Attr::ofInt(1)}});
  Dims xs = d.shape({2, 3});
  int64_t axis = drawAxis(d, 1, unsigned(xs.size()));
  size_t pa = size_t(positive(axis, xs.size()));
  std::vector<Value> ins;
  int64_t n = d.range(2, 2, 3);
  for (int64_t i = 0; i < n; ++i) {
    Dims s = xs;
    s[pa] = d.dim(2, 64);
    ins.push_back(b.in(s));
  }
  return b.node(k, ins, {{"axis", Attr::ofInt(axis)}});
}

Status split(Builder &b, OpKind k, Draw &d) {
  if (d.canonical())
    return b.node(k, {b.in({4, 6}), b.ints({2, 4})}, {{"axis", Attr::ofInt(1)}},
                  2);
  Dims xs = d.shape({4, 6});
  int64_t axis = drawAxis(d, 1, unsigned(xs.size()));
  size_t pa = size_t(positive(axis, xs.size()));
  int64_t parts = d.range(2, 2, 3);
  xs[pa] = std::max(xs[pa], parts);
  std::vector<int64_t> sizes(size_t(parts), 1);
  for (int64_t left = xs[pa] - parts; left > 0; --left)
    ++sizes[d.rng()() % sizes.size()];
  return b.node(k, {b.in(xs), b.ints(sizes)}, {{"axis", Attr::ofInt(axis)}},
                int(parts));
}

ElemKind indexKind(Draw &d) {
  return d.pick(ElemKind::I64, {ElemKind::I64, ElemKind::I32});
}

Status gather(Builder &b, OpKind k, Draw &d) {
  if (d.canonical())
    return b.node(k, {b.in({5, 4}), b.ints({0, 4, -1, 2, 1, 3}, {2, 3})},
                  {{"axis", Attr::ofInt(0)}});
  Dims xs = d.shape({5, 4});
  int64_t axis = drawAxis(d, 0, unsigned(xs.size()));
  int64_t n = xs[size_t(positive(axis, xs.size()))];
  Dims is = d.dims(unsigned(d.range(2, 0, 2)), 64);
  std::vector<int64_t> idx(size_t(numElements(is)));
  for (auto &v : idx)
    v = d.range(0, -n, n - 1);
  return b.node(k, {b.in(xs), b.ints(idx, is, indexKind(d))},
                {{"axis", Attr::ofInt(axis)}});
}

Status gatherElements(Builder &b, OpKind k, Draw &d) {
  if (d.canonical())
    return b.node(k, {b.in({3, 4}), b.ints({0, 3, 1, 1, 2, 0}, {3, 2})},
                  {{"axis", Attr::ofInt(1)}});
  Dims xs = d.shape({3, 4});
  int64_t axis = drawAxis(d, 1, unsigned(xs.size()));
  size_t pa = size_t(positive(axis, xs.size()));
  Dims is = xs;
  for (size_t i = 0; i < is.size(); ++i)
    is[i] = i == pa ? d.range(2, 1, xs[i] + 2) : d.range(xs[i], 1, xs[i]);
  std::vector<int64_t> idx(size_t(numElements(is)));
  for (auto &v : idx)
    v = d.range(0, -xs[pa], xs[pa] - 1);
  return b.node(k, {b.in(xs), b.ints(idx, is, indexKind(d))},
                {{"axis", Attr::ofInt(axis)}});
}

Status gatherNd(Builder &b, OpKind k, Draw &d) {
  if (d.canonical())
    return b.node(k, {b.in({3, 4, 2}), b.ints({0, 1, 2, 3}, {2, 2})});
  Dims xs = d.shape({3, 4, 2});
  int64_t m = d.range(2, 1, int64_t(xs.size()));
  Dims is = d.dims(unsigned(d.range(1, 0, 2)), 16);
  is.push_back(m);
  std::vector<int64_t> idx(size_t(numElements(is)));
  for (size_t i = 0; i < idx.size(); ++i)
    idx[i] = d.range(0, 0, xs[i % size_t(m)] - 1);
  return b.node(k, {b.in(xs), b.ints(idx, is, indexKind(d))});
}

Status scatterElements(Builder &b, OpKind k, Draw &d) {
  if (d.canonical()) {
    // Distinct rows per column: the result does not depend on the order.
    Value data = b.in({3, 4});
    Value idx = b.ints({0, 1, 2, 0, 2, 0, 1, 1}, {2, 4});
    return b.node(k, {data, idx, b.in({2, 4})}, {{"axis", Attr::ofInt(0)}});
  }
  Dims xs = d.shape({3, 4}, 1024);
  int64_t axis = drawAxis(d, 0, unsigned(xs.size()));
  size_t pa = size_t(positive(axis, xs.size()));
  Dims is = xs;
  for (size_t i = 0; i < is.size(); ++i)
    is[i] = d.range(xs[i], 1, xs[i]);
  // Along the axis, each line of indices is distinct (a prefix of a
  // permutation), so no element is written twice.
  std::vector<int64_t> idx(size_t(numElements(is)));
  auto strides = stridesOf(is);
  int64_t lines = numElements(is) / is[pa];
  for (int64_t line = 0; line < lines; ++line) {
    std::vector<int64_t> perm = permutation(d, size_t(xs[pa]));
    // The line's first element: `line` over the other axes.
    int64_t rest = line, base = 0;
    for (size_t i = is.size(); i-- > 0;) {
      if (i == pa)
        continue;
      base += (rest % is[i]) * strides[i];
      rest /= is[i];
    }
    for (int64_t j = 0; j < is[pa]; ++j)
      idx[size_t(base + j * strides[pa])] = perm[size_t(j)];
  }
  return b.node(k, {b.in(xs), b.ints(idx, is, indexKind(d)), b.in(is)},
                {{"axis", Attr::ofInt(axis)}});
}

Status scatterNd(Builder &b, OpKind k, Draw &d) {
  if (d.canonical())
    return b.node(k, {b.in({4, 3}), b.ints({1, 3}, {2, 1}), b.in({2, 3})});
  Dims xs = d.shape({4, 3}, 1024);
  int64_t m = d.range(1, 1, int64_t(xs.size()));
  int64_t tuples = numElements(Dims(xs.begin(), xs.begin() + m));
  int64_t count = d.range(2, 1, std::min<int64_t>(tuples, 8));
  // Distinct index tuples: the result does not depend on the order.
  std::vector<int64_t> flat = permutation(d, size_t(tuples));
  std::vector<int64_t> idx;
  for (int64_t t = 0; t < count; ++t) {
    int64_t v = flat[size_t(t)];
    std::vector<int64_t> tuple(static_cast<size_t>(m));
    for (int64_t j = m; j-- > 0;) {
      tuple[size_t(j)] = v % xs[size_t(j)];
      v /= xs[size_t(j)];
    }
    idx.insert(idx.end(), tuple.begin(), tuple.end());
  }
  Dims us = {count};
  us.insert(us.end(), xs.begin() + m, xs.end());
  return b.node(k, {b.in(xs), b.ints(idx, {count, m}, indexKind(d)), b.in(us)});
}

Status pad(Builder &b, OpKind k, Draw &d) {
  if (d.canonical())
    return b.node(k, {b.in({2, 3}), b.ints({1, 0, 0, 2})});
  Dims xs = d.shape({2, 3});
  std::string mode =
      d.pick<std::string>("constant", {"constant", "reflect", "edge"});
  int64_t smallest = xs.empty() ? 1 : *std::min_element(xs.begin(), xs.end());
  if (mode == "reflect" && smallest < 2)
    mode = "edge";
  int64_t most = mode == "reflect" ? std::min<int64_t>(2, smallest - 1) : 2;
  std::vector<int64_t> pads(2 * xs.size());
  for (auto &p : pads)
    p = d.range(1, 0, most);
  std::vector<Value> ins = {b.in(xs), b.ints(pads)};
  if (mode == "constant" && d.coin(false))
    ins.push_back(b.scalar(b.d(), b.d() == ElemKind::Bool ? 1 : 3));
  return b.node(k, ins, {{"mode", Attr::ofString(mode)}});
}

Status expand(Builder &b, OpKind k, Draw &d) {
  if (d.canonical())
    return b.node(k, {b.in({3, 1}), b.ints({2, 3, 4})});
  Dims xs = d.shape({3, 1}, 256);
  // The target: x's dimensions (or 1 where they are not), ones of x
  // widened, and leading dimensions of its own.
  std::vector<int64_t> target;
  int64_t lead = d.range(1, 0, 2);
  for (int64_t i = 0; i < lead; ++i)
    target.push_back(d.range(2, 1, 3));
  for (int64_t v : xs)
    target.push_back(v == 1 ? d.range(2, 1, 5) : (d.coin(false) ? 1 : v));
  return b.node(k, {b.in(xs), b.ints(target)});
}

Status tile(Builder &b, OpKind k, Draw &d) {
  if (d.canonical())
    return b.node(k, {b.in({2, 3}), b.ints({2, 1})});
  Dims xs = d.shape({2, 3}, 1024);
  std::vector<int64_t> reps;
  for (size_t i = 0; i < xs.size(); ++i)
    reps.push_back(d.range(1, 1, 3));
  return b.node(k, {b.in(xs), b.ints(reps)});
}

Status shapeOf(Builder &b, OpKind k, Draw &d) {
  Dims xs = d.shape({2, 3, 4});
  AttrMap attrs;
  if (k == OpKind::Shape && !d.canonical() && !xs.empty() && d.coin(false)) {
    attrs["start"] =
        Attr::ofInt(d.range(0, -int64_t(xs.size()), int64_t(xs.size()) - 1));
    if (d.coin(false))
      attrs["end"] =
          Attr::ofInt(d.range(0, -int64_t(xs.size()), int64_t(xs.size())));
  }
  return b.node(k, {b.in(xs)}, attrs);
}

Status constantOfShape(Builder &b, OpKind k, Draw &d) {
  Tensor v(Type(b.d(), {1}));
  v.setDouble(0, b.d() == ElemKind::Bool ? 1 : 3);
  std::vector<int64_t> shape = {2, 3};
  if (!d.canonical()) {
    Dims s = d.dims(d.rank(2), 4096);
    shape.assign(s.begin(), s.end());
  }
  Dims sd = {int64_t(shape.size())};
  return b.node(k, {b.ints(shape, sd)}, {{"value", Attr::ofTensor(v)}});
}

Status range(Builder &b, OpKind k, Draw &d) {
  double start = 1, limit = 9, delta = 2;
  if (!d.canonical()) {
    start = double(d.range(1, -5, 5));
    delta = double(d.pick<int64_t>(2, {1, 2, 3, -1, -2}));
    // 8-bit types: every value within range.
    int64_t count = d.dim(4, elemSize(b.d()) == 1 ? 30 : 200);
    limit = start + delta * double(count);
    if (b.isFloat() && d.coin(false)) {
      delta /= 4; // fractional steps
      limit = start + delta * double(count) - delta / 2;
    }
    if (!b.isFloat() && !isSignedKind(b.d()) && (start < 0 || delta < 0)) {
      start = std::fabs(start);
      delta = std::fabs(delta);
      limit = start + delta * double(count);
    }
  }
  return b.node(k, {b.scalar(b.d(), start), b.scalar(b.d(), limit),
                    b.scalar(b.d(), delta)});
}

Status resize(Builder &b, OpKind k, Draw &d) {
  if (d.canonical()) {
    Value x = b.in({1, 1, 2, 3});
    Tensor scales = Tensor::fromInts(ElemKind::F32, {1, 1, 2, 2});
    AttrMap attrs = {
        {"mode", Attr::ofString(b.isFloat() ? "linear" : "nearest")}};
    return b.node(k, {x, Value(), b.cst(scales)}, attrs);
  }
  unsigned r = d.rank(4);
  Dims xs = {d.range(1, 1, 2), d.range(1, 1, 3)};
  for (unsigned i = 2; i < r; ++i)
    xs.push_back(d.dim(3, r == 3 ? 65 : 9));
  std::string mode =
      b.isFloat()
          ? d.pick<std::string>("linear", {"linear", "nearest", "cubic"})
          : "nearest";
  if (mode == "cubic" && r != 4)
    mode = "linear";
  Tensor scales(Type(ElemKind::F32, {int64_t(r)}));
  for (unsigned i = 0; i < r; ++i)
    scales.setDouble(i,
                     i < 2 ? 1.0 : d.pick<double>(2.0, {2.0, 0.5, 1.5, 3.0}));
  for (unsigned i = 2; i < r; ++i) // at least one output
    if (double(xs[i]) * scales.getDouble(i) < 1)
      scales.setDouble(i, 1.5);
  AttrMap attrs = {{"mode", Attr::ofString(mode)}};
  attrs["coordinate_transformation_mode"] = Attr::ofString(d.pick<std::string>(
      "half_pixel",
      {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"}));
  if (mode == "nearest")
    attrs["nearest_mode"] = Attr::ofString(d.pick<std::string>(
        "round_prefer_floor", {"round_prefer_floor", "floor", "ceil"}));
  return b.node(k, {b.in(xs), Value(), b.cst(std::move(scales))}, attrs);
}

// Zero points used with each quantized type.
double zeroPointOf(ElemKind k) {
  switch (k) {
  case ElemKind::U8:
    return 128;
  case ElemKind::U16:
    return 1000;
  case ElemKind::I8:
    return 3;
  case ElemKind::I16:
    return -5;
  default:
    return 0;
  }
}

bool isQuantType(ElemKind k) {
  return k == ElemKind::U8 || k == ElemKind::I8 || k == ElemKind::U16 ||
         k == ElemKind::I16;
}

// Scale and zero point operands: per tensor, or (sometimes) per channel
// along a drawn axis (the attribute is set in `attrs`).
std::pair<Value, Value> quantParams(Builder &b, Draw &d, const Dims &xs,
                                    ElemKind scaleKind, ElemKind zpKind,
                                    double scale, AttrMap &attrs) {
  if (d.canonical() || xs.empty() || !d.coin(false))
    return {b.scalar(scaleKind, scale), b.scalar(zpKind, zeroPointOf(zpKind))};
  int64_t axis = drawAxis(d, 1, unsigned(xs.size()));
  int64_t n = xs[size_t(positive(axis, xs.size()))];
  attrs["axis"] = Attr::ofInt(axis);
  Tensor s(Type(scaleKind, {n})), z(Type(zpKind, {n}));
  for (int64_t i = 0; i < n; ++i) {
    s.setDouble(i, scale * (1 + 0.25 * double(i % 4)));
    z.setDouble(i, zeroPointOf(zpKind) + double(i % 3));
  }
  return {b.cst(std::move(s)), b.cst(std::move(z))};
}

Status quantizeLinear(Builder &b, OpKind k, Draw &d) {
  ElemKind dk = b.d();
  Dims xs = d.shape({2, 3, 4});
  AttrMap attrs;
  if (isQuantType(dk)) {
    Value x = b.in(Type(ElemKind::F32, xs));
    auto [s, z] = quantParams(b, d, xs, ElemKind::F32, dk, 0.05, attrs);
    return b.node(k, {x, s, z}, attrs);
  }
  if (isFloatKind(dk) && !isMiniKind(dk) && dk != ElemKind::F64) {
    Value x = b.in(xs);
    auto [s, z] = quantParams(b, d, xs, dk, ElemKind::U8, 0.05, attrs);
    return b.node(k, {x, s, z}, attrs);
  }
  return unsupported("QuantizeLinear samples quantize into u8, i8, u16 or "
                     "i16, or from f32, f16 or bf16");
}

Status dequantizeLinear(Builder &b, OpKind k, Draw &d) {
  ElemKind dk = b.d();
  Dims xs = d.shape({2, 3, 4});
  AttrMap attrs;
  if (isQuantType(dk) || dk == ElemKind::I32) {
    Value x = b.in(xs);
    if (dk == ElemKind::I32)
      return b.node(k, {x, b.scalar(ElemKind::F32, 0.05)});
    auto [s, z] = quantParams(b, d, xs, ElemKind::F32, dk, 0.05, attrs);
    return b.node(k, {x, s, z}, attrs);
  }
  if (isFloatKind(dk) && !isMiniKind(dk) && dk != ElemKind::F64) {
    Value x = b.in(Type(ElemKind::I8, xs));
    auto [s, z] = quantParams(b, d, xs, dk, ElemKind::I8, 0.05, attrs);
    return b.node(k, {x, s, z}, attrs);
  }
  return unsupported("DequantizeLinear samples dequantize u8, i8, u16, i16 "
                     "or i32, or into f32, f16 or bf16");
}

// The element types of an integer op's data and weights: the claimed type
// on either side (a plugin may take u8 data with i8 weights, for
// example), the other u8 or i8.
std::pair<ElemKind, ElemKind> int8Pair(Builder &b, Draw &d) {
  ElemKind other = d.pick(b.d(), {ElemKind::U8, ElemKind::I8});
  return d.coin(true) ? std::make_pair(b.d(), other)
                      : std::make_pair(other, b.d());
}

Status qlinearMatMul(Builder &b, OpKind k, Draw &d) {
  if (b.d() != ElemKind::U8 && b.d() != ElemKind::I8)
    return unsupported("QLinearMatMul samples take u8 or i8");
  auto [xk, wk] = int8Pair(b, d);
  int64_t K = d.dim(4, 512), M = d.dim(2, 64), N = d.dim(3, 64);
  Dims xs = {M, K};
  if (!d.canonical() && d.coin(false))
    xs.insert(xs.begin(), d.range(1, 1, 3));
  Value a = b.in(Type(xk, xs));
  Value w = b.weight(Type(wk, {K, N}), Domain::Default);
  return b.node(
      k, {a, b.scalar(ElemKind::F32, 0.02), b.scalar(xk, zeroPointOf(xk)), w,
          b.scalar(ElemKind::F32, 0.03), b.scalar(wk, zeroPointOf(wk)),
          b.scalar(ElemKind::F32, 0.05 * std::sqrt(double(K) / 4)),
          b.scalar(xk, zeroPointOf(xk))});
}

Status qlinearConv(Builder &b, OpKind k, Draw &d) {
  if (b.d() != ElemKind::U8 && b.d() != ElemKind::I8)
    return unsupported("QLinearConv samples take u8 or i8");
  auto [xk, wk] = int8Pair(b, d);
  unsigned spatial = d.rank(4) - 2;
  int64_t cin = d.range(2, 1, 4), m = d.range(3, 1, 4);
  Dims kernel, in, pads;
  for (unsigned i = 0; i < spatial; ++i) {
    kernel.push_back(d.pick<int64_t>(3, {1, 3}));
    in.push_back(std::max<int64_t>(kernel.back(), d.dim(5, 16)));
  }
  for (unsigned i = 0; i < 2 * spatial; ++i)
    pads.push_back(d.range(1, 0, kernel[i % spatial] - 1));
  Dims xs = {1, cin};
  xs.insert(xs.end(), in.begin(), in.end());
  Dims ws = {m, cin};
  ws.insert(ws.end(), kernel.begin(), kernel.end());
  Value x = b.in(Type(xk, xs));
  Value w = b.weight(Type(wk, ws), Domain::Default);
  return b.node(
      k,
      {x, b.scalar(ElemKind::F32, 0.02), b.scalar(xk, zeroPointOf(xk)), w,
       b.scalar(ElemKind::F32, 0.03), b.scalar(wk, zeroPointOf(wk)),
       b.scalar(ElemKind::F32, 0.05), b.scalar(xk, zeroPointOf(xk))},
      {{"kernel_shape", Attr::ofInts(kernel)}, {"pads", Attr::ofInts(pads)}});
}

Status matMulInteger(Builder &b, OpKind k, Draw &d) {
  if (b.d() != ElemKind::U8 && b.d() != ElemKind::I8)
    return unsupported("MatMulInteger samples take u8 or i8");
  auto [xk, wk] = int8Pair(b, d);
  int64_t K = d.dim(4, 512), M = d.dim(2, 64), N = d.dim(3, 64);
  Value a = b.in(Type(xk, {M, K})),
        w = b.weight(Type(wk, {K, N}), Domain::Default);
  return b.node(k, {a, w, b.scalar(xk, 2), b.scalar(wk, 1)});
}

Status convInteger(Builder &b, OpKind k, Draw &d) {
  if (b.d() != ElemKind::U8 && b.d() != ElemKind::I8)
    return unsupported("ConvInteger samples take u8 or i8");
  auto [xk, wk] = int8Pair(b, d);
  unsigned spatial = d.rank(4) - 2;
  Dims kernel, in;
  for (unsigned i = 0; i < spatial; ++i) {
    kernel.push_back(d.pick<int64_t>(3, {1, 2, 3}));
    in.push_back(std::max<int64_t>(kernel.back(), d.dim(5, 16)));
  }
  Dims xs = {1, d.range(2, 1, 4)};
  xs.insert(xs.end(), in.begin(), in.end());
  Dims ws = {d.range(3, 1, 4), xs[1]};
  ws.insert(ws.end(), kernel.begin(), kernel.end());
  Value x = b.in(Type(xk, xs)), w = b.weight(Type(wk, ws), Domain::Default);
  return b.node(k, {x, w, b.scalar(xk, 2)},
                {{"kernel_shape", Attr::ofInts(kernel)}});
}

Status qlinearAdd(Builder &b, OpKind k, Draw &d) {
  if (b.d() != ElemKind::U8 && b.d() != ElemKind::I8)
    return unsupported("QLinearAdd samples take u8 or i8");
  Dims xs = d.shape({2, 3, 4});
  Value a = b.in(Type(b.d(), xs), Domain::Full),
        c = b.in(Type(b.d(), d.partner(xs, {3, 1})), Domain::Full);
  double zp = zeroPointOf(b.d());
  return b.node(k, {a, b.scalar(ElemKind::F32, 0.02), b.scalar(b.d(), zp), c,
                    b.scalar(ElemKind::F32, 0.03), b.scalar(b.d(), zp),
                    b.scalar(ElemKind::F32, 0.05), b.scalar(b.d(), zp)});
}

Status qlinearGlobalAveragePool(Builder &b, OpKind k, Draw &d) {
  if (b.d() != ElemKind::U8 && b.d() != ElemKind::I8)
    return unsupported("QLinearGlobalAveragePool samples take u8 or i8");
  Dims xs = d.shape({1, 3, 4, 4}, 2048);
  double zp = zeroPointOf(b.d());
  AttrMap attrs;
  if (d.coin(false))
    attrs["channels_last"] = Attr::ofInt(1);
  return b.node(k,
                {b.in(xs, Domain::Full), b.scalar(ElemKind::F32, 0.02),
                 b.scalar(b.d(), zp), b.scalar(ElemKind::F32, 0.03),
                 b.scalar(b.d(), zp)},
                attrs);
}

// The requantization profiles the plugin under test declares (its
// manifest's requant_profiles, in its order; fixed for a manifest without
// the field). The kit draws its Requantize and QuantizedAdd cases in them.
std::vector<quant::RequantProfile> declaredProfiles() {
  const KitState &s = state();
  std::vector<quant::RequantProfile> out;
  if (s.haveManifest)
    for (const std::string &p : s.manifest.requant_profiles()) {
      quant::RequantProfile q;
      if (quant::profileFromName(p, q))
        out.push_back(q);
    }
  if (out.empty())
    out.push_back(quant::RequantProfile::Fixed);
  return out;
}

bool declaresFloat32() {
  for (quant::RequantProfile p : declaredProfiles())
    if (p == quant::RequantProfile::Float32)
      return true;
  return false;
}

// A case's profile: the plugin's first (canonical), else one it declares.
// (A plugin declaring one profile draws nothing: its cases stay the ones
// it always had.)
quant::RequantProfile drawProfile(Draw &d) {
  std::vector<quant::RequantProfile> ps = declaredProfiles();
  if (ps.size() == 1 || d.canonical())
    return ps[0];
  return ps[size_t(d.rng()() % ps.size())];
}

// Ember's integer primitives (docs/quantization.md), with parameters as
// ember/quant/Arith.h makes them from scales.
Status requantize(Builder &b, OpKind k, Draw &d) {
  // The input: i32 (an accumulator) or the claimed integer type; the
  // result: u8 or i8 (the claimed one when it is).
  ElemKind in = b.d(), out = d.pick(ElemKind::U8, {ElemKind::U8, ElemKind::I8});
  if (b.d() == ElemKind::U8 || b.d() == ElemKind::I8) {
    out = b.d();
    in = d.coin(true) ? ElemKind::I32 : b.d();
  }
  if (!isIntKind(in) || elemSize(in) > 4)
    return unsupported("Requantize takes integers of at most 32 bits");
  Dims xs = d.shape({2, 3, 4});
  Value x = b.in(Type(in, xs), Domain::Full);
  AttrMap attrs = {{"to", Attr::ofInt(elemKindToOnnx(out))}};
  int64_t n = 1;
  if (!d.canonical() && !xs.empty() && d.coin(false)) { // per channel
    int64_t axis = drawAxis(d, 1, unsigned(xs.size()));
    n = xs[size_t(positive(axis, xs.size()))];
    attrs["axis"] = Attr::ofInt(axis);
  }
  std::vector<int64_t> mult, shift;
  Tensor scale(Type(ElemKind::F32, {n}));
  for (int64_t c = 0; c < n; ++c) {
    double real =
        d.pick(0.37, {0.37, 0.9, 0.05, 1.7}) * (1 + 0.1 * double(c % 5));
    quant::Multiplier m = quant::quantizeMultiplier(real);
    mult.push_back(m.mult);
    shift.push_back(m.shift);
    scale.setDouble(c, real);
  }
  std::vector<Value> ins = {x, b.ints(mult, {n}, ElemKind::I32),
                            b.ints(shift, {n}, ElemKind::I32)};
  const quant::RequantProfile prof = drawProfile(d);
  if (prof == quant::RequantProfile::Float32)
    ins = {x, b.cst(std::move(scale)), Value()};
  else if (quant::doublingRescale(prof)) // its rescale rounds twice
    attrs["requant"] = Attr::ofString(quant::profileName(prof));
  if (d.coin(true)) {
    ins.push_back(b.scalar(in, elemSize(in) == 1 ? zeroPointOf(in) : 0));
    ins.push_back(b.scalar(out, zeroPointOf(out)));
  }
  if (d.coin(false)) // a fused Relu: clamped at the zero point
    attrs["min"] = Attr::ofInt(int64_t(zeroPointOf(out)));
  return b.node(k, ins, attrs);
}

Status quantizedAdd(Builder &b, OpKind k, Draw &d) {
  if (b.d() != ElemKind::U8 && b.d() != ElemKind::I8)
    return unsupported("QuantizedAdd takes u8 or i8");
  Dims xs = d.shape({2, 3, 4});
  Value a = b.in(xs, Domain::Full),
        c = b.in(d.partner(xs, {3, 1}), Domain::Full);
  // The parameters lowering makes from three scales and zero points.
  struct {
    float sa, sb, sy;
    int32_t za, zb, zy;
  } s;
  s.sa = float(d.pick(0.02, {0.02, 0.1, 0.003}));
  s.sb = float(d.pick(0.03, {0.03, 0.02, 0.2}));
  s.sy = float(d.pick(0.05, {0.05, 0.04, 0.3}));
  s.za = s.zb = s.zy = int32_t(zeroPointOf(b.d()));
  quant::Range r = quant::rangeOf(b.d() == ElemKind::I8);
  // Inputs after a Relu (zero point at the type's lowest): differences up
  // to 255, whose sum sat16's 16-bit lanes saturate.
  if (d.coin(false))
    s.za = s.zb = r.lo;
  AttrMap attrs = {{"to", Attr::ofInt(elemKindToOnnx(b.d()))}};
  const quant::RequantProfile prof = drawProfile(d);
  if (prof == quant::RequantProfile::Float32) {
    attrs["requant"] = Attr::ofString("float32");
    attrs["a_ratio"] = Attr::ofFloat(double(s.sa / s.sy));
    attrs["b_ratio"] = Attr::ofFloat(double(s.sb / s.sy));
    attrs["a_zero_point"] = Attr::ofInt(s.za);
    attrs["b_zero_point"] = Attr::ofInt(s.zb);
    attrs["y_zero_point"] = Attr::ofInt(s.zy);
    return b.node(k, {a, c}, attrs);
  }
  // The fixed profile's exact add, as lowering writes it (its scales), or
  // TFLite's (the form older graphs and the int16 add carry, and the tflite,
  // gemmlowp and sat16 profiles' add, which name themselves): both inputs
  // rescaled to twice the larger scale, shifted left by 20 bits (sat16: 8),
  // added, rescaled to the output scale.
  if (prof != quant::RequantProfile::Fixed)
    attrs["requant"] = Attr::ofString(quant::profileName(prof));
  else if (d.coin(true)) {
    attrs["a_scale"] = Attr::ofFloat(double(s.sa));
    attrs["b_scale"] = Attr::ofFloat(double(s.sb));
    attrs["y_scale"] = Attr::ofFloat(double(s.sy));
    attrs["a_zero_point"] = Attr::ofInt(s.za);
    attrs["b_zero_point"] = Attr::ofInt(s.zb);
    attrs["y_zero_point"] = Attr::ofInt(s.zy);
    return b.node(k, {a, c}, attrs);
  }
  quant::AddParams p =
      quant::makeAddParams(s.sa, s.za, s.sb, s.zb, s.sy, s.zy, r.lo, r.hi,
                           quant::addLeftShift(prof, false));
  attrs["left_shift"] = Attr::ofInt(p.leftShift);
  attrs["a_zero_point"] = Attr::ofInt(p.aZp);
  attrs["b_zero_point"] = Attr::ofInt(p.bZp);
  attrs["y_zero_point"] = Attr::ofInt(p.yZp);
  attrs["a_multiplier"] = Attr::ofInt(p.a.mult);
  attrs["a_shift"] = Attr::ofInt(p.a.shift);
  attrs["b_multiplier"] = Attr::ofInt(p.b.mult);
  attrs["b_shift"] = Attr::ofInt(p.b.shift);
  attrs["y_multiplier"] = Attr::ofInt(p.y.mult);
  attrs["y_shift"] = Attr::ofInt(p.y.shift);
  return b.node(k, {a, c}, attrs);
}

Status tableLookup(Builder &b, OpKind k, Draw &d) {
  // The index is u8 or i8 (the claimed one when it is); the table's type,
  // the result's, is the claimed one otherwise.
  ElemKind x = d.pick(ElemKind::U8, {ElemKind::U8, ElemKind::I8}), t = b.d();
  if (b.d() == ElemKind::U8 || b.d() == ElemKind::I8) {
    x = b.d();
    t = d.pick(b.d(), {b.d(), ElemKind::F32, ElemKind::I32});
  }
  Tensor table(Type(t, {256}));
  for (int64_t i = 0; i < 256; ++i)
    table.setDouble(i, t == ElemKind::Bool ? double(i % 2)
                       : isFloatKind(t)    ? std::tanh(double(i - 128) / 32)
                       : isSignedKind(t)   ? double((i * 7) % 256 - 128)
                                           : double((i * 7) % 256));
  Value in = b.in(Type(x, d.shape({2, 3, 4})), Domain::Full);
  return b.node(k, {in, b.cst(std::move(table))});
}

// QuantizedSoftmax, for a plugin that declares the float32 profile (whose
// op it is): lines along any axis, the table of a drawn input scale and
// the line length, ONNX Runtime's output parameters (1/255 or 1/256, zero
// point 0 or -128) or others.
Status quantizedSoftmax(Builder &b, OpKind k, Draw &d) {
  // The claimed type is x's (u8 or i8) or the table's (f32).
  ElemKind x = b.d();
  if (x == ElemKind::F32)
    x = d.pick(ElemKind::U8, {ElemKind::U8, ElemKind::I8});
  if (x != ElemKind::U8 && x != ElemKind::I8)
    return unsupported("QuantizedSoftmax takes u8 or i8 and an f32 table");
  if (!declaresFloat32())
    return unsupported("QuantizedSoftmax is the float32 profile's, which the "
                       "plugin does not declare");
  Dims xs = d.shape({2, 3, 10});
  const int64_t axis = drawAxis(d, -1, unsigned(xs.size()));
  Tensor table(Type(ElemKind::F32, {quant::kSoftmaxTableEntries}));
  quant::makeSoftmaxTable(float(d.pick(0.1, {0.1, 0.02, 0.3, 0.004})),
                          xs[size_t(positive(axis, xs.size()))],
                          table.data<float>());
  const float ys = float(d.pick(1 / 255.0, {1 / 255.0, 1 / 256.0, 0.01}));
  const bool sg = x == ElemKind::I8;
  const int64_t zp =
      d.pick<int64_t>(sg ? -128 : 0, {sg ? -128 : 0, sg ? 0 : 5});
  return b.node(k, {b.in(Type(x, xs), Domain::Full), b.cst(std::move(table))},
                {{"axis", Attr::ofInt(axis)},
                 {"scale", Attr::ofFloat(double(quant::softmaxScale(ys)))},
                 {"y_zero_point", Attr::ofInt(zp)}});
}

Status dynamicQuantize(Builder &b, OpKind k, Draw &d) {
  if (b.d() != ElemKind::F32 && b.d() != ElemKind::U8)
    return unsupported("DynamicQuantizeLinear quantizes f32 into u8");
  return b.node(k, {b.in(Type(ElemKind::F32, d.shape({2, 3, 4})))}, {}, 3);
}

Status bitCast(Builder &b, OpKind k, Draw &d) {
  ElemKind to;
  switch (b.d()) {
  case ElemKind::F32:
    to = ElemKind::I32;
    break;
  case ElemKind::I32:
  case ElemKind::U32:
    to = ElemKind::F32;
    break;
  case ElemKind::F64:
    to = ElemKind::I64;
    break;
  case ElemKind::I64:
  case ElemKind::U64:
    to = ElemKind::F64;
    break;
  case ElemKind::F16:
  case ElemKind::BF16:
    to = ElemKind::I16;
    break;
  case ElemKind::I16:
    to = ElemKind::F16;
    break;
  case ElemKind::U16:
    to = ElemKind::BF16;
    break;
  case ElemKind::I8:
    to = ElemKind::U8;
    break;
  case ElemKind::U8:
    to = ElemKind::I8;
    break;
  default:
    return unsupported("BitCast samples take numeric types");
  }
  return b.node(k, {b.in(d.shape({2, 3, 4}), Domain::Small)},
                {{"to", Attr::ofInt(elemKindToOnnx(to))}});
}

Status det(Builder &b, OpKind k, Draw &d) {
  Dims xs = {2, 3, 3};
  if (!d.canonical()) {
    unsigned r = d.rank(3);
    xs = d.dims(r - 2, 8);
    int64_t n = d.range(3, 1, 4);
    xs.push_back(n);
    xs.push_back(n);
  }
  return b.node(k, {b.in(xs, Domain::Small)}, {}, -1, 24);
}

// Fixed shapes; only the data varies.
Status gridSample(Builder &b, OpKind k, Draw &) {
  Value x = b.in({1, 1, 3, 3});
  Value grid = b.in({1, 2, 2, 2}, Domain::Unit);
  return b.node(k, {x, grid});
}

Status roiAlign(Builder &b, OpKind k, Draw &) {
  Value x = b.in({1, 1, 4, 4});
  Tensor rois(Type(b.d(), {1, 4}));
  for (int64_t i = 0; i < 4; ++i)
    rois.setDouble(i, i < 2 ? 0.5 : 2.5);
  return b.node(k, {x, b.cst(rois), b.ints({0}, {1})},
                {{"output_height", Attr::ofInt(2)},
                 {"output_width", Attr::ofInt(2)},
                 {"sampling_ratio", Attr::ofInt(2)}});
}

Status recurrent(Builder &b, OpKind k, Draw &) {
  int64_t gates = k == OpKind::RNN ? 1 : k == OpKind::GRU ? 3 : 4;
  const int64_t H = 4, I = 3;
  Value x = b.in({2, 1, I}, Domain::Small);
  Value w = b.weight({1, gates * H, I}), r = b.weight({1, gates * H, H});
  return b.node(k, {x, w, r}, {{"hidden_size", Attr::ofInt(H)}},
                k == OpKind::LSTM ? 3 : 2, 8);
}

Status deformConv(Builder &b, OpKind k, Draw &) {
  Value x = b.in({1, 1, 4, 4}, Domain::Small);
  Value w = b.weight({1, 1, 2, 2});
  Value offset = b.in({1, 8, 3, 3}, Domain::Unit);
  return b.node(k, {x, w, offset}, {{"kernel_shape", Attr::ofInts({2, 2})}}, -1,
                4);
}

Status linearAttention(Builder &b, OpKind k, Draw &) {
  Value q = b.in({1, 3, 4}, Domain::Small),
        key = b.in({1, 3, 4}, Domain::Small);
  Value v = b.in({1, 3, 4}, Domain::Small);
  return b.node(k, {q, key, v},
                {{"q_num_heads", Attr::ofInt(1)},
                 {"kv_num_heads", Attr::ofInt(1)},
                 {"update_rule", Attr::ofString("linear")}},
                1, 12);
}

} // namespace

const std::map<std::string, OpBuilder> &opBuilders() {
  static const std::map<std::string, OpBuilder> m = [] {
    std::map<std::string, OpBuilder> t;
    for (unsigned i = 0; i < kNumOps; ++i) {
      auto k = OpKind(i);
      if (!isPrimitive(k))
        continue;
      if (hasProp(k, P_Elementwise) && hasProp(k, P_Unary))
        t[opName(k)] = {unary, 0, 6};
      else if (hasProp(k, P_Elementwise) && hasProp(k, P_Binary))
        t[opName(k)] = {binary, 0, 5};
    }
    t["Cast"] = {cast, 0, 6};
    t["Max"] = t["Min"] = {variadic, 0, 5};
    t["Where"] = {where, 0, 5};
    t["ReduceSum"] = t["ReduceMax"] = t["ReduceMin"] =
        t["ReduceProd"] = {reduce, 1, 6};
    t["ArgMax"] = t["ArgMin"] = {argReduce, 1, 6};
    t["CumSum"] = t["CumProd"] = {cumulative, 1, 5};
    t["TopK"] = {topK, 1, 5};
    t["PacketSum"] = {packetSum, 0, 5};
    t["MatMul"] = {matMul, 1, 5};
    t["Conv"] = {conv, 3, 5};
    t["ConvTranspose"] = {convTranspose, 3, 5};
    t["MaxPool"] = t["AveragePool"] = {pool, 3, 5};
    t["Reshape"] = {reshape, 1, 6};
    t["Transpose"] = {transpose, 1, 6};
    t["Slice"] = {slice, 1, 6};
    t["Concat"] = {concat, 1, 6};
    t["Split"] = {split, 1, 6};
    t["Gather"] = {gather, 1, 5};
    t["GatherElements"] = {gatherElements, 1, 5};
    t["GatherND"] = {gatherNd, 1, 5};
    t["ScatterElements"] = {scatterElements, 1, 4};
    t["ScatterND"] = {scatterNd, 1, 4};
    t["Pad"] = {pad, 1, 5};
    t["Expand"] = {expand, 1, 4};
    t["Tile"] = {tile, 1, 5};
    t["Shape"] = t["Size"] = {shapeOf, 0, 6};
    t["ConstantOfShape"] = {constantOfShape, 0, 5};
    t["Range"] = {range, 0, 0};
    t["Resize"] = {resize, 3, 5};
    t["QuantizeLinear"] = {quantizeLinear, 0, 5};
    t["DequantizeLinear"] = {dequantizeLinear, 0, 5};
    t["QLinearMatMul"] = {qlinearMatMul, 2, 2};
    t["QLinearConv"] = {qlinearConv, 3, 4};
    t["MatMulInteger"] = {matMulInteger, 2, 2};
    t["ConvInteger"] = {convInteger, 3, 4};
    t["DynamicQuantizeLinear"] = {dynamicQuantize, 0, 5};
    t["QLinearAdd"] = {qlinearAdd, 0, 5};
    t["QLinearGlobalAveragePool"] = {qlinearGlobalAveragePool, 3, 5};
    t["Requantize"] = {requantize, 0, 5};
    t["QuantizedAdd"] = {quantizedAdd, 0, 5};
    t["TableLookup"] = {tableLookup, 0, 5};
    t["QuantizedSoftmax"] = {quantizedSoftmax, 1, 5};
    t["BitCast"] = {bitCast, 0, 6};
    t["Det"] = {det, 2, 4};
    t["GridSample"] = {gridSample, 4, 4};
    t["RoiAlign"] = {roiAlign, 4, 4};
    t["RNN"] = t["GRU"] = t["LSTM"] = {recurrent, 3, 3};
    t["DeformConv"] = {deformConv, 4, 4};
    t["LinearAttention"] = {linearAttention, 3, 3};
    return t;
  }();
  return m;
}

} // namespace ember::kit

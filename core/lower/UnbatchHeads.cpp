// Attention's batched heads as one rank-2 chain per head (fixed-point
// profiles; docs/quantization.md, "Attention heads"). The lowered QDQ
// attention of a transformer (batch 1) is
//
//   Q4 = Transpose(Reshape(Q [1, n, D] -> [1, n, H, d]), [0, 2, 1, 3])
//   K4 = Transpose(Reshape(K ...), [0, 2, 1, 3]), then [0, 1, 3, 2]
//        (or one Transpose [0, 2, 3, 1])
//   P  = IntegerSoftmax(Step*(Requantize(MatMulInteger(Q4, K4))))
//        (or the softmax of the rows flattened to [H n, m], reshaped back)
//   O  = Reshape(Transpose(Requantize(MatMulInteger(P, V4)), [0, 2, 1, 3]),
//                [1, n, D])
//
// and becomes, per head h (q_h, k_h, v_h the head's d channels of Q, K, V:
// a Split of [n, D] on the channels):
//
//   p_h = IntegerSoftmax(Step*(Requantize(MatMulInteger(q_h,
//                                                  Transpose(k_h)))))
//   o_h = Requantize(MatMulInteger(p_h, v_h))
//   O   = Reshape(Concat(o_0 .. o_{H-1}, axis 1), [1, n, D])
//
// (a Step a table, a per-tensor Requantize or the add of a mask the same
// for every head) with the same zero points, requantizations, steps and
// softmax (its axis the last). Every element is computed from the same integers
// in the same order: the result is the batched form's, byte for byte. What it
// is for: an accelerator's layers are rank-2 GEMMs over channel tiles
// (core/accel's actmatmul and softmax forms), and a Split on the channels and a
// Concat of the heads are views and placements there.
#include "lower/IntegerForms.h"
#include "lower/LowerUtil.h"
#include "lower/Lowering.h"

#include <algorithm>
#include <map>
#include <set>

namespace ember {

// Named: a unity build puts this file's helpers next to other lowerings'.
namespace unbatch_heads {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

// The node computing v when v is its only use's operand, else null.
Node *soleProducer(const Users &users, Value v, OpKind k) {
  if (!v.node || v.node->kind != k)
    return nullptr;
  auto it = users.find(v.node);
  if (it == users.end() || it->second.size() != 1 || !it->second[0].user)
    return nullptr;
  return v.node;
}

// The one node reading v's node, of kind k, or null.
Node *soleUser(const Users &users, const Node *n, OpKind k) {
  auto it = users.find(n);
  if (it == users.end() || it->second.size() != 1 || !it->second[0].user ||
      it->second[0].user->kind != k)
    return nullptr;
  return it->second[0].user;
}

bool scalarConstant(const Node &n, size_t i) {
  if (!n.hasInput(i))
    return true;
  const Tensor *t = n.constantInput(i);
  return t && t->type().numElements() == 1;
}

// A Requantize of per-tensor constants (multiplier, shift, zero points).
bool perTensor(const Node &n) {
  for (size_t i = 1; i <= 4; ++i)
    if (!scalarConstant(n, i))
      return false;
  return true;
}

// A head split: x4 = Transpose(Reshape(src -> [1, n, H, d]), perm) with
// perm [0, 2, 1, 3] (heads) or [0, 2, 3, 1] (heads, transposed), src [1, n,
// H d] or [n, H d]. The nodes matched are added to `seen`.
// Or part i of a fused projection: x4 = Gather(Transpose(Reshape(src ->
// [1, n, P, H, d]), [2, 0, 3, 1, 4]), i) on axis 0 (a ViT's QKV), or
// Transpose(Gather(Reshape(...), i) on axis 2, perm), the heads of channels
// [i H d, (i + 1) H d) of src; each Gather also as a Slice [i, i + 1) on the
// part axis and a Squeeze of it (PaddlePaddle's SVTR).
// `steps`: elementwise per-tensor ops of the heads before the MatMul
// (tables, Requantizes: PyTorch's scaled_dot_product_attention export
// multiplies Q and K transposed by the scale's square root), innermost
// first; each head takes them on its own slice.
struct Heads {
  Value src;
  int64_t n = 0, H = 0, d = 0;
  int64_t part = 0, parts = 1;
  std::vector<Node *> steps;
};

// A table or per-tensor Requantize of one stored (8- or 16-bit) tensor: an
// elementwise function of each element alone, which commutes with
// splitting and transposing (not a layer's Requantize of its accumulator).
bool elementwiseStep(const Node &n) {
  const ElemKind k =
      n.inputs.empty() ? ElemKind::F32 : n.inputs[0].type().elem();
  return (n.kind == OpKind::TableLookup && n.constantInput(1)) ||
         (n.kind == OpKind::Requantize && perTensor(n) &&
          (k == ElemKind::U8 || k == ElemKind::I8 || k == ElemKind::I16));
}

// x below its elementwise steps, each read by the next alone (added to
// `steps` outermost first, and to `seen`).
Value peelSteps(const Users &users, Value x, std::vector<Node *> &steps,
                std::vector<Node *> &seen) {
  while (x.node && elementwiseStep(*x.node) &&
         soleProducer(users, x, x.node->kind)) {
    steps.push_back(x.node);
    seen.push_back(x.node);
    x = x.node->inputs[0];
  }
  return x;
}
// Part i of the fused projection r = Reshape(src -> [1, n, P, H, d]): src
// [1, n, P H d], or also [n, P H d] when `flat`.
std::optional<Heads> projectionPart(int64_t i, const Node &r, bool flat) {
  const Dims &rd = r.types[0].dims();
  const Dims &sd = r.inputs[0].type().dims();
  if (rd.size() != 5 || rd[0] != 1 || (sd.size() != 3 && !flat) ||
      (sd.size() != 3 && sd.size() != 2) || (sd.size() == 3 && sd[0] != 1) ||
      sd[sd.size() - 2] != rd[1] || sd.back() != rd[2] * rd[3] * rd[4] ||
      i < 0 || i >= rd[2])
    return std::nullopt;
  return Heads{r.inputs[0], rd[1], rd[3], rd[4], i, rd[2], {}};
}

// The index a Gather of one constant scalar index takes, or -1.
int64_t gatherIndex(const Node &g) {
  const Tensor *idx = g.constantInput(1);
  if (!idx || idx->type().numElements() != 1 || !idx->type().dims().empty())
    return -1;
  return idx->toInts()[0];
}

// The one index a Slice takes along `axis`, keeping every other axis whole
// (a positive step), or -1. PaddlePaddle's exports take a fused projection's
// parts so: Slice [i, i + 1) on the part axis, then a Squeeze (a Reshape
// here) before or after the heads' Transpose.
int64_t unitSliceIndex(const Node &sl, size_t axis) {
  if (sl.kind != OpKind::Slice)
    return -1;
  const Dims &in = sl.inputs[0].type().dims();
  const Dims &out = sl.types[0].dims();
  if (in.size() != out.size() || axis >= in.size() || out[axis] != 1)
    return -1;
  for (size_t i = 0; i < in.size(); ++i)
    if (i != axis && in[i] != out[i])
      return -1;
  const Tensor *st = sl.constantInput(1);
  const Tensor *ax = sl.hasInput(3) ? sl.constantInput(3) : nullptr;
  const Tensor *sp = sl.hasInput(4) ? sl.constantInput(4) : nullptr;
  if (!st || (sl.hasInput(3) && !ax) || (sl.hasInput(4) && !sp))
    return -1;
  const std::vector<int64_t> starts = st->toInts();
  std::vector<int64_t> axes = ax ? ax->toInts() : std::vector<int64_t>();
  if (!ax)
    for (size_t j = 0; j < starts.size(); ++j)
      axes.push_back(int64_t(j));
  const std::vector<int64_t> steps = sp ? sp->toInts() : std::vector<int64_t>();
  const int64_t rank = int64_t(in.size()), dim = in[axis];
  for (size_t j = 0; j < axes.size() && j < starts.size(); ++j) {
    if ((axes[j] < 0 ? axes[j] + rank : axes[j]) != int64_t(axis))
      continue;
    if (j < steps.size() && steps[j] <= 0)
      return -1;
    int64_t i = starts[j] < 0 ? starts[j] + dim : starts[j];
    return std::clamp<int64_t>(i, 0, dim - 1);
  }
  return -1;
}

// A Reshape that drops unit axis `axis` of its input and keeps the rest.
bool squeezes(const Node &r, size_t axis) {
  Dims d = r.inputs[0].type().dims();
  if (r.kind != OpKind::Reshape || axis >= d.size() || d[axis] != 1)
    return false;
  d.erase(d.begin() + std::ptrdiff_t(axis));
  return r.types[0].dims() == d;
}

// Or Squeeze(Transpose(Slice(Reshape(src -> [1, n, P, H, d]), [i, i + 1)
// on axis 2), [2, 0, 3, 1, 4]), axis 0): the same part, src also [n, P H d]
// (the projection a Gemm).
std::optional<Heads> fusedHeadsOf(const Users &users, Value x4,
                                  std::vector<Node *> &seen) {
  const std::vector<int64_t> parts{2, 0, 3, 1, 4};
  if (Node *g = soleProducer(users, x4, OpKind::Gather)) {
    Node *t = g->inputs[0].node;
    if (g->attrInt("axis", 0) != 0 || !t || t->kind != OpKind::Transpose ||
        t->attrInts("perm") != parts || !t->inputs[0].node ||
        t->inputs[0].node->kind != OpKind::Reshape)
      return std::nullopt;
    Node *r = t->inputs[0].node;
    auto h = projectionPart(gatherIndex(*g), *r, false);
    if (h)
      seen.insert(seen.end(), {g, t, r});
    return h;
  }
  Node *q = soleProducer(users, x4, OpKind::Reshape);
  Node *t = q ? soleProducer(users, q->inputs[0], OpKind::Transpose) : nullptr;
  Node *sl = t ? soleProducer(users, t->inputs[0], OpKind::Slice) : nullptr;
  Node *r = sl ? sl->inputs[0].node : nullptr;
  if (!sl || !squeezes(*q, 0) || t->attrInts("perm") != parts || !r ||
      r->kind != OpKind::Reshape)
    return std::nullopt;
  auto h = projectionPart(unitSliceIndex(*sl, 2), *r, true);
  if (h)
    seen.insert(seen.end(), {q, t, sl, r});
  return h;
}

// Or part i of a fused projection taken before the heads' Transpose t
// (ONNX Runtime's optimized ViT): t's input Gather(Reshape(src -> [1, n,
// P, H, d]), i) on axis 2, src [1, n, P H d] or [n, P H d].
// Or the same with Squeeze(Slice(..., [i, i + 1) on axis 2), axis 2) for
// the Gather.
std::optional<Heads> gatheredHeadsOf(const Users &users, Node &t,
                                     std::vector<Node *> &seen) {
  if (Node *g = soleProducer(users, t.inputs[0], OpKind::Gather)) {
    Node *r = g->inputs[0].node;
    if (g->attrInt("axis", 0) != 2 || !r || r->kind != OpKind::Reshape)
      return std::nullopt;
    auto h = projectionPart(gatherIndex(*g), *r, true);
    if (h)
      seen.insert(seen.end(), {&t, g, r});
    return h;
  }
  Node *q = soleProducer(users, t.inputs[0], OpKind::Reshape);
  Node *sl = q ? soleProducer(users, q->inputs[0], OpKind::Slice) : nullptr;
  Node *r = sl ? sl->inputs[0].node : nullptr;
  if (!sl || !squeezes(*q, 2) || !r || r->kind != OpKind::Reshape)
    return std::nullopt;
  auto h = projectionPart(unitSliceIndex(*sl, 2), *r, true);
  if (h)
    seen.insert(seen.end(), {&t, q, sl, r});
  return h;
}

std::optional<Heads> headsOf(const Users &users, Value x4,
                             const std::vector<int64_t> &perm,
                             std::vector<Node *> &seen) {
  if (perm == std::vector<int64_t>{0, 2, 1, 3})
    if (auto h = fusedHeadsOf(users, x4, seen))
      return h;
  Node *t = soleProducer(users, x4, OpKind::Transpose);
  if (!t || t->attrInts("perm") != perm)
    return std::nullopt;
  if (auto h = gatheredHeadsOf(users, *t, seen))
    return h;
  Node *r = soleProducer(users, t->inputs[0], OpKind::Reshape);
  if (!r)
    return std::nullopt;
  const Dims &rd = r->types[0].dims();
  const Dims &sd = r->inputs[0].type().dims();
  if (rd.size() != 4 || rd[0] != 1 || sd.empty() ||
      (sd.size() == 3 && sd[0] != 1) || (sd.size() != 3 && sd.size() != 2) ||
      sd[sd.size() - 2] != rd[1] || sd.back() != rd[2] * rd[3])
    return std::nullopt;
  seen.push_back(t);
  seen.push_back(r);
  return Heads{r->inputs[0], rd[1], rd[2], rd[3], 0, 1, {}};
}

// headsOf below elementwise steps.
std::optional<Heads> steppedHeadsOf(const Users &users, Value x4,
                                    const std::vector<int64_t> &perm,
                                    std::vector<Node *> &seen) {
  std::vector<Node *> steps;
  auto h = headsOf(users, peelSteps(users, x4, steps, seen), perm, seen);
  if (h)
    h->steps.assign(steps.rbegin(), steps.rend());
  return h;
}

// Heads padded to `width` channels (their width when not padded), and the
// output projection reading their concatenation (Rewriter::paddingOf).
struct Padding {
  int64_t width = 0;
  Node *consumer = nullptr;
};

class Rewriter {
public:
  explicit Rewriter(Function &f) : f_(f) {}

  Expected<size_t> run() {
    std::vector<Node *> work;
    for (auto &np : f_.nodes())
      if (np->kind == OpKind::MatMulInteger)
        work.push_back(np.get());
    for (Node *m : work) {
      if (gone_.count(m))
        continue;
      users_ = f_.computeUsers();
      EMBER_ASSIGN(bool done, attention(*m));
      count_ += done;
    }
    return count_;
  }

private:
  // K4: heads then [0, 1, 3, 2], or heads transposed at once (elementwise
  // steps before and after the transpose).
  std::optional<Heads> keysOf(Value k4, std::vector<Node *> &seen) {
    std::vector<Node *> outer;
    k4 = peelSteps(users_, k4, outer, seen);
    std::optional<Heads> h;
    if (Node *t = soleProducer(users_, k4, OpKind::Transpose);
        t && t->attrInts("perm") == std::vector<int64_t>{0, 1, 3, 2}) {
      std::vector<Node *> more{t};
      if ((h = steppedHeadsOf(users_, t->inputs[0], {0, 2, 1, 3}, more)))
        seen.insert(seen.end(), more.begin(), more.end());
    }
    if (!h)
      h = headsOf(users_, k4, {0, 2, 3, 1}, seen);
    if (h)
      h->steps.insert(h->steps.end(), outer.rbegin(), outer.rend());
    return h;
  }

  Expected<bool> attention(Node &s) {
    const Dims &sd = s.types[0].dims();
    if (sd.size() != 4 || sd[0] != 1)
      return false;
    std::vector<Node *> seen{&s};
    auto q = steppedHeadsOf(users_, s.inputs[0], {0, 2, 1, 3}, seen);
    auto k = q ? keysOf(s.inputs[1], seen) : std::nullopt;
    if (!q || !k || k->H != q->H || k->d != q->d)
      return false;
    // The scores' chain to the softmax.
    Node *rq = soleUser(users_, &s, OpKind::Requantize);
    if (!rq || rq->inputs[0] != Value(&s) || !perTensor(*rq))
      return false;
    seen.push_back(rq);
    // Elementwise steps between the scores and the softmax: tables,
    // per-tensor Requantizes (a scale of 16-bit scores), and a QuantizedAdd of
    // a mask [1, 1, 1, m] the same for every head and query (BERT's attention
    // mask).
    std::vector<Node *> tables;
    Node *at = rq;
    const int64_t m = sd[3];
    for (;;) {
      auto it = users_.find(at);
      if (it == users_.end() || it->second.size() != 1 || !it->second[0].user)
        break;
      Node *t = it->second[0].user;
      if (elementwiseStep(*t) && t->inputs[0] == Value(at)) {
      } else if (t->kind == OpKind::QuantizedAdd &&
                 (t->inputs[0] == Value(at)) != (t->inputs[1] == Value(at))) {
        const Value mask = t->inputs[t->inputs[0] == Value(at) ? 1 : 0];
        if (mask.type().dims() != Dims{1, 1, 1, m} &&
            mask.type().dims() != Dims{1, 1, sd[2], m})
          return false;
      } else {
        break;
      }
      tables.push_back(t);
      seen.push_back(t);
      at = t;
    }
    // The softmax on the last axis, or on the rows flattened to
    // [H n, m] and reshaped back (a Softmax of opset 11 or before: the
    // axes before its own made one).
    Node *flat = soleUser(users_, at, OpKind::Reshape);
    const Dims fd = flat ? flat->types[0].dims() : Dims{};
    if (flat && (flat->inputs[0] != Value(at) || fd.size() != 2 ||
                 fd[0] != sd[1] * sd[2] || fd[1] != m))
      return false;
    Node *sm = soleUser(users_, flat ? flat : at, OpKind::IntegerSoftmax);
    if (!sm || sm->inputs[0] != Value(flat ? flat : at))
      return false;
    const int64_t axis = sm->attrInt("axis", -1);
    if (axis != (flat ? 1 : 3) && axis != -1)
      return false;
    Node *unflat = flat ? soleUser(users_, sm, OpKind::Reshape) : nullptr;
    if (flat && (!unflat || unflat->inputs[0] != Value(sm) ||
                 unflat->types[0].dims() != sd))
      return false;
    for (Node *nd : {flat, sm, unflat})
      if (nd)
        seen.push_back(nd);
    // The softmax times V.
    Node *probs = unflat ? unflat : sm;
    Node *o = soleUser(users_, probs, OpKind::MatMulInteger);
    if (!o || o->inputs[0] != Value(probs))
      return false;
    seen.push_back(o);
    auto v = steppedHeadsOf(users_, o->inputs[1], {0, 2, 1, 3}, seen);
    if (!v || v->H != q->H || v->d != q->d || v->n != k->n)
      return false;
    Node *rq2 = soleUser(users_, o, OpKind::Requantize);
    if (!rq2 || rq2->inputs[0] != Value(o) || !perTensor(*rq2))
      return false;
    seen.push_back(rq2);
    Node *merge = soleUser(users_, rq2, OpKind::Transpose);
    if (!merge || merge->attrInts("perm") != std::vector<int64_t>{0, 2, 1, 3})
      return false;
    seen.push_back(merge);
    Node *out = soleUser(users_, merge, OpKind::Reshape);
    if (!out)
      return false;
    const Dims &od = out->types[0].dims();
    const int64_t n = q->n, D = q->H * q->d;
    if (!((od.size() == 3 && od[0] == 1 && od[1] == n && od[2] == D) ||
          (od.size() == 2 && od[0] == n && od[1] == D)))
      return false;
    seen.push_back(out);
    Padding pad = paddingOf(*q, *k, *v, s, *out, seen);
    if (pad.width != q->d)
      seen.push_back(pad.consumer);
    EMBER_TRY(rewrite(*q, *k, *v, s, *rq, tables, *sm, *o, *rq2, *out, pad));
    // The batched chain, from its end: each node once its users are gone.
    for (auto it = seen.rbegin(); it != seen.rend(); ++it)
      erase(*it);
    for (Node *nd : seen)
      erase(nd);
    return true;
  }

  // Erases nd when nothing reads it, and then the constants it alone read.
  void erase(Node *nd) { eraseUnread(f_, nd, gone_); }

  Expected<Value> make(Node &before, OpKind k, std::vector<Value> ins,
                       AttrMap attrs, const std::string &name, int results = -1,
                       unsigned pick = 0) {
    EMBER_ASSIGN(Node * nd, f_.create(k, std::move(ins), std::move(attrs), name,
                                      results, &before));
    return Value(nd, pick);
  }
  // Node n again, on x in place of its first input.
  Expected<Value> again(Node &before, const Node &n, Value x) {
    std::vector<Value> ins = n.inputs;
    ins[0] = x;
    return make(before, n.kind, std::move(ins), n.attrs, n.name);
  }
  Value ints(const std::string &name, const std::vector<int64_t> &v) {
    return Value(f_.addConstant(name, Tensor::fromInts(ElemKind::I64, v)));
  }

  // The heads of src as H values [rows, w]: src as [rows, P H w], split on
  // the channels (a fused projection's Split shared by its parts); w the
  // padded width when the heads are padded (src then the padded
  // projection's result).
  Expected<std::vector<Value>> split(Node &before, const Heads &h, int64_t rows,
                                     const std::string &name,
                                     const Padding &pad) {
    Value src = h.src;
    if (pad.width != h.d) {
      EMBER_ASSIGN(src, paddedProjection(before, h, pad.width, name));
    }
    const int64_t w = pad.width;
    auto key = std::make_pair(src.node, src.idx);
    auto it = splits_.find(key);
    if (it == splits_.end()) {
      const int64_t pieces = h.parts * h.H;
      Value x = src;
      if (x.type().dims().size() == 3) {
        EMBER_ASSIGN(x, make(before, OpKind::Reshape,
                             {x, ints(name + ".shape", {rows, pieces * w})}, {},
                             name));
      }
      EMBER_ASSIGN(Node * sp,
                   f_.create(OpKind::Split,
                             {x, ints(name + ".split",
                                      std::vector<int64_t>(size_t(pieces), w))},
                             {{"axis", Attr::ofInt(1)}}, name, int(pieces),
                             &before));
      std::vector<Value> all;
      for (int64_t i = 0; i < pieces; ++i)
        all.push_back(Value(sp, unsigned(i)));
      it = splits_.emplace(key, std::move(all)).first;
    }
    return std::vector<Value>(it->second.begin() + h.part * h.H,
                              it->second.begin() + (h.part + 1) * h.H);
  }

  // A mask [1, 1, 1, m] as [1, m], once per mask. A table of a mask (its
  // scale) is taken with it: the Reshape goes before the table, so that it
  // reshapes what the host hands over.
  Expected<Value> maskRow(Node &before, Value mask, int64_t m,
                          const std::string &name) {
    // (A mask per query and key, [1, 1, n, m], as [n, m].)
    const int64_t rows = mask.type().dims()[2];
    auto key = std::make_pair(mask.node, mask.idx);
    auto it = masks_.find(key);
    if (it != masks_.end())
      return it->second;
    Node *t = mask.node;
    Value row;
    if (t && elementwiseStep(*t) &&
        t->inputs[0].type().dims() == mask.type().dims()) {
      EMBER_ASSIGN(Value in,
                   make(before, OpKind::Reshape,
                        {t->inputs[0], ints(name + ".shape", {rows, m})}, {},
                        name));
      EMBER_ASSIGN(row, again(before, *t, in));
    } else if (Node *c = oneChannelAffine(t, mask.type().dims())) {
      EMBER_ASSIGN(row, affineRow(before, *t, *c, rows, m, name));
    } else {
      EMBER_ASSIGN(row,
                   make(before, OpKind::Reshape,
                        {mask, ints(name + ".shape", {rows, m})}, {}, name));
    }
    masks_.emplace(key, row);
    return row;
  }

  // The ConvInteger of Requantize(Add(ConvInteger(x, w [1,1,1,1]), b)) of
  // a one-channel map xd [1, 1, rows, m] (a 16-bit mask's scale by a
  // negative factor, lower/IntegerAffine.cpp), or null.
  Node *oneChannelAffine(Node *rq, const Dims &xd) {
    if (!rq || rq->kind != OpKind::Requantize || !perTensor(*rq) ||
        xd.size() != 4 || xd[1] != 1)
      return nullptr;
    Node *ad = rq->inputs[0].node;
    if (!ad || ad->kind != OpKind::Add || ad->inputs.size() != 2 ||
        !soleProducer(users_, rq->inputs[0], OpKind::Add))
      return nullptr;
    Node *c = ad->inputs[0].node;
    const Tensor *bias = ad->constantInput(1);
    if (!c || c->kind != OpKind::ConvInteger || !bias ||
        bias->type().numElements() != 1 ||
        !soleProducer(users_, ad->inputs[0], OpKind::ConvInteger))
      return nullptr;
    const Tensor *w = c->constantInput(1);
    if (!w || w->type().dims() != Dims{1, 1, 1, 1} ||
        c->attrInt("group", 1) != 1 || c->inputs[0].type().dims() != xd)
      return nullptr;
    return c;
  }

  // That affine of the mask as a row [rows, m]: its input as m channels of
  // `rows` one-pixel images, a depthwise 1x1 of the one weight, the bias
  // and the Requantize, and a Reshape that keeps the channels (a view).
  Expected<Value> affineRow(Node &before, Node &rq, Node &c, int64_t rows,
                            int64_t m, const std::string &name) {
    Node &ad = *rq.inputs[0].node;
    const Tensor &w = *c.constantInput(1);
    const Tensor &b = *ad.constantInput(1);
    Tensor wm(Type(w.elem(), {m, 1, 1, 1}));
    Tensor bm(Type(b.elem(), {1, m, 1, 1}));
    for (int64_t i = 0; i < m; ++i) {
      wm.setInt(i, w.getInt(0));
      bm.setInt(i, b.getInt(0));
    }
    EMBER_ASSIGN(Value x,
                 make(before, OpKind::Reshape,
                      {c.inputs[0], ints(name + ".shape", {rows, m, 1, 1})}, {},
                      name));
    std::vector<Value> ins = c.inputs;
    ins[0] = x;
    ins[1] = Value(f_.addConstant(c.name + ".weight", std::move(wm)));
    AttrMap ca = c.attrs;
    ca["group"] = Attr::ofInt(m);
    EMBER_ASSIGN(Value acc, make(before, OpKind::ConvInteger, ins, ca, c.name));
    EMBER_ASSIGN(
        acc,
        make(before, OpKind::Add,
             {acc, Value(f_.addConstant(ad.name + ".bias", std::move(bm)))},
             ad.attrs, ad.name));
    EMBER_ASSIGN(Value y, again(before, rq, acc));
    return make(before, OpKind::Reshape, {y, ints(name + ".row", {rows, m})},
                {}, name);
  }

  Status rewrite(const Heads &q, const Heads &k, const Heads &v, Node &s,
                 Node &rq, const std::vector<Node *> &tables, Node &sm, Node &o,
                 Node &rq2, Node &out, const Padding &pad) {
    const std::string &nm = s.name;
    EMBER_ASSIGN(auto qh, split(out, q, q.n, nm + ".q", pad));
    EMBER_ASSIGN(auto kh, split(out, k, k.n, nm + ".k", pad));
    EMBER_ASSIGN(auto vh, split(out, v, v.n, o.name + ".v", pad));
    auto with = [](const Node &n, std::vector<Value> ins) {
      for (size_t i = ins.size(); i < n.inputs.size(); ++i)
        ins.push_back(n.inputs[i]);
      return ins;
    };
    // A head's slice through its elementwise steps.
    auto stepped = [&](const Heads &hd, Value x) -> Expected<Value> {
      for (Node *st : hd.steps) {
        EMBER_ASSIGN(x, again(out, *st, x));
      }
      return x;
    };
    std::vector<Value> heads;
    for (int64_t h = 0; h < q.H; ++h) {
      EMBER_ASSIGN(Value qs, stepped(q, qh[size_t(h)]));
      EMBER_ASSIGN(Value ks, stepped(k, kh[size_t(h)]));
      EMBER_ASSIGN(Value vs, stepped(v, vh[size_t(h)]));
      EMBER_ASSIGN(Value kt, make(out, OpKind::Transpose, {ks},
                                  {{"perm", Attr::ofInts({1, 0})}}, nm));
      EMBER_ASSIGN(Value sc, make(out, OpKind::MatMulInteger, with(s, {qs, kt}),
                                  s.attrs, nm));
      EMBER_ASSIGN(Value r, make(out, OpKind::Requantize, with(rq, {sc}),
                                 rq.attrs, rq.name));
      for (size_t i = 0; i < tables.size(); ++i) {
        Node *t = tables[i];
        Node *prev = i ? tables[i - 1] : &rq;
        if (t->kind != OpKind::QuantizedAdd) {
          EMBER_ASSIGN(r, again(out, *t, r));
          continue;
        }
        // The mask as [1, m], repeated over the head's queries.
        const bool first = t->inputs[0] == Value(prev);
        EMBER_ASSIGN(Value m2,
                     maskRow(out, t->inputs[first ? 1 : 0], k.n, t->name));
        std::vector<Value> ins = t->inputs;
        ins[first ? 0 : 1] = r;
        ins[first ? 1 : 0] = m2;
        EMBER_ASSIGN(r,
                     make(out, OpKind::QuantizedAdd, ins, t->attrs, t->name));
      }
      AttrMap sa = sm.attrs;
      sa["axis"] = Attr::ofInt(1);
      EMBER_ASSIGN(Value p,
                   make(out, OpKind::IntegerSoftmax, {r}, sa, sm.name));
      EMBER_ASSIGN(Value ov, make(out, OpKind::MatMulInteger, with(o, {p, vs}),
                                  o.attrs, o.name));
      EMBER_ASSIGN(Value r2, make(out, OpKind::Requantize, with(rq2, {ov}),
                                  rq2.attrs, rq2.name));
      heads.push_back(r2);
    }
    EMBER_ASSIGN(Value cat, make(out, OpKind::Concat, heads,
                                 {{"axis", Attr::ofInt(1)}}, out.name));
    if (pad.width != q.d)
      return padConsumer(out, *pad.consumer, cat, q.H, q.d, pad.width);
    Value res = cat;
    if (out.types[0].dims().size() == 3) {
      EMBER_ASSIGN(res,
                   make(out, OpKind::Reshape,
                        {cat, ints(out.name + ".shape", out.types[0].dims())},
                        {}, out.name));
    }
    f_.replaceAllUses(Value(&out), res);
    return Status::ok();
  }

  // ---- heads padded to whole 8-lane groups ----------------------------
  //
  // Heads of d channels, d not a multiple of 8 (PaddlePaddle's SVTR: 120
  // channels in 8 heads of 15), are split from and concatenated into
  // tensors at channel offsets inside a lane group, which an accelerator
  // storing whole 8-lane groups cannot place. Padded, each head is w =
  // d rounded up to 8 channels: the projection computing Q, K and V gets
  // w - d columns per head whose weights are the weight zero point, whose
  // bias and multiplier are 0 (their stored value is the projection's zero
  // point), and the output projection reading the concatenated heads gets
  // rows that are its weight zero point at the padding. Every padding
  // product (q - zq)(k - zk) and (o - zo)(w - zw) is then 0, and the rest
  // are the unpadded ones: the result is the same, byte for byte.
  // A stored value v after elementwise 8-bit tables (nullopt through any
  // other step).
  static std::optional<int64_t> throughSteps(int64_t v,
                                             const std::vector<Node *> &steps) {
    for (const Node *st : steps) {
      const Tensor *tab = st->constantInput(1);
      const ElemKind k = st->inputs[0].type().elem();
      if (st->kind != OpKind::TableLookup || !tab || tab->size() != 256 ||
          (k != ElemKind::U8 && k != ElemKind::I8))
        return std::nullopt;
      v = tab->getInt(v - (k == ElemKind::U8 ? 0 : -128));
    }
    return v;
  }

  // The projection computing a head source: Requantize([Add(]
  // MatMulInteger(x, W)[, b)]) of a constant W [K, C], the bias [C] or
  // [1, C], the multipliers and shifts per tensor or per channel, no
  // input zero point, src its result [n, C].
  struct Projection {
    Node *mm = nullptr, *add = nullptr, *rq = nullptr;
  };
  std::optional<Projection> projectionOf(Value src) {
    Node *rq = src.node;
    if (!rq || rq->kind != OpKind::Requantize ||
        src.type().dims().size() != 2 || rq->hasInput(3))
      return std::nullopt;
    const int64_t C = src.type().dims()[1];
    for (size_t i : {size_t(1), size_t(2)}) {
      const Tensor *t = rq->constantInput(i);
      if (!t || (t->size() != 1 && t->size() != C))
        return std::nullopt;
    }
    Projection p;
    p.rq = rq;
    Node *acc = rq->inputs[0].node;
    if (acc && acc->kind == OpKind::Add) {
      const Tensor *b = acc->constantInput(1);
      if (!b || b->size() != C ||
          !soleProducer(users_, rq->inputs[0], OpKind::Add))
        return std::nullopt;
      p.add = acc;
      acc = acc->inputs[0].node;
    }
    if (!acc || acc->kind != OpKind::MatMulInteger ||
        !soleProducer(users_, Value(acc, 0), OpKind::MatMulInteger))
      return std::nullopt;
    const Tensor *w = acc->constantInput(1);
    const Tensor *wz = acc->hasInput(3) ? acc->constantInput(3) : nullptr;
    if (!w || w->type().dims().size() != 2 || w->type().dims()[1] != C ||
        (acc->hasInput(3) && (!wz || (wz->size() != 1 && wz->size() != C))))
      return std::nullopt;
    p.mm = acc;
    return p;
  }

  // Whether the heads get padded, to what width, and the MatMulInteger
  // reading their concatenation: a constant B [H d, N] read by nothing
  // else, each head source a padded projection, and every padding product
  // of the scores 0 (q's or k's padding its zero point after their steps).
  Padding paddingOf(const Heads &q, const Heads &k, const Heads &v, Node &s,
                    Node &out, const std::vector<Node *> &seen) {
    Padding none{q.d, nullptr};
    const int64_t w = (q.d + 7) / 8 * 8;
    if (q.d % 8 == 0 || out.types[0].dims().size() != 2)
      return none;
    auto it = users_.find(&out);
    if (it == users_.end() || it->second.size() != 1 || !it->second[0].user)
      return none;
    Node *c = it->second[0].user;
    const Tensor *b = c->constantInput(1);
    if (c->kind != OpKind::MatMulInteger || c->inputs[0] != Value(&out) || !b ||
        b->type().dims().size() != 2 || b->type().dims()[0] != q.H * q.d ||
        (c->hasInput(3) && !c->constantInput(3)))
      return none;
    for (const Heads *h : {&q, &k, &v}) {
      auto it = users_.find(h->src.node);
      if (!projectionOf(h->src) || it == users_.end())
        return none;
      for (const Use &u : it->second)
        if (!u.user ||
            std::find(seen.begin(), seen.end(), u.user) == seen.end())
          return none;
    }
    // A padding channel's stored value: the projection's zero point,
    // within its Requantize's clamp.
    auto zp = [](const Heads &h) -> std::optional<int64_t> {
      const Node &r = *h.src.node;
      auto z = r.scalarZeroPoint(4);
      const ElemKind k = r.types[0].elem();
      if (z)
        z = std::clamp(*z, r.attrInt("min", lowestOf(k)),
                       r.attrInt("max", highestOf(k)));
      return z;
    };
    auto qz = zp(q), kz = zp(k);
    auto qv = qz ? throughSteps(*qz, q.steps) : std::nullopt;
    auto kv = kz ? throughSteps(*kz, k.steps) : std::nullopt;
    auto sa = s.scalarZeroPoint(2), sb = s.scalarZeroPoint(3);
    if (!(qv && sa && *qv == *sa) && !(kv && sb && *kv == *sb))
      return none;
    return Padding{w, c};
  }

  // The head source's projection again with w - d padding columns per
  // head (its parts' heads in order), once per source.
  Expected<Value> paddedProjection(Node &before, const Heads &h, int64_t w,
                                   const std::string &name) {
    auto key = std::make_pair(h.src.node, h.src.idx);
    if (auto it = padded_.find(key); it != padded_.end())
      return it->second;
    const Projection p = *projectionOf(h.src);
    const int64_t C = h.src.type().dims()[1], pieces = h.parts * h.H;
    const int64_t Cw = pieces * w;
    // Old column of new column j, or -1 at the padding.
    auto from = [&](int64_t j) {
      return j % w < h.d ? j / w * h.d + j % w : int64_t(-1);
    };
    // A per-channel vector ([C] or [1, C]) with `fill` at the padding.
    auto widened = [&](const Tensor &t, int64_t fill) {
      Dims nd = t.type().dims();
      nd.back() = Cw;
      Tensor r(Type(t.elem(), nd));
      const int64_t outer = t.size() / C;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < Cw; ++j) {
          const int64_t i = from(j);
          r.setInt(o * Cw + j, i < 0 ? fill : t.getInt(o * C + i));
        }
      return r;
    };
    const Tensor &W = *p.mm->constantInput(1);
    const Tensor *wz = p.mm->hasInput(3) ? p.mm->constantInput(3) : nullptr;
    std::vector<Value> mins = p.mm->inputs;
    {
      // The weights: padding columns are the column's weight zero point.
      // (Per-column zero points: a padding column's is 0, its weights 0.)
      const int64_t K = W.type().dims()[0];
      const int64_t z = wz && wz->size() == 1 ? wz->getInt(0) : 0;
      Tensor nw(Type(W.elem(), {K, Cw}));
      for (int64_t r = 0; r < K; ++r)
        for (int64_t j = 0; j < Cw; ++j) {
          const int64_t i = from(j);
          nw.setInt(r * Cw + j, i >= 0 ? W.getInt(r * C + i) : z);
        }
      if (wz && wz->size() != 1)
        mins[3] = Value(f_.addConstant(name + ".wzp", widened(*wz, 0)));
      mins[1] = Value(f_.addConstant(name + ".weight", std::move(nw)));
    }
    EMBER_ASSIGN(Value acc, make(before, OpKind::MatMulInteger, mins,
                                 p.mm->attrs, p.mm->name));
    if (p.add) {
      std::vector<Value> ains = p.add->inputs;
      ains[0] = acc;
      ains[1] = Value(
          f_.addConstant(name + ".bias", widened(*p.add->constantInput(1), 0)));
      EMBER_ASSIGN(acc,
                   make(before, OpKind::Add, ains, p.add->attrs, p.add->name));
    }
    std::vector<Value> rins = p.rq->inputs;
    rins[0] = acc;
    for (size_t i : {size_t(1), size_t(2)}) {
      const Tensor &t = *p.rq->constantInput(i);
      if (t.size() != 1)
        rins[i] = Value(f_.addConstant(
            name + (i == 1 ? ".multiplier" : ".shift"), widened(t, 0)));
    }
    EMBER_ASSIGN(Value y, make(before, OpKind::Requantize, rins, p.rq->attrs,
                               p.rq->name));
    padded_.emplace(key, y);
    return y;
  }

  // The output projection c again on the padded heads `cat` [n, H w]: B's
  // rows at the padding are its weight zero point.
  Status padConsumer(Node &before, Node &c, Value cat, int64_t H, int64_t d,
                     int64_t w) {
    const Tensor &B = *c.constantInput(1);
    const Tensor *bz = c.hasInput(3) ? c.constantInput(3) : nullptr;
    const int64_t N = B.type().dims()[1];
    Tensor nb(Type(B.elem(), {H * w, N}));
    for (int64_t r = 0; r < H * w; ++r)
      for (int64_t j = 0; j < N; ++j)
        nb.setInt(r * N + j,
                  r % w < d ? B.getInt((r / w * d + r % w) * N + j)
                            : (!bz ? 0 : bz->getInt(bz->size() == 1 ? 0 : j)));
    std::vector<Value> ins = c.inputs;
    ins[0] = cat;
    ins[1] = Value(f_.addConstant(c.name + ".padded", std::move(nb)));
    EMBER_ASSIGN(Value y,
                 make(before, OpKind::MatMulInteger, ins, c.attrs, c.name));
    f_.replaceAllUses(Value(&c), y);
    return Status::ok();
  }

  Function &f_;
  Users users_;
  std::map<std::pair<Node *, unsigned>, Value> padded_;
  std::map<std::pair<Node *, unsigned>, std::vector<Value>> splits_;
  std::map<std::pair<Node *, unsigned>, Value> masks_;
  std::set<const Node *> gone_;
  size_t count_ = 0;
};

} // namespace unbatch_heads

Status unbatchHeads(Function &f, size_t *numRewritten) {
  unbatch_heads::Rewriter r(f);
  EMBER_ASSIGN(size_t n, r.run());
  if (numRewritten)
    *numRewritten += n;
  return Status::ok();
}

} // namespace ember

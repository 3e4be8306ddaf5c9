// Attention over the pixels of a feature map, as convolutional networks
// write it (Ultralytics' YOLO11 and YOLOv10 position-sensitive attention,
// C2PSA/PSA; fixed-point profiles; docs/quantization.md, "Attention over a
// feature map"), as one rank-2 chain per head over the map's pixels read
// as a sequence. The lowered QDQ block is
//
//   T       = Reshape(X [1, C, h, w] -> [1, H, g, N])        (N = h w)
//   q, k, v = Split(T, axis 2)                                (g = sum of
//             the parts' widths: q and k of d, v of e channels per head)
//   P       = IntegerSoftmax(Step*(Requantize(MatMulInteger(
//                 Transpose(q, [0, 1, 3, 2]), k))), last axis)
//   O       = Reshape(Requantize(MatMulInteger(v,
//                 Transpose(P, [0, 1, 3, 2]))), [1, H e, h, w])
//   (and Reshape(v, [1, H e, h, w]): v as a map, a depthwise convolution's)
//
// Head i's parts are channels i g + [0, d), [d, 2 d) and [2 d, g) of X;
// with x_s the map read as a sequence [N, C] (Transpose [0, 2, 3, 1] and a
// Reshape: the same channel-tiled bytes on an accelerator), the scores are
// q_i^T k_i = q_s k_s^T and v P^T = (P v_s)^T, so per head
//
//   p_i = IntegerSoftmax(Step*(Requantize(MatMulInteger(q_s,
//                                          Transpose(k_s)))), axis 1)
//   o_i = Requantize(MatMulInteger(p_i, v_s))          (zero points swapped)
//   O   = Reshape(Transpose(Reshape(Concat(o_0 .. o_{H-1}, axis 1),
//                 [1, N, H e]), [0, 2, 1]), [1, H e, h, w])
//
// and v as a map is the Concat of the heads' v channels of X (a Split of
// X on the channels). Every element is the same integer sum of the same
// products, requantized the same way: the result is the batched form's,
// byte for byte. What it is for: the same rank-2 GEMMs over channel tiles
// as a transformer's heads (UnbatchHeads.cpp), where a Reshape to
// [1, H, g, N], a Split on axis 2 and the rank-4 transposes are not.
#include "lower/LowerUtil.h"
#include "lower/Lowering.h"

#include <set>

namespace ember {

// Named: a unity build puts this file's helpers next to other lowerings'.
namespace map_attention {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

// The readers of n's result `idx` (every use of that value).
std::vector<Node *> readersOf(const Users &users, const Node *n, unsigned idx) {
  std::vector<Node *> out;
  auto it = users.find(n);
  if (it == users.end())
    return out;
  for (const Use &u : it->second)
    if (u.user && u.user->inputs[size_t(u.operand)].node == n &&
        u.user->inputs[size_t(u.operand)].idx == idx)
      out.push_back(u.user);
  return out;
}

// The one reader of n (of any result), or null; also null when n is a
// function output.
Node *onlyReader(const Users &users, const Node *n) {
  auto it = users.find(n);
  if (it == users.end() || it->second.size() != 1 || !it->second[0].user)
    return nullptr;
  return it->second[0].user;
}

bool perTensorConstants(const Node &n) {
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (n.hasInput(i)) {
      const Tensor *t = n.constantInput(i);
      if (!t || t->size() != 1)
        return false;
    }
  return true;
}

// A table or per-tensor Requantize of a stored tensor: elementwise, so it
// commutes with taking a head's slice.
bool elementwise(const Node &n) {
  return (n.kind == OpKind::TableLookup && n.constantInput(1)) ||
         (n.kind == OpKind::Requantize && perTensorConstants(n) &&
          n.inputs[0].type().elem() != ElemKind::I32);
}

bool isTranspose(const Node *n, const std::vector<int64_t> &perm) {
  return n && n->kind == OpKind::Transpose && n->attrInts("perm") == perm;
}

struct Block {
  Node *reshape = nullptr, *split = nullptr; // T and its Split
  Node *qt = nullptr, *s = nullptr, *rq = nullptr;
  std::vector<Node *> steps;
  Node *sm = nullptr, *pt = nullptr, *o = nullptr, *rq2 = nullptr;
  Node *out = nullptr;
  std::vector<Node *> vmaps; // Reshapes of v to the map
  unsigned iq = 0, ik = 0, iv = 0;
  int64_t H = 0, h = 0, w = 0, N = 0;
  std::vector<int64_t> widths; // the Split's part widths
};

std::optional<Block> match(const Users &users, Node &s) {
  Block b;
  b.s = &s;
  const Dims &sd = s.types[0].dims();
  if (sd.size() != 4 || sd[0] != 1 || sd[2] != sd[3])
    return std::nullopt;
  b.qt = s.inputs[0].node;
  if (!isTranspose(b.qt, {0, 1, 3, 2}) || onlyReader(users, b.qt) != &s)
    return std::nullopt;
  Node *sp = b.qt->inputs[0].node;
  if (!sp || sp->kind != OpKind::Split || s.inputs[1].node != sp ||
      sp->attrInt("axis", 0) != 2 || sp->types.size() < 3)
    return std::nullopt;
  b.split = sp;
  b.iq = b.qt->inputs[0].idx;
  b.ik = s.inputs[1].idx;
  Node *r = sp->inputs[0].node;
  if (!r || r->kind != OpKind::Reshape || onlyReader(users, r) != sp)
    return std::nullopt;
  b.reshape = r;
  const Dims &xd = r->inputs[0].type().dims(), &td = r->types[0].dims();
  if (xd.size() != 4 || xd[0] != 1 || td.size() != 4 || td[0] != 1 ||
      td[1] * td[2] != xd[1] || td[3] != xd[2] * xd[3] || td[3] != sd[2])
    return std::nullopt;
  b.H = td[1], b.h = xd[2], b.w = xd[3], b.N = td[3];
  for (const Type &t : sp->types)
    b.widths.push_back(t.dims()[2]);
  // The scores' chain to the softmax.
  b.rq = onlyReader(users, &s);
  if (!b.rq || b.rq->kind != OpKind::Requantize || !perTensorConstants(*b.rq))
    return std::nullopt;
  Node *at = b.rq;
  for (Node *t = onlyReader(users, at);
       t && elementwise(*t) && t->inputs[0] == Value(at);
       t = onlyReader(users, at)) {
    b.steps.push_back(t);
    at = t;
  }
  b.sm = onlyReader(users, at);
  if (!b.sm || b.sm->kind != OpKind::IntegerSoftmax ||
      (b.sm->attrInt("axis", -1) != 3 && b.sm->attrInt("axis", -1) != -1))
    return std::nullopt;
  b.pt = onlyReader(users, b.sm);
  if (!isTranspose(b.pt, {0, 1, 3, 2}))
    return std::nullopt;
  b.o = onlyReader(users, b.pt);
  if (!b.o || b.o->kind != OpKind::MatMulInteger ||
      b.o->inputs[1] != Value(b.pt) || b.o->inputs[0].node != sp)
    return std::nullopt;
  b.iv = b.o->inputs[0].idx;
  if (b.iq == b.ik || b.iq == b.iv || b.ik == b.iv ||
      b.widths[b.iq] != b.widths[b.ik])
    return std::nullopt;
  b.rq2 = onlyReader(users, b.o);
  if (!b.rq2 || b.rq2->kind != OpKind::Requantize ||
      !perTensorConstants(*b.rq2))
    return std::nullopt;
  b.out = onlyReader(users, b.rq2);
  const int64_t C = b.H * b.widths[b.iv];
  const Dims map{1, C, b.h, b.w};
  if (!b.out || b.out->kind != OpKind::Reshape || b.out->types[0].dims() != map)
    return std::nullopt;
  // Every part read by the block alone, v also as a map.
  for (unsigned i = 0; i < sp->types.size(); ++i)
    for (Node *u : readersOf(users, sp, i)) {
      if ((i == b.iq && u == b.qt) || (i == b.ik && u == &s) ||
          (i == b.iv && u == b.o))
        continue;
      if (i == b.iv && u->kind == OpKind::Reshape &&
          u->types[0].dims() == map) {
        b.vmaps.push_back(u);
        continue;
      }
      return std::nullopt;
    }
  return b;
}

class Rewriter {
public:
  explicit Rewriter(Function &f) : f_(f) {}

  Expected<size_t> run() {
    std::vector<Node *> work;
    for (auto &np : f_.nodes())
      if (np->kind == OpKind::MatMulInteger)
        work.push_back(np.get());
    size_t count = 0;
    for (Node *m : work) {
      if (gone_.count(m))
        continue;
      auto b = match(f_.computeUsers(), *m);
      if (!b)
        continue;
      EMBER_TRY(rewrite(*b));
      ++count;
    }
    return count;
  }

private:
  Expected<Value> make(OpKind k, std::vector<Value> ins, AttrMap attrs,
                       const std::string &name) {
    return makeBefore(f_, before_, k, std::move(ins), std::move(attrs), name);
  }
  Value ints(const std::string &name, const std::vector<int64_t> &v) {
    return int64Constant(f_, name, v);
  }
  // Node n again on new first inputs (its other inputs kept).
  Expected<Value> again(const Node &n, std::vector<Value> ins) {
    for (size_t i = ins.size(); i < n.inputs.size(); ++i)
      ins.push_back(n.inputs[i]);
    return make(n.kind, std::move(ins), n.attrs, n.name);
  }
  // x split on axis 1 into every head's parts, in head order.
  Expected<Node *> splitHeads(Value x, const Block &b,
                              const std::string &name) {
    std::vector<int64_t> sizes;
    for (int64_t i = 0; i < b.H; ++i)
      sizes.insert(sizes.end(), b.widths.begin(), b.widths.end());
    return f_.create(OpKind::Split, {x, ints(name + ".split", sizes)},
                     {{"axis", Attr::ofInt(1)}}, name, int(sizes.size()),
                     before_);
  }

  Status rewrite(const Block &b) {
    before_ = b.out;
    const std::string &nm = b.s->name;
    const Value x = b.reshape->inputs[0];
    const int64_t C = x.type().dims()[1], P = int64_t(b.widths.size());
    // The map as a sequence [N, C], split into the heads' parts.
    EMBER_ASSIGN(Value xt,
                 make(OpKind::Transpose, {x},
                      {{"perm", Attr::ofInts({0, 2, 3, 1})}}, nm + ".tokens"));
    EMBER_ASSIGN(Value xs, make(OpKind::Reshape,
                                {xt, ints(nm + ".tokens.shape", {b.N, C})}, {},
                                nm + ".tokens"));
    EMBER_ASSIGN(Node * parts, splitHeads(xs, b, nm + ".heads"));
    // v's zero point moves to B, P's (0 when absent) to A.
    const Node &o = *b.o;
    Value zp = o.hasInput(3) ? o.inputs[3] : Value();
    if (!zp && o.hasInput(2))
      zp = Value(f_.addConstant(o.name + ".p_zero_point",
                                Tensor::scalar(b.sm->types[0].elem(), 0.0)));
    std::vector<Value> heads;
    for (int64_t i = 0; i < b.H; ++i) {
      const Value q(parts, unsigned(i * P + b.iq)),
          k(parts, unsigned(i * P + b.ik)), v(parts, unsigned(i * P + b.iv));
      EMBER_ASSIGN(Value kt, make(OpKind::Transpose, {k},
                                  {{"perm", Attr::ofInts({1, 0})}}, nm));
      EMBER_ASSIGN(Value r, again(*b.s, {q, kt}));
      EMBER_ASSIGN(r, again(*b.rq, {r}));
      for (Node *st : b.steps) {
        EMBER_ASSIGN(r, again(*st, {r}));
      }
      AttrMap sa = b.sm->attrs;
      sa["axis"] = Attr::ofInt(1);
      EMBER_ASSIGN(Value p, make(OpKind::IntegerSoftmax, {r}, sa, b.sm->name));
      std::vector<Value> ins{p, v};
      if (zp || o.hasInput(2))
        ins.push_back(zp);
      if (o.hasInput(2))
        ins.push_back(o.inputs[2]);
      EMBER_ASSIGN(Value ov, make(OpKind::MatMulInteger, ins, o.attrs, o.name));
      EMBER_ASSIGN(Value r2, again(*b.rq2, {ov}));
      heads.push_back(r2);
    }
    const int64_t E = b.H * b.widths[b.iv];
    EMBER_ASSIGN(Value cat, make(OpKind::Concat, heads,
                                 {{"axis", Attr::ofInt(1)}}, b.out->name));
    EMBER_ASSIGN(Value seq, make(OpKind::Reshape,
                                 {cat, ints(b.out->name + ".seq", {1, b.N, E})},
                                 {}, b.out->name));
    EMBER_ASSIGN(Value back,
                 make(OpKind::Transpose, {seq},
                      {{"perm", Attr::ofInts({0, 2, 1})}}, b.out->name));
    EMBER_ASSIGN(Value res,
                 make(OpKind::Reshape,
                      {back, ints(b.out->name + ".map", {1, E, b.h, b.w})}, {},
                      b.out->name));
    f_.replaceAllUses(Value(b.out), res);
    // v as a map: the heads' v channels of X.
    if (!b.vmaps.empty()) {
      before_ = b.vmaps.front();
      EMBER_ASSIGN(Node * maps, splitHeads(x, b, nm + ".v"));
      Value vmap(maps, b.iv);
      if (b.H > 1) {
        std::vector<Value> vs;
        for (int64_t i = 0; i < b.H; ++i)
          vs.push_back(Value(maps, unsigned(i * P + b.iv)));
        EMBER_ASSIGN(vmap, make(OpKind::Concat, vs, {{"axis", Attr::ofInt(1)}},
                                nm + ".v"));
      }
      for (Node *u : b.vmaps)
        f_.replaceAllUses(Value(u), vmap);
    }
    for (Node *nd : b.vmaps)
      eraseUnread(f_, nd, gone_);
    eraseUnread(f_, b.out, gone_, true);
    return Status::ok();
  }

  Function &f_;
  Node *before_ = nullptr;
  std::set<const Node *> gone_;
};

} // namespace map_attention

Status mapAttentionHeads(Function &f, size_t *numRewritten) {
  map_attention::Rewriter r(f);
  EMBER_ASSIGN(size_t n, r.run());
  if (numRewritten)
    *numRewritten += n;
  return Status::ok();
}

} // namespace ember

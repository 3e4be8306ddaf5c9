// A softmax over groups of channels read by a one-channel 1x1 convolution
// (docs/quantization.md, "Softmax over channel groups"): the distribution
// of a box side over B bins (YOLOv8's DFL, as Ultralytics exports it), in
// the lowered QDQ graph
//
//   t = Transpose(Reshape(x [1, G B, N] -> [1, G, B, N]), [0, 2, 1, 3])
//       (x of any rank whose dims past the channels hold N pixels)
//   s = IntegerSoftmax(t, axis 1)                         [1, B, G, N]
//   y = Requantize([Add(] ConvInteger(s, w [1, B, 1, 1]) [, bias)])
//                                                         [1, 1, G, N]
//
// becomes, with x as the map [1, G B, 1, N] and x_g its channels
// [g B, (g + 1) B) (a Split on the channels),
//
//   s_g = IntegerSoftmax(x_g, axis 1)
//   y'  = Requantize([Add(] ConvInteger(Concat(s_0 .. s_{G-1}),
//                                       w repeated G times, group G) [, ...])
//   y   = Reshape(y' [1, G, 1, N] -> y's shape)
//
// Element (0, b, g, n) of t is x's channel g B + b at pixel n, so each
// softmax row is the same B integers, and output g of the grouped
// convolution sums the same products in the same order as y's (0, 0, g, n):
// the result is the original's, byte for byte. What it is for: a backend's
// layers hold the channels in lanes; the original puts the bins on axis 1
// only through a Transpose across them, while here every step keeps x's
// channels where its producer stored them (a Split and a Concat at whole
// groups, a softmax along the channels, a grouped convolution).
#include "lower/LowerUtil.h"
#include "lower/Lowering.h"

namespace ember {

// Named: a unity build puts this file's helpers next to other lowerings'.
namespace group_softmax {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

// The one reader of n's only result, or null.
Node *soleReader(const Users &users, const Node *n) {
  auto it = users.find(n);
  if (it == users.end() || it->second.size() != 1)
    return nullptr;
  return it->second[0].user;
}

// Whether input i of n is absent or a constant of one element (the same for
// every output channel).
bool oneValue(const Node &n, size_t i) {
  if (!n.hasInput(i))
    return true;
  const Tensor *t = n.constantInput(i);
  return t && t->size() == 1;
}

class Rewriter {
public:
  explicit Rewriter(Function &f) : f_(f) {}

  Expected<size_t> run() {
    std::vector<Node *> work;
    for (auto &np : f_.nodes())
      if (np->kind == OpKind::IntegerSoftmax)
        work.push_back(np.get());
    size_t n = 0;
    for (Node *s : work) {
      EMBER_ASSIGN(bool done, rewrite(*s));
      n += done;
    }
    return n;
  }

private:
  Function &f_;

  Value ints(const std::string &name, const std::vector<int64_t> &v) {
    return Value(f_.addConstant(name, Tensor::fromInts(ElemKind::I64, v)));
  }

  Expected<Value> make(Node &before, OpKind k, std::vector<Value> ins,
                       AttrMap attrs, const std::string &name,
                       int results = -1) {
    EMBER_ASSIGN(Node * nd, f_.create(k, std::move(ins), std::move(attrs), name,
                                      results, &before));
    return Value(nd);
  }

  // A one-element constant operand per output channel of G: itself when it
  // is a scalar (it broadcasts), else G copies of its value.
  Value perGroup(Value v, int64_t G, const std::string &name) {
    const Tensor *t = constantOf(v);
    if (!t || t->dims().empty())
      return v;
    Tensor r(Type(t->elem(), Dims{G}));
    for (int64_t g = 0; g < G; ++g)
      r.setInt(g, t->getInt(0));
    return Value(f_.addConstant(name, std::move(r)));
  }

  Expected<bool> rewrite(Node &s) {
    auto users = f_.computeUsers();
    const Dims &sd = s.types[0].dims();
    if (sd.size() != 4 || sd[0] != 1 || s.attrInt("axis", -1) != 1)
      return false;
    Node *t = s.inputs[0].node;
    if (!t || t->kind != OpKind::Transpose || soleReader(users, t) != &s ||
        t->attrInts("perm") != std::vector<int64_t>{0, 2, 1, 3})
      return false;
    Node *r = t->inputs[0].node;
    if (!r || r->kind != OpKind::Reshape || soleReader(users, r) != t)
      return false;
    const Value x = r->inputs[0];
    const Dims &xd = x.type().dims();
    // (x any [1, G B, ...] of N pixels: a map flattened or not.)
    const int64_t B = sd[1], G = sd[2], N = sd[3];
    int64_t pixels = 1;
    for (size_t i = 2; i < xd.size(); ++i)
      pixels *= xd[i];
    if (xd.size() < 2 || xd[0] != 1 || xd[1] != G * B || pixels != N)
      return false;
    // The one-channel 1x1 convolution of the softmax, its bias, its
    // requantization.
    Node *conv = soleReader(users, &s);
    if (!conv || conv->kind != OpKind::ConvInteger ||
        conv->inputs[0] != Value(&s))
      return false;
    const Tensor *w = constantOf(conv->inputs[1]);
    if (!w || w->dims() != Dims{1, B, 1, 1} || conv->attrInt("group", 1) != 1 ||
        !oneValue(*conv, 2) || !oneValue(*conv, 3))
      return false;
    for (const char *a : {"strides", "dilations", "pads"})
      for (int64_t v : conv->attrInts(a))
        if (v != (std::string(a) == "pads" ? 0 : 1))
          return false;
    if (conv->attrString("auto_pad", "NOTSET") != "NOTSET" &&
        conv->attrString("auto_pad", "NOTSET") != "VALID")
      return false;
    Node *add = soleReader(users, conv), *rq = add;
    if (add && add->kind == OpKind::Add) {
      if (add->inputs[0] != Value(conv) || !oneValue(*add, 1))
        return false;
      rq = soleReader(users, add);
    } else {
      add = nullptr;
    }
    if (!rq || rq->kind != OpKind::Requantize ||
        rq->inputs[0] != Value(add ? add : conv))
      return false;
    for (size_t i = 1; i < rq->inputs.size(); ++i)
      if (!oneValue(*rq, i))
        return false;

    const std::string name = s.name.empty() ? "group_softmax" : s.name;
    EMBER_ASSIGN(Value map,
                 make(*r, OpKind::Reshape,
                      {x, ints(name + ".map", {1, G * B, 1, N})}, {}, name));
    EMBER_ASSIGN(Node * sp,
                 f_.create(OpKind::Split,
                           {map, ints(name + ".groups",
                                      std::vector<int64_t>(size_t(G), B))},
                           {{"axis", Attr::ofInt(1)}}, name, int(G), &s));
    std::vector<Value> rows;
    for (int64_t g = 0; g < G; ++g) {
      EMBER_ASSIGN(Value p, make(s, OpKind::IntegerSoftmax,
                                 {Value(sp, unsigned(g))}, s.attrs, name));
      rows.push_back(p);
    }
    EMBER_ASSIGN(Value cat, make(s, OpKind::Concat, rows,
                                 {{"axis", Attr::ofInt(1)}}, name));
    Tensor wg(Type(w->elem(), Dims{G, B, 1, 1}));
    for (int64_t g = 0; g < G; ++g)
      for (int64_t b = 0; b < B; ++b)
        wg.setInt(g * B + b, w->getInt(b));
    std::vector<Value> ci = conv->inputs;
    ci[0] = cat;
    ci[1] = Value(f_.addConstant(conv->name + ".grouped", std::move(wg)));
    if (conv->hasInput(3))
      ci[3] = perGroup(ci[3], G, conv->name + ".w_zero_point");
    AttrMap ca = conv->attrs;
    ca["group"] = Attr::ofInt(G);
    EMBER_ASSIGN(Value y, make(*rq, OpKind::ConvInteger, ci, ca, conv->name));
    if (add) {
      EMBER_ASSIGN(y, make(*rq, OpKind::Add, {y, add->inputs[1]}, add->attrs,
                           add->name));
    }
    std::vector<Value> ri = rq->inputs;
    ri[0] = y;
    for (size_t i = 1; i < ri.size(); ++i)
      if (rq->hasInput(i))
        ri[i] = perGroup(ri[i], G, rq->name + ".in" + std::to_string(i));
    EMBER_ASSIGN(y, make(*rq, OpKind::Requantize, ri, rq->attrs, rq->name));
    // A Reshape reading the result alone takes y' directly (one Reshape
    // that keeps dim 1 and the pixel order); else y' as y's shape.
    Node *out = soleReader(users, rq);
    if (out && out->kind == OpKind::Reshape && out->inputs[0] == Value(rq)) {
      EMBER_ASSIGN(Value o,
                   make(*out, OpKind::Reshape,
                        {y, ints(out->name + ".shape", out->types[0].dims())},
                        {}, out->name));
      f_.replaceAllUses(Value(out), o);
      erase(out);
    } else {
      EMBER_ASSIGN(Value o,
                   make(*rq, OpKind::Reshape,
                        {y, ints(rq->name + ".shape", rq->types[0].dims())}, {},
                        rq->name));
      f_.replaceAllUses(Value(rq), o);
    }
    for (Node *nd : {rq, add, conv, &s, t, r})
      if (nd)
        erase(nd);
    return true;
  }

  // Erases nd when nothing reads it, and then the constants it alone read.
  void erase(Node *nd) {
    auto users = f_.computeUsers();
    auto it = users.find(nd);
    if (it != users.end() && !it->second.empty())
      return;
    std::vector<Node *> ins;
    for (const Value &v : nd->inputs)
      if (v.node && v.node->kind == OpKind::Constant)
        ins.push_back(v.node);
    f_.erase(nd);
    for (Node *c : ins)
      erase(c);
  }
};

} // namespace group_softmax

Status splitGroupSoftmax(Function &f, size_t *numRewritten) {
  group_softmax::Rewriter r(f);
  EMBER_ASSIGN(size_t n, r.run());
  if (numRewritten)
    *numRewritten += n;
  return Status::ok();
}

} // namespace ember

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

// Whether input i of n is absent or a constant of one element (the same for
// every output channel).
bool oneValue(const Node &n, size_t i) {
  if (!n.hasInput(i))
    return true;
  const Tensor *t = n.constantInput(i);
  return t && t->size() == 1;
}

// A one-element constant operand per output channel of G: itself when it is
// a scalar (it broadcasts), else G copies of its value.
Value perGroup(LoweringBuilder &b, Value v, int64_t G,
               const std::string &what) {
  const Tensor *t = constantOf(v);
  if (!t || t->dims().empty())
    return v;
  Tensor r(Type(t->elem(), Dims{G}));
  for (int64_t g = 0; g < G; ++g)
    r.setInt(g, t->getInt(0));
  return b.constant(std::move(r), what);
}

// Whether the convolution reading the softmax is a one-channel 1x1 one of
// B input channels (no strides, dilations or pads), its weight and zero
// points constants.
bool binConvolution(const Node &conv, Node &s, int64_t B) {
  const Tensor *w = constantOf(conv.inputs[1]);
  if (conv.kind != OpKind::ConvInteger || conv.inputs[0] != Value(&s) || !w ||
      w->dims() != Dims{1, B, 1, 1} || conv.attrInt("group", 1) != 1 ||
      !oneValue(conv, 2) || !oneValue(conv, 3))
    return false;
  for (const char *a : {"strides", "dilations", "pads"})
    for (int64_t v : conv.attrInts(a))
      if (v != (std::string(a) == "pads" ? 0 : 1))
        return false;
  const std::string pad = conv.attrString("auto_pad", "NOTSET");
  return pad == "NOTSET" || pad == "VALID";
}

Expected<bool> rewrite(Function &f, Node &s) {
  auto users = f.computeUsers();
  const Dims &sd = s.types[0].dims();
  if (sd.size() != 4 || sd[0] != 1 || s.attrInt("axis", -1) != 1)
    return false;
  Node *t = s.inputs[0].node;
  if (!t || t->kind != OpKind::Transpose || soleReaderOf(users, t) != &s ||
      t->attrInts("perm") != std::vector<int64_t>{0, 2, 1, 3})
    return false;
  Node *r = t->inputs[0].node;
  if (!r || r->kind != OpKind::Reshape || soleReaderOf(users, r) != t)
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
  // The convolution of the softmax, its bias, its requantization.
  Node *conv = soleReaderOf(users, &s);
  if (!conv || !binConvolution(*conv, s, B))
    return false;
  Node *add = soleReaderOf(users, conv), *rq = add;
  if (add && add->kind == OpKind::Add) {
    if (add->inputs[0] != Value(conv) || !oneValue(*add, 1))
      return false;
    rq = soleReaderOf(users, add);
  } else {
    add = nullptr;
  }
  if (!rq || rq->kind != OpKind::Requantize ||
      rq->inputs[0] != Value(add ? add : conv))
    return false;
  for (size_t i = 1; i < rq->inputs.size(); ++i)
    if (!oneValue(*rq, i))
      return false;

  LoweringBuilder b(f, *rq);
  EMBER_ASSIGN(Value map, b.op(OpKind::Reshape, {x, b.ints({1, G * B, 1, N})}));
  EMBER_ASSIGN(std::vector<Value> parts,
               b.opN(OpKind::Split,
                     {map, b.ints(std::vector<int64_t>(size_t(G), B))},
                     {{"axis", Attr::ofInt(1)}}, int(G)));
  std::vector<Value> rows;
  for (Value part : parts) {
    EMBER_ASSIGN(Value p, b.op(OpKind::IntegerSoftmax, {part}, s.attrs));
    p.node->name = s.name.empty() ? "group_softmax" : s.name;
    rows.push_back(p);
  }
  EMBER_ASSIGN(Value cat,
               b.op(OpKind::Concat, rows, {{"axis", Attr::ofInt(1)}}));
  const Tensor *w = constantOf(conv->inputs[1]);
  Tensor wg(Type(w->elem(), Dims{G, B, 1, 1}));
  for (int64_t g = 0; g < G; ++g)
    for (int64_t k = 0; k < B; ++k)
      wg.setInt(g * B + k, w->getInt(k));
  std::vector<Value> ci = conv->inputs;
  ci[0] = cat;
  ci[1] = b.constant(std::move(wg), "grouped");
  if (conv->hasInput(3))
    ci[3] = perGroup(b, ci[3], G, "w_zero_point");
  AttrMap ca = conv->attrs;
  ca["group"] = Attr::ofInt(G);
  EMBER_ASSIGN(Value y, b.op(OpKind::ConvInteger, ci, ca));
  if (add) {
    EMBER_ASSIGN(y, b.op(OpKind::Add, {y, add->inputs[1]}, add->attrs));
  }
  std::vector<Value> ri = rq->inputs;
  ri[0] = y;
  for (size_t i = 1; i < ri.size(); ++i)
    if (rq->hasInput(i))
      ri[i] = perGroup(b, ri[i], G, "requant" + std::to_string(i));
  EMBER_ASSIGN(y, b.op(OpKind::Requantize, ri, rq->attrs));
  // A Reshape reading the result alone takes y' directly (one Reshape that
  // keeps dim 1 and the pixel order); else y' as y's shape.
  std::set<const Node *> gone;
  Node *out = soleReaderOf(users, rq);
  if (out && out->kind == OpKind::Reshape && out->inputs[0] == Value(rq)) {
    EMBER_ASSIGN(Value o,
                 b.op(OpKind::Reshape, {y, b.ints(out->types[0].dims())}));
    f.replaceAllUses(Value(out), o);
    eraseUnread(f, out, gone);
  } else {
    EMBER_ASSIGN(Value o,
                 b.op(OpKind::Reshape, {y, b.ints(rq->types[0].dims())}));
    f.replaceAllUses(Value(rq), o);
  }
  for (Node *nd : {rq, add, conv, &s, t, r})
    if (nd)
      eraseUnread(f, nd, gone);
  return true;
}

} // namespace group_softmax

Status splitGroupSoftmax(Function &f, size_t *numRewritten) {
  std::vector<Node *> work;
  for (auto &np : f.nodes())
    if (np->kind == OpKind::IntegerSoftmax)
      work.push_back(np.get());
  for (Node *s : work) {
    EMBER_ASSIGN(bool done, group_softmax::rewrite(f, *s));
    if (numRewritten)
      *numRewritten += done;
  }
  return Status::ok();
}

} // namespace ember

// A Split along the channels of an integer convolution's requantized
// result (or of lookup tables of it: its activation), read by nothing
// else, becomes one convolution (and its tables) per part
// (docs/quantization.md, "Split of a layer's result"): ConvInteger (group
// 1) -> [Add of a constant bias] -> Requantize -> Split(axis 1) computes
// each output channel from its own weights, bias, multiplier and shift, so
// part [c0, c1) is the same three ops with those rows. Exact (the same
// integers), and a backend whose layers write whole channel groups then
// has no channel offset to move: detection heads split one convolution's
// classes from its box regression at any channel (PicoDet at 10).
#include "lower/IntegerForms.h"

namespace ember {

namespace {

// Rows [c0, c1) of t along `axis`.
Tensor sliceRows(const Tensor &t, size_t axis, int64_t c0, int64_t c1) {
  Dims d = t.dims();
  int64_t inner = 1;
  for (size_t i = axis + 1; i < d.size(); ++i)
    inner *= d[i];
  int64_t rows = d[axis], outer = t.size() / (rows * inner);
  d[axis] = c1 - c0;
  Tensor out(Type(t.elem(), d));
  int64_t k = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t r = c0; r < c1; ++r)
      for (int64_t i = 0; i < inner; ++i)
        out.setInt(k++, t.getInt((o * rows + r) * inner + i));
  return out;
}

// The channel axis of constant operand t of a node whose result is
// [N, K, ...] of rank `rank` (broadcast from the right), or -1 when t is
// the same for every channel (one element).
int channelAxis(const Tensor &t, size_t rank, int64_t k, bool perChannel1d) {
  if (t.size() == 1)
    return -1;
  if (perChannel1d && t.dims().size() == 1 && t.dim(0) == k)
    return 0;
  size_t r = t.dims().size();
  if (r + 1 < rank || r > rank)
    return -2;
  size_t a = r - (rank - 1);
  if (t.dim(a) != k || t.size() != k)
    return -2;
  return int(a);
}

class SplitLayers {
public:
  explicit SplitLayers(Function &f) : f_(f) {}

  Expected<size_t> run() {
    std::vector<Node *> work;
    for (auto &np : f_.nodes())
      if (np->kind == OpKind::Split)
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

  // A constant operand cut to rows [c0, c1) (itself when it is one value
  // for every channel); empty when its shape is not per channel.
  std::optional<Value> part(LoweringBuilder &b, Value v, size_t rank, int64_t k,
                            bool perChannel1d, int64_t c0, int64_t c1) {
    if (!v.node)
      return v;
    const Tensor *t = constantOf(v);
    if (!t)
      return std::nullopt;
    int a = channelAxis(*t, rank, k, perChannel1d);
    if (a == -1)
      return v;
    if (a < 0)
      return std::nullopt;
    return b.constant(sliceRows(*t, size_t(a), c0, c1), "part");
  }

  // Every constant operand of the layer can be cut by channel.
  static bool cuttable(Value v, size_t rank, int64_t k, bool perChannel1d) {
    if (!v.node)
      return true;
    const Tensor *t = constantOf(v);
    return t && channelAxis(*t, rank, k, perChannel1d) != -2;
  }

  Expected<bool> rewrite(Node &s) {
    if (s.attrInt("axis", 0) != 1 || s.inputs[0].type().rank() != 4)
      return false;
    auto us = f_.computeUsers();
    // Lookup tables between the layer and the Split (its activation) apply
    // to each part alike.
    std::vector<Node *> tables;
    Node *rq = s.inputs[0].node, *reader = &s;
    while (rq && rq->kind == OpKind::TableLookup &&
           soleReaderOf(us, rq) == reader && constantOf(rq->inputs[1])) {
      tables.insert(tables.begin(), rq);
      reader = rq;
      rq = rq->inputs[0].node;
    }
    if (!rq || rq->kind != OpKind::Requantize || soleReaderOf(us, rq) != reader)
      return false;
    Node *add = rq->inputs[0].node, *conv = add;
    if (add && add->kind == OpKind::Add) {
      if (soleReaderOf(us, add) != rq || !constantOf(add->inputs[1]))
        return false;
      conv = add->inputs[0].node;
    } else {
      add = nullptr;
    }
    if (!conv || conv->kind != OpKind::ConvInteger ||
        soleReaderOf(us, conv) != (add ? add : rq) ||
        conv->attrInt("group", 1) != 1 || !constantOf(conv->inputs[1]))
      return false;
    const int64_t k = conv->types[0].dims()[1];
    const Tensor *w = constantOf(conv->inputs[1]);
    if (w->dims().empty() || w->dim(0) != k ||
        (conv->hasInput(3) && !cuttable(conv->inputs[3], 4, k, true)) ||
        (add && !cuttable(add->inputs[1], 4, k, false)))
      return false;
    for (size_t i = 1; i < rq->inputs.size(); ++i)
      if (!cuttable(rq->inputs[i], 4, k, true))
        return false;
    std::vector<int64_t> sizes;
    for (auto &t : s.types)
      sizes.push_back(t.dims()[1]);
    int64_t total = 0;
    for (int64_t len : sizes)
      total += len;
    if (total != k)
      return false;
    LoweringBuilder b(f_, s);
    std::vector<Value> outs;
    int64_t c0 = 0;
    for (int64_t len : sizes) {
      int64_t c1 = c0 + len;
      std::vector<Value> ci = conv->inputs, ri = rq->inputs;
      ci[1] = b.constant(sliceRows(*w, 0, c0, c1), "weights");
      if (conv->hasInput(3))
        ci[3] = *part(b, ci[3], 4, k, true, c0, c1);
      EMBER_ASSIGN(Value y, b.op(OpKind::ConvInteger, ci, conv->attrs));
      if (add) {
        EMBER_ASSIGN(y, b.op(OpKind::Add, {y, *part(b, add->inputs[1], 4, k,
                                                    false, c0, c1)}));
      }
      ri[0] = y;
      for (size_t i = 1; i < ri.size(); ++i)
        ri[i] = *part(b, ri[i], 4, k, true, c0, c1);
      EMBER_ASSIGN(y, b.op(OpKind::Requantize, ri, rq->attrs));
      for (Node *t : tables) {
        EMBER_ASSIGN(y, b.op(OpKind::TableLookup, {y, t->inputs[1]}, t->attrs));
      }
      outs.push_back(y);
      c0 = c1;
    }
    for (size_t i = 0; i < outs.size(); ++i)
      f_.replaceAllUses(Value(&s, unsigned(i)), outs[i]);
    f_.erase(&s);
    for (auto it = tables.rbegin(); it != tables.rend(); ++it)
      f_.erase(*it);
    f_.erase(rq);
    if (add)
      f_.erase(add);
    f_.erase(conv);
    return true;
  }
};

} // namespace

Status splitLayers(Function &f, size_t *numRewritten) {
  SplitLayers s(f);
  EMBER_ASSIGN(size_t n, s.run());
  if (numRewritten)
    *numRewritten += n;
  return Status::ok();
}

} // namespace ember

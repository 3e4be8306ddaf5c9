// A Split inside a float island: a quantizer of convolutions only writes
// a C2f block's SiLU (x * Sigmoid(x) of a convolution's dequantized result)
// in float and splits the float product at half its channels, one part
// quantized for the next convolution, the other concatenated in float with
// other islands' results. quantizeFloatIslands leaves an island with a
// Split whole (a multi-result op read from several places), so it runs on
// the host. This pass splits the stored integers instead (docs/
// quantization.md, "Split inside a float island"): a Split whose input is
// computed by float elementwise ops from one DequantizeLinear of one scale
// and zero point (the other operands scalar constants), none read by
// anything else, becomes a Split of the DequantizeLinear's input and a copy
// of the elementwise ops per part. Each part is then an island of one
// tensor like any other. Exact: every element is the same function of the
// same stored integer.
//
// The same for channel Slices: when every reader of such a cone's result is
// a Slice of its channels (axis 1, step 1, constant bounds: the halves of a
// CSP block, each quantized with its own parameters), each Slice takes the
// stored integers and gets its own copy of the ops. The cone's constants
// may then be per channel (a PRelu's slopes, [C, 1, 1]): each copy reads
// its channels of them. (A Split's cone keeps to one-value constants.)
#include "lower/LowerUtil.h"

#include <unordered_set>

namespace ember {

namespace {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

bool oneValueConstant(Value v) {
  const Tensor *t = constantOf(v);
  return t && t->size() == 1;
}

// A constant of more than one value whose only dimension above 1 lines up
// with axis 1 of a value of `dims` (numpy broadcasting).
bool channelConstant(Value v, const Dims &dims) {
  const Tensor *t = constantOf(v);
  if (!t || t->size() <= 1 || dims.size() < 2 ||
      t->dims().size() > dims.size() || !isFloatKind(t->elem()))
    return false;
  const size_t off = dims.size() - t->dims().size();
  for (size_t j = 0; j < t->dims().size(); ++j)
    if (t->dims()[j] != 1 && (off + j != 1 || t->dims()[j] != dims[1]))
      return false;
  return true;
}

// Channels [a, b) of such a constant (the same rank, axis 1's entry b - a).
Tensor channelsOf(const Tensor &t, size_t axis, int64_t a, int64_t b) {
  Dims d = t.dims();
  d[axis] = b - a;
  Tensor out(Type(t.elem(), d));
  for (int64_t i = 0; i < b - a; ++i)
    out.setDouble(i, t.getDouble(a + i));
  return out;
}

class SplitIslands {
public:
  explicit SplitIslands(Function &f) : f_(f) {}

  Expected<size_t> run() {
    std::vector<Node *> work;
    for (auto &np : f_.nodes())
      if (np->kind == OpKind::Split || np->kind == OpKind::Slice)
        work.push_back(np.get());
    size_t n = 0;
    std::unordered_set<Node *> gone;
    for (Node *s : work) {
      if (gone.count(s))
        continue;
      users_ = f_.computeUsers();
      if (s->kind == OpKind::Split) {
        EMBER_ASSIGN(bool done, rewrite(*s));
        n += done;
        continue;
      }
      std::vector<Node *> slices;
      EMBER_ASSIGN(bool done, rewriteSlices(*s, slices));
      for (Node *sl : slices)
        gone.insert(sl);
      n += done;
    }
    return n;
  }

private:
  Function &f_;
  Users users_;
  std::vector<Node *> order_; // the elementwise ops, operands first
  std::unordered_set<Node *> seen_;
  Node *dq_ = nullptr;
  bool perChannel_ = false; // channel constants allowed (Slice readers)

  // Collects v's cone of float elementwise ops down to one
  // DequantizeLinear; false when v is anything else.
  bool cone(Value v, const Dims &dims) {
    Node *n = v.node;
    if (!n)
      return false;
    if (seen_.count(n))
      return true;
    if (perTensorDequantize(n) && n->types[0].dims() == dims &&
        isFloatKind(n->types[0].elem())) {
      if (dq_ && dq_ != n)
        return false;
      dq_ = n;
      seen_.insert(n);
      return true;
    }
    if (n->numResults() != 1 || !hasProp(n->kind, P_Elementwise) ||
        n->kind == OpKind::Constant || !isFloatKind(n->types[0].elem()) ||
        n->types[0].dims() != dims)
      return false;
    seen_.insert(n);
    for (const Value &x : n->inputs)
      if (x.node && !oneValueConstant(x) &&
          !(perChannel_ && channelConstant(x, dims)) && !cone(x, dims))
        return false;
    order_.push_back(n);
    return true;
  }

  // Every op of the cone and its DequantizeLinear read only inside it (or,
  // for the top, by the Split or the Slices: `readers`).
  bool closed(const std::unordered_set<const Node *> &readers) {
    for (Node *n : seen_) {
      auto it = users_.find(n);
      if (it == users_.end())
        return false;
      for (const Use &u : it->second)
        if (!u.user || (!readers.count(u.user) && !seen_.count(u.user)))
          return false;
    }
    return true;
  }

  // The cone's ops again on `stored`, the stored integers of channels
  // [a, b) (all of them when b < 0): their channel constants cut to those.
  Expected<Value> copyCone(LoweringBuilder &b, Value stored, int64_t c0,
                           int64_t c1) {
    std::unordered_map<const Node *, Value> copy;
    std::vector<Value> di = dq_->inputs;
    di[0] = stored;
    EMBER_ASSIGN(copy[dq_], b.op(OpKind::DequantizeLinear, di, dq_->attrs));
    const Dims &dims = order_.back()->types[0].dims();
    for (Node *n : order_) {
      std::vector<Value> ni = n->inputs;
      for (Value &x : ni) {
        if (copy.count(x.node)) {
          x = copy[x.node];
        } else if (c1 >= 0 && x.node && channelConstant(x, dims)) {
          const Tensor &t = *constantOf(x);
          x = b.constant(
              channelsOf(t, 1 - (dims.size() - t.dims().size()), c0, c1));
        }
      }
      EMBER_ASSIGN(copy[n], b.op(n->kind, ni, n->attrs));
    }
    return copy[order_.back()];
  }

  // Every reader of a cone's result is a channel Slice: each Slice of the
  // stored integers, then its own copy of the cone.
  Expected<bool> rewriteSlices(Node &s, std::vector<Node *> &slices) {
    order_.clear();
    seen_.clear();
    dq_ = nullptr;
    perChannel_ = true;
    Value v = s.inputs[0];
    const Dims &dims = v.type().dims();
    std::unordered_set<const Node *> readers;
    auto it = v.node ? users_.find(v.node) : users_.end();
    if (it == users_.end() || perTensorDequantize(v.node) ||
        v.node->numResults() != 1)
      return false;
    std::vector<std::pair<int64_t, int64_t>> ranges;
    for (const Use &u : it->second) {
      int64_t a = 0, b = 0;
      if (!u.user || u.operand != 0 ||
          !channelSliceRange(*u.user, dims, a, b) || readers.count(u.user))
        return false;
      readers.insert(u.user);
      slices.push_back(u.user);
      ranges.push_back({a, b});
    }
    if (!cone(v, dims) || !dq_ || order_.empty() || order_.back() != v.node ||
        !closed(readers)) {
      slices.clear();
      return false;
    }
    for (size_t k = 0; k < slices.size(); ++k) {
      Node &sl = *slices[k];
      LoweringBuilder b(f_, sl);
      std::vector<Value> ins = sl.inputs;
      ins[0] = dq_->inputs[0];
      EMBER_ASSIGN(Value stored, b.op(OpKind::Slice, ins, sl.attrs));
      EMBER_ASSIGN(Value y,
                   copyCone(b, stored, ranges[k].first, ranges[k].second));
      f_.replaceAllUses(Value(&sl, 0), y);
    }
    for (Node *sl : slices)
      f_.erase(sl);
    for (auto r = order_.rbegin(); r != order_.rend(); ++r)
      f_.erase(*r);
    f_.erase(dq_);
    return true;
  }

  Expected<bool> rewrite(Node &s) {
    order_.clear();
    seen_.clear();
    dq_ = nullptr;
    perChannel_ = false;
    Value v = s.inputs[0];
    if (!v.node || perTensorDequantize(v.node) || !cone(v, v.type().dims()) ||
        !dq_ || !closed({&s}))
      return false;
    LoweringBuilder b(f_, s);
    std::vector<Value> ins = s.inputs;
    ins[0] = dq_->inputs[0];
    EMBER_ASSIGN(std::vector<Value> parts,
                 b.opN(OpKind::Split, ins, s.attrs, int(s.numResults())));
    for (unsigned i = 0; i < s.numResults(); ++i) {
      std::unordered_map<const Node *, Value> copy;
      std::vector<Value> di = dq_->inputs;
      di[0] = parts[i];
      EMBER_ASSIGN(copy[dq_], b.op(OpKind::DequantizeLinear, di, dq_->attrs));
      for (Node *n : order_) {
        std::vector<Value> ni = n->inputs;
        for (Value &x : ni)
          if (copy.count(x.node))
            x = copy[x.node];
        EMBER_ASSIGN(copy[n], b.op(n->kind, ni, n->attrs));
      }
      f_.replaceAllUses(Value(&s, i), copy[v.node]);
    }
    f_.erase(&s);
    for (auto it = order_.rbegin(); it != order_.rend(); ++it)
      f_.erase(*it);
    f_.erase(dq_);
    return true;
  }
};

} // namespace

Status splitFloatIslands(Function &f, size_t *numRewritten) {
  SplitIslands s(f);
  EMBER_ASSIGN(size_t n, s.run());
  if (numRewritten)
    *numRewritten += n;
  return Status::ok();
}

} // namespace ember

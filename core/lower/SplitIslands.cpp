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
#include "lower/LowerUtil.h"

#include <unordered_set>

namespace ember {

namespace {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

bool oneValueConstant(Value v) {
  const Tensor *t = constantOf(v);
  return t && t->size() == 1;
}

class SplitIslands {
public:
  explicit SplitIslands(Function &f) : f_(f) {}

  Expected<size_t> run() {
    std::vector<Node *> work;
    for (auto &np : f_.nodes())
      if (np->kind == OpKind::Split)
        work.push_back(np.get());
    size_t n = 0;
    for (Node *s : work) {
      users_ = f_.computeUsers();
      EMBER_ASSIGN(bool done, rewrite(*s));
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
      if (x.node && !oneValueConstant(x) && !cone(x, dims))
        return false;
    order_.push_back(n);
    return true;
  }

  // Every op of the cone and its DequantizeLinear read only inside it (or,
  // for the top, by the Split).
  bool closed(const Node &s) {
    for (Node *n : seen_) {
      auto it = users_.find(n);
      if (it == users_.end())
        return false;
      for (const Use &u : it->second)
        if (!u.user || (u.user != &s && !seen_.count(u.user)))
          return false;
    }
    return true;
  }

  Expected<bool> rewrite(Node &s) {
    order_.clear();
    seen_.clear();
    dq_ = nullptr;
    Value v = s.inputs[0];
    if (!v.node || perTensorDequantize(v.node) || !cone(v, v.type().dims()) ||
        !dq_ || !closed(s))
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

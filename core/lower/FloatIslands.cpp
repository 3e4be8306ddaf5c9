// Float islands cut into quantized patterns (docs/quantization.md, "Float
// islands"). A quantizer that leaves some ops in float (ONNX Runtime's
// quantize_static for the ops it has no QDQ rule for, or one told to
// quantize only convolutions and matrix products, as PaddleSlim does)
// writes regions of float ops between DequantizeLinears (of 8-bit
// activations) and QuantizeLinears. lowerIntegerPatterns turns a region
// that depends on one dequantized tensor into one table; this pass makes
// the others into such pieces by quantizing them at the points where they
// combine, reduce or share:
//   - an operand of Mul, Add or Sub whose two sides depend on different
//     dequantized tensors (x * hardsigmoid(x) of two tensors, a float SE
//     scale times a feature map): the two sides become tables and the
//     combination a QuantizedMul or QuantizedAdd (Sub: an add of the
//     negated side);
//   - the input of a reduction (ReduceMean, ReduceSum, GlobalAveragePool):
//     the mean form; a ReduceSum and the positive scalar Mul/Div after it
//     become a ReduceMean of a DequantizeLinear whose scale carries the
//     count and the factors (exact: one rounding);
//   - a result of a combination or a reduction read by more than a clamp
//     chain to one QuantizeLinear, and a value read by a QuantizeLinear and
//     by other members (the QuantizeLinear is then the cut).
// Each cut is a QuantizeLinear -> DequantizeLinear pair of the stored kind
// of the tensors it comes from, its range the exact range of the value (a
// one-tensor piece evaluated on its 256 inputs; a combination's from its
// operands' ranges; a reduction's from its input's), zero included, as a
// calibrating quantizer would choose. An island with any part this cannot
// make into pieces (a Div or Max of two tensors, a constant that is not a
// scalar, a float result read outside the island) is left whole.
#include "lower/IntegerForms.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <unordered_map>

namespace ember {

namespace {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

bool stored8(ElemKind k) { return k == ElemKind::U8 || k == ElemKind::I8; }

bool isReduction(OpKind k) {
  return k == OpKind::ReduceMean || k == OpKind::ReduceSum ||
         k == OpKind::GlobalAveragePool;
}

// An op whose result lies within its inputs' ranges and that the integer
// patterns take between DequantizeLinears and a QuantizeLinear: a
// movement (P_Rearrange), Concat, nearest or linear Resize, max or average
// pooling. Its data inputs are cut, its other operands constants.
bool isHull(const Node &n) {
  if (n.numResults() != 1)
    return false;
  if (n.kind == OpKind::Resize) {
    std::string mode = n.attrString("mode", "nearest");
    return mode == "nearest" || mode == "linear";
  }
  return hasProp(n.kind, P_Rearrange) || n.kind == OpKind::Concat ||
         n.kind == OpKind::MaxPool || n.kind == OpKind::AveragePool;
}

// A per-tensor 8-bit QuantizeLinear (an exit the pieces can end in).
bool isExit(const Node &n) {
  if (n.kind != OpKind::QuantizeLinear)
    return false;
  auto p = quantizeParams(n);
  return p && p->perTensor() && stored8(p->kind);
}

// A scalar Constant operand (what a table's evaluation takes).
bool scalarConstant(Value v) {
  const Tensor *t = constantOf(v);
  return t && t->size() == 1;
}

bool constantValue(Value v) { return constantOf(v) != nullptr; }

struct Range {
  double lo = 0, hi = 0;
};

// Parameters of `kind` for [lo, hi] with zero inside (an asymmetric
// calibrating quantizer's choice).
QParams paramsFor(Range r, ElemKind kind) {
  double lo = std::min(r.lo, 0.0), hi = std::max(r.hi, 0.0);
  double s = (hi - lo) / 255.0;
  if (!(s > 0) || !std::isfinite(s))
    s = 1.0;
  s = double(float(s));
  int64_t z = lowestOf(kind) - int64_t(std::nearbyint(lo / s));
  z = std::max(lowestOf(kind), std::min(highestOf(kind), z));
  QParams p;
  p.scales = {s};
  p.zeroPoints = {z};
  p.kind = kind;
  return p;
}

Range rangeOf(const QParams &p) {
  return {p.scale() * double(lowestOf(p.kind) - p.zeroPoint()),
          p.scale() * double(highestOf(p.kind) - p.zeroPoint())};
}

class Islands {
public:
  explicit Islands(Function &f) : f_(f) {}

  Expected<size_t> run() {
    users_ = f_.computeUsers();
    plan();
    size_t n = 0;
    for (auto &kv : comps_)
      if (kv.second.cuts && !kv.second.bad)
        ++n;
    if (!n)
      return size_t(0);
    EMBER_TRY(apply());
    EMBER_TRY(f_.topoSort());
    return n;
  }

private:
  Function &f_;
  Users users_;

  // A float node of an island: its dequantized inputs' set ("leaves": the
  // DequantizeLinears, or members cut before it) and its component.
  struct Member {
    std::set<const Node *> leaves;
    int comp = -1;
  };
  std::unordered_map<const Node *, Member> members_;
  std::set<const Node *> leaves_; // DequantizeLinears of 8-bit activations
  std::set<const Node *> cut_;    // members whose result is cut
  std::set<const Node *> fold_;   // Mul/Div folded into a ReduceSum's scale
  struct Comp {
    bool cuts = false, bad = false;
  };
  std::map<int, Comp> comps_;
  std::vector<int> parent_;

  int find(int c) {
    while (parent_[size_t(c)] != c)
      c = parent_[size_t(c)] = parent_[size_t(parent_[size_t(c)])];
    return c;
  }
  int join(int a, int b) {
    if (a < 0)
      return b;
    if (b < 0)
      return a;
    a = find(a);
    b = find(b);
    parent_[size_t(b)] = a;
    return a;
  }
  int compOf(const Node *n) {
    auto it = members_.find(n);
    return it == members_.end() ? -1 : find(it->second.comp);
  }

  bool isLeaf(const Node *n) const { return leaves_.count(n) != 0; }
  bool isMember(const Node *n) const { return members_.count(n) != 0; }
  bool inIsland(Value v) const {
    return v.node && (isLeaf(v.node) || isMember(v.node));
  }

  const std::vector<Use> &usersOf(const Node *n) {
    static const std::vector<Use> none;
    auto it = users_.find(n);
    return it == users_.end() ? none : it->second;
  }

  // The leaves of island value v: {v} for a leaf or a cut member.
  std::set<const Node *> leavesOf(Value v) {
    if (isLeaf(v.node) || cut_.count(v.node))
      return {v.node};
    return members_.at(v.node).leaves;
  }

  // v's readers are a chain of clamps (sole readers) ending in one exit.
  bool clampsToExit(const Node *n) {
    for (;;) {
      const auto &us = usersOf(n);
      if (us.size() != 1 || !us[0].user)
        return false;
      const Node *u = us[0].user;
      if (isExit(*u))
        return true;
      if (meanStep(n, u)) {
        n = u;
        continue;
      }
      double lo, hi;
      if (!clampBounds(*u, lo, hi) ||
          u->inputs[0] != Value(const_cast<Node *>(n), 0))
        return false;
      n = u;
    }
  }

  // u, the sole reader of n, continues n's ReduceMean: a chain of them is
  // one mean (exporters write a mean over H and W as x.mean(-1).mean(-1)),
  // which the integer patterns take whole.
  static bool meanStep(const Node *n, const Node *u) {
    return n->kind == OpKind::ReduceMean && u->kind == OpKind::ReduceMean &&
           u->inputs[0] == Value(const_cast<Node *>(n), 0);
  }

  // After a ReduceSum r: its sole readers while they are Mul or Div by a
  // positive scalar constant (folded into its scale); the last of them.
  const Node *foldedTail(const Node *r, bool mark) {
    const Node *n = r;
    for (;;) {
      const auto &us = usersOf(n);
      if (us.size() != 1 || !us[0].user)
        return n;
      const Node *u = us[0].user;
      Value self(const_cast<Node *>(n), 0);
      size_t k;
      if (u->kind == OpKind::Mul)
        k = u->inputs[0] == self ? 1 : 0;
      else if (u->kind == OpKind::Div && u->inputs[0] == self)
        k = 1;
      else
        return n;
      const Tensor *c = constantOf(u->inputs[k]);
      if (!c || c->size() != 1 || !(c->getDouble(0) > 0) ||
          !std::isfinite(c->getDouble(0)) ||
          u->types[0].dims() != n->types[0].dims())
        return n;
      if (mark)
        fold_.insert(u);
      n = u;
    }
  }

  void markCut(const Node *n) {
    if (isMember(n) && !cut_.count(n)) {
      cut_.insert(n);
      comps_[compOf(n)].cuts = true;
    }
  }

  // The members, their components, and the cuts (no graph change).
  void plan() {
    for (auto &np : f_.nodes()) {
      Node *n = np.get();
      if (n->kind == OpKind::DequantizeLinear) {
        auto p = dequantizeParams(*n);
        if (p && p->perTensor() && stored8(p->kind) &&
            (!constantOf(n->inputs[0]) || combinedConstant(*n)))
          leaves_.insert(n);
        continue;
      }
      if (n->numResults() != 1 || !isFloatKind(n->types[0].elem()) ||
          n->kind == OpKind::QuantizeLinear)
        continue;
      bool reads = false;
      for (auto &in : n->inputs)
        reads = reads || inIsland(in);
      if (!reads || !(hasProp(n->kind, P_Elementwise) || isReduction(n->kind) ||
                      isHull(*n)))
        continue;
      visit(*n);
    }
    for (auto &kv : members_)
      comps_[find(kv.second.comp)];
    // Members read outside the island, exits that are not per tensor 8-bit.
    for (auto &kv : members_) {
      Comp &c = comps_[find(kv.second.comp)];
      for (auto &u : usersOf(kv.first))
        if (!u.user || !(isMember(u.user) || isExit(*u.user)))
          c.bad = true;
    }
    // (Components are final now: fold the per-node flags into them.)
    for (auto &kv : badNodes_)
      comps_[find(kv)].bad = true;
    for (const Node *n : cut_)
      comps_[compOf(n)].cuts = true;
    for (int c : rewrites_)
      comps_[find(c)].cuts = true;
    std::map<int, Comp> merged;
    for (auto &kv : comps_) {
      Comp &m = merged[find(kv.first)];
      m.cuts = m.cuts || kv.second.cuts;
      m.bad = m.bad || kv.second.bad;
    }
    comps_ = std::move(merged);
    // A leaf read by the tables of several components: each but the first
    // reads a copy of its own (lowerIntegerPatterns takes one table per
    // DequantizeLinear).
    std::map<const Node *, std::vector<int>> readers;
    for (auto &kv : members_)
      for (auto &in : kv.first->inputs)
        if (in.node && isLeaf(in.node) &&
            kv.second.leaves == std::set<const Node *>{in.node}) {
          auto &v = readers[in.node];
          int c = find(kv.second.comp);
          if (!comps_[c].bad && std::find(v.begin(), v.end(), c) == v.end())
            v.push_back(c);
        }
    for (auto &kv : readers)
      for (size_t i = 1; i < kv.second.size(); ++i) {
        copies_.push_back({kv.first, kv.second[i]});
        comps_[kv.second[i]].cuts = true;
      }
  }
  std::vector<std::pair<const Node *, int>> copies_;
  std::vector<int> badNodes_, rewrites_;

  // A DequantizeLinear of a constant 8-bit tensor read only by Mul, Add or
  // Sub with a non-constant other side: the second stored tensor of a
  // combination (a detector's anchor points minus its distances), whose
  // integer form reads the constant's stored values.
  bool combinedConstant(const Node &d) {
    const auto &us = usersOf(&d);
    if (us.empty())
      return false;
    for (const Use &u : us) {
      const Node *c = u.user;
      if (!c ||
          (c->kind != OpKind::Mul && c->kind != OpKind::Add &&
           c->kind != OpKind::Sub) ||
          c->inputs.size() != 2 || c->types[0].dims() != d.types[0].dims())
        return false;
      const Value other = c->inputs[u.operand == 0 ? 1 : 0];
      if (!other.node || constantOf(other) ||
          (other.node->kind == OpKind::DequantizeLinear &&
           constantOf(other.node->inputs[0])))
        return false;
    }
    return true;
  }

  void visit(Node &n) {
    Member m;
    int comp = -1;
    std::vector<size_t> island;
    bool bad = false;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      Value in = n.inputs[i];
      if (!in.node)
        continue;
      if (inIsland(in)) {
        // (Leaves do not join: the pieces reading one are independent.)
        island.push_back(i);
        if (!isLeaf(in.node))
          comp = join(comp, members_.at(in.node).comp);
      } else if (((isHull(n) && n.kind != OpKind::Concat) ||
                  isReduction(n.kind)) &&
                 constantValue(in) && i > 0) {
        // (a shape, scales, pads: a movement's constant operands)
      } else if (!scalarConstant(in)) {
        bad = true; // a tensor constant or a value from outside
      }
    }
    for (size_t i : island)
      for (const Node *l : leavesOf(n.inputs[i]))
        m.leaves.insert(l);
    if (comp < 0) {
      parent_.push_back(int(parent_.size()));
      comp = int(parent_.size()) - 1;
    }
    m.comp = comp;
    members_[&n] = m;
    if (isReduction(n.kind)) {
      Value in = n.inputs[0];
      if (island.size() != 1 || island[0] != 0 ||
          (n.hasInput(1) && !constantOf(n.inputs[1])))
        bad = true;
      else if (!isLeaf(in.node) &&
               !(meanStep(in.node, &n) && usersOf(in.node).size() == 1))
        markCut(in.node);
      members_[&n].leaves = {&n};
      // (A ReduceSum's folded Mul/Div are members reading it.)
      if (n.kind == OpKind::ReduceSum)
        rewrites_.push_back(comp); // (a ReduceMean: work to do)
      const Node *t = n.kind == OpKind::ReduceSum ? foldedTail(&n, true) : &n;
      if (!clampsToExit(t))
        markCut(t);
    } else if (isHull(n)) {
      for (size_t i : island)
        if (!isLeaf(n.inputs[i].node))
          markCut(n.inputs[i].node);
      members_[&n].leaves = {&n};
      if (!clampsToExit(&n))
        markCut(&n);
    } else if (members_[&n].leaves.size() >= 2) {
      // A combination of two sides.
      if ((n.kind != OpKind::Mul && n.kind != OpKind::Add &&
           n.kind != OpKind::Sub) ||
          island.size() != 2)
        bad = true;
      else
        for (size_t i : island)
          if (!isLeaf(n.inputs[i].node))
            markCut(n.inputs[i].node);
      if (n.kind == OpKind::Sub)
        rewrites_.push_back(comp); // (an add of the negation: work to do)
      members_[&n].leaves = {&n};
      if (!clampsToExit(&n))
        markCut(&n);
    } else if (n.types[0].dims() != n.inputs[island[0]].type().dims()) {
      bad = true; // a broadcast the table cannot hold
    }
    // A value read by an exit and by other members: the exit is the cut.
    bool exit = false, more = false;
    for (auto &u : usersOf(&n)) {
      if (u.user && isExit(*u.user))
        exit = true;
      else
        more = true;
    }
    if (exit && more)
      markCut(&n);
    if (bad)
      badNodes_.push_back(comp);
  }

  // ---- applying the plan ----------------------------------------------

  bool keep(const Node *n) {
    int c = compOf(n);
    auto it = comps_.find(c);
    return it != comps_.end() && it->second.cuts && !it->second.bad;
  }

  // The members between leaf d and n, n included, in an order that
  // computes each after its operands.
  void chain(Node *n, const Node *d, std::vector<Node *> &out,
             std::set<const Node *> &seen) {
    if (n == d || seen.count(n) || !isMember(n))
      return;
    seen.insert(n);
    for (auto &in : n->inputs)
      if (in.node && !constantValue(in))
        chain(in.node, d, out, seen);
    out.push_back(n);
  }

  Expected<Range> rangeOfValue(Node *n) {
    if (n->kind == OpKind::DequantizeLinear)
      return rangeOf(*dequantizeParams(*n));
    if (isReduction(n->kind))
      return rangeOfValue(n->inputs[0].node);
    if (isHull(*n)) {
      Range r{std::numeric_limits<double>::infinity(),
              -std::numeric_limits<double>::infinity()};
      for (auto &in : n->inputs)
        if (in.node && in.node->kind == OpKind::DequantizeLinear &&
            !constantOf(in.node->inputs[0])) {
          Range x = rangeOf(*dequantizeParams(*in.node));
          r.lo = std::min(r.lo, x.lo);
          r.hi = std::max(r.hi, x.hi);
        }
      if (r.lo > r.hi)
        return makeError(ErrorCode::Internal, "float island at ", n->describe(),
                         " has no dequantized input");
      return r;
    }
    if (n->kind == OpKind::Mul || n->kind == OpKind::Add ||
        n->kind == OpKind::Sub) {
      auto a = dequantizeParams(*n->inputs[0].node);
      auto b = dequantizeParams(*n->inputs[1].node);
      if (a && b && n->inputs[0].node->kind == OpKind::DequantizeLinear &&
          n->inputs[1].node->kind == OpKind::DequantizeLinear) {
        Range x = rangeOf(*a), y = rangeOf(*b);
        if (n->kind == OpKind::Add)
          return Range{x.lo + y.lo, x.hi + y.hi};
        if (n->kind == OpKind::Sub)
          return Range{x.lo - y.hi, x.hi - y.lo};
        double p[] = {x.lo * y.lo, x.lo * y.hi, x.hi * y.lo, x.hi * y.hi};
        return Range{*std::min_element(p, p + 4), *std::max_element(p, p + 4)};
      }
    }
    // A one-leaf piece: its values on the leaf's 256 inputs.
    std::vector<Node *> order;
    std::set<const Node *> seen;
    const Node *d = nullptr;
    std::vector<Node *> stack{n};
    while (!stack.empty() && !d) {
      Node *m = stack.back();
      stack.pop_back();
      for (auto &in : m->inputs)
        if (in.node && !constantValue(in)) {
          if (in.node->kind == OpKind::DequantizeLinear)
            d = in.node;
          else
            stack.push_back(in.node);
        }
    }
    if (!d)
      return makeError(ErrorCode::Internal, "float island at ", n->describe(),
                       " has no dequantized input");
    chain(n, d, order, seen);
    EMBER_ASSIGN(Tensor t, regionValues(*d, order, Value(n, 0)));
    Range r{std::numeric_limits<double>::infinity(),
            -std::numeric_limits<double>::infinity()};
    for (int64_t i = 0; i < t.size(); ++i) {
      double v = t.getDouble(i);
      if (std::isfinite(v)) {
        r.lo = std::min(r.lo, v);
        r.hi = std::max(r.hi, v);
      }
    }
    if (r.lo > r.hi)
      r = Range{0, 0};
    return r;
  }

  // The stored kind of the tensors value n comes from.
  ElemKind kindOf(const Node *n) {
    for (;;) {
      if (n->kind == OpKind::DequantizeLinear)
        return dequantizeParams(*n)->kind;
      const Node *next = nullptr;
      for (auto &in : n->inputs)
        if (in.node && !constantValue(in)) {
          next = in.node;
          break;
        }
      if (!next)
        return ElemKind::U8;
      n = next;
    }
  }

  // n's readers (but `except`) read `to` instead.
  void redirect(Node *n, Value to, const Node *except) {
    Users us = f_.computeUsers();
    for (auto &u : us[n])
      if (u.user && u.user != except)
        u.user->inputs[u.operand] = to;
  }

  Expected<Value> dequantizeOf(Node *q, Node *before) {
    std::vector<Value> ins(q->inputs.begin() + 1, q->inputs.end());
    ins.insert(ins.begin(), Value(q, 0));
    EMBER_ASSIGN(Node * d, f_.create(OpKind::DequantizeLinear, ins, {}, q->name,
                                     -1, before, {q->outNames[0] + ".dq"}));
    return Value(d, 0);
  }

  // A QuantizeLinear -> DequantizeLinear of v with parameters p.
  Expected<Value> cutWith(Value v, const QParams &p, Node *before) {
    Value s(f_.addConstant(v.name() + ".cut_scale",
                           Tensor::scalar(ElemKind::F32, p.scale())));
    Value z(f_.addConstant(v.name() + ".cut_zero_point",
                           Tensor::scalar(p.kind, double(p.zeroPoint()))));
    EMBER_ASSIGN(Node * q,
                 f_.create(OpKind::QuantizeLinear, {v, s, z}, {}, v.node->name,
                           -1, before, {v.name() + ".cut"}));
    return dequantizeOf(q, before);
  }

  Node *after(Node *n) {
    for (auto it = f_.nodes().begin(); it != f_.nodes().end(); ++it)
      if (it->get() == n) {
        ++it;
        return it == f_.nodes().end() ? nullptr : it->get();
      }
    return nullptr;
  }

  Status cut(Node *n) {
    // An exit reading n is the cut.
    Users us = f_.computeUsers();
    for (auto &u : us[n])
      if (u.user && isExit(*u.user)) {
        EMBER_ASSIGN(Value d, dequantizeOf(u.user, after(u.user)));
        redirect(n, d, u.user);
        return Status::ok();
      }
    Value v(n, 0);
    // Read by a movement whose result an exit quantizes: the exit's
    // parameters (the movement then moves stored integers).
    const auto &rs = us[n];
    if (rs.size() == 1 && rs[0].user && isHull(*rs[0].user)) {
      const auto &next = us[rs[0].user];
      if (next.size() == 1 && next[0].user && isExit(*next[0].user)) {
        EMBER_ASSIGN(Value d,
                     cutWith(v, *quantizeParams(*next[0].user), after(n)));
        redirect(n, d, d.node->inputs[0].node);
        return Status::ok();
      }
    }
    EMBER_ASSIGN(Range r, rangeOfValue(n));
    EMBER_ASSIGN(Value d, cutWith(v, paramsFor(r, kindOf(n)), after(n)));
    redirect(n, d, d.node->inputs[0].node);
    return Status::ok();
  }

  // ReduceSum(DequantizeLinear(q, s, z)) and its folded Mul/Div:
  // ReduceMean(DequantizeLinear(q, s * count * factors, z)).
  Status foldSum(Node *r) {
    Node *d = r->inputs[0].node;
    auto p = dequantizeParams(*d);
    double scale =
        p->scale() * double(r->inputs[0].type().numElements() /
                            std::max<int64_t>(1, r->types[0].numElements()));
    Node *last = r;
    for (Node *m = r;;) {
      const auto us = f_.computeUsers()[m];
      if (us.size() != 1 || !fold_.count(us[0].user))
        break;
      Node *u = us[0].user;
      double c = constantOf(u->inputs[u->inputs[0] == Value(m, 0) ? 1 : 0])
                     ->getDouble(0);
      scale = u->kind == OpKind::Div ? scale / c : scale * c;
      last = m = u;
    }
    Value s(f_.addConstant(d->outNames[0] + ".sum_scale",
                           Tensor::scalar(ElemKind::F32, scale)));
    std::vector<Value> ins = d->inputs;
    ins[1] = s;
    EMBER_ASSIGN(Node * d2,
                 f_.create(OpKind::DequantizeLinear, ins, d->attrs, d->name, -1,
                           r, {d->outNames[0] + ".sum"}));
    std::vector<Value> rins = r->inputs;
    rins[0] = Value(d2, 0);
    EMBER_ASSIGN(Node * mean, f_.create(OpKind::ReduceMean, rins, r->attrs,
                                        r->name, -1, r, {r->outNames[0]}));
    f_.replaceAllUses(Value(last, 0), Value(mean, 0));
    bool cutTail = cut_.count(last) != 0;
    for (Node *m = last; m != r;) {
      Node *prev = m->inputs[0].node == r || fold_.count(m->inputs[0].node)
                       ? m->inputs[0].node
                       : m->inputs[1].node;
      erased_.insert(m);
      f_.erase(m);
      m = prev;
    }
    erased_.insert(r);
    f_.erase(r);
    members_[mean] = members_[r];
    if (cutTail)
      EMBER_TRY(cut(mean));
    return Status::ok();
  }
  std::set<const Node *> erased_;

  // Sub(a, b) of two dequantized sides: Add(a, -b), the negation a table.
  Status subAsAdd(Node *n) {
    Node *b = n->inputs[1].node;
    // (The negation's table reads a DequantizeLinear of its own.)
    EMBER_ASSIGN(Node * bd,
                 f_.create(OpKind::DequantizeLinear, b->inputs, b->attrs,
                           b->name, -1, n, {b->outNames[0]}));
    EMBER_ASSIGN(Node * neg, f_.create(OpKind::Neg, {Value(bd, 0)}, {}, n->name,
                                       -1, n, {n->outNames[0] + ".neg"}));
    members_[neg] = members_[n];
    Range r = rangeOf(*dequantizeParams(*b));
    EMBER_ASSIGN(Value d, cutWith(Value(neg, 0),
                                  paramsFor({-r.hi, -r.lo}, kindOf(b)), n));
    EMBER_ASSIGN(Node * add, f_.create(OpKind::Add, {n->inputs[0], d}, {},
                                       n->name, -1, n, {n->outNames[0]}));
    members_[add] = members_[n];
    f_.replaceAllUses(Value(n, 0), Value(add, 0));
    f_.erase(n);
    return Status::ok();
  }

  // Component c's members read a copy of leaf d.
  Status copyLeaf(const Node *d, int c) {
    Node *dn = const_cast<Node *>(d);
    EMBER_ASSIGN(Node * copy,
                 f_.create(OpKind::DequantizeLinear, dn->inputs, dn->attrs,
                           dn->name, -1, after(dn), {dn->outNames[0]}));
    leaves_.insert(copy);
    for (auto &kv : members_)
      if (compOf(kv.first) == c)
        for (auto &in : const_cast<Node *>(kv.first)->inputs)
          if (in.node == d)
            in = Value(copy, 0);
    return Status::ok();
  }

  Status apply() {
    for (auto &dc : copies_)
      EMBER_TRY(copyLeaf(dc.first, dc.second));
    std::vector<Node *> work;
    for (auto &np : f_.nodes())
      if (isMember(np.get()) && keep(np.get()))
        work.push_back(np.get());
    for (Node *n : work) {
      if (erased_.count(n))
        continue;
      if (n->kind == OpKind::ReduceSum)
        EMBER_TRY(foldSum(n));
      else if (cut_.count(n))
        EMBER_TRY(cut(n));
    }
    // Cuts done: each combination now reads two DequantizeLinears.
    for (Node *n : work)
      if (!erased_.count(n) && n->kind == OpKind::Sub &&
          members_.at(n).leaves.count(n))
        EMBER_TRY(subAsAdd(n));
    return Status::ok();
  }
};

} // namespace

Status quantizeFloatIslands(Function &f, size_t *numRewritten) {
  Islands is(f);
  EMBER_ASSIGN(size_t n, is.run());
  if (numRewritten)
    *numRewritten += n;
  return Status::ok();
}

} // namespace ember

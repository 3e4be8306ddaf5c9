// A map's channels moved last for row ops and moved back (ConvNeXt's and
// MetaFormer's blocks: Transpose [0, 2, 3, 1], LayerNorm over the
// channels, Linear layers as MatMuls by [C, C'], GELU, a per-channel
// scale, Transpose [0, 3, 1, 2]) as the same ops on a sequence: the
// channels-last map [N, H, W, C] reshaped to [N, H W, C] right after the
// first Transpose, every op between the two Transposes made again on the
// rank-3 values (an axis attribute on the last axis kept on the last), and
// the way back written Transpose [0, 2, 1] then Reshape to [N, C', H, W].
// Each op of the region works along the last axis or element by element,
// so merging H and W changes no element: exact. What it is for: a backend
// holding maps channel-tiled runs a sequence's LayerNorm, MatMul by a
// constant and elementwise ops, and the Transpose/Reshape pairs to and
// from a sequence are the ones a patch embedding and a merging convolution
// write (docs/quantization.md, "Channels-last rows"); the rank-4 forms are
// not. Fixed-point profiles (after the integer patterns).
#include "lower/LowerUtil.h"
#include "lower/Lowering.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

namespace ember {

// Named: a unity build puts this file's helpers next to other lowerings'.
namespace channels_last_rows {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

bool isPerm(const Node &n, const std::vector<int64_t> &perm) {
  return n.kind == OpKind::Transpose && n.attrInts("perm") == perm;
}

bool elementwiseKind(OpKind k) {
  static const OpKind kinds[] = {
      OpKind::Requantize, OpKind::TableLookup, OpKind::QuantizedAdd,
      OpKind::Cast,       OpKind::Sub,         OpKind::Mul,
      OpKind::Add,        OpKind::Clip,        OpKind::Relu,
      OpKind::Max,        OpKind::Min};
  return std::find(std::begin(kinds), std::end(kinds), k) != std::end(kinds);
}

// A constant operand that broadcasts along the last axis alone: every dim
// but the last 1 (a scalar, a row [C], [1, 1, 1, C]).
bool rowConstant(const Node &n, size_t i) {
  const Tensor *t = n.constantInput(i);
  if (!t)
    return false;
  const Dims &d = t->type().dims();
  for (size_t a = 0; a + 1 < d.size(); ++a)
    if (d[a] != 1)
      return false;
  return d.size() <= 4;
}

// The last axis by either name (`axis` absent: its default, dflt).
bool lastAxis(const Node &n, int64_t rank, int64_t dflt = -1) {
  const int64_t a = n.attrInt("axis", dflt);
  return a == -1 || a == rank - 1;
}

class Region {
public:
  Region(const Users &users, Node &entry) : users_(users), entry_(entry) {}

  // Whether every reader of the entry, transitively up to Transposes back,
  // is a row op on [N, H, W, *] values.
  bool grow() {
    const Dims &d = entry_.types[0].dims();
    N_ = d[0], H_ = d[1], W_ = d[2];
    std::vector<const Node *> frontier{&entry_};
    std::set<const Node *> queued{&entry_};
    while (!frontier.empty()) {
      const Node *n = frontier.back();
      frontier.pop_back();
      auto it = users_.find(n);
      if (it == users_.end() || it->second.empty())
        return false;
      for (const Use &u : it->second) {
        Node *r = u.user;
        if (!r)
          return false; // (a function output)
        if (isPerm(*r, {0, 3, 1, 2}) && n != &entry_) {
          exits_.insert(r);
          continue;
        }
        if (!member(*r))
          return false;
        if (queued.insert(r).second) {
          nodes_.insert(r);
          frontier.push_back(r);
        }
      }
    }
    return !nodes_.empty() && !exits_.empty();
  }

  const std::set<Node *> &nodes() const { return nodes_; }
  const std::set<Node *> &exits() const { return exits_; }
  int64_t N() const { return N_; }
  int64_t H() const { return H_; }
  int64_t W() const { return W_; }
  bool inside(const Node *n) const {
    return n == &entry_ || nodes_.count(const_cast<Node *>(n));
  }

private:
  // Whether value v is the map's, channels last: [N, H, W, c].
  bool rows(Value v) const {
    const Dims &d = v.type().dims();
    return d.size() == 4 && d[0] == N_ && d[1] == H_ && d[2] == W_;
  }
  // Node r as a row op: its region operands rows of the map, its other
  // operands constants along the last axis, its result rows too.
  bool member(const Node &r) const {
    if (r.types.size() != 1 || !rows(Value(const_cast<Node *>(&r), 0)))
      return false;
    const Dims &out = r.types[0].dims();
    if (r.kind == OpKind::MatMulInteger)
      return rows(r.inputs[0]) && r.constantInput(1) &&
             r.inputs[1].type().rank() == 2 &&
             (!r.hasInput(2) || rowConstant(r, 2)) &&
             (!r.hasInput(3) || rowConstant(r, 3));
    if (r.kind == OpKind::IntegerNormalization ||
        r.kind == OpKind::IntegerSoftmax) {
      for (size_t i = 1; i < r.inputs.size(); ++i)
        if (r.hasInput(i) && !rowConstant(r, i))
          return false;
      return rows(r.inputs[0]) && r.inputs[0].type().dims() == out &&
             lastAxis(r, 4);
    }
    if (!elementwiseKind(r.kind) ||
        (r.kind == OpKind::Requantize && !lastAxis(r, 4, 1) &&
         r.constantInput(1) && r.constantInput(1)->size() > 1))
      return false;
    for (size_t i = 0; i < r.inputs.size(); ++i) {
      if (!r.hasInput(i))
        continue;
      if (r.constantInput(i)) {
        if (!rowConstant(r, i))
          return false;
      } else if (r.inputs[i].type().dims() != out) { // (closed() checks
                                                     // where from)
        return false;
      }
    }
    return true;
  }

  const Users &users_;
  Node &entry_;
  std::set<Node *> nodes_, exits_;
  int64_t N_ = 0, H_ = 0, W_ = 0;
};

class Rewriter {
public:
  explicit Rewriter(Function &f) : f_(f) {}

  Expected<size_t> run() {
    std::vector<Node *> entries;
    for (auto &np : f_.nodes())
      if (isPerm(*np, {0, 2, 3, 1}) && np->inputs[0].type().rank() == 4)
        entries.push_back(np.get());
    size_t count = 0;
    for (Node *t : entries) {
      Users users = f_.computeUsers();
      Region r(users, *t);
      // (Every operand of a region op must be the region's or constant:
      // checked once the region is known.)
      if (!r.grow() || !closed(r))
        continue;
      EMBER_TRY(rewrite(*t, r));
      ++count;
    }
    return count;
  }

private:
  bool closed(const Region &r) const {
    for (Node *n : r.nodes())
      for (size_t i = 0; i < n->inputs.size(); ++i)
        if (n->hasInput(i) && !n->constantInput(i) &&
            !r.inside(n->inputs[i].node))
          return false;
    return true;
  }

  Expected<Value> make(OpKind k, std::vector<Value> ins, AttrMap attrs,
                       const std::string &name, Node *before) {
    return makeBefore(f_, before, k, std::move(ins), std::move(attrs), name);
  }
  Value ints(const std::string &name, const std::vector<int64_t> &v) {
    return int64Constant(f_, name, v);
  }

  Status rewrite(Node &entry, const Region &r) {
    const int64_t N = r.N(), P = r.H() * r.W();
    const int64_t C = entry.types[0].dims()[3];
    // The region's ops in graph order, each made again on rank 3 before
    // the first exit.
    Node *at = *r.exits().begin();
    for (auto &np : f_.nodes())
      if (r.exits().count(np.get())) {
        at = np.get();
        break;
      }
    std::map<const Node *, Value> seq;
    EMBER_ASSIGN(Value s0,
                 make(OpKind::Reshape,
                      {Value(&entry), ints(entry.name + ".rows", {N, P, C})},
                      {}, entry.name, at));
    seq[&entry] = s0;
    for (auto &np : f_.nodes()) {
      Node *n = np.get();
      if (!r.nodes().count(n))
        continue;
      std::vector<Value> ins;
      for (size_t i = 0; i < n->inputs.size(); ++i) {
        Value v = n->inputs[i];
        if (v.node && seq.count(v.node)) {
          v = seq[v.node];
        } else if (n->hasInput(i) && v.type().rank() == 4 &&
                   n->kind != OpKind::MatMulInteger) {
          // A [1, 1, 1, c] constant as [1, 1, c].
          const Dims &d = v.type().dims();
          EMBER_ASSIGN(v, make(OpKind::Reshape,
                               {v, ints(n->name + ".row", {1, 1, d[3]})}, {},
                               n->name, at));
        }
        ins.push_back(v);
      }
      AttrMap attrs = n->attrs;
      if (auto it = attrs.find("axis"); it != attrs.end() &&
                                        it->second.kind == Attr::Kind::Int &&
                                        it->second.i == 3)
        it->second = Attr::ofInt(2);
      EMBER_ASSIGN(Value y, make(n->kind, std::move(ins), std::move(attrs),
                                 n->name, at));
      seq[n] = y;
    }
    for (Node *x : r.exits()) {
      const Value v = seq.at(x->inputs[0].node);
      const int64_t K = v.type().dims()[2];
      EMBER_ASSIGN(Value t,
                   make(OpKind::Transpose, {v},
                        {{"perm", Attr::ofInts({0, 2, 1})}}, x->name, x));
      EMBER_ASSIGN(Value m,
                   make(OpKind::Reshape,
                        {t, ints(x->name + ".map", {N, K, r.H(), r.W()})}, {},
                        x->name, x));
      f_.replaceAllUses(Value(x), m);
    }
    std::set<const Node *> gone;
    for (Node *x : r.exits())
      eraseUnread(f_, x, gone, true);
    return Status::ok();
  }

  Function &f_;
};

} // namespace channels_last_rows

Status channelsLastRows(Function &f, size_t *numRewritten) {
  channels_last_rows::Rewriter r(f);
  EMBER_ASSIGN(size_t n, r.run());
  if (numRewritten)
    *numRewritten += n;
  return Status::ok();
}

} // namespace ember

// One copy of a shared integer product per reader (SelectInternal.h,
// unshareProducts), before selection.
//
// A layer requantizes its own accumulators: a ConvInteger or MatMulInteger
// (and the bias Add after it) folds into the layer of the one Requantize
// reading it. The importer's common-subexpression elimination merges
// sibling convolutions with the same input and the same quantized weights,
// so one product can feed several bias Add -> Requantize chains (Inception
// branches whose 1x1 convolutions happen to be equal). Instead of leaving
// those chains on the host, selection works on a copy of the partition graph
// in which every such reader has a product of its own: the layer computes
// it once per reader, the model's multiply-accumulates counted once
// (Layer::usefulMacs of the copies is 0). The answers (whyNot) are given
// per node of the graph as sent: a copied node's is its original's.
//
// What is copied, in two steps:
//   1. a bias Add (an accumulator plus a constant) whose result several
//      Requantizes read: one Add per Requantize;
//   2. a ConvInteger/MatMulInteger whose result several bias Adds and
//      Requantizes read (the Adds of step 1 included): one product per
//      reader, with the flatten into a MatMulInteger's A when that flatten
//      feeds it alone (the pair is one convolution over the image).
// Before them (step 0): a Requantize result that a transposed
// convolution's phase interleave (a Concat reshaped to rank 6) reads more
// than once, directly or through TableLookups (the phases' output table),
// the phases no kernel tap reaches (one tap of the weight zero point each,
// equal and merged): one Requantize (and its TableLookups) per further
// read, so each phase is a layer of its own storing at its pixels (steps 1
// and 2 then copy its bias Add and product).
// Other readers (a graph output, a node that does not fold an accumulator)
// keep the original product; when there are none, the original serves the
// first reader. A graph without a shared product is not copied at all.
#include "SelectInternal.h"

#include <algorithm>
#include <optional>

namespace ember::accel::sel {

namespace {

bool isProduct(const v1::Node &n) {
  return n.op() == "ConvInteger" || n.op() == "MatMulInteger";
}

// Whether node u folds value y as an accumulator: a Requantize of y by
// constant tables, or (unless `requantOnly`) an Add of y and a constant of
// one value or one per channel. u reads y once. (The form's checks decide;
// this only keeps copies from readers that could not fold them.)
bool foldsAccumulator(const View &v, int u, int y, bool requantOnly) {
  const v1::Node &n = v.g.nodes(u);
  if (std::count(n.inputs().begin(), n.inputs().end(), y) != 1)
    return false;
  if (n.op() == "Requantize")
    return v.in(n, 0) == y && v.intCount(v.in(n, 1)) > 0 &&
           v.intCount(v.in(n, 2)) > 0;
  if (requantOnly || n.op() != "Add" || n.inputs_size() != 2)
    return false;
  const int c = v.in(n, 0) == y ? v.in(n, 1) : v.in(n, 0);
  const std::vector<int64_t> d = v.dims(y);
  const int64_t count = c >= 0 ? v.intCount(c) : -1;
  return count == 1 || (d.size() >= 2 && count == d[1]);
}

// The graph being rewritten: nodes appended, each with the index of the
// node it copies and its copy number.
struct Work {
  v1::Graph g;
  std::vector<int> origin, copyNo;
  std::vector<int> copies; // per original node: copies made so far

  explicit Work(const v1::Graph &in) : g(in) {
    for (int i = 0; i < g.nodes_size(); ++i)
      origin.push_back(i);
    copyNo.assign(origin.size(), 0);
    copies.assign(origin.size(), 0);
  }

  // A copy of node i (inputs as they are) writing a new value; its index.
  int copy(int i) {
    const int o = origin[size_t(i)];
    const int k = ++copies[size_t(o)];
    v1::Node n = g.nodes(i);
    const int y = n.outputs(0);
    v1::Value val = g.values(y);
    val.set_name(val.name() + "/recompute" + std::to_string(k));
    *g.add_values() = std::move(val);
    n.set_outputs(0, g.values_size() - 1);
    *g.add_nodes() = std::move(n);
    origin.push_back(o);
    copyNo.push_back(k);
    return g.nodes_size() - 1;
  }

  void rewire(int node, int from, int to) {
    v1::Node *n = g.mutable_nodes(node);
    for (int k = 0; k < n->inputs_size(); ++k)
      if (n->inputs(k) == from)
        n->set_inputs(k, to);
  }
};

// The readers of y that fold it, or empty when y is not shared by one.
std::vector<int> sharedReaders(const View &v, int y, bool requantOnly,
                               bool &others) {
  std::vector<int> readers;
  for (int u : v.users[size_t(y)])
    if (foldsAccumulator(v, u, y, requantOnly))
      readers.push_back(u);
  others = v.uses(y) > readers.size();
  if (v.uses(y) < 2)
    readers.clear();
  return readers;
}

// Step 0: a Requantize (and the TableLookups after it: the phases' output
// table) per further read of its result by a phase interleave's Concat.
// The number of copies; none made without `w`.
int unshareConcatReads(const View &v, Work *w) {
  int made = 0;
  for (int i = 0; i < v.g.nodes_size(); ++i) {
    const v1::Node &n = v.g.nodes(i);
    const int r = n.op() == "Concat" ? v.soleReader(v.out(n)) : -1;
    if (r < 0 || v.g.nodes(r).op() != "Reshape" ||
        v.dims(v.out(v.g.nodes(r))).size() != 6)
      continue;
    std::vector<int> seen;
    for (int k = 0; k < n.inputs_size(); ++k) {
      const int x = n.inputs(k);
      // The chain from the Requantize to x, x's producer first.
      std::vector<int> chain;
      for (int p = x >= 0 ? v.producer[size_t(x)] : -1; p >= 0;) {
        const v1::Node &pn = v.g.nodes(p);
        if (pn.outputs_size() != 1 ||
            (pn.op() != "TableLookup" && pn.op() != "Requantize")) {
          chain.clear();
          break;
        }
        chain.push_back(p);
        if (pn.op() == "Requantize")
          break;
        const int a = v.in(pn, 0);
        p = a >= 0 ? v.producer[size_t(a)] : -1;
        if (p < 0)
          chain.clear();
      }
      if (chain.empty() || v.g.nodes(chain.back()).op() != "Requantize")
        continue;
      if (std::find(seen.begin(), seen.end(), x) == seen.end()) {
        seen.push_back(x);
        continue;
      }
      ++made;
      if (!w)
        continue;
      int to = -1; // the copy of the node before, from the Requantize on
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        const int c = w->copy(*it);
        if (to >= 0)
          w->rewire(c, v.in(v.g.nodes(*it), 0), to);
        to = w->g.nodes(c).outputs(0);
      }
      w->g.mutable_nodes(i)->set_inputs(k, to);
    }
  }
  return made;
}

// Step 1: a bias Add per Requantize of a shared biased accumulator. The
// number of copies; none made without `w`.
int unshareBiases(const View &v, Work *w) {
  int made = 0;
  for (int i = 0; i < v.g.nodes_size(); ++i) {
    const v1::Node &n = v.g.nodes(i);
    if (n.op() != "Add" || n.outputs_size() != 1 || v.out(n) < 0)
      continue;
    bool onProduct = false;
    for (int k = 0; k < n.inputs_size(); ++k) {
      const int x = n.inputs(k), p = x >= 0 ? v.producer[size_t(x)] : -1;
      onProduct = onProduct || (p >= 0 && isProduct(v.g.nodes(p)) &&
                                foldsAccumulator(v, i, x, false));
    }
    bool others = false;
    const int z = v.out(n);
    std::vector<int> readers =
        onProduct ? sharedReaders(v, z, true, others) : std::vector<int>();
    for (size_t r = others ? 0 : 1; r < readers.size(); ++r, ++made)
      if (w)
        w->rewire(readers[r], z, w->g.nodes(w->copy(i)).outputs(0));
  }
  return made;
}

// Step 2: a product per reader that folds it (as unshareBiases).
int unshareRoots(const View &v, Work *w) {
  int made = 0;
  for (int i = 0; i < v.g.nodes_size(); ++i) {
    const v1::Node &n = v.g.nodes(i);
    if (!isProduct(n) || n.outputs_size() != 1 || v.out(n) < 0)
      continue;
    bool others = false;
    const int y = v.out(n);
    std::vector<int> readers = sharedReaders(v, y, false, others);
    // A flatten into the MatMulInteger's A travels with it.
    const int a = v.in(n, 0), p = a >= 0 ? v.producer[size_t(a)] : -1;
    const bool flatten = n.op() == "MatMulInteger" && p >= 0 &&
                         v.g.nodes(p).outputs_size() == 1 &&
                         flattensIntoMatMul(v, v.g.nodes(p));
    for (size_t r = others ? 0 : 1; r < readers.size() && w; ++r) {
      const int c = w->copy(i);
      if (flatten)
        w->rewire(c, a, w->g.nodes(w->copy(p)).outputs(0));
      w->rewire(readers[r], y, w->g.nodes(c).outputs(0));
    }
    made += int(readers.size()) - (others || readers.empty() ? 0 : 1);
  }
  return made;
}

} // namespace

bool unshareProducts(const View &v, Unshared &out) {
  // (The graph is copied only when something is shared.)
  if (!unshareConcatReads(v, nullptr) && !unshareBiases(v, nullptr) &&
      !unshareRoots(v, nullptr))
    return false;
  Work w(v.g);
  // Each step reads the graph the steps before it made: their copies are
  // readers too.
  std::optional<v1::Graph> snap0, snap1;
  std::optional<View> v0, v1v;
  const View *cur = &v;
  if (unshareConcatReads(*cur, &w)) {
    snap0 = w.g;
    cur = &v0.emplace(v.t, *snap0);
  }
  if (unshareBiases(*cur, &w)) {
    snap1 = w.g;
    cur = &v1v.emplace(v.t, *snap1);
  }
  unshareRoots(*cur, &w);
  const int n0 = v.g.nodes_size(), nn = w.g.nodes_size();
  if (nn == n0)
    return false;
  // Each copy right after the node it copies (the graph stays in
  // topological order: a copy reads what its original reads, or a copy,
  // made before it, of a node before its original).
  std::vector<std::vector<int>> after(static_cast<size_t>(n0));
  for (int i = n0; i < nn; ++i)
    after[size_t(w.origin[size_t(i)])].push_back(i);
  v1::Graph nodes;
  nodes.mutable_nodes()->Swap(w.g.mutable_nodes());
  out.g = std::move(w.g);
  out.origin.clear();
  out.copyNo.clear();
  for (int i = 0; i < n0; ++i) {
    *out.g.add_nodes() = std::move(*nodes.mutable_nodes(i));
    out.origin.push_back(i);
    out.copyNo.push_back(0);
    for (int k : after[size_t(i)]) {
      *out.g.add_nodes() = std::move(*nodes.mutable_nodes(k));
      out.origin.push_back(i);
      out.copyNo.push_back(w.copyNo[size_t(k)]);
    }
  }
  return true;
}

} // namespace ember::accel::sel

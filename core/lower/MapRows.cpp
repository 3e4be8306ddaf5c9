// A detection head's rank-3 [1, C, L] tensors, a map's pixels flattened
// with its channels kept on axis 1 (Ultralytics' and PicoDet's heads: each
// level's map reshaped to [1, C, H W], the levels concatenated along the
// pixels, boxes and classes split on the channels), computed on as maps:
// an elementwise integer op on such tensors (a table, a QuantizedAdd, a
// Requantize) or a Concat of them along the channels is made again on them
// reshaped to [1, C, 1, L] and its result reshaped back. A Requantize along the
// pixels (a Mul by the anchors' strides: one multiplier per anchor) whose
// multipliers take a few runs of one value (one per level) becomes one
// per-tensor Requantize per run of pixels, the runs sliced and concatenated
// along the pixels. Every element is computed from the same integers by the
// same arithmetic: exact. What it is for: an accelerator holding maps
// channel-tiled runs elementwise ops on maps, and reads a [1, C, L] tensor with
// its channels on axis 1 only through movement ops (docs/quantization.md, "Map
// rows"). Fixed-point profiles (after the integer patterns).
#include "lower/LowerUtil.h"
#include "lower/Lowering.h"

#include <map>
#include <set>

namespace ember {

// Named: a unity build puts this file's helpers next to other lowerings'.
namespace map_rows {

// Whether v is a map's pixels flattened: a Reshape of [N, C, H, W] to
// [N, C, H W] (of a tensor no Transpose made), or a Concat, Split or Slice
// of such tensors (memo: known).
bool mapRows(Value v, std::map<const Node *, bool> &known) {
  const Node *n = v.node;
  if (!n || v.type().rank() != 3)
    return false;
  auto it = known.find(n);
  if (it != known.end())
    return it->second;
  known[n] = false; // (cycles: none, but no recursion into itself)
  bool yes = false;
  if (n->kind == OpKind::Reshape) {
    // (Not a transposed tensor: attention's heads merged, [1, S, H, d] ->
    // [1, S, H d], are a sequence.)
    const Dims &x = n->inputs[0].type().dims(), &y = v.type().dims();
    const Node *p = n->inputs[0].node;
    yes = x.size() == 4 && y[0] == x[0] && y[1] == x[1] &&
          y[2] == x[2] * x[3] && !(p && p->kind == OpKind::Transpose);
  } else if (n->kind == OpKind::Concat || n->kind == OpKind::Split ||
             n->kind == OpKind::Slice) {
    yes = mapRows(n->inputs[0], known);
    if (n->kind == OpKind::Concat)
      for (const Value &in : n->inputs)
        yes = yes && mapRows(in, known);
  } else if (n->kind == OpKind::TableLookup || n->kind == OpKind::Requantize ||
             n->kind == OpKind::QuantizedAdd) {
    for (size_t i = 0; i < n->inputs.size() && !yes; ++i)
      yes = !n->constantInput(i) && mapRows(n->inputs[i], known);
  }
  known[n] = yes;
  return yes;
}

class Rewriter {
public:
  explicit Rewriter(Function &f) : f_(f) {}

  Expected<size_t> run() {
    std::vector<Node *> work;
    std::map<const Node *, bool> known;
    for (auto &np : f_.nodes())
      if (candidate(*np, known))
        work.push_back(np.get());
    for (Node *n : work)
      EMBER_TRY(rewrite(*n));
    return work.size();
  }

private:
  // An elementwise op on [1, C, L] map rows of one shape, its other
  // operands constants that stay elementwise on [1, C, 1, L].
  bool candidate(const Node &n, std::map<const Node *, bool> &known) {
    if ((n.kind != OpKind::TableLookup && n.kind != OpKind::Requantize &&
         n.kind != OpKind::QuantizedAdd && n.kind != OpKind::Concat) ||
        n.types.size() != 1 || n.types[0].rank() != 3)
      return false;
    const Dims &d = n.types[0].dims();
    if (n.kind == OpKind::Concat) {
      // Along the channels, of map rows of one length.
      int64_t axis = n.attrInt("axis", 0);
      if (axis != 1 && axis != -2)
        return false;
      for (const Value &in : n.inputs)
        if (constantOf(in) || in.type().rank() != 3 ||
            in.type().dims()[2] != d[2] || !mapRows(in, known))
          return false;
      return true;
    }
    size_t data = n.kind == OpKind::QuantizedAdd ? 2 : 1;
    bool rows = false;
    for (size_t i = 0; i < data; ++i) {
      const Value &in = n.inputs[i];
      if (n.constantInput(i)) {
        const Dims &c = in.type().dims();
        if (!(c.empty() || (c.size() == 1 && c[0] == 1) ||
              (c.size() == 3 && c[0] == 1 && (c[1] == 1 || c[1] == d[1]) &&
               c[2] == d[2])))
          return false;
        continue;
      }
      if (in.type().dims() != d || !mapRows(in, known))
        return false;
      rows = true;
    }
    if (!rows)
      return false;
    if (n.kind == OpKind::Requantize) {
      // Per channel (axis 1) or per pixel (axis 2, in runs).
      const Tensor *m = n.constantInput(1);
      if (!m || (n.hasInput(2) && !n.constantInput(2)))
        return false;
      // (A per-tensor one reads any layout as it is: not rewritten.)
      const int64_t axis = n.attrInt("axis", 1);
      if (m->size() == 1 ||
          (!(axis == 1 && m->size() == d[1]) &&
           !(axis == 2 && m->size() == d[2] && runsOf(n).size() <= 16)))
        return false;
    }
    return true;
  }

  // A per-pixel Requantize's runs of one multiplier and shift:
  // [start, end) each.
  static std::vector<std::pair<int64_t, int64_t>> runsOf(const Node &n) {
    const Tensor *m = n.constantInput(1);
    const Tensor *s = n.hasInput(2) ? n.constantInput(2) : nullptr;
    std::vector<std::pair<int64_t, int64_t>> runs;
    auto sh = [&](int64_t i) {
      return s ? s->getInt(s->size() == 1 ? 0 : i) : 0;
    };
    for (int64_t i = 0; i < m->size(); ++i)
      if (runs.empty() || m->getInt(i) != m->getInt(runs.back().first) ||
          sh(i) != sh(runs.back().first))
        runs.push_back({i, i + 1});
      else
        runs.back().second = i + 1;
    return runs;
  }

  Expected<Value> make(OpKind k, std::vector<Value> ins, AttrMap attrs,
                       const std::string &name, Node *before) {
    return makeBefore(f_, before, k, std::move(ins), std::move(attrs), name);
  }
  Value ints(const std::string &name, const std::vector<int64_t> &v) {
    return int64Constant(f_, name, v);
  }
  Value scalarOf(const Tensor &t, int64_t i, const std::string &name) {
    Tensor one(Type(t.type().elem(), {}));
    one.setInt(0, t.getInt(i));
    return Value(f_.addConstant(name, std::move(one)));
  }
  // v as [1, C, 1, L] (a constant: a constant of those dims).
  Expected<Value> asMap(Value v, Node &at) {
    const Dims &d = v.type().dims();
    if (v.node && v.node->kind == OpKind::Reshape && back_.count(v.node))
      return back_.at(v.node); // (a result made here: its map)
    if (const Tensor *c = constantOf(v)) {
      Tensor t = *c;
      t.reshape({d[0], d[1], 1, d[2]});
      return Value(f_.addConstant(at.name + ".map", std::move(t)));
    }
    return make(OpKind::Reshape,
                {v, ints(at.name + ".map", {d[0], d[1], 1, d[2]})}, {}, at.name,
                &at);
  }

  Status rewrite(Node &n) {
    const Dims d = n.types[0].dims();
    std::vector<Value> ins = n.inputs;
    const size_t data = n.kind == OpKind::QuantizedAdd ? 2
                        : n.kind == OpKind::Concat     ? ins.size()
                                                       : 1;
    for (size_t i = 0; i < data; ++i) {
      if (n.constantInput(i) && ins[i].type().rank() != 3)
        continue; // (a scalar)
      EMBER_ASSIGN(ins[i], asMap(ins[i], n));
    }
    AttrMap attrs = n.attrs;
    Value y;
    if (n.kind == OpKind::Requantize && n.constantInput(1)->size() > 1 &&
        n.attrInt("axis", 1) == 2) {
      // Per pixel: one per-tensor Requantize per run, concatenated.
      std::vector<Value> parts;
      const Tensor &m = *n.constantInput(1);
      const Tensor *s = n.hasInput(2) ? n.constantInput(2) : nullptr;
      attrs.erase("axis");
      for (auto [a, b] : runsOf(n)) {
        EMBER_ASSIGN(Value part, make(OpKind::Slice,
                                      {ins[0], ints(n.name + ".from", {a}),
                                       ints(n.name + ".to", {b}),
                                       ints(n.name + ".axes", {3})},
                                      {}, n.name, &n));
        std::vector<Value> r = ins;
        r[0] = part;
        r[1] = scalarOf(m, a, n.name + ".multiplier");
        if (s)
          r[2] = scalarOf(*s, s->size() == 1 ? 0 : a, n.name + ".shift");
        EMBER_ASSIGN(Value q, make(OpKind::Requantize, r, attrs, n.name, &n));
        parts.push_back(q);
      }
      if (parts.size() == 1) {
        y = parts[0];
      } else {
        EMBER_ASSIGN(y, make(OpKind::Concat, parts, {{"axis", Attr::ofInt(3)}},
                             n.name, &n));
      }
    } else {
      if (n.kind == OpKind::Concat)
        attrs["axis"] = Attr::ofInt(1);
      EMBER_ASSIGN(y, make(n.kind, ins, attrs, n.name, &n));
    }
    EMBER_ASSIGN(
        Value out,
        make(OpKind::Reshape, {y, ints(n.name + ".rows", d)}, {}, n.name, &n));
    back_[out.node] = y;
    f_.replaceAllUses(Value(&n), out);
    f_.erase(&n);
    return Status::ok();
  }

  Function &f_;
  std::map<const Node *, Value> back_; // Reshape to rows -> its map
};

} // namespace map_rows

Status mapRows(Function &f, size_t *numRewritten) {
  map_rows::Rewriter r(f);
  EMBER_ASSIGN(size_t n, r.run());
  if (numRewritten)
    *numRewritten += n;
  return Status::ok();
}

} // namespace ember

// A detection head that a quantizer of convolutions only leaves in float
// (PaddleSlim's, or quantize_static told to quantize Conv and MatMul):
// each level's box and class convolutions dequantized and concatenated
// along the channels, the levels flattened and concatenated along the
// anchors, split again into boxes and classes, and the boxes' bins put
// through Reshape, Transpose and a Softmax before the QuantizeLinear of the
// next convolution (YOLOv8's DFL). The Softmax's input then holds values of
// several scales (per level and per part), so no integer pattern applies
// and the head runs on the host. Three rewrites give each scale its own
// chain (docs/quantization.md, "Concatenated levels in a float head"):
//   - a Split of a float value whose parts were dequantized and
//     concatenated before it, in the same slices, reads those parts:
//     Split(Concat(a, b)) along the same axis at the Concat's boundaries is
//     (a, b), a and b DequantizeLinears; through a Concat along
//     another axis, the Split applies to each of its inputs and the parts
//     are concatenated; through a Reshape that keeps every axis up to the
//     split one, the parts are split first and reshaped after;
//   - a float Concat read, one reader after the other, by Reshapes (that
//     keep the Concat's axis and every axis after it), Transposes, a
//     Softmax along another axis, QuantizeLinears and DequantizeLinears of
//     one scale and 1x1 convolutions of stride 1 (the DFL's), down to the
//     last such QuantizeLinear after the Softmax, moves below that
//     QuantizeLinear: each input goes through its own copy
//     of the chain, with its DequantizeLinear moved past the Reshapes and
//     Transposes to the Softmax, and the Concat joins the stored integers;
//   - a Softmax read by a QuantizeLinear of one scale alone, whose operand
//     is a DequantizeLinear's through Reshapes and Transposes (one level's
//     chain, with no Concat of levels), reads the DequantizeLinear of the
//     rearranged integers.
// In float every element of every result is computed by the same
// operations on the same values as before: the Softmax's rows lie within
// one input of the Concat, the rearrangements only move elements. In the
// fixed-point profiles (the only ones it runs in) each Softmax then lowers
// to the integer softmax, which rounds otherwise than the float one the
// host ran before (up to one quantum of the next layer's output).
#include "lower/LowerUtil.h"

#include <optional>

namespace ember {

namespace {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

bool isFloat(const Node *n) {
  return n && n->numResults() >= 1 && isFloatKind(n->types[0].elem());
}

// The axis attribute of n normalized against `rank`, or nullopt.
std::optional<size_t> axisOf(const Node &n, size_t rank, int64_t dflt) {
  auto a = checkedAxis("", n.attrInt("axis", dflt), rank);
  return a ? std::optional<size_t>(size_t(*a)) : std::nullopt;
}

class ConcatIslands {
public:
  explicit ConcatIslands(Function &f) : f_(f) {}

  Expected<size_t> run() {
    size_t total = 0;
    for (bool changed = true; changed;) {
      changed = false;
      std::vector<Node *> work;
      for (auto &np : f_.nodes())
        if ((np->kind == OpKind::Split || np->kind == OpKind::Concat ||
             np->kind == OpKind::Softmax) &&
            isFloat(np.get()))
          work.push_back(np.get());
      // (After a rewrite the list is collected again: it erased nodes.)
      users_ = f_.computeUsers();
      for (Node *n : work) {
        gone_.clear();
        bool done = false;
        if (n->kind == OpKind::Split) {
          EMBER_ASSIGN(done, hoistSplit(*n));
        } else if (n->kind == OpKind::Concat) {
          EMBER_ASSIGN(done, sinkConcat(*n));
        } else {
          EMBER_ASSIGN(done, dequantizeAtSoftmax(*n));
        }
        if (done) {
          ++total;
          changed = true;
          break;
        }
      }
    }
    return total;
  }

private:
  Function &f_;
  Users users_;
  std::set<const Node *> gone_;

  // Erases n when nothing reads it, then each node it read that nothing
  // reads any more.
  void dropDead(Node *n) { eraseUnread(f_, n, gone_, true); }

  // ---- Split of parts concatenated before it ----

  // The parts of v along `axis` of the given sizes, found through Concats
  // and Reshapes down to a Concat along `axis` at those boundaries (built
  // before `at` when `b`; only checked when null).
  Expected<std::optional<std::vector<Value>>>
  partsOf(LoweringBuilder *b, Value v, size_t axis,
          const std::vector<int64_t> &sizes) {
    using Parts = std::optional<std::vector<Value>>;
    Node *n = v.node;
    if (!n || !isFloat(n) || n->numResults() != 1)
      return Parts{};
    const Dims &d = v.type().dims();
    if (n->kind == OpKind::Concat) {
      auto ca = axisOf(*n, d.size(), 0);
      if (!ca)
        return Parts{};
      if (*ca == axis) {
        // Consecutive inputs fill each part exactly.
        std::vector<Value> out;
        size_t i = 0;
        for (int64_t want : sizes) {
          std::vector<Value> group;
          int64_t got = 0;
          while (got < want && i < n->inputs.size()) {
            // (Parts of several scales: each a DequantizeLinear's.)
            if (!perTensorDequantize(n->inputs[i].node))
              return Parts{};
            got += n->inputs[i].type().dims()[axis];
            group.push_back(n->inputs[i++]);
          }
          if (got != want || group.empty())
            return Parts{};
          if (group.size() == 1) {
            out.push_back(group[0]);
          } else if (b) {
            EMBER_ASSIGN(Value c, b->op(OpKind::Concat, group, n->attrs));
            out.push_back(c);
          } else {
            out.push_back(Value());
          }
        }
        if (i != n->inputs.size())
          return Parts{};
        return Parts{std::move(out)};
      }
      // Along another axis: each input's parts, concatenated part by part.
      std::vector<std::vector<Value>> per;
      for (const Value &x : n->inputs) {
        EMBER_ASSIGN(Parts p, partsOf(b, x, axis, sizes));
        if (!p)
          return Parts{};
        per.push_back(std::move(*p));
      }
      std::vector<Value> out;
      for (size_t k = 0; k < sizes.size(); ++k) {
        if (!b) {
          out.push_back(Value());
          continue;
        }
        std::vector<Value> ins;
        for (auto &p : per)
          ins.push_back(p[k]);
        EMBER_ASSIGN(Value c, b->op(OpKind::Concat, ins, n->attrs));
        out.push_back(c);
      }
      return Parts{std::move(out)};
    }
    if (n->kind == OpKind::Reshape) {
      const Dims &in = n->inputs[0].type().dims();
      if (in.size() <= axis || d.size() <= axis)
        return Parts{};
      for (size_t i = 0; i <= axis; ++i)
        if (in[i] != d[i])
          return Parts{};
      EMBER_ASSIGN(Parts p, partsOf(b, n->inputs[0], axis, sizes));
      if (!p || !b)
        return p;
      for (size_t k = 0; k < sizes.size(); ++k) {
        std::vector<int64_t> shape(d.begin(), d.end());
        shape[axis] = sizes[k];
        EMBER_ASSIGN((*p)[k],
                     b->op(OpKind::Reshape, {(*p)[k], b->ints(shape)}));
      }
      return p;
    }
    return Parts{};
  }

  Expected<bool> hoistSplit(Node &s) {
    const Dims &d = s.inputs[0].type().dims();
    auto axis = axisOf(s, d.size(), 0);
    if (!axis)
      return false;
    std::vector<int64_t> sizes;
    for (unsigned i = 0; i < s.numResults(); ++i)
      sizes.push_back(s.types[i].dims()[*axis]);
    EMBER_ASSIGN(auto check, partsOf(nullptr, s.inputs[0], *axis, sizes));
    if (!check)
      return false;
    LoweringBuilder b(f_, s);
    EMBER_ASSIGN(auto parts, partsOf(&b, s.inputs[0], *axis, sizes));
    if (!parts)
      return makeError(ErrorCode::Internal, "the parts of ", s.describe(),
                       " were found, then not built");
    for (unsigned i = 0; i < s.numResults(); ++i)
      f_.replaceAllUses(Value(&s, i), (*parts)[i]);
    dropDead(&s);
    return true;
  }

  // ---- A DequantizeLinear moved to the Softmax it reaches ----

  // Softmax(R(DequantizeLinear(x))), R Reshapes and Transposes each read
  // by the next alone, the Softmax by a QuantizeLinear of one scale alone:
  // Softmax(DequantizeLinear(R(x))) (a level's chain once its Split reads
  // its parts, with no Concat of levels to move).
  Expected<bool> dequantizeAtSoftmax(Node &sm) {
    Node *q = soleReaderOf(users_, &sm);
    if (!perTensorQuantize(q) || !sm.inputs[0].node)
      return false;
    std::vector<Node *> moves; // from the Softmax's operand up
    Node *n = sm.inputs[0].node;
    while ((n->kind == OpKind::Reshape || n->kind == OpKind::Transpose) &&
           n->inputs[0].node && soleReaderOf(users_, n->inputs[0].node) == n) {
      moves.push_back(n);
      n = n->inputs[0].node;
    }
    if (moves.empty() || !perTensorDequantize(n) ||
        soleReaderOf(users_, moves.front()) != &sm)
      return false;
    LoweringBuilder b(f_, sm);
    Value y = n->inputs[0];
    for (auto it = moves.rbegin(); it != moves.rend(); ++it) {
      std::vector<Value> ins = (*it)->inputs;
      ins[0] = y;
      EMBER_ASSIGN(y, b.op((*it)->kind, ins, (*it)->attrs));
    }
    std::vector<Value> dq = n->inputs;
    dq[0] = y;
    EMBER_ASSIGN(y, b.op(OpKind::DequantizeLinear, dq, n->attrs));
    Node *top = moves.front();
    f_.replaceAllUses(Value(top, 0), y);
    dropDead(top);
    return true;
  }

  // ---- Concat below a per-slice chain ending in a QuantizeLinear ----

  // One input's value along its copy of the chain: DequantizeLinear (of
  // dq's scale and zero point, when dq) of Reshape (to `shape`, when
  // reshaped) of v. The rearrangements apply to the stored integers; a
  // Reshape after a Reshape replaces it.
  struct Cur {
    Value v;
    const Node *dq = nullptr;
    std::vector<int64_t> shape;
    bool reshaped = false;
  };

  Cur start(Value x) {
    Cur c;
    c.v = x;
    if (x.node && x.node->kind == OpKind::Reshape) {
      const Dims &d = x.type().dims();
      c.shape.assign(d.begin(), d.end());
      c.reshaped = true;
      c.v = x.node->inputs[0];
    }
    if (perTensorDequantize(c.v.node)) {
      c.dq = c.v.node;
      c.v = c.v.node->inputs[0];
    }
    return c;
  }

  Expected<Value> stored(LoweringBuilder &b, Cur &c) {
    if (c.reshaped) {
      EMBER_ASSIGN(c.v, b.op(OpKind::Reshape, {c.v, b.ints(c.shape)}));
      c.reshaped = false;
    }
    return c.v;
  }

  Expected<Value> real(LoweringBuilder &b, Cur &c) {
    EMBER_ASSIGN(Value v, stored(b, c));
    if (!c.dq)
      return v;
    std::vector<Value> ins = c.dq->inputs;
    ins[0] = v;
    EMBER_ASSIGN(c.v, b.op(OpKind::DequantizeLinear, ins, c.dq->attrs));
    c.dq = nullptr;
    return c.v;
  }

  // One op of the chain, m, for one input (its Concat axis `axis` before
  // m, `newAxis` after).
  Status step(LoweringBuilder &b, const Node &m, Cur &c, size_t axis,
              size_t newAxis) {
    if (m.kind == OpKind::Reshape) {
      const Dims &out = m.types[0].dims();
      std::vector<int64_t> cur =
          c.reshaped ? c.shape
                     : std::vector<int64_t>(c.v.type().dims().begin(),
                                            c.v.type().dims().end());
      std::vector<int64_t> shape(out.begin(), out.begin() + long(newAxis));
      shape.insert(shape.end(), cur.begin() + long(axis), cur.end());
      c.shape = std::move(shape);
      c.reshaped = true;
      return Status::ok();
    }
    if (m.kind == OpKind::Transpose) {
      EMBER_ASSIGN(Value v, stored(b, c));
      EMBER_ASSIGN(c.v, b.op(OpKind::Transpose, {v}, m.attrs));
      return Status::ok();
    }
    EMBER_ASSIGN(Value x, real(b, c));
    std::vector<Value> ins = m.inputs;
    ins[0] = x;
    EMBER_ASSIGN(c.v, b.op(m.kind, ins, m.attrs));
    return Status::ok();
  }

  // The Concat's axis in m's result, or nullopt when m does not act within
  // each input's slice.
  std::optional<size_t> axisAfter(const Node &m, size_t axis) {
    if (m.numResults() != 1 || !m.inputs[0].node)
      return std::nullopt;
    const Dims &in = m.inputs[0].type().dims();
    const Dims &out = m.types[0].dims();
    if (m.kind == OpKind::Reshape) {
      // Every axis from the Concat's on is kept, as the last ones.
      const size_t tail = in.size() - axis;
      if (out.size() < tail)
        return std::nullopt;
      const size_t a = out.size() - tail;
      for (size_t i = 0; i < tail; ++i)
        if (out[a + i] != in[axis + i])
          return std::nullopt;
      return a;
    }
    if (m.kind == OpKind::Transpose) {
      const std::vector<int64_t> perm = m.attrInts("perm");
      for (size_t j = 0; j < perm.size(); ++j)
        if (perm[j] == int64_t(axis))
          return j;
      return std::nullopt;
    }
    if (m.kind == OpKind::Softmax) {
      auto s = axisOf(m, in.size(), -1);
      if (!s || *s == axis)
        return std::nullopt;
      return axis;
    }
    const bool keeps =
        (m.kind == OpKind::QuantizeLinear && perTensorQuantize(&m)) ||
        (m.kind == OpKind::DequantizeLinear && perTensorDequantize(&m)) ||
        (m.kind == OpKind::Conv && pixelwiseConv(m) && axis >= 2);
    return keeps ? std::optional<size_t>(axis) : std::nullopt;
  }

  // m is a 1x1 convolution of stride 1 without padding or groups (a DFL's
  // expectation): each output pixel reads its own input pixel alone.
  static bool pixelwiseConv(const Node &m) {
    if (m.inputs.size() < 2 || m.attrInt("group", 1) != 1)
      return false;
    const Dims &w = m.inputs[1].type().dims();
    if (w.size() < 3)
      return false;
    for (size_t i = 2; i < w.size(); ++i)
      if (w[i] != 1)
        return false;
    for (const char *a : {"strides", "dilations"})
      for (int64_t v : m.attrInts(a))
        if (v != 1)
          return false;
    for (int64_t v : m.attrInts("pads"))
      if (v != 0)
        return false;
    const std::string pad =
        m.attrs.count("auto_pad") ? m.attrs.at("auto_pad").s : "NOTSET";
    return pad == "NOTSET" || pad == "VALID";
  }

  Expected<bool> sinkConcat(Node &c) {
    const Dims &d = c.types[0].dims();
    auto axis = axisOf(c, d.size(), 0);
    if (!axis || c.inputs.size() < 2)
      return false;
    // The chain of sole readers that act within each input's slice, cut
    // after its last QuantizeLinear of one scale; a Softmax (the op that
    // needs one scale a row) before that.
    struct Step {
      Node *m;
      size_t before, after; // the Concat's axis before and after m
    };
    std::vector<Step> chain;
    size_t a = *axis, end = 0, endAxis = 0;
    bool softmax = false, softmaxBeforeEnd = false;
    for (Node *m = soleReaderOf(users_, &c); m; m = soleReaderOf(users_, m)) {
      auto next = axisAfter(*m, a);
      if (!next)
        break;
      softmax |= m->kind == OpKind::Softmax;
      chain.push_back({m, a, *next});
      a = *next;
      if (m->kind == OpKind::QuantizeLinear) {
        end = chain.size();
        endAxis = a;
        softmaxBeforeEnd = softmax;
      }
    }
    if (!end || !softmaxBeforeEnd)
      return false;
    chain.resize(end);
    Node *q = chain.back().m;
    LoweringBuilder b(f_, *q);
    std::vector<Value> parts;
    for (const Value &x0 : c.inputs) {
      Cur cur = start(x0);
      for (const Step &st : chain)
        EMBER_TRY(step(b, *st.m, cur, st.before, st.after));
      EMBER_ASSIGN(Value x, real(b, cur));
      parts.push_back(x);
    }
    AttrMap ca = c.attrs;
    ca["axis"] = Attr::ofInt(int64_t(endAxis));
    EMBER_ASSIGN(Value y, b.op(OpKind::Concat, parts, ca));
    f_.replaceAllUses(Value(q, 0), y);
    dropDead(q);
    return true;
  }
};

} // namespace

Status separateConcatIslands(Function &f, size_t *numRewritten) {
  ConcatIslands c(f);
  EMBER_ASSIGN(size_t n, c.run());
  if (numRewritten)
    *numRewritten += n;
  return Status::ok();
}

} // namespace ember

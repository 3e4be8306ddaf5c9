// Values stored inside another value's bytes (README.md, "Memory"): a
// Concat input computed straight into its slice of the result, and a
// Split's parts read in place from the split's input, so neither is a copy.
// A value inside another takes its container's strides (physStrides); its
// readers then read it there:
//   - a row-major slice of the outermost non-unit dim is contiguous: any
//     reader can;
//   - otherwise (a channel slice of a channels-last value) the generated
//     loops, copies, reductions and pools, which address any strides, and
//     channels-last convolutions, which take the pixel stride of x, of the
//     residual and of y (RtAbi.h, EMBER_RT_CONV_LDX, _LDR, _LDY).
// YOLOv8's C2f block (a 1x1 conv, a Split in two, bottlenecks that each
// read the last part and add it back, a Concat of every part) then writes
// each part once, into the Concat's result, and copies nothing.
#include "LoopGen.h"

#include "runtime/RtAbi.h"

namespace ember::cpugen {

// Who reads each value and with what strides, for placing values inside
// others.
struct Codegen::ViewPlan {
  Codegen &cg;
  const std::map<ValueKey, const Group *> &producer;
  std::map<ValueKey, std::pair<Value, uint64_t>> &placed;
  std::unordered_map<const Node *, std::vector<Use>> users;
  std::map<const Node *, const Group *> groupOf;

  ViewPlan(Codegen &c, const std::map<ValueKey, const Group *> &prod,
           std::map<ValueKey, std::pair<Value, uint64_t>> &pl)
      : cg(c), producer(prod), placed(pl), users(c.f_.computeUsers()) {
    for (auto &g : cg.groups_)
      for (const Node *m : g.members)
        groupOf[m] = &g;
  }

  std::vector<Use> readers(const Value &v) const {
    std::vector<Use> out;
    auto it = users.find(v.node);
    if (it != users.end())
      for (auto &u : it->second)
        if (!u.user || u.user->inputs[u.operand] == v)
          out.push_back(u);
    return out;
  }
  Step &stepOf(const Group &g) const {
    return cg.steps_[size_t(&g - cg.groups_.data())];
  }
  // A container's strides as a value inside it sees them (same rank).
  std::vector<int64_t> stridesIn(const Value &c) const {
    return cg.physStrides(c);
  }

  // Whether a reader of v reads it with any strides.
  bool stridedReader(const Use &u, const Value &v) const {
    auto it = u.user ? groupOf.find(u.user) : groupOf.end();
    if (it == groupOf.end())
      return false; // a graph output
    const Group &g = *it->second;
    switch (g.kind) {
    case GroupKind::Loop:
    case GroupKind::Concat:
    case GroupKind::Split:
    case GroupKind::Reduce:
      return true;
    case GroupKind::Pool:
      return u.user == g.anchor && u.operand == 0;
    case GroupKind::Conv: {
      const auto &p = stepOf(g).params;
      const bool nhwc = p[EMBER_RT_CONV_NHWC] && !p[EMBER_RT_CONV_IN_NCHW] &&
                        !p[EMBER_RT_CONV_POOL_KH] && !p[EMBER_RT_CONV_Y_COPY];
      return nhwc && cg.nhwc_.count(keyOf(v)) &&
             ((u.user == g.anchor && u.operand == 0) ||
              (g.epi.residual && v == g.epi.residual));
    }
    case GroupKind::View:
    case GroupKind::ConvT:
    case GroupKind::MatMul:
    case GroupKind::QConv:
    case GroupKind::QMatMul:
    case GroupKind::Copy:
    case GroupKind::Recurrent:
    case GroupKind::Emit:
    case GroupKind::Softmax:
      return false;
    }
    return false;
  }

  // Whether v's readers (none a graph output) take it with `strides`.
  bool readable(const Value &v, const std::vector<int64_t> &strides) const {
    auto rs = readers(v);
    if (rs.empty())
      return false;
    const bool dense = strides == contiguous(v.type().dims());
    for (auto &u : rs)
      if (!u.user || (!dense && !stridedReader(u, v)))
        return false;
    return true;
  }

  // Splits whose parts can be views of their input (all or none): same
  // layout as the input, each part read only by readers that take the
  // input's strides. Bytes of part k from the input's start follow once
  // the input's own place (maybe inside a Concat) is known.
  std::set<const Node *> viewSplits() const {
    std::set<const Node *> out;
    for (auto &g : cg.groups_) {
      if (g.kind != GroupKind::Split)
        continue;
      const Node &n = *g.root;
      const Value x = n.inputs[0];
      bool ok = producer.count(keyOf(x)) && !cg.locs_.count(keyOf(x)) &&
                producer.at(keyOf(x))->kind != GroupKind::View;
      for (unsigned k = 0; ok && k < n.numResults(); ++k) {
        const Value part(const_cast<Node *>(&n), k);
        ok = !cg.locs_.count(keyOf(part)) &&
             cg.nhwc_.count(keyOf(part)) == cg.nhwc_.count(keyOf(x)) &&
             part.type().numElements() > 0 && readable(part, stridesIn(x));
      }
      if (ok)
        out.insert(&n);
    }
    return out;
  }

  // Whether v (a value or a split's input whose parts are views) may be
  // computed into a slice of a Concat: its producer writes through the
  // strides it is given (generated code stores with physStrides; a
  // channels-last convolution takes y's pixel stride), and its other
  // readers take the Concat's strides.
  bool intoConcat(const Value &v, const Value &cat, const Node *splitOf) const {
    auto pit = producer.find(keyOf(v));
    if (pit == producer.end() || cg.locs_.count(keyOf(v)) ||
        placed.count(keyOf(v)) || v.node->numResults() != 1)
      return false;
    const Group &pg = *pit->second;
    const bool last = cg.nhwc_.count(keyOf(cat)) != 0;
    if (cg.nhwc_.count(keyOf(v)) != (last ? 1u : 0u))
      return false;
    bool writes =
        pg.kind == GroupKind::Conv
            ? !pg.pool && !stepOf(pg).params[EMBER_RT_CONV_Y_COPY]
            : pg.kind == GroupKind::Loop || pg.kind == GroupKind::Pool;
    if (!last) // (a contiguous slice: any producer but views and copies)
      writes = pg.kind != GroupKind::View && pg.kind != GroupKind::Copy;
    if (!writes)
      return false;
    for (auto &u : readers(v)) {
      if (!u.user)
        return false;
      if (u.user == cat.node || u.user == splitOf)
        continue;
      if (last && !stridedReader(u, v))
        return false;
    }
    return true;
  }

  void place(const Value &v, const Value &in, uint64_t offset) {
    placed[keyOf(v)] = {in, offset};
    cg.inside_[keyOf(v)] = in;
  }

  // The inputs of Concat g that can be computed into their slices of it,
  // a view split's input in place of its parts.
  void placeInConcat(const Group &g, const std::set<const Node *> &splits) {
    const Node &n = *g.root;
    const Value cat(const_cast<Node *>(&n), 0);
    const Dims &od = n.types[0].dims();
    int64_t axis = n.attrInt("axis", 0);
    if (axis < 0)
      axis += int64_t(od.size());
    const bool channelsLast = cg.nhwc_.count(keyOf(&n)) != 0;
    bool contiguousSlices = true;
    for (int64_t d = 0; d < axis; ++d)
      contiguousSlices = contiguousSlices && od[size_t(d)] == 1;
    if (channelsLast ? axis != 1 : !contiguousSlices)
      return;
    const std::vector<int64_t> cs = stridesIn(cat);
    const uint64_t es = elemSize(n.types[0].elem());
    int64_t at = 0; // elements along the axis
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const Value &in = n.inputs[i];
      const uint64_t off = uint64_t(at * cs[size_t(axis)]) * es;
      at += in.type().dim(size_t(axis));
      // A split whose parts come in order here, starting with part 0,
      // along the same axis: its input goes into the slice they cover.
      const Node *s = in.node;
      if (splits.count(s) && in.idx == 0 && s->numResults() > 1 &&
          s->attrInt("axis", 0) == axis &&
          i + s->numResults() <= n.inputs.size()) {
        bool inOrder = true;
        for (unsigned k = 0; k < s->numResults(); ++k)
          inOrder =
              inOrder && n.inputs[i + k] == Value(const_cast<Node *>(s), k);
        const Value x = s->inputs[0];
        if (inOrder && intoConcat(x, cat, s))
          place(x, cat, off);
        continue;
      }
      if (intoConcat(in, cat, nullptr) && !splits.count(s))
        place(in, cat, off);
    }
  }

  // The split parts, inside their input (wherever it now is).
  void placeSplitParts(const std::set<const Node *> &splits) {
    for (const Node *s : splits) {
      const Value x = s->inputs[0];
      int64_t axis = s->attrInt("axis", 0);
      if (axis < 0)
        axis += int64_t(x.type().rank());
      const std::vector<int64_t> xs = stridesIn(x);
      const uint64_t es = elemSize(x.type().elem());
      int64_t at = 0;
      for (unsigned k = 0; k < s->numResults(); ++k) {
        const Value part(const_cast<Node *>(s), k);
        place(part, x, uint64_t(at * xs[size_t(axis)]) * es);
        at += part.type().dim(size_t(axis));
      }
    }
  }

  // Channels-last convolutions read x and the residual, and write y, with
  // the pixel strides of the values they are inside.
  void setPixelStrides() {
    auto pixelStride = [&](const Value &v) {
      return cg.physStrides(v)[3]; // [N][H][W][C]: W's stride
    };
    for (auto &g : cg.groups_) {
      if (g.kind != GroupKind::Conv)
        continue;
      auto &p = stepOf(g).params;
      if (!p[EMBER_RT_CONV_NHWC] || p[EMBER_RT_CONV_Y_COPY])
        continue;
      const Value x = g.anchor->inputs[0], y(const_cast<Node *>(g.root), 0);
      if (!p[EMBER_RT_CONV_IN_NCHW] && cg.inside_.count(keyOf(x)))
        p[EMBER_RT_CONV_LDX] = pixelStride(x);
      if (g.epi.residual && cg.inside_.count(keyOf(g.epi.residual)))
        p[EMBER_RT_CONV_LDR] = pixelStride(g.epi.residual);
      if (cg.inside_.count(keyOf(y)))
        p[EMBER_RT_CONV_LDY] = pixelStride(y);
    }
  }
};

void Codegen::planViews(
    const std::map<ValueKey, const Group *> &producer,
    std::map<ValueKey, std::pair<Value, uint64_t>> &placed) {
  inside_.clear();
  if (!cfg_.fuse)
    return;
  ViewPlan plan(*this, producer, placed);
  const std::set<const Node *> splits = plan.viewSplits();
  // Concats from the last back, so nested ones chain.
  for (size_t gi = groups_.size(); gi-- > 0;)
    if (groups_[gi].kind == GroupKind::Concat)
      plan.placeInConcat(groups_[gi], splits);
  plan.placeSplitParts(splits);
  out_.fusion.viewSplits += splits.size();
  plan.setPixelStrides();
}

} // namespace ember::cpugen

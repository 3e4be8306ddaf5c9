// A Slice that steps over the pixels of a quantized image (every second
// row and column from an offset: YOLOv5's Focus stem, four such phases
// concatenated) as the depthwise convolution it is: kernel and stride the
// steps, one weight 1 at the offset's tap and 0 at the others (int8
// dequantized with scale 1, zero point 0), padding at the bottom and right
// where the last phase row or column would otherwise fall off. Each output
// element is one input element times 1 (plus zeros): the same float
// value, so the graph computes what it did, and the integer patterns lower
// the convolution (docs/quantization.md, "Strided Slice"): a layer an
// accelerator runs, where a Slice with steps is not a view of the
// channel-tiled layout.
//
// A Slice of a float tensor that no DequantizeLinear produced (the graph's
// float image) whose one reader is a QuantizeLinear is first given that
// QuantizeLinear and its DequantizeLinear in front: the Slice moves values
// already on that grid, so the reader quantizes them to what it did (a
// value q / s + z requantized by the same s and z is q), and the Slice
// takes stored integers. Fixed-point profiles; rank 4, steps only on the
// two spatial axes, each offset below its step, the slice running to the
// map's end (at most the rows the padding adds).
#include "lower/LowerUtil.h"

namespace ember {

namespace {

// Kernel (the step), offset and bottom/right padding of one spatial axis
// of a strided Slice.
struct SliceAxis {
  int64_t step = 1, at = 0, pad = 0;
};

// The per-axis convolution of Slice s over dims d (rank 4), or false when
// the Slice is not a pixel phase (a step above 1 on axis 2 or 3 and nothing
// else).
bool slicePhases(const Node &s, const Dims &d, SliceAxis (&ax)[2]) {
  if (s.kind != OpKind::Slice || d.size() != 4 || !s.hasInput(4))
    return false;
  const Tensor *st = s.constantInput(1), *en = s.constantInput(2),
               *axes = s.hasInput(3) ? s.constantInput(3) : nullptr,
               *sp = s.constantInput(4);
  if (!st || !en || !sp || !axes || st->size() != en->size() ||
      st->size() != sp->size() || st->size() != axes->size())
    return false;
  ax[0] = ax[1] = SliceAxis();
  bool stepped = false;
  for (int64_t i = 0; i < st->size(); ++i) {
    int64_t a = axes->getInt(i);
    a = a < 0 ? a + 4 : a;
    if (a != 2 && a != 3)
      return false;
    const int64_t n = d[size_t(a)], k = sp->getInt(i);
    auto clampBound = [&](int64_t v) {
      return std::max<int64_t>(0, std::min(v < 0 ? v + n : v, n));
    };
    const int64_t from = clampBound(st->getInt(i)),
                  to = clampBound(en->getInt(i));
    if (k < 1 || k > 16 || from >= k || to <= from)
      return false;
    const int64_t out = (to - from + k - 1) / k;
    const int64_t pad = std::max<int64_t>(0, k * out - n);
    if ((n + pad) / k != out) // (a slice ending early)
      return false;
    ax[a - 2] = {k, from, pad};
    stepped = stepped || k > 1;
  }
  return stepped;
}

bool quantizedOnly(const std::unordered_map<const Node *, std::vector<Use>> &u,
                   const Node *n) {
  auto it = u.find(n);
  if (it == u.end() || it->second.empty())
    return false;
  for (const Use &r : it->second)
    if (!r.user || !perTensorQuantize(r.user) || r.operand != 0)
      return false;
  return true;
}

Status phaseConv(Function &f, Node &s, const SliceAxis (&ax)[2]) {
  const Dims &xd = s.inputs[0].type().dims();
  const int64_t C = xd[1], kh = ax[0].step, kw = ax[1].step;
  Tensor w(Type(ElemKind::I8, {C, 1, kh, kw}));
  for (int64_t c = 0; c < C; ++c)
    w.setInt((c * kh + ax[0].at) * kw + ax[1].at, 1);
  LoweringBuilder b(f, s);
  EMBER_ASSIGN(Value wd, selectionWeights(b, std::move(w), "phase"));
  AttrMap a;
  a["kernel_shape"] = Attr::ofInts({kh, kw});
  a["strides"] = Attr::ofInts({kh, kw});
  a["pads"] = Attr::ofInts({0, 0, ax[0].pad, ax[1].pad});
  a["group"] = Attr::ofInt(C);
  EMBER_ASSIGN(Value y, b.op(OpKind::Conv, {s.inputs[0], wd}, a));
  f.replaceAllUses(Value(&s, 0), y);
  f.erase(&s);
  return Status::ok();
}

} // namespace

Status stridedSliceAsConv(Function &f, size_t *numRewritten) {
  auto users = f.computeUsers();
  std::vector<std::pair<Node *, Node *>> quantizeFirst; // (Slice, reader)
  std::vector<Node *> work;
  for (auto &np : f.nodes()) {
    Node *n = np.get();
    SliceAxis ax[2];
    if (n->kind != OpKind::Slice ||
        n->inputs[0].type().elem() != ElemKind::F32 ||
        !slicePhases(*n, n->inputs[0].type().dims(), ax) ||
        !quantizedOnly(users, n))
      continue;
    Node *p = n->inputs[0].node;
    if (perTensorDequantize(p)) {
      work.push_back(n);
      continue;
    }
    if (p && p->kind == OpKind::DequantizeLinear)
      continue; // (per channel)
    if (Node *q = soleReaderOf(users, n)) {
      quantizeFirst.push_back({n, q});
      work.push_back(n);
    }
  }
  for (auto [s, q] : quantizeFirst) {
    LoweringBuilder b(f, *s);
    std::vector<Value> qi = {s->inputs[0], q->inputs[1]};
    std::vector<Value> di = {Value(), q->inputs[1]};
    if (q->hasInput(2)) {
      qi.push_back(q->inputs[2]);
      di.push_back(q->inputs[2]);
    }
    EMBER_ASSIGN(Value xq, b.op(OpKind::QuantizeLinear, qi, q->attrs));
    di[0] = xq;
    EMBER_ASSIGN(Value xd, b.op(OpKind::DequantizeLinear, di, q->attrs));
    s->inputs[0] = xd;
  }
  for (Node *s : work) {
    SliceAxis ax[2];
    slicePhases(*s, s->inputs[0].type().dims(), ax);
    EMBER_TRY(phaseConv(f, *s, ax));
  }
  if (numRewritten)
    *numRewritten += work.size() + quantizeFirst.size();
  return Status::ok();
}

} // namespace ember

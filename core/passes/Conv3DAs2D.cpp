// 3-D convolutions, transposed convolutions and pools as 2-D ones over
// depth slices folded into the batch, so that backends need only their 2-D
// kernels (a CPU backend's channels-last convolutions, an NPU's MAC array).
// With X = [N, C, D, H, W] and a window (kd, kh, kw), strides (sd, sh, sw),
// dilations (dd, dh, dw):
//  - Depth-major form: [N*D, C, H, W], a batch of 2-D images (the depth
//    slices), is Reshape(Transpose(X, [0, 2, 1, 3, 4])); X is the Transpose
//    back of its Reshape to [N, D, C, H, W].
//  - Depth gather: the depth-major value padded in depth (the op's depth
//    pads and whatever the last window needs), then one strided Slice per
//    depth tap j: slice j holds depth j*dd + t*sd for each output depth t,
//    [N*Dout, C, H, W]. With N = 1 these are ops on the batch axis of the
//    4-D value; otherwise on axis 1 of its [N, D, ...] Reshape.
//  - Conv, group 1: the slices concatenated along the channels are one
//    batch of images with kd*C channels, and W [M, C, kd, kh, kw] read as
//    [M, kd*C, kh, kw] (a Transpose of its first two axes; constant
//    folding takes it) is their 2-D kernel. One 2-D Conv with the height
//    and width attributes.
//  - Conv, grouped: one 2-D Conv per depth tap on its slice with that
//    tap's [M, C/g, kh, kw] weights, summed by Adds (the bias on the
//    first), which a backend may fuse as a residual.
//  - MaxPool / AveragePool: the 2-D pool on [N*D, C, H, W] first (fewer
//    values to gather), then the depth gather and Max (padding -inf) or
//    Adds (padding 0) of the slices. An average is the mean over its depth
//    taps of the 2-D averages, as every depth slice of a window has the
//    same number of (h, w) taps: divide each output depth by its number of
//    taps inside the input, or inside the padded input when the padding
//    counts (ceil_mode's taps past the padding never do).
//  - Between two folded ops, the elementwise ops run on the depth-major
//    value (an operand that is neither a depth-major value's NCDHW form nor
//    a scalar is brought there with the same Reshape and Transpose, which
//    constant folding takes for constants), so the activations stay 4-D
//    and no Transpose remains between the layers.
//  - ConvTranspose: one 2-D ConvTranspose per depth tap over every depth
//    slice, its results gathered into the output depths they reach
//    (convTranspose below).
//  - QDQ (int8) forms stay int8: a Conv reading a per-tensor
//    DequantizeLinear gathers on the stored integers (padded with the zero
//    point) and dequantizes the gathered value; weights read through a
//    DequantizeLinear are transposed or sliced as integers. So every 2-D
//    Conv reads DequantizeLinear outputs, as lowering's integer patterns
//    want. A MaxPool of such a value pools the stored integers. Per-tensor
//    Q/DQ, Requantize and TableLookup move between layers as elementwise
//    ops do.
//  - A grouped QDQ Conv stays 3-D for lowering (its per-tap sums must add
//    in int32 before the one requantization); the integer mode, run after
//    lowering (runConv3DAs2DInteger), folds the ConvInteger it became into
//    one 2-D ConvInteger per depth tap (padded with the x zero point) and
//    int32 Adds: the 3-D integer form's result bit for bit.
//  - Left as they are: MaxPool with indices, quantized-type operands.
// A float 2-D sum runs over the same products as the 3-D window, in
// another order (depth taps outer, or one sum per tap), so results agree
// to rounding.
#include "ir/TypeRules.h"
#include "ir/typerules/Parse.h"
#include "lower/IntegerForms.h"
#include "passes/Pass.h"

#include <algorithm>
#include <limits>
#include <optional>

namespace ember {

namespace {

bool isSimpleQdq(const Node *d, bool channelAxis0 = false);

// A grouped 3-D convolution in QDQ form (DequantizeLinear of its input and
// of constant weights): left for lowering's integer forms, whose
// ConvInteger the integer mode below folds, so that the depth taps'
// products sum in int32 before the one requantization.
bool isQdqGroupedConv(const Node *n) {
  const Node *x = n->inputs[0].node, *w = n->inputs[1].node;
  return n->attrInt("group", 1) != 1 && n->inputs[1].type().dim(2) > 1 && x &&
         x->kind == OpKind::DequantizeLinear && isSimpleQdq(x) && w &&
         w->kind == OpKind::DequantizeLinear &&
         w->inputs[0].node->kind == OpKind::Constant;
}

// integer: the mode that runs after lowering (ConvInteger, and the float
// convolutions left 3-D).
bool isFoldable(const Node *n, bool integer) {
  if (n->numResults() != 1 || n->inputs.empty() ||
      n->inputs[0].type().rank() != 5)
    return false;
  const Type &x = n->inputs[0].type();
  if (n->kind == OpKind::ConvInteger)
    return integer && n->inputs[1].type().rank() == 5 &&
           (!n->hasInput(2) || n->inputs[2].node->kind == OpKind::Constant);
  if (n->kind != OpKind::Conv && n->kind != OpKind::ConvTranspose &&
      n->kind != OpKind::MaxPool && n->kind != OpKind::AveragePool)
    return false;
  if (x.isQuantized() || !isComputeFloatKind(x.elem()))
    return false;
  if (integer) // what lowering made or left 3-D: LpPool's AveragePool
    return n->kind != OpKind::ConvTranspose &&
           (n->kind != OpKind::Conv || n->inputs[1].type().rank() == 5);
  if (n->kind == OpKind::Conv)
    return n->inputs[1].type().rank() == 5 && !isQdqGroupedConv(n);
  if (n->kind == OpKind::ConvTranspose)
    return n->inputs[1].type().rank() == 5;
  return true;
}

const std::vector<int64_t> kSwap = {0, 2, 1, 3, 4};

// The depth-major 4-D value whose NCDHW form v is (Transpose(Reshape(dm,
// [N, D, C, H, W]), kSwap)), or null.
Value depthMajorOf(const Value &v) {
  const Node *t = v.node;
  if (!t || t->kind != OpKind::Transpose || t->attrInts("perm") != kSwap)
    return Value();
  const Node *r = t->inputs[0].node;
  if (!r || r->kind != OpKind::Reshape || r->inputs[0].type().rank() != 4)
    return Value();
  const Dims &four = r->inputs[0].type().dims(), &five = r->types[0].dims();
  if (four[0] != five[0] * five[1] || four[1] != five[2] ||
      four[2] != five[3] || four[3] != five[4])
    return Value();
  return r->inputs[0];
}

bool isQdq(OpKind k) {
  return k == OpKind::QuantizeLinear || k == OpKind::DequantizeLinear;
}

// A QuantizeLinear/DequantizeLinear with one scale and a constant (or no)
// zero point; with `channelAxis0`, also one whose scale runs along axis 0
// (weights per output channel).
bool isSimpleQdq(const Node *d, bool channelAxis0) {
  if (!d || !isQdq(d->kind) || d->numResults() != 1 ||
      d->attrInt("block_size", 0) != 0)
    return false;
  if (d->hasInput(2) && d->inputs[2].node->kind != OpKind::Constant)
    return false;
  const int64_t scales = d->inputs[1].type().numElements();
  const int64_t axis = d->attrInt("axis", 1);
  const int64_t rank = int64_t(d->inputs[0].type().rank());
  return scales == 1 || (channelAxis0 && (axis == 0 || axis == -rank) &&
                         d->inputs[1].type().rank() == 1);
}

// The lowest value of an 8- or 16-bit integer kind, a max pool's padding
// (lowestOf in lower/IntegerForms.h knows the 8-bit kinds only).
std::optional<double> maxPoolPadding(ElemKind k) {
  switch (k) {
  case ElemKind::I8:
    return -128.0;
  case ElemKind::I16:
    return -32768.0;
  case ElemKind::U8:
  case ElemKind::U16:
    return 0.0;
  default:
    return std::nullopt;
  }
}

double zeroPointOf(const Node *d) {
  return d->hasInput(2) ? d->inputs[2].node->payload->getDouble(0) : 0.0;
}

// Elementwise ops whose operands broadcast numpy-style, per-tensor
// QuantizeLinear/DequantizeLinear, and lowering's Requantize (per tensor or
// along the channels, axis 1 in either form) and TableLookup.
bool isLanewise(const Node *n) {
  if (n->numResults() != 1 || n->types[0].rank() != 5)
    return false;
  if (isQdq(n->kind))
    return isSimpleQdq(n);
  if (n->kind == OpKind::Requantize)
    return n->attrInt("axis", 1) == 1;
  if (n->kind == OpKind::TableLookup)
    return true;
  return hasProp(n->kind, P_Elementwise) && n->kind != OpKind::SwiGLU &&
         !n->hasAttr("axis");
}

// Operand i of a lanewise op is a parameter (a scale, zero point,
// multiplier, shift or table), which keeps its shape.
bool isParameter(const Node *n, size_t i) {
  return i > 0 && (isQdq(n->kind) || n->kind == OpKind::Requantize ||
                   n->kind == OpKind::TableLookup);
}

struct Folder {
  Function &f;
  PassStats &s;
  Node *at = nullptr; // new nodes go before it

  Expected<Value> make(OpKind k, std::vector<Value> ins, AttrMap a,
                       const std::string &name) {
    auto r = f.create(k, std::move(ins), std::move(a), "", 1, at,
                      {f.freshName(name)});
    if (!r)
      return r.status();
    return Value(*r, 0);
  }
  Value ints(const std::string &name, const std::vector<int64_t> &v) {
    return Value(f.addConstant(name, Tensor::fromInts(ElemKind::I64, v)));
  }
  Expected<Value> reshape(Value v, const Dims &to, const std::string &name) {
    if (v.type().dims() == to)
      return v;
    return make(OpKind::Reshape, {v, ints(name + ".shape", to)},
                {{"allowzero", Attr::ofInt(1)}}, name);
  }
  Expected<Value> swap(Value v, const std::string &name) {
    return make(OpKind::Transpose, {v}, {{"perm", Attr::ofInts(kSwap)}}, name);
  }

  // v (a quantized value derived from dq's operand) dequantized as dq does;
  // a per-channel dq keeps its axis 0. Without dq, v as it is.
  Expected<Value> redq(Value v, const Node *dq, const std::string &name) {
    if (!dq)
      return v;
    std::vector<Value> ins{v, dq->inputs[1]};
    if (dq->hasInput(2))
      ins.push_back(dq->inputs[2]);
    AttrMap a = dq->attrs;
    if (dq->inputs[1].type().numElements() != 1)
      a["axis"] = Attr::ofInt(0);
    return make(OpKind::DequantizeLinear, ins, a, name);
  }

  // X = [N, C, D, H, W] as [N*D, C, H, W].
  Expected<Value> toDepthMajor(Value x, const std::string &name) {
    if (Value dm = depthMajorOf(x))
      return dm;
    const Dims &d = x.type().dims();
    EMBER_ASSIGN(Value t, swap(x, name + ".dm"));
    return reshape(t, {d[0] * d[2], d[1], d[3], d[4]}, name + ".dm");
  }
  // [N*D, C, H, W] back to [N, C, D, H, W].
  Expected<Value> toNcdhw(Value dm, int64_t n, const std::string &name) {
    const Dims &d = dm.type().dims();
    EMBER_ASSIGN(Value r,
                 reshape(dm, {n, d[0] / n, d[1], d[2], d[3]}, name + ".nd"));
    return swap(r, name + ".3d");
  }

  // The kd depth slices of depth-major dm = [N*D, C, H, W], padded in
  // front by `front` with `pad`: slice j is [N*out, C, H, W] at depths
  // j*dil + i*stride (i < out) of the padded value.
  Expected<std::vector<Value>> gather(Value dm, int64_t n, int64_t kd,
                                      int64_t stride, int64_t dil,
                                      int64_t front, int64_t out, double pad,
                                      const std::string &name) {
    Dims d = dm.type().dims();
    const int64_t depth = d[0] / n;
    const int64_t need = (out - 1) * stride + (kd - 1) * dil + 1;
    const int64_t back = std::max<int64_t>(0, need - front - depth);
    // N = 1: the batch axis is the depth; else axis 1 of [N, D, ...].
    const int64_t axis = n == 1 ? 0 : 1;
    Value t = dm;
    if (n != 1) {
      EMBER_ASSIGN(t, reshape(dm, {n, depth, d[1], d[2], d[3]}, name + ".nd"));
    }
    const size_t rank = t.type().rank();
    if (front != 0 || back != 0) {
      std::vector<int64_t> pads(2 * rank, 0);
      pads[size_t(axis)] = front;
      pads[rank + size_t(axis)] = back;
      Value padv(
          f.addConstant(name + ".padv", Tensor::scalar(dm.type().elem(), pad)));
      EMBER_ASSIGN(t, make(OpKind::Pad, {t, ints(name + ".pads", pads), padv},
                           {{"mode", Attr::ofString("constant")}},
                           name + ".padded"));
    }
    std::vector<Value> slices;
    for (int64_t j = 0; j < kd; ++j) {
      const int64_t b = j * dil, e = b + (out - 1) * stride + 1;
      Value sl = t;
      if (!(b == 0 && e == t.type().dims()[size_t(axis)] && stride == 1)) {
        EMBER_ASSIGN(
            sl, make(OpKind::Slice,
                     {t, ints(name + ".begin", {b}), ints(name + ".end", {e}),
                      ints(name + ".axes", {axis}),
                      ints(name + ".steps", {stride})},
                     {}, name + ".d" + std::to_string(j)));
      }
      EMBER_ASSIGN(sl,
                   reshape(sl, {n * out, d[1], d[2], d[3]}, name + ".taps"));
      slices.push_back(sl);
    }
    return slices;
  }

  // The height/width attributes of a 3-D window op.
  static AttrMap planeAttrs(const Node *n, const WindowGeom &g) {
    AttrMap a = n->attrs;
    a.erase("auto_pad");
    a["kernel_shape"] = Attr::ofInts({g.kernel[1], g.kernel[2]});
    a["strides"] = Attr::ofInts({g.strides[1], g.strides[2]});
    a["dilations"] = Attr::ofInts({g.dilations[1], g.dilations[2]});
    a["pads"] =
        Attr::ofInts({g.padBegin[1], g.padBegin[2], g.padEnd[1], g.padEnd[2]});
    return a;
  }

  Status replace(Node *n, Value dm) {
    EMBER_ASSIGN(Value y, toNcdhw(dm, n->types[0].dim(0), n->outNames[0]));
    f.replaceAllUses(Value(n, 0), y);
    f.erase(n);
    ++s.changed;
    return Status::ok();
  }

  Status conv(Node *n) {
    std::vector<Tensor> typeOnly;
    TypeContext ctx(*n, staticOperands(*n, typeOnly));
    EMBER_ASSIGN(ConvProblem p, convProblem(ctx, n->inputs[0].type().dims(),
                                            n->inputs[1].type().dims()));
    const WindowGeom &g = p.g;
    const int64_t kd = g.kernel[0];
    const std::string nm = n->outNames[0];
    // A QDQ convolution (DequantizeLinear -> Conv): the depth gather on the
    // quantized values (padded with the zero point, which dequantizes to
    // the 0 the float padding is), the weights' Transpose, Reshape or Slice
    // on their quantized values, so that each 2-D Conv reads
    // DequantizeLinear outputs as the backends' int8 patterns expect.
    // A ConvInteger (lowering's form of a QDQ one) pads with its x zero
    // point, which its products count as 0.
    const bool isInt = n->kind == OpKind::ConvInteger;
    const Node *dqx =
        !isInt && isSimpleQdq(n->inputs[0].node) &&
                n->inputs[0].node->kind == OpKind::DequantizeLinear
            ? n->inputs[0].node
            : nullptr;
    const Node *dqw =
        !isInt && isSimpleQdq(n->inputs[1].node, true) &&
                n->inputs[1].node->kind == OpKind::DequantizeLinear
            ? n->inputs[1].node
            : nullptr;
    const double padValue = dqx ? zeroPointOf(dqx)
                            : isInt && n->hasInput(2)
                                ? n->inputs[2].node->payload->getDouble(0)
                                : 0.0;
    EMBER_ASSIGN(Value x,
                 toDepthMajor(dqx ? dqx->inputs[0] : n->inputs[0], nm));
    EMBER_ASSIGN(std::vector<Value> sl,
                 gather(x, p.batch, kd, g.strides[0], g.dilations[0],
                        g.padBegin[0], g.out[0], padValue, nm));
    const Value w5 = dqw ? dqw->inputs[0] : n->inputs[1];
    const Dims w = n->inputs[1].type().dims();
    const AttrMap attrs = planeAttrs(n, g);
    // The operands after x and W: Conv's bias (once), ConvInteger's zero
    // points (every tap).
    std::vector<Value> rest(n->inputs.begin() + 2, n->inputs.end());
    auto operands = [&](Value a, Value wt, bool first) {
      std::vector<Value> ins{a, wt};
      if (isInt || first)
        ins.insert(ins.end(), rest.begin(), rest.end());
      return ins;
    };
    Value y;
    if (p.group == 1 || kd == 1) {
      Value a = sl[0];
      if (kd > 1) {
        EMBER_ASSIGN(a, make(OpKind::Concat, sl, {{"axis", Attr::ofInt(1)}},
                             nm + ".taps"));
      }
      EMBER_ASSIGN(a, redq(a, dqx, nm + ".dq"));
      // [M, C/g, kd, kh, kw] -> [M, kd, C/g, kh, kw] -> [M, kd*C/g, kh, kw].
      Value wt = w5;
      if (kd > 1) {
        EMBER_ASSIGN(wt, swap(wt, wt.name() + ".dm"));
      }
      EMBER_ASSIGN(wt, reshape(wt, {w[0], kd * w[1], w[3], w[4]},
                               n->inputs[1].name() + ".2d"));
      EMBER_ASSIGN(wt, redq(wt, dqw, n->inputs[1].name() + ".dq"));
      EMBER_ASSIGN(y, make(n->kind, operands(a, wt, true), attrs, nm + ".2d"));
    } else {
      for (int64_t j = 0; j < kd; ++j) {
        EMBER_ASSIGN(Value wj, make(OpKind::Slice,
                                    {w5, ints(nm + ".wbegin", {j}),
                                     ints(nm + ".wend", {j + 1}),
                                     ints(nm + ".waxes", {2})},
                                    {}, n->inputs[1].name() + ".tap"));
        EMBER_ASSIGN(wj, reshape(wj, {w[0], w[1], w[3], w[4]},
                                 n->inputs[1].name() + ".2d"));
        EMBER_ASSIGN(wj, redq(wj, dqw, n->inputs[1].name() + ".dq"));
        EMBER_ASSIGN(Value xj, redq(sl[size_t(j)], dqx, nm + ".dq"));
        EMBER_ASSIGN(Value c, make(n->kind, operands(xj, wj, j == 0), attrs,
                                   nm + ".2d"));
        if (j == 0) {
          y = c;
          continue;
        }
        EMBER_ASSIGN(y, make(OpKind::Add, {c, y}, {}, nm + ".sum"));
      }
    }
    return replace(n, y);
  }

  // ConvTranspose: tap j of the depth kernel is a 2-D ConvTranspose of
  // every input depth slice t (height and width attributes as given, so
  // their geometry is the 3-D op's), Z_j = [N*D, M, Ho, Wo]; full depth
  // position t*sd + j*dd receives Z_j[t], and output depth z is full
  // position z + padBegin. The Z_j go into one batch (plus a zero slice
  // when some output depth receives nothing: output padding, strides past
  // the kernel), and each round of Gathers along the batch picks one
  // contribution per output depth; the rounds are summed, then the bias
  // added. 2x2x2 / 2 (a U-Net's upsampling) is one Concat and one Gather.
  Status convTranspose(Node *n) {
    std::vector<Tensor> typeOnly;
    TypeContext ctx(*n, staticOperands(*n, typeOnly));
    EMBER_ASSIGN(ConvTransposeProblem p, convTransposeProblem(ctx));
    const int64_t N = p.batch, D = p.in[0], kd = p.kernel[0], sd = p.strides[0],
                  dd = p.dilations[0], Do = p.out[0], pb = p.padBegin[0];
    const std::string nm = n->outNames[0];
    // The 2-D attributes: every spatial list without its depth entry.
    AttrMap attrs = n->attrs;
    for (const char *a : {"kernel_shape", "strides", "dilations",
                          "output_padding", "output_shape", "pads"}) {
      auto it = attrs.find(a);
      if (it == attrs.end())
        continue;
      std::vector<int64_t> v = it->second.ints;
      if (std::string(a) == "pads" && v.size() == 6)
        v = {v[1], v[2], v[4], v[5]};
      else if (v.size() == 5) // output_shape with N and M
        v.erase(v.begin() + 2);
      else if (v.size() == 3)
        v.erase(v.begin());
      it->second = Attr::ofInts(v);
    }
    EMBER_ASSIGN(Value x, toDepthMajor(n->inputs[0], nm));
    const Dims w = n->inputs[1].type().dims();
    std::vector<Value> z;
    for (int64_t j = 0; j < kd; ++j) {
      Value wj = n->inputs[1];
      if (kd > 1) {
        EMBER_ASSIGN(
            wj, make(OpKind::Slice,
                     {wj, ints(nm + ".wbegin", {j}),
                      ints(nm + ".wend", {j + 1}), ints(nm + ".waxes", {2})},
                     {}, wj.name() + ".tap"));
      }
      EMBER_ASSIGN(wj, reshape(wj, {w[0], w[1], w[3], w[4]},
                               n->inputs[1].name() + ".2d"));
      EMBER_ASSIGN(Value zj,
                   make(OpKind::ConvTranspose, {x, wj}, attrs, nm + ".2d"));
      z.push_back(zj);
    }
    // Contributions to each output depth, as batch indices of the Z_j.
    std::vector<std::vector<int64_t>> from(static_cast<size_t>(Do));
    size_t rounds = 0;
    for (int64_t o = 0; o < Do; ++o) {
      for (int64_t j = 0; j < kd; ++j) {
        const int64_t q = o + pb - j * dd;
        if (q >= 0 && q % sd == 0 && q / sd < D)
          from[size_t(o)].push_back(j * N * D + q / sd);
      }
      rounds = std::max(rounds, from[size_t(o)].size());
    }
    bool gaps = false;
    for (auto &c : from)
      gaps |= c.size() < rounds;
    std::vector<Value> all = z;
    const int64_t zeroAt = kd * N * D;
    if (gaps || rounds == 0) {
      const Dims &zd = z[0].type().dims();
      Tensor zero(Type(z[0].type().elem(), {1, zd[1], zd[2], zd[3]}));
      all.push_back(Value(f.addConstant(nm + ".zero", std::move(zero))));
    }
    Value big = all[0];
    if (all.size() > 1) {
      EMBER_ASSIGN(big, make(OpKind::Concat, all, {{"axis", Attr::ofInt(0)}},
                             nm + ".taps"));
    }
    Value y;
    for (size_t r = 0; r < std::max<size_t>(rounds, 1); ++r) {
      std::vector<int64_t> idx;
      bool identity = true;
      for (int64_t b = 0; b < N; ++b)
        for (int64_t o = 0; o < Do; ++o) {
          const auto &c = from[size_t(o)];
          // Batch b's slices sit b*D further on in each Z_j.
          idx.push_back(r < c.size() ? c[r] + b * D : zeroAt);
          identity &= idx.back() == int64_t(idx.size()) - 1;
        }
      Value g = big;
      if (!(identity && int64_t(idx.size()) == big.type().dim(0))) {
        EMBER_ASSIGN(g, make(OpKind::Gather, {big, ints(nm + ".depths", idx)},
                             {{"axis", Attr::ofInt(0)}}, nm + ".round"));
      }
      if (!y) {
        y = g;
        continue;
      }
      EMBER_ASSIGN(y, make(OpKind::Add, {y, g}, {}, nm + ".sum"));
    }
    if (n->hasInput(2)) {
      EMBER_ASSIGN(Value bias,
                   reshape(n->inputs[2], {1, p.outC, 1, 1}, nm + ".bias"));
      EMBER_ASSIGN(y, make(OpKind::Add, {y, bias}, {}, nm + ".biased"));
    }
    return replace(n, y);
  }

  Status pool(Node *n) {
    std::vector<Tensor> typeOnly;
    TypeContext ctx(*n, staticOperands(*n, typeOnly));
    EMBER_ASSIGN(WindowGeom g,
                 poolGeom(ctx, Tensor::typeOnly(n->inputs[0].type())));
    const Dims &x = n->inputs[0].type().dims();
    const int64_t N = x[0], D = x[2], kd = g.kernel[0], Do = g.out[0];
    const bool isMax = n->kind == OpKind::MaxPool;
    const std::string nm = n->outNames[0];
    // A max pool of a per-tensor DequantizeLinear with a positive scale
    // runs on the quantized values (the maximum commutes with it), padded
    // with their kind's lowest value, and dequantizes its result.
    const Node *dq = n->inputs[0].node;
    if (!(isMax && dq && dq->kind == OpKind::DequantizeLinear &&
          isSimpleQdq(dq) && dequantizeParams(*dq) &&
          maxPoolPadding(dq->inputs[0].type().elem())))
      dq = nullptr;
    EMBER_ASSIGN(Value t, toDepthMajor(dq ? dq->inputs[0] : n->inputs[0], nm));
    EMBER_ASSIGN(Value p, make(n->kind, {t}, planeAttrs(n, g), nm + ".2d"));
    double pad = isMax ? -std::numeric_limits<double>::infinity() : 0.0;
    if (dq)
      pad = *maxPoolPadding(t.type().elem());
    EMBER_ASSIGN(std::vector<Value> sl,
                 gather(p, N, kd, g.strides[0], g.dilations[0], g.padBegin[0],
                        Do, pad, nm));
    Value y = sl[0];
    // Max is variadic; the sum is a chain of Adds (Sum is a composite,
    // and this also runs after lowering).
    if (kd > 1 && isMax) {
      EMBER_ASSIGN(y, make(OpKind::Max, sl, {}, nm + ".depth"));
    }
    for (size_t j = 1; !isMax && j < sl.size(); ++j) {
      EMBER_ASSIGN(y, make(OpKind::Add, {y, sl[j]}, {}, nm + ".depth"));
    }
    if (dq) {
      // A QuantizeLinear with the same parameters reading the pool alone
      // gives back the stored integers: it goes, and its readers read them.
      auto users = f.computeUsers();
      auto it = users.find(n);
      const Node *q = it != users.end() && it->second.size() == 1
                          ? it->second[0].user
                          : nullptr;
      const auto qp = q && q->kind == OpKind::QuantizeLinear && isSimpleQdq(q)
                          ? quantizeParams(*q)
                          : std::nullopt;
      if (qp && *qp == *dequantizeParams(*dq)) {
        EMBER_ASSIGN(Value back, toNcdhw(y, N, q->outNames[0]));
        f.replaceAllUses(Value(const_cast<Node *>(q), 0), back);
        f.erase(const_cast<Node *>(q));
        f.erase(n);
        ++s.changed;
        return Status::ok();
      }
      EMBER_ASSIGN(y, redq(y, dq, nm + ".dq"));
    }
    if (!isMax && kd > 1) {
      // Divisors per output depth: its taps inside the padded input, or
      // inside [0, D) (ceil_mode's extra taps past the padding never count).
      const bool countPad = n->attrInt("count_include_pad", 0) != 0;
      const int64_t lo = countPad ? -g.padBegin[0] : 0,
                    hi = countPad ? D + g.padEnd[0] : D;
      std::vector<double> inv;
      for (int64_t i = 0; i < Do; ++i) {
        int64_t taps = 0;
        for (int64_t j = 0; j < kd; ++j) {
          const int64_t z =
              i * g.strides[0] + j * g.dilations[0] - g.padBegin[0];
          taps += z >= lo && z < hi;
        }
        inv.push_back(1.0 / double(std::max<int64_t>(taps, 1)));
      }
      const bool same = std::all_of(inv.begin(), inv.end(),
                                    [&](double v) { return v == inv[0]; });
      // Per output depth: the batch index n*Do + i.
      Tensor k(Type(y.type().elem(), same ? Dims{} : Dims{N * Do, 1, 1, 1}));
      for (int64_t i = 0; i < k.size(); ++i)
        k.setDouble(i, inv[size_t(i % Do)]);
      EMBER_ASSIGN(y, make(OpKind::Mul,
                           {y, Value(f.addConstant(nm + ".inv", std::move(k)))},
                           {}, nm + ".mean"));
    }
    return replace(n, y);
  }

  // Operand v of a lanewise op with an NCDHW result [N, C, D, H, W] in
  // depth-major form, or null when it is none: a depth-major value's NCDHW
  // form, a scalar, or (N = 1) any operand, brought there by the same
  // Reshape (to rank 5) and Transpose.
  Expected<Value> lanewiseOperand(Value v, const Dims &out,
                                  const std::string &name) {
    if (!v || v.type().numElements() == 1)
      return v;
    if (Value dm = depthMajorOf(v))
      return dm;
    if (out[0] != 1)
      return Value();
    Dims d = v.type().dims();
    while (d.size() < 5)
      d.insert(d.begin(), 1);
    if (d[0] != 1)
      return Value();
    EMBER_ASSIGN(Value r, reshape(v, d, name + ".r5"));
    EMBER_ASSIGN(r, swap(r, name + ".dm"));
    return reshape(r, {d[2], d[1], d[3], d[4]}, name + ".dm");
  }

  // One lanewise op between folded ones on the depth-major values; false
  // when it has no such operand or one cannot be brought there.
  Expected<bool> moveLanewise(Node *n) {
    bool any = false;
    for (auto &v : n->inputs)
      any |= v && bool(depthMajorOf(v));
    if (!any)
      return false;
    // With N > 1 the batch axis holds N*D: a depth-major operand must have
    // the result's depth (one of depth 1 would broadcast along the wrong
    // axis), and every other operand must be a scalar.
    const Dims out = n->types[0].dims();
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      const Value &v = n->inputs[i];
      if (!v || isParameter(n, i) || v.type().numElements() == 1)
        continue;
      if (depthMajorOf(v)
              ? out[0] != 1 && v.type().dim(2) != out[2]
              : out[0] != 1 || (v.type().rank() == 5 && v.type().dim(0) != 1))
        return false;
    }
    at = n;
    std::vector<Value> ins;
    for (size_t i = 0; i < n->inputs.size(); ++i) {
      const Value &v = n->inputs[i];
      if (isParameter(n, i)) {
        ins.push_back(v);
        continue;
      }
      EMBER_ASSIGN(Value o, lanewiseOperand(v, out, v ? v.name() : ""));
      ins.push_back(o);
    }
    auto r = f.create(n->kind, ins, n->attrs, n->name, 1, n,
                      {f.freshName(n->outNames[0] + ".dm")});
    if (!r)
      return r.status();
    EMBER_TRY(replace(n, Value(*r, 0)));
    return true;
  }

  Status run(bool integer) {
    std::vector<Node *> ops;
    for (auto &np : f.nodes())
      if (isFoldable(np.get(), integer))
        ops.push_back(np.get());
    for (Node *n : ops) {
      at = n;
      EMBER_TRY(n->kind == OpKind::Conv || n->kind == OpKind::ConvInteger
                    ? conv(n)
                : n->kind == OpKind::ConvTranspose ? convTranspose(n)
                                                   : pool(n));
    }
    if (ops.empty())
      return Status::ok();
    // Each move erases one rank-5 lanewise op, so this ends. A
    // DequantizeLinear that a grouped QDQ convolution left 3-D reads stays
    // where it is: lowering's integer pattern needs it there.
    for (bool changed = true; changed;) {
      changed = false;
      auto users = f.computeUsers();
      auto feedsQdqConv = [&](const Node *n) {
        auto it = users.find(n);
        if (n->kind != OpKind::DequantizeLinear || it == users.end())
          return false;
        for (const Use &u : it->second)
          if (u.user && u.user->kind == OpKind::Conv &&
              u.user->inputs[0].type().rank() == 5 && isQdqGroupedConv(u.user))
            return true;
        return false;
      };
      for (auto &np : f.nodes()) {
        Node *n = np.get();
        if (!isLanewise(n) || feedsQdqConv(n))
          continue;
        EMBER_ASSIGN(bool moved, moveLanewise(n));
        if (moved) {
          changed = true;
          break;
        }
      }
    }
    return Status::ok();
  }
};

} // namespace

Status runConv3DAs2D(Function &f, PassStats &s) {
  Folder r{f, s};
  return r.run(false);
}

Status runConv3DAs2DInteger(Function &f, PassStats &s) {
  Folder r{f, s};
  return r.run(true);
}

} // namespace ember

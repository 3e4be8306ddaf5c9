// The phase decomposition of a quantized 2-D ConvTranspose
// (docs/quantization.md, "ConvTranspose"). Along an axis of stride s,
// dilation d and padding pb, result row y = s*m + p (phase p) is full row
// Y = y + pb, which the taps k with d*k = Y mod s (mod s) reach, from input
// rows (Y - d*k) / s: a correlation of the input with those taps reversed
// (dilation d / gcd(d, s)). Each of the sy x sx phases is therefore a
// ConvInteger layer over its own padding; every phase computes the same
// extent (rows m0 .. m0 + e of each phase), the phases interleave (Concat,
// then DepthToSpace's reshape -> transpose -> reshape) and, when the
// interleave is larger than the result or starts before it, a Slice
// crops it. A phase no tap reaches (kernels shorter than the stride,
// dilation sharing a factor with the stride) is one tap holding the
// weight zero point: its sum is 0, its result the bias.
#include "ir/TypeRules.h"
#include "ir/typerules/Parse.h"
#include "lower/IntegerForms.h"

#include <algorithm>
#include <cstring>
#include <numeric>

namespace ember {

namespace {

// The phase geometry along one axis.
struct AxisPhases {
  int64_t s = 1, e = 0, m0 = 0, dil = 1;
  // Per phase: the first tap k0, the taps (0: none reaches the phase), and
  // the input row the phase's reversed first tap reads at phase row 0,
  // relative to it (off); then the padding of its convolution.
  std::vector<int64_t> k0, T, off, padBegin, padEnd;
};

// Phase p's taps along one axis (k0, T, the input offset at row 0).
void phaseTaps(int64_t k, int64_t s, int64_t d, int64_t pb, int64_t p,
               int64_t &k0, int64_t &T, int64_t &off) {
  const int64_t g = std::gcd(d, s), step = s / g, D = d / g;
  const int64_t R = (p + pb) % s, cq = (p + pb) / s;
  k0 = -1;
  for (int64_t j = 0; j < step && j < k; ++j)
    if ((d * j - R) % s == 0) {
      k0 = j;
      break;
    }
  T = k0 < 0 ? 0 : (k - k0 + step - 1) / step;
  // Taps k0 + step*t read input rows m + cq - (d*k0 - R)/s - D*t; reversed
  // (j = T - 1 - t), the first reads m + off.
  off = T ? cq - (d * k0 - R) / s - D * (T - 1) : 0;
}

std::optional<AxisPhases> axisPhases(int64_t in, int64_t k, int64_t s,
                                     int64_t d, int64_t pb, int64_t out,
                                     bool cover) {
  if (s < 1 || d < 1 || k < 1 || pb < 0 || s > 64)
    return std::nullopt;
  AxisPhases a;
  a.s = s;
  a.dil = d / std::gcd(d, s);
  for (int64_t p = 0; p < s; ++p) {
    int64_t k0, T, off;
    phaseTaps(k, s, d, pb, p, k0, T, off);
    a.k0.push_back(k0);
    a.T.push_back(T);
    a.off.push_back(off);
    if (T)
      a.m0 = std::min(a.m0, -off); // padding >= 0 before every phase
  }
  // Rows m0 .. m0 + e of every phase cover result rows 0 .. out, and each
  // phase's padding after is >= 0 (a tapless phase's one tap: e >= in).
  a.e = (out + s - 1) / s - a.m0;
  for (int64_t p = 0; p < s; ++p) {
    const int64_t T = a.T[size_t(p)];
    if (T)
      a.e = std::max(a.e, in - a.m0 - a.off[size_t(p)] - a.dil * (T - 1));
  }
  if (cover)
    a.e = std::max(a.e, in);
  for (int64_t p = 0; p < s; ++p) {
    const int64_t T = a.T[size_t(p)];
    if (T) {
      const int64_t before = -(a.m0 + a.off[size_t(p)]);
      a.padBegin.push_back(before);
      a.padEnd.push_back(a.e + a.dil * (T - 1) - in - before);
    } else {
      a.padBegin.push_back(0);
      a.padEnd.push_back(a.e - in);
    }
  }
  return a;
}

} // namespace

std::optional<ConvTransposePhases>
convTransposePhases(const Node &n, const Tensor &w,
                    const std::vector<int64_t> &wZero) {
  const Dims &xd = n.inputs[0].type().dims();
  const Dims &yd = n.types[0].dims();
  if (xd.size() != 4 || w.rank() != 4 || yd.size() != 4 ||
      elemSize(w.elem()) != 1 || wZero.empty())
    return std::nullopt;
  std::vector<Tensor> typeOnly;
  TypeContext ctx(n, staticOperands(n, typeOnly));
  auto prob = convTransposeProblem(ctx);
  if (!prob || prob->kernel != Dims{w.dim(2), w.dim(3)} ||
      prob->out != Dims{yd[2], yd[3]})
    return std::nullopt;
  const ConvTransposeProblem &pr = *prob;
  // W is [Cin, Cout / group, kh, kw]: group gi's input channels
  // gi * Cin / group.. produce its output channels gi * Cout / group..
  const int64_t group = pr.group, Cin = w.dim(0), Mg = w.dim(1);
  const int64_t Cout = Mg * group, Cg = Cin / group;
  if (wZero.size() != 1 && int64_t(wZero.size()) != Mg)
    return std::nullopt;
  bool tapless = false;
  for (size_t ax = 0; ax < 2; ++ax)
    for (int64_t p = 0; p < pr.strides[ax]; ++p) {
      int64_t k0, T, off;
      phaseTaps(pr.kernel[ax], pr.strides[ax], pr.dilations[ax],
                pr.padBegin[ax], p, k0, T, off);
      tapless = tapless || T == 0;
    }
  auto ay = axisPhases(xd[2], pr.kernel[0], pr.strides[0], pr.dilations[0],
                       pr.padBegin[0], yd[2], tapless);
  auto ax = axisPhases(xd[3], pr.kernel[1], pr.strides[1], pr.dilations[1],
                       pr.padBegin[1], yd[3], tapless);
  if (!ay || !ax)
    return std::nullopt;
  ConvTransposePhases out;
  out.sy = ay->s;
  out.sx = ax->s;
  out.group = group;
  out.eh = ay->e;
  out.ew = ax->e;
  out.top = -ay->s * ay->m0;
  out.left = -ax->s * ax->m0;
  out.oh = yd[2];
  out.ow = yd[3];
  const int64_t kh = w.dim(2), kw = w.dim(3);
  const int64_t stepY = ay->s / std::gcd(pr.dilations[0], ay->s);
  const int64_t stepX = ax->s / std::gcd(pr.dilations[1], ax->s);
  const uint8_t *src = w.raw();
  for (int64_t py = 0; py < ay->s; ++py)
    for (int64_t px = 0; px < ax->s; ++px) {
      const size_t iy = size_t(py), ix = size_t(px);
      const int64_t Ty = ay->T[iy], Tx = ax->T[ix];
      if (!Ty || !Tx) {
        // No tap reaches the phase: one tap of the weight zero point.
        Tensor g(Type(w.elem(), {Cout, Cg, 1, 1}));
        uint8_t *dst = g.raw();
        for (int64_t o = 0; o < Cout; ++o)
          for (int64_t i = 0; i < Cg; ++i)
            *dst++ = uint8_t(wZero[wZero.size() == 1 ? 0 : size_t(o % Mg)]);
        out.weights.push_back(std::move(g));
        out.pads.push_back({0, 0, ay->e - xd[2], ax->e - xd[3]});
        out.dilations.push_back({1, 1});
        continue;
      }
      // G[o][i][jy][jx] = W[i][o][k0y + stepY(Ty - 1 - jy)][...]
      Tensor g(Type(w.elem(), {Cout, Cg, Ty, Tx}));
      uint8_t *dst = g.raw();
      for (int64_t o = 0; o < Cout; ++o)
        for (int64_t i = o / Mg * Cg; i < (o / Mg + 1) * Cg; ++i)
          for (int64_t jy = 0; jy < Ty; ++jy)
            for (int64_t jx = 0; jx < Tx; ++jx) {
              int64_t ky = ay->k0[iy] + stepY * (Ty - 1 - jy);
              int64_t kx = ax->k0[ix] + stepX * (Tx - 1 - jx);
              *dst++ = src[((i * Mg + o % Mg) * kh + ky) * kw + kx];
            }
      out.weights.push_back(std::move(g));
      out.pads.push_back(
          {ay->padBegin[iy], ax->padBegin[ix], ay->padEnd[iy], ax->padEnd[ix]});
      out.dilations.push_back({Ty > 1 ? ay->dil : 1, Tx > 1 ? ax->dil : 1});
    }
  return out;
}

AttrMap phaseConvAttrs(const ConvTransposePhases &p, size_t phase) {
  AttrMap a;
  a["kernel_shape"] =
      Attr::ofInts({p.weights[phase].dim(2), p.weights[phase].dim(3)});
  if (p.group > 1)
    a["group"] = Attr::ofInt(p.group);
  a["pads"] = Attr::ofInts(
      {p.pads[phase][0], p.pads[phase][1], p.pads[phase][2], p.pads[phase][3]});
  if (p.dilations[phase][0] > 1 || p.dilations[phase][1] > 1)
    a["dilations"] =
        Attr::ofInts({p.dilations[phase][0], p.dilations[phase][1]});
  return a;
}

Expected<Value> interleavePhases(LoweringBuilder &b,
                                 const std::vector<Value> &phases, int64_t sy,
                                 int64_t sx) {
  const Dims d = phases[0].type().dims(); // [N, K, H, W]
  AttrMap cat;
  cat["axis"] = Attr::ofInt(1);
  EMBER_ASSIGN(Value c, b.op(OpKind::Concat, phases, std::move(cat)));
  EMBER_ASSIGN(Value r1, b.op(OpKind::Reshape,
                              {c, b.ints({d[0], sy, sx, d[1], d[2], d[3]})}));
  AttrMap perm;
  perm["perm"] = Attr::ofInts({0, 3, 4, 1, 5, 2});
  EMBER_ASSIGN(Value t, b.op(OpKind::Transpose, {r1}, std::move(perm)));
  return b.op(OpKind::Reshape, {t, b.ints({d[0], d[1], d[2] * sy, d[3] * sx})});
}

Expected<Value> phaseResult(LoweringBuilder &b, const ConvTransposePhases &p,
                            const std::vector<Value> &phases) {
  Value y = phases[0];
  if (phases.size() > 1) {
    EMBER_ASSIGN(y, interleavePhases(b, phases, p.sy, p.sx));
  }
  if (p.top == 0 && p.left == 0 && p.sy * p.eh == p.oh && p.sx * p.ew == p.ow)
    return y;
  return b.op(OpKind::Slice,
              {y, b.ints({p.top, p.left}),
               b.ints({p.top + p.oh, p.left + p.ow}), b.ints({2, 3})});
}

Status sinkTablesIntoPhases(Function &f) {
  std::vector<Node *> work;
  for (auto &np : f.nodes())
    if (np->kind == OpKind::TableLookup)
      work.push_back(np.get());
  for (Node *t : work) {
    const auto users = f.computeUsers();
    auto from = [&](Node *n, OpKind k) -> Node * {
      Node *p = n->inputs[0].node;
      if (!p || p->kind != k || p->numResults() != 1)
        return nullptr;
      auto it = users.find(p);
      return it != users.end() && it->second.size() == 1 &&
                     it->second[0].user == n
                 ? p
                 : nullptr;
    };
    // The interleave, cropped by a Slice when it is larger than the
    // result.
    Node *crop = from(t, OpKind::Slice);
    Node *r2 = from(crop ? crop : t, OpKind::Reshape);
    Node *tr = r2 ? from(r2, OpKind::Transpose) : nullptr;
    Node *r1 = tr ? from(tr, OpKind::Reshape) : nullptr;
    Node *cat = r1 ? from(r1, OpKind::Concat) : nullptr;
    if (!cat || r1->types[0].rank() != 6 || cat->attrInt("axis", 0) != 1 ||
        tr->attrInts("perm") != std::vector<int64_t>{0, 3, 4, 1, 5, 2})
      continue;
    const int64_t sy = r1->types[0].dims()[1], sx = r1->types[0].dims()[2];
    if (int64_t(cat->inputs.size()) != sy * sx)
      continue;
    LoweringBuilder b(f, *t);
    std::vector<Value> ys;
    for (Value v : cat->inputs) {
      EMBER_ASSIGN(Value y, b.op(OpKind::TableLookup, {v, t->inputs[1]}));
      ys.push_back(y);
    }
    EMBER_ASSIGN(Value y, interleavePhases(b, ys, sy, sx));
    if (crop) {
      std::vector<Value> ins = crop->inputs;
      ins[0] = y;
      EMBER_ASSIGN(y, b.op(OpKind::Slice, ins, crop->attrs));
    }
    f.replaceAllUses(Value(t, 0), y);
    for (Node *n : {t, crop, r2, tr, r1, cat})
      if (n)
        f.erase(n);
  }
  return Status::ok();
}

} // namespace ember

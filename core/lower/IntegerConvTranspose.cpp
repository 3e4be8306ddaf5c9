// The phase decomposition of a quantized 2-D ConvTranspose
// (docs/quantization.md, "ConvTranspose"): with stride s along both axes,
// output pixel (s*m + py, s*n + px) is an
// ordinary stride-1 correlation of the input with the sub-kernel of taps
// ky = (py + pad_top) mod s + s*t < k (and likewise along x), so each of
// the s x s phases is a ConvInteger layer and the phases interleave into
// the result (Concat, then DepthToSpace's reshape -> transpose -> reshape).
#include "lower/IntegerForms.h"

#include <cstring>

namespace ember {

namespace {

// The phase geometry along one axis: for phase p the first kernel tap r,
// the taps T (those of r, r + s, ... below k) and the phase convolution's
// padding.
struct AxisPhases {
  int64_t out = 0; // each phase's result extent
  std::vector<int64_t> r, T, padBegin, padEnd;
};

std::optional<AxisPhases> axisPhases(int64_t in, int64_t k, int64_t s,
                                     int64_t pb, int64_t outFull) {
  if (s < 1 || k < s || outFull % s != 0)
    return std::nullopt;
  AxisPhases a;
  a.out = outFull / s;
  for (int64_t p = 0; p < s; ++p) {
    // out[s*m + p] = sum over t < T of x[m + c - t] * w[r + s*t],
    // r = (p + pb) mod s, c = floor((p + pb) / s): a correlation with the
    // reversed taps over the input padded by T - 1 - c before and
    // out - in + c after.
    int64_t r = (p + pb) % s, c = (p + pb) / s, T = (k - r + s - 1) / s;
    int64_t before = T - 1 - c, after = a.out - in + c;
    if (before < 0 || after < 0)
      return std::nullopt;
    a.r.push_back(r);
    a.T.push_back(T);
    a.padBegin.push_back(before);
    a.padEnd.push_back(after);
  }
  return a;
}

} // namespace

std::optional<ConvTransposePhases> convTransposePhases(const Node &n,
                                                       const Tensor &w) {
  const Dims &xd = n.inputs[0].type().dims();
  const Dims &yd = n.types[0].dims();
  if (xd.size() != 4 || w.rank() != 4 || yd.size() != 4 ||
      n.attrInt("group", 1) < 1 || n.hasAttr("output_shape") ||
      n.attrString("auto_pad", "NOTSET") != "NOTSET" || elemSize(w.elem()) != 1)
    return std::nullopt;
  auto ints = [&](const char *name, size_t len, int64_t def) {
    return n.hasAttr(name) ? n.attrInts(name) : std::vector<int64_t>(len, def);
  };
  std::vector<int64_t> st = ints("strides", 2, 1),
                       dil = ints("dilations", 2, 1), pads = ints("pads", 4, 0);
  if (st.size() != 2 || dil.size() != 2 || pads.size() != 4 || dil[0] != 1 ||
      dil[1] != 1 || st[0] != st[1])
    return std::nullopt;
  // W is [Cin, Cout / group, kh, kw]: group gi's input channels
  // gi * Cin / group.. produce its output channels gi * Cout / group..
  const int64_t group = n.attrInt("group", 1), s = st[0], Cin = w.dim(0);
  const int64_t Mg = w.dim(1), Cout = Mg * group, Cg = Cin / group;
  if (Cin % group != 0)
    return std::nullopt;
  auto ay = axisPhases(xd[2], w.dim(2), s, pads[0], yd[2]);
  auto ax = axisPhases(xd[3], w.dim(3), s, pads[1], yd[3]);
  if (!ay || !ax)
    return std::nullopt;
  ConvTransposePhases out;
  out.s = s;
  out.group = group;
  out.oh = ay->out;
  out.ow = ax->out;
  const int64_t kh = w.dim(2), kw = w.dim(3);
  const uint8_t *src = w.raw();
  for (int64_t py = 0; py < s; ++py)
    for (int64_t px = 0; px < s; ++px) {
      // G[o][i][jy][jx] = W[i][o][ry + s(Ty - 1 - jy)][rx + s(Tx - 1 - jx)]
      const int64_t Ty = ay->T[size_t(py)], Tx = ax->T[size_t(px)];
      Tensor g(Type(w.elem(), {Cout, Cg, Ty, Tx}));
      uint8_t *dst = g.raw();
      for (int64_t o = 0; o < Cout; ++o)
        for (int64_t i = o / Mg * Cg; i < (o / Mg + 1) * Cg; ++i)
          for (int64_t jy = 0; jy < Ty; ++jy)
            for (int64_t jx = 0; jx < Tx; ++jx) {
              int64_t ky = ay->r[size_t(py)] + s * (Ty - 1 - jy);
              int64_t kx = ax->r[size_t(px)] + s * (Tx - 1 - jx);
              *dst++ = src[((i * Mg + o % Mg) * kh + ky) * kw + kx];
            }
      out.weights.push_back(std::move(g));
      out.pads.push_back({ay->padBegin[size_t(py)], ax->padBegin[size_t(px)],
                          ay->padEnd[size_t(py)], ax->padEnd[size_t(px)]});
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
  return a;
}

Expected<Value> interleavePhases(LoweringBuilder &b,
                                 const std::vector<Value> &phases, int64_t s) {
  const Dims d = phases[0].type().dims(); // [N, K, H, W]
  AttrMap cat;
  cat["axis"] = Attr::ofInt(1);
  EMBER_ASSIGN(Value c, b.op(OpKind::Concat, phases, std::move(cat)));
  EMBER_ASSIGN(Value r1, b.op(OpKind::Reshape,
                              {c, b.ints({d[0], s, s, d[1], d[2], d[3]})}));
  AttrMap perm;
  perm["perm"] = Attr::ofInts({0, 3, 4, 1, 5, 2});
  EMBER_ASSIGN(Value t, b.op(OpKind::Transpose, {r1}, std::move(perm)));
  return b.op(OpKind::Reshape, {t, b.ints({d[0], d[1], d[2] * s, d[3] * s})});
}

} // namespace ember

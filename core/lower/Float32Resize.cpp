// The float32 profile's bilinear Resize of a dequantized tensor
// (docs/quantization.md, "Upsampling"): ONNX Runtime keeps
// DequantizeLinear -> Resize -> QuantizeLinear in float and runs its float
// bilinear kernel (UpsampleBilinear, or NhwcUpsampleBilinear for a
// channels-last tensor). Per output element it computes, in float32 and in
// this order:
//
//   y = ((c11 * X11 + c21 * X21) + c12 * X12) + c22 * X22
//
// with X.. the four source taps and c11 = f32(dx2 * dy2), c21 = dx1 * dy2,
// c12 = dx2 * dy1, c22 = dx1 * dy1, the per-axis weights computed in float32
// from the float coordinate transform (SetupUpsampleBilinear). The rewrite
// writes exactly those IEEE operations as primitives: two Gathers per axis,
// the four products with constant coefficient maps, and three Adds, so every
// backend computes ONNX Runtime's bytes.
#include "lower/IntegerForms.h"

#include <cmath>

namespace ember {

namespace {

struct AxisTaps {
  std::vector<int64_t> i1, i2;
  std::vector<float> d1, d2; // d1: weight of i2, d2: weight of i1
};

// ONNX Runtime's float coordinate transforms (upsamplebase.h), one float
// operation at a time. Empty for a mode its bilinear kernel does not run
// this way.
std::optional<AxisTaps> axisTaps(const std::string &ctm, float scale,
                                 int64_t in, int64_t out) {
  AxisTaps t;
  const float lenIn = float(in), lenOut = float(out);
  for (int64_t o = 0; o < out; ++o) {
    const float x = float(o);
    float v;
    if (scale == 1.0f)
      v = x;
    else if (ctm == "half_pixel")
      v = (x + 0.5f) / scale - 0.5f;
    else if (ctm == "pytorch_half_pixel")
      v = out > 1 ? (x + 0.5f) / scale - 0.5f : 0.0f;
    else if (ctm == "asymmetric")
      v = x / scale;
    else if (ctm == "tf_half_pixel_for_nn")
      v = (x + 0.5f) / scale;
    else if (ctm == "align_corners")
      v = out == 1 ? 0.0f : x * (lenIn - 1.0f) / (lenOut - 1.0f);
    else
      return std::nullopt;
    v = std::max(0.0f, std::min(v, float(in - 1)));
    const int64_t i1 = std::min<int64_t>(int64_t(int32_t(v)), in - 1);
    const int64_t i2 = std::min<int64_t>(i1 + 1, in - 1);
    float d1 = std::fabs(v - float(i1)), d2 = std::fabs(v - float(i2));
    if (i1 == i2)
      d1 = d2 = 0.5f;
    t.i1.push_back(i1);
    t.i2.push_back(i2);
    t.d1.push_back(d1);
    t.d2.push_back(d2);
  }
  return t;
}

} // namespace

Expected<std::optional<Value>> ortFloatBilinear(LoweringBuilder &b,
                                                const Node &n) {
  const std::optional<Value> none;
  if (n.kind != OpKind::Resize || n.numResults() != 1 ||
      n.attrString("mode", "nearest") != "linear" ||
      n.attrInt("antialias", 0) || n.attrInt("exclude_outside", 0) ||
      n.attrs.count("axes") ||
      n.attrString("keep_aspect_ratio_policy", "stretch") != "stretch")
    return none;
  const Type &xt = n.inputs[0].type(), &yt = n.types[0];
  if (xt.elem() != ElemKind::F32 || xt.rank() != 4 || yt.rank() != 4)
    return none;
  const Dims &xd = xt.dims(), &yd = yt.dims();
  if (n.hasInput(1) && n.inputs[1].type().numElements() > 0)
    return none; // a region of interest
  // The per-axis scales as ONNX Runtime holds them: the scales operand, or
  // f32(out) / f32(in) from sizes.
  std::vector<float> scale(4);
  if (n.hasInput(2) && n.inputs[2].type().numElements() > 0) {
    const Tensor *s = constantOf(n.inputs[2]);
    if (!s || s->size() != 4)
      return none;
    for (size_t i = 0; i < 4; ++i)
      scale[i] = float(s->getDouble(int64_t(i)));
  } else {
    for (size_t i = 0; i < 4; ++i)
      scale[i] = xd[i] > 0 ? float(yd[i]) / float(xd[i]) : 1.0f;
  }
  for (size_t i = 0; i < 4; ++i)
    if (xd[i] < 1 || yd[i] < 1)
      return none;
  // NCHW (scales 1 on N and C) or channels-last (1 on N and the last axis).
  int64_t hA, wA;
  if (scale[0] == 1.0f && scale[1] == 1.0f && yd[1] == xd[1])
    hA = 2, wA = 3;
  else if (scale[0] == 1.0f && scale[3] == 1.0f && yd[3] == xd[3])
    hA = 1, wA = 2;
  else
    return none;
  if (yd[0] != xd[0])
    return none;
  const std::string ctm =
      n.attrString("coordinate_transformation_mode", "half_pixel");
  auto ty = axisTaps(ctm, scale[size_t(hA)], xd[size_t(hA)], yd[size_t(hA)]);
  auto tx = axisTaps(ctm, scale[size_t(wA)], xd[size_t(wA)], yd[size_t(wA)]);
  if (!ty || !tx)
    return none;
  const int64_t oh = yd[size_t(hA)], ow = yd[size_t(wA)];
  // Coefficient maps broadcast over the other axes: [OH, OW] for NCHW,
  // [OH, OW, 1] channels-last.
  Dims cd = hA == 2 ? Dims{oh, ow} : Dims{oh, ow, 1};
  auto coef = [&](bool xFirst, bool yFirst) {
    Tensor t(Type(ElemKind::F32, cd));
    float *p = t.data<float>();
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t x = 0; x < ow; ++x) {
        float wx = xFirst ? tx->d2[size_t(x)] : tx->d1[size_t(x)];
        float wy = yFirst ? ty->d2[size_t(y)] : ty->d1[size_t(y)];
        p[y * ow + x] = wx * wy;
      }
    return b.constant(std::move(t), "bilinear_w");
  };
  AttrMap ah{{"axis", Attr::ofInt(hA)}}, aw{{"axis", Attr::ofInt(wA)}};
  Value x = n.inputs[0];
  EMBER_ASSIGN(Value r1, b.op(OpKind::Gather, {x, b.ints(ty->i1)}, ah));
  EMBER_ASSIGN(Value r2, b.op(OpKind::Gather, {x, b.ints(ty->i2)}, ah));
  Value c1 = b.ints(tx->i1), c2 = b.ints(tx->i2);
  EMBER_ASSIGN(Value x11, b.op(OpKind::Gather, {r1, c1}, aw));
  EMBER_ASSIGN(Value x21, b.op(OpKind::Gather, {r1, c2}, aw));
  EMBER_ASSIGN(Value x12, b.op(OpKind::Gather, {r2, c1}, aw));
  EMBER_ASSIGN(Value x22, b.op(OpKind::Gather, {r2, c2}, aw));
  EMBER_ASSIGN(Value p11, b.op(OpKind::Mul, {coef(true, true), x11}));
  EMBER_ASSIGN(Value p21, b.op(OpKind::Mul, {coef(false, true), x21}));
  EMBER_ASSIGN(Value p12, b.op(OpKind::Mul, {coef(true, false), x12}));
  EMBER_ASSIGN(Value p22, b.op(OpKind::Mul, {coef(false, false), x22}));
  EMBER_ASSIGN(Value s1, b.op(OpKind::Add, {p11, p21}));
  EMBER_ASSIGN(Value s2, b.op(OpKind::Add, {s1, p12}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Add, {s2, p22}));
  return std::optional<Value>(y);
}

} // namespace ember

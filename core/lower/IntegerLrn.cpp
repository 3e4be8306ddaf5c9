// The fixed profile's 8-bit LocalResponseNormalization
// (docs/quantization.md, "LRN"): ONNX Runtime's quantize_static leaves LRN
// in float (DequantizeLinear -> LRN -> [MaxPool] -> QuantizeLinear); this
// writes it as integer forms the backends already run, each stage rounded
// once to 8 bits:
//   sq = Requantize((q - z) * (q - z), 255 / D^2)          u8, scale D^2/255
//   s  = Requantize(ConvInteger(sq, band of ones), 1 / n)  u8, scale n D^2/255
//   p  = TableLookup(s, P)   P[j] = (k + a D^2/255 sx^2 j)^-b / t, t = P0/255
//   y  = Requantize((q - z) * p, sx t / sy) + zy           the output's kind
//   [MaxPool(y)]
// where D = max(highest - z, z - lowest) bounds |q - z| over the input kind
// and the band sums channels c - (n-1)/2 .. c + n/2, ONNX's window. A max
// pool after the LRN pools y: quantization is monotone, so it commutes with
// the max.
#include "lower/IntegerForms.h"

#include <cmath>

namespace ember {

Expected<std::optional<Value>>
integerLrn(LoweringBuilder &b, const Node &n, Value q, const QParams &px,
           const Node *maxPool, const QParams &py, int64_t lo, int64_t hi,
           quant::RequantProfile profile) {
  const Dims &xd = n.inputs[0].type().dims();
  const int64_t size = n.attrInt("size", 0);
  const double alpha = n.attrFloat("alpha", 1e-4),
               beta = n.attrFloat("beta", 0.75),
               bias = n.attrFloat("bias", 1.0);
  if (xd.size() != 4 || xd[1] < 1 || size < 1 || !px.perTensor() ||
      !py.perTensor() || elemSize(px.kind) != 1 || elemSize(py.kind) != 1 ||
      !(bias > 0) || !(alpha >= 0) || !std::isfinite(alpha) ||
      !std::isfinite(beta) || !std::isfinite(bias))
    return std::optional<Value>();
  const int64_t C = xd[1], z = px.zeroPoint();
  const double D =
      double(std::max(highestOf(px.kind) - z, z - lowestOf(px.kind)));
  const double sSq = D * D / 255.0, sx = px.scale();
  // The power table over the 8-bit window sum j (at scale n * sSq in units
  // of (q - z)^2): (k + a/n * j n sSq sx^2)^-b, scaled so its largest
  // entry is 255.
  auto power = [&](double j) {
    return std::pow(bias + alpha * j * sSq * sx * sx, -beta);
  };
  const double top = std::max(power(0), power(255));
  if (!std::isfinite(top) || !(top > 0))
    return std::optional<Value>();
  const double t = top / 255.0;
  Tensor table(Type(ElemKind::U8, {256}));
  for (int64_t j = 0; j < 256; ++j)
    table.setInt(j, int64_t(std::clamp(std::nearbyint(power(double(j)) / t),
                                       0.0, 255.0)));
  // The channel band: output channel o sums inputs o - before .. o + after.
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  Tensor band(Type(ElemKind::I8, {C, C, 1, 1}));
  for (int64_t o = 0; o < C; ++o)
    for (int64_t i = 0; i < C; ++i)
      band.setInt(o * C + i, i >= o - before && i <= o + after ? 1 : 0);
  const QParams u8{{1.0}, {0}, 0, ElemKind::U8};

  EMBER_ASSIGN(Value a0, centeredInt32(b, q, px));
  EMBER_ASSIGN(Value a1, centeredInt32(b, q, px));
  EMBER_ASSIGN(Value sq2, b.op(OpKind::Mul, {a0, a1}));
  EMBER_ASSIGN(Value sq, buildRequantize(b, sq2, {{1.0 / sSq}, {}}, 0, 0, u8, 0,
                                         255, profile));
  EMBER_ASSIGN(Value acc, b.op(OpKind::ConvInteger,
                               {sq, b.constant(std::move(band), "band")},
                               {{"kernel_shape", Attr::ofInts({1, 1})}}));
  EMBER_ASSIGN(Value s, buildRequantize(b, acc, {{1.0 / double(size)}, {}}, 0,
                                        0, u8, 0, 255, profile));
  EMBER_ASSIGN(Value p, b.op(OpKind::TableLookup,
                             {s, b.constant(std::move(table), "power")}));
  EMBER_ASSIGN(Value x, centeredInt32(b, q, px));
  EMBER_ASSIGN(Value pc, centeredInt32(b, p, u8));
  EMBER_ASSIGN(Value prod, b.op(OpKind::Mul, {x, pc}));
  EMBER_ASSIGN(Value y, buildRequantize(b, prod, {{sx * t / py.scale()}, {}}, 0,
                                        0, py, lo, hi, profile));
  if (!maxPool)
    return std::optional<Value>(y);
  EMBER_ASSIGN(Value pooled, b.op(OpKind::MaxPool, {y}, maxPool->attrs));
  return std::optional<Value>(pooled);
}

} // namespace ember

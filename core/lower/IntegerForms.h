// Builders of Ember's integer forms (docs/quantization.md, "Where the
// integer ops come from"): the QLinear lowerings and the QDQ pattern
// lowering both emit ConvInteger/MatMulInteger + int32 bias + Requantize,
// QuantizedAdd, integer pooling and TableLookup through these functions, so
// the two sources give identical graphs.
#pragma once

#include "lower/LowerUtil.h"

#include <optional>

namespace ember {

// The quantization parameters of one tensor, read from constant
// scale / zero-point operands. Per tensor when scales.size() == 1.
struct QParams {
  std::vector<double> scales;
  std::vector<int64_t> zeroPoints; // same size as scales
  int64_t axis = 0;                // channel axis (per-channel only)
  ElemKind kind = ElemKind::U8;    // the stored integer kind

  bool perTensor() const { return scales.size() == 1; }
  double scale(size_t c = 0) const { return scales[perTensor() ? 0 : c]; }
  int64_t zeroPoint(size_t c = 0) const {
    return zeroPoints[perTensor() ? 0 : c];
  }
  bool operator==(const QParams &o) const {
    return scales == o.scales && zeroPoints == o.zeroPoints && kind == o.kind &&
           (perTensor() || axis == o.axis);
  }
};

// Parameters from a scale and an optional zero point (Value() when absent:
// zero of `kind`). Empty when either is not a constant, when they disagree
// in size, or when a scale is not finite and positive.
std::optional<QParams> constantQParams(Value scale, Value zeroPoint,
                                       ElemKind kind, int64_t axis);

// Parameters of a DequantizeLinear / QuantizeLinear node (its stored kind
// is the quantized operand's / result's). Empty for blocked quantization or
// non-constant parameters.
std::optional<QParams> dequantizeParams(const Node &dq);
std::optional<QParams> quantizeParams(const Node &q);

// The range of stored kind k: [0, 255], [-128, 127] or [-32768, 32767].
int64_t lowestOf(ElemKind k);
int64_t highestOf(ElemKind k);

// QuantizeLinear of one real value into params p (per tensor): round half
// to even, add the zero point, saturate. Used to fold activation bounds.
int64_t quantizeReal(double v, const QParams &p);

// A Requantize node: acc (any integer kind) minus xZeroPoint, scaled by the
// real multipliers `real` (one, or one per channel along `axis`), plus the
// output zero point, clamped to [lo, hi] (within out.kind's range).
Expected<Value> buildRequantize(LoweringBuilder &b, Value acc,
                                const std::vector<double> &real, int64_t axis,
                                int64_t xZeroPoint, const QParams &out,
                                int64_t lo, int64_t hi);

// A scalar constant of kind k, named "<result>.<what>".
Value scalarOf(LoweringBuilder &b, ElemKind k, int64_t v,
               const std::string &what = "c");

// The accumulator bias (int32, or int64 for 16x8) of `channels` output
// channels at scale
// sx * sw[c]: `stored` as is when `params` says it is at that scale (its
// scale equals the float32 or the double product), else each real bias
// value rounded half to even at that scale and saturated. `params` null
// means `stored` holds real (float) values.
Tensor accumulatorBias(const Tensor &stored, const QParams *params, double sx,
                       const QParams &w, int64_t channels,
                       ElemKind acc = ElemKind::I32);

// QuantizedAdd of a and b (per-tensor params pa, pb) into out, clamped to
// [lo, hi].
Expected<Value> buildQuantizedAdd(LoweringBuilder &b, Value a,
                                  const QParams &pa, Value bv,
                                  const QParams &pb, const QParams &out,
                                  int64_t lo, int64_t hi);

// x (stored kind, per-tensor params px) as an int32 value minus its zero
// point.
Expected<Value> centeredInt32(LoweringBuilder &b, Value x, const QParams &px);

} // namespace ember

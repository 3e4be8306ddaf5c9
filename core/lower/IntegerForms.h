// Builders of Ember's integer forms (docs/quantization.md, "Where the
// integer ops come from"): the QLinear lowerings and the QDQ pattern
// lowering both emit ConvInteger/MatMulInteger + int32 bias + Requantize,
// QuantizedAdd, integer pooling and TableLookup through these functions, so
// the two sources give identical graphs.
#pragma once

#include "lower/LowerUtil.h"

#include "ember/quant/Arith.h"

#include <array>
#include <functional>
#include <optional>
#include <unordered_map>

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

// The scale of a requantization in both profiles: `real` the exact
// multipliers (double arithmetic on the float32 scales; the fixed profile
// encodes them as multiplier and shift), `f32` the float32 multipliers the
// float32 profile uses, each computed as ONNX Runtime's kernel for the op
// computes it. One entry, or one per channel.
struct Rescale {
  std::vector<double> real;
  std::vector<float> f32;
};

// A Requantize node: acc (any integer kind) minus xZeroPoint, scaled by
// `scale` (one, or one per channel along `axis`) in `profile`, plus the
// output zero point, clamped to [lo, hi] (within out.kind's range).
Expected<Value> buildRequantize(LoweringBuilder &b, Value acc,
                                const Rescale &scale, int64_t axis,
                                int64_t xZeroPoint, const QParams &out,
                                int64_t lo, int64_t hi,
                                quant::RequantProfile profile);

// The integer form of an op `n` of one DequantizeLinear's result (stored
// q, per-tensor 8-bit parameters px) quantized with py and clamped to
// [lo, hi], when it has one (nullopt: the op stays float):
//  - Pad, constant mode, value 0 or none: q padded with px's zero point, the
//    stored form of 0.0, rescaled to py (docs/quantization.md, "Pad");
//  - PRelu by a constant slope >= 0, one or per channel (axis 1), fixed
//    profiles: Requantize(q) by s_x / s_y clamped below at z_y (the
//    positive side) and by slope * s_x / s_y clamped above at z_y (the
//    negative side), then their QuantizedAdd at py: one side is z_y for
//    every element, so the add is exact and each element rounds once
//    ("PRelu");
//  - GlobalMaxPool of a rank-4 map: MaxPools of the stored integers whose
//    windows tile the map, at most 16 x 16 each (H and W as products of
//    factors up to 16: a 32 x 32 map as 16 x 16 windows, then 2 x 2), then
//    rescaled ("Pooling").
Expected<std::optional<Value>>
integerUnaryForm(LoweringBuilder &b, const Node &n, Value q, const QParams &px,
                 const QParams &py, int64_t lo, int64_t hi,
                 quant::RequantProfile profile);

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
// The same with the input scale per output channel (sxs: one, or one per
// output channel; a per-channel activation read by a depthwise
// convolution).
Tensor accumulatorBias(const Tensor &stored, const QParams *params,
                       const std::vector<double> &sxs, const QParams &w,
                       int64_t channels, ElemKind acc = ElemKind::I32);

// QuantizedAdd of a and b (per-tensor params pa, pb) into out, clamped to
// [lo, hi], in `profile`: the exact add in the fixed profile for 8-bit
// tensors (its scales as attributes, quant::AddExact), TFLite's int16 add
// (quant::makeAddParams, left shift 15) with a 16-bit side; ONNX Runtime's
// QLinearAdd in float32, whose operands are ordered as ONNX Runtime orders
// them (an operand repeated over the innermost broadcast span is the
// second). Empty when nothing was built
// (the add then stays DequantizeLinear -> Add -> QuantizeLinear).
Expected<std::optional<Value>>
buildQuantizedAdd(LoweringBuilder &b, Value a, const QParams &pa, Value bv,
                  const QParams &pb, const QParams &out, int64_t lo, int64_t hi,
                  quant::RequantProfile profile);

// A TableLookup of x (stored kind, per-tensor px) giving
// clamp(QuantizeLinear(DequantizeLinear(x)), lo, hi) in params py: the
// float32 profile's rescaling of a tensor between two sets of parameters
// (ONNX Runtime's QLinearConcat table, or its DequantizeLinear ->
// QuantizeLinear around a movement op).
Expected<Value> buildRescaleTable(LoweringBuilder &b, Value x,
                                  const QParams &px, const QParams &py,
                                  int64_t lo, int64_t hi);

// x (stored kind, per-tensor params px) as an int32 value minus its zero
// point.
Expected<Value> centeredInt32(LoweringBuilder &b, Value x, const QParams &px);

// The product of x and y (stored kinds, per-tensor px and py) in params out,
// clamped to [lo, hi] (docs/quantization.md, "Multiplication"): (q_x -
// z_x)(q_y - z_y) in int32 requantized by s_x s_y / s_out, or in the
// float32 profile ONNX Runtime's QLinearMul as float ops.
Expected<Value> buildQuantizedMul(LoweringBuilder &b, Value x,
                                  const QParams &px, Value y, const QParams &py,
                                  const QParams &out, int64_t lo, int64_t hi,
                                  quant::RequantProfile profile);

// The real factors of a product by the stored constant k (per-tensor
// params pk), one per element of the other operand's last axis (dims xd)
// or one: k the same along every other axis, every factor s_k (q_k - z_k)
// >= 0 (docs/quantization.md, "Products by a constant"). Empty otherwise.
std::optional<std::vector<double>>
constantFactors(const Tensor &k, const QParams &pk, const Dims &xd);

// The float32 profile's bilinear Resize of a float 4-D tensor (NCHW, or
// channels-last), written as the float operations ONNX Runtime's kernel
// performs, in its order (Float32Resize.cpp). Empty when n is not a Resize
// that kernel computes this way.
Expected<std::optional<Value>> ortFloatBilinear(LoweringBuilder &b,
                                                const Node &n);

// The float32 profile's InstanceNormalization of a float tensor, written as
// the float operations ONNX Runtime's kernel performs, in its order (two
// PacketSums and elementwise ops; Float32InstanceNorm.cpp). Empty when n is
// not one that kernel computes this way.
Expected<std::optional<Value>> ortFloatInstanceNorm(LoweringBuilder &b,
                                                    const Node &n);

// The float32 profile's softmax along `axis` of the stored 8-bit q (params
// px) into params py (per tensor, q's kind): ONNX Runtime's QLinearSoftmax
// as one QuantizedSoftmax (Float32Softmax.cpp).
Expected<Value> ortQuantizedSoftmax(LoweringBuilder &b, Value q, int64_t axis,
                                    const QParams &px, const QParams &py);

// The 8-bit kind ONNX Runtime's x86 kernels see for the stored value q (a
// QuantizeLinear's result or a DequantizeLinear's operand): uint8 for an
// int8 QuantizeLinear -> DequantizeLinear pair its QDQS8ToU8 transformer
// converts, else q's own (Float32Softmax.cpp).
ElemKind
ortStoredKind(Value q,
              const std::unordered_map<const Node *, std::vector<Use>> &users);

// ortStoredKind of every QuantizeLinear's result and every
// DequantizeLinear's operand of f, keyed by that node: taken before any
// rewrite, since a producer lowered first (its QuantizeLinear become a
// Requantize) no longer shows the pair ONNX Runtime converts.
using OrtKinds = std::unordered_map<const Node *, ElemKind>;
OrtKinds
ortStoredKinds(const Function &f,
               const std::unordered_map<const Node *, std::vector<Use>> &users);
// The kind `kinds` recorded for the QuantizeLinear or DequantizeLinear
// `qdq` whose stored value is q; ortStoredKind(q) for a node it lacks.
ElemKind
ortKindAt(const OrtKinds &kinds, const Node *qdq, Value q,
          const std::unordered_map<const Node *, std::vector<Use>> &users);

// A per-channel affine y = a[c] * x + b[c] of a float tensor whose channel
// axis is 1, in double (docs/quantization.md, "Per-channel affine").
struct ChannelAffine {
  std::vector<double> a, b; // one per channel
  size_t steps = 0;         // ops composed
  bool scaled = false;      // a step multiplies (Mul, Div, BatchNormalization)
  bool perChannel = false;  // a step's constant differs between channels
  static ChannelAffine identity(int64_t channels);
};

// Composes node n, which reads the float tensor `from`, after f: n is an
// inference BatchNormalization of `from` with constant parameters, or a
// Mul, Add, Sub (either side) or Div (of `from`) of `from` and a constant,
// or the DequantizeLinear of constants, repeated along every axis but 1;
// its result has from's shape. False (f unchanged) when n is not such a
// step.
bool composeAffineStep(const Node &n, Value from, ChannelAffine &f);

// Composes n (reading `from`) and then, while they are steps, the sole
// readers soleReader gives after it into f: the steps, or none when n is
// not one.
std::vector<Node *>
composeAffineChain(Node &n, Value from, ChannelAffine &f,
                   const std::function<Node *(Node *)> &soleReader);

// f applied to x in the fixed profile (docs/quantization.md, "Per-channel
// affine"): buildAffineTable when every constant is a scalar and x is 8-bit,
// else buildChannelAffine of a rank-2 or rank-4 x; empty otherwise (nothing
// built).
Expected<std::optional<Value>>
buildAffine(LoweringBuilder &b, Value x, const QParams &px,
            const ChannelAffine &f, const QParams &py, int64_t lo, int64_t hi,
            quant::RequantProfile profile);

// The fixed integer form of f applied to x (stored kind, per-tensor px)
// into py, clamped to [lo, hi]: per channel an int8 weight w = sign(a) *
// 127 at scale |a| / 127, the bias round_half_even(b / (s_x |a| / 127)) -
// w * z_x, as a depthwise 1x1 ConvInteger -> Add -> Requantize by
// s_x |a| / (127 s_y) (a tensor of another rank than 4 reshaped to
// [N, C, -1, 1] and back).
Expected<Value> buildChannelAffine(LoweringBuilder &b, Value x,
                                   const QParams &px, const ChannelAffine &f,
                                   const QParams &py, int64_t lo, int64_t hi,
                                   quant::RequantProfile profile);

// The same map with one slope a and offset c for every channel, of an
// 8-bit x: TableLookup(x, table), table[q - lowest] = clamp(
// round_half_even((a * s_x * (q - z_x) + c) / s_y) + z_y, lo, hi) in double
// (an output table the producer's layer applies).
Expected<Value> buildAffineTable(LoweringBuilder &b, Value x, const QParams &px,
                                 double a, double c, const QParams &py,
                                 int64_t lo, int64_t hi);

// The phase decomposition of a 2-D ConvTranspose node n with the stored
// 8-bit weights w ([Cin, Cout / group, kh, kw]; docs/quantization.md,
// "ConvTranspose") and their zero points wZero (one, or one per channel of
// w's axis 1): any group, strides, dilations, pads, output_padding,
// output_shape and auto_pad. Phase p = py*sx + px is a correlation (of
// `group` groups) of the input with weights[p] ([Cout, Cin / group, th,
// tw], w's kind: the phase's taps reversed, or one tap of the zero point
// when none reaches the phase), pads[p] (top, left, bottom, right) and
// dilations[p], giving an eh x ew map whose pixel (m, n) is pixel
// (sy*m + py - top, sx*n + px - left) of the oh x ow result. Empty when n
// is not a 2-D ConvTranspose of 8-bit weights.
struct ConvTransposePhases {
  int64_t sy = 1, sx = 1, group = 1, eh = 0, ew = 0;
  int64_t top = 0, left = 0, oh = 0, ow = 0;
  std::vector<Tensor> weights;
  std::vector<std::array<int64_t, 4>> pads;
  std::vector<std::array<int64_t, 2>> dilations;
};
std::optional<ConvTransposePhases>
convTransposePhases(const Node &n, const Tensor &w,
                    const std::vector<int64_t> &wZero);
// The ConvInteger attributes of phase `phase`.
AttrMap phaseConvAttrs(const ConvTransposePhases &p, size_t phase);
// The sy*sx phase maps [N, K, eh, ew] (in phase order) interleaved into
// [N, K, sy*eh, sx*ew]: Concat on the channels, then DepthToSpace (DCR) as
// Reshape [N, sy, sx, K, eh, ew] -> Transpose [0, 3, 4, 1, 5, 2] -> Reshape.
Expected<Value> interleavePhases(LoweringBuilder &b,
                                 const std::vector<Value> &phases, int64_t sy,
                                 int64_t sx);
// The result of the phase maps: interleaved (more than one phase), then
// cropped to [top, top + oh) x [left, left + ow) by a Slice on H and W
// unless that is the whole interleave.
Expected<Value> phaseResult(LoweringBuilder &b, const ConvTransposePhases &p,
                            const std::vector<Value> &phases);

// A TableLookup of interleaved transposed-convolution phases (the
// interleave read by it alone) looks up each phase instead: the table is
// elementwise and the interleave only moves elements, so each phase's
// layer can apply it (an output table) before the phases interleave
// (IntegerConvTranspose.cpp).
Status sinkTablesIntoPhases(Function &f);

// The fixed profile's 8-bit LRN of q (stored 8-bit, params px) into py,
// clamped to [lo, hi], then max-pooled like maxPool when it is not null
// (docs/quantization.md, "LRN"; IntegerLrn.cpp). Empty when n is not an
// NCHW LRN of that form.
Expected<std::optional<Value>>
integerLrn(LoweringBuilder &b, const Node &n, Value q, const QParams &px,
           const Node *maxPool, const QParams &py, int64_t lo, int64_t hi,
           quant::RequantProfile profile);

// The table of an elementwise region (docs/quantization.md, "Activations
// and rescaling"): the DequantizeLinear d, the elementwise members (program
// order) and the QuantizeLinear q (params pq) evaluated by the reference
// kernels on the 256 values of d's 8-bit input: table[i] =
// q(members(d(lowest + i))).
Expected<Tensor> regionTable(const Node &d, const std::vector<Node *> &members,
                             const Node &q, const QParams &pq);

// The values of `out` (d's result or a member's) on the 256 values of d's
// 8-bit input, lowest first, by the same reference kernels; with q, the
// QuantizeLinear of them with q's parameters (regionTable).
Expected<Tensor> regionValues(const Node &d, const std::vector<Node *> &members,
                              Value out, const Node *q = nullptr);

// The fixed profile's integer LSTM of x (stored integers with per-tensor
// params *px, or a float tensor when px is null), [T, B, I], unrolled over
// the T steps (docs/quantization.md, "LSTM"; IntegerLstm.cpp): its Y as
// int16 at scale 2^-15, [T, directions, B, H]. Empty when n is not an LSTM
// of that form (constant weights, default activations, no clip,
// input_forget or layout, no sequence_lens, initial states or peepholes).
Expected<std::optional<Value>> integerLstm(LoweringBuilder &b, const Node &n,
                                           Value x, const QParams *px);

// The fixed profile's integer GRU of x, in integerLstm's terms
// (docs/quantization.md, "GRU"; IntegerGru.cpp): its Y as int16 at scale
// 2^-15, [T, directions, B, H]. Empty when n is not a GRU of that form
// (constant weights, default activations, no clip or layout, no
// sequence_lens or initial state), for either linear_before_reset.
Expected<std::optional<Value>> integerGru(LoweringBuilder &b, const Node &n,
                                          Value x, const QParams *px);

// The LSTM or GRU n of a quantized graph (its input the DequantizeLinear of
// an 8-bit or int16 tensor, through movement ops, or its Y reaching a
// QuantizeLinear through movement ops and recurrent layers; its other
// results unread) in integerLstm's or integerGru's form: its Y, dequantized
// from int16 at 2^-15, or, when a QuantizeLinear alone reads it,
// requantized to that QuantizeLinear's parameters (`q` then names it: the
// caller replaces it). Empty when n is not such a layer. `users` is the
// function's computeUsers().
struct RecurrentResult {
  Value y;
  Node *q = nullptr;
};
Expected<std::optional<RecurrentResult>> quantizedGraphRecurrent(
    LoweringBuilder &b, const Node &n,
    const std::unordered_map<const Node *, std::vector<Use>> &users);

// Per-channel activation parameters an integer form takes (ChannelScales.h):
// 8-bit, along axis 1, one zero point shared by every channel.
bool perChannelActivation(const QParams &p);

// A clamp node's real bounds (Relu, Clip, Max or Min with a constant
// single-element bound); false when n is not one.
bool clampBounds(const Node &n, double &lo, double &hi);

// A copy of a constant rank-2 tensor, transposed.
Tensor transpose2d(const Tensor &c);

// The per-channel zero points of a weight as a constant (Value() when all
// are zero).
Value weightZeroPoints(LoweringBuilder &b, const QParams &w);

// The multipliers sx * sw[c] / sy (times `alpha`) for `channels`: exact
// (double) for the fixed profile, and as ONNX Runtime's QLinearConv,
// QLinearMatMul and QGemm compute them in float32 for the float32 profile:
// f32(f32(sx * sw) / sy), QGemm's f32(f32(f32(alpha * sx) * sw) / sy).
Rescale productMultipliers(double sx, const QParams &w, double sy,
                           int64_t channels, double alpha = 1.0);
// The same with the input and output scales per output channel (one, or
// one per output channel each): a convolution reading or writing a
// per-channel activation.
Rescale productMultipliers(const std::vector<double> &sxs, const QParams &w,
                           const std::vector<double> &sys, int64_t channels);
// The scale of the input channel each of `channels` output channels of a
// convolution reads (one when px is per tensor; a depthwise convolution's
// output channel m reads input channel m / (channels / inputs)).
std::vector<double> inputScalesPerOutput(const QParams &px, int64_t channels);

} // namespace ember

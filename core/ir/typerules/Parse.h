// Parse helpers shared by type rules and the reference kernels that run
// them: the values a rule derives from operands and attributes (sliding-window
// geometry, convolution and matmul shapes, reduction plans, axes, quantization
// parameter layouts) computed in one place. A kernel that needs them after
// its type rule ran calls the same helper; it never re-derives them.
#pragma once

#include "ir/ResizeCoordinates.h"
#include "ir/TypeRules.h"

#include "ember/quant/Arith.h"

#include <set>
#include <string>
#include <vector>

namespace ember {

// ---- elementwise ----------------------------------------------------------

// Unary maps: the result has operand 0's element kind and shape.
Status unaryRule(TypeContext &ctx);

// Gelu's approximate attribute: true for "tanh", false for "none".
Expected<bool> geluTanh(const TypeContext &ctx);

// The multidirectional broadcast of a's and b's shapes, or the error
// "shapes <a> and <b> do not broadcast".
Expected<Dims> broadcastOperands(const TypeContext &ctx, const Tensor &a,
                                 const Tensor &b);

// Broadcasting binary ops: operands of one element kind whose shapes
// broadcast; the result has kind outKind.
Status broadcastBinaryRule(TypeContext &ctx, ElemKind outKind);

// Cast's attributes: the target kind, round_mode (0 up, 1 nearest, 2 down,
// for float8 targets) and saturate.
struct CastParams {
  ElemKind to = ElemKind::F32;
  int roundMode = 0;
  bool saturate = true;
};
Expected<CastParams> castParams(const TypeContext &ctx);

// BitShift's direction attribute: true for LEFT.
Expected<bool> bitShiftLeft(const TypeContext &ctx);

// ---- Einsum -----------------------------------------------------------------

struct EinsumSpec;
// The operands' labels and sizes (ir/EinsumEquation.h) after checking that
// the operands share one element kind.
Expected<EinsumSpec> einsumSpec(const TypeContext &ctx);

// ---- data movement ---------------------------------------------------------

// The result type of an op that moves elements of `in` into shape `d`:
// per-tensor quantization survives, per-channel quantization (tied to an
// axis that may move) is dropped.
inline Type movedType(const Type &in, Dims d) {
  if (in.isQuantized() && in.quant()->scales.size() == 1)
    return in.withDims(std::move(d));
  return Type(in.elem(), std::move(d));
}

// Transpose's perm (default: reversed axes), normalized and checked.
Expected<std::vector<int64_t>> transposePerm(const TypeContext &ctx);

// ScatterElements/ScatterND's reduction attribute.
enum class ScatterReduction { None, Add, Mul, Max, Min };
Expected<ScatterReduction> scatterReduction(const TypeContext &ctx);

// Slice(x, starts, ends, axes?, steps?): per dim the first index, the step
// and the result extent.
struct SlicePlan {
  std::vector<int64_t> first, step;
  Dims out;
};
Expected<SlicePlan> slicePlan(const TypeContext &ctx);

// Split(x, split?): the axis and each result's extent along it.
struct SplitPlan {
  int64_t axis = 0;
  std::vector<int64_t> sizes;
};
Expected<SplitPlan> splitPlan(const TypeContext &ctx);

// Pad(x, pads, constant_value?, axes?): mode, front padding per dim (may be
// negative: a crop) and the result shape.
struct PadPlan {
  std::string mode;
  std::vector<int64_t> begin;
  Dims out;
};
Expected<PadPlan> padPlan(const TypeContext &ctx);

// CenterCropPad(x, shape): per dim the kept window's offset in the input
// (crop) and in the output (pad), its length, and the result shape.
struct CropPadPlan {
  std::vector<int64_t> inOff, outOff, len;
  Dims out;
};
Expected<CropPadPlan> cropPadPlan(const TypeContext &ctx);

// Resize(x, roi?, scales?, sizes?): the attributes (ir/ResizeCoordinates.h),
// the resized axes, the per-dim scale and the result shape.
struct ResizePlan {
  ResizeAttrs attrs;
  std::vector<int64_t> axes;
  std::vector<double> scale;
  Dims out;
};
Expected<ResizePlan> resizePlan(const TypeContext &ctx);

// Normalizes each axis against `rank` and rejects duplicates.
inline Expected<std::vector<int64_t>>
normalizeAxes(const TypeContext &ctx, std::vector<int64_t> axes, size_t rank) {
  std::set<int64_t> seen;
  for (int64_t &a : axes) {
    EMBER_ASSIGN(a, normalizeAxis(ctx, a, rank));
    if (!seen.insert(a).second)
      return ctx.error("axis ", a, " is repeated");
  }
  return axes;
}

// Reads an axes operand (operand `i`) and normalizes it (normalizeAxes).
inline Expected<std::vector<int64_t>> readAxes(const TypeContext &ctx, size_t i,
                                               size_t rank) {
  EMBER_ASSIGN(std::vector<int64_t> axes, ctx.ints(i));
  return normalizeAxes(ctx, std::move(axes), rank);
}

// Rejects result shapes whose element count overflows or is absurdly large
// (shapes computed from operand values: Expand, Tile, Pad, Resize, ...), so
// a bad model gets an error instead of a failed allocation.
inline Status checkResultSize(const TypeContext &ctx, const Dims &d) {
  constexpr int64_t kMaxElems = int64_t(1) << 34;
  int64_t n = 1;
  for (int64_t v : d) {
    if (v < 0)
      return ctx.error("negative dimension in result shape [", dimsToString(d),
                       "]");
    if (v != 0 && n > kMaxElems / v)
      n = kMaxElems + 1;
    else
      n *= v;
  }
  for (int64_t v : d)
    if (v == 0)
      return Status::ok();
  if (n > kMaxElems)
    return ctx.error("result shape [", dimsToString(d), "] is too large");
  return Status::ok();
}

// Normalizes an element index against a dimension of size n: a negative
// index wraps once; anything still outside [0, n) is an error.
inline Expected<int64_t> wrapIndex(const TypeContext &ctx, int64_t v, int64_t n,
                                   const char *what) {
  int64_t w = v < 0 ? v + n : v;
  if (w < 0 || w >= n)
    return ctx.error(what, " index ", v, " is out of range for a dimension of ",
                     n);
  return w;
}

// ---- shapes and constants ------------------------------------------------

// Shape's start attribute clamped to the rank (the first dim it reports).
int64_t shapeStart(const TypeContext &ctx);

// ConstantOfShape's fill value (the `value` attribute, default f32 0).
Expected<Tensor> constantOfShapeValue(const TypeContext &ctx);

// ---- signal processing ---------------------------------------------------

// MelWeightMatrix(num_mel_bins, dft_length, sample_rate, lower, upper):
// spec = dft_length / 2 + 1 rows; kind from output_datatype.
struct MelParams {
  int64_t bins = 0, dftLen = 0, rate = 0, spec = 0;
  double lowHz = 0, highHz = 0;
  ElemKind kind = ElemKind::F32;
};
Expected<MelParams> melParams(const TypeContext &ctx);

// DFT(input, dft_length?, axis?): the transformed axis, its input extent m,
// the transform length L and the result shape.
struct DftParams {
  int64_t axis = 0, m = 0, L = 0;
  bool inverse = false, onesided = false;
  Dims out;
};
Expected<DftParams> dftParams(const TypeContext &ctx);

// STFT(signal, frame_step, window?, frame_length?): frames of length L.
struct StftParams {
  int64_t step = 0, L = 0, frames = 0, bins = 0;
  bool onesided = true;
};
Expected<StftParams> stftParams(const TypeContext &ctx);

// ---- operand checks ---------------------------------------------------------

// Error unless operand i is present and floating point.
inline Status requireFloat(const TypeContext &ctx, size_t i, const char *what) {
  if (!ctx.has(i))
    return ctx.error(what, " is missing");
  if (!isFloatKind(ctx.in(i).elem()))
    return ctx.unsupportedError(what, " must be floating point, got ",
                                ctx.in(i).type().toString());
  return Status::ok();
}

// Error unless operand i is present and i32 or i64.
inline Status requireIndex(const TypeContext &ctx, size_t i, const char *what) {
  if (!ctx.has(i))
    return ctx.error(what, " is missing");
  ElemKind k = ctx.in(i).elem();
  if (k != ElemKind::I32 && k != ElemKind::I64)
    return ctx.error(what, " must be i32 or i64, got ",
                     ctx.in(i).type().toString());
  return Status::ok();
}

// ---- reductions -------------------------------------------------------------

// Which dims a ReduceX node reduces and the result shape.
struct ReducePlan {
  std::vector<bool> reduced; // per input dim
  Dims outDims;              // the result shape (honours keepdims)
  Dims keptDims;             // the result shape with keepdims=1
  int64_t count = 1;         // input elements folded into each result element
};

// Reads ReduceX(data, axes?) with attrs keepdims and noop_with_empty_axes.
// The axes operand must be known (it fixes the result shape).
inline Expected<ReducePlan> planReduce(const TypeContext &ctx) {
  const Dims &in = ctx.in(0).dims();
  size_t rank = in.size();
  std::vector<int64_t> axes;
  if (ctx.has(1)) {
    if (ctx.in(1).rank() > 1)
      return ctx.error("axes must be a 1-D tensor, got ",
                       ctx.in(1).type().toString());
    EMBER_ASSIGN(axes, ctx.ints(1));
  }
  bool keepDims = ctx.attrInt("keepdims", 1) != 0;
  bool noop = ctx.attrInt("noop_with_empty_axes", 0) != 0;
  ReducePlan p;
  p.reduced.assign(rank, axes.empty() && !noop);
  for (int64_t a : axes) {
    EMBER_ASSIGN(int64_t ax, normalizeAxis(ctx, a, rank));
    if (p.reduced[size_t(ax)])
      return ctx.error("axis ", a, " is listed twice");
    p.reduced[size_t(ax)] = true;
  }
  for (size_t d = 0; d < rank; ++d) {
    if (p.reduced[d]) {
      p.count *= in[d];
      p.keptDims.push_back(1);
      if (keepDims)
        p.outDims.push_back(1);
    } else {
      p.keptDims.push_back(in[d]);
      p.outDims.push_back(in[d]);
    }
  }
  return p;
}

// ---- normalization ----------------------------------------------------------

// MeanVarianceNormalization's `axes` (default {0, 2, 3}) as a per-dim mask.
Expected<std::vector<bool>> mvnReducedAxes(const TypeContext &ctx);

// ---- sliding windows, convolution, matmul ---------------------------------

// Geometry of an N-d sliding window over the spatial dims of an NC...
// tensor: output extent and the padding in front of / after each dim.
struct WindowGeom {
  Dims in, kernel, strides, dilations, out;
  Dims padBegin, padEnd; // explicit (or auto) pads; ceil-mode extras excluded
  size_t rank() const { return in.size(); }
  int64_t effKernel(size_t d) const {
    return (kernel[d] - 1) * dilations[d] + 1;
  }
  int64_t outSize() const { return numElements(out); }
  int64_t kernelSize() const { return numElements(kernel); }
};

// Reads auto_pad, strides, dilations, pads from the node (ONNX Conv/pool
// semantics). `ceilMode` applies to explicit padding only.
Expected<WindowGeom> windowGeom(const TypeContext &ctx, const Dims &in,
                                const Dims &kernel, bool ceilMode);

// numpy matmul shapes: 1-D operands are promoted and the extra dim dropped
// from the result; batch dims broadcast.
struct MatMulShape {
  Dims out;            // result shape
  Dims batch;          // broadcast batch dims
  Dims aBatch, bBatch; // operand batch dims
  int64_t M = 1, K = 1, N = 1;
  int64_t numBatches() const { return numElements(batch); }
};
Expected<MatMulShape> matmulShape(const TypeContext &ctx, const Dims &a,
                                  const Dims &b);

// Convolution problem: X[N, C, in...] * W[M, C/group, kernel...].
struct ConvProblem {
  int64_t batch = 1, inC = 1, outC = 1, group = 1;
  WindowGeom g;
};

// Validates X/W shapes and attributes (group, kernel_shape) and derives the
// geometry; result dims are [N, M, out...].
Expected<ConvProblem> convProblem(const TypeContext &ctx, const Dims &x,
                                  const Dims &w);

// The result shape [N, M, out...] of a convolution problem.
inline Dims convOutDims(const ConvProblem &p) {
  Dims od{p.batch, p.outC};
  od.insert(od.end(), p.g.out.begin(), p.g.out.end());
  return od;
}

// MaxPool/AveragePool/LpPool geometry: X is [N, C, spatial...] (rank 3 to
// 10), kernel_shape required; ceil_mode applies.
Expected<WindowGeom> poolGeom(const TypeContext &ctx, const Tensor &x);

// MaxUnpool(X, I, output_shape?): the shape the indices address (inferred
// from kernel_shape, pads, strides) and the result shape (output_shape, at
// least as large).
struct MaxUnpoolShape {
  Dims inferred, out;
};
Expected<MaxUnpoolShape> maxUnpoolShape(const TypeContext &ctx);

// ConvTranspose(X[N, C, in...], W[C, M/group, k...], B?) -> [N, M, out...]:
// the output extents and the padding in front of each spatial dim.
struct ConvTransposeProblem {
  int64_t batch = 1, inC = 1, outC = 1, group = 1, mg = 1, cg = 1;
  Dims in, kernel, strides, dilations, out, padBegin;
};
Expected<ConvTransposeProblem> convTransposeProblem(const TypeContext &ctx);

// Gemm(A, B, C?): A [M,K] (or [K,M] with transA) times B [K,N] (or [N,K]);
// C broadcasts unidirectionally to [M,N].
struct GemmShape {
  bool transA = false, transB = false;
  int64_t M = 0, K = 0, N = 0;
  double alpha = 1, beta = 1;
};
Expected<GemmShape> gemmShape(const TypeContext &ctx);

// ---- sequence state ---------------------------------------------------------

// LinearAttention(query, key, value, past_state?, decay?, beta?): the update
// rule's parts, head counts, dims and the state's element kind.
struct LinearAttnShape {
  bool gating = false, delta = false, perDimDecay = false;
  int64_t Hq = 1, Hkv = 1, B = 0, T = 0, Dk = 0, Dv = 0;
  ElemKind stateKind = ElemKind::F32;
};
Expected<LinearAttnShape> linearAttnShape(const TypeContext &ctx);

// ---- data-dependent shapes -------------------------------------------------
// The selections these ops make from operand values (known constants during
// type inference, every operand at run time). Making the selection is the
// op's work, so the type rule keeps it (TypeContext::keepForKernel) and the
// kernel copies it out:
// - NonMaxSuppression: std::vector<int64_t>, the selected [batch, class,
//   box] triples, flattened;
// - NonZero: std::vector<int64_t>, flat indices of the nonzero elements, in
//   order;
// - Unique: UniquePlan; Compress: CompressPlan.

// Unique: x viewed as [outer, n, inner] around the axis (flattened without
// one); per unique slice its first index and count, per slice its group;
// the first result's shape.
struct UniquePlan {
  int64_t axis = 0, outer = 1, n = 0, inner = 1;
  std::vector<int64_t> first, counts, inverse;
  Dims out;
};

// Compress: the indices along the axis the condition keeps; view is x's
// shape (flattened without an axis attribute).
struct CompressPlan {
  int64_t axis = 0;
  Dims view;
  std::vector<int64_t> keep;
};

// ---- sampling ---------------------------------------------------------------

// GridSample's mode (linear, nearest or cubic), padding_mode,
// align_corners and the result shape.
enum class GridPadMode { Zeros, Border, Reflection };
struct GridSampleParams {
  std::string mode;
  GridPadMode pad = GridPadMode::Zeros;
  bool align = false;
  Dims out;
};
Expected<GridSampleParams> gridSampleParams(const TypeContext &ctx);

// RoiAlign's attributes: pooled size ph x pw, sampling ratio, scale.
struct RoiAlignParams {
  bool halfPixel = true;
  std::string mode;
  int64_t ph = 1, pw = 1, samplingRatio = 0;
  double scale = 1;
};
Expected<RoiAlignParams> roiAlignParams(const TypeContext &ctx);

// DeformConv (2-D): groups, kernel, dilations, pads [t, l, b, r], strides
// and the output extent.
struct DeformConvParams {
  int64_t group = 1, offsetGroup = 1, outH = 0, outW = 0;
  std::vector<int64_t> kernel, dilations, pads, strides;
};
Expected<DeformConvParams> deformConvParams(const TypeContext &ctx);

// ---- quantization parameters ----------------------------------------------

// Maps a flat element index of x to the index of its scale/zero point.
struct QuantIndexer {
  enum Mode { PerTensor, PerAxis, Blocked } mode = PerTensor;
  int64_t axisDim = 1, inner = 1, block = 1, scaleAxisDim = 1;
  int64_t operator()(int64_t flat) const {
    if (mode == PerTensor)
      return 0;
    int64_t a = (flat / inner) % axisDim;
    if (mode == PerAxis)
      return a;
    int64_t o = flat / (inner * axisDim), i = flat % inner;
    return (o * scaleAxisDim + a / block) * inner + i;
  }
};

// Validates scale (and zero point, when given) against x for the axis and
// block_size attributes.
Expected<QuantIndexer> quantIndexer(const TypeContext &ctx, const Dims &x,
                                    const Tensor &scale, const Tensor *zp);

// True for the integer kinds quantized tensors may have here.
inline bool isQuantKind(ElemKind k) {
  return k == ElemKind::U8 || k == ElemKind::I8 || k == ElemKind::U16 ||
         k == ElemKind::I16;
}

// Requantize's per-channel layout: the multiplier/shift index of an element
// is (flat / inner) % axisDim (axisDim 1: one multiplier for the tensor);
// kind is the result kind (the `to` attribute).
// float32: the multiplier is f32 and there is no shift (the float32
// requantization profile).
struct RequantizeLayout {
  int64_t axis = 0, axisDim = 1, inner = 1;
  ElemKind kind = ElemKind::I8;
  bool float32 = false;
  // The `requant` attribute (default fixed): how an i32 multiplier rounds
  // (quant::requantizeIn; gemmlowp twice, every other integer profile once).
  quant::RequantProfile profile = quant::RequantProfile::Fixed;
};
Expected<RequantizeLayout> requantizeLayout(const TypeContext &ctx);

// A QuantizedAdd's arithmetic from its attributes (docs/quantization.md):
// `requant` fixed (default) with a_scale, b_scale, y_scale and the three
// zero points: the exact add (quant::AddExact, `exact` set); fixed with
// left_shift and the a_/b_/y_ zero_point, multiplier and shift instead:
// TFLite's add (quant::AddParams, the int16 add's form), also the form of
// `requant` tflite and gemmlowp (quant::quantizedAddIn); or float32
// (a_ratio, b_ratio and the three zero points; quant::AddFloat32). The
// clamp range is the kernel's to fill in.
struct QuantizedAddForm {
  quant::RequantProfile profile = quant::RequantProfile::Fixed;
  bool exact = false;
  quant::AddScales scales; // exact
  quant::AddParams fixed;
  float ratioA = 1, ratioB = 1;
  int32_t aZp = 0, bZp = 0, yZp = 0;
};
Expected<QuantizedAddForm> quantizedAddForm(const TypeContext &ctx);

// Narrow kinds QuantizeLinear/DequantizeLinear accept: float8 (not E8M0),
// float4 E2M1 and the 4/2-bit integers.
bool isMiniQuantKind(ElemKind k);

} // namespace ember

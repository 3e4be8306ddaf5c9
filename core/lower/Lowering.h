// Node lowering: each Composite op of Ops.def has lower_<Name>, which
// rebuilds the node from primitives (inserted right before it) and returns
// one replacement value per result. The declarations and the dispatch
// (lowerFnFor) are generated from Ops.def. After lowerFunction() the verifier
// rejects any node that is not Primitive, unless the backend kept it.
#pragma once

#include "ir/Graph.h"

#include "ember/quant/Profile.h"

#include <functional>

namespace ember {

class LoweringBuilder {
public:
  LoweringBuilder(Function &f, Node &n) : f_(f), n_(n) {}
  Function &function() { return f_; }
  Node &node() { return n_; }
  Value in(size_t i) const { return n_.inputs[i]; }
  bool has(size_t i) const { return n_.hasInput(i); }
  const Type &inType(size_t i) const { return n_.inputs[i].type(); }

  // Creates a primitive (or composite, lowered later in the same run) node
  // before the node being lowered, named after it.
  Expected<Value> op(OpKind k, std::vector<Value> ins, AttrMap attrs = {});
  Expected<std::vector<Value>> opN(OpKind k, std::vector<Value> ins,
                                   AttrMap attrs, int numResults);
  // A constant named after the node being lowered: "<result>.<what>".
  Value constant(Tensor t, const std::string &what = "c");
  Value scalar(ElemKind k, double v);        // rank-0 constant
  Value ints(const std::vector<int64_t> &v); // i64[n] constant
  // Sum over `axes` (kept as size-1 dims) divided by the element count.
  Expected<Value> mean(Value v, const Dims &axes);
  // The axes [from, to).
  static Dims axisRange(int64_t from, int64_t to);

private:
  Function &f_;
  Node &n_;
};

using LowerFn = Expected<std::vector<Value>> (*)(LoweringBuilder &);

// lower_<Name> for every Composite op of Ops.def, defined in the Lower*.cpp
// file of its family; a composite without one is a link error.
#define EMBER_LOWER_DECL_Storage(Name)
#define EMBER_LOWER_DECL_Primitive(Name)
#define EMBER_LOWER_DECL_Composite(Name)                                       \
  Expected<std::vector<Value>> lower_##Name(LoweringBuilder &b);
#define EMBER_OP(Name, Class, ...) EMBER_LOWER_DECL_##Class(Name)
#include "ir/Ops.def"
#undef EMBER_LOWER_DECL_Storage
#undef EMBER_LOWER_DECL_Primitive
#undef EMBER_LOWER_DECL_Composite

// nullptr for primitives and storage.
LowerFn lowerFnFor(OpKind k);

struct LoweringOptions {
  // Composite and custom ops to keep whole (a backend that implements them
  // natively: a plugin that claims a custom op by name).
  std::function<bool(const Node &)> keep;
  // The requantization profile of the integer forms (docs/quantization.md):
  // the target device's.
  quant::RequantProfile requant = quant::RequantProfile::Fixed;
  // LSTMs and GRUs of quantized graphs as integer forms in the fixed
  // profile (docs/quantization.md, "LSTM" and "GRU"; IntegerLstm.cpp,
  // IntegerGru.cpp).
  bool integerRecurrent = false;
};

// Rewrites quantized patterns (QDQ and QLinear ops with constant
// parameters) into Ember's integer forms (docs/quantization.md), in
// `profile`. The first step of lowerFunction; counts the patterns
// rewritten.
Status lowerIntegerPatterns(
    Function &f, quant::RequantProfile profile = quant::RequantProfile::Fixed,
    size_t *numRewritten = nullptr, bool integerRecurrent = false);

// The fixed profile's integer softmax, LayerNorm/RMSNorm and GELU of the
// QDQ transformer patterns (IntegerTransformer.cpp, docs/quantization.md,
// "Transformers"); nothing in the float32 profile. Runs before the
// float islands and lowerIntegerPatterns; counts the patterns rewritten.
Status lowerIntegerTransformer(Function &f, quant::RequantProfile profile,
                               size_t *numRewritten = nullptr);

// Float islands the integer patterns do not take as they are (fixed
// profile; FloatIslands.cpp, docs/quantization.md, "Float islands"): an
// elementwise float region between DequantizeLinears and QuantizeLinears
// that combines two dequantized 8-bit tensors (Mul, Add, Sub), reduces one
// (ReduceSum, ReduceMean, GlobalAveragePool) or shares an intermediate
// between several readers gets a QuantizeLinear -> DequantizeLinear pair
// at each such point, so that each piece is a pattern lowerIntegerPatterns
// takes (a table, a quantized multiply or add, a mean); a ReduceSum of a
// DequantizeLinear and its scalar Mul/Div become a ReduceMean of a
// DequantizeLinear with the scale folded in. Counts the islands rewritten.
Status quantizeFloatIslands(Function &f, size_t *numRewritten = nullptr);

// A float head's parts of several scales given a chain each: a Split of
// DequantizeLinears concatenated before it reads them; a Concat read by
// Reshapes, Transposes, a Softmax along another axis, one-scale Q/DQ and
// 1x1 convolutions down to a QuantizeLinear moves below it, with each
// input's DequantizeLinear moved to the Softmax; a Softmax before a
// QuantizeLinear reads the DequantizeLinear of its operand's rearranged
// integers (ConcatIslands.cpp; exact in float). Fixed-point profiles.
// Counts the rewrites.
Status separateConcatIslands(Function &f, size_t *numRewritten = nullptr);

// A Split of float elementwise ops of one DequantizeLinear (a float
// island's SiLU split at half its channels): a Split of the stored
// integers and the ops copied per part (SplitIslands.cpp; exact). Counts
// the Splits rewritten.
Status splitFloatIslands(Function &f, size_t *numRewritten = nullptr);
// DepthToSpace / SpaceToDepth of a dequantized tensor read by
// QuantizeLinears as the ConvTranspose / Conv with 0-1 selection weights
// they are, for the integer patterns (SpaceDepthAsConv.cpp).
Status spaceDepthAsConv(Function &f, size_t *numRewritten = nullptr);
// A Slice stepping over a dequantized image's pixels (steps on the spatial
// axes only, offsets below them) read by QuantizeLinears as the depthwise
// convolution with a one-hot kernel it is; a float image so sliced gets its
// reader's QuantizeLinear and DequantizeLinear first (StridedSliceAsConv.cpp;
// exact). Counts the rewrites.
Status stridedSliceAsConv(Function &f, size_t *numRewritten = nullptr);

// DequantizeLinears of one scale moved past the rearrangements, float
// unary ops and Concats after them, so that those move the stored integers
// (SinkDequantize.cpp; exact). Counts the ops moved past.
Status sinkDequantize(Function &f, size_t *numRewritten = nullptr);

// A Split along the channels of an integer convolution's requantized
// result, read by nothing else: one convolution per part (SplitLayers.cpp;
// exact). Counts the Splits rewritten.
Status splitLayers(Function &f, size_t *numRewritten = nullptr);

// Attention's batched heads (batch 1) as one rank-2 chain per head: a
// Split of Q, K and V on the channels, per head MatMulInteger, Requantize,
// tables and IntegerSoftmax, and a Concat of the heads (UnbatchHeads.cpp;
// exact). Fixed-point profiles. Counts the attention blocks rewritten.
Status unbatchHeads(Function &f, size_t *numRewritten = nullptr);
// Attention over a feature map's pixels (batch 1; YOLO11's C2PSA): the
// Reshape to [1, H, g, N], its Split on axis 2 and the rank-4 transposed
// MatMuls as one rank-2 chain per head over the map read as a sequence
// (MapAttention.cpp; exact). Fixed-point profiles. Counts the blocks.
Status mapAttentionHeads(Function &f, size_t *numRewritten = nullptr);
// A map's channels moved last for row ops (LayerNorm over the channels,
// MatMul by a constant, elementwise) and moved back (ConvNeXt's blocks):
// those ops on the map reshaped to a sequence [N, H W, C], the way back a
// Transpose [0, 2, 1] and a Reshape (ChannelsLastRows.cpp; exact).
// Fixed-point profiles. Counts the regions.
Status channelsLastRows(Function &f, size_t *numRewritten = nullptr);
// A detection head's elementwise ops on [1, C, L] tensors (a map's pixels
// flattened, channels kept on axis 1) made on them as [1, C, 1, L] maps; a
// per-pixel Requantize with a few runs of one multiplier as one per run
// (MapRows.cpp; exact). Fixed-point profiles. Counts the ops.
Status mapRows(Function &f, size_t *numRewritten = nullptr);

// A softmax over groups of B channels, Transpose(Reshape(x [1, G B, N] ->
// [1, G, B, N]), [0, 2, 1, 3]) then IntegerSoftmax on axis 1, read by a
// one-channel 1x1 ConvInteger (a DFL's expectation): a softmax per group of
// x's channels, their Concat and one convolution of G groups
// (GroupSoftmax.cpp; exact). Counts the softmaxes rewritten.
Status splitGroupSoftmax(Function &f, size_t *numRewritten = nullptr);

// Reshape([N, C, H, W] -> [N, C, H*W]) then Transpose(perm [0, 2, 1]):
// Transpose(perm [0, 2, 3, 1]) then Reshape to [N, H*W, C], the same
// movement in the rank-4 form backends hold (ChannelsLast.cpp). Counts the
// pairs rewritten.
Status moveChannelsLast(Function &f, size_t *numRewritten = nullptr);

// Custom ops (LowerCustom.cpp, docs/custom-ops.md): the integer kernel form
// of those that have one in a quantized graph, and the lowering of the
// others that have a lowering and are not kept; counted in *count.
Status expandCustomOps(Function &f, const LoweringOptions &opts, size_t *count);

// Lowers every composite node (iterating until none is left); stats count
// lowered nodes. Runs expandCustomOps, then lowerIntegerPatterns, first.
Status lowerFunction(Function &f, const LoweringOptions &opts = {},
                     size_t *numLowered = nullptr);

} // namespace ember

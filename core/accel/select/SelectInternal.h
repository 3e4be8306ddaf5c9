// Internal to the selector (GraphView.cpp, Select.cpp, Build.cpp,
// Forms.cpp): the graph view, the per-form checks and builders, and the form
// table that dispatches to them.
#pragma once

#include "ember/accel/Layers.h"
#include "ember/accel/Select.h"
#include "ember/accel/Target.h"
#include "ember/backend/v1/graph.pb.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ember::accel::sel {

namespace v1 = ember::backend::v1;

// ---- the graph (GraphView.cpp) --------------------------------------------

std::string q(const std::string &s);
const v1::Attribute *attr(const v1::Node &n, const char *name);
int64_t aInt(const v1::Node &n, const char *name, int64_t dflt);
std::vector<int64_t> aInts(const v1::Node &n, const char *name,
                           std::vector<int64_t> dflt);
std::string aStr(const v1::Node &n, const char *name, std::string dflt);
bool isQ8(const std::string &d);
// Whether `form` runs 16-bit activations on the target (Form::act16).
bool has16(const Target &t, const char *form);

struct View {
  const Target &t;
  const v1::Graph &g;
  std::vector<int> producer;
  std::vector<std::vector<int>> users;
  std::vector<int> outUses;
  std::vector<const v1::TensorData *> constant;
  std::vector<bool> isInput;
  std::string error;

  View(const Target &target, const v1::Graph &graph);
  const v1::TensorType &type(int v) const { return g.values(v).type(); }
  const std::string &dtype(int v) const { return type(v).dtype(); }
  std::vector<int64_t> dims(int v) const {
    return {type(v).dims().begin(), type(v).dims().end()};
  }
  const std::string &name(int v) const { return g.values(v).name(); }
  size_t uses(int v) const {
    return users[size_t(v)].size() + size_t(outUses[size_t(v)]);
  }
  // The one node reading value x (and nothing else: not a partition
  // output), or -1.
  int soleReader(int x) const {
    if (x < 0 || outUses[size_t(x)] || users[size_t(x)].size() != 1)
      return -1;
    return users[size_t(x)][0];
  }
  int in(const v1::Node &n, int i) const {
    return i < n.inputs_size() ? n.inputs(i) : -1;
  }
  int out(const v1::Node &n, int i = 0) const {
    return i < n.outputs_size() ? n.outputs(i) : -1;
  }
  // Integer constant data (i8, u8, i16, i32, i64, u16, u32), row-major.
  bool ints(int v, std::vector<int64_t> &out) const;
  // The element count of integer constant v, -1 when v is not one (reads
  // no element).
  int64_t intCount(int v) const;
  // The channel axis (the lanes) of each value's channel-tiled layout:
  // dim 1 (dim 0 of a rank-1 value), or, with the target's pixels form,
  // another where a free reshape puts the channels (layoutChannels).
  std::vector<int> chan;
  // (pre, C, post): the dims before the channel axis, at it and after it;
  // two values with equal triples have the same device bytes.
  std::array<int64_t, 3> layout(int v) const;
  // Per node of a graph with copied products (unshareProducts): the index
  // of the node in the graph as sent, and 0 or the copy's number (k >= 1).
  // Empty: the graph as sent.
  std::vector<int> origin, copyNo;
  int sourceNode(int i) const { return origin.empty() ? i : origin[size_t(i)]; }
  int copyOf(int i) const { return copyNo.empty() ? 0 : copyNo[size_t(i)]; }
};

int64_t prod(const std::vector<int64_t> &d, size_t from, size_t to);
// The default channel axis of a value of `rank` dims: 1, 0 below rank 2,
// and 2 at rank 3: a sequence ([T, B, K] or [B, S, K]) is laid out as
// pixels x channels, the last axis the channels, the bytes of the rank-2
// [T B, K] (docs/npu-sdk.md, "Layer forms").
inline int defaultChan(size_t rank) {
  return rank == 3 ? 2 : rank >= 2 ? 1 : 0;
}
// The movement ops that keep the bytes (Reshape, Flatten, Squeeze,
// Unsqueeze, Identity) and the pixel ops of the pixels form (Slice, Gather,
// Concat).
bool isMoveOp(const std::string &op);
// Whether node n is a pixel view or placement: a Slice or Gather on an axis
// other than its input's channels, or a Concat along an axis other than
// its result's.
bool isPixelOp(const View &v, const v1::Node &n);
// Fills View::chan beyond the defaults (the pixels form; Pixels.cpp).
void layoutChannels(View &v);
// Whether value x is a sequence: rank 3, its channels the last axis
// (defaultChan).
inline bool isSequence(const View &v, int x) {
  return x >= 0 && v.dims(x).size() == 3 && v.chan[size_t(x)] == 2;
}
// A pixel op's axis (normalized; a Slice's one shorter axis), and for a
// Slice or Gather its first index along it (clamped) and the pixels one
// step along it spans (the other dims after it but the channels).
struct PixelRun {
  int64_t axis = -1, start = 0, post = 1;
};
PixelRun pixelRun(const View &v, const v1::Node &n);
// A Concat of pixels' runs of pixels per channel tile of its result: the
// product of its dims before the axis other than the channels (1: each
// input one run, at its offset).
int64_t pixelRuns(const View &v, const v1::Node &n);
// Moves every tensor stored in placed Concat `from` (a block of P / runs
// pixels per run of `to`) to its block's run of `to`, at pixel `at` within
// it (Builder::pixelNode; `from` keeps no stores). Returns the name of a
// tensor that is not inside one block (nothing moved after it), else "".
std::string placeRuns(std::vector<NTensor> &ts, int from, int to, int64_t runs,
                      int64_t at);
// Bytes per element of a graph dtype (graph.proto's names: "i8", "f32",
// ...); 0 for a kind narrower than a byte or unknown.
size_t dtypeBytes(const std::string &t);
// The stored (int8) value of a zero point of a tensor of dtype `d`.
int32_t storedZp(const std::string &d, int64_t zp);

struct ConvGeom {
  int64_t N, C, H, W, K, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
};
std::string convGeom(const View &v, const v1::Node &n, int x, int w, int y,
                     ConvGeom &g);
// The rows of the memory holding class `c`, and its name.
uint64_t rowsOf(const Target &t, Cls c);
const std::string &nameOf(const Target &t, Cls c);
// The engine running loads (for messages).
const std::string &loadEngine(const Target &t);
// The target's limits on a convolution (its conv form and its fields).
std::string convLimits(const Target &t, const ConvGeom &g);
// Padding a convolution's loads do not add themselves: over the loads'
// fields (`most` per side), or reaching its kernel's extent (a block of
// output lines or columns whose input would be padding alone: a load
// moves at least one line of one pixel). The convolution pads `keep`
// (top, left, bottom, right), each side min(p, most, extent - 1); before
// it identity layers store its input with the rest (`steps`, first to
// last, each adding at most `most` per axis): a depthwise layer with one
// weight 1 in a kernel of (top + bottom + 1) x (left + right + 1) taps,
// padded by top + bottom and left + right per side (so each of its windows
// reads the image too), requantization by exactly 1: its border is the
// padding's stored value (the input zero point) and its interior the
// input byte for byte. No steps when the loads pad it all; `most` < 1
// with any padding: none possible (the caller refuses).
struct PadPlan {
  std::array<int64_t, 4> keep{};
  std::vector<std::array<int64_t, 4>> steps;
};
PadPlan padPlan(int64_t most, int64_t ekh, int64_t ekw,
                const std::array<int64_t, 4> &pads);
// A weight zero point folds into the weights when every w - zp fits int8.
std::string foldWeights(const View &v, int w, int wzp, int64_t K,
                        std::vector<int8_t> &out);
// A scalar integer constant (absent: 0).
std::string scalarZp(const View &v, int z, int64_t &out);

// ---- islands (Islands.cpp) -------------------------------------------------

// The most MACs an island left on the host does (SelectOptions).
constexpr uint64_t kIslandMacs = uint64_t(1) << 20;
// Claimed nodes (`why` empty) that would form a device partition of their
// own between host nodes with too little work get the reason instead.
void leaveIslandsOnHost(const View &v, std::vector<std::string> &why);

// ---- shared products (Unshare.cpp) ----------------------------------------

// A partition graph in which every bias Add or Requantize reading a shared
// ConvInteger/MatMulInteger result (or a shared biased accumulator) reads
// a copy of its own, each copy right after its original.
struct Unshared {
  v1::Graph g;
  std::vector<int> origin, copyNo; // View::origin, View::copyNo
};
// Whether v's graph shares a product between readers that fold it; when
// so, `out` is the graph with the copies.
bool unshareProducts(const View &v, Unshared &out);

// ---- the checks (Select.cpp) -------------------------------------------

// The int32 accumulator chain of a value: the ConvInteger/MatMulInteger
// node (and the bias Add after it) when `x` is its only-used result.
struct Chain {
  int root = -1; // node index
  int bias = -1; // Add node index, or -1
};

// An output-table chain (Tables.cpp): the integer elementwise ops computed
// from the layer result `root` alone, ending in the i8/u8 value of node
// `exit`, and the table they amount to (stored entries, Layer::lut).
struct TableChain {
  int root = -1, exit = -1;
  std::vector<int> nodes; // in order, exit last
  std::vector<int8_t> lut;
};
// "" and the chain starting at value `x`, or why there is none.
std::string tableChain(const View &v, int x, TableChain &out);

// A quantized Mul as the importer lowers it (docs/quantization.md):
// Requantize((Cast(a) - za) * (Cast(b) - zb), m, e, 0, zy) with scalar
// parameters; b of a's shape or one pixel of per-channel values (the
// squeeze-excitation scale). Node indices; `sub*` -1 when the zero point
// is 0 (no Sub).
struct MulPattern {
  int castA = -1, subA = -1, castB = -1, subB = -1, mul = -1, requant = -1;
  int a = -1, b = -1; // the i8/u8 operands (values)
  int64_t za = 0, zb = 0;
  int kind = 0; // broadcastKind of b against the result
};
// "" and the pattern of the Mul node `mul`, or why it is none.
std::string mulPattern(const View &v, int mul, MulPattern &out);

// A bilinear Resize as the importer lowers it (docs/quantization.md,
// "Upsampling"): Requantize(Resize(Cast(x) [- z]), 1, z), x i8/u8, the
// Resize linear by f = 2, 4 or 8 on H and W (half_pixel or asymmetric
// coordinates), the Requantize by exactly 1 back to x's type with x's
// zero point, unclamped. Node indices; `sub` -1 when z is 0 (no Sub).
struct UpPattern {
  int cast = -1, sub = -1, resize = -1, requant = -1;
  int x = -1;    // the i8/u8 map (value)
  int64_t z = 0; // its zero point
  int64_t f = 0; // the factor
  int mode = 0;  // the Upsample op's: 1 half_pixel, 2 asymmetric
};
// "" and the pattern of the Resize node `resize`, or why it is none.
std::string upPattern(const View &v, int resize, UpPattern &out);

// A transposed convolution's phases interleaved (Interleave.cpp;
// docs/quantization.md, "ConvTranspose"): Concat of sy x sx equal i8/u8
// maps on axis 1, each read by it alone -> Reshape [N, sy, sx, K, H, W] ->
// Transpose [0, 3, 4, 1, 5, 2] -> Reshape [N, K, sy H, sx W] -> [a Slice of
// H and W from (top, left): the result cropped], each result read by the
// next alone. Node indices (slice -1 when there is none; last the final
// node); `phases` the maps (values) in phase order.
struct IlvPattern {
  int concat = -1, reshape1 = -1, transpose = -1, reshape2 = -1, slice = -1;
  int last = -1;
  std::vector<int> phases;
  int64_t sy = 0, sx = 0, top = 0, left = 0;
  std::vector<int> nodes() const {
    std::vector<int> n{concat, reshape1, transpose, reshape2};
    if (slice >= 0)
      n.push_back(slice);
    return n;
  }
};
// "" and the pattern of the Concat node `concat`, or why it is none.
std::string ilvPattern(const View &v, int concat, IlvPattern &out);

// A constant channel permutation (Permute.cpp): Reshape and Transpose
// nodes from value x to value y, each result read by the next alone, that
// keep the batch and the pixels and reorder the channels: channel o of y
// is channel perm[o] of x. Node indices in order.
struct PermPattern {
  std::vector<int> nodes;
  int last = -1; // nodes.back()
  int x = -1, y = -1;
  std::vector<int64_t> perm;
};
// "" and the permutation starting at node `first`, or why there is none.
std::string permPattern(const View &v, int first, PermPattern &out);

// A movement chain that keeps the device's bytes (ByteViews.cpp): Reshape
// and Transpose nodes from value x to value y, each result read by the next
// alone, every element of y at the channel and pixel it had in x (e.g.
// [1, M, 1, W] -> Transpose [3, 0, 1, 2] -> Reshape [W, M]): a view of x's
// tensor. Node indices in order.
struct ViewPattern {
  std::vector<int> nodes;
  int last = -1; // nodes.back()
  int x = -1, y = -1;
};
// "" and the view starting at node `first`, or why there is none.
std::string viewPattern(const View &v, int first, ViewPattern &out);

struct Analysis {
  std::vector<std::string> why; // per node
  std::vector<Chain> chainOf;   // per value: accumulator chain producing it
  std::vector<int> sumOf;       // per node: the Cast of its sum chain, or -1
  std::vector<int> lutOf;       // per node: the exit of its table chain, or -1
  std::vector<TableChain> tables; // the table chains
  std::vector<int> mulOf;         // per node: its multiply's Requantize, -1
  std::vector<MulPattern> muls;   // the quantized multiplies
  std::vector<int> upOf;          // per node: its upsampling's Requantize, -1
  std::vector<UpPattern> ups;     // the bilinear upsamplings
  std::vector<int> ilvOf;         // per node: its interleave's last node
  std::vector<IlvPattern> ilvs;   // the phase interleaves
  std::vector<int> permOf;        // per node: its permutation's last node
  std::vector<PermPattern> perms; // the channel permutations
  std::vector<int> viewOf;        // per node: its byte view's last node
  std::vector<ViewPattern> views; // the byte-keeping movement chains
};

// Marks the nodes of every phase interleave (Analysis::ilvOf) before the
// per-node checks; settleInterleaves, after them, unclaims those whose
// phases are not convolutions the target runs.
void claimInterleaves(const View &v, Analysis &a);
void settleInterleaves(const View &v, Analysis &a);

// Marks the nodes of every channel permutation (Analysis::permOf, after
// the interleaves); settlePermutations, after the per-node checks, unclaims
// a lone one of a host tensor (not when compiling a partition).
void claimPermutations(const View &v, Analysis &a);
void settlePermutations(const View &v, Analysis &a, bool forCompile);
// Marks the nodes of every byte-keeping chain that starts at a Transpose
// (Analysis::viewOf, after the permutations); settleViews, after the
// per-node checks, unclaims a lone one of a host tensor (not when compiling
// a partition).
void claimViews(const View &v, Analysis &a);
void settleViews(const View &v, Analysis &a, bool forCompile);
// The input of the claimed byte view ending at node `last`.
int viewInput(const Analysis &a, int last);
// After the per-node checks (not when compiling a partition): a view whose
// input and readers are all on the host is left there.
void settlePixelViews(const View &v, Analysis &a, bool forCompile);
// The array passes of a GEMM layer per pixel block: its (output tile,
// input tile, tap) weight tiles with a nonzero weight; and those of the
// 0/1 GEMM of a permutation.
int64_t weightTiles(int64_t lanes, const GemmLayer &g);
int64_t permTiles(int64_t lanes, const std::vector<int64_t> &perm);
// Reorders the output channels of GEMM layer g by perm (channel o computes
// what perm[o] did: weight rows, bias, requantization), ungrouped when a
// channel leaves its group; false (g unchanged) when g cannot or the array
// would make more passes than g and a permutation GEMM together.
bool permuteOutputs(int64_t lanes, GemmLayer &g,
                    const std::vector<int64_t> &perm);

// QuantizedAdd parameters (docs/quantization.md): TFLite's add, or with
// `exact` the fixed profile's exact add (its scales and zero points).
struct AddAttrs {
  int64_t lshift = 20, aZp = 0, aMult = 0, aShift = 0, bZp = 0, bMult = 0,
          bShift = 0, outMult = 0, outShift = 0, outZp = 0;
  // Absent: the output type's range (clamped to it in regsOf).
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  bool exact = false;
  double sa = 0, sb = 0, sy = 0;
};

bool addAttrs(const v1::Node &n, AddAttrs &p);
// The exact add's registers (AddRegs' x fields, add_min/add_max) of the
// QuantizedAdd n of a and b into y, in stored-int8 terms, operands swapped
// with `swap`; false when its scales have no 64-bit form
// (quant::makeAddFixed).
bool exactAddRegs(const View &v, const AddAttrs &p, int a, int b, int y,
                  bool swap, AddRegs &r);
// How the second operand of an add repeats: 0 same shape, 1 one pixel
// (per channel or scalar) repeated, -1 neither; `chan` is big's channel
// axis (2 for a sequence).
int broadcastKind(const std::vector<int64_t> &big,
                  const std::vector<int64_t> &small, size_t chan = 1);
// broadcastKind of operand o against result y's channel axis (the last of a
// sequence).
int broadcastKind(const View &v, int y, int o);
// Reshapes that leave the device's bytes as they are.
bool sameLayout(const std::vector<int64_t> &a, const std::vector<int64_t> &b);
// A flatten into a MatMulInteger's A, which the layer runs as a
// convolution over the whole image.
bool flattensIntoMatMul(const View &v, const v1::Node &n);
// Every node's answer ("" when claimed) and the chains.
Analysis analyze(const View &v, bool forCompile);

// The form table's check of one node (Forms.cpp lists which op and form
// each serves): "" or why the target does not run it; fills the analysis.
using WhyFn = std::string (*)(const View &v, Analysis &a, int node,
                              bool forCompile);
std::string whyGemmRootNode(const View &, Analysis &, int, bool);
std::string whyBiasNode(const View &, Analysis &, int, bool);
std::string whyRequantNode(const View &, Analysis &, int, bool);
std::string whyPoolNode(const View &, Analysis &, int, bool);
std::string whyAddNode(const View &, Analysis &, int, bool);
std::string whyConcatNode(const View &, Analysis &, int, bool);
std::string whySplitNode(const View &, Analysis &, int, bool);
std::string whyResizeNode(const View &, Analysis &, int, bool);
std::string whyMoveNode(const View &, Analysis &, int, bool);
std::string whyCastNode(const View &, Analysis &, int, bool);
std::string whySumPartNode(const View &, Analysis &, int, bool);
std::string whyTableNode(const View &, Analysis &, int, bool);
// A TableLookup of an int16 tensor (form table16).
std::string whyTable16(const View &v, const v1::Node &n);
std::string whyChainPartNode(const View &, Analysis &, int, bool);
std::string whyUpsampleNode(const View &, Analysis &, int, bool);
std::string whyInterleaveNode(const View &, Analysis &, int, bool);
std::string whyPermuteNode(const View &, Analysis &, int, bool);
std::string whyViewNode(const View &, Analysis &, int, bool);
std::string whyPixelNode(const View &, Analysis &, int, bool);

// ---- Split and Concat inside channel tiles (Lanes.cpp) --------------------

// The channel offset of x among the outputs of the Split producing it (and
// that Split's node index in *split), or -1 when x is no Split's output.
int64_t splitOffset(const View &v, int x, int *split);
// A Split output starting inside a channel tile (at a multiple of 8 that is
// not one of the lanes): no storage of its own.
bool lanePart(const View &v, int x);
// A Concat's inputs with every run of all the parts of a Split that has a
// lane part, consecutive and in order, replaced by that Split's input.
std::vector<int> concatInputs(const View &v, const v1::Node &n);
// "" or why Split s's parts cannot be placed: offsets multiples of 8, and
// every lane part read only by ungrouped convolutions and by Concats that
// take all the parts in order.
std::string whyLaneParts(const View &v, const v1::Node &s);
// "" or why an input of Concat n that lies inside channel tiles cannot be
// placed there: each must be the requantized (and table-activated) result of
// an ungrouped int8 convolution or MatMul read by this Concat alone.
std::string whyInsideTiles(const View &v, const Analysis &a, const v1::Node &n);
// Unclaims Splits whose lane parts have readers on the host and Concats
// whose reassembled Split is, until nothing changes.
void settleLaneParts(const View &v, Analysis &a);

// ---- the builders (Build.cpp) --------------------------------------------

struct Builder;
using BuildFn = void (*)(Builder &b, int node);
void buildGemmRoot(Builder &, int);
void buildBias(Builder &, int);
void buildRequant(Builder &, int);
void buildPool(Builder &, int);
void buildAdd(Builder &, int);
void buildConcat(Builder &, int);
void buildSplit(Builder &, int);
void buildResize(Builder &, int);
void buildMove(Builder &, int);
void buildSumPart(Builder &, int);
void buildTable(Builder &, int);
void buildInterleave(Builder &, int);
// A node of a permutation, byte view or table chain (Builder::run builds
// those whole).
void buildPatternPart(Builder &, int);
void buildPixels(Builder &, int);

// ---- the form table (Forms.cpp) ------------------------------------------

// One row per (op, form): the manifest's claim for the op and the check and
// builder that implement it. A row serves when one of its forms is in the
// target (and, for a fused stage, in that form's epilogue).
struct FormRow {
  const char *forms; // "conv|matmul": the target forms enabling the row
  const char *stage; // a fused stage of those forms (bias, ...), or ""
  const char *op;
  std::vector<const char *> dtypes;
  unsigned minRank;
  const char *context; // the fused pattern or placement it runs in, or ""
  std::vector<const char *> contextDtypes, indexDtypes;
  std::string (*constraints)(const Target &t); // in words, for the manifest
  WhyFn why;
  BuildFn build;
};
const std::vector<FormRow> &formTable();
// The row serving `op` on target `t`, or nullptr.
const FormRow *rowFor(const Target &t, const std::string &op);
// Whether form `form` of the target fuses `stage`.
bool fuses(const Target &t, const std::string &form, const char *stage);

} // namespace ember::accel::sel

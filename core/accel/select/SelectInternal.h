// Internal to the selector (select/, forms/): the graph view, the analysis
// the form table's checks fill (docs/npu-sdk.md, "Selection"), and what
// several forms share: the accumulator and output-table chains, the
// quantized multiply's pattern, broadcasts, reshapes that keep the layout,
// Split and Concat inside channel tiles, views and placements along pixels.
#pragma once

#include "ember/accel/Layers.h"
#include "ember/accel/Select.h"
#include "ember/accel/Target.h"
#include "ember/backend/v1/graph.pb.h"
#include "support/Error.h"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ember::accel {
struct FormPattern;
}

namespace ember::accel::sel {

namespace v1 = ember::backend::v1;

// ---- the graph (GraphView.cpp) --------------------------------------------

std::string quoted(const std::string &s);
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
  Status error; // the graph's first bad value id (ok when none)
  // SelectOptions::patches: a channel-poor convolution of a host value may
  // be claimed as the 1x1 layer it becomes on its patches (patchGeom).
  bool patches = true;

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
// it (the pixels form's Concat, Pixels.cpp; `from` keeps no stores). Fails
// with the name of a tensor that is not inside one block as its message
// (nothing moved after it).
Status placeRuns(std::vector<NTensor> &ts, int from, int to, int64_t runs,
                 int64_t at);
// Bytes per element of a graph dtype (graph.proto's names: "i8", "f32",
// ...); 0 for a kind narrower than a byte or unknown.
size_t dtypeBytes(const std::string &t);
// The stored (int8) value of a zero point of a tensor of dtype `d`.
int32_t storedZp(const std::string &d, int64_t zp);
// The offset that lays an int32 constant of values spanning at most 256 out
// as an 8-bit row (its lowest value at -128): stored = value + offset, the
// offset the row's zero point (a multiply's folded constant factor).
inline int64_t constRowOffset(const std::vector<int64_t> &vals) {
  return vals.empty() ? 0 : -128 - *std::min_element(vals.begin(), vals.end());
}

struct ConvGeom {
  int64_t N, C, H, W, K, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
};
Status convGeom(const View &v, const v1::Node &n, int x, int w, int y,
                ConvGeom &g);
// The rows of the memory holding class `c`, and its name.
uint64_t rowsOf(const Target &t, Cls c);
const std::string &nameOf(const Target &t, Cls c);
// The engine running loads (for messages).
const std::string &loadEngine(const Target &t);
// The target's limits on a convolution (its conv form and its fields).
Status convLimits(const Target &t, const ConvGeom &g);
// Whether a convolution over `bytes`-byte elements reads its input as
// whole windows (packPatches; docs/npu-backend.md, "Channel-poor
// convolutions"): a dense kernel larger than 1x1 whose windows, kh kw C
// channels a pixel of the output, at least halve the array's passes and
// take at most 4 times the input's DRAM bytes.
bool wholePatchesPay(int64_t lanes, const ConvGeom &g, int64_t bytes);
// The 1x1 convolution a convolution becomes on its whole windows: kh kw C
// channels over the output's pixels, stride 1, no padding.
ConvGeom patchGeom(const ConvGeom &g);
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
// The layer program's tensor of graph value `value` (its dims, type and
// channel axis; no placement).
NTensor viewTensor(const View &v, int value, NTensor::Kind kind);
// Whether a convolution (geometry g, folded weights w), alone and
// requantized as its chain fuses it, fits the target: layerFits, the
// question scheduling asks. ok or why not.
Status convFits(const View &v, int x, int y, const ConvGeom &g,
                std::vector<int8_t> w);
// A weight zero point folds into the weights when every w - zp fits int8.
Status foldWeights(const View &v, int w, int wzp, int64_t K,
                   std::vector<int8_t> &out);
// A scalar integer constant (absent: 0).
Status scalarZp(const View &v, int z, int64_t &out);

// ---- islands (Islands.cpp) -------------------------------------------------

// The most MACs an island left on the host does (SelectOptions).
constexpr uint64_t kIslandMacs = uint64_t(1) << 20;
// Claimed nodes (`why` empty) that would form a device partition of their
// own between host nodes with too little work get the reason instead: those
// doing no MAC, or (`withMacs`) any.
void leaveIslandsOnHost(const View &v, std::vector<std::string> &why,
                        bool withMacs);

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

// ---- the analysis (Select.cpp) -------------------------------------------

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
// ok and the chain starting at value `x`, or why there is none.
Status tableChain(const View &v, int x, TableChain &out);

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
// ok and the pattern of the Mul node `mul`, or why it is none (forms/Mul.cpp).
Status mulPattern(const View &v, int mul, MulPattern &out);

struct FormRow;

// What selection knows of every node (analyze): whether it runs, which row
// of the form table claimed it, or which pattern of several nodes holds it.
struct Analysis {
  std::vector<std::string> why; // per node: "" when claimed, else why not
  // Per node: the row whose check claimed it (its builder builds it), or
  // null (refused, or a part of a pattern).
  std::vector<const FormRow *> row;
  // Per node: the pattern of several nodes it is part of, claimed by a
  // form's claim (FormPattern::claim) or a row's (FormRow::claimed): that
  // form's buildPart builds it, `last` naming the pattern (its last node).
  struct Part {
    const FormPattern *form = nullptr;
    int last = -1;
  };
  std::vector<Part> part;
  std::vector<Chain> chainOf;     // per value: accumulator chain producing it
  std::vector<TableChain> tables; // the output-table chains (forms/Requant.cpp)
  // Per form: what its claims recorded (its patterns), by type.
  std::map<const FormPattern *, std::shared_ptr<void>> states;

  template <class S> S &state(const FormPattern &f) {
    std::shared_ptr<void> &p = states[&f];
    if (!p)
      p = std::make_shared<S>();
    return *static_cast<S *>(p.get());
  }
  // Marks `nodes` as the pattern of form `f` ending at node `last`.
  void claim(const std::vector<int> &nodes, const FormPattern &f, int last) {
    for (int k : nodes)
      if (k >= 0)
        part[size_t(k)] = {&f, last};
  }
  // Node k is not part of any pattern.
  bool free(int k) const { return !part[size_t(k)].form; }
  // Node k is part of a pattern of form `f` (ending at `last`, when >= 0).
  bool partOf(int k, const FormPattern &f, int last = -1) const {
    const Part &p = part[size_t(k)];
    return p.form == &f && (last < 0 || p.last == last);
  }
};

// The output-table chain ending at node `exit`, or null.
const TableChain *tableChainAt(const Analysis &a, int exit);

// Every node's answer ("" when claimed) and the chains: the forms' claims
// of patterns, then per node the form table's rows for its op, then the
// forms' settlements (forms/Form.h).
Analysis analyze(const View &v, bool forCompile);
// Whether the target's lut stage fuses into any of its forms (an output
// table the layer applies to its result).
bool hasOutputTables(const Target &t);

// ---- shared by several forms ---------------------------------------------

// A 16x8 layer (docs/quantization.md, "16-bit activations"): ok or why an
// int16 input (zero points xzp and wzp, result y) does not run on `form`
// (forms/Conv.cpp); and whether 128 x each output channel's summed weight
// magnitude stays below 2^31 (a byte plane's int32 sum cannot wrap).
Status why16x8(const View &v, const char *form, int xzp, int wzp, int y);
Status fits16x8(const std::vector<int8_t> &w, int64_t K);
// Why a Resize's region of interest and scales inputs are not those of an
// upsampling of H and W by f (ok when they are; forms/Resize.cpp).
Status whyResizeOperands(const View &v, const v1::Node &n, int64_t f);

// How the second operand of an add repeats: 0 same shape, 1 one pixel
// (per channel or scalar) repeated, -1 neither; `chan` is big's channel
// axis (2 for a sequence).
int broadcastKind(const std::vector<int64_t> &big,
                  const std::vector<int64_t> &small, size_t chan = 1);
// broadcastKind of operand o against result y's channel axis (the last of a
// sequence).
int broadcastKind(const View &v, int y, int o);
// Why operand x, repeated over every pixel of C channels, cannot be read
// as one row per channel tile (ok when it can): a constant, or a tensor of
// one pixel of C channels.
Status whyRepeated(const View &v, int x, int64_t C);
// Reshapes that leave the device's bytes as they are.
bool sameLayout(const std::vector<int64_t> &a, const std::vector<int64_t> &b);
// A flatten into a MatMulInteger's A, which the layer runs as a
// convolution over the whole image (forms/MatMul.cpp).
bool flattensIntoMatMul(const View &v, const v1::Node &n);
// Why a node is no part of an output-table chain, nor (with the mul form)
// of a quantized multiply (forms/Requant.cpp): the reason a Mul, or a
// multiply's Cast or Sub, gets when no pattern holds it.
Status whyChainPartNode(const View &, Analysis &, int, bool);

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
// ok or why Split s's parts cannot be placed: offsets multiples of 8, and
// every lane part read only by ungrouped convolutions and by Concats that
// take all the parts in order.
Status whyLaneParts(const View &v, const v1::Node &s);
// The channels a Concat input of element type `dtype` can start at and be
// placed by its own stores: multiples of 8 (the 8-lane groups) where the
// target's store writes lane groups and the input is 8-bit, else of the
// lanes.
int64_t placeableChannels(const View &v, const std::string &dtype);
// Runs of a Concat's inputs (`ins`, concatInputs) that share a group of
// placeable channels: [first, last] index pairs, last > first, each input
// after the first starting at a channel no store can start at. Such a run
// is merged: each input copied to its channels by an identity GEMM, the
// copies summed exactly (Concat.cpp, mergeRun).
std::vector<std::pair<int, int>> mergedRuns(const View &v,
                                            const std::vector<int> &ins);
// ok or why the inputs of a merged run cannot be merged; `merged` gets
// one flag per input of `ins`, set for those in a merged run.
Status whyMerged(const View &v, const std::vector<int> &ins,
                 std::vector<bool> &merged);
// The add registers whose result is the sum of two stored int8 values when
// one of them is 0 (the exact add's, or TFLite's where the target has only
// that arithmetic); false when the target's adds have no such registers.
bool identityAddRegs(const Target &t, AddRegs &r);
// ok or why an input of Concat n that lies inside channel tiles cannot be
// placed there: each must be the requantized (and table-activated) result of
// an ungrouped int8 convolution or MatMul read by this Concat alone.
Status whyInsideTiles(const View &v, const Analysis &a, const v1::Node &n);
// Unclaims Splits whose lane parts have readers on the host and Concats
// whose reassembled Split is, until nothing changes.
void settleLaneParts(const View &v, Analysis &a);

} // namespace ember::accel::sel

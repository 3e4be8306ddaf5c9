// The CPU backend's compiled form of a lowered graph, between the graph IR
// and LLVM IR: fused groups of nodes (Fusion.cpp), where every tensor lives
// (ParamBlocks.cpp, ChannelsLast.cpp, Memory.cpp), and the options that shape
// both. README.md explains the pipeline.
#pragma once

#include "ir/Graph.h"
#include "support/Error.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ember::cpugen {

// ---- the step that runs an op (the Step column of CpuOps.def) --------------
enum class OpClass : uint8_t {
  None, // not implemented: falls back through the partitioner
  Loop,
  Move,
  Gather,
  Concat,
  Split,
  View,
  Conv,
  ConvT,
  MatMul,
  Pool,
  Reduce,
  QConv,
  QMatMul,
  Recurrent, // RNN/GRU/LSTM: runtime call (RtRecurrent.h)
  Emit,      // the op's own emit_<Name> (compiler/ops/<Name>.cpp)
};
// The step of `k`'s row in CpuOps.def (None without one). Capability.cpp.
OpClass opClass(OpKind k);
// A Gather along one axis at a constant scalar index inside the data's
// extent (attention's Q/K/V picked out of a fused projection): the data
// at a fixed offset along that axis, which is gone from the result.
bool constantIndexGather(const Node &n, size_t &axis, int64_t &index);
// n's class as a loop sees it: a constantIndexGather is a Move (an affine
// map of its operand, folded into loads like a Slice); otherwise opClass.
OpClass loopClass(const Node &n);

// ---- options
// Which implementation of RtAbi.h the generated code calls (and so how
// weights are packed).
enum class Kernels : uint8_t {
  Library,  // RtKernels.cpp over backends/cpu/kernels
  Portable, // RtPortable.c
  Edge,     // RtPortable.c, int8 steps on RtEdge.c (Arm bundles)
};

struct CompileConfig {
  unsigned numThreads = 1;
  // ember::cpu::Isa the weights are packed for and the kernels run with.
  uint8_t isa = 0;
  Kernels kernels = Kernels::Library;
  bool fuse = true; // operator stacking and elementwise loop fusion
  // Debugging: write the optimized LLVM IR of the JIT module here.
  std::string dumpIr;
  // Process replay (scripts/process-replay.py): write every compiled
  // graph's generated code into this folder (writeGeneratedCode).
  std::string dumpDir;
  // JIT: list the functions in /tmp/perf-<pid>.map; 2: and keep every loop
  // task a function of its own (not inlined), so a profile names each step.
  int perfMap = 0;
  // AVX2: int8 convolution weights also packed for the 7-bit split tile
  // (packQB's QPackExtra::SplitTile), which passes with few activations
  // >= 128 run.
  bool int8Split = true;
  // AVX2: int8 matrix-product weights whose rows pair without saturating
  // vpmaddubsw are packed for it (QPackExtra::PairedK).
  bool int8Paired = true;
  // AVX2/AVX-512: channels-last 3x3 stride-1 convolutions with enough
  // channels run as Winograd F(2x2, 3x3) (conv2dNhwcWinograd).
  bool winograd = true;
  // Elementwise chains after a Conv or MatMul run as the step's post
  // function (Fusion.cpp, growPostChain); off: as loops of their own.
  bool post = true;
  // A reduction whose tasks are too few blocks of kept elements for the
  // workers cuts narrower ones (Codegen::blockWidth); off: 256 each.
  bool splitReduce = true;
  // A per-channel Mul whose only reader is a dense convolution is folded
  // into that convolution's weights at run time (ScaleFold.cpp).
  bool scaleFold = true;
  // A channels-last 1x1 convolution whose result only a depthwise one reads
  // runs inside it, a few rows at a time (ConvPair.cpp): off, or (All) for
  // every such pair, not only those whose 1x1 result outgrows the rule's
  // size.
  enum class ConvPair : uint8_t { Off, Sized, All };
  ConvPair convPair = ConvPair::Sized;
  // The bytes of a pair's buffer of the 1x1's rows, which chunks of
  // depthwise output rows fill one after another (ConvPair.cpp: it stays in
  // L2 beside the depthwise step's output rows and weights).
  uint64_t convPairBufferBytes = uint64_t(256) << 10;
  // Code generation target; empty triple: the host (JIT).
  std::string triple, cpu, features;
  bool bundle = false; // self-contained object (runtime bitcode linked in)
  // A bundle's entry point (vendor option entry): ember_main, or another
  // name so that several bundles link into one program (the partitions of
  // a heterogeneous bundle, docs/edge.md).
  std::string entry = "ember_main";
  // Arm bundles: the int8 kernels' SIMD inner products (NEON, SDOT, DSP,
  // Helium) as the target allows; off, plain C (vendor option edge_simd,
  // for A/B measurements).
  bool edgeSimd = true;
  // Arm bundles: the layout of the dense int8 weights (RtEdge.h,
  // EMBER_RTE_LAYOUT_*), the one the linked runtime flavor's kernels read
  // (buildBundle sets it from the target; the JIT's plain C reads rows).
  int64_t edgeLayout = 0;
  unsigned optLevel = 3;
};

// ---- where a tensor lives --------------------------------------------------
enum class LocKind : uint8_t { None, Input, Output, Weight, Arena };
struct Loc {
  LocKind kind = LocKind::None;
  unsigned index = 0;  // input/output number; Arena: planner buffer id
  uint64_t offset = 0; // bytes: into the weights region, or into the buffer
  explicit operator bool() const { return kind != LocKind::None; }
};

// ---- fused groups -----------------------------------------------------------
enum class GroupKind : uint8_t {
  View,      // Reshape/Identity: no code
  Loop,      // elementwise (+ folded movement/gather) loop nest
  Concat,    // copy loops
  Split,     // copy loops, one per result
  Conv,      // runtime conv + epilogue
  ConvT,     // runtime transposed conv
  MatMul,    // runtime gemm + epilogue
  Pool,      // generated pooling loops
  Reduce,    // reduction loops
  QConv,     // runtime int8 conv (ConvInteger [+ bias] [+ Requantize])
  QMatMul,   // runtime int8 matmul (MatMulInteger [+ bias] [+ Requantize])
  Copy,      // a graph output that needs a copy (added by layout)
  Recurrent, // runtime RNN/GRU/LSTM (ember_rt_recurrent)
  Emit,      // one node whose code is its row's emit_<Name>
  Softmax,   // a float softmax along the last axis, a line at a time
};

// Bias / activation / residual folded into a Conv or MatMul (the kernel
// library's Epilogue): v = acc + bias; v += res (before); act; v += res
// (after).
struct Epilogue {
  std::shared_ptr<const Tensor> bias; // folded constant bias, or
  Value biasValue;                    // a bias operand that is not constant
  int act = 0;                        // EMBER_RT_ACT_*
  float lo = 0, hi = 0;
  Value residual;
  bool residualAfter = false;
  // The result is rounded to f16 and back (RNE) as the last step: the
  // round trip of WidenHalf.cpp that was the only reader, absorbed.
  bool roundF16 = false;
  // The post chain (Fusion.cpp, growPostChain): elementwise nodes after
  // the steps above that the step computes on each piece of its result
  // while it is in cache, through a generated function (RtAbi.h,
  // ember_rt_post): SiLU, HardSwish, Gelu, ... In graph order; its last
  // node is the group's root. `postInput` is the node whose result the
  // chain reads (the anchor or the last node the kernel's epilogue
  // computes). With `postResidual` the chain reads `residual` (an Add
  // after the activation) and the kernel's epilogue does not.
  std::vector<const Node *> post;
  const Node *postInput = nullptr;
  bool postResidual = false;
};

struct Group {
  GroupKind kind = GroupKind::Loop;
  const Node *root = nullptr;   // its result is the group's result
  const Node *anchor = nullptr; // Conv/MatMul/Pool/Reduce node
  // Every covered node, in graph order.
  std::vector<const Node *> members;
  Epilogue epi;
  // Conv groups: a MaxPool of the epilogue's result that runs inside the
  // convolution (the group's root; Codegen::fusePools).
  const Node *pool = nullptr;
  // QConv/QMatMul groups: the folded int32 bias per output channel (the
  // constant Adds after the ConvInteger/MatMulInteger, minus the
  // Requantize's x_zero_point; empty: none) and the fused Requantize (null:
  // the int32 accumulator is the result).
  std::vector<int32_t> qbias;
  const Node *requant = nullptr;
  // Loop groups that are a function of one 8-bit operand and the channel
  // index (ChannelTable.cpp): y = chanTable[c * 256 + (x - lowest)], x =
  // chanInput at the loop index, c its index along chanAxis (-1: one
  // channel).
  std::shared_ptr<const Tensor> chanTable;
  Value chanInput;
  int chanAxis = -1;
  // Reduce groups: a float ReduceMin or ReduceMax of the same operand,
  // axes and keepdims as the root, computed in the same pass with an
  // accumulator of its own (a member; its result is stored too). Every
  // reader of it comes after the root (Fusion.cpp, pairReductions).
  const Node *sibling = nullptr;
  // Copy groups: the value copied into graph output `outputIndex`.
  Value copySource;
  unsigned outputIndex = 0;
};

struct FusionStats {
  size_t nodes = 0, groups = 0, fusedEpilogueNodes = 0, fusedLoopNodes = 0,
         foldedMoves = 0,
         fusedPools = 0,    // max pools run inside their convolution
      postChains = 0,       // elementwise chains run as a step's post
      viewSplits = 0,       // Splits whose parts are views of their input
      tabulatedLoops = 0,   // loops that became per-channel tables
      resizeRowBuffers = 0, // linear/cubic Resizes summing from a row buffer
      convPairs = 0,        // 1x1 convolutions run inside a depthwise step
      scaleFolds = 0,       // channel scales folded into conv weights
      softmaxRows = 0;      // softmax chains run a line at a time
};

// Groups the non-storage nodes of a lowered function (every node must be
// claimed: see Capability.h). Groups come in an order where each one's
// operands are computed by earlier ones.
Expected<std::vector<Group>> formGroups(const Function &f,
                                        const CompileConfig &cfg,
                                        FusionStats *stats = nullptr);

// Loop groups computed from one 8-bit operand and constants that vary along
// one axis become per-channel tables evaluated by the interpreter
// (ChannelTable.cpp; Group::chanTable).
Status tabulateChannelLoops(std::vector<Group> &groups,
                            const CompileConfig &cfg,
                            FusionStats *stats = nullptr);

// Whether `g` contains `n` (members are few; linear scan).
bool contains(const Group &g, const Node *n);

// Keys for values in maps (deterministic: node names are unique).
struct ValueKey {
  const Node *node = nullptr;
  unsigned idx = 0;
  bool operator<(const ValueKey &o) const {
    return node != o.node ? node->outNames[0] < o.node->outNames[0]
                          : idx < o.idx;
  }
};
inline ValueKey keyOf(const Value &v) { return ValueKey{v.node, v.idx}; }
// Result `idx` of node n (a group's result: keyOf(g.root)).
inline ValueKey keyOf(const Node *n, unsigned idx = 0) {
  return ValueKey{n, idx};
}

// A scalar constant (one element) read as double, or false.
bool scalarConstant(const Value &v, double &out);
bool isConstant(const Value &v);
// Constant operand `v` as integers (shape, axes, ...), or false.
bool constantInts(const Value &v, std::vector<int64_t> &out);
// Whether a graph output reads n (`users` from Function::computeUsers,
// where an output's use has no user node).
bool isGraphOutput(
    const std::unordered_map<const Node *, std::vector<Use>> &users,
    const Node *n);

} // namespace ember::cpugen

// Internal to the compiler: the state shared by the runtime parameter blocks
// (ParamBlocks.cpp), the channels-last choice (ChannelsLast.cpp), memory
// (Memory.cpp), the runtime-call steps (Codegen.cpp) and the generated loops
// (CodegenLoop.cpp, LoopOps.cpp, CodegenConcat.cpp, CodegenReduce.cpp,
// CodegenPool.cpp).
#pragma once

#include "Compiler.h"
#include "Program.h"
#include "runtime/RtAbi.h"

#include "lir/LIR.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ember::cpu {
struct MaxPoolWindow;
}

namespace ember::cpugen {

// An affine read of a stored tensor: element (offset + sum idx[d] *
// strides[d]) of `base`. `base` is a materialized value (graph input,
// constant or group result); strides are in elements, over some index
// space (a value's own dims, or a loop's dims).
struct Affine {
  Value base;
  int64_t offset = 0;
  std::vector<int64_t> strides;
};

// One load of a loop body.
struct Leaf {
  Affine a;
  ElemKind elem = ElemKind::F32;
  // Gather: `indices` (another leaf over the same loop) selects a row:
  // address += wrap(indices value) * gatherStride, wrap to [0, gatherDim).
  int indices = -1;
  int64_t gatherStride = 0, gatherDim = 0;
  // Pad/Tile: per loop dim, the source index of each output index (-1:
  // the fill value); empty for dims read through `strides` directly.
  std::vector<std::vector<int64_t>> tables;
  double fill = 0;
};

// v rounded up to a multiple of a.
inline uint64_t alignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// The window of a MaxPool that can run inside the convolution before it
// (conv2dNhwcFromNchwMaxPool): 2-D, undilated, every window holding a
// pixel of the convolution's output. False otherwise. ParamBlocks.cpp.
bool fusablePoolWindow(const Node &pool, ember::cpu::MaxPoolWindow &pw);

// ember_main's status for an operand value out of range (a Gather or
// ScatterND index, an RNN/GRU/LSTM sequence length): runtime calls return
// small kernel-library codes, so this one stands apart.
constexpr int32_t kStatusIndexOutOfRange = EMBER_RT_STATUS_OUT_OF_RANGE;

class Codegen {
public:
  Codegen(const Function &f, const CompileConfig &cfg, CompiledModel &out);
  Status run();

  // CodegenPost.cpp: whether a post chain is an activation the kernel
  // library has (RtAbi.h POST_KIND: 1 + ember::cpu::PostActivation, with
  // HardSigmoid's alpha and beta; 0: none).
  static int postActivationKind(const Epilogue &e, float &alpha, float &beta);

  // ---- per-group data computed before layout ------------------------------
  struct Step {
    std::vector<int64_t> params;     // runtime parameter block
    uint64_t packedWeights = ~0ull;  // constant packed weights (weights off)
    uint64_t bias = ~0ull;           // folded bias (weights offset)
    std::vector<uint64_t> tempBytes; // scratch buffers in the arena
    std::vector<unsigned> temps;     // their planner buffers
    // ConvPair.cpp: the 1x1 convolution this depthwise step runs (pairFrom)
    // or the depthwise step that runs this 1x1 one (pairInto), as group
    // indices; kNoPair: none.
    static constexpr size_t kNoPair = ~size_t(0);
    size_t pairFrom = kNoPair, pairInto = kNoPair;
  };

private:
  // ParamBlocks.cpp
  Status prepare();
  Status prepareConv(const Group &g, Step &s);
  Status prepareMatMul(const Group &g, Step &s);
  Status prepareQConv(const Group &g, Step &s);
  Status prepareConvT(const Group &g, Step &s);
  Status prepareQMatMul(const Group &g, Step &s);
  Status prepareQMatMulDynamic(const Group &g, Step &s);
  // The Arm int8 runtime's packing (EdgeParams.cpp, kernels "edge").
  Status prepareQConvEdge(const Group &g, Step &s);
  Status prepareQMatMulEdge(const Group &g, Step &s);
  Status prepareRecurrent(const Group &g, Step &s);
  // ChannelsLast.cpp
  void chooseLayouts();
  void fusePools();
  bool convNhwcCapable(const Group &g) const;
  bool nhwcAvx2() const;
  bool convReadsNhwc(const Group &g) const;
  bool convGroupedNhwc(const Node &n) const;
  bool convCopiesY(const Group &g, bool xLast) const;
  bool convUnfoldsNchw(const Group &g, bool feedsNhwcConv) const;
  bool convTNhwcCapable(const Group &g) const;
  bool convTReadsNhwc(const Group &g) const;
  // ConvPair.cpp
  void pairConvs();
  bool pairable(size_t i, size_t j) const;
  // Memory.cpp, Views.cpp
  Status layout();
  void planViews(const std::map<ValueKey, const Group *> &producer,
                 std::map<ValueKey, std::pair<Value, uint64_t>> &placed);
  struct ViewPlan;
  uint64_t addWeights(const void *data, size_t bytes);
  // The alignment of every constant and arena buffer: a cache line (the
  // kernel library's vectors), 16 bytes for the Arm runtime, whose
  // microcontroller bundles count every byte of flash and RAM.
  uint64_t storageAlign() const {
    return cfg_.kernels == Kernels::Edge ? 16 : 64;
  }
  uint64_t constantOffset(const Node *c);
  // External values a group reads (operands of members not in the group).
  std::vector<Value> groupOperands(const Group &g) const;

  // Codegen.cpp
  Status emit();
  Status emitConv(const Group &g, Step &s);
  Status emitMatMul(const Group &g, Step &s);
  Status emitPool(const Group &g, Step &s);
  Status emitCopy(const Group &g);
  Status emitQuant(const Group &g, Step &s);
  Status emitConvT(const Group &g, Step &s);
  Status emitConvPair(const Group &g, Step &s);
  Status emitRecurrent(const Group &g, Step &s);
  void emitStatusCheck(llvm::Value *status);
  // The parameter block as a private constant; `fnField` (when fn is
  // set) holds fn's address (EMBER_RT_CONV_POST, EMBER_RT_GEMM_POST).
  llvm::Value *paramBlock(const std::vector<int64_t> &p, size_t fnField = 0,
                          llvm::Function *fn = nullptr);
  // CodegenPost.cpp: g's post chain as an ember_rt_post function.
  llvm::Function *emitPostFunction(const Group &g);
  llvm::FunctionCallee runtime(const std::string &name, llvm::Type *ret,
                               std::vector<llvm::Type *> args);
  llvm::Value *callStep(const std::string &name, llvm::FunctionCallee f,
                        std::vector<llvm::Value *> args);

  // CodegenLoop.cpp, CodegenConcat.cpp, CodegenReduce.cpp
  Status emitLoopGroup(const Group &g);
  Status emitConcat(const Group &g);
  Status emitSplit(const Group &g);
  Status emitReduce(const Group &g);
  Status emitSoftmax(const Group &g); // CodegenSoftmax.cpp
  // The width of the blocks a reduction whose tasks are blocks of `inner`
  // contiguous kept elements cuts them into: `most`, or narrower (down to
  // 16, a cache line of f32) for about 4 blocks a worker when `most` would
  // leave fewer and it reads at least 2^18 elements (`read`).
  int64_t blockWidth(int64_t inner, int64_t read, int64_t most) const;
  // CodegenReduce.cpp: the accumulator's rules, a plain reduction's index
  // space, and a fused one's walk.
  struct ReduceAcc;
  struct ReduceLayout;
  struct FusedReduce;
  Status emitFusedReduce(const Group &g, const std::vector<bool> &reduced,
                         ReduceAcc &acc);
  Status emitReduceKeptInner(const Group &g, const ReduceLayout &lay,
                             const ReduceAcc &acc);
  Status emitReducePerElement(const Group &g, const ReduceLayout &lay,
                              const ReduceAcc &acc);
  Status emitArg(const Group &g);

public:
  Affine affineOf(const Group &g, const Value &v) const;
  // Element strides of a materialized value as stored (row-major, or
  // channels-last for the int8 activations chooseLayouts picks).
  std::vector<int64_t> physStrides(const Value &v) const;
  // Bytes from v's first stored element to its last (physStrides).
  uint64_t storedBytes(const Value &v) const;
  // Pointers into the four regions, inside the current function (whose
  // first argument is the context: weights, arena, inputs, outputs).
  llvm::Value *ptrOf(const Loc &l);
  llvm::Value *ptrOfValue(const Value &v);
  // The kernels' per-worker workspace (null when no step needs one).
  llvm::Value *workspacePtr();
  Loc locOf(const Value &v);
  llvm::Type *elemType(ElemKind k);
  // When `cond` holds, records `status` for ember_main to return (the
  // status word is the context's fifth slot).
  void flagError(llvm::Value *cond, int32_t status);

  // Generated loops: `body(indices)` inside a nest over `dims`, the
  // outermost one over [begin, end). `beforeInner(indices of the outer
  // loops)`, when given, is emitted once per iteration of the loop around
  // the innermost one, before the innermost loop starts.
  using NestBody = std::function<void(std::vector<llvm::Value *> &)>;
  void emitNest(const std::vector<int64_t> &dims, llvm::Value *begin,
                llvm::Value *end, const NestBody &body,
                const NestBody &beforeInner = nullptr);
  // Interleaving of loops over ember/math's f32 curves (exp, tanh, erf:
  // 20-30 dependent operations a vector). With one vector an iteration the
  // out-of-order window holds about two iterations' chains and the FMA
  // units wait on their latency; LLVM's cost model keeps such large bodies
  // at one. `interleaveFor` is the count for a loop of `extent` elements
  // whose body evaluated `curves` of them (0: leave it to LLVM);
  // `interleaveLoop` asks LLVM for it on the loop whose latch is `latch`.
  // A body inside emitNest sets `innerInterleave_`, which the innermost
  // loop's latch takes (and clears).
  static unsigned interleaveFor(unsigned curves, int64_t extent);
  void interleaveLoop(llvm::Instruction *latch, unsigned count);
  unsigned innerInterleave_ = 0;
  // An outlined task function void(ctx, begin, end, worker) whose body is
  // generated by `gen` (the builder sits inside it), called from ember_main
  // over [0, n), in parallel when worthwhile.
  void emitTask(
      const std::string &name, int64_t n, int64_t workPerItem,
      const std::function<void(llvm::Value *begin, llvm::Value *end)> &gen);

  const Function &f_;
  const CompileConfig &cfg_;
  CompiledModel &out_;
  std::vector<Group> groups_;
  std::vector<Step> steps_;
  std::map<ValueKey, Loc> locs_;
  std::map<const Node *, uint64_t> constants_;
  std::set<ValueKey> nhwc_; // values stored channels-last
  // Values stored inside another's bytes, with its strides (Views.cpp).
  std::map<ValueKey, Value> inside_;
  lir::Function lir_;
  std::vector<uint64_t> bufferOffset_;
  uint64_t workspaceOffset_ = 0, workspacePerWorker_ = 0;

  llvm::LLVMContext *ctx_ = nullptr;
  llvm::Module *mod_ = nullptr;
  std::unique_ptr<llvm::IRBuilder<>> b_;
  llvm::Function *main_ = nullptr;
  llvm::Value *ctxArg_ = nullptr; // the current function's context pointer
  llvm::BasicBlock *failBlock_ = nullptr;
  llvm::Value *failStatus_ = nullptr; // alloca holding the failing status
  unsigned taskCount_ = 0, paramCount_ = 0;
};

// The Emit rows' code (compiler/ops/<Name>.cpp): the node's step, generated
// with the helpers above (emitTask, emitNest, ptrOfValue, ...). Declared
// from CpuOps.def, so a row without its function is a link error.
#define EMBER_CPU_OP(Name, ...)
#define EMBER_CPU_EMIT(Name, ...)                                              \
  Status emit_##Name(Codegen &cg, const Group &g);
#include "CpuOps.def"

} // namespace ember::cpugen

// The CPU backend's compiler: lowered graph -> fused groups -> memory plan
// -> LLVM module defining
//
//   int32_t ember_main(const uint8_t *weights, uint8_t *arena,
//                      void **inputs, void **outputs);
//
// plus the constant region it reads (`weights`, with pre-packed GEMM and
// convolution weights) and the arena size it needs. Jit.h runs it in
// process; Aot.h turns it into a self-contained object file. README.md has
// the whole pipeline.
#pragma once

#include "Program.h"

#include "lir/LIR.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace llvm {
class Triple;
class LLVMContext;
class Module;
class TargetMachine;
} // namespace llvm

namespace ember::cpugen {

struct CompiledModel {
  CompiledModel();
  ~CompiledModel();
  CompiledModel(CompiledModel &&) noexcept;
  CompiledModel &operator=(CompiledModel &&) noexcept;

  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::Module> module; // unoptimized; ember_main external
  std::string weights;                  // the constant region
  uint64_t arenaBytes = 0;
  std::vector<Type> inputs, outputs;
  std::vector<std::string> inputNames, outputNames;
  FusionStats fusion;
  lir::MemoryPlan plan;
  uint64_t workspaceBytes = 0;           // part of the arena: kernel scratch
  std::vector<std::string> runtimeCalls; // ember_rt_* names the module calls
  std::vector<std::string> channelsLast; // values stored [N][H][W][C]
  // Custom ops (ops/Custom.cpp, CustomCalls.h): the nodes whose reference
  // kernels the module calls, in call-site order (pointers into the
  // compiled function), and the host addresses the JIT binds their symbols
  // to (set by the plugin before JitModel::compile).
  std::vector<const Node *> customNodes;
  std::map<std::string, void *> hostSymbols;
};

// Compiles the main function of a lowered module. Unsupported nodes fail
// with ErrorCode::Unsupported naming the node. `f` is rewritten first by
// widenHalfKernels (idempotent), pointDepthwiseAsElementwise, then
// foldChannelScales.
Expected<CompiledModel> compileModel(Function &f, const CompileConfig &cfg);

// 16-bit float Conv/ConvTranspose/MatMul/pooling/reductions become f32
// ones between casts (WidenHalf.cpp).
Status widenHalfKernels(Function &f);

// A depthwise 1x1 ConvInteger of one-pixel images [N, C, 1, 1] becomes an
// elementwise product by its weights (PointDepthwise.cpp).
Status pointDepthwiseAsElementwise(Function &f);

// Conv(x * s, W) with s one scale per channel of one image becomes
// Conv(x, W * s) where W is the smaller of the two (ScaleFold.cpp; counted
// in stats->scaleFolds).
Status foldChannelScales(Function &f, const CompileConfig &cfg,
                         FusionStats *stats);

// The default instruction set path (ember::cpu::Isa) of this host.
uint8_t hostIsa();

// ---- LLVM plumbing (Optimize.cpp) ------------------------------------------
// Initializes the native and AArch64 targets once (thread-safe).
void initLlvm();
// A TargetMachine for cfg.triple/cpu/features (empty triple: the host,
// with its CPU and features).
Expected<std::unique_ptr<llvm::TargetMachine>>
makeTargetMachine(const CompileConfig &cfg);
// Links the runtime bitcode for the target into `m` (bundles), then
// internalizes everything but ember_main.
Status linkRuntime(llvm::Module &m, const CompileConfig &cfg,
                   const llvm::TargetMachine &tm);
// The runtime (and kernels) a bundle for `tm` links, by name.
std::string runtimeName(const llvm::TargetMachine &tm,
                        const CompileConfig &cfg);
// The dense int8 weight layout its edge kernels read (RtEdge.h
// EMBER_RTE_LAYOUT_*; rows when it has no edge kernels).
int64_t edgeLayout(const llvm::TargetMachine &tm, const CompileConfig &cfg);
// Whether `t` is a Cortex-M (Arm or Thumb without an OS): a microcontroller
// bundle (docs/edge.md), and the CPU its triple means when none is given.
bool bareMetalArm(const llvm::Triple &t);
const char *defaultArmCpu(const llvm::Triple &t);
// Global dead code elimination only (after linkRuntime without O3).
void dropUnreachable(llvm::Module &m);
// The O<optLevel> pipeline for `tm`.
void optimizeModule(llvm::Module &m, llvm::TargetMachine &tm,
                    unsigned optLevel);
// Object file bytes for `m` (optimized) on `tm`.
Expected<std::string> emitObject(llvm::Module &m, llvm::TargetMachine &tm);

// Writes what the code generator produced for `m`, deterministically:
// `<base>.ll` (the LLVM module as generated, before any optimization) and
// `<base>.weights.bin` (the constant region). The vendor option dump_dir
// calls it; scripts/process-replay.py compares the files across commits.
Status writeGeneratedCode(const CompiledModel &m, const std::string &base);

} // namespace ember::cpugen

// LLVM plumbing shared by the JIT and the bundles: target machines, linking
// the runtime bitcode that the build embeds in the plugin (bundles), the
// O3 pipeline, and object emission.
#include "Compiler.h"
#include "RuntimeBitcode.h"
#include "runtime/RtEdge.h"

#include "ember/cpu/Kernels.h"

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/Linker/Linker.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/SubtargetFeature.h>
#include <llvm/TargetParser/Triple.h>
#include <llvm/Transforms/IPO/GlobalDCE.h>
#include <llvm/Transforms/IPO/Internalize.h>

#include <llvm/Support/raw_ostream.h>

#include <fstream>
#include <mutex>

namespace ember::cpugen {

void initLlvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
    LLVMInitializeAArch64TargetInfo();
    LLVMInitializeAArch64Target();
    LLVMInitializeAArch64TargetMC();
    LLVMInitializeAArch64AsmPrinter();
    LLVMInitializeARMTargetInfo();
    LLVMInitializeARMTarget();
    LLVMInitializeARMTargetMC();
    LLVMInitializeARMAsmPrinter();
  });
}

bool bareMetalArm(const llvm::Triple &t) {
  return (t.getArch() == llvm::Triple::thumb ||
          t.getArch() == llvm::Triple::arm) &&
         t.getOS() == llvm::Triple::UnknownOS;
}

const char *defaultArmCpu(const llvm::Triple &t) {
  switch (t.getSubArch()) {
  case llvm::Triple::ARMSubArch_v7em:
    return "cortex-m4";
  case llvm::Triple::ARMSubArch_v8_1m_mainline:
    return "cortex-m55";
  default:
    return "";
  }
}

namespace {

// Whether the host's feature `f` is turned off for code generated for
// kernel path `path` (resolved): none when the path is the host's best;
// else those the path's CPUs lack, so that with isa=avx2 on an AVX-512
// host the generated loops use the instructions an AVX2-only CPU has, as
// the kernels do (and run, and time, as they would there).
bool featureOff(llvm::StringRef f, ember::cpu::Isa path) {
  using ember::cpu::Isa;
  if (path == ember::cpu::detectIsa())
    return false;
  const bool avx512Base = f == "avx512f" || f == "avx512cd" ||
                          f == "avx512bw" || f == "avx512dq" ||
                          f == "avx512vl" || f == "evex512";
  const bool avx512 = f.starts_with("avx512") || f == "evex512" ||
                      f.starts_with("avx10") || f.starts_with("amx");
  const bool vexInt =
      f.starts_with("avxvnni") || f == "avxifma" || f == "avxneconvert";
  switch (path) {
  case Isa::Auto:
  case Isa::Avx512Vnni:
    return false;
  case Isa::Avx512: // Skylake-SP: F/CD/BW/DQ/VL only
    return (avx512 && !avx512Base) || vexInt;
  case Isa::AvxVnni:
    return avx512;
  case Isa::Avx2:
    return avx512 || vexInt;
  case Isa::Generic:
    return avx512 || vexInt || f.starts_with("avx") || f == "fma" ||
           f == "fma4" || f == "f16c" || f == "xop" || f == "vaes" ||
           f == "vpclmulqdq";
  }
  return false;
}

} // namespace

Expected<std::unique_ptr<llvm::TargetMachine>>
makeTargetMachine(const CompileConfig &cfg) {
  initLlvm();
  bool host = cfg.triple.empty();
  std::string triple = host ? llvm::sys::getProcessTriple()
                            : llvm::Triple::normalize(cfg.triple);
  std::string err;
  const llvm::Target *t = llvm::TargetRegistry::lookupTarget(triple, err);
  if (!t)
    return unsupported("target triple '", triple, "': ", err);
  std::string cpu = cfg.cpu, features = cfg.features;
  if (host && cpu.empty()) {
    cpu = llvm::sys::getHostCPUName().str();
    llvm::SubtargetFeatures f;
    const auto path = ember::cpu::resolveIsa(ember::cpu::Isa(cfg.isa));
    for (auto &kv : llvm::sys::getHostCPUFeatures())
      f.AddFeature(kv.first(), kv.second && !featureOff(kv.first(), path));
    features = f.getString();
  }
  llvm::Triple tt(triple);
  const bool bare = bareMetalArm(tt);
  // A Cortex-M triple alone means the CPU the boards it names carry (M4
  // for v7E-M, M55 for v8.1-M), so its DSP or Helium kernels are used.
  if (cpu.empty() && bare)
    cpu = defaultArmCpu(tt);
  if (cpu.empty())
    cpu = "generic";
  llvm::TargetOptions opts;
  // A microcontroller image is linked statically at fixed addresses; each
  // function and constant in its own section, so the linker keeps only
  // what the application reaches.
  opts.FunctionSections = bare;
  opts.DataSections = bare;
  if (bare && tt.getEnvironment() == llvm::Triple::EABIHF)
    opts.FloatABIType = llvm::FloatABI::Hard;
  std::unique_ptr<llvm::TargetMachine> tm(
      t->createTargetMachine(triple, cpu, features, opts,
                             bare ? llvm::Reloc::Static : llvm::Reloc::PIC_,
                             std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!tm)
    return unsupported("cannot create a target machine for '", triple,
                       "' (cpu '", cpu, "')");
  return tm;
}

// The runtime a bundle for `tm` links: the kernel library (x86-64), or the
// plain-C runtime with the int8 kernels the target CPU's features allow.
static Expected<RuntimeFlavor> runtimeFlavor(const llvm::TargetMachine &tm,
                                             const CompileConfig &cfg) {
  const llvm::Triple &tt = tm.getTargetTriple();
  const llvm::MCSubtargetInfo *sti = tm.getMCSubtargetInfo();
  if (tt.getArch() == llvm::Triple::x86_64)
    return cfg.kernels == Kernels::Library ? RuntimeFlavor::KernelsX86
           : cfg.kernels == Kernels::Edge  ? RuntimeFlavor::EdgeX86
                                           : RuntimeFlavor::PortableX86;
  if (tt.getArch() == llvm::Triple::aarch64) {
    if (cfg.kernels != Kernels::Edge)
      return RuntimeFlavor::PortableAArch64;
    if (!cfg.edgeSimd)
      return RuntimeFlavor::EdgeAArch64C;
    return sti->checkFeatures("+dotprod") ? RuntimeFlavor::EdgeAArch64Dot
                                          : RuntimeFlavor::EdgeAArch64;
  }
  if (bareMetalArm(tt)) {
    if (!cfg.edgeSimd)
      return RuntimeFlavor::EdgeThumb;
    if (sti->checkFeatures("+mve"))
      return RuntimeFlavor::EdgeThumbMve;
    return sti->checkFeatures("+dsp") ? RuntimeFlavor::EdgeThumbDsp
                                      : RuntimeFlavor::EdgeThumb;
  }
  return unsupported("no CPU runtime for '", tt.str(),
                     "' (x86_64, aarch64, Cortex-M)");
}

std::string runtimeName(const llvm::TargetMachine &tm,
                        const CompileConfig &cfg) {
  auto fl = runtimeFlavor(tm, cfg);
  return fl ? runtimeFlavorName(*fl) : "none";
}

int64_t edgeLayout(const llvm::TargetMachine &tm, const CompileConfig &cfg) {
  auto fl = runtimeFlavor(tm, cfg);
  return fl && *fl == RuntimeFlavor::EdgeThumbDsp ? EMBER_RTE_LAYOUT_DSP4
                                                  : EMBER_RTE_LAYOUT_ROWS;
}

Status linkRuntime(llvm::Module &m, const CompileConfig &cfg,
                   const llvm::TargetMachine &tm) {
  EMBER_ASSIGN(RuntimeFlavor fl, runtimeFlavor(tm, cfg));
  const bool edge = fl != RuntimeFlavor::KernelsX86 &&
                    fl != RuntimeFlavor::PortableX86 &&
                    fl != RuntimeFlavor::PortableAArch64;
  llvm::StringRef bc = runtimeBitcode(fl);
  if (bc.empty())
    return unsupported("this plugin was built without the ",
                       runtimeFlavorName(fl), " runtime bitcode");
  auto buf = llvm::MemoryBuffer::getMemBuffer(bc, "ember-cpu-runtime", false);
  auto rt = llvm::parseBitcodeFile(buf->getMemBufferRef(), m.getContext());
  if (!rt)
    return makeError(ErrorCode::Internal,
                     "runtime bitcode: ", llvm::toString(rt.takeError()));
  (*rt)->setTargetTriple(m.getTargetTriple());
  (*rt)->setDataLayout(m.getDataLayout());
  // An edge flavor was compiled for a representative CPU of its kernel set
  // (cortex-m4, cortex-m55, armv8.2-a); the target's CPU has at least
  // those features, so its functions are generated for the target's.
  if (edge)
    for (llvm::Function &fn : **rt) {
      fn.removeFnAttr("target-cpu");
      fn.removeFnAttr("target-features");
      fn.removeFnAttr("tune-cpu");
    }
  if (llvm::Linker::linkModules(m, std::move(*rt),
                                llvm::Linker::Flags::LinkOnlyNeeded))
    return makeError(ErrorCode::Internal, "linking the runtime bitcode failed");
  // Everything but the entry point (and the thread hooks an application
  // may override) becomes internal, so the optimizer can specialize the
  // kernels on the constant parameter blocks and drop what is unused.
  llvm::internalizeModule(m, [&](const llvm::GlobalValue &gv) {
    llvm::StringRef n = gv.getName();
    return n == cfg.entry || n == "ember_rt_parallel_for" ||
           n == "ember_rt_num_workers";
  });
  return Status::ok();
}

void optimizeModule(llvm::Module &m, llvm::TargetMachine &tm,
                    unsigned optLevel) {
  m.setDataLayout(tm.createDataLayout());
  m.setTargetTriple(tm.getTargetTriple().str());
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = optLevel >= 2;
  pto.SLPVectorization = optLevel >= 2;
  llvm::PassBuilder pb(&tm, pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::OptimizationLevel level = optLevel == 0   ? llvm::OptimizationLevel::O0
                                  : optLevel == 1 ? llvm::OptimizationLevel::O1
                                  : optLevel == 2 ? llvm::OptimizationLevel::O2
                                                  : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager mpm = optLevel == 0
                                    ? pb.buildO0DefaultPipeline(level)
                                    : pb.buildPerModuleDefaultPipeline(level);
  mpm.run(m, mam);
}

void dropUnreachable(llvm::Module &m) {
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb;
  pb.registerModuleAnalyses(mam);
  llvm::ModulePassManager mpm;
  mpm.addPass(llvm::GlobalDCEPass());
  mpm.run(m, mam);
}

Expected<std::string> emitObject(llvm::Module &m, llvm::TargetMachine &tm) {
  llvm::SmallVector<char, 0> buf;
  llvm::raw_svector_ostream os(buf);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr,
                             llvm::CodeGenFileType::ObjectFile))
    return unsupported("the target cannot emit object files");
  pm.run(m);
  return std::string(buf.data(), buf.size());
}

Status writeGeneratedCode(const CompiledModel &m, const std::string &base) {
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(base + ".ll", ec);
    if (ec)
      return makeError(ErrorCode::Io, "cannot write '", base,
                       ".ll': ", ec.message());
    m.module->print(os, nullptr);
  }
  std::ofstream w(base + ".weights.bin", std::ios::binary);
  w.write(m.weights.data(), std::streamsize(m.weights.size()));
  if (!w)
    return makeError(ErrorCode::Io, "cannot write '", base, ".weights.bin'");
  return Status::ok();
}

} // namespace ember::cpugen

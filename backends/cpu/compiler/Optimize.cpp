// LLVM plumbing shared by the JIT and the bundles: target machines, linking
// the runtime bitcode that the build embeds in the plugin (bundles), the
// O3 pipeline, and object emission.
#include "Compiler.h"
#include "RuntimeBitcode.h"

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/Linker/Linker.h>
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
  });
}

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
    for (auto &kv : llvm::sys::getHostCPUFeatures())
      f.AddFeature(kv.first(), kv.second);
    features = f.getString();
  }
  if (cpu.empty())
    cpu = "generic";
  llvm::TargetOptions opts;
  std::unique_ptr<llvm::TargetMachine> tm(
      t->createTargetMachine(triple, cpu, features, opts, llvm::Reloc::PIC_,
                             std::nullopt, llvm::CodeGenOptLevel::Aggressive));
  if (!tm)
    return unsupported("cannot create a target machine for '", triple,
                       "' (cpu '", cpu, "')");
  return tm;
}

Status linkRuntime(llvm::Module &m, const CompileConfig &cfg) {
  llvm::Triple tt(m.getTargetTriple());
  bool x86 = tt.getArch() == llvm::Triple::x86_64;
  bool arm = tt.getArch() == llvm::Triple::aarch64;
  if (!x86 && !arm)
    return unsupported("no CPU runtime for architecture '",
                       tt.getArchName().str(), "' (x86_64 and aarch64)");
  RuntimeFlavor fl = x86 && cfg.kernels == Kernels::Library
                         ? RuntimeFlavor::KernelsX86
                     : x86 ? RuntimeFlavor::PortableX86
                           : RuntimeFlavor::PortableAArch64;
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
  if (llvm::Linker::linkModules(m, std::move(*rt),
                                llvm::Linker::Flags::LinkOnlyNeeded))
    return makeError(ErrorCode::Internal, "linking the runtime bitcode failed");
  // Everything but the entry point (and the thread hooks an application
  // may override) becomes internal, so the optimizer can specialize the
  // kernels on the constant parameter blocks and drop what is unused.
  llvm::internalizeModule(m, [](const llvm::GlobalValue &gv) {
    llvm::StringRef n = gv.getName();
    return n == "ember_main" || n == "ember_rt_parallel_for" ||
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

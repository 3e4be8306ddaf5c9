#include "Jit.h"

#include "runtime/RtAbi.h"
#include "runtime/RtPortable.h"

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include <map>

namespace ember::cpugen {

namespace {

Status fromLlvm(llvm::Error e, const char *what) {
  return makeError(ErrorCode::Internal, what, ": ",
                   llvm::toString(std::move(e)));
}

// The native runtime the JIT'd code calls.
const std::map<std::string, void *> &runtimeSymbols() {
  static const std::map<std::string, void *> syms = {
      {"ember_rt_parallel_for",
       reinterpret_cast<void *>(&ember_rt_parallel_for)},
      {"ember_rt_num_workers", reinterpret_cast<void *>(&ember_rt_num_workers)},
      {"ember_rt_conv2d", reinterpret_cast<void *>(&ember_rt_conv2d)},
      {"ember_rt_conv_pack", reinterpret_cast<void *>(&ember_rt_conv_pack)},
      {"ember_rt_gemm", reinterpret_cast<void *>(&ember_rt_gemm)},
      {"ember_rt_qgemm", reinterpret_cast<void *>(&ember_rt_qgemm)},
      {"ember_rt_conv_transpose",
       reinterpret_cast<void *>(&ember_rt_conv_transpose)},
      {"ember_rtp_conv_transpose",
       reinterpret_cast<void *>(&ember_rtp_conv_transpose)},
      {"ember_rt_conv_transpose_pack",
       reinterpret_cast<void *>(&ember_rt_conv_transpose_pack)},
      {"ember_rtp_conv_transpose_pack",
       reinterpret_cast<void *>(&ember_rtp_conv_transpose_pack)},
      {"ember_rt_qconv2d", reinterpret_cast<void *>(&ember_rt_qconv2d)},
      {"ember_rtp_conv2d", reinterpret_cast<void *>(&ember_rtp_conv2d)},
      {"ember_rtp_conv_pack", reinterpret_cast<void *>(&ember_rtp_conv_pack)},
      {"ember_rtp_gemm", reinterpret_cast<void *>(&ember_rtp_gemm)},
  };
  return syms;
}

Expected<std::unique_ptr<llvm::orc::LLJIT>> makeJit() {
  initLlvm();
  auto jit = llvm::orc::LLJITBuilder().setNumCompileThreads(0).create();
  if (!jit)
    return fromLlvm(jit.takeError(), "cannot create the JIT");
  auto &jd = (*jit)->getMainJITDylib();
  // libc and libm (memcpy, expf, ...) from the process.
  auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!gen)
    return fromLlvm(gen.takeError(), "cannot search the process symbols");
  jd.addGenerator(std::move(*gen));
  return std::move(*jit);
}

Expected<EntryFn> lookupEntry(llvm::orc::LLJIT &jit) {
  if (auto e = jit.initialize(jit.getMainJITDylib()))
    return fromLlvm(std::move(e), "JIT initializers");
  auto sym = jit.lookup("ember_main");
  if (!sym)
    return fromLlvm(sym.takeError(), "JIT lookup of ember_main");
  return sym->toPtr<EntryFn>();
}

} // namespace

JitModel::~JitModel() {
  if (jit_)
    llvm::consumeError(jit_->deinitialize(jit_->getMainJITDylib()));
}

Expected<std::unique_ptr<JitModel>>
JitModel::compile(CompiledModel &m, const CompileConfig &cfg) {
  EMBER_ASSIGN(auto jit, makeJit());
  llvm::orc::MangleAndInterner mangle(jit->getExecutionSession(),
                                      jit->getDataLayout());
  llvm::orc::SymbolMap syms;
  for (auto &kv : runtimeSymbols())
    syms[mangle(kv.first)] = {llvm::orc::ExecutorAddr::fromPtr(kv.second),
                              llvm::JITSymbolFlags::Exported |
                                  llvm::JITSymbolFlags::Callable};
  if (auto e = jit->getMainJITDylib().define(
          llvm::orc::absoluteSymbols(std::move(syms))))
    return fromLlvm(std::move(e), "defining the runtime symbols");
  // Optimize for this host's CPU before handing the module over.
  CompileConfig host = cfg;
  host.triple.clear();
  EMBER_ASSIGN(auto tm, makeTargetMachine(host));
  optimizeModule(*m.module, *tm, cfg.optLevel);
  if (!cfg.dumpIr.empty()) {
    std::error_code ec;
    llvm::raw_fd_ostream os(cfg.dumpIr, ec);
    if (ec)
      return makeError(ErrorCode::Io, "cannot write '", cfg.dumpIr,
                       "': ", ec.message());
    m.module->print(os, nullptr);
  }
  llvm::orc::ThreadSafeModule tsm(std::move(m.module), std::move(m.context));
  if (auto e = jit->addIRModule(std::move(tsm)))
    return fromLlvm(std::move(e), "adding the module to the JIT");
  std::unique_ptr<JitModel> x(new JitModel());
  EMBER_ASSIGN(x->entry_, lookupEntry(*jit));
  x->jit_ = std::move(jit);
  return x;
}

Expected<std::unique_ptr<JitModel>>
JitModel::loadObject(const std::string &object) {
  EMBER_ASSIGN(auto jit, makeJit());
  auto buf = llvm::MemoryBuffer::getMemBufferCopy(object, "model.o");
  if (auto e = jit->addObjectFile(std::move(buf)))
    return fromLlvm(std::move(e), "loading the object file");
  std::unique_ptr<JitModel> x(new JitModel());
  EMBER_ASSIGN(x->entry_, lookupEntry(*jit));
  x->jit_ = std::move(jit);
  return x;
}

} // namespace ember::cpugen

#include "Jit.h"

#include "runtime/RtAbi.h"
#include "runtime/RtEdge.h"
#include "runtime/RtPortable.h"

#include <llvm/ExecutionEngine/JITLink/JITLink.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ObjectLinkingLayer.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>

#include <cstdio>
#include <map>
#include <mutex>
#include <unistd.h>

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
      {"ember_rt_conv2d_pair", reinterpret_cast<void *>(&ember_rt_conv2d_pair)},
      {"ember_rt_gemm", reinterpret_cast<void *>(&ember_rt_gemm)},
      {"ember_rt_qgemm", reinterpret_cast<void *>(&ember_rt_qgemm)},
      {"ember_rt_recurrent", reinterpret_cast<void *>(&ember_rt_recurrent)},
      {"ember_rtp_recurrent", reinterpret_cast<void *>(&ember_rtp_recurrent)},
      {"ember_rt_recurrent_pack",
       reinterpret_cast<void *>(&ember_rt_recurrent_pack)},
      {"ember_rtp_recurrent_pack",
       reinterpret_cast<void *>(&ember_rtp_recurrent_pack)},
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
      {"ember_rte_qconv2d", reinterpret_cast<void *>(&ember_rte_qconv2d)},
      {"ember_rte_qgemm", reinterpret_cast<void *>(&ember_rte_qgemm)},
  };
  return syms;
}

// perf's JIT convention: "START SIZE NAME" lines (hex) in
// /tmp/perf-<pid>.map name code that has no ELF file, so `perf report`
// attributes samples to the generated functions (loop.3, ember_main, ...)
// instead of bare addresses. Every defined function of each linked graph,
// local ones included, is appended after fixups.
// GCC 12 warns inside llvm::unique_function when it moves the pass in
// (-Wmaybe-uninitialized, a known false positive of that header).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
class PerfMapPlugin : public llvm::orc::ObjectLinkingLayer::Plugin {
public:
  void modifyPassConfig(llvm::orc::MaterializationResponsibility &,
                        llvm::jitlink::LinkGraph &,
                        llvm::jitlink::PassConfiguration &c) override {
    c.PostFixupPasses.push_back([](llvm::jitlink::LinkGraph &g) {
      static std::mutex mu;
      std::lock_guard<std::mutex> lock(mu);
      std::string path = "/tmp/perf-" + std::to_string(getpid()) + ".map";
      if (FILE *f = std::fopen(path.c_str(), "a")) {
        for (auto *s : g.defined_symbols())
          if (s->hasName() && s->getSize() && s->isCallable())
            std::fprintf(f, "%llx %llx %s\n",
                         (unsigned long long)s->getAddress().getValue(),
                         (unsigned long long)s->getSize(),
                         s->getName().str().c_str());
        std::fclose(f);
      }
      return llvm::Error::success();
    });
  }
  llvm::Error
  notifyFailed(llvm::orc::MaterializationResponsibility &) override {
    return llvm::Error::success();
  }
  llvm::Error notifyRemovingResources(llvm::orc::JITDylib &,
                                      llvm::orc::ResourceKey) override {
    return llvm::Error::success();
  }
  void notifyTransferringResources(llvm::orc::JITDylib &,
                                   llvm::orc::ResourceKey,
                                   llvm::orc::ResourceKey) override {}
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

Expected<std::unique_ptr<llvm::orc::LLJIT>> makeJit(bool perfMap = false) {
  initLlvm();
  llvm::orc::LLJITBuilder b;
  b.setNumCompileThreads(0);
  if (perfMap)
    b.setObjectLinkingLayerCreator(
        [](llvm::orc::ExecutionSession &es, const llvm::Triple &)
            -> llvm::Expected<std::unique_ptr<llvm::orc::ObjectLayer>> {
          auto l = std::make_unique<llvm::orc::ObjectLinkingLayer>(es);
          l->addPlugin(std::make_unique<PerfMapPlugin>());
          return l;
        });
  auto jit = b.create();
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

// Addresses in this process the code refers to by name (custom op calls).
Status defineHostSymbols(llvm::orc::LLJIT &jit,
                         const std::map<std::string, void *> &symbols) {
  if (symbols.empty())
    return Status::ok();
  llvm::orc::MangleAndInterner mangle(jit.getExecutionSession(),
                                      jit.getDataLayout());
  llvm::orc::SymbolMap syms;
  for (auto &kv : symbols)
    syms[mangle(kv.first)] = {llvm::orc::ExecutorAddr::fromPtr(kv.second),
                              llvm::JITSymbolFlags::Exported};
  if (auto e = jit.getMainJITDylib().define(
          llvm::orc::absoluteSymbols(std::move(syms))))
    return fromLlvm(std::move(e), "defining the custom ops' symbols");
  return Status::ok();
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
  EMBER_ASSIGN(auto jit, makeJit(cfg.perfMap != 0));
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
  EMBER_TRY(defineHostSymbols(*jit, m.hostSymbols));
  // Optimize for this host's CPU before handing the module over.
  CompileConfig host = cfg;
  host.triple.clear();
  EMBER_ASSIGN(auto tm, makeTargetMachine(host));
  optimizeModule(*m.module, *tm, cfg.optLevel);
  if (cfg.perfMap) {
    // Local functions (the loop tasks) carry no symbol JITLink names;
    // exporting them after optimization lets the map name them.
    for (llvm::Function &fn : *m.module)
      if (!fn.isDeclaration() && fn.hasLocalLinkage()) {
        fn.setLinkage(llvm::GlobalValue::ExternalLinkage);
        fn.setVisibility(llvm::GlobalValue::HiddenVisibility);
      }
  }
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
JitModel::loadObject(const std::string &object,
                     const std::map<std::string, void *> &hostSymbols) {
  EMBER_ASSIGN(auto jit, makeJit());
  EMBER_TRY(defineHostSymbols(*jit, hostSymbols));
  auto buf = llvm::MemoryBuffer::getMemBufferCopy(object, "model.o");
  if (auto e = jit->addObjectFile(std::move(buf)))
    return fromLlvm(std::move(e), "loading the object file");
  std::unique_ptr<JitModel> x(new JitModel());
  EMBER_ASSIGN(x->entry_, lookupEntry(*jit));
  x->jit_ = std::move(jit);
  return x;
}

} // namespace ember::cpugen

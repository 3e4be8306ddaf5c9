// In-process execution of compiled models with ORC LLJIT. A model compiled
// for the host calls the runtime natively (the plugin's own RtKernels and
// thread pool, resolved as absolute symbols); an object file loaded from an
// artifact carries its runtime inside (Optimize.cpp, linkRuntime).
#pragma once

#include "Compiler.h"

#include <cstdint>
#include <memory>
#include <string>

namespace llvm::orc {
class LLJIT;
}

namespace ember::cpugen {

using EntryFn = int32_t (*)(const uint8_t *weights, uint8_t *arena,
                            void **inputs, void **outputs);

class JitModel {
public:
  ~JitModel();
  // Optimizes m.module for the host and JIT-compiles it.
  static Expected<std::unique_ptr<JitModel>> compile(CompiledModel &m,
                                                     const CompileConfig &cfg);
  // Links an object file (a bundle's model.o for this host); `hostSymbols`
  // binds what it leaves to the host (its custom ops' calls).
  static Expected<std::unique_ptr<JitModel>>
  loadObject(const std::string &object,
             const std::map<std::string, void *> &hostSymbols = {});
  EntryFn entry() const { return entry_; }

private:
  JitModel() = default;
  std::unique_ptr<llvm::orc::LLJIT> jit_;
  EntryFn entry_ = nullptr;
};

} // namespace ember::cpugen

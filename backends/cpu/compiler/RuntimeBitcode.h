// The runtime (RtAbi.h implementations) as LLVM bitcode, compiled by
// clang-19 at build time and embedded in the plugin. Bundles link it into
// the model module (Optimize.cpp, linkRuntime).
#pragma once

#include <llvm/ADT/StringRef.h>

namespace ember::cpugen {

enum class RuntimeFlavor {
  KernelsX86,      // RtKernels.cpp + the kernel library, x86-64
  PortableX86,     // RtPortable.c, x86-64
  PortableAArch64, // RtPortable.c, aarch64
};

// The bitcode bytes; empty when the build did not produce that flavor.
llvm::StringRef runtimeBitcode(RuntimeFlavor f);
const char *runtimeFlavorName(RuntimeFlavor f);

} // namespace ember::cpugen

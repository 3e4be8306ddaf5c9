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
  // RtPortable.c + RtEdge.c (docs/edge.md): the int8 steps' inner products
  EdgeX86,        // plain C (an x86-64 bundle with kernels=edge)
  EdgeAArch64C,   // plain C (edge_simd=0)
  EdgeAArch64,    // NEON
  EdgeAArch64Dot, // NEON with SDOT (armv8.2-a+dotprod)
  EdgeThumb,      // plain C (a Cortex-M without the DSP extension)
  EdgeThumbDsp,   // SMLAD (Cortex-M4/M7, v8-M with DSP)
  EdgeThumbMve,   // Helium (Cortex-M55/M85)
};

// The bitcode bytes; empty when the build did not produce that flavor.
llvm::StringRef runtimeBitcode(RuntimeFlavor f);
const char *runtimeFlavorName(RuntimeFlavor f);

} // namespace ember::cpugen

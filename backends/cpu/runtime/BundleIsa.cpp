// Replaces the kernel library's CpuFeatures.cpp in the runtime bitcode that
// bundles link: a bundle is compiled for one target, so the instruction-set
// path is a constant the code generator defines in the model module
// (ember_cpu_bundle_isa) instead of a cpuid query at run time. After
// linking and internalizing, the optimizer folds it and drops the paths the
// target cannot run, and the object needs nothing from libgcc's
// __cpu_model.
#include "ember/cpu/Kernels.h"

extern "C" const unsigned char ember_cpu_bundle_isa;

namespace ember::cpu {

Isa detectIsa() { return Isa(ember_cpu_bundle_isa); }

/// The paths the bundle's path implies its target can run.
bool isaSupported(Isa isa) {
  const Isa b = detectIsa();
  switch (isa) {
  case Isa::Auto:
  case Isa::Generic:
    return true;
  case Isa::Avx2:
    return b == Isa::Avx2 || b == Isa::AvxVnni || b == Isa::Avx512 ||
           b == Isa::Avx512Vnni;
  case Isa::Avx512:
    return b == Isa::Avx512 || b == Isa::Avx512Vnni;
  case Isa::Avx512Vnni:
  case Isa::AvxVnni:
    return b == isa;
  }
  return false;
}

#include "IsaRules.inc"

const char *isaName(Isa) { return "bundle"; }

const char *statusName(Status) { return "status"; }

} // namespace ember::cpu

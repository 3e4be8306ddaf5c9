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

bool isaSupported(Isa isa) {
  return isa == Isa::Auto || uint8_t(isa) <= uint8_t(detectIsa());
}

Isa resolveIsa(Isa requested) {
  Isa best = detectIsa();
  if (requested == Isa::Auto)
    return best;
  return uint8_t(requested) <= uint8_t(best) ? requested : best;
}

const char *isaName(Isa) { return "bundle"; }

const char *statusName(Status) { return "status"; }

} // namespace ember::cpu

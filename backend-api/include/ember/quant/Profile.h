//===- ember/quant/Profile.h - Requantization profiles --------------------===//
//
// The requantization profiles of Ember's integer definition
// (docs/quantization.md, "Requantization profiles"): how an integer result
// is scaled back to 8 bits. A device computes one of them bit for bit and
// declares it in its capability manifest (requant_profiles); the
// arithmetic of each is ember/quant/Arith.h. Header-only C++17.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_QUANT_PROFILE_H
#define EMBER_QUANT_PROFILE_H

#include <cstdint>
#include <string>

namespace ember::quant {

/// How integer results are scaled back to 8 bits (docs/quantization.md,
/// "Requantization profiles"). A device computes one of them bit for bit.
enum class RequantProfile : uint8_t {
  Fixed = 0,   ///< Ember's fixed point (the example NPU's)
  Float32 = 1, ///< float32, as ONNX Runtime's x86 kernels compute it
};

inline const char *profileName(RequantProfile p) {
  return p == RequantProfile::Float32 ? "float32" : "fixed";
}

/// "fixed" or "float32"; false for anything else.
inline bool profileFromName(const std::string &name, RequantProfile &p) {
  if (name == "fixed")
    p = RequantProfile::Fixed;
  else if (name == "float32")
    p = RequantProfile::Float32;
  else
    return false;
  return true;
}

} // namespace ember::quant

#endif // EMBER_QUANT_PROFILE_H

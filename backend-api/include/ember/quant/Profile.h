//===- ember/quant/Profile.h - Requantization profiles --------------------===//
//
// The requantization profiles of Ember's integer definition
// (docs/quantization.md, "Requantization profiles"): the arithmetics a
// device can declare, each how its requantization and its quantized add
// round. A device computes one of them bit for bit and declares it in its
// capability manifest (requant_profiles) and, for a target of the NPU
// compiler layer, in its description (`arithmetic`); the arithmetic of each
// is ember/quant/Arith.h, defined there once. Header-only C++17.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_QUANT_PROFILE_H
#define EMBER_QUANT_PROFILE_H

#include <cstdint>
#include <string>

namespace ember::quant {

/// How integer results are scaled back to 8 bits and how a quantized add
/// rounds (docs/quantization.md, "Requantization profiles"). Every step of
/// each is a function of ember/quant/Arith.h (requantizeIn, quantizedAddIn).
enum class RequantProfile : uint8_t {
  /// Ember's fixed point (the example NPU's): requantization rounds once,
  /// half up (mbqm); the 8-bit add is the exact sum rounded once, half up
  /// (AddExact / AddFixed).
  Fixed = 0,
  /// float32, as ONNX Runtime's x86 kernels compute it.
  Float32 = 1,
  /// TFLite's add as TFLITE_SINGLE_ROUNDING builds it: both inputs shifted
  /// left by 20 and rescaled, their sum rescaled, each step one rounding
  /// right shift, half up, without doubling (quantizedAdd); requantization
  /// as fixed (mbqm). The second NPU's, and the example NPU's vadd without
  /// its exact flag.
  Tflite = 2,
  /// gemmlowp's arithmetic, TFLite's default reference kernels and
  /// CMSIS-NN's: every rescale (requantization, each add input, the sum) a
  /// saturating rounding doubling high multiply, then a rounding divide by
  /// a power of two, the first half up, the second half away from zero
  /// (mbqmDoubling).
  Gemmlowp = 3,
  /// A 16-bit datapath's add (a DSP vector unit's halfword lanes): TFLite's
  /// add with a left shift of 7, each rescaled input and their sum
  /// saturated to int16 before the output rescale (quantizedAddSat16);
  /// requantization as fixed (mbqm).
  Sat16 = 4,
};

/// Every profile, in the order of the enum (for lists and sweeps).
constexpr RequantProfile kProfiles[] = {
    RequantProfile::Fixed, RequantProfile::Float32, RequantProfile::Tflite,
    RequantProfile::Gemmlowp, RequantProfile::Sat16};

inline const char *profileName(RequantProfile p) {
  switch (p) {
  case RequantProfile::Fixed:
    return "fixed";
  case RequantProfile::Float32:
    return "float32";
  case RequantProfile::Tflite:
    return "tflite";
  case RequantProfile::Gemmlowp:
    return "gemmlowp";
  case RequantProfile::Sat16:
    return "sat16";
  }
  return "fixed";
}

/// The names of every profile, comma separated (for messages).
inline std::string profileNames() {
  std::string s;
  for (RequantProfile p : kProfiles)
    s += std::string(s.empty() ? "" : ", ") + profileName(p);
  return s;
}

/// A profile's name to the profile; false for a name Ember does not know.
inline bool profileFromName(const std::string &name, RequantProfile &p) {
  for (RequantProfile q : kProfiles)
    if (name == profileName(q)) {
      p = q;
      return true;
    }
  return false;
}

/// Whether the profile's 8-bit add is Ember's exact add (one rounding of
/// the exact sum) rather than TFLite's rescaled form or float32's.
inline bool exactAdd(RequantProfile p) { return p == RequantProfile::Fixed; }

/// Whether the profile requantizes with an integer multiplier and shift
/// (every profile but float32, which multiplies in float).
inline bool fixedPointRequant(RequantProfile p) {
  return p != RequantProfile::Float32;
}

/// Whether the profile's rescales are gemmlowp's two roundings (a doubling
/// high multiply, then a rounding divide by a power of two) rather than
/// mbqm's one: a Requantize then names the profile.
inline bool doublingRescale(RequantProfile p) {
  return p == RequantProfile::Gemmlowp;
}

/// Whether the profile's 8-bit add saturates to 16 bits between steps
/// (sat16: its rescaled inputs and their sum).
inline bool saturates16(RequantProfile p) { return p == RequantProfile::Sat16; }

} // namespace ember::quant

#endif // EMBER_QUANT_PROFILE_H

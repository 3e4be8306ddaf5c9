// Calibration methods: the range [lo, hi] a tensor's quantization covers,
// chosen from its histogram; and the scale / zero point of a range.
// docs/quantization.md ("Calibration methods") explains each.
#pragma once

#include "quant/Histogram.h"

#include <string>
#include <vector>

namespace ember::quant {

// Auto: the quantizer's default, resolved per model before any range is
// chosen (QuantizeRun::load: minmax for a graph with attention, percentile
// otherwise); chooseRange takes it as percentile.
enum class Method { MinMax, Percentile, Entropy, Mse, Auto };

// "minmax" | "percentile" | "entropy" | "mse" | "auto".
Expected<Method> methodFromName(const std::string &s);
const char *methodName(Method m);

struct MethodOptions {
  // Percentile: the fraction of values kept inside the range, per side.
  double percentile = 99.999;
  // Number of quantization levels of the target type (256 for 8 bits).
  int levels = 256;
};

struct Range {
  double lo = 0, hi = 0;
};

// The range to quantize a tensor to. It always contains 0 (so the real zero
// is exact) and lies within [min, max] extended to 0.
Range chooseRange(const Histogram &h, Method m, const MethodOptions &o = {});

// Expected squared quantization error of the histogram's values for an
// asymmetric `levels`-level grid over [lo, hi] (rounding inside the range,
// clipping outside); the MSE method's objective.
double quantizationError(const Histogram &h, double lo, double hi, int levels);

// Asymmetric affine parameters of an integer type with values [qmin, qmax].
struct QParams {
  QParams() = default;
  QParams(float s, int32_t z) : scale(s), zeroPoint(z) {}
  float scale = 1;
  int32_t zeroPoint = 0;
  // Per-channel activation parameters (docs/quantization.md, "Per-channel
  // activations"): one scale per channel along axis 1, the one zeroPoint
  // for all; empty: per tensor (scale). `scale` stays the per-tensor scale
  // they refine (no channel's is coarser).
  std::vector<float> channelScales;
};
QParams affineParams(Range r, int32_t qmin, int32_t qmax);
// Symmetric (zero point 0) parameters covering [-absMax, absMax] with
// [-qmax, qmax].
QParams symmetricParams(double absMax, int32_t qmax);

} // namespace ember::quant

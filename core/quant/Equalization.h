// Cross-layer equalization (Nagel et al., "Data-Free Quantization Through
// Weight Equalization and Bias Correction", ICCV 2019). For two
// convolutions in a row, conv1 -> f -> conv2 with f positively homogeneous
// (f(x / s) = f(x) / s for s > 0: none, Relu, LeakyRelu), output channel c
// of conv1 is divided by s_c and input channel c of conv2 multiplied by
// s_c, which leaves the function unchanged. s_c = sqrt(r1_c / r2_c), r1_c
// the range of conv1's channel c weights and r2_c that of conv2's weights
// reading channel c, makes both ranges sqrt(r1_c r2_c): channels whose
// weights were tiny next to their neighbours' (typical of depthwise
// convolutions) no longer lose their precision to a shared scale.
#pragma once

#include "quant/OnnxModel.h"

namespace ember::quant {

struct EqualizationOptions {
  int maxSweeps = 20;      // passes over all pairs
  double tolerance = 1e-3; // stop when no scale moves more than this
  // Also equalize through Clip(0, hi) (ReLU6), as Nagel et al. do, by
  // replacing it with Relu. This changes the fp32 function where the clip
  // bound is reached; off by default.
  bool clipAsRelu = false;
};

struct EqualizationStats {
  size_t pairs = 0; // layer pairs rescaled
  int sweeps = 0;
};

// Rescales the weights (and conv1's bias) of every eligible pair in place.
Expected<EqualizationStats>
equalizeCrossLayer(onnx::ModelProto &m, const EqualizationOptions &o = {});

} // namespace ember::quant

// `ember quantize` as a library call: fp32 ONNX model + calibration data (or
// a saved profile) in, standard ONNX QDQ model out. The steps, each in its
// own file of core/quant: opset upgrade (OnnxModel), cross-layer
// equalization (Equalization), the plan (QdqPlan), calibration
// (Calibration, Histogram, Profile), range choice (RangeMethods), the
// rewrite with bias correction (QdqRewrite), and the sensitivity report and
// automatic mixed precision (Sensitivity). docs/quantization.md describes
// them.
#pragma once

#include "quant/Calibration.h"
#include "quant/MixedPrecision.h"
#include "quant/RangeMethods.h"

#include <ostream>
#include <set>
#include <string>

namespace ember::quant {

struct QuantizeOptions {
  std::string model, output;
  std::string calibrationDir; // empty when profileIn is set
  std::string profileIn, profileOut;
  // Auto: minmax for a graph with attention (hasAttention), and no range
  // refinement unless refineGiven; else percentile. Resolved when the
  // model is loaded.
  Method method = Method::Auto;
  MethodOptions methodOptions;
  bool perChannel = true;
  // Per-channel scales for the 8-bit activations that take them at no cost
  // (a conv's output read only by depthwise convs: perChannelCandidates),
  // from each channel's calibrated maximum, capped by the tensor's chosen
  // range (docs/quantization.md, "Per-channel activations").
  bool perChannelActivations = true;
  // U8 or I8; I16: every activation int16, symmetric (16x8).
  ElemKind activationType = ElemKind::U8;
  // Mixed precision: each activation 8- or 16-bit, chosen by measurement
  // within mixedBudget x the all-int8 model's predicted NPU cycles (0: off;
  // MixedPrecision.h). npuCost predicts the cycles (the tool supplies it).
  double mixedBudget = 0;
  NodeCostFn npuCost;
  // Runs a QDQ model on the NPU's timed model (empty: the cost model alone).
  NodeMeasureFn npuMeasure;
  std::vector<std::string> keepFloat;
  bool equalize = true;
  // Equalize through Clip(0, hi) too, replacing it with Relu (Nagel et
  // al.'s ReLU6 treatment; changes the fp32 function where the clip binds).
  bool equalizeClip = false;
  // Activation equalization (ActEqualization.h) with this strength alpha in
  // [0, 1]; 0: off. Needs calibration samples or a profile holding the
  // per-channel ranges.
  double actEqualize = 0;
  bool actEqRaise = false;  // also raise the channels below the median
  bool actEqLinear = false; // also conv -> conv pairs with no activation
  // Residual-stream equalization (ResidualEqualization.h) with this
  // strength alpha in [0, 1]; 0: off. Shares the pre-pass (and the
  // profile's per-channel ranges) with activation equalization.
  double resEqualize = 0;
  bool biasCorrection = true;
  // Layer-wise refinement (Refine.h) on the first refineSamples samples:
  // output-error ranges for Linear inputs (on: it helped on both held-out
  // splits of MobileNetV2 and SqueezeNet); bias correction of the input's
  // quantization error (off: mixed). Needs calibration samples
  // (docs/quantization.md, "Layer-wise refinement").
  bool refineRanges = true;
  // Whether refineRanges was chosen (--refine); if not, method Auto turns
  // it off for a graph with attention (no clipped ranges there).
  bool refineGiven = false;
  bool refineBias = false;
  size_t refineSamples = 16;
  bool report = false;
  // Automatic mixed precision: keep the most sensitive layers float until
  // the model outputs' SQNR against fp32 reaches targetSqnr dB (0: off),
  // at most maxFloat layers.
  double targetSqnr = 0;
  size_t maxFloat = 8;
  size_t maxSamples = 0;   // calibration samples used (0: all)
  size_t evalSamples = 16; // samples the report and auto mode evaluate on
  RunOptions run;
  ProgressFn progress;
  std::ostream *log = nullptr; // notes and the report
};

Status quantizeModel(const QuantizeOptions &o);

// Whether the graph has attention (a Softmax, and a MatMul of two computed
// activations): method Auto is minmax for it.
bool hasAttention(const onnx::GraphProto &g);

// The tensors a normalization reads (LayerNormalization, a decomposed
// LayerNorm or RMSNorm): their ranges are never clipped.
std::set<std::string> normalizedTensors(const onnx::GraphProto &g);

} // namespace ember::quant

// Per-layer choice between 8- and 16-bit activations (`ember quantize
// --mixed-precision BUDGET`, docs/quantization.md "Mixed precision: 8 or
// 16 bits per layer"): measured sensitivity against predicted NPU cycles (a
// layer reading a 16-bit activation costs twice its int8 cycles). The
// sensitivity of an activation is output-referred: the noise the model
// outputs carry when that activation alone is quantized to 8 bits (the
// rest fp32), measured on calibration samples with one compiled probe
// model; the set removing the most of it (greedy by noise per cycle, or a
// knapsack) within BUDGET x the all-int8 model's cycles.
#pragma once

#include "quant/RangeMethods.h"
#include "quant/Sensitivity.h"

#include <functional>
#include <ostream>
#include <set>

namespace ember::quant {

// Predicted device cycles per ONNX node name of a QDQ model (the NPU cost
// model through a plugin's estimate_cost; the tool supplies it, core never
// names a backend). Nodes the device does not run are absent.
using NodeCostFn = std::function<Expected<std::map<std::string, double>>(
    const onnx::ModelProto &)>;

// The QDQ model with the given plan roots held as int16.
using WideBuildFn =
    std::function<Expected<onnx::ModelProto>(const std::set<std::string> &)>;

struct MixedPrecisionOptions {
  double budget = 1.3;     // predicted cycles at most budget x all-int8's
  size_t evalSamples = 16; // the all-int8 and chosen models' output SQNR
  size_t rankSamples = 8;  // the output-referred ranking (one run each
                           // per activation tensor)
  RunOptions run;
  std::ostream *log = nullptr;
};

struct MixedPrecisionResult {
  onnx::ModelProto model;
  std::set<std::string> wide; // plan roots held as int16
  double baseCycles = 0, cycles = 0;
  double int8Sqnr = 0, outputSqnr = 0;
};

// The relative cost of a group that reads a 16-bit activation: a 16x8
// layer runs at half the int8 MAC rate (docs/npu-architecture.md, spec
// version 3), and a 16-bit elementwise op moves twice the bytes.
constexpr double kWideCostFactor = 2.0;

// Predicted cycles of the plan with roots `wide` held as int16, from the
// all-int8 model's per-node cycles: each group reading a wide activation
// costs kWideCostFactor times its int8 cycles.
double predictCycles(const onnx::GraphProto &g, const QdqPlan &plan,
                     const std::map<std::string, double> &nodeCycles,
                     const std::set<std::string> &wide);

// The relative noise each root's own 8-bit quantization (params8, in [qmin,
// qmax]; QuantizeLinear then DequantizeLinear) puts on its fp32 values,
// sum (x - DQ(Q(x)))^2 / sum x^2 over the first n samples: what the tensor
// loses, not what of it reaches the output.
Expected<std::map<std::string, double>> tensorNoise(
    const onnx::ModelProto &fp32, const std::map<std::string, QParams> &params8,
    int32_t qmin, int32_t qmax, const std::vector<Sample> &samples,
    const std::vector<InputDecl> &inputs, size_t n, const RunOptions &run);

// Output-referred sensitivity of every root in params8: the relative noise
// power of the model outputs (sum over outputs of sum (y - y_fp32)^2 / sum
// y_fp32^2, over the first n samples) when that root and the tensors
// sharing its parameters alone are quantized to 8 bits, every other tensor
// fp32. One probe model is compiled: the fp32 graph with each planned
// tensor x replaced by x + m_r (DQ(Q(x)) - x), m_r a 0/1 graph input per
// root r; each root costs one run per sample.
Expected<std::map<std::string, double>>
outputNoise(const onnx::ModelProto &fp32, const QdqPlan &plan,
            const std::map<std::string, QParams> &params8, int32_t qmin,
            int32_t qmax, const std::vector<Sample> &samples,
            const std::vector<InputDecl> &inputs, size_t n,
            const RunOptions &run);

// The roots to hold as int16, maximizing the noise removed (the sum of
// their `noise`) while the predicted cycles stay within `limit`: the better
// of a greedy choice by noise removed per cycle added (roots costing
// nothing first, ties by name) and a 0/1 knapsack on each root's own extra
// cycles filled up greedily. Roots absent from `noise` stay 8-bit.
std::set<std::string>
chooseWide(const onnx::GraphProto &g, const QdqPlan &plan,
           const std::map<std::string, double> &nodeCycles,
           const std::map<std::string, double> &noise, double limit);

// params8: the 8-bit parameters of every root, in [qmin, qmax].
Expected<MixedPrecisionResult> searchMixedPrecision(
    const onnx::ModelProto &fp32, const onnx::ModelProto &int8,
    const QdqPlan &plan, const std::map<std::string, QParams> &params8,
    int32_t qmin, int32_t qmax, const std::vector<Sample> &samples,
    const std::vector<InputDecl> &inputs,
    const std::map<std::string, std::string> &aliases, const NodeCostFn &cost,
    const WideBuildFn &build, const MixedPrecisionOptions &o);

} // namespace ember::quant

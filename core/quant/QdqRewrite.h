// The QDQ rewrite: an fp32 ONNX model, a plan (QdqPlan.h) and the chosen
// activation parameters in; a standard ONNX QDQ model out. Every node of
// the original graph is kept as it was; QuantizeLinear/DequantizeLinear
// pairs are added on the planned activations, and planned weights, biases
// and constants become integer initializers behind a DequantizeLinear.
#pragma once

#include "quant/QdqPlan.h"
#include "quant/RangeMethods.h"

#include <set>

namespace ember::quant {

struct RewriteOptions {
  ElemKind activationType = ElemKind::U8; // U8 or I8
  // Activation tensors (plan roots: tensors with their own parameters)
  // held as int16, symmetric (16x8; their params have zero point 0). Their
  // QuantizeLinear/DequantizeLinear are ONNX Runtime's com.microsoft ones,
  // which carry 16-bit types at any opset.
  std::set<std::string> wide;
  // Nagel et al.'s bias correction: subtract the expected output shift the
  // weight rounding causes, E[(W_q - W) x], from the bias (per output
  // channel, from the profile's per-channel input means).
  bool biasCorrection = true;
  // With biasCorrection: Linear input tensor -> per-channel mean error of
  // its quantization, E[Q(x) - x] (Refine.h); the output shift it causes,
  // W_q E[Q(x) - x], is subtracted too. Null or missing: weights only.
  const std::map<std::string, std::vector<double>> *inputErrorMeans = nullptr;
  // Written to the model's metadata_props ("ember.quantize").
  std::string description;
};

struct RewriteStats {
  size_t quantizedNodes = 0, qdqPairs = 0, weights = 0, biases = 0,
         correctedBiases = 0;
  // Quantized graph inputs: the name of their dequantized value.
  std::map<std::string, std::string> aliases;
};

// `params`: parameters of every plan tensor with its own parameters;
// `channelMeans`: per-channel means of Linear inputs (bias correction).
Expected<onnx::ModelProto>
rewriteQdq(const onnx::ModelProto &m, const QdqPlan &plan,
           const std::map<std::string, QParams> &params,
           const std::map<std::string, std::vector<double>> &channelMeans,
           const RewriteOptions &o, RewriteStats *stats = nullptr);

// The domain of 16-bit Q/DQ nodes.
constexpr const char *kQdq16Domain = "com.microsoft";

// Integer range of an activation type (u8, i8 or i16).
void activationRange(ElemKind k, int32_t &qmin, int32_t &qmax);

// Symmetric int8 weight quantization in [-127, 127], per channel along
// `axis` (-1: per tensor): the scales, and the integers.
struct QuantizedWeight {
  std::vector<float> scales; // one per channel (one when per tensor)
  Tensor q;                  // i8, the weight's shape
};
QuantizedWeight quantizeWeight(const Tensor &w, int axis);

} // namespace ember::quant

// Per-channel activation parameters (docs/quantization.md, "Per-channel
// activations"): the one rule of where an 8-bit activation tensor may carry
// a scale per channel (axis 1, one zero point shared by every channel).
// Such a tensor costs nothing in the integer forms: its writer's
// Requantize already scales each output channel by its own multiplier
// (s_x s_w[c] / s_y[c]), and a reader in which input channel c meets only
// the weights of the output channels of group c (a depthwise convolution)
// folds s_y[c] into its own per-channel multipliers and bias scale. The
// quantizer chooses such tensors by this rule (QdqPlan), and the lowering
// (IntegerPatterns) takes a per-channel tensor exactly where it allows it;
// anywhere else the tensor stays DequantizeLinear -> float op ->
// QuantizeLinear.
#pragma once

#include <cstdint>
#include <string_view>

namespace ember {

// The channel axis of a per-channel activation (NCHW).
constexpr int64_t kActivationChannelAxis = 1;

// Whether an op (ONNX op type) can write a per-channel activation: a
// convolution, whose requantization is per output channel.
inline bool writesPerChannelActivation(std::string_view op) {
  return op == "Conv";
}

// Whether an op can read one: a convolution with as many groups as input
// channels (depthwise, any channel multiplier), so that each output channel
// reads one input channel.
inline bool readsPerChannelActivation(std::string_view op, int64_t group,
                                      int64_t inChannels) {
  return op == "Conv" && inChannels > 0 && group == inChannels;
}

} // namespace ember

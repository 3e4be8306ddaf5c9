// Activation equalization: data-aware rescaling of the channels of an
// activation that one per-tensor quantization scale serves badly. For each
// `Conv -> Relu|Clip(0, hi) -> Conv` pair (Equalization.h's findConvPairs),
// the calibration samples give each channel's maximum m_c of the
// activation; channels above the median maximum M (over the channels that
// are ever positive) are divided by s_c = (m_c / M)^alpha in the first
// convolution (weights and bias) and multiplied back in the weights of the
// second. The activation's per-tensor range then covers the channels more
// evenly, and the weights, which take per-channel scales, absorb the
// dynamic range.
//
// Exact in fp32 for Relu (positively homogeneous). For Clip(0, hi) only
// channels whose calibration maximum is below hi (before and after the
// scaling) move: the clip becomes Clip(0, hi * s_c) for them, which
// differs from the original only on inputs where that channel exceeds hi,
// which no calibration sample did. A bound lo < 0 is treated alike.
//
// The scales depend on data, so the pass runs between a pre-pass over the
// calibration samples (measureChannelMaxima) and the graph hash, and the
// maxima are stored in the profile: `--profile` applies the same scales
// from it without the samples (docs/quantization.md, "Activation
// equalization").
#pragma once

#include "quant/Calibration.h"

namespace ember::quant {

struct ActEqualizationOptions {
  double alpha = 0.5; // 0: nothing moves; 1: every channel to the median
  // Also raise the channels below the median, by the same rule (s_c < 1).
  bool raiseSmall = false;
  // Also pairs with no activation, or a two-sided Clip(lo < 0, hi),
  // between the convolutions (a linear bottleneck feeding the next
  // expansion): a channel's size is max |x|.
  bool linearPairs = false;
};

// Per-channel minimum and maximum of a tensor over the samples.
struct ChannelRanges {
  std::vector<double> min, max;
};

// The median of v (the mean of the two middle values when even); v not
// empty.
double medianOf(std::vector<double> v);
// A channel's size max(|min_c|, |max_c|) for each channel into `mag`, and
// the median of the positive sizes (0 when none is). Activation and
// residual-stream equalization measure channels this way.
double channelMagnitudes(const ChannelRanges &r, std::vector<double> &mag);

struct ActEqualizationStats {
  size_t pairs = 0;    // pairs with at least one channel rescaled
  size_t channels = 0; // channels rescaled
};

// The tensors whose per-channel maxima the pass needs: what the second
// convolution of each pair reads (the activation's output), graph order.
std::vector<std::string>
actEqualizationTensors(const onnx::ModelProto &m,
                       const ActEqualizationOptions &o);

// Per-channel (axis 1) ranges of `tensors` over the samples, on the
// calibration target.
Expected<std::map<std::string, ChannelRanges>>
measureChannelRanges(const onnx::ModelProto &m,
                     const std::vector<std::string> &tensors,
                     const std::map<std::string, Dims> &shapes,
                     const std::vector<Sample> &samples, const RunOptions &o);

// Rescales every pair from the ranges (one entry per pair tensor, one
// value per channel; a missing or mis-sized entry is an error naming the
// tensor).
Expected<ActEqualizationStats>
equalizeActivations(onnx::ModelProto &m,
                    const std::map<std::string, ChannelRanges> &ranges,
                    const ActEqualizationOptions &o);

} // namespace ember::quant

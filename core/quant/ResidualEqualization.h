// Residual-stream equalization: data-aware rescaling of the channels of a
// residual stream, which no pair-wise rescaling (Equalization.h,
// ActEqualization.h) reaches because every tensor of it has several
// writers or readers.
//
// A residual stream is a connected set of tensors joined by `Add`s of two
// computed tensors (and by the elementwise nodes that keep a per-channel
// scale: Identity, Relu, LeakyRelu, and Clip with constant bounds lo <= 0 <
// hi), containing at least one Add, such that every tensor is
//   - written by a Conv with float initializer weights (and bias) read by it
//     alone (a "writer", MobileNetV2's projection convolutions), or by one
//     of the stream's own nodes;
//   - read only by the stream's own nodes and by Convs reading it as their
//     data input, with float initializer weights read by them alone and
//     reading every channel (a "reader", the next block's expansion);
//   - not a graph input or output.
// One scale s_c per channel is then shared by the whole stream: every
// writer's output channel c (weights, bias) is divided by s_c and every
// reader's weights reading channel c multiplied by it. Add, Identity, Relu
// and LeakyRelu commute with a positive per-channel scale, so this is exact
// in fp32. A Clip(lo, hi) becomes Clip(lo s_c, hi s_c) for channel c in
// effect (a zero bound stays zero), which differs from the original only
// where that channel's values reach a nonzero bound; a channel that reaches
// one on the calibration samples keeps s_c = 1, and no channel is scaled so
// far that it would reach one.
//
// The scales: for each tensor t of the stream and channel c, m_tc = max |x|
// over the calibration samples, normalized by the tensor's median channel
// (n_tc = m_tc / median_c m_tc); g_c = max_t n_tc is how far channel c
// stands out anywhere in the stream. With R the reference level (the
// largest g_c of the channels that must keep s_c = 1, else the median g_c),
// s_c = (g_c / R)^alpha: alpha 1 brings every channel to the reference,
// 0.5 halves the spread in log scale. Only relative scales matter to a
// per-tensor quantization, so channels below R are raised as well (the
// stream is linear: there is no activation bound to respect).
//
// The scales depend on data: the per-channel ranges come from the same
// pre-pass as activation equalization (measureChannelRanges) and are stored
// in the profile (docs/quantization.md, "Residual-stream equalization").
#pragma once

#include "quant/ActEqualization.h"

namespace ember::quant {

struct ResidualEqualizationOptions {
  double alpha = 0.5; // 0: nothing moves; 1: every channel to the reference
};

struct ResidualStream {
  std::vector<std::string> tensors; // graph order
  std::vector<int> writers;         // Conv nodes writing the stream
  std::vector<int> readers;         // Conv nodes reading it
  std::vector<int> clips;           // Clip nodes inside the stream
  int64_t channels = 0;
};

struct ResidualEqualizationStats {
  size_t streams = 0;  // streams with at least one channel rescaled
  size_t channels = 0; // channels rescaled (summed over streams)
};

// Every residual stream of the graph the pass can rescale, graph order.
std::vector<ResidualStream> findResidualStreams(const onnx::ModelProto &m);

// The tensors whose per-channel ranges the pass needs: every tensor of
// every stream.
std::vector<std::string> residualEqualizationTensors(const onnx::ModelProto &m);

// Rescales every stream from the ranges (one entry per stream tensor, one
// value per channel; a missing or mis-sized entry is an error naming the
// tensor).
Expected<ResidualEqualizationStats>
equalizeResidualStreams(onnx::ModelProto &m,
                        const std::map<std::string, ChannelRanges> &ranges,
                        const ResidualEqualizationOptions &o);

} // namespace ember::quant

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

#include <set>

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

// conv1 -> [act] -> conv2 where conv1's output (and act's) has no other
// reader, both weights (and conv1's bias) are float initializers read by
// that node alone, and conv2 reads all of conv1's channels (any group
// count). `activations` lists the op types allowed between them (none
// is always allowed); a Clip must have constant bounds lo <= 0 < hi.
struct ConvPair {
  int conv1 = -1, act = -1, conv2 = -1; // node indices; act -1: none
  std::string tensor;                   // what conv2 reads
  double clipLow = 0, clipHigh = 0;     // act is Clip(clipLow, clipHigh)
};
std::vector<ConvPair> findConvPairs(const onnx::ModelProto &m,
                                    const std::set<std::string> &activations);

// Divides conv1's output channel c (weights, bias when given) by s[c] and
// multiplies the weights of conv2 that read channel c by s[c]. groups2:
// conv2's group attribute.
void scaleConvPair(Tensor &w1, Tensor *b1, Tensor &w2, int64_t groups2,
                   const std::vector<double> &s);
// The two halves: a conv's output channel c (weights [C, ...], bias when
// given) divided by s[c]; a conv's weights [O, C/groups, ...] reading input
// channel c multiplied by s[c].
void divideOutputChannels(Tensor &w, Tensor *b, const std::vector<double> &s);
void multiplyInputChannels(Tensor &w, int64_t groups,
                           const std::vector<double> &s);
int64_t groupsOf(const onnx::NodeProto &n);
// Node `i` is a Conv whose weights (rank >= 3) and bias (when given) are
// float initializers read by it alone, so a pass may rescale them: its
// weights; else nullptr. Both findConvPairs and the residual-stream pass
// (ResidualEqualization.h) take a conv on this condition.
const onnx::TensorProto *rescalableConvWeights(const GraphIndex &ix, int i);

// Float copies of the conv weights (and biases) a data-aware pass rescales
// (ActEqualization.h, ResidualEqualization.h), read from the graph on first
// use; write() stores the changed ones back, so a pass that fails midway
// leaves the graph as it was.
class ConvRescale {
public:
  explicit ConvRescale(const GraphIndex &ix) : ix_(ix) {}
  // Conv node i's output channel c (weights, bias when given) divided by
  // s[c] (divideOutputChannels).
  Status divideOutputs(int i, const std::vector<double> &s);
  // Conv node i's weights reading input channel c multiplied by s[c]
  // (multiplyInputChannels).
  Status multiplyInputs(int i, const std::vector<double> &s);
  // Replaces the changed initializers of g, the graph ix indexes.
  void write(onnx::GraphProto &g) const;

private:
  Expected<Tensor *> load(const std::string &name);
  const GraphIndex &ix_;
  std::map<std::string, Tensor> w_;
};

// Rescales the weights (and conv1's bias) of every eligible pair in place.
Expected<EqualizationStats>
equalizeCrossLayer(onnx::ModelProto &m, const EqualizationOptions &o = {});

} // namespace ember::quant

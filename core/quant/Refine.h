// Layer-wise refinement, after the histogram methods have chosen every
// range: a second pass over some of the calibration samples that
//  - re-chooses the range of each Linear layer's input to minimize the
//    error of the layer's OUTPUT (the input's quantization error weighted
//    per channel by how much of it the layer's weights pass on), instead of
//    the tensor's own error;
//  - measures, per input channel, the mean error the input's quantization
//    causes, E[Q(x) - x], so bias correction removes the output shift of
//    the quantized input as well as that of the rounded weights.
// docs/quantization.md ("Layer-wise refinement") explains both and what
// they bought (`ember quantize --refine`; ranges on by default).
#pragma once

#include "quant/Calibration.h"
#include "quant/QdqPlan.h"
#include "quant/RangeMethods.h"

#include <set>

namespace ember::quant {

struct RefineOptions {
  bool searchRanges = true;    // output-error range of Linear inputs
  bool inputErrorMeans = true; // E[Q(x) - x] per channel, for bias correction
  size_t maxSamples = 16;      // the first N calibration samples
  ElemKind activationType = ElemKind::U8;
  // Tensors whose range must not change (the unclipped ones).
  std::set<std::string> fixedRanges;
  RunOptions run;
};

struct RefineResult {
  std::map<std::string, QParams> params; // all parameters, updated
  // Linear input tensor -> per-channel E[Q(x) - x].
  std::map<std::string, std::vector<double>> inputErrorMeans;
  size_t searched = 0, changed = 0, samples = 0;
};

Expected<RefineResult>
refineLayers(const onnx::ModelProto &m, const QdqPlan &plan,
             const std::map<std::string, QParams> &params, const Profile &prof,
             const std::vector<Sample> &samples, const RefineOptions &o);

// The share of a Linear node's output error that each of its input
// channels' errors causes, for independent errors of equal variance: the
// sum of the squared weights reading the channel, normalized to sum 1.
// Conv (any group count), MatMul and Gemm with a constant weight. Empty
// when the shapes do not fit.
std::vector<double> outputErrorWeights(const onnx::NodeProto &n,
                                       const Tensor &w, int64_t channels);

// A histogram of a tensor's values with a weight per value (channel), on a
// fixed grid, and the range minimizing its weighted quantization error.
class WeightedHistogram {
public:
  WeightedHistogram(double lo, double hi, int bins);
  void add(const float *x, int64_t n, double weight);
  // The range [lo, hi] (containing 0, edges of the grid) minimizing the
  // expected squared error of an asymmetric `levels`-level grid: values
  // outside cost their distance to the end; inside, values within half a
  // step of zero (they round to the exact zero) cost their square, the
  // others step^2 / 12; exact zeros nothing.
  Range bestRange(int levels) const;
  double error(double lo, double hi, int levels) const;

private:
  double lo_, width_;
  std::vector<double> n_, s_, s2_;
};

} // namespace ember::quant

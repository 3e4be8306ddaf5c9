// A calibration profile, Glow style: per tensor its min, max and histogram
// (and, for the inputs of Conv/MatMul/Gemm, the per-channel mean that bias
// correction needs), tied to the graph it was measured on by a hash.
// `ember quantize --profile-out` writes one; `--profile` quantizes from it
// without recalibrating and refuses one whose hash does not match. The JSON
// format is documented in docs/quantization.md ("The profile").
#pragma once

#include "ir/Type.h"
#include "quant/Histogram.h"

#include <map>
#include <string>
#include <vector>

namespace ember::quant {

struct TensorStats {
  Histogram hist;
  // Per-channel sums along channelAxis (-1: none) and the number of values
  // summed per channel.
  int channelAxis = -1;
  std::vector<double> channelSum;
  uint64_t perChannel = 0;
  // Per-channel minimum and maximum along channelAxis (per-channel
  // activation parameters, docs/quantization.md); empty in a profile
  // written before they were recorded.
  std::vector<double> channelMin, channelMax;
  // Per channel, the sum and the sum of squares of the per-image maxima
  // (an image: one index of the dims before channelAxis) over
  // channelImages images: how far an image the calibration has not seen
  // may reach (channelReach). Empty in a profile written before they were
  // recorded.
  std::vector<double> channelMaxSum, channelMaxSq;
  uint64_t channelImages = 0;

  // The upper bound of a 99.9% prediction interval for channel c's maximum
  // on one more image, from the per-image maxima taken as normal (Student's
  // t with channelImages - 1 degrees of freedom), never below channelMax;
  // infinite before two images.
  double channelReach(size_t c) const;

  // Accumulates one tensor (float32 values, already checked finite).
  void add(const float *x, const Dims &dims);
  void merge(const TensorStats &o);
  std::vector<double> channelMean() const;
};

struct Profile {
  static constexpr int kVersion = 1;
  std::string graphHash;  // graphHash() of the calibrated graph
  std::string model;      // the model file (information only)
  std::string preprocess; // graph changes made before calibration
  uint64_t samples = 0;
  std::map<std::string, Dims> inputShapes; // shapes calibrated with
  std::map<std::string, TensorStats> tensors;
  // Per-channel ranges measured on the graph BEFORE activation
  // equalization (ActEqualization.h), which derives its scales from them;
  // empty when it did not run. The graph hash is that of the equalized
  // graph.
  struct Channels {
    std::vector<double> min, max;
  };
  std::map<std::string, Channels> channelRanges;
};

std::string profileToJson(const Profile &p);
// `where` names the file for messages.
Expected<Profile> profileFromJson(const std::string &text,
                                  const std::string &where);

} // namespace ember::quant

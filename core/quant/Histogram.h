// Streaming statistics of one float tensor over a calibration run: exact
// min, max and count, the number of exact zeros, and a histogram whose bins
// all have one power-of-two width w and are aligned at zero (bin i covers
// [i*w, (i+1)*w)). When a value falls outside the at most kMaxBins bins, w
// doubles and neighbouring bins merge, which is exact, so the histogram
// never needs a second pass over the data and two histograms of the same
// tensor merge exactly (docs/quantization.md, "The profile").
#pragma once

#include "support/Error.h"

#include <cstdint>
#include <vector>

namespace ember::quant {

class Histogram {
public:
  static constexpr int64_t kMaxBins = 2048;

  // Adds finite values (the caller rejects NaN and infinities).
  void add(const float *x, int64_t n);
  void merge(const Histogram &o);

  bool empty() const { return count_ == 0; }
  double min() const { return min_; }
  double max() const { return max_; }
  uint64_t count() const { return count_; }
  uint64_t zeros() const { return zeros_; }
  double binWidth() const { return width_; }
  int64_t firstBin() const { return first_; }
  const std::vector<uint64_t> &counts() const { return counts_; }
  // Lower edge of bin i of counts() (i counted from firstBin()).
  double binLo(size_t i) const { return double(first_ + int64_t(i)) * width_; }

  // The value below which a fraction q of the values lie (linear inside a
  // bin, clamped to [min, max]).
  double quantile(double q) const;

  // Restores a histogram written to a profile; checks consistency.
  static Expected<Histogram> fromParts(double min, double max, uint64_t count,
                                       uint64_t zeros, double width,
                                       int64_t first,
                                       std::vector<uint64_t> counts);

private:
  void coarsen();
  // Grows the bin range to cover bins [lo, hi] (in units of width_).
  void cover(int64_t lo, int64_t hi);

  double min_ = 0, max_ = 0, width_ = 0;
  uint64_t count_ = 0, zeros_ = 0;
  int64_t first_ = 0;
  std::vector<uint64_t> counts_;
};

} // namespace ember::quant

#include "quant/Histogram.h"

#include <algorithm>
#include <cmath>

namespace ember::quant {

namespace {
int64_t floorDiv2(int64_t i) { return i >= 0 ? i / 2 : -((-i + 1) / 2); }
} // namespace

void Histogram::coarsen() {
  int64_t newFirst = floorDiv2(first_);
  int64_t last = first_ + int64_t(counts_.size()) - 1;
  int64_t newLast = floorDiv2(last);
  std::vector<uint64_t> c(size_t(newLast - newFirst + 1), 0);
  for (size_t i = 0; i < counts_.size(); ++i)
    c[size_t(floorDiv2(first_ + int64_t(i)) - newFirst)] += counts_[i];
  counts_ = std::move(c);
  first_ = newFirst;
  width_ *= 2;
}

void Histogram::cover(int64_t lo, int64_t hi) {
  int64_t last = first_ + int64_t(counts_.size()) - 1;
  int64_t nlo = std::min(lo, first_), nhi = std::max(hi, last);
  if (nlo == first_ && nhi == last)
    return;
  std::vector<uint64_t> c(size_t(nhi - nlo + 1), 0);
  std::copy(counts_.begin(), counts_.end(), c.begin() + (first_ - nlo));
  counts_ = std::move(c);
  first_ = nlo;
}

void Histogram::add(const float *x, int64_t n) {
  if (n <= 0)
    return;
  float lo = x[0], hi = x[0];
  uint64_t zeros = 0;
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
    zeros += x[i] == 0.0f;
  }
  if (count_ == 0) {
    // The finest power-of-two width that spans the first batch.
    double extent =
        std::max(double(hi) - double(lo),
                 std::max(std::fabs(double(lo)), std::fabs(double(hi))) * 1e-6);
    if (extent <= 0)
      extent = 1e-6;
    width_ = std::ldexp(
        1.0, int(std::ceil(std::log2(extent / double(kMaxBins - 2)))));
    first_ = int64_t(std::floor(double(lo) / width_));
    counts_.assign(1, 0);
    min_ = lo;
    max_ = hi;
  }
  min_ = std::min(min_, double(lo));
  max_ = std::max(max_, double(hi));
  while (true) {
    int64_t blo = int64_t(std::floor(double(lo) / width_));
    int64_t bhi = int64_t(std::floor(double(hi) / width_));
    int64_t last = first_ + int64_t(counts_.size()) - 1;
    if (std::max(bhi, last) - std::min(blo, first_) + 1 <= kMaxBins) {
      cover(blo, bhi);
      break;
    }
    coarsen();
  }
  const double inv = 1.0 / width_; // exact: width_ is a power of two
  const int64_t nb = int64_t(counts_.size());
  uint64_t *c = counts_.data();
  for (int64_t i = 0; i < n; ++i) {
    int64_t b = int64_t(std::floor(double(x[i]) * inv)) - first_;
    b = b < 0 ? 0 : (b >= nb ? nb - 1 : b);
    ++c[b];
  }
  count_ += uint64_t(n);
  zeros_ += zeros;
}

void Histogram::merge(const Histogram &o) {
  if (o.count_ == 0)
    return;
  if (count_ == 0) {
    *this = o;
    return;
  }
  Histogram b = o;
  while (b.width_ < width_)
    b.coarsen();
  while (width_ < b.width_)
    coarsen();
  while (true) {
    int64_t lo = std::min(first_, b.first_);
    int64_t hi = std::max(first_ + int64_t(counts_.size()),
                          b.first_ + int64_t(b.counts_.size())) -
                 1;
    if (hi - lo + 1 <= kMaxBins)
      break;
    coarsen();
    b.coarsen();
  }
  cover(b.first_, b.first_ + int64_t(b.counts_.size()) - 1);
  for (size_t i = 0; i < b.counts_.size(); ++i)
    counts_[size_t(b.first_ - first_) + i] += b.counts_[i];
  min_ = std::min(min_, b.min_);
  max_ = std::max(max_, b.max_);
  count_ += b.count_;
  zeros_ += b.zeros_;
}

double Histogram::quantile(double q) const {
  if (count_ == 0)
    return 0;
  if (q <= 0)
    return min_;
  if (q >= 1)
    return max_;
  double target = q * double(count_), acc = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    double c = double(counts_[i]);
    if (acc + c >= target && c > 0) {
      double lo = std::max(binLo(i), min_);
      double hi = std::min(binLo(i) + width_, max_);
      double v = lo + (hi - lo) * (target - acc) / c;
      return std::clamp(v, min_, max_);
    }
    acc += c;
  }
  return max_;
}

Expected<Histogram> Histogram::fromParts(double min, double max, uint64_t count,
                                         uint64_t zeros, double width,
                                         int64_t first,
                                         std::vector<uint64_t> counts) {
  Histogram h;
  if (count == 0)
    return h;
  int e = 0;
  if (!(width > 0) || std::frexp(width, &e) != 0.5)
    return invalid("histogram bin width ", width, " is not a power of two");
  if (counts.empty() || int64_t(counts.size()) > kMaxBins)
    return invalid("histogram has ", counts.size(), " bins (1 to ", kMaxBins,
                   " expected)");
  uint64_t total = 0;
  for (uint64_t c : counts)
    total += c;
  if (total != count || zeros > count)
    return invalid("histogram counts add up to ", total, ", not ", count);
  if (!(min <= max) || min < double(first) * width ||
      max >= double(first + int64_t(counts.size())) * width)
    return invalid("histogram range [", min, ", ", max,
                   "] does not fit its bins");
  h.min_ = min;
  h.max_ = max;
  h.count_ = count;
  h.zeros_ = zeros;
  h.width_ = width;
  h.first_ = first;
  h.counts_ = std::move(counts);
  return h;
}

} // namespace ember::quant

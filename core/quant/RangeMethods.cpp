#include "quant/RangeMethods.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ember::quant {

Expected<Method> methodFromName(const std::string &s) {
  if (s == "minmax")
    return Method::MinMax;
  if (s == "percentile")
    return Method::Percentile;
  if (s == "entropy")
    return Method::Entropy;
  if (s == "mse")
    return Method::Mse;
  if (s == "auto")
    return Method::Auto;
  return invalid("unknown calibration method '", s,
                 "' (expected minmax, percentile, entropy, mse or auto)");
}

const char *methodName(Method m) {
  switch (m) {
  case Method::MinMax:
    return "minmax";
  case Method::Percentile:
    return "percentile";
  case Method::Entropy:
    return "entropy";
  case Method::Mse:
    return "mse";
  case Method::Auto:
    return "auto";
  }
  return "?";
}

namespace {

Range withZero(double lo, double hi) {
  return {std::min(lo, 0.0), std::max(hi, 0.0)};
}

// Magnitudes |x| in bins of the histogram's width from 0: folding the
// negative bins onto the positive ones is exact because bins are aligned at
// zero.
std::vector<double> magnitudes(const Histogram &h) {
  std::vector<double> m;
  for (size_t i = 0; i < h.counts().size(); ++i) {
    int64_t b = h.firstBin() + int64_t(i);
    int64_t k = b >= 0 ? b : -(b + 1);
    if (size_t(k) >= m.size())
      m.resize(size_t(k) + 1, 0.0);
    m[size_t(k)] += double(h.counts()[i]);
  }
  return m;
}

// TensorRT's KL-divergence threshold over a histogram of magnitudes: the
// number of bins i minimizing KL(P || Q), P the first i bins with the tail
// folded into the last, Q those bins merged into `levels` and spread back
// over their non-empty bins.
size_t klThresholdBins(const std::vector<double> &hist, int levels) {
  size_t n = hist.size();
  while (n > 0 && hist[n - 1] == 0)
    --n;
  if (n <= size_t(levels))
    return n;
  std::vector<double> tail(n + 1, 0.0);
  for (size_t i = n; i-- > 0;)
    tail[i] = tail[i + 1] + hist[i];
  double best = std::numeric_limits<double>::infinity();
  size_t bestI = n;
  std::vector<double> p, q;
  for (size_t i = size_t(levels); i <= n; ++i) {
    p.assign(hist.begin(), hist.begin() + long(i));
    p[i - 1] += tail[i];
    q.assign(i, 0.0);
    // Merge bins [0, i) into `levels` chunks.
    for (int l = 0; l < levels; ++l) {
      size_t a = size_t(double(l) * double(i) / levels);
      size_t b = size_t(double(l + 1) * double(i) / levels);
      if (l == levels - 1)
        b = i;
      double sum = 0;
      size_t nz = 0;
      for (size_t k = a; k < b; ++k) {
        sum += hist[k];
        nz += hist[k] != 0;
      }
      if (nz == 0)
        continue;
      for (size_t k = a; k < b; ++k)
        if (hist[k] != 0)
          q[k] = sum / double(nz);
    }
    double ps = 0, qs = 0;
    for (size_t k = 0; k < i; ++k) {
      ps += p[k];
      qs += q[k];
    }
    if (ps <= 0 || qs <= 0)
      continue;
    double kl = 0;
    for (size_t k = 0; k < i; ++k) {
      if (p[k] == 0)
        continue;
      double pk = p[k] / ps;
      double qk = q[k] / qs;
      // A P mass where Q has none (the folded tail's bin): smoothed.
      kl += pk * std::log(pk / std::max(qk, 1e-12));
    }
    if (kl < best) {
      best = kl;
      bestI = i;
    }
  }
  return bestI;
}

// Prefix sums of counts, count*x and count*x^2 over bin centres.
struct Moments {
  std::vector<double> c, s, s2; // size bins+1
};
Moments prefixMoments(const Histogram &h) {
  Moments m;
  size_t n = h.counts().size();
  m.c.assign(n + 1, 0);
  m.s.assign(n + 1, 0);
  m.s2.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    double x = h.binLo(i) + 0.5 * h.binWidth();
    double c = double(h.counts()[i]);
    m.c[i + 1] = m.c[i] + c;
    m.s[i + 1] = m.s[i] + c * x;
    m.s2[i + 1] = m.s2[i] + c * x * x;
  }
  return m;
}

double errorWith(const Histogram &h, const Moments &m, double lo, double hi,
                 int levels) {
  double w = h.binWidth();
  size_t n = h.counts().size();
  auto index = [&](double v) {
    double f = std::floor(v / w) - double(h.firstBin());
    return size_t(std::clamp(f, 0.0, double(n)));
  };
  size_t a = index(lo), b = index(hi);
  if (b < a)
    b = a;
  // Values below lo (bins [0, a)) clip to lo, above hi (bins [b, n)) to hi.
  double below = m.s2[a] - 2 * lo * m.s[a] + lo * lo * m.c[a];
  double cb = m.c[n] - m.c[b], sb = m.s[n] - m.s[b], s2b = m.s2[n] - m.s2[b];
  double above = s2b - 2 * hi * sb + hi * hi * cb;
  double scale = (hi - lo) / double(levels - 1);
  // Inside: rounding error of a uniform value is scale^2/12; exact zeros are
  // represented exactly.
  double inside = std::max(m.c[b] - m.c[a] - double(h.zeros()), 0.0);
  return below + above + inside * scale * scale / 12.0;
}

} // namespace

double quantizationError(const Histogram &h, double lo, double hi, int levels) {
  if (h.empty())
    return 0;
  return errorWith(h, prefixMoments(h), lo, hi, levels) / double(h.count());
}

Range chooseRange(const Histogram &h, Method m, const MethodOptions &o) {
  if (h.empty())
    return {0, 0};
  double mn = h.min(), mx = h.max();
  switch (m) {
  case Method::MinMax:
    return withZero(mn, mx);
  case Method::Percentile:
  case Method::Auto: { // (resolved before ranges are chosen)
    double p = std::clamp(o.percentile / 100.0, 0.5, 1.0);
    double lo = mn >= 0 ? mn : h.quantile(1 - p);
    double hi = mx <= 0 ? mx : h.quantile(p);
    return withZero(lo, hi);
  }
  case Method::Entropy: {
    std::vector<double> mag = magnitudes(h);
    // Exact zeros (half of a post-ReLU tensor) are represented exactly
    // whatever the range; left in, their spike in the first bin makes every
    // merged candidate look bad and drives the threshold to its minimum.
    if (!mag.empty())
      mag[0] = std::max(0.0, mag[0] - double(h.zeros()));
    bool oneSided = mn >= 0 || mx <= 0;
    // A one-sided tensor uses every level on its side; a two-sided one
    // half of them per side.
    int levels = oneSided ? o.levels : o.levels / 2;
    size_t bins = klThresholdBins(mag, levels);
    double t = double(bins) * h.binWidth();
    return withZero(std::max(mn, -t), std::min(mx, t));
  }
  case Method::Mse: {
    Moments mom = prefixMoments(h);
    double lo0 = std::min(mn, 0.0), hi0 = std::max(mx, 0.0);
    const int steps = 128;
    Range best = withZero(mn, mx);
    double bestErr = errorWith(h, mom, best.lo, best.hi, o.levels);
    // Shrink each side independently over a grid of fractions of its
    // extent (one side only when the tensor is one-sided).
    int loSteps = lo0 < 0 ? steps : 1, hiSteps = hi0 > 0 ? steps : 1;
    for (int i = 0; i < loSteps; ++i) {
      double lo = lo0 * (1.0 - double(i) / steps);
      for (int j = 0; j < hiSteps; ++j) {
        double hi = hi0 * (1.0 - double(j) / steps);
        if (hi - lo <= 0)
          continue;
        double e = errorWith(h, mom, lo, hi, o.levels);
        if (e < bestErr) {
          bestErr = e;
          best = {lo, hi};
        }
      }
    }
    return best;
  }
  }
  return withZero(mn, mx);
}

QParams affineParams(Range r, int32_t qmin, int32_t qmax) {
  double lo = std::min(r.lo, 0.0), hi = std::max(r.hi, 0.0);
  QParams p;
  if (!(hi > lo)) {
    p.scale = 1.0f;
    p.zeroPoint = std::clamp(0, qmin, qmax);
    return p;
  }
  p.scale = float((hi - lo) / double(qmax - qmin));
  if (!(p.scale > 0) || !std::isfinite(p.scale))
    p.scale = std::numeric_limits<float>::min();
  double zp = std::nearbyint(double(qmin) - lo / double(p.scale));
  p.zeroPoint = int32_t(std::clamp(zp, double(qmin), double(qmax)));
  return p;
}

QParams symmetricParams(double absMax, int32_t qmax) {
  QParams p;
  p.zeroPoint = 0;
  p.scale = absMax > 0 ? float(absMax / double(qmax)) : 1.0f;
  if (!(p.scale > 0) || !std::isfinite(p.scale))
    p.scale = std::numeric_limits<float>::min();
  return p;
}

} // namespace ember::quant

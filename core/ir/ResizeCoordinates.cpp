#include "ir/ResizeCoordinates.h"

#include <algorithm>
#include <cmath>

namespace ember {

double resizeSourceCoord(const ResizeAttrs &a, int64_t y, double scale,
                         int64_t inW, int64_t outW, double roi0, double roi1,
                         bool &extrap) {
  extrap = false;
  double outWf = scale * double(inW);
  double yd = double(y);
  const std::string &m = a.ctm;
  if (m == "align_corners")
    return outWf == 1 ? 0.0 : yd * double(inW - 1) / (outWf - 1);
  if (m == "asymmetric")
    return yd / scale;
  if (m == "tf_half_pixel_for_nn") // Resize-11 only (nearest)
    return (yd + 0.5) / scale;
  if (m == "tf_crop_and_resize") {
    double x = outWf == 1 ? (roi1 - roi0) * double(inW - 1) / 2
                          : yd * (roi1 - roi0) * double(inW - 1) / (outWf - 1);
    x += roi0 * double(inW - 1);
    extrap = x < 0 || x > double(inW - 1);
    return x;
  }
  if (m == "pytorch_half_pixel")
    return outWf == 1 ? -0.5 : (yd + 0.5) / scale - 0.5;
  if (m == "half_pixel_symmetric") {
    double adjustment = double(outW) / outWf;
    double offset = double(inW) / 2 * (1 - adjustment);
    return offset + (yd + 0.5) / scale - 0.5;
  }
  return (yd + 0.5) / scale - 0.5; // half_pixel
}

void resizeSplitCoord(double x, int64_t &base, double &ratio) {
  double fl = std::floor(x);
  if (x == fl) {
    base = int64_t(fl) - 1;
    ratio = 1;
  } else {
    base = int64_t(fl);
    ratio = x - fl;
  }
}

namespace {

double cubicWeight(double x, double A) {
  x = std::fabs(x);
  if (x <= 1)
    return ((A + 2) * x - (A + 3)) * x * x + 1;
  if (x < 2)
    return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  return 0;
}

} // namespace

void resizeTapWeights(const ResizeAttrs &a, double ratio, double scale,
                      std::vector<int64_t> &offs, std::vector<double> &w) {
  offs.clear();
  w.clear();
  bool cubic = a.mode == "cubic";
  if (!a.antialias) {
    if (cubic) {
      double A = a.cubicA;
      offs = {-1, 0, 1, 2};
      w = {cubicWeight(ratio + 1, A), cubicWeight(ratio, A),
           cubicWeight(1 - ratio, A), cubicWeight(2 - ratio, A)};
    } else {
      offs = {0, 1};
      w = {1 - ratio, ratio};
    }
    return;
  }
  // Antialias: the kernel is stretched by 1/scale when downsampling.
  double s = std::min(scale, 1.0);
  int64_t start = int64_t(std::floor((cubic ? -2.0 : -1.0) / s)) + 1;
  int64_t end = 2 - start; // exclusive; the window is symmetric
  double sum = 0;
  for (int64_t i = start; i < end; ++i) {
    double arg = (double(i) - ratio) * s;
    double c = cubic ? cubicWeight(arg, a.cubicA)
                     : std::clamp(1 - std::fabs(arg), 0.0, 1.0);
    offs.push_back(i);
    w.push_back(c);
    sum += c;
  }
  if (sum != 0)
    for (double &c : w)
      c /= sum;
}

bool resizeInterpolationTaps(const ResizeAttrs &a, int64_t o, double scale,
                             int64_t inW, int64_t outW, double roi0,
                             double roi1, int64_t &base,
                             std::vector<int64_t> &offs,
                             std::vector<double> &w) {
  bool extrap;
  double xs = resizeSourceCoord(a, o, scale, inW, outW, roi0, roi1, extrap);
  double ratio;
  resizeSplitCoord(xs, base, ratio);
  resizeTapWeights(a, ratio, scale, offs, w);
  if (a.excludeOutside) {
    double sum = 0;
    for (size_t k = 0; k < offs.size(); ++k) {
      int64_t i = base + offs[k];
      if (i < 0 || i >= inW)
        w[k] = 0;
      sum += w[k];
    }
    if (sum != 0)
      for (double &c : w)
        c /= sum;
  }
  return extrap;
}

int64_t resizeNearestIndex(const ResizeAttrs &a, int64_t o, double scale,
                           int64_t inW, int64_t outW, double roi0,
                           double roi1) {
  bool extrap;
  double xs = resizeSourceCoord(a, o, scale, inW, outW, roi0, roi1, extrap);
  if (extrap)
    return -1;
  int64_t base;
  double ratio;
  resizeSplitCoord(xs, base, ratio);
  bool right;
  if (ratio == 1)
    right = true;
  else if (a.nearestMode == "round_prefer_floor")
    right = ratio > 0.5;
  else if (a.nearestMode == "round_prefer_ceil")
    right = ratio >= 0.5;
  else
    right = a.nearestMode == "ceil";
  return std::clamp<int64_t>(base + (right ? 1 : 0), 0, inW - 1);
}

} // namespace ember

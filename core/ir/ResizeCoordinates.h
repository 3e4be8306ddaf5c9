// Resize's coordinate arithmetic (ONNX Resize, opset 19): where an output
// index of a resized axis samples its input, and the taps and weights of
// linear and cubic interpolation. The reference kernel (interp/kernels/
// ResizeKernel.cpp) and the CPU backend's compile-time tables
// (backends/cpu/compiler/ops/Resize.cpp) both take it from here, so the two
// cannot drift apart: what an op's attributes mean is IR, below both users
// (as EinsumEquation.h is for Einsum).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ember {

// The attributes the arithmetic reads.
struct ResizeAttrs {
  std::string mode, ctm, nearestMode; // ctm: coordinate_transformation_mode
  double cubicA = -0.75, extrapolation = 0;
  bool excludeOutside = false, antialias = false;
};

// Maps output coordinate y of one axis (input size inW, output size outW,
// scale, region of interest [roi0, roi1] for tf_crop_and_resize) to a
// source coordinate. Sets `extrap` when tf_crop_and_resize lands outside
// the input.
double resizeSourceCoord(const ResizeAttrs &a, int64_t y, double scale,
                         int64_t inW, int64_t outW, double roi0, double roi1,
                         bool &extrap);

// The interpolation window of source coordinate x: base index b and ratio
// in (0, 1], preferring the pixel on the left (an integer x gives b = x-1,
// ratio 1). Taps sit at b + i.
void resizeSplitCoord(double x, int64_t &base, double &ratio);

// Tap offsets (relative to the base) and weights of linear or cubic
// interpolation at `ratio`; with antialias the kernel is stretched by
// 1/scale when downsampling and the weights are normalized.
void resizeTapWeights(const ResizeAttrs &a, double ratio, double scale,
                      std::vector<int64_t> &offs, std::vector<double> &w);

// Linear/cubic at output index o: the window's base index and its taps'
// offsets and weights (resizeTapWeights), with exclude_outside's taps
// outside the input zeroed and the rest renormalized. Returns whether
// tf_crop_and_resize extrapolates there (the taps are filled either way).
bool resizeInterpolationTaps(const ResizeAttrs &a, int64_t o, double scale,
                             int64_t inW, int64_t outW, double roi0,
                             double roi1, int64_t &base,
                             std::vector<int64_t> &offs,
                             std::vector<double> &w);

// Nearest: the source index of output index o (clamped to the input), or
// -1 where tf_crop_and_resize extrapolates.
int64_t resizeNearestIndex(const ResizeAttrs &a, int64_t o, double scale,
                           int64_t inW, int64_t outW, double roi0, double roi1);

} // namespace ember

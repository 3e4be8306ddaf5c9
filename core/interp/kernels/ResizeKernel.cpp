// Resize (opset 19): nearest, n-D linear and cubic interpolation with every
// coordinate transformation mode, antialiasing, axes and aspect-ratio
// policies. Interpolation is separable: one 1-D pass per resized axis, in
// double precision, rounded once to the element type at the end (as the
// ONNX reference does). Nearest mode copies element bytes, so it is exact
// for every element type.
#include "interp/kernels/MovementUtil.h"
#include "ir/ResizeCoordinates.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ember {

namespace {

// Converts an interpolated double to T like onnx saturate_cast: integers
// round half to even and clamp; floats clamp to the finite range.
template <typename T> T saturate(double v) {
  if constexpr (std::is_integral_v<T>) {
    if (std::isnan(v))
      return T(0);
    v = std::nearbyint(v);
    v = std::clamp(v, double(std::numeric_limits<T>::lowest()),
                   double(std::numeric_limits<T>::max()));
    if (v >= 9.2233720368547758e18)
      return std::numeric_limits<T>::max();
    return T(int64_t(v));
  } else {
    double hi = std::is_same_v<T, Float16>    ? 65504.0
                : std::is_same_v<T, BFloat16> ? 3.3895313892515355e38
                : std::is_same_v<T, float>
                    ? double(std::numeric_limits<float>::max())
                    : std::numeric_limits<double>::max();
    if (!std::isnan(v))
      v = std::clamp(v, -hi, hi);
    if constexpr (std::is_same_v<T, double>)
      return v;
    else
      return T(float(v));
  }
}

} // namespace

Status kernel_Resize(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(ResizePlan p, resizePlan(ctx));
  size_t r = x.rank();
  const ResizeAttrs &a = p.attrs;
  const std::vector<int64_t> &axes = p.axes;
  const std::vector<double> &scale = p.scale;
  const Dims &d = p.out;
  Tensor &y = ctx.out(0);

  // Region of interest per dim (tf_crop_and_resize only), default [0, 1].
  std::vector<double> roiLo(r, 0.0), roiHi(r, 1.0);
  bool hasRoi = ctx.has(1) && ctx.in(1).size() > 0;
  if (hasRoi) {
    std::vector<double> roi = ctx.in(1).toDoubles();
    if (roi.size() != 2 * axes.size())
      return ctx.error("roi has ", roi.size(), " entries for ", axes.size(),
                       " axes (need twice as many)");
    for (size_t i = 0; i < axes.size(); ++i) {
      roiLo[size_t(axes[i])] = roi[i];
      roiHi[size_t(axes[i])] = roi[axes.size() + i];
    }
  } else if (a.ctm == "tf_crop_and_resize") {
    return ctx.error("tf_crop_and_resize needs a roi operand");
  }
  bool useRoi = a.ctm == "tf_crop_and_resize";

  // The ONNX reference leaves an axis untouched when it is an identity.
  auto isIdentity = [&](size_t ax) {
    auto close = [](double p, double q) {
      return std::fabs(p - q) <= 1e-9 * std::max(std::fabs(p), std::fabs(q));
    };
    bool roiTrivial = !useRoi || (roiLo[ax] == 0 && close(roiHi[ax], 1.0));
    return close(scale[ax], 1.0) && d[ax] == x.dim(ax) && roiTrivial;
  };

  if (a.mode == "nearest") {
    std::vector<std::vector<int64_t>> tables(r);
    for (size_t ax = 0; ax < r; ++ax) {
      int64_t inW = x.dim(ax);
      tables[ax].resize(size_t(d[ax]));
      bool resized =
          std::find(axes.begin(), axes.end(), int64_t(ax)) != axes.end();
      for (int64_t o = 0; o < d[ax]; ++o) {
        if (!resized || isIdentity(ax)) {
          tables[ax][size_t(o)] = o;
          continue;
        }
        tables[ax][size_t(o)] = resizeNearestIndex(a, o, scale[ax], inW, d[ax],
                                                   roiLo[ax], roiHi[ax]);
      }
    }
    std::vector<uint8_t> fill = fillBytes(x.elem(), a.extrapolation);
    gatherByTables(y.raw(), x.raw(), elemSize(x.elem()), d, x.dims(), tables,
                   fill.data());
    return Status::ok();
  }

  if (x.elem() == ElemKind::Bool)
    return ctx.unsupportedError(a.mode, " interpolation of bool tensors");
  std::vector<double> cur = x.toDoubles();
  Dims cd = x.dims();
  std::vector<int64_t> offs;
  std::vector<double> w;
  for (int64_t axi : axes) {
    size_t ax = size_t(axi);
    if (isIdentity(ax))
      continue;
    int64_t inW = cd[ax], outW = d[ax];
    // Per output position: taps (clamped source index, weight) or extrap.
    std::vector<std::vector<std::pair<int64_t, double>>> taps(
        static_cast<size_t>(outW));
    std::vector<bool> extrap(size_t(outW), false);
    for (int64_t o = 0; o < outW; ++o) {
      int64_t base;
      bool ex = resizeInterpolationTaps(a, o, scale[ax], inW, outW, roiLo[ax],
                                        roiHi[ax], base, offs, w);
      extrap[size_t(o)] = ex;
      for (size_t k = 0; k < offs.size(); ++k)
        taps[size_t(o)].push_back(
            {std::clamp<int64_t>(base + offs[k], 0, inW - 1), w[k]});
    }
    int64_t outer = 1, inner = 1;
    for (size_t k = 0; k < r; ++k)
      if (k < ax)
        outer *= cd[k];
      else if (k > ax)
        inner *= cd[k];
    std::vector<double> next(size_t(outer * outW * inner));
    for (int64_t p = 0; p < outer; ++p)
      for (int64_t o = 0; o < outW; ++o) {
        double *dst = next.data() + (p * outW + o) * inner;
        if (extrap[size_t(o)]) {
          std::fill(dst, dst + inner, a.extrapolation);
          continue;
        }
        std::fill(dst, dst + inner, 0.0);
        for (auto [i, wt] : taps[size_t(o)]) {
          const double *src = cur.data() + (p * inW + i) * inner;
          for (int64_t c = 0; c < inner; ++c)
            dst[c] += wt * src[c];
        }
      }
    cur.swap(next);
    cd[ax] = outW;
  }
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      T *py = y.data<T>();
      for (size_t i = 0; i < cur.size(); ++i)
        py[i] = saturate<T>(cur[i]);
    }
  });
  return Status::ok();
}

} // namespace ember

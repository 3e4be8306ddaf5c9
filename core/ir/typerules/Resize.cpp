// Type rules of the ops whose reference kernels are in
// interp/kernels/ResizeKernel.cpp.
#include "ir/ResizeCoordinates.h"
#include "ir/typerules/Parse.h"

#include <algorithm>
#include <cmath>

namespace ember {

Expected<ResizePlan> resizePlan(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  size_t r = x.rank();
  ResizeAttrs a;
  a.mode = ctx.attrString("mode", "nearest");
  a.ctm = ctx.attrString("coordinate_transformation_mode", "half_pixel");
  a.nearestMode = ctx.attrString("nearest_mode", "round_prefer_floor");
  a.cubicA = ctx.attrFloat("cubic_coeff_a", -0.75);
  a.extrapolation = ctx.attrFloat("extrapolation_value", 0);
  a.excludeOutside = ctx.attrInt("exclude_outside", 0) != 0;
  a.antialias = ctx.attrInt("antialias", 0) != 0;
  std::string policy = ctx.attrString("keep_aspect_ratio_policy", "stretch");
  if (a.mode != "nearest" && a.mode != "linear" && a.mode != "cubic")
    return ctx.error("unknown mode '", a.mode, "'");
  static const char *kModes[] = {"half_pixel",          "half_pixel_symmetric",
                                 "pytorch_half_pixel",  "align_corners",
                                 "asymmetric",          "tf_crop_and_resize",
                                 "tf_half_pixel_for_nn"};
  if (std::find(std::begin(kModes), std::end(kModes), a.ctm) ==
      std::end(kModes))
    return ctx.error("unknown coordinate_transformation_mode '", a.ctm, "'");
  if (a.nearestMode != "round_prefer_floor" &&
      a.nearestMode != "round_prefer_ceil" && a.nearestMode != "floor" &&
      a.nearestMode != "ceil")
    return ctx.error("unknown nearest_mode '", a.nearestMode, "'");
  if (policy != "stretch" && policy != "not_larger" && policy != "not_smaller")
    return ctx.error("unknown keep_aspect_ratio_policy '", policy, "'");

  std::vector<int64_t> axes;
  if (ctx.hasAttr("axes")) {
    EMBER_ASSIGN(axes, normalizeAxes(ctx, ctx.attrInts("axes"), r));
  } else {
    for (size_t i = 0; i < r; ++i)
      axes.push_back(int64_t(i));
  }

  bool hasScales = ctx.has(2) && ctx.in(2).size() > 0;
  bool hasSizes = ctx.has(3) && ctx.in(3).size() > 0;
  if (hasScales == hasSizes)
    return ctx.error("exactly one of scales and sizes must be given");
  std::vector<double> scale(r, 1.0);
  Dims d = x.dims();
  if (hasScales) {
    EMBER_ASSIGN(std::vector<double> s, ctx.floats(2));
    if (s.size() != axes.size())
      return ctx.error("scales has ", s.size(), " entries for ", axes.size(),
                       " axes");
    for (size_t i = 0; i < axes.size(); ++i) {
      size_t ax = size_t(axes[i]);
      if (!(s[i] > 0) || !std::isfinite(s[i]))
        return ctx.error("scale ", s[i], " for axis ", ax, " must be positive");
      scale[ax] = s[i];
      double out = std::floor(s[i] * double(x.dim(ax)));
      if (out > 1e15)
        return ctx.error("scale ", s[i], " for axis ", ax, " is too large");
      d[ax] = int64_t(out);
    }
  } else {
    EMBER_ASSIGN(std::vector<int64_t> sz, ctx.ints(3));
    if (sz.size() != axes.size())
      return ctx.error("sizes has ", sz.size(), " entries for ", axes.size(),
                       " axes");
    for (size_t i = 0; i < axes.size(); ++i) {
      size_t ax = size_t(axes[i]);
      if (sz[i] < 0)
        return ctx.error("negative size ", sz[i], " for axis ", ax);
      if (x.dim(ax) == 0)
        return ctx.error("cannot resize empty axis ", ax);
      scale[ax] = double(sz[i]) / double(x.dim(ax));
      d[ax] = sz[i];
    }
    if (policy != "stretch" && !axes.empty()) {
      double s = scale[size_t(axes[0])];
      for (int64_t ax : axes)
        s = policy == "not_larger" ? std::min(s, scale[size_t(ax)])
                                   : std::max(s, scale[size_t(ax)]);
      for (int64_t ax : axes) {
        scale[size_t(ax)] = s;
        d[size_t(ax)] =
            int64_t(std::min(s * double(x.dim(size_t(ax))) + 0.5, 1e15));
      }
    }
  }
  for (int64_t ax : axes)
    if (d[size_t(ax)] > 0 && x.dim(size_t(ax)) == 0)
      return ctx.error("cannot resize empty axis ", ax);
  EMBER_TRY(checkResultSize(ctx, d));
  ResizePlan p;
  p.attrs = a;
  p.axes = axes;
  p.scale = scale;
  p.out = d;
  return p;
}

Status types_Resize(TypeContext &ctx) {
  EMBER_ASSIGN(ResizePlan p, resizePlan(ctx));
  ctx.setOutput(0, movedType(ctx.in(0).type(), p.out));
  return Status::ok();
}
} // namespace ember

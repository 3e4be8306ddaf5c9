// Type rules of the ops whose reference kernels are in
// interp/kernels/Sampling.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

Expected<GridSampleParams> gridSampleParams(const TypeContext &ctx) {
  const Tensor &x = ctx.in(0);
  EMBER_TRY(requireFloat(ctx, 1, "grid"));
  const Tensor &g = ctx.in(1);
  if (x.rank() < 3)
    return ctx.error("X must have rank >= 3, got ", x.type().toString());
  size_t r = x.rank() - 2;
  if (g.rank() != r + 2 || g.dim(0) != x.dim(0) || g.dim(r + 1) != int64_t(r))
    return ctx.error("grid ", g.type().toString(), " must be [", x.dim(0),
                     ", ...", r, " dims..., ", r, "] for X ",
                     x.type().toString());
  std::string mode = ctx.attrString("mode", "linear");
  if (mode == "bilinear")
    mode = "linear";
  if (mode == "bicubic")
    mode = "cubic";
  if (mode != "linear" && mode != "nearest" && mode != "cubic")
    return ctx.error("unknown mode '", mode, "'");
  std::string pm = ctx.attrString("padding_mode", "zeros");
  GridPadMode pad;
  if (pm == "zeros")
    pad = GridPadMode::Zeros;
  else if (pm == "border")
    pad = GridPadMode::Border;
  else if (pm == "reflection")
    pad = GridPadMode::Reflection;
  else
    return ctx.error("unknown padding_mode '", pm, "'");
  bool align = ctx.attrInt("align_corners", 0) != 0;
  Dims yd{x.dim(0), x.dim(1)};
  for (size_t k = 0; k < r; ++k)
    yd.push_back(g.dim(k + 1));
  GridSampleParams p;
  p.mode = mode;
  p.pad = pad;
  p.align = align;
  p.out = yd;
  return p;
}

Status types_GridSample(TypeContext &ctx) {
  EMBER_ASSIGN(GridSampleParams p, gridSampleParams(ctx));
  ctx.setOutput(0, Type(ctx.in(0).elem(), p.out));
  return Status::ok();
}

Status types_AffineGrid(TypeContext &ctx) {
  EMBER_TRY(requireFloat(ctx, 0, "theta"));
  const Tensor &th = ctx.in(0);
  EMBER_ASSIGN(std::vector<int64_t> size, ctx.ints(1));
  if (size.size() != 4 && size.size() != 5)
    return ctx.error("size must have 4 or 5 values, got ", size.size());
  size_t r = size.size() - 2;
  for (int64_t v : size)
    if (v < 0)
      return ctx.error("size has a negative value ", v);
  if (th.rank() != 3 || th.dim(0) != size[0] || th.dim(1) != int64_t(r) ||
      th.dim(2) != int64_t(r + 1))
    return ctx.error("theta ", th.type().toString(), " must be [", size[0],
                     ", ", r, ", ", r + 1, "]");
  Dims yd{size[0]};
  for (size_t k = 0; k < r; ++k)
    yd.push_back(size[k + 2]);
  yd.push_back(int64_t(r));
  EMBER_TRY(checkResultSize(ctx, yd));
  ctx.setOutput(0, Type(th.elem(), yd));
  return Status::ok();
}

Expected<RoiAlignParams> roiAlignParams(const TypeContext &ctx) {
  EMBER_TRY(requireFloat(ctx, 0, "X"));
  EMBER_TRY(requireFloat(ctx, 1, "rois"));
  EMBER_TRY(requireIndex(ctx, 2, "batch_indices"));
  const Tensor &x = ctx.in(0), &rois = ctx.in(1), &bi = ctx.in(2);
  if (x.rank() != 4)
    return ctx.error("X must be [N, C, H, W], got ", x.type().toString());
  if (rois.rank() != 2 || rois.dim(1) != 4)
    return ctx.error("rois must be [num_rois, 4], got ",
                     rois.type().toString());
  if (bi.rank() != 1 || bi.dim(0) != rois.dim(0))
    return ctx.error("batch_indices ", bi.type().toString(), " must be [",
                     rois.dim(0), "]");
  std::string ctm =
      ctx.attrString("coordinate_transformation_mode", "half_pixel");
  if (ctm != "half_pixel" && ctm != "output_half_pixel")
    return ctx.error("unknown coordinate_transformation_mode '", ctm, "'");
  std::string mode = ctx.attrString("mode", "avg");
  if (mode != "avg" && mode != "max")
    return ctx.error("unknown mode '", mode, "'");
  int64_t ph = ctx.attrInt("output_height", 1),
          pw = ctx.attrInt("output_width", 1);
  int64_t sr = ctx.attrInt("sampling_ratio", 0);
  double scale = ctx.attrFloat("spatial_scale", 1.0);
  if (ph <= 0 || pw <= 0 || sr < 0 || ph > 65536 || pw > 65536 || sr > 4096)
    return ctx.error("output sizes must be positive and sampling_ratio >= 0");
  RoiAlignParams p;
  p.halfPixel = ctm == "half_pixel";
  p.mode = mode;
  p.ph = ph;
  p.pw = pw;
  p.samplingRatio = sr;
  p.scale = scale;
  return p;
}

Status types_RoiAlign(TypeContext &ctx) {
  EMBER_ASSIGN(RoiAlignParams p, roiAlignParams(ctx));
  const Tensor &x = ctx.in(0);
  ctx.setOutput(0, Type(x.elem(), {ctx.in(1).dim(0), x.dim(1), p.ph, p.pw}));
  return Status::ok();
}

Expected<DeformConvParams> deformConvParams(const TypeContext &ctx) {
  EMBER_TRY(requireFloat(ctx, 0, "X"));
  const Tensor &x = ctx.in(0), &w = ctx.in(1), &of = ctx.in(2);
  if (x.rank() != 4)
    return ctx.unsupportedError("only 2-D DeformConv ([N, C, H, W]) is "
                                "supported, got ",
                                x.type().toString());
  if (w.rank() != 4 || w.elem() != x.elem() || of.elem() != x.elem())
    return ctx.error("W must be [M, C/group, kH, kW] of X's type, got ",
                     w.type().toString());
  int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), Wd = x.dim(3);
  int64_t M = w.dim(0);
  int64_t group = ctx.attrInt("group", 1), og = ctx.attrInt("offset_group", 1);
  std::vector<int64_t> ks = ctx.attrInts("kernel_shape");
  if (ks.empty())
    ks = {w.dim(2), w.dim(3)};
  std::vector<int64_t> dil = ctx.attrInts("dilations");
  if (dil.empty())
    dil = {1, 1};
  std::vector<int64_t> pads = ctx.attrInts("pads");
  if (pads.empty())
    pads = {0, 0, 0, 0};
  std::vector<int64_t> st = ctx.attrInts("strides");
  if (st.empty())
    st = {1, 1};
  if (ks.size() != 2 || dil.size() != 2 || pads.size() != 4 || st.size() != 2)
    return ctx.error("kernel_shape, dilations, strides need 2 values, pads 4");
  if (group <= 0 || og <= 0 || C % group != 0 || M % group != 0 ||
      w.dim(1) != C / group || C % og != 0 || ks[0] != w.dim(2) ||
      ks[1] != w.dim(3))
    return ctx.error("inconsistent channels: X ", x.type().toString(), ", W ",
                     w.type().toString(), ", group ", group, ", offset_group ",
                     og);
  for (size_t k = 0; k < 2; ++k)
    if (st[k] <= 0 || dil[k] <= 0 || ks[k] <= 0)
      return ctx.error("strides, dilations and kernel_shape must be positive");
  int64_t kh = ks[0], kw = ks[1];
  int64_t oh = (H + pads[0] + pads[2] - ((kh - 1) * dil[0] + 1)) / st[0] + 1;
  int64_t ow = (Wd + pads[1] + pads[3] - ((kw - 1) * dil[1] + 1)) / st[1] + 1;
  if (oh <= 0 || ow <= 0)
    return ctx.error("empty output for X ", x.type().toString());
  Dims offD{N, og * kh * kw * 2, oh, ow};
  if (of.dims() != offD)
    return ctx.error("offset ", of.type().toString(), " must be [",
                     dimsToString(offD), "]");
  bool hasB = ctx.has(3), hasMask = ctx.has(4);
  if (hasB && (ctx.in(3).rank() != 1 || ctx.in(3).dim(0) != M))
    return ctx.error("B must be [", M, "], got ", ctx.in(3).type().toString());
  if (hasMask && ctx.in(4).dims() != Dims{N, og * kh * kw, oh, ow})
    return ctx.error("mask ", ctx.in(4).type().toString(), " must be [", N,
                     ", ", og * kh * kw, ", ", oh, ", ", ow, "]");
  DeformConvParams p;
  p.group = group;
  p.offsetGroup = og;
  p.kernel = ks;
  p.dilations = dil;
  p.pads = pads;
  p.strides = st;
  p.outH = oh;
  p.outW = ow;
  return p;
}

Status types_DeformConv(TypeContext &ctx) {
  EMBER_ASSIGN(DeformConvParams p, deformConvParams(ctx));
  const Tensor &x = ctx.in(0);
  ctx.setOutput(0,
                Type(x.elem(), {x.dim(0), ctx.in(1).dim(0), p.outH, p.outW}));
  return Status::ok();
}
} // namespace ember

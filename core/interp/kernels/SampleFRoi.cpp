// Reference kernels that gather bilinear samples at computed positions:
// RoiAlign (avg/max pooling of sampled points per region bin) and
// DeformConv (2-D convolution whose taps are moved by learned offsets and
// optionally scaled by a mask; samples outside the image read zero).
#include "interp/kernels/MiscFUtil.h"

#include <algorithm>
#include <cmath>

namespace ember {

Status kernel_RoiAlign(KernelContext &ctx) {
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
  int64_t R = rois.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  Tensor &y = ctx.setOutput(0, Type(x.elem(), {R, C, ph, pw}));
  if (ctx.inferOnly())
    return Status::ok();
  if ((H == 0 || W == 0) && y.size() != 0)
    return ctx.error("cannot pool from an empty image ", x.type().toString());
  bool half = ctm == "half_pixel";
  std::vector<double> xv = x.toDoubles(), rv = rois.toDoubles();
  std::vector<int64_t> bv = bi.toInts();
  std::vector<double> out(size_t(y.size()));
  struct Tap {
    int64_t pos[4];
    double w[4];
  };
  for (int64_t r = 0; r < R; ++r) {
    int64_t b = bv[size_t(r)];
    if (b < 0 || b >= x.dim(0))
      return ctx.error("batch index ", b, " of roi ", r, " is outside [0, ",
                       x.dim(0), ")");
    double off = half ? 0.5 : 0.0;
    const double *q = &rv[size_t(r * 4)];
    double sw = q[0] * scale - off, sh = q[1] * scale - off;
    double rw = q[2] * scale - off - sw, rh = q[3] * scale - off - sh;
    if (!half) {
      rw = std::max(rw, 1.0);
      rh = std::max(rh, 1.0);
    }
    double bh = rh / double(ph), bw = rw / double(pw);
    int64_t gh = sr > 0 ? sr : toIndex(std::ceil(rh / double(ph)));
    int64_t gw = sr > 0 ? sr : toIndex(std::ceil(rw / double(pw)));
    if (gh < 0 || gw < 0 || gh > 4096 || gw > 4096)
      return ctx.error("sampling grid of roi ", r, " is invalid");
    double count = double(std::max<int64_t>(gh * gw, 1));
    // Sampling taps per output bin (shared by all channels).
    std::vector<Tap> taps;
    taps.reserve(size_t(ph * pw * gh * gw));
    for (int64_t i = 0; i < ph; ++i)
      for (int64_t j = 0; j < pw; ++j)
        for (int64_t iy = 0; iy < gh; ++iy) {
          double yy =
              sh + double(i) * bh + (double(iy) + 0.5) * bh / double(gh);
          for (int64_t ix = 0; ix < gw; ++ix) {
            double xx =
                sw + double(j) * bw + (double(ix) + 0.5) * bw / double(gw);
            Tap t{{0, 0, 0, 0}, {0, 0, 0, 0}};
            if (yy >= -1.0 && yy <= double(H) && xx >= -1.0 &&
                xx <= double(W)) {
              double yc = std::max(yy, 0.0), xc = std::max(xx, 0.0);
              int64_t yl = toIndex(yc), xl = toIndex(xc), yh, xh;
              if (yl >= H - 1) {
                yh = yl = H - 1;
                yc = double(yl);
              } else {
                yh = yl + 1;
              }
              if (xl >= W - 1) {
                xh = xl = W - 1;
                xc = double(xl);
              } else {
                xh = xl + 1;
              }
              double ly = yc - double(yl), lx = xc - double(xl);
              double hy = 1 - ly, hx = 1 - lx;
              t = Tap{{yl * W + xl, yl * W + xh, yh * W + xl, yh * W + xh},
                      {hy * hx, hy * lx, ly * hx, ly * lx}};
            }
            taps.push_back(t);
          }
        }
    for (int64_t c = 0; c < C; ++c) {
      const double *src = &xv[size_t((b * C + c) * H * W)];
      size_t k = 0;
      for (int64_t i = 0; i < ph; ++i)
        for (int64_t j = 0; j < pw; ++j) {
          double acc = 0;
          bool first = true;
          for (int64_t s = 0; s < gh * gw; ++s, ++k) {
            const Tap &t = taps[k];
            if (mode == "avg") {
              for (int q4 = 0; q4 < 4; ++q4)
                acc += t.w[q4] * src[t.pos[q4]];
            } else {
              double v = t.w[0] * src[t.pos[0]];
              for (int q4 = 1; q4 < 4; ++q4)
                v = std::max(v, t.w[q4] * src[t.pos[q4]]);
              acc = first ? v : std::max(acc, v);
              first = false;
            }
          }
          if (mode == "avg")
            acc /= count;
          out[size_t(((r * C + c) * ph + i) * pw + j)] = acc;
        }
    }
  }
  storeDoubles(y, out);
  return Status::ok();
}

Status kernel_DeformConv(KernelContext &ctx) {
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
  Tensor &y = ctx.setOutput(0, Type(x.elem(), {N, M, oh, ow}));
  if (ctx.inferOnly())
    return Status::ok();
  std::vector<double> xv = x.toDoubles(), wv = w.toDoubles(),
                      ov = of.toDoubles(), out(size_t(y.size()), 0.0);
  std::vector<double> bv, mv;
  if (hasB)
    bv = ctx.in(3).toDoubles();
  if (hasMask)
    mv = ctx.in(4).toDoubles();
  int64_t cpg = C / group, mpg = M / group, cpo = C / og, P = oh * ow;
  // Bilinear sample of channel plane `src` at (py, px), zero outside.
  auto sample = [&](const double *src, double py, double px) {
    double fy = std::floor(py), fx = std::floor(px);
    int64_t y0 = toIndex(fy), x0 = toIndex(fx);
    double ly = py - fy, lx = px - fx, acc = 0;
    for (int a = 0; a < 2; ++a)
      for (int c2 = 0; c2 < 2; ++c2) {
        int64_t yy = y0 + a, xx = x0 + c2;
        if (yy < 0 || yy >= H || xx < 0 || xx >= Wd)
          continue;
        acc += (a ? ly : 1 - ly) * (c2 ? lx : 1 - lx) * src[yy * Wd + xx];
      }
    return acc;
  };
  // col[c][ki][kj][p]: masked samples for one image.
  std::vector<double> col(size_t(C * kh * kw * P));
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t c = 0; c < C; ++c) {
      int64_t g = c / cpo;
      const double *src = &xv[size_t((n * C + c) * H * Wd)];
      for (int64_t i = 0; i < kh; ++i)
        for (int64_t j = 0; j < kw; ++j) {
          int64_t k = i * kw + j;
          const double *dy = &ov[size_t(((n * og + g) * kh * kw + k) * 2 * P)];
          const double *dx = dy + P;
          for (int64_t a = 0; a < oh; ++a)
            for (int64_t b2 = 0; b2 < ow; ++b2) {
              int64_t p = a * ow + b2;
              double py = double(a * st[0] - pads[0] + i * dil[0]) + dy[p];
              double px = double(b2 * st[1] - pads[1] + j * dil[1]) + dx[p];
              double v = sample(src, py, px);
              if (hasMask)
                v *= mv[size_t(((n * og + g) * kh * kw + k) * P + p)];
              col[size_t((c * kh * kw + k) * P + p)] = v;
            }
        }
    }
    for (int64_t m = 0; m < M; ++m) {
      int64_t g = m / mpg;
      double *dst = &out[size_t((n * M + m) * P)];
      if (hasB)
        std::fill(dst, dst + P, bv[size_t(m)]);
      for (int64_t cc = 0; cc < cpg; ++cc)
        for (int64_t k = 0; k < kh * kw; ++k) {
          double wt = wv[size_t((m * cpg + cc) * kh * kw + k)];
          const double *cp = &col[size_t(((g * cpg + cc) * kh * kw + k) * P)];
          for (int64_t p = 0; p < P; ++p)
            dst[p] += wt * cp[p];
        }
    }
  }
  storeDoubles(y, out);
  return Status::ok();
}

} // namespace ember

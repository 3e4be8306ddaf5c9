// Sampling reference kernels: GridSample (N-d, linear/nearest/cubic,
// zeros/border/reflection padding) and AffineGrid (2-D and 3-D), following
// the ONNX reference implementation's coordinate conventions; and the ops
// that gather bilinear samples at computed positions: RoiAlign (avg/max
// pooling of sampled points per region bin) and DeformConv (2-D convolution
// whose taps are moved by learned offsets and optionally scaled by a mask;
// samples outside the image read zero).
#include "interp/kernels/MovementUtil.h"
#include "interp/kernels/ValueUtil.h"

#include <algorithm>
#include <cmath>

namespace ember {

namespace {

enum class PadMode { Zeros, Border, Reflection };

// Reflects x into [lo, hi] by repeated mirroring at the near border.
double reflectCoord(double x, double lo, double hi) {
  double rng = hi - lo;
  if (rng <= 0)
    return lo;
  if (x < lo) {
    double dx = lo - x, q = std::floor(dx / rng), r = dx - q * rng;
    return std::fmod(q, 2.0) == 0 ? lo + r : hi - r;
  }
  if (x > hi) {
    double dx = x - hi, q = std::floor(dx / rng), r = dx - q * rng;
    return std::fmod(q, 2.0) == 0 ? hi - r : lo + r;
  }
  return x;
}

// Keys cubic convolution weights (alpha -0.75) for fractional offset t.
void cubicCoeffs(double t, double c[4]) {
  const double a = -0.75;
  double x = std::fabs(t);
  c[0] = ((a * (x + 1) - 5 * a) * (x + 1) + 8 * a) * (x + 1) - 4 * a;
  c[1] = ((a + 2) * x - (a + 3)) * x * x + 1;
  c[2] = ((a + 2) * (1 - x) - (a + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = ((a * (2 - x) - 5 * a) * (2 - x) + 8 * a) * (2 - x) - 4 * a;
}

} // namespace

Status kernel_GridSample(KernelContext &ctx) {
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
  PadMode pad;
  if (pm == "zeros")
    pad = PadMode::Zeros;
  else if (pm == "border")
    pad = PadMode::Border;
  else if (pm == "reflection")
    pad = PadMode::Reflection;
  else
    return ctx.error("unknown padding_mode '", pm, "'");
  bool align = ctx.attrInt("align_corners", 0) != 0;
  Dims yd{x.dim(0), x.dim(1)};
  for (size_t k = 0; k < r; ++k)
    yd.push_back(g.dim(k + 1));
  Tensor &y = ctx.setOutput(0, Type(x.elem(), yd));
  if (ctx.inferOnly())
    return Status::ok();
  if (y.size() == 0)
    return Status::ok();
  for (size_t k = 0; k < r; ++k)
    if (x.dim(k + 2) == 0)
      return ctx.error("cannot sample an empty image ", x.type().toString());

  int64_t N = x.dim(0), C = x.dim(1);
  Dims sd(x.dims().begin() + 2, x.dims().end());
  std::vector<int64_t> sstr = stridesOf(sd);
  int64_t inSp = numElements(sd),
          outSp = numElements(Dims(yd.begin() + 2, yd.end()));
  std::vector<double> lo(r), hi(r);
  for (size_t k = 0; k < r; ++k) {
    lo[k] = align ? 0.0 : -0.5;
    hi[k] = align ? double(sd[k] - 1) : double(sd[k]) - 0.5;
  }
  // Maps an integer index on spatial dim k through the padding mode; -1
  // means "outside" (zeros padding).
  auto mapIndex = [&](int64_t i, size_t k) -> int64_t {
    int64_t d = sd[k];
    if (pad == PadMode::Zeros)
      return i >= 0 && i < d ? i : -1;
    if (pad == PadMode::Border)
      return std::clamp<int64_t>(i, 0, d - 1);
    int64_t j = toIndex(reflectCoord(double(i), lo[k], hi[k]));
    return std::clamp<int64_t>(j, 0, d - 1);
  };
  std::vector<double> xv = x.toDoubles(), gv = g.toDoubles();
  std::vector<double> out(size_t(y.size()));
  int taps = mode == "nearest" ? 1 : mode == "linear" ? 2 : 4;
  std::vector<int64_t> base(r);
  std::vector<std::vector<double>> w(r, std::vector<double>(4));
  std::vector<std::vector<int64_t>> idx(r, std::vector<int64_t>(4));
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < outSp; ++p) {
      const double *gp = &gv[size_t((n * outSp + p) * int64_t(r))];
      for (size_t k = 0; k < r; ++k) {
        double v = gp[r - 1 - k]; // grid lists (x, y, z): innermost first
        double L = double(sd[k]);
        double c = align ? (v + 1) / 2.0 * (L - 1) : ((v + 1) * L - 1) / 2.0;
        if (mode == "nearest")
          c = std::nearbyint(c);
        if (c < lo[k] || c > hi[k]) {
          if (pad == PadMode::Border)
            c = std::clamp(c, 0.0, L - 1);
          else if (pad == PadMode::Reflection)
            c = reflectCoord(c, lo[k], hi[k]);
        }
        if (mode == "nearest") {
          idx[k][0] = mapIndex(toIndex(c), k);
          w[k][0] = 1.0;
        } else if (mode == "linear") {
          double f = std::floor(c), t = c - f;
          idx[k][0] = mapIndex(toIndex(f), k);
          idx[k][1] = mapIndex(toIndex(f) + 1, k);
          w[k][0] = 1 - t;
          w[k][1] = t;
        } else {
          double f = std::floor(c);
          cubicCoeffs(c - f, w[k].data());
          for (int j = 0; j < 4; ++j)
            idx[k][size_t(j)] = mapIndex(toIndex(f) - 1 + j, k);
        }
      }
      int64_t corners = 1;
      for (size_t k = 0; k < r; ++k)
        corners *= taps;
      for (int64_t ch = 0; ch < C; ++ch) {
        const double *src = &xv[size_t((n * C + ch) * inSp)];
        double acc = 0;
        for (int64_t q = 0; q < corners; ++q) {
          int64_t rem = q, off = 0;
          double wt = 1;
          bool inside = true;
          for (size_t k = r; k-- > 0;) {
            int j = int(rem % taps);
            rem /= taps;
            int64_t i = idx[k][size_t(j)];
            if (i < 0) {
              inside = false;
              break;
            }
            off += i * sstr[k];
            wt *= w[k][size_t(j)];
          }
          if (inside)
            acc += wt * src[off];
        }
        out[size_t((n * C + ch) * outSp + p)] = acc;
      }
    }
  storeDoubles(y, out);
  return Status::ok();
}

Status kernel_AffineGrid(KernelContext &ctx) {
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
  bool align = ctx.attrInt("align_corners", 0) != 0;
  Dims yd{size[0]};
  for (size_t k = 0; k < r; ++k)
    yd.push_back(size[k + 2]);
  yd.push_back(int64_t(r));
  EMBER_TRY(checkResultSize(ctx, yd));
  Tensor &y = ctx.setOutput(0, Type(th.elem(), yd));
  if (ctx.inferOnly())
    return Status::ok();
  Dims sd(size.begin() + 2, size.end());
  auto coord = [&](int64_t i, int64_t L) {
    if (align)
      return L == 1 ? -1.0 : -1.0 + 2.0 * double(i) / double(L - 1);
    return -1.0 + (2.0 * double(i) + 1.0) / double(L);
  };
  std::vector<double> t = th.toDoubles(), out(size_t(y.size()));
  int64_t sp = numElements(sd);
  std::vector<int64_t> str = stridesOf(sd);
  std::vector<double> h(r + 1);
  for (int64_t n = 0; n < size[0]; ++n)
    for (int64_t p = 0; p < sp; ++p) {
      // Homogeneous point (x, y[, z], 1): x runs along the last dim.
      for (size_t k = 0; k < r; ++k) {
        int64_t i = (p / str[k]) % sd[k];
        h[r - 1 - k] = coord(i, sd[k]);
      }
      h[r] = 1.0;
      const double *m = &t[size_t(n) * r * (r + 1)];
      for (size_t row = 0; row < r; ++row) {
        double acc = 0;
        for (size_t c = 0; c <= r; ++c)
          acc += m[row * (r + 1) + c] * h[c];
        out[size_t((n * sp + p) * int64_t(r)) + row] = acc;
      }
    }
  storeDoubles(y, out);
  return Status::ok();
}

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

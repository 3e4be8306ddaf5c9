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
  const Tensor &g = ctx.in(1);
  EMBER_ASSIGN(GridSampleParams gp, gridSampleParams(ctx));
  size_t r = x.rank() - 2;
  const std::string &mode = gp.mode;
  GridPadMode pad = gp.pad;
  bool align = gp.align;
  Tensor &y = ctx.out(0);
  if (y.size() == 0)
    return Status::ok();
  for (size_t k = 0; k < r; ++k)
    if (x.dim(k + 2) == 0)
      return ctx.error("cannot sample an empty image ", x.type().toString());

  int64_t N = x.dim(0), C = x.dim(1);
  Dims sd(x.dims().begin() + 2, x.dims().end());
  std::vector<int64_t> sstr = stridesOf(sd);
  int64_t inSp = numElements(sd),
          outSp = numElements(Dims(y.dims().begin() + 2, y.dims().end()));
  std::vector<double> lo(r), hi(r);
  for (size_t k = 0; k < r; ++k) {
    lo[k] = align ? 0.0 : -0.5;
    hi[k] = align ? double(sd[k] - 1) : double(sd[k]) - 0.5;
  }
  // Maps an integer index on spatial dim k through the padding mode; -1
  // means "outside" (zeros padding).
  auto mapIndex = [&](int64_t i, size_t k) -> int64_t {
    int64_t d = sd[k];
    if (pad == GridPadMode::Zeros)
      return i >= 0 && i < d ? i : -1;
    if (pad == GridPadMode::Border)
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
          if (pad == GridPadMode::Border)
            c = std::clamp(c, 0.0, L - 1);
          else if (pad == GridPadMode::Reflection)
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
  const Tensor &th = ctx.in(0);
  bool align = ctx.attrInt("align_corners", 0) != 0;
  Tensor &y = ctx.out(0);
  size_t r = y.rank() - 2;
  Dims sd(y.dims().begin() + 1, y.dims().end() - 1);
  auto coord = [&](int64_t i, int64_t L) {
    if (align)
      return L == 1 ? -1.0 : -1.0 + 2.0 * double(i) / double(L - 1);
    return -1.0 + (2.0 * double(i) + 1.0) / double(L);
  };
  std::vector<double> t = th.toDoubles(), out(size_t(y.size()));
  int64_t sp = numElements(sd);
  std::vector<int64_t> str = stridesOf(sd);
  std::vector<double> h(r + 1);
  for (int64_t n = 0; n < y.dim(0); ++n)
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
  const Tensor &x = ctx.in(0), &rois = ctx.in(1), &bi = ctx.in(2);
  EMBER_ASSIGN(RoiAlignParams rp, roiAlignParams(ctx));
  const std::string &mode = rp.mode;
  int64_t ph = rp.ph, pw = rp.pw, sr = rp.samplingRatio;
  double scale = rp.scale;
  int64_t R = rois.dim(0), C = x.dim(1), H = x.dim(2), W = x.dim(3);
  Tensor &y = ctx.out(0);
  if ((H == 0 || W == 0) && y.size() != 0)
    return ctx.error("cannot pool from an empty image ", x.type().toString());
  bool half = rp.halfPixel;
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
  const Tensor &x = ctx.in(0), &w = ctx.in(1), &of = ctx.in(2);
  EMBER_ASSIGN(DeformConvParams dp, deformConvParams(ctx));
  int64_t N = x.dim(0), C = x.dim(1), H = x.dim(2), Wd = x.dim(3);
  int64_t M = w.dim(0);
  int64_t group = dp.group, og = dp.offsetGroup;
  const std::vector<int64_t> &dil = dp.dilations, &pads = dp.pads,
                             &st = dp.strides;
  int64_t kh = dp.kernel[0], kw = dp.kernel[1], oh = dp.outH, ow = dp.outW;
  bool hasB = ctx.has(3), hasMask = ctx.has(4);
  Tensor &y = ctx.out(0);
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

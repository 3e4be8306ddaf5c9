// Sampling reference kernels: GridSample (N-d, linear/nearest/cubic,
// zeros/border/reflection padding) and AffineGrid (2-D and 3-D), following
// the ONNX reference implementation's coordinate conventions.
#include "interp/kernels/MiscFUtil.h"
#include "interp/kernels/MovementUtil.h"

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

} // namespace ember

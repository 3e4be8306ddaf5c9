// Signal-processing reference kernels: window generators (Hann, Hamming,
// Blackman), MelWeightMatrix, DFT (opset 20: axis as an operand) and STFT.
// Transforms are direct sums with an exact twiddle table (index k*n mod L),
// O(L^2) per signal, which is fine for an oracle.
#include "interp/kernels/ValueUtil.h"

#include <cmath>

namespace ember {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Reads a one-element operand as an integer.
Expected<int64_t> scalarInt(const KernelContext &ctx, size_t i,
                            const char *what) {
  EMBER_ASSIGN(std::vector<int64_t> v, ctx.ints(i));
  if (v.size() != 1)
    return ctx.error(what, " must have one element, got ", v.size());
  return v[0];
}

// Result element kind from the output_datatype attribute (default f32).
Expected<ElemKind> outputKind(const KernelContext &ctx) {
  ElemKind k = ElemKind::F32;
  int64_t dt = ctx.attrInt("output_datatype", 1);
  if (!elemKindFromOnnx(int(dt), k))
    return ctx.unsupportedError("output_datatype ", dt);
  return k;
}

// Window kernel: w(n) for n in [0, size) with N1 = size (periodic) or
// size - 1 (symmetric).
template <typename F> Status windowKernel(KernelContext &ctx, F f) {
  EMBER_ASSIGN(int64_t size, scalarInt(ctx, 0, "size"));
  if (size < 0 || size > (int64_t(1) << 30))
    return ctx.error("invalid window size ", size);
  EMBER_ASSIGN(ElemKind k, outputKind(ctx));
  Tensor &y = ctx.setOutput(0, Type(k, {size}));
  if (ctx.inferOnly())
    return Status::ok();
  double n1 = ctx.attrInt("periodic", 1) != 0 ? double(size) : double(size - 1);
  for (int64_t n = 0; n < size; ++n)
    y.setDouble(n, f(2 * kPi * double(n) / n1));
  return Status::ok();
}

// Complex DFT of `in` (length m, zero-padded or truncated to L) into `out`
// (length L): out[k] = sum_n in[n] * exp(sign * 2*pi*i*k*n/L).
void dft(const std::vector<double> &re, const std::vector<double> &im,
         int64_t L, int sign, std::vector<double> &ore,
         std::vector<double> &oim) {
  std::vector<double> c(static_cast<size_t>(L)), s(static_cast<size_t>(L));
  for (int64_t j = 0; j < L; ++j) {
    c[size_t(j)] = std::cos(2 * kPi * double(j) / double(L));
    s[size_t(j)] = double(sign) * std::sin(2 * kPi * double(j) / double(L));
  }
  int64_t m = std::min<int64_t>(L, int64_t(re.size()));
  ore.assign(size_t(L), 0);
  oim.assign(size_t(L), 0);
  for (int64_t k = 0; k < L; ++k) {
    double ar = 0, ai = 0;
    for (int64_t n = 0; n < m; ++n) {
      size_t t = size_t((k * n) % L);
      ar += re[size_t(n)] * c[t] - im[size_t(n)] * s[t];
      ai += re[size_t(n)] * s[t] + im[size_t(n)] * c[t];
    }
    ore[size_t(k)] = ar;
    oim[size_t(k)] = ai;
  }
}

} // namespace

Status kernel_HannWindow(KernelContext &ctx) {
  return windowKernel(ctx, [](double a) {
    double s = std::sin(a / 2);
    return s * s;
  });
}

Status kernel_HammingWindow(KernelContext &ctx) {
  return windowKernel(ctx, [](double a) {
    const double alpha = 25.0 / 46.0;
    return alpha - (1 - alpha) * std::cos(a);
  });
}

Status kernel_BlackmanWindow(KernelContext &ctx) {
  return windowKernel(ctx, [](double a) {
    return 0.42 - 0.5 * std::cos(a) + 0.08 * std::cos(2 * a);
  });
}

Status kernel_MelWeightMatrix(KernelContext &ctx) {
  EMBER_ASSIGN(int64_t bins, scalarInt(ctx, 0, "num_mel_bins"));
  EMBER_ASSIGN(int64_t dftLen, scalarInt(ctx, 1, "dft_length"));
  EMBER_ASSIGN(int64_t rate, scalarInt(ctx, 2, "sample_rate"));
  EMBER_ASSIGN(std::vector<double> lo, ctx.floats(3));
  EMBER_ASSIGN(std::vector<double> hi, ctx.floats(4));
  if (lo.size() != 1 || hi.size() != 1)
    return ctx.error("edge frequencies must be scalars");
  if (bins <= 0 || dftLen <= 0 || rate <= 0 || bins > (1 << 24) ||
      dftLen > (1 << 24))
    return ctx.error("invalid num_mel_bins ", bins, ", dft_length ", dftLen,
                     " or sample_rate ", rate);
  EMBER_ASSIGN(ElemKind k, outputKind(ctx));
  int64_t spec = dftLen / 2 + 1;
  Tensor &y = ctx.setOutput(0, Type(k, {spec, bins}));
  if (ctx.inferOnly())
    return Status::ok();
  auto toMel = [](double hz) {
    return 2595 * std::log1p(hz / 700) / std::log(10.0);
  };
  double lm = toMel(lo[0]), hm = toMel(hi[0]);
  double step = (hm - lm) / double(bins + 2);
  std::vector<int64_t> fb(size_t(bins + 2));
  for (int64_t i = 0; i < bins + 2; ++i) {
    double hz =
        700 * std::expm1((double(i) * step + lm) / 2595 * std::log(10.0));
    fb[size_t(i)] = int64_t(std::floor(double(dftLen + 1) * hz / double(rate)));
  }
  std::vector<double> out(size_t(spec * bins), 0.0);
  auto set = [&](int64_t j, int64_t i, double v) -> Status {
    if (j < 0 || j >= spec)
      return ctx.error("mel band edge ", j, " falls outside [0, ", spec, ")");
    out[size_t(j * bins + i)] = v;
    return Status::ok();
  };
  for (int64_t i = 0; i < bins; ++i) {
    int64_t l = fb[size_t(i)], c = fb[size_t(i + 1)], h = fb[size_t(i + 2)];
    if (c == l) {
      EMBER_TRY(set(c, i, 1.0));
    } else {
      for (int64_t j = l; j <= c; ++j)
        EMBER_TRY(set(j, i, double(j - l) / double(c - l)));
    }
    if (h > c)
      for (int64_t j = c; j < h; ++j)
        EMBER_TRY(set(j, i, double(h - j) / double(h - c)));
  }
  storeDoubles(y, out);
  return Status::ok();
}

Status kernel_DFT(KernelContext &ctx) {
  EMBER_TRY(requireFloat(ctx, 0, "input"));
  const Tensor &x = ctx.in(0);
  size_t r = x.rank();
  if (r < 2 || (x.dim(r - 1) != 1 && x.dim(r - 1) != 2))
    return ctx.error("input must be [..., signal, 1 or 2], got ",
                     x.type().toString());
  int64_t axisV = ctx.attrInt("axis", -2);
  if (ctx.has(2)) {
    EMBER_ASSIGN(axisV, scalarInt(ctx, 2, "axis"));
  }
  EMBER_ASSIGN(int64_t axis, normalizeAxis(ctx, axisV, r));
  if (size_t(axis) == r - 1)
    return ctx.error("axis must not be the last (complex) dimension");
  bool inverse = ctx.attrInt("inverse", 0) != 0;
  bool onesided = ctx.attrInt("onesided", 0) != 0;
  int64_t m = x.dim(size_t(axis));
  int64_t L = inverse && onesided ? 2 * (m - 1) : m;
  if (ctx.has(1)) {
    EMBER_ASSIGN(L, scalarInt(ctx, 1, "dft_length"));
  }
  if (L <= 0 || L > (int64_t(1) << 24))
    return ctx.error("invalid dft_length ", L);
  Dims yd = x.dims();
  if (inverse && onesided) {
    yd[size_t(axis)] = L;
    yd[r - 1] = 1;
  } else {
    yd[size_t(axis)] = onesided ? L / 2 + 1 : L;
    yd[r - 1] = 2;
  }
  Tensor &y = ctx.setOutput(0, Type(x.elem(), yd));
  if (ctx.inferOnly())
    return Status::ok();
  bool cplx = x.dim(r - 1) == 2;
  int64_t outer = 1, inner = 1;
  for (size_t k = 0; k + 1 < r; ++k)
    if (k < size_t(axis))
      outer *= x.dim(k);
    else if (k > size_t(axis))
      inner *= x.dim(k);
  std::vector<double> xv = x.toDoubles(), out(size_t(y.size()));
  int64_t ci = cplx ? 2 : 1, on = yd[size_t(axis)], oc = yd[r - 1];
  std::vector<double> re, im, ore, oim;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t n, int64_t part) {
        if (part == 1 && !cplx)
          return 0.0;
        return xv[size_t(((o * m + n) * inner + i) * ci + part)];
      };
      if (inverse && onesided) {
        // Hermitian extension of the half spectrum, then a real result.
        re.assign(size_t(L), 0);
        im.assign(size_t(L), 0);
        for (int64_t k = 0; k < L; ++k) {
          int64_t src = k <= L / 2 ? k : L - k;
          if (src >= m)
            continue;
          re[size_t(k)] = at(src, 0);
          im[size_t(k)] = k <= L / 2 ? at(src, 1) : -at(src, 1);
        }
      } else {
        re.assign(size_t(m), 0);
        im.assign(size_t(m), 0);
        for (int64_t n = 0; n < m; ++n) {
          re[size_t(n)] = at(n, 0);
          im[size_t(n)] = at(n, 1);
        }
      }
      dft(re, im, L, inverse ? 1 : -1, ore, oim);
      double scale = inverse ? 1.0 / double(L) : 1.0;
      for (int64_t k = 0; k < on; ++k) {
        size_t base = size_t(((o * on + k) * inner + i) * oc);
        out[base] = ore[size_t(k)] * scale;
        if (oc == 2)
          out[base + 1] = oim[size_t(k)] * scale;
      }
    }
  storeDoubles(y, out);
  return Status::ok();
}

Status kernel_STFT(KernelContext &ctx) {
  EMBER_TRY(requireFloat(ctx, 0, "signal"));
  const Tensor &x = ctx.in(0);
  if (x.rank() != 3 || (x.dim(2) != 1 && x.dim(2) != 2))
    return ctx.error("signal must be [batch, length, 1 or 2], got ",
                     x.type().toString());
  EMBER_ASSIGN(int64_t step, scalarInt(ctx, 1, "frame_step"));
  bool hasWin = ctx.has(2);
  int64_t L = hasWin ? ctx.in(2).size() : x.dim(1);
  if (hasWin && ctx.in(2).rank() != 1)
    return ctx.error("window must be 1-D, got ", ctx.in(2).type().toString());
  if (ctx.has(3)) {
    EMBER_ASSIGN(L, scalarInt(ctx, 3, "frame_length"));
    if (hasWin && ctx.in(2).size() != L)
      return ctx.error("window length ", ctx.in(2).size(),
                       " differs from frame_length ", L);
  }
  if (step <= 0 || L <= 0 || L > x.dim(1))
    return ctx.error("invalid frame_step ", step, " or frame_length ", L,
                     " for signal length ", x.dim(1));
  bool onesided = ctx.attrInt("onesided", 1) != 0;
  int64_t B = x.dim(0), len = x.dim(1), frames = 1 + (len - L) / step;
  int64_t bins = onesided ? L / 2 + 1 : L;
  Tensor &y = ctx.setOutput(0, Type(x.elem(), {B, frames, bins, 2}));
  if (ctx.inferOnly())
    return Status::ok();
  std::vector<double> xv = x.toDoubles(), out(size_t(y.size()));
  std::vector<double> w(size_t(L), 1.0);
  if (hasWin)
    w = ctx.in(2).toDoubles();
  int64_t ci = x.dim(2);
  std::vector<double> re(static_cast<size_t>(L)), im(static_cast<size_t>(L)),
      ore, oim;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t f = 0; f < frames; ++f) {
      for (int64_t n = 0; n < L; ++n) {
        size_t e = size_t((b * len + f * step + n) * ci);
        re[size_t(n)] = xv[e] * w[size_t(n)];
        im[size_t(n)] = ci == 2 ? xv[e + 1] * w[size_t(n)] : 0.0;
      }
      dft(re, im, L, -1, ore, oim);
      for (int64_t k = 0; k < bins; ++k) {
        size_t base = size_t(((b * frames + f) * bins + k) * 2);
        out[base] = ore[size_t(k)];
        out[base + 1] = oim[size_t(k)];
      }
    }
  storeDoubles(y, out);
  return Status::ok();
}

} // namespace ember

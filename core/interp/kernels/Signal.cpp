// Signal-processing reference kernels: window generators (Hann, Hamming,
// Blackman), MelWeightMatrix, DFT (opset 20: axis as an operand) and STFT.
// Transforms are direct sums with an exact twiddle table (index k*n mod L),
// O(L^2) per signal, which is fine for an oracle.
#include "interp/kernels/ValueUtil.h"

#include <cmath>

namespace ember {

namespace {

constexpr double kPi = 3.14159265358979323846;

// Window kernel: w(n) for n in [0, size) with N1 = size (periodic) or
// size - 1 (symmetric).
template <typename F> Status windowKernel(KernelContext &ctx, F f) {
  Tensor &y = ctx.out(0);
  int64_t size = y.size();
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
  EMBER_ASSIGN(MelParams mp, melParams(ctx));
  int64_t bins = mp.bins, dftLen = mp.dftLen, rate = mp.rate, spec = mp.spec;
  double lo = mp.lowHz, hi = mp.highHz;
  Tensor &y = ctx.out(0);
  auto toMel = [](double hz) {
    return 2595 * std::log1p(hz / 700) / std::log(10.0);
  };
  double lm = toMel(lo), hm = toMel(hi);
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
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(DftParams dp, dftParams(ctx));
  size_t r = x.rank();
  int64_t axis = dp.axis, m = dp.m, L = dp.L;
  bool inverse = dp.inverse, onesided = dp.onesided;
  Tensor &y = ctx.out(0);
  bool cplx = x.dim(r - 1) == 2;
  int64_t outer = 1, inner = 1;
  for (size_t k = 0; k + 1 < r; ++k)
    if (k < size_t(axis))
      outer *= x.dim(k);
    else if (k > size_t(axis))
      inner *= x.dim(k);
  std::vector<double> xv = x.toDoubles(), out(size_t(y.size()));
  int64_t ci = cplx ? 2 : 1, on = y.dim(size_t(axis)), oc = y.dim(r - 1);
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
  const Tensor &x = ctx.in(0);
  EMBER_ASSIGN(StftParams sp, stftParams(ctx));
  bool hasWin = ctx.has(2);
  int64_t step = sp.step, L = sp.L, B = x.dim(0), len = x.dim(1),
          frames = sp.frames, bins = sp.bins;
  Tensor &y = ctx.out(0);
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

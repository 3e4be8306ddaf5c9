// Lowerings of the signal-processing ops: the window generators and
// MelWeightMatrix fold into constants (their kernel, run at compile time);
// DFT and STFT become MatMuls with constant twiddle matrices.
#include "lower/LowerUtil.h"

#include <cmath>

namespace ember {

Expected<std::vector<Value>> lower_HannWindow(LoweringBuilder &b) {
  return foldToConstants(b, false);
}

Expected<std::vector<Value>> lower_HammingWindow(LoweringBuilder &b) {
  return foldToConstants(b, false);
}

Expected<std::vector<Value>> lower_BlackmanWindow(LoweringBuilder &b) {
  return foldToConstants(b, false);
}

Expected<std::vector<Value>> lower_MelWeightMatrix(LoweringBuilder &b) {
  return foldToConstants(b, false);
}

namespace {

// Reads a one-value constant operand i, or returns def when absent.
Expected<int64_t> constInt(LoweringBuilder &b, size_t i, int64_t def) {
  if (!b.has(i))
    return def;
  const Tensor *c = constantOf(b.in(i));
  if (!c || c->size() != 1)
    return unsupported(opName(b.node().kind), ": operand #", i,
                       " must be a one-value constant to lower ",
                       b.node().describe());
  return c->getInt(0);
}

// The transform along dim r-2 of v ([..., m, 1 or 2]) as MatMuls with
// constant matrices: out = re @ A_rr + im @ A_ir (real part) and
// re @ A_ri + im @ A_ii (imaginary part). `irfft`: Hermitian half spectrum
// in, real signal out ([..., L, 1]).
Expected<Value> dftByMatMul(LoweringBuilder &b, Value v, int64_t L,
                            int64_t lout, bool inverse, bool irfft) {
  const Type &t = v.type();
  size_t r = t.rank();
  int64_t m = t.dim(r - 2);
  ElemKind k = t.elem();
  bool cplx = t.dim(r - 1) == 2;
  Dims flat(t.dims().begin(), t.dims().end() - 1);
  auto part = [&](int64_t p) -> Expected<Value> {
    Value x = v;
    if (cplx) {
      EMBER_ASSIGN(x, b.op(OpKind::Slice, {v, b.ints({p}), b.ints({p + 1}),
                                           b.ints({int64_t(r - 1)})}));
    }
    return b.op(OpKind::Reshape, {x, b.ints(flat)});
  };
  // A[j][t] for the four real maps, computed in double.
  std::vector<double> arr(size_t(m * lout)), air(arr.size()), ari(arr.size()),
      aii(arr.size());
  auto tw = [&](int64_t a, int64_t c2, bool sine) {
    double ang = 2 * 3.14159265358979323846 * double((a * c2) % L) / double(L);
    return sine ? std::sin(ang) : std::cos(ang);
  };
  double scale = inverse ? 1.0 / double(L) : 1.0, sgn = inverse ? 1.0 : -1.0;
  if (irfft) {
    for (int64_t kk = 0; kk < L; ++kk) {
      int64_t j = kk <= L / 2 ? kk : L - kk;
      double conj = kk <= L / 2 ? 1.0 : -1.0;
      if (j >= m)
        continue;
      for (int64_t o = 0; o < lout; ++o) {
        arr[size_t(j * lout + o)] += scale * tw(kk, o, false);
        air[size_t(j * lout + o)] -= scale * conj * tw(kk, o, true);
      }
    }
  } else {
    for (int64_t j = 0; j < std::min(m, L); ++j)
      for (int64_t o = 0; o < lout; ++o) {
        double c = scale * tw(j, o, false), sn = scale * sgn * tw(j, o, true);
        size_t e = size_t(j * lout + o);
        arr[e] = c;
        air[e] = -sn;
        ari[e] = sn;
        aii[e] = c;
      }
  }
  auto mat = [&](const std::vector<double> &a) {
    Tensor c(Type(k, {m, lout}));
    for (size_t e = 0; e < a.size(); ++e)
      c.setDouble(int64_t(e), a[e]);
    return b.constant(std::move(c));
  };
  EMBER_ASSIGN(Value re, part(0));
  Value im;
  if (cplx) {
    EMBER_ASSIGN(im, part(1));
  }
  auto combine = [&](const std::vector<double> &fromRe,
                     const std::vector<double> &fromIm) -> Expected<Value> {
    EMBER_ASSIGN(Value y, b.op(OpKind::MatMul, {re, mat(fromRe)}));
    if (cplx) {
      EMBER_ASSIGN(Value yi, b.op(OpKind::MatMul, {im, mat(fromIm)}));
      EMBER_ASSIGN(y, b.op(OpKind::Add, {y, yi}));
    }
    Dims od = flat;
    od.back() = lout;
    od.push_back(1);
    return b.op(OpKind::Reshape, {y, b.ints(od)});
  };
  EMBER_ASSIGN(Value outRe, combine(arr, air));
  if (irfft)
    return outRe;
  EMBER_ASSIGN(Value outIm, combine(ari, aii));
  return b.op(OpKind::Concat, {outRe, outIm},
              {{"axis", Attr::ofInt(int64_t(r - 1))}});
}

} // namespace

// DFT: move the signal axis next to the complex dim, then dftByMatMul.
Expected<std::vector<Value>> lower_DFT(LoweringBuilder &b) {
  Node &n = b.node();
  const Type &xt = b.inType(0), &yt = n.types[0];
  int64_t r = int64_t(xt.rank());
  EMBER_ASSIGN(int64_t axis, constInt(b, 2, n.attrInt("axis", -2)));
  if (axis < 0)
    axis += r;
  bool inverse = n.attrInt("inverse", 0) != 0;
  bool onesided = n.attrInt("onesided", 0) != 0;
  int64_t m = xt.dim(size_t(axis));
  EMBER_ASSIGN(int64_t L,
               constInt(b, 1, inverse && onesided ? 2 * (m - 1) : m));
  std::vector<int64_t> perm;
  for (int64_t d = 0; d < r - 1; ++d)
    if (d != axis)
      perm.push_back(d);
  perm.push_back(axis);
  perm.push_back(r - 1);
  bool moved = axis != r - 2;
  Value v = b.in(0);
  if (moved) {
    EMBER_ASSIGN(v,
                 b.op(OpKind::Transpose, {v}, {{"perm", Attr::ofInts(perm)}}));
  }
  EMBER_ASSIGN(Value y, dftByMatMul(b, v, L, yt.dim(size_t(axis)), inverse,
                                    inverse && onesided));
  if (moved) {
    std::vector<int64_t> inv(perm.size());
    for (size_t d = 0; d < perm.size(); ++d)
      inv[size_t(perm[d])] = int64_t(d);
    EMBER_ASSIGN(y,
                 b.op(OpKind::Transpose, {y}, {{"perm", Attr::ofInts(inv)}}));
  }
  return std::vector<Value>{y};
}

// STFT: Gather the frames ([B, frames, L, c]), apply the window, then the
// forward transform of each frame.
Expected<std::vector<Value>> lower_STFT(LoweringBuilder &b) {
  Node &n = b.node();
  const Type &yt = n.types[0];
  int64_t frames = yt.dim(1), bins = yt.dim(2);
  EMBER_ASSIGN(int64_t step, constInt(b, 1, 1));
  int64_t L = b.has(2) ? b.inType(2).dim(0) : b.inType(0).dim(1);
  EMBER_ASSIGN(L, constInt(b, 3, L));
  Tensor idx(Type(ElemKind::I64, {frames, L}));
  for (int64_t f = 0; f < frames; ++f)
    for (int64_t j = 0; j < L; ++j)
      idx.setInt(f * L + j, f * step + j);
  EMBER_ASSIGN(Value fr, b.op(OpKind::Gather, {b.in(0), b.constant(idx)},
                              {{"axis", Attr::ofInt(1)}}));
  if (b.has(2)) {
    EMBER_ASSIGN(Value w, b.op(OpKind::Reshape, {b.in(2), b.ints({L, 1})}));
    EMBER_ASSIGN(fr, b.op(OpKind::Mul, {fr, w}));
  }
  EMBER_ASSIGN(Value y, dftByMatMul(b, fr, L, bins, false, false));
  return std::vector<Value>{y};
}

} // namespace ember

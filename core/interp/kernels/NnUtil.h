// Shared pieces of the neural-network and quantized kernels: a blocked
// matrix multiply and an im2col convolution core. (Sliding-window geometry
// and numpy MatMul shapes are the type rules' helpers, ir/typerules/Parse.h.)
#pragma once

#include "interp/Kernel.h"
#include "ir/typerules/Parse.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace ember {

// A 16-byte vector of T (GCC/Clang vector extension) for the matmul tile.
template <typename T> struct Vec16 {
  typedef T type __attribute__((vector_size(16)));
};

// One MR x (NV vectors) tile of C += A * panel over k in [0, K): the panel
// holds NR columns of B, row-major (K x NR, zero-padded past ncols). The
// accumulators stay in vector registers; every C element still sums its
// products one by one in ascending k order (no FMA, no reassociation).
template <typename T, int MR, int NV>
inline void gemmTile(int64_t K, const T *A, int64_t lda, const T *panel, T *C,
                     int64_t ldc, int64_t ncols) {
  using V = typename Vec16<T>::type;
  constexpr int NR = NV * int(16 / sizeof(T));
  V acc[MR][NV];
  for (int r = 0; r < MR; ++r) {
    T tmp[NR];
    for (int j = 0; j < NR; ++j)
      tmp[j] = j < ncols ? C[r * ldc + j] : T(0);
    std::memcpy(acc[r], tmp, sizeof(tmp));
  }
  for (int64_t k = 0; k < K; ++k) {
    V b[NV];
    std::memcpy(b, panel + k * NR, sizeof(b));
    for (int r = 0; r < MR; ++r) {
      V a = A[r * lda + k] - V{}; // broadcast
      for (int v = 0; v < NV; ++v)
        acc[r][v] += a * b[v];
    }
  }
  for (int r = 0; r < MR; ++r) {
    T tmp[NR];
    std::memcpy(tmp, acc[r], sizeof(tmp));
    for (int64_t j = 0; j < ncols; ++j)
      C[r * ldc + j] = tmp[j];
  }
}

// C[M,N] += A[M,K] * B[K,N] (row-major, leading dims lda/ldb/ldc). Blocked
// over K with packed column panels of B; every C element accumulates its
// products in ascending k order, so results do not depend on the blocking.
template <typename T>
void gemmAccumulate(int64_t M, int64_t N, int64_t K, const T *A, int64_t lda,
                    const T *B, int64_t ldb, T *C, int64_t ldc) {
  constexpr int MR = 4, NV = 2, NR = NV * int(16 / sizeof(T));
  constexpr int64_t KC = 256;
  std::vector<T> panel(size_t(KC * NR));
  for (int64_t k0 = 0; k0 < K; k0 += KC) {
    int64_t kc = std::min(KC, K - k0);
    for (int64_t j0 = 0; j0 < N; j0 += NR) {
      int64_t nc = std::min<int64_t>(NR, N - j0);
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t j = 0; j < NR; ++j)
          panel[size_t(k * NR + j)] =
              j < nc ? B[(k0 + k) * ldb + j0 + j] : T(0);
      int64_t i = 0;
      for (; i + MR <= M; i += MR)
        gemmTile<T, MR, NV>(kc, A + i * lda + k0, lda, panel.data(),
                            C + i * ldc + j0, ldc, nc);
      for (; i < M; ++i)
        gemmTile<T, 1, NV>(kc, A + i * lda + k0, lda, panel.data(),
                           C + i * ldc + j0, ldc, nc);
    }
  }
}

// C[M,N] = A[M,K] * B[K,N] in float as ONNX Runtime's MLAS SGEMM sums it
// at one thread (NnMatMul.cpp): the Conv and MatMul of attribute
// ort_order = 1.
void sgemmOrtOrder(int64_t M, int64_t N, int64_t K, const float *A,
                   const float *B, float *C);

// The im2col rows of one group's input xg (its channels' planes) for the
// output positions [p0, p0 + np): col[r * np + q] is the input under
// kernel row r (channel-major, then kernel position) of output p0 + q, 0
// in the padding.
template <typename T>
void im2colChunk(const ConvProblem &p, const T *xg, int64_t p0, int64_t np,
                 T *col) {
  const WindowGeom &g = p.g;
  const size_t nsp = g.rank();
  const int64_t inP = numElements(g.in), kP = g.kernelSize();
  const int64_t K = p.inC / p.group * kP;
  const std::vector<int64_t> inStr = stridesOf(g.in),
                             kStr = stridesOf(g.kernel),
                             outStr = stridesOf(g.out);
  // Per output position and spatial dim: first input coordinate.
  std::vector<int64_t> base(nsp * size_t(np));
  for (int64_t q = 0; q < np; ++q)
    for (size_t d = 0; d < nsp; ++d)
      base[d * size_t(np) + size_t(q)] =
          ((p0 + q) / outStr[d]) % g.out[d] * g.strides[d] - g.padBegin[d];
  for (int64_t r = 0; r < K; ++r) {
    const int64_t c = r / kP, kf = r % kP;
    int64_t off[8] = {0};
    for (size_t d = 0; d < nsp; ++d)
      off[d] = ((kf / kStr[d]) % g.kernel[d]) * g.dilations[d];
    const T *xc = xg + c * inP;
    T *dst = col + r * np;
    for (int64_t q = 0; q < np; ++q) {
      int64_t inOff = 0;
      bool ok = true;
      for (size_t d = 0; d < nsp; ++d) {
        const int64_t v = base[d * size_t(np) + size_t(q)] + off[d];
        ok = ok && v >= 0 && v < g.in[d];
        inOff += v * inStr[d];
      }
      dst[q] = ok ? xc[inOff] : T(0);
    }
  }
}

// Y[N, M, out...] += conv(X, W) in accumulation type T (Y must start zero
// or hold the bias). im2col over column chunks + gemmAccumulate.
template <typename T>
void convForward(const ConvProblem &p, const T *x, const T *w, T *y) {
  const WindowGeom &g = p.g;
  size_t nsp = g.rank();
  int64_t inP = numElements(g.in), outP = g.outSize(), kP = g.kernelSize();
  int64_t cg = p.inC / p.group, mg = p.outC / p.group;
  int64_t K = cg * kP;
  bool direct = kP == 1; // 1x1 with stride 1 and no pads: X is the col matrix
  for (size_t d = 0; d < nsp; ++d)
    direct = direct && g.strides[d] == 1 && g.padBegin[d] == 0 &&
             g.out[d] == g.in[d];
  int64_t chunk =
      std::max<int64_t>(64, (int64_t(1) << 21) / std::max<int64_t>(K, 1));
  chunk = std::min(chunk, outP);
  std::vector<T> col(direct ? 0 : size_t(K * chunk));
  for (int64_t n = 0; n < p.batch; ++n) {
    for (int64_t gi = 0; gi < p.group; ++gi) {
      const T *xg = x + (n * p.inC + gi * cg) * inP;
      const T *wg = w + gi * mg * K;
      T *yg = y + (n * p.outC + gi * mg) * outP;
      if (direct) {
        gemmAccumulate<T>(mg, outP, K, wg, K, xg, inP, yg, outP);
        continue;
      }
      for (int64_t p0 = 0; p0 < outP; p0 += chunk) {
        int64_t np = std::min(chunk, outP - p0);
        im2colChunk(p, xg, p0, np, col.data());
        gemmAccumulate<T>(mg, np, K, wg, K, col.data(), np, yg + p0, outP);
      }
    }
  }
}

// Converts a tensor's elements to a vector of T (through ComputeT).
template <typename T> std::vector<T> toVector(const Tensor &t) {
  std::vector<T> v(size_t(t.size()));
  dispatchElem(t.elem(), [&](auto tag) {
    using S = decltype(tag);
    const S *p = t.data<S>();
    for (size_t i = 0; i < v.size(); ++i)
      v[i] = T(ComputeT<S>(p[i]));
  });
  return v;
}

} // namespace ember

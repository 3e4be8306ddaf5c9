// Shared pieces of the neural-network kernels (family Nn and Quant):
// sliding-window geometry (Conv, pools), numpy MatMul shapes, a blocked
// matrix multiply and an im2col convolution core.
#pragma once

#include "interp/Kernel.h"

#include <algorithm>
#include <vector>

namespace ember {

// Geometry of an N-d sliding window over the spatial dims of an NC...
// tensor: output extent and the padding in front of / after each dim.
struct WindowGeom {
  Dims in, kernel, strides, dilations, out;
  Dims padBegin, padEnd; // explicit (or auto) pads; ceil-mode extras excluded
  size_t rank() const { return in.size(); }
  int64_t effKernel(size_t d) const {
    return (kernel[d] - 1) * dilations[d] + 1;
  }
  int64_t outSize() const { return numElements(out); }
  int64_t kernelSize() const { return numElements(kernel); }
};

// Reads auto_pad, strides, dilations, pads from the node (ONNX Conv/pool
// semantics). `ceilMode` applies to explicit padding only.
Expected<WindowGeom> windowGeom(const KernelContext &ctx, const Dims &in,
                                const Dims &kernel, bool ceilMode);

// numpy matmul shapes: 1-D operands are promoted and the extra dim dropped
// from the result; batch dims broadcast.
struct MatMulShape {
  Dims out;            // result shape
  Dims batch;          // broadcast batch dims
  Dims aBatch, bBatch; // operand batch dims
  int64_t M = 1, K = 1, N = 1;
  int64_t numBatches() const { return numElements(batch); }
};
Expected<MatMulShape> matmulShape(const KernelContext &ctx, const Dims &a,
                                  const Dims &b);

// C[M,N] += A[M,K] * B[K,N] (row-major, leading dims lda/ldb/ldc), blocked
// so the inner loop runs over contiguous columns of B and C.
template <typename T>
void gemmAccumulate(int64_t M, int64_t N, int64_t K, const T *A, int64_t lda,
                    const T *B, int64_t ldb, T *C, int64_t ldc) {
  constexpr int64_t NB = 512, KB = 128;
  for (int64_t j0 = 0; j0 < N; j0 += NB) {
    int64_t j1 = std::min(N, j0 + NB);
    for (int64_t k0 = 0; k0 < K; k0 += KB) {
      int64_t k1 = std::min(K, k0 + KB);
      for (int64_t i = 0; i < M; ++i) {
        T *c = C + i * ldc;
        const T *a = A + i * lda;
        for (int64_t k = k0; k < k1; ++k) {
          T av = a[k];
          const T *b = B + k * ldb;
          for (int64_t j = j0; j < j1; ++j)
            c[j] += av * b[j];
        }
      }
    }
  }
}

// Convolution problem: X[N, C, in...] * W[M, C/group, kernel...].
struct ConvProblem {
  int64_t batch = 1, inC = 1, outC = 1, group = 1;
  WindowGeom g;
};

// Validates X/W shapes and attributes (group, kernel_shape) and derives the
// geometry; result dims are [N, M, out...].
Expected<ConvProblem> convProblem(const KernelContext &ctx, const Dims &x,
                                  const Dims &w);

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
  // Per output position and spatial dim: first input coordinate.
  std::vector<int64_t> base(direct ? 0 : size_t(nsp * chunk));
  std::vector<int64_t> inStr = stridesOf(g.in), kStr = stridesOf(g.kernel),
                       outStr = stridesOf(g.out);
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
        for (int64_t q = 0; q < np; ++q) {
          int64_t flat = p0 + q;
          for (size_t d = 0; d < nsp; ++d) {
            int64_t od = (flat / outStr[d]) % g.out[d];
            base[d * chunk + q] = od * g.strides[d] - g.padBegin[d];
          }
        }
        for (int64_t r = 0; r < K; ++r) {
          int64_t c = r / kP, kf = r % kP;
          int64_t off[8] = {0};
          int64_t inOff = 0;
          for (size_t d = 0; d < nsp; ++d)
            off[d] = ((kf / kStr[d]) % g.kernel[d]) * g.dilations[d];
          const T *xc = xg + c * inP;
          T *dst = col.data() + r * np;
          for (int64_t q = 0; q < np; ++q) {
            inOff = 0;
            bool ok = true;
            for (size_t d = 0; d < nsp; ++d) {
              int64_t v = base[d * chunk + q] + off[d];
              ok = ok && v >= 0 && v < g.in[d];
              inOff += v * inStr[d];
            }
            dst[q] = ok ? xc[inOff] : T(0);
          }
        }
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

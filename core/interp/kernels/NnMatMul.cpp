// MatMul (numpy semantics), Gemm and Det (the determinant) reference
// kernels.
#include "interp/kernels/NnUtil.h"
#include "interp/kernels/ValueUtil.h"

#include "ember/math/GemmBlocks.h"

#include <cmath>

namespace ember {

namespace {
// Accumulation type: float for f32/f16/bf16 (as ONNX Runtime does), else T.
template <typename T> using AccT = ComputeT<T>;
} // namespace

// The float product C[M,N] = A[M,K] * B[K,N] (row-major) as MLAS's SGEMM
// sums it at one thread (docs/quantization.md, "Conv with an int8 end"):
// - M = 1 (its GEMV kernel): products rounded to float, each run of four
//   summed in order and added to the total, then a pair the same way, then
//   the last product;
// - N = 1 (its transposed-B kernel, A's rows as rows): rounded products
//   summed in 8 lanes (lane k mod 8, in k order), the lanes reduced as that
//   kernel does for the row's group of 4, 2 or 1;
// - else K in blocks of ember_mlas_sgemm_stride_k(N, K, 0), each block one
//   fused multiply-add chain from zero, the blocks' sums added in order.
void sgemmOrtOrder(int64_t M, int64_t N, int64_t K, const float *A,
                   const float *B, float *C) {
  if (M == 1) { // GEMV: runs of 4, then 2, then 1 rounded products
    for (int64_t j = 0; j < N; ++j) {
      float t = 0.0f;
      for (int64_t k0 = 0; k0 < K;) {
        const int64_t run = K - k0 >= 4 ? 4 : K - k0 >= 2 ? 2 : 1;
        float s = A[k0] * B[k0 * N + j];
        for (int64_t k = k0 + 1; k < k0 + run; ++k)
          s = s + A[k] * B[k * N + j];
        t = k0 == 0 ? s : t + s;
        k0 += run;
      }
      C[j] = t;
    }
    return;
  }
  if (N == 1) { // transposed-B: 8 lanes, reduced per group of rows
    const int64_t fours = M / 4 * 4;
    for (int64_t i = 0; i < M; ++i) {
      float l[8] = {0};
      for (int64_t k = 0; k < K; ++k)
        l[k % 8] = l[k % 8] + A[i * K + k] * B[k];
      if (i < fours)
        C[i] =
            (((l[0] + l[1]) + l[2]) + l[3]) + (((l[4] + l[5]) + l[6]) + l[7]);
      else if (M - fours >= 2 && i < fours + 2)
        C[i] =
            ((l[0] + l[2]) + (l[4] + l[6])) + ((l[1] + l[3]) + (l[5] + l[7]));
      else
        C[i] =
            ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    }
    return;
  }
  // K blocks, each an fma chain from zero, added in order.
  const int64_t strideK = ember_mlas_sgemm_stride_k(N, K, 0);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      float t = 0.0f;
      for (int64_t k0 = 0; k0 < K; k0 += strideK) {
        float s = 0.0f;
        for (int64_t k = k0; k < std::min(K, k0 + strideK); ++k)
          s = std::fma(A[i * K + k], B[k * N + j], s);
        t = k0 == 0 ? s : t + s;
      }
      C[i * N + j] = t;
    }
}

Status kernel_MatMul(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  EMBER_ASSIGN(MatMulShape s, matmulShape(ctx, a.dims(), b.dims()));
  Tensor &y = ctx.out(0);
  BroadcastIndexer ia(s.batch, s.aBatch), ib(s.batch, s.bBatch);
  int64_t M = s.M, K = s.K, N = s.N;
  if (ctx.attrInt("ort_order", 0) != 0 && a.elem() == ElemKind::F32) {
    // ONNX Runtime multiplies a batch of A by a shared 2-D B as one
    // product of batch x M rows.
    const bool fold = numElements(s.bBatch) == 1;
    const int64_t rows = fold ? s.numBatches() * M : M;
    for (int64_t bi = 0; bi < (fold ? 1 : s.numBatches()); ++bi)
      sgemmOrtOrder(rows, N, K, a.data<float>() + ia.map(bi) * M * K,
                    b.data<float>() + ib.map(bi) * K * N,
                    y.data<float>() + bi * M * N);
    return Status::ok();
  }
  dispatchElem(a.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      using C = AccT<T>;
      // 16-bit floats widen to float; other kinds are used in place.
      std::vector<C> av, bv;
      const C *pa, *pb;
      if constexpr (std::is_same_v<T, C>) {
        pa = a.data<T>();
        pb = b.data<T>();
      } else {
        av = toVector<C>(a);
        bv = toVector<C>(b);
        pa = av.data();
        pb = bv.data();
      }
      std::vector<C> acc(size_t(M * N));
      T *py = y.data<T>();
      for (int64_t bi = 0; bi < s.numBatches(); ++bi) {
        std::fill(acc.begin(), acc.end(), C(0));
        gemmAccumulate<C>(M, N, K, pa + ia.map(bi) * M * K, K,
                          pb + ib.map(bi) * K * N, N, acc.data(), N);
        for (int64_t i = 0; i < M * N; ++i)
          py[bi * M * N + i] = T(acc[size_t(i)]);
      }
    }
  });
  return Status::ok();
}

Status kernel_Gemm(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  EMBER_ASSIGN(GemmShape g, gemmShape(ctx));
  bool tA = g.transA, tB = g.transB;
  int64_t M = g.M, K = g.K, N = g.N;
  double alpha = g.alpha, beta = g.beta;
  Tensor &y = ctx.out(0);
  dispatchElem(a.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (!std::is_same_v<T, bool>) {
      using C = AccT<T>;
      std::vector<C> av = toVector<C>(a), bv = toVector<C>(b);
      // Bring both operands to row-major [M,K] and [K,N].
      if (tA) {
        std::vector<C> t(av.size());
        for (int64_t k = 0; k < K; ++k)
          for (int64_t i = 0; i < M; ++i)
            t[size_t(i * K + k)] = av[size_t(k * M + i)];
        av.swap(t);
      }
      if (tB) {
        std::vector<C> t(bv.size());
        for (int64_t j = 0; j < N; ++j)
          for (int64_t k = 0; k < K; ++k)
            t[size_t(k * N + j)] = bv[size_t(j * K + k)];
        bv.swap(t);
      }
      std::vector<C> acc(size_t(M * N), C(0));
      gemmAccumulate<C>(M, N, K, av.data(), K, bv.data(), N, acc.data(), N);
      T *py = y.data<T>();
      std::vector<C> cv;
      if (ctx.has(2))
        cv = toVector<C>(ctx.in(2));
      BroadcastIndexer ic(y.dims(), ctx.has(2) ? ctx.in(2).dims() : y.dims());
      for (int64_t i = 0; i < M * N; ++i) {
        C v = acc[size_t(i)];
        if (alpha != 1.0)
          v = C(C(alpha) * v);
        if (ctx.has(2) && beta != 0.0)
          v = C(v + (beta == 1.0 ? cv[size_t(ic.map(i))]
                                 : C(C(beta) * cv[size_t(ic.map(i))])));
        py[i] = T(v);
      }
    }
  });
  return Status::ok();
}

Status kernel_Det(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  int64_t M = x.dim(x.rank() - 1), mats = y.size();
  std::vector<double> v = x.toDoubles(), out(static_cast<size_t>(mats));
  for (int64_t m = 0; m < mats; ++m) {
    // LU decomposition with partial pivoting.
    std::vector<double> a(v.begin() + m * M * M, v.begin() + (m + 1) * M * M);
    double det = 1;
    for (int64_t c = 0; c < M; ++c) {
      int64_t p = c;
      for (int64_t i = c + 1; i < M; ++i)
        if (std::fabs(a[size_t(i * M + c)]) > std::fabs(a[size_t(p * M + c)]))
          p = i;
      if (a[size_t(p * M + c)] == 0) {
        det = 0;
        break;
      }
      if (p != c) {
        for (int64_t j = 0; j < M; ++j)
          std::swap(a[size_t(p * M + j)], a[size_t(c * M + j)]);
        det = -det;
      }
      double piv = a[size_t(c * M + c)];
      det *= piv;
      for (int64_t i = c + 1; i < M; ++i) {
        double f = a[size_t(i * M + c)] / piv;
        for (int64_t j = c; j < M; ++j)
          a[size_t(i * M + j)] -= f * a[size_t(c * M + j)];
      }
    }
    out[size_t(m)] = det;
  }
  storeDoubles(y, out);
  return Status::ok();
}

} // namespace ember

// MatMul (numpy semantics) and Gemm reference kernels.
#include "interp/kernels/NnUtil.h"

namespace ember {

namespace {
bool matmulKind(ElemKind k) {
  return isComputeFloatKind(k) || k == ElemKind::I32 || k == ElemKind::I64 ||
         k == ElemKind::U32 || k == ElemKind::U64;
}

// Accumulation type: float for f32/f16/bf16 (as ONNX Runtime does), else T.
template <typename T> using AccT = ComputeT<T>;
} // namespace

Status kernel_MatMul(KernelContext &ctx) {
  const Tensor &a = ctx.in(0), &b = ctx.in(1);
  if (a.elem() != b.elem())
    return ctx.error("operand types differ: ", a.type().toString(), " vs ",
                     b.type().toString());
  if (!matmulKind(a.elem()))
    return ctx.unsupportedError("element type ", elemKindName(a.elem()));
  EMBER_ASSIGN(MatMulShape s, matmulShape(ctx, a.dims(), b.dims()));
  Tensor &y = ctx.setOutput(0, Type(a.elem(), s.out));
  if (ctx.inferOnly())
    return Status::ok();
  BroadcastIndexer ia(s.batch, s.aBatch), ib(s.batch, s.bBatch);
  int64_t M = s.M, K = s.K, N = s.N;
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
  if (a.elem() != b.elem() || (ctx.has(2) && ctx.in(2).elem() != a.elem()))
    return ctx.error("operand types differ");
  if (!matmulKind(a.elem()))
    return ctx.unsupportedError("element type ", elemKindName(a.elem()));
  if (a.rank() != 2 || b.rank() != 2)
    return ctx.error("A and B must be 2-D, got ", a.type().toString(), " and ",
                     b.type().toString());
  bool tA = ctx.attrInt("transA", 0) != 0, tB = ctx.attrInt("transB", 0) != 0;
  double alpha = ctx.attrFloat("alpha", 1.0), beta = ctx.attrFloat("beta", 1.0);
  int64_t M = tA ? a.dims()[1] : a.dims()[0];
  int64_t K = tA ? a.dims()[0] : a.dims()[1];
  int64_t Kb = tB ? b.dims()[1] : b.dims()[0];
  int64_t N = tB ? b.dims()[0] : b.dims()[1];
  if (K != Kb)
    return ctx.error("inner dimensions differ: A ", a.type().toString(),
                     " transA=", tA, ", B ", b.type().toString(),
                     " transB=", tB);
  Dims od{M, N}, bc;
  if (ctx.has(2) && (!broadcastShapes(ctx.in(2).dims(), od, bc) || bc != od))
    return ctx.error("C ", ctx.in(2).type().toString(),
                     " does not broadcast to [", M, ",", N, "]");
  Tensor &y = ctx.setOutput(0, Type(a.elem(), od));
  if (ctx.inferOnly())
    return Status::ok();
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
      BroadcastIndexer ic(od, ctx.has(2) ? ctx.in(2).dims() : od);
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

} // namespace ember

// Conv and ConvTranspose reference kernels (1-D to N-D, groups, dilations,
// auto_pad). Conv is im2col + blocked matmul, accumulating in float for the
// float kinds narrower than f64 (as ONNX Runtime does).
#include "interp/kernels/NnUtil.h"

#include "ember/math/GemmBlocks.h"

#include <cmath>

namespace ember {

namespace {

// ONNX Runtime's float Conv whose weights it computes at run time (MlasConv
// at one thread; attribute ort_order = 1, docs/quantization.md, "Conv").
// Per image and group an im2col matrix of K = (channels per group x kernel
// positions) rows in (channel, kernel position) order, the group's filters
// times it as MLAS's SGEMM sums (sgemmOrtOrder), then the bias.
void convOrtOrder(const ConvProblem &p, const float *x, const float *w,
                  const float *bias, float *y) {
  const int64_t inP = numElements(p.g.in), outP = p.g.outSize(),
                cg = p.inC / p.group, mg = p.outC / p.group,
                K = cg * p.g.kernelSize();
  std::vector<float> col(static_cast<size_t>(K * outP));
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t gi = 0; gi < p.group; ++gi) {
      im2colChunk(p, x + (n * p.inC + gi * cg) * inP, 0, outP, col.data());
      std::vector<float> yg(static_cast<size_t>(mg * outP));
      sgemmOrtOrder(mg, outP, K, w + gi * mg * K, col.data(), yg.data());
      for (int64_t mi = 0; mi < mg; ++mi) {
        const int64_t m = gi * mg + mi;
        float *ym = y + (n * p.outC + m) * outP;
        for (int64_t q = 0; q < outP; ++q)
          ym[q] = bias ? yg[size_t(mi * outP + q)] + bias[m]
                       : yg[size_t(mi * outP + q)];
      }
    }
}

} // namespace

Status kernel_Conv(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  EMBER_ASSIGN(ConvProblem p, convProblem(ctx, x.dims(), w.dims()));
  Tensor &y = ctx.out(0);
  int64_t outP = p.g.outSize();
  if (ctx.attrInt("ort_order", 0) != 0 && x.elem() == ElemKind::F32) {
    convOrtOrder(p, x.data<float>(), w.data<float>(),
                 ctx.has(2) ? ctx.in(2).data<float>() : nullptr,
                 y.data<float>());
    return Status::ok();
  }
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = ComputeT<T>;
      std::vector<C> acc(size_t(y.size()), C(0));
      if (ctx.has(2)) {
        std::vector<C> bias = toVector<C>(ctx.in(2));
        for (int64_t n = 0; n < p.batch; ++n)
          for (int64_t m = 0; m < p.outC; ++m)
            std::fill_n(acc.begin() + (n * p.outC + m) * outP, outP,
                        bias[size_t(m)]);
      }
      if constexpr (std::is_same_v<T, C>) {
        convForward<C>(p, x.data<T>(), w.data<T>(), acc.data());
      } else {
        std::vector<C> xv = toVector<C>(x), wv = toVector<C>(w);
        convForward<C>(p, xv.data(), wv.data(), acc.data());
      }
      T *py = y.data<T>();
      for (size_t i = 0; i < acc.size(); ++i)
        py[i] = T(acc[i]);
    }
  });
  return Status::ok();
}

namespace {

template <typename C>
C weightAt(const std::vector<C> &w, int64_t c, int64_t mg, int64_t mi,
           int64_t kP, int64_t kp) {
  return w[size_t((c * mg + mi) * kP + kp)];
}

} // namespace

// ConvTranspose: X[N, C, in...], W[C, M/group, k...] -> Y[N, M, out...].
Status kernel_ConvTranspose(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  EMBER_ASSIGN(ConvTransposeProblem p, convTransposeProblem(ctx));
  size_t nsp = p.in.size();
  int64_t batch = p.batch, inC = p.inC, outC = p.outC, group = p.group,
          mg = p.mg, cg = p.cg;
  const Dims &in = p.in, &kernel = p.kernel, &strides = p.strides,
             &dil = p.dilations, &out = p.out, &pb = p.padBegin;
  Tensor &y = ctx.out(0);
  int64_t inP = numElements(in), outP = numElements(out),
          kP = numElements(kernel);
  auto inStr = stridesOf(in), outStr = stridesOf(out), kStr = stridesOf(kernel);
  dispatchElem(x.elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (isFloatLike<T>) {
      using C = ComputeT<T>;
      std::vector<C> xv = toVector<C>(x), wv = toVector<C>(w);
      std::vector<C> acc(size_t(y.size()), C(0));
      // Output offset of each (input position, kernel position); -1 when it
      // falls outside the output.
      std::vector<int64_t> target(size_t(inP * kP));
      for (int64_t ip = 0; ip < inP; ++ip)
        for (int64_t kp = 0; kp < kP; ++kp) {
          int64_t off = 0;
          bool ok = true;
          for (size_t d = 0; d < nsp; ++d) {
            int64_t i = (ip / inStr[d]) % in[d], k = (kp / kStr[d]) % kernel[d];
            int64_t o = i * strides[d] + k * dil[d] - pb[d];
            ok = ok && o >= 0 && o < out[d];
            off += o * outStr[d];
          }
          target[size_t(ip * kP + kp)] = ok ? off : -1;
        }
      // ONNX Runtime's order: per group a GEMM cols = W^T X (each column
      // summed over the group's input channels with fused multiply-adds,
      // in MLAS's K blocks), then col2im from zero (each output element
      // adds its taps in (kh, kw) order), then the bias.
      const int64_t strideK = ember_mlas_sgemm_stride_k(
          inP, cg, ctx.attrInt("computed_weights", 0) != 0);
      std::vector<C> col(static_cast<size_t>(inP)),
          part(static_cast<size_t>(inP));
      for (int64_t n = 0; n < batch; ++n)
        for (int64_t g = 0; g < group; ++g)
          for (int64_t mi = 0; mi < mg; ++mi) {
            int64_t m = g * mg + mi;
            C *ym = acc.data() + (n * outC + m) * outP;
            for (int64_t kp = 0; kp < kP; ++kp) {
              for (int64_t k0 = 0; k0 < cg; k0 += strideK) {
                std::fill(part.begin(), part.end(), C(0));
                for (int64_t c = g * cg + k0;
                     c < g * cg + std::min(cg, k0 + strideK); ++c) {
                  const C *xc = xv.data() + (n * inC + c) * inP;
                  C wk = weightAt(wv, c, mg, mi, kP, kp);
                  for (int64_t ip = 0; ip < inP; ++ip)
                    part[size_t(ip)] = std::fma(xc[ip], wk, part[size_t(ip)]);
                }
                for (int64_t ip = 0; ip < inP; ++ip)
                  col[size_t(ip)] = k0 == 0
                                        ? part[size_t(ip)]
                                        : col[size_t(ip)] + part[size_t(ip)];
              }
              for (int64_t ip = 0; ip < inP; ++ip) {
                int64_t t = target[size_t(ip * kP + kp)];
                if (t >= 0)
                  ym[t] += col[size_t(ip)];
              }
            }
          }
      if (ctx.has(2)) {
        std::vector<C> bias = toVector<C>(ctx.in(2));
        for (int64_t n = 0; n < batch; ++n)
          for (int64_t m = 0; m < outC; ++m)
            for (int64_t q = 0; q < outP; ++q)
              acc[size_t((n * outC + m) * outP + q)] += bias[size_t(m)];
      }
      T *py = y.data<T>();
      for (size_t i = 0; i < acc.size(); ++i)
        py[i] = T(acc[i]);
    }
  });
  return Status::ok();
}

} // namespace ember

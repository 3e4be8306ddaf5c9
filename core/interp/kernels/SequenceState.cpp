// Reference kernels of stateful sequence-model ops: LinearAttention
// (linear / gated / delta / gated_delta recurrences), CausalConvWithState
// (depthwise causal conv with a carried state) and TensorScatter (KV-cache
// writes).
#include "interp/Kernel.h"
#include "ir/typerules/Parse.h"

#include <cmath>
#include <cstring>

namespace ember {

namespace {} // namespace

// LinearAttention(query, key, value, past_state?, decay?, beta?) ->
// (output, present_state?). Inputs are [B, T, H * D]; the state is
// [B, Hkv, Dk, Dv]. Per step: state *= exp(decay) (gated rules),
// v = beta * (v - state^T k) (delta rules), state += k v^T, and
// out = scale * q^T state (q heads share kv heads in groups). Computed in
// f32 like the ONNX reference.
Status kernel_LinearAttention(KernelContext &ctx) {
  const Tensor &q = ctx.in(0), &k = ctx.in(1), &v = ctx.in(2);
  EMBER_ASSIGN(LinearAttnShape p, linearAttnShape(ctx));
  bool gating = p.gating, delta = p.delta, perDimDecay = p.perDimDecay;
  int64_t Hq = p.Hq, Hkv = p.Hkv, B = p.B, T = p.T, Dk = p.Dk, Dv = p.Dv;
  size_t nout = ctx.numOutputs();
  Tensor &y = ctx.out(0);

  double scale = ctx.attrFloat("scale", 0.0);
  if (scale == 0.0)
    scale = 1.0 / std::sqrt(double(Dk));
  auto F = [](double x) { return double(float(x)); };
  int64_t group = Hq / Hkv;
  std::vector<double> state(size_t(B * Hkv * Dk * Dv), 0.0);
  if (ctx.has(3))
    for (size_t i = 0; i < state.size(); ++i)
      state[i] = F(ctx.in(3).getDouble(int64_t(i)));
  std::vector<double> vt(size_t(Dv), 0.0), kt(size_t(Dk), 0.0);
  for (int64_t t = 0; t < T; ++t)
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t h = 0; h < Hkv; ++h) {
        double *S = &state[size_t((b * Hkv + h) * Dk * Dv)];
        for (int64_t d = 0; d < Dk; ++d)
          kt[size_t(d)] = F(k.getDouble((b * T + t) * Hkv * Dk + h * Dk + d));
        for (int64_t m = 0; m < Dv; ++m)
          vt[size_t(m)] = F(v.getDouble((b * T + t) * Hkv * Dv + h * Dv + m));
        if (gating) {
          const Tensor &g = ctx.in(4);
          for (int64_t d = 0; d < Dk; ++d) {
            int64_t gi = perDimDecay ? (b * T + t) * Hkv * Dk + h * Dk + d
                                     : (b * T + t) * Hkv + h;
            double e = F(std::exp(F(g.getDouble(gi))));
            for (int64_t m = 0; m < Dv; ++m)
              S[d * Dv + m] = F(S[d * Dv + m] * e);
          }
        }
        if (delta) {
          const Tensor &bt = ctx.in(5);
          double be = F(
              bt.getDouble((b * T + t) * bt.dim(2) + (bt.dim(2) == 1 ? 0 : h)));
          for (int64_t m = 0; m < Dv; ++m) {
            double r = 0;
            for (int64_t d = 0; d < Dk; ++d)
              r += S[d * Dv + m] * kt[size_t(d)];
            vt[size_t(m)] = F(be * F(vt[size_t(m)] - F(r)));
          }
        }
        for (int64_t d = 0; d < Dk; ++d)
          for (int64_t m = 0; m < Dv; ++m)
            S[d * Dv + m] = F(S[d * Dv + m] + F(kt[size_t(d)] * vt[size_t(m)]));
      }
      for (int64_t h = 0; h < Hq; ++h) {
        const double *S = &state[size_t((b * Hkv + h / group) * Dk * Dv)];
        for (int64_t m = 0; m < Dv; ++m) {
          double acc = 0;
          for (int64_t d = 0; d < Dk; ++d)
            acc += F(q.getDouble((b * T + t) * Hq * Dk + h * Dk + d)) *
                   S[d * Dv + m];
          y.setDouble((b * T + t) * Hq * Dv + h * Dv + m, F(scale * F(acc)));
        }
      }
    }
  if (nout > 1)
    for (size_t i = 0; i < state.size(); ++i)
      ctx.out(1).setDouble(int64_t(i), state[i]);
  return Status::ok();
}

// CausalConvWithState(input [B,C,L], weight [C,1,K], bias? [C],
// past_state? [B,C,K-1]) attr activation none|silu|swish ->
// (output [B,C,L], present_state [B,C,K-1]): a depthwise conv over
// past_state ++ input (zeros when no state); present_state holds the last
// K-1 positions of that sequence.
Status kernel_CausalConvWithState(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  int64_t B = x.dim(0), C = x.dim(1), L = x.dim(2), K = w.dim(2);
  std::string act = ctx.attrString("activation", "none");
  bool silu = act == "silu" || act == "swish";
  size_t nout = ctx.numOutputs();
  Tensor &y = ctx.out(0);
  ElemKind ek = x.elem();
  int64_t P = L + K - 1;
  std::vector<double> seq(size_t(P), 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      for (int64_t i = 0; i < K - 1; ++i)
        seq[size_t(i)] =
            ctx.has(3) ? ctx.in(3).getDouble((b * C + c) * (K - 1) + i) : 0.0;
      for (int64_t i = 0; i < L; ++i)
        seq[size_t(K - 1 + i)] = x.getDouble((b * C + c) * L + i);
      for (int64_t t = 0; t < L; ++t) {
        double acc = ctx.has(2) ? ctx.in(2).getDouble(c) : 0.0;
        for (int64_t j = 0; j < K; ++j)
          acc += w.getDouble(c * K + j) * seq[size_t(t + j)];
        acc = roundToKind(ek, acc);
        if (silu)
          acc = roundToKind(
              ek, double(float(acc) / (1.0f + std::exp(-float(acc)))));
        y.setDouble((b * C + c) * L + t, acc);
      }
      if (nout > 1)
        for (int64_t i = 0; i < K - 1; ++i)
          ctx.out(1).setDouble((b * C + c) * (K - 1) + i, seq[size_t(L + i)]);
    }
  return Status::ok();
}

// TensorScatter(past_cache, update, write_indices?) attrs mode
// linear|circular, axis=-2: copies update into the cache along axis,
// starting per batch (dim 0) at write_indices[b] (0 when absent).
Status kernel_TensorScatter(KernelContext &ctx) {
  const Tensor &cache = ctx.in(0), &up = ctx.in(1);
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -2), cache.rank()));
  bool circular = ctx.attrString("mode", "linear") == "circular";
  int64_t B = cache.dim(0);
  Tensor &y = ctx.out(0);
  std::memcpy(y.raw(), cache.raw(), cache.bytes());
  std::vector<int64_t> widx(size_t(B), 0);
  if (ctx.has(2))
    widx = ctx.in(2).toInts();
  int64_t maxLen = cache.dim(size_t(axis)), len = up.dim(size_t(axis));
  int64_t inner = 1, outer = 1; // outer counts the dims before axis
  for (size_t d = size_t(axis) + 1; d < cache.rank(); ++d)
    inner *= cache.dim(d);
  for (size_t d = 0; d < size_t(axis); ++d)
    outer *= cache.dim(d);
  int64_t perBatch = B ? outer / B : 0;
  size_t es = elemSize(cache.elem());
  for (int64_t o = 0; o < outer; ++o) {
    int64_t b = perBatch ? o / perBatch : 0;
    for (int64_t s = 0; s < len; ++s) {
      int64_t pos = widx[size_t(b)] + s;
      if (circular)
        pos = ((pos % maxLen) + maxLen) % maxLen;
      else if (pos < 0) // numpy indexing counts from the end
        pos += maxLen;
      if (pos < 0 || pos >= maxLen)
        return ctx.error("write index ", widx[size_t(b)], " + ", s,
                         " is outside the cache length ", maxLen);
      std::memcpy(y.raw() + size_t((o * maxLen + pos) * inner) * es,
                  up.raw() + size_t((o * len + s) * inner) * es,
                  size_t(inner) * es);
    }
  }
  return Status::ok();
}

} // namespace ember

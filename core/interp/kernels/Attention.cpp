// Reference kernels for transformer blocks: Attention (opset 23-25:
// 3-D/4-D inputs, GQA/MQA, bool/float masks, causal and sliding-window
// masks, KV cache, softcap, qk_matmul_output modes, softmax precision) and
// RotaryEmbedding.
#include "ir/typerules/Attention.h"
#include "interp/Kernel.h"

#include <cmath>
#include <limits>

namespace ember {

namespace {

// Element (b, h, s, d) of a Q/K/V operand in 4-D [B, H, S, D] or 3-D
// [B, S, H * D] layout.
int64_t headIndex(bool rank3, int64_t H, int64_t S, int64_t D, int64_t b,
                  int64_t h, int64_t s, int64_t d) {
  if (rank3)
    return (b * S + s) * (H * D) + h * D + d;
  return ((b * H + h) * S + s) * D + d;
}

} // namespace

// Attention(Q, K, V, attn_mask?, past_key?, past_value?, nonpad_kv_seqlen?)
// -> (Y, present_key?, present_value?, qk_matmul_output?).
Status kernel_Attention(KernelContext &ctx) {
  EMBER_ASSIGN(AttnShape a, attentionShape(ctx));
  size_t nout = ctx.numOutputs();
  int64_t mode = a.mode, left = a.left, right = a.right;
  ElemKind k = a.kind, smk = a.softmaxKind;
  Tensor &y = ctx.out(0);

  std::vector<double> qv = ctx.in(0).toDoubles(), kv = ctx.in(1).toDoubles(),
                      vv = ctx.in(2).toDoubles();
  auto R = [k](double x) { return roundToKind(k, x); };
  double scale = ctx.hasAttr("scale") ? ctx.attrFloat("scale", 1.0)
                                      : 1.0 / std::sqrt(double(a.D));
  double s = R(std::sqrt(scale));
  double softcap = ctx.attrFloat("softcap", 0.0);
  bool causal = ctx.attrInt("is_causal", 0) != 0;
  const double ninf = -std::numeric_limits<double>::infinity();

  // present K/V (past ++ new) in [B, Hkv, S, D|Dv], unscaled.
  std::vector<double> kp(size_t(a.B * a.Hkv * a.S * a.D)),
      vp(size_t(a.B * a.Hkv * a.S * a.Dv));
  for (int64_t b = 0; b < a.B; ++b)
    for (int64_t h = 0; h < a.Hkv; ++h)
      for (int64_t j = 0; j < a.S; ++j) {
        for (int64_t d = 0; d < a.D; ++d) {
          double val =
              j < a.P
                  ? ctx.in(4).getDouble(((b * a.Hkv + h) * a.P + j) * a.D + d)
                  : kv[size_t(headIndex(a.rank3, a.Hkv, a.Skv, a.D, b, h,
                                        j - a.P, d))];
          kp[size_t(((b * a.Hkv + h) * a.S + j) * a.D + d)] = val;
        }
        for (int64_t d = 0; d < a.Dv; ++d) {
          double val =
              j < a.P
                  ? ctx.in(5).getDouble(((b * a.Hkv + h) * a.P + j) * a.Dv + d)
                  : vv[size_t(headIndex(a.rank3, a.Hkv, a.Skv, a.Dv, b, h,
                                        j - a.P, d))];
          vp[size_t(((b * a.Hkv + h) * a.S + j) * a.Dv + d)] = val;
        }
      }
  if (nout > 1)
    for (size_t i = 0; i < kp.size(); ++i)
      ctx.out(1).setDouble(int64_t(i), kp[i]);
  if (nout > 2)
    for (size_t i = 0; i < vp.size(); ++i)
      ctx.out(2).setDouble(int64_t(i), vp[i]);
  std::vector<double> ks(kp.size());
  for (size_t i = 0; i < kp.size(); ++i)
    ks[i] = R(kp[i] * s);

  std::vector<int64_t> nonpad;
  if (ctx.has(6))
    nonpad = ctx.in(6).toInts();
  const Tensor *mask = ctx.has(3) ? &ctx.in(3) : nullptr;
  std::vector<int64_t> mStr;
  if (mask)
    mStr = stridesOf(mask->dims());

  int64_t reps = a.Hq / a.Hkv;
  std::vector<double> qs(size_t(a.D)), raw(size_t(a.S)), capped(size_t(a.S)),
      qkb(size_t(a.S)), prob(size_t(a.S));
  for (int64_t b = 0; b < a.B; ++b) {
    // Offset of the query block among the valid keys (causal/window).
    int64_t off = ctx.has(4) ? a.P : ctx.has(6) ? nonpad[size_t(b)] - a.Sq : 0;
    for (int64_t h = 0; h < a.Hq; ++h) {
      int64_t kvh = h / reps;
      for (int64_t i = 0; i < a.Sq; ++i) {
        for (int64_t d = 0; d < a.D; ++d)
          qs[size_t(d)] = R(
              qv[size_t(headIndex(a.rank3, a.Hq, a.Sq, a.D, b, h, i, d))] * s);
        bool allMasked = a.S > 0;
        for (int64_t j = 0; j < a.S; ++j) {
          const double *kr = &ks[size_t(((b * a.Hkv + kvh) * a.S + j) * a.D)];
          double acc = 0;
          for (int64_t d = 0; d < a.D; ++d)
            acc += qs[size_t(d)] * kr[d];
          raw[size_t(j)] = R(acc);
          double c = raw[size_t(j)];
          if (softcap > 0)
            c = R(R(std::tanh(R(c / softcap))) * softcap);
          capped[size_t(j)] = c;
          // Additive bias: mask (padded with -inf), causal frontier,
          // sliding window, padding of the external cache.
          double bv = 0;
          if (mask) {
            int64_t mr = int64_t(mask->rank());
            if (j >= mask->dims().back()) {
              bv = ninf;
            } else {
              int64_t coord[4] = {b, h, i, j}, idx = 0;
              for (int64_t t = 0; t < mr; ++t) {
                int64_t md = mask->dim(size_t(t));
                int64_t c4 = coord[4 - mr + t];
                idx += (md == 1 ? 0 : c4) * mStr[size_t(t)];
              }
              if (mask->elem() == ElemKind::Bool)
                bv = mask->data<bool>()[idx] ? 0.0 : ninf;
              else
                bv = mask->getDouble(idx);
            }
          }
          if (causal && j > i + off)
            bv = R(bv + ninf);
          if (left >= 0 || right >= 0) {
            int64_t diff = i + off - j;
            if ((left >= 0 && diff > left) || (right >= 0 && -diff > right))
              bv = R(bv + ninf);
          }
          if (ctx.has(6) && j >= nonpad[size_t(b)])
            bv = R(bv + ninf);
          allMasked = allMasked && bv == ninf;
          qkb[size_t(j)] = R(c + bv);
        }
        // Softmax in the softmax precision; an all -inf row gives 0s.
        double mx = ninf;
        bool nan = false;
        for (int64_t j = 0; j < a.S; ++j) {
          double x = roundToKind(smk, qkb[size_t(j)]);
          nan = nan || std::isnan(x);
          mx = std::max(mx, x);
        }
        if (nan)
          mx = std::numeric_limits<double>::quiet_NaN();
        if (mx == ninf)
          mx = 0;
        double sum = 0;
        for (int64_t j = 0; j < a.S; ++j) {
          prob[size_t(j)] =
              roundToKind(smk, std::exp(roundToKind(smk, qkb[size_t(j)]) - mx));
          sum += prob[size_t(j)];
        }
        sum = roundToKind(smk, sum);
        if (sum == 0)
          sum = 1;
        for (int64_t j = 0; j < a.S; ++j)
          prob[size_t(j)] =
              allMasked ? 0.0 : R(roundToKind(smk, prob[size_t(j)] / sum));
        if (nout > 3) {
          const std::vector<double> &src = mode == 0   ? raw
                                           : mode == 1 ? capped
                                           : mode == 2 ? qkb
                                                       : prob;
          for (int64_t j = 0; j < a.S; ++j)
            ctx.out(3).setDouble(((b * a.Hq + h) * a.Sq + i) * a.S + j,
                                 src[size_t(j)]);
        }
        for (int64_t e = 0; e < a.Dv; ++e) {
          double acc = 0;
          for (int64_t j = 0; j < a.S; ++j)
            acc += prob[size_t(j)] *
                   vp[size_t(((b * a.Hkv + kvh) * a.S + j) * a.Dv + e)];
          int64_t yi = a.rank3 ? (b * a.Sq + i) * (a.Hq * a.Dv) + h * a.Dv + e
                               : ((b * a.Hq + h) * a.Sq + i) * a.Dv + e;
          y.setDouble(yi, acc);
        }
      }
    }
  }
  return Status::ok();
}

// RotaryEmbedding(X, cos_cache, sin_cache, position_ids?) attrs interleaved,
// rotary_embedding_dim, num_heads. X is [B, H, S, D] or [B, S, H * D]; the
// caches are [max_pos, rd/2] with position_ids [B, S], else [B, S, rd/2].
Status kernel_RotaryEmbedding(KernelContext &ctx) {
  const Tensor &x = ctx.in(0), &cosC = ctx.in(1), &sinC = ctx.in(2);
  EMBER_ASSIGN(RotaryShape r, rotaryShape(ctx));
  bool r3 = r.r3, hasPos = r.hasPos, inter = r.interleaved;
  int64_t B = r.B, H = r.H, S = r.S, D = r.D, rd = r.rd, half = r.half;
  Tensor &y = ctx.out(0);
  std::vector<int64_t> pos;
  if (hasPos)
    pos = ctx.in(3).toInts();
  auto R = [&](double v) { return roundToKind(x.elem(), v); };
  for (int64_t b = 0; b < B; ++b)
    for (int64_t si = 0; si < S; ++si) {
      int64_t row;
      if (hasPos) {
        int64_t p = pos[size_t(b * S + si)];
        if (p < 0) // numpy/Gather indexing counts from the end
          p += cosC.dim(0);
        if (p < 0 || p >= cosC.dim(0))
          return ctx.error("position id ", p, " outside [0, ", cosC.dim(0),
                           ")");
        row = p * half;
      } else {
        row = ((cosC.dim(0) == 1 ? 0 : b) * S + si) * half;
      }
      for (int64_t h = 0; h < H; ++h) {
        int64_t base =
            r3 ? (b * S + si) * (H * D) + h * D : ((b * H + h) * S + si) * D;
        for (int64_t d = rd; d < D; ++d)
          y.setDouble(base + d, x.getDouble(base + d));
        for (int64_t d = 0; d < half; ++d) {
          int64_t i1 = inter ? 2 * d : d, i2 = inter ? 2 * d + 1 : d + half;
          double x1 = x.getDouble(base + i1), x2 = x.getDouble(base + i2);
          double c = cosC.getDouble(row + d), sn = sinC.getDouble(row + d);
          y.setDouble(base + i1, R(R(c * x1) - R(sn * x2)));
          y.setDouble(base + i2, R(R(sn * x1) + R(c * x2)));
        }
      }
    }
  return Status::ok();
}

} // namespace ember

// Type rules of the ops whose reference kernels are in
// interp/kernels/SequenceState.cpp.
#include "ir/typerules/Parse.h"

namespace ember {

Expected<LinearAttnShape> linearAttnShape(const TypeContext &ctx) {
  const Tensor &q = ctx.in(0), &k = ctx.in(1), &v = ctx.in(2);
  if (!isFloatKind(q.elem()))
    return ctx.unsupportedError("element type ", elemKindName(q.elem()));
  if (k.elem() != q.elem() || v.elem() != q.elem())
    return ctx.error("query, key and value must have one element type");
  if (q.rank() != 3 || k.rank() != 3 || v.rank() != 3)
    return ctx.error("query, key and value must be [B, T, H*D]");
  std::string rule = ctx.attrString("update_rule", "gated_delta");
  bool gating = rule == "gated" || rule == "gated_delta";
  bool delta = rule == "delta" || rule == "gated_delta";
  if (!gating && !delta && rule != "linear")
    return ctx.error("unknown update_rule '", rule, "'");
  int64_t Hq = ctx.attrInt("q_num_heads", 0),
          Hkv = ctx.attrInt("kv_num_heads", 0);
  if (Hq < 1 || Hkv < 1 || Hq % Hkv)
    return ctx.error("q_num_heads ", Hq,
                     " must be a positive multiple of "
                     "kv_num_heads ",
                     Hkv);
  int64_t B = q.dim(0), T = q.dim(1);
  if (k.dim(0) != B || v.dim(0) != B || k.dim(1) != T || v.dim(1) != T)
    return ctx.error("batch and sequence dims of query, key, value differ");
  if (q.dim(2) % Hq || k.dim(2) % Hkv || v.dim(2) % Hkv)
    return ctx.error("hidden sizes are not multiples of the head counts");
  int64_t Dk = q.dim(2) / Hq, Dv = v.dim(2) / Hkv;
  if (k.dim(2) / Hkv != Dk)
    return ctx.error("key head size ", k.dim(2) / Hkv,
                     " differs from query head size ", Dk);
  if (gating != ctx.has(4))
    return ctx.error("update_rule '", rule, "' ",
                     gating ? "requires" : "forbids", " decay");
  if (delta != ctx.has(5))
    return ctx.error("update_rule '", rule, "' ",
                     delta ? "requires" : "forbids", " beta");
  ElemKind stateKind = q.elem();
  if (ctx.has(3)) {
    const Tensor &ps = ctx.in(3);
    if (!isFloatKind(ps.elem()) || ps.dims() != Dims{B, Hkv, Dk, Dv})
      return ctx.error("past_state ", ps.type().toString(), " must be [", B,
                       ",", Hkv, ",", Dk, ",", Dv, "]");
    stateKind = ps.elem();
  }
  bool perDimDecay = false;
  if (ctx.has(4)) {
    const Tensor &g = ctx.in(4);
    if (!isFloatKind(g.elem()) || g.rank() != 3 || g.dim(0) != B ||
        g.dim(1) != T || (g.dim(2) != Hkv && g.dim(2) != Hkv * Dk))
      return ctx.error("decay ", g.type().toString(), " must be [", B, ",", T,
                       ",", Hkv, " or ", Hkv * Dk, "]");
    perDimDecay = g.dim(2) == Hkv * Dk;
  }
  if (ctx.has(5)) {
    const Tensor &bt = ctx.in(5);
    if (!isFloatKind(bt.elem()) || bt.rank() != 3 || bt.dim(0) != B ||
        bt.dim(1) != T || (bt.dim(2) != Hkv && bt.dim(2) != 1))
      return ctx.error("beta ", bt.type().toString(), " must be [", B, ",", T,
                       ",", Hkv, " or 1]");
  }
  size_t nout = ctx.numOutputs();
  if (nout < 1 || nout > 2)
    return ctx.error("expects 1 or 2 results, got ", nout);
  LinearAttnShape p;
  p.gating = gating;
  p.delta = delta;
  p.Hq = Hq;
  p.Hkv = Hkv;
  p.B = B;
  p.T = T;
  p.Dk = Dk;
  p.Dv = Dv;
  p.stateKind = stateKind;
  p.perDimDecay = perDimDecay;
  return p;
}

Status types_LinearAttention(TypeContext &ctx) {
  EMBER_ASSIGN(LinearAttnShape p, linearAttnShape(ctx));
  const Tensor &q = ctx.in(0);
  ctx.setOutput(0, Type(q.elem(), {p.B, p.T, p.Hq * p.Dv}));
  if (ctx.numOutputs() > 1)
    ctx.setOutput(1, Type(p.stateKind, {p.B, p.Hkv, p.Dk, p.Dv}));
  return Status::ok();
}

Status types_CausalConvWithState(TypeContext &ctx) {
  const Tensor &x = ctx.in(0), &w = ctx.in(1);
  if (x.rank() != 3 || w.rank() != 3 || w.elem() != x.elem())
    return ctx.error("input must be [B,C,L] and weight [C,1,K] of one type, "
                     "got ",
                     x.type().toString(), " and ", w.type().toString());
  int64_t B = x.dim(0), C = x.dim(1), K = w.dim(2);
  if (w.dim(0) != C || w.dim(1) != 1 || K < 1)
    return ctx.error("weight ", w.type().toString(), " must be [", C,
                     ",1,K] with K >= 1");
  if (ctx.has(2) && (ctx.in(2).elem() != x.elem() || ctx.in(2).rank() != 1 ||
                     ctx.in(2).dim(0) != C))
    return ctx.error("bias ", ctx.in(2).type().toString(), " must be [", C,
                     "]");
  if (ctx.has(3) &&
      (ctx.in(3).elem() != x.elem() || ctx.in(3).dims() != Dims{B, C, K - 1}))
    return ctx.error("past_state ", ctx.in(3).type().toString(), " must be [",
                     B, ",", C, ",", K - 1, "]");
  std::string act = ctx.attrString("activation", "none");
  bool silu = act == "silu" || act == "swish";
  if (!silu && act != "none")
    return ctx.error("unknown activation '", act, "'");
  size_t nout = ctx.numOutputs();
  if (nout < 1 || nout > 2)
    return ctx.error("expects 1 or 2 results, got ", nout);
  ctx.setOutput(0, Type(x.elem(), x.dims()));
  if (nout > 1)
    ctx.setOutput(1, Type(x.elem(), {B, C, K - 1}));
  return Status::ok();
}

Status types_TensorScatter(TypeContext &ctx) {
  const Tensor &cache = ctx.in(0), &up = ctx.in(1);
  if (cache.elem() != up.elem() || cache.rank() != up.rank() ||
      cache.rank() < 2)
    return ctx.error("past_cache ", cache.type().toString(), " and update ",
                     up.type().toString(), " must have one type and rank >= 2");
  EMBER_ASSIGN(int64_t axis,
               normalizeAxis(ctx, ctx.attrInt("axis", -2), cache.rank()));
  if (axis == 0)
    return ctx.error("axis must not be the batch dim 0");
  for (size_t d = 0; d < cache.rank(); ++d)
    if (int64_t(d) == axis ? up.dim(d) > cache.dim(d)
                           : up.dim(d) != cache.dim(d))
      return ctx.error("update ", up.type().toString(),
                       " does not fit past_cache ", cache.type().toString(),
                       " along axis ", axis);
  std::string mode = ctx.attrString("mode", "linear");
  if (mode != "linear" && mode != "circular")
    return ctx.error("unknown mode '", mode, "'");
  int64_t B = cache.dim(0);
  if (ctx.has(2) && (!isIntKind(ctx.in(2).elem()) || ctx.in(2).rank() != 1 ||
                     ctx.in(2).dim(0) != B))
    return ctx.error("write_indices must be an integer [", B, "] tensor, got ",
                     ctx.in(2).type().toString());
  ctx.setOutput(0, cache.type().withDims(cache.dims()));
  return Status::ok();
}
} // namespace ember

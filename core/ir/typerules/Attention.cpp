// Type rules of the transformer blocks (kernels: interp/kernels/
// Attention.cpp) and their parse helpers (ir/typerules/Attention.h).
#include "ir/typerules/Attention.h"

namespace ember {

Expected<AttnShape> attentionShape(const TypeContext &ctx) {
  AttnShape a;
  const Tensor &q = ctx.in(0), &k = ctx.in(1), &v = ctx.in(2);
  if (!isFloatKind(q.elem()))
    return ctx.unsupportedError("element type ", elemKindName(q.elem()));
  if (k.elem() != q.elem() || v.elem() != q.elem())
    return ctx.error("Q, K and V must have one element type, got ",
                     q.type().toString(), ", ", k.type().toString(), ", ",
                     v.type().toString());
  if (q.rank() != k.rank() || q.rank() != v.rank() ||
      (q.rank() != 3 && q.rank() != 4))
    return ctx.error("Q, K and V must all be 3-D or all 4-D, got ",
                     q.type().toString(), ", ", k.type().toString(), ", ",
                     v.type().toString());
  a.rank3 = q.rank() == 3;
  a.B = q.dim(0);
  if (k.dim(0) != a.B || v.dim(0) != a.B)
    return ctx.error("batch sizes of Q, K, V differ");
  if (a.rank3) {
    a.Hq = ctx.attrInt("q_num_heads", 0);
    a.Hkv = ctx.attrInt("kv_num_heads", 0);
    if (a.Hq < 1 || a.Hkv < 1)
      return ctx.error("3-D inputs need q_num_heads and kv_num_heads >= 1");
    if (q.dim(2) % a.Hq || k.dim(2) % a.Hkv || v.dim(2) % a.Hkv)
      return ctx.error("hidden sizes of Q ", q.type().toString(), ", K ",
                       k.type().toString(), ", V ", v.type().toString(),
                       " are not multiples of the head counts ", a.Hq, "/",
                       a.Hkv);
    a.Sq = q.dim(1);
    a.Skv = k.dim(1);
    a.D = q.dim(2) / a.Hq;
    if (k.dim(2) / a.Hkv != a.D)
      return ctx.error("K head size ", k.dim(2) / a.Hkv,
                       " differs from Q head size ", a.D);
    if (v.dim(1) != a.Skv)
      return ctx.error("K and V sequence lengths differ");
    a.Dv = v.dim(2) / a.Hkv;
  } else {
    a.Hq = q.dim(1);
    a.Sq = q.dim(2);
    a.D = q.dim(3);
    a.Hkv = k.dim(1);
    a.Skv = k.dim(2);
    if (k.dim(3) != a.D)
      return ctx.error("K head size ", k.dim(3), " differs from Q head size ",
                       a.D);
    if (v.dim(1) != a.Hkv || v.dim(2) != a.Skv)
      return ctx.error("V ", v.type().toString(), " does not match K ",
                       k.type().toString());
    a.Dv = v.dim(3);
  }
  if (a.Hkv < 1 || a.Hq % a.Hkv != 0)
    return ctx.error("q heads ", a.Hq, " must be a multiple of kv heads ",
                     a.Hkv);
  if (ctx.has(4) != ctx.has(5))
    return ctx.error("past_key and past_value must be given together");
  if (ctx.has(4)) {
    const Tensor &pk = ctx.in(4), &pv = ctx.in(5);
    if (pk.elem() != q.elem() || pv.elem() != q.elem() || pk.rank() != 4 ||
        pv.rank() != 4 || pk.dim(0) != a.B || pk.dim(1) != a.Hkv ||
        pk.dim(3) != a.D || pv.dim(0) != a.B || pv.dim(1) != a.Hkv ||
        pv.dim(2) != pk.dim(2) || pv.dim(3) != a.Dv)
      return ctx.error("past_key ", pk.type().toString(), " / past_value ",
                       pv.type().toString(), " must be [", a.B, ",", a.Hkv,
                       ",P,", a.D, "] / [", a.B, ",", a.Hkv, ",P,", a.Dv,
                       "] of the input type");
    a.P = pk.dim(2);
  }
  a.S = a.P + a.Skv;
  if (ctx.has(6)) {
    const Tensor &np = ctx.in(6);
    if (!isIntKind(np.elem()) || np.rank() != 1 || np.dim(0) != a.B)
      return ctx.error("nonpad_kv_seqlen must be an integer [", a.B,
                       "] tensor, got ", np.type().toString());
    if (ctx.has(4))
      return ctx.error("nonpad_kv_seqlen cannot be combined with past_key");
  }
  if (ctx.has(3)) {
    const Tensor &m = ctx.in(3);
    if (m.elem() != ElemKind::Bool && m.elem() != q.elem())
      return ctx.error("attn_mask must be bool or the input type, got ",
                       m.type().toString());
    Dims target = {a.B, a.Hq, a.Sq, a.S};
    if (m.rank() < 1 || m.rank() > 4 || m.dims().back() > a.S)
      return ctx.error("attn_mask ", m.type().toString(),
                       " does not broadcast to [", a.B, ",", a.Hq, ",", a.Sq,
                       ",", a.S, "]");
    for (size_t i = 0; i + 1 < m.rank(); ++i) {
      int64_t md = m.dim(i), td = target[4 - m.rank() + i];
      if (md != 1 && md != td)
        return ctx.error("attn_mask ", m.type().toString(),
                         " does not broadcast to [", a.B, ",", a.Hq, ",", a.Sq,
                         ",", a.S, "]");
    }
  }

  size_t nout = ctx.numOutputs();
  if (nout < 1 || nout > 4)
    return ctx.error("expects 1 to 4 results, got ", nout);
  a.mode = ctx.attrInt("qk_matmul_output_mode", 0);
  if (a.mode < 0 || a.mode > 3)
    return ctx.error("qk_matmul_output_mode must be 0..3, got ", a.mode);
  a.kind = a.softmaxKind = ctx.in(0).elem();
  if (ctx.hasAttr("softmax_precision")) {
    int64_t sp = ctx.attrInt("softmax_precision", 1);
    if (!elemKindFromOnnx(int(sp), a.softmaxKind) ||
        !isFloatKind(a.softmaxKind) || isMiniKind(a.softmaxKind))
      return ctx.error("softmax_precision ", sp, " is not a float type");
  }
  a.left = ctx.attrInt("left_window_size", -1);
  a.right = ctx.attrInt("right_window_size", -1);
  if (a.left < -1 || a.right < -1)
    return ctx.error("window sizes must be -1 or >= 0");
  return a;
}

// Attention(Q, K, V, attn_mask?, past_key?, past_value?, nonpad_kv_seqlen?)
// -> (Y, present_key?, present_value?, qk_matmul_output?).
Status types_Attention(TypeContext &ctx) {
  EMBER_ASSIGN(AttnShape a, attentionShape(ctx));
  size_t nout = ctx.numOutputs();
  ElemKind k = a.kind;
  Dims yd =
      a.rank3 ? Dims{a.B, a.Sq, a.Hq * a.Dv} : Dims{a.B, a.Hq, a.Sq, a.Dv};
  ctx.setOutput(0, Type(k, yd));
  if (nout > 1)
    ctx.setOutput(1, Type(k, {a.B, a.Hkv, a.S, a.D}));
  if (nout > 2)
    ctx.setOutput(2, Type(k, {a.B, a.Hkv, a.S, a.Dv}));
  if (nout > 3)
    ctx.setOutput(3, Type(k, {a.B, a.Hq, a.Sq, a.S}));
  return Status::ok();
}

Expected<RotaryShape> rotaryShape(const TypeContext &ctx) {
  RotaryShape r;
  const Tensor &x = ctx.in(0), &cosC = ctx.in(1), &sinC = ctx.in(2);
  if (cosC.elem() != x.elem() || sinC.elem() != x.elem())
    return ctx.error("caches must have the input element type");
  if (x.rank() != 3 && x.rank() != 4)
    return ctx.error("X must be 3-D or 4-D, got ", x.type().toString());
  bool r3 = x.rank() == 3;
  int64_t B = x.dim(0), H, S, D;
  if (r3) {
    H = ctx.attrInt("num_heads", 0);
    S = x.dim(1);
    if (H < 1 || x.dim(2) % H)
      return ctx.error("3-D input needs num_heads >= 1 dividing ", x.dim(2));
    D = x.dim(2) / H;
  } else {
    H = x.dim(1);
    S = x.dim(2);
    D = x.dim(3);
  }
  int64_t rd = ctx.attrInt("rotary_embedding_dim", 0);
  if (rd == 0)
    rd = D;
  if (rd < 0 || rd > D || rd % 2)
    return ctx.error("rotary_embedding_dim ", rd,
                     " must be even and at most the head size ", D);
  int64_t half = rd / 2;
  bool hasPos = ctx.has(3);
  if (cosC.dims() != sinC.dims())
    return ctx.error("cos_cache ", cosC.type().toString(), " and sin_cache ",
                     sinC.type().toString(), " differ");
  if (hasPos) {
    const Tensor &p = ctx.in(3);
    if (!isIntKind(p.elem()) || p.rank() != 2 || p.dim(0) != B || p.dim(1) != S)
      return ctx.error("position_ids must be an integer [", B, ",", S,
                       "] tensor, got ", p.type().toString());
    if (cosC.rank() != 2 || cosC.dim(1) != half)
      return ctx.error("caches must be [max_position, ", half, "], got ",
                       cosC.type().toString());
  } else if (cosC.rank() != 3 || (cosC.dim(0) != B && cosC.dim(0) != 1) ||
             cosC.dim(1) != S || cosC.dim(2) != half) {
    return ctx.error("caches must be [", B, ",", S, ",", half,
                     "] without position_ids, got ", cosC.type().toString());
  }
  bool inter = ctx.attrInt("interleaved", 0) != 0;
  r.r3 = r3;
  r.B = B;
  r.H = H;
  r.S = S;
  r.D = D;
  r.rd = rd;
  r.half = half;
  r.hasPos = hasPos;
  r.interleaved = inter;
  return r;
}

Status types_RotaryEmbedding(TypeContext &ctx) {
  EMBER_ASSIGN(RotaryShape r, rotaryShape(ctx));
  (void)r;
  const Tensor &x = ctx.in(0);
  ctx.setOutput(0, x.type().withDims(x.dims()));
  return Status::ok();
}

} // namespace ember

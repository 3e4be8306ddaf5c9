// Lowerings of the transformer and sequence-state ops: Attention (scaled
// dot-product with masks, GQA, causal and KV-cache forms), RotaryEmbedding,
// CausalConvWithState (a grouped Conv over state ++ input) and
// TensorScatter (KV-cache writes).
#include "lower/LowerUtil.h"

#include <cmath>
#include <limits>

namespace ember {

// Attention: heads to [B, H, S, D], KV cache Concat, Q and K scaled by
// sqrt(scale), MatMul with K^T (GQA: the q heads sharing a kv head are
// folded into the row dim), softcap, additive bias (mask, causal/window
// frontier, external-cache padding), Softmax with a zero guard for fully
// masked rows, MatMul with V, heads back to the input layout.
Expected<std::vector<Value>> lower_Attention(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &qt = b.inType(0), &kt = b.inType(1), &vt = b.inType(2);
  ElemKind k = qt.elem();
  bool r3 = qt.rank() == 3;
  int64_t B = qt.dim(0), Hq, Hkv, Sq, Skv, D, Dv;
  if (r3) {
    Hq = n.attrInt("q_num_heads", 0);
    Hkv = n.attrInt("kv_num_heads", 0);
    if (Hq < 1 || Hkv < 1)
      return invalid("Attention: 3-D inputs need head counts");
    Sq = qt.dim(1);
    Skv = kt.dim(1);
    D = qt.dim(2) / Hq;
    Dv = vt.dim(2) / Hkv;
  } else {
    Hq = qt.dim(1);
    Sq = qt.dim(2);
    D = qt.dim(3);
    Hkv = kt.dim(1);
    Skv = kt.dim(2);
    Dv = vt.dim(3);
  }
  int64_t P = b.has(4) ? b.inType(4).dim(2) : 0, S = P + Skv;
  int64_t reps = Hq / Hkv;
  const double ninf = -std::numeric_limits<double>::infinity();
  Value q = b.in(0), kk = b.in(1), v = b.in(2);
  auto perm = [](std::vector<int64_t> p) {
    return AttrMap{{"perm", Attr::ofInts(std::move(p))}};
  };
  if (r3) {
    EMBER_ASSIGN(q, b.op(OpKind::Reshape, {q, b.ints({B, Sq, Hq, D})}));
    EMBER_ASSIGN(q, b.op(OpKind::Transpose, {q}, perm({0, 2, 1, 3})));
    EMBER_ASSIGN(kk, b.op(OpKind::Reshape, {kk, b.ints({B, Skv, Hkv, D})}));
    EMBER_ASSIGN(kk, b.op(OpKind::Transpose, {kk}, perm({0, 2, 1, 3})));
    EMBER_ASSIGN(v, b.op(OpKind::Reshape, {v, b.ints({B, Skv, Hkv, Dv})}));
    EMBER_ASSIGN(v, b.op(OpKind::Transpose, {v}, perm({0, 2, 1, 3})));
  }
  if (b.has(4)) {
    AttrMap ax{{"axis", Attr::ofInt(2)}};
    EMBER_ASSIGN(kk, b.op(OpKind::Concat, {b.in(4), kk}, ax));
    EMBER_ASSIGN(v, b.op(OpKind::Concat, {b.in(5), v}, ax));
  }
  double scale = n.hasAttr("scale") ? n.attrFloat("scale", 1.0)
                                    : 1.0 / std::sqrt(double(D));
  Value sv = b.scalar(k, std::sqrt(scale));
  EMBER_ASSIGN(Value qs, b.op(OpKind::Mul, {q, sv}));
  EMBER_ASSIGN(Value ks, b.op(OpKind::Mul, {kk, sv}));
  EMBER_ASSIGN(ks, b.op(OpKind::Transpose, {ks}, perm({0, 1, 3, 2})));
  if (reps > 1) {
    EMBER_ASSIGN(qs,
                 b.op(OpKind::Reshape, {qs, b.ints({B, Hkv, reps * Sq, D})}));
  }
  EMBER_ASSIGN(Value raw, b.op(OpKind::MatMul, {qs, ks}));
  if (reps > 1) {
    EMBER_ASSIGN(raw, b.op(OpKind::Reshape, {raw, b.ints({B, Hq, Sq, S})}));
  }
  Value capped = raw;
  double softcap = n.attrFloat("softcap", 0.0);
  if (softcap > 0) {
    EMBER_ASSIGN(capped, b.op(OpKind::Div, {raw, b.scalar(k, softcap)}));
    EMBER_ASSIGN(capped, b.op(OpKind::Tanh, {capped}));
    EMBER_ASSIGN(capped, b.op(OpKind::Mul, {capped, b.scalar(k, softcap)}));
  }

  // Additive bias.
  Value bias;
  auto addBias = [&](Value t) -> Status {
    if (!bias) {
      bias = t;
      return Status::ok();
    }
    EMBER_ASSIGN(bias, b.op(OpKind::Add, {bias, t}));
    return Status::ok();
  };
  if (b.has(3)) {
    Value m = b.in(3);
    const Type &mt = b.inType(3);
    if (mt.elem() == ElemKind::Bool) {
      EMBER_ASSIGN(m,
                   b.op(OpKind::Where, {m, b.scalar(k, 0), b.scalar(k, ninf)}));
    }
    int64_t last = mt.dims().back();
    if (last < S) {
      Dims pads(2 * mt.rank(), 0);
      pads.back() = S - last;
      EMBER_ASSIGN(m, b.op(OpKind::Pad, {m, b.ints(pads), b.scalar(k, ninf)}));
    }
    EMBER_TRY(addBias(m));
  }
  bool causal = n.attrInt("is_causal", 0) != 0;
  int64_t left = n.attrInt("left_window_size", -1),
          right = n.attrInt("right_window_size", -1);
  auto frontierOk = [&](int64_t i, int64_t j, int64_t off) {
    int64_t diff = i + off - j;
    if (causal && j > i + off)
      return false;
    if (left >= 0 && diff > left)
      return false;
    if (right >= 0 && -diff > right)
      return false;
    return true;
  };
  bool frontier = causal || left >= 0 || right >= 0;
  if (frontier && !b.has(6)) {
    Tensor c(Type(k, {Sq, S}));
    for (int64_t i = 0; i < Sq; ++i)
      for (int64_t j = 0; j < S; ++j)
        c.setDouble(i * S + j, frontierOk(i, j, P) ? 0.0 : ninf);
    EMBER_TRY(addBias(b.constant(c)));
  }
  if (b.has(6)) {
    // Per-batch offsets nonpad[b] - Sq: compare constants of j - i + Sq
    // with nonpad[b] at run time.
    EMBER_ASSIGN(Value np, castTo(b, b.in(6), ElemKind::I64));
    EMBER_ASSIGN(np, b.op(OpKind::Reshape, {np, b.ints({B, 1, 1, 1})}));
    auto rel = [&](int64_t shift) {
      Tensor t(Type(ElemKind::I64, {Sq, S}));
      for (int64_t i = 0; i < Sq; ++i)
        for (int64_t j = 0; j < S; ++j)
          t.data<int64_t>()[i * S + j] = j - i + Sq + shift;
      return b.constant(t);
    };
    auto allowBias = [&](Value allowed) -> Status {
      EMBER_ASSIGN(Value t, b.op(OpKind::Where,
                                 {allowed, b.scalar(k, 0), b.scalar(k, ninf)}));
      return addBias(t);
    };
    if (causal) { // j - i + Sq <= nonpad
      EMBER_ASSIGN(Value al, b.op(OpKind::LessOrEqual, {rel(0), np}));
      EMBER_TRY(allowBias(al));
    }
    if (left >= 0) { // nonpad <= j - i + Sq + left
      EMBER_ASSIGN(Value al, b.op(OpKind::LessOrEqual, {np, rel(left)}));
      EMBER_TRY(allowBias(al));
    }
    if (right >= 0) { // j - i + Sq - right <= nonpad
      EMBER_ASSIGN(Value al, b.op(OpKind::LessOrEqual, {rel(-right), np}));
      EMBER_TRY(allowBias(al));
    }
    Tensor js(Type(ElemKind::I64, {S}));
    for (int64_t j = 0; j < S; ++j)
      js.data<int64_t>()[j] = j;
    EMBER_ASSIGN(Value al, b.op(OpKind::Less, {b.constant(js), np}));
    EMBER_TRY(allowBias(al));
  }
  Value qkb = capped;
  if (bias) {
    EMBER_ASSIGN(qkb, b.op(OpKind::Add, {capped, bias}));
  }
  ElemKind smk = k;
  if (n.hasAttr("softmax_precision") &&
      !elemKindFromOnnx(int(n.attrInt("softmax_precision", 1)), smk))
    return invalid("Attention: bad softmax_precision");
  EMBER_ASSIGN(Value sm, castTo(b, qkb, smk));
  EMBER_ASSIGN(Value p,
               b.op(OpKind::Softmax, {sm}, {{"axis", Attr::ofInt(-1)}}));
  if (bias) {
    // Rows whose bias is all -inf have no attendable key: probabilities 0.
    bool needGuard = true;
    if (bias.node->kind == OpKind::Constant) {
      const Tensor &bt = *bias.node->payload;
      int64_t cols = bt.rank() ? bt.dims().back() : 1;
      needGuard = false;
      for (int64_t r = 0; cols && r < bt.size() / cols && !needGuard; ++r) {
        bool all = true;
        for (int64_t j = 0; j < cols && all; ++j)
          all = bt.getDouble(r * cols + j) == ninf;
        needGuard = all;
      }
    }
    if (needGuard) {
      int64_t br = int64_t(bias.type().rank());
      EMBER_ASSIGN(Value mx, b.op(OpKind::ReduceMax, {bias, b.ints({br - 1})},
                                  {{"keepdims", Attr::ofInt(1)}}));
      EMBER_ASSIGN(Value g, b.op(OpKind::IsInf, {mx},
                                 {{"detect_positive", Attr::ofInt(0)}}));
      EMBER_ASSIGN(p, b.op(OpKind::Where, {g, b.scalar(smk, 0), p}));
    }
  }
  EMBER_ASSIGN(p, castTo(b, p, k));
  Value pv = p;
  if (reps > 1) {
    EMBER_ASSIGN(pv,
                 b.op(OpKind::Reshape, {p, b.ints({B, Hkv, reps * Sq, S})}));
  }
  EMBER_ASSIGN(Value y, b.op(OpKind::MatMul, {pv, v}));
  if (reps > 1) {
    EMBER_ASSIGN(y, b.op(OpKind::Reshape, {y, b.ints({B, Hq, Sq, Dv})}));
  }
  if (r3) {
    EMBER_ASSIGN(y, b.op(OpKind::Transpose, {y}, perm({0, 2, 1, 3})));
    EMBER_ASSIGN(y, b.op(OpKind::Reshape, {y, b.ints({B, Sq, Hq * Dv})}));
  }
  std::vector<Value> res{y};
  if (n.numResults() > 1)
    res.push_back(kk);
  if (n.numResults() > 2)
    res.push_back(v);
  if (n.numResults() > 3) {
    int64_t mode = n.attrInt("qk_matmul_output_mode", 0);
    res.push_back(mode == 0 ? raw : mode == 1 ? capped : mode == 2 ? qkb : p);
  }
  return res;
}

// RotaryEmbedding: X as [B, S, H, D]; cos/sin rows gathered by
// position_ids (or taken as [B, S, half]) and broadcast over heads; the
// rotated part is split in halves (or even/odd pairs when interleaved),
// combined as (c x1 - s x2, s x1 + c x2) and concatenated back.
Expected<std::vector<Value>> lower_RotaryEmbedding(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  bool r3 = xt.rank() == 3;
  if (xt.rank() != 3 && xt.rank() != 4)
    return invalid("RotaryEmbedding: X must be 3-D or 4-D");
  int64_t B = xt.dim(0), H, S, D;
  if (r3) {
    H = n.attrInt("num_heads", 0);
    if (H < 1)
      return invalid("RotaryEmbedding: 3-D input needs num_heads");
    S = xt.dim(1);
    D = xt.dim(2) / H;
  } else {
    H = xt.dim(1);
    S = xt.dim(2);
    D = xt.dim(3);
  }
  int64_t rd = n.attrInt("rotary_embedding_dim", 0);
  if (rd == 0)
    rd = D;
  int64_t half = rd / 2;
  bool inter = n.attrInt("interleaved", 0) != 0;
  auto perm = [](std::vector<int64_t> p) {
    return AttrMap{{"perm", Attr::ofInts(std::move(p))}};
  };
  auto slice = [&](Value v, int64_t from, int64_t to, int64_t axis) {
    return b.op(OpKind::Slice,
                {v, b.ints({from}), b.ints({to}), b.ints({axis})});
  };
  Value x = b.in(0);
  if (r3) {
    EMBER_ASSIGN(x, b.op(OpKind::Reshape, {x, b.ints({B, S, H, D})}));
  } else {
    EMBER_ASSIGN(x, b.op(OpKind::Transpose, {x}, perm({0, 2, 1, 3})));
  }
  Value c = b.in(1), s = b.in(2);
  int64_t cb = B;
  if (b.has(3)) {
    AttrMap ax{{"axis", Attr::ofInt(0)}};
    EMBER_ASSIGN(c, b.op(OpKind::Gather, {c, b.in(3)}, ax));
    EMBER_ASSIGN(s, b.op(OpKind::Gather, {s, b.in(3)}, ax));
  } else {
    cb = b.inType(1).dim(0);
  }
  EMBER_ASSIGN(c, b.op(OpKind::Reshape, {c, b.ints({cb, S, 1, half})}));
  EMBER_ASSIGN(s, b.op(OpKind::Reshape, {s, b.ints({cb, S, 1, half})}));
  Value xr = x, rest;
  if (rd < D) {
    EMBER_ASSIGN(xr, slice(x, 0, rd, 3));
    EMBER_ASSIGN(rest, slice(x, rd, D, 3));
  }
  Value x1, x2;
  if (inter) {
    EMBER_ASSIGN(Value p,
                 b.op(OpKind::Reshape, {xr, b.ints({B, S, H, half, 2})}));
    EMBER_ASSIGN(x1, slice(p, 0, 1, 4));
    EMBER_ASSIGN(x2, slice(p, 1, 2, 4));
    EMBER_ASSIGN(x1, b.op(OpKind::Reshape, {x1, b.ints({B, S, H, half})}));
    EMBER_ASSIGN(x2, b.op(OpKind::Reshape, {x2, b.ints({B, S, H, half})}));
  } else {
    EMBER_ASSIGN(x1, slice(xr, 0, half, 3));
    EMBER_ASSIGN(x2, slice(xr, half, rd, 3));
  }
  EMBER_ASSIGN(Value cx1, b.op(OpKind::Mul, {c, x1}));
  EMBER_ASSIGN(Value sx2, b.op(OpKind::Mul, {s, x2}));
  EMBER_ASSIGN(Value sx1, b.op(OpKind::Mul, {s, x1}));
  EMBER_ASSIGN(Value cx2, b.op(OpKind::Mul, {c, x2}));
  EMBER_ASSIGN(Value re, b.op(OpKind::Sub, {cx1, sx2}));
  EMBER_ASSIGN(Value im, b.op(OpKind::Add, {sx1, cx2}));
  Value rot;
  if (inter) {
    EMBER_ASSIGN(re, b.op(OpKind::Reshape, {re, b.ints({B, S, H, half, 1})}));
    EMBER_ASSIGN(im, b.op(OpKind::Reshape, {im, b.ints({B, S, H, half, 1})}));
    EMBER_ASSIGN(rot,
                 b.op(OpKind::Concat, {re, im}, {{"axis", Attr::ofInt(4)}}));
    EMBER_ASSIGN(rot, b.op(OpKind::Reshape, {rot, b.ints({B, S, H, rd})}));
  } else {
    EMBER_ASSIGN(rot,
                 b.op(OpKind::Concat, {re, im}, {{"axis", Attr::ofInt(3)}}));
  }
  Value y = rot;
  if (rest) {
    EMBER_ASSIGN(y,
                 b.op(OpKind::Concat, {rot, rest}, {{"axis", Attr::ofInt(3)}}));
  }
  if (r3) {
    EMBER_ASSIGN(y, b.op(OpKind::Reshape, {y, b.ints({B, S, H * D})}));
  } else {
    EMBER_ASSIGN(y, b.op(OpKind::Transpose, {y}, perm({0, 2, 1, 3})));
  }
  return std::vector<Value>{y};
}

// CausalConvWithState: Conv(group=C) over past_state (or zeros) ++ input,
// optional SiLU computed in f32, present_state = the last K-1 positions.
Expected<std::vector<Value>> lower_CausalConvWithState(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0), &wt = b.inType(1);
  ElemKind k = xt.elem();
  int64_t B = xt.dim(0), C = xt.dim(1), L = xt.dim(2), K = wt.dim(2);
  Value seq = b.in(0);
  if (K > 1) {
    Value past;
    if (b.has(3)) {
      past = b.in(3);
    } else {
      past = b.constant(Tensor(Type(k, {B, C, K - 1})));
    }
    EMBER_ASSIGN(seq,
                 b.op(OpKind::Concat, {past, seq}, {{"axis", Attr::ofInt(2)}}));
  }
  std::vector<Value> convIns{seq, b.in(1)};
  if (b.has(2))
    convIns.push_back(b.in(2));
  EMBER_ASSIGN(Value y, b.op(OpKind::Conv, convIns,
                             {{"group", Attr::ofInt(C)},
                              {"kernel_shape", Attr::ofInts({K})}}));
  std::string act = n.attrString("activation", "none");
  if (act == "silu" || act == "swish") {
    EMBER_ASSIGN(Value f, castTo(b, y, wideKind(k)));
    EMBER_ASSIGN(f, swish(b, f, 1.0));
    EMBER_ASSIGN(y, castTo(b, f, k));
  }
  std::vector<Value> res{y};
  if (n.numResults() > 1) {
    EMBER_ASSIGN(Value st,
                 b.op(OpKind::Slice,
                      {seq, b.ints({L}), b.ints({L + K - 1}), b.ints({2})}));
    res.push_back(st);
  }
  return res;
}

// TensorScatter: ScatterElements along axis with indices write_indices[b]
// + position (mod the cache length when circular).
Expected<std::vector<Value>> lower_TensorScatter(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &ct = b.inType(0), &ut = b.inType(1);
  EMBER_ASSIGN(int64_t axis,
               checkedAxis("TensorScatter", n.attrInt("axis", -2), ct.rank()));
  int64_t r = int64_t(ct.rank()), B = ct.dim(0), len = ut.dim(size_t(axis));
  Dims posDims(size_t(r), 1);
  posDims[size_t(axis)] = len;
  Tensor pos(Type(ElemKind::I64, posDims));
  for (int64_t s = 0; s < len; ++s)
    pos.data<int64_t>()[s] = s;
  Value idx = b.constant(pos);
  if (b.has(2)) {
    Dims bDims(size_t(r), 1);
    bDims[0] = B;
    EMBER_ASSIGN(Value w, castTo(b, b.in(2), ElemKind::I64));
    EMBER_ASSIGN(w, b.op(OpKind::Reshape, {w, b.ints(bDims)}));
    EMBER_ASSIGN(idx, b.op(OpKind::Add, {w, idx}));
  }
  if (n.attrString("mode", "linear") == "circular") {
    EMBER_ASSIGN(
        idx, b.op(OpKind::Mod, {idx, b.scalar(ElemKind::I64,
                                              double(ct.dim(size_t(axis))))}));
  }
  EMBER_ASSIGN(idx, b.op(OpKind::Expand, {idx, b.ints(ut.dims())}));
  EMBER_ASSIGN(Value y, b.op(OpKind::ScatterElements, {b.in(0), idx, b.in(1)},
                             {{"axis", Attr::ofInt(axis)}}));
  return std::vector<Value>{y};
}

} // namespace ember

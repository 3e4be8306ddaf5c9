// Lowerings of the family E composites into primitives: Attention,
// RotaryEmbedding, RMSNormalization, LpNormalization, GroupNormalization,
// MeanVarianceNormalization, Swish, SwiGLU, Hardmax, Trilu,
// CausalConvWithState, TensorScatter, LpPool.
#include "lower/Lowering.h"

#include <cmath>
#include <limits>

namespace ember {

namespace {

Expected<Value> castE(LoweringBuilder &b, Value v, ElemKind k) {
  if (v.type().elem() == k)
    return v;
  return b.op(OpKind::Cast, {v}, {{"to", Attr::ofInt(elemKindToOnnx(k))}});
}

// Arithmetic type: f32 for 16-bit floats, else the type itself.
ElemKind wideKind(ElemKind k) {
  return k == ElemKind::F16 || k == ElemKind::BF16 ? ElemKind::F32 : k;
}

Expected<int64_t> axisE(const char *op, int64_t axis, size_t rank) {
  int64_t r = int64_t(rank);
  if (axis < -r || axis >= r)
    return invalid(op, ": axis ", axis, " out of range for rank ", r);
  return axis < 0 ? axis + r : axis;
}

Expected<Value> swishE(LoweringBuilder &b, Value x, double alpha) {
  ElemKind k = x.type().elem();
  Value ax = x;
  if (alpha != 1.0) {
    EMBER_ASSIGN(ax, b.op(OpKind::Mul, {x, b.scalar(k, alpha)}));
  }
  EMBER_ASSIGN(Value s, b.op(OpKind::Sigmoid, {ax}));
  return b.op(OpKind::Mul, {x, s});
}

} // namespace

// Y = X * 1/sqrt(mean(X^2) + eps) * scale, statistics in f32 (f64 data: f64).
Expected<std::vector<Value>> lower_RMSNormalization(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind sk = xt.elem() == ElemKind::F64 ? ElemKind::F64 : ElemKind::F32;
  EMBER_ASSIGN(int64_t axis,
               axisE("RMSNormalization", n.attrInt("axis", -1), xt.rank()));
  EMBER_ASSIGN(Value x, castE(b, b.in(0), sk));
  EMBER_ASSIGN(Value sq, b.op(OpKind::Mul, {x, x}));
  EMBER_ASSIGN(Value ms, b.mean(sq, LoweringBuilder::axisRange(
                                        axis, int64_t(xt.rank()))));
  EMBER_ASSIGN(
      ms, b.op(OpKind::Add, {ms, b.scalar(sk, n.attrFloat("epsilon", 1e-5))}));
  EMBER_ASSIGN(Value rms, b.op(OpKind::Sqrt, {ms}));
  EMBER_ASSIGN(Value inv, b.op(OpKind::Reciprocal, {rms}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Mul, {x, inv}));
  EMBER_ASSIGN(Value w, castE(b, b.in(1), sk));
  EMBER_ASSIGN(y, b.op(OpKind::Mul, {y, w}));
  EMBER_ASSIGN(y, castE(b, y, n.types[0].elem()));
  return std::vector<Value>{y};
}

// Y = X / ||X||_p along axis (p 1 or 2); a zero norm gives 0.
Expected<std::vector<Value>> lower_LpNormalization(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem(), wk = wideKind(k);
  EMBER_ASSIGN(int64_t axis,
               axisE("LpNormalization", n.attrInt("axis", -1), xt.rank()));
  int64_t p = n.attrInt("p", 2);
  if (p != 1 && p != 2)
    return invalid("LpNormalization: p must be 1 or 2, got ", p);
  EMBER_ASSIGN(Value x, castE(b, b.in(0), wk));
  Value t;
  if (p == 1) {
    EMBER_ASSIGN(t, b.op(OpKind::Abs, {x}));
  } else {
    EMBER_ASSIGN(t, b.op(OpKind::Mul, {x, x}));
  }
  EMBER_ASSIGN(Value norm, b.op(OpKind::ReduceSum, {t, b.ints({axis})},
                                {{"keepdims", Attr::ofInt(1)}}));
  if (p == 2) {
    EMBER_ASSIGN(norm, b.op(OpKind::Sqrt, {norm}));
  }
  EMBER_ASSIGN(Value y, b.op(OpKind::Div, {x, norm}));
  EMBER_ASSIGN(Value zero, b.op(OpKind::Equal, {norm, b.scalar(wk, 0)}));
  EMBER_ASSIGN(y, b.op(OpKind::Where, {zero, b.scalar(wk, 0), y}));
  EMBER_ASSIGN(y, castE(b, y, k));
  return std::vector<Value>{y};
}

// Per (batch, group): (x - mean) / sqrt(var + eps), then per-channel scale
// and bias; statistics in f32 (f64 data: f64).
Expected<std::vector<Value>> lower_GroupNormalization(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem();
  ElemKind sk = k == ElemKind::F64 ? ElemKind::F64 : ElemKind::F32;
  if (xt.rank() < 2)
    return invalid("GroupNormalization: X must have rank >= 2");
  int64_t N = xt.dim(0), C = xt.dim(1), G = n.attrInt("num_groups", 0);
  if (G < 1 || C % G)
    return invalid("GroupNormalization: num_groups must divide channels");
  int64_t inner = N > 0 && C > 0 ? xt.numElements() / (N * C) * (C / G) : 0;
  EMBER_ASSIGN(Value x, castE(b, b.in(0), sk));
  EMBER_ASSIGN(x, b.op(OpKind::Reshape, {x, b.ints({N, G, inner})}));
  EMBER_ASSIGN(Value mean, b.mean(x, {2}));
  EMBER_ASSIGN(Value d, b.op(OpKind::Sub, {x, mean}));
  EMBER_ASSIGN(Value sq, b.op(OpKind::Mul, {d, d}));
  EMBER_ASSIGN(Value var, b.mean(sq, {2}));
  EMBER_ASSIGN(var, b.op(OpKind::Add,
                         {var, b.scalar(sk, n.attrFloat("epsilon", 1e-5))}));
  EMBER_ASSIGN(Value sd, b.op(OpKind::Sqrt, {var}));
  EMBER_ASSIGN(Value inv, b.op(OpKind::Reciprocal, {sd}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Mul, {d, inv}));
  EMBER_ASSIGN(y, b.op(OpKind::Reshape, {y, b.ints(xt.dims())}));
  Dims chShape(xt.rank() - 1, 1);
  chShape[0] = C;
  EMBER_ASSIGN(Value sc, b.op(OpKind::Reshape, {b.in(1), b.ints(chShape)}));
  EMBER_ASSIGN(sc, castE(b, sc, sk));
  EMBER_ASSIGN(Value bi, b.op(OpKind::Reshape, {b.in(2), b.ints(chShape)}));
  EMBER_ASSIGN(bi, castE(b, bi, sk));
  EMBER_ASSIGN(y, b.op(OpKind::Mul, {y, sc}));
  EMBER_ASSIGN(y, b.op(OpKind::Add, {y, bi}));
  EMBER_ASSIGN(y, castE(b, y, k));
  return std::vector<Value>{y};
}

// (X - E[X]) / (sqrt(E[X^2] - E[X]^2) + 1e-9) over `axes` (default 0,2,3).
Expected<std::vector<Value>>
lower_MeanVarianceNormalization(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem(), wk = wideKind(k);
  Dims axes = n.hasAttr("axes") ? n.attrInts("axes") : Dims{0, 2, 3};
  for (int64_t &a : axes) {
    EMBER_ASSIGN(a, axisE("MeanVarianceNormalization", a, xt.rank()));
  }
  EMBER_ASSIGN(Value x, castE(b, b.in(0), wk));
  EMBER_ASSIGN(Value mean, b.mean(x, axes));
  EMBER_ASSIGN(Value sq, b.op(OpKind::Mul, {x, x}));
  EMBER_ASSIGN(Value ex2, b.mean(sq, axes));
  EMBER_ASSIGN(Value m2, b.op(OpKind::Mul, {mean, mean}));
  EMBER_ASSIGN(Value var, b.op(OpKind::Sub, {ex2, m2}));
  EMBER_ASSIGN(Value sd, b.op(OpKind::Sqrt, {var}));
  EMBER_ASSIGN(sd, b.op(OpKind::Add, {sd, b.scalar(wk, 1e-9)}));
  EMBER_ASSIGN(Value d, b.op(OpKind::Sub, {x, mean}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Div, {d, sd}));
  EMBER_ASSIGN(y, castE(b, y, k));
  return std::vector<Value>{y};
}

Expected<std::vector<Value>> lower_Swish(LoweringBuilder &b) {
  EMBER_ASSIGN(Value y, swishE(b, b.in(0), b.node().attrFloat("alpha", 1.0)));
  return std::vector<Value>{y};
}

Expected<std::vector<Value>> lower_SwiGLU(LoweringBuilder &b) {
  EMBER_ASSIGN(Value s, swishE(b, b.in(0), b.node().attrFloat("alpha", 1.0)));
  EMBER_ASSIGN(Value y, b.op(OpKind::Mul, {s, b.in(1)}));
  return std::vector<Value>{y};
}

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
    EMBER_ASSIGN(Value np, castE(b, b.in(6), ElemKind::I64));
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
  EMBER_ASSIGN(Value sm, castE(b, qkb, smk));
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
  EMBER_ASSIGN(p, castE(b, p, k));
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

} // namespace ember

namespace ember {

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

} // namespace ember

namespace ember {

// Hardmax: Equal(iota along axis, ArgMax(keepdims)) cast to the input type
// (ArgMax picks the first maximum, or the first NaN, like the kernel).
Expected<std::vector<Value>> lower_Hardmax(LoweringBuilder &b) {
  const Type &xt = b.inType(0);
  EMBER_ASSIGN(int64_t axis,
               axisE("Hardmax", b.node().attrInt("axis", -1), xt.rank()));
  int64_t n = xt.dim(size_t(axis));
  if (n == 0 || xt.numElements() == 0)
    return std::vector<Value>{b.in(0)};
  EMBER_ASSIGN(Value idx, b.op(OpKind::ArgMax, {b.in(0)},
                               {{"axis", Attr::ofInt(axis)},
                                {"keepdims", Attr::ofInt(1)}}));
  Dims iotaDims(xt.rank() - size_t(axis), 1);
  iotaDims[0] = n;
  Tensor iota(Type(ElemKind::I64, iotaDims));
  for (int64_t j = 0; j < n; ++j)
    iota.data<int64_t>()[j] = j;
  EMBER_ASSIGN(Value eq, b.op(OpKind::Equal, {b.constant(iota), idx}));
  EMBER_ASSIGN(Value y, castE(b, eq, xt.elem()));
  return std::vector<Value>{y};
}

// Trilu: Where(j - i >= k (upper) or j - i <= k (lower), x, 0) over the last
// two dims; k (default 0) may be a run-time value.
Expected<std::vector<Value>> lower_Trilu(LoweringBuilder &b) {
  const Type &xt = b.inType(0);
  if (xt.rank() < 2)
    return invalid("Trilu: input must have rank >= 2");
  int64_t rows = xt.dim(xt.rank() - 2), cols = xt.dim(xt.rank() - 1);
  Tensor rel(Type(ElemKind::I64, {rows, cols}));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j)
      rel.data<int64_t>()[i * cols + j] = j - i;
  Value k;
  if (b.has(1)) {
    EMBER_ASSIGN(k, castE(b, b.in(1), ElemKind::I64));
  } else {
    k = b.scalar(ElemKind::I64, 0);
  }
  bool upper = b.node().attrInt("upper", 1) != 0;
  EMBER_ASSIGN(Value keep,
               b.op(upper ? OpKind::GreaterOrEqual : OpKind::LessOrEqual,
                    {b.constant(rel), k}));
  EMBER_ASSIGN(Value y,
               b.op(OpKind::Where, {keep, b.in(0), b.scalar(xt.elem(), 0)}));
  return std::vector<Value>{y};
}

} // namespace ember

namespace ember {

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
    EMBER_ASSIGN(Value f, castE(b, y, wideKind(k)));
    EMBER_ASSIGN(f, swishE(b, f, 1.0));
    EMBER_ASSIGN(y, castE(b, f, k));
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
               axisE("TensorScatter", n.attrInt("axis", -2), ct.rank()));
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
    EMBER_ASSIGN(Value w, castE(b, b.in(2), ElemKind::I64));
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

namespace ember {

// LpPool: |x|^p zero-padded explicitly so every window is whole, an
// AveragePool without padding times the window size (= the window sum),
// then ^(1/p); computed in f32 for 16-bit floats.
Expected<std::vector<Value>> lower_LpPool(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem(), wk = wideKind(k);
  size_t nsp = xt.rank() - 2;
  Dims kernel = n.attrInts("kernel_shape");
  const Dims &out = n.types[0].dims();
  if (xt.rank() < 3 || kernel.size() != nsp)
    return invalid("LpPool: kernel_shape must match the spatial dims");
  Dims strides = n.hasAttr("strides") ? n.attrInts("strides") : Dims(nsp, 1);
  Dims dil = n.hasAttr("dilations") ? n.attrInts("dilations") : Dims(nsp, 1);
  Dims pads = n.hasAttr("pads") ? n.attrInts("pads") : Dims(2 * nsp, 0);
  std::string autoPad = n.attrString("auto_pad", "NOTSET");
  double p = double(n.attrInt("p", 2));
  Dims padAll(2 * xt.rank(), 0);
  int64_t kcount = 1;
  for (size_t d = 0; d < nsp; ++d) {
    int64_t in = xt.dim(2 + d), ek = (kernel[d] - 1) * dil[d] + 1;
    int64_t need = (out[2 + d] - 1) * strides[d] + ek - in; // total padding
    int64_t begin = 0;
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      int64_t total = std::max<int64_t>(0, need);
      begin = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else if (autoPad != "VALID") {
      begin = pads[d];
    }
    padAll[2 + d] = begin;
    padAll[xt.rank() + 2 + d] = std::max<int64_t>(0, need - begin);
    kcount *= kernel[d];
  }
  EMBER_ASSIGN(Value x, castE(b, b.in(0), wk));
  EMBER_ASSIGN(x, b.op(OpKind::Abs, {x}));
  EMBER_ASSIGN(x, b.op(OpKind::Pow, {x, b.scalar(wk, p)}));
  EMBER_ASSIGN(x, b.op(OpKind::Pad, {x, b.ints(padAll), b.scalar(wk, 0)}));
  AttrMap pa{{"kernel_shape", Attr::ofInts(kernel)},
             {"strides", Attr::ofInts(strides)},
             {"dilations", Attr::ofInts(dil)}};
  EMBER_ASSIGN(Value y, b.op(OpKind::AveragePool, {x}, pa));
  if (y.type().dims() != out) { // windows past the last one: drop them
    Dims starts(nsp, 0), ends(out.begin() + 2, out.end()), axes;
    for (size_t d = 0; d < nsp; ++d)
      axes.push_back(int64_t(2 + d));
    EMBER_ASSIGN(y, b.op(OpKind::Slice,
                         {y, b.ints(starts), b.ints(ends), b.ints(axes)}));
  }
  EMBER_ASSIGN(y, b.op(OpKind::Mul, {y, b.scalar(wk, double(kcount))}));
  EMBER_ASSIGN(y, b.op(OpKind::Pow, {y, b.scalar(wk, 1.0 / p)}));
  EMBER_ASSIGN(y, castE(b, y, k));
  return std::vector<Value>{y};
}

} // namespace ember

// Lowerings of the parameterized activations, Clip, PRelu and CastLike into
// elementwise primitives. Attribute constants become scalar constants of the
// compute type; f16/bf16 activations compute in f32 (see widened()).
#include "lower/LowerUtil.h"
#include "lower/Lowering.h"

#include <cmath>

namespace ember {

namespace {

// Small expression helper: every step can fail (type inference runs on each
// new node), so each returns Expected<Value>.
struct Ew {
  LoweringBuilder &b;
  ElemKind k;
  Value c(double v) { return b.scalar(k, v); }
  Expected<Value> un(OpKind op, Value x) { return b.op(op, {x}); }
  Expected<Value> bin(OpKind op, Value x, Value y) { return b.op(op, {x, y}); }
  Expected<Value> where(Value cond, Value x, Value y) {
    return b.op(OpKind::Where, {cond, x, y});
  }
};

std::vector<Value> one(Value v) { return {v}; }

// max(min(v, 1), 0); NaN propagates.
Expected<Value> clamp01(Ew &e, Value v) {
  EMBER_ASSIGN(Value lo, e.bin(OpKind::Min, v, e.c(1)));
  return e.bin(OpKind::Max, lo, e.c(0));
}

// max(x, 0) + log(1 + exp(-|x|)): no overflow for large x.
Expected<Value> softplus(Ew &e, Value x) {
  EMBER_ASSIGN(Value a, e.un(OpKind::Abs, x));
  EMBER_ASSIGN(Value na, e.un(OpKind::Neg, a));
  EMBER_ASSIGN(Value ex, e.un(OpKind::Exp, na));
  EMBER_ASSIGN(Value p1, e.bin(OpKind::Add, ex, e.c(1)));
  EMBER_ASSIGN(Value lg, e.un(OpKind::Log, p1));
  EMBER_ASSIGN(Value r, e.un(OpKind::Relu, x));
  return e.bin(OpKind::Add, r, lg);
}

// Runs an activation body on x. 16-bit floats are computed in f32 and
// rounded once at the end, like the kernels, so intermediate results are
// not rounded to f16/bf16 after every step.
Expected<std::vector<Value>> widened(LoweringBuilder &b,
                                     Expected<Value> (*body)(Ew &, Value)) {
  ElemKind k = b.inType(0).elem();
  bool narrow = k == ElemKind::F16 || k == ElemKind::BF16;
  Value x = b.in(0);
  if (narrow) {
    EMBER_ASSIGN(x, castTo(b, x, ElemKind::F32));
  }
  Ew e{b, narrow ? ElemKind::F32 : k};
  EMBER_ASSIGN(Value y, body(e, x));
  if (narrow) {
    EMBER_ASSIGN(y, castTo(b, y, k));
  }
  return one(y);
}

} // namespace

Expected<std::vector<Value>> lower_CastLike(LoweringBuilder &b) {
  AttrMap a;
  a["to"] = Attr::ofInt(elemKindToOnnx(b.inType(1).elem()));
  for (const char *k : {"saturate", "round_mode"})
    if (b.node().hasAttr(k))
      a[k] = b.node().attrs.at(k);
  EMBER_ASSIGN(Value y, b.op(OpKind::Cast, {b.in(0)}, a));
  return one(y);
}

static Expected<Value> leakyReluBody(Ew &e, Value x) {
  double alpha = e.b.node().attrFloat("alpha", 0.01);
  EMBER_ASSIGN(Value ax, e.bin(OpKind::Mul, x, e.c(alpha)));
  if (alpha > 0 && alpha <= 1) { // then max(x, alpha*x) picks the right arm
    return e.bin(OpKind::Max, x, ax);
  }
  EMBER_ASSIGN(Value neg, e.bin(OpKind::Less, x, e.c(0)));
  return e.where(neg, ax, x);
}

Expected<std::vector<Value>> lower_LeakyRelu(LoweringBuilder &b) {
  return widened(b, leakyReluBody);
}

static Expected<Value> eluBody(Ew &e, Value x) {
  double alpha = e.b.node().attrFloat("alpha", 1.0);
  EMBER_ASSIGN(Value ex, e.un(OpKind::Exp, x));
  EMBER_ASSIGN(Value em1, e.bin(OpKind::Sub, ex, e.c(1)));
  EMBER_ASSIGN(Value neg, e.bin(OpKind::Mul, em1, e.c(alpha)));
  EMBER_ASSIGN(Value isNeg, e.bin(OpKind::Less, x, e.c(0)));
  return e.where(isNeg, neg, x);
}

Expected<std::vector<Value>> lower_Elu(LoweringBuilder &b) {
  return widened(b, eluBody);
}

static Expected<Value> seluBody(Ew &e, Value x) {
  double alpha = e.b.node().attrFloat("alpha", 1.67326319217681884765625);
  double gamma = e.b.node().attrFloat("gamma", 1.05070102214813232421875);
  EMBER_ASSIGN(Value pos, e.bin(OpKind::Mul, x, e.c(gamma)));
  EMBER_ASSIGN(Value ex, e.un(OpKind::Exp, x));
  EMBER_ASSIGN(Value sc, e.bin(OpKind::Mul, ex, e.c(alpha * gamma)));
  EMBER_ASSIGN(Value neg, e.bin(OpKind::Sub, sc, e.c(alpha * gamma)));
  EMBER_ASSIGN(Value isPos, e.bin(OpKind::Greater, x, e.c(0)));
  return e.where(isPos, pos, neg);
}

Expected<std::vector<Value>> lower_Selu(LoweringBuilder &b) {
  return widened(b, seluBody);
}

static Expected<Value> celuBody(Ew &e, Value x) {
  double alpha = e.b.node().attrFloat("alpha", 1.0);
  EMBER_ASSIGN(Value xa, e.bin(OpKind::Div, x, e.c(alpha)));
  EMBER_ASSIGN(Value ex, e.un(OpKind::Exp, xa));
  EMBER_ASSIGN(Value em1, e.bin(OpKind::Sub, ex, e.c(1)));
  EMBER_ASSIGN(Value sc, e.bin(OpKind::Mul, em1, e.c(alpha)));
  EMBER_ASSIGN(Value neg, e.bin(OpKind::Min, sc, e.c(0)));
  EMBER_ASSIGN(Value pos, e.bin(OpKind::Max, x, e.c(0)));
  return e.bin(OpKind::Add, pos, neg);
}

Expected<std::vector<Value>> lower_Celu(LoweringBuilder &b) {
  return widened(b, celuBody);
}

static Expected<Value> hardSigmoidBody(Ew &e, Value x) {
  double alpha = e.b.node().attrFloat("alpha", 0.2);
  double beta = e.b.node().attrFloat("beta", 0.5);
  EMBER_ASSIGN(Value ax, e.bin(OpKind::Mul, x, e.c(alpha)));
  EMBER_ASSIGN(Value lin, e.bin(OpKind::Add, ax, e.c(beta)));
  return clamp01(e, lin);
}

Expected<std::vector<Value>> lower_HardSigmoid(LoweringBuilder &b) {
  return widened(b, hardSigmoidBody);
}

static Expected<Value> hardSwishBody(Ew &e, Value x) {
  EMBER_ASSIGN(Value x6, e.bin(OpKind::Div, x, e.c(6)));
  EMBER_ASSIGN(Value lin, e.bin(OpKind::Add, x6, e.c(0.5)));
  EMBER_ASSIGN(Value hs, clamp01(e, lin));
  return e.bin(OpKind::Mul, x, hs);
}

Expected<std::vector<Value>> lower_HardSwish(LoweringBuilder &b) {
  return widened(b, hardSwishBody);
}

static Expected<Value> softplusBody(Ew &e, Value x) { return softplus(e, x); }

Expected<std::vector<Value>> lower_Softplus(LoweringBuilder &b) {
  return widened(b, softplusBody);
}

static Expected<Value> softsignBody(Ew &e, Value x) {
  EMBER_ASSIGN(Value a, e.un(OpKind::Abs, x));
  EMBER_ASSIGN(Value d, e.bin(OpKind::Add, a, e.c(1)));
  return e.bin(OpKind::Div, x, d);
}

Expected<std::vector<Value>> lower_Softsign(LoweringBuilder &b) {
  return widened(b, softsignBody);
}

static Expected<Value> geluBody(Ew &e, Value x) {
  std::string approx = e.b.node().attrString("approximate", "none");
  Value inner;
  OpKind fn;
  if (approx == "tanh") {
    // sqrt(2/pi) * (x + 0.044715 x^3)
    EMBER_ASSIGN(Value x2, e.bin(OpKind::Mul, x, x));
    EMBER_ASSIGN(Value x3, e.bin(OpKind::Mul, x2, x));
    EMBER_ASSIGN(Value cx3, e.bin(OpKind::Mul, x3, e.c(0.044715)));
    EMBER_ASSIGN(Value s, e.bin(OpKind::Add, x, cx3));
    EMBER_ASSIGN(inner, e.bin(OpKind::Mul, s, e.c(0.79788456080286535588)));
    fn = OpKind::Tanh;
  } else if (approx == "none") {
    EMBER_ASSIGN(inner, e.bin(OpKind::Mul, x, e.c(0.70710678118654752440)));
    fn = OpKind::Erf;
  } else {
    return invalid("Gelu: approximate must be 'none' or 'tanh', got '", approx,
                   "'");
  }
  EMBER_ASSIGN(Value f, e.un(fn, inner));
  EMBER_ASSIGN(Value f1, e.bin(OpKind::Add, f, e.c(1)));
  EMBER_ASSIGN(Value hx, e.bin(OpKind::Mul, x, e.c(0.5)));
  return e.bin(OpKind::Mul, hx, f1);
}

Expected<std::vector<Value>> lower_Gelu(LoweringBuilder &b) {
  return widened(b, geluBody);
}

static Expected<Value> mishBody(Ew &e, Value x) {
  EMBER_ASSIGN(Value sp, softplus(e, x));
  EMBER_ASSIGN(Value t, e.un(OpKind::Tanh, sp));
  return e.bin(OpKind::Mul, x, t);
}

Expected<std::vector<Value>> lower_Mish(LoweringBuilder &b) {
  return widened(b, mishBody);
}

static Expected<Value> thresholdedReluBody(Ew &e, Value x) {
  double alpha = e.b.node().attrFloat("alpha", 1.0);
  EMBER_ASSIGN(Value gt, e.bin(OpKind::Greater, x, e.c(alpha)));
  return e.where(gt, x, e.c(0));
}

Expected<std::vector<Value>> lower_ThresholdedRelu(LoweringBuilder &b) {
  return widened(b, thresholdedReluBody);
}

// Integers go through f64 so thresholds and bias keep their fractions; the
// final Cast truncates like the kernel does.
Expected<std::vector<Value>> lower_Shrink(LoweringBuilder &b) {
  ElemKind k = b.inType(0).elem();
  bool viaF64 = !isFloatKind(k);
  Value x = b.in(0);
  if (viaF64) {
    EMBER_ASSIGN(x, castTo(b, x, ElemKind::F64));
  }
  Ew e{b, viaF64 ? ElemKind::F64 : k};
  double bias = b.node().attrFloat("bias", 0.0);
  double lambd = b.node().attrFloat("lambd", 0.5);
  EMBER_ASSIGN(Value lo, e.bin(OpKind::Less, x, e.c(-lambd)));
  EMBER_ASSIGN(Value hi, e.bin(OpKind::Greater, x, e.c(lambd)));
  EMBER_ASSIGN(Value xpb, e.bin(OpKind::Add, x, e.c(bias)));
  EMBER_ASSIGN(Value xmb, e.bin(OpKind::Sub, x, e.c(bias)));
  EMBER_ASSIGN(Value inner, e.where(hi, xmb, e.c(0)));
  EMBER_ASSIGN(Value y, e.where(lo, xpb, inner));
  if (viaF64) {
    EMBER_ASSIGN(y, castTo(b, y, k));
  }
  return one(y);
}

// Clip(x, min?, max?) = Min(Max(x, min), max). A bound of higher rank than
// x (e.g. [1] against a scalar) is reshaped to rank 0 so the result keeps
// x's shape.
Expected<std::vector<Value>> lower_Clip(LoweringBuilder &b) {
  Value y = b.in(0);
  size_t rank = b.inType(0).rank();
  bool any = false;
  for (size_t i = 1; i < 3; ++i) {
    if (!b.has(i))
      continue;
    Value bound = b.in(i);
    if (b.inType(i).rank() > rank) {
      EMBER_ASSIGN(bound, b.op(OpKind::Reshape, {bound, b.ints({})}));
    }
    EMBER_ASSIGN(y, b.op(i == 1 ? OpKind::Max : OpKind::Min, {y, bound}));
    any = true;
  }
  if (!any) {
    EMBER_ASSIGN(y, b.op(OpKind::Identity, {y}));
  }
  return one(y);
}

// PRelu(x, slope) = x < 0 ? x * slope : x; with a constant slope in [0, 1]
// that is max(x, x * slope)
// (0 is excluded: 0 * inf is NaN).
Expected<std::vector<Value>> lower_PRelu(LoweringBuilder &b) {
  Ew e{b, b.inType(0).elem()};
  Value x = b.in(0), slope = b.in(1);
  EMBER_ASSIGN(Value xs, e.bin(OpKind::Mul, x, slope));
  bool unit = false;
  if (slope.node->kind == OpKind::Constant && slope.node->payload) {
    unit = true;
    for (double s : slope.node->payload->toDoubles())
      if (!(s > 0 && s <= 1)) // 0 * inf would make NaN
        unit = false;
  }
  if (unit) {
    EMBER_ASSIGN(Value y, e.bin(OpKind::Max, x, xs));
    return one(y);
  }
  EMBER_ASSIGN(Value neg, e.bin(OpKind::Less, x, e.c(0)));
  EMBER_ASSIGN(Value y, e.where(neg, xs, x));
  return one(y);
}

Expected<std::vector<Value>> lower_Swish(LoweringBuilder &b) {
  EMBER_ASSIGN(Value y, swish(b, b.in(0), b.node().attrFloat("alpha", 1.0)));
  return std::vector<Value>{y};
}

Expected<std::vector<Value>> lower_SwiGLU(LoweringBuilder &b) {
  EMBER_ASSIGN(Value s, swish(b, b.in(0), b.node().attrFloat("alpha", 1.0)));
  EMBER_ASSIGN(Value y, b.op(OpKind::Mul, {s, b.in(1)}));
  return std::vector<Value>{y};
}

} // namespace ember

// Lowerings of the composite neural-network ops into primitives: Gemm,
// GlobalAveragePool, GlobalMaxPool, BatchNormalization,
// InstanceNormalization, LayerNormalization, LRN.
#include "lower/LowerUtil.h"
#include "lower/Lowering.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace ember {

namespace {

// The type statistics are computed in: f32 unless the data is f64.
ElemKind statKind(ElemKind k) {
  return k == ElemKind::F64 ? ElemKind::F64 : ElemKind::F32;
}

// A [C] operand as [C,1,...,1] for broadcasting against rank-`rank` data,
// cast to kind k.
Expected<Value> perChannel(LoweringBuilder &b, Value v, size_t rank,
                           ElemKind k) {
  Dims shape(rank - 1, 1);
  shape[0] = v.type().numElements();
  EMBER_ASSIGN(Value r, b.op(OpKind::Reshape, {v, b.ints(shape)}));
  return castTo(b, r, k);
}

// dst (cols x rows) = the transpose of src (rows x cols), elements of type
// T, in square blocks so neither side's accesses stride across the whole
// matrix (a fully connected layer's weights can be 100M elements).
template <typename T>
void transposeBlocked(const uint8_t *src, uint8_t *dst, int64_t rows,
                      int64_t cols) {
  constexpr int64_t kBlock = 64;
  for (int64_t i0 = 0; i0 < rows; i0 += kBlock)
    for (int64_t j0 = 0; j0 < cols; j0 += kBlock) {
      int64_t i1 = std::min(rows, i0 + kBlock),
              j1 = std::min(cols, j0 + kBlock);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t j = j0; j < j1; ++j) {
          T v;
          std::memcpy(&v, src + size_t(i * cols + j) * sizeof(T), sizeof(T));
          std::memcpy(dst + size_t(j * rows + i) * sizeof(T), &v, sizeof(T));
        }
    }
}

// The transpose of a 2-D value: a transposed constant when v is a
// constant (weights), else a Transpose node.
Expected<Value> transposed(LoweringBuilder &b, Value v) {
  const Tensor *c = constantOf(v);
  if (!c || c->rank() != 2)
    return b.op(OpKind::Transpose, {v}, {{"perm", Attr::ofInts({1, 0})}});
  int64_t rows = c->dims()[0], cols = c->dims()[1];
  size_t es = elemSize(c->elem());
  Tensor t(Type(c->elem(), {cols, rows}));
  switch (es) {
  case 1:
    transposeBlocked<uint8_t>(c->raw(), t.raw(), rows, cols);
    break;
  case 2:
    transposeBlocked<uint16_t>(c->raw(), t.raw(), rows, cols);
    break;
  case 4:
    transposeBlocked<uint32_t>(c->raw(), t.raw(), rows, cols);
    break;
  case 8:
    transposeBlocked<uint64_t>(c->raw(), t.raw(), rows, cols);
    break;
  default:
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j)
        std::memcpy(t.raw() + size_t(j * rows + i) * es,
                    c->raw() + size_t(i * cols + j) * es, es);
  }
  return b.constant(std::move(t));
}

} // namespace

Expected<std::vector<Value>> lower_Gemm(LoweringBuilder &b) {
  const Node &n = b.node();
  ElemKind k = b.inType(0).elem();
  Value a = b.in(0), bb = b.in(1);
  if (n.attrInt("transA", 0)) {
    EMBER_ASSIGN(a, transposed(b, a));
  }
  if (n.attrInt("transB", 0)) {
    EMBER_ASSIGN(bb, transposed(b, bb));
  }
  EMBER_ASSIGN(Value y, b.op(OpKind::MatMul, {a, bb}));
  double alpha = n.attrFloat("alpha", 1.0), beta = n.attrFloat("beta", 1.0);
  if (alpha != 1.0) {
    EMBER_ASSIGN(y, b.op(OpKind::Mul, {y, b.scalar(k, alpha)}));
  }
  if (b.has(2) && beta != 0.0) {
    Value c = b.in(2);
    if (beta != 1.0) {
      EMBER_ASSIGN(c, b.op(OpKind::Mul, {c, b.scalar(k, beta)}));
    }
    EMBER_ASSIGN(y, b.op(OpKind::Add, {y, c}));
  }
  return std::vector<Value>{y};
}

Expected<std::vector<Value>> lower_GlobalAveragePool(LoweringBuilder &b) {
  const Type &t = b.inType(0);
  if (t.rank() <= 2)
    return std::vector<Value>{b.in(0)};
  // 16-bit floats average in f32 and round once, like the kernel.
  EMBER_ASSIGN(Value x, castTo(b, b.in(0), statKind(t.elem())));
  EMBER_ASSIGN(Value y,
               b.mean(x, LoweringBuilder::axisRange(2, int64_t(t.rank()))));
  EMBER_ASSIGN(y, castTo(b, y, t.elem()));
  return std::vector<Value>{y};
}

Expected<std::vector<Value>> lower_GlobalMaxPool(LoweringBuilder &b) {
  const Type &t = b.inType(0);
  if (t.rank() <= 2)
    return std::vector<Value>{b.in(0)};
  EMBER_ASSIGN(
      Value y,
      b.op(OpKind::ReduceMax,
           {b.in(0), b.ints(LoweringBuilder::axisRange(2, int64_t(t.rank())))},
           {{"keepdims", Attr::ofInt(1)}}));
  return std::vector<Value>{y};
}

// Y = X * s + t with s = scale / sqrt(var + eps), t = B - mean * s folded
// into [C,1,...] constants when the parameters are constants.
Expected<std::vector<Value>> lower_BatchNormalization(LoweringBuilder &b) {
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem();
  double eps = b.node().attrFloat("epsilon", 1e-5);
  const Tensor *scale = constantOf(b.in(1)), *bias = constantOf(b.in(2)),
               *mean = constantOf(b.in(3)), *var = constantOf(b.in(4));
  if (xt.rank() < 2)
    return invalid("BatchNormalization: X must have rank >= 2");
  if (scale && bias && mean && var) {
    Dims shape(xt.rank() - 1, 1);
    shape[0] = xt.dim(1);
    // 16-bit floats compute in f32 and round once, like the kernel.
    ElemKind ck = statKind(k);
    Tensor s(Type(ck, shape)), t(Type(ck, shape));
    for (int64_t c = 0; c < shape[0]; ++c) {
      // Same float arithmetic as the reference kernel for f32 data.
      if (k == ElemKind::F64) {
        double sv = scale->getDouble(c) / std::sqrt(var->getDouble(c) + eps);
        s.setDouble(c, sv);
        t.setDouble(c, bias->getDouble(c) - mean->getDouble(c) * sv);
      } else {
        float sv = float(scale->getDouble(c)) /
                   std::sqrt(float(var->getDouble(c)) + float(eps));
        s.setDouble(c, sv);
        t.setDouble(c, double(float(bias->getDouble(c)) -
                              float(mean->getDouble(c)) * sv));
      }
    }
    EMBER_ASSIGN(Value x, castTo(b, b.in(0), ck));
    EMBER_ASSIGN(Value y, b.op(OpKind::Mul, {x, b.constant(s)}));
    EMBER_ASSIGN(y, b.op(OpKind::Add, {y, b.constant(t)}));
    EMBER_ASSIGN(y, castTo(b, y, k));
    return std::vector<Value>{y};
  }
  size_t r = xt.rank();
  EMBER_ASSIGN(Value sc, perChannel(b, b.in(1), r, k));
  EMBER_ASSIGN(Value bi, perChannel(b, b.in(2), r, k));
  EMBER_ASSIGN(Value mu, perChannel(b, b.in(3), r, k));
  EMBER_ASSIGN(Value va, perChannel(b, b.in(4), r, k));
  EMBER_ASSIGN(Value den, b.op(OpKind::Add, {va, b.scalar(k, eps)}));
  EMBER_ASSIGN(den, b.op(OpKind::Sqrt, {den}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Sub, {b.in(0), mu}));
  EMBER_ASSIGN(y, b.op(OpKind::Div, {y, den}));
  EMBER_ASSIGN(y, b.op(OpKind::Mul, {y, sc}));
  EMBER_ASSIGN(y, b.op(OpKind::Add, {y, bi}));
  return std::vector<Value>{y};
}

namespace {
// (x - mean) * 1/sqrt(var + eps) over `axes`; also returns mean and the
// inverse standard deviation. x must already be in the statistics type.
struct Normalized {
  Value y, mean, invStd;
};
Expected<Normalized> normalize(LoweringBuilder &b, Value x, const Dims &axes,
                               double eps) {
  ElemKind k = x.type().elem();
  Normalized r;
  EMBER_ASSIGN(r.mean, b.mean(x, axes));
  EMBER_ASSIGN(Value d, b.op(OpKind::Sub, {x, r.mean}));
  EMBER_ASSIGN(Value sq, b.op(OpKind::Mul, {d, d}));
  EMBER_ASSIGN(Value var, b.mean(sq, axes));
  EMBER_ASSIGN(Value v, b.op(OpKind::Add, {var, b.scalar(k, eps)}));
  EMBER_ASSIGN(v, b.op(OpKind::Sqrt, {v}));
  EMBER_ASSIGN(r.invStd, b.op(OpKind::Reciprocal, {v}));
  EMBER_ASSIGN(r.y, b.op(OpKind::Mul, {d, r.invStd}));
  return r;
}
} // namespace

Expected<std::vector<Value>> lower_InstanceNormalization(LoweringBuilder &b) {
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem(), sk = statKind(k);
  size_t r = xt.rank();
  if (r < 3)
    return invalid("InstanceNormalization: X must have rank >= 3");
  EMBER_ASSIGN(Value x, castTo(b, b.in(0), sk));
  EMBER_ASSIGN(Normalized nz,
               normalize(b, x, LoweringBuilder::axisRange(2, int64_t(r)),
                         b.node().attrFloat("epsilon", 1e-5)));
  EMBER_ASSIGN(Value sc, perChannel(b, b.in(1), r, sk));
  EMBER_ASSIGN(Value bi, perChannel(b, b.in(2), r, sk));
  EMBER_ASSIGN(Value y, b.op(OpKind::Mul, {nz.y, sc}));
  EMBER_ASSIGN(y, b.op(OpKind::Add, {y, bi}));
  EMBER_ASSIGN(y, castTo(b, y, k));
  return std::vector<Value>{y};
}

Expected<std::vector<Value>> lower_LayerNormalization(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem(), sk = statKind(k);
  int64_t r = int64_t(xt.rank()), axis = n.attrInt("axis", -1);
  if (axis < -r || axis >= r)
    return invalid("LayerNormalization: axis ", axis, " out of range");
  if (axis < 0)
    axis += r;
  EMBER_ASSIGN(Value x, castTo(b, b.in(0), sk));
  EMBER_ASSIGN(Normalized nz,
               normalize(b, x, LoweringBuilder::axisRange(axis, r),
                         n.attrFloat("epsilon", 1e-5)));
  EMBER_ASSIGN(Value sc, castTo(b, b.in(1), sk));
  EMBER_ASSIGN(Value y, b.op(OpKind::Mul, {nz.y, sc}));
  if (b.has(2)) {
    EMBER_ASSIGN(Value bi, castTo(b, b.in(2), sk));
    EMBER_ASSIGN(y, b.op(OpKind::Add, {y, bi}));
  }
  std::vector<Value> res;
  EMBER_ASSIGN(y, castTo(b, y, k));
  res.push_back(y);
  if (n.numResults() > 1) {
    EMBER_ASSIGN(Value m, castTo(b, nz.mean, n.types[1].elem()));
    res.push_back(m);
  }
  if (n.numResults() > 2) {
    EMBER_ASSIGN(Value s, castTo(b, nz.invStd, n.types[2].elem()));
    res.push_back(s);
  }
  return res;
}

// Y = X / (bias + alpha/size * sum of squares over the channel window)^beta;
// the windowed sum is an AveragePool (count_include_pad) over channels.
Expected<std::vector<Value>> lower_LRN(LoweringBuilder &b) {
  const Node &n = b.node();
  const Type &xt = b.inType(0);
  ElemKind k = xt.elem();
  if (xt.rank() < 3)
    return invalid("LRN: X must have rank >= 3");
  int64_t size = n.attrInt("size", 0);
  if (size < 1)
    return invalid("LRN: size must be >= 1");
  double alpha = n.attrFloat("alpha", 1e-4), beta = n.attrFloat("beta", 0.75),
         bias = n.attrFloat("bias", 1.0);
  int64_t before = (size - 1) / 2, after = size - 1 - before;
  int64_t inner = xt.numElements() / (xt.dim(0) * xt.dim(1));
  EMBER_ASSIGN(Value sq, b.op(OpKind::Mul, {b.in(0), b.in(0)}));
  EMBER_ASSIGN(sq, b.op(OpKind::Reshape,
                        {sq, b.ints({xt.dim(0), 1, xt.dim(1), inner})}));
  EMBER_ASSIGN(Value avg, b.op(OpKind::AveragePool, {sq},
                               {{"kernel_shape", Attr::ofInts({size, 1})},
                                {"pads", Attr::ofInts({before, 0, after, 0})},
                                {"count_include_pad", Attr::ofInt(1)}}));
  EMBER_ASSIGN(avg, b.op(OpKind::Reshape, {avg, b.ints(xt.dims())}));
  EMBER_ASSIGN(Value den, b.op(OpKind::Mul, {avg, b.scalar(k, alpha)}));
  EMBER_ASSIGN(den, b.op(OpKind::Add, {den, b.scalar(k, bias)}));
  EMBER_ASSIGN(den, b.op(OpKind::Pow, {den, b.scalar(k, beta)}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Div, {b.in(0), den}));
  return std::vector<Value>{y};
}

} // namespace ember

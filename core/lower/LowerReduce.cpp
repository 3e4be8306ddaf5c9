// Lowerings of the composite reductions (ReduceMean, ReduceL1/L2,
// ReduceLogSum(Exp), ReduceSumSquare), the variadic Sum/Mean and
// Softmax/LogSoftmax into ReduceSum/ReduceMax and elementwise primitives.
#include "lower/LowerUtil.h"
#include "lower/Lowering.h"

namespace ember {

namespace {

std::vector<Value> one(Value v) { return {v}; }

// The data operand replaced by x, the axes operand (if any) kept.
std::vector<Value> reduceOperands(LoweringBuilder &b, Value x) {
  std::vector<Value> ins{x};
  if (b.has(1))
    ins.push_back(b.in(1));
  return ins;
}

AttrMap reduceAttrs(LoweringBuilder &b, bool forceKeepDims = false) {
  AttrMap a;
  a["keepdims"] =
      Attr::ofInt(forceKeepDims ? 1 : b.node().attrInt("keepdims", 1));
  a["noop_with_empty_axes"] =
      Attr::ofInt(b.node().attrInt("noop_with_empty_axes", 0));
  return a;
}

Expected<Value> reduceSumOf(LoweringBuilder &b, Value x) {
  return b.op(OpKind::ReduceSum, reduceOperands(b, x), reduceAttrs(b));
}

// Sum of all operands as a chain of broadcasting Adds.
Expected<Value> addAll(LoweringBuilder &b) {
  Value acc = b.in(0);
  if (b.node().inputs.size() == 1)
    return b.op(OpKind::Identity, {acc});
  for (size_t i = 1; i < b.node().inputs.size(); ++i) {
    EMBER_ASSIGN(acc, b.op(OpKind::Add, {acc, b.in(i)}));
  }
  return acc;
}

// Softmax pieces along the node's axis: d = x - max(x), s = sum(exp(d)).
struct SoftmaxParts {
  Value d, e, s;
};
Expected<SoftmaxParts> softmaxParts(LoweringBuilder &b) {
  int64_t rank = int64_t(b.inType(0).rank());
  int64_t axis = b.node().attrInt("axis", -1);
  if (axis < -rank || axis >= rank)
    return invalid(opName(b.node().kind), ": axis ", axis,
                   " is out of range for rank ", rank);
  if (axis < 0)
    axis += rank;
  AttrMap keep;
  keep["keepdims"] = Attr::ofInt(1);
  Value axes = b.ints({axis});
  SoftmaxParts p;
  EMBER_ASSIGN(Value m, b.op(OpKind::ReduceMax, {b.in(0), axes}, keep));
  EMBER_ASSIGN(p.d, b.op(OpKind::Sub, {b.in(0), m}));
  EMBER_ASSIGN(p.e, b.op(OpKind::Exp, {p.d}));
  EMBER_ASSIGN(p.s, b.op(OpKind::ReduceSum, {p.e, axes}, keep));
  return p;
}

} // namespace

Expected<std::vector<Value>> lower_Sum(LoweringBuilder &b) {
  EMBER_ASSIGN(Value y, addAll(b));
  return one(y);
}

Expected<std::vector<Value>> lower_Mean(LoweringBuilder &b) {
  EMBER_ASSIGN(Value s, addAll(b));
  ElemKind k = b.node().types[0].elem();
  Value n = b.scalar(k, double(b.node().inputs.size()));
  EMBER_ASSIGN(Value y, b.op(OpKind::Div, {s, n}));
  return one(y);
}

// ReduceMean = ReduceSum / count, count taken from the shapes (an empty
// reduction divides by 0: NaN for floats, 0 for integers, as the kernel).
// Narrow integers sum and divide in 64 bits like the kernel, so the count
// always fits and the sum does not wrap before the division.
Expected<std::vector<Value>> lower_ReduceMean(LoweringBuilder &b) {
  ElemKind k = b.inType(0).elem();
  ElemKind wide = k;
  if (isIntKind(k) && elemSize(k) < 8)
    wide = isSignedKind(k) ? ElemKind::I64 : ElemKind::U64;
  Value x = b.in(0);
  if (wide != k) {
    EMBER_ASSIGN(x, castTo(b, x, wide));
  }
  EMBER_ASSIGN(Value s, reduceSumOf(b, x));
  int64_t inN = b.inType(0).numElements();
  int64_t outN = b.node().types[0].numElements();
  int64_t count = outN == 0 ? 1 : inN / outN;
  Value c = b.scalar(wide, double(count));
  EMBER_ASSIGN(Value y, b.op(OpKind::Div, {s, c}));
  if (wide != k) {
    EMBER_ASSIGN(y, castTo(b, y, k));
  }
  return one(y);
}

Expected<std::vector<Value>> lower_ReduceL1(LoweringBuilder &b) {
  EMBER_ASSIGN(Value a, b.op(OpKind::Abs, {b.in(0)}));
  EMBER_ASSIGN(Value y, reduceSumOf(b, a));
  return one(y);
}

Expected<std::vector<Value>> lower_ReduceSumSquare(LoweringBuilder &b) {
  EMBER_ASSIGN(Value sq, b.op(OpKind::Mul, {b.in(0), b.in(0)}));
  EMBER_ASSIGN(Value y, reduceSumOf(b, sq));
  return one(y);
}

// Integer ReduceL2 takes the square root in f64 and truncates back.
Expected<std::vector<Value>> lower_ReduceL2(LoweringBuilder &b) {
  ElemKind k = b.inType(0).elem();
  EMBER_ASSIGN(Value sq, b.op(OpKind::Mul, {b.in(0), b.in(0)}));
  EMBER_ASSIGN(Value s, reduceSumOf(b, sq));
  bool viaF64 = !isFloatKind(k);
  if (viaF64) {
    EMBER_ASSIGN(s, castTo(b, s, ElemKind::F64));
  }
  EMBER_ASSIGN(Value y, b.op(OpKind::Sqrt, {s}));
  if (viaF64) {
    EMBER_ASSIGN(y, castTo(b, y, k));
  }
  return one(y);
}

Expected<std::vector<Value>> lower_ReduceLogSum(LoweringBuilder &b) {
  EMBER_ASSIGN(Value s, reduceSumOf(b, b.in(0)));
  EMBER_ASSIGN(Value y, b.op(OpKind::Log, {s}));
  return one(y);
}

// log(sum(exp(x - m))) + m with m the max, replaced by 0 where it is
// infinite (all -inf slices, empty slices, +inf present).
Expected<std::vector<Value>> lower_ReduceLogSumExp(LoweringBuilder &b) {
  ElemKind k = b.inType(0).elem();
  AttrMap keep = reduceAttrs(b, /*forceKeepDims=*/true);
  EMBER_ASSIGN(Value m,
               b.op(OpKind::ReduceMax, reduceOperands(b, b.in(0)), keep));
  EMBER_ASSIGN(Value inf, b.op(OpKind::IsInf, {m}));
  EMBER_ASSIGN(Value m0, b.op(OpKind::Where, {inf, b.scalar(k, 0), m}));
  EMBER_ASSIGN(Value d, b.op(OpKind::Sub, {b.in(0), m0}));
  EMBER_ASSIGN(Value e, b.op(OpKind::Exp, {d}));
  EMBER_ASSIGN(Value s, b.op(OpKind::ReduceSum, reduceOperands(b, e), keep));
  EMBER_ASSIGN(Value l, b.op(OpKind::Log, {s}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Add, {l, m0}));
  const Dims &out = b.node().types[0].dims();
  if (y.type().dims() != out) {
    AttrMap rz;
    rz["allowzero"] = Attr::ofInt(1);
    EMBER_ASSIGN(y, b.op(OpKind::Reshape, {y, b.ints(out)}, rz));
  }
  return one(y);
}

Expected<std::vector<Value>> lower_Softmax(LoweringBuilder &b) {
  EMBER_ASSIGN(SoftmaxParts p, softmaxParts(b));
  EMBER_ASSIGN(Value y, b.op(OpKind::Div, {p.e, p.s}));
  return one(y);
}

Expected<std::vector<Value>> lower_LogSoftmax(LoweringBuilder &b) {
  EMBER_ASSIGN(SoftmaxParts p, softmaxParts(b));
  EMBER_ASSIGN(Value l, b.op(OpKind::Log, {p.s}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Sub, {p.d, l}));
  return one(y);
}

// Hardmax: Equal(iota along axis, ArgMax(keepdims)) cast to the input type
// (ArgMax picks the first maximum, or the first NaN, like the kernel).
Expected<std::vector<Value>> lower_Hardmax(LoweringBuilder &b) {
  const Type &xt = b.inType(0);
  EMBER_ASSIGN(int64_t axis,
               checkedAxis("Hardmax", b.node().attrInt("axis", -1), xt.rank()));
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
  EMBER_ASSIGN(Value y, castTo(b, eq, xt.elem()));
  return std::vector<Value>{y};
}

} // namespace ember

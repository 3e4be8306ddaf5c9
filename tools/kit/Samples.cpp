// Single-op sample programs for the capability layer: for an op and an
// element type, a small lowered graph (shapes and attributes valid for the
// op, broadcasting where the op has it) and deterministic random inputs
// within the op's domain. Index-like operands (axes, shapes, indices) are
// constants, as they are after import and lowering.
#include "KitInternal.h"

#include <cmath>
#include <random>

namespace ember::kit {

const Node &Sample::node() const {
  for (auto &n : fn().nodes())
    if (!isStorage(n->kind))
      return *n;
  return *fn().nodes().front();
}

Tensor randomTensor(const Type &t, uint64_t seed, double lo, double hi) {
  Tensor x(t);
  std::mt19937_64 rng(seed);
  if (t.elem() == ElemKind::Bool) {
    for (int64_t i = 0; i < x.size(); ++i)
      x.setInt(i, int64_t(rng() & 1));
    return x;
  }
  if (!isFloatKind(t.elem())) {
    auto a = int64_t(std::ceil(lo)), b = int64_t(std::floor(hi));
    std::uniform_int_distribution<int64_t> d(a, b < a ? a : b);
    for (int64_t i = 0; i < x.size(); ++i)
      x.setInt(i, d(rng));
    return x;
  }
  std::uniform_real_distribution<double> d(lo, hi);
  for (int64_t i = 0; i < x.size(); ++i)
    x.setDouble(i, d(rng));
  return x;
}

namespace {

// Value ranges of data operands.
enum class Domain {
  Default,  // floats [-2, 2], signed [-5, 5], unsigned [0, 10]
  Small,    // accumulating ops: floats [-2, 2], signed [-2, 2], unsigned [0, 3]
  Positive, // floats [0.1, 4], integers [1, 5]
  AboveOne, // [1.1, 4]
  Unit,     // (-1, 1): [-0.9, 0.9]
  NonZero,  // |x| >= 0.5 (integers: non-zero), either sign
  NearOne,  // products: floats [0.5, 1.5], integers [1, 2]
  Shift,    // shift amounts and small exponents: [0, 3]
};

class Builder {
public:
  Builder(ElemKind d, unsigned seed) : d_(d), seed_(seed) {
    m_ = std::make_unique<Module>();
    f_ = m_->addFunction("sample");
  }
  ElemKind d() const { return d_; }
  bool isFloat() const { return isFloatKind(d_); }

  // A graph input of `t` with random data in `dom`.
  Value in(const Type &t, Domain dom = Domain::Default) {
    Node *p = f_->addPlaceholder("x" + std::to_string(inputs_.size()), t);
    inputs_.push_back(random(t, dom));
    return Value(p);
  }
  Value in(Dims dims, Domain dom = Domain::Default) {
    return in(Type(d_, std::move(dims)), dom);
  }
  // A constant of `t` with random data in `dom`.
  Value weight(const Type &t, Domain dom = Domain::Small) {
    return Value(f_->addConstant("w", random(t, dom)));
  }
  Value weight(Dims dims, Domain dom = Domain::Small) {
    return weight(Type(d_, std::move(dims)), dom);
  }
  Value cst(Tensor t) { return Value(f_->addConstant("c", std::move(t))); }
  Value ints(const std::vector<int64_t> &v, Dims dims = {-1}) {
    return cst(Tensor::fromInts(ElemKind::I64, v, std::move(dims)));
  }
  Value scalar(ElemKind k, double v) { return cst(Tensor::scalar(k, v)); }

  // Creates the op's node; its results are the graph outputs.
  Status node(OpKind k, std::vector<Value> ins, AttrMap attrs = {},
              int numResults = -1) {
    EMBER_ASSIGN(Node * n, f_->create(k, std::move(ins), std::move(attrs),
                                      "sample", numResults));
    for (unsigned i = 0; i < n->numResults(); ++i)
      f_->addOutput(Value(n, i), "y" + std::to_string(i));
    return Status::ok();
  }

  // Sets element i of input k (special values).
  void setInput(size_t k, int64_t i, double v) { inputs_[k].setDouble(i, v); }

  Sample finish() {
    Sample s;
    s.module = std::move(m_);
    s.inputs = std::move(inputs_);
    return s;
  }

private:
  Tensor random(const Type &t, Domain dom) {
    uint64_t seed = seed_ * 1000003ull + counter_++;
    ElemKind k = t.elem();
    bool fl = isFloatKind(k), sg = isSignedKind(k);
    double lo = -2, hi = 2;
    switch (dom) {
    case Domain::Default:
      lo = fl ? -2 : sg ? -5 : 0;
      hi = fl ? 2 : sg ? 5 : 10;
      break;
    case Domain::Small:
      lo = sg ? -2 : 0;
      hi = fl || sg ? 2 : 3;
      break;
    case Domain::Positive:
      lo = fl ? 0.1 : 1;
      hi = fl ? 4 : 5;
      break;
    case Domain::AboveOne:
      lo = 1.1;
      hi = 4;
      break;
    case Domain::Unit:
      lo = -0.9;
      hi = 0.9;
      break;
    case Domain::NonZero:
      lo = fl ? 0.5 : 1;
      hi = fl ? 2 : 5;
      break;
    case Domain::NearOne:
      lo = fl ? 0.5 : 1;
      hi = fl ? 1.5 : 2;
      break;
    case Domain::Shift:
      lo = 0;
      hi = 3;
      break;
    }
    Tensor x = randomTensor(t, seed, lo, hi);
    if (dom == Domain::NonZero && sg) {
      std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ull);
      for (int64_t i = 0; i < x.size(); ++i)
        if (rng() & 1)
          x.setDouble(i, -x.getDouble(i));
    }
    return x;
  }

  ElemKind d_;
  unsigned seed_;
  uint64_t counter_ = 0;
  std::unique_ptr<Module> m_;
  Function *f_ = nullptr;
  std::vector<Tensor> inputs_;
};

using BuildFn = Status (*)(Builder &, OpKind);

// Not a switch over OpKind: a new op must not need an entry here.
Domain unaryDomain(OpKind k) {
  if (k == OpKind::Log || k == OpKind::Sqrt)
    return Domain::Positive;
  if (k == OpKind::Acosh)
    return Domain::AboveOne;
  if (k == OpKind::Asin || k == OpKind::Acos || k == OpKind::Atanh)
    return Domain::Unit;
  if (k == OpKind::Reciprocal)
    return Domain::NonZero;
  return Domain::Default;
}

Status unary(Builder &b, OpKind k) {
  Value x = b.in({2, 3, 4}, unaryDomain(k));
  if ((k == OpKind::IsNaN || k == OpKind::IsInf) && b.isFloat()) {
    b.setInput(0, 1, std::nan(""));
    b.setInput(0, 5, INFINITY);
    b.setInput(0, 9, -INFINITY);
  }
  return b.node(k, {x});
}

Status cast(Builder &b, OpKind k) {
  // Into f32 from the element type; from f32 into i32 for f32 itself.
  Value x = b.in({2, 3, 4});
  ElemKind to = b.d() == ElemKind::F32 ? ElemKind::I32 : ElemKind::F32;
  return b.node(k, {x}, {{"to", Attr::ofInt(elemKindToOnnx(to))}});
}

Status binary(Builder &b, OpKind k) {
  Domain da = Domain::Default, db = Domain::Default;
  AttrMap attrs;
  if (k == OpKind::Div || k == OpKind::Mod) {
    db = Domain::NonZero;
    if (k == OpKind::Mod && b.isFloat())
      attrs["fmod"] = Attr::ofInt(1);
  } else if (k == OpKind::Pow) {
    da = b.isFloat() ? Domain::NearOne : Domain::Shift;
    db = b.isFloat() ? Domain::Default : Domain::Shift;
  } else if (k == OpKind::BitShift) {
    db = Domain::Shift;
    attrs["direction"] = Attr::ofString("LEFT");
  }
  // [2,3,4] with [3,1]: broadcasting on both sides of the second operand.
  Value a = b.in({2, 3, 4}, da);
  Value c = b.in({3, 1}, db);
  return b.node(k, {a, c}, attrs);
}

Status variadic(Builder &b, OpKind k) {
  Value x = b.in({2, 3, 4}), y = b.in({3, 1}), z = b.in({4});
  return b.node(k, {x, y, z});
}

Status where(Builder &b, OpKind k) {
  Value c = b.in(Type(ElemKind::Bool, {2, 3, 4}));
  Value x = b.in({2, 3, 4}), y = b.in({4});
  return b.node(k, {c, x, y});
}

Status reduce(Builder &b, OpKind k) {
  Value x = b.in({2, 3, 4},
                 k == OpKind::ReduceProd ? Domain::NearOne : Domain::Small);
  AttrMap attrs;
  if (k == OpKind::ReduceMax || k == OpKind::ReduceMin)
    attrs["keepdims"] = Attr::ofInt(0);
  return b.node(k, {x, b.ints({1})}, attrs);
}

Status argReduce(Builder &b, OpKind k) {
  Value x = b.in({3, 4, 5});
  return b.node(k, {x},
                {{"axis", Attr::ofInt(1)}, {"keepdims", Attr::ofInt(0)}});
}

Status cumulative(Builder &b, OpKind k) {
  Value x =
      b.in({3, 4}, k == OpKind::CumProd ? Domain::NearOne : Domain::Small);
  return b.node(k, {x, b.ints({1}, {})});
}

Status topK(Builder &b, OpKind k) {
  Value x = b.in({3, 6});
  return b.node(k, {x, b.ints({3}, {1})}, {{"axis", Attr::ofInt(-1)}}, 2);
}

Status matMul(Builder &b, OpKind k) {
  Value a = b.in({2, 3, 4}, Domain::Small), c = b.in({4, 5}, Domain::Small);
  return b.node(k, {a, c});
}

Status conv(Builder &b, OpKind k) {
  Value x = b.in({1, 2, 6, 6}, Domain::Small);
  Value w = b.weight({3, 2, 3, 3}), bias = b.weight({3});
  return b.node(k, {x, w, bias},
                {{"kernel_shape", Attr::ofInts({3, 3})},
                 {"pads", Attr::ofInts({1, 1, 1, 1})},
                 {"strides", Attr::ofInts({1, 2})},
                 {"dilations", Attr::ofInts({1, 1})},
                 {"group", Attr::ofInt(1)}});
}

Status convTranspose(Builder &b, OpKind k) {
  Value x = b.in({1, 2, 3, 3}, Domain::Small);
  Value w = b.weight({2, 3, 3, 3}), bias = b.weight({3});
  return b.node(k, {x, w, bias},
                {{"kernel_shape", Attr::ofInts({3, 3})},
                 {"strides", Attr::ofInts({2, 2})},
                 {"pads", Attr::ofInts({1, 1, 1, 1})}});
}

Status pool(Builder &b, OpKind k) {
  Value x = b.in({1, 2, 6, 6}, Domain::Small);
  AttrMap attrs = {{"kernel_shape", Attr::ofInts({3, 3})},
                   {"strides", Attr::ofInts({2, 2})},
                   {"pads", Attr::ofInts({1, 1, 1, 1})}};
  return b.node(k, {x}, attrs, 1);
}

Status reshape(Builder &b, OpKind k) {
  return b.node(k, {b.in({2, 3, 4}), b.ints({4, -1})});
}

Status transpose(Builder &b, OpKind k) {
  return b.node(k, {b.in({2, 3, 4})}, {{"perm", Attr::ofInts({2, 0, 1})}});
}

Status slice(Builder &b, OpKind k) {
  return b.node(k, {b.in({4, 6}), b.ints({1, 0}), b.ints({3, 6}),
                    b.ints({0, 1}), b.ints({1, 2})});
}

Status concat(Builder &b, OpKind k) {
  return b.node(k, {b.in({2, 3}), b.in({2, 2})}, {{"axis", Attr::ofInt(1)}});
}

Status split(Builder &b, OpKind k) {
  return b.node(k, {b.in({4, 6}), b.ints({2, 4})}, {{"axis", Attr::ofInt(1)}},
                2);
}

Status gather(Builder &b, OpKind k) {
  return b.node(k, {b.in({5, 4}), b.ints({0, 4, -1, 2, 1, 3}, {2, 3})},
                {{"axis", Attr::ofInt(0)}});
}

Status gatherElements(Builder &b, OpKind k) {
  return b.node(k, {b.in({3, 4}), b.ints({0, 3, 1, 1, 2, 0}, {3, 2})},
                {{"axis", Attr::ofInt(1)}});
}

Status gatherNd(Builder &b, OpKind k) {
  return b.node(k, {b.in({3, 4, 2}), b.ints({0, 1, 2, 3}, {2, 2})});
}

Status scatterElements(Builder &b, OpKind k) {
  // Distinct rows per column: the result does not depend on update order.
  Value data = b.in({3, 4});
  Value idx = b.ints({0, 1, 2, 0, 2, 0, 1, 1}, {2, 4});
  return b.node(k, {data, idx, b.in({2, 4})}, {{"axis", Attr::ofInt(0)}});
}

Status scatterNd(Builder &b, OpKind k) {
  Value data = b.in({4, 3});
  return b.node(k, {data, b.ints({1, 3}, {2, 1}), b.in({2, 3})});
}

Status pad(Builder &b, OpKind k) {
  return b.node(k, {b.in({2, 3}), b.ints({1, 0, 0, 2})});
}

Status expand(Builder &b, OpKind k) {
  return b.node(k, {b.in({3, 1}), b.ints({2, 3, 4})});
}

Status tile(Builder &b, OpKind k) {
  return b.node(k, {b.in({2, 3}), b.ints({2, 1})});
}

Status shapeOf(Builder &b, OpKind k) { return b.node(k, {b.in({2, 3, 4})}); }

Status constantOfShape(Builder &b, OpKind k) {
  Tensor v(Type(b.d(), {1}));
  v.setDouble(0, b.d() == ElemKind::Bool ? 1 : 3);
  return b.node(k, {b.ints({2, 3})}, {{"value", Attr::ofTensor(v)}});
}

Status range(Builder &b, OpKind k) {
  return b.node(k,
                {b.scalar(b.d(), 1), b.scalar(b.d(), 9), b.scalar(b.d(), 2)});
}

Status resize(Builder &b, OpKind k) {
  Value x = b.in({1, 1, 2, 3});
  Tensor scales = Tensor::fromInts(ElemKind::F32, {1, 1, 2, 2});
  AttrMap attrs = {
      {"mode", Attr::ofString(b.isFloat() ? "linear" : "nearest")}};
  return b.node(k, {x, Value(), b.cst(scales)}, attrs);
}

// Zero points used with each quantized type.
double zeroPointOf(ElemKind k) {
  switch (k) {
  case ElemKind::U8:
    return 128;
  case ElemKind::U16:
    return 1000;
  case ElemKind::I8:
    return 3;
  case ElemKind::I16:
    return -5;
  default:
    return 0;
  }
}

bool isQuantType(ElemKind k) {
  return k == ElemKind::U8 || k == ElemKind::I8 || k == ElemKind::U16 ||
         k == ElemKind::I16;
}

Status quantizeLinear(Builder &b, OpKind k) {
  ElemKind d = b.d();
  if (isQuantType(d)) {
    Value x = b.in(Type(ElemKind::F32, {2, 3, 4}));
    return b.node(
        k, {x, b.scalar(ElemKind::F32, 0.05), b.scalar(d, zeroPointOf(d))});
  }
  if (isFloatKind(d) && !isMiniKind(d) && d != ElemKind::F64) {
    Value x = b.in({2, 3, 4});
    return b.node(k, {x, b.scalar(d, 0.05), b.scalar(ElemKind::U8, 128)});
  }
  return unsupported("QuantizeLinear samples quantize into u8, i8, u16 or "
                     "i16, or from f32, f16 or bf16");
}

Status dequantizeLinear(Builder &b, OpKind k) {
  ElemKind d = b.d();
  if (isQuantType(d) || d == ElemKind::I32) {
    Value x = b.in({2, 3, 4});
    std::vector<Value> ins = {x, b.scalar(ElemKind::F32, 0.05)};
    if (d != ElemKind::I32)
      ins.push_back(b.scalar(d, zeroPointOf(d)));
    return b.node(k, ins);
  }
  if (isFloatKind(d) && !isMiniKind(d) && d != ElemKind::F64) {
    Value x = b.in(Type(ElemKind::I8, {2, 3, 4}));
    return b.node(k, {x, b.scalar(d, 0.05), b.scalar(ElemKind::I8, 3)});
  }
  return unsupported("DequantizeLinear samples dequantize u8, i8, u16, i16 "
                     "or i32, or into f32, f16 or bf16");
}

Status qlinearMatMul(Builder &b, OpKind k) {
  ElemKind d = b.d();
  if (d != ElemKind::U8 && d != ElemKind::I8)
    return unsupported("QLinearMatMul samples take u8 or i8");
  double zp = zeroPointOf(d);
  Value a = b.in({2, 4});
  Value w = b.weight({4, 3}, Domain::Default);
  return b.node(k, {a, b.scalar(ElemKind::F32, 0.02), b.scalar(d, zp), w,
                    b.scalar(ElemKind::F32, 0.03), b.scalar(d, zp),
                    b.scalar(ElemKind::F32, 0.05), b.scalar(d, zp)});
}

Status qlinearConv(Builder &b, OpKind k) {
  ElemKind d = b.d();
  if (d != ElemKind::U8 && d != ElemKind::I8)
    return unsupported("QLinearConv samples take u8 or i8");
  double zp = zeroPointOf(d);
  Value x = b.in({1, 2, 5, 5});
  Value w = b.weight({3, 2, 3, 3}, Domain::Default);
  return b.node(k,
                {x, b.scalar(ElemKind::F32, 0.02), b.scalar(d, zp), w,
                 b.scalar(ElemKind::F32, 0.03), b.scalar(d, zp),
                 b.scalar(ElemKind::F32, 0.05), b.scalar(d, zp)},
                {{"kernel_shape", Attr::ofInts({3, 3})},
                 {"pads", Attr::ofInts({1, 1, 1, 1})}});
}

Status matMulInteger(Builder &b, OpKind k) {
  ElemKind d = b.d();
  if (d != ElemKind::U8 && d != ElemKind::I8)
    return unsupported("MatMulInteger samples take u8 or i8");
  Value a = b.in({2, 4}), w = b.weight({4, 3}, Domain::Default);
  return b.node(k, {a, w, b.scalar(d, 2), b.scalar(d, 1)});
}

Status convInteger(Builder &b, OpKind k) {
  ElemKind d = b.d();
  if (d != ElemKind::U8 && d != ElemKind::I8)
    return unsupported("ConvInteger samples take u8 or i8");
  Value x = b.in({1, 2, 5, 5}), w = b.weight({3, 2, 3, 3}, Domain::Default);
  return b.node(k, {x, w, b.scalar(d, 2)},
                {{"kernel_shape", Attr::ofInts({3, 3})}});
}

Status dynamicQuantize(Builder &b, OpKind k) {
  if (b.d() != ElemKind::F32 && b.d() != ElemKind::U8)
    return unsupported("DynamicQuantizeLinear quantizes f32 into u8");
  return b.node(k, {b.in(Type(ElemKind::F32, {2, 3, 4}))}, {}, 3);
}

Status bitCast(Builder &b, OpKind k) {
  ElemKind to;
  switch (b.d()) {
  case ElemKind::F32:
    to = ElemKind::I32;
    break;
  case ElemKind::I32:
  case ElemKind::U32:
    to = ElemKind::F32;
    break;
  case ElemKind::F64:
    to = ElemKind::I64;
    break;
  case ElemKind::I64:
  case ElemKind::U64:
    to = ElemKind::F64;
    break;
  case ElemKind::F16:
  case ElemKind::BF16:
    to = ElemKind::I16;
    break;
  case ElemKind::I16:
    to = ElemKind::F16;
    break;
  case ElemKind::U16:
    to = ElemKind::BF16;
    break;
  case ElemKind::I8:
    to = ElemKind::U8;
    break;
  case ElemKind::U8:
    to = ElemKind::I8;
    break;
  default:
    return unsupported("BitCast samples take numeric types");
  }
  return b.node(k, {b.in({2, 3, 4}, Domain::Small)},
                {{"to", Attr::ofInt(elemKindToOnnx(to))}});
}

Status det(Builder &b, OpKind k) { return b.node(k, {b.in({2, 3, 3})}); }

Status gridSample(Builder &b, OpKind k) {
  Value x = b.in({1, 1, 3, 3});
  Value grid = b.in({1, 2, 2, 2}, Domain::Unit);
  return b.node(k, {x, grid});
}

Status roiAlign(Builder &b, OpKind k) {
  Value x = b.in({1, 1, 4, 4});
  Tensor rois(Type(b.d(), {1, 4}));
  for (int64_t i = 0; i < 4; ++i)
    rois.setDouble(i, i < 2 ? 0.5 : 2.5);
  return b.node(k, {x, b.cst(rois), b.ints({0}, {1})},
                {{"output_height", Attr::ofInt(2)},
                 {"output_width", Attr::ofInt(2)},
                 {"sampling_ratio", Attr::ofInt(2)}});
}

Status recurrent(Builder &b, OpKind k) {
  int64_t gates = k == OpKind::RNN ? 1 : k == OpKind::GRU ? 3 : 4;
  const int64_t H = 4, I = 3;
  Value x = b.in({2, 1, I}, Domain::Small);
  Value w = b.weight({1, gates * H, I}), r = b.weight({1, gates * H, H});
  return b.node(k, {x, w, r}, {{"hidden_size", Attr::ofInt(H)}},
                k == OpKind::LSTM ? 3 : 2);
}

Status deformConv(Builder &b, OpKind k) {
  Value x = b.in({1, 1, 4, 4}, Domain::Small);
  Value w = b.weight({1, 1, 2, 2});
  Value offset = b.in({1, 8, 3, 3}, Domain::Unit);
  return b.node(k, {x, w, offset}, {{"kernel_shape", Attr::ofInts({2, 2})}});
}

Status linearAttention(Builder &b, OpKind k) {
  Value q = b.in({1, 3, 4}, Domain::Small),
        key = b.in({1, 3, 4}, Domain::Small);
  Value v = b.in({1, 3, 4}, Domain::Small);
  return b.node(k, {q, key, v},
                {{"q_num_heads", Attr::ofInt(1)},
                 {"kv_num_heads", Attr::ofInt(1)},
                 {"update_rule", Attr::ofString("linear")}},
                1);
}

const std::map<std::string, BuildFn> &builders() {
  static const std::map<std::string, BuildFn> m = [] {
    std::map<std::string, BuildFn> t;
    for (unsigned i = 0; i < kNumOps; ++i) {
      auto k = OpKind(i);
      if (!isPrimitive(k))
        continue;
      if (hasProp(k, P_Elementwise) && hasProp(k, P_Unary))
        t[opName(k)] = unary;
      else if (hasProp(k, P_Elementwise) && hasProp(k, P_Binary))
        t[opName(k)] = binary;
    }
    t["Cast"] = cast;
    t["Max"] = t["Min"] = variadic;
    t["Where"] = where;
    t["ReduceSum"] = t["ReduceMax"] = t["ReduceMin"] = t["ReduceProd"] = reduce;
    t["ArgMax"] = t["ArgMin"] = argReduce;
    t["CumSum"] = t["CumProd"] = cumulative;
    t["TopK"] = topK;
    t["MatMul"] = matMul;
    t["Conv"] = conv;
    t["ConvTranspose"] = convTranspose;
    t["MaxPool"] = t["AveragePool"] = pool;
    t["Reshape"] = reshape;
    t["Transpose"] = transpose;
    t["Slice"] = slice;
    t["Concat"] = concat;
    t["Split"] = split;
    t["Gather"] = gather;
    t["GatherElements"] = gatherElements;
    t["GatherND"] = gatherNd;
    t["ScatterElements"] = scatterElements;
    t["ScatterND"] = scatterNd;
    t["Pad"] = pad;
    t["Expand"] = expand;
    t["Tile"] = tile;
    t["Shape"] = t["Size"] = shapeOf;
    t["ConstantOfShape"] = constantOfShape;
    t["Range"] = range;
    t["Resize"] = resize;
    t["QuantizeLinear"] = quantizeLinear;
    t["DequantizeLinear"] = dequantizeLinear;
    t["QLinearMatMul"] = qlinearMatMul;
    t["QLinearConv"] = qlinearConv;
    t["MatMulInteger"] = matMulInteger;
    t["ConvInteger"] = convInteger;
    t["DynamicQuantizeLinear"] = dynamicQuantize;
    t["BitCast"] = bitCast;
    t["Det"] = det;
    t["GridSample"] = gridSample;
    t["RoiAlign"] = roiAlign;
    t["RNN"] = t["GRU"] = t["LSTM"] = recurrent;
    t["DeformConv"] = deformConv;
    t["LinearAttention"] = linearAttention;
    return t;
  }();
  return m;
}

} // namespace

Expected<Sample> buildSample(const std::string &op, ElemKind dtype,
                             unsigned seed) {
  OpKind k;
  if (!opKindFromName(op, k))
    return unsupported("'", op, "' is not an Ember op");
  auto it = builders().find(op);
  if (it == builders().end())
    return unsupported("the kit has no sample program for ", op,
                       !isPrimitive(k)         ? " (not a primitive op)"
                       : hasProp(k, P_Control) ? " (control flow: subgraphs)"
                                               : "");
  Builder b(dtype, seed);
  Status s = it->second(b, k);
  if (!s.isOk())
    return unsupported("no ", op, " sample with element type ",
                       elemKindName(dtype), ": ", s.message());
  return b.finish();
}

} // namespace ember::kit

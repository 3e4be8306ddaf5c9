// Lowers quantized patterns into Ember's integer forms (docs/quantization.md,
// "Where the integer ops come from"): QDQ patterns
// (DequantizeLinear -> op -> [Relu/Clip/Max/Min] -> QuantizeLinear) and the
// QLinear ops with constant parameters become ConvInteger/MatMulInteger +
// int32 bias + Requantize, QuantizedAdd, integer pooling, movement on the
// stored integers, and TableLookup for other elementwise functions. It runs
// first in lowerFunction, while composites (Gemm, Clip, HardSwish,
// GlobalAveragePool, ...) are still whole. A pattern that does not fit
// exactly is left as it is: DequantizeLinear -> float op -> QuantizeLinear,
// which ONNX defines.
#include "lower/ChannelScales.h"
#include "lower/IntegerForms.h"

#include "interp/Interpreter.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <set>
#include <unordered_map>

namespace ember {

namespace {

using Users = std::unordered_map<const Node *, std::vector<Use>>;

bool isStored8(ElemKind k) { return k == ElemKind::U8 || k == ElemKind::I8; }

// A stored activation of an integer form: 8-bit, or int16 with zero point 0
// (16x8; docs/quantization.md, "16-bit activations"). Any other 16-bit
// tensor stays DequantizeLinear -> float op -> QuantizeLinear.
bool isStoredActivation(const QParams &p) {
  if (isStored8(p.kind))
    return true;
  if (p.kind != ElemKind::I16)
    return false;
  for (int64_t z : p.zeroPoints)
    if (z != 0)
      return false;
  return true;
}

// The accumulator of a layer reading x: int64 for 16x8, else int32.
ElemKind accumulatorOf(const QParams &x) {
  return x.kind == ElemKind::I16 ? ElemKind::I64 : ElemKind::I32;
}

// A 16x8 layer's weights are int8 with zero point 0 (a weight zero point
// would add a data-dependent z_w * sum(q_x) to every output).
bool weightsFit(const QParams &x, const QParams &w) {
  if (x.kind != ElemKind::I16)
    return true;
  if (w.kind != ElemKind::I8)
    return false;
  for (int64_t z : w.zeroPoints)
    if (z != 0)
      return false;
  return true;
}

// The one node reading result 0 of n, or null (several readers, a function
// output, or several results).
Node *soleUser(const Users &users, const Node *n) {
  if (n->numResults() != 1)
    return nullptr;
  auto it = users.find(n);
  if (it == users.end() || it->second.size() != 1 || !it->second[0].user)
    return nullptr;
  return it->second[0].user;
}

// An activation operand: DequantizeLinear of a u8/i8 value, or of an int16
// one with zero point 0, per tensor.
struct QIn {
  Value q;
  QParams p;
};

// `perChannel`: per-channel parameters are taken too (the reader takes them:
// readsPerChannelActivation).
std::optional<QIn> dequantized(Value v, bool perChannel = false) {
  if (!v.node || v.node->kind != OpKind::DequantizeLinear)
    return std::nullopt;
  auto p = dequantizeParams(*v.node);
  if (!p || !isStoredActivation(*p))
    return std::nullopt;
  if (!p->perTensor() &&
      !(perChannel && perChannelActivation(*p) &&
        int64_t(p->scales.size()) == v.type().dims()[size_t(p->axis)]))
    return std::nullopt;
  return QIn{v.node->inputs[0], *p};
}

// A constant weight: DequantizeLinear of a u8/i8 constant, per tensor or
// per channel.
struct QWeight {
  const Tensor *w;
  QParams p;
};

std::optional<QWeight> dequantizedConstant(Value v) {
  if (!v.node || v.node->kind != OpKind::DequantizeLinear)
    return std::nullopt;
  const Tensor *w = constantOf(v.node->inputs[0]);
  auto p = dequantizeParams(*v.node);
  if (!w || !p || !isStored8(p->kind))
    return std::nullopt;
  return QWeight{w, *p};
}

// The output of an anchor: [clamps] -> QuantizeLinear, per tensor u8/i8 or
// int16 with zero point 0.
struct QOut {
  std::vector<Node *> chain; // clamp nodes, then the QuantizeLinear
  QParams p;
  int64_t lo = 0, hi = 0; // folded clamp range, in stored integers
};

// `perChannel`: per-channel parameters are taken too (the anchor writes
// them: writesPerChannelActivation); the folded clamp must then be the same
// stored integers in every channel.
std::optional<QOut> quantizedOutput(const Users &users, Node *anchor,
                                    bool perChannel) {
  QOut o;
  double lo = -std::numeric_limits<double>::infinity(),
         hi = std::numeric_limits<double>::infinity();
  Node *n = anchor;
  for (;;) {
    Node *u = soleUser(users, n);
    if (!u || u->inputs[0] != Value(n, 0))
      return std::nullopt;
    o.chain.push_back(u);
    if (u->kind == OpKind::QuantizeLinear) {
      auto p = quantizeParams(*u);
      if (!p || !isStoredActivation(*p) ||
          u->types[0].dims() != anchor->types[0].dims())
        return std::nullopt;
      if (!p->perTensor() &&
          !(perChannel && perChannelActivation(*p) &&
            int64_t(p->scales.size()) == u->types[0].dims()[size_t(p->axis)]))
        return std::nullopt;
      o.p = *p;
      break;
    }
    double a, b;
    if (!clampBounds(*u, a, b) || u->types[0].dims() != anchor->types[0].dims())
      return std::nullopt;
    lo = std::max(lo, a);
    hi = std::min(hi, b);
    n = u;
  }
  auto bounds = [&](const QParams &p, int64_t &qlo, int64_t &qhi) {
    qlo = std::isinf(lo) ? lowestOf(p.kind) : quantizeReal(lo, p);
    qhi = std::isinf(hi) ? highestOf(p.kind) : quantizeReal(hi, p);
    if (lo > hi)
      qhi = qlo;
  };
  bounds(o.p, o.lo, o.hi);
  for (size_t c = 1; c < o.p.scales.size(); ++c) {
    QParams one = o.p;
    one.scales = {o.p.scales[c]};
    one.zeroPoints = {o.p.zeroPoints[c]};
    int64_t clo, chi;
    bounds(one, clo, chi);
    if (clo != o.lo || chi != o.hi)
      return std::nullopt;
  }
  return o;
}

// The parameters of a QLinear op's operand triple (q, scale, zero point).
std::optional<QParams> qlinearParams(const Node &n, size_t q, size_t s,
                                     size_t z, int64_t axis) {
  if (!n.hasInput(s))
    return std::nullopt;
  auto p = constantQParams(n.inputs[s], n.hasInput(z) ? n.inputs[z] : Value(),
                           n.inputs[q].type().elem(), axis);
  if (!p || !isStored8(p->kind))
    return std::nullopt;
  return p;
}

class Rewriter {
public:
  Rewriter(Function &f, quant::RequantProfile profile, bool recurrent)
      : f_(f), profile_(profile), recurrent_(recurrent) {}

  Expected<size_t> run() {
    size_t n = 0;
    if (float32())
      ortKinds_ = ortStoredKinds(f_, f_.computeUsers());
    // Anchors first (they absorb their activation chains), then
    // elementwise regions, each in program order. New nodes are inserted
    // before the node being rewritten, so the snapshot never needs them.
    for (int phase = 0; phase < 2; ++phase) {
      std::vector<Node *> work;
      for (auto &np : f_.nodes())
        work.push_back(np.get());
      users_ = f_.computeUsers();
      for (Node *node : work) {
        if (erased_.count(node))
          continue;
        EMBER_ASSIGN(bool done, phase == 0 ? anchor(*node) : region(*node));
        if (done) {
          ++n;
          users_ = f_.computeUsers();
        }
      }
    }
    EMBER_TRY(foldConstantDequantize());
    removeDeadQuantNodes();
    EMBER_TRY(sinkTablesIntoPhases(f_));
    return n;
  }

private:
  Function &f_;
  const quant::RequantProfile profile_;
  const bool recurrent_; // LSTMs and GRUs as integer forms (fixed profile)
  Users users_;
  OrtKinds ortKinds_; // float32: the original graph's (ortStoredKinds)

  bool float32() const { return profile_ == quant::RequantProfile::Float32; }

  // The anchor's quantized output. In the float32 profile only when ONNX
  // Runtime would fuse the pattern: its Relu/Clip removal (ReluQuantFusion,
  // ClipQuantFusion) keeps only activations the QuantizeLinear's range
  // makes redundant, and an activation it keeps leaves the op in float.
  // `perChannel`: the anchor may write per-channel parameters (fixed
  // profile only: ONNX Runtime computes such a layer in float).
  std::optional<QOut> output(Node *anchor, bool perChannel = false) {
    auto o = quantizedOutput(users_, anchor, perChannel && !float32());
    if (!o || !float32())
      return o;
    for (size_t i = 0; i + 1 < o->chain.size(); ++i)
      if (o->chain[i]->kind != OpKind::Relu &&
          o->chain[i]->kind != OpKind::Clip)
        return std::nullopt;
    if (o->lo > lowestOf(o->p.kind) || o->hi < highestOf(o->p.kind))
      return std::nullopt;
    return o;
  }
  // Whether ONNX Runtime's x86 kernels see uint8 at both ends of a
  // pattern from the DequantizeLinear dq (of stored x) to the
  // QuantizeLinear q (ortKindAt).
  bool ortSeesU8(const Node *dq, Value x, Node *q) const {
    return ortKindAt(ortKinds_, dq, x, users_) == ElemKind::U8 &&
           ortKindAt(ortKinds_, q, Value(q, 0), users_) == ElemKind::U8;
  }

  // Whether ONNX Runtime fuses the binary QDQ op n (its QLinearAdd,
  // QLinearMul): only with one 8-bit kind at all three ends as its kernels
  // see them; else it adds or multiplies the dequantized floats, and so
  // does the float32 profile. Always in the fixed profile.
  bool ortFusesBinary(const Node &n, Value a, Value c, Node *q) const {
    if (!float32())
      return true;
    const ElemKind k = ortKindAt(ortKinds_, q, Value(q, 0), users_);
    return ortKindAt(ortKinds_, n.inputs[0].node, a, users_) == k &&
           ortKindAt(ortKinds_, n.inputs[1].node, c, users_) == k;
  }

  std::set<const Node *> erased_;

  void erase(Node *n) {
    erased_.insert(n);
    ortKinds_.erase(n);
    f_.erase(n);
  }

  // DequantizeLinear of constants that no integer form consumed (weights
  // of float ops): folded here, since constant folding keeps them whole
  // until lowering has seen the patterns.
  Status foldConstantDequantize() {
    // Only live ones: the weights' DequantizeLinear of every rewritten
    // layer is dead by now (removeDeadQuantNodes drops it next), and
    // dequantizing those tens of millions of elements was a fifth of an
    // FC-heavy model's compile time.
    const Users users = f_.computeUsers();
    std::vector<Node *> work;
    for (auto &np : f_.nodes())
      if (np->kind == OpKind::DequantizeLinear && users.count(np.get()))
        work.push_back(np.get());
    for (Node *n : work) {
      std::vector<const Tensor *> ins;
      bool allConst = true;
      for (auto &in : n->inputs) {
        const Tensor *c = in.node ? constantOf(in) : nullptr;
        allConst = allConst && (!in.node || c);
        ins.push_back(c);
      }
      if (!allConst)
        continue;
      // ONNX Runtime computes these weights at run time (it folds no
      // DequantizeLinear), which sets its ConvTranspose's K blocks
      // (ember/math/GemmBlocks.h): the consumer keeps that to know.
      // A float32-profile Conv then sums in ONNX Runtime's order for such
      // weights (ort_order, core/interp/kernels/NnConv.cpp).
      for (const Use &u : users.at(n))
        if (u.user && u.user->kind == OpKind::ConvTranspose && u.operand == 1)
          u.user->attrs["computed_weights"] = Attr::ofInt(1);
        else if (u.user && u.user->kind == OpKind::Conv && u.operand == 1 &&
                 float32())
          u.user->attrs["ort_order"] = Attr::ofInt(1);
      EMBER_ASSIGN(auto res, evaluateNode(*n, ins));
      Node *c = f_.addConstant(n->outNames[0] + ".folded", std::move(res[0]));
      f_.replaceAllUses(Value(n, 0), Value(c));
      erase(n);
    }
    return Status::ok();
  }

  // Replaces the chain's QuantizeLinear by `y` and erases the chain and the
  // anchor (they are dead afterwards).
  void finish(Node &anchor, const std::vector<Node *> &chain, Value y) {
    f_.replaceAllUses(Value(chain.back(), 0), y);
    for (auto it = chain.rbegin(); it != chain.rend(); ++it)
      erase(*it);
    erase(&anchor);
  }

  // Replaces a QLinear op (already quantized) by y.
  void finishOp(Node &n, Value y) {
    f_.replaceAllUses(Value(&n, 0), y);
    erase(&n);
  }

  void removeDeadQuantNodes() {
    for (bool changed = true; changed;) {
      changed = false;
      Users users = f_.computeUsers();
      for (auto it = f_.nodes().begin(); it != f_.nodes().end();) {
        Node *n = (it++)->get();
        if ((n->kind == OpKind::DequantizeLinear ||
             n->kind == OpKind::QuantizeLinear) &&
            !users.count(n)) {
          erase(n);
          changed = true;
        }
      }
    }
  }

  // The pattern anchored at n, if any. The ops with a pattern of their own
  // are tested by kind; any op that only rearranges its operand's elements
  // (P_Rearrange in Ops.def) moves the stored integers.
  Expected<bool> anchor(Node &n) {
    const OpKind k = n.kind;
    if (k == OpKind::Conv)
      return conv(n);
    if (k == OpKind::QLinearConv)
      return qlinearConv(n);
    // ONNX Runtime fuses no QDQ ConvTranspose: the float32 profile keeps it
    // float.
    if (k == OpKind::ConvTranspose && !float32())
      return convTranspose(n);
    if (k == OpKind::MatMul || k == OpKind::Gemm)
      return matmul(n);
    if (k == OpKind::QLinearMatMul)
      return qlinearMatMul(n);
    EMBER_ASSIGN(bool affined, affine(n));
    if (affined)
      return true;
    if (k == OpKind::Add)
      return add(n);
    // Older exporters' residual adds (ResNet-50) are two-input Sums. ONNX
    // Runtime fuses no Sum: the float32 profile keeps it float.
    if (k == OpKind::Sum && n.inputs.size() == 2 && !float32())
      return add(n);
    if (k == OpKind::QLinearAdd)
      return qlinearAdd(n);
    if (k == OpKind::Mul)
      return mul(n);
    if (k == OpKind::MaxPool || k == OpKind::AveragePool)
      return pool(n);
    if (k == OpKind::GlobalAveragePool || k == OpKind::ReduceMean)
      return mean(n);
    if (k == OpKind::QLinearGlobalAveragePool)
      return qlinearGlobalAveragePool(n);
    if (k == OpKind::Concat)
      return concat(n);
    if (k == OpKind::Split)
      return split(n);
    // Nearest upsampling copies elements: a movement of the stored integers.
    if (k == OpKind::Resize && n.attrString("mode", "nearest") == "nearest")
      return movement(n);
    if (k == OpKind::Resize && n.attrString("mode", "nearest") == "linear")
      return bilinear(n);
    if (k == OpKind::InstanceNormalization && float32())
      return instanceNorm(n);
    if (k == OpKind::Softmax && float32())
      return softmax(n);
    // ONNX Runtime keeps LRN float: so does the float32 profile.
    if (k == OpKind::LRN && !float32())
      return lrn(n);
    // ONNX Runtime keeps LSTM and GRU float: so does the float32 profile.
    if ((k == OpKind::LSTM || k == OpKind::GRU) && recurrent_ && !float32())
      return recurrentLayer(n);
    if (hasProp(k, P_Rearrange))
      return movement(n);
    if (k == OpKind::Pad || k == OpKind::PRelu || k == OpKind::GlobalMaxPool)
      return unaryForm(n);
    if (k == OpKind::Relu || k == OpKind::Clip || k == OpKind::Max ||
        k == OpKind::Min)
      return clamp16(n);
    return false;
  }

  // The float32 profile's InstanceNormalization of a dequantized tensor:
  // ONNX Runtime's float kernel, its operations in its order
  // (Float32InstanceNorm.cpp). Elsewhere it stays the composite.
  Expected<bool> instanceNorm(Node &n) {
    if (!dequantized(n.inputs[0]))
      return false;
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(std::optional<Value> y, ortFloatInstanceNorm(b, n));
    if (!y)
      return false;
    finishOp(n, *y);
    return true;
  }

  // The float32 profile's DequantizeLinear -> Softmax -> QuantizeLinear of
  // one 8-bit type as ONNX Runtime saw them (ortKinds_), per tensor: its
  // QLinearSoftmax.
  Expected<bool> softmax(Node &n) {
    auto x = dequantized(n.inputs[0]);
    auto out = output(&n);
    Node *q = out ? out->chain.back() : nullptr;
    if (!x || !out || !isStored8(x->p.kind) ||
        ortKindAt(ortKinds_, n.inputs[0].node, x->q, users_) !=
            ortKindAt(ortKinds_, q, Value(q, 0), users_))
      return false;
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(Value y, ortQuantizedSoftmax(b, x->q, n.attrInt("axis", -1),
                                              x->p, out->p));
    finish(n, out->chain, y);
    return true;
  }

  // DequantizeLinear -> LRN -> [MaxPool] -> [clamps] -> QuantizeLinear:
  // the 8-bit stages of IntegerLrn.cpp.
  Expected<bool> lrn(Node &n) {
    auto x = dequantized(n.inputs[0]);
    if (!x || !isStored8(x->p.kind))
      return false;
    Node *mp = soleUser(users_, &n);
    if (!mp || mp->kind != OpKind::MaxPool || mp->numResults() != 1)
      mp = nullptr;
    auto out = quantizedOutput(users_, mp ? mp : &n, false);
    if (!out || !isStored8(out->p.kind))
      return false;
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(
        std::optional<Value> y,
        integerLrn(b, n, x->q, x->p, mp, out->p, out->lo, out->hi, profile_));
    if (!y)
      return false;
    finish(mp ? *mp : n, out->chain, *y);
    if (mp)
      erase(&n);
    return true;
  }

  // An LSTM or GRU in a quantized graph: IntegerLstm.cpp's or
  // IntegerGru.cpp's integer form.
  Expected<bool> recurrentLayer(Node &n) {
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(std::optional<RecurrentResult> y,
                 quantizedGraphRecurrent(b, n, users_));
    if (!y)
      return false;
    if (y->q)
      finish(n, {y->q}, y->y);
    else
      finishOp(n, y->y);
    return true;
  }

  // ---- int16 clamps -----------------------------------------------------

  // A clamp (Relu, Clip, or Max/Min with a constant bound) between an int16
  // DequantizeLinear and a QuantizeLinear, with any further clamps: a clamp
  // of the stored integers, [round(lo / s) + z, round(hi / s) + z]
  // saturated, as a Requantize by sx / sy (an exact multiplier of 1 when
  // the parameters are equal). The 8-bit form is a TableLookup (region).
  // The float32 profile takes equal parameters only, where the float
  // clamp ONNX Runtime computes is the same integer clamp.
  Expected<bool> clamp16(Node &n) {
    double a, c;
    auto x = dequantized(n.inputs[0]);
    if (!x || x->p.kind != ElemKind::I16 || !clampBounds(n, a, c))
      return false;
    auto out = quantizedOutput(users_, &n, false);
    if (!out || (float32() && !(x->p == out->p)))
      return false;
    int64_t lo = out->lo, hi = out->hi;
    if (!std::isinf(a))
      lo = std::max(lo, quantizeReal(a, out->p));
    if (!std::isinf(c))
      hi = std::min(hi, quantizeReal(c, out->p));
    if (a > c || lo > hi)
      hi = lo;
    if (x->p == out->p && lo <= lowestOf(out->p.kind) &&
        hi >= highestOf(out->p.kind)) {
      finish(n, out->chain, x->q); // a clamp no stored value reaches
      return true;
    }
    // With equal parameters after a Requantize read by nothing else (a
    // layer's or a mean's result), the clamp narrows that Requantize's
    // bounds: clamp(clamp(v, a, b), c, d) = clamp(v, max(a, c), min(b, d)).
    Node *prod = x->q.node;
    if (x->p == out->p && prod && prod->kind == OpKind::Requantize &&
        x->q.type().elem() == out->p.kind) {
      Node *dq = n.inputs[0].node;
      Node *only = soleUser(users_, prod);
      if (only == dq && soleUser(users_, dq) == &n) {
        lo = std::max(lo, prod->attrInt("min", lowestOf(out->p.kind)));
        hi = std::min(hi, prod->attrInt("max", highestOf(out->p.kind)));
        if (lo > hi)
          hi = lo;
        if (lo > lowestOf(out->p.kind))
          prod->attrs["min"] = Attr::ofInt(lo);
        if (hi < highestOf(out->p.kind))
          prod->attrs["max"] = Attr::ofInt(hi);
        finish(n, out->chain, x->q);
        return true;
      }
    }
    Rescale r{{x->p.scale() / out->p.scale()},
              {float(x->p.scale()) / float(out->p.scale())}};
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(Value y, buildRequantize(b, x->q, r, 0, x->p.zeroPoint(),
                                          out->p, lo, hi, profile_));
    finish(n, out->chain, y);
    return true;
  }

  // ---- Conv -------------------------------------------------------------

  // The integer conv of x (params px) with weight w, plus the bias, as a
  // requantized value: the shared tail of Conv and QLinearConv.
  Expected<Value> integerConv(LoweringBuilder &b, AttrMap attrs, Value x,
                              const QParams &px, Value wv, const Tensor &w,
                              const QParams &pw, const Tensor *bias,
                              const QParams *pb, const QParams &py, int64_t lo,
                              int64_t hi) {
    int64_t channels = w.dims()[0];
    std::vector<Value> ins{
        x, wv,
        px.zeroPoint() ? scalarOf(b, px.kind, px.zeroPoint(), "x_zero_point")
                       : Value(),
        weightZeroPoints(b, pw)};
    while (!ins.empty() && !ins.back().node)
      ins.pop_back();
    EMBER_ASSIGN(Value acc, b.op(OpKind::ConvInteger, ins, std::move(attrs)));
    if (bias) {
      const ElemKind ak = accumulatorOf(px);
      Tensor t = accumulatorBias(*bias, pb, inputScalesPerOutput(px, channels),
                                 pw, channels, ak);
      Dims shape(acc.type().rank(), 1);
      shape[1] = channels;
      Tensor shaped(Type(ak, shape));
      std::memcpy(shaped.raw(), t.raw(), t.type().sizeInBytes());
      EMBER_ASSIGN(
          acc, b.op(OpKind::Add, {acc, b.constant(std::move(shaped), "bias")}));
    }
    return buildRequantize(
        b, acc,
        productMultipliers(inputScalesPerOutput(px, channels), pw, py.scales,
                           channels),
        1, 0, py, lo, hi, profile_);
  }

  // A convolution's optional bias (input 2): a constant, or the constant of
  // a DequantizeLinear with its parameters. False when it is neither.
  bool constantBias(const Node &n, const Tensor *&bias,
                    std::optional<QParams> &pb) {
    if (!n.hasInput(2))
      return true;
    Value bv = n.inputs[2];
    if (bv.node->kind == OpKind::DequantizeLinear) {
      bias = constantOf(bv.node->inputs[0]);
      pb = dequantizeParams(*bv.node);
      return bias && pb;
    }
    bias = constantOf(bv);
    return bias != nullptr;
  }

  Expected<bool> conv(Node &n) {
    // A per-channel input where each output channel reads one input
    // channel (ChannelScales.h; fixed profile: ONNX Runtime computes such a
    // layer in float).
    const Dims &xd = n.inputs[0].type().dims();
    const bool dwInput =
        !float32() && xd.size() >= 3 &&
        readsPerChannelActivation("Conv", n.attrInt("group", 1), xd[1]);
    auto x = dequantized(n.inputs[0], dwInput);
    auto w = dequantizedConstant(n.inputs[1]);
    if (!x || !w || w->w->rank() < 3 || (!w->p.perTensor() && w->p.axis != 0) ||
        !weightsFit(x->p, w->p))
      return false;
    const Tensor *bias = nullptr;
    std::optional<QParams> pb;
    if (!constantBias(n, bias, pb))
      return false;
    auto out = output(&n, writesPerChannelActivation("Conv"));
    // ONNX Runtime's x86 kernels fuse a QDQ Conv with uint8 at both ends
    // only: an int8 end leaves it float there, and in the float32 profile.
    if (!out ||
        (float32() && !ortSeesU8(n.inputs[0].node, x->q, out->chain.back())))
      return false;
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(Value y,
                 integerConv(b, n.attrs, x->q, x->p,
                             n.inputs[1].node->inputs[0], *w->w, w->p, bias,
                             pb ? &*pb : nullptr, out->p, out->lo, out->hi));
    finish(n, out->chain, y);
    return true;
  }

  // DequantizeLinear -> ConvTranspose -> [clamps] -> QuantizeLinear with a
  // constant weight quantized per tensor or per output channel (axis 1):
  // one ConvInteger layer (bias, Requantize) per output phase, interleaved
  // (IntegerConvTranspose.cpp). Integer sums are exact, so the phases
  // compute the transposed convolution's accumulators bit for bit.
  Expected<bool> convTranspose(Node &n) {
    auto x = dequantized(n.inputs[0]);
    auto w = dequantizedConstant(n.inputs[1]);
    if (!x || !w || (!w->p.perTensor() && w->p.axis != 1) ||
        !weightsFit(x->p, w->p))
      return false;
    auto phases = convTransposePhases(n, *w->w, w->p.zeroPoints);
    if (!phases)
      return false;
    const Tensor *bias = nullptr;
    std::optional<QParams> pb;
    if (!constantBias(n, bias, pb))
      return false;
    auto out = output(&n);
    if (!out)
      return false;
    // Per output channel: axis 0 of the phase weights. With groups, W's
    // axis 1 holds the Cout / group channels of a group, the same in each.
    QParams pw = w->p;
    pw.axis = 0;
    if (!pw.perTensor() && phases->group > 1) {
      QParams one = pw;
      for (int64_t g = 1; g < phases->group; ++g) {
        pw.scales.insert(pw.scales.end(), one.scales.begin(), one.scales.end());
        pw.zeroPoints.insert(pw.zeroPoints.end(), one.zeroPoints.begin(),
                             one.zeroPoints.end());
      }
    }
    LoweringBuilder b(f_, n);
    std::vector<Value> ys;
    for (size_t k = 0; k < phases->weights.size(); ++k) {
      Value wv = b.constant(phases->weights[k], "w" + std::to_string(k));
      EMBER_ASSIGN(Value y,
                   integerConv(b, phaseConvAttrs(*phases, k), x->q, x->p, wv,
                               phases->weights[k], pw, bias,
                               pb ? &*pb : nullptr, out->p, out->lo, out->hi));
      ys.push_back(y);
    }
    EMBER_ASSIGN(Value y, phaseResult(b, *phases, ys));
    finish(n, out->chain, y);
    return true;
  }

  // QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?)
  Expected<bool> qlinearConv(Node &n) {
    auto px = qlinearParams(n, 0, 1, 2, 1);
    auto pw = qlinearParams(n, 3, 4, 5, 0);
    auto py =
        constantQParams(n.inputs[6], n.hasInput(7) ? n.inputs[7] : Value(),
                        n.types[0].elem(), 1);
    const Tensor *w = constantOf(n.inputs[3]);
    const Tensor *bias = n.hasInput(8) ? constantOf(n.inputs[8]) : nullptr;
    if (!px || !pw || !py || !w || !px->perTensor() || !py->perTensor() ||
        !isStored8(py->kind) || (n.hasInput(8) && !bias))
      return false;
    // B is int32 at scale x_scale * w_scale by definition.
    QParams pb = *pw;
    for (size_t c = 0; c < pb.scales.size(); ++c) {
      pb.scales[c] *= px->scale();
      pb.zeroPoints[c] = 0;
    }
    LoweringBuilder b(f_, n);
    AttrMap attrs = n.attrs;
    EMBER_ASSIGN(Value y, integerConv(b, n.attrs, n.inputs[0], *px, n.inputs[3],
                                      *w, *pw, bias, &pb, *py,
                                      lowestOf(py->kind), highestOf(py->kind)));
    finishOp(n, y);
    return true;
  }

  // ---- MatMul / Gemm ----------------------------------------------------

  // bv is B, unless bTransposed (a constant made here) replaces it.
  Expected<Value> integerMatMul(LoweringBuilder &b, Value a, const QParams &pa,
                                Value bv, const Tensor *bTransposed,
                                const QParams &pb, const Tensor *bias,
                                const QParams *pbias, const QParams &py,
                                double alpha, int64_t lo, int64_t hi) {
    Value bVal = bTransposed ? b.constant(*bTransposed, "weight") : bv;
    std::vector<Value> ins{
        a, bVal,
        pa.zeroPoint() ? scalarOf(b, pa.kind, pa.zeroPoint(), "a_zero_point")
                       : Value(),
        weightZeroPoints(b, pb)};
    while (!ins.empty() && !ins.back().node)
      ins.pop_back();
    EMBER_ASSIGN(Value acc, b.op(OpKind::MatMulInteger, ins));
    int64_t channels = acc.type().dims().back();
    if (bias) {
      QParams pw = pb;
      // alpha scales the product, not the bias: the bias's accumulator
      // scale is sa * sb * alpha.
      for (auto &s : pw.scales)
        s *= alpha;
      Tensor t = accumulatorBias(*bias, pbias, pa.scale(), pw, channels,
                                 accumulatorOf(pa));
      EMBER_ASSIGN(acc,
                   b.op(OpKind::Add, {acc, b.constant(std::move(t), "bias")}));
    }
    return buildRequantize(
        b, acc, productMultipliers(pa.scale(), pb, py.scale(), channels, alpha),
        int64_t(acc.type().rank()) - 1, 0, py, lo, hi, profile_);
  }

  Expected<bool> matmul(Node &n) {
    bool gemm = n.kind == OpKind::Gemm;
    auto a = dequantized(n.inputs[0]);
    if (!a)
      return false;
    // B: a constant weight (per tensor, or per output column) or a
    // quantized activation (per tensor).
    auto wc = dequantizedConstant(n.inputs[1]);
    auto wa = wc ? std::nullopt : dequantized(n.inputs[1]);
    if (!wc && !wa)
      return false;
    double alpha = gemm ? n.attrFloat("alpha", 1.0) : 1.0;
    double beta = gemm ? n.attrFloat("beta", 1.0) : 1.0;
    bool transA = gemm && n.attrInt("transA", 0) != 0;
    bool transB = gemm && n.attrInt("transB", 0) != 0;
    if (!(alpha > 0))
      return false;
    std::optional<Tensor> bT;
    QParams pb = wc ? wc->p : wa->p;
    if (pb.kind == ElemKind::I16 || !weightsFit(a->p, pb))
      return false; // 16x8 takes int16 activations times int8 weights only
    if (wc) {
      size_t rank = wc->w->rank();
      int64_t colAxis = int64_t(rank) - 1;
      if (transB) {
        if (rank != 2 || (!pb.perTensor() && pb.axis != 0))
          return false;
        bT = transpose2d(*wc->w);
        pb.axis = 1;
      } else if (!pb.perTensor() && pb.axis != colAxis) {
        return false;
      }
    } else if (transB) {
      return false;
    }
    const Tensor *bias = nullptr;
    std::optional<QParams> pbias;
    if (gemm && n.hasInput(2) && beta != 0) {
      Value bv = n.inputs[2];
      if (bv.node->kind == OpKind::DequantizeLinear) {
        bias = constantOf(bv.node->inputs[0]);
        pbias = dequantizeParams(*bv.node);
        if (!bias || !pbias)
          return false;
        if (beta != 1.0)
          for (auto &s : pbias->scales)
            s *= beta;
      } else {
        bias = constantOf(bv);
        if (!bias || beta != 1.0)
          return false;
      }
      int64_t channels = n.types[0].dims().back();
      if (bias->size() != 1 && bias->size() != channels)
        return false; // a full [M, N] bias is not a per-channel one
    }
    auto out = output(&n);
    if (!out)
      return false;
    // ONNX Runtime's x86 kernels fuse a QDQ MatMul or Gemm with uint8 at
    // both ends only; an int8 end leaves it float there, and in the float32
    // profile (a MatMul summed in its order, ort_order).
    if (float32() && !ortSeesU8(n.inputs[0].node, a->q, out->chain.back())) {
      if (!gemm)
        n.attrs["ort_order"] = Attr::ofInt(1);
      return false;
    }
    LoweringBuilder b(f_, n);
    Value av = a->q;
    if (transA) {
      EMBER_ASSIGN(
          av, b.op(OpKind::Transpose, {av}, {{"perm", Attr::ofInts({1, 0})}}));
    }
    Value bv = wc ? n.inputs[1].node->inputs[0] : wa->q;
    EMBER_ASSIGN(Value y, integerMatMul(b, av, a->p, bv, bT ? &*bT : nullptr,
                                        pb, bias, pbias ? &*pbias : nullptr,
                                        out->p, alpha, out->lo, out->hi));
    finish(n, out->chain, y);
    return true;
  }

  // QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)
  Expected<bool> qlinearMatMul(Node &n) {
    const Type &bt = n.inputs[3].type();
    auto pa = qlinearParams(n, 0, 1, 2, 0);
    auto pb = qlinearParams(n, 3, 4, 5, int64_t(bt.rank()) - 1);
    auto py =
        constantQParams(n.inputs[6], n.hasInput(7) ? n.inputs[7] : Value(),
                        n.types[0].elem(), 0);
    if (!pa || !pb || !py || !pa->perTensor() || !py->perTensor() ||
        !isStored8(py->kind))
      return false;
    const Tensor *w = constantOf(n.inputs[3]);
    if (!w && !pb->perTensor())
      return false;
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(Value y,
                 integerMatMul(b, n.inputs[0], *pa, n.inputs[3], nullptr, *pb,
                               nullptr, nullptr, *py, 1.0, lowestOf(py->kind),
                               highestOf(py->kind)));
    finishOp(n, y);
    return true;
  }

  // ---- Add, Mul -----------------------------------------------------------

  Expected<bool> add(Node &n) {
    auto a = dequantized(n.inputs[0]);
    auto c = dequantized(n.inputs[1]);
    auto out = a && c ? output(&n) : std::nullopt;
    if (!out || !ortFusesBinary(n, a->q, c->q, out->chain.back()))
      return false;
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(auto y, buildQuantizedAdd(b, a->q, a->p, c->q, c->p, out->p,
                                           out->lo, out->hi, profile_));
    if (!y)
      return false; // no exact fixed-point encoding: stays float
    finish(n, out->chain, *y);
    return true;
  }

  // QLinearAdd(A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp?)
  Expected<bool> qlinearAdd(Node &n) {
    auto pa = qlinearParams(n, 0, 1, 2, 0);
    auto pb = qlinearParams(n, 3, 4, 5, 0);
    auto py =
        constantQParams(n.inputs[6], n.hasInput(7) ? n.inputs[7] : Value(),
                        n.types[0].elem(), 0);
    if (!pa || !pb || !py || !pa->perTensor() || !pb->perTensor() ||
        !py->perTensor())
      return false;
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(auto y, buildQuantizedAdd(b, n.inputs[0], *pa, n.inputs[3],
                                           *pb, *py, lowestOf(py->kind),
                                           highestOf(py->kind), profile_));
    if (!y)
      return false; // the QLinearAdd's own kernel (exact) computes it
    finishOp(n, *y);
    return true;
  }

  Expected<bool> mul(Node &n) {
    auto a = dequantized(n.inputs[0]);
    auto c = dequantized(n.inputs[1]);
    auto out = a && c ? output(&n) : std::nullopt;
    if (!out || !ortFusesBinary(n, a->q, c->q, out->chain.back()))
      return false;
    LoweringBuilder b(f_, n);
    // Fixed profile: x times a constant (per tensor, or per channel along
    // x's last axis, a sequence's channels) is one Requantize of x whose
    // multiplier per channel is sx k[c] / sy, the constant's real value
    // folded in (one rounding of the real product): the per-channel
    // identity layer a backend runs (docs/quantization.md, "Products by a
    // constant").
    for (int side = 0; side < 2 && !float32(); ++side) {
      const QIn &x = side ? *c : *a, &k = side ? *a : *c;
      if (constantOf(x.q))
        continue;
      const Tensor *kt = constantOf(k.q);
      auto f = kt ? constantFactors(*kt, k.p, x.q.type().dims()) : std::nullopt;
      if (!f)
        continue;
      Rescale r;
      for (double v : *f)
        r.real.push_back(x.p.scale() * v / out->p.scale());
      EMBER_ASSIGN(Value y, buildRequantize(b, x.q, r, x.q.type().rank() - 1,
                                            x.p.zeroPoint(), out->p, out->lo,
                                            out->hi, profile_));
      finish(n, out->chain, y);
      return true;
    }
    EMBER_ASSIGN(Value y, buildQuantizedMul(b, a->q, a->p, c->q, c->p, out->p,
                                            out->lo, out->hi, profile_));
    finish(n, out->chain, y);
    return true;
  }

  // A per-channel affine of a dequantized tensor (BatchNormalization, Mul,
  // Add, Sub, Div by constants repeated per channel, chains of them) ending
  // in [clamps] -> QuantizeLinear (IntegerAffine.cpp). Fixed profile only:
  // ONNX Runtime runs these as QLinearMul, QLinearAdd or float ops, which
  // the float32 profile keeps. An add of scalars (a table) or a lone add of
  // a dequantized constant (QuantizedAdd, exact) keeps its form.
  Expected<bool> affine(Node &n) {
    std::optional<QIn> x;
    Value from;
    for (size_t i = 0; i < 2 && i < n.inputs.size() && !x && !float32(); ++i)
      if ((x = dequantized(n.inputs[i])) && !constantOf(x->q))
        from = n.inputs[i];
      else
        x.reset();
    if (!x || from.type().rank() < 2)
      return false;
    ChannelAffine f = ChannelAffine::identity(from.type().dims()[1]);
    std::vector<Node *> steps = composeAffineChain(
        n, from, f, [&](Node *m) { return soleUser(users_, m); });
    const bool dqAdd = n.kind == OpKind::Add && steps.size() == 1 &&
                       dequantized(n.inputs[n.inputs[0] == from ? 1 : 0]);
    if (steps.empty() || (!f.scaled && (!f.perChannel || dqAdd)))
      return false;
    auto out = quantizedOutput(users_, steps.back(), false);
    if (!out)
      return false;
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(
        std::optional<Value> y,
        buildAffine(b, x->q, x->p, f, out->p, out->lo, out->hi, profile_));
    if (!y)
      return false;
    finish(*steps.back(), out->chain, *y);
    for (size_t i = steps.size() - 1; i-- > 0;)
      erase(steps[i]);
    return true;
  }

  // ---- pooling and means --------------------------------------------------

  // x in params px as a value in params py (same shape): x itself when
  // they agree, else a Requantize with sx / sy (fixed) or the table of
  // QuantizeLinear(DequantizeLinear(x)) (float32, as ONNX Runtime computes
  // it).
  Expected<Value> rescaled(LoweringBuilder &b, Value x, const QParams &px,
                           const QParams &py, int64_t lo, int64_t hi) {
    if (px == py && lo <= lowestOf(py.kind) && hi >= highestOf(py.kind))
      return x;
    if (float32())
      return buildRescaleTable(b, x, px, py, lo, hi);
    return buildRequantize(b, x, {{px.scale() / py.scale()}, {}}, 0,
                           px.zeroPoint(), py, lo, hi, profile_);
  }

  // The float32 profile's AveragePool: ONNX Runtime's QLinearAveragePool,
  // which averages the dequantized values in float32 (the taps summed in
  // window order, divided by the count) and quantizes with the zero point
  // added before rounding: rne(f32(f32(avg / sy) + zy)). As float ops:
  // DequantizeLinear -> AveragePool -> Div -> Add -> QuantizeLinear with
  // scale 1 and zero point 0.
  Expected<Value> float32AveragePool(LoweringBuilder &b, const Node &n,
                                     const QParams &py) {
    EMBER_ASSIGN(Value avg, b.op(OpKind::AveragePool, {n.inputs[0]}, n.attrs));
    EMBER_ASSIGN(Value v,
                 b.op(OpKind::Div, {avg, b.scalar(ElemKind::F32, py.scale())}));
    EMBER_ASSIGN(Value w,
                 b.op(OpKind::Add,
                      {v, b.scalar(ElemKind::F32, double(py.zeroPoint()))}));
    return b.op(OpKind::QuantizeLinear,
                {w, b.scalar(ElemKind::F32, 1.0), scalarOf(b, py.kind, 0)});
  }

  Expected<bool> pool(Node &n) {
    if (n.numResults() != 1)
      return false; // MaxPool's Indices
    auto x = dequantized(n.inputs[0]);
    if (!x)
      return false;
    auto out = output(&n);
    if (!out)
      return false;
    LoweringBuilder b(f_, n);
    if (n.kind == OpKind::AveragePool && float32()) {
      EMBER_ASSIGN(Value y, float32AveragePool(b, n, out->p));
      finish(n, out->chain, y);
      return true;
    }
    AttrMap attrs = n.attrs;
    if (n.kind == OpKind::AveragePool)
      attrs["pad_value"] = Attr::ofInt(x->p.zeroPoint());
    EMBER_ASSIGN(Value p, b.op(n.kind, {x->q}, attrs));
    EMBER_ASSIGN(Value y, rescaled(b, p, x->p, out->p, out->lo, out->hi));
    finish(n, out->chain, y);
    return true;
  }

  // The sum over `axes` of x - z as int32, requantized with
  // sx / (sy * count) (float32: f32(sx / f32(sy * count)), ONNX Runtime's
  // QLinearGlobalAveragePool). An int16 x sums in int64 and requantizes as a
  // 16x8 accumulator.
  Expected<Value> summedMean(LoweringBuilder &b, Value x, const QParams &px,
                             Value axes, AttrMap reduceAttrs, int64_t count,
                             const QParams &py, int64_t lo, int64_t hi) {
    Value c;
    if (px.kind == ElemKind::I16) {
      EMBER_ASSIGN(c,
                   b.op(OpKind::Cast, {x},
                        {{"to", Attr::ofInt(elemKindToOnnx(ElemKind::I64))}}));
    } else {
      EMBER_ASSIGN(c, centeredInt32(b, x, px));
    }
    std::vector<Value> ins{c};
    if (axes.node)
      ins.push_back(axes);
    EMBER_ASSIGN(Value s, b.op(OpKind::ReduceSum, ins, std::move(reduceAttrs)));
    float syn = float(py.scale()) * float(count);
    Rescale m{{px.scale() / (py.scale() * double(count))},
              {float(px.scale()) / syn}};
    return buildRequantize(b, s, m, 0, 0, py, lo, hi, profile_);
  }

  // Global average pooling of rank-r x with params px into py.
  Expected<Value> globalAverage(LoweringBuilder &b, Value x, const QParams &px,
                                const QParams &py, int64_t lo, int64_t hi) {
    const Dims &d = x.type().dims();
    std::vector<int64_t> spatial(d.begin() + 2, d.end()), axes;
    int64_t count = 1;
    for (size_t i = 2; i < d.size(); ++i) {
      axes.push_back(int64_t(i));
      count *= d[i];
    }
    // (float32: ONNX Runtime's QLinearGlobalAveragePool requantizes even
    // between equal parameters.)
    if (px == py && lo <= lowestOf(py.kind) && hi >= highestOf(py.kind) &&
        !float32())
      return b.op(OpKind::AveragePool, {x},
                  {{"kernel_shape", Attr::ofInts(spatial)}});
    return summedMean(b, x, px, b.ints(axes), {{"keepdims", Attr::ofInt(1)}},
                      count, py, lo, hi);
  }

  // The axes of x a chain of ReduceMeans (n, then its sole users while they
  // are ReduceMeans) reduces together, as one mean over their union:
  // exporters write a mean over H and W as x.mean(-1).mean(-1). `last` is
  // the chain's end, `inner` the nodes before it (none for one ReduceMean);
  // false when the chain mixes keepdims or has axes that are not constant.
  bool meanChain(Node &n, std::vector<int64_t> &axes, int64_t &keep,
                 Node *&last, std::vector<Node *> &inner) {
    const size_t rank = n.inputs[0].type().rank();
    std::vector<int64_t> orig(rank); // current axis -> axis of x
    for (size_t i = 0; i < rank; ++i)
      orig[i] = int64_t(i);
    std::set<int64_t> got;
    keep = n.attrInt("keepdims", 1) != 0;
    for (Node *m = &n; m;) {
      if ((m->attrInt("keepdims", 1) != 0) != (keep != 0))
        return false;
      std::vector<int64_t> a;
      if (m->hasInput(1)) {
        const Tensor *t = constantOf(m->inputs[1]);
        if (!t)
          return false;
        a = t->toInts();
      }
      if (a.empty()) {
        if (m->attrInt("noop_with_empty_axes", 0))
          return false;
        for (size_t i = 0; i < orig.size(); ++i)
          a.push_back(int64_t(i));
      }
      std::set<int64_t> here;
      for (int64_t v : a) {
        int64_t r = v < 0 ? v + int64_t(orig.size()) : v;
        if (r < 0 || r >= int64_t(orig.size()))
          return false;
        here.insert(r);
        got.insert(orig[size_t(r)]);
      }
      if (!keep)
        for (auto it = here.rbegin(); it != here.rend(); ++it)
          orig.erase(orig.begin() + *it);
      last = m;
      Node *u = soleUser(users_, m);
      if (!u || u->kind != OpKind::ReduceMean || u->inputs[0] != Value(m, 0))
        break;
      inner.push_back(m);
      m = u;
    }
    axes.assign(got.begin(), got.end());
    return true;
  }

  Expected<bool> mean(Node &n) {
    auto x = dequantized(n.inputs[0]);
    if (!x)
      return false;
    // ONNX Runtime fuses no ReduceMean: it computes the float mean, which
    // the float32 profile keeps (DequantizeLinear -> ReduceMean ->
    // QuantizeLinear).
    if (n.kind == OpKind::ReduceMean && float32())
      return false;
    const Type &xt = n.inputs[0].type();
    std::vector<int64_t> chainAxes;
    std::vector<Node *> inner;
    Node *last = nullptr;
    int64_t keep = 1;
    if (n.kind == OpKind::ReduceMean &&
        meanChain(n, chainAxes, keep, last, inner)) {
      auto out = output(last);
      if (!out)
        return false;
      int64_t count = 1;
      for (int64_t a : chainAxes)
        count *= xt.dims()[size_t(a)];
      if (count <= 0 ||
          count * last->types[0].numElements() != xt.numElements())
        return false;
      std::vector<int64_t> spatial;
      for (size_t i = 2; i < xt.rank(); ++i)
        spatial.push_back(int64_t(i));
      LoweringBuilder b(f_, n);
      Value y;
      if (xt.rank() >= 3 && chainAxes == spatial) {
        // A global average pool; without keepdims, reshaped to drop the
        // pooled axes (the pool form is what backends run as a whole).
        EMBER_ASSIGN(y, globalAverage(b, x->q, x->p, out->p, out->lo, out->hi));
        if (!keep) {
          EMBER_ASSIGN(
              y, b.op(OpKind::Reshape, {y, b.ints(last->types[0].dims())}));
        }
      } else {
        EMBER_ASSIGN(y, summedMean(b, x->q, x->p, b.ints(chainAxes),
                                   {{"keepdims", Attr::ofInt(keep)}}, count,
                                   out->p, out->lo, out->hi));
      }
      finish(*last, out->chain, y);
      for (auto it = inner.rbegin(); it != inner.rend(); ++it)
        erase(*it);
      return true;
    }
    auto out = output(&n);
    if (!out)
      return false;
    int64_t count = n.types[0].numElements()
                        ? xt.numElements() / n.types[0].numElements()
                        : 0;
    if (count <= 0)
      return false;
    bool global = n.kind == OpKind::GlobalAveragePool;
    if (n.kind == OpKind::ReduceMean && xt.rank() >= 3 &&
        n.attrInt("keepdims", 1) != 0 && n.hasInput(1)) {
      // A ReduceMean over every spatial axis is a global average pool.
      const Tensor *axes = constantOf(n.inputs[1]);
      if (!axes)
        return false;
      std::set<int64_t> got;
      for (int64_t a : axes->toInts())
        got.insert(a < 0 ? a + int64_t(xt.rank()) : a);
      std::set<int64_t> want;
      for (size_t i = 2; i < xt.rank(); ++i)
        want.insert(int64_t(i));
      global = got == want;
    }
    if (n.kind == OpKind::GlobalAveragePool && xt.rank() < 3)
      return false;
    LoweringBuilder b(f_, n);
    Value y;
    if (global) {
      EMBER_ASSIGN(y, globalAverage(b, x->q, x->p, out->p, out->lo, out->hi));
    } else {
      if (n.hasInput(1) && !constantOf(n.inputs[1]))
        return false;
      EMBER_ASSIGN(y, summedMean(b, x->q, x->p,
                                 n.hasInput(1) ? n.inputs[1] : Value(), n.attrs,
                                 count, out->p, out->lo, out->hi));
    }
    finish(n, out->chain, y);
    return true;
  }

  // QLinearGlobalAveragePool(X, x_scale, x_zp, y_scale, y_zp)
  Expected<bool> qlinearGlobalAveragePool(Node &n) {
    if (n.attrInt("channels_last", 0) != 0 || n.inputs[0].type().rank() < 3)
      return false;
    auto px = qlinearParams(n, 0, 1, 2, 0);
    auto py = constantQParams(n.inputs[3], n.inputs[4], n.types[0].elem(), 0);
    if (!px || !py || !px->perTensor() || !py->perTensor())
      return false;
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(Value y,
                 globalAverage(b, n.inputs[0], *px, *py, lowestOf(py->kind),
                               highestOf(py->kind)));
    finishOp(n, y);
    return true;
  }

  // ---- Concat and movement ------------------------------------------------

  Expected<bool> concat(Node &n) {
    std::vector<QIn> ins;
    for (auto &v : n.inputs) {
      auto x = dequantized(v);
      if (!x)
        return false;
      ins.push_back(*x);
    }
    auto out = output(&n);
    if (!out)
      return false;
    LoweringBuilder b(f_, n);
    std::vector<Value> parts;
    for (auto &x : ins) {
      EMBER_ASSIGN(Value v, rescaled(b, x.q, x.p, out->p, out->lo, out->hi));
      parts.push_back(v);
    }
    EMBER_ASSIGN(Value y, b.op(OpKind::Concat, parts, n.attrs));
    finish(n, out->chain, y);
    return true;
  }

  // Split of a DequantizeLinear whose every result is read by one
  // QuantizeLinear alone (ONNX Runtime's quantizer gives them the input's
  // parameters): the stored integers are split, each part rescaled to its
  // output's parameters when they differ.
  Expected<bool> split(Node &n) {
    auto x = dequantized(n.inputs[0]);
    if (!x)
      return false;
    auto it = users_.find(&n);
    if (it == users_.end())
      return false;
    std::vector<Node *> qs(n.numResults(), nullptr);
    for (const Use &u : it->second) {
      if (!u.user || u.user->kind != OpKind::QuantizeLinear || u.operand != 0)
        return false;
      unsigned r = u.user->inputs[0].idx;
      if (r >= qs.size() || qs[r])
        return false;
      qs[r] = u.user;
    }
    std::vector<QParams> ps;
    for (size_t r = 0; r < qs.size(); ++r) {
      if (!qs[r] || qs[r]->types[0].dims() != n.types[r].dims())
        return false;
      auto p = quantizeParams(*qs[r]);
      if (!p || !p->perTensor() || !isStoredActivation(*p))
        return false;
      ps.push_back(*p);
    }
    LoweringBuilder b(f_, n);
    std::vector<Value> ins = n.inputs;
    ins[0] = x->q;
    EMBER_ASSIGN(std::vector<Value> parts,
                 b.opN(OpKind::Split, ins, n.attrs, int(qs.size())));
    for (size_t r = 0; r < qs.size(); ++r) {
      EMBER_ASSIGN(Value y,
                   rescaled(b, parts[r], x->p, ps[r], lowestOf(ps[r].kind),
                            highestOf(ps[r].kind)));
      f_.replaceAllUses(Value(qs[r], 0), y);
      erase(qs[r]);
    }
    erase(&n);
    return true;
  }

  // Bilinear upsampling of an image by f = 2, 4 or 8 on H and W with equal
  // input and output parameters (docs/quantization.md, "Upsampling"): the
  // Resize of q - z in int32 (exact: the weights are multiples of 1 / (2f)^2,
  // rounded half to even once), then z added back by a Requantize by 1. The
  // float32 profile writes ONNX Runtime's float kernel instead (it keeps
  // the QDQ form in float).
  Expected<bool> bilinear(Node &n) {
    if (float32()) {
      if (!dequantized(n.inputs[0]))
        return false;
      LoweringBuilder b(f_, n);
      EMBER_ASSIGN(std::optional<Value> y, ortFloatBilinear(b, n));
      if (!y)
        return false;
      finishOp(n, *y);
      return true;
    }
    if (n.numResults() != 1 || n.attrInt("antialias", 0) ||
        n.attrInt("exclude_outside", 0) || n.attrs.count("axes"))
      return false;
    auto x = dequantized(n.inputs[0]);
    if (!x || !isStored8(x->p.kind))
      return false;
    auto out = output(&n);
    if (!out || !(out->p == x->p))
      return false;
    const Dims &xd = n.inputs[0].type().dims(), &yd = n.types[0].dims();
    if (xd.size() != 4 || yd.size() != 4 || xd[2] < 1 || xd[3] < 1)
      return false;
    const int64_t f = yd[2] / xd[2];
    if ((f != 2 && f != 4 && f != 8) || yd[0] != xd[0] || yd[1] != xd[1] ||
        yd[2] != f * xd[2] || yd[3] != f * xd[3])
      return false;
    const std::string ctm =
        n.attrString("coordinate_transformation_mode", "half_pixel");
    if (ctm != "half_pixel" && ctm != "asymmetric" &&
        !(ctm == "pytorch_half_pixel" && yd[2] > 1 && yd[3] > 1))
      return false;
    if (n.hasInput(1) && n.inputs[1].type().numElements() > 0)
      return false; // a region of interest
    if (n.hasInput(2) && n.inputs[2].type().numElements() > 0) {
      const Tensor *s = constantOf(n.inputs[2]);
      if (!s || s->size() != 4 || s->getDouble(0) != 1 ||
          s->getDouble(1) != 1 || s->getDouble(2) != double(f) ||
          s->getDouble(3) != double(f))
        return false;
    }
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(Value c, centeredInt32(b, x->q, x->p));
    std::vector<Value> ins = n.inputs;
    ins[0] = c;
    EMBER_ASSIGN(Value r, b.op(OpKind::Resize, ins, n.attrs));
    EMBER_ASSIGN(Value y, buildRequantize(b, r, {{1.0}, {}}, 0, 0, out->p,
                                          out->lo, out->hi, profile_));
    finish(n, out->chain, y);
    return true;
  }

  // A movement op reads its data (operand 0) from a DequantizeLinear and
  // feeds a QuantizeLinear: it moves the stored integers instead.
  Expected<bool> movement(Node &n) {
    if (n.numResults() != 1 || n.inputs.empty())
      return false;
    auto x = dequantized(n.inputs[0]);
    if (!x)
      return false;
    auto out = output(&n);
    if (!out)
      return movementInChain(n);
    LoweringBuilder b(f_, n);
    std::vector<Value> ins = n.inputs;
    ins[0] = x->q;
    Value moved;
    if (n.kind == OpKind::Identity) {
      moved = x->q;
    } else {
      EMBER_ASSIGN(moved, b.op(n.kind, ins, n.attrs));
    }
    EMBER_ASSIGN(Value y, rescaled(b, moved, x->p, out->p, out->lo, out->hi));
    finish(n, out->chain, y);
    return true;
  }

  // DequantizeLinear -> Pad, PRelu or GlobalMaxPool -> QuantizeLinear: the
  // integer form integerUnaryForm builds, when the op has one.
  Expected<bool> unaryForm(Node &n) {
    auto x = dequantized(n.inputs[0]);
    auto out = output(&n);
    if (!x || !out)
      return false;
    LoweringBuilder b(f_, n);
    EMBER_ASSIGN(
        std::optional<Value> y,
        integerUnaryForm(b, n, x->q, x->p, out->p, out->lo, out->hi, profile_));
    if (!y)
      return false;
    finish(n, out->chain, *y);
    return true;
  }

  // A movement op of a DequantizeLinear whose result goes through more
  // movement ops to a QuantizeLinear (an LSTM's last step taken by Gather,
  // then reshaped): it moves the stored integers and the DequantizeLinear
  // follows it, so the next op of the chain meets the pattern above.
  Expected<bool> movementInChain(Node &n) {
    if (n.kind == OpKind::Identity)
      return false;
    Node *prev = &n, *u = soleUser(users_, &n);
    bool chain = false;
    for (int i = 0; u && i < 16; ++i) {
      if (!hasProp(u->kind, P_Rearrange) || u->numResults() != 1 ||
          u->inputs.empty() || u->inputs[0] != Value(prev, 0))
        break;
      if (output(u)) {
        chain = true;
        break;
      }
      prev = u;
      u = soleUser(users_, u);
    }
    if (!chain)
      return false;
    const Node &dq = *n.inputs[0].node;
    LoweringBuilder b(f_, n);
    std::vector<Value> ins = n.inputs;
    ins[0] = dq.inputs[0];
    EMBER_ASSIGN(Value moved, b.op(n.kind, ins, n.attrs));
    std::vector<Value> dqIns = dq.inputs;
    dqIns[0] = moved;
    EMBER_ASSIGN(Value y, b.op(OpKind::DequantizeLinear, dqIns, dq.attrs));
    finishOp(n, y);
    return true;
  }

  // ---- elementwise regions -> TableLookup ---------------------------------

  // From a DequantizeLinear d: the elementwise nodes computed from d's
  // result alone (and single-element constants), ending in one
  // QuantizeLinear. They become one TableLookup.
  // 16-bit regions keep their float form: the 513-entry interpolated
  // table (TableLookup16) is not a graph primitive yet.
  Expected<bool> region(Node &d) {
    auto x = dequantized(Value(&d, 0));
    if (!x || !isStored8(x->p.kind))
      return false;
    const Dims &dims = d.types[0].dims();
    std::vector<Node *> members; // program order
    std::set<const Node *> inRegion;
    Node *q = nullptr;
    std::optional<QParams> pq;
    bool after = false;
    for (auto &np : f_.nodes()) {
      Node *n = np.get();
      if (!after) {
        after = n == &d;
        continue;
      }
      bool readsD = false, readsMember = false, other = false;
      for (auto &in : n->inputs) {
        if (!in.node)
          continue;
        if (in.node == &d)
          readsD = true;
        else if (inRegion.count(in.node))
          readsMember = true;
        else if (!(constantOf(in) && constantOf(in)->size() == 1))
          other = true;
      }
      if (!readsD && !readsMember)
        continue;
      if (n->kind == OpKind::QuantizeLinear && readsMember &&
          inRegion.count(n->inputs[0].node)) {
        auto p = quantizeParams(*n);
        if (q || !p || !p->perTensor() || !isStored8(p->kind))
          return false;
        q = n;
        pq = p;
        continue;
      }
      bool eligible = hasProp(n->kind, P_Elementwise) && n->numResults() == 1 &&
                      n->types[0].dims() == dims &&
                      isFloatKind(n->types[0].elem()) && !other;
      if (eligible) {
        members.push_back(n);
        inRegion.insert(n);
      } else if (readsMember) {
        return false; // a member's result escapes the region
      }
      // else: a reader of d outside the region (d stays for it)
    }
    if (!q || members.empty())
      return false;
    // No member may be read by anything but members and q, or be a
    // function output.
    for (Node *m : members) {
      auto it = users_.find(m);
      if (it == users_.end())
        return false;
      for (auto &u : it->second)
        if (!u.user || (u.user != q && !inRegion.count(u.user)))
          return false;
    }
    EMBER_ASSIGN(Tensor table, regionTable(d, members, *q, *pq));
    LoweringBuilder b(f_, *members.front());
    EMBER_ASSIGN(Value y, b.op(OpKind::TableLookup,
                               {x->q, b.constant(std::move(table), "table")}));
    f_.replaceAllUses(Value(q, 0), y);
    erase(q);
    for (auto it = members.rbegin(); it != members.rend(); ++it)
      erase(*it);
    return true;
  }
};

} // namespace

Status lowerIntegerPatterns(Function &f, quant::RequantProfile profile,
                            size_t *numRewritten, bool integerRecurrent) {
  Rewriter r(f, profile, integerRecurrent);
  EMBER_ASSIGN(size_t n, r.run());
  if (numRewritten)
    *numRewritten = n;
  return Status::ok();
}

} // namespace ember

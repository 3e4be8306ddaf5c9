// A Clip, Relu, Max or Min by a constant read by a QuantizeLinear to an
// 8- or 16-bit integer, whose bounds the QuantizeLinear's own saturation
// already applies: QuantizeLinear reads the clamp's input instead.
//
// q(x) = saturate(round(x / s) + z) is monotonic in x, so a lower bound lo is
// absorbed when q(lo) is already qmin (every x below lo quantizes to qmin
// too), and an upper bound hi when q(hi) is qmax. Two cases are proved
// without depending on how a backend divides and rounds:
//   - lo <= 0 and z == qmin (a ReLU before an asymmetric uint8 tensor):
//     round(lo / s) <= 0, so q(lo) = qmin;
//   - lo / s + z <= qmin - 1 (hi / s + z >= qmax + 1), computed in double: a
//     whole quantum of margin covers float32 division and any rounding mode.
// Per-axis scales and zero points are checked for every channel. A clamp
// with other readers stays for them. Each case is the identity on every
// input but NaN, which no clamp of a quantized tensor is meant to carry.
// The pipeline runs it after lowering: the integer forms absorb the clamps
// between quantized tensors themselves, and this takes the float ones they
// leave. ONNX Runtime's quantizer drops such activations when it writes a QDQ
// model; models quantized otherwise (a float input clamped to the quantizer's
// range, as MLPerf Tiny's dequantized ResNet-8 has) keep them, and a host node
// in front of every accelerator partition with them.
#include "passes/Pass.h"

#include <cmath>
#include <limits>

namespace ember {

namespace {

bool integerRange(ElemKind k, double &qmin, double &qmax) {
  switch (k) {
  case ElemKind::U8:
    qmin = 0, qmax = 255;
    return true;
  case ElemKind::I8:
    qmin = -128, qmax = 127;
    return true;
  case ElemKind::U16:
    qmin = 0, qmax = 65535;
    return true;
  case ElemKind::I16:
    qmin = -32768, qmax = 32767;
    return true;
  default:
    return false;
  }
}

bool scalarBound(const Node &n, size_t i, double &out) {
  const Tensor *t = n.constantInput(i);
  if (!t || t->size() != 1 || !isFloatKind(t->elem()))
    return false;
  out = t->getDouble(0);
  return !std::isnan(out);
}

// The clamp's bounds (infinite where it has none); false when `n` is not a
// clamp by constants of its first operand.
bool clampBounds(const Node &n, double &lo, double &hi) {
  lo = -std::numeric_limits<double>::infinity();
  hi = std::numeric_limits<double>::infinity();
  switch (n.kind) {
  case OpKind::Relu:
    lo = 0;
    return true;
  case OpKind::Clip:
    if (n.hasInput(1) && !scalarBound(n, 1, lo))
      return false;
    return !n.hasInput(2) || scalarBound(n, 2, hi);
  case OpKind::Max:
    return n.inputs.size() == 2 && scalarBound(n, 1, lo);
  case OpKind::Min:
    return n.inputs.size() == 2 && scalarBound(n, 1, hi);
  default:
    return false;
  }
}

// Whether every channel of `q`'s parameters saturates at the clamp's bounds.
bool absorbed(const Node &q, double lo, double hi) {
  double qmin, qmax;
  if (!integerRange(q.types[0].elem(), qmin, qmax))
    return false;
  const Tensor *scale = q.constantInput(1);
  const Tensor *zero = q.hasInput(2) ? q.constantInput(2) : nullptr;
  if (!scale || (q.hasInput(2) && !zero) || scale->size() < 1)
    return false;
  if (zero && zero->size() != 1 && zero->size() != scale->size())
    return false;
  for (int64_t c = 0; c < scale->size(); ++c) {
    double s = scale->getDouble(c);
    if (!(s > 0) || !std::isfinite(s))
      return false;
    double z = zero ? zero->getDouble(zero->size() == 1 ? 0 : c) : 0.0;
    bool loOk = std::isinf(lo)
                    ? lo < 0
                    : (lo <= 0 && z == qmin) || lo / s + z <= qmin - 1;
    bool hiOk = std::isinf(hi) ? hi > 0 : hi / s + z >= qmax + 1;
    if (!loOk || !hiOk)
      return false;
  }
  return true;
}

} // namespace

Status runDropSaturatedClamp(Function &f, PassStats &s) {
  for (auto &np : f.nodes()) {
    Node *q = np.get();
    if (q->kind != OpKind::QuantizeLinear || !q->hasInput(0))
      continue;
    // A chain of clamps (Max then Min) is absorbed one link at a time.
    for (;;) {
      Node *c = q->inputs[0].node;
      double lo, hi;
      if (!c || c->outNames.size() != 1 || !clampBounds(*c, lo, hi) ||
          !isFloatKind(c->types[0].elem()) || !absorbed(*q, lo, hi))
        break;
      q->inputs[0] = c->inputs[0];
      ++s.changed;
    }
  }
  return Status::ok();
}

} // namespace ember

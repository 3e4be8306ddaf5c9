// Lowerings of the losses: NegativeLogLikelihoodLoss and
// SoftmaxCrossEntropyLoss (after LogSoftmax) become GatherElements, Gather,
// Where and ReduceSum with the reference's reductions and ignore_index.
#include "lower/LowerUtil.h"

namespace ember {

namespace {

// Shared lowering of the losses over scores `sc` ([N, C, d...]: the input,
// or its LogSoftmax): loss = -GatherElements(sc, target) * weight, with
// ignored targets redirected to class 0 and given weight 0; "mean" divides
// by the summed weights.
Expected<Value> lowerLoss(LoweringBuilder &b, Value sc) {
  Node &n = b.node();
  const Type &xt = sc.type();
  Value t = b.in(1);
  const Type &tt = b.inType(1);
  ElemKind xk = xt.elem(), tk = tt.elem();
  bool ignore = n.hasAttr("ignore_index");
  Value eq, tc = t;
  if (ignore) {
    EMBER_ASSIGN(eq,
                 b.op(OpKind::Equal,
                      {t, b.scalar(tk, double(n.attrInt("ignore_index", 0)))}));
    EMBER_ASSIGN(tc, b.op(OpKind::Where, {eq, b.scalar(tk, 0), t}));
  }
  Dims col = tt.dims();
  col.insert(col.begin() + 1, 1);
  EMBER_ASSIGN(Value tcol, b.op(OpKind::Reshape, {tc, b.ints(col)}));
  EMBER_ASSIGN(Value g, b.op(OpKind::GatherElements, {sc, tcol},
                             {{"axis", Attr::ofInt(1)}}));
  EMBER_ASSIGN(Value g2, b.op(OpKind::Reshape, {g, b.ints(tt.dims())}));
  EMBER_ASSIGN(Value loss, b.op(OpKind::Neg, {g2}));
  Value w;
  if (b.has(2)) {
    EMBER_ASSIGN(
        w, b.op(OpKind::Gather, {b.in(2), tc}, {{"axis", Attr::ofInt(0)}}));
  }
  if (ignore) {
    Value keep = w ? w : b.scalar(xk, 1);
    EMBER_ASSIGN(w, b.op(OpKind::Where, {eq, b.scalar(xk, 0), keep}));
  }
  if (w) {
    EMBER_ASSIGN(loss, b.op(OpKind::Mul, {loss, w}));
  }
  std::string red = n.attrString("reduction", "mean");
  if (red == "none")
    return loss;
  AttrMap all{{"keepdims", Attr::ofInt(0)}};
  EMBER_ASSIGN(Value sum, b.op(OpKind::ReduceSum, {loss}, all));
  if (red == "sum")
    return sum;
  if (red != "mean")
    return invalid(opName(n.kind), ": unknown reduction '", red, "'");
  Value den;
  if (w) {
    // w may be a scalar (ignore without weights): broadcast to the loss.
    EMBER_ASSIGN(Value wf, b.op(OpKind::Expand, {w, b.ints(tt.dims())}));
    EMBER_ASSIGN(den, b.op(OpKind::ReduceSum, {wf}, all));
  } else {
    den = b.scalar(xk, double(numElements(tt.dims())));
  }
  return b.op(OpKind::Div, {sum, den});
}

} // namespace

Expected<std::vector<Value>>
lower_NegativeLogLikelihoodLoss(LoweringBuilder &b) {
  EMBER_ASSIGN(Value y, lowerLoss(b, b.in(0)));
  return std::vector<Value>{y};
}

Expected<std::vector<Value>> lower_SoftmaxCrossEntropyLoss(LoweringBuilder &b) {
  EMBER_ASSIGN(Value lp,
               b.op(OpKind::LogSoftmax, {b.in(0)}, {{"axis", Attr::ofInt(1)}}));
  EMBER_ASSIGN(Value y, lowerLoss(b, lp));
  std::vector<Value> out{y};
  if (b.node().numResults() == 2)
    out.push_back(lp);
  return out;
}

} // namespace ember

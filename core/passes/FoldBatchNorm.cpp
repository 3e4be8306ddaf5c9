// Folds inference BatchNormalization into the Conv (per output channel) or
// Gemm/MatMul-with-constant-weights that produces its input, when the
// producer has no other user and every parameter is a constant:
//   s = scale / sqrt(var + eps);  W' = W * s (per output channel);
//   b' = (b - mean) * s + B.
#include "passes/Pass.h"

#include <cmath>

namespace ember {

Status runFoldBatchNorm(Function &f, PassStats &s) {
  auto users = f.computeUsers();
  std::vector<Node *> bns;
  for (auto &n : f.nodes())
    if (n->kind == OpKind::BatchNormalization)
      bns.push_back(n.get());
  for (Node *bn : bns) {
    Node *conv = bn->inputs[0].node;
    if (conv->kind != OpKind::Conv || users[conv].size() != 1)
      continue;
    const Tensor *w = conv->constantInput(1);
    const Tensor *scale = bn->constantInput(1), *bias = bn->constantInput(2),
                 *mean = bn->constantInput(3), *var = bn->constantInput(4);
    if (!w || !scale || !bias || !mean || !var)
      continue;
    if (!isFloatKind(w->elem()) || w->rank() < 3)
      continue;
    const Tensor *cb = conv->constantInput(2);
    if (conv->hasInput(2) && !cb)
      continue;
    int64_t m = w->dims()[0];
    if (scale->size() != m || bias->size() != m || mean->size() != m ||
        var->size() != m)
      continue;
    double eps = bn->attrFloat("epsilon", 1e-5);
    Tensor nw(w->type());
    Tensor nb(Type(w->elem(), {m}));
    int64_t per = w->size() / m;
    for (int64_t c = 0; c < m; ++c) {
      double sc = scale->getDouble(c) / std::sqrt(var->getDouble(c) + eps);
      if (w->elem() == ElemKind::F32) { // the common case, without dispatch
        const float *src = w->data<float>() + c * per;
        float *dst = nw.data<float>() + c * per;
        for (int64_t i = 0; i < per; ++i)
          dst[i] = float(double(src[i]) * sc);
      } else {
        for (int64_t i = 0; i < per; ++i)
          nw.setDouble(c * per + i, w->getDouble(c * per + i) * sc);
      }
      double b0 = cb ? cb->getDouble(c) : 0.0;
      nb.setDouble(c, (b0 - mean->getDouble(c)) * sc + bias->getDouble(c));
    }
    Value wv(f.addConstant(conv->outNames[0] + ".w_bn", std::move(nw)));
    Value bv(f.addConstant(conv->outNames[0] + ".b_bn", std::move(nb)));
    std::vector<Value> ins = {conv->inputs[0], wv, bv};
    auto fused = f.create(OpKind::Conv, ins, conv->attrs, conv->name, 1, bn,
                          {bn->outNames[0] + ".conv"});
    if (!fused)
      return fused.status();
    f.replaceAllUses(Value(bn, 0), Value(*fused, 0));
    f.erase(bn);
    f.erase(conv);
    ++s.changed;
  }
  return Status::ok();
}

} // namespace ember

// A depthwise 1x1 ConvInteger of one-pixel images ([N, C, 1, 1], stride 1,
// no pads) as an elementwise product. The lowering writes the integer
// per-channel affine of a rank-2 map [N, C] (a batch normalization after a
// fully connected layer: docs/quantization.md, "Per-channel affine") as
// such a convolution of N one-pixel images, the form an accelerator's
// depthwise layer runs. Each of its outputs is one product
//
//   y[n, c] = (x[n, c] - zx) * (w[c] - zw[c])
//
// so it becomes Mul(Cast(x) [- zx], w - zw as an int32 [1, C, 1, 1]
// constant): an elementwise op the fusion joins to the bias Add and the
// Requantize after it (one loop over the map), where the depthwise kernel
// set up N images of one pixel each (MLPerf Tiny's FC autoencoder: 217
// images of 128 channels, its batch normalizations twice the time of the
// whole model's fused float steps). The same integers.
#include "Compiler.h"

namespace ember::cpugen {

namespace {

// Every entry of ints attribute `attr` of n is `v` (or it is absent).
bool allOf(const Node &n, const char *attr, int64_t v) {
  for (int64_t e : n.attrInts(attr))
    if (e != v)
      return false;
  return true;
}

} // namespace

Status pointDepthwiseAsElementwise(Function &f) {
  std::vector<Node *> convs;
  for (auto &n : f.nodes())
    if (n->kind == OpKind::ConvInteger)
      convs.push_back(n.get());
  for (Node *c : convs) {
    const Dims &xd = c->inputs[0].type().dims();
    const Tensor *w = c->constantInput(1);
    if (xd.size() != 4 || xd[2] != 1 || xd[3] != 1 || !w ||
        c->attrInt("group", 1) != xd[1] ||
        w->type().dims() != Dims{xd[1], 1, 1, 1} || !allOf(*c, "pads", 0) ||
        !allOf(*c, "strides", 1) ||
        c->attrString("auto_pad", "NOTSET") != "NOTSET")
      continue;
    const std::optional<int64_t> zx = c->scalarZeroPoint(2);
    const Tensor *wz = c->hasInput(3) ? c->constantInput(3) : nullptr;
    if (!zx ||
        (c->hasInput(3) && (!wz || (wz->size() != 1 && wz->size() != xd[1]))))
      continue;
    const int64_t C = xd[1];
    Tensor k(Type(ElemKind::I32, {1, C, 1, 1}));
    for (int64_t i = 0; i < C; ++i)
      k.setInt(i,
               w->getInt(i) - (wz ? wz->getInt(wz->size() == 1 ? 0 : i) : 0));
    const std::string &nm = c->name;
    EMBER_ASSIGN(Node * cast,
                 f.create(OpKind::Cast, {c->inputs[0]},
                          {{"to", Attr::ofInt(elemKindToOnnx(ElemKind::I32))}},
                          nm, -1, c));
    Value x(cast);
    if (*zx) {
      Node *z = f.addConstant(f.freshName(nm + ".x_zero_point"),
                              Tensor::fromInts(ElemKind::I32, {*zx}, {}));
      EMBER_ASSIGN(Node * sub,
                   f.create(OpKind::Sub, {x, Value(z)}, {}, nm, -1, c));
      x = Value(sub);
    }
    Node *kc = f.addConstant(f.freshName(nm + ".weight_i32"), std::move(k));
    EMBER_ASSIGN(Node * mul,
                 f.create(OpKind::Mul, {x, Value(kc)}, {}, nm, -1, c));
    f.replaceAllUses(Value(c), Value(mul));
    f.erase(c);
  }
  return Status::ok();
}

} // namespace ember::cpugen

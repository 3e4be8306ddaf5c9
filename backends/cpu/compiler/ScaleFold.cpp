// Channel scales folded into convolution weights (README.md, "Channel scales
// in the weights"). A squeeze-excitation block ends with y = Conv(x * s, W),
// s[n, c] one scale per image and channel (a Sigmoid or HardSigmoid of the
// excitation) and the convolution the block's projection. The Mul is a pass
// of its own over the expanded map (read x, write x * s), which the
// convolution then reads again. For one image,
//
//   Conv(x * s, W)[o] = sum_c sum_taps W[o, c, kh, kw] * (x[c, ...] * s[c])
//                     = Conv(x, W * s)[o]
//
// (pads read zeros either way), so the convolution reads x unscaled and
// runs with W' = W * s, computed at run time by a loop over W's elements
// and packed at run time like any weights that are not constants. Only the
// order of the products changes: (x * s) * W against x * (W * s), one
// rounding each, within the fp32 tolerance of the reference, not its bits.
//
// The rewrite pays where W is much smaller than x: it costs a loop over W
// (the scaled copy) and the packing of the copy in the caller, about 16
// times what the Mul costs per element of x (kWeightCost). It is taken when
// kWeightCost * T * OC * KH * KW <= H * W (W's elements per input channel
// against x's; T threads split the Mul, not the weights' packing): at 1
// thread EfficientNet-B0's projections over 112x112 to 28x28 maps (5 of
// 16), MobileNetV3-Large's over 28x28 (3 of 8); at 2 threads
// EfficientNet-B0's over 112x112 and 56x56 (3), none of MobileNetV3-Large's.
// Not the 14x14 and 7x7 blocks', whose weights (480 x 80 over 196 pixels,
// 1152 x 192 over 49) cost more than the Mul.
//
// The conditions: a JIT-compiled executable (not a bundle), one image (s is [1,
// C, 1, 1], [C, 1, 1] or a scalar: the scaled weights are one tensor for the
// call), a dense convolution (group 1) with constant f32 weights, the Mul its
// input's only reader and not a graph output, x and s computed at run time,
// static shapes.
#include "Compiler.h"

namespace ember::cpugen {

namespace {

// What a weight element costs at run time against an element of the Mul:
// the loop of W * s over W's ONNX layout and the packing of the result
// (scalar, in the caller) took about 2 ns a weight in EfficientNet-B0's
// profile, the Mul about 0.1 ns an element of x.
constexpr int64_t kWeightCost = 16;

bool staticDims(const Type &t) {
  for (int64_t d : t.dims())
    if (d <= 0)
      return false;
  return true;
}

// s scales x [1, C, H, W] per channel only: its dims, aligned to the right
// with x's, are 1 but at the channel axis (there: C or 1).
bool perChannel(const Type &s, const Type &x) {
  if (s.rank() > x.rank())
    return false;
  const size_t off = x.rank() - s.rank();
  for (size_t i = 0; i < s.rank(); ++i)
    if (s.dim(i) != 1 && !(i + off == 1 && s.dim(i) == x.dim(1)))
      return false;
  return true;
}

// The operand index of x in Mul node m (the other one is s), or -1.
int scaledOperand(const Node &m) {
  if (m.kind != OpKind::Mul || m.inputs.size() != 2 || !m.inputs[0] ||
      !m.inputs[1])
    return -1;
  const Type &y = m.types[0];
  for (int i = 0; i < 2; ++i) {
    const Value &x = m.inputs[size_t(i)], &s = m.inputs[size_t(1 - i)];
    if (x.type().dims() == y.dims() && y.rank() == 4 && y.dim(0) == 1 &&
        perChannel(s.type(), y))
      return i;
  }
  return -1;
}

bool isConstantValue(const Value &v) {
  return v && v.node->kind == OpKind::Constant;
}

} // namespace

Status foldChannelScales(Function &f, const CompileConfig &cfg,
                         FusionStats *stats) {
  // Not in bundles: the cost rule above was measured on the JIT's
  // executables only.
  if (!cfg.fuse || !cfg.scaleFold || cfg.bundle)
    return Status::ok();
  // The Mul splits over the workers; the scaled weights are computed and
  // packed by the caller alone.
  const int64_t threads = int64_t(cfg.numThreads ? cfg.numThreads : 1);
  auto users = f.computeUsers();
  std::vector<Node *> convs;
  for (auto &n : f.nodes())
    if (n->kind == OpKind::Conv)
      convs.push_back(n.get());
  for (Node *conv : convs) {
    if (conv->attrInt("group", 1) != 1 || !conv->hasInput(1) ||
        !isConstantValue(conv->inputs[1]) || conv->inputs[0].idx != 0)
      continue;
    Node *mul = conv->inputs[0].node;
    const int xi = scaledOperand(*mul);
    if (xi < 0)
      continue;
    auto it = users.find(mul);
    if (it == users.end() || it->second.size() != 1 || !it->second[0].user)
      continue;
    const Value x = mul->inputs[size_t(xi)], s = mul->inputs[size_t(1 - xi)];
    const Value w = conv->inputs[1];
    const Type &xt = x.type(), &wt = w.type();
    if (xt.elem() != ElemKind::F32 || s.type().elem() != ElemKind::F32 ||
        wt.elem() != ElemKind::F32 || wt.rank() != 4 || !staticDims(xt) ||
        !staticDims(wt) || isConstantValue(x) || isConstantValue(s))
      continue;
    // W's elements per input channel against x's (the cost rule above).
    if (kWeightCost * threads * wt.dim(0) * wt.dim(2) * wt.dim(3) >
        xt.dim(2) * xt.dim(3))
      continue;
    EMBER_ASSIGN(Node * scaled,
                 f.create(OpKind::Mul, {w, s}, {}, mul->name, -1, conv,
                          {f.freshName(w.name() + ".scaled")}));
    conv->inputs[0] = x;
    conv->inputs[1] = Value(scaled);
    f.erase(mul);
    users.erase(mul);
    if (stats)
      ++stats->scaleFolds;
  }
  return Status::ok();
}

} // namespace ember::cpugen

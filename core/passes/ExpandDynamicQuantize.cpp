// Dynamic quantization (ONNX Runtime's quantize_dynamic: each MatMul's
// activations quantized at run time by DynamicQuantizeLinear, then
// MatMulInteger against constant int8 weights) in forms backends compile:
//
// 1. DynamicQuantizeLinear(x) -> (y, scale, zp) as the reference kernel
//    computes it (interp/kernels/BitCastDynQuant.cpp), in primitives:
//      lo = min(0, ReduceMin(x')), hi = max(0, ReduceMax(x')), x' = x with
//      NaN read as 0 (the kernel's min/max skip NaN; 0 is in the range);
//      scale = (hi - lo) / 255;
//      zpf = scale == 0 ? 0 : Round(Clip(0 - lo / scale, 0, 255));
//      y = Cast<u8>(Clip(scale == 0 ? zpf : Round(x / scale) + zpf, 0, 255)).
//    Every step is the kernel's f32 operation (Round is nearbyint's ties to
//    even), so y, scale and zp are the same bits.
// 2. MatMulInteger(A, B, a_zp, b_zp) with a constant 2-D B and constant
//    b_zp but an a_zp computed at run time (the zp above): the sum
//    sum_k (a - za)(b - zb[n]) = sum_k a (b - zb[n]) - za * colsum[n] with
//    colsum[n] = sum_k (b[k][n] - zb[n]), so it becomes
//      MatMulInteger(A, B, <none>, b_zp) - Cast<i32>(a_zp) * colsum,
//    exact in int32, and the product keeps constant zero points.
// 3. ConvInteger(x, W, x_zp, w_zp) with constant W and w_zp and a run-time
//    scalar x_zp: the reference centers x and pads with zeros, so a padded
//    tap adds nothing and ConvInteger(x, W, <none>, w_zp) - x_zp * M with
//    M[oc][oh][ow] = the sum of (W - w_zp) over the taps of that output
//    that fall inside x. M is the reference kernel's own result for x = 0
//    and x_zp = 1, negated ([1, OC, 1, 1] when no tap ever falls outside);
//    skipped when M would pass 4M elements.
#include "interp/Interpreter.h"
#include "passes/Pass.h"

namespace ember {

namespace {

struct Builder {
  Function &f;
  Node *before;
  std::string base;
  int n = 0;

  Expected<Value> op(OpKind k, std::vector<Value> ins, AttrMap a = {}) {
    auto r = f.create(k, std::move(ins), std::move(a), "", 1, before,
                      {base + ".dq" + std::to_string(n++)});
    if (!r)
      return r.status();
    return Value(*r, 0);
  }
};

Status expandDql(Function &f, Node *dql) {
  Builder b{f, dql, dql->outNames[0]};
  Value x = dql->inputs[0];
  std::vector<int64_t> axes;
  for (size_t i = 0; i < x.type().rank(); ++i)
    axes.push_back(int64_t(i));
  Value axesV(f.addConstant(
      b.base + ".axes",
      Tensor::fromInts(ElemKind::I64, axes, {int64_t(axes.size())})));
  AttrMap flat{{"keepdims", Attr::ofInt(0)}};
  Value c0(f.addConstant(b.base + ".zero", Tensor::scalar(ElemKind::F32, 0)));
  Value c255(
      f.addConstant(b.base + ".qmax", Tensor::scalar(ElemKind::F32, 255)));
  EMBER_ASSIGN(Value nan, b.op(OpKind::IsNaN, {x}));
  EMBER_ASSIGN(Value xr, b.op(OpKind::Where, {nan, c0, x}));
  EMBER_ASSIGN(Value mn, b.op(OpKind::ReduceMin, {xr, axesV}, flat));
  EMBER_ASSIGN(Value mx, b.op(OpKind::ReduceMax, {xr, axesV}, flat));
  EMBER_ASSIGN(Value lo, b.op(OpKind::Min, {mn, c0}));
  EMBER_ASSIGN(Value hi, b.op(OpKind::Max, {mx, c0}));
  EMBER_ASSIGN(Value range, b.op(OpKind::Sub, {hi, lo}));
  EMBER_ASSIGN(Value scale, b.op(OpKind::Div, {range, c255}));
  EMBER_ASSIGN(Value zero, b.op(OpKind::Equal, {scale, c0}));
  EMBER_ASSIGN(Value lq, b.op(OpKind::Div, {lo, scale}));
  EMBER_ASSIGN(Value nz, b.op(OpKind::Sub, {c0, lq}));
  EMBER_ASSIGN(Value nzc, b.op(OpKind::Clip, {nz, c0, c255}));
  EMBER_ASSIGN(Value nzr, b.op(OpKind::Round, {nzc}));
  EMBER_ASSIGN(Value zpf, b.op(OpKind::Where, {zero, c0, nzr}));
  EMBER_ASSIGN(Value xq, b.op(OpKind::Div, {x, scale}));
  EMBER_ASSIGN(Value xqr, b.op(OpKind::Round, {xq}));
  EMBER_ASSIGN(Value xz, b.op(OpKind::Add, {xqr, zpf}));
  EMBER_ASSIGN(Value yf, b.op(OpKind::Where, {zero, zpf, xz}));
  EMBER_ASSIGN(Value yc, b.op(OpKind::Clip, {yf, c0, c255}));
  AttrMap toU8{{"to", Attr::ofInt(elemKindToOnnx(ElemKind::U8))}};
  EMBER_ASSIGN(Value y, b.op(OpKind::Cast, {yc}, toU8));
  EMBER_ASSIGN(Value zp, b.op(OpKind::Cast, {zpf}, toU8));
  f.replaceAllUses(Value(dql, 0), y);
  f.replaceAllUses(Value(dql, 1), scale);
  f.replaceAllUses(Value(dql, 2), zp);
  f.erase(dql);
  return Status::ok();
}

// n (MatMulInteger or ConvInteger) without its run-time zero point
// (operand 2), minus that zero point times `taps` (a constant named
// "<result>.<what>" that broadcasts against the result).
Status dropRuntimeZeroPoint(Function &f, Node *n, Tensor taps,
                            const char *what) {
  Builder b{f, n, n->outNames[0]};
  Value tv(f.addConstant(b.base + "." + what, std::move(taps)));
  std::vector<Value> ins = {n->inputs[0], n->inputs[1], Value()};
  if (n->hasInput(3))
    ins.push_back(n->inputs[3]);
  auto prod =
      f.create(n->kind, ins, n->attrs, n->name, 1, n, {b.base + ".raw"});
  if (!prod)
    return prod.status();
  AttrMap toI32{{"to", Attr::ofInt(elemKindToOnnx(ElemKind::I32))}};
  EMBER_ASSIGN(Value z, b.op(OpKind::Cast, {n->inputs[2]}, toI32));
  EMBER_ASSIGN(Value corr, b.op(OpKind::Mul, {z, tv}));
  EMBER_ASSIGN(Value y, b.op(OpKind::Sub, {Value(*prod, 0), corr}));
  f.replaceAllUses(Value(n, 0), y);
  f.erase(n);
  return Status::ok();
}

// MatMulInteger whose A zero point is computed at run time (a scalar) and
// whose B and B zero point are constants: true when rewritten.
Expected<bool> foldMatMulZeroPoint(Function &f, Node *mm) {
  if (!mm->hasInput(2) || mm->constantInput(2) ||
      mm->inputs[2].type().numElements() != 1)
    return false;
  const Tensor *bw = mm->constantInput(1);
  if (!bw || bw->rank() != 2 || (mm->hasInput(3) && !mm->constantInput(3)))
    return false;
  const Tensor *bz = mm->constantInput(3);
  int64_t K = bw->dims()[0], N = bw->dims()[1];
  if (bz && bz->size() != 1 && bz->size() != N)
    return false;
  std::vector<int64_t> colsum(size_t(N), 0);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t c = 0; c < N; ++c)
      colsum[size_t(c)] +=
          int64_t(bw->getDouble(k * N + c)) -
          (bz ? int64_t(bz->getDouble(bz->size() == 1 ? 0 : c)) : 0);
  EMBER_TRY(dropRuntimeZeroPoint(
      f, mm, Tensor::fromInts(ElemKind::I32, colsum, {N}), "colsum"));
  return true;
}

// ConvInteger whose x zero point is computed at run time (a scalar) and
// whose weights and their zero point are constants: true when rewritten.
Expected<bool> foldConvZeroPoint(Function &f, Node *cv) {
  if (!cv->hasInput(2) || cv->constantInput(2) ||
      cv->inputs[2].type().numElements() != 1 || !cv->constantInput(1) ||
      (cv->hasInput(3) && !cv->constantInput(3)))
    return false;
  const Type &xt = cv->inputs[0].type(), &yt = cv->types[0];
  if (xt.rank() < 3 || yt.numElements() / yt.dim(0) > (int64_t(1) << 22))
    return false;
  // M from the reference kernel: x = 0 (one image), x_zp = 1.
  Dims x1 = xt.dims();
  x1[0] = 1;
  Tensor zeros(Type(xt.elem(), x1)), one(Type(xt.elem(), {}));
  one.setInt(0, 1);
  std::vector<const Tensor *> ins = {&zeros, cv->constantInput(1), &one};
  if (cv->hasInput(3))
    ins.push_back(cv->constantInput(3));
  Node probe(*cv);
  probe.types[0] = Type(ElemKind::I32, [&] {
    Dims d = yt.dims();
    d[0] = 1;
    return d;
  }());
  EMBER_ASSIGN(std::vector<Tensor> r, evaluateNode(probe, ins));
  Tensor &m = r.at(0);
  // Per output channel alone when every pixel of a channel has the same M.
  int64_t oc = m.dims()[1], px = m.size() / oc;
  bool flat = true;
  for (int64_t c = 0; c < oc && flat; ++c)
    for (int64_t i = 1; i < px && flat; ++i)
      flat = m.getInt(c * px + i) == m.getInt(c * px);
  Dims md(m.dims().size(), 1);
  md[1] = oc;
  Tensor mc(Type(ElemKind::I32, flat ? md : m.dims()));
  for (int64_t i = 0; i < mc.size(); ++i)
    mc.setInt(i, -m.getInt(flat ? i * px : i));
  EMBER_TRY(dropRuntimeZeroPoint(f, cv, std::move(mc), "taps"));
  return true;
}

} // namespace

Status runExpandDynamicQuantize(Function &f, PassStats &s) {
  std::vector<Node *> dqls, mms, convs;
  for (auto &n : f.nodes()) {
    if (n->kind == OpKind::DynamicQuantizeLinear &&
        n->inputs[0].type().elem() == ElemKind::F32)
      dqls.push_back(n.get());
    else if (n->kind == OpKind::MatMulInteger)
      mms.push_back(n.get());
    else if (n->kind == OpKind::ConvInteger)
      convs.push_back(n.get());
  }
  for (Node *n : dqls) {
    EMBER_TRY(expandDql(f, n));
    ++s.changed;
  }
  for (Node *n : mms) {
    EMBER_ASSIGN(bool done, foldMatMulZeroPoint(f, n));
    s.changed += done ? 1 : 0;
  }
  for (Node *n : convs) {
    EMBER_ASSIGN(bool done, foldConvZeroPoint(f, n));
    s.changed += done ? 1 : 0;
  }
  return Status::ok();
}

} // namespace ember

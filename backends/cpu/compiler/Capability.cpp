#include "Support.h"

#include "ember/backend/v1/capability.pb.h"

#include <algorithm>

namespace ember::cpugen {

OpClass opClass(OpKind k) {
  switch (k) {
#define EMBER_CPU_OP(Name, Class)                                              \
  case OpKind::Name:                                                           \
    return OpClass::Class;
#include "CpuOps.def"
  default: // only the ops above: the rest is not implemented here
    return OpClass::None;
  }
}

const char *opClassName(OpClass c) {
  switch (c) {
  case OpClass::None:
    return "none";
  case OpClass::Loop:
    return "loop";
  case OpClass::Move:
    return "move";
  case OpClass::Gather:
    return "gather";
  case OpClass::Concat:
    return "concat";
  case OpClass::Split:
    return "split";
  case OpClass::View:
    return "view";
  case OpClass::Conv:
    return "conv";
  case OpClass::ConvT:
    return "convtranspose";
  case OpClass::MatMul:
    return "matmul";
  case OpClass::Pool:
    return "pool";
  case OpClass::Reduce:
    return "reduce";
  case OpClass::QConv:
    return "qconv";
  case OpClass::QMatMul:
    return "qmatmul";
  }
  return "?";
}

bool loopKind(ElemKind k) {
  switch (k) {
  case ElemKind::F32:
  case ElemKind::F64:
  case ElemKind::I8:
  case ElemKind::U8:
  case ElemKind::I16:
  case ElemKind::U16:
  case ElemKind::I32:
  case ElemKind::U32:
  case ElemKind::I64:
  case ElemKind::U64:
  case ElemKind::Bool:
  case ElemKind::F16: // computed in f32, rounded after every op
  case ElemKind::BF16:
    return true;
  default:
    return false;
  }
}

bool isConstant(const Value &v) {
  return v && v.node->kind == OpKind::Constant && v.node->payload;
}

bool scalarConstant(const Value &v, double &out) {
  if (!isConstant(v) || v.node->payload->size() != 1 ||
      !loopKind(v.node->payload->type().elem()))
    return false;
  out = v.node->payload->getDouble(0);
  return true;
}

bool constantInts(const Value &v, std::vector<int64_t> &out) {
  if (!isConstant(v) || !isIntKind(v.node->payload->type().elem()))
    return false;
  out = v.node->payload->toInts();
  return true;
}

bool contains(const Group &g, const Node *n) {
  return std::find(g.members.begin(), g.members.end(), n) != g.members.end();
}

namespace {

bool isFloat(ElemKind k) { return k == ElemKind::F32 || k == ElemKind::F64; }
bool isHalf(ElemKind k) { return k == ElemKind::F16 || k == ElemKind::BF16; }
bool anyFloat(ElemKind k) { return isFloat(k) || isHalf(k); }

bool floatOnlyUnary(OpKind k) {
  switch (k) {
  case OpKind::Exp:
  case OpKind::Log:
  case OpKind::Sqrt:
  case OpKind::Reciprocal:
  case OpKind::Sigmoid:
  case OpKind::Tanh:
  case OpKind::Erf:
  case OpKind::Floor:
  case OpKind::Ceil:
  case OpKind::Round:
  case OpKind::Sin:
  case OpKind::Cos:
  case OpKind::Tan:
  case OpKind::Asin:
  case OpKind::Acos:
  case OpKind::Atan:
  case OpKind::Sinh:
  case OpKind::Cosh:
  case OpKind::Asinh:
  case OpKind::Acosh:
  case OpKind::Atanh:
    return true;
  default:
    return false;
  }
}

bool fail(std::string &reason, std::string why) {
  reason = std::move(why);
  return false;
}

std::string kindName(ElemKind k) { return elemKindName(k); }

// Every operand and result of `n` has an element kind the loops handle.
bool loopTypes(const Node &n, std::string &reason) {
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (n.inputs[i] && !loopKind(n.inputs[i].type().elem()))
      return fail(reason, concat("operand ", i, " is ",
                                 kindName(n.inputs[i].type().elem()),
                                 " (the CPU loops compute f32, f64, f16, bf16, "
                                 "integers and bool)"));
  for (size_t i = 0; i < n.types.size(); ++i)
    if (!loopKind(n.types[i].elem()))
      return fail(reason,
                  concat("result ", i, " is ", kindName(n.types[i].elem()),
                         " (the CPU loops compute f32, f64, f16, bf16, "
                         "integers and bool)"));
  return true;
}

// f32, or 16-bit floats (widened to f32 around the kernel: WidenHalf.cpp),
// one kind for every operand and result.
bool allF32(const Node &n, std::string &reason) {
  ElemKind k = n.inputs[0].type().elem();
  if (k != ElemKind::F32 && !isHalf(k))
    return fail(reason, concat("operand 0 is ", n.inputs[0].type().toString(),
                               "; the CPU kernels take f32 (and f16/bf16 "
                               "through f32)"));
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (n.inputs[i] && n.inputs[i].type().elem() != k)
      return fail(reason,
                  concat("operand ", i, " is ", n.inputs[i].type().toString(),
                         ", not ", kindName(k)));
  for (size_t i = 0; i < n.types.size(); ++i)
    if (n.types[i].elem() != k)
      return fail(reason, concat("result is ", n.types[i].toString(), ", not ",
                                 kindName(k)));
  return true;
}

bool loopSupported(const Node &n, std::string &reason) {
  if (!loopTypes(n, reason))
    return false;
  ElemKind a = n.inputs[0].type().elem();
  OpKind k = n.kind;
  if (floatOnlyUnary(k)) {
    if (!anyFloat(a))
      return fail(reason,
                  concat(opName(k), " of ", kindName(a), " (floats only)"));
    return true;
  }
  switch (k) {
  case OpKind::Abs:
  case OpKind::Sign:
    if (a == ElemKind::Bool)
      return fail(reason, "bool operand");
    return true;
  case OpKind::Neg:
  case OpKind::Relu:
    if (a == ElemKind::Bool || !isSignedKind(a))
      return fail(reason, concat(opName(k), " of ", kindName(a),
                                 " (signed kinds only)"));
    return true;
  case OpKind::Not:
    return a == ElemKind::Bool || fail(reason, "Not needs bool");
  case OpKind::IsNaN:
  case OpKind::IsInf:
    return anyFloat(a) || fail(reason, "needs a float operand");
  case OpKind::BitwiseNot:
    return isIntKind(a) || fail(reason, "needs integers");
  case OpKind::Cast: {
    if (n.types[0].isQuantized() || n.inputs[0].type().isQuantized())
      return fail(reason, "quantized cast");
    return true;
  }
  case OpKind::Add:
  case OpKind::Sub:
  case OpKind::Mul:
  case OpKind::Div:
  case OpKind::Mod:
    if (n.inputs[1].type().elem() != a)
      return fail(reason, "operand kinds differ");
    return true;
  case OpKind::Pow:
    if (!anyFloat(a) || !anyFloat(n.inputs[1].type().elem()))
      return fail(reason, concat("Pow of ", kindName(a), " and ",
                                 kindName(n.inputs[1].type().elem()),
                                 " (float bases and exponents only)"));
    return true;
  case OpKind::Max:
  case OpKind::Min:
    if (a == ElemKind::Bool)
      return fail(reason, "bool operands");
    for (auto &in : n.inputs)
      if (in.type().elem() != a)
        return fail(reason, "operand kinds differ");
    return true;
  case OpKind::Equal:
  case OpKind::Less:
  case OpKind::Greater:
  case OpKind::LessOrEqual:
  case OpKind::GreaterOrEqual:
    if (n.inputs[1].type().elem() != a)
      return fail(reason, "operand kinds differ");
    return true;
  case OpKind::And:
  case OpKind::Or:
  case OpKind::Xor:
    if (a != ElemKind::Bool || n.inputs[1].type().elem() != a)
      return fail(reason, "needs bool operands");
    return true;
  case OpKind::BitShift:
  case OpKind::BitwiseAnd:
  case OpKind::BitwiseOr:
  case OpKind::BitwiseXor:
    if (!isIntKind(a) || n.inputs[1].type().elem() != a)
      return fail(reason, "needs integer operands of one kind");
    if (k == OpKind::BitShift) {
      std::string d = n.attrString("direction", "");
      if (d != "LEFT" && d != "RIGHT")
        return fail(reason, "direction must be LEFT or RIGHT");
    }
    return true;
  case OpKind::ConstantOfShape: {
    const Tensor *v = n.attrTensor("value");
    if (v && (v->size() != 1 || !loopKind(v->type().elem())))
      return fail(reason, "value is not a one-element loop kind");
    return true;
  }
  case OpKind::QuantizeLinear:
  case OpKind::DequantizeLinear: {
    if (n.attrInt("block_size", 0) != 0)
      return fail(reason, "blocked quantization");
    bool q = k == OpKind::QuantizeLinear;
    ElemKind xk = a, sk = n.inputs[1].type().elem();
    ElemKind ik = q ? n.types[0].elem() : xk;
    if (!isFloat(sk) || (q && xk != sk) || (!q && n.types[0].elem() != sk))
      return fail(reason, "x, scale and y kinds must be f32 or f64 as ONNX "
                          "pairs them");
    if (ik != ElemKind::U8 && ik != ElemKind::I8 && ik != ElemKind::U16 &&
        ik != ElemKind::I16 && !(!q && ik == ElemKind::I32))
      return fail(reason, concat("quantized kind ", kindName(ik)));
    if (n.hasInput(2) && n.inputs[2].type().elem() != ik)
      return fail(reason, "zero point kind differs");
    const Type &st = n.inputs[1].type();
    if (st.rank() > 1)
      return fail(reason, "scale of rank > 1");
    if (st.numElements() != 1) {
      int64_t axis = n.attrInt("axis", 1);
      int64_t r = int64_t(n.inputs[0].type().rank());
      if (axis < 0)
        axis += r;
      if (axis < 0 || axis >= r ||
          st.numElements() != n.inputs[0].type().dim(size_t(axis)))
        return fail(reason, "per-axis scale does not match the axis");
    }
    if (n.hasInput(2) && n.inputs[2].type().numElements() != st.numElements())
      return fail(reason, "zero point and scale sizes differ");
    return true;
  }
  case OpKind::Where:
    if (a != ElemKind::Bool ||
        n.inputs[1].type().elem() != n.inputs[2].type().elem())
      return fail(reason, "needs a bool condition and values of one kind");
    return true;
  default:
    return fail(reason, concat(opName(k), " is not a loop op"));
  }
}

bool moveSupported(const Node &n, std::string &reason) {
  if (!loopTypes(n, reason))
    return false;
  if (n.kind == OpKind::Slice) {
    std::vector<int64_t> v;
    for (size_t i = 1; i < n.inputs.size(); ++i)
      if (n.inputs[i] && !constantInts(n.inputs[i], v))
        return fail(reason, concat("Slice operand ", i,
                                   " is not a constant integer tensor"));
  }
  if (n.kind == OpKind::Transpose && n.hasAttr("perm")) {
    auto perm = n.attrInts("perm");
    if (perm.size() != n.inputs[0].type().rank())
      return fail(reason, "perm does not match the rank");
  }
  return true;
}

} // namespace

bool windowOf(const Node &n, const Type &x, const std::vector<int64_t> &kernel,
              bool ceilMode, Window &w, std::string &reason) {
  size_t r = x.rank();
  if (r != 3 && r != 4)
    return fail(reason, concat("rank ", r,
                               " input (the CPU kernels do 1-D "
                               "and 2-D windows)"));
  size_t nsp = r - 2;
  if (kernel.size() != nsp)
    return fail(reason, "kernel shape does not match the input rank");
  auto orDefault = [&](const char *name, size_t count, int64_t def) {
    return n.hasAttr(name) ? n.attrInts(name)
                           : std::vector<int64_t>(count, def);
  };
  auto strides = orDefault("strides", nsp, 1);
  auto dil = orDefault("dilations", nsp, 1);
  auto pads = orDefault("pads", 2 * nsp, 0);
  if (strides.size() != nsp || dil.size() != nsp || pads.size() != 2 * nsp)
    return fail(reason, "strides/dilations/pads do not match the rank");
  std::string autoPad = n.attrString("auto_pad", "NOTSET");
  std::vector<int64_t> in(x.dims().begin() + 2, x.dims().end());
  std::vector<int64_t> out(nsp), pb(nsp), pe(nsp);
  for (size_t d = 0; d < nsp; ++d) {
    if (strides[d] < 1 || dil[d] < 1 || kernel[d] < 1 || pads[d] < 0 ||
        pads[nsp + d] < 0)
      return fail(reason, "non-positive stride, dilation or kernel");
    int64_t ek = (kernel[d] - 1) * dil[d] + 1, s = strides[d];
    if (autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER") {
      out[d] = (in[d] + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (out[d] - 1) * s + ek - in[d]);
      int64_t small = total / 2, big = total - small;
      pb[d] = autoPad == "SAME_UPPER" ? small : big;
      pe[d] = autoPad == "SAME_UPPER" ? big : small;
    } else if (autoPad == "VALID") {
      if (in[d] < ek)
        return fail(reason, "window larger than the input");
      out[d] = (in[d] - ek) / s + 1;
    } else if (autoPad == "NOTSET" || autoPad.empty()) {
      pb[d] = pads[d];
      pe[d] = pads[nsp + d];
      int64_t span = in[d] + pb[d] + pe[d] - ek;
      if (span < 0)
        return fail(reason, "window larger than the padded input");
      if (ceilMode) {
        out[d] = (span + s - 1) / s + 1;
        if ((out[d] - 1) * s >= in[d] + pb[d])
          --out[d];
      } else {
        out[d] = span / s + 1;
      }
    } else {
      return fail(reason, concat("auto_pad '", autoPad, "'"));
    }
  }
  w = Window();
  w.n = x.dim(0);
  w.c = x.dim(1);
  size_t o = nsp == 2 ? 0 : 1; // 1-D: the width is the only spatial dim
  if (nsp == 2) {
    w.h = in[0];
    w.kh = kernel[0];
    w.sh = strides[0];
    w.dh = dil[0];
    w.pt = pb[0];
    w.pb = pe[0];
    w.oh = out[0];
  }
  w.w = in[1 - o];
  w.kw = kernel[1 - o];
  w.sw = strides[1 - o];
  w.dw = dil[1 - o];
  w.pl = pb[1 - o];
  w.pr = pe[1 - o];
  w.ow = out[1 - o];
  w.ceil = ceilMode && autoPad == "NOTSET";
  return true;
}

bool convTransposeGeometry(const Node &n, std::vector<int64_t> &pb,
                           std::vector<int64_t> &out, std::string &reason) {
  const Type &x = n.inputs[0].type(), &w = n.inputs[1].type();
  size_t nsp = x.rank() - 2;
  std::vector<int64_t> in(x.dims().begin() + 2, x.dims().end());
  std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  if (n.hasAttr("kernel_shape") && n.attrInts("kernel_shape") != kernel)
    return fail(reason, "kernel_shape differs from the weights");
  auto orDefault = [&](const char *name, size_t len, int64_t def) {
    return n.hasAttr(name) ? n.attrInts(name) : std::vector<int64_t>(len, def);
  };
  auto strides = orDefault("strides", nsp, 1);
  auto dil = orDefault("dilations", nsp, 1);
  auto pads = orDefault("pads", 2 * nsp, 0);
  auto outPad = orDefault("output_padding", nsp, 0);
  std::vector<int64_t> outShape = n.hasAttr("output_shape")
                                      ? n.attrInts("output_shape")
                                      : std::vector<int64_t>{};
  if (outShape.size() == nsp + 2)
    outShape.erase(outShape.begin(), outShape.begin() + 2);
  if (strides.size() != nsp || dil.size() != nsp || pads.size() != 2 * nsp ||
      outPad.size() != nsp || (!outShape.empty() && outShape.size() != nsp))
    return fail(reason, "attributes do not match the rank");
  std::string autoPad = n.attrString("auto_pad", "NOTSET");
  out.assign(nsp, 0);
  pb.assign(nsp, 0);
  for (size_t d = 0; d < nsp; ++d) {
    if (strides[d] < 1 || dil[d] < 1 || kernel[d] < 1)
      return fail(reason, "non-positive stride, dilation or kernel");
    int64_t ek = (kernel[d] - 1) * dil[d] + 1;
    int64_t full = strides[d] * (in[d] - 1) + outPad[d] + ek;
    if (!outShape.empty() || autoPad == "SAME_UPPER" ||
        autoPad == "SAME_LOWER") {
      out[d] = !outShape.empty() ? outShape[d] : in[d] * strides[d];
      int64_t total = std::max<int64_t>(0, full - out[d]);
      pb[d] = autoPad == "SAME_UPPER" ? total / 2 : total - total / 2;
    } else if (autoPad == "VALID" || autoPad == "NOTSET" || autoPad.empty()) {
      if (autoPad == "VALID")
        pads.assign(2 * nsp, 0);
      pb[d] = pads[d];
      out[d] = full - pads[d] - pads[nsp + d];
    } else {
      return fail(reason, concat("auto_pad '", autoPad, "'"));
    }
    if (out[d] < 1)
      return fail(reason, "empty output");
  }
  return true;
}

namespace {

bool convSupported(const Node &n, std::string &reason) {
  if (!allF32(n, reason))
    return false;
  const Type &x = n.inputs[0].type(), &wt = n.inputs[1].type();
  if (x.rank() != wt.rank() || (x.rank() != 3 && x.rank() != 4))
    return fail(reason, concat("Conv of rank ", x.rank(),
                               " (the CPU kernels do 1-D and 2-D)"));
  int64_t g = n.attrInt("group", 1);
  int64_t c = x.dim(1), oc = wt.dim(0);
  if (g < 1 || c % g || oc % g || wt.dim(1) != c / g)
    return fail(reason, "group does not divide the channels");
  std::vector<int64_t> kernel(wt.dims().begin() + 2, wt.dims().end());
  if (n.hasAttr("kernel_shape") && n.attrInts("kernel_shape") != kernel)
    return fail(reason, "kernel_shape differs from the weights");
  Window w;
  if (!windowOf(n, x, kernel, false, w, reason))
    return false;
  const Dims &y = n.types[0].dims();
  if (y.back() != w.ow || (x.rank() == 4 && y[2] != w.oh))
    return fail(reason, "result shape differs from the window geometry");
  return true;
}

bool convTransposeSupported(const Node &n, std::string &reason) {
  if (!allF32(n, reason))
    return false;
  const Type &x = n.inputs[0].type(), &w = n.inputs[1].type();
  if ((x.rank() != 4 && x.rank() != 3) || w.rank() != x.rank())
    return fail(reason, "ConvTranspose is 1-D or 2-D only here");
  int64_t g = n.attrInt("group", 1);
  if (g < 1 || x.dim(1) % g || w.dim(0) != x.dim(1))
    return fail(reason, "group does not divide the channels");
  std::vector<int64_t> pb, out;
  if (!convTransposeGeometry(n, pb, out, reason))
    return false;
  const Dims &y = n.types[0].dims();
  for (size_t d = 0; d < out.size(); ++d)
    if (y[2 + d] != out[d])
      return fail(reason, "result shape differs from the geometry");
  if (y[1] != w.dim(1) * g)
    return fail(reason, "result channels differ from the weights");
  return true;
}

bool poolSupported(const Node &n, std::string &reason) {
  if (!allF32(n, reason))
    return false;
  if (n.numResults() != 1)
    return fail(reason, "MaxPool with an Indices result");
  if (n.attrInt("storage_order", 0) != 0)
    return fail(reason, "storage_order 1");
  if (!n.hasAttr("kernel_shape"))
    return fail(reason, "no kernel_shape");
  Window w;
  if (!windowOf(n, n.inputs[0].type(), n.attrInts("kernel_shape"),
                n.attrInt("ceil_mode", 0) != 0, w, reason))
    return false;
  if (n.kind == OpKind::AveragePool && (w.dh != 1 || w.dw != 1))
    return fail(reason, "dilated AveragePool");
  const Dims &y = n.types[0].dims();
  if (y.back() != w.ow || (y.size() == 4 && y[2] != w.oh))
    return fail(reason, "result shape differs from the window geometry");
  return true;
}

bool matmulSupported(const Node &n, std::string &reason) {
  if (!allF32(n, reason))
    return false;
  const Type &a = n.inputs[0].type(), &b = n.inputs[1].type();
  if (a.rank() < 1 || b.rank() < 1)
    return fail(reason, "scalar operand");
  size_t batchRank = std::max(a.rank(), b.rank());
  batchRank = batchRank > 2 ? batchRank - 2 : 0;
  if (batchRank > 4)
    return fail(reason, "more than 4 batch dims");
  return true;
}

bool reduceSupported(const Node &n, std::string &reason) {
  if (!loopTypes(n, reason))
    return false;
  if (n.inputs[0].type().elem() == ElemKind::Bool)
    return fail(reason, "bool reduction");
  if (n.kind == OpKind::ArgMax || n.kind == OpKind::ArgMin) {
    if (n.inputs[0].type().rank() == 0)
      return fail(reason, "scalar operand");
    return true;
  }
  std::vector<int64_t> axes;
  if (n.inputs.size() > 1 && n.inputs[1] && !constantInts(n.inputs[1], axes))
    return fail(reason, "axes is not a constant");
  return true;
}

// QLinearConv / QLinearMatMul: u8 activations, constant s8/u8 weights,
// constant f32 scales and zero points (per tensor; per output channel or
// column for the weights), u8/i8 result.
bool quantLinearSupported(const Node &n, std::string &reason) {
  bool conv = n.kind == OpKind::QLinearConv;
  const Type &x = n.inputs[0].type(), &w = n.inputs[3].type();
  if (x.elem() != ElemKind::U8)
    return fail(reason, concat("activations are ", kindName(x.elem()),
                               " (the int8 kernels take u8)"));
  if (w.elem() != ElemKind::I8 && w.elem() != ElemKind::U8)
    return fail(reason, "weights are not 8-bit");
  ElemKind yk = n.types[0].elem();
  if (yk != ElemKind::U8 && yk != ElemKind::I8)
    return fail(reason, "result is not 8-bit");
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (n.inputs[i] && !isConstant(n.inputs[i]))
      return fail(reason, concat("operand ", i, " is not a constant"));
  for (size_t i : {size_t(1), size_t(4), size_t(6)})
    if (n.inputs[i].type().elem() != ElemKind::F32)
      return fail(reason, "scales are not f32");
  for (size_t i : {size_t(1), size_t(2), size_t(6), size_t(7)})
    if (n.inputs[i].type().numElements() != 1)
      return fail(reason, concat("operand ", i, " is not per tensor"));
  int64_t outN = conv ? w.dim(0) : w.dims().back();
  for (size_t i : {size_t(4), size_t(5)})
    if (n.inputs[i].type().numElements() != 1 &&
        n.inputs[i].type().numElements() != outN)
      return fail(reason, concat("operand ", i,
                                 " is neither per tensor nor "
                                 "per output channel"));
  if (!conv) {
    if (w.rank() != 2 || x.rank() < 1)
      return fail(reason, "QLinearMatMul needs a 2-D constant B");
    return true;
  }
  if (x.rank() != 4 || w.rank() != 4)
    return fail(reason, "QLinearConv is 2-D only here");
  int64_t g = n.attrInt("group", 1);
  if (g < 1 || x.dim(1) % g || w.dim(0) % g || w.dim(1) != x.dim(1) / g)
    return fail(reason, "group does not divide the channels");
  if (n.hasInput(8) && n.inputs[8].type().elem() != ElemKind::I32)
    return fail(reason, "bias is not i32");
  std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  Window win;
  if (!windowOf(n, x, kernel, false, win, reason))
    return false;
  const Dims &y = n.types[0].dims();
  if (y[2] != win.oh || y[3] != win.ow)
    return fail(reason, "result shape differs from the window geometry");
  return true;
}

} // namespace

bool nodeSupported(const Node &n, std::string &reason) {
  OpClass c = opClass(n.kind);
  for (auto &in : n.inputs)
    if (in && in.type().isQuantized() && c != OpClass::View)
      return fail(reason, concat("quantized operand ", in.type().toString()));
  switch (c) {
  case OpClass::None:
    return fail(reason,
                concat("the CPU code generator has no ", opName(n.kind)));
  case OpClass::View:
    return true;
  case OpClass::Loop:
    return loopSupported(n, reason);
  case OpClass::Move:
    return moveSupported(n, reason);
  case OpClass::Gather: {
    if (!loopTypes(n, reason))
      return false;
    if (n.kind == OpKind::Pad || n.kind == OpKind::Tile) {
      std::vector<int64_t> v;
      for (size_t i = 1; i < n.inputs.size(); ++i)
        if (n.inputs[i] && !isConstant(n.inputs[i]))
          return fail(reason, concat("operand ", i, " is not a constant"));
      std::string mode = n.attrString("mode", "constant");
      if (n.kind == OpKind::Pad && mode != "constant" && mode != "edge" &&
          mode != "reflect" && mode != "wrap")
        return fail(reason, concat("mode '", mode, "'"));
      if (n.inputs[0].type().numElements() == 0 &&
          n.types[0].numElements() > 0 && mode != "constant")
        return fail(reason, "padding an empty tensor");
      return true;
    }
    ElemKind ik = n.inputs[1].type().elem();
    if (ik != ElemKind::I32 && ik != ElemKind::I64)
      return fail(reason, "indices must be i32 or i64");
    if (n.kind == OpKind::GatherElements &&
        n.inputs[0].type().rank() != n.inputs[1].type().rank())
      return fail(reason, "data and indices ranks differ");
    if (n.inputs[0].type().rank() == 0)
      return fail(reason, "scalar data");
    return true;
  }
  case OpClass::Concat:
  case OpClass::Split:
    return loopTypes(n, reason);
  case OpClass::Conv:
    return convSupported(n, reason);
  case OpClass::ConvT:
    return convTransposeSupported(n, reason);
  case OpClass::MatMul:
    return matmulSupported(n, reason);
  case OpClass::Pool:
    return poolSupported(n, reason);
  case OpClass::Reduce:
    return reduceSupported(n, reason);
  case OpClass::QConv:
  case OpClass::QMatMul:
    return quantLinearSupported(n, reason);
  }
  return fail(reason, "unknown op class");
}

namespace {

// The element types a loop op's operands and results may have (the
// manifest lists their union; query_support checks the combination).
std::vector<std::string> loopDtypes(OpKind k) {
  const std::vector<std::string> fl = {"f32", "f64", "f16", "bf16"};
  const std::vector<std::string> sgn = {"f32", "f64", "f16", "bf16",
                                        "i8",  "i16", "i32", "i64"};
  const std::vector<std::string> ints = {"i8",  "u8",  "i16", "u16",
                                         "i32", "u32", "i64", "u64"};
  std::vector<std::string> num = fl;
  num.insert(num.end(), ints.begin(), ints.end());
  std::vector<std::string> all = num;
  all.push_back("bool");
  auto plus = [](std::vector<std::string> v, const char *d) {
    v.push_back(d);
    return v;
  };
  if (floatOnlyUnary(k))
    return fl;
  switch (k) {
  case OpKind::Abs:
  case OpKind::Sign:
  case OpKind::Max:
  case OpKind::Min:
  case OpKind::ReduceSum:
  case OpKind::ReduceMax:
  case OpKind::ReduceMin:
  case OpKind::ReduceProd:
  case OpKind::ArgMax:
  case OpKind::ArgMin: // (i64 results are among them)
    return num;
  case OpKind::Neg:
  case OpKind::Relu:
    return sgn;
  case OpKind::Not:
  case OpKind::And:
  case OpKind::Or:
  case OpKind::Xor:
    return {"bool"};
  case OpKind::IsNaN:
  case OpKind::IsInf:
    return plus(fl, "bool");
  case OpKind::BitwiseNot:
  case OpKind::BitShift:
  case OpKind::BitwiseAnd:
  case OpKind::BitwiseOr:
  case OpKind::BitwiseXor:
    return ints;
  case OpKind::Pow:
    return fl;
  case OpKind::QuantizeLinear:
  case OpKind::DequantizeLinear:
    return {"f32", "f64", "i8", "u8", "i16", "u16", "i32"};
  default:
    return all;
  }
}

} // namespace

void fillManifest(backend::v1::CapabilityManifest &m) {
  for (unsigned k = 0; k < kNumOps; ++k) {
    OpKind op = OpKind(k);
    OpClass c = opClass(op);
    if (c == OpClass::None || !isPrimitive(op))
      continue;
    auto *cap = m.add_ops();
    cap->set_op(opName(op));
    switch (c) {
    case OpClass::ConvT:
      for (const char *d : {"f32", "f16", "bf16"})
        cap->add_dtypes(d);
      cap->set_min_rank(1);
      cap->set_max_rank(4);
      cap->add_constraints("1-D or 2-D");
      break;
    case OpClass::Conv:
    case OpClass::Pool:
      for (const char *d : {"f32", "f16", "bf16"})
        cap->add_dtypes(d);
      cap->set_min_rank(c == OpClass::Conv ? 1 : 3);
      cap->set_max_rank(4);
      cap->add_constraints("1-D or 2-D window");
      if (c == OpClass::Conv)
        cap->add_constraints("any group count (depthwise: its own kernel)");
      else
        cap->add_constraints("one result (no Indices), storage_order 0");
      break;
    case OpClass::MatMul:
      for (const char *d : {"f32", "f16", "bf16"})
        cap->add_dtypes(d);
      cap->add_constraints("at most 4 broadcast batch dims");
      break;
    case OpClass::QConv:
    case OpClass::QMatMul:
      for (const char *d : {"u8", "i8", "f32", "i32"})
        cap->add_dtypes(d);
      cap->add_constraints("u8 activations; constant weights, scales and "
                           "zero points (weights per channel)");
      if (c == OpClass::QConv)
        cap->set_min_rank(0);
      break;
    case OpClass::View: {
      std::vector<std::string> all;
#define EMBER_ELEM(E, T, C, O) cap->add_dtypes(T);
#include "ir/ElemKinds.def"
      (void)all;
      break;
    }
    case OpClass::Loop:
    case OpClass::Move:
    case OpClass::Gather:
    case OpClass::Concat:
    case OpClass::Split:
    case OpClass::Reduce:
    case OpClass::None:
      for (auto &d : loopDtypes(op))
        cap->add_dtypes(d);
      if (c == OpClass::Move && op == OpKind::Slice)
        cap->add_constraints("starts/ends/axes/steps constant");
      if (c == OpClass::Reduce)
        cap->add_constraints("axes constant");
      if (c == OpClass::Gather)
        cap->add_constraints("indices i32/i64; out-of-range indices clamp");
      break;
    }
  }
}

} // namespace ember::cpugen

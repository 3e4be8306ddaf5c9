// The CPU backend's capability: its op table (CpuOps.def) and everything
// derived from it, the per-node answer (query_support, enforced again by
// executable_compile) and the manifest (get_capabilities). A node is claimed
// when its op has a row, every operand and result has one of the row's
// element kinds and ranks, and the row's check passes; each refusal says
// why.
#include "Capability.h"
#include "Geometry.h"
#include "ember/quant/Arith.h"
#include "ir/OpRegistry.h"

#include "ember/backend/v1/capability.pb.h"

#include <algorithm>
#include <array>

namespace ember::cpugen {

bool loopKind(ElemKind k) { return (kindBit(k) & K_All) != 0; }

namespace {

bool fail(std::string &reason, std::string why) {
  reason = std::move(why);
  return false;
}

std::string kindName(ElemKind k) { return elemKindName(k); }

bool isF32OrF64(ElemKind k) { return k == ElemKind::F32 || k == ElemKind::F64; }

// ---- the rows' checks: rules beyond the row's kinds and ranks ---------------

bool allF32(const Node &n, std::string &reason) {
  ElemKind k = n.inputs[0].type().elem();
  if (k != ElemKind::F32 && !isHalfFloatKind(k))
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

bool checkCast(const Node &n, std::string &reason) {
  if (n.types[0].isQuantized() || n.inputs[0].type().isQuantized())
    return fail(reason, "quantized cast");
  return true;
}

bool checkConstantOfShape(const Node &n, std::string &reason) {
  const Tensor *v = n.attrTensor("value");
  if (v && (v->size() != 1 || !loopKind(v->type().elem())))
    return fail(reason, "value is not a one-element loop kind");
  return true;
}

// Quantize/DequantizeLinear: f32/f64 scales paired with x (or y) as ONNX
// pairs them, 8/16-bit quantized kinds (and i32 into Dequantize), per tensor
// or per axis (no blocks).
bool checkQuantDequant(const Node &n, std::string &reason) {
  if (n.attrInt("block_size", 0) != 0)
    return fail(reason, "blocked quantization");
  bool q = n.kind == OpKind::QuantizeLinear;
  ElemKind xk = n.inputs[0].type().elem(), sk = n.inputs[1].type().elem();
  ElemKind ik = q ? n.types[0].elem() : xk;
  if (!isF32OrF64(sk) || (q && xk != sk) || (!q && n.types[0].elem() != sk))
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

bool checkSlice(const Node &n, std::string &reason) {
  std::vector<int64_t> v;
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (n.inputs[i] && !constantInts(n.inputs[i], v))
      return fail(reason, concat("Slice operand ", i,
                                 " is not a constant integer tensor"));
  return true;
}

bool checkTranspose(const Node &n, std::string &reason) {
  if (n.hasAttr("perm") &&
      n.attrInts("perm").size() != n.inputs[0].type().rank())
    return fail(reason, "perm does not match the rank");
  return true;
}

bool checkGather(const Node &n, std::string &reason) {
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

bool checkPadTile(const Node &n, std::string &reason) {
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (n.inputs[i] && !isConstant(n.inputs[i]))
      return fail(reason, concat("operand ", i, " is not a constant"));
  std::string mode = n.attrString("mode", "constant");
  if (n.kind == OpKind::Pad && mode != "constant" && mode != "edge" &&
      mode != "reflect" && mode != "wrap")
    return fail(reason, concat("mode '", mode, "'"));
  if (n.inputs[0].type().numElements() == 0 && n.types[0].numElements() > 0 &&
      mode != "constant")
    return fail(reason, "padding an empty tensor");
  return true;
}

bool checkReduce(const Node &n, std::string &reason) {
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

bool checkConv(const Node &n, std::string &reason) {
  if (!allF32(n, reason))
    return false;
  // The float32 profile's Conv in ONNX Runtime's summation order
  // (core/interp/kernels/NnConv.cpp): the kernels here sum in their own.
  if (n.attrInt("ort_order", 0) != 0)
    return fail(reason, "a Conv summed in ONNX Runtime's order (the float32 "
                        "profile's ort_order) runs on the host fallback");
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

bool checkConvTranspose(const Node &n, std::string &reason) {
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

bool checkPool(const Node &n, std::string &reason) {
  ElemKind k = n.inputs[0].type().elem();
  if (k == ElemKind::U8 || k == ElemKind::I8) {
    if (n.types[0].elem() != k)
      return fail(reason, "result kind differs from the operand's");
  } else if (!allF32(n, reason)) {
    return false;
  }
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
  // 8-bit windows sum exactly in f32 registers up to 2^24 / 256 taps.
  if ((k == ElemKind::U8 || k == ElemKind::I8) && w.kh * w.kw > 65536)
    return fail(reason, "an 8-bit window of more than 65536 taps");
  const Dims &y = n.types[0].dims();
  if (y.back() != w.ow || (y.size() == 4 && y[2] != w.oh))
    return fail(reason, "result shape differs from the window geometry");
  return true;
}

bool checkMatMul(const Node &n, std::string &reason) {
  if (!allF32(n, reason))
    return false;
  if (n.attrInt("ort_order", 0) != 0) // as for Conv (checkConv)
    return fail(reason, "a MatMul summed in ONNX Runtime's order (the "
                        "float32 profile's ort_order) runs on the host "
                        "fallback");
  const Type &a = n.inputs[0].type(), &b = n.inputs[1].type();
  if (a.rank() < 1 || b.rank() < 1)
    return fail(reason, "scalar operand");
  size_t batchRank = std::max(a.rank(), b.rank());
  batchRank = batchRank > 2 ? batchRank - 2 : 0;
  if (batchRank > 4)
    return fail(reason, "more than 4 batch dims");
  return true;
}

bool is8Bit(ElemKind k) { return k == ElemKind::U8 || k == ElemKind::I8; }

// A constant integer zero point of `count` values (1: per tensor), or
// absent.
bool zeroPointOk(const Node &n, size_t i, int64_t count, std::string &reason) {
  if (!n.hasInput(i))
    return true;
  const Value &v = n.inputs[i];
  if (!isConstant(v))
    return fail(reason, concat("zero point ", i, " is not a constant"));
  int64_t e = v.type().numElements();
  if (v.type().rank() > 1 || (e != 1 && e != count))
    return fail(reason, concat("zero point ", i,
                               " is neither per tensor nor per output "
                               "channel"));
  return true;
}

// ConvInteger / MatMulInteger: 8-bit x and constant 8-bit weights, int32
// result; the runtime packs the weights at compile time.
bool checkConvInteger(const Node &n, std::string &reason) {
  const Type &x = n.inputs[0].type(), &w = n.inputs[1].type();
  if (!is8Bit(x.elem()) || !is8Bit(w.elem()))
    return fail(reason, "operands are not 8-bit");
  if (n.types[0].elem() != ElemKind::I32)
    return fail(reason, "result is not i32");
  if (!isConstant(n.inputs[1]))
    return fail(reason, "weights are not a constant");
  if (x.rank() != 4 || w.rank() != 4)
    return fail(reason, "ConvInteger is 2-D only here");
  if (!zeroPointOk(n, 2, 1, reason) || !zeroPointOk(n, 3, w.dim(0), reason))
    return false;
  int64_t g = n.attrInt("group", 1);
  if (g < 1 || x.dim(1) % g || w.dim(0) % g || w.dim(1) != x.dim(1) / g)
    return fail(reason, "group does not divide the channels");
  std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  if (n.hasAttr("kernel_shape") && n.attrInts("kernel_shape") != kernel)
    return fail(reason, "kernel_shape differs from the weights");
  Window win;
  if (!windowOf(n, x, kernel, false, win, reason))
    return false;
  const Dims &y = n.types[0].dims();
  if (y[2] != win.oh || y[3] != win.ow)
    return fail(reason, "result shape differs from the window geometry");
  return true;
}

// MatMulInteger: a constant 2-D B (weights, packed at compile time; its
// zero point per tensor or per column), or a B computed at run time
// (attention's Q x K^T and P x V in int8 transformers: packed per batch
// matrix at run time, its zero point per tensor), A and B of rank 2 or
// more with numpy batch broadcasting over at most 4 batch dims.
bool checkMatMulInteger(const Node &n, std::string &reason) {
  const Type &a = n.inputs[0].type(), &b = n.inputs[1].type();
  if (!is8Bit(a.elem()) || !is8Bit(b.elem()))
    return fail(reason, "operands are not 8-bit");
  if (n.types[0].elem() != ElemKind::I32)
    return fail(reason, "result is not i32");
  if (isConstant(n.inputs[1]) && b.rank() == 2) {
    if (a.rank() < 1 || a.dims().back() != b.dim(0))
      return fail(reason, "inner dimensions differ");
    return zeroPointOk(n, 2, 1, reason) && zeroPointOk(n, 3, b.dim(1), reason);
  }
  if (a.rank() < 2 || b.rank() < 2)
    return fail(reason, "MatMulInteger needs a 2-D constant B, or A and B "
                        "of rank 2 or more");
  if (a.dims().back() != b.dim(b.rank() - 2))
    return fail(reason, "inner dimensions differ");
  if (std::max(a.rank(), b.rank()) - 2 > 4)
    return fail(reason, "more than 4 batch dims");
  return zeroPointOk(n, 2, 1, reason) && zeroPointOk(n, 3, 1, reason);
}

// An optional scalar integer operand.
bool scalarIntOk(const Node &n, size_t i, std::string &reason) {
  if (!n.hasInput(i))
    return true;
  if (n.inputs[i].type().numElements() != 1)
    return fail(reason, concat("operand ", i, " is not a scalar"));
  return true;
}

// Requantize: an integer of at most 32 bits into u8/i8, with i32
// multiplier/shift tables (the fixed profile) or an f32 multiplier table
// and no shift (float32) of one entry or one per index of `axis`.
bool checkRequantize(const Node &n, std::string &reason) {
  const Type &x = n.inputs[0].type();
  if (!is8Bit(n.types[0].elem()))
    return fail(reason, "result is not 8-bit");
  const Type &m = n.inputs[1].type();
  if (m.elem() == ElemKind::F32) {
    if (n.hasInput(2) || m.rank() > 1)
      return fail(reason, "an f32 multiplier is not a vector without shift");
  } else {
    if (!n.hasInput(2))
      return fail(reason, "an i32 multiplier without its shift");
    const Type &e = n.inputs[2].type();
    if (m.elem() != ElemKind::I32 || e.elem() != ElemKind::I32 ||
        m.rank() > 1 || e.rank() > 1 || m.numElements() != e.numElements())
      return fail(reason,
                  "multiplier and shift are not i32 vectors of one size");
  }
  if (m.numElements() != 1) {
    int64_t r = int64_t(x.rank()), axis = n.attrInt("axis", 1);
    if (axis < 0)
      axis += r;
    if (axis < 0 || axis >= r || m.numElements() != x.dim(size_t(axis)))
      return fail(reason, "per-axis multiplier does not match the axis");
  }
  return scalarIntOk(n, 3, reason) && scalarIntOk(n, 4, reason);
}

bool checkQuantizedAdd(const Node &n, std::string &reason) {
  if (n.types[0].elem() != ElemKind::U8 && n.types[0].elem() != ElemKind::I8)
    return fail(reason, "result is not 8-bit");
  quant::AddFixed p;
  if (n.hasAttr("y_scale") && (!is8Bit(n.inputs[0].type().elem()) ||
                               !is8Bit(n.inputs[1].type().elem())))
    return fail(reason, "the exact add of a 16-bit operand");
  if (n.hasAttr("y_scale") && !exactAddParams(n, p))
    return fail(reason, "the exact add's scales lie too far apart for a "
                        "64-bit form (48-bit multipliers)");
  return true;
}

// TableLookup: 8-bit x and a constant 256-entry table, or i16 x and the
// constant i16[513] interpolated table (quant::tableLookup16).
bool checkTableLookup(const Node &n, std::string &reason) {
  const Type &t = n.inputs[1].type();
  if (n.inputs[0].type().elem() == ElemKind::I16) {
    if (!isConstant(n.inputs[1]) || t.elem() != ElemKind::I16 ||
        t.rank() != 1 || t.numElements() != quant::kTable16Entries)
      return fail(reason, "the 16-bit table is not a constant i16[513]");
    return true;
  }
  if (!is8Bit(n.inputs[0].type().elem()))
    return fail(reason, "x is not 8-bit or i16");
  if (!isConstant(n.inputs[1]) || t.rank() != 1 || t.numElements() != 256)
    return fail(reason, "the table is not a constant of 256 entries");
  return true;
}

// The constant axis of CumSum (operand 1) or TopK (attribute), in range.
bool axisInRange(const Node &n, int64_t axis, std::string &reason) {
  int64_t r = int64_t(n.inputs[0].type().rank());
  if (r == 0)
    return fail(reason, "scalar operand");
  if (axis < -r || axis >= r)
    return fail(reason, concat("axis ", axis, " is out of range"));
  return true;
}

// QuantizedSoftmax: 8-bit x, a constant f32[256] table, the axis in range.
bool checkQuantizedSoftmax(const Node &n, std::string &reason) {
  const Type &t = n.inputs[1].type();
  if (!is8Bit(n.inputs[0].type().elem()))
    return fail(reason, "x is not 8-bit");
  if (!isConstant(n.inputs[1]) || t.elem() != ElemKind::F32 || t.rank() != 1 ||
      t.numElements() != quant::kSoftmaxTableEntries)
    return fail(reason, "the table is not a constant f32[256]");
  return axisInRange(n, n.attrInt("axis", -1), reason);
}

// u8, i8 or i16: the stored kinds of the fixed profile's integer rows.
bool isRowKind(ElemKind k) { return is8Bit(k) || k == ElemKind::I16; }

// IntegerSoftmax: x and y 8- or 16-bit, the axis in range, the output
// multiplier not negative.
bool checkIntegerSoftmax(const Node &n, std::string &reason) {
  if (!isRowKind(n.inputs[0].type().elem()) || !isRowKind(n.types[0].elem()))
    return fail(reason, "x or y is not u8/i8/i16");
  // (The generated rows take the product by 1 / s_y as nonnegative, what
  // quant::makeSoftmaxParams gives.)
  if (n.attrInt("out_multiplier", 0) < 0)
    return fail(reason, "out_multiplier is negative");
  return axisInRange(n, n.attrInt("axis", -1), reason);
}

// IntegerNormalization: x and y 8- or 16-bit, the axis in range; the
// multiplier and shift i32, the bias i64, all three of one entry or of one
// per element of a row.
bool checkIntegerNormalization(const Node &n, std::string &reason) {
  const Type &x = n.inputs[0].type();
  if (!isRowKind(x.elem()) || !isRowKind(n.types[0].elem()))
    return fail(reason, "x or y is not u8/i8/i16");
  if (!axisInRange(n, n.attrInt("axis", -1), reason))
    return false;
  int64_t axis = n.attrInt("axis", -1);
  if (axis < 0)
    axis += int64_t(x.rank());
  int64_t row = 1;
  for (size_t d = size_t(axis); d < x.rank(); ++d)
    row *= x.dims()[d];
  const int64_t c = n.inputs[1].type().numElements();
  if (n.inputs[1].type().elem() != ElemKind::I32 ||
      n.inputs[2].type().elem() != ElemKind::I32 ||
      n.inputs[3].type().elem() != ElemKind::I64)
    return fail(reason, "the multiplier and shift are not i32 or the bias "
                        "not i64");
  if ((c != 1 && c != row) || n.inputs[2].type().numElements() != c ||
      n.inputs[3].type().numElements() != c)
    return fail(reason, concat("the multiplier, shift and bias do not all "
                               "have 1 or ",
                               row, " entries"));
  return true;
}

// CumSum: the axis a constant in range, or a scalar known at run time (the
// code then has a scan per axis).
bool checkCumSum(const Node &n, std::string &reason) {
  const Type &at = n.inputs[1].type();
  if (at.numElements() != 1 || at.rank() > 1 ||
      (at.elem() != ElemKind::I32 && at.elem() != ElemKind::I64))
    return fail(reason, "axis is not an i32/i64 scalar");
  std::vector<int64_t> axis;
  if (!constantInts(n.inputs[1], axis))
    return n.inputs[0].type().rank() > 0 || fail(reason, "scalar operand");
  return axisInRange(n, axis[0], reason);
}

// A custom op whose library is loaded here (the program's op_libraries).
bool checkCustom(const Node &n, std::string &reason) {
  auto op = requireCustomOp(n);
  return op || fail(reason, op.status().message());
}

bool checkTopK(const Node &n, std::string &reason) {
  std::vector<int64_t> k;
  if (!constantInts(n.inputs[1], k) || k.size() != 1)
    return fail(reason, "K is not a constant");
  if (n.types[1].elem() != ElemKind::I64)
    return fail(reason, "indices are not i64");
  return axisInRange(n, n.attrInt("axis", -1), reason);
}

bool checkScatterND(const Node &n, std::string &reason) {
  ElemKind ik = n.inputs[1].type().elem();
  if (ik != ElemKind::I32 && ik != ElemKind::I64)
    return fail(reason, "indices must be i32 or i64");
  if (n.inputs[0].type().rank() == 0 || n.inputs[1].type().rank() == 0)
    return fail(reason, "scalar data or indices");
  std::string red = n.attrString("reduction", "none");
  if (red != "none" && red != "add" && red != "mul" && red != "max" &&
      red != "min")
    return fail(reason, concat("reduction '", red, "'"));
  return true;
}

bool checkRecurrent(const Node &n, std::string &reason) {
  ElemKind xk = n.inputs[0].type().elem();
  if (xk != ElemKind::F32 && !isHalfFloatKind(xk))
    return fail(reason, "X is not f32, f16 or bf16");
  if (n.hasInput(4)) {
    ElemKind lk = n.inputs[4].type().elem();
    if (lk != ElemKind::I32 && lk != ElemKind::I64)
      return fail(reason, "sequence_lens must be i32 or i64");
  }
  RecurrentCell cell;
  RecurrentShape p;
  if (!recurrentGeometry(n, cell, p, reason))
    return false;
  for (const RecurrentAct &a : p.acts)
    if (a.name == "Softplus")
      return fail(reason, "activation Softplus");
  return true;
}

// ---- the table --------------------------------------------------------------

using CheckFn = bool (*)(const Node &, std::string &);

struct Row {
  OpKind op;
  OpClass step;
  KindSet kinds;
  unsigned minRank, maxRank;
  CheckFn check;
  const char *constraints; // "|"-separated
};

constexpr Row kRows[] = {
#define EMBER_CPU_OP(Name, Step, Kinds, MinRank, MaxRank, Check, Constraints)  \
  {OpKind::Name, OpClass::Step, Kinds, MinRank, MaxRank, Check, Constraints},
#include "CpuOps.def"
};

// Compile-time checks against Ops.def: every row is a primitive (what
// survives lowering) and no op has two rows.
constexpr bool rowsArePrimitives() {
  for (const Row &r : kRows)
    if (!isPrimitive(r.op))
      return false;
  return true;
}
static_assert(rowsArePrimitives(),
              "CpuOps.def lists an op that is not a Primitive in Ops.def");
constexpr bool rowsAreUnique() {
  for (size_t i = 0; i < std::size(kRows); ++i)
    for (size_t j = i + 1; j < std::size(kRows); ++j)
      if (kRows[i].op == kRows[j].op)
        return false;
  return true;
}
static_assert(rowsAreUnique(), "CpuOps.def lists an op twice");
static_assert((K_Every & K_Op) == 0, "K_Op must not be an element kind");

// The row of each op, or null.
const Row *rowOf(OpKind k) {
  static const std::array<const Row *, kNumOps> index = [] {
    std::array<const Row *, kNumOps> a{};
    for (const Row &r : kRows)
      a[unsigned(r.op)] = &r;
    return a;
  }();
  return index[unsigned(k)];
}

// The row's element kinds: K_Op resolved to the op's Types class, limited to
// the kinds the generated code handles (no narrow kinds).
KindSet kindsOf(const Row &r) {
  KindSet s = r.kinds & ~K_Op;
  if (r.kinds & K_Op) {
    OpTypes t = opInfo(r.op).types;
    for (unsigned e = 0; e < 32; ++e)
      if ((K_Every & (KindSet(1) << e)) && kindInClass(t, ElemKind(e)))
        s |= KindSet(1) << e;
  }
  return s & K_All;
}

// "f32, f64, f16, bf16, ..." in a fixed order (floats, integers, bool, the
// narrow kinds).
std::vector<ElemKind> kindList(KindSet s) {
  static const ElemKind order[] = {ElemKind::F32,  ElemKind::F64, ElemKind::F16,
                                   ElemKind::BF16, ElemKind::I8,  ElemKind::U8,
                                   ElemKind::I16,  ElemKind::U16, ElemKind::I32,
                                   ElemKind::U32,  ElemKind::I64, ElemKind::U64,
                                   ElemKind::Bool};
  std::vector<ElemKind> out;
  for (ElemKind k : order)
    if (s & kindBit(k))
      out.push_back(k);
  for (unsigned e = 0; e < 32; ++e)
    if ((s & (KindSet(1) << e)) && isMiniKind(ElemKind(e)))
      out.push_back(ElemKind(e));
  return out;
}

std::string kindsText(KindSet s) {
  std::string t;
  for (ElemKind k : kindList(s))
    t += (t.empty() ? "" : ", ") + kindName(k);
  return t;
}

// Operands and results within the row's kinds and ranks.
bool kindsAndRanks(const Row &r, const Node &n, std::string &reason) {
  KindSet kinds = kindsOf(r);
  auto check = [&](const char *what, size_t i, const Type &t) {
    if (!(kinds & kindBit(t.elem())))
      return fail(reason, concat(what, " ", i, " is ", kindName(t.elem()),
                                 " (the CPU backend's ", nodeOpName(n),
                                 " takes ", kindsText(kinds), ")"));
    if ((r.minRank && t.rank() < r.minRank) ||
        (r.maxRank && t.rank() > r.maxRank))
      return fail(reason,
                  concat(what, " ", i, " has rank ", t.rank(),
                         " (the CPU backend's ", nodeOpName(n), " takes ranks ",
                         r.minRank, " to ", r.maxRank, ")"));
    return true;
  };
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (n.inputs[i] && !check("operand", i, n.inputs[i].type()))
      return false;
  for (size_t i = 0; i < n.types.size(); ++i)
    if (!check("result", i, n.types[i]))
      return false;
  return true;
}

} // namespace

OpClass opClass(OpKind k) {
  const Row *r = rowOf(k);
  return r ? r->step : OpClass::None;
}

LoopOp loopOpOf(OpKind k) {
  static const std::array<LoopOp, kNumOps> index = [] {
    std::array<LoopOp, kNumOps> a{};
#define EMBER_CPU_OP(Name, ...)
#define EMBER_CPU_LOOP(Name, Kinds, Check)                                     \
  a[unsigned(OpKind::Name)] = LoopOp::Name;
#include "CpuOps.def"
    return a;
  }();
  return index[unsigned(k)];
}

GatherOp gatherOpOf(OpKind k) {
  static const std::array<GatherOp, kNumOps> index = [] {
    std::array<GatherOp, kNumOps> a{};
#define EMBER_CPU_OP(Name, ...)
#define EMBER_CPU_GATHER(Name, Kinds, Check, Constraints)                      \
  a[unsigned(OpKind::Name)] = GatherOp::Name;
#include "CpuOps.def"
    return a;
  }();
  return index[unsigned(k)];
}

bool nodeSupported(const Node &n, std::string &reason) {
  const Row *r = rowOf(n.kind);
  if (!r)
    return fail(reason,
                concat("the CPU code generator has no ", opName(n.kind)));
  if (r->step != OpClass::View)
    for (auto &in : n.inputs)
      if (in && in.type().isQuantized())
        return fail(reason, concat("quantized operand ", in.type().toString()));
  if (!kindsAndRanks(*r, n, reason))
    return false;
  return !r->check || r->check(n, reason);
}

void fillManifest(backend::v1::CapabilityManifest &m) {
  for (const Row &r : kRows) {
    if (r.op == OpKind::Custom) {
      // Not by name: any custom op that reaches it whole, by its kernel.
      m.set_custom_op_kernels(true);
      continue;
    }
    auto *cap = m.add_ops();
    cap->set_op(opName(r.op));
    for (ElemKind k : kindList(kindsOf(r)))
      cap->add_dtypes(elemKindName(k));
    cap->set_min_rank(r.minRank);
    cap->set_max_rank(r.maxRank);
    std::string c = r.constraints;
    for (size_t p = 0; !c.empty() && p <= c.size();) {
      size_t bar = c.find('|', p);
      cap->add_constraints(
          c.substr(p, bar == std::string::npos ? bar : bar - p));
      if (bar == std::string::npos)
        break;
      p = bar + 1;
    }
  }
}

bool exactAddParams(const Node &n, quant::AddFixed &p) {
  quant::AddScales s;
  s.sa = float(n.attrFloat("a_scale", 0));
  s.sb = float(n.attrFloat("b_scale", 0));
  s.sy = float(n.attrFloat("y_scale", 0));
  s.za = int32_t(n.attrInt("a_zero_point", 0));
  s.zb = int32_t(n.attrInt("b_zero_point", 0));
  s.zy = int32_t(n.attrInt("y_zero_point", 0));
  // The clamp of LoopOps' clampRange: [min, max] within the result type.
  bool sg = n.types[0].elem() == ElemKind::I8;
  int64_t tlo = sg ? -128 : 0, thi = sg ? 127 : 255;
  int64_t lo = std::max<int64_t>(n.attrInt("min", tlo), tlo);
  int64_t hi = std::max(lo, std::min<int64_t>(n.attrInt("max", thi), thi));
  auto lowest = [](ElemKind k) { return k == ElemKind::I8 ? -128 : 0; };
  return quant::makeAddFixed(s, lowest(n.inputs[0].type().elem()),
                             lowest(n.inputs[1].type().elem()), int32_t(lo),
                             int32_t(hi), p);
}

} // namespace ember::cpugen

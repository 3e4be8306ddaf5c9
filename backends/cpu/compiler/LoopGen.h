// The code generator of one fused loop group, shared by the loop, Concat and
// Split emitters: CodegenLoop.cpp plans its loads (affine, gather and table
// index maps) and evaluates the group's expression per element; LoopOps.cpp
// holds each Loop op's arithmetic (LoopGen::op, one case per Loop row of
// CpuOps.def). Internal to the code generator.
#pragma once

#include "Capability.h"
#include "Codegen.h"

#include <llvm/IR/Intrinsics.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace ember::cpugen {

// ---- index-space helpers (CodegenLoop.cpp) ---------------------------------

// Floats are isComputeFloatKind: f32, f64, and the 16-bit kinds
// (isHalfFloatKind), which compute in f32 registers and are rounded to their
// kind after every op (the reference computes in float and stores each
// result).

// Signed integers (isSignedKind includes the floats).
bool isSignedInt(ElemKind k);
// Bits of a kind's value (bool: 1).
unsigned kindBits(ElemKind k);
// Row-major strides of dims d.
std::vector<int64_t> contiguous(const Dims &d);

// v (when an instruction) with reassociation allowed: a sum of f32
// elements in double that the loop vectorizer may split into several
// partial sums (CodegenReduce.cpp, CodegenSoftmax.cpp).
inline llvm::Value *allowReassoc(llvm::Value *v) {
  if (auto *ins = llvm::dyn_cast<llvm::Instruction>(v)) {
    llvm::FastMathFlags fmf;
    fmf.setAllowReassoc();
    ins->setFastMathFlags(fmf);
  }
  return v;
}

// Strides over `from` broadcast (numpy rules, right-aligned) to `to`.
std::vector<int64_t> broadcastTo(const std::vector<int64_t> &strides,
                                 const Dims &from, const Dims &to);

// Coalesces loop dims: drops extent-1 dims and merges neighbours that every
// stride vector walks contiguously. Updates dims and all vectors. With
// `mayMerge`, a dim d merges into the new dim ending at original dim
// `last` only where mayMerge(last, d) also holds; with `from`, it receives
// the last original dim of each new dim (empty when every dim had extent 1).
void coalesce(Dims &dims, std::vector<std::vector<int64_t> *> vecs,
              const std::function<bool(size_t last, size_t d)> &mayMerge = {},
              std::vector<size_t> *from = nullptr);

// Orders the loop dims by the last vector's strides (the store),
// outermost first, so a result stored in another layout than its logical
// order (channels-last int8 tensors) is written contiguously by the inner
// loop instead of one strided byte at a time. Every element is computed
// independently, so any order is correct; ties keep the logical order.
void storeOrder(Dims &dims, std::vector<std::vector<int64_t> *> vecs);

// Slice bounds normalized as the reference kernel does: first index and
// step per axis of the operand.
void sliceMap(const Node &n, std::vector<int64_t> &first,
              std::vector<int64_t> &step);

// The evaluation of one fused loop group.
struct LoopGen {
  Codegen &cg;
  const Group &g;
  llvm::IRBuilder<> &b;
  Dims dims; // the loop's index space (the root's result dims)
  std::vector<Leaf> leaves;
  std::map<ValueKey, int> leafOf;
  // Loads that are not numpy broadcasts: per-axis quantization parameters.
  std::map<std::pair<const Node *, size_t>, int> special;
  std::vector<llvm::Value *> bases;           // per leaf, in the task
  std::map<const Node *, llvm::Value *> memo; // per iteration
  std::vector<llvm::Value *> idx;
  // Loads of the leaves marked here carry `noaliasOut` (!noalias of the
  // loop's store scope): their bytes are disjoint from the result's, so
  // LLVM may hoist a broadcast operand's load out of the inner loop and
  // vectorize it (emitLoopGroup).
  std::vector<bool> disjointFromOut;
  llvm::MDNode *noaliasOut = nullptr;
  // How many of ember/math's f32 curves (exp, tanh, erf) the expression
  // evaluated: long chains of dependent operations, which the loop around
  // them runs several vectors of at a time (Codegen::interleaveCurves).
  unsigned curves = 0;

  LoopGen(Codegen &c, const Group &grp, llvm::IRBuilder<> &builder, Dims d)
      : cg(c), g(grp), b(builder), dims(std::move(d)) {}

  int addLeaf(const Leaf &l);

  // Leaf for operand value v (materialized or a folded Move) read at the
  // loop index, broadcast to the loop dims.
  int leafFor(const Value &v);

  // Scale or zero point (operand i) of QuantizeLinear/DequantizeLinear n:
  // one value, or one per index of the `axis` dim of operand 0.
  int axisLeaf(const Node &n, size_t i);

  // GatherElements node n (a member): data read at the indices' value
  // along `axis`, elsewhere at the loop index.
  int gatherElementsLeaf(const Node &n);

  // Pad/Tile node n: its operand read through per-axis source tables (the
  // reference kernel's gatherByTables).
  int tableLeaf(const Node &n);

  // Gather node n (a member): leaves for its indices and data.
  int indexLeaf(const Node &n);

  // Resize node n (ops/Resize.cpp): nearest reads its operand through
  // per-axis source tables (one leaf); linear and cubic read one leaf per
  // tap combination, weighted by per-axis weight tables in resizeValue.
  int resizeLeaf(const Node &n);
  llvm::Value *resizeValue(const Node &n);
  // Separable linear/cubic (ops/Resize.cpp, "Row buffers"): for a loop
  // whose innermost dim is the last interpolation pass's (a row-major
  // result, W innermost), resizeRows marks the plans whose earlier passes
  // go into a row buffer once per output row; allocRows makes the buffers
  // (at the task's entry), fillRows computes them (before the innermost
  // loop, outer indices set), and resizeValue then reads the last pass's
  // taps from the buffer. Returns how many plans use one.
  size_t resizeRows(size_t innerDim);
  void allocRows();
  void fillRows();
  // Dim whose table address() ignores (reads idx through the stride):
  // the row pass walks the input's row itself.
  int rawDim = -1;
  // Per-node plans of ops whose value needs more than a leaf (Resize).
  std::map<const Node *, std::shared_ptr<void>> plans;

  // A Gather row's member (a switch over GatherOp): plans its loads, and
  // gives its value at the loop index.
  int gatherLeaf(const Node &n);
  llvm::Value *gatherValue(const Node &n);

  // First pass: which loads the expression needs.
  void plan(const Value &v);

  llvm::Type *regType(ElemKind k);

  // A table of source indices as a constant global.
  llvm::Value *table(const std::vector<int64_t> &t);

  llvm::Value *valid = nullptr; // set by address() for tables with fills

  llvm::Value *address(int leaf, std::vector<int64_t> *stridesOverride);

  // 16-bit float storage <-> f32 registers (F16: IEEE half, RNE; BF16: the
  // reference's bit rounding, NaN quieted).
  llvm::Value *widen(llvm::Value *bitsV, ElemKind k);
  llvm::Value *narrow(llvm::Value *f, ElemKind k);
  llvm::Value *roundTo(llvm::Value *f, ElemKind k);

  llvm::Value *load(int leaf);

  llvm::Value *constant(ElemKind k, double v);

  llvm::Value *eval(const Value &v);

  llvm::Value *call(const std::string &name, llvm::Type *t,
                    std::vector<llvm::Value *> args);
  llvm::Value *libm(const char *name, ElemKind k, llvm::Value *x);
  llvm::Value *intrinsic(llvm::Intrinsic::ID id, llvm::Value *x);
  // Exp of a float kind (Exp, Sigmoid): ember/math/Exp.h inline for f32
  // and the 16-bit floats, the C library's for f64 (as the interpreter).
  llvm::Value *expOf(ElemKind k, llvm::Value *x);
  // The same for an x known to be <= 0 or NaN (a softmax's x - max, a
  // sigmoid's -|x|): the same bits without the upper clamp.
  llvm::Value *expNonPositiveOf(ElemKind k, llvm::Value *x);

  llvm::Value *cast(llvm::Value *v, ElemKind from, ElemKind to);
  // f32 to an integer of at most 32 bits (type tt) with the reference's
  // rule, in f32 and i32 arithmetic (vectorizable on AVX2).
  llvm::Value *floatToNarrowInt(llvm::Value *v, llvm::Type *tt);
  static bool clampBounds(const Value &v, double &lo, double &hi);
  llvm::Value *boundedFloatToInt(llvm::Value *v, llvm::Type *tt);

  // Integer division with the reference's rules for 0 and -1 divisors.
  llvm::Value *safeDivisor(llvm::Value *d, bool sgn);

  llvm::Value *minMax(bool isMax, ElemKind k, llvm::Value *cur, llvm::Value *v);

  llvm::Value *op(const Node &n, std::vector<llvm::Value *> &o);
  // op's longer cases: integer division and shifts, Pow, the quantized ops.
  llvm::Value *divide(const Node &n, std::vector<llvm::Value *> &o);
  llvm::Value *modulo(const Node &n, std::vector<llvm::Value *> &o);
  llvm::Value *power(const Node &n, std::vector<llvm::Value *> &o);
  llvm::Value *bitShift(const Node &n, std::vector<llvm::Value *> &o);
  llvm::Value *quantizeLinear(const Node &n, std::vector<llvm::Value *> &o);
  llvm::Value *requantize(const Node &n, std::vector<llvm::Value *> &o);
  llvm::Value *quantizedAdd(const Node &n, std::vector<llvm::Value *> &o);
  llvm::Value *tableLookup(const Node &n, std::vector<llvm::Value *> &o);
  llvm::Value *dequantizeLinear(const Node &n, std::vector<llvm::Value *> &o);
};

// quant::mbqm on i32 registers x, m and e (LoopOps.cpp): floor((x * m +
// 2^(30 - e)) / 2^(31 - e)), e clamped to [-31, 30], saturated to int32.
llvm::Value *mbqm(llvm::IRBuilder<> &b, llvm::Value *x, llvm::Value *m,
                  llvm::Value *e);

} // namespace ember::cpugen

// Helpers shared by the lowerings in several Lower*.cpp files.
#pragma once

#include "lower/Lowering.h"

#include <set>

namespace ember {

// v converted to element kind k (v itself when it has it).
Expected<Value> castTo(LoweringBuilder &b, Value v, ElemKind k);

// Arithmetic type: f32 for 16-bit floats, else the type itself.
ElemKind wideKind(ElemKind k);

// `axis` normalized against `rank`, or an error naming `op`.
Expected<int64_t> checkedAxis(const char *op, int64_t axis, size_t rank);

// x * Sigmoid(alpha * x).
Expected<Value> swish(LoweringBuilder &b, Value x, double alpha);

// The value of a Constant operand, or null.
const Tensor *constantOf(Value v);

// A node of kind k on `ins` made in f just before `before`, named `name`:
// its first result.
Expected<Value> makeBefore(Function &f, Node *before, OpKind k,
                           std::vector<Value> ins, AttrMap attrs,
                           const std::string &name);
// Int8 weights w (a 0-1 selection: which input element each output takes)
// as the float weights they are: DequantizeLinear(w, 1, 0) made by b.
Expected<Value> selectionWeights(LoweringBuilder &b, Tensor w,
                                 const std::string &what);
// An i64 constant of the values v, named `name`.
Value int64Constant(Function &f, const std::string &name,
                    const std::vector<int64_t> &v);

// The channel range [a, b) a Slice keeps when it slices axis 1 of its
// operand (of dims `dims`, rank 2 or more) alone, with step 1 and constant
// bounds (ONNX's clamping: negative bounds count from the end, then
// [0, C]), and keeps at least one channel; false otherwise.
bool channelSliceRange(const Node &s, const Dims &dims, int64_t &a, int64_t &b);

// n is a DequantizeLinear (QuantizeLinear) of one scale and zero point
// (constants of one element).
bool perTensorDequantize(const Node *n);
bool perTensorQuantize(const Node *n);

// The one node reading n's results (users: Function::computeUsers()), or
// null when n has several readers, none, or is a function output.
Node *
soleReaderOf(const std::unordered_map<const Node *, std::vector<Use>> &users,
             const Node *n);

// Erases n when nothing reads it, and then each Constant it read (each
// node, with everyInput) that nothing else reads, and so on up; every node
// erased joins `gone` (which a caller may keep across calls: a node in it
// is not erased again).
void eraseUnread(Function &f, Node *n, std::set<const Node *> &gone,
                 bool everyInput = false);

// The node's results computed now by its reference kernel (evaluateNode)
// and returned as constants. Operands must be constants, or (allowUnknown)
// are read as zeros of their type, so only use this where the kernel does
// not read them (or where type inference already required them to be
// constant).
Expected<std::vector<Value>> foldToConstants(LoweringBuilder &b,
                                             bool allowUnknown);

} // namespace ember

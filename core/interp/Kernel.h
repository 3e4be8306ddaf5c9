// The reference kernel interface. One kernel per op (kernel_<Name>, declared
// from Ops.def). A kernel both infers result types and computes: it first
// derives each result's Type and calls setOutput(); in type-inference mode
// (inferOnly()) it returns right after, and operand tensors may carry no
// data (hasData() false) unless they are constants. A kernel that needs an
// operand's *values* to know a result shape asks with ints()/floats(); those
// fail with a DataDependent error when the values are unknown.
#pragma once

#include "ir/Graph.h"

#include <cmath>
#include <vector>

namespace ember {

class KernelContext {
public:
  KernelContext(const Node &n, std::vector<const Tensor *> ins, bool inferOnly)
      : node_(n), ins_(std::move(ins)), inferOnly_(inferOnly),
        outs_(n.types.size()) {}

  const Node &node() const { return node_; }
  bool inferOnly() const { return inferOnly_; }
  size_t numInputs() const { return ins_.size(); }
  bool has(size_t i) const { return i < ins_.size() && ins_[i]; }
  const Tensor &in(size_t i) const { return *ins_[i]; }
  size_t numOutputs() const { return outs_.size(); }

  // Values of operand i (which must be present), needed at compile time.
  Expected<std::vector<int64_t>> ints(size_t i) const;
  Expected<std::vector<double>> floats(size_t i) const;
  // Operand i's tensor with data, or a DataDependent error.
  Expected<const Tensor *> valueOf(size_t i) const;

  // Declares result i and, outside type inference, allocates it.
  Tensor &setOutput(size_t i, Type t);
  Tensor &out(size_t i) { return outs_[i]; }
  std::vector<Tensor> &outputs() { return outs_; }

  // Attribute access (node attributes after import normalization).
  bool hasAttr(const char *n) const { return node_.hasAttr(n); }
  int64_t attrInt(const char *n, int64_t def = 0) const {
    return node_.attrInt(n, def);
  }
  double attrFloat(const char *n, double def = 0) const {
    return node_.attrFloat(n, def);
  }
  std::string attrString(const char *n, const std::string &def = "") const {
    return node_.attrString(n, def);
  }
  std::vector<int64_t> attrInts(const char *n) const {
    return node_.attrInts(n);
  }
  std::vector<double> attrFloats(const char *n) const {
    return node_.attrFloats(n);
  }

  // An error naming this node: "Reshape: <what>".
  template <typename... A> Status error(const A &...a) const {
    return invalid(opName(node_.kind), ": ", a...);
  }
  template <typename... A> Status unsupportedError(const A &...a) const {
    return unsupported(opName(node_.kind), ": ", a...);
  }

private:
  const Node &node_;
  std::vector<const Tensor *> ins_;
  bool inferOnly_;
  std::vector<Tensor> outs_;
};

using KernelFn = Status (*)(KernelContext &);

#define EMBER_OP(Name, ...) Status kernel_##Name(KernelContext &ctx);
#include "ir/Ops.def"

KernelFn kernelFor(OpKind k);

// ---- helpers shared by kernels --------------------------------------------

// Operand i as one integer (a rank-0 or [1] integer tensor whose value is
// known), or an error naming it `what`.
Expected<int64_t> scalarIntOperand(const KernelContext &ctx, size_t i,
                                   const char *what);

// Normalizes a possibly negative axis against rank; error when out of range.
Expected<int64_t> normalizeAxis(const KernelContext &ctx, int64_t axis,
                                size_t rank);

// Index of the element of a broadcast operand `in` (shape inDims, aligned
// to the right of outDims) for the multi-index of output element `flat`.
class BroadcastIndexer {
public:
  BroadcastIndexer(const Dims &outDims, const Dims &inDims);
  int64_t map(int64_t flat) const;

private:
  Dims outDims_;
  std::vector<int64_t> inStrides_; // per output dim; 0 where broadcast
  bool identity_ = false;
};

// True for Float16/BFloat16/float/double storage types.
template <typename T>
constexpr bool isFloatLike =
    std::is_floating_point_v<T> || std::is_same_v<T, Float16> ||
    std::is_same_v<T, BFloat16>;

// The type arithmetic on T is computed in (float for 16-bit floats).
template <typename T> struct ComputeType { using type = T; };
template <> struct ComputeType<Float16> { using type = float; };
template <> struct ComputeType<BFloat16> { using type = float; };
template <typename T> using ComputeT = typename ComputeType<T>::type;

// v rounded to the precision of float kind k (f16, bf16, f32); other kinds
// return v unchanged. For kernels that mirror ONNX's per-step rounding.
inline double roundToKind(ElemKind k, double v) {
  switch (k) {
  case ElemKind::F16:
    return double(float(Float16(float(v))));
  case ElemKind::BF16:
    return double(float(BFloat16(float(v))));
  case ElemKind::F32:
    return double(float(v));
  default:
    return v;
  }
}

} // namespace ember

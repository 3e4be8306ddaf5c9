// The reference kernel interface. One kernel per op (kernel_<Name>, declared
// from Ops.def, defined in interp/kernels/<Family>.cpp). A kernel only
// computes: the op's type rule (types_<Name>, ir/TypeRules.h) has already
// run on the kernel's actual operands and its results are allocated with the
// types the rule recorded. A kernel that needs a value the rule derived
// (window geometry, axes, a reduction plan, ...) calls the same parse helper
// in ir/typerules/ the rule uses (cheap next to the kernel's work), rather
// than deriving it with code of its own. Where the derivation is the op's
// work itself (the selections of data-dependent ops), the rule keeps it
// with keepForKernel() and the kernel reads it with keptByRule().
#pragma once

#include "ir/TypeRules.h"

#include <cmath>
#include <vector>

namespace ember {

// The context a kernel computes in: a TypeContext over the actual operands
// (every operand has data) that also holds the results. runKernel() runs the
// op's type rule on it, allocates each result from the recorded type, then
// calls the kernel, which reads the results with out(i) and fills them.
class KernelContext : public TypeContext {
public:
  KernelContext(const Node &n, std::vector<const Tensor *> ins)
      : TypeContext(n, std::move(ins), /*runTime=*/true),
        outs_(n.types.size()) {}

  Tensor &out(size_t i) { return outs_[i]; }
  std::vector<Tensor> &outputs() { return outs_; }

  // The value the type rule kept with keepForKernel().
  template <typename T> Expected<const T *> keptByRule() const {
    if (const T *v = std::any_cast<T>(&kept_))
      return v;
    return makeError(ErrorCode::Internal, opName(node_.kind),
                     ": the type rule kept no value for the kernel");
  }

private:
  friend Status runKernel(KernelContext &ctx);
  // Result types come from the type rule, never from the kernel.
  using TypeContext::setOutput;
  std::vector<Tensor> outs_;
};

using KernelFn = Status (*)(KernelContext &);

#define EMBER_OP(Name, ...) Status kernel_##Name(KernelContext &ctx);
#include "ir/Ops.def"

// Runs node ctx.node()'s type rule on the actual operands (so shapes that
// depend on operand values resolve), allocates the results, then runs its
// kernel. The one way kernels are called.
Status runKernel(KernelContext &ctx);

// ---- helpers shared by kernels --------------------------------------------

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

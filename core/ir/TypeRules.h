// Type rules: one per op (types_<Name>, declared from Ops.def, defined in
// ir/typerules/<Family>.cpp). A rule derives each result's Type from the
// operands' types (and, where a result shape depends on them, the operands'
// values) and records it with setOutput(). inferNodeTypes (Graph.h) runs the
// rule with type-only operands, constants carrying their data; the reference
// interpreter's kernels (interp/Kernel.h) run the same rule on the actual
// operands, so one definition serves type inference and execution. A rule
// that needs an operand's *values* asks with ints()/floats()/valueOf();
// those fail with a DataDependent error when the values are unknown.
// Type rules never execute anything (control-flow rules read the subgraphs'
// declared types): the ir layer does not depend on the interpreter.
#pragma once

#include "ir/Graph.h"
#include "ir/OpRegistry.h"

#include <any>
#include <string>
#include <vector>

namespace ember {

class TypeContext {
public:
  TypeContext(const Node &n, std::vector<const Tensor *> ins,
              bool runTime = false)
      : node_(n), ins_(std::move(ins)), types_(n.types.size()),
        runTime_(runTime) {}
  virtual ~TypeContext() = default;

  const Node &node() const { return node_; }
  size_t numInputs() const { return ins_.size(); }
  bool has(size_t i) const { return i < ins_.size() && ins_[i]; }
  // Operand i: its type always, its data when hasData() (constants during
  // type inference, every operand when the interpreter runs the rule).
  const Tensor &in(size_t i) const { return *ins_[i]; }
  size_t numOutputs() const { return types_.size(); }
  // True when the interpreter runs the rule on a kernel's actual operands
  // (every operand has data); false during type inference. Only for the
  // wording of errors: a rule derives the same types either way.
  bool runTime() const { return runTime_; }

  // Values of operand i (which must be present), needed at compile time.
  Expected<std::vector<int64_t>> ints(size_t i) const;
  Expected<std::vector<double>> floats(size_t i) const;
  // Operand i's tensor with data, or a DataDependent error.
  Expected<const Tensor *> valueOf(size_t i) const;

  // Records the type of result i.
  void setOutput(size_t i, Type t) { types_[i] = std::move(t); }
  const Type &outType(size_t i) const { return types_[i]; }
  const std::vector<Type> &outTypes() const { return types_; }

  // Keeps a value the rule derived for the kernel that runs after it, when
  // deriving it is the op's own work (the selections of NonMaxSuppression,
  // NonZero, Unique, Compress), so the interpreter does not do it twice.
  // Only when runTime(): type inference has no kernel to hand it to.
  template <typename T> void keepForKernel(T v) {
    if (runTime_)
      kept_ = std::move(v);
  }

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
    return invalid(nodeOpName(node_), ": ", a...);
  }
  template <typename... A> Status unsupportedError(const A &...a) const {
    return unsupported(nodeOpName(node_), ": ", a...);
  }

protected:
  const Node &node_;
  std::vector<const Tensor *> ins_;
  std::vector<Type> types_;
  bool runTime_;
  std::any kept_;
};

using TypeRuleFn = Status (*)(TypeContext &);

#define EMBER_OP(Name, ...) Status types_##Name(TypeContext &ctx);
#include "ir/Ops.def"

TypeRuleFn typeRuleFor(OpKind k);

// n's operands as type inference gives them to its rule: constants with
// their data, everything else only its type (kept in `typeOnly`), absent
// ones null. For a compiler that reuses a rule's plan (ResizePlan, ...)
// rather than reading the attributes again.
std::vector<const Tensor *> staticOperands(const Node &n,
                                           std::vector<Tensor> &typeOnly);

// ---- helpers shared by type rules (and the kernels that run them) ---------

// Operand i as one integer (a rank-0 or [1] integer tensor whose value is
// known), or an error naming it `what`.
Expected<int64_t> scalarIntOperand(const TypeContext &ctx, size_t i,
                                   const char *what);

// Normalizes a possibly negative axis against rank; error when out of range.
Expected<int64_t> normalizeAxis(const TypeContext &ctx, int64_t axis,
                                size_t rank);

} // namespace ember

// The registry of custom ops: operators defined outside Ember, by op
// libraries (backend-api/include/ember/op_library.h; loaded by
// core/backend/OpLibrary.cpp). A custom op is one row of Ops.def, `Custom`:
// its node names the registered op in two attributes, so that every pass
// that copies, compares or serializes nodes carries it unchanged, and the
// type rule (types_Custom), the reference kernel (kernel_Custom) and the
// lowering (core/lower/LowerCustom.cpp) dispatch through the registry.
// docs/custom-ops.md describes the whole path.
#pragma once

#include "ir/Graph.h"

#include <memory>
#include <string>
#include <vector>

namespace ember {

class TypeContext;

// The attributes of a Custom node that say which op it is. Names starting
// with '$' are Ember's own: an op library never sees them.
inline constexpr const char *kCustomOpAttr = "$op";       // "domain::name"
inline constexpr const char *kCustomOpsetAttr = "$opset"; // model's opset
// The integer kernel form (IntegerForm::Kernel) of a quantized graph: the
// scale, zero point and element type (its ONNX number) of every operand,
// then of every result, as a flat list [scale, zero point, type, ...];
// scale 0 where a tensor is not quantized.
inline constexpr const char *kCustomQuantAttr = "$quant";

// What `ember quantize` and the lowering of quantized graphs do with an op
// (ember_op_integer_form).
enum class IntegerForm : uint8_t { None, Lowering, Kernel };

// One node's reference kernel with its state, ready to run.
class CustomKernel {
public:
  virtual ~CustomKernel() = default;
  // One pointer per operand (null for an absent one) and per result, each
  // buffer of its type (row-major); the results are written in place.
  virtual Status run(const void *const *ins, void *const *outs) = 0;
};

struct KernelOptions {
  // Each result is written into a copy with guard zones on both sides and
  // each operand is compared after the run: a kernel that writes outside
  // its results is an error naming it, not a corrupted heap.
  bool guard = false;
};

// A registered operator (one opset range of one op of a library).
class CustomOp {
public:
  virtual ~CustomOp() = default;
  std::string domain, name;              // domain normalized (normalizeDomain)
  int64_t opsetFirst = 1;                // opset versions of `domain` covered
  int64_t opsetLast = 0;                 // 0: no limit
  unsigned minInputs = 0, maxInputs = 0; // maxInputs kVariadic: no limit
  unsigned minOutputs = 1, maxOutputs = 1; // likewise
  static constexpr unsigned kVariadic = 0xffffffffu;
  IntegerForm integerForm = IntegerForm::None;
  bool hasLowering = false;
  std::string testCases;                // graph IR text for the kit
  std::string libraryName, libraryPath; // who registered it

  // "com.acme::Foo".
  std::string fullName() const { return domain + "::" + name; }
  // "op library 'acme' (/path/libacme.so)": how messages name the library.
  std::string describeLibrary() const;
  bool coversOpset(int64_t v) const {
    return v >= opsetFirst && (opsetLast == 0 || v <= opsetLast);
  }

  // The results' types of ctx.node() (operand counts checked before).
  virtual Status infer(TypeContext &ctx) const = 0;
  // The lowering's graph IR text for node `n` (types final).
  virtual Expected<std::string> lowering(const Node &n) const = 0;
  // The reference kernel for node `n` (types final; its constant operands'
  // values are given to the library).
  virtual Expected<std::unique_ptr<CustomKernel>>
  instantiate(const Node &n, const KernelOptions &o = {}) const = 0;
};

// "" and "ai.onnx" are ONNX's default domain: "ai.onnx".
std::string normalizeDomain(const std::string &domain);
// Splits "domain::name"; false when `s` has no "::".
bool splitCustomName(const std::string &s, std::string &domain,
                     std::string &name);

// Adds a library's ops, all or none: an error (naming both libraries) when
// one overlaps an op already registered in the same opset versions, names
// an op Ember defines in the default domain, or is badly formed.
Status registerCustomOps(const std::vector<std::shared_ptr<CustomOp>> &ops);
// The definition covering `opset`, or null.
std::shared_ptr<const CustomOp>
findCustomOp(const std::string &domain, const std::string &name, int64_t opset);
// The newest definition (highest opsetFirst), or null.
std::shared_ptr<const CustomOp> findNewestCustomOp(const std::string &domain,
                                                   const std::string &name);
// Every registered op, by name then opset.
std::vector<std::shared_ptr<const CustomOp>> registeredCustomOps();

// The op a Custom node names, or null (not Custom, or not registered in
// this process).
const CustomOp *customOpOf(const Node &n);
// The same, or an error saying what is missing.
Expected<const CustomOp *> requireCustomOp(const Node &n);
// The attributes of a node of op `op` at `opset` (kCustomOpAttr and
// kCustomOpsetAttr).
void setCustomOpAttrs(AttrMap &attrs, const CustomOp &op, int64_t opset);

// The op's name as text, messages and manifests use it: opName(kind), or
// "domain::name" for a Custom node.
std::string nodeOpName(const Node &n);

} // namespace ember

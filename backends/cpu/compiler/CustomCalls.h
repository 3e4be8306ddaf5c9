// The custom ops a compiled model calls (ops/Custom.cpp): in the JIT, the
// op libraries' reference kernels instantiated in this process behind the
// symbols the generated code names; in a bundle, the same calls written as
// C (custom_ops.c) that the application links with its build of each op
// library (docs/custom-ops.md, "AOT bundles").
#pragma once

#include "Bundle.h"
#include "Compiler.h"

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ember::cpugen {

// int32_t ember_rt_custom(const void *call, void **ins, void **outs)
inline constexpr const char *kCustomCallSymbol = "ember_rt_custom";
// The symbol whose address is call site k's `call`.
std::string customNodeSymbol(size_t k);
// ember_main's status when a custom op's kernel failed.
constexpr int32_t kStatusCustomOp = 101;

// A compiled model's custom op calls, instantiated (their kernels' state
// made) in this process. They do not refer to the graph they came from.
class CustomCalls {
public:
  ~CustomCalls();
  static Expected<std::unique_ptr<CustomCalls>>
  prepare(const std::vector<const Node *> &nodes);
  // What the JIT binds (CompiledModel::hostSymbols, JitModel::loadObject).
  std::map<std::string, void *> symbols();
  bool empty() const { return calls_.empty(); }
  // After ember_main returned kStatusCustomOp: which kernel failed and why.
  std::string lastError() const;
  void setError(const std::string &message);

  struct Call;

private:
  std::vector<std::unique_ptr<Call>> calls_;
  mutable std::mutex mu_;
  std::string lastError_;
};

// cpu.txt's record of the call sites (the results' names in call order),
// and the nodes it names in `f`, for an artifact loaded back
// (CustomCalls::prepare on them).
std::string customNodeNames(const CompiledModel &m);
Expected<std::vector<const Node *>> customNodesByName(const Function &f,
                                                      const std::string &names);

// custom_ops.c and op_library.h for a bundle whose model calls custom ops;
// nothing when it calls none.
Expected<std::vector<BundleFile>> customOpBundleFiles(const CompiledModel &m);

} // namespace ember::cpugen

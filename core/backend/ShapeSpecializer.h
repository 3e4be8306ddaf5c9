// Shape specialization: a model with symbolic input dims compiled once per
// concrete shape set. Each variant is imported with its input shapes bound,
// optimized, lowered and compiled (a plugin always receives static shapes);
// variants are cached, and a run whose inputs have shapes not seen yet
// compiles a new one transparently. docs/backend-abi.md ("Shape
// specialization") says what a backend sees.
#pragma once

#include "backend/Partitioner.h"
#include "import/OnnxImporter.h"
#include "passes/Pass.h"

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace ember::backend {

struct SpecializerOptions {
  // Base import options: dims bound by name hold for every variant (a run
  // whose shapes contradict them is an error), frozen inputs stay frozen.
  ImportOptions import;
  PipelineOptions pipeline;
  // The target: a plugin (partitions it does not claim run on
  // executor.fallback) or, when null, the reference interpreter.
  std::shared_ptr<Plugin> plugin;
  ExecutorOptions executor;
  // Compiled variants kept at once; the least recently used one is released
  // (with its plugin executables) when a new one would exceed it.
  size_t maxVariants = 8;
};

// One compiled variant, as reported.
struct Specialization {
  size_t number = 0;                   // 1, 2, ... in order of compilation
  std::vector<Type> inputTypes;        // in input order
  std::map<std::string, int64_t> dims; // the model's named dims
  double compileMs = 0;                // import + passes + plugin compile
  std::vector<std::string> notes;      // import notes of this variant
  // "batch_size=4 (input f32[4,3,224,224])": for one-line reports.
  std::string describe(const std::vector<std::string> &inputNames) const;
};

class ShapeSpecializer {
public:
  // Reads the model (ONNX) once; nothing is compiled until the first run
  // or prepare().
  static Expected<std::unique_ptr<ShapeSpecializer>>
  open(const std::string &onnxPath, SpecializerOptions o);
  ~ShapeSpecializer();

  // The inputs a run takes, in order, as declared (frozen inputs excluded).
  const std::vector<DeclaredInput> &inputs() const { return inputs_; }
  std::vector<std::string> inputNames() const;
  // Whether any input dim is symbolic or unknown.
  bool hasSymbolicDims() const;

  // Called once per new variant, after it compiled (the executor's cost
  // report; `ember run` prints it).
  std::function<void(const Specialization &)> onSpecialize;

  // Compiles (or finds) the variant for these input shapes.
  struct Variant;
  Expected<Variant *> prepare(const std::vector<Type> &inputTypes);
  // The lowered function a variant runs (for reports and tests).
  static const Function &function(const Variant &v);
  static const Specialization &info(const Variant &v);
  static std::string summary(const Variant &v);
  // The partitioned executable of a variant (null on the interpreter):
  // its plan and the last run's partition profiles.
  static PartitionedExecutable *executable(Variant &v);

  // Runs on tensors in inputs() order; compiles a variant for their shapes
  // first when none is cached.
  Expected<std::vector<Tensor>> run(const std::vector<Tensor> &inputs);
  // Runs a variant prepare() returned (its input types must match).
  Expected<std::vector<Tensor>> run(Variant &v,
                                    const std::vector<Tensor> &inputs);

  // The input types `b` binds (element types from the model), with the
  // notes of defaulted dims: what a caller without data (random inputs,
  // benchmarks) runs with.
  // `defaulted` gets ResolvedShapes::defaulted (for withDefaultedDims).
  Expected<std::vector<Type>> typesFor(const ShapeBindings &b,
                                       std::vector<std::string> *notes,
                                       std::string *defaulted = nullptr);

  struct Stats {
    size_t compiles = 0, hits = 0, evictions = 0;
    double compileMs = 0;
  };
  const Stats &stats() const { return stats_; }
  // Every variant compiled so far, in order (evicted ones included).
  const std::vector<Specialization> &history() const { return history_; }
  // The numbers (Specialization::number) of the variants cached now.
  std::vector<size_t> cachedNumbers() const;
  size_t maxVariants() const { return o_.maxVariants; }

private:
  ShapeSpecializer() = default;
  std::string path_, bytes_, baseDir_;
  SpecializerOptions o_;
  std::vector<DeclaredInput> inputs_;
  std::map<std::vector<Dims>, std::unique_ptr<Variant>> variants_;
  uint64_t clock_ = 0;
  Stats stats_;
  std::vector<Specialization> history_;
};

} // namespace ember::backend

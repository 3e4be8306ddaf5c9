// ONNX model import: ModelProto -> graph IR (one Function "main").
// Nodes are upgraded to the newest opset's form (see docs/onnx-import.md)
// so every other part of Ember sees one canonical version of each op.
#pragma once

#include "import/InputShapes.h"
#include "ir/Graph.h"

#include <map>
#include <string>

namespace ember {

struct ImportOptions {
  // What binds symbolic and unknown dims of the graph inputs: whole shapes
  // (each with the option or file that gave it), dims by name (--dim),
  // and whether batch-like and sequence dims default to 1 (see
  // InputShapes.h; the defaults are reported in ImportStats::notes).
  ShapeBindings shapes;
  // Whole shapes by input name, for callers that need no origin in
  // messages (reported as "--input-shape NAME=..."); merged into `shapes`.
  std::map<std::string, Dims> inputShapes;
  // Graph inputs to bake in as constants (specialization on values that
  // determine shapes, e.g. a Reshape target fed as an input).
  std::map<std::string, Tensor> frozenInputs;
  // Fold nodes whose operands are all constants when their result is small
  // (shape arithmetic), so shapes downstream are static at import time.
  bool foldShapeComputations = true;
  // Largest result (elements) folded that way.
  int64_t foldLimit = 4096;
};

struct ImportStats {
  int64_t irVersion = 0;
  std::map<std::string, int64_t> opsets; // domain -> version
  size_t onnxNodes = 0;
  // One line each for what the user should know but is not an error:
  // defaulted dims, If branches that do not type-check for these shapes.
  std::vector<std::string> notes;
};

Expected<std::unique_ptr<Module>> importOnnxFile(const std::string &path,
                                                 const ImportOptions &opts,
                                                 ImportStats *stats = nullptr);
Expected<std::unique_ptr<Module>> importOnnxBytes(const std::string &bytes,
                                                  const std::string &baseDir,
                                                  const ImportOptions &opts,
                                                  ImportStats *stats = nullptr);

} // namespace ember

namespace ember {
// Names of a model's graph inputs that are not initializers, in order.
// With elemTypes, also their declared ONNX element types (0 when absent).
Expected<std::vector<std::string>>
onnxInputNames(const std::string &path, std::vector<int> *elemTypes = nullptr);
} // namespace ember

// The ONNX side of `ember quantize`: reading a model into one self-contained
// ModelProto, bringing it to the opset QDQ needs, indexing its graph, the
// graph hash a profile is tied to, and writing the result atomically.
#pragma once

#include "ir/Tensor.h"

#include <onnx/onnx_pb.h>

#include <map>
#include <string>
#include <vector>

namespace ember::quant {

// Reads and parses a model; external initializer data is read in, and
// Constant nodes holding a tensor become initializers of the same name (the
// same graph for every consumer, and weights are found in one place).
Expected<onnx::ModelProto> loadOnnxModel(const std::string &path);

// The ai.onnx opset the model imports.
int64_t defaultOpset(const onnx::ModelProto &m);

// Converts the model to at least `minOpset` with ONNX's version converter
// (per-axis QuantizeLinear/DequantizeLinear need 13), at least IR version 7,
// and drops initializers from the graph inputs (IR >= 4: an initializer
// listed as an input could be overridden, so it would not be a constant).
Status upgradeForQdq(onnx::ModelProto &m, int64_t minOpset = 13);

// Who produces and who reads each tensor of a graph.
struct GraphIndex {
  explicit GraphIndex(const onnx::GraphProto &g);
  const onnx::GraphProto &g;
  std::map<std::string, int> producer; // tensor -> node index
  std::map<std::string, std::vector<std::pair<int, int>>> consumers;
  std::map<std::string, int> initializer; // name -> index in initializer()
  std::vector<std::string> inputs;        // graph inputs, not initializers
  std::map<std::string, int> outputIndex; // graph output name -> index
  std::vector<int> order;                 // nodes in topological order

  bool isInitializer(const std::string &t) const {
    return initializer.count(t) != 0;
  }
  bool isGraphOutput(const std::string &t) const {
    return outputIndex.count(t) != 0;
  }
  const onnx::TensorProto *init(const std::string &t) const {
    auto it = initializer.find(t);
    return it == initializer.end() ? nullptr : &g.initializer(it->second);
  }
  // Number of readers of a tensor (graph outputs count as readers).
  size_t readers(const std::string &t) const;
};

// "'name' (Op)" or "node producing 'x' (Op)".
std::string describeNode(const onnx::NodeProto &n);

// A hash of everything that determines the graph's tensors: inputs, nodes
// (type, domain, inputs, outputs, attributes), initializers (names, types,
// values), opsets. Names of nodes, doc strings and metadata do not count.
// 16 hex digits (FNV-1a 64).
std::string graphHash(const onnx::ModelProto &m);

// Initializer <-> tensor (float32 and integer kinds).
Expected<Tensor> initializerTensor(const onnx::TensorProto &p);
onnx::TensorProto makeInitializer(const std::string &name, const Tensor &t);

// Serializes to `path` through a temporary file in the same folder and a
// rename, so a failure never leaves a partial file.
Status writeOnnxModelAtomically(const onnx::ModelProto &m,
                                const std::string &path);
// The same for text (profiles).
Status writeFileAtomically(const std::string &path, const std::string &bytes);

} // namespace ember::quant

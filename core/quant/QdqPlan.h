// Which parts of an fp32 ONNX graph become int8, and how: the analysis
// behind `ember quantize`'s QDQ rewrite (docs/quantization.md, "Which
// tensors get Q/DQ"). The plan names tensors; the rewrite (QdqRewrite.h)
// turns it and the chosen parameters into Q/DQ nodes.
#pragma once

#include "quant/OnnxModel.h"

#include <map>
#include <set>
#include <string>
#include <vector>

namespace ember::quant {

// Element type, shape and constness of every tensor of the graph, from
// Ember's importer (shapes fixed by `inputShapes`).
struct TensorInfo {
  ElemKind elem = ElemKind::F32;
  Dims dims;
  bool constant = false; // an initializer or computed from constants only
  std::shared_ptr<const Tensor> value; // constants: the value
};
using TensorInfoMap = std::map<std::string, TensorInfo>;
Expected<TensorInfoMap>
inspectTensors(const onnx::ModelProto &m,
               const std::map<std::string, Dims> &inputShapes);

// Weights computed from constants (a Reshape or Transpose of an
// initializer, ...) become initializers holding the computed value, and the
// nodes that computed them are removed: the rewrite finds every weight as
// an initializer. Returns the number of tensors folded.
Expected<size_t> foldConstantWeights(onnx::ModelProto &m,
                                     const TensorInfoMap &info);

// How a quantized node computes (the integer form it becomes).
enum class GroupKind {
  Linear,      // Conv, MatMul, Gemm (+ bias Add) (+ Relu/Clip)
  Elementwise, // Add, Mul (+ Relu/Clip)
  Unary,       // an elementwise function: a table lookup
  SharedPool,  // MaxPool, AveragePool: output parameters = input's
  OwnParams,   // GlobalAveragePool, ReduceMean, Concat: own output params
  Movement,    // Reshape, Transpose, ...: output parameters = input's
  // Nodes computing one function of one input that the lowering turns
  // into one integer op (docs/quantization.md, "Transformers"): a
  // LayerNorm or RMSNorm written out (ReduceMean, Sub, Pow, Sqrt, Div,
  // gamma, beta), a GELU written out (erf or tanh form). They stay float
  // between their input's Q/DQ and their output's, which has its own
  // parameters.
  Region,
};

// One quantized node, with the nodes folded into it.
struct QuantGroup {
  GroupKind kind;
  int anchor = -1;                  // node index of the op
  int biasAdd = -1;                 // a following Add of a constant bias, or -1
  int activation = -1;              // a following Relu/Clip, or -1
  std::vector<std::string> outputs; // quantized results (the tail's)
  std::vector<std::pair<int, int>> activationInputs; // (node, input) pairs
  std::vector<int> members; // Region: its nodes other than the anchor
  // Every node of the group: anchor, bias Add, activation, members.
  std::vector<int> nodes() const;
};

struct WeightSpec {
  int node = -1, input = -1; // the consumer
  std::string tensor;        // the float initializer
  int axis = -1;             // per-channel axis, -1 per tensor
};

// An int32 bias at input scale x weight scale.
struct BiasSpec {
  int node = -1, input = -1; // the consumer (Conv/Gemm input 2, or the Add)
  std::string tensor;        // float initializer
  std::string activation;    // the linear op's quantized input tensor
  int weight = -1;           // index into QdqPlan::weights
  int axis = -1;             // axis of the bias tensor along output channels
};

// A constant operand of Add/Mul/Concat quantized with its own exact range.
struct ConstantSpec {
  int node = -1, input = -1;
  std::string tensor;
};

// An activation tensor that gets a QuantizeLinear/DequantizeLinear pair.
struct TensorSpec {
  std::string name;
  std::string shareWith; // empty: own parameters from the profile
  bool graphInput = false;
};

struct PlanOptions {
  bool perChannel = true;
  std::set<std::string> keepFloat; // node names or output tensor names
};

struct QdqPlan {
  std::vector<QuantGroup> groups;
  std::vector<TensorSpec> tensors; // topological order
  std::vector<WeightSpec> weights;
  std::vector<BiasSpec> biases;
  std::vector<ConstantSpec> constants;
  // Tensors the calibration must profile; with the channel axis whose
  // per-channel mean bias correction needs (-1: none).
  std::map<std::string, int> observed;
  // Per node: the group it belongs to, or -1 (float).
  std::vector<int> groupOf;
  // Float nodes that have no int8 form, "describeNode: reason".
  std::vector<std::string> noInt8Form;
  // --keep-float names that matched nothing.
  std::vector<std::string> unmatchedKeepFloat;
  // Pairs of tensors held at the same width (8 or 16 bits): a GELU
  // region's input and output, which one table maps (the lowering's
  // TableLookup reads and writes one kind).
  std::vector<std::pair<std::string, std::string>> sameWidth;

  const TensorSpec *spec(const std::string &t) const;
  // The tensor whose own parameters t uses (t itself when it has them).
  std::string root(std::string t) const;
};

// `wide` with every root tied to a wide one by plan.sameWidth added.
std::set<std::string> tieWidths(const QdqPlan &plan,
                                std::set<std::string> wide);

Expected<QdqPlan> planQdq(const onnx::ModelProto &m, const TensorInfoMap &info,
                          const PlanOptions &o);

// The plan roots that may carry per-channel 8-bit parameters (axis 1, one
// zero point; lower/ChannelScales.h holds the rule the lowering shares):
// written by a quantized Conv (through its Relu, or a Clip whose lower
// bound is at most 0) as a rank-4 map, read only by quantized Convs that
// read each input channel apart (depthwise, at their input 0), not a graph
// input or output, no other tensor sharing its parameters. Whether its
// channels also share the zero point (every channel non-negative) is the
// calibration's to say.
std::set<std::string> perChannelCandidates(const onnx::ModelProto &m,
                                           const QdqPlan &plan,
                                           const TensorInfoMap &info);

// A short name of a group for reports: its anchor node's name, else its
// first output tensor.
std::string groupName(const onnx::GraphProto &g, const QuantGroup &q);

} // namespace ember::quant

// The tiny backend's program: an ember.backend.v1.Graph, checked once and
// flattened into a list of steps over dense f32 host arrays. Nothing here
// knows about the plugin ABI beyond its status codes; TinyPlugin.cpp is the
// glue. Plain C++17 and the generated protobuf classes only: no Ember core.
#pragma once

#include "ember/backend/v1/graph.pb.h"

#include <cstdint>
#include <string>
#include <vector>

namespace tiny {

namespace v1 = ember::backend::v1;

// Every op the tiny backend runs, all on f32.
enum class Op {
  Add,
  Sub,
  Mul,
  Div,
  Max,
  Min,
  Relu,
  Sigmoid,
  Tanh,
  Exp,
  MatMul
};
constexpr Op kAllOps[] = {Op::Add,  Op::Sub, Op::Mul,   Op::Div,
                          Op::Max,  Op::Min, Op::Relu,  Op::Sigmoid,
                          Op::Tanh, Op::Exp, Op::MatMul};
const char *opName(Op op);
bool opFromName(const std::string &name, Op &op);

// Rank limits, the same in the manifest and in the per-node answers.
constexpr int kMaxElementwiseRank = 8;
constexpr int kMinMatMulRank = 2, kMaxMatMulRank = 4;

using Dims = std::vector<int64_t>;

// An error: an ember_status_code and a message that names what is wrong.
struct Status {
  int32_t code = 0;
  std::string message;
  bool ok() const { return code == 0; }
};

// Why the tiny backend cannot run node `index` of `g` (naming the operand,
// dtype, rank or shape), or "" when it can. Safe on any parsed Graph.
std::string whyNot(const v1::Graph &g, int index);

struct Step {
  Op op;
  std::vector<int32_t> inputs; // value ids
  int32_t output;              // value id
};

struct Program {
  std::vector<Dims> dims;                    // per value id
  std::vector<std::vector<float>> constants; // per value id; empty if none
  std::vector<int32_t> inputs, outputs;      // value ids, in program order
  std::vector<std::string> inputNames, outputNames;
  std::vector<Step> steps; // in execution order
};

int64_t numElements(const Dims &d);

// Parses and checks serialized Graph bytes (hostile input: every id, type,
// constant and node is checked) into `out`.
Status buildProgram(const void *data, size_t size, Program &out);

// Runs `p` once. inputs[i] / outputs[i] point at program input / output i,
// dense row-major f32. Allocates its own intermediates, so several runs of
// one Program may go on at the same time.
Status run(const Program &p, const std::vector<const float *> &inputs,
           const std::vector<float *> &outputs);

} // namespace tiny

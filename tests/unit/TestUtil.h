// Helpers for unit tests: build a one-node function and run it.
#pragma once

#include "interp/Interpreter.h"
#include "ir/Graph.h"

#include <gtest/gtest.h>

namespace ember::test {

inline Tensor makeF32(Dims d, std::vector<float> v) {
  Tensor t(Type(ElemKind::F32, std::move(d)));
  for (size_t i = 0; i < v.size(); ++i)
    t.data<float>()[i] = v[i];
  return t;
}

inline Tensor makeI64(Dims d, std::vector<int64_t> v) {
  return Tensor::fromInts(ElemKind::I64, v, std::move(d));
}

// Builds main(inputs...) = kind(inputs..., constants...) and runs it.
// Operands given as `consts` become Constant nodes (shape operands).
struct OneNode {
  Function f{"main"};
  std::vector<Tensor> feeds;
  Node *node = nullptr;

  Status build(OpKind kind, const std::vector<Tensor> &inputs,
               const std::vector<Tensor> &consts = {}, AttrMap attrs = {},
               int numResults = -1) {
    std::vector<Value> ops;
    for (size_t i = 0; i < inputs.size(); ++i) {
      ops.push_back(
          Value(f.addPlaceholder("x" + std::to_string(i), inputs[i].type())));
      feeds.push_back(inputs[i]);
    }
    for (size_t i = 0; i < consts.size(); ++i)
      ops.push_back(Value(f.addConstant("c" + std::to_string(i), consts[i])));
    auto n = f.create(kind, ops, std::move(attrs), "n", numResults);
    if (!n)
      return n.status();
    node = *n;
    for (unsigned i = 0; i < node->numResults(); ++i)
      f.addOutput(Value(node, i), "y" + std::to_string(i));
    return Status::ok();
  }
  Expected<std::vector<Tensor>> run() { return interpret(f, feeds); }
};

} // namespace ember::test

// Internal to the NPU backend's code generator (Codegen.cpp, Cascade.cpp):
// a layer's generated code before it is streamed, and tensor addresses.
#pragma once

#include "Layers.h"

#include <string>
#include <vector>

namespace ember::npusim {

using npu::Insn;

struct StepCode {
  std::vector<Insn> loads, compute, tail;
  // Its loads write a single slot (a single-buffered operand's next block,
  // Problem::singleBufferFallback) that the step before still reads: they
  // are issued after that step's compute, not ahead of it.
  bool afterPrev = false;
};

// Byte address of row `p` of channel tile `t` of tensor `k`.
struct Addr {
  const std::vector<NTensor> &ts;
  uint64_t operator()(int k, int64_t t, int64_t p) const {
    if (k < 0 || size_t(k) >= ts.size())
      return 0; // a layer being checked for fit before its output exists
    const NTensor &x = ts[size_t(k)];
    const NTensor &own = x.base >= 0 ? ts[size_t(x.base)] : x;
    return uint64_t(own.dram) +
           uint64_t(((x.tileOffset + t) * x.P + p) * x.rowBytes());
  }
};

struct LayerCode {
  std::vector<Insn> setup; // SETREGs, before the first load
  std::vector<StepCode> steps;
  std::string tiling;
};

} // namespace ember::npusim

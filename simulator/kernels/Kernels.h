//===- Kernels.h - Hand-written NPU kernels with double-buffered DMA ------===//
//
// Each builder returns the program, the DRAM image it expects (inputs, weights,
// requantize parameters) and the expected output computed by a plain C++
// reference, so any executor can be checked. `doubleBuffered = false` builds
// the same computation with every stage serialized (single buffers, LOAD waits
// for STORE) as the baseline for the overlap measurement.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_KERNELS_H
#define EMBER_NPU_KERNELS_H

#include "ember/npu/Isa.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ember::npu::kernels {

struct Kernel {
  std::string name;
  std::vector<Insn> program;
  std::vector<uint8_t>
      dram; // initial DRAM image, `dram.size()` bytes of DRAM needed
  uint64_t outAddr = 0;
  std::vector<int8_t> expected; // expected bytes at outAddr
  uint64_t macs = 0;            // the array's MACs (a 16x8 MAC takes two)
};

/// C[M,N] = requant(A[M,K] x B[K,N]); M, K, N multiples of DIM.
Kernel buildGemm(int m, int k, int n, bool doubleBuffered, uint32_t seed);
/// 3x3 convolution, stride 1, zero-point padding 1, H x W x C -> H x W x F.
/// act16: a 16x8 layer (spec version 3): int16 activations in and out (a
/// fused Relu), int8 weights, an int64 bias; each GEMM runs on both planes.
Kernel buildConv3x3(int h, int w, int c, int f, bool doubleBuffered,
                    uint32_t seed, bool act16 = false);

std::vector<Word> encodeProgram(const std::vector<Insn> &program);

} // namespace ember::npu::kernels

#endif // EMBER_NPU_KERNELS_H

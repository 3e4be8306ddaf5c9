//===- MacRows.h - The SystemC model's GEMM row kernels -------------------===//
//
// acc[i][j] += sum_k act[i][k] * W[j][k] for a run of activation rows, with
// the weights as int16 pairs along k (EngineModule::gemm lays them out), on
// SSE2 or, when the CPU has it, AVX2; the same integer operations either way.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_SYSTEMC_MACROWS_H
#define EMBER_NPU_SYSTEMC_MACROWS_H

#include "ember/npu/Isa.h"

#include <cstdint>

namespace ember::npu {

void macRows(const int8_t *act, int64_t n, const int16_t *w, int32_t *acc);

} // namespace ember::npu

#endif // EMBER_NPU_SYSTEMC_MACROWS_H

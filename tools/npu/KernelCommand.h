//===- KernelCommand.h - `ember-npu kernel` -------------------------------===//
#ifndef EMBER_NPU_KERNEL_COMMAND_H
#define EMBER_NPU_KERNEL_COMMAND_H

#include "ember/npu/Cli.h"

namespace ember::npu {

/// `kernel gemm|conv [--serial] -o PREFIX`: writes PREFIX.nasm, PREFIX.dram,
/// PREFIX.expected (the hand-written kernels of simulator/kernels). Only
/// ember-npu has it.
int kernelMain(int argc, char **argv);
const CliCommand &kernelCommand();

/// `gen --seed N [--length L] [--bias B] -o PREFIX`: a constrained-random
/// program (GenCommand.cpp).
int genMain(int argc, char **argv);
const CliCommand &genCommand();

/// `coverage [PROGRAM@DRAM]... [--gen N] [--kernels]`: functional coverage
/// (CoverageCommand.cpp).
int coverageMain(int argc, char **argv);
const CliCommand &coverageCommand();

} // namespace ember::npu

#endif // EMBER_NPU_KERNEL_COMMAND_H

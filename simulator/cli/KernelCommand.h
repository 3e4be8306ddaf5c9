//===- KernelCommand.h - `ember-npu kernel` -------------------------------===//
#ifndef EMBER_NPU_KERNEL_COMMAND_H
#define EMBER_NPU_KERNEL_COMMAND_H

#include "ember/npu/Cli.h"

namespace ember::npu {

/// `kernel gemm|conv [--serial] -o PREFIX`: writes PREFIX.nasm, PREFIX.dram,
/// PREFIX.expected (the example kernels of examples/npu). Only ember-npu has
/// it.
int kernelMain(int argc, char **argv);
const CliCommand &kernelCommand();

} // namespace ember::npu

#endif // EMBER_NPU_KERNEL_COMMAND_H

//===- KernelCommand.h - `ember-npu kernel` -------------------------------===//
#ifndef EMBER_NPU_KERNEL_COMMAND_H
#define EMBER_NPU_KERNEL_COMMAND_H

namespace ember::npu {

/// `kernel gemm|conv [--serial] -o PREFIX`: writes PREFIX.nasm, PREFIX.dram,
/// PREFIX.expected (the example kernels of examples/npu).
int kernelMain(int argc, char **argv);

} // namespace ember::npu

#endif // EMBER_NPU_KERNEL_COMMAND_H

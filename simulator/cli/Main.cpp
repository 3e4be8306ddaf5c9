//===- Main.cpp - ember-npu: standalone NPU tool (asm, disasm, sim, kernel) ===//
#include "KernelCommand.h"
#include "ember/npu/Cli.h"

#include <cstdio>
#include <cstring>

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "error: missing subcommand (usage: ember-npu asm|disasm|sim|kernel ...)\n");
    return 1;
  }
  const char *cmd = argv[1];
  if (!std::strcmp(cmd, "asm"))
    return ember::npu::asmMain(argc - 1, argv + 1);
  if (!std::strcmp(cmd, "disasm"))
    return ember::npu::disasmMain(argc - 1, argv + 1);
  if (!std::strcmp(cmd, "sim"))
    return ember::npu::simMain(argc - 1, argv + 1);
  if (!std::strcmp(cmd, "kernel"))
    return ember::npu::kernelMain(argc - 1, argv + 1);
  std::fprintf(stderr, "error: unknown subcommand '%s' (ember-npu)\n", cmd);
  return 1;
}

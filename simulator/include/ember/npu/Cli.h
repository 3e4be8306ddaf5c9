//===- Cli.h - `ember asm|disasm|sim` entry points -------------------------===//
//
// argv[0] is the subcommand name; errors print one line `error: <what> (<where>)` to stderr and
// return non-zero.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_CLI_H
#define EMBER_NPU_CLI_H

namespace ember::npu {

int asmMain(int argc, char **argv);
int disasmMain(int argc, char **argv);
int simMain(int argc, char **argv);

} // namespace ember::npu

#endif // EMBER_NPU_CLI_H

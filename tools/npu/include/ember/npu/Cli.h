//===- Cli.h - `ember asm|disasm|sim` entry points ------------------------===//
//
// The NPU tool's commands, shared by `ember` and the standalone `ember-npu`
// (which adds `kernel`, tools/npu/KernelCommand.h). Options go through
// Ember's command-line layer (tools/cmdline): every command answers --help,
// and errors print one line `error: <what> (<where>)` to stderr and return
// non-zero.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_CLI_H
#define EMBER_NPU_CLI_H

#include <vector>

namespace ember::npu {

struct CliCommand {
  const char *name;    // "sim"
  const char *usage;   // what follows the name in the usage line
  const char *summary; // what it does; the first sentence lists it
  // argv[0] is the command as help and errors name it ("ember sim",
  // "ember-npu sim"); the arguments follow.
  int (*main)(int argc, char **argv);
};

// asm, disasm, sim, cosim: the commands `ember` and `ember-npu` both have.
const std::vector<CliCommand> &cliCommands();

int asmMain(int argc, char **argv);
int disasmMain(int argc, char **argv);
int simMain(int argc, char **argv);
int cosimMain(int argc, char **argv);

} // namespace ember::npu

#endif // EMBER_NPU_CLI_H

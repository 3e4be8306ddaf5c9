//===- Main.cpp -----------------------------------------------------------===//
//
// ember-npu: the standalone NPU tool (asm, disasm, sim, kernel).
#include "KernelCommand.h"
#include "ember/CommandLine.h"
#include "ember/npu/Cli.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

// ember's NPU commands and the example kernels.
std::vector<ember::npu::CliCommand> commands() {
  std::vector<ember::npu::CliCommand> all = ember::npu::cliCommands();
  all.push_back(ember::npu::kernelCommand());
  all.push_back(ember::npu::genCommand());
  all.push_back(ember::npu::coverageCommand());
  return all;
}

void usage(std::FILE *out) {
  using ember::cmdline::wrap;
  std::string s = "usage: ember-npu <command> [options]\n\n" +
                  wrap("The example NPU's tools: assembler, disassembler, "
                       "simulator and example kernels.",
                       80, 0, 0) +
                  "\n\ncommands:\n";
  for (const ember::npu::CliCommand &c : commands()) {
    std::string sum = c.summary;
    size_t dot = sum.find(". ");
    s += std::string("  ") + c.name + " " + c.usage + "\n" +
         wrap(dot == std::string::npos ? sum : sum.substr(0, dot + 1), 80, 6,
              6) +
         "\n";
  }
  s += "\noptions:\n"
       "  -h, --help            Prints this help and exits.\n\n"
       "'ember-npu COMMAND --help' describes every option of a command.\n";
  std::fputs(s.c_str(), out);
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::fprintf(stderr, "error: missing command; the commands are asm, "
                         "disasm, sim, cosim, kernel, gen and coverage "
                         "(ember-npu; see 'ember-npu "
                         "--help')\n");
    return 1;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    usage(stdout);
    return 0;
  }
  for (const ember::npu::CliCommand &c : commands()) {
    if (cmd != c.name)
      continue;
    std::string self = "ember-npu " + cmd;
    std::vector<char *> args = {const_cast<char *>(self.c_str())};
    for (int i = 2; i < argc; ++i)
      args.push_back(argv[i]);
    args.push_back(nullptr);
    return c.main(int(args.size()) - 1, args.data());
  }
  std::fprintf(stderr,
               "error: unknown command '%s'; the commands are asm, disasm, "
               "sim, cosim, kernel, gen and coverage (ember-npu; see "
               "'ember-npu --help')\n",
               cmd.c_str());
  return 1;
}

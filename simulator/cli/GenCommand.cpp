//===- GenCommand.cpp - `ember-npu gen`: constrained-random programs ------===//
//
// Writes a legal random NPU program (the generator the tests use,
// simulator/tests/ProgramGen.cpp): every opcode and flag, fields drawn up to
// their limits from the spec's constants, DMA patterns at the edges
// (padding, strides, repetition, lane groups, the last rows of every
// memory), and a dependency token between every pair of conflicting
// accesses on different engines, so the program is race-free and the
// golden model is its oracle. The same seed gives the same program.
//
//===----------------------------------------------------------------------===//
#include "KernelCommand.h"

#include "../tests/ProgramGen.h"
#include "ember/CommandLine.h"
#include "ember/npu/Assembler.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace ember::npu {

const CliCommand &genCommand() {
  static const CliCommand c = {
      "gen", "--seed N [--length L] [--bias B] -o PREFIX",
      "Writes a legal constrained-random program: PREFIX.nasm and its DRAM "
      "image PREFIX.dram (load it at 0: `ember cosim PREFIX.nasm --load "
      "PREFIX.dram@0 ...`). Tokens order every conflicting access, so any "
      "correct executor computes the golden model's result.",
      genMain};
  return c;
}

int genMain(int argc, char **argv) {
  uint64_t seed = 0, length = 200;
  std::string bias = "none", prefix;
  const CliCommand &info = genCommand();
  cmdline::Command cmd(argv[0], info.usage, info.summary);
  cmd.add({"--seed"}, "N", "The seed (0 to 2^32 - 1). Required.",
          [&seed](const std::string &s) {
            return cmdline::parseUint(s, 0, 0xffffffffu, seed);
          });
  cmd.add({"--length"}, "L",
          "About this many instructions (10 to 100000). Default: 200.",
          [&length](const std::string &s) {
            return cmdline::parseUint(s, 10, 100000, length);
          });
  cmd.add({"--bias"}, "B",
          "Draws more of: dma (LOAD, STORE, MOVE, their 16-bit forms), gemm, "
          "vector, or hazards (fewer rows, so most instructions wait on a "
          "token). Default: none.",
          cmdline::text(bias));
  cmd.add({"-o"}, "PREFIX", "Writes PREFIX.nasm and PREFIX.dram. Required.",
          cmdline::text(prefix));
  if (auto rc = cmd.parse(argc, argv, 1))
    return *rc;
  if (!cmd.given("--seed"))
    return cmd.usageError("missing --seed N");
  if (prefix.empty())
    return cmd.usageError("missing -o PREFIX");
  test::GenBias b = test::GenBias::None;
  if (bias == "dma")
    b = test::GenBias::Dma;
  else if (bias == "gemm")
    b = test::GenBias::Gemm;
  else if (bias == "vector")
    b = test::GenBias::Vector;
  else if (bias == "hazards")
    b = test::GenBias::Hazards;
  else if (bias != "none")
    return cmd.usageError("unknown bias '" + bias +
                          "'; expected dma, gemm, vector or hazards");
  test::TestCase tc = test::randomCase(uint32_t(seed), int(length), b);
  std::string text = "# random program: ember-npu gen --seed " +
                     std::to_string(seed) + " --length " +
                     std::to_string(length) + " --bias " + bias +
                     "; DRAM image (load at 0) in the .dram file\n";
  for (const Insn &i : tc.program)
    text += formatInsn(i) + "\n";
  std::ofstream a(prefix + ".nasm", std::ios::binary);
  a << text;
  std::ofstream d(prefix + ".dram", std::ios::binary);
  d.write(reinterpret_cast<const char *>(tc.dram.data()),
          static_cast<std::streamsize>(tc.dram.size()));
  if (!a || !d) {
    std::fprintf(stderr, "error: cannot write output (%s)\n", prefix.c_str());
    return 1;
  }
  std::printf("%s.nasm: %zu instructions, dram %zu bytes (load at 0)\n",
              prefix.c_str(), tc.program.size(), tc.dram.size());
  return 0;
}

} // namespace ember::npu

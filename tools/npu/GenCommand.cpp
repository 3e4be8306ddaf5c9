//===- GenCommand.cpp - `ember-npu gen`: constrained-random programs ------===//
//
// Writes a legal random NPU program (the generator the tests use,
// simulator/progen/ProgramGen.cpp): every opcode and flag, fields drawn up to
// their limits from the spec's constants, DMA patterns at the edges
// (padding, strides, repetition, lane groups, the last rows of every
// memory), and a dependency token between every pair of conflicting
// accesses on different engines, so the program is race-free and the
// golden model is its oracle. The same seed gives the same program.
//
//===----------------------------------------------------------------------===//
#include "KernelCommand.h"

#include "ProgramGen.h"
#include "ember/CommandLine.h"
#include "ember/npu/Assembler.h"
#include "ember/plugin_handover.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

namespace ember::npu {

const CliCommand &genCommand() {
  static const CliCommand c = {
      "gen", "(--seed N [--length L] [--bias B] | --directed) -o OUT",
      "Writes a legal constrained-random program: OUT.nasm and its DRAM "
      "image OUT.dram (load it at 0: `ember cosim OUT.nasm --load "
      "OUT.dram@0 ...`). Tokens order every conflicting access, so any "
      "correct executor computes the golden model's result. With "
      "--directed, writes the NPU tests' directed programs into the "
      "directory OUT as a hand-over (`ember cosim OUT --dut E` runs them in "
      "order, naming the case of a divergence as its layer).",
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
  cmd.add({"-o"}, "OUT",
          "Writes OUT.nasm and OUT.dram (with --directed: the directory "
          "OUT). Required.",
          cmdline::text(prefix));
  bool directed = false;
  cmd.add({"--directed"}, "",
          "Writes the directed programs of the NPU tests (every instruction "
          "form, the arithmetic edges) into the directory -o DIR as a "
          "co-simulation hand-over.",
          cmdline::set(directed));
  if (auto rc = cmd.parse(argc, argv, 1))
    return *rc;
  if (directed) {
    if (prefix.empty())
      return cmd.usageError("missing -o OUT");
    if (cmd.given("--seed") || cmd.given("--length") || cmd.given("--bias"))
      return cmd.usageError("--directed takes no --seed, --length or --bias");
    mkdir(prefix.c_str(), 0755);
    std::remove((prefix + "/handover.txt").c_str());
    std::vector<test::TestCase> cases = test::directedCases();
    size_t written = 0;
    std::vector<std::string> skipped;
    for (size_t k = 0; k < cases.size(); ++k) {
      const test::TestCase &tc = cases[k];
      ember_plugin::ProgramHandover h;
      h.program = "# directed program " + tc.name + "\n";
      for (const Insn &i : tc.program)
        h.program += formatInsn(i) + "\n";
      // A case with a field its encoding cannot hold (the tests run the
      // decoded form) is not a program file: skipped, and said so.
      std::vector<Word> words;
      if (!assemble(h.program, words).empty()) {
        skipped.push_back(tc.name);
        continue;
      }
      h.programExt = ".nasm";
      h.insns = tc.program.size();
      h.dram = tc.dram;
      h.dramBytes = tc.dram.size();
      h.layers.layers.push_back({tc.name, {}});
      h.layers.insnLayer.assign(tc.program.size(), 0);
      std::string err = ember_plugin::writeHandover(prefix, written++, h);
      if (!err.empty()) {
        std::fprintf(stderr, "error: %s (%s)\n", err.c_str(), prefix.c_str());
        return 1;
      }
    }
    for (const std::string &n : skipped)
      std::fprintf(stderr,
                   "note: directed case %s has a field its encoding "
                   "cannot hold; skipped\n",
                   n.c_str());
    std::printf("%s: %zu directed programs (ember cosim %s --dut E)\n",
                prefix.c_str(), written, prefix.c_str());
    return 0;
  }
  if (!cmd.given("--seed"))
    return cmd.usageError("missing --seed N");
  if (prefix.empty())
    return cmd.usageError("missing -o OUT");
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

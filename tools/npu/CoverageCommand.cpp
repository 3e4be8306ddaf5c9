//===- CoverageCommand.cpp - `ember-npu coverage` -------------------------===//
//
// Functional coverage (ember/npu/Coverage.h) of a regression: programs given
// on the command line (each with its DRAM image), the example kernels, and
// constrained-random programs of every bias. Each program runs on the golden
// model first; only programs that reach FINISH are sampled.
//
//===----------------------------------------------------------------------===//
#include "KernelCommand.h"

#include "Kernels.h"
#include "ProgramGen.h"
#include "ember/CommandLine.h"
#include "ember/npu/Assembler.h"
#include "ember/npu/Coverage.h"
#include "ember/npu/driver.h"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ember::npu {

namespace {

int fail(const std::string &what, const std::string &where) {
  std::fprintf(stderr, "error: %s (%s)\n", what.c_str(), where.c_str());
  return 1;
}

} // namespace

const CliCommand &coverageCommand() {
  static const CliCommand c = {
      "coverage", "[PROGRAM@DRAM]... [--gen N] [options]",
      "Reports the functional coverage bins (defined from the spec: opcode x "
      "flag, field edges, last rows, engine pairs, token FIFOs full and "
      "empty, DMA rows split at burst boundaries) that a regression hits on "
      "the golden model. The last line is 'coverage: bins=<n> hit=<n> "
      "ratio=<0..1>'.",
      coverageMain};
  return c;
}

int coverageMain(int argc, char **argv) {
  uint64_t gen = 0, length = 200, dramBytes = test::kTestDramBytes;
  bool kernelsToo = false, directed = false, listMisses = false,
       listHits = false;
  const CliCommand &info = coverageCommand();
  cmdline::Command cmd(argv[0], info.usage, info.summary);
  std::vector<std::string> pos;
  cmd.positional("PROGRAM@DRAM",
                 "An assembly program and its DRAM image (loaded at 0), as "
                 "`ember-npu gen` writes them: PREFIX.nasm@PREFIX.dram.",
                 pos, 0, 100000);
  cmd.add({"--gen"}, "N",
          "Also samples `ember-npu gen` programs of seeds 0 .. N-1 (the "
          "biases in turn: none, dma, gemm, vector, hazards).",
          [&gen](const std::string &s) {
            return cmdline::parseUint(s, 0, 1000000, gen);
          });
  cmd.add({"--length"}, "L", "Their length. Default: 200.",
          [&length](const std::string &s) {
            return cmdline::parseUint(s, 10, 100000, length);
          });
  cmd.add({"--kernels"}, "", "Also samples the example kernels.",
          cmdline::set(kernelsToo));
  cmd.add({"--directed"}, "",
          "Also samples the directed programs of the NPU tests (every "
          "instruction, every field at its edges).",
          cmdline::set(directed));
  cmd.add({"--misses"}, "", "Lists the bins missed.", cmdline::set(listMisses));
  cmd.add({"--hits"}, "", "Lists every bin with its hit count.",
          cmdline::set(listHits));
  if (auto rc = cmd.parse(argc, argv, 1))
    return *rc;
  CoverageModel model(EMBER_NPU_DRAM_BURST_BYTES_DEFAULT, dramBytes);
  size_t programs = 0;
  auto take = [&](const std::vector<Insn> &p, const std::vector<uint8_t> &dram,
                  const std::string &name) -> int {
    std::vector<uint8_t> d = dram;
    d.resize(std::max<uint64_t>(dramBytes, d.size()));
    std::string err = model.sampleRun(p, std::move(d));
    if (!err.empty())
      return fail("the golden model fails it: " + err, name);
    ++programs;
    return 0;
  };
  for (const std::string &spec : pos) {
    size_t at = spec.rfind('@');
    if (at == std::string::npos)
      return cmd.usageError("expected PROGRAM@DRAM, not '" + spec + "'");
    std::ifstream in(spec.substr(0, at)),
        im(spec.substr(at + 1), std::ios::binary);
    if (!in || !im)
      return fail("cannot open", spec);
    std::stringstream ss;
    ss << in.rdbuf();
    std::vector<Word> words;
    std::string err = assemble(ss.str(), words);
    if (!err.empty())
      return fail(err, spec.substr(0, at));
    std::vector<uint8_t> dram((std::istreambuf_iterator<char>(im)),
                              std::istreambuf_iterator<char>());
    std::vector<Insn> p;
    err = checkProgram(words, std::max<uint64_t>(dramBytes, dram.size()), p);
    if (!err.empty())
      return fail(err, spec.substr(0, at));
    if (int rc = take(p, dram, spec))
      return rc;
  }
  const test::GenBias biases[] = {test::GenBias::None, test::GenBias::Dma,
                                  test::GenBias::Gemm, test::GenBias::Vector,
                                  test::GenBias::Hazards};
  if (directed)
    for (const test::TestCase &tc : test::directedCases())
      if (int rc = take(tc.program, tc.dram, tc.name))
        return rc;
  for (uint64_t s = 0; s < gen; ++s) {
    test::TestCase tc =
        test::randomCase(uint32_t(s), int(length), biases[s % 5]);
    if (int rc = take(tc.program, tc.dram, "gen --seed " + std::to_string(s)))
      return rc;
  }
  if (kernelsToo) {
    for (const kernels::Kernel &k :
         {kernels::buildGemm(256, 256, 256, true, 1),
          kernels::buildConv3x3(32, 32, 64, 64, true, 1, false),
          kernels::buildConv3x3(32, 32, 64, 64, true, 1, true)}) {
      // The kernels' DRAM is larger than the random programs': sample their
      // bins against it (DRAM.end is about the programs' own DRAM).
      std::string err = model.sampleRun(k.program, k.dram);
      if (!err.empty())
        return fail("the golden model fails it: " + err, k.name);
      ++programs;
    }
  }
  if (listHits)
    for (const auto &b : model.hits())
      std::printf("%-40s %llu\n", b.first.c_str(),
                  static_cast<unsigned long long>(b.second));
  std::vector<std::string> misses = model.misses();
  if (listMisses)
    for (const std::string &m : misses)
      std::printf("miss: %s\n", m.c_str());
  std::printf("coverage: programs=%zu bins=%zu hit=%zu ratio=%.4f\n", programs,
              model.bins(), model.hit(),
              model.bins() ? double(model.hit()) / double(model.bins()) : 0.0);
  return 0;
}

} // namespace ember::npu

// The `ember` command: compile, run, bench, conform, quantize (and the NPU
// tools when built). Each subcommand parses its options through Options.h and
// the cmdline layer; this file holds the command table and `ember --help`.
#include "Driver.h"
#include "Profile.h"

#ifdef EMBER_HAVE_NPU
#include "ember/npu/Cli.h"
#endif

#include "backend/Plugin.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

namespace ember::cli {

namespace {

std::vector<Subcommand> makeTable() {
  std::vector<Subcommand> t = {
      {"compile", "MODEL [options]",
       "Imports a model, optimizes and lowers it, and writes one stage: "
       "the graph IR, the lowered graph, the LIR, Graphviz, the partition "
       "plan of a plugin target, or an ahead-of-time artifact or bundle. "
       "MODEL may also be graph IR text (.eir) or LIR text (.lir).",
       compileMain},
      {"run", "MODEL [options]",
       "Compiles a model for the target and runs it once, on the inputs "
       "given and seeded random values for the rest. Prints one line per "
       "output, then 'target=<t> nodes=<n> compile_ms=<x> run_ms=<x> "
       "outputs=<n>' with the partition summary of a plugin target.",
       runMain},
      {"bench", "MODEL [options]",
       "Times a model on the target: compiles it once, runs it on fixed "
       "seeded inputs (warm-up runs first) and prints the latency. The "
       "last line is 'median_ms=<x> runs=<n> threads=<n>', which bench/ "
       "scripts parse.",
       benchMain},
      {"conform", "PATH... [options]",
       "Runs ONNX test cases on the target and compares each output with "
       "the expected one. PATH is a test-case folder (model.onnx and "
       "test_data_set_*/), a folder of them, or a light model (NAME.onnx "
       "beside NAME_output_0.pb). Prints 'PASS|FAIL|UNSUPPORTED|ERROR "
       "<case> [reason]' per case, then 'N passed, N failed, N skipped'; "
       "exits 0 only when nothing failed. With --kit, runs the plugin "
       "conformance kit (ember-kit) instead.",
       conformMain},
      {"quantize", "MODEL --calibration DIR -o OUT.onnx [options]",
       "Quantizes a float model to int8 (an ONNX QDQ model) from the "
       "ranges its activations take on calibration inputs: per-channel int8 "
       "weights, int32 biases, cross-layer equalization, bias correction, "
       "an SQNR report and automatic mixed precision (docs/quantization.md). "
       "Prints a summary; the model is written to OUT.onnx.",
       quantizeMain},
  };
#ifdef EMBER_HAVE_NPU
  // The NPU tool's commands (ember-npu) under `ember`: argv[0] names them
  // "ember NAME" in help and errors.
  for (const npu::CliCommand &c : npu::cliCommands()) {
    auto run = [&c](int argc, char **argv) {
      if (!std::strcmp(c.name, "cosim") && cosimNamesModel(argc, argv))
        return cosimModelMain(argc, argv);
      std::string self = std::string("ember ") + c.name;
      std::vector<char *> args = {const_cast<char *>(self.c_str())};
      for (int i = 2; i < argc; ++i)
        args.push_back(argv[i]);
      args.push_back(nullptr);
      return c.main(int(args.size()) - 1, args.data());
    };
    t.push_back({c.name, c.usage, c.summary, run});
  }
#endif
  return t;
}

// The first sentence of a summary.
std::string brief(const std::string &s) {
  size_t dot = s.find(". ");
  return dot == std::string::npos ? s : s.substr(0, dot + 1);
}

} // namespace

const std::vector<Subcommand> &subcommands() {
  static const std::vector<Subcommand> table = makeTable();
  return table;
}

std::string topLevelHelp() {
  std::string out =
      "usage: ember <command> [options]\n\n" +
      cmdline::wrap(
          "Ember's compiler driver: compiles ONNX models (or graph IR and "
          "LIR text) for a target, runs, times and checks them.",
          80, 0, 0) +
      "\n\ncommands:\n";
  for (const Subcommand &s : subcommands()) {
    std::string lab = "  " + s.name + " " + s.usage;
    out += lab + "\n" + cmdline::wrap(brief(s.summary), 80, 6, 6) + "\n";
  }
  // The shared options, described once (each command lists its own).
  Command shared("ember", "", "");
  TargetOptions t;
  InputOptions in;
  ProfileRequest prof;
  addTargetOptions(shared, t, kRunTarget | kAotTarget);
  addProfileOptions(shared, prof);
  addInputOptions(shared, in, true);
  out += "\nOptions shared by the commands that compile or run a model (each "
         "command's\n--help lists the ones it takes):\n" +
         shared.optionsHelp();
  out += "\noptions:\n"
         "  -h, --help            Prints this help and exits.\n"
         "  --version             Prints ember's version and exits.\n\n";
  out += cmdline::wrap(
      "'ember COMMAND --help' (or 'ember help COMMAND') describes every "
      "option of a command. Errors are one line on stderr, 'error: <what> "
      "(<where>)', with a non-zero exit. docs/command-line.md has the "
      "details.",
      80, 0, 0);
  return out + "\n";
}

} // namespace ember::cli

static int dispatch(int argc, char **argv);

int main(int argc, char **argv) {
  int rc = dispatch(argc, argv);
  // A plugin hung (an execution never completed): its threads may still
  // run, and static destructors could wait for them. Leave at once.
  if (ember::backend::anyPluginHung()) {
    std::fflush(stdout);
    std::fflush(stderr);
    _exit(rc);
  }
  return rc;
}

static int dispatch(int argc, char **argv) {
  using namespace ember::cli;
  std::string names;
  for (const Subcommand &s : subcommands())
    names += (names.empty() ? "" : ", ") + s.name;
  if (argc < 2) {
    std::fprintf(stderr,
                 "error: missing command; the commands are %s (ember; see "
                 "'ember --help')\n",
                 names.c_str());
    return 1;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h") {
    std::fputs(topLevelHelp().c_str(), stdout);
    return 0;
  }
  if (cmd == "--version") {
    std::printf("ember %s\n", EMBER_VERSION);
    return 0;
  }
  if (cmd == "help") {
    if (argc < 3) {
      std::fputs(topLevelHelp().c_str(), stdout);
      return 0;
    }
    for (const Subcommand &s : subcommands())
      if (s.name == argv[2]) {
        char help[] = "--help";
        char *args[] = {argv[0], argv[2], help, nullptr};
        return s.main(3, args);
      }
    cmd = argv[2];
  } else {
    for (const Subcommand &s : subcommands())
      if (s.name == cmd)
        return s.main(argc, argv);
  }
  std::fprintf(stderr,
               "error: unknown command '%s'; the commands are %s (ember; see "
               "'ember --help')\n",
               cmd.c_str(), names.c_str());
  return 1;
}

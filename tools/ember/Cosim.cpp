// `ember cosim MODEL`: a compiled model's NPU programs on a reference
// executor and a device under test, compared at every retirement, the first
// divergence named with its layer and source nodes (docs/npu-rtl.md, "Whole
// models"). The model runs once with npu-sim on the golden model, which
// hands every program run over (program, DRAM as it starts, layer map;
// ember/plugin_handover.hpp) into a directory; then `ember cosim DIR`
// compares them in order.
#include "Driver.h"

#ifdef EMBER_HAVE_NPU
#include "ember/npu/Cli.h"
#endif

#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ember::cli {

namespace {

int removeEntry(const char *path, const struct stat *, int, struct FTW *) {
  return ::remove(path);
}

// Runs `ember run ARGS` with its stdout (the outputs, its summary line)
// discarded; its errors stay on stderr.
int runQuietly(std::vector<std::string> args) {
  std::vector<char *> argv;
  for (std::string &a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  int saved = dup(1), null = open("/dev/null", O_WRONLY);
  if (saved >= 0 && null >= 0)
    dup2(null, 1);
  int rc = runMain(int(argv.size()) - 1, argv.data());
  std::fflush(stdout);
  if (saved >= 0) {
    dup2(saved, 1);
    close(saved);
  }
  if (null >= 0)
    close(null);
  return rc;
}

} // namespace

bool cosimNamesModel(int argc, char **argv) {
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 4 && a[0] != '-' &&
        (isOnnxPath(a) || a.compare(a.size() - 4, 4, ".eir") == 0))
      return true;
  }
  return false;
}

int cosimModelMain(int argc, char **argv) {
#ifndef EMBER_HAVE_NPU
  (void)argc;
  (void)argv;
  std::fprintf(stderr, "error: this build has no NPU (cosim)\n");
  return 1;
#else
  cmdline::Command cmd(
      "ember cosim", "MODEL --ref E --dut E|LIB.so [options]",
      "Compiles MODEL (ONNX or graph IR text) with the npu-sim backend, runs "
      "it once on the golden model, which hands every NPU program run over "
      "(the program, DRAM as it starts, the layer map) into a directory, "
      "then compares each program on the REF and the DUT at every "
      "instruction's retirement, in order. On the first divergence prints "
      "the instruction, its layer and source nodes, engine, DUT cycle and "
      "differing bytes, writes a waveform window and exits 1. The last line "
      "is 'cosim: agree ... programs=<n>' or 'cosim: diverged at "
      "instruction <i> ... program=<k> layer=<name>'.");
  std::vector<std::string> pos, runArgs, cosimArgs;
  std::string refName = "golden", dutName, handover;
  auto pass = [](std::vector<std::string> &to, const char *flag) {
    return [&to, flag](const std::string &v) {
      to.push_back(flag);
      to.push_back(v);
      return std::string();
    };
  };
  cmd.positional("MODEL", "An ONNX model or graph IR text (.eir).", pos, 1, 1);
  cmd.add({"--ref"}, "E",
          "The reference: golden (default), systemc, rtl or LIB.so.",
          cmdline::text(refName));
  cmd.add({"--dut"}, "E",
          "The device under test: golden, systemc, rtl or LIB.so (a "
          "vendor's executor library). Required.",
          cmdline::text(dutName));
  for (const char *o : {"--ref-options", "--dut-options", "--waveform",
                        "--window", "--max-bytes", "--stall-cycles"})
    cmd.add({o}, "VALUE",
            std::string("As for `ember cosim PROGRAM` ") + o + ".",
            pass(cosimArgs, o));
  cmd.add({"--no-waveform"}, "", "Does not rerun the DUT for a waveform.",
          [&cosimArgs](const std::string &) {
            cosimArgs.push_back("--no-waveform");
            return std::string();
          });
  cmd.add({"--cycles"}, "",
          "Two timed executors: also every instruction's retire cycle, as "
          "for `ember cosim PROGRAM --cycles`.",
          [&cosimArgs](const std::string &) {
            cosimArgs.push_back("--cycles");
            return std::string();
          });
  cmd.add({"--handover"}, "DIR",
          "Keeps the hand-over in DIR (created; replay it with `ember cosim "
          "DIR --dut E`). Default: a temporary directory, removed when the "
          "two agree.",
          cmdline::text(handover));
  cmd.add({"--input"}, "NAME=FILE",
          "An input's value (.npy or .pb), as for `ember run`. Repeatable. "
          "Default: the model's test_data_set_0 when it has one, else "
          "seeded random.",
          pass(runArgs, "--input"))
      .setRepeatable();
  cmd.add({"--seed"}, "N", "Seed of the random inputs, as for `ember run`.",
          pass(runArgs, "--seed"));
  cmd.add({"--backend-opt"}, "KEY=VALUE",
          "An npu-sim backend option of the compile (docs/npu-backend.md). "
          "Repeatable.",
          pass(runArgs, "--backend-opt"))
      .setRepeatable();
  if (auto rc = cmd.parse(argc, argv, 2))
    return *rc;
  if (dutName.empty())
    return cmd.usageError("missing --dut (golden, systemc, rtl or LIB.so)");
  const std::string &model = pos[0];
  bool temporary = handover.empty();
  if (temporary) {
    const char *tmp = getenv("TMPDIR");
    std::string tmpl =
        std::string(tmp && *tmp ? tmp : "/tmp") + "/ember-cosim-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
      std::fprintf(stderr, "error: cannot make a temporary directory (%s)\n",
                   tmpl.c_str());
      return 1;
    }
    handover = tmpl;
  } else {
    mkdir(handover.c_str(), 0755);
    std::remove((handover + "/handover.txt").c_str());
  }
  // The model's own inputs, when it comes with a test case and none is
  // given (an ONNX test case folder: model.onnx beside test_data_set_0/).
  bool inputGiven = false;
  for (const std::string &a : runArgs)
    inputGiven |= a == "--input";
  std::vector<std::string> run = {"ember",         "run",
                                  model,           "--target=npu-sim",
                                  "--backend-opt", "executor=golden"};
  run.insert(run.end(), runArgs.begin(), runArgs.end());
  run.push_back("--backend-opt");
  run.push_back("handover=" + handover);
  if (!inputGiven && isOnnxPath(model)) {
    size_t slash = model.rfind('/');
    std::string dir = slash == std::string::npos ? "." : model.substr(0, slash);
    std::string set = dir + "/test_data_set_0";
    struct stat sb;
    if (stat(set.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode)) {
      auto m = loadModelPrintingNotes(model, ImportOptions());
      if (m) {
        const auto &ins = (*m)->main()->params();
        for (size_t i = 0; i < ins.size(); ++i) {
          std::string f = set + "/input_" + std::to_string(i) + ".pb";
          if (stat(f.c_str(), &sb) == 0 && !ins[i]->outNames.empty()) {
            run.push_back("--input");
            run.push_back(ins[i]->outNames[0] + "=" + f);
          }
        }
      }
    }
  }
  int rc = runQuietly(run);
  if (rc != 0) {
    std::fprintf(stderr,
                 "note: that was the golden run that hands the NPU programs "
                 "over\n");
    return rc;
  }
  struct stat mb;
  if (stat((handover + "/handover.txt").c_str(), &mb) != 0) {
    std::fprintf(stderr,
                 "error: the model runs no NPU program (no node was placed "
                 "on npu-sim) (%s)\n",
                 model.c_str());
    return 1;
  }
  std::printf("model: %s compiled for npu-sim, its NPU runs handed over to "
              "%s\n",
              model.c_str(), handover.c_str());
  std::vector<std::string> c = {"ember cosim", handover, "--ref",
                                refName,       "--dut",  dutName};
  c.insert(c.end(), cosimArgs.begin(), cosimArgs.end());
  std::vector<char *> cv;
  for (std::string &a : c)
    cv.push_back(a.data());
  cv.push_back(nullptr);
  std::fflush(stdout);
  rc = npu::cosimMain(int(cv.size()) - 1, cv.data());
  std::fflush(stdout);
  if (rc == 0 && temporary)
    nftw(handover.c_str(), removeEntry, 16, FTW_DEPTH | FTW_PHYS);
  else if (rc != 0)
    std::fprintf(stderr,
                 "note: hand-over kept in %s (replay: ember cosim %s --dut "
                 "%s)\n",
                 handover.c_str(), handover.c_str(), dutName.c_str());
  return rc;
#endif
}

} // namespace ember::cli

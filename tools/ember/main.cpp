// The `ember` command: compile, run, conform (and NPU tools when built).
#include "Driver.h"

#ifdef EMBER_HAVE_NPU
#include "ember/npu/Cli.h"
#endif

#include "backend/Plugin.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

static void usage() {
  std::printf(
      "usage: ember <command> [options]\n\n"
      "commands:\n"
      "  compile MODEL.onnx --target=T [--emit=graph|lowered|lir|dot|"
      "partitions|\n          artifact|bundle] [-o OUT] [--target-triple T] "
      "[--target-cpu C] [--threads N]\n"
      "          [--backend-opt KEY=VALUE]... (artifact, bundle)\n"
      "          [--dim NAME=N]... [--input-shape NAME=DxDx..]... [--O0]\n"
      "          [--time-passes]\n"
      "          [--passes=a,b,c] [--elide-constants] [--memory-report]\n"
      "  compile FILE.eir --emit=... (graph IR text in, see docs/graph-ir.md)\n"
      "  compile FILE.lir --emit=lir [--memory-report] (LIR text, "
      "docs/lir.md)\n"
      "  run MODEL.onnx --target=T [--input NAME=FILE]... [--seed N]\n"
      "          [--fallback=interp|none|TARGET] [--threads N] "
      "[--timeout SEC]\n"
      "          [--backend-opt KEY=VALUE]...\n"
      "          [--save-outputs DIR] [--dim NAME=N]...\n"
      "          [--input-shape NAME=DxD..]...\n"
      "  conform [--target=T] [--rtol R] [--atol A] [--quanta Q] [--junit "
      "FILE]\n"
      "          [--min-pass N] [--no-lower] [--lir] [--O0] [--jobs N]\n"
      "          [--fallback=none|interp|TARGET] [--threads N] [--timeout "
      "SEC]\n"
      "          [--dim NAME=N]... [--no-freeze] PATH...\n"
      "  conform --kit --target=plugin:PATH.so [--junit F] [--json F] "
      "[--layers L]\n          [--timeout SEC]\n"
      "          (the plugin conformance kit, tools/kit/README.md)\n"
      "  bench MODEL.onnx --target=T [--threads N] [--runs N] [--warmup N]\n"
      "          [--backend-opt KEY=VALUE]... [--input NAME=FILE]...\n"
      "          [--dim NAME=N]... [--input-shape NAME=DxD..]... [--timeout "
      "SEC]\n"
      "          (last line: median_ms=<x> runs=<n> threads=<n>)\n"
      "  quantize MODEL.onnx --calibration DIR -o OUT.onnx [--method minmax|\n"
      "          percentile|entropy|mse] [--percentile P] [--per-tensor]\n"
      "          [--activation-type uint8|int8] [--keep-float NODE]...\n"
      "          [--profile-out PROFILE.json] [--profile PROFILE.json]\n"
      "          [--report] [--target-sqnr DB [--max-float K]]\n"
      "          [--no-equalize] [--equalize-clip] [--no-bias-correction]\n"
      "          [--refine none|ranges|bias|all] [--refine-samples N]\n"
      "          [--max-samples N]\n"
      "          [--eval-samples N] [--target=cpu|interp] [--threads N]\n"
      "          (int8 QDQ model; docs/quantization.md)\n"
#ifdef EMBER_HAVE_NPU
      "  asm FILE.nasm -o FILE.bin | disasm FILE.bin | sim PROGRAM ...\n"
#endif
      "\nsymbolic input dims: --input files and --input-shape bind them; "
      "--dim binds\n"
      "one by name; an unbound batch-like dim (dim 0 of every input naming "
      "it) or\n"
      "sequence length is 1, with a note on stderr (docs/onnx-import.md)\n"
      "\ntargets: interp (reference interpreter, in process), "
      "plugin:PATH.so,\n"
      "         plugin:NAME (lib/ember/libember_NAME.so), cpu, npu-sim\n"
      "         (see docs/backend-abi.md)\n"
      "--timeout SEC (run, bench, conform): the longest one plugin call or\n"
      "         execution may take; default 300 for plugin targets, 0: none.\n"
      "         A hung plugin is reported naming the call; exit status 124.\n");
}

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
  if (argc < 2 || !std::strcmp(argv[1], "--help") ||
      !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    usage();
    return argc < 2 ? 1 : 0;
  }
  std::string cmd = argv[1];
  if (cmd == "compile")
    return ember::cli::compileMain(argc, argv);
  if (cmd == "run")
    return ember::cli::runMain(argc, argv);
  if (cmd == "conform")
    return ember::cli::conformMain(argc, argv);
  if (cmd == "bench")
    return ember::cli::benchMain(argc, argv);
  if (cmd == "quantize")
    return ember::cli::quantizeMain(argc, argv);
#ifdef EMBER_HAVE_NPU
  if (cmd == "asm")
    return ember::npu::asmMain(argc - 1, argv + 1);
  if (cmd == "disasm")
    return ember::npu::disasmMain(argc - 1, argv + 1);
  if (cmd == "sim")
    return ember::npu::simMain(argc - 1, argv + 1);
#endif
  std::fprintf(stderr, "error: unknown command '%s' (run 'ember --help')\n",
               cmd.c_str());
  return 1;
}

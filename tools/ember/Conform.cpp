// `ember conform`: runs ONNX test cases (model.onnx + test_data_set_*/) and
// ONNX "light" model cases (NAME.onnx + NAME_output_0.pb) through the
// pipeline and the target, and compares with the expected outputs
// (ember_api's conformance runner, ember/api/Conform.h). Each case runs in
// a forked child, so a crash or hang in one case is reported as ERROR for
// that case and the run goes on. --shard I/N runs every N-th case, and
// --merge-junit combines the shards' JUnit reports.
#include "ember/api/Conform.h"
#include "Devices.h"
#include "Driver.h"
#include "ember/api/JUnit.h"

#include "import/TensorIO.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <tuple>
#include <unistd.h>

namespace ember::cli {

// `ember conform --kit --target=plugin:X [--junit F] [--json F] [--layers L]
// [--reference R] [--timeout SEC]` hands over to the conformance kit
// (ember-kit, beside ember).
int runKitFor(const Command &cmd, const std::string &target,
              const std::vector<std::pair<std::string, std::string>> &kitArgs) {
  std::vector<std::string> args;
  auto path = pluginPathFor(target);
  if (!path)
    return reportError(path.status());
  if (path->empty())
    return cmd.usageError(
        "--kit needs a plugin target (--target=plugin:PATH.so)");
  args.push_back("--plugin=" + *path);
  for (const auto &[opt, v] : kitArgs)
    args.push_back(opt + "=" + v);
  std::string kit = pluginDir() + "/../../bin/ember-kit";
  std::vector<char *> argv;
  argv.push_back(const_cast<char *>(kit.c_str()));
  for (auto &x : args)
    argv.push_back(const_cast<char *>(x.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  execv(kit.c_str(), argv.data());
  return reportError(makeError(ErrorCode::Io,
                               "cannot run the conformance kit '", kit,
                               "': ", std::strerror(errno)));
}

namespace {

// What `ember conform` was asked: its options, as declared by
// addConformOptions.
struct ConformArgs {
  std::vector<std::string> paths;
  ConformOptions o;
  TargetOptions t;
  InputOptions inOpt;
  DeviceOptions dopt;
  std::string junit;
  int jobs = 1;
  uint64_t minPass = 0;
  bool kit = false, noLower = false, noFork = false, noFreeze = false;
  std::string shardSpec, mergeOut;
  // --kit: the plugin conformance kit (tools/kit/README.md), with the
  // options it takes.
  std::vector<std::pair<std::string, std::string>> kitArgs;
};

void addConformOptions(Command &cmd, ConformArgs &a) {
  cmd.positional("PATH",
                 "An ONNX test-case folder (model.onnx and "
                 "test_data_set_*/input_*.pb, output_*.pb), a folder of them, "
                 "or a light model (NAME.onnx beside NAME_output_0.pb).",
                 a.paths, 0, SIZE_MAX);
  addTargetOptions(cmd, a.t, kRunTarget, "",
                   "none (a plugin passes only what it runs itself); for "
                   "npu-sim, as run: cpu when it is built, else interp.");
  addInputOptions(cmd, a.inOpt, false);
  addDeviceOptions(cmd, a.dopt, false);
  cmd.sectionTitle("check", "checking");
  cmd.add({"--rtol"}, "R",
          "Relative tolerance of a float output: |got - want| <= atol + "
          "rtol * |want|. Default: 0.001 (at least 4 ulp for f16, bf16).",
          cmdline::realIn(a.o.rtol, 0, 1e6))
      .inSection("check");
  cmd.add({"--atol"}, "A",
          "Absolute tolerance (integer outputs: the largest difference "
          "allowed). Default: 1e-07.",
          cmdline::realIn(a.o.atol, 0, 1e18))
      .inSection("check");
  cmd.add({"--quanta"}, "Q",
          "Extra absolute tolerance, in output quanta, for an output that a "
          "DequantizeLinear computes: Q times its scale (int8 models, "
          "docs/quantization.md). Default: 0, off.",
          cmdline::realIn(a.o.quanta, 0, 1e6))
      .inSection("check");
  cmd.add({"--scale-tol"}, "S",
          "Extra absolute tolerance of a float output: S times its largest "
          "expected magnitude (whole models, whose values near zero carry "
          "the rounding of the large terms they sum). Default: 0, off.",
          cmdline::realIn(a.o.scaleTol, 0, 1))
      .inSection("check");
  cmd.add({"--no-lower"}, "",
          "Runs the optimized graph without lowering it to the primitive "
          "set.",
          cmdline::set(a.noLower))
      .inSection("check");
  cmd.add({"--lir"}, "",
          "Runs through the LIR (IR generation, memory planning, the LIR "
          "interpreter) instead of the graph interpreter; --target=interp "
          "only.",
          cmdline::set(a.o.lir))
      .inSection("check");
  cmd.add({"--no-freeze"}, "",
          "Does not specialize a case on the values of the inputs that "
          "decide shapes (an axes operand): the model must then work with "
          "those values unknown at compile time.",
          cmdline::set(a.noFreeze))
      .inSection("check");
  cmd.add({"--min-pass"}, "N",
          "Exits 0 when at least N cases pass, whatever fails (a floor for "
          "CI). Default: exit 0 only when nothing fails.",
          cmdline::uintIn(a.minPass, 0, UINT32_MAX))
      .inSection("check");
  cmd.sectionTitle("run", "running");
  cmd.add({"--jobs", "-j"}, "N",
          "Cases run at once, each in a process of its own, 1 to 256. "
          "Default: 1.",
          cmdline::uintIn(a.jobs, 1, 256))
      .inSection("run");
  cmd.add({"--no-fork"}, "",
          "Runs the cases in this process, one after the other (debugging: "
          "a crash ends the run).",
          cmdline::set(a.noFork))
      .inSection("run");
  cmd.add({"--junit"}, "FILE",
          "Also writes the results as JUnit XML (with --kit: the kit's).",
          cmdline::text(a.junit))
      .inSection("run");
  cmd.add({"--shard"}, "I/N",
          "Runs shard I of N (1-based) of the cases: the cases whose "
          "position k in the sorted list of every PATH has k mod N = I - 1, "
          "so shards differ by at most one case and the split depends only "
          "on the cases. The JUnit report records the shard, for "
          "--merge-junit.",
          cmdline::text(a.shardSpec))
      .inSection("run");
  cmd.add({"--merge-junit"}, "OUT",
          "Instead of running cases: merges the JUnit reports given as PATH "
          "(one per shard of a --shard run, any order) into OUT, the cases "
          "in the unsharded order. Every shard 1..N must be there once.",
          cmdline::text(a.mergeOut))
      .inSection("run");
  // --kit: the plugin conformance kit (tools/kit/README.md), with the
  // options it takes.
  cmd.sectionTitle("kit", "conformance kit");
  cmd.add({"--kit"}, "",
          "Runs the plugin conformance kit (ember-kit, tools/kit/README.md) "
          "on --target=plugin:... instead of test cases; takes no PATH.",
          cmdline::set(a.kit))
      .inSection("kit");
  for (auto [name, meta, help] :
       {std::tuple{"--json", "FILE", "With --kit: the kit's JSON report."},

        std::tuple{"--layers", "LIST",
                   "With --kit: the layers to run, comma-separated (ember-kit "
                   "--help lists them). Default: all."},
        std::tuple{"--reference", "PATH.so",
                   "With --kit: the plugin the kit checks results against. "
                   "Default: the interpreter plugin."}}) {
    std::string n = name;
    cmd.add({n}, meta, help,
            [&kitArgs = a.kitArgs, n](const std::string &v) -> std::string {
              kitArgs.push_back({n, v});
              return "";
            })
        .inSection("kit");
  }
}

// --merge-junit OUT: the shards' JUnit reports (PATH...) merged into OUT.
int mergeJUnit(const Command &cmd, const ConformArgs &a) {
  for (const cmdline::Option &opt : cmd.options())
    if (cmd.given(opt.names[0]) && opt.names[0] != "--merge-junit")
      return cmd.usageError(opt.names[0] + " does not apply to "
                                           "--merge-junit");
  if (a.paths.empty())
    return cmd.usageError("--merge-junit needs the reports to merge");
  std::vector<std::string> texts;
  for (auto &p : a.paths) {
    auto bytes = readFileBytes(p, uint64_t(1) << 31);
    if (!bytes)
      return reportError(bytes.status());
    texts.push_back(std::move(*bytes));
  }
  auto merged = mergeJUnitReports(a.paths, texts);
  if (!merged)
    return reportError(merged.status());
  std::ofstream out(a.mergeOut);
  out << *merged;
  if (!out)
    return reportError(
        makeError(ErrorCode::Io, "cannot write '", a.mergeOut, "'"));
  return 0;
}

// --kit: hands over to the conformance kit with the options that apply.
int handOverToKit(const Command &cmd, ConformArgs &a) {
  for (const cmdline::Option &opt : cmd.options()) {
    const std::string &n = opt.names[0];
    if (cmd.given(n) && opt.section != "kit" && n != "--target" &&
        n != "--junit" && n != "--timeout" && n != "--op-library")
      return cmd.usageError(n + " does not apply to --kit");
  }
  if (!a.paths.empty())
    return cmd.usageError(
        "--kit takes no PATH (the kit generates its own cases)");
  if (!a.junit.empty())
    a.kitArgs.push_back({"--junit", a.junit});
  for (const std::string &l : a.t.opLibraries)
    a.kitArgs.push_back({"--op-library", l});
  if (a.t.timeout) {
    // The kit times out hung plugins to recover from them: it takes a
    // limit of whole seconds, no "none".
    if (*a.t.timeout <= 0)
      return cmd.usageError("--kit needs a --timeout of 1 second or more "
                            "(the kit recovers from a hung plugin by its "
                            "limit)");
    a.kitArgs.push_back(
        {"--timeout", std::to_string(int64_t(std::ceil(*a.t.timeout)))});
  }
  return runKitFor(cmd, a.t.target, a.kitArgs);
}

} // namespace

int conformMain(int argc, char **argv) {
  Command cmd = makeCommand("conform");
  ConformArgs a;
  addConformOptions(cmd, a);
  if (auto rc = cmd.parse(argc, argv, 2))
    return *rc;
  std::vector<std::string> &paths = a.paths;
  ConformOptions &o = a.o;
  TargetOptions &t = a.t;
  const std::string &junit = a.junit;
  std::string targetName;
  // Custom ops first: the model's import needs them.
  if (Status ls = loadOpLibraries(t); !ls.isOk())
    return reportError(ls);
  targetName = t.target;
  if (!a.mergeOut.empty())
    return mergeJUnit(cmd, a);
  size_t shardIndex = 0, shardCount = 0;
  if (!a.shardSpec.empty()) {
    Status ss = parseShard(a.shardSpec, shardIndex, shardCount);
    if (!ss.isOk())
      return reportError(ss);
  }
  if (a.kit)
    return handOverToKit(cmd, a);
  for (const char *n : {"--json", "--layers", "--reference"})
    if (cmd.given(n))
      return cmd.usageError(std::string(n) + " needs --kit");
  if (paths.empty())
    return cmd.usageError("missing PATH, or --kit");
  // --timeout limits each plugin call; a whole case gets more.
  double callLimit = 0;
  applyTimeout(t, &callLimit);
  if (callLimit > 0)
    o.timeoutSec = std::max(600, int(2 * callLimit) + 60);
  o.lower = !a.noLower;
  o.pipeline = t.pipeline();
  o.freeze = !a.noFreeze;
  if (o.lir && !o.lower)
    return cmd.usageError("--lir needs lowering (drop --no-lower)");
  for (auto &spec : a.inOpt.dims) {
    Status ds = parseDimBinding(spec, o.shapes);
    if (!ds.isOk())
      return reportError(ds);
  }
  for (auto &spec : a.inOpt.shapes) {
    Status ds = parseInputShapeBinding(spec, o.shapes);
    if (!ds.isOk())
      return reportError(ds);
  }
  o.shapes.defaults = true;
  // A plugin passes only what it runs itself, unless --fallback names where
  // the rest runs (interp or another target). npu-sim is an accelerator
  // target: like run and bench, its unclaimed nodes run on the CPU backend
  // ("" is the target's default fallback).
  if (!cmd.given("--fallback"))
    t.fallback = targetName == "npu-sim" ? "" : "none";
  Status s = checkTarget(targetName);
  if (!s.isOk())
    return reportError(s);
  if (o.lir && targetName != "interp")
    return cmd.usageError("--lir runs the LIR interpreter; use it with "
                          "--target=interp");
  if (a.dopt.given()) {
    if (cmd.given("--target") || o.lir)
      return cmd.usageError("--devices replaces --target (and does not go "
                            "with --lir)");
    if (!cmd.given("--fallback"))
      t.fallback = "";
    // Loaded once here (each forked case inherits the plugins); every case
    // opens the devices, places and runs.
    auto dr = loadDevices(a.dopt, t);
    if (!dr)
      return reportError(dr.status());
    auto runtime = std::make_shared<DeviceRuntime>(std::move(*dr));
    o.run = [runtime](const Function &f, const std::vector<Tensor> &in) {
      return runOnDevices(*runtime, f, in);
    };
  } else {
    // Loaded once here; each forked case inherits it.
    auto rt = openTarget(t);
    if (!rt)
      return reportError(rt.status());
    o.runtime = std::move(*rt);
    o.pipeline.requant = o.runtime.requant;
    o.pipeline.keepCustom = o.runtime.keepCustom;
  }

  std::vector<ConformCase> cases;
  for (auto &p : paths) {
    size_t before = cases.size();
    collectConformCases(p, cases);
    if (cases.size() == before)
      return reportError(invalid("no test cases found in '", p,
                                 "' (expected model.onnx with "
                                 "test_data_set_*/ folders)"));
  }
  ShardInfo shard;
  if (shardCount) {
    shard = {shardIndex, shardCount, cases.size()};
    cases = shardCases(cases, shardIndex, shardCount);
  }
  std::vector<ConformResult> results = runConformCases(
      cases, o, a.jobs, !a.noFork, [&](size_t i, const ConformResult &r) {
        std::printf("%s %s%s%s\n", r.status.c_str(), cases[i].name.c_str(),
                    r.reason.empty() ? "" : " ", oneLine(r.reason).c_str());
        std::fflush(stdout);
      });

  size_t pass = 0, fail = 0, skip = 0;
  for (auto &r : results) {
    if (r.status == "PASS")
      ++pass;
    else if (r.status == "UNSUPPORTED")
      ++skip;
    else
      ++fail;
  }
  if (!junit.empty()) {
    std::ofstream j(junit);
    j << junitReport("ember-conform-" + targetName, cases, results, shard);
  }
  std::printf("%zu passed, %zu failed, %zu skipped\n", pass, fail, skip);
  if (cmd.given("--min-pass"))
    return uint64_t(pass) >= a.minPass ? 0 : 1;
  return fail == 0 ? 0 : 1;
}

} // namespace ember::cli

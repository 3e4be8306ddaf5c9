// `ember bench`: compile a model once for a target, run it repeatedly on
// fixed seeded inputs, and report latency. The last line is the contract
// bench/ scripts parse: "median_ms=<x> runs=<n> threads=<n>".
#include "Driver.h"
#include "Profile.h"
#include "Target.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace ember::cli {

int benchMain(int argc, char **argv) {
  Command cmd = makeCommand("bench");
  TargetOptions topt;
  topt.compile.numThreads = 1;
  InputOptions inOpt;
  ProfileRequest prof;
  int runs = 20, warmup = 2;
  std::vector<std::string> pos;
  cmd.positional("MODEL", "an ONNX model, or graph IR text (.eir)", pos, 1, 1);
  cmd.add({"--runs"}, "N", "Timed runs, 1 to 100000. Default: 20.",
          cmdline::uintIn(runs, 1, 100000));
  cmd.add({"--warmup"}, "N",
          "Untimed runs before the timed ones, 0 to 100000. Default: 2.",
          cmdline::uintIn(warmup, 0, 100000));
  addTargetOptions(cmd, topt, kRunTarget, "1");
  addProfileOptions(cmd, prof);
  addInputOptions(cmd, inOpt, true);
  if (auto rc = cmd.parse(argc, argv, 2))
    return *rc;
  const std::string &target = topt.target;
  const unsigned threads = topt.compile.numThreads;
  const std::string *model = &pos[0];
  ImportOptions io;
  std::map<std::string, Tensor> given;
  Status s = readShapeOptions(inOpt, io, &given);
  if (s.isOk())
    s = checkTarget(target);
  if (!s.isOk())
    return reportError(s);
  applyTimeout(topt);
  topt.compile.profileLevel = prof.level();

  using Clock = std::chrono::steady_clock;
  auto ms = [](auto d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  auto t0 = Clock::now();
  auto m = loadModel(*model, io);
  if (!m)
    return reportError(m.status());
  PipelineOptions po;
  po.optimize = topt.optimizeGraph();
  s = runPipeline(**m, po);
  if (!s.isOk())
    return reportError(s);
  auto tgt = openTarget(topt);
  if (!tgt)
    return reportError(tgt.status());
  Function &f = *(*m)->main();
  auto compiled = CompiledModel::create(*tgt, f);
  if (!compiled)
    return reportError(compiled.status());
  double compileMs = ms(Clock::now() - t0);

  auto bound = bindInputs(f, std::move(given), inOpt.seed);
  if (!bound)
    return reportError(bound.status());
  const std::vector<Tensor> &inputs = *bound;
  for (int i = 0; i < warmup; ++i) {
    auto r = (*compiled)->run(inputs);
    if (!r)
      return reportError(r.status());
  }
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    auto r0 = Clock::now();
    auto r = (*compiled)->run(inputs);
    auto r1 = Clock::now();
    if (!r)
      return reportError(r.status());
    times.push_back(ms(r1 - r0));
  }
  std::sort(times.begin(), times.end());
  double median =
      times.size() % 2
          ? times[times.size() / 2]
          : 0.5 * (times[times.size() / 2 - 1] + times[times.size() / 2]);
  std::string summary = (*compiled)->summary();
  std::printf(
      "model=%s target=%s compile_ms=%.1f min_ms=%.3f max_ms=%.3f%s%s\n",
      model->c_str(), target.c_str(), compileMs, times.front(), times.back(),
      summary.empty() ? "" : " ", summary.c_str());
  std::printf("median_ms=%.3f runs=%d threads=%u\n", median, runs, threads);
  return printProfiles((*compiled)->partitioned(), f, prof);
}

} // namespace ember::cli

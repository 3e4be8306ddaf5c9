// `ember bench`: compile a model once for a target, run it repeatedly on
// fixed seeded inputs, and report latency. The last line is the contract
// bench/ scripts parse: "median_ms=<x> runs=<n> threads=<n>".
// --vs-backend-opt compiles it a second time with some plugin options
// changed and times the two in turn, run by run (an A/B that holds while a
// shared machine's speed drifts).
#include "Devices.h"
#include "Driver.h"
#include "Profile.h"
#include "ember/api/Target.h"

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
  std::map<std::string, std::string> vsOpts;
  cmd.add({"--vs-backend-opt"}, "KEY=VALUE",
          "Also compile the model with this plugin option (as --backend-opt) "
          "changed, and time the two in turn, one run each: prints the "
          "second's median and the median of the per-run ratios (second / "
          "first). Repeatable. Default: none.",
          [&vsOpts](const std::string &v) {
            std::string e = cmdline::keyValue(vsOpts)(v);
            return e.empty() ? e
                             : "expected KEY=VALUE, the plugin's own option";
          })
      .setRepeatable()
      .inSection("target");
  addProfileOptions(cmd, prof);
  addInputOptions(cmd, inOpt, true);
  DeviceOptions dopt;
  addDeviceOptions(cmd, dopt, true);
  if (auto rc = cmd.parse(argc, argv, 2))
    return *rc;
  // Custom ops first: the model's import needs them.
  if (Status ls = loadOpLibraries(topt); !ls.isOk())
    return reportError(ls);
  if (!dopt.given() && (cmd.given("--requests") || cmd.given("--concurrency")))
    return cmd.usageError("--requests and --concurrency need --devices");
  if (dopt.given()) {
    for (const char *o : {"--target", "--vs-backend-opt", "--npu-report",
                          "--runs", "--threads"})
      if (cmd.given(o))
        return cmd.usageError(std::string(o) +
                              " does not apply with --devices");
    ImportOptions io;
    std::map<std::string, Tensor> given;
    Status s = readShapeOptions(inOpt, io, &given);
    if (!s.isOk())
      return reportError(s);
    return benchDevicesCommand(pos[0], io, given, topt, dopt, inOpt.seed,
                               unsigned(warmup), prof.tracePath);
  }
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
  auto m = loadModelPrintingNotes(*model, io);
  if (!m)
    return reportError(m.status());
  auto tgt = openTarget(topt);
  if (!tgt)
    return reportError(tgt.status());
  PipelineOptions po = topt.pipeline();
  po.requant = tgt->requant;
  po.keepCustom = tgt->keepCustom;
  s = runPipeline(**m, po);
  if (!s.isOk())
    return reportError(s);
  Function &f = *(*m)->main();
  auto compiled = CompiledModel::create(*tgt, f);
  if (!compiled)
    return reportError(compiled.status());
  double compileMs = ms(Clock::now() - t0);
  // The second executable (--vs-backend-opt), or none.
  std::unique_ptr<CompiledModel> vs;
  if (!vsOpts.empty()) {
    if (target == "interp")
      return reportError(makeError(ErrorCode::Invalid, "--vs-backend-opt",
                                   ": the interpreter has no plugin options"));
    TargetOptions vopt = topt;
    for (const auto &kv : vsOpts)
      vopt.compile.vendor[kv.first] = kv.second;
    auto vt = openTarget(vopt);
    if (!vt)
      return reportError(vt.status());
    auto vc = CompiledModel::create(*vt, f);
    if (!vc)
      return reportError(vc.status());
    vs = std::move(*vc);
  }

  auto bound = bindInputs(f, std::move(given), inOpt.seed);
  if (!bound)
    return reportError(bound.status());
  const std::vector<Tensor> &inputs = *bound;
  // One timed run of `c`, in milliseconds (negative: it failed, in *st).
  Status st = Status::ok();
  auto timeRun = [&](CompiledModel &c) {
    auto r0 = Clock::now();
    auto r = c.run(inputs);
    auto r1 = Clock::now();
    if (!r) {
      st = r.status();
      return -1.0;
    }
    return ms(r1 - r0);
  };
  for (int i = 0; i < warmup; ++i)
    if (timeRun(**compiled) < 0 || (vs && timeRun(*vs) < 0))
      return reportError(st);
  std::vector<double> times, vsTimes, ratios;
  for (int i = 0; i < runs; ++i) {
    times.push_back(timeRun(**compiled));
    if (times.back() < 0)
      return reportError(st);
    if (vs) {
      vsTimes.push_back(timeRun(*vs));
      if (vsTimes.back() < 0)
        return reportError(st);
      ratios.push_back(vsTimes.back() / times.back());
    }
  }
  auto medianOf = [](std::vector<double> &v) {
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2]
                        : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  double median = medianOf(times);
  if (vs) {
    std::string opts;
    for (const auto &kv : vsOpts)
      opts += (opts.empty() ? "" : ",") + kv.first + "=" + kv.second;
    double vsMedian = medianOf(vsTimes);
    std::printf("vs=%s vs_median_ms=%.3f vs_min_ms=%.3f vs_ratio=%.3f\n",
                opts.c_str(), vsMedian, vsTimes.front(), medianOf(ratios));
  }
  std::string summary = (*compiled)->summary();
  std::printf(
      "model=%s target=%s compile_ms=%.1f min_ms=%.3f max_ms=%.3f%s%s\n",
      model->c_str(), target.c_str(), compileMs, times.front(), times.back(),
      summary.empty() ? "" : " ", summary.c_str());
  std::printf("median_ms=%.3f runs=%d threads=%u\n", median, runs, threads);
  return printProfiles((*compiled)->partitioned(), prof);
}

} // namespace ember::cli

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

Expected<std::unique_ptr<Module>> loadModel(const std::string &path,
                                            const ImportOptions &io);

int benchMain(int argc, char **argv) {
  Args a(argc, argv, 2);
  std::string target = "interp", v, fallback;
  a.value("--target", target);
  a.value("--fallback", fallback);
  ProfileRequest prof;
  prof.report = a.flag("--npu-report");
  a.value("--trace", prof.tracePath);
  int runs = 20, warmup = 2;
  unsigned threads = 1;
  if (a.value("--runs", v))
    runs = std::atoi(v.c_str());
  if (a.value("--warmup", v))
    warmup = std::atoi(v.c_str());
  if (a.value("--threads", v))
    threads = unsigned(std::atoi(v.c_str()));
  uint64_t seed = 0;
  if (a.value("--seed", v))
    seed = std::strtoull(v.c_str(), nullptr, 10);
  if (runs < 1 || runs > 100000 || warmup < 0 || threads < 1 || threads > 256)
    return usageError("--runs must be in [1, 100000], --warmup >= 0 and "
                      "--threads in [1, 256]");
  ImportOptions io;
  std::map<std::string, Tensor> given;
  Status s = readShapeOptions(a, io, &given);
  if (s.isOk())
    s = applyTimeoutOption(a, target);
  std::map<std::string, std::string> backendOpts;
  if (s.isOk())
    s = parseBackendOptions(a.values("--backend-opt"), backendOpts);
  if (!s.isOk())
    return reportError(s);
  auto model = finishModelArgs(a, "bench", target);
  if (!model)
    return reportError(model.status());

  using Clock = std::chrono::steady_clock;
  auto ms = [](auto d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  auto t0 = Clock::now();
  auto m = loadModel(*model, io);
  if (!m)
    return reportError(m.status());
  PipelineOptions po;
  s = runPipeline(**m, po);
  if (!s.isOk())
    return reportError(s);
  auto tgt = openTarget(target, fallback);
  if (!tgt)
    return reportError(tgt.status());
  tgt->numThreads = threads;
  tgt->backendOptions = backendOpts;
  tgt->profileLevel = prof.level();
  Function &f = *(*m)->main();
  auto compiled = CompiledModel::create(*tgt, f);
  if (!compiled)
    return reportError(compiled.status());
  double compileMs = ms(Clock::now() - t0);

  auto bound = bindInputs(f, std::move(given), seed);
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

// `ember run`: compile a model and execute it once on the target.
#include "Driver.h"
#include "Target.h"

#include "import/TensorIO.h"
#include "interp/Interpreter.h"

#include <chrono>
#include <cstdio>
#include <sys/stat.h>

namespace ember::cli {

Expected<std::unique_ptr<Module>> loadModel(const std::string &path,
                                            const ImportOptions &io);

int runMain(int argc, char **argv) {
  Args a(argc, argv, 2);
  std::string target = "interp", seedStr, saveDir;
  a.value("--target", target);
  uint64_t seed = 0;
  if (a.value("--seed", seedStr))
    seed = std::strtoull(seedStr.c_str(), nullptr, 10);
  a.value("--save-outputs", saveDir);
  std::string fallback = "interp", threadsStr;
  a.value("--fallback", fallback);
  a.value("--threads", threadsStr);
  bool optimize = !a.flag("--O0");
  ImportOptions io;
  Status s = applyTimeoutOption(a, target);
  if (s.isOk())
    s = parseInputShapes(a.values("--input-shape"), io.inputShapes);
  std::map<std::string, std::string> backendOpts;
  if (s.isOk())
    s = parseBackendOptions(a.values("--backend-opt"), backendOpts);
  std::map<std::string, Tensor> given;
  if (s.isOk())
    s = readInputFiles(a, io, given);
  if (!s.isOk())
    return reportError(s);
  auto model = finishModelArgs(a, "run", target);
  if (!model)
    return reportError(model.status());
  const std::vector<std::string> pos = {*model};
  auto tgt = openTarget(target, fallback);
  if (!tgt)
    return reportError(tgt.status());
  tgt->numThreads = uint32_t(std::atoi(threadsStr.c_str()));
  tgt->backendOptions = backendOpts;

  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  auto m = loadModel(pos[0], io);
  if (!m)
    return reportError(m.status());
  PipelineOptions po;
  po.optimize = optimize;
  s = runPipeline(**m, po);
  if (!s.isOk())
    return reportError(s);
  Function &f = *(*m)->main();
  auto inputs = bindInputs(f, std::move(given), seed);
  if (!inputs)
    return reportError(inputs.status());
  // compile_ms covers import, passes, lowering and the target's compile.
  auto compiled = CompiledModel::create(*tgt, f);
  if (!compiled)
    return reportError(compiled.status());
  std::string summary = (*compiled)->summary();
  auto t1 = Clock::now();
  auto outs = (*compiled)->run(*inputs);
  if (!outs)
    return reportError(outs.status());
  auto t2 = Clock::now();
  if (!saveDir.empty()) {
    mkdir(saveDir.c_str(), 0755);
    for (size_t i = 0; i < outs->size(); ++i) {
      std::string p = saveDir + "/output_" + std::to_string(i) + ".pb";
      s = writeTensorFile((*outs)[i], p, f.outputs()[i].name);
      if (!s.isOk())
        return reportError(s);
    }
  }
  for (size_t i = 0; i < outs->size(); ++i)
    std::printf("output %s: %s\n", f.outputs()[i].name.c_str(),
                (*outs)[i].summary(10).c_str());
  auto ms = [](auto d) {
    return std::chrono::duration<double, std::milli>(d).count();
  };
  std::printf(
      "target=%s nodes=%zu compile_ms=%.1f run_ms=%.1f outputs=%zu%s%s\n",
      target.c_str(), f.countNonStorage(), ms(t1 - t0), ms(t2 - t1),
      outs->size(), summary.empty() ? "" : " ", summary.c_str());
  return 0;
}

} // namespace ember::cli

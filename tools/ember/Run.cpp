// `ember run`: compile a model and execute it once on the target.
#include "Driver.h"

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
  bool optimize = !a.flag("--O0");
  ImportOptions io;
  Status s = parseInputShapes(a.values("--input-shape"), io.inputShapes);
  std::map<std::string, Tensor> given;
  for (auto &spec : a.values("--input")) {
    size_t eq = spec.find('=');
    if (eq == std::string::npos || eq == 0)
      return reportError(invalid("--input '", spec, "' must be NAME=FILE"));
    auto t = readTensorFile(spec.substr(eq + 1));
    if (!t)
      return reportError(t.status());
    io.inputShapes[spec.substr(0, eq)] = t->dims();
    given[spec.substr(0, eq)] = std::move(*t);
  }
  if (!s.isOk())
    return reportError(s);
  auto model = finishModelArgs(a, "run", target);
  if (!model)
    return reportError(model.status());
  const std::vector<std::string> pos = {*model};

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
  auto t1 = Clock::now();
  Function &f = *(*m)->main();
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < f.params().size(); ++i) {
    Node *p = f.params()[i];
    auto it = given.find(p->outNames[0]);
    if (it != given.end()) {
      if (it->second.elem() != p->types[0].elem())
        return reportError(
            invalid("input '", it->first, "' is ", it->second.type().toString(),
                    " but the model expects ", p->types[0].toString()));
      inputs.push_back(it->second);
      given.erase(it);
    } else {
      inputs.push_back(randomTensor(p->types[0], seed + i));
    }
  }
  if (!given.empty())
    return reportError(
        invalid("the model has no input named '", given.begin()->first, "'"));
  auto outs = interpret(f, inputs);
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
  std::printf("target=%s nodes=%zu compile_ms=%.1f run_ms=%.1f outputs=%zu\n",
              target.c_str(), f.countNonStorage(), ms(t1 - t0), ms(t2 - t1),
              outs->size());
  return 0;
}

} // namespace ember::cli

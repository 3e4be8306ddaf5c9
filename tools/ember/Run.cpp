// `ember run`: compile a model and execute it once on the target.
#include "Devices.h"
#include "Driver.h"
#include "Profile.h"
#include "ember/api/Target.h"

#include "backend/ShapeSpecializer.h"
#include "import/TensorIO.h"
#include "interp/Interpreter.h"

#include <chrono>
#include <cstdio>
#include <sys/stat.h>

namespace ember::cli {

int runMain(int argc, char **argv) {
  Command cmd = makeCommand("run");
  TargetOptions topt;
  InputOptions inOpt;
  ProfileRequest prof;
  std::string saveDir;
  std::vector<std::string> pos;
  cmd.positional("MODEL", "an ONNX model, or graph IR text (.eir)", pos, 1, 1);
  cmd.add({"--save-outputs"}, "DIR",
          "Also writes each output to DIR/output_<i>.pb (ONNX TensorProto), "
          "creating DIR.",
          cmdline::text(saveDir));
  addTargetOptions(cmd, topt, kRunTarget);
  addProfileOptions(cmd, prof);
  addInputOptions(cmd, inOpt, true);
  DeviceOptions dopt;
  addDeviceOptions(cmd, dopt, false);
  if (auto rc = cmd.parse(argc, argv, 2))
    return *rc;
  // Custom ops first: the model's import needs them.
  if (Status ls = loadOpLibraries(topt); !ls.isOk())
    return reportError(ls);
  if (dopt.given()) {
    for (const char *o : {"--target", "--npu-report", "--trace"})
      if (cmd.given(o))
        return cmd.usageError(std::string(o) +
                              " does not apply with --devices (ember bench "
                              "--devices --trace FILE draws the devices)");
    ImportOptions io;
    std::map<std::string, Tensor> given;
    Status s = readShapeOptions(inOpt, io, &given);
    if (!s.isOk())
      return reportError(s);
    return runDevicesCommand(pos[0], io, given, topt, dopt, inOpt.seed,
                             saveDir);
  }
  const std::string &target = topt.target;
  const uint64_t seed = inOpt.seed;
  ImportOptions io;
  std::map<std::string, Tensor> given;
  Status s = readShapeOptions(inOpt, io, &given);
  if (s.isOk())
    s = checkTarget(target);
  if (!s.isOk())
    return reportError(s);
  applyTimeout(topt);
  topt.compile.profileLevel = prof.level();
  auto tgt = openTarget(topt);
  if (!tgt)
    return reportError(tgt.status());
  if ((prof.report || !prof.tracePath.empty()) && !tgt->plugin)
    return cmd.usageError("--npu-report and --trace need a plugin target "
                          "(--target=npu-sim)");

  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  PipelineOptions po = topt.pipeline();
  po.requant = tgt->requant;
  po.keepCustom = tgt->keepCustom;
  // ONNX models run through the shape specializer: the variant for these
  // input shapes is compiled (and reported, when the model has symbolic
  // dims). Graph IR text has static shapes and compiles directly.
  std::unique_ptr<backend::ShapeSpecializer> spec;
  backend::ShapeSpecializer::Variant *variant = nullptr;
  std::unique_ptr<Module> irModule;
  std::unique_ptr<CompiledModel> compiled;
  const Function *fp = nullptr;
  std::vector<Tensor> inputs;
  std::string summary;
  if (isOnnxPath(pos[0])) {
    backend::SpecializerOptions so;
    so.import = io;
    so.pipeline = po;
    so.plugin = tgt->plugin;
    so.executor = executorOptions(*tgt);
    auto sp = backend::ShapeSpecializer::open(pos[0], so);
    if (!sp)
      return reportError(sp.status());
    spec = std::move(*sp);
    std::vector<std::string> notes;
    std::string defaulted;
    auto types = spec->typesFor(io.shapes, &notes, &defaulted);
    if (!types)
      return reportError(types.status().withContext(pos[0]));
    printNotes(notes);
    auto names = spec->inputNames();
    for (size_t i = 0; i < names.size(); ++i) {
      auto it = given.find(names[i]);
      inputs.push_back(it != given.end() ? it->second
                                         : randomTensor((*types)[i], seed + i));
    }
    bool symbolic = spec->hasSymbolicDims();
    spec->onSpecialize = [&](const backend::Specialization &sp) {
      printNotes(sp.notes);
      if (symbolic)
        std::fprintf(stderr,
                     "note: specialization #%zu: %s compiled in %.1f ms\n",
                     sp.number, sp.describe(names).c_str(), sp.compileMs);
    };
    std::vector<Type> inTypes;
    for (auto &t : inputs)
      inTypes.push_back(t.type());
    auto v = spec->prepare(inTypes);
    if (!v)
      return reportError(withDefaultedDims(v.status(), defaulted));
    variant = *v;
    fp = &backend::ShapeSpecializer::function(*variant);
    s = checkPlacement(*tgt, backend::ShapeSpecializer::executable(*variant),
                       *fp);
    if (!s.isOk())
      return reportError(s);
    summary = backend::ShapeSpecializer::summary(*variant);
  } else {
    auto m = loadModelPrintingNotes(pos[0], io);
    if (!m)
      return reportError(m.status());
    irModule = std::move(*m);
    s = runPipeline(*irModule, po);
    if (!s.isOk())
      return reportError(s);
    fp = irModule->main();
    auto bound = bindInputs(*fp, std::move(given), seed);
    if (!bound)
      return reportError(bound.status());
    inputs = std::move(*bound);
    // compile_ms covers import, passes, lowering and the target's compile.
    auto c = CompiledModel::create(*tgt, *fp);
    if (!c)
      return reportError(c.status());
    compiled = std::move(*c);
    summary = compiled->summary();
  }
  const Function &f = *fp;
  auto t1 = Clock::now();
  auto outs = variant ? spec->run(*variant, inputs) : compiled->run(inputs);
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
  return printProfiles(variant ? backend::ShapeSpecializer::executable(*variant)
                               : compiled->partitioned(),
                       prof);
}

} // namespace ember::cli

// `ember quantize`: profile-guided post-training quantization of an fp32
// ONNX model into a standard ONNX QDQ model (core/quant,
// docs/quantization.md).
#include "Driver.h"
#include "ember/api/Profile.h"
#include "ember/api/Target.h"

#include "backend/LayerPath.h"
#include "backend/Partitioner.h"
#include "backend/ProgramProto.h"
#include "ember/backend/v1/runtime.pb.h"
#include "import/OnnxImporter.h"
#include "passes/Pass.h"
#include "quant/Quantizer.h"

#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace ember::cli {

namespace {

// "calibrating [########........] 32/64" on a terminal, redrawn in place.
void drawProgress(size_t done, size_t total) {
  const int width = 30;
  int filled = total ? int(double(done) / double(total) * width) : width;
  std::string bar(size_t(filled), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\rcalibrating [%s] %zu/%zu", bar.c_str(), done, total);
  if (done == total)
    std::fputc('\n', stderr);
  std::fflush(stderr);
}

// The NPU cost model's predicted cycles per ONNX node of a QDQ model: the
// model lowered as `ember compile` does, partitioned by what the npu-sim
// plugin claims, each NPU partition's cost estimate per node
// (backend::estimateOnPlugin: the layer's cost model on the host, which
// charges a layer to its convolutions and MatMuls), at the device's clock.
Expected<std::map<std::string, double>>
npuNodeCycles(backend::Plugin &npu, const onnx::ModelProto &m,
              const std::map<std::string, Dims> &shapes) {
  ImportOptions io;
  io.inputShapes = shapes;
  EMBER_ASSIGN(auto mod, importOnnxBytes(m.SerializeAsString(), ".", io));
  PipelineOptions po;
  EMBER_TRY(runPipeline(*mod, po));
  const Function &f = *mod->main();
  // Each node's cost where the NPU can run it: islands kept (the choice
  // prices layers, not the partitions a run would form).
  backend::CompileOptions keep;
  keep.vendor["islands"] = "keep";
  EMBER_ASSIGN(backend::Support sup, backend::querySupport(npu, f, &keep));
  EMBER_ASSIGN(backend::PartitionPlan plan,
               backend::partition(f, std::move(sup)));
  EMBER_ASSIGN(auto desc, npu.describeDevice(0, ""));
  const double clock = desc.clock_hz() > 0 ? desc.clock_hz() : 1.0;
  EMBER_ASSIGN(std::optional<accel::Target> route,
               backend::hostLayerTarget(npu));
  std::map<std::string, double> out;
  for (const backend::Partition &p : plan.parts) {
    if (!p.onPlugin)
      continue;
    const Function &g = *p.graph->main();
    std::vector<const Node *> nodes = backend::computeNodes(g);
    EMBER_ASSIGN(auto est,
                 backend::estimateOnPlugin(npu, 0, route, g,
                                           backend::CompileOptions(), clock));
    for (const auto &nc : est.nodes())
      out[nodes[size_t(nc.node())]->name] += nc.seconds() * clock;
  }
  return out;
}

// The cycles the NPU's timed model (the SystemC executor) spends on a QDQ
// model run once on `inputs`: compiled for npu-sim as `ember run` does,
// the NPU partitions' cycles summed (the host's partitions are not NPU
// cycles).
Expected<double> npuTimedCycles(const onnx::ModelProto &m,
                                const std::vector<Tensor> &inputs) {
  TargetOptions t;
  t.target = "npu-sim";
  t.compile.vendor["executor"] = "systemc";
  t.compile.profileLevel = 1;
  EMBER_ASSIGN(Target tg, openTarget(t));
  ImportOptions io;
  size_t k = 0;
  std::set<std::string> inits;
  for (auto &x : m.graph().initializer())
    inits.insert(x.name());
  for (auto &in : m.graph().input())
    if (!inits.count(in.name()) && k < inputs.size())
      io.inputShapes[in.name()] = inputs[k++].dims();
  EMBER_ASSIGN(auto mod, importOnnxBytes(m.SerializeAsString(), ".", io));
  PipelineOptions po = t.pipeline();
  po.requant = tg.requant;
  po.keepCustom = tg.keepCustom;
  EMBER_TRY(runPipeline(*mod, po));
  EMBER_ASSIGN(auto cm, CompiledModel::create(tg, *mod->main()));
  EMBER_TRY(cm->run(inputs).status());
  if (!cm->partitioned())
    return invalid("the timed NPU model ran nothing");
  return profileTotals(*cm->partitioned()).cycles;
}

} // namespace

int quantizeMain(int argc, char **argv) {
  Command cmd = makeCommand("quantize");
  quant::QuantizeOptions o;
  TargetOptions t;
  // Calibration runs on the CPU backend; a build without it uses the
  // reference interpreter unless --target says otherwise.
  t.target = pluginPathFor("cpu") ? "cpu" : "interp";
  t.fallback = "interp";
  std::vector<std::string> pos;
  bool perTensor = false, noEqualize = false, noBiasCorrection = false,
       quiet = false;
  uint64_t maxFloat = o.maxFloat, maxSamples = o.maxSamples,
           evalSamples = o.evalSamples, refineSamples = o.refineSamples;
  cmd.positional("MODEL", "an fp32 ONNX model", pos, 1, 1);
  cmd.sectionTitle("io", "inputs and outputs");
  cmd.add({"--calibration"}, "DIR",
          "The calibration samples: a folder of test_data_set_*/input_*.pb "
          "(ONNX TensorProto) or of .npy files, one per model input "
          "(docs/quantization.md).",
          cmdline::text(o.calibrationDir))
      .inSection("io");
  cmd.add({"-o"}, "OUT.onnx", "Where to write the int8 QDQ model. Required.",
          cmdline::text(o.output))
      .inSection("io");
  cmd.add({"--profile"}, "PROFILE.json",
          "Quantizes from a saved profile instead of calibrating (the same "
          "bytes as the run that wrote it).",
          cmdline::text(o.profileIn))
      .inSection("io");
  cmd.add({"--profile-out"}, "PROFILE.json",
          "Also writes the calibration profile (ranges and histograms, tied "
          "to the graph's hash).",
          cmdline::text(o.profileOut))
      .inSection("io");
  cmd.add({"--quiet"}, "", "Prints nothing but errors.", cmdline::set(quiet))
      .inSection("io");
  cmd.sectionTitle("method", "ranges and scheme");
  cmd.add({"--method"}, "M",
          "How a tensor's range is chosen from its histogram: minmax, "
          "percentile, entropy, mse or auto (minmax, and no --refine ranges "
          "unless given, for a graph with attention, a Softmax and a MatMul "
          "of two activations; percentile otherwise). Default: " +
              std::string(quant::methodName(o.method)) + ".",
          [&o](const std::string &v) -> std::string {
            auto m = quant::methodFromName(v);
            if (!m)
              return m.status().message();
            o.method = *m;
            return "";
          })
      .inSection("method");
  cmd.add({"--percentile"}, "P",
          "With --method=percentile: the percentile kept, in (50, 100]. "
          "Default: 99.999.",
          [&o](const std::string &v) -> std::string {
            double p = 0;
            std::string e = cmdline::realIn(p, 50, 100)(v);
            if (!e.empty() || p == 50)
              return "expected a number in (50, 100]";
            o.methodOptions.percentile = p;
            return "";
          })
      .inSection("method");
  cmd.add({"--per-tensor"}, "",
          "One weight scale per tensor instead of one per output channel.",
          cmdline::set(perTensor))
      .inSection("method");
  cmd.add({"--per-channel-activations"}, "WHEN",
          "auto: one scale per channel for each 8-bit activation that "
          "takes it at no cost (a conv's non-negative output read only by "
          "depthwise convs); off: one scale per tensor. Default: auto.",
          [&o](const std::string &v) -> std::string {
            if (v != "auto" && v != "off")
              return "expected auto or off";
            o.perChannelActivations = v == "auto";
            return "";
          })
      .inSection("method");
  cmd.add({"--activation-type"}, "T",
          "The activations' type: uint8, int8 or int16 (every activation "
          "16-bit, symmetric, with int8 weights: 16x8). Default: uint8.",
          [&o](const std::string &v) -> std::string {
            if (v == "uint8")
              o.activationType = ElemKind::U8;
            else if (v == "int8")
              o.activationType = ElemKind::I8;
            else if (v == "int16")
              o.activationType = ElemKind::I16;
            else
              return "expected uint8, int8 or int16";
            return "";
          })
      .inSection("method");
  cmd.add({"--keep-float"}, "NODE",
          "Leaves node NODE (by name) in float. Repeatable.",
          cmdline::append(o.keepFloat))
      .setRepeatable()
      .inSection("method");
  cmd.add({"--no-equalize"}, "", "Skips cross-layer equalization.",
          cmdline::set(noEqualize))
      .inSection("method");
  cmd.add({"--equalize-clip"}, "",
          "Cross-layer equalization also through Clip (ReLU6), which "
          "changes the clip bounds.",
          cmdline::set(o.equalizeClip))
      .inSection("method");
  cmd.add({"--equalize-activations"}, "ALPHA",
          "Activation equalization: channels of a conv -> relu/clip -> conv "
          "activation above the median calibration maximum are scaled down "
          "by (max/median)^ALPHA in the first conv and up in the second "
          "(0 off, 1 strongest). Default: " +
              concat(o.actEqualize) + ".",
          cmdline::realIn(o.actEqualize, 0, 1))
      .inSection("method");
  cmd.add({"--equalize-activations-raise"}, "",
          "With --equalize-activations: also scales the channels below the "
          "median up.",
          cmdline::set(o.actEqRaise))
      .inSection("method");
  cmd.add({"--equalize-activations-linear"}, "",
          "With --equalize-activations: also conv -> conv pairs with no "
          "activation between them (by max |x|).",
          cmdline::set(o.actEqLinear))
      .inSection("method");
  cmd.add({"--equalize-residual"}, "ALPHA",
          "Residual-stream equalization: one scale per channel shared by "
          "the convs writing a residual stream (Add of conv outputs) and "
          "the convs reading it, evening its channels' ranges by "
          "(max/reference)^ALPHA (0 off, 1 strongest). Default: " +
              concat(o.resEqualize) + ".",
          cmdline::realIn(o.resEqualize, 0, 1))
      .inSection("method");
  cmd.add({"--no-bias-correction"}, "", "Skips bias correction.",
          cmdline::set(noBiasCorrection))
      .inSection("method");
  cmd.add({"--max-samples"}, "N",
          "Calibrates on the first N samples only. Default: 0, all.",
          cmdline::uintIn(maxSamples, 0, UINT32_MAX))
      .inSection("method");
  cmd.add({"--refine"}, "WHAT",
          "Layer-wise refinement on the first calibration samples: ranges "
          "(each conv/matmul input's range minimises the layer's output "
          "error), bias (corrects the bias for the input quantization "
          "error), all or none. Default: ranges, none for a graph with "
          "attention under --method=auto.",
          [&o](const std::string &v) -> std::string {
            if (v != "none" && v != "ranges" && v != "bias" && v != "all")
              return "expected none, ranges, bias or all";
            o.refineRanges = v == "ranges" || v == "all";
            o.refineBias = v == "bias" || v == "all";
            o.refineGiven = true;
            return "";
          })
      .inSection("method");
  cmd.add({"--refine-samples"}, "N",
          "Samples the refinement reads. Default: " +
              std::to_string(o.refineSamples) + ".",
          cmdline::uintIn(refineSamples, 1, UINT32_MAX))
      .inSection("method");
  cmd.sectionTitle("eval", "evaluation and mixed precision");
  cmd.add({"--report"}, "",
          "Prints each layer's SQNR (signal to quantization noise, dB) "
          "against the float model.",
          cmdline::set(o.report))
      .inSection("eval");
  cmd.add({"--target-sqnr"}, "DB",
          "Automatic mixed precision: keeps the noisiest layers in float "
          "until the output's SQNR reaches DB decibels (positive).",
          [&o](const std::string &v) -> std::string {
            double d = 0;
            std::string e = cmdline::realIn(d, 0, 1e4)(v);
            if (!e.empty() || d == 0)
              return "expected a positive number of dB";
            o.targetSqnr = d;
            return "";
          })
      .inSection("eval");
  cmd.add({"--mixed-precision"}, "BUDGET",
          "Chooses 8- or 16-bit activations per layer from measured "
          "sensitivity, for the best output fidelity with the NPU's "
          "cycles within BUDGET (>= 1) times the all-int8 model's: each "
          "layer's cost in each precision from the NPU compiler, the "
          "choice compiled and run on the NPU's timed model.",
          [&o](const std::string &v) -> std::string {
            double d = 0;
            std::string e = cmdline::realIn(d, 1, 100)(v);
            if (!e.empty())
              return "expected a budget in [1, 100] (x the all-int8 cycles)";
            o.mixedBudget = d;
            return "";
          })
      .inSection("eval");
  cmd.add({"--max-float"}, "K",
          "With --target-sqnr: at most K layers kept in float. Default: " +
              std::to_string(o.maxFloat) + ".",
          cmdline::uintIn(maxFloat, 0, UINT32_MAX))
      .inSection("eval");
  cmd.add({"--eval-samples"}, "N",
          "Samples the report and mixed precision evaluate on. Default: " +
              std::to_string(o.evalSamples) + ".",
          cmdline::uintIn(evalSamples, 0, UINT32_MAX))
      .inSection("eval");
  addTargetOptions(cmd, t, kTarget | kThreads | kOpLibrary);
  if (auto rc = cmd.parse(argc, argv, 2))
    return *rc;
  // Custom ops first: the model's import needs them.
  if (Status ls = loadOpLibraries(t); !ls.isOk())
    return reportError(ls);
  o.perChannel = !perTensor;
  o.equalize = !noEqualize;
  o.biasCorrection = !noBiasCorrection;
  o.maxFloat = size_t(maxFloat);
  o.maxSamples = size_t(maxSamples);
  o.evalSamples = size_t(evalSamples);
  o.refineSamples = size_t(refineSamples);
  o.run.numThreads = t.compile.numThreads;
  const std::string &target = t.target;
  Status s = checkTarget(target);
  if (!s.isOk())
    return reportError(s);
  o.model = pos[0];
  if (o.output.empty())
    return cmd.usageError("quantize needs -o OUT.onnx");
  if (o.calibrationDir.empty() && o.profileIn.empty())
    return cmd.usageError("quantize needs --calibration DIR or --profile FILE");
  if (!o.calibrationDir.empty() && !o.profileIn.empty() && !o.report &&
      o.targetSqnr == 0 && !o.refineRanges && !o.refineBias)
    return cmd.usageError("--profile quantizes without calibrating: drop "
                          "--calibration (or add --report/--target-sqnr or "
                          "--refine, which read the samples)");
  if ((o.actEqRaise || o.actEqLinear) && o.actEqualize == 0)
    return cmd.usageError("--equalize-activations-raise and "
                          "--equalize-activations-linear need "
                          "--equalize-activations ALPHA > 0");
  if (o.output == o.model)
    return cmd.usageError("-o must not overwrite the input model");
  // Fail before a long calibration when the result cannot be written.
  for (const std::string *out : {&o.output, &o.profileOut}) {
    if (out->empty())
      continue;
    size_t slash = out->rfind('/');
    std::string dir = slash == std::string::npos ? "." : out->substr(0, slash);
    if (dir.empty())
      dir = "/";
    if (access(dir.c_str(), W_OK) != 0)
      return reportError(makeError(ErrorCode::Io, "cannot write '", *out,
                                   "': folder '", dir,
                                   "' does not exist or is not writable"));
  }
  if (o.mixedBudget > 0 && o.activationType == ElemKind::I16)
    return cmd.usageError("--mixed-precision chooses 8 or 16 bits per layer: "
                          "drop --activation-type int16");
  if (o.mixedBudget > 0 && o.targetSqnr > 0)
    return cmd.usageError("--mixed-precision and --target-sqnr both choose "
                          "per-layer precision: give one");
  auto tgt = openTarget(t);
  if (!tgt)
    return reportError(tgt.status());
  o.run.plugin = tgt->plugin;
  std::shared_ptr<backend::Plugin> npu;
  if (o.mixedBudget > 0) {
    auto path = pluginPathFor("npu-sim");
    if (!path)
      return reportError(path.status().withContext(
          "--mixed-precision predicts cycles with the npu-sim cost model"));
    auto p = loadPluginOnce(*path);
    if (!p)
      return reportError(p.status());
    npu = *p;
    o.npuCost = [npu](const onnx::ModelProto &m)
        -> Expected<std::map<std::string, double>> {
      std::map<std::string, Dims> shapes;
      for (auto &in : m.graph().input()) {
        Dims d;
        for (auto &dim : in.type().tensor_type().shape().dim())
          d.push_back(dim.has_dim_value() ? dim.dim_value() : 1);
        shapes[in.name()] = d;
      }
      return npuNodeCycles(*npu, m, shapes);
    };
    o.npuMeasure = npuTimedCycles;
  }
  if (isatty(fileno(stderr)) && !quiet)
    o.progress = drawProgress;
  if (!quiet)
    o.log = &std::cout;
  s = quant::quantizeModel(o);
  if (!s.isOk())
    return reportError(s);
  if (!quiet)
    std::printf("wrote %s\n", o.output.c_str());
  return 0;
}

} // namespace ember::cli

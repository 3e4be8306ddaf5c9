// `ember quantize`: profile-guided post-training quantization of an fp32
// ONNX model into a standard ONNX QDQ model (core/quant,
// docs/quantization.md).
#include "Driver.h"
#include "Target.h"

#include "quant/Quantizer.h"

#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace ember::cli {

namespace {

Expected<double> parseNumber(const std::string &flag, const std::string &v) {
  char *end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end)
    return invalid(flag, " '", v, "' is not a number");
  return d;
}

Expected<size_t> parseCount(const std::string &flag, const std::string &v) {
  char *end = nullptr;
  long long d = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end || d < 0)
    return invalid(flag, " '", v, "' is not a count");
  return size_t(d);
}

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

} // namespace

int quantizeMain(int argc, char **argv) {
  Args a(argc, argv, 2);
  quant::QuantizeOptions o;
  std::string v, target = "cpu";
  a.value("--calibration", o.calibrationDir);
  a.value("-o", o.output);
  a.value("--profile", o.profileIn);
  a.value("--profile-out", o.profileOut);
  // Calibration runs on the CPU backend; a build without it uses the
  // reference interpreter unless --target says otherwise.
  bool explicitTarget = a.value("--target", target);
  if (!explicitTarget && !pluginPathFor("cpu"))
    target = "interp";
  o.perChannel = !a.flag("--per-tensor");
  o.equalize = !a.flag("--no-equalize");
  o.equalizeClip = a.flag("--equalize-clip");
  o.biasCorrection = !a.flag("--no-bias-correction");
  if (a.value("--refine", v)) {
    if (v != "none" && v != "ranges" && v != "bias" && v != "all")
      return usageError("--refine must be none, ranges, bias or all");
    o.refineRanges = v == "ranges" || v == "all";
    o.refineBias = v == "bias" || v == "all";
  }
  o.report = a.flag("--report");
  o.keepFloat = a.values("--keep-float");
  bool quiet = a.flag("--quiet");
  Status s;
  if (a.value("--method", v)) {
    auto m = quant::methodFromName(v);
    if (!m)
      return reportError(m.status());
    o.method = *m;
  }
  if (a.value("--percentile", v)) {
    auto p = parseNumber("--percentile", v);
    if (!p)
      return reportError(p.status());
    if (!(*p > 50 && *p <= 100))
      return usageError("--percentile must be in (50, 100]");
    o.methodOptions.percentile = *p;
  }
  if (a.value("--activation-type", v)) {
    if (v == "uint8")
      o.activationType = ElemKind::U8;
    else if (v == "int8")
      o.activationType = ElemKind::I8;
    else
      return usageError("--activation-type must be uint8 or int8");
  }
  if (a.value("--target-sqnr", v)) {
    auto d = parseNumber("--target-sqnr", v);
    if (!d)
      return reportError(d.status());
    if (!(*d > 0))
      return usageError("--target-sqnr must be positive (dB)");
    o.targetSqnr = *d;
  }
  for (auto *f : {"--max-float", "--max-samples", "--eval-samples", "--threads",
                  "--refine-samples"}) {
    if (!a.value(f, v))
      continue;
    auto n = parseCount(f, v);
    if (!n)
      return reportError(n.status());
    std::string flag = f;
    if (flag == "--max-float")
      o.maxFloat = *n;
    else if (flag == "--max-samples")
      o.maxSamples = *n;
    else if (flag == "--eval-samples")
      o.evalSamples = *n;
    else if (flag == "--refine-samples")
      o.refineSamples = std::max<size_t>(*n, 1);
    else
      o.run.numThreads = uint32_t(*n);
  }
  auto model = finishModelArgs(a, "quantize", target);
  if (!model)
    return reportError(model.status());
  o.model = *model;
  if (o.output.empty())
    return usageError("quantize needs -o OUT.onnx");
  if (o.calibrationDir.empty() && o.profileIn.empty())
    return usageError("quantize needs --calibration DIR or --profile FILE");
  if (!o.calibrationDir.empty() && !o.profileIn.empty() && !o.report &&
      o.targetSqnr == 0 && !o.refineRanges && !o.refineBias)
    return usageError("--profile quantizes without calibrating: drop "
                      "--calibration (or add --report/--target-sqnr or "
                      "--refine, which read the samples)");
  if (o.output == o.model)
    return usageError("-o must not overwrite the input model");
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
  auto tgt = openTarget(target, "interp");
  if (!tgt)
    return reportError(tgt.status());
  o.run.plugin = tgt->plugin;
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

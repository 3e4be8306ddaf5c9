// How much each quantized layer costs: the SQNR of every quantized group's
// output against fp32 on calibration samples (`--report`), and automatic
// mixed precision (`--target-sqnr`): while the model outputs' SQNR is
// below the target, the layer that adds the most noise (its output's
// relative noise power less its worst input's) is kept float and the model
// rebuilt.
#pragma once

#include "quant/Calibration.h"
#include "quant/QdqPlan.h"

#include <functional>
#include <ostream>
#include <set>

namespace ember::quant {

struct SensitivityOptions {
  RunOptions run;
  size_t evalSamples = 16;
  double targetSqnr = 0; // 0: report only
  size_t maxFloat = 8;
  bool report = false;
  std::ostream *log = nullptr;
};

// Builds the QDQ model with the given plan groups kept float.
using RebuildFn =
    std::function<Expected<onnx::ModelProto>(const std::set<int> &)>;

struct LayerSqnr {
  int group = -1;
  std::string name, op, tensor;
  double sqnr = 0; // dB, of the group's output
  // The noise the layer adds, as an SQNR in dB: -10 log10(N_out/S_out -
  // N_in/S_in), the input being its worst quantized input.
  double drop = 0;
};

// SQNR in dB of `y` against reference `x` accumulated over samples.
struct SqnrAccumulator {
  double signal = 0, noise = 0;
  void add(const float *x, const float *y, int64_t n);
  double db() const;
};

// The SQNR of every compared tensor of a quantized model against fp32 over
// the first n samples, and the worst of the model outputs'.
struct Evaluation {
  std::map<std::string, SqnrAccumulator> acc;
  double outputSqnr = 0;
};
Expected<Evaluation> evaluate(InstrumentedModel &ref,
                              const onnx::ModelProto &qdq,
                              const std::vector<std::string> &names,
                              const std::map<std::string, std::string> &alias,
                              const std::vector<std::string> &outputs,
                              const std::vector<Sample> &samples, size_t n,
                              const std::map<std::string, Dims> &shapes,
                              const RunOptions &run);

// Each quantized group's output SQNR and the noise it adds (`--report`),
// groups in floatGroups left out.
std::vector<LayerSqnr> layers(const onnx::GraphProto &g, const QdqPlan &plan,
                              const Evaluation &ev,
                              const std::set<int> &floatGroups);

// Returns the model to write: `qdq`, or a rebuilt one with layers kept
// float when targetSqnr is set.
Expected<onnx::ModelProto>
analyzeSensitivity(const onnx::ModelProto &fp32, const onnx::ModelProto &qdq,
                   const QdqPlan &plan, const std::vector<Sample> &samples,
                   const std::vector<InputDecl> &inputs,
                   const std::map<std::string, std::string> &aliases,
                   const SensitivityOptions &o, const RebuildFn &rebuild);

} // namespace ember::quant

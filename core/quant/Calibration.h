// Calibration: the samples of a calibration folder, and running a model on
// them with chosen intermediate tensors exposed as extra graph outputs, on
// a backend plugin (the CPU backend for `ember quantize`) or the reference
// interpreter.
#pragma once

#include "backend/Partitioner.h"
#include "quant/OnnxModel.h"
#include "quant/Profile.h"

#include <functional>
#include <memory>

namespace ember::quant {

// A graph input as declared: name, element type, dims (-1: symbolic).
struct InputDecl {
  std::string name;
  ElemKind elem = ElemKind::F32;
  std::vector<int64_t> dims;
  bool hasShape = false;
};
Expected<std::vector<InputDecl>> modelInputs(const onnx::ModelProto &m);

struct Sample {
  std::string name;           // file or folder, for messages
  std::vector<Tensor> inputs; // in model input order
};

// DIR holds `.npy` files, one sample each (single-input models), or ONNX
// test-data folders `test_data_set_N/input_K.pb` (any number of inputs; a
// TensorProto's name, when set, must be the input's). Every sample must
// match the declared types and shapes, have the first sample's shapes, and
// hold no NaN or infinity. `maxSamples` > 0 keeps the first N (in natural
// file order).
Expected<std::vector<Sample>>
loadCalibrationDir(const std::string &dir, const std::vector<InputDecl> &inputs,
                   size_t maxSamples = 0);

// The shapes of the samples, per input name.
std::map<std::string, Dims> sampleShapes(const std::vector<InputDecl> &inputs,
                                         const Sample &s);

struct RunOptions {
  std::shared_ptr<backend::Plugin> plugin; // null: reference interpreter
  uint32_t numThreads = 0;
};

// A model compiled once with `observe` (tensor names) as extra outputs.
class InstrumentedModel {
public:
  static Expected<std::unique_ptr<InstrumentedModel>>
  create(const onnx::ModelProto &m, const std::vector<std::string> &observe,
         const std::map<std::string, Dims> &inputShapes, const RunOptions &o);
  // The observed tensors and the graph outputs, by name. Graph inputs that
  // are observed come back as given.
  Expected<std::map<std::string, Tensor>>
  run(const std::vector<Tensor> &inputs);

private:
  std::unique_ptr<Module> module_;
  std::unique_ptr<backend::PartitionedExecutable> exe_;
  std::vector<std::string> inputNames_;
  std::vector<std::string> observedInputs_;
};

// Progress: (samples done, total).
using ProgressFn = std::function<void(size_t, size_t)>;

// Runs every sample and accumulates the statistics of `observed` (tensor ->
// channel axis for per-channel means, -1 for none). Fails on a NaN or
// infinity in any observed tensor, naming it and the sample.
Expected<Profile> calibrate(const onnx::ModelProto &m,
                            const std::map<std::string, int> &observed,
                            const std::vector<InputDecl> &inputs,
                            const std::vector<Sample> &samples,
                            const RunOptions &o, const ProgressFn &progress);

} // namespace ember::quant

// Conformance cases: ONNX test-case folders (model.onnx +
// test_data_set_*/input_*.pb, output_*.pb) and ONNX "light" models
// (NAME.onnx beside NAME_output_0.pb), run through the pipeline and a
// target and compared with the expected outputs. `ember conform` and
// `ember.conform()` in Python both run them through here; each case may run
// in a forked child, so a crash or hang in one case is that case's ERROR.
#pragma once

#include "ember/api/Target.h"

#include <functional>
#include <string>
#include <vector>

namespace ember::api {

struct ConformCase {
  std::string name;   // shown in output
  std::string model;  // path to .onnx
  std::string dir;    // folder with test_data_set_*, or "" for light layout
  std::string prefix; // light layout: NAME (outputs NAME_output_K.pb)
};

// Where a failing case's outputs first differ from the expected ones.
struct Mismatch {
  long output = -1;          // output number; -1: none recorded
  std::string outputName;    // the model's name of it
  std::string dataSet;       // test_data_set_N ("" for light models)
  long long element = -1;    // flat (row-major) index of the first difference;
                             // -1: the output differs as a whole (type, shape)
  std::string got, expected; // the two values (or types/shapes) as text
};

struct ConformResult {
  ConformResult() = default;
  ConformResult(std::string s, std::string r)
      : status(std::move(s)), reason(std::move(r)) {}
  std::string status; // PASS FAIL UNSUPPORTED ERROR
  std::string reason;
  double seconds = 0;
  Mismatch mismatch; // for a FAIL that compared values
};

struct ConformOptions {
  double rtol = 1e-3, atol = 1e-7;
  // Extra tolerance, in output quanta, for outputs a DequantizeLinear
  // computes (int8 models: docs/quantization.md); 0 = off.
  double quanta = 0;
  // Extra tolerance of a float output, as a fraction of its largest
  // expected magnitude (whole models: a value near zero that sums large
  // terms carries their rounding, not its own); 0 = off.
  double scaleTol = 0;
  bool lower = true;
  PipelineOptions pipeline; // -O<N>, --skip-pass
  bool lir = false; // run through IRGen + memory planning + LIR interpreter
  Target runtime;   // the loaded target (interp: no plugin)
  // Runs a case's function instead of `runtime` when set (`ember conform
  // --devices`: the runtime over a device list, docs/runtime.md).
  std::function<Expected<std::vector<Tensor>>(const Function &,
                                              const std::vector<Tensor> &)>
      run;
  int timeoutSec = 600; // a case still running after this is killed
  ShapeBindings shapes; // --dim (and defaults for inputs without data)
  // Specialize on the values of inputs that decide shapes (re-import with
  // them frozen); false: control flow must work with conditions and trip
  // counts known only at run time.
  bool freeze = true;
};

// The cases under `path` (a case folder, a folder of them, a light model),
// appended in a deterministic order (names sorted).
void collectConformCases(const std::string &path,
                         std::vector<ConformCase> &out);

// Shard `index` of `count` (1-based): the cases whose position k in `all`
// has k mod count == index - 1. Every case is in exactly one shard, shard
// sizes differ by at most one, and the split depends only on the list.
std::vector<ConformCase> shardCases(const std::vector<ConformCase> &all,
                                    size_t index, size_t count);
// "I/N" with 1 <= I <= N: the shard's index and count; an error naming
// what is wrong otherwise.
Status parseShard(const std::string &spec, size_t &index, size_t &count);

// Runs one case in this process.
ConformResult runConformCase(const ConformCase &c, const ConformOptions &o);

// Runs every case, `jobs` at a time, each in a forked child when `fork`
// (a crash or hang is the case's ERROR; a case still running after
// o.timeoutSec is killed), else in this process one after the other.
// `onResult` (may be empty) is called in case order as results become
// known.
std::vector<ConformResult> runConformCases(
    const std::vector<ConformCase> &cases, const ConformOptions &o, int jobs,
    bool fork,
    const std::function<void(size_t, const ConformResult &)> &onResult = {});

// A reason on one line (newlines and tabs as spaces, at most 400 bytes).
std::string oneLine(std::string s);

} // namespace ember::api

// Graph passes and the standard pipeline (import -> optimize -> lower).
#pragma once

#include "ir/Graph.h"

#include "ember/quant/Profile.h"

#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace ember {

struct PassStats {
  size_t changed = 0; // nodes removed, rewritten or folded
};

#define EMBER_PASS(Class, Name, Desc)                                          \
  Status run##Class(Function &f, PassStats &s);
#include "passes/Passes.def"

// conv3d-as-2d's integer mode, run after lowering: the ConvInteger (and
// float Conv) it left 3-D (grouped QDQ convolutions, whose depth taps must
// sum in int32 before the one Requantize lowering adds), and the 3-D pools
// lowering makes (LpPool's AveragePool).
Status runConv3DAs2DInteger(Function &f, PassStats &s);

struct PassInfo {
  const char *name;
  const char *description;
  Status (*run)(Function &, PassStats &);
};
const std::vector<PassInfo> &allPasses();
const PassInfo *findPass(const std::string &name);

struct PipelineOptions {
  bool optimize = true;
  bool lower = true;
  bool verifyEach = true;
  std::ostream *timePasses = nullptr; // per-pass timing report
  std::vector<std::string> passes;    // explicit list (overrides optimize)
  std::vector<std::string> skip;      // left out of the default order
  // The requantization profile lowering gives the integer forms: the
  // target's (docs/quantization.md, "Requantization profiles").
  quant::RequantProfile requant = quant::RequantProfile::Fixed;
  // The fixed profile's integer LSTM and GRU (docs/quantization.md, "LSTM"
  // and "GRU"): off by default until the backends run their 16-bit forms
  // fast.
  bool integerRecurrent = false;
  // Custom ops to keep whole instead of lowering them: those the target
  // plugin claims by name (docs/custom-ops.md); null: lower every one that
  // has a lowering.
  std::function<bool(const Node &)> keepCustom;
};

// The default optimization sequence, by pass name.
const std::vector<std::string> &defaultPassOrder();

Status runPipeline(Module &m, const PipelineOptions &opts);

} // namespace ember

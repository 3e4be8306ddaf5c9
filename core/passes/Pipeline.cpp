#include "ir/Verifier.h"
#include "lower/Lowering.h"
#include "passes/Pass.h"

#include <algorithm>
#include <chrono>
#include <iomanip>

namespace ember {

const std::vector<PassInfo> &allPasses() {
  static const std::vector<PassInfo> passes = {
#define EMBER_PASS(Class, Name, Desc) {Name, Desc, &run##Class},
#include "passes/Passes.def"
  };
  return passes;
}

const PassInfo *findPass(const std::string &name) {
  for (auto &p : allPasses())
    if (name == p.name)
      return &p;
  return nullptr;
}

const std::vector<std::string> &defaultPassOrder() {
  static const std::vector<std::string> order = {"expand-dyn-quant",
                                                 "remove-identity",
                                                 "constant-fold",
                                                 "cse",
                                                 "fold-batchnorm",
                                                 "fold-pad",
                                                 "fuse-groupnorm",
                                                 "lift-conv1d",
                                                 "conv3d-as-2d",
                                                 "sink-transpose",
                                                 "cancel-reshape",
                                                 "remove-identity",
                                                 "constant-fold",
                                                 "cse",
                                                 "dce"};
  return order;
}

Status runPipeline(Module &m, const PipelineOptions &opts) {
  using Clock = std::chrono::steady_clock;
  struct Row {
    std::string name;
    double ms;
    size_t changed, nodesAfter;
  };
  std::vector<Row> rows;
  for (auto &fp : m.functions()) {
    Function &f = *fp;
    EMBER_TRY(verifyFunction(f).withContext("after import"));
    std::vector<std::string> passes =
        !opts.passes.empty()
            ? opts.passes
            : (opts.optimize ? defaultPassOrder() : std::vector<std::string>{});
    for (auto &name : passes) {
      if (opts.passes.empty() && std::find(opts.skip.begin(), opts.skip.end(),
                                           name) != opts.skip.end())
        continue;
      const PassInfo *p = findPass(name);
      if (!p)
        return invalid("unknown pass '", name, "'");
      PassStats st;
      auto t0 = Clock::now();
      EMBER_TRY(p->run(f, st).withContext("pass " + name));
      double ms =
          std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      rows.push_back({name, ms, st.changed, f.countNonStorage()});
      if (opts.verifyEach)
        EMBER_TRY(verifyFunction(f).withContext("after pass " + name));
    }
    if (opts.lower) {
      auto t0 = Clock::now();
      size_t n = 0;
      LoweringOptions lo;
      lo.requant = opts.requant;
      lo.integerRecurrent = opts.integerRecurrent;
      lo.keep = opts.keepCustom;
      EMBER_TRY(lowerFunction(f, lo, &n));
      PassStats st;
      if (opts.optimize) {
        // Grouped QDQ 3-D convolutions reach here as ConvInteger.
        if (std::find(opts.skip.begin(), opts.skip.end(), "conv3d-as-2d") ==
            opts.skip.end()) {
          PassStats c3;
          EMBER_TRY(runConv3DAs2DInteger(f, c3));
          if (c3.changed)
            EMBER_TRY(runSinkTranspose(f, st));
        }
        // Lowering leaves constant subexpressions (folded BatchNorm
        // parameters, shape constants) and Reshape chains behind.
        EMBER_TRY(runConstantFolding(f, st));
        // After the integer forms absorbed the clamps between quantized
        // tensors: the float ones left before a QuantizeLinear.
        if (std::find(opts.skip.begin(), opts.skip.end(),
                      "drop-saturated-clamp") == opts.skip.end())
          EMBER_TRY(runDropSaturatedClamp(f, st));
        // The Pads lowering moved to the stored integers (a QDQ Pad pads
        // with the zero point), into the ConvIntegers reading them.
        if (std::find(opts.skip.begin(), opts.skip.end(), "fold-pad") ==
            opts.skip.end())
          EMBER_TRY(runFoldPad(f, st));
        // Channel Slices of the stored integers as Split parts (an
        // accelerator's channel views).
        if (std::find(opts.skip.begin(), opts.skip.end(), "slice-as-split") ==
            opts.skip.end())
          EMBER_TRY(runSliceAsSplit(f, st));
        EMBER_TRY(runCancelReshape(f, st));
        // A CRNN's map-to-sequence (once the Reshape chains are merged):
        // the projections read the map through convolutions, not a
        // transpose of it.
        if (std::find(opts.skip.begin(), opts.skip.end(), "seqmap-as-conv") ==
            opts.skip.end())
          EMBER_TRY(runSequenceMapAsConv(f, st));
        EMBER_TRY(runCommonSubexpressionElimination(f, st));
      }
      EMBER_TRY(runDeadCodeElimination(f, st));
      double ms =
          std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      rows.push_back({"lower", ms, n, f.countNonStorage()});
      EMBER_TRY(
          verifyFunction(f, /*lowered=*/true).withContext("after lowering"));
    }
  }
  if (opts.timePasses) {
    auto &os = *opts.timePasses;
    double total = 0;
    for (auto &r : rows) {
      os << std::left << std::setw(24) << r.name << std::right << std::fixed
         << std::setprecision(3) << std::setw(9) << r.ms << std::setw(9)
         << r.changed << std::setw(13) << r.nodesAfter << "\n";
      total += r.ms;
    }
    os << "passes_total_ms " << std::fixed << std::setprecision(3) << total
       << "\n";
  }
  return Status::ok();
}

} // namespace ember

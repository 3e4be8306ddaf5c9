// Tuning against the vendor's simulator (option tune=N; docs/npu-sdk.md,
// "Tuning"): per layer, the cost model's N best tilings are scheduled as a
// one-layer program with the layer's real shapes and weights, measured
// through the vendor's callback (their simulator), and the fastest is kept.
// Results go to a tuning cache file keyed by the layer's signature and the
// target's configuration (its description's hash, lanes, memory sizes and
// the vendor's device timing), so later compiles reuse them without
// simulating.
#ifndef EMBER_ACCEL_TUNE_H
#define EMBER_ACCEL_TUNE_H

#include "ember/accel/Program.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ember::accel {

// Cycles of `p`, scheduled from `lp` (one layer; its image is not packed:
// timing does not depend on data), on the vendor's timed simulator; ok or
// why it could not be measured.
using MeasureFn = std::function<Status(const LayerProgram &lp, const Program &p,
                                       uint64_t &cycles)>;

struct TuneOptions {
  // Candidates measured per layer; 0: no measuring, only cached choices are
  // applied (option tune_cache without tune).
  unsigned candidates = 0;
  std::string cachePath; // "": no cache file
  MeasureFn measure;
  std::string simulator = "the simulator"; // its name, for the summary
  // When set, asked for that name after measuring (a host learns it from
  // the measurements: the device's executor).
  std::function<std::string()> simulatorName;
  // The vendor's device configuration the measurements hold for (e.g. its
  // DRAM timing: "dram_bw=16 dram_latency=64 dram_burst=256").
  std::string deviceKey;
};

// Where the cache lives without tune_cache: $XDG_CACHE_HOME/ember/<file>,
// else $HOME/.cache/ember/<file> ("" without both).
std::string defaultTuneCachePath(const std::string &file = "npu-tune.json");

// The configuration a cached result holds for: the target's hash, lanes and
// memory rows, `deviceKey`, the tuner's version.
std::string tuneConfigKey(const Target &t, const std::string &deviceKey);

// What identifies layer `i` of `lp` for tuning: its kind, every field that
// changes its code or timing (shapes, kernel, strides, padding, groups,
// fusions, which weight tiles are all zero, whether the bias fits a GEMM)
// and the options that change the candidates (tiling, bias).
std::string layerSignature(const Target &t, const LayerProgram &lp, size_t i,
                           const CodegenOptions &co);

struct TuneReport {
  std::vector<std::string> warnings; // each names the cache file
  std::string summary;               // one line: what tuning did and gained
  uint64_t modelCycles = 0, tunedCycles = 0; // over the tuned layers
  unsigned measuredLayers = 0, cachedLayers = 0, changedLayers = 0, runs = 0;
  double seconds = 0;
};

// Schedules `lp` into `out` with tuning: the cost model's candidates,
// measured (or taken from the cache), the fastest per layer forced, and the
// cache updated. `co` as for generateProgram. Returns ok or an error (a
// candidate that fails to schedule or run is an error: it is the layer's
// own code); a bad cache file is a warning, never an error.
Status tuneAndGenerate(const Target &t, const LayerProgram &lp,
                       const CodegenOptions &co, const TuneOptions &o,
                       Program &out, TuneReport &report);

} // namespace ember::accel

#endif // EMBER_ACCEL_TUNE_H

// Tuning against the simulator (--backend-opt tune=N; docs/npu-backend.md,
// "Tuning against the simulator"): per layer, the cost model's N best
// tilings are compiled as a one-layer program with the layer's real shapes
// and weights, run on the SystemC model, and the fastest is kept. Results go
// to a tuning cache file keyed by the layer's signature and the NPU's
// configuration (the spec's hash, DIM, scratchpad sizes, the DRAM timing),
// so later compiles reuse them without simulating.
#pragma once

#include "Program.h"
#include "Runtime.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ember::npusim {

struct TuneOptions {
  // Candidates measured per layer; 0: no measuring, only cached choices are
  // applied (backend option tune_cache without tune).
  unsigned candidates = 0;
  std::string cachePath; // "": no cache file
  RunConfig run;         // the DRAM timing to tune for (executor ignored)
};

// Where the cache lives without tune_cache: $XDG_CACHE_HOME/ember/
// npu-tune.json, else $HOME/.cache/ember/npu-tune.json ("" without both).
std::string defaultTuneCachePath();

// The NPU configuration a cached result holds for: spec hash, DIM, the
// scratchpad rows, the DRAM timing of `run`, the tuner's format.
std::string tuneConfigKey(const RunConfig &run);

// What identifies layer `i` of `lp` for tuning: its kind, every field that
// changes its code or timing (shapes, kernel, strides, padding, groups,
// fusions, which weight tiles are all zero, whether the bias fits a GEMM)
// and the codegen options that change the candidates (tiling, bias).
std::string layerSignature(const LayerProgram &lp, size_t i,
                           const CodegenOptions &co);

struct TuneReport {
  std::vector<std::string> warnings; // each names the cache file
  std::string summary;               // one line: what tuning did and gained
  uint64_t modelCycles = 0, tunedCycles = 0; // over the tuned layers
  unsigned measuredLayers = 0, cachedLayers = 0, changedLayers = 0, runs = 0;
  double seconds = 0;
};

// Compiles `lp` into `out` with tuning: the cost model's candidates,
// measured (or taken from the cache), the fastest per layer forced, and the
// cache updated. `co` as for generateProgram. Returns "" or an error (a
// candidate that fails to compile or run is an error: it is the compiler's
// own code); a bad cache file is a warning, never an error.
std::string tuneAndGenerate(const LayerProgram &lp, const CodegenOptions &co,
                            const TuneOptions &t, Program &out,
                            TuneReport &report);

} // namespace ember::npusim

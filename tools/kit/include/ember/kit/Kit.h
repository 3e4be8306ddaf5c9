// The Ember backend conformance kit: GoogleTest tests that check a backend
// plugin (backend-api/include/ember/backend.h) layer by layer.
//
//   abi         handshake, struct_size handling, extension chains, NULL
//               functions, argument checks, error objects, the manifest
//   api         devices, buffers, compile, execute, events, errors
//   capability  one single-op program per (op, dtype) of the plugin's own
//               manifest, run on the plugin and on the reference plugin;
//               with op libraries, their custom ops' reference kernels
//               and the custom ops the plugin claims or runs
//   lir         planned and tiled LIR programs, DMA bounds and ordering
//   artifact    serialize, header, reload in a fresh process, corruption
//   skew        hosts of other ABI versions (1.0, a newer minor, major 2)
//
// Tests are named <Layer>.<Check> (Capability.Add_f32). What the plugin
// does not implement (a NULL function, a layer its manifest does not claim)
// is skipped with the reason, not failed. `ember-kit` runs them
// (tools/kit/README.md); a vendor may also link ember_kit into a gtest
// binary of its own:
//
//   int main(int argc, char **argv) {
//     testing::InitGoogleTest(&argc, argv);
//     ember::kit::KitConfig c;
//     c.pluginPath = "/path/to/libacme.so";
//     ember::kit::registerKitTests(c);
//     return RUN_ALL_TESTS();
//   }
#pragma once

#include <set>
#include <string>
#include <vector>

namespace ember::kit {

// The layer names, in order: "abi", "api", "capability", "lir",
// "artifact", "skew".
const std::vector<std::string> &layerNames();

struct KitConfig {
  // The plugin under test (a path with a '/').
  std::string pluginPath;
  // The oracle for capability tests; empty: defaultReferencePath(), and the
  // in-process graph interpreter when that file does not exist.
  std::string referencePath;
  // Float comparison: |got - want| <= atol + rtol * |want|. 16-bit floats
  // are compared at no less than their own precision. Integers and bool
  // compare exactly.
  double rtol = 1e-4, atol = 1e-5;
  // Writes a JSON report here at the end of the run (empty: none).
  std::string jsonPath;
  // Layers to run (layerNames()); empty: all.
  std::set<std::string> layers;
  // Seconds an execution may take before the kit reports a hang.
  int timeoutSec = 60;
  // Cases the capability layer runs per claim (op, dtype), drawn within
  // it: edge sizes first (one dimension larger than any tile, all ones,
  // primes, odd sizes, a mix), then the kit's fixed sample.
  int casesPerClaim = 6;
  // Seed of the deterministic random inputs.
  unsigned seed = 1;
  // Print what passing checks found (also in the JSON report) as they run.
  bool verbose = false;
  // Tests not to register (full names): ember-kit's crash recovery.
  std::set<std::string> exclude;
  // Op libraries (docs/custom-ops.md) whose custom ops the plugin claims
  // or runs: loaded before the tests; the capability layer then checks
  // each op's reference kernel (guard zones, its lowering) and runs the
  // ops the plugin claims against it.
  std::vector<std::string> opLibraries;
};

// <dir of the running executable>/../lib/ember/libember_interp.so, as the
// `ember` command finds plugins by name.
std::string defaultReferencePath();

// Loads the plugin and the reference and registers the tests with
// GoogleTest (after testing::InitGoogleTest, before RUN_ALL_TESTS). A
// plugin that does not load gets one failing test, Abi.Load, with the
// reason. Some checks re-run the current executable in a fresh process;
// in such a child this function does that check and exits, so call it
// early in main().
void registerKitTests(const KitConfig &config);

// The `ember-kit` command:
//   ember-kit --plugin=PATH [--reference=PATH] [--json=FILE] [--junit=FILE]
//             [--layers=abi,api,capability,lir,artifact,skew]
//             [--rtol=R] [--atol=A] [--timeout=SEC] [--seed=N] [--no-fork]
//             [gtest flags]
// Runs the tests in a child process and restarts it after a plugin crash
// (the crashing test fails with the crash report). Exit status: 0 when
// nothing failed, 1 on failures, 2 on a usage error, 70 when the plugin
// crashed.
int runKit(int argc, char **argv);

} // namespace ember::kit

// What the kit's layers share: the loaded plugin and reference, the
// manifest, test registration, running programs with a timeout, comparing
// results, and checks in a fresh process.
#pragma once

#include "ember/kit/Kit.h"

#include "backend/LayerPath.h"
#include "backend/Plugin.h"
#include "ir/Graph.h"

#include "ember/backend/v1/capability.pb.h"

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ember::kit {

namespace v1 = ember::backend::v1;

// ---- cases (Cases.cpp, CaseOps.cpp) ---------------------------------------
// How a case's shapes and attributes are drawn: the canonical case (small
// fixed shapes), or one of the edge styles.
enum class CaseStyle {
  Canonical,
  Ones,  // every dimension 1
  Odd,   // odd sizes
  Prime, // prime sizes
  Big,   // one dimension larger than any tile (65 to 257)
  Mixed, // a mix of 1, powers of two and their neighbours
};
const char *caseStyleName(CaseStyle s);

struct CaseSpec {
  CaseStyle style = CaseStyle::Canonical;
  unsigned rank = 0; // of the op's first data operand (not canonical)
  uint64_t seed = 0;
};

// One case (one node) of a sample.
struct CaseInfo {
  CaseSpec spec;
  std::string text; // "MatMul(f32[7,13], f32[13,5]) -> f32[7,5]"
  const Node *node = nullptr;
  size_t firstOutput = 0; // its results among the function's outputs
  size_t numOutputs = 0;
  double accumulate = 1; // terms per result element (float tolerance)
};

// Lowered single-op programs and deterministic inputs for them.
struct Sample {
  std::unique_ptr<Module> module;
  std::vector<Tensor> inputs; // one per placeholder of main()
  std::vector<CaseInfo> cases;
  Function &fn() const { return *module->main(); }
  // The first case's node.
  const Node &node() const;
};

// The canonical case of `op` with element type `dtype` (the type of its
// data operands). Unsupported when the kit has no builder for the op, or
// the op does not take that element type; the message says which.
Expected<Sample> buildSample(const std::string &op, ElemKind dtype,
                             unsigned seed);
// The cases `specs` of op in one function, each with its own inputs and
// outputs (an error when one does not build).
Expected<Sample> buildCases(const std::string &op, ElemKind dtype,
                            const std::vector<CaseSpec> &specs);
// `n` specs for a claim of `op` with ranks in [minRank, maxRank] (maxRank
// 0: any): the styles in turn, the op's ranks within the claim in turn
// (all the op's ranks when none is within it).
std::vector<CaseSpec> caseSpecs(const std::string &op, unsigned minRank,
                                unsigned maxRank, uint64_t seed, int n);
// "MatMul(f32[7,13], f32[13,5]) -> f32[7,5] {transB=1}".
std::string describeNode(const Node &n);

// Random tensor of `t` with values in [lo, hi] (integers: rounded).
Tensor randomTensor(const Type &t, uint64_t seed, double lo = -2,
                    double hi = 2);

// ---- the state tests share (Kit.cpp) ----------------------------------------
struct Probe {
  std::string label; // "Add f32"
  Sample sample;
  std::vector<Tensor> expected; // the reference's results
};

struct KitState {
  KitConfig config;
  std::shared_ptr<backend::Plugin> plugin; // null when it did not load
  std::string loadError;
  // The oracle; null: the in-process graph interpreter (also when the
  // plugin under test is the reference plugin).
  std::shared_ptr<backend::Plugin> reference;
  std::string referenceName;
  bool haveManifest = false;
  v1::CapabilityManifest manifest;
  // A small program the plugin claims, for the api, abi, artifact and skew
  // layers; noProbe says why there is none.
  std::optional<Probe> probe;
  std::string noProbe;

  std::string notes; // of the running test (note())

  backend::Device device, refDevice; // opened on first use
  bool deviceTried = false, refDeviceTried = false;
  Status deviceError, refDeviceError;

  // Hangs so far (this worker and earlier ones): once the plugin hung, the
  // kit waits only a little longer than its slowest completed execution,
  // so that a plugin that hangs everywhere cannot keep CI waiting.
  int hangs = 0;
  std::string firstHang;
  double longestExecution = 0; // seconds, of those that completed
  double waitSec = 0;          // 0: config.timeoutSec
};
KitState &state();

// ---- hangs (Kit.cpp)
// How long the kit now waits for an execution, and lets any plugin call run
// before the host's watchdog reports it hung: the configured timeout until the
// plugin first hangs, then max(1 s, 4 x the longest execution that completed).
double waitSeconds();
// Records that the plugin hung in test `where` (streamed to ember-kit's
// supervisor, which hands it on to a restarted worker).
void recordHang(const std::string &where);
// Waits for an execution at most waitSeconds(). On a timeout, abandons the
// event, `buffers` and `exe` (the plugin may still use them), records the
// hang and returns a Timeout error saying what did not complete.
Status waitOrAbandon(backend::Plugin &p, backend::Event &ev,
                     const std::vector<backend::Buffer *> &buffers,
                     backend::Executable *exe, const std::string &what);

// Device 0 of the plugin / the reference, opened once.
Expected<backend::Device *> pluginDevice();
Expected<backend::Device *> referenceDevice();

bool implemented(const backend::Plugin &p, const char *fn);

// Something a check found worth reporting (the refusal message, ...):
// kept with the test's result, printed when verbose.
void note(const std::string &text);

// "Suite.Name" of the test running now ("ember-kit" between tests).
const char *runningTestName();

// ---- registration -----------------------------------------------------------
using TestFn = std::function<void()>;
// Registers <suite>.<name> unless excluded by the config.
void addTest(const std::string &suite, const std::string &name, TestFn b);

void registerAbiTests();
void registerApiTests();
void registerMemoryTests();  // api layer: leaks, writes out of bounds
void registerRuntimeTests(); // api layer: device_describe, estimate_cost
void registerCapabilityTests();
void registerCustomOpTests(); // capability layer: op libraries' ops
void registerLirTests();
void registerArtifactTests();
void registerSkewTests();

// ---- running ----------------------------------------------------------------
std::vector<Type> outputTypes(const Function &f);
// Compiles `f` on `p` as Ember does (backend::compileOnPlugin): the graph,
// or for a plugin that takes scheduled programs, `f` scheduled on the host.
Expected<backend::Executable>
compileGraph(backend::Plugin &p, backend::Device *d, const Function &f);
// The program (kind and bytes) Ember sends `p` for `f` with default
// options (backend::programForPlugin), for the tests that call
// executable_compile themselves.
Expected<backend::PluginProgram> pluginProgram(backend::Plugin &p,
                                               const Function &f);
// Allocates, writes, executes, waits (at most the configured timeout) and
// reads back.
Expected<std::vector<Tensor>>
runExecutable(backend::Plugin &p, backend::Device &d, backend::Executable &x,
              const std::vector<Tensor> &in, const std::vector<Type> &outTypes);
Expected<std::vector<Tensor>> runOnPlugin(const Function &f,
                                          const std::vector<Tensor> &in);
// The planned LIR of `g` (memory spaces from the manifest), compiled as
// EMBER_PROGRAM_LIR and run on the plugin: for plugins that take only LIR.
Expected<std::vector<Tensor>> runLirOnPlugin(const Function &g,
                                             const std::vector<Tensor> &in);
Expected<std::vector<Tensor>> runOnReference(const Function &f,
                                             const std::vector<Tensor> &in);

// The probe compiled on device 0 with its input buffers written and its
// output buffers allocated: ready for a direct execute().
struct ProbeSetup {
  backend::Device *device = nullptr;
  backend::Executable exe;
  std::vector<backend::Buffer> in, out;
  std::vector<ember_buffer *> inPtrs, outPtrs;
  std::vector<Tensor> read(Status &s);      // the output buffers
  std::vector<backend::Buffer *> buffers(); // inputs, then outputs
  // waitOrAbandon for an execution of this setup.
  Status wait(backend::Event &ev);
};
Expected<std::unique_ptr<ProbeSetup>> setupProbe();

// "" when every output matches; else names the output, the first differing
// element (flat index and coordinates), both values and the tolerance.
std::string compareOutputs(const std::vector<Tensor> &got,
                           const std::vector<Tensor> &want, double rtol,
                           double atol);

// An error a plugin returned, read before freeing it.
struct RawError {
  bool present = false;
  int32_t code = 0;
  std::string message;
  std::string describe() const; // "OUT_OF_RANGE: message"
};
RawError takeRaw(backend::Plugin &p, ember_error *e, const char *call);
const char *statusName(int32_t code);

// Unknown extension structs for `next` chains (vendor type range).
const ember_extension *unknownExtensions();

// ---- fresh processes (Helper.cpp) -------------------------------------------
struct ChildRun {
  int exitStatus = -1; // when it exited
  int signal = 0;      // when a signal ended it
  std::string output;  // its stderr
  std::map<std::string, std::string> reply;
  std::vector<Tensor> outputs;
  bool ok() const { return exitStatus == 0 && reply.count("ok"); }
  std::string describe() const; // for messages
};
// Re-runs the current executable with a request (key=value), files
// (name -> bytes) and input tensors; the child runs helperMain.
ChildRun runFresh(const std::map<std::string, std::string> &request,
                  const std::map<std::string, std::string> &files,
                  const std::vector<Tensor> &inputs);
// In the child: set when this process is such a child.
const char *helperRequest();
int helperMain(const char *requestFile);

// ---- reports (Report.cpp) ---------------------------------------------------
struct TestRecord {
  std::string name;   // Suite.Test
  std::string status; // passed failed skipped notrun
  std::string message;
  double seconds = 0;
};
struct RunStamp {
  std::map<std::string, std::string> fields; // plugin_name, ...
};
std::string layerOf(const std::string &testName);
Status writeJsonReport(const std::string &path, const RunStamp &stamp,
                       const std::vector<TestRecord> &tests);
Status writeJUnitReport(const std::string &path, const RunStamp &stamp,
                        const std::vector<TestRecord> &tests);
// The stamp of the current state (plugin, host, reference, config).
RunStamp currentStamp();
// Gathers results of the tests as they end (streamed to `progressFd` for
// ember-kit's supervisor when >= 0; a JSON report at the end when jsonPath
// is set). registerKitTests installs it.
void installRecorder(int progressFd, const std::string &jsonPath);
// The progress stream of an ember-kit worker (-1: none).
extern int gProgressFd;

} // namespace ember::kit

// Checks that fail with just the streamed message (no "Value of:" text),
// located at the running test ("Capability.MatMul_f32: Failure"), not at a
// line of the kit's sources: KIT_CHECK(cond) << "why"; KIT_REQUIRE also
// returns from the test.
#define KIT_CHECK(cond)                                                        \
  if (cond) {                                                                  \
  } else                                                                       \
    GTEST_MESSAGE_AT_(::ember::kit::runningTestName(), -1, "",                 \
                      ::testing::TestPartResult::kNonFatalFailure)
#define KIT_REQUIRE(cond)                                                      \
  if (cond) {                                                                  \
  } else                                                                       \
    return GTEST_MESSAGE_AT_(::ember::kit::runningTestName(), -1, "",          \
                             ::testing::TestPartResult::kFatalFailure)

// Fails the current test (and returns) when `expr` is an error.
#define KIT_ASSIGN(lhs, expr)                                                  \
  KIT_ASSIGN_IMPL(EMBER_CONCAT(_kit_, __LINE__), lhs, expr)
#define KIT_ASSIGN_IMPL(tmp, lhs, expr)                                        \
  auto tmp = (expr);                                                           \
  KIT_REQUIRE(tmp.hasValue()) << tmp.status().message();                       \
  lhs = std::move(*tmp)

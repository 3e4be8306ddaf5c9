// The npu-sim backend plugin (docs/npu-backend.md): compiles int8
// partitions for the example NPU and runs them on its simulator through
// driver.h (SystemC by default; `--backend-opt executor=golden|systemc|rtl`).
// A plugin like any vendor's: it sees Ember only through the ABI header,
// the schemas, the helpers and the SDK's NPU compiler layer (Ember::accel),
// which does selection, tiling, scheduling and dependency insertion from
// this NPU's target description (NpuTarget.h); the plugin packs, encodes,
// runs, and reads its options.
#include "ember/backend.h"
#include "ember/plugin_helpers.hpp"
#include "ember/plugin_table.hpp"

#include "NpuTarget.h"
#include "Runtime.h"

#include "ember/accel/Device.h"
#include "ember/accel/Options.h"
#include "ember/accel/Select.h"
#include "ember/accel/Text.h"
#include "ember/accel/Tune.h"

#include "ember/backend/v1/artifact.pb.h"
#include "ember/backend/v1/capability.pb.h"
#include "ember/backend/v1/graph.pb.h"
#include "ember/backend/v1/layers.pb.h"
#include "ember/backend/v1/options.pb.h"
#include "ember/backend/v1/profile.pb.h"
#include "ember/backend/v1/runtime.pb.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace v1 = ember::backend::v1;
namespace ns = ember::npusim;
using namespace ember_plugin;

// Immutable after compile/load: executions may overlap (runs on the device
// are serialized by the runtime).
// A test fault (backend option fault=deadlock[@DEVICE:N]): every execution
// deadlocks, or only the N-th on device DEVICE (counting every execution
// on that device since the plugin was loaded).
struct Fault {
  bool deadlock = false;
  int device = -1;
  uint64_t run = 0;
};

struct ember_executable {
  ns::Program program;
  ns::Program faulty; // fault=deadlock@D:N: the program that deadlocks
  ns::RunConfig run;
  Fault fault;
  std::string options; // the CompileOptions it was compiled with
  uint32_t kind = EMBER_PROGRAM_GRAPH; // the program kind it was compiled from
  std::vector<v1::TensorType> inputs, outputs;
  std::vector<std::string> inputNames, outputNames;
};

namespace {

uint64_t elemBytes(const v1::TensorType &t) {
  const std::string &d = t.dtype();
  return d == "i32" || d == "u32" || d == "f32" ? 4
         : d == "i64" || d == "f64"             ? 8
         : d == "i16" || d == "f16"             ? 2
                                                : 1;
}

uint64_t tensorBytes(const v1::TensorType &t) {
  uint64_t n = elemBytes(t);
  for (int64_t d : t.dims())
    n *= uint64_t(d);
  return n;
}

// Whether every input and output of the program moves as many host bytes
// as the signature's tensor holds (the buffers are checked against it).
bool sameBytes(const ember_executable &x) {
  for (size_t i = 0; i < x.inputs.size(); ++i)
    if (ns::hostBytes(x.program.inputs[i]) != tensorBytes(x.inputs[i]))
      return false;
  for (size_t i = 0; i < x.outputs.size(); ++i)
    if (ns::hostBytes(x.program.outputs[i]) != tensorBytes(x.outputs[i]))
      return false;
  return true;
}

Host gHost;
constexpr const char *kName = "npu-sim";
constexpr const char *kVersion = "0.1.0";
// Devices: the cores of the SystemC platform (with golden or RTL, as many
// independent single cores).
constexpr uint32_t kCores = uint32_t(EMBER_NPU_PLATFORM_CORES);
// Executions per device, for fault=deadlock@D:N.
std::array<std::atomic<uint64_t>, kCores> gRuns{};

ember_error *getCapabilities(const ember_capabilities_params *p,
                             ember_blob *out) {
  if (ember_error *e =
          checkStruct(p, offsetof(ember_capabilities_params, request),
                      "ember_capabilities_params"))
    return e;
  v1::CapabilityManifest m;
  m.set_schema_version(1);
  m.set_plugin_name(kName);
  m.set_plugin_version(kVersion);
  m.set_accepts_graph(true);
  // The host schedules for this NPU's target description and sends
  // scheduled programs (docs/npu-sdk.md, "Through the ABI").
  m.set_accepts_layers(true);
  m.set_target_description(ns::npuTargetJson());
  m.set_supports_serialize(true);
  m.set_device_count(kCores);
  m.add_emit_formats("npu-asm");
  m.add_emit_formats("npu-layers");
  for (const ns::OpClaim &c : ns::claimedOps(ns::npuTarget())) {
    v1::OpCapability *o = m.add_ops();
    o->set_op(c.op);
    for (const std::string &d : c.dtypes)
      o->add_dtypes(d);
    o->set_min_rank(c.minRank);
    o->set_max_rank(c.maxRank);
    o->set_quantized(true);
    if (!c.constraints.empty())
      o->add_constraints(c.constraints);
    o->set_context(c.context);
    for (const std::string &d : c.contextDtypes)
      o->add_context_dtypes(d);
    for (const std::string &d : c.indexDtypes)
      o->add_index_dtypes(d);
  }
  return gHost.blob(m.SerializeAsString(), out);
}

ember_error *parseGraph(const void *data, size_t size, v1::Graph &g,
                        const char *what) {
  if (!data || size > size_t(INT_MAX) || !g.ParseFromArray(data, int(size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 std::string(what) + ": not an ember.backend.v1.Graph");
  if (g.schema_version() != 1)
    return error(EMBER_STATUS_VERSION_MISMATCH,
                 std::string(what) + ": Graph schema version " +
                     std::to_string(g.schema_version()) +
                     " (npu-sim reads version 1)");
  return nullptr;
}

ember_error *parseOptions(const void *data, size_t size,
                          v1::CompileOptions &o) {
  return parseOptional(data, size, o, "an ember.backend.v1.CompileOptions");
}

// The simulated device's DRAM when dram_bytes was not given: what the
// program needs, at least the spec's default.
void sizeDram(ember_executable &x) {
  if (!x.run.dramGiven)
    x.run.dramBytes = std::max(x.run.dramBytes, x.program.dramBytes);
}

// The DRAM timing a tuning measurement holds for (the tuning cache's key).
std::string deviceKey(const ns::RunConfig &run) {
  return "dram_bw=" +
         std::to_string(
             run.bytesPerCycle
                 ? run.bytesPerCycle
                 : uint32_t(EMBER_NPU_DRAM_BYTES_PER_CYCLE_DEFAULT)) +
         " dram_latency=" +
         std::to_string(run.zeroLatency ? 0u
                        : run.latency
                            ? run.latency
                            : uint32_t(EMBER_NPU_DRAM_LATENCY_CYCLES_DEFAULT)) +
         " dram_burst=" +
         std::to_string(run.burst
                            ? run.burst
                            : uint32_t(EMBER_NPU_DRAM_BURST_BYTES_DEFAULT));
}

// Vendor options (`--backend-opt KEY=VALUE`, docs/npu-backend.md): the
// device's (executor, dram_*, fault) here, the compiler layer's
// (accel::applyLayerOption) into `lo`; a key neither knows is an error.
ember_error *applyOptions(const v1::CompileOptions &o, ns::RunConfig &rc,
                          Fault *fault = nullptr,
                          ns::LayerOptions *lo = nullptr) {
  rc = ns::RunConfig();
  rc.profile = int(o.profile_level());
  ns::LayerOptions scratch;
  for (const auto &[k, val] : o.vendor()) {
    uint64_t n = 0;
    bool known = false;
    std::string err = ns::applyLayerOption(k, val, lo ? *lo : scratch, known);
    if (!err.empty())
      return error(EMBER_STATUS_INVALID_ARGUMENT, err);
    if (k == "fault") {
      // Test hook: a program that deadlocks, to check the error path; with
      // @D:N only the N-th execution on device D (a fault mid-stream).
      Fault f;
      f.deadlock = true;
      unsigned long long d = 0, r = 0;
      char tail = 0;
      if (val != "deadlock" && (std::sscanf(val.c_str(), "deadlock@%llu:%llu%c",
                                            &d, &r, &tail) != 2 ||
                                d >= kCores || r < 1))
        return error(EMBER_STATUS_INVALID_ARGUMENT,
                     "fault '" + val +
                         "' is not known (deadlock, or deadlock@DEVICE:N: "
                         "the N-th execution on device DEVICE, N >= 1, "
                         "DEVICE < " +
                         std::to_string(kCores) + ")");
      if (val != "deadlock") {
        f.device = int(d);
        f.run = r;
      }
      if (fault)
        *fault = f;
    } else if (k == "handover") {
      // Co-simulation hand-over (docs/npu-rtl.md, "Whole models").
      if (val.empty())
        return error(EMBER_STATUS_INVALID_ARGUMENT,
                     "backend option handover needs a directory");
      rc.handoverDir = val;
    } else if (k == "executor" || k == "cosim") {
      const char *const words[] = {"golden", "systemc", "rtl"};
      const uint32_t ids[] = {EMBER_NPU_EXECUTOR_GOLDEN,
                              EMBER_NPU_EXECUTOR_SYSTEMC,
                              EMBER_NPU_EXECUTOR_RTL};
      int i = 0;
      while (i < 3 && val != words[i])
        ++i;
      if (i == 3)
        return error(EMBER_STATUS_INVALID_ARGUMENT,
                     k + " '" + val + "' is not one of golden, systemc, rtl");
      if (k == "cosim") {
        rc.cosimRef = ids[i];
        rc.cosim = true;
      } else {
        rc.executor = ids[i];
      }
    } else if (k == "dram_burst" || k == "shared_dram_bw") {
      if (!ns::parseCount(val, n) || n == 0 || n > UINT32_MAX)
        return error(EMBER_STATUS_INVALID_ARGUMENT,
                     "backend option " + k + "=" + val +
                         " is not a valid count");
      (k == "dram_burst" ? rc.burst : rc.sharedBytesPerCycle) = uint32_t(n);
    } else if (k == "dram_bytes" || k == "dram_bw" || k == "dram_latency") {
      ns::parseCount(val, n); // checked by the layer
      if (k == "dram_bytes") {
        rc.dramBytes = n;
        rc.dramGiven = true;
      } else if (k == "dram_bw") {
        rc.bytesPerCycle = uint32_t(n);
      } else if (n == 0) {
        rc.zeroLatency = true;
      } else {
        rc.latency = uint32_t(n);
      }
    } else if (!known) {
      return error(
          EMBER_STATUS_INVALID_ARGUMENT,
          "unknown vendor option '" + k +
              "' (npu-sim takes executor, cosim, handover, dram_burst, "
              "shared_dram_bw, fault, and "
              "the compiler layer's " +
              ns::layerOptionKeys() + ")");
    }
  }
  return nullptr;
}

// Programs generated for estimate_cost, kept for the executable_compile of
// the same graph and options that usually follows (the runtime estimates a
// stage on its device, then compiles it there); the least recently used
// goes first. Tuned programs are not kept.
struct CachedProgram {
  std::string graph, options;
  ns::Program program;
};
std::mutex gCacheMu;
std::list<CachedProgram> gCache;
constexpr size_t kCacheSize = 6;

// The options that shape the program (not the profile level).
std::string codegenKey(v1::CompileOptions o) {
  o.clear_profile_level();
  return o.SerializeAsString();
}

bool cachedProgram(const void *graph, size_t size, const std::string &key,
                   ns::Program &out) {
  std::lock_guard<std::mutex> l(gCacheMu);
  for (auto it = gCache.begin(); it != gCache.end(); ++it)
    if (it->options == key && it->graph.size() == size &&
        std::memcmp(it->graph.data(), graph, size) == 0) {
      gCache.splice(gCache.begin(), gCache, it);
      out = it->program;
      return true;
    }
  return false;
}

void keepProgram(const void *graph, size_t size, const std::string &key,
                 const ns::Program &p) {
  std::lock_guard<std::mutex> l(gCacheMu);
  gCache.push_front(CachedProgram{
      std::string(static_cast<const char *>(graph), size), key, p});
  if (gCache.size() > kCacheSize)
    gCache.pop_back();
}

// Layers and code for graph `g` with codegen options `co`, from the cache
// when estimate_cost made it already. `capacity`: the DRAM it must fit (0:
// the whole 32-bit address space).
ember_error *generate(const void *bytes, size_t size, const v1::Graph &g,
                      const std::string &key, const ns::SelectOptions &so,
                      ns::CodegenOptions co, uint64_t capacity,
                      ns::Program &out) {
  const ns::Target &t = ns::npuTarget();
  if (capacity == 0)
    capacity = uint64_t(1) << 32;
  if (!cachedProgram(bytes, size, key, out)) {
    ns::LayerProgram lp;
    std::string err = ns::buildLayers(t, g, lp, so);
    if (!err.empty())
      return error(EMBER_STATUS_UNSUPPORTED, err);
    if (lp.layers.empty() && lp.tensors.empty())
      return error(EMBER_STATUS_UNSUPPORTED,
                   "nothing in this graph runs on the NPU");
    co.dramCapacity = uint64_t(1) << 32; // checked below
    err = ns::generateProgram(t, lp, co, out);
    if (!err.empty())
      return error(EMBER_STATUS_UNSUPPORTED, err);
    ns::packImage(t, lp, out);
    keepProgram(bytes, size, key, out);
  }
  if (out.dramBytes > capacity) {
    // The compiler's own message (it names the largest layer): it stops
    // at that check, before emitting code.
    ns::LayerProgram lp;
    ns::Program unused;
    co.dramCapacity = capacity;
    std::string err = ns::buildLayers(t, g, lp, so);
    if (err.empty())
      err = ns::generateProgram(t, lp, co, unused);
    if (!err.empty())
      return error(EMBER_STATUS_UNSUPPORTED, err);
    return error(EMBER_STATUS_UNSUPPORTED,
                 "the program needs " + std::to_string(out.dramBytes) +
                     " bytes of NPU DRAM (" + std::to_string(out.image.size()) +
                     " of weights and tables, " +
                     std::to_string(out.dramBytes - out.activationBase) +
                     " of activations), over the DRAM's " +
                     std::to_string(capacity) +
                     " bytes (backend option dram_bytes)");
  }
  return nullptr;
}

// A graph: the compiler layer runs here (selection, scheduling, tuning on
// SystemC with tune=N), the plugin packs. A scheduled program
// (EMBER_PROGRAM_LAYERS): the host ran the layer for this plugin's target
// description; the plugin packs and runs what it was sent.
ember_error *compileGraph(const v1::CompileOptions &o, const void *data,
                          size_t size, ember_executable &x) {
  ns::LayerOptions lo;
  if (ember_error *e = applyOptions(o, x.run, &x.fault, &lo))
    return e;
  v1::Graph g;
  if (ember_error *e = parseGraph(data, size, g, "compile"))
    return e;
  const ns::Target &t = ns::npuTarget();
  if (lo.tune || lo.tuneCacheGiven) {
    ns::LayerProgram lp;
    std::string err = ns::buildLayers(t, g, lp, lo.select);
    if (!err.empty())
      return error(EMBER_STATUS_UNSUPPORTED, err);
    if (lp.layers.empty() && lp.tensors.empty())
      return error(EMBER_STATUS_UNSUPPORTED,
                   "nothing in this graph runs on the NPU");
    // Tuning against the simulator, or (tune_cache without tune) the cached
    // tilings only (docs/npu-backend.md, "Tuning against the simulator").
    ns::TuneOptions tune;
    tune.candidates = lo.tune;
    tune.cachePath =
        lo.tuneCacheGiven ? lo.tuneCache : ns::defaultTuneCachePath();
    if (!lo.tuneCacheGiven && tune.cachePath.empty())
      gHost.log(EMBER_LOG_WARNING,
                "tune: neither XDG_CACHE_HOME nor HOME is set, so the "
                "tuning results are not kept (tune_cache=PATH keeps them)");
    const ns::RunConfig run = x.run;
    tune.measure = [run](const ns::LayerProgram &, const ns::Program &p,
                         uint64_t &cycles) {
      return ns::measureOnSystemC(run, p, cycles);
    };
    tune.simulator = "SystemC";
    tune.deviceKey = deviceKey(run);
    ns::TuneReport rep;
    err = ns::tuneAndGenerate(t, lp, lo.codegen, tune, x.program, rep);
    for (const std::string &w : rep.warnings)
      gHost.log(EMBER_LOG_WARNING, w);
    if (!err.empty())
      return error(EMBER_STATUS_UNSUPPORTED, err);
    gHost.log(EMBER_LOG_INFO, rep.summary);
    ns::packImage(t, lp, x.program);
  } else if (ember_error *e =
                 generate(data, size, g, codegenKey(o), lo.select, lo.codegen,
                          lo.codegen.dramCapacity, x.program)) {
    return e;
  }
  for (int v : g.inputs()) {
    x.inputs.push_back(g.values(v).type());
    x.inputNames.push_back(g.values(v).name());
  }
  for (int i = 0; i < g.outputs_size(); ++i) {
    int v = g.outputs(i);
    x.outputs.push_back(g.values(v).type());
    x.outputNames.push_back(i < g.output_names_size() ? g.output_names(i)
                                                      : g.values(v).name());
  }
  return nullptr;
}

ember_error *compileLayers(const v1::CompileOptions &o, const void *data,
                           size_t size, ember_executable &x) {
  if (ember_error *e = applyOptions(o, x.run, &x.fault))
    return e;
  v1::LayerProgram m;
  if (!data || size > size_t(INT_MAX) || !m.ParseFromArray(data, int(size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "compile: not an ember.backend.v1.LayerProgram");
  if (m.schema_version() != 1)
    return error(EMBER_STATUS_VERSION_MISMATCH,
                 "LayerProgram schema version " +
                     std::to_string(m.schema_version()) +
                     " (npu-sim reads version 1)");
  const ns::Target &t = ns::npuTarget();
  if (m.target_hash() != t.hash)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "the scheduled program is for target " + m.target_hash() +
                     ", this plugin's is " + t.hash);
  ns::LayerProgram lp;
  std::string err = ns::parseLayers(t, m.layers(), lp);
  if (err.empty())
    err = ns::deserializeProgram(t, m.program(), x.program);
  if (err.empty() && x.program.tables.size() != lp.layers.size())
    err = "the program's layers are not the layer program's";
  if (!err.empty())
    return error(EMBER_STATUS_INVALID_ARGUMENT, "compile: " + err);
  ns::packImage(t, lp, x.program);
  if (m.timing_run()) { // the host's tuner measures on the timed model
    x.run.executor = EMBER_NPU_EXECUTOR_SYSTEMC;
    x.run.profile = 0;
  }
  x.inputs.assign(m.inputs().begin(), m.inputs().end());
  x.outputs.assign(m.outputs().begin(), m.outputs().end());
  x.inputNames.assign(m.input_names().begin(), m.input_names().end());
  x.outputNames.assign(m.output_names().begin(), m.output_names().end());
  if (x.inputs.size() != x.program.inputs.size() ||
      x.outputs.size() != x.program.outputs.size() ||
      x.inputNames.size() != x.inputs.size() ||
      x.outputNames.size() != x.outputs.size() || !sameBytes(x))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "compile: the signature does not match the program");
  return nullptr;
}

ember_error *compile(ember_device *, const ember_compile_params *p,
                     ember_executable **out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_compile_params, options_size) + sizeof(size_t),
          "ember_compile_params"))
    return e;
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
  if (p->program_kind != EMBER_PROGRAM_GRAPH &&
      p->program_kind != EMBER_PROGRAM_LAYERS)
    return error(EMBER_STATUS_UNSUPPORTED,
                 "npu-sim compiles graphs (program kind 0) and scheduled "
                 "programs (2), not kind " +
                     std::to_string(p->program_kind));
  v1::CompileOptions o;
  if (ember_error *e = parseOptions(p->options, p->options_size, o))
    return e;
  auto x = std::make_unique<ember_executable>();
  x->options = o.SerializeAsString();
  x->kind = p->program_kind;
  if (ember_error *e = p->program_kind == EMBER_PROGRAM_GRAPH
                           ? compileGraph(o, p->program, p->program_size, *x)
                           : compileLayers(o, p->program, p->program_size, *x))
    return e;
  x->program.uid = ns::newProgramUid();
  sizeDram(*x);
  if (x->fault.deadlock && x->fault.device < 0)
    ns::injectDeadlock(ns::npuTarget(), x->program);
  if (x->fault.device >= 0) {
    x->faulty = x->program;
    x->faulty.uid = ns::newProgramUid();
    ns::injectDeadlock(ns::npuTarget(), x->faulty);
  }
  *out = x.release();
  return nullptr;
}

void release(ember_executable *x) { delete x; }

v1::ArtifactHeader headerOf(const ember_executable &x) {
  v1::ArtifactHeader h;
  h.set_schema_version(1);
  h.set_plugin_name(kName);
  h.set_plugin_version(kVersion);
  h.set_abi_major(EMBER_ABI_VERSION_MAJOR);
  h.set_abi_minor(EMBER_ABI_VERSION_MINOR);
  h.set_program_kind(x.kind);
  for (auto &t : x.inputs)
    *h.add_inputs() = t;
  for (auto &t : x.outputs)
    *h.add_outputs() = t;
  for (auto &n : x.inputNames)
    h.add_input_names(n);
  for (auto &n : x.outputNames)
    h.add_output_names(n);
  return h;
}

void putBlob(std::string &out, const std::string &s) {
  uint64_t n = s.size();
  out.append(reinterpret_cast<const char *>(&n), 8);
  out += s;
}

bool getBlob(const std::string &in, size_t &at, std::string &s) {
  uint64_t n;
  if (at + 8 > in.size())
    return false;
  std::memcpy(&n, in.data() + at, 8);
  at += 8;
  if (n > in.size() - at)
    return false;
  s = in.substr(at, size_t(n));
  at += size_t(n);
  return true;
}

// Payload: the compiled program, the options it was compiled with and its
// command stream. Files (a heterogeneous bundle's NPU partitions,
// docs/edge.md): npu.program (the serialized program: image, inputs and outputs
// in DRAM) and npu.insns (its 16-byte instructions), ranges of the payload.
ember_error *serialize(ember_executable *x, ember_blob *out) {
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  std::string payload;
  const std::string prog = ns::serializeProgram(ns::npuTarget(), x->program);
  const std::vector<uint8_t> words = ns::programWords(x->program);
  putBlob(payload, prog);
  putBlob(payload, x->options);
  const uint64_t insnsAt = payload.size() + 8;
  putBlob(payload, std::string(words.begin(), words.end()));
  v1::ArtifactHeader h = headerOf(*x);
  auto *f = h.add_files();
  f->set_name("npu.program");
  f->set_offset(8);
  f->set_size(prog.size());
  f = h.add_files();
  f->set_name("npu.insns");
  f->set_offset(insnsAt);
  f->set_size(words.size());
  h.set_payload_size(payload.size());
  h.set_payload_checksum(fnv1a64(payload.data(), payload.size()));
  return gHost.blob(frameArtifact(h.SerializeAsString(), payload), out);
}

ember_error *load(ember_device *, const void *data, size_t size,
                  ember_executable **out) {
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
  std::string header, payload;
  std::string bad = unframeArtifact(data, size, header, payload);
  if (!bad.empty())
    return error(EMBER_STATUS_INVALID_ARGUMENT, bad);
  v1::ArtifactHeader h;
  if (header.size() > size_t(INT_MAX) || !h.ParseFromString(header))
    return error(EMBER_STATUS_INVALID_ARGUMENT, "corrupt artifact header");
  if (h.schema_version() != 1)
    return error(EMBER_STATUS_VERSION_MISMATCH,
                 "artifact header schema version " +
                     std::to_string(h.schema_version()));
  if (h.plugin_name() != kName)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "artifact was made by plugin '" + h.plugin_name() +
                     "', not '" + kName + "'");
  if (h.abi_major() != EMBER_ABI_VERSION_MAJOR ||
      h.plugin_version() != kVersion)
    return error(EMBER_STATUS_VERSION_MISMATCH,
                 "artifact of npu-sim " + h.plugin_version() + " (ABI " +
                     std::to_string(h.abi_major()) + "); this is " + kVersion);
  if (h.payload_size() != payload.size() ||
      h.payload_checksum() != fnv1a64(payload.data(), payload.size()))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "artifact payload is truncated or corrupt (size or checksum "
                 "mismatch)");
  auto x = std::make_unique<ember_executable>();
  x->kind = h.program_kind();
  size_t at = 0;
  std::string prog;
  std::string insns; // the command stream (npu.insns), derived again
  if (!getBlob(payload, at, prog) || !getBlob(payload, at, x->options) ||
      (at != payload.size() && !getBlob(payload, at, insns)) ||
      at != payload.size())
    return error(EMBER_STATUS_INVALID_ARGUMENT, "corrupt npu-sim payload");
  std::string err = ns::deserializeProgram(ns::npuTarget(), prog, x->program);
  if (!err.empty())
    return error(EMBER_STATUS_INVALID_ARGUMENT, "npu-sim artifact: " + err);
  x->program.uid = ns::newProgramUid();
  v1::CompileOptions o;
  if (!o.ParseFromString(x->options))
    return error(EMBER_STATUS_INVALID_ARGUMENT, "corrupt npu-sim options");
  if (ember_error *e = applyOptions(o, x->run))
    return e;
  sizeDram(*x);
  x->inputs.assign(h.inputs().begin(), h.inputs().end());
  x->outputs.assign(h.outputs().begin(), h.outputs().end());
  x->inputNames.assign(h.input_names().begin(), h.input_names().end());
  x->outputNames.assign(h.output_names().begin(), h.output_names().end());
  if (x->inputs.size() != x->program.inputs.size() ||
      x->outputs.size() != x->program.outputs.size() || !sameBytes(*x))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "artifact header does not match its program");
  *out = x.release();
  return nullptr;
}

ember_error *signature(ember_executable *x, ember_blob *out) {
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  return gHost.blob(headerOf(*x).SerializeAsString(), out);
}

ember_error *emit(ember_executable *x, const char *format, ember_blob *out) {
  if (!x || !format)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable or format is NULL");
  // npu-layers: the scheduled program in the compiler layer's text
  // (docs/npu-sdk.md); npu-asm: its instructions.
  if (std::strcmp(format, "npu-layers") == 0)
    return gHost.blob(ns::printProgram(ns::npuTarget(), x->program), out);
  if (std::strcmp(format, "npu-asm") != 0)
    return error(EMBER_STATUS_UNSUPPORTED,
                 std::string("npu-sim emits npu-asm and npu-layers, not '") +
                     format + "'");
  return gHost.blob(ns::programAsm(ns::npuTarget(), x->program), out);
}

void addValue(google::protobuf::RepeatedPtrField<v1::ProfileValue> *list,
              const char *name, double v) {
  v1::ProfileValue *pv = list->Add();
  pv->set_name(name);
  pv->set_value(v);
}

std::string profileOf(const ns::Program &p, const ns::RunConfig &c,
                      const ns::RunResult &r) {
  v1::ExecutionProfile pr;
  pr.set_schema_version(1);
  pr.set_device("npu");
  pr.set_executor(r.executor);
  pr.set_timed(r.timed);
  pr.set_clock_hz(double(EMBER_NPU_PLATFORM_CLOCK_HZ)); // the spec's clock
  const ember_npu_counters_t &k = r.counters;
  uint64_t useful = 0;
  for (const ns::LayerInfo &l : p.layers)
    useful += l.usefulMacs;
  auto *cs = pr.mutable_counters();
  addValue(cs, "cycles", double(k.cycles));
  addValue(cs, "peak_macs_per_cycle", double(p.lanes) * double(p.lanes));
  addValue(cs, "useful_macs", double(useful));
  addValue(cs, "array_macs", double(k.macs));
  addValue(cs, "dma_bytes", double(k.load_bytes + k.store_bytes));
  addValue(cs, "dma_in_busy", double(k.load_busy));
  addValue(cs, "dma_compute_overlap", double(k.overlap));
  addValue(cs, "instructions", double(k.insns));
  addValue(cs, "gemm_busy", double(k.gemm_busy));
  addValue(cs, "vector_busy", double(k.vector_busy));
  addValue(cs, "store_busy", double(k.store_busy));
  if (r.platform) { // on the platform's clock, shared by its cores
    addValue(cs, "start_cycle", double(r.startCycle));
    addValue(cs, "end_cycle", double(r.endCycle));
  }
  bool tuned = false;
  for (const ns::LayerInfo &l : p.layers)
    tuned = tuned || !l.tune.source.empty();
  if (c.profile >= 1)
    for (size_t i = 0; i < p.layers.size(); ++i) {
      const ns::LayerInfo &l = p.layers[i];
      v1::ProfileLayer *pl = pr.add_layers();
      pl->set_name(l.name);
      pl->set_op(l.op);
      for (const std::string &n : l.nodes)
        pl->add_nodes(n);
      std::string detail =
          l.shape.empty() ? l.tiling : l.shape + "; " + l.tiling;
      if (l.cascadedIn || l.cascadedOut)
        detail += std::string("; cascaded") +
                  (l.cascadedIn ? " in (MOVE from OUT)" : "") +
                  (l.cascadedIn && l.cascadedOut ? "," : "") +
                  (l.cascadedOut ? " out (kept in OUT)" : "");
      if (l.stripedIn || l.stripedOut) // one side of one pair at most
        detail += std::string("; striped ") +
                  (l.stripedIn ? "in (MOVE from" : "out (into") +
                  " a ring of " + std::to_string(l.ringRows) + " OUT rows)";
      else if (!l.notStriped.empty())
        detail += "; not striped: " + l.notStriped;
      if (!l.tune.source.empty())
        detail += "; tuned (" + l.tune.source + ", " +
                  std::to_string(l.tune.candidates) + " candidates, kept #" +
                  std::to_string(l.tune.rank + 1) + ")";
      pl->set_detail(detail);
      ns::LayerStats s = i < r.layers.size() ? r.layers[i] : ns::LayerStats();
      const double peak = double(p.lanes) * double(p.lanes);
      auto *vs = pl->mutable_values();
      // The cost model and the roofline (docs/npu-performance.md, "Compiled
      // models"): bound = max(MACs / DIM^2, compulsory DRAM bytes /
      // bandwidth); roof = bound / cycles.
      double bw = c.bytesPerCycle
                      ? double(c.bytesPerCycle)
                      : double(EMBER_NPU_DRAM_BYTES_PER_CYCLE_DEFAULT);
      double bound =
          std::max(double(l.usefulMacs) / peak, double(l.minDramBytes) / bw);
      // cycles: the layer's span in the network (first instruction's start
      // to last's end: it includes waiting for the previous layer's
      // results); alone: the layer run alone from an idle machine, which is
      // what the cost model predicts, so model_err is against it.
      uint64_t alone = i < r.alone.size() ? r.alone[i] : 0;
      addValue(vs, "cycles", double(s.cycles));
      addValue(vs, "alone", double(alone));
      addValue(vs, "predicted", l.predictedCycles);
      addValue(vs, "model_err",
               alone ? (l.predictedCycles - double(alone)) / double(alone) : 0);
      addValue(vs, "bound", bound);
      addValue(vs, "roof", s.cycles ? bound / double(s.cycles) : 0);
      addValue(vs, "mac_util",
               s.cycles ? double(l.usefulMacs) / (peak * double(s.cycles)) : 0);
      addValue(vs, "mapping_eff",
               l.arrayMacs ? double(l.usefulMacs) / double(l.arrayMacs) : 0);
      addValue(vs, "dma_bytes", double(l.loadBytes + l.storeBytes));
      addValue(vs, "stall_data", double(s.stallData));
      addValue(vs, "stall_array", double(s.stallArray));
      // DMA hidden (docs/npu-performance.md): the share of the layer's LOAD
      // cycles during which GEMM or VECTOR computed; mac_bound: its roofline
      // bound is the array's side (the layers the goal is stated for).
      addValue(vs, "load_busy", double(s.loadBusy));
      addValue(vs, "dma_hidden",
               s.loadBusy ? double(s.loadHidden) / double(s.loadBusy) : 0);
      addValue(vs, "mac_bound",
               double(l.usefulMacs) / peak >= double(l.minDramBytes) / bw ? 1
                                                                          : 0);
      addValue(vs, "macs", double(l.usefulMacs));
      if (tuned) {
        // What tuning gained over the model's pick (each alone on SystemC).
        addValue(vs, "tune_gain",
                 l.tune.modelCycles ? (double(l.tune.modelCycles) -
                                       double(l.tune.tunedCycles)) /
                                          double(l.tune.modelCycles)
                                    : 0);
        addValue(vs, "tune_rank", double(l.tune.rank));
      }
    }
  if (c.profile >= 2) {
    static const char *const engines[] = {"LOAD", "GEMM", "VECTOR", "STORE"};
    for (const ns::Slice &s : r.slices) {
      v1::TraceSlice *ts = pr.add_slices();
      ts->set_track(engines[s.engine & 3]);
      ts->set_name(s.name);
      ts->set_category(s.stall ? "stall" : "exec");
      ts->set_start(double(s.start));
      ts->set_duration(double(s.duration));
    }
  }
  return pr.SerializeAsString();
}

ember_error *execute(ember_device *d, const ember_execute_params *p,
                     ember_event **out) {
  if (!d)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "device is NULL");
  if (ember_error *e = checkStruct(
          p, offsetof(ember_execute_params, num_outputs) + sizeof(size_t),
          "ember_execute_params"))
    return e;
  const ember_executable *x = p->executable;
  if (!x || p->num_inputs != x->inputs.size() ||
      p->num_outputs != x->outputs.size() || (p->num_inputs && !p->inputs) ||
      (p->num_outputs && !p->outputs))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "wrong executable or number of buffers");
  std::vector<const void *> ins;
  std::vector<void *> outs;
  for (size_t i = 0; i < p->num_inputs; ++i) {
    ember_buffer *b = p->inputs[i];
    if (!b || b->size < tensorBytes(x->inputs[i]))
      return error(EMBER_STATUS_INVALID_ARGUMENT, "input buffer " +
                                                      std::to_string(i) +
                                                      " is NULL or too small");
    ins.push_back(b->data);
  }
  for (size_t i = 0; i < p->num_outputs; ++i) {
    ember_buffer *b = p->outputs[i];
    if (!b || b->size < tensorBytes(x->outputs[i]))
      return error(EMBER_STATUS_INVALID_ARGUMENT, "output buffer " +
                                                      std::to_string(i) +
                                                      " is NULL or too small");
    outs.push_back(b->data);
  }
  // Queued on the device now (a core runs its programs in the order they
  // were started); the event's worker waits for it. A failure to start is
  // the event's error too.
  const uint32_t dev = d->index;
  const uint64_t nth = ++gRuns[dev];
  const ns::Program *prog = x->fault.device == int(dev) && nth == x->fault.run
                                ? &x->faulty
                                : &x->program;
  auto run = std::make_shared<ns::PendingRunPtr>();
  std::string started = ns::startRun(dev, *prog, x->run, ins, outs, *run);
  return startAsyncProfiled(
      [x, prog, dev, run, started](std::string &profile) -> ember_error * {
        if (!started.empty())
          return error(EMBER_STATUS_INTERNAL, started);
        ns::RunResult r;
        std::string err = ns::finishRun(**run, &r);
        run->reset();
        if (!err.empty())
          return error(EMBER_STATUS_INTERNAL, err);
        // The per-layer report compares the cost model with each layer
        // run alone (what it predicts), besides its span in the network.
        if (x->run.profile >= 1 && r.timed) {
          err = ns::runLayersAlone(*prog, x->run, r.alone, dev);
          if (!err.empty())
            return error(EMBER_STATUS_INTERNAL, err);
        }
        profile = profileOf(*prog, x->run, r);
        return nullptr;
      },
      out);
}

ember_error *eventProfile(ember_event *ev, ember_blob *out) {
  if (!ev)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "event is NULL");
  std::lock_guard<std::mutex> l(ev->mu);
  if (!ev->done)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "the execution is not done");
  return gHost.blob(ev->profile, out);
}

ember_error *deviceCount(uint32_t *out) {
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_count is NULL");
  *out = kCores;
  return nullptr;
}

ember_error *deviceOpen(const ember_device_params *p, ember_device **out) {
  return ember_plugin::deviceOpen(p, out, kCores);
}

ember_error *querySupport(const ember_query_params *p, ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_query_params, graph_size) + sizeof(size_t),
          "ember_query_params"))
    return e;
  v1::Graph g;
  if (ember_error *e = parseGraph(p->graph, p->graph_size, g, "query_support"))
    return e;
  // The options the partitions will be compiled with (islands=keep|host),
  // when the host sends them.
  ns::LayerOptions lo;
  for (const ember_extension *x = p->next; x; x = x->next) {
    if (x->type != EMBER_EXT_QUERY_OPTIONS ||
        x->struct_size < sizeof(ember_query_options))
      continue;
    const auto *qo = reinterpret_cast<const ember_query_options *>(x);
    v1::CompileOptions o;
    if (ember_error *e = parseOptions(qo->options, qo->options_size, o))
      return e;
    ns::RunConfig rc;
    if (ember_error *e = applyOptions(o, rc, nullptr, &lo))
      return e;
  }
  std::vector<std::string> why = ns::whyNot(ns::npuTarget(), g, lo.select);
  v1::SupportReport r;
  r.set_schema_version(1);
  for (int i = 0; i < g.nodes_size(); ++i) {
    v1::NodeSupport *n = r.add_nodes();
    n->set_node(i);
    n->set_supported(why[size_t(i)].empty());
    n->set_reason(why[size_t(i)]);
  }
  return gHost.blob(r.SerializeAsString(), out);
}

// ABI 1.4: a core of the SystemC platform (or, with golden or RTL, an
// independent single core); its DRAM window is what programs may use.
ember_error *deviceDescribe(const ember_device_query_params *p,
                            ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_device_query_params, options_size) + sizeof(size_t),
          "ember_device_query_params"))
    return e;
  if (p->device_index >= kCores)
    return error(EMBER_STATUS_OUT_OF_RANGE,
                 "device " + std::to_string(p->device_index) +
                     " does not exist (" + std::to_string(kCores) +
                     " devices)");
  v1::CompileOptions o;
  if (ember_error *e = parseOptions(p->options, p->options_size, o))
    return e;
  ns::RunConfig rc;
  if (ember_error *e = applyOptions(o, rc))
    return e;
  const bool systemc = rc.executor == EMBER_NPU_EXECUTOR_SYSTEMC;
  const uint64_t window =
      rc.dramGiven ? rc.dramBytes : EMBER_NPU_PLATFORM_CORE_DRAM_BYTES;
  const uint32_t shared =
      rc.sharedBytesPerCycle
          ? rc.sharedBytesPerCycle
          : uint32_t(EMBER_NPU_PLATFORM_DRAM_BYTES_PER_CYCLE);
  v1::DeviceDescription d;
  d.set_schema_version(1);
  const std::string core = "example NPU core " +
                           std::to_string(p->device_index) + " of " +
                           std::to_string(kCores);
  d.set_name(systemc ? core + " (SystemC; " + std::to_string(window >> 20) +
                           " MiB DRAM window, a DRAM channel of " +
                           std::to_string(shared) + " B/cycle shared)"
                     : core + (rc.executor == EMBER_NPU_EXECUTOR_GOLDEN
                                   ? " (golden model, untimed)"
                                   : " (RTL)"));
  d.set_memory_bytes(window);
  d.set_concurrency(1);
  d.set_simulated(systemc);
  d.set_clock_hz(double(EMBER_NPU_PLATFORM_CLOCK_HZ));
  if (systemc) {
    for (uint32_t c = 0; c < kCores; ++c)
      if (c != p->device_index)
        d.add_shares_bandwidth_with(c);
    d.set_shared_bytes_per_second(double(shared) *
                                  double(EMBER_NPU_PLATFORM_CLOCK_HZ));
  }
  return gHost.blob(d.SerializeAsString(), out);
}

// ABI 1.4: the cost model's cycles for the program compile would make (kept
// for that compile), each layer's charged to its nodes
// (ember::accel::costEstimate).
ember_error *estimateCost(const ember_cost_params *p, ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_cost_params, options_size) + sizeof(size_t),
          "ember_cost_params"))
    return e;
  if (p->device_index >= kCores)
    return error(EMBER_STATUS_OUT_OF_RANGE,
                 "device " + std::to_string(p->device_index) +
                     " does not exist (" + std::to_string(kCores) +
                     " devices)");
  if (p->program_kind != EMBER_PROGRAM_GRAPH)
    return error(EMBER_STATUS_UNSUPPORTED,
                 "npu-sim estimates graphs (program kind 0), not kind " +
                     std::to_string(p->program_kind));
  v1::CompileOptions o;
  if (ember_error *e = parseOptions(p->options, p->options_size, o))
    return e;
  ns::RunConfig rc;
  ns::LayerOptions lo;
  if (ember_error *e = applyOptions(o, rc, nullptr, &lo))
    return e;
  const ns::CodegenOptions &co = lo.codegen;
  v1::Graph g;
  if (ember_error *e =
          parseGraph(p->program, p->program_size, g, "estimate_cost"))
    return e;
  ns::Program prog;
  if (ember_error *e = generate(p->program, p->program_size, g, codegenKey(o),
                                lo.select, co, uint64_t(1) << 32, prog))
    return e;
  const double clock = double(EMBER_NPU_PLATFORM_CLOCK_HZ);
  v1::CostEstimate c;
  ember::accel::costEstimate(g, prog, clock, c);
  const double cycles = c.seconds() * clock;
  char basis[200];
  std::snprintf(basis, sizeof basis,
                "the NPU cost model: %zu layers, %.3f M cycles at %.0f MHz "
                "(each layer as tiled, alone)",
                prog.layers.size(), cycles / 1e6, clock / 1e6);
  c.set_basis(basis);
  return gHost.blob(c.SerializeAsString(), out);
}

// The target description is compiled in; one the layer refuses (a build
// problem) fails here, naming the field.
ember_error *init(const ember_host_api *host) {
  if (ember_error *e = gHost.attach(host))
    return e;
  if (!ns::npuTargetError().empty())
    return error(EMBER_STATUS_INTERNAL,
                 "the NPU's target description: " + ns::npuTargetError());
  return nullptr;
}

void shutdown() {}

// The function table (ember/plugin_table.hpp puts each entry in its slot).
struct NpuPlugin {
  static constexpr const char *name = kName;
  static constexpr const char *version = kVersion;
  static constexpr auto error_code = errorCode;
  static constexpr auto error_message = errorMessage;
  static constexpr auto error_free = errorFree;
  static constexpr auto plugin_init = init;
  static constexpr auto plugin_shutdown = shutdown;
  static constexpr auto get_capabilities = getCapabilities;
  static constexpr auto query_support = querySupport;
  static constexpr auto device_count = deviceCount;
  static constexpr auto device_open = deviceOpen;
  static constexpr auto device_close = deviceClose;
  static constexpr auto buffer_allocate = bufferAllocate;
  static constexpr auto buffer_release = bufferRelease;
  static constexpr auto buffer_write = bufferWrite;
  static constexpr auto buffer_read = bufferRead;
  static constexpr auto executable_compile = compile;
  static constexpr auto executable_serialize = serialize;
  static constexpr auto executable_load = load;
  static constexpr auto executable_release = release;
  static constexpr auto execute = ::execute;
  static constexpr auto event_wait = eventWait;
  static constexpr auto event_release = eventRelease;
  static constexpr auto executable_signature = signature;
  static constexpr auto buffer_import_host = bufferImportHost;
  static constexpr auto executable_emit = emit;
  static constexpr auto event_profile = eventProfile;
  static constexpr auto device_describe = deviceDescribe;
  static constexpr auto estimate_cost = estimateCost;
};

} // namespace

EMBER_PLUGIN_ENTRY(NpuPlugin)

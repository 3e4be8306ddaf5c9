// The plugin base of an NPU built on the SDK's NPU compiler layer
// (Ember::accel, docs/npu-sdk.md). Optional C++17, header-only, installed
// with the SDK; it implements the ABI entries every such plugin writes the
// same way, over a class of the vendor's that supplies only what is theirs:
//
//   struct Acme {
//     static constexpr const char *name = "acme-npu", *version = "1.0.0";
//     static constexpr const char *device = "the Acme NPU"; // in messages
//     static constexpr uint32_t devices = 1;  // device indices 0..devices-1
//     static constexpr double clockHz = 1e9;  // the cost model's clock
//     static constexpr const char *optionKeys = "executor"; // in messages
//     struct Config { int profile = 0; ... }; // what its options set
//     static const ember::accel::Target &target(); // the description
//     static ember::Status targetError();         // ok or why it is bad
//     static const char *targetJson();            // its text
//     static ember::Status option(const std::string &key,
//                                 const std::string &value, Config &c,
//                                 bool &known);
//     static void pack(const LayerProgram &lp, Program &p);
//     static ember::Status encode(const Program &p,
//                                 std::vector<uint8_t> &words);
//     static std::string assembly(const Program &p);
//     static void describe(uint32_t device, const Config &c,
//                          ember::backend::v1::DeviceDescription &d);
//     static ember_plugin::npu::Run start(uint32_t device,
//                                         const
//                                         ember_plugin::npu::Executable<Acme>
//                                         &x, const std::vector<const void *>
//                                         &ins, const std::vector<void *>
//                                         &outs);
//   };
//   EMBER_PLUGIN_ENTRY(ember_plugin::npu::NpuPlugin<Acme>)
//
// The hooks that can fail return ember::Status (support/Error.h: ok, or an
// error with its code and message; okOr below turns a vendor routine's
// "" -or-why into one). The base hands a failure to the host as an ABI error
// with the message as it is: Unsupported as EMBER_STATUS_UNSUPPORTED,
// Timeout as EMBER_STATUS_TIMEOUT, any other code as the entry's own
// (INVALID_ARGUMENT for option and prepare, INTERNAL for targetError,
// encode and a run).
//
// The hooks:
// - Config: the device's settings, made from the compile options each time
//   (default-constructed, then `profile` set to the host's profile level,
//   0: counters, 1: per layer, 2: trace slices, then option() called for
//   every `--backend-opt KEY=VALUE`). option() gets every key, the compiler
//   layer's too (dram_bytes, dram_bw and dram_latency are read by both);
//   it sets `known` when the key is its own and returns ok or why the value
//   is wrong. A key neither knows is an error naming both lists of keys.
// - pack: fills the image of a scheduled program with its constants in the
//   device's arrangement (accel::writeConstants, then the vendor's tiles);
//   encode: the program's instruction words (the artifact's npu.insns);
//   assembly: the executable_emit format npu-asm (npu-layers, the layer's
//   text, comes from here).
// - describe: fills the DeviceDescription of a device index (schema version,
//   concurrency 1 and the clock are set before; the index is checked).
// - start: an execution. Called on the host's thread with buffers checked
//   against the signature (count, size); returns the work the event's
//   worker runs, which fills the ExecutionProfile (schema version set) and
//   returns ok or why the run failed. A device whose runs must be queued in
//   the order they were started queues it in start.
// - Optional: `static void timingRun(Config &)`, what a timing run of the
//   host's tuner (backend options tune=N, tune_cache=PATH) changes (profile
//   is 0 already); `static ember::Status
//   prepare(Executable<V> &x, bool compiled)`, called after compile
//   (compiled) and load, before the executable is handed out.
//
// What this base does: plugin_init (checking the description), the
// manifest (the layer's claimed ops, the description, accepts_layers,
// npu-asm and npu-layers, devices), query_support (with the host's
// options), compile of scheduled programs (EMBER_PROGRAM_LAYERS, for this
// description only; packing by pack), artifacts (serialize, load with
// version, plugin and checksum checks; the files npu.program and
// npu.insns), signature, emit, execute's argument checks, event_profile,
// device_describe, and host-memory devices and buffers
// (plugin_helpers.hpp). A plugin class deriving from NpuPlugin<V> may
// replace any entry (plugin_table.hpp).
//
// The NPU compiler layer runs on the host, not here: Ember selects,
// schedules and tunes a graph for the description (core/backend/LayerPath.h)
// and sends the scheduled program, and the runtime's cost estimates come
// from the layer's cost model on the host, so this base has no
// estimate_cost and answers a graph (program kind 0) with one UNSUPPORTED
// error saying the host schedules graphs for it.
//
// A plugin using it links Ember::accel and Ember::backend_proto besides what
// ember_add_plugin links (examples/second-npu/CMakeLists.txt).
#ifndef EMBER_ACCEL_NPU_PLUGIN_HPP
#define EMBER_ACCEL_NPU_PLUGIN_HPP

#include "ember/backend.h"
#include "ember/plugin_helpers.hpp"
#include "ember/plugin_table.hpp"

#include "ember/accel/Device.h"
#include "ember/accel/Options.h"
#include "ember/accel/Program.h"
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

#include <climits>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// A compiled program and its signature (the vendor's part: Executable<V>).
struct ember_executable {
  virtual ~ember_executable() = default;
  ember::accel::Program program;
  std::string options;                 // the CompileOptions it was made with
  uint32_t kind = EMBER_PROGRAM_GRAPH; // the program kind it was made from
  std::vector<ember::backend::v1::TensorType> inputs, outputs;
  std::vector<std::string> inputNames, outputNames;
};

namespace ember_plugin {
namespace npu {

namespace v1 = ::ember::backend::v1;
namespace accel = ::ember::accel;

template <typename V> struct Executable : ember_executable {
  typename V::Config config; // from `options`
};

// An execution's work (see start above).
using Run = std::function<::ember::Status(v1::ExecutionProfile &)>;

// ---- helpers a vendor's hooks use too ---------------------------------------

// Ok when `why` is empty, else an error with `code` and `why` as its message
// (for a routine that says "" or why it failed).
inline ::ember::Status okOr(::ember::ErrorCode code, std::string why) {
  if (why.empty())
    return ::ember::Status::ok();
  return ::ember::Status(code, std::move(why));
}

// The ABI error of a hook's failure (see the top of this file): its message
// as it is, with Unsupported and Timeout kept and any other code made
// `otherwise`.
inline ember_error *hookError(const ::ember::Status &s, int32_t otherwise) {
  const int32_t code =
      s.code() == ::ember::ErrorCode::Unsupported ? EMBER_STATUS_UNSUPPORTED
      : s.code() == ::ember::ErrorCode::Timeout   ? EMBER_STATUS_TIMEOUT
                                                  : otherwise;
  return error(code, s.message());
}

// Host bytes of a tensor of the signature (dense, row-major).
inline uint64_t tensorBytes(const v1::TensorType &t) {
  const std::string &d = t.dtype();
  uint64_t n = d == "i32" || d == "u32" || d == "f32" ? 4
               : d == "i64" || d == "f64"             ? 8
               : d == "i16" || d == "f16"             ? 2
                                                      : 1;
  for (int64_t v : t.dims())
    n *= uint64_t(v);
  return n;
}

inline void addValue(google::protobuf::RepeatedPtrField<v1::ProfileValue> *l,
                     const char *name, double v) {
  v1::ProfileValue *pv = l->Add();
  pv->set_name(name);
  pv->set_value(v);
}

// The counters every NPU profile opens with, in this order (the layer
// report and `npu:` summary read them by name).
struct RunCounters {
  double cycles = 0, peakMacsPerCycle = 0, usefulMacs = 0, arrayMacs = 0;
  double dmaBytes = 0, dmaInBusy = 0, dmaComputeOverlap = 0, instructions = 0;
};

inline void addRunCounters(v1::ExecutionProfile &pr, const RunCounters &k) {
  auto *cs = pr.mutable_counters();
  addValue(cs, "cycles", k.cycles);
  addValue(cs, "peak_macs_per_cycle", k.peakMacsPerCycle);
  addValue(cs, "useful_macs", k.usefulMacs);
  addValue(cs, "array_macs", k.arrayMacs);
  addValue(cs, "dma_bytes", k.dmaBytes);
  addValue(cs, "dma_in_busy", k.dmaInBusy);
  addValue(cs, "dma_compute_overlap", k.dmaComputeOverlap);
  addValue(cs, "instructions", k.instructions);
}

// A layer's first four values: its span in the run (`cycles`), its cycles
// run alone from an idle machine (`alone`, what the cost model predicts),
// the prediction and its relative error against `alone`.
inline void
addLayerTiming(google::protobuf::RepeatedPtrField<v1::ProfileValue> *vs,
               uint64_t cycles, uint64_t alone, double predicted) {
  addValue(vs, "cycles", double(cycles));
  addValue(vs, "alone", double(alone));
  addValue(vs, "predicted", predicted);
  addValue(vs, "model_err",
           alone ? (predicted - double(alone)) / double(alone) : 0);
}

// A layer of the profile: its name, what it does and its source nodes.
inline v1::ProfileLayer *addLayer(v1::ExecutionProfile &pr,
                                  const accel::LayerInfo &l) {
  v1::ProfileLayer *pl = pr.add_layers();
  pl->set_name(l.name);
  pl->set_op(l.op);
  for (const std::string &n : l.nodes)
    pl->add_nodes(n);
  return pl;
}

// Cycles of each layer of `p` run alone from an idle machine (what the cost
// model predicts; the profile's `alone`), each measured by `run` (ok or why
// the run failed).
inline ::ember::Status layersAlone(
    const accel::Target &t, const accel::Program &p,
    const std::function<::ember::Status(const accel::Program &, uint64_t &)>
        &run,
    std::vector<uint64_t> &cycles) {
  cycles.assign(p.layers.size(), 0);
  for (size_t i = 0; i < p.layers.size(); ++i) {
    accel::Program q;
    ::ember::Status st = accel::layerAlone(t, p, i, q);
    if (st.isOk() && !q.ops.empty())
      st = run(q, cycles[i]);
    if (st.failed())
      return ::ember::Status(st.code(), "layer '" + p.layers[i].name +
                                            "' alone: " + st.message());
  }
  return ::ember::Status::ok();
}

namespace detail {
template <typename V, typename = void> struct HasTimingRun : std::false_type {};
template <typename V>
struct HasTimingRun<V, std::void_t<decltype(V::timingRun(
                           std::declval<typename V::Config &>()))>>
    : std::true_type {};
template <typename V, typename = void> struct HasPrepare : std::false_type {};
template <typename V>
struct HasPrepare<
    V, std::void_t<decltype(V::prepare(std::declval<Executable<V> &>(), true))>>
    : std::true_type {};

inline void putBlob(std::string &out, const std::string &s) {
  const uint64_t n = s.size();
  out.append(reinterpret_cast<const char *>(&n), 8);
  out += s;
}

inline bool getBlob(const std::string &in, size_t &at, std::string &s) {
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
} // namespace detail

// ---- the base ---------------------------------------------------------------

template <typename V>
struct NpuPlugin : PluginBase, HostMemory, AsyncEvents, HostImport {
  using Config = typename V::Config;
  using Exec = Executable<V>;
  static constexpr const char *name = V::name;
  static constexpr const char *version = V::version;

  // The description is compiled in; one the layer refuses (a build
  // problem) fails here, naming the field.
  static ember_error *plugin_init(const ember_host_api *h) {
    if (ember_error *e = host().attach(h))
      return e;
    const ::ember::Status st = V::targetError();
    if (st.failed())
      return hookError(
          st.withContext(std::string(V::device) + "'s target description"),
          EMBER_STATUS_INTERNAL);
    return nullptr;
  }

  static ember_error *get_capabilities(const ember_capabilities_params *p,
                                       ember_blob *out) {
    if (ember_error *e =
            checkStruct(p, offsetof(ember_capabilities_params, request),
                        "ember_capabilities_params"))
      return e;
    v1::CapabilityManifest m;
    m.set_schema_version(1);
    m.set_plugin_name(V::name);
    m.set_plugin_version(V::version);
    m.set_accepts_graph(true);
    // The host schedules for the description and sends scheduled programs
    // (docs/npu-sdk.md, "Through the ABI").
    m.set_accepts_layers(true);
    m.set_target_description(V::targetJson());
    m.set_supports_serialize(true);
    m.set_device_count(V::devices);
    m.add_emit_formats("npu-asm");
    m.add_emit_formats("npu-layers");
    // The arithmetics the device computes bit for bit, its description's
    // `arithmetic` (docs/quantization.md, "Declared arithmetic"): the host
    // lowers in the first and its oracle computes it. Without the field,
    // none (the host's fixed, as before the field).
    if (V::target().arithmeticDeclared)
      for (ember::quant::RequantProfile a : V::target().arithmetic)
        m.add_requant_profiles(ember::quant::profileName(a));
    for (const accel::OpClaim &c : accel::claimedOps(V::target())) {
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
    return host().blob(m.SerializeAsString(), out);
  }

  static ember_error *query_support(const ember_query_params *p,
                                    ember_blob *out) {
    if (ember_error *e = checkStruct(
            p, offsetof(ember_query_params, graph_size) + sizeof(size_t),
            "ember_query_params"))
      return e;
    v1::Graph g;
    if (ember_error *e =
            parseGraph(p->graph, p->graph_size, g, "query_support"))
      return e;
    // The options the partitions will be compiled with
    // (islands=free|host|keep), when the host sends them.
    accel::LayerOptions lo;
    for (const ember_extension *x = p->next; x; x = x->next) {
      if (x->type != EMBER_EXT_QUERY_OPTIONS ||
          x->struct_size < sizeof(ember_query_options))
        continue;
      const auto *qo = reinterpret_cast<const ember_query_options *>(x);
      v1::CompileOptions o;
      Config c;
      if (ember_error *e = parseOptions(qo->options, qo->options_size, o))
        return e;
      if (ember_error *e = applyOptions(o, c, &lo))
        return e;
    }
    std::vector<std::string> why = accel::whyNot(V::target(), g, lo.select);
    v1::SupportReport r;
    r.set_schema_version(1);
    for (int i = 0; i < g.nodes_size(); ++i) {
      v1::NodeSupport *n = r.add_nodes();
      n->set_node(i);
      n->set_supported(why[size_t(i)].empty());
      n->set_reason(why[size_t(i)]);
    }
    return host().blob(r.SerializeAsString(), out);
  }

  static ember_error *device_count(uint32_t *out) {
    if (!out)
      return error(EMBER_STATUS_INVALID_ARGUMENT, "out_count is NULL");
    *out = V::devices;
    return nullptr;
  }
  static ember_error *device_open(const ember_device_params *p,
                                  ember_device **out) {
    return deviceOpen(p, out, V::devices);
  }

  static ember_error *executable_compile(ember_device *,
                                         const ember_compile_params *p,
                                         ember_executable **out) {
    if (ember_error *e = checkStruct(
            p, offsetof(ember_compile_params, options_size) + sizeof(size_t),
            "ember_compile_params"))
      return e;
    if (!out)
      return error(EMBER_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
    // Ember schedules a graph on the host for this description and sends
    // the scheduled program (accepts_layers; docs/npu-sdk.md, "Through the
    // ABI"): the layer runs in one place.
    if (p->program_kind != EMBER_PROGRAM_LAYERS)
      return error(EMBER_STATUS_UNSUPPORTED,
                   std::string(V::name) +
                       " compiles scheduled programs (program kind 2), not "
                       "kind " +
                       std::to_string(p->program_kind) +
                       (p->program_kind == EMBER_PROGRAM_GRAPH
                            ? " (a graph): the host schedules graphs for it "
                              "(its manifest sets accepts_layers)"
                            : ""));
    v1::CompileOptions o;
    if (ember_error *e = parseOptions(p->options, p->options_size, o))
      return e;
    auto x = std::make_unique<Exec>();
    x->options = o.SerializeAsString();
    x->kind = p->program_kind;
    if (ember_error *e = compileLayers(o, p->program, p->program_size, *x))
      return e;
    x->program.uid = accel::newProgramUid();
    if (ember_error *e = prepare(*x, true))
      return e;
    *out = x.release();
    return nullptr;
  }

  static void executable_release(ember_executable *x) { delete x; }

  // Payload: the program (accel::serializeProgram), the options it was
  // compiled with and its instruction words; the files npu.program and
  // npu.insns are ranges of it (a bundle's partitions, docs/edge.md).
  static ember_error *executable_serialize(ember_executable *x,
                                           ember_blob *out) {
    if (!x)
      return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
    const std::string prog = accel::serializeProgram(V::target(), x->program);
    std::vector<uint8_t> words;
    const ::ember::Status st = V::encode(x->program, words);
    if (st.failed())
      return hookError(st, EMBER_STATUS_INTERNAL);
    std::string payload;
    detail::putBlob(payload, prog);
    detail::putBlob(payload, x->options);
    const uint64_t insnsAt = payload.size() + 8;
    detail::putBlob(payload, std::string(words.begin(), words.end()));
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
    return host().blob(frameArtifact(h.SerializeAsString(), payload), out);
  }

  static ember_error *executable_load(ember_device *, const void *data,
                                      size_t size, ember_executable **out) {
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
    if (h.plugin_name() != V::name)
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "artifact was made by plugin '" + h.plugin_name() +
                       "', not '" + V::name + "'");
    if (h.abi_major() != EMBER_ABI_VERSION_MAJOR ||
        h.plugin_version() != V::version)
      return error(EMBER_STATUS_VERSION_MISMATCH,
                   "artifact of " + h.plugin_name() + " " + h.plugin_version() +
                       " (ABI " + std::to_string(h.abi_major()) +
                       "); this is " + V::version);
    if (h.payload_size() != payload.size() ||
        h.payload_checksum() != fnv1a64(payload.data(), payload.size()))
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "artifact payload is truncated or corrupt (size or "
                   "checksum mismatch)");
    auto x = std::make_unique<Exec>();
    x->kind = h.program_kind();
    size_t at = 0;
    std::string prog, insns; // the words (npu.insns) are derived again
    if (!detail::getBlob(payload, at, prog) ||
        !detail::getBlob(payload, at, x->options) ||
        (at != payload.size() && !detail::getBlob(payload, at, insns)) ||
        at != payload.size())
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   std::string("corrupt ") + V::name + " payload");
    const ::ember::Status st =
        accel::deserializeProgram(V::target(), prog, x->program);
    if (st.failed())
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   std::string(V::name) + " artifact: " + st.message());
    x->program.uid = accel::newProgramUid();
    v1::CompileOptions o;
    if (!o.ParseFromString(x->options))
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   std::string("corrupt ") + V::name + " options");
    if (ember_error *e = applyOptions(o, x->config))
      return e;
    x->inputs.assign(h.inputs().begin(), h.inputs().end());
    x->outputs.assign(h.outputs().begin(), h.outputs().end());
    x->inputNames.assign(h.input_names().begin(), h.input_names().end());
    x->outputNames.assign(h.output_names().begin(), h.output_names().end());
    if (!matches(*x))
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "artifact header does not match its program");
    if (ember_error *e = prepare(*x, false))
      return e;
    *out = x.release();
    return nullptr;
  }

  static ember_error *executable_signature(ember_executable *x,
                                           ember_blob *out) {
    if (!x)
      return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
    return host().blob(headerOf(*x).SerializeAsString(), out);
  }

  // npu-layers: the scheduled program in the layer's text (docs/npu-sdk.md);
  // npu-asm: its instructions.
  static ember_error *executable_emit(ember_executable *x, const char *format,
                                      ember_blob *out) {
    if (!x || !format)
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "executable or format is NULL");
    if (std::strcmp(format, "npu-layers") == 0)
      return host().blob(accel::printProgram(V::target(), x->program), out);
    if (std::strcmp(format, "npu-asm") != 0)
      return error(EMBER_STATUS_UNSUPPORTED,
                   std::string(V::name) +
                       " emits npu-asm and npu-layers, not '" + format + "'");
    return host().blob(V::assembly(x->program), out);
  }

  static ember_error *execute(ember_device *d, const ember_execute_params *p,
                              ember_event **out) {
    if (!d)
      return error(EMBER_STATUS_INVALID_ARGUMENT, "device is NULL");
    if (ember_error *e = checkStruct(
            p, offsetof(ember_execute_params, num_outputs) + sizeof(size_t),
            "ember_execute_params"))
      return e;
    const auto *x = static_cast<const Exec *>(p->executable);
    if (!x || p->num_inputs != x->inputs.size() ||
        p->num_outputs != x->outputs.size() || (p->num_inputs && !p->inputs) ||
        (p->num_outputs && !p->outputs))
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "wrong executable or number of buffers");
    std::vector<const void *> ins;
    std::vector<void *> outs;
    for (size_t i = 0; i < p->num_inputs + p->num_outputs; ++i) {
      const bool in = i < p->num_inputs;
      const size_t k = in ? i : i - p->num_inputs;
      ember_buffer *b = in ? p->inputs[k] : p->outputs[k];
      if (!b || b->size < tensorBytes(in ? x->inputs[k] : x->outputs[k]))
        return error(EMBER_STATUS_INVALID_ARGUMENT,
                     std::string(in ? "input" : "output") + " buffer " +
                         std::to_string(k) + " is NULL or too small");
      if (in)
        ins.push_back(b->data);
      else
        outs.push_back(b->data);
    }
    Run run = V::start(d->index, *x, ins, outs);
    return startAsyncProfiled(
        [run](std::string &profile) -> ember_error * {
          v1::ExecutionProfile pr;
          pr.set_schema_version(1);
          const ::ember::Status st = run(pr);
          if (st.failed())
            return hookError(st, EMBER_STATUS_INTERNAL);
          profile = pr.SerializeAsString();
          return nullptr;
        },
        out);
  }

  static ember_error *event_profile(ember_event *ev, ember_blob *out) {
    if (!ev)
      return error(EMBER_STATUS_INVALID_ARGUMENT, "event is NULL");
    std::lock_guard<std::mutex> l(ev->mu);
    if (!ev->done)
      return error(EMBER_STATUS_INVALID_ARGUMENT, "the execution is not done");
    return host().blob(ev->profile, out);
  }

  // ABI 1.4: the device's description under the given options.
  static ember_error *device_describe(const ember_device_query_params *p,
                                      ember_blob *out) {
    if (ember_error *e = checkStruct(
            p,
            offsetof(ember_device_query_params, options_size) + sizeof(size_t),
            "ember_device_query_params"))
      return e;
    if (ember_error *e = checkDevice(p->device_index))
      return e;
    v1::CompileOptions o;
    Config c;
    if (ember_error *e = parseOptions(p->options, p->options_size, o))
      return e;
    if (ember_error *e = applyOptions(o, c))
      return e;
    v1::DeviceDescription d;
    d.set_schema_version(1);
    d.set_concurrency(1);
    d.set_clock_hz(V::clockHz);
    V::describe(p->device_index, c, d);
    return host().blob(d.SerializeAsString(), out);
  }

  // ---- pieces the entries share ---------------------------------------------

  // `c` from the options: the layer's keys into `lo`, the device's by
  // V::option; a key neither knows is an error.
  static ember_error *applyOptions(const v1::CompileOptions &o, Config &c,
                                   accel::LayerOptions *lo = nullptr) {
    c = Config();
    c.profile = int(o.profile_level());
    accel::LayerOptions scratch;
    for (const auto &[k, val] : o.vendor()) {
      bool known = false, mine = false;
      ::ember::Status st =
          accel::applyLayerOption(k, val, lo ? *lo : scratch, known);
      if (st.isOk())
        st = V::option(k, val, c, mine);
      if (st.failed())
        return hookError(st, EMBER_STATUS_INVALID_ARGUMENT);
      if (!known && !mine)
        return error(EMBER_STATUS_INVALID_ARGUMENT,
                     "unknown vendor option '" + k + "' (" + V::name +
                         " takes " + V::optionKeys +
                         " and the compiler layer's " +
                         accel::layerOptionKeys() + ")");
    }
    return nullptr;
  }

  static ember_error *parseOptions(const void *data, size_t size,
                                   v1::CompileOptions &o) {
    return parseOptional(data, size, o, "an ember.backend.v1.CompileOptions");
  }

  static ember_error *parseGraph(const void *data, size_t size, v1::Graph &g,
                                 const char *what) {
    if (!data || size > size_t(INT_MAX) || !g.ParseFromArray(data, int(size)))
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   std::string(what) + ": not an ember.backend.v1.Graph");
    if (g.schema_version() != 1)
      return error(EMBER_STATUS_VERSION_MISMATCH,
                   std::string(what) + ": Graph schema version " +
                       std::to_string(g.schema_version()) + " (" + V::name +
                       " reads version 1)");
    return nullptr;
  }

private:
  static ember_error *checkDevice(uint32_t index) {
    if (index < V::devices)
      return nullptr;
    return error(EMBER_STATUS_OUT_OF_RANGE,
                 "device " + std::to_string(index) + " does not exist (" +
                     std::to_string(V::devices) +
                     (V::devices == 1 ? " device)" : " devices)"));
  }

  static ember_error *prepare(Exec &x, bool compiled) {
    if constexpr (detail::HasPrepare<V>::value) {
      const ::ember::Status st = V::prepare(x, compiled);
      if (st.failed())
        return hookError(st, EMBER_STATUS_INVALID_ARGUMENT);
    }
    (void)x, (void)compiled;
    return nullptr;
  }

  // Whether the signature has the program's inputs and outputs, each as
  // many host bytes as the program moves (execute checks buffers against
  // the signature).
  static bool matches(const ember_executable &x) {
    if (x.inputs.size() != x.program.inputs.size() ||
        x.outputs.size() != x.program.outputs.size())
      return false;
    for (size_t i = 0; i < x.inputs.size(); ++i)
      if (accel::hostBytes(x.program.inputs[i]) != tensorBytes(x.inputs[i]))
        return false;
    for (size_t i = 0; i < x.outputs.size(); ++i)
      if (accel::hostBytes(x.program.outputs[i]) != tensorBytes(x.outputs[i]))
        return false;
    return true;
  }

  static v1::ArtifactHeader headerOf(const ember_executable &x) {
    v1::ArtifactHeader h;
    h.set_schema_version(1);
    h.set_plugin_name(V::name);
    h.set_plugin_version(V::version);
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

  // A program the host scheduled for this description: packed and run as
  // sent.
  static ember_error *compileLayers(const v1::CompileOptions &o,
                                    const void *data, size_t size, Exec &x) {
    if (ember_error *e = applyOptions(o, x.config))
      return e;
    v1::LayerProgram m;
    if (!data || size > size_t(INT_MAX) || !m.ParseFromArray(data, int(size)))
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "compile: not an ember.backend.v1.LayerProgram");
    if (m.schema_version() != 1)
      return error(EMBER_STATUS_VERSION_MISMATCH,
                   "LayerProgram schema version " +
                       std::to_string(m.schema_version()) + " (" + V::name +
                       " reads version 1)");
    const accel::Target &t = V::target();
    if (m.target_hash() != t.hash)
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "the scheduled program is for target " + m.target_hash() +
                       ", this plugin's is " + t.hash);
    accel::LayerProgram lp;
    ::ember::Status st = accel::parseLayers(t, m.layers(), lp);
    if (st.isOk())
      st = accel::deserializeProgram(t, m.program(), x.program);
    if (st.isOk() && x.program.tables.size() != lp.layers.size())
      st = ::ember::invalid("the program's layers are not the layer program's");
    if (st.failed())
      return error(EMBER_STATUS_INVALID_ARGUMENT, "compile: " + st.message());
    V::pack(lp, x.program);
    if (m.timing_run()) { // the host's tuner measures
      x.config.profile = 0;
      if constexpr (detail::HasTimingRun<V>::value)
        V::timingRun(x.config);
    }
    x.inputs.assign(m.inputs().begin(), m.inputs().end());
    x.outputs.assign(m.outputs().begin(), m.outputs().end());
    x.inputNames.assign(m.input_names().begin(), m.input_names().end());
    x.outputNames.assign(m.output_names().begin(), m.output_names().end());
    if (x.inputNames.size() != x.inputs.size() ||
        x.outputNames.size() != x.outputs.size() || !matches(x))
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "compile: the signature does not match the program");
    return nullptr;
  }
};

} // namespace npu
} // namespace ember_plugin

#endif // EMBER_ACCEL_NPU_PLUGIN_HPP

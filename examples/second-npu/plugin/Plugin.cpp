// The second NPU's Ember plugin (libember_second_npu.so,
// `--target=plugin:ember_second_npu`). Ember's NPU compiler layer selects,
// tiles, schedules and synchronizes for the target description (target.json);
// this file is the ABI glue: capabilities, options, compile (a lowered graph,
// through the layer here; or a program the host scheduled for the
// description), artifacts, emission formats and execution with a profile.
#include "ember/backend.h"
#include "ember/plugin_helpers.hpp"
#include "ember/plugin_table.hpp"

#include "SecondNpu.h"

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
#include <climits>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace v1 = ember::backend::v1;
namespace sn = second_npu;
using namespace ember_plugin;

struct ember_executable {
  sn::Program program;
  sn::RunConfig run;
  std::string options; // the CompileOptions it was compiled with
  uint32_t kind = EMBER_PROGRAM_GRAPH;
  std::vector<v1::TensorType> inputs, outputs;
  std::vector<std::string> inputNames, outputNames;
};

namespace {

Host gHost;
constexpr const char *kName = "second-npu";
constexpr const char *kVersion = "0.1.0";

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
  m.set_accepts_layers(true);
  m.set_target_description(sn::targetJson());
  m.set_supports_serialize(true);
  m.set_device_count(1);
  m.add_emit_formats("npu-asm");
  m.add_emit_formats("npu-layers");
  for (ember::quant::RequantProfile a : sn::target().arithmetic)
    m.add_requant_profiles(ember::quant::profileName(a)); // its description's
  for (const sn::OpClaim &c : sn::claimedOps(sn::target())) {
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

ember_error *parseGraph(const void *data, size_t size, v1::Graph &g) {
  if (!data || size > size_t(INT_MAX) || !g.ParseFromArray(data, int(size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "not an ember.backend.v1.Graph");
  if (g.schema_version() != 1)
    return error(EMBER_STATUS_VERSION_MISMATCH,
                 "Graph schema version " + std::to_string(g.schema_version()) +
                     " (second-npu reads version 1)");
  return nullptr;
}

ember_error *querySupport(const ember_query_params *p, ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_query_params, graph_size) + sizeof(size_t),
          "ember_query_params"))
    return e;
  v1::Graph g;
  if (ember_error *e = parseGraph(p->graph, p->graph_size, g))
    return e;
  std::vector<std::string> why = sn::whyNot(sn::target(), g);
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

// Options (`--backend-opt KEY=VALUE`): the device's DRAM (dram_bytes,
// dram_bw, dram_latency, which the layer's cost model reads too) and the
// layer's own keys; anything else is an error naming both lists.
ember_error *applyOptions(const v1::CompileOptions &o, sn::RunConfig &rc,
                          sn::LayerOptions *lo = nullptr) {
  rc = sn::RunConfig();
  rc.profile = int(o.profile_level());
  sn::LayerOptions scratch;
  for (const auto &[k, val] : o.vendor()) {
    bool known = false;
    std::string err = sn::applyLayerOption(k, val, lo ? *lo : scratch, known);
    if (!err.empty())
      return error(EMBER_STATUS_INVALID_ARGUMENT, err);
    uint64_t n = 0;
    if (k == "executor") {
      // One executor, the simulator (a board's driver would add "device").
      if (val != "sim")
        return error(EMBER_STATUS_INVALID_ARGUMENT,
                     "executor '" + val +
                         "' is not known (second-npu runs "
                         "on its simulator: sim)");
    } else if (k == "dram_bytes" || k == "dram_bw" || k == "dram_latency") {
      sn::parseCount(val, n); // checked by the layer
      if (k == "dram_bytes") {
        rc.dramBytes = n;
        rc.dramGiven = true;
      } else if (k == "dram_bw") {
        rc.bytesPerCycle = uint32_t(n);
      } else {
        rc.latency = uint32_t(n);
        rc.zeroLatency = n == 0;
      }
    } else if (!known) {
      return error(
          EMBER_STATUS_INVALID_ARGUMENT,
          "unknown vendor option '" + k +
              "' (second-npu takes executor and the compiler layer's " +
              sn::layerOptionKeys() + ")");
    }
  }
  return nullptr;
}

void signatureOf(const v1::Graph &g, ember_executable &x) {
  for (int v : g.inputs()) {
    x.inputs.push_back(g.values(v).type());
    x.inputNames.push_back(g.values(v).name());
  }
  for (int i = 0; i < g.outputs_size(); ++i) {
    const int v = g.outputs(i);
    x.outputs.push_back(g.values(v).type());
    x.outputNames.push_back(i < g.output_names_size() ? g.output_names(i)
                                                      : g.values(v).name());
  }
}

// A lowered graph: selection, scheduling (tuned on the simulator with
// tune=N) by the layer; packing here.
ember_error *compileGraph(const v1::CompileOptions &o, const void *data,
                          size_t size, ember_executable &x) {
  sn::LayerOptions lo;
  if (ember_error *e = applyOptions(o, x.run, &lo))
    return e;
  v1::Graph g;
  if (ember_error *e = parseGraph(data, size, g))
    return e;
  const sn::Target &t = sn::target();
  sn::LayerProgram lp;
  std::string err = sn::buildLayers(t, g, lp, lo.select);
  if (err.empty() && lp.layers.empty() && lp.tensors.empty())
    err = "nothing in this graph runs on the second NPU";
  if (!err.empty())
    return error(EMBER_STATUS_UNSUPPORTED, err);
  if (lo.tune || lo.tuneCacheGiven) {
    sn::TuneOptions tune;
    tune.candidates = lo.tune;
    tune.cachePath = lo.tuneCacheGiven
                         ? lo.tuneCache
                         : sn::defaultTuneCachePath("second-npu-tune.json");
    const sn::RunConfig run = x.run;
    tune.measure = [run](const sn::LayerProgram &, const sn::Program &p,
                         uint64_t &cycles) {
      sn::RunResult r;
      std::string e = sn::runProgram(p, run, {}, {}, &r);
      cycles = r.counters.cycles;
      return e;
    };
    tune.simulator = "the second NPU's simulator";
    tune.deviceKey = "dram_bw=" + std::to_string(run.bytesPerCycle) +
                     " dram_latency=" + std::to_string(run.latency);
    sn::TuneReport rep;
    err = sn::tuneAndGenerate(t, lp, lo.codegen, tune, x.program, rep);
    for (const std::string &w : rep.warnings)
      gHost.log(EMBER_LOG_WARNING, w);
    if (err.empty())
      gHost.log(EMBER_LOG_INFO, rep.summary);
  } else {
    err = sn::generateProgram(t, lp, lo.codegen, x.program);
  }
  if (!err.empty())
    return error(EMBER_STATUS_UNSUPPORTED, err);
  sn::packImage(lp, x.program);
  signatureOf(g, x);
  return nullptr;
}

// A program the host scheduled for this description (EMBER_PROGRAM_LAYERS).
ember_error *compileLayers(const v1::CompileOptions &o, const void *data,
                           size_t size, ember_executable &x) {
  if (ember_error *e = applyOptions(o, x.run))
    return e;
  v1::LayerProgram m;
  if (!data || size > size_t(INT_MAX) || !m.ParseFromArray(data, int(size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "compile: not an ember.backend.v1.LayerProgram");
  const sn::Target &t = sn::target();
  if (m.schema_version() != 1 || m.target_hash() != t.hash)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "compile: a scheduled program for target " + m.target_hash() +
                     " (schema " + std::to_string(m.schema_version()) +
                     "); this plugin's is " + t.hash + " (schema 1)");
  sn::LayerProgram lp;
  std::string err = sn::parseLayers(t, m.layers(), lp);
  if (err.empty())
    err = sn::deserializeProgram(t, m.program(), x.program);
  if (err.empty() && x.program.tables.size() != lp.layers.size())
    err = "the program's layers are not the layer program's";
  if (!err.empty())
    return error(EMBER_STATUS_INVALID_ARGUMENT, "compile: " + err);
  sn::packImage(lp, x.program);
  if (m.timing_run())
    x.run.profile = 0;
  x.inputs.assign(m.inputs().begin(), m.inputs().end());
  x.outputs.assign(m.outputs().begin(), m.outputs().end());
  x.inputNames.assign(m.input_names().begin(), m.input_names().end());
  x.outputNames.assign(m.output_names().begin(), m.output_names().end());
  if (x.inputs.size() != x.program.inputs.size() ||
      x.outputs.size() != x.program.outputs.size() ||
      x.inputNames.size() != x.inputs.size() ||
      x.outputNames.size() != x.outputs.size())
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
                 "second-npu compiles graphs (program kind 0) and scheduled "
                 "programs (2), not kind " +
                     std::to_string(p->program_kind));
  v1::CompileOptions o;
  if (p->options_size && (!p->options || p->options_size > size_t(INT_MAX) ||
                          !o.ParseFromArray(p->options, int(p->options_size))))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "options are not an ember.backend.v1.CompileOptions");
  auto x = std::make_unique<ember_executable>();
  x->options = o.SerializeAsString();
  x->kind = p->program_kind;
  if (ember_error *e = p->program_kind == EMBER_PROGRAM_GRAPH
                           ? compileGraph(o, p->program, p->program_size, *x)
                           : compileLayers(o, p->program, p->program_size, *x))
    return e;
  x->program.uid = sn::newProgramUid();
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

void putU32(std::string &out, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    out.push_back(char(v >> (8 * i) & 0xff));
}

uint32_t getU32(const unsigned char *b) {
  return uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 |
         uint32_t(b[3]) << 24;
}

// An artifact: magic, header length, ArtifactHeader, then the options'
// length and bytes and the serialized program.
ember_error *serialize(ember_executable *x, ember_blob *out) {
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  std::string payload;
  putU32(payload, uint32_t(x->options.size()));
  payload += x->options;
  payload += sn::serializeProgram(sn::target(), x->program);
  v1::ArtifactHeader h = headerOf(*x);
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
  if (h.schema_version() != 1 || h.plugin_name() != kName ||
      h.plugin_version() != kVersion ||
      h.abi_major() != EMBER_ABI_VERSION_MAJOR)
    return error(EMBER_STATUS_VERSION_MISMATCH,
                 "artifact of " + h.plugin_name() + " " + h.plugin_version() +
                     " (ABI " + std::to_string(h.abi_major()) + "); this is " +
                     kName + " " + kVersion);
  if (h.payload_size() != payload.size() ||
      h.payload_checksum() != fnv1a64(payload.data(), payload.size()) ||
      payload.size() < 4)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "artifact payload is truncated or corrupt");
  auto x = std::make_unique<ember_executable>();
  x->kind = h.program_kind();
  const uint32_t olen =
      getU32(reinterpret_cast<const unsigned char *>(payload.data()));
  if (olen > payload.size() - 4)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "corrupt second-npu payload");
  x->options = payload.substr(4, olen);
  std::string err = sn::deserializeProgram(
      sn::target(), payload.substr(4 + olen), x->program);
  if (!err.empty())
    return error(EMBER_STATUS_INVALID_ARGUMENT, "second-npu artifact: " + err);
  x->program.uid = sn::newProgramUid();
  v1::CompileOptions o;
  if (!o.ParseFromString(x->options))
    return error(EMBER_STATUS_INVALID_ARGUMENT, "corrupt second-npu options");
  if (ember_error *e = applyOptions(o, x->run))
    return e;
  x->inputs.assign(h.inputs().begin(), h.inputs().end());
  x->outputs.assign(h.outputs().begin(), h.outputs().end());
  x->inputNames.assign(h.input_names().begin(), h.input_names().end());
  x->outputNames.assign(h.output_names().begin(), h.output_names().end());
  if (x->inputs.size() != x->program.inputs.size() ||
      x->outputs.size() != x->program.outputs.size())
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

// npu-layers: the scheduled program in the layer's text; npu-asm: the
// instructions.
ember_error *emit(ember_executable *x, const char *format, ember_blob *out) {
  if (!x || !format)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable or format is NULL");
  if (std::strcmp(format, "npu-layers") == 0)
    return gHost.blob(sn::printProgram(sn::target(), x->program), out);
  if (std::strcmp(format, "npu-asm") != 0)
    return error(EMBER_STATUS_UNSUPPORTED,
                 std::string("second-npu emits npu-asm and npu-layers, not '") +
                     format + "'");
  return gHost.blob(sn::programAsm(x->program), out);
}

uint64_t tensorBytes(const v1::TensorType &t) {
  const std::string &d = t.dtype();
  uint64_t n = d == "i32" || d == "u32" || d == "f32" ? 4
               : d == "i64" || d == "f64"             ? 8
               : d == "i16" || d == "f16"             ? 2
                                                      : 1;
  for (int64_t v : t.dims())
    n *= uint64_t(v);
  return n;
}

void addValue(google::protobuf::RepeatedPtrField<v1::ProfileValue> *list,
              const char *name, double v) {
  v1::ProfileValue *pv = list->Add();
  pv->set_name(name);
  pv->set_value(v);
}

// The counters, and per layer (profile >= 1) its cycles in the network and
// alone against the cost model's prediction.
std::string profileOf(const sn::Program &p, const sn::RunConfig &c,
                      const sn::RunResult &r) {
  v1::ExecutionProfile pr;
  pr.set_schema_version(1);
  pr.set_device("second-npu");
  pr.set_executor("snpu-sim");
  pr.set_timed(true);
  pr.set_clock_hz(1e9);
  const snpu_counters &k = r.counters;
  const double peak = double(snpu::kArrayInputs) * snpu::kLanes;
  uint64_t useful = 0;
  for (const sn::LayerInfo &l : p.layers)
    useful += l.usefulMacs;
  auto *cs = pr.mutable_counters();
  addValue(cs, "cycles", double(k.cycles));
  addValue(cs, "peak_macs_per_cycle", peak);
  addValue(cs, "useful_macs", double(useful));
  addValue(cs, "array_macs", double(k.array_macs));
  addValue(cs, "dma_bytes", double(k.load_bytes + k.store_bytes));
  addValue(cs, "dma_in_busy", double(k.busy[0] + k.busy[1]));
  addValue(cs, "dma_compute_overlap", double(k.overlap));
  addValue(cs, "instructions", double(k.insns));
  addValue(cs, "mac_busy", double(k.busy[snpu::MAC]));
  addValue(cs, "out_busy", double(k.busy[snpu::OUT]));
  addValue(cs, "port_stall", double(k.port_stall));
  addValue(cs, "dram_stall", double(k.dram_stall));
  if (c.profile >= 1)
    for (size_t i = 0; i < p.layers.size(); ++i) {
      const sn::LayerInfo &l = p.layers[i];
      v1::ProfileLayer *pl = pr.add_layers();
      pl->set_name(l.name);
      pl->set_op(l.op);
      for (const std::string &n : l.nodes)
        pl->add_nodes(n);
      pl->set_detail(l.shape.empty() ? l.tiling : l.shape + "; " + l.tiling);
      const sn::LayerStats s =
          i < r.layers.size() ? r.layers[i] : sn::LayerStats();
      const uint64_t alone = i < r.alone.size() ? r.alone[i] : 0;
      auto *vs = pl->mutable_values();
      addValue(vs, "cycles", double(s.cycles));
      addValue(vs, "alone", double(alone));
      addValue(vs, "predicted", l.predictedCycles);
      addValue(vs, "model_err",
               alone ? (l.predictedCycles - double(alone)) / double(alone) : 0);
      addValue(vs, "mac_util",
               s.cycles ? double(l.usefulMacs) / (peak * double(s.cycles)) : 0);
      addValue(vs, "mapping_eff",
               l.arrayMacs ? double(l.usefulMacs) / double(l.arrayMacs) : 0);
      addValue(vs, "dma_bytes", double(l.loadBytes + l.storeBytes));
      addValue(vs, "array_busy", double(s.arrayBusy));
      addValue(vs, "dma_busy", double(s.dmaBusy));
      addValue(vs, "macs", double(l.usefulMacs));
    }
  if (c.profile >= 2) {
    for (size_t i = 0; i < r.spans.size() && i < p.ops.size(); ++i) {
      const int32_t l = i < p.opLayer.size() ? p.opLayer[i] : -1;
      if (r.spans[i].end == r.spans[i].start)
        continue;
      v1::TraceSlice *ts = pr.add_slices();
      ts->set_track(
          sn::target()
              .engines[size_t(p.ops[i].engine < 0 ? 0 : p.ops[i].engine)]
              .name);
      ts->set_name(l >= 0 ? p.layers[size_t(l)].name : "");
      ts->set_category("exec");
      ts->set_start(double(r.spans[i].start));
      ts->set_duration(double(r.spans[i].end - r.spans[i].start));
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
  return startAsyncProfiled(
      [x, ins, outs](std::string &profile) -> ember_error * {
        sn::RunResult r;
        std::string err = sn::runProgram(x->program, x->run, ins, outs, &r);
        if (err.empty() && x->run.profile >= 1)
          err = sn::runLayersAlone(x->program, x->run, r.alone);
        if (!err.empty())
          return error(EMBER_STATUS_INTERNAL, err);
        profile = profileOf(x->program, x->run, r);
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

ember_error *parseOptions(const void *data, size_t size,
                          v1::CompileOptions &o) {
  return parseOptional(data, size, o, "an ember.backend.v1.CompileOptions");
}

// The simulator's nominal clock: a cycle is shown as a nanosecond.
constexpr double kClockHz = 1e9;

// ABI 1.4: one simulated device, one execution at a time.
ember_error *deviceDescribe(const ember_device_query_params *p,
                            ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_device_query_params, options_size) + sizeof(size_t),
          "ember_device_query_params"))
    return e;
  if (p->device_index != 0)
    return error(EMBER_STATUS_OUT_OF_RANGE,
                 "device " + std::to_string(p->device_index) +
                     " does not exist (1 device)");
  v1::CompileOptions o;
  sn::RunConfig rc;
  if (ember_error *e = parseOptions(p->options, p->options_size, o))
    return e;
  if (ember_error *e = applyOptions(o, rc))
    return e;
  const uint64_t dram =
      rc.dramGiven ? rc.dramBytes : uint64_t(sn::target().dram.bytes);
  v1::DeviceDescription d;
  d.set_schema_version(1);
  d.set_name("second NPU (simulator; " + std::to_string(dram >> 20) +
             " MiB DRAM)");
  d.set_memory_bytes(dram);
  d.set_concurrency(1);
  d.set_simulated(true);
  d.set_clock_hz(kClockHz);
  return gHost.blob(d.SerializeAsString(), out);
}

// ABI 1.4: the layer's cost model for the program compile would make, each
// layer's cycles charged to its nodes (costEstimate).
ember_error *estimateCost(const ember_cost_params *p, ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_cost_params, options_size) + sizeof(size_t),
          "ember_cost_params"))
    return e;
  if (p->device_index != 0)
    return error(EMBER_STATUS_OUT_OF_RANGE,
                 "device " + std::to_string(p->device_index) +
                     " does not exist (1 device)");
  if (p->program_kind != EMBER_PROGRAM_GRAPH)
    return error(EMBER_STATUS_UNSUPPORTED,
                 "second-npu estimates graphs (program kind 0), not kind " +
                     std::to_string(p->program_kind));
  v1::CompileOptions o;
  sn::RunConfig rc;
  sn::LayerOptions lo;
  if (ember_error *e = parseOptions(p->options, p->options_size, o))
    return e;
  if (ember_error *e = applyOptions(o, rc, &lo))
    return e;
  v1::Graph g;
  if (ember_error *e = parseGraph(p->program, p->program_size, g))
    return e;
  sn::LayerProgram lp;
  sn::Program prog;
  std::string err = sn::buildLayers(sn::target(), g, lp, lo.select);
  if (err.empty())
    err = sn::generateProgram(sn::target(), lp, lo.codegen, prog);
  if (!err.empty())
    return error(EMBER_STATUS_UNSUPPORTED, err);
  v1::CostEstimate c;
  sn::costEstimate(g, prog, kClockHz, c);
  const double cycles = c.seconds() * kClockHz;
  char basis[160];
  std::snprintf(basis, sizeof basis,
                "the second NPU's cost model: %zu layers, %.3f M cycles "
                "(each layer alone)",
                prog.layers.size(), cycles / 1e6);
  c.set_basis(basis);
  return gHost.blob(c.SerializeAsString(), out);
}

ember_error *init(const ember_host_api *host) {
  if (ember_error *e = gHost.attach(host))
    return e;
  if (!sn::targetError().empty())
    return error(EMBER_STATUS_INTERNAL,
                 "the second NPU's target description: " + sn::targetError());
  return nullptr;
}

void shutdown() {}

// The function table (ember/plugin_table.hpp puts each entry in its slot;
// one host-memory device and the SDK's events come from its bases).
struct SecondNpuPlugin : ember_plugin::HostMemory, ember_plugin::AsyncEvents {
  static constexpr const char *name = kName;
  static constexpr const char *version = kVersion;
  static constexpr auto error_code = errorCode;
  static constexpr auto error_message = errorMessage;
  static constexpr auto error_free = errorFree;
  static constexpr auto plugin_init = init;
  static constexpr auto plugin_shutdown = shutdown;
  static constexpr auto get_capabilities = getCapabilities;
  static constexpr auto query_support = querySupport;
  static constexpr auto executable_compile = compile;
  static constexpr auto executable_serialize = serialize;
  static constexpr auto executable_load = load;
  static constexpr auto executable_release = release;
  static constexpr auto execute = ::execute;
  static constexpr auto executable_signature = signature;
  static constexpr auto buffer_import_host = bufferImportHost;
  static constexpr auto executable_emit = emit;
  static constexpr auto event_profile = eventProfile;
  static constexpr auto device_describe = deviceDescribe;
  static constexpr auto estimate_cost = estimateCost;
};

} // namespace

EMBER_PLUGIN_ENTRY(SecondNpuPlugin)

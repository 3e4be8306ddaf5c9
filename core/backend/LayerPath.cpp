// The ABI's scheduled-program path (LayerPath.h).
#include "backend/LayerPath.h"

#include "backend/ProgramProto.h"

#include "ember/accel/Options.h"
#include "ember/accel/Select.h"
#include "ember/accel/Text.h"
#include "ember/accel/Tune.h"
#include "ember/backend/v1/capability.pb.h"
#include "ember/backend/v1/graph.pb.h"
#include "ember/backend/v1/layers.pb.h"
#include "ember/backend/v1/profile.pb.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>

namespace ember::backend {

bool takesLayers(const Plugin &p, const v1::CapabilityManifest &m) {
  return p.abiMinor() >= 5 && m.accepts_layers() &&
         !m.target_description().empty();
}

Expected<accel::Target> layerTarget(const Plugin &p,
                                    const v1::CapabilityManifest &m) {
  accel::Target t;
  const Status st = accel::parseTarget(m.target_description(), t);
  if (st.failed())
    return invalid(p.describe(), ": its target description: ", st.message());
  return t;
}

namespace {

// The program's tensors as the signature of a LayerProgram.
void signature(const std::vector<accel::NTensor> &ts,
               google::protobuf::RepeatedPtrField<v1::TensorType> *types,
               google::protobuf::RepeatedPtrField<std::string> *names) {
  for (const accel::NTensor &x : ts) {
    v1::TensorType *t = types->Add();
    t->set_dtype(x.i32 ? "i32" : x.u8 ? "u8" : "i8");
    for (int64_t d : x.dims)
      t->add_dims(d);
    *names->Add() = x.name;
  }
}

// The LayerProgram message of `lp` scheduled as `p`: the layer text and the
// binary program, each made once; with `programSignature`, the program's
// tensors as its signature (a caller with the partition's own sets them).
v1::LayerProgram layerMessage(const accel::Target &t,
                              const accel::LayerProgram &lp,
                              const accel::Program &p, bool timing,
                              bool programSignature) {
  v1::LayerProgram m;
  m.set_schema_version(1);
  m.set_target_hash(t.hash);
  m.set_layers(accel::printLayers(t, lp));
  m.set_program(accel::serializeProgram(t, p, false));
  m.set_timing_run(timing);
  if (programSignature) {
    signature(p.inputs, m.mutable_inputs(), m.mutable_input_names());
    signature(p.outputs, m.mutable_outputs(), m.mutable_output_names());
  }
  return m;
}

// One candidate's cycles on the plugin's timed device: the one-layer
// program compiled for a timing run and executed once (timing does not
// depend on data: the inputs are zero); the profile's "cycles".
Status measure(Plugin &p, Device &d, const accel::Target &t,
               const std::string &options, const accel::LayerProgram &lp,
               const accel::Program &prog, uint64_t &cycles,
               std::string &executor) {
  auto exe = p.compile(
      &d, EMBER_PROGRAM_LAYERS,
      layerMessage(t, lp, prog, true, true).SerializeAsString(), options);
  if (!exe)
    return exe.status();
  std::vector<Tensor> inputs;
  std::vector<Type> outTypes;
  for (const accel::NTensor &x : prog.inputs) {
    v1::TensorType tt;
    tt.set_dtype(x.i32 ? "i32" : x.u8 ? "u8" : "i8");
    for (int64_t dim : x.dims)
      tt.add_dims(dim);
    auto ty = fromProto(tt);
    if (!ty)
      return ty.status();
    inputs.emplace_back(*ty);
  }
  for (const accel::NTensor &x : prog.outputs) {
    v1::TensorType tt;
    tt.set_dtype(x.i32 ? "i32" : x.u8 ? "u8" : "i8");
    for (int64_t dim : x.dims)
      tt.add_dims(dim);
    auto ty = fromProto(tt);
    if (!ty)
      return ty.status();
    outTypes.push_back(*ty);
  }
  std::string profile;
  auto r = p.run(d, *exe, inputs, outTypes, nullptr, &profile);
  if (!r)
    return r.status();
  v1::ExecutionProfile pr;
  if (profile.empty() || !pr.ParseFromString(profile))
    return makeError(ErrorCode::Backend,
                     "the plugin reported no execution profile to measure "
                     "with");
  if (!pr.timed())
    return makeError(ErrorCode::Backend,
                     "the plugin's timing run was not timed (executor '",
                     pr.executor(), "')");
  executor = pr.executor();
  for (const v1::ProfileValue &c : pr.counters())
    if (c.name() == "cycles") {
      cycles = uint64_t(c.value());
      return Status::ok();
    }
  return makeError(ErrorCode::Backend,
                   "the plugin's execution profile has no cycles counter");
}

// A reason is printed after its node's kind and name: a build error naming
// that node ("Concat 'cat': ...") loses the repeated prefix.
std::string withoutNodePrefix(const std::string &err, const Node &n) {
  // (The layer builder's "node <index> " before the kind, if any.)
  size_t from = 0;
  if (err.rfind("node ", 0) == 0) {
    const size_t sp = err.find(' ', 5);
    if (sp != std::string::npos &&
        err.find_first_not_of("0123456789", 5) == sp && sp > 5)
      from = sp + 1;
  }
  const std::string own = " '" + n.name + "': ";
  const size_t at = err.find(own, from);
  if (at == std::string::npos || at == from ||
      err.find(' ', from) != at) // one word (the kind) before the name
    return err;
  return err.substr(at + own.size());
}

// The layer program of `g` for plugin `p`: the layer's options of `o` into
// `lo` (the plugin's own keys are left to it), then the layers built.
Status buildForPlugin(const Plugin &p, const accel::Target &t,
                      const v1::Graph &g, const CompileOptions &o,
                      accel::LayerOptions &lo, accel::LayerProgram &lp) {
  for (const auto &[k, v] : o.vendor) {
    bool known = false;
    const Status st = accel::applyLayerOption(k, v, lo, known);
    if (st.failed())
      return st;
  }
  const Status built = accel::buildLayers(t, g, lp, lo.select);
  if (built.failed())
    return unsupported(p.describe(), ": ", built.message());
  if (lp.layers.empty() && lp.tensors.empty())
    return unsupported(p.describe(), ": nothing in this graph runs on it");
  return Status::ok();
}

// Sends node n to the fallback with `why` when it is still the plugin's;
// returns whether it was.
bool toHost(const Node *n, const std::map<const Node *, size_t> &index,
            Support &s, const std::string &why) {
  auto it = index.find(n);
  if (it == index.end() || !s.supported[it->second])
    return false;
  s.supported[it->second] = false;
  s.reasons[it->second] = why;
  return true;
}

// The DRAM the layer program of partition `p` needs at least: its static
// image (accel::layerImageBytes) and the activations of its largest layer.
// When that is over the device's (SelectOptions::dramBytes, else the
// description's dram.bytes), the nodes of the layer with the most image
// bytes (a classifier's large fully connected layer) go to the host with
// the reason; returns whether any did.
bool dramOverflowToHost(const accel::Target &t, const accel::SelectOptions &so,
                        const accel::LayerProgram &lp, const Partition &p,
                        const std::map<const Node *, size_t> &index,
                        Support &s) {
  const uint64_t capacity = so.dramBytes ? so.dramBytes : t.dram.bytes;
  if (!capacity || lp.layers.empty())
    return false;
  const std::vector<uint64_t> image =
      accel::layerImageBytes(t, lp, accel::CodegenOptions());
  uint64_t total = 0, acts = 0;
  for (size_t i = 0; i < lp.layers.size(); ++i) {
    total += image[i];
    uint64_t a = 0;
    for (int k : accel::layerTensors(lp.layers[i]))
      if (k >= 0 && size_t(k) < lp.tensors.size() &&
          lp.tensors[size_t(k)].kind != accel::NTensor::Kind::Constant)
        a += lp.tensors[size_t(k)].bytes();
    acts = std::max(acts, a);
  }
  if (total + acts <= capacity)
    return false;
  // The layers by image bytes, largest first: the first whose nodes are
  // named in the partition goes.
  std::vector<size_t> order(lp.layers.size());
  for (size_t i = 0; i < order.size(); ++i)
    order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return image[a] > image[b]; });
  for (size_t i : order) {
    const accel::Layer &L = lp.layers[i];
    bool moved = false;
    const std::string why =
        "its layer '" + L.name + "' packs " + std::to_string(image[i]) +
        " bytes of weights and tables; with the partition's other "
        "constants (" +
        std::to_string(total) +
        " bytes in all) and its activations the program would need more "
        "than the device's " +
        std::to_string(capacity) + " bytes of DRAM (" +
        (so.dramBytes ? "backend option dram_bytes"
                      : "the description's dram.bytes") +
        ")";
    for (const Node *n : p.nodes)
      if (!n->name.empty() &&
          std::find(L.nodes.begin(), L.nodes.end(), n->name) != L.nodes.end())
        moved = toHost(n, index, s, why) || moved;
    if (moved)
      return true;
  }
  return false;
}

} // namespace

Expected<PartitionPlan> partitionForLayers(const Function &f, Support s,
                                           const accel::Target &t,
                                           const accel::SelectOptions &so) {
  const std::vector<const Node *> all = computeNodes(f);
  std::map<const Node *, size_t> index;
  for (size_t i = 0; i < all.size(); ++i)
    index[all[i]] = i;
  // Each round sends at least one more node to the fallback.
  for (size_t round = 0;; ++round) {
    EMBER_ASSIGN(PartitionPlan plan, partition(f, s));
    bool again = false;
    for (const Partition &p : plan.parts) {
      if (!p.onPlugin)
        continue;
      v1::Graph g;
      EMBER_TRY(toProto(*p.graph->main(), g));
      accel::LayerProgram lp;
      int bad = -1;
      const Status built = accel::buildLayers(t, g, lp, so, &bad);
      if (built.isOk()) {
        again = dramOverflowToHost(t, so, lp, p, index, s) || again;
        continue;
      }
      const std::string &err = built.message();
      // The partition's compute nodes are its nodes in order (Partition);
      // an error that names no node leaves the whole partition.
      const std::vector<const Node *> mine = computeNodes(*p.graph->main());
      const bool named = bad >= 0 && size_t(bad) < p.nodes.size() &&
                         mine.size() == p.nodes.size() &&
                         mine[size_t(bad)]->name == p.nodes[size_t(bad)]->name;
      for (size_t k = 0; k < p.nodes.size(); ++k)
        if (!named || k == size_t(bad))
          again = toHost(p.nodes[k], index, s,
                         named ? withoutNodePrefix(err, *p.nodes[k]) : err) ||
                  again;
    }
    if (!again || round > all.size())
      return plan;
  }
}

Expected<PartitionPlan> runPlan(const Function &f, Support s,
                                const std::optional<accel::Target> &t,
                                const CompileOptions &o) {
  if (t)
    return partitionForLayers(f, std::move(s), *t, layerSelectOptions(o));
  return partition(f, std::move(s));
}

accel::SelectOptions layerSelectOptions(const CompileOptions &o) {
  accel::LayerOptions lo;
  for (const auto &[k, v] : o.vendor) {
    bool known = false;
    (void)accel::applyLayerOption(k, v, lo, known); // compile reports it
  }
  return lo.select;
}

Expected<std::string> scheduleForPlugin(Plugin &p, Device *d,
                                        const accel::Target &t,
                                        const Function &f,
                                        const CompileOptions &o) {
  // The plugin's compile of this partition, done by Ember: the plugin's
  // compile budget (--timeout) holds for it.
  const std::vector<const Node *> nodes = computeNodes(f);
  const HostWorkGuard limit(p, "scheduling a partition",
                            nodes.empty()
                                ? std::string("the NPU compiler layer")
                                : "the NPU compiler layer, the partition of " +
                                      std::to_string(nodes.size()) +
                                      " nodes from '" + nodes.front()->name +
                                      "' to '" + nodes.back()->name + "'");
  v1::Graph g;
  EMBER_TRY(toProto(f, g));
  accel::LayerOptions lo;
  accel::LayerProgram lp;
  EMBER_TRY(buildForPlugin(p, t, g, o, lo, lp));
  accel::Program prog;
  if (lo.tune || lo.tuneCacheGiven) {
    // Tuning against the plugin's timed device, or (tune_cache without
    // tune) the cached tilings only.
    accel::TuneOptions to;
    to.candidates = lo.tune;
    to.cachePath = lo.tuneCacheGiven
                       ? lo.tuneCache
                       : accel::defaultTuneCachePath(p.name() + "-tune.json");
    if (!lo.tuneCacheGiven && to.cachePath.empty())
      p.log(EMBER_LOG_WARNING,
            "tune: neither XDG_CACHE_HOME nor HOME is set, so the tuning "
            "results are not kept (tune_cache=PATH keeps them)");
    to.simulator = p.name() + "'s timed device";
    std::string executor; // the profile's, once measured
    to.simulatorName = [&executor] { return executor; };
    // The device's configuration the measurements hold for: the plugin's
    // DRAM options (any key of its own that is not the layer's).
    for (const auto &[k, v] : o.vendor) {
      accel::LayerOptions scratch;
      bool known = false;
      (void)accel::applyLayerOption(k, v, scratch, known); // compile's error
      if (!known || k.rfind("dram_", 0) == 0)
        to.deviceKey += (to.deviceKey.empty() ? "" : " ") + k + "=" + v;
    }
    CompileOptions mo = o;
    mo.profileLevel = 0;
    const std::string options = serializeCompileOptions(mo);
    std::optional<Device> own;
    to.measure = [&](const accel::LayerProgram &one,
                     const accel::Program &candidate,
                     uint64_t &cycles) -> Status {
      if (!d && !own) {
        auto dev = p.openDevice(0);
        if (!dev)
          return dev.status();
        own.emplace(std::move(*dev));
      }
      return measure(p, d ? *d : *own, t, options, one, candidate, cycles,
                     executor);
    };
    accel::TuneReport rep;
    const Status tuned =
        accel::tuneAndGenerate(t, lp, lo.codegen, to, prog, rep);
    for (const std::string &w : rep.warnings)
      p.log(EMBER_LOG_WARNING, w);
    if (tuned.failed())
      return unsupported(p.describe(), ": ", tuned.message());
    p.log(EMBER_LOG_INFO, rep.summary);
  } else {
    const Status made = accel::generateProgram(t, lp, lo.codegen, prog);
    if (made.failed())
      return unsupported(p.describe(), ": ", made.message());
  }
  // Serialized once: the partition's own names and types are its
  // signature, as a graph program gives them.
  v1::LayerProgram m = layerMessage(t, lp, prog, false, false);
  for (int v : g.inputs()) {
    *m.add_inputs() = g.values(v).type();
    m.add_input_names(g.values(v).name());
  }
  for (int i = 0; i < g.outputs_size(); ++i) {
    int v = g.outputs(i);
    *m.add_outputs() = g.values(v).type();
    m.add_output_names(i < g.output_names_size() ? g.output_names(i)
                                                 : g.values(v).name());
  }
  return m.SerializeAsString();
}

Expected<v1::CostEstimate> estimateOnHost(Plugin &p, const accel::Target &t,
                                          const Function &f,
                                          const CompileOptions &o,
                                          double clockHz) {
  if (!(clockHz > 0))
    return unsupported(p.describe(), " describes no clock to estimate at");
  const HostWorkGuard limit(p, "estimating a partition",
                            "the NPU compiler layer's cost model");
  v1::Graph g;
  EMBER_TRY(toProto(f, g));
  accel::LayerOptions lo;
  accel::LayerProgram lp;
  EMBER_TRY(buildForPlugin(p, t, g, o, lo, lp));
  // The program a compile without tuning makes; the estimate does not
  // fail on the DRAM's capacity (the compile does).
  accel::CodegenOptions co = lo.codegen;
  co.dramCapacity = 0;
  accel::Program prog;
  const Status made = accel::generateProgram(t, lp, co, prog);
  if (made.failed())
    return unsupported(p.describe(), ": ", made.message());
  v1::CostEstimate est;
  accel::costEstimate(g, prog, clockHz, est);
  char basis[300];
  std::snprintf(basis, sizeof basis,
                "%s's cost model: %zu layers, %.3f M cycles at %.0f MHz "
                "(each layer as tiled, alone)",
                p.name().c_str(), prog.layers.size(),
                est.seconds() * clockHz / 1e6, clockHz / 1e6);
  est.set_basis(basis);
  return est;
}

Expected<v1::CostEstimate>
estimateOnPlugin(Plugin &p, uint32_t index,
                 const std::optional<accel::Target> &t, const Function &f,
                 const CompileOptions &o, double clockHz) {
  if (t)
    return estimateOnHost(p, *t, f, o, clockHz);
  EMBER_ASSIGN(std::string g, serializeGraph(f));
  return p.estimateCost(index, g, computeNodes(f).size(),
                        serializeCompileOptions(o));
}

Expected<std::optional<accel::Target>> hostLayerTarget(Plugin &p) {
  EMBER_ASSIGN(v1::CapabilityManifest m, p.capabilities());
  if (!takesLayers(p, m))
    return std::optional<accel::Target>();
  EMBER_ASSIGN(accel::Target t, layerTarget(p, m));
  return std::optional<accel::Target>(std::move(t));
}

Expected<PluginProgram> programForPlugin(Plugin &p, Device *d,
                                         const std::optional<accel::Target> &t,
                                         const Function &f,
                                         const CompileOptions &o) {
  PluginProgram out;
  if (t) {
    EMBER_ASSIGN(out.bytes, scheduleForPlugin(p, d, *t, f, o));
    out.kind = EMBER_PROGRAM_LAYERS;
  } else {
    EMBER_ASSIGN(out.bytes, serializeGraph(f));
  }
  return out;
}

Expected<Executable> compileOnPlugin(Plugin &p, Device *d,
                                     const std::optional<accel::Target> &t,
                                     const Function &f,
                                     const CompileOptions &o) {
  EMBER_ASSIGN(PluginProgram prog, programForPlugin(p, d, t, f, o));
  return p.compile(d, prog.kind, prog.bytes, serializeCompileOptions(o));
}

Expected<Executable> compileOnPlugin(Plugin &p, Device *d, const Function &f,
                                     const CompileOptions &o) {
  EMBER_ASSIGN(std::optional<accel::Target> t, hostLayerTarget(p));
  return compileOnPlugin(p, d, t, f, o);
}

} // namespace ember::backend

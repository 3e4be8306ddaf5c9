// The tiny backend: a small but real Ember plugin, built outside the Ember
// tree against the installed SDK (find_package(Ember)). It claims f32 Add,
// Sub, Mul, Div, Max, Min (numpy broadcasting), Relu, Sigmoid, Tanh, Exp and
// MatMul (ranks 2 to 4, broadcast batch dimensions); the partitioner sends
// every other node to the fallback. It runs on host memory in plain loops
// (TinyProgram.cpp), asynchronously, and serializes executables as
// artifacts whose payload is the program itself.
//
// It uses only the ABI header, the generated protobuf classes and the
// optional plugin_helpers.hpp and plugin_table.hpp: no Ember core symbol.
#include "TinyProgram.h"

#include "ember/plugin_table.hpp"

#include "ember/backend/v1/artifact.pb.h"
#include "ember/backend/v1/capability.pb.h"
#include "ember/backend/v1/graph.pb.h"
#include "ember/backend/v1/options.pb.h"

#include <climits>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace v1 = ember::backend::v1;
using namespace ember_plugin;

// A compiled program. Immutable after compile/load, so executions of one
// executable may overlap.
struct ember_executable {
  std::string graph; // the serialized Graph it was compiled from (payload)
  tiny::Program program;
};

namespace {

Host gHost;
constexpr const char *kName = "tiny";
constexpr const char *kVersion = "0.1.0";
const char kMagic[8] = {'E', 'M', 'B', 'E', 'R', 'A', 'R', 'T'};

ember_error *fromStatus(const tiny::Status &s) {
  return s.ok() ? nullptr : error(s.code, s.message);
}

// ---- capabilities ---------------------------------------------------------
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
  m.set_supports_serialize(true);
  m.set_device_count(1);
  for (tiny::Op op : tiny::kAllOps) {
    v1::OpCapability *c = m.add_ops();
    c->set_op(tiny::opName(op));
    c->add_dtypes("f32");
    if (op == tiny::Op::MatMul) {
      c->set_min_rank(tiny::kMinMatMulRank);
      c->set_max_rank(tiny::kMaxMatMulRank);
      c->add_constraints("both operands rank 2 to 4; batch dims broadcast");
    } else {
      c->set_min_rank(0);
      c->set_max_rank(tiny::kMaxElementwiseRank);
      if (op != tiny::Op::Relu && op != tiny::Op::Sigmoid &&
          op != tiny::Op::Tanh && op != tiny::Op::Exp)
        c->add_constraints("numpy broadcasting");
    }
  }
  return gHost.blob(m.SerializeAsString(), out);
}

ember_error *querySupport(const ember_query_params *p, ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_query_params, graph_size) + sizeof(size_t),
          "ember_query_params"))
    return e;
  v1::Graph g;
  if ((!p->graph && p->graph_size) || p->graph_size > size_t(INT_MAX) ||
      !g.ParseFromArray(p->graph, int(p->graph_size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "query_support: not an ember.backend.v1.Graph");
  v1::SupportReport r;
  r.set_schema_version(1);
  for (int i = 0; i < g.nodes_size(); ++i) {
    v1::NodeSupport *n = r.add_nodes();
    n->set_node(i);
    std::string why = tiny::whyNot(g, i);
    n->set_supported(why.empty());
    n->set_reason(why);
  }
  return gHost.blob(r.SerializeAsString(), out);
}

// ---- compile, artifacts, signature ------------------------------------------
ember_error *checkOptions(const ember_compile_params *p) {
  if (!p->options_size)
    return nullptr;
  v1::CompileOptions o;
  if (!p->options || p->options_size > size_t(INT_MAX) ||
      !o.ParseFromArray(p->options, int(p->options_size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "options are not an ember.backend.v1.CompileOptions");
  for (auto &kv : o.vendor()) // the tiny backend has no vendor options
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "unknown vendor option '" + kv.first + "'");
  if (!o.target_triple().empty())
    return error(EMBER_STATUS_UNSUPPORTED,
                 "the tiny backend runs on the host only (target triple '" +
                     o.target_triple() + "')");
  return nullptr;
}

// Parses and checks `graph` into a new executable.
ember_error *makeExecutable(std::string graph, ember_executable **out) {
  auto x = std::make_unique<ember_executable>();
  x->graph = std::move(graph);
  if (ember_error *e = fromStatus(
          tiny::buildProgram(x->graph.data(), x->graph.size(), x->program)))
    return e;
  *out = x.release();
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
  if (p->program_kind != EMBER_PROGRAM_GRAPH)
    return error(EMBER_STATUS_UNSUPPORTED,
                 "the tiny backend compiles graphs only (program kind " +
                     std::to_string(p->program_kind) + ")");
  if (!p->program && p->program_size)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "program is NULL");
  if (ember_error *e = checkOptions(p))
    return e;
  return makeExecutable(
      std::string(static_cast<const char *>(p->program), p->program_size), out);
}

void addTensorType(const tiny::Dims &d, v1::TensorType *t) {
  t->set_dtype("f32");
  for (int64_t x : d)
    t->add_dims(x);
}

v1::ArtifactHeader headerOf(const ember_executable &x) {
  v1::ArtifactHeader h;
  h.set_schema_version(1);
  h.set_plugin_name(kName);
  h.set_plugin_version(kVersion);
  h.set_abi_major(EMBER_ABI_VERSION_MAJOR);
  h.set_abi_minor(EMBER_ABI_VERSION_MINOR);
  h.set_program_kind(EMBER_PROGRAM_GRAPH);
  const tiny::Program &p = x.program;
  for (size_t i = 0; i < p.inputs.size(); ++i) {
    addTensorType(p.dims[size_t(p.inputs[i])], h.add_inputs());
    h.add_input_names(p.inputNames[i]);
  }
  for (size_t i = 0; i < p.outputs.size(); ++i) {
    addTensorType(p.dims[size_t(p.outputs[i])], h.add_outputs());
    h.add_output_names(p.outputNames[i]);
  }
  return h;
}

// FNV-1a, 64 bit: the artifact payload checksum (artifact.proto).
uint64_t fnv1a64(const std::string &s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// "EMBERART", u32 little-endian header length, ArtifactHeader, payload.
ember_error *serialize(ember_executable *x, ember_blob *out) {
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  v1::ArtifactHeader h = headerOf(*x);
  h.set_payload_size(x->graph.size());
  h.set_payload_checksum(fnv1a64(x->graph));
  std::string header = h.SerializeAsString();
  std::string bytes(kMagic, sizeof(kMagic));
  for (int i = 0; i < 4; ++i)
    bytes.push_back(char((uint32_t(header.size()) >> (8 * i)) & 0xff));
  bytes += header;
  bytes += x->graph;
  return gHost.blob(bytes, out);
}

ember_error *load(ember_device *, const void *data, size_t size,
                  ember_executable **out) {
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
  auto *b = static_cast<const unsigned char *>(data);
  if (!data || size < 12 || std::memcmp(b, kMagic, 8) != 0)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "not an Ember artifact (bad magic or shorter than 12 bytes)");
  uint32_t len = uint32_t(b[8]) | uint32_t(b[9]) << 8 | uint32_t(b[10]) << 16 |
                 uint32_t(b[11]) << 24;
  if (len > size - 12 || len > uint32_t(INT_MAX))
    return error(EMBER_STATUS_INVALID_ARGUMENT, "artifact header length " +
                                                    std::to_string(len) +
                                                    " exceeds the artifact");
  v1::ArtifactHeader h;
  if (!h.ParseFromArray(b + 12, int(len)))
    return error(EMBER_STATUS_INVALID_ARGUMENT, "corrupt artifact header");
  if (h.schema_version() != 1)
    return error(EMBER_STATUS_VERSION_MISMATCH,
                 "artifact header schema version " +
                     std::to_string(h.schema_version()) + " (tiny reads 1)");
  if (h.plugin_name() != kName)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "artifact was made by plugin '" + h.plugin_name() +
                     "', not '" + kName + "'");
  if (h.abi_major() != EMBER_ABI_VERSION_MAJOR)
    return error(EMBER_STATUS_VERSION_MISMATCH,
                 "artifact of ABI major " + std::to_string(h.abi_major()));
  if (h.program_kind() != EMBER_PROGRAM_GRAPH)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "artifact program kind " + std::to_string(h.program_kind()));
  std::string payload(reinterpret_cast<const char *>(b + 12 + len),
                      size - 12 - len);
  if (h.payload_size() != payload.size() ||
      h.payload_checksum() != fnv1a64(payload))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "artifact payload is truncated or corrupt (size or "
                 "checksum mismatch)");
  ember_executable *x = nullptr;
  if (ember_error *e = makeExecutable(std::move(payload), &x))
    return e;
  // The header the host read must describe this payload: same plugin
  // version and the same inputs and outputs.
  v1::ArtifactHeader want = headerOf(*x);
  want.set_payload_size(h.payload_size());
  want.set_payload_checksum(h.payload_checksum());
  if (h.plugin_version() != kVersion ||
      want.SerializeAsString() != h.SerializeAsString()) {
    delete x;
    return error(h.plugin_version() != kVersion ? EMBER_STATUS_VERSION_MISMATCH
                                                : EMBER_STATUS_INVALID_ARGUMENT,
                 h.plugin_version() != kVersion
                     ? "artifact of tiny " + h.plugin_version() + " (this is " +
                           kVersion + ")"
                     : std::string("artifact header does not match its "
                                   "payload (corrupt)"));
  }
  *out = x;
  return nullptr;
}

ember_error *signature(ember_executable *x, ember_blob *out) {
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  return gHost.blob(headerOf(*x).SerializeAsString(), out);
}

void release(ember_executable *x) { delete x; }

// ---- execution --------------------------------------------------------------
ember_error *execute(ember_device *d, const ember_execute_params *p,
                     ember_event **out) {
  if (!d)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "device is NULL");
  if (ember_error *e = checkStruct(
          p, offsetof(ember_execute_params, num_outputs) + sizeof(size_t),
          "ember_execute_params"))
    return e;
  const ember_executable *x = p->executable;
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  const tiny::Program &prog = x->program;
  if (p->num_inputs != prog.inputs.size() ||
      p->num_outputs != prog.outputs.size() || (p->num_inputs && !p->inputs) ||
      (p->num_outputs && !p->outputs))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "the program has " + std::to_string(prog.inputs.size()) +
                     " inputs and " + std::to_string(prog.outputs.size()) +
                     " outputs; got " + std::to_string(p->num_inputs) +
                     " and " + std::to_string(p->num_outputs) + " buffers");
  // Check every buffer now: an error here means nothing was started.
  std::vector<const float *> ins;
  std::vector<float *> outs;
  for (size_t i = 0; i < p->num_inputs + p->num_outputs; ++i) {
    bool isIn = i < p->num_inputs;
    size_t k = isIn ? i : i - p->num_inputs;
    ember_buffer *b = isIn ? p->inputs[k] : p->outputs[k];
    int32_t id = isIn ? prog.inputs[k] : prog.outputs[k];
    uint64_t need =
        uint64_t(tiny::numElements(prog.dims[size_t(id)])) * sizeof(float);
    if (!b || b->size < need)
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   std::string(isIn ? "input " : "output ") +
                       std::to_string(k) +
                       (b ? " buffer of " + std::to_string(b->size) +
                                " bytes is smaller than " + std::to_string(need)
                          : " buffer is NULL"));
    if (isIn)
      ins.push_back(reinterpret_cast<const float *>(b->data));
    else
      outs.push_back(reinterpret_cast<float *>(b->data));
  }
  // Buffers are 64-byte aligned host memory (plugin_helpers), so they can be
  // read as float arrays directly.
  return startAsync(
      [x, ins, outs]() { return fromStatus(tiny::run(x->program, ins, outs)); },
      out);
}

// ---- the table --------------------------------------------------------------
// Built from a class by ember/plugin_table.hpp: each member fills the entry
// of ember_plugin_api (backend.h) of its name, and an entry without a member
// stays NULL ("not implemented": buffer_import_host, so the host copies;
// executable_emit, event_profile). PluginBase supplies the error functions
// and plugin_shutdown, HostMemory the one host-memory device and its
// buffers, AsyncEvents event_wait and event_release for startAsync's events.
ember_error *init(const ember_host_api *host) { return gHost.attach(host); }

struct TinyPlugin : PluginBase, HostMemory, AsyncEvents {
  static constexpr const char *name = kName;
  static constexpr const char *version = kVersion;
  static constexpr auto plugin_init = init;
  static constexpr auto get_capabilities = getCapabilities;
  static constexpr auto query_support = querySupport;
  static constexpr auto executable_compile = compile;
  static constexpr auto executable_serialize = serialize;
  static constexpr auto executable_load = load;
  static constexpr auto executable_release = release;
  static constexpr auto execute = ::execute;
  static constexpr auto executable_signature = signature;
};

} // namespace

EMBER_PLUGIN_ENTRY(TinyPlugin)

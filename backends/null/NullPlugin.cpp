// The null backend: the template a vendor starts from. It loads, completes
// the handshake, opens one host-memory device with buffers, and answers
// every capability question with "not supported", so that the partitioner
// sends the whole model elsewhere. It passes the ABI layer of the
// conformance kit. README.md says how to turn it into a real backend; each
// TODO(vendor) marks a place to fill in.
#include "ember/backend.h"
#include "ember/plugin_helpers.hpp"

#include "ember/backend/v1/capability.pb.h"
#include "ember/backend/v1/graph.pb.h"

#include <climits>
#include <string>

namespace v1 = ember::backend::v1;
using namespace ember_plugin;

// TODO(vendor): what a compiled program holds (device code, buffers, ...).
struct ember_executable {};

namespace {

Host gHost;
const char *const kName = "null";     // TODO(vendor): your backend's name
const char *const kVersion = "0.1.0"; // TODO(vendor): your version

ember_error *init(const ember_host_api *host) {
  if (ember_error *e = gHost.attach(host))
    return e;
  // TODO(vendor): find and initialize the hardware or simulator here.
  return nullptr;
}

void shutdown() {}

// The static manifest: one OpCapability per primitive op the backend runs.
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
  m.set_device_count(1);
  // TODO(vendor): add_ops() for each primitive you implement, e.g.
  //   auto *c = m.add_ops(); c->set_op("MatMul"); c->add_dtypes("f32");
  //   c->set_max_rank(2);
  return gHost.blob(m.SerializeAsString(), out);
}

// Per-node answers for a concrete graph, with a reason for each refusal.
ember_error *querySupport(const ember_query_params *p, ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_query_params, graph_size) + sizeof(size_t),
          "ember_query_params"))
    return e;
  // The graph comes from another component: treat it as hostile input.
  v1::Graph g;
  if (!p->graph || p->graph_size > size_t(INT_MAX) ||
      !g.ParseFromArray(p->graph, int(p->graph_size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "query_support: not an ember.backend.v1.Graph");
  v1::SupportReport r;
  r.set_schema_version(1);
  for (int i = 0; i < g.nodes_size(); ++i) {
    auto *n = r.add_nodes();
    n->set_node(i);
    n->set_supported(false); // TODO(vendor): check op, dtypes and shapes
    n->set_reason("the null backend implements no ops (" + g.nodes(i).op() +
                  ")");
  }
  return gHost.blob(r.SerializeAsString(), out);
}

ember_error *compile(ember_device *, const ember_compile_params *p,
                     ember_executable **out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_compile_params, options_size) + sizeof(size_t),
          "ember_compile_params"))
    return e;
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
  // TODO(vendor): parse the program (v1::Graph or v1::LirProgram), check
  // every node, generate code, *out = new ember_executable{...}.
  return error(EMBER_STATUS_UNSUPPORTED,
               "the null backend cannot compile anything");
}

void release(ember_executable *x) { delete x; }

// NULL entries are functions this backend does not implement; the host
// checks before calling. TODO(vendor): fill in execute/event_* when compile
// works, executable_serialize/load for ahead-of-time use.
const ember_plugin_api kApi = {
    sizeof(ember_plugin_api),
    nullptr,
    EMBER_ABI_VERSION_MAJOR,
    EMBER_ABI_VERSION_MINOR,
    kName,
    kVersion,
    errorCode,
    errorMessage,
    errorFree,
    init,
    shutdown,
    getCapabilities,
    querySupport,
    nullptr, // device_count: one device
    deviceOpenSingle,
    deviceClose,
    bufferAllocate,
    bufferRelease,
    bufferWrite,
    bufferRead,
    compile,
    nullptr, // executable_serialize
    nullptr, // executable_load
    release,
    nullptr, // execute
    nullptr, // event_wait
    nullptr, // event_release
    nullptr, // executable_signature (ABI 1.1)
    nullptr, // buffer_import_host (ABI 1.2)
    nullptr, // executable_emit (ABI 1.3)
    nullptr, // event_profile (ABI 1.3)
};

} // namespace

extern "C" EMBER_PLUGIN_EXPORT const ember_plugin_api *
ember_plugin_entry(const ember_host_api *host) {
  return ember_plugin::acceptHost(host, &kApi);
}

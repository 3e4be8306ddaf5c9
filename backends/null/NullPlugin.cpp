// The null backend: the template a vendor starts from. It loads, completes
// the handshake, opens one host-memory device with buffers, and answers
// every capability question with "not supported", so that the partitioner
// sends the whole model elsewhere. It passes the ABI layer of the
// conformance kit. README.md says how to turn it into a real backend; each
// TODO(vendor) marks a place to fill in.
#include "ember/plugin_table.hpp"

#include "ember/backend/v1/capability.pb.h"
#include "ember/backend/v1/graph.pb.h"

#include <climits>
#include <string>

namespace v1 = ember::backend::v1;
using namespace ember_plugin;

// TODO(vendor): what a compiled program holds (device code, buffers, ...).
struct ember_executable {};

namespace {

// The backend. Each static member named like an entry of ember_plugin_api
// (backend.h) fills that entry of the function table
// (ember/plugin_table.hpp); the entries it does not define stay NULL, which
// means "not implemented", and the host checks before calling. PluginBase
// supplies the error functions, plugin_init and plugin_shutdown; HostMemory
// one host-memory device and its buffers.
// TODO(vendor): execute (with AsyncEvents' event_wait and event_release)
// when compile works; executable_serialize, executable_load and
// executable_signature for ahead-of-time use.
struct NullPlugin : PluginBase, HostMemory {
  // TODO(vendor): your backend's name and version.
  static constexpr const char *name = "null";
  static constexpr const char *version = "0.1.0";

  static ember_error *plugin_init(const ember_host_api *h) {
    if (ember_error *e = PluginBase::plugin_init(h))
      return e;
    // TODO(vendor): find and initialize the hardware or simulator here.
    return nullptr;
  }

  // The static manifest: one OpCapability per primitive op the backend runs.
  static ember_error *get_capabilities(const ember_capabilities_params *p,
                                       ember_blob *out) {
    if (ember_error *e =
            checkStruct(p, offsetof(ember_capabilities_params, request),
                        "ember_capabilities_params"))
      return e;
    v1::CapabilityManifest m;
    m.set_schema_version(1);
    m.set_plugin_name(name);
    m.set_plugin_version(version);
    m.set_accepts_graph(true);
    m.set_device_count(1);
    // TODO(vendor): add_ops() for each primitive you implement, e.g.
    //   auto *c = m.add_ops(); c->set_op("MatMul"); c->add_dtypes("f32");
    //   c->set_max_rank(2);
    return host().blob(m.SerializeAsString(), out);
  }

  // Per-node answers for a concrete graph, with a reason for each refusal.
  static ember_error *query_support(const ember_query_params *p,
                                    ember_blob *out) {
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
    return host().blob(r.SerializeAsString(), out);
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
    // TODO(vendor): parse the program (v1::Graph or v1::LirProgram), check
    // every node, generate code, *out = new ember_executable{...}.
    return error(EMBER_STATUS_UNSUPPORTED,
                 "the null backend cannot compile anything");
  }

  static void executable_release(ember_executable *x) { delete x; }
};

} // namespace

EMBER_PLUGIN_ENTRY(NullPlugin)

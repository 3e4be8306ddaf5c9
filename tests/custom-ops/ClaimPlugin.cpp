// A plugin with a "hardware unit" for a custom op (tests/custom-ops): it
// claims com.acme::ClampedAdd (examples/custom-op) by name in its manifest,
// so the host keeps the op whole for it instead of lowering it, and runs it
// natively; the conformance kit checks it against the library's reference
// kernel. Built like a vendor's plugin: the ABI header, the schemas and the
// optional helpers, no Ember core symbol and no op library.
//   MISTAKE_IGNORES_HI: forgets the upper clamp (the kit must catch it).
#include "ember/plugin_table.hpp"

#include "ember/backend/v1/capability.pb.h"
#include "ember/backend/v1/graph.pb.h"

#include <climits>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace v1 = ember::backend::v1;
using namespace ember_plugin;

namespace {
constexpr const char *kOp = "com.acme::ClampedAdd";

size_t elements(const v1::TensorType &t) {
  size_t n = 1;
  for (int64_t d : t.dims())
    n *= size_t(d);
  return n;
}

// Why node i of g is not ours ("" when it is).
std::string whyNot(const v1::Graph &g, int i) {
  const v1::Node &n = g.nodes(i);
  if (n.op() != kOp)
    return "the unit runs " + std::string(kOp) + " only, not " + n.op();
  if (n.inputs_size() != 2 || n.outputs_size() != 1)
    return "two operands and one result";
  for (int k = 0; k < 2; ++k) {
    int id = n.inputs(k);
    if (id < 0 || id >= g.values_size() || g.values(id).type().dtype() != "f32")
      return "operands must be f32";
  }
  return "";
}

double attrF(const v1::Node &n, const char *name, double def) {
  for (auto &a : n.attributes())
    if (a.name() == name && a.value_case() == v1::Attribute::kF)
      return a.f();
  return def;
}
} // namespace

struct ember_executable {
  v1::Graph g;
};

namespace {
struct ClaimPlugin : PluginBase, HostMemory, AsyncEvents {
  static constexpr const char *name = "acme_unit";
  static constexpr const char *version = "0.1.0";

  static ember_error *get_capabilities(const ember_capabilities_params *,
                                       ember_blob *out) {
    v1::CapabilityManifest m;
    m.set_schema_version(1);
    m.set_plugin_name(name);
    m.set_plugin_version(version);
    m.set_accepts_graph(true);
    m.set_device_count(1);
    auto *c = m.add_ops();
    c->set_op(kOp);
    c->add_dtypes("f32");
    c->set_min_rank(1);
    c->set_max_rank(4);
    return host().blob(m.SerializeAsString(), out);
  }

  static ember_error *query_support(const ember_query_params *p,
                                    ember_blob *out) {
    v1::Graph g;
    if (!p || p->graph_size > size_t(INT_MAX) ||
        !g.ParseFromArray(p->graph, int(p->graph_size)))
      return error(EMBER_STATUS_INVALID_ARGUMENT, "not a Graph");
    v1::SupportReport r;
    r.set_schema_version(1);
    for (int i = 0; i < g.nodes_size(); ++i) {
      auto *s = r.add_nodes();
      s->set_node(i);
      std::string why = whyNot(g, i);
      s->set_supported(why.empty());
      s->set_reason(why);
    }
    return host().blob(r.SerializeAsString(), out);
  }

  static ember_error *executable_compile(ember_device *,
                                         const ember_compile_params *p,
                                         ember_executable **out) {
    auto x = std::make_unique<ember_executable>();
    if (!p || !out || p->program_kind != EMBER_PROGRAM_GRAPH ||
        p->program_size > size_t(INT_MAX) ||
        !x->g.ParseFromArray(p->program, int(p->program_size)))
      return error(EMBER_STATUS_INVALID_ARGUMENT, "not a Graph program");
    for (int i = 0; i < x->g.nodes_size(); ++i) {
      std::string why = whyNot(x->g, i);
      if (!why.empty())
        return error(EMBER_STATUS_UNSUPPORTED, why);
    }
    *out = x.release();
    return nullptr;
  }
  static void executable_release(ember_executable *x) { delete x; }

  static ember_error *execute(ember_device *, const ember_execute_params *p,
                              ember_event **out) {
    const v1::Graph &g = p->executable->g;
    if (p->num_inputs != size_t(g.inputs_size()) ||
        p->num_outputs != size_t(g.outputs_size()))
      return error(EMBER_STATUS_INVALID_ARGUMENT, "wrong buffer counts");
    std::map<int, std::vector<float>> vals;
    for (int i = 0; i < g.inputs_size(); ++i) {
      const auto &t = g.values(g.inputs(i)).type();
      auto *b = reinterpret_cast<const float *>(p->inputs[i]->data);
      vals[g.inputs(i)].assign(b, b + elements(t));
    }
    for (auto &c : g.constants()) {
      auto *b = reinterpret_cast<const float *>(c.data().data().data());
      vals[c.value()].assign(b, b + c.data().data().size() / sizeof(float));
    }
    for (auto &n : g.nodes()) {
      const auto &a = vals[n.inputs(0)], &b = vals[n.inputs(1)];
      float lo = float(attrF(n, "lo", -HUGE_VAL)),
            hi = float(attrF(n, "hi", HUGE_VAL));
      std::vector<float> y(a.size());
      for (size_t i = 0; i < a.size(); ++i) {
        float s = a[i] + b[i];
        s = s < lo ? lo : s;
#ifdef MISTAKE_IGNORES_HI
        (void)hi;
#else
        s = s > hi ? hi : s;
#endif
        y[i] = s;
      }
      vals[n.outputs(0)] = std::move(y);
    }
    for (int i = 0; i < g.outputs_size(); ++i) {
      const auto &v = vals[g.outputs(i)];
      std::memcpy(p->outputs[i]->data, v.data(), v.size() * sizeof(float));
    }
    return startAsync([] { return (ember_error *)nullptr; }, out);
  }
};
} // namespace

EMBER_PLUGIN_ENTRY(ClaimPlugin)

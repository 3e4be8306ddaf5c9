// The reference interpreter as a backend plugin: the oracle every other
// plugin is compared against, reached through the same ABI. It accepts the
// lowered graph (run by the graph interpreter) and planned LIR (run by the
// LIR interpreter), claims every primitive op for every element type, and
// serializes executables as the program they were compiled from.
#include "ember/plugin_table.hpp"

#include "backend/Artifact.h"
#include "backend/ProgramProto.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"
#include "lir/LIR.h"
#include "runtime/Devices.h"

#include "ember/backend/v1/artifact.pb.h"
#include "ember/backend/v1/capability.pb.h"
#include "ember/backend/v1/graph.pb.h"
#include "ember/backend/v1/options.pb.h"
#include "ember/backend/v1/runtime.pb.h"

#include <memory>
#include <string>
#include <vector>

namespace v1 = ember::backend::v1;
using namespace ember_plugin;

struct ember_executable {
  uint32_t kind = EMBER_PROGRAM_GRAPH;
  std::string program; // the serialized program (for serialize)
  std::unique_ptr<ember::Module> graph;
  ember::lir::Function lir;
  std::vector<ember::Type> inputs, outputs;
  std::vector<std::string> inputNames, outputNames;
};

namespace {

Host gHost;
constexpr const char *kName = "interp";
constexpr const char *kVersion = "0.1.0";

ember_error *fromStatus(const ember::Status &s, int32_t code) {
  return error(code, s.message());
}

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
  m.set_accepts_lir(true);
  m.set_supports_serialize(true);
  m.set_device_count(1);
  m.add_requant_profiles("fixed");
  m.add_requant_profiles("float32");
  m.add_requant_profiles("tflite");
  m.add_requant_profiles("gemmlowp");
  m.add_requant_profiles("sat16");
  for (auto &s : ember::lir::defaultSpaces()) {
    m.add_memory_spaces(s.name);
    m.add_memory_capacities(s.capacity);
    m.add_memory_alignments(s.alignment);
  }
  std::vector<std::string> kinds;
#define EMBER_ELEM(E, T, C, O) kinds.push_back(T);
#include "ir/ElemKinds.def"
#define EMBER_MINI(E, T, O, F) kinds.push_back(T);
#include "ir/MiniElemKinds.def"
  // Custom ops (docs/custom-ops.md): by their libraries' kernels, not by
  // the name of the op table's row.
  m.set_custom_op_kernels(true);
  for (unsigned k = 0; k < ember::kNumOps; ++k) {
    auto op = ember::OpKind(k);
    if (!ember::isPrimitive(op) || op == ember::OpKind::Custom)
      continue;
    auto *c = m.add_ops();
    c->set_op(ember::opName(op));
    for (auto &d : kinds)
      c->add_dtypes(d);
    c->set_max_rank(0);
    c->set_quantized(true);
  }
  return gHost.blob(m.SerializeAsString(), out);
}

ember_error *querySupport(const ember_query_params *p, ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_query_params, graph_size) + sizeof(size_t),
          "ember_query_params"))
    return e;
  auto m = ember::backend::deserializeGraph(p->graph, p->graph_size);
  if (!m)
    return fromStatus(m.status(), EMBER_STATUS_INVALID_ARGUMENT);
  v1::SupportReport r;
  r.set_schema_version(1);
  int i = 0;
  for (auto &n : (*m)->main()->nodes()) {
    if (ember::isStorage(n->kind))
      continue;
    auto *ns = r.add_nodes();
    ns->set_node(i++);
    ns->set_supported(true);
  }
  return gHost.blob(r.SerializeAsString(), out);
}

ember_error *prepare(ember_executable &x) {
  if (x.kind == EMBER_PROGRAM_GRAPH) {
    auto m =
        ember::backend::deserializeGraph(x.program.data(), x.program.size());
    if (!m)
      return fromStatus(m.status(), EMBER_STATUS_INVALID_ARGUMENT);
    x.graph = std::move(*m);
    ember::Function &f = *x.graph->main();
    for (auto *ph : f.params()) {
      x.inputs.push_back(ph->types[0]);
      x.inputNames.push_back(ph->outNames[0]);
    }
    for (auto &o : f.outputs()) {
      x.outputs.push_back(o.value.type());
      x.outputNames.push_back(o.name);
    }
    return nullptr;
  }
  if (x.kind == EMBER_PROGRAM_LIR) {
    auto f = ember::backend::deserializeLir(x.program.data(), x.program.size());
    if (!f)
      return fromStatus(f.status(), EMBER_STATUS_INVALID_ARGUMENT);
    x.lir = std::move(*f);
    for (auto k :
         {ember::lir::BufferKind::Input, ember::lir::BufferKind::Output})
      for (unsigned b : x.lir.buffersOfKind(k)) {
        auto &buf = x.lir.buffers[b];
        (k == ember::lir::BufferKind::Input ? x.inputs : x.outputs)
            .push_back(buf.type);
        (k == ember::lir::BufferKind::Input ? x.inputNames : x.outputNames)
            .push_back(buf.name);
      }
    return nullptr;
  }
  return error(EMBER_STATUS_UNSUPPORTED,
               "unknown program kind " + std::to_string(x.kind));
}

ember_error *checkOptions(const ember_compile_params *p) {
  if (!p->options_size)
    return nullptr;
  if (!p->options)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "options is NULL but options_size is not 0");
  v1::CompileOptions o;
  if (!o.ParseFromArray(p->options, int(p->options_size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "options are not a valid ember.backend.v1.CompileOptions");
  for (auto &kv : o.vendor())
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "unknown vendor option '" + kv.first + "'");
  if (!o.target_triple().empty())
    return error(EMBER_STATUS_UNSUPPORTED,
                 "the interpreter runs on the host only (target triple '" +
                     o.target_triple() + "')");
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
  if (!p->program && p->program_size)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "program is NULL");
  if (ember_error *e = checkOptions(p))
    return e;
  auto x = std::make_unique<ember_executable>();
  x->kind = p->program_kind;
  x->program.assign(static_cast<const char *>(p->program), p->program_size);
  if (ember_error *e = prepare(*x))
    return e;
  *out = x.release();
  return nullptr;
}

v1::ArtifactHeader headerOf(const ember_executable &x) {
  v1::ArtifactHeader h;
  h.set_schema_version(1);
  h.set_plugin_name(kName);
  h.set_plugin_version(kVersion);
  h.set_abi_major(EMBER_ABI_VERSION_MAJOR);
  h.set_abi_minor(EMBER_ABI_VERSION_MINOR);
  h.set_program_kind(x.kind);
  for (size_t i = 0; i < x.inputs.size(); ++i) {
    ember::backend::toProto(x.inputs[i], *h.add_inputs());
    h.add_input_names(x.inputNames[i]);
  }
  for (size_t i = 0; i < x.outputs.size(); ++i) {
    ember::backend::toProto(x.outputs[i], *h.add_outputs());
    h.add_output_names(x.outputNames[i]);
  }
  return h;
}

ember_error *serialize(ember_executable *x, ember_blob *out) {
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  return gHost.blob(ember::backend::writeArtifact(headerOf(*x), x->program),
                    out);
}

ember_error *signature(ember_executable *x, ember_blob *out) {
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  return gHost.blob(headerOf(*x).SerializeAsString(), out);
}

ember_error *load(ember_device *, const void *data, size_t size,
                  ember_executable **out) {
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
  auto a = ember::backend::readArtifact(data, size);
  if (!a)
    return fromStatus(a.status(), EMBER_STATUS_INVALID_ARGUMENT);
  const v1::ArtifactHeader &h = a->header;
  if (h.plugin_name() != kName)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "artifact was made by plugin '" + h.plugin_name() +
                     "', not '" + kName + "'");
  auto x = std::make_unique<ember_executable>();
  x->kind = h.program_kind();
  x->program = std::move(a->payload);
  if (ember_error *e = prepare(*x))
    return e;
  *out = x.release();
  return nullptr;
}

void release(ember_executable *x) { delete x; }

ember_error *execute(ember_device *d, const ember_execute_params *p,
                     ember_event **out) {
  if (!d)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "device is NULL");
  if (ember_error *e = checkStruct(
          p, offsetof(ember_execute_params, num_outputs) + sizeof(size_t),
          "ember_execute_params"))
    return e;
  ember_executable *x = p->executable;
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  if (p->num_inputs != x->inputs.size() || p->num_outputs != x->outputs.size())
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "the program has " + std::to_string(x->inputs.size()) +
                     " inputs and " + std::to_string(x->outputs.size()) +
                     " outputs; got " + std::to_string(p->num_inputs) +
                     " and " + std::to_string(p->num_outputs) + " buffers");
  std::vector<ember_buffer *> ins(p->inputs, p->inputs + p->num_inputs);
  std::vector<ember_buffer *> outs(p->outputs, p->outputs + p->num_outputs);
  for (size_t i = 0; i < ins.size() + outs.size(); ++i) {
    bool isIn = i < ins.size();
    ember_buffer *b = isIn ? ins[i] : outs[i - ins.size()];
    const ember::Type &t = isIn ? x->inputs[i] : x->outputs[i - ins.size()];
    if (!b || b->size < t.sizeInBytes())
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   std::string(isIn ? "input " : "output ") +
                       std::to_string(isIn ? i : i - ins.size()) +
                       (b ? " buffer of " + std::to_string(b->size) +
                                " bytes is smaller than " + t.toString()
                          : " buffer is NULL"));
  }
  return startAsync(
      [x, ins, outs]() -> ember_error * {
        std::vector<ember::Tensor> inputs;
        for (size_t i = 0; i < ins.size(); ++i) {
          ember::Tensor t(x->inputs[i]);
          if (t.bytes())
            std::memcpy(t.raw(), ins[i]->data, t.bytes());
          inputs.push_back(std::move(t));
        }
        auto r = x->kind == EMBER_PROGRAM_GRAPH
                     ? ember::interpret(*x->graph->main(), inputs)
                     : ember::lir::execute(x->lir, inputs);
        if (!r)
          return fromStatus(r.status(),
                            r.status().code() == ember::ErrorCode::Unsupported
                                ? EMBER_STATUS_UNSUPPORTED
                                : EMBER_STATUS_INVALID_ARGUMENT);
        for (size_t i = 0; i < outs.size(); ++i) {
          const ember::Tensor &t = (*r)[i];
          if (t.bytes() != x->outputs[i].sizeInBytes())
            return error(EMBER_STATUS_INTERNAL,
                         "output " + std::to_string(i) + " has the wrong size");
          if (t.bytes())
            std::memcpy(outs[i]->data, t.raw(), t.bytes());
        }
        return nullptr;
      },
      out);
}

ember_error *init(const ember_host_api *h) { return gHost.attach(h); }

// ABI 1.4: one device on the host, no memory of its own to run out of.
ember_error *deviceDescribe(const ember_device_query_params *p,
                            ember_blob *out) {
  if (ember_error *e =
          checkStruct(p, offsetof(ember_device_query_params, device_index) + 4,
                      "ember_device_query_params"))
    return e;
  if (p->device_index != 0)
    return error(EMBER_STATUS_OUT_OF_RANGE, "the interpreter has one device");
  v1::DeviceDescription d;
  d.set_schema_version(1);
  d.set_name("the reference interpreter, on the host");
  d.set_concurrency(1);
  return gHost.blob(d.SerializeAsString(), out);
}

// ABI 1.4: the host's nominal estimate (runtime::hostEstimate): the
// reference kernels are plain loops, so multiply-accumulates and bytes
// touched are what its time follows.
ember_error *estimateCost(const ember_cost_params *p, ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_cost_params, program_size) + sizeof(size_t),
          "ember_cost_params"))
    return e;
  if (p->program_kind != EMBER_PROGRAM_GRAPH)
    return error(EMBER_STATUS_UNSUPPORTED,
                 "the interpreter estimates graph programs");
  auto m = ember::backend::deserializeGraph(p->program, p->program_size);
  if (!m)
    return fromStatus(m.status(), EMBER_STATUS_INVALID_ARGUMENT);
  v1::CostEstimate c;
  ember::runtime::toProto(ember::runtime::hostEstimate(*(*m)->main()), c);
  c.set_basis("the interpreter's estimate: multiply-accumulates and operand "
              "bytes at nominal rates");
  return gHost.blob(c.SerializeAsString(), out);
}

// The function table (ember/plugin_table.hpp): each member fills the entry
// of its name; PluginBase gives the error functions and plugin_shutdown,
// HostMemory the one device and its buffers, AsyncEvents the events of
// startAsync, HostImport buffer_import_host over plain host memory, like
// the device's own buffers. executable_emit and event_profile stay NULL;
// device_describe and estimate_cost answer the runtime (docs/runtime.md).
struct InterpPlugin : PluginBase, HostMemory, AsyncEvents, HostImport {
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
  static constexpr auto device_describe = deviceDescribe;
  static constexpr auto estimate_cost = estimateCost;
};

} // namespace

EMBER_PLUGIN_ENTRY(InterpPlugin)

// The mistakes newcomers make, one per build (tests/kit/CMakeLists.txt
// builds libmistake_<kind>.so with MISTAKE_<KIND> defined; without one it
// is the correct plugin the mistakes start from). The plugin is what
// docs/writing-a-backend.md leads to, written with ember/plugin_helpers.hpp:
// f32 Add (numpy broadcasting), Relu and 2-D MatMul on host memory, run
// asynchronously with startAsync, everything else refused with a reason.
//
//   MISTAKE_MATMUL_DROPS_K       MatMul leaves out the last k term
//   MISTAKE_WORKER_CRASH         a null dereference on startAsync's thread
//   MISTAKE_EXECUTE_HANGS        the execution never completes (event_wait
//                                times out as it should)
//   MISTAKE_WAIT_IGNORES_TIMEOUT the execution never completes and
//                                event_wait ignores its timeout
//   MISTAKE_COMPILE_HANGS        executable_compile never returns
//   MISTAKE_RELEASE_KEEPS_BUFFERS     buffer_release frees nothing
//   MISTAKE_RELEASE_KEEPS_EXECUTABLES executable_release frees nothing
//   MISTAKE_VERSION_CLAIM        claims ABI 1.9 with a 1.2-sized table
//   MISTAKE_TABLE_SIZE           the table's struct_size is the host
//                                table's size (a copy-paste slip)
//   MISTAKE_EXACT_STRUCT_SIZE    refuses argument structs larger than its
//                                header's (as a newer host sends)
//   MISTAKE_WRITES_PAST_OUTPUT   execute writes one element past an output
//   MISTAKE_REFUSES_CLAIMED_OP   the manifest claims Relu, query_support
//                                refuses every Relu
//   MISTAKE_THROWS               compile lets a C++ exception escape
//   MISTAKE_RELU_IN_CONTEXT      not a mistake: query_support refuses
//                                every lone Relu, and the manifest names the
//                                context it runs in (OpCapability.context),
//                                so the kit skips the claim instead of
//                                failing it
#include "ember/backend.h"
#include "ember/plugin_helpers.hpp"

#include "ember/backend/v1/capability.pb.h"
#include "ember/backend/v1/graph.pb.h"
#include "ember/backend/v1/options.pb.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace v1 = ember::backend::v1;
using namespace ember_plugin;

// A compiled program: steps over numbered values; constants copied in.
struct ember_executable {
  struct Step {
    std::string op;
    int a = -1, b = -1, out = -1;
    std::vector<int64_t> dims;   // the result's shape
    std::vector<int64_t> sa, sb; // Add: strides of a, b over the result
    int64_t m = 0, k = 0, n = 0; // MatMul
  };
  std::vector<int64_t> count;
  std::vector<std::vector<float>> data;
  std::vector<int> inputs, outputs;
  std::vector<Step> steps;
};

namespace {

Host gHost;
const char *const kName = "acme";
const char *const kVersion = "0.1.0";

std::vector<int64_t> dimsOf(const v1::Graph &g, int id) {
  auto &d = g.values(id).type().dims();
  return {d.begin(), d.end()};
}

int64_t f32Elements(const v1::Graph &g, int id, std::string &why) {
  if (id < 0 || id >= g.values_size()) {
    why = "value id " + std::to_string(id) + " is out of range";
    return -1;
  }
  const v1::TensorType &t = g.values(id).type();
  if (t.dtype() != "f32" || t.has_quant()) {
    why = "acme runs f32 only, not " + t.dtype();
    return -1;
  }
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && n > (int64_t(1) << 31) / d)) {
      why = "bad or too large shape";
      return -1;
    }
    n *= d;
  }
  return n;
}

// "" when acme runs node `n`, else why not.
std::string whyNot(const v1::Graph &g, const v1::Node &n) {
  const std::string &op = n.op();
  if (op != "Add" && op != "Relu" && op != "MatMul")
    return "acme runs Add, Relu and MatMul only, not " + op;
#ifdef MISTAKE_REFUSES_CLAIMED_OP
  if (op == "Relu")
    return "Relu is not finished yet";
#endif
#ifdef MISTAKE_RELU_IN_CONTEXT
  if (op == "Relu")
    return "a Relu that does not follow a MatMul acme runs";
#endif
  size_t ins = op == "Relu" ? 1 : 2;
  if (size_t(n.inputs_size()) != ins || n.outputs_size() != 1 ||
      n.attributes_size())
    return op + " with unexpected operands or attributes";
  std::string why;
  for (int id : n.inputs())
    if (f32Elements(g, id, why) < 0)
      return why;
  if (f32Elements(g, n.outputs(0), why) < 0)
    return why;
  auto y = dimsOf(g, n.outputs(0));
  if (op == "Relu")
    return dimsOf(g, n.inputs(0)) == y ? "" : "Relu changes the shape";
  auto a = dimsOf(g, n.inputs(0)), b = dimsOf(g, n.inputs(1));
  if (op == "MatMul") {
    if (a.size() != 2 || b.size() != 2)
      return "acme runs 2-D MatMul only";
    if (a[1] != b[0] || y != std::vector<int64_t>{a[0], b[1]})
      return "MatMul shapes do not match";
    return "";
  }
  if (y.size() != std::max(a.size(), b.size()))
    return "the result rank is not the broadcast rank";
  for (size_t i = 0; i < y.size(); ++i) {
    int64_t da = i + a.size() < y.size() ? 1 : a[i + a.size() - y.size()];
    int64_t db = i + b.size() < y.size() ? 1 : b[i + b.size() - y.size()];
    if (da != db && da != 1 && db != 1)
      return "operand shapes do not broadcast";
    if (y[i] != (da == 1 ? db : da))
      return "the result shape is not the broadcast shape";
  }
  return "";
}

std::vector<int64_t> broadcastStrides(const std::vector<int64_t> &in,
                                      const std::vector<int64_t> &out) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = in.size(); i-- > 0;) {
    s[i + out.size() - in.size()] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return s;
}

#ifdef MISTAKE_EXACT_STRUCT_SIZE
// The mistake: "== sizeof" where ">= the fields read" is right.
template <typename T>
ember_error *checkArgs(const T *p, size_t, const char *what) {
  if (!p || p->struct_size != sizeof(T))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 std::string(what) + " has an unexpected struct_size");
  return nullptr;
}
#else
template <typename T>
ember_error *checkArgs(const T *p, size_t minSize, const char *what) {
  return checkStruct(p, minSize, what);
}
#endif

ember_error *getCapabilities(const ember_capabilities_params *p,
                             ember_blob *out) {
  if (ember_error *e =
          checkArgs(p, offsetof(ember_capabilities_params, request),
                    "ember_capabilities_params"))
    return e;
  v1::CapabilityManifest m;
  m.set_schema_version(1);
  m.set_plugin_name(kName);
  m.set_plugin_version(kVersion);
  m.set_accepts_graph(true);
  m.set_device_count(1);
  for (const char *op : {"Add", "Relu", "MatMul"}) {
    v1::OpCapability *c = m.add_ops();
    c->set_op(op);
    c->add_dtypes("f32");
    if (std::strcmp(op, "MatMul") == 0) {
      c->set_min_rank(2);
      c->set_max_rank(2);
    }
    if (std::strcmp(op, "Add") == 0)
      c->add_constraints("numpy broadcasting");
#ifdef MISTAKE_RELU_IN_CONTEXT
    if (std::strcmp(op, "Relu") == 0)
      c->set_context("fused: the Relu of a MatMul acme runs");
#endif
  }
  return gHost.blob(m.SerializeAsString(), out);
}

ember_error *querySupport(const ember_query_params *p, ember_blob *out) {
  if (ember_error *e = checkArgs(
          p, offsetof(ember_query_params, graph_size) + sizeof(size_t),
          "ember_query_params"))
    return e;
  v1::Graph g;
  if (!p->graph || p->graph_size > size_t(INT_MAX) ||
      !g.ParseFromArray(p->graph, int(p->graph_size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "query_support: not an ember.backend.v1.Graph");
  v1::SupportReport r;
  r.set_schema_version(1);
  for (int i = 0; i < g.nodes_size(); ++i) {
    v1::NodeSupport *n = r.add_nodes();
    n->set_node(i);
    n->set_reason(whyNot(g, g.nodes(i)));
    n->set_supported(n->reason().empty());
  }
  return gHost.blob(r.SerializeAsString(), out);
}

ember_error *compile(ember_device *, const ember_compile_params *p,
                     ember_executable **out) {
  if (ember_error *e = checkArgs(
          p, offsetof(ember_compile_params, options_size) + sizeof(size_t),
          "ember_compile_params"))
    return e;
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
#ifdef MISTAKE_COMPILE_HANGS
  for (;;)
    std::this_thread::sleep_for(std::chrono::seconds(1));
#endif
#ifdef MISTAKE_THROWS
  if (p->program_size > 0)
    throw std::runtime_error("acme: compile is not finished");
#endif
  if (p->program_kind != EMBER_PROGRAM_GRAPH)
    return error(EMBER_STATUS_UNSUPPORTED, "acme compiles graphs only");
  if (p->options_size) {
    v1::CompileOptions o;
    if (!p->options || p->options_size > size_t(INT_MAX) ||
        !o.ParseFromArray(p->options, int(p->options_size)))
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "options are not an ember.backend.v1.CompileOptions");
    if (!o.vendor().empty())
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "unknown vendor option '" + o.vendor().begin()->first + "'");
  }
  v1::Graph g;
  if (!p->program || p->program_size > size_t(INT_MAX) ||
      !g.ParseFromArray(p->program, int(p->program_size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "the program is not an ember.backend.v1.Graph");
  if (g.schema_version() != 1)
    return error(EMBER_STATUS_VERSION_MISMATCH,
                 "Graph schema version " + std::to_string(g.schema_version()));
  auto x = std::make_unique<ember_executable>();
  x->count.assign(size_t(g.values_size()), -1);
  x->data.resize(size_t(g.values_size()));
  auto define = [&](int id) -> ember_error * {
    std::string why;
    int64_t n = f32Elements(g, id, why);
    if (n < 0)
      return error(EMBER_STATUS_UNSUPPORTED, why);
    if (x->count[size_t(id)] >= 0)
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "value " + std::to_string(id) + " is defined twice");
    x->count[size_t(id)] = n;
    return nullptr;
  };
  for (int id : g.inputs()) {
    if (ember_error *e = define(id))
      return e;
    x->inputs.push_back(id);
  }
  for (const v1::Constant &c : g.constants()) {
    if (ember_error *e = define(c.value()))
      return e;
    const std::string &bytes = c.data().data();
    std::vector<float> &d = x->data[size_t(c.value())];
    d.resize(size_t(x->count[size_t(c.value())]));
    if (bytes.size() != d.size() * sizeof(float))
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "constant data does not match its type");
    std::memcpy(d.data(), bytes.data(), bytes.size());
  }
  for (int i = 0; i < g.nodes_size(); ++i) {
    const v1::Node &n = g.nodes(i);
    std::string why = whyNot(g, n);
    if (!why.empty())
      return error(EMBER_STATUS_UNSUPPORTED,
                   "node " + std::to_string(i) + " (" + n.op() + "): " + why);
    for (int id : n.inputs())
      if (x->count[size_t(id)] < 0)
        return error(EMBER_STATUS_INVALID_ARGUMENT,
                     "node " + std::to_string(i) + " reads an undefined value");
    if (ember_error *e = define(n.outputs(0)))
      return e;
    ember_executable::Step s;
    s.op = n.op();
    s.a = n.inputs(0);
    s.out = n.outputs(0);
    s.dims = dimsOf(g, s.out);
    if (s.op != "Relu")
      s.b = n.inputs(1);
    if (s.op == "Add") {
      s.sa = broadcastStrides(dimsOf(g, s.a), s.dims);
      s.sb = broadcastStrides(dimsOf(g, s.b), s.dims);
    } else if (s.op == "MatMul") {
      s.m = s.dims[0];
      s.n = s.dims[1];
      s.k = dimsOf(g, s.a)[1];
    }
    x->steps.push_back(std::move(s));
  }
  for (int id : g.outputs()) {
    if (id < 0 || id >= g.values_size() || x->count[size_t(id)] < 0)
      return error(EMBER_STATUS_INVALID_ARGUMENT, "an output is not defined");
    x->outputs.push_back(id);
  }
  *out = x.release();
  return nullptr;
}

void release(ember_executable *x) {
#ifdef MISTAKE_RELEASE_KEEPS_EXECUTABLES
  (void)x; // the mistake: nothing is freed
#else
  delete x;
#endif
}

void releaseBuffer(ember_buffer *b) {
#ifdef MISTAKE_RELEASE_KEEPS_BUFFERS
  (void)b; // the mistake: nothing is freed
#else
  bufferRelease(b);
#endif
}

ember_error *run(const ember_executable *x,
                 const std::vector<ember_buffer *> &ins,
                 const std::vector<ember_buffer *> &outs) {
  std::vector<std::vector<float>> v = x->data;
  for (size_t i = 0; i < ins.size(); ++i) {
    auto *f = reinterpret_cast<const float *>(ins[i]->data);
    v[size_t(x->inputs[i])].assign(f, f + x->count[size_t(x->inputs[i])]);
  }
  for (const auto &s : x->steps) {
    const std::vector<float> &a = v[size_t(s.a)];
    std::vector<float> &y = v[size_t(s.out)];
    y.assign(size_t(x->count[size_t(s.out)]), 0.0f);
    if (s.op == "Relu") {
      for (size_t i = 0; i < y.size(); ++i)
        y[i] = a[i] > 0 ? a[i] : 0.0f;
    } else if (s.op == "MatMul") {
      const std::vector<float> &b = v[size_t(s.b)];
#ifdef MISTAKE_MATMUL_DROPS_K
      int64_t kEnd = s.k - 1; // the mistake: one term short
#else
      int64_t kEnd = s.k;
#endif
      for (int64_t i = 0; i < s.m; ++i)
        for (int64_t j = 0; j < s.n; ++j) {
          float acc = 0;
          for (int64_t k = 0; k < kEnd; ++k)
            acc += a[size_t(i * s.k + k)] * b[size_t(k * s.n + j)];
          y[size_t(i * s.n + j)] = acc;
        }
    } else {
      const std::vector<float> &b = v[size_t(s.b)];
      for (size_t i = 0; i < y.size(); ++i) {
        int64_t rest = int64_t(i), ia = 0, ib = 0;
        for (size_t d = s.dims.size(); d-- > 0;) {
          int64_t k = rest % s.dims[d];
          rest /= s.dims[d];
          ia += k * s.sa[d];
          ib += k * s.sb[d];
        }
        y[i] = a[size_t(ia)] + b[size_t(ib)];
      }
    }
  }
  for (size_t i = 0; i < outs.size(); ++i) {
    const std::vector<float> &y = v[size_t(x->outputs[i])];
    if (!y.empty())
      std::memcpy(outs[i]->data, y.data(), y.size() * sizeof(float));
#ifdef MISTAKE_WRITES_PAST_OUTPUT
    // The mistake: an off-by-one loop bound stores one element too many.
    float past = 1.0f;
    std::memcpy(outs[i]->data + y.size() * sizeof(float), &past, sizeof past);
#endif
  }
  return nullptr;
}

#ifdef MISTAKE_WAIT_IGNORES_TIMEOUT
// The mistake: a wait that ignores its timeout (and an execution that
// never completes).
ember_error *waitForever(ember_event *ev, uint64_t) {
  std::unique_lock<std::mutex> l(ev->mu);
  ev->cv.wait(l, [ev] { return ev->done; });
  ember_error *r = ev->result;
  ev->result = nullptr;
  return r;
}
#endif

ember_error *execute(ember_device *d, const ember_execute_params *p,
                     ember_event **out) {
  if (!d)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "device is NULL");
  if (ember_error *e = checkArgs(
          p, offsetof(ember_execute_params, num_outputs) + sizeof(size_t),
          "ember_execute_params"))
    return e;
  const ember_executable *x = p->executable;
  if (!x || p->num_inputs != x->inputs.size() ||
      p->num_outputs != x->outputs.size() || (p->num_inputs && !p->inputs) ||
      (p->num_outputs && !p->outputs))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "wrong executable or number of buffers");
  std::vector<ember_buffer *> ins(p->inputs, p->inputs + p->num_inputs);
  std::vector<ember_buffer *> outs(p->outputs, p->outputs + p->num_outputs);
  for (size_t i = 0; i < ins.size() + outs.size(); ++i) {
    bool in = i < ins.size();
    ember_buffer *b = in ? ins[i] : outs[i - ins.size()];
    int id = in ? x->inputs[i] : x->outputs[i - ins.size()];
    if (!b || b->size < uint64_t(x->count[size_t(id)]) * sizeof(float))
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "buffer " + std::to_string(i) + " is NULL or too small");
  }
  return startAsync(
      [x, ins, outs]() -> ember_error * {
#ifdef MISTAKE_WORKER_CRASH
        // The mistake: a pointer that is NULL on this path.
        static float *volatile scratch = nullptr;
        scratch[0] = 1.0f;
#endif
#if defined(MISTAKE_EXECUTE_HANGS) || defined(MISTAKE_WAIT_IGNORES_TIMEOUT)
        // The mistake: waits for something that never happens.
        for (;;)
          std::this_thread::sleep_for(std::chrono::seconds(1));
#endif
        return run(x, ins, outs);
      },
      out);
}

ember_error *init(const ember_host_api *host) { return gHost.attach(host); }

void shutdown() {}

ember_plugin_api makeTable() {
  ember_plugin_api a{};
#if defined(MISTAKE_TABLE_SIZE)
  a.struct_size = sizeof(ember_host_api); // the mistake: the wrong struct
#else
  a.struct_size = sizeof(ember_plugin_api);
#endif
  a.abi_major = EMBER_ABI_VERSION_MAJOR;
#if defined(MISTAKE_VERSION_CLAIM)
  a.abi_minor = 9; // the mistake: a version the table does not have
#else
  a.abi_minor = EMBER_ABI_VERSION_MINOR;
#endif
  a.name = kName;
  a.version = kVersion;
  a.error_code = errorCode;
  a.error_message = errorMessage;
  a.error_free = errorFree;
  a.plugin_init = init;
  a.plugin_shutdown = shutdown;
  a.get_capabilities = getCapabilities;
  a.query_support = querySupport;
  a.device_open = deviceOpenSingle;
  a.device_close = deviceClose;
  a.buffer_allocate = bufferAllocate;
  a.buffer_release = releaseBuffer;
  a.buffer_write = bufferWrite;
  a.buffer_read = bufferRead;
  a.executable_compile = compile;
  a.executable_release = release;
  a.execute = execute;
#ifdef MISTAKE_WAIT_IGNORES_TIMEOUT
  a.event_wait = waitForever;
#else
  a.event_wait = eventWait;
#endif
  a.event_release = eventRelease;
  return a;
}

const ember_plugin_api kApi = makeTable();

} // namespace

extern "C" EMBER_PLUGIN_EXPORT const ember_plugin_api *
ember_plugin_entry(const ember_host_api *host) {
  return acceptHost(host, &kApi);
}

// A tiny self-contained backend for the kit's test plugins: it claims one
// op, Add on f32 (numpy broadcasting), runs graphs made only of such Adds
// synchronously on host memory, and implements nothing optional beyond
// query_support (no serialize/load). It depends on no Ember code but the
// schemas, so that it can be built against any version of the ABI header:
// include backend.h (or a frozen older copy) first, then this file, then
// define the table and ember_plugin_entry with tiny::fillTable.
//
// Knobs (define before including): TINY_NAME, TINY_VERSION, TINY_COMBINE(a,
// b) (the arithmetic; a + b), and the hostile behaviours of
// tests/plugins/hostile (TINY_CAPS_GARBAGE, TINY_CAPS_FOREIGN_ALLOC,
// TINY_COMPILE_NULL, TINY_COMPILE_CRASH).
#ifndef EMBER_TESTS_TINY_ADD_H
#define EMBER_TESTS_TINY_ADD_H

#ifndef EMBER_BACKEND_H
#error "include an ember backend ABI header before TinyAdd.h"
#endif

#include "ember/backend/v1/capability.pb.h"
#include "ember/backend/v1/graph.pb.h"
#include "ember/backend/v1/options.pb.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#ifndef TINY_NAME
#define TINY_NAME "tiny-add"
#endif
#ifndef TINY_VERSION
#define TINY_VERSION "1.0.0"
#endif
#ifndef TINY_COMBINE
#define TINY_COMBINE(a, b) ((a) + (b))
#endif

struct ember_error {
  int32_t code;
  std::string message;
};
struct ember_device {
  uint32_t index;
};
struct ember_buffer {
  std::vector<uint8_t> bytes;
};
struct ember_event {
  ember_error *result; // handed out by the first wait
};

namespace tiny {

namespace v1 = ember::backend::v1;

struct Tensor {
  std::vector<int64_t> dims;
  std::vector<float> data;
};

struct Step {
  int a, b, out; // value ids
};

} // namespace tiny

struct ember_executable {
  std::vector<int> inputs, outputs;       // value ids
  std::vector<std::vector<int64_t>> dims; // per value id
  std::vector<std::pair<int, tiny::Tensor>> constants;
  std::vector<tiny::Step> steps;
};

namespace tiny {

inline ember_error *error(int32_t code, const std::string &msg) {
  return new (std::nothrow) ember_error{code, msg};
}
inline int32_t errorCode(const ember_error *e) {
  return e ? e->code : EMBER_STATUS_INTERNAL;
}
inline const char *errorMessage(const ember_error *e) {
  return e ? e->message.c_str() : "";
}
inline void errorFree(ember_error *e) { delete e; }

// The host's callbacks, read within its struct_size only.
struct Host {
  void *user = nullptr;
  void (*log)(void *, int32_t, const char *) = nullptr;
  void *(*alloc)(void *, size_t, size_t) = nullptr;
  void (*free)(void *, void *) = nullptr;
};
inline Host &host() {
  static Host h;
  return h;
}

inline bool hostCovers(const ember_host_api *h, size_t end) {
  return h && h->struct_size >= end;
}

inline ember_error *init(const ember_host_api *h) {
  if (!h)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "host table is NULL");
  Host &o = host();
  o = Host();
  if (hostCovers(h, offsetof(ember_host_api, user_data) + sizeof(void *)))
    o.user = h->user_data;
  if (hostCovers(h, offsetof(ember_host_api, log) + sizeof(void *)))
    o.log = h->log;
  if (hostCovers(h, offsetof(ember_host_api, free) + sizeof(void *))) {
    o.alloc = h->alloc;
    o.free = h->free;
  }
  return nullptr;
}
inline void shutdown() {}

template <typename T>
ember_error *checkStruct(const T *p, size_t need, const char *what) {
  if (!p)
    return error(EMBER_STATUS_INVALID_ARGUMENT, std::string(what) + " is NULL");
  if (p->struct_size < need)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 std::string(what) + ".struct_size " +
                     std::to_string(p->struct_size) + " is too small");
  return nullptr;
}

inline ember_error *blob(const std::string &bytes, ember_blob *out) {
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "output blob is NULL");
  Host &h = host();
  if (!h.alloc)
    return error(EMBER_STATUS_INTERNAL, "the host gave no allocator");
  void *p = h.alloc(h.user, bytes.size() ? bytes.size() : 1, 16);
  if (!p)
    return error(EMBER_STATUS_OUT_OF_MEMORY, "host allocation failed");
  if (!bytes.empty())
    std::memcpy(p, bytes.data(), bytes.size());
  out->data = p;
  out->size = bytes.size();
  return nullptr;
}

inline ember_error *getCapabilities(const ember_capabilities_params *p,
                                    ember_blob *out) {
  if (ember_error *e =
          checkStruct(p, offsetof(ember_capabilities_params, request),
                      "ember_capabilities_params"))
    return e;
#if defined(TINY_CAPS_GARBAGE)
  // Bytes that are no protobuf message (wire type 7 does not exist).
  static const char junk[] = "\xff\xff\xff\xff\x0f\x8f\x07garbage\x07\xff";
  return blob(std::string(junk, sizeof(junk) - 1), out);
#else
  v1::CapabilityManifest m;
  m.set_schema_version(1);
  m.set_plugin_name(TINY_NAME);
  m.set_plugin_version(TINY_VERSION);
  m.set_accepts_graph(true);
  m.set_device_count(1);
  auto *c = m.add_ops();
  c->set_op("Add");
  c->add_dtypes("f32");
#if defined(TINY_CAPS_UNKNOWN_ARITH)
  // An arithmetic no host knows (docs/quantization.md, "Declared
  // arithmetic").
  m.add_requant_profiles("round-to-odd");
#endif
#if defined(TINY_CAPS_FOREIGN_ALLOC)
  // Memory from malloc, not from the host's allocator.
  std::string bytes = m.SerializeAsString();
  void *mem = std::malloc(bytes.size() + 1);
  std::memcpy(mem, bytes.data(), bytes.size());
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "output blob is NULL");
  out->data = mem;
  out->size = bytes.size();
  return nullptr;
#else
  return blob(m.SerializeAsString(), out);
#endif
#endif
}

inline bool isAddF32(const v1::Graph &g, const v1::Node &n) {
  if (n.op() != "Add" || n.inputs_size() != 2 || n.outputs_size() != 1)
    return false;
  for (int id : {n.inputs(0), n.inputs(1), n.outputs(0)})
    if (id < 0 || id >= g.values_size() ||
        g.values(id).type().dtype() != "f32" || g.values(id).type().has_quant())
      return false;
  return true;
}

inline ember_error *querySupport(const ember_query_params *p, ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_query_params, graph_size) + sizeof(size_t),
          "ember_query_params"))
    return e;
  v1::Graph g;
  if (!p->graph || !g.ParseFromArray(p->graph, int(p->graph_size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "query_support: not an ember.backend.v1.Graph");
  v1::SupportReport r;
  r.set_schema_version(1);
  for (int i = 0; i < g.nodes_size(); ++i) {
    auto *n = r.add_nodes();
    n->set_node(i);
    bool ok = isAddF32(g, g.nodes(i));
    n->set_supported(ok);
    if (!ok)
      n->set_reason(TINY_NAME " runs only Add on f32 (node " +
                    std::to_string(i) + " is " + g.nodes(i).op() + ")");
  }
  return blob(r.SerializeAsString(), out);
}

inline ember_error *deviceOpen(const ember_device_params *p,
                               ember_device **out) {
  if (ember_error *e = checkStruct(p, sizeof(size_t) + sizeof(void *),
                                   "ember_device_params"))
    return e;
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_device is NULL");
  uint32_t index =
      p->struct_size >= offsetof(ember_device_params, device_index) + 4
          ? p->device_index
          : 0;
  if (index != 0)
    return error(EMBER_STATUS_OUT_OF_RANGE,
                 "device " + std::to_string(index) + " (one device)");
  *out = new ember_device{0};
  return nullptr;
}
inline void deviceClose(ember_device *d) { delete d; }

inline ember_error *bufferAllocate(ember_device *d,
                                   const ember_buffer_params *p,
                                   ember_buffer **out) {
  if (!d)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "device is NULL");
  if (ember_error *e = checkStruct(
          p, offsetof(ember_buffer_params, size_bytes) + sizeof(uint64_t),
          "ember_buffer_params"))
    return e;
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_buffer is NULL");
  if (p->size_bytes == 0 || p->size_bytes > (uint64_t(1) << 32))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "buffer size " + std::to_string(p->size_bytes) +
                     " is not in [1, 2^32]");
  auto *b = new (std::nothrow) ember_buffer;
  if (!b)
    return error(EMBER_STATUS_OUT_OF_MEMORY, "no memory");
  try {
    b->bytes.assign(size_t(p->size_bytes), 0);
  } catch (...) {
    delete b;
    return error(EMBER_STATUS_OUT_OF_MEMORY, "no memory");
  }
  *out = b;
  return nullptr;
}
inline void bufferRelease(ember_buffer *b) { delete b; }

inline ember_error *checkRange(const ember_buffer *b, uint64_t off,
                               uint64_t size, const void *ptr) {
  if (!b)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "buffer is NULL");
  if (!ptr && size)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "host pointer is NULL");
  uint64_t n = b->bytes.size();
  if (off > n || size > n - off)
    return error(EMBER_STATUS_OUT_OF_RANGE, "range outside the buffer");
  return nullptr;
}
inline ember_error *bufferWrite(ember_buffer *b, uint64_t off, const void *src,
                                uint64_t size) {
  if (ember_error *e = checkRange(b, off, size, src))
    return e;
  if (size)
    std::memcpy(b->bytes.data() + off, src, size_t(size));
  return nullptr;
}
inline ember_error *bufferRead(ember_buffer *b, uint64_t off, void *dst,
                               uint64_t size) {
  if (ember_error *e = checkRange(b, off, size, dst))
    return e;
  if (size)
    std::memcpy(dst, b->bytes.data() + off, size_t(size));
  return nullptr;
}

inline int64_t count(const std::vector<int64_t> &d) {
  int64_t n = 1;
  for (int64_t x : d)
    n *= x;
  return n;
}

inline bool broadcast(const std::vector<int64_t> &a,
                      const std::vector<int64_t> &b,
                      std::vector<int64_t> &out) {
  size_t r = std::max(a.size(), b.size());
  out.assign(r, 1);
  for (size_t i = 0; i < r; ++i) {
    int64_t x = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t y = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (x != y && x != 1 && y != 1)
      return false;
    out[i] = x == 1 ? y : x;
  }
  return true;
}

// The element of `in` (aligned right) for output element `flat`.
inline int64_t sourceIndex(const std::vector<int64_t> &outDims,
                           const std::vector<int64_t> &inDims, int64_t flat) {
  int64_t idx = 0, stride = 1;
  size_t off = outDims.size() - inDims.size();
  for (size_t i = outDims.size(); i-- > 0;) {
    int64_t coord = flat % outDims[i];
    flat /= outDims[i];
    if (i >= off) {
      int64_t d = inDims[i - off];
      idx += (d == 1 ? 0 : coord) * stride;
      stride *= d;
    }
  }
  return idx;
}

inline ember_error *compile(ember_device *, const ember_compile_params *p,
                            ember_executable **out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_compile_params, options_size) + sizeof(size_t),
          "ember_compile_params"))
    return e;
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
#if defined(TINY_COMPILE_CRASH)
  // A bug: a null dereference on every compile (read through a volatile
  // pointer so that the compiler emits a plain store, not a trap).
  static int *volatile nowhere = nullptr;
  *nowhere = 42;
#endif
#if defined(TINY_COMPILE_NULL)
  *out = nullptr; // a bug: neither an executable nor an error
  return nullptr;
#endif
  if (p->program_kind != EMBER_PROGRAM_GRAPH)
    return error(EMBER_STATUS_UNSUPPORTED,
                 "program kind " + std::to_string(p->program_kind) +
                     ": " TINY_NAME " takes graphs only");
  if (p->options_size) {
    v1::CompileOptions o;
    if (!p->options || !o.ParseFromArray(p->options, int(p->options_size)))
      return error(EMBER_STATUS_INVALID_ARGUMENT, "bad compile options");
    for (auto &kv : o.vendor())
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "unknown vendor option '" + kv.first + "'");
  }
  v1::Graph g;
  if (!p->program || !g.ParseFromArray(p->program, int(p->program_size)))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "the program is not an ember.backend.v1.Graph");
  if (g.nodes_size() == 0 || g.outputs_size() == 0)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "the graph computes nothing");
  auto x = std::make_unique<ember_executable>();
  int nv = g.values_size();
  x->dims.resize(size_t(nv));
  std::vector<bool> defined(size_t(nv), false);
  for (int i = 0; i < nv; ++i) {
    const auto &t = g.values(i).type();
    if (t.dtype() != "f32")
      return error(EMBER_STATUS_UNSUPPORTED,
                   "value " + std::to_string(i) + " is " + t.dtype());
    for (int64_t d : t.dims()) {
      if (d < 0 || d > (1 << 24))
        return error(EMBER_STATUS_INVALID_ARGUMENT, "bad dimension");
      x->dims[size_t(i)].push_back(d);
    }
  }
  auto valid = [&](int id) { return id >= 0 && id < nv; };
  for (int id : g.inputs()) {
    if (!valid(id))
      return error(EMBER_STATUS_INVALID_ARGUMENT, "bad input id");
    defined[size_t(id)] = true;
    x->inputs.push_back(id);
  }
  for (auto &c : g.constants()) {
    int id = c.value();
    if (!valid(id) || c.data().type().dtype() != "f32")
      return error(EMBER_STATUS_INVALID_ARGUMENT, "bad constant");
    Tensor t;
    t.dims = x->dims[size_t(id)];
    if (c.data().data().size() != size_t(count(t.dims)) * 4)
      return error(EMBER_STATUS_INVALID_ARGUMENT, "constant of the wrong size");
    t.data.resize(size_t(count(t.dims)));
    std::memcpy(t.data.data(), c.data().data().data(), t.data.size() * 4);
    defined[size_t(id)] = true;
    x->constants.push_back({id, std::move(t)});
  }
  for (int i = 0; i < g.nodes_size(); ++i) {
    const v1::Node &n = g.nodes(i);
    if (!isAddF32(g, n))
      return error(EMBER_STATUS_UNSUPPORTED,
                   "node " + std::to_string(i) + " (" + n.op() +
                       "): " TINY_NAME " runs only Add on f32");
    int a = n.inputs(0), b = n.inputs(1), o = n.outputs(0);
    if (!defined[size_t(a)] || !defined[size_t(b)] || defined[size_t(o)])
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "node " + std::to_string(i) + " is out of order");
    std::vector<int64_t> d;
    if (!broadcast(x->dims[size_t(a)], x->dims[size_t(b)], d) ||
        d != x->dims[size_t(o)])
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "node " + std::to_string(i) + ": shapes do not broadcast");
    defined[size_t(o)] = true;
    x->steps.push_back({a, b, o});
  }
  for (int id : g.outputs()) {
    if (!valid(id) || !defined[size_t(id)])
      return error(EMBER_STATUS_INVALID_ARGUMENT, "bad output id");
    x->outputs.push_back(id);
  }
  *out = x.release();
  return nullptr;
}

inline void release(ember_executable *x) { delete x; }

inline ember_error *run(const ember_executable &x,
                        const std::vector<ember_buffer *> &in,
                        const std::vector<ember_buffer *> &out) {
  std::vector<Tensor> vals(x.dims.size());
  for (size_t i = 0; i < x.inputs.size(); ++i) {
    Tensor &t = vals[size_t(x.inputs[i])];
    t.dims = x.dims[size_t(x.inputs[i])];
    t.data.resize(size_t(count(t.dims)));
    std::memcpy(t.data.data(), in[i]->bytes.data(), t.data.size() * 4);
  }
  for (auto &c : x.constants)
    vals[size_t(c.first)] = c.second;
  for (auto &s : x.steps) {
    const Tensor &a = vals[size_t(s.a)], &b = vals[size_t(s.b)];
    Tensor r;
    r.dims = x.dims[size_t(s.out)];
    r.data.resize(size_t(count(r.dims)));
    for (int64_t i = 0; i < int64_t(r.data.size()); ++i) {
      float va = a.data[size_t(sourceIndex(r.dims, a.dims, i))];
      float vb = b.data[size_t(sourceIndex(r.dims, b.dims, i))];
      r.data[size_t(i)] = TINY_COMBINE(va, vb);
    }
    vals[size_t(s.out)] = std::move(r);
  }
  for (size_t i = 0; i < x.outputs.size(); ++i) {
    const Tensor &t = vals[size_t(x.outputs[i])];
    std::memcpy(out[i]->bytes.data(), t.data.data(), t.data.size() * 4);
  }
  return nullptr;
}

inline ember_error *execute(ember_device *d, const ember_execute_params *p,
                            ember_event **out) {
  if (!d)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "device is NULL");
  if (ember_error *e = checkStruct(
          p, offsetof(ember_execute_params, num_outputs) + sizeof(size_t),
          "ember_execute_params"))
    return e;
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_event is NULL");
  const ember_executable *x = p->executable;
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  if (p->num_inputs != x->inputs.size() || p->num_outputs != x->outputs.size())
    return error(EMBER_STATUS_INVALID_ARGUMENT, "wrong number of buffers");
  if ((p->num_inputs && !p->inputs) || (p->num_outputs && !p->outputs))
    return error(EMBER_STATUS_INVALID_ARGUMENT, "buffer array is NULL");
  std::vector<ember_buffer *> in(p->inputs, p->inputs + p->num_inputs);
  std::vector<ember_buffer *> outs(p->outputs, p->outputs + p->num_outputs);
  for (size_t i = 0; i < in.size() + outs.size(); ++i) {
    bool isIn = i < in.size();
    ember_buffer *b = isIn ? in[i] : outs[i - in.size()];
    int id = isIn ? x->inputs[i] : x->outputs[i - in.size()];
    if (!b || b->bytes.size() < size_t(count(x->dims[size_t(id)])) * 4)
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   std::string(isIn ? "input" : "output") +
                       " buffer NULL or too small");
  }
  *out = new ember_event{run(*x, in, outs)};
  return nullptr;
}

inline ember_error *eventWait(ember_event *ev, uint64_t) {
  if (!ev)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "event is NULL");
  ember_error *r = ev->result;
  ev->result = nullptr;
  return r;
}
inline void eventRelease(ember_event *ev) {
  if (ev)
    delete ev->result;
  delete ev;
}

// Fills the functions of `a`; the caller sets the header fields.
inline void fillTable(ember_plugin_api &a) {
  a.error_code = errorCode;
  a.error_message = errorMessage;
  a.error_free = errorFree;
  a.plugin_init = init;
  a.plugin_shutdown = shutdown;
  a.get_capabilities = getCapabilities;
  a.query_support = querySupport;
  a.device_count = nullptr;
  a.device_open = deviceOpen;
  a.device_close = deviceClose;
  a.buffer_allocate = bufferAllocate;
  a.buffer_release = bufferRelease;
  a.buffer_write = bufferWrite;
  a.buffer_read = bufferRead;
  a.executable_compile = compile;
  a.executable_serialize = nullptr;
  a.executable_load = nullptr;
  a.executable_release = release;
  a.execute = execute;
  a.event_wait = eventWait;
  a.event_release = eventRelease;
}

// The usual handshake: refuse a host of another major version.
inline bool hostMajorOk(const ember_host_api *h, uint16_t major) {
  if (!h || h->struct_size < offsetof(ember_host_api, host_name))
    return false;
  if (h->abi_major == major)
    return true;
  if (hostCovers(h, offsetof(ember_host_api, log) + sizeof(void *)) && h->log)
    h->log(h->user_data, EMBER_LOG_ERROR,
           TINY_NAME ": built for another ABI major version");
  return false;
}

} // namespace tiny

#endif // EMBER_TESTS_TINY_ADD_H

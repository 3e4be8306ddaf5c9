// The ABI layer: the function table, the host table at other sizes (in a
// fresh process each), argument structs that are larger, carry unknown
// extensions, are too small or NULL, error objects and the manifest.
#include "KitInternal.h"

#include "backend/ProgramProto.h"
#include "ember/quant/Profile.h"

#include <algorithm>
#include <cstring>

namespace ember::kit {
namespace {

const char *const kOptionalFns[] = {
    "plugin_init",        "plugin_shutdown",    "query_support",
    "device_count",       "device_open",        "device_close",
    "buffer_allocate",    "buffer_release",     "buffer_write",
    "buffer_read",        "executable_compile", "executable_serialize",
    "executable_load",    "executable_release", "execute",
    "event_wait",         "event_release",      "executable_signature",
    "buffer_import_host", "device_describe",    "estimate_cost"};

// How an argument struct is passed.
enum class Form { Larger, Extended, Header, Zero, Null };
const char *formName(Form f) {
  switch (f) {
  case Form::Larger:
    return "struct_size 32 bytes larger (trailing zeros)";
  case Form::Extended:
    return "unknown extensions in next";
  case Form::Header:
    return "struct_size covering only struct_size and next";
  case Form::Zero:
    return "struct_size 0";
  case Form::Null:
    return "a NULL pointer";
  }
  return "";
}

// A copy of `v` in zeroed storage, passed in form `f`.
template <typename T> class Arg {
public:
  Arg(const T &v, Form f) : form_(f) {
    size_t size = sizeof(T) + (f == Form::Larger ? 32 : 0);
    storage_.assign((size + 7) / 8, 0);
    p_ = reinterpret_cast<T *>(storage_.data());
    std::memcpy(static_cast<void *>(p_), &v, sizeof(T));
    p_->struct_size = f == Form::Larger   ? size
                      : f == Form::Header ? sizeof(size_t) + sizeof(void *)
                      : f == Form::Zero   ? 0
                                          : sizeof(T);
    if (f == Form::Extended)
      p_->next = unknownExtensions();
  }
  const T *get() const { return form_ == Form::Null ? nullptr : p_; }

private:
  Form form_;
  std::vector<uint64_t> storage_;
  T *p_;
};

// One argument-struct function called in one form: what came back.
struct Outcome {
  std::string fn;
  RawError err;
  bool produced = false;   // a handle or blob came back
  std::string resultError; // the result was unusable (wrong output, ...)
};

// Calls every implemented function taking an argument struct, in form `f`.
// Objects that come back are released.
std::vector<Outcome> callAll(Form f) {
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  const ember_plugin_api &a = p.api();
  std::vector<Outcome> out;

  {
    ember_capabilities_params v{};
    v.struct_size = sizeof(v);
    Arg<ember_capabilities_params> arg(v, f);
    ember_blob b{};
    b.struct_size = sizeof(b);
    Outcome o;
    o.fn = "get_capabilities";
    {
      backend::PluginCallGuard g(p, "get_capabilities");
      o.err = takeRaw(p, a.get_capabilities(arg.get(), &b), "get_capabilities");
    }
    if (!o.err.present) {
      o.produced = true;
      auto bytes = p.takeBlob(b, "get_capabilities");
      v1::CapabilityManifest m;
      if (!bytes)
        o.resultError = bytes.status().message();
      else if (!m.ParseFromString(*bytes) ||
               m.ops_size() != s.manifest.ops_size())
        o.resultError = "the manifest differs from the one of a plain call";
    }
    out.push_back(o);
  }

  // The probe's graph; without a probe, an Add f32 graph, for the forms
  // that must be refused anyway (and for query_support, which answers
  // unclaimed nodes too).
  bool refusal = f == Form::Header || f == Form::Zero || f == Form::Null;
  std::string anyGraph;
  // The probe as Ember compiles it on this plugin (LayerPath.h).
  backend::PluginProgram probeProgram;
  if (s.probe) {
    auto g = backend::serializeGraph(s.probe->sample.fn());
    if (g)
      anyGraph = *g;
    auto pp = pluginProgram(p, s.probe->sample.fn());
    if (pp)
      probeProgram = std::move(*pp);
  } else if (auto add = buildSample("Add", ElemKind::F32, 1)) {
    auto g = backend::serializeGraph(add->fn());
    if (g)
      anyGraph = *g;
  }
  if (a.query_support && !anyGraph.empty()) {
    ember_query_params v{};
    v.struct_size = sizeof(v);
    v.graph = anyGraph.data();
    v.graph_size = anyGraph.size();
    Arg<ember_query_params> arg(v, f);
    ember_blob b{};
    b.struct_size = sizeof(b);
    Outcome o;
    o.fn = "query_support";
    {
      backend::PluginCallGuard g(p, "query_support");
      o.err = takeRaw(p, a.query_support(arg.get(), &b), "query_support");
    }
    if (!o.err.present) {
      o.produced = true;
      auto bytes = p.takeBlob(b, "query_support");
      v1::SupportReport r;
      if (!bytes)
        o.resultError = bytes.status().message();
      else if (!r.ParseFromString(*bytes) || r.nodes_size() != 1 ||
               (s.probe && !r.nodes(0).supported()))
        o.resultError = "the answer differs from the one of a plain call";
    }
    out.push_back(o);
  }

  if (a.device_open) {
    ember_device_params v{};
    v.struct_size = sizeof(v);
    v.device_index = 0;
    Arg<ember_device_params> arg(v, f);
    ember_device *d = nullptr;
    Outcome o;
    o.fn = "device_open";
    {
      backend::PluginCallGuard g(p, "device_open");
      o.err = takeRaw(p, a.device_open(arg.get(), &d), "device_open");
    }
    if (!o.err.present) {
      o.produced = true;
      if (!d)
        o.resultError = "no device came back";
      else
        backend::Device(s.plugin, d); // closes it
    }
    out.push_back(o);
  }

  auto dev = pluginDevice();
  if (a.buffer_allocate && dev) {
    ember_buffer_params v{};
    v.struct_size = sizeof(v);
    v.size_bytes = 256;
    Arg<ember_buffer_params> arg(v, f);
    ember_buffer *b = nullptr;
    Outcome o;
    o.fn = "buffer_allocate";
    {
      backend::PluginCallGuard g(p, "buffer_allocate");
      o.err = takeRaw(p, a.buffer_allocate((*dev)->get(), arg.get(), &b),
                      "buffer_allocate");
    }
    if (!o.err.present) {
      o.produced = true;
      if (!b)
        o.resultError = "no buffer came back";
      else
        backend::Buffer(s.plugin, b, 256);
    }
    out.push_back(o);
  }

  const std::string &program = refusal ? anyGraph : probeProgram.bytes;
  if (a.executable_compile && dev && !program.empty()) {
    ember_compile_params v{};
    v.struct_size = sizeof(v);
    v.program_kind =
        refusal ? uint32_t(EMBER_PROGRAM_GRAPH) : probeProgram.kind;
    v.program = program.data();
    v.program_size = program.size();
    Arg<ember_compile_params> arg(v, f);
    ember_executable *x = nullptr;
    Outcome o;
    o.fn = "executable_compile";
    {
      backend::PluginCallGuard g(p, "executable_compile");
      o.err = takeRaw(p, a.executable_compile((*dev)->get(), arg.get(), &x),
                      "executable_compile");
    }
    if (!o.err.present) {
      o.produced = true;
      if (!x)
        o.resultError = "no executable came back";
      else
        backend::Executable(s.plugin, x);
    }
    out.push_back(o);
  }

  if (a.execute && a.event_wait && s.probe) {
    auto setup = setupProbe();
    if (setup) {
      ProbeSetup &ps = **setup;
      ember_execute_params v{};
      v.struct_size = sizeof(v);
      v.executable = ps.exe.get();
      v.inputs = ps.inPtrs.data();
      v.num_inputs = ps.inPtrs.size();
      v.outputs = ps.outPtrs.data();
      v.num_outputs = ps.outPtrs.size();
      Arg<ember_execute_params> arg(v, f);
      ember_event *ev = nullptr;
      Outcome o;
      o.fn = "execute";
      {
        backend::PluginCallGuard g(p, "execute");
        o.err =
            takeRaw(p, a.execute(ps.device->get(), arg.get(), &ev), "execute");
      }
      if (!o.err.present) {
        o.produced = true;
        if (!ev) {
          o.resultError = "no event came back";
        } else {
          backend::Event e(s.plugin, ev);
          Status w = ps.wait(e);
          if (!w.isOk()) {
            o.resultError = "event_wait: " + w.message();
          } else {
            Status rs;
            auto got = ps.read(rs);
            std::string why = rs.isOk()
                                  ? compareOutputs(got, s.probe->expected,
                                                   s.config.rtol, s.config.atol)
                                  : rs.message();
            if (!why.empty())
              o.resultError = "wrong results: " + why;
          }
        }
      }
      out.push_back(o);
    }
  }
  if (a.execute && a.event_wait && !s.probe && refusal && dev) {
    // No program to run: a struct without an executable must be refused.
    ember_execute_params v{};
    v.struct_size = sizeof(v);
    Arg<ember_execute_params> arg(v, f);
    ember_event *ev = nullptr;
    Outcome o;
    o.fn = "execute";
    {
      backend::PluginCallGuard g(p, "execute");
      o.err = takeRaw(p, a.execute((*dev)->get(), arg.get(), &ev), "execute");
    }
    if (!o.err.present && ev)
      p.abandon(backend::Event(s.plugin, ev)); // accepted nonsense: keep it
    out.push_back(o);
  }
  return out;
}

// Larger structs and unknown extensions must be accepted like plain ones.
void expectAccepted(Form f) {
  for (auto &o : callAll(f)) {
    KIT_CHECK(!(o.err.present))
        << o.fn << " refused an argument struct with " << formName(f) << ": "
        << o.err.describe()
        << (f == Form::Larger
                ? " (a newer host sends larger structs: check that "
                  "struct_size covers the fields you read, not that it "
                  "equals sizeof)"
                : " (skip extensions of types you do not know)");
    KIT_CHECK(o.resultError.empty())
        << o.fn << " with " << formName(f) << ": " << o.resultError;
  }
}

// Structs without their required fields (or NULL) must be refused with an
// error; those whose fields are all optional (capabilities: the request;
// device: index 0) may also be accepted as an older writer's.
void expectRefused(Form f) {
  for (auto &o : callAll(f)) {
    bool optional = o.fn == "get_capabilities" || o.fn == "device_open";
    if (optional && f == Form::Header) {
      KIT_CHECK(o.err.present || o.resultError.empty())
          << o.fn << " accepted an argument struct with " << formName(f)
          << " but its result is wrong: " << o.resultError;
      continue;
    }
    KIT_CHECK(o.err.present) << o.fn << " accepted an argument struct with "
                             << formName(f) << " (expected an error)";
    if (o.err.present) {
      EXPECT_NE(o.err.code, EMBER_STATUS_OK) << o.fn;
      KIT_CHECK(!(o.err.message.empty()))
          << o.fn << " returned an error without a message for " << formName(f);
    }
  }
}

void checkFunctionTable() {
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  const ember_plugin_api &a = p.api();
  // The version claim against the table's size: what the host warned
  // about while loading is a failure here.
  for (const std::string &w : p.loadWarnings())
    KIT_CHECK(false) << w;

  std::string missing;
  for (const char *fn : kOptionalFns)
    if (!implemented(p, fn))
      missing += std::string(missing.empty() ? "" : ", ") + fn;
  testing::Test::RecordProperty("unimplemented",
                                missing.empty() ? "(none)" : missing);
  note("unimplemented (NULL) functions: " +
       (missing.empty() ? std::string("none") : missing));

  struct Pair {
    const char *fn, *needs;
  };
  const Pair pairs[] = {{"device_open", "device_close"},
                        {"buffer_allocate", "buffer_release"},
                        {"buffer_allocate", "buffer_write"},
                        {"buffer_allocate", "buffer_read"},
                        {"executable_compile", "executable_release"},
                        {"executable_load", "executable_release"},
                        {"executable_serialize", "executable_load"},
                        {"executable_load", "executable_serialize"},
                        {"execute", "event_wait"},
                        {"execute", "event_release"},
                        {"execute", "device_open"},
                        {"execute", "buffer_allocate"}};
  for (auto &pr : pairs)
    if (implemented(p, pr.fn)) {
      KIT_CHECK(implemented(p, pr.needs))
          << "implements " << pr.fn << " but not " << pr.needs;
    }
  const v1::CapabilityManifest &m = s.manifest;
  if (m.supports_serialize()) {
    KIT_CHECK(a.executable_serialize && a.executable_load)
        << "the manifest sets supports_serialize, but executable_serialize "
           "or executable_load is NULL";
  }
  if (m.ops_size() && (m.accepts_graph() || m.accepts_lir())) {
    KIT_CHECK(a.executable_compile && a.execute)
        << "the manifest claims " << m.ops_size()
        << " ops, but executable_compile or execute is NULL";
  }

  // The host reports a NULL function as unimplemented, naming it, without
  // calling anything.
  auto expectUnsupported = [&](const char *fn, const Status &st) {
    EXPECT_EQ(st.code(), ErrorCode::Unsupported)
        << fn << " is NULL: " << st.message();
    EXPECT_NE(st.message().find(fn), std::string::npos)
        << "the message does not name " << fn << ": " << st.message();
  };
  backend::Device noDevice;
  backend::Executable noExe;
  if (!a.query_support)
    expectUnsupported("query_support", p.querySupport("", 0).status());
  if (!a.device_open)
    expectUnsupported("device_open", p.openDevice(0).status());
  if (!a.buffer_allocate)
    expectUnsupported("buffer_allocate", p.allocate(noDevice, 16).status());
  if (!a.executable_compile)
    expectUnsupported("executable_compile",
                      p.compile(nullptr, EMBER_PROGRAM_GRAPH, "").status());
  if (!a.executable_serialize)
    expectUnsupported("executable_serialize", p.serialize(noExe).status());
  if (!a.executable_load)
    expectUnsupported("executable_load", p.loadArtifact(nullptr, "").status());
  if (!a.executable_signature)
    expectUnsupported("executable_signature", p.signature(noExe).status());
  if (!a.execute)
    expectUnsupported("execute", p.execute(noDevice, noExe, {}, {}).status());
  if (!a.buffer_import_host) {
    uint8_t host[16];
    expectUnsupported("buffer_import_host",
                      p.importHost(noDevice, host, sizeof(host)).status());
  }
}

void checkManifest() {
  KitState &s = state();
  const v1::CapabilityManifest &m = s.manifest;
  EXPECT_EQ(m.schema_version(), 1u)
      << "CapabilityManifest.schema_version must be 1";
  EXPECT_EQ(m.plugin_name(), s.plugin->name())
      << "CapabilityManifest.plugin_name differs from the table's name";
  std::set<std::string> seen;
  for (auto &c : m.ops()) {
    OpKind k;
    bool known = opKindFromName(c.op(), k);
    KIT_CHECK(known) << "the manifest lists '" << c.op()
                     << "', which is not an Ember op";
    if (known) {
      KIT_CHECK(!(isStorage(k)))
          << "the manifest lists the storage op " << c.op();
    }
    KIT_CHECK(seen.insert(c.op()).second)
        << "the manifest lists " << c.op() << " twice";
    EXPECT_GT(c.dtypes_size(), 0) << c.op() << " lists no dtypes";
    for (auto &d : c.dtypes()) {
      ElemKind ek;
      KIT_CHECK(parseElemKind(d, ek))
          << c.op() << ": unknown dtype '" << d << "'";
    }
    for (auto &d : c.index_dtypes()) {
      ElemKind ek;
      KIT_CHECK(parseElemKind(d, ek))
          << c.op() << ": unknown index dtype '" << d << "'";
    }
    KIT_CHECK(c.context_dtypes_size() == 0 || !c.context().empty())
        << c.op() << ": context_dtypes without a context (name the pattern "
        << "or placement the op runs in)";
    for (auto &d : c.context_dtypes())
      KIT_CHECK(std::find(c.dtypes().begin(), c.dtypes().end(), d) !=
                c.dtypes().end())
          << c.op() << ": context dtype '" << d << "' is not among its dtypes";
    if (c.max_rank()) {
      EXPECT_LE(c.min_rank(), c.max_rank())
          << c.op() << ": min_rank > max_rank";
    }
  }
  // The arithmetics it declares: each one the host's oracle computes.
  for (const std::string &p : m.requant_profiles()) {
    quant::RequantProfile q;
    KIT_CHECK(quant::profileFromName(p, q))
        << "the plugin declares the arithmetic '" << p
        << "', which this host does not know (its manifest's "
           "requant_profiles; known: "
        << quant::profileNames() << ")";
  }
  EXPECT_EQ(m.memory_spaces_size(), m.memory_capacities_size())
      << "memory_spaces and memory_capacities differ in length";
  EXPECT_EQ(m.memory_spaces_size(), m.memory_alignments_size())
      << "memory_spaces and memory_alignments differ in length";
  if (m.accepts_lir()) {
    EXPECT_GT(m.memory_spaces_size(), 0)
        << "accepts_lir is set but no memory space is declared";
  }
  if (m.ops_size()) {
    KIT_CHECK(m.accepts_graph() || m.accepts_lir())
        << "ops are listed but neither accepts_graph nor accepts_lir is set";
  }
  auto n = s.plugin->deviceCount();
  KIT_REQUIRE(n.hasValue()) << n.status().message();
  EXPECT_GE(*n, 1u) << "device_count reports no device";
  if (m.device_count()) {
    EXPECT_EQ(m.device_count(), *n)
        << "CapabilityManifest.device_count differs from device_count()";
  }
}

void checkErrorObjects() {
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  const ember_plugin_api &a = p.api();
  // Provoke errors: each call below is invalid.
  std::vector<std::pair<std::string, ember_error *>> errs;
  {
    ember_blob b{};
    b.struct_size = sizeof(b);
    backend::PluginCallGuard g(p, "get_capabilities");
    errs.push_back({"get_capabilities(NULL)", a.get_capabilities(nullptr, &b)});
  }
  if (a.device_open) {
    ember_device_params dp{};
    dp.struct_size = sizeof(dp);
    dp.device_index = 100000;
    ember_device *d = nullptr;
    backend::PluginCallGuard g(p, "device_open");
    errs.push_back({"device_open(index 100000)", a.device_open(&dp, &d)});
  }
  auto dev = pluginDevice();
  if (a.executable_compile) {
    std::string junk = "\xff\xff\xff\xff this is not a program";
    ember_compile_params cp{};
    cp.struct_size = sizeof(cp);
    cp.program_kind = EMBER_PROGRAM_GRAPH;
    cp.program = junk.data();
    cp.program_size = junk.size();
    ember_executable *x = nullptr;
    backend::PluginCallGuard g(p, "executable_compile");
    errs.push_back(
        {"executable_compile(garbage)",
         a.executable_compile(dev ? (*dev)->get() : nullptr, &cp, &x)});
  }
  int seen = 0;
  for (auto &[what, e] : errs) {
    if (!e) {
      KIT_CHECK(false) << what << " succeeded; expected an error";
      continue;
    }
    ++seen;
    std::string m1, m2;
    int32_t code;
    {
      backend::PluginCallGuard g(p, "error_code/error_message");
      code = a.error_code(e);
      const char *x = a.error_message(e);
      const char *y = a.error_message(e);
      m1 = x ? std::string(x, strnlen(x, 65536)) : "";
      m2 = y ? std::string(y, strnlen(y, 65536)) : "";
    }
    KIT_CHECK(code >= EMBER_STATUS_INVALID_ARGUMENT &&
              code <= EMBER_STATUS_OUT_OF_RANGE)
        << what << ": error code " << code << " is not an ember_status_code";
    KIT_CHECK(!(m1.empty())) << what << ": empty error message";
    EXPECT_EQ(m1, m2) << what << ": error_message changed between calls";
    bool text = true;
    for (char c : m1)
      text = text &&
             (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t');
    KIT_CHECK(text) << what << ": the error message is not text";
    backend::PluginCallGuard g(p, "error_free");
    a.error_free(e);
  }
  note(concat("checked ", seen, " error objects"));
}

// Fresh-process loads with another host table size.
ChildRun loadFresh(size_t hostTableSize, bool runProbe) {
  KitState &s = state();
  std::map<std::string, std::string> req = {
      {"mode", "load"},
      {"plugin", s.config.pluginPath},
      {"host_table_size", std::to_string(hostTableSize)},
      {"capabilities", "1"}};
  std::map<std::string, std::string> files;
  std::vector<Tensor> inputs;
  if (runProbe && s.probe) {
    auto g = backend::serializeGraph(s.probe->sample.fn());
    if (g) {
      files["program.bin"] = *g;
      req["program"] = "program.bin";
      inputs = s.probe->sample.inputs;
    }
  }
  return runFresh(req, files, inputs);
}

} // namespace

void registerAbiTests() {
  addTest("Abi", "Load", [] {
    KitState &s = state();
    note(concat(s.plugin->describe(), ": version ", s.plugin->version(),
                ", ABI ", s.plugin->abiMajor(), ".", s.plugin->abiMinor(),
                ", table ", s.plugin->api().struct_size, " bytes"));
  });
  addTest("Abi", "FunctionTable", checkFunctionTable);
  addTest("Abi", "Manifest", checkManifest);
  addTest("Abi", "ErrorObjects", checkErrorObjects);
  addTest("Abi", "LargerArgStructs", [] { expectAccepted(Form::Larger); });
  addTest("Abi", "UnknownExtensions", [] { expectAccepted(Form::Extended); });
  addTest("Abi", "HeaderOnlyArgStructs", [] { expectRefused(Form::Header); });
  addTest("Abi", "ZeroSizeArgStructs", [] { expectRefused(Form::Zero); });
  addTest("Abi", "NullArgStructs", [] { expectRefused(Form::Null); });
  addTest("Abi", "HostTableLarger", [] {
    ChildRun r = loadFresh(sizeof(ember_host_api) + 64, true);
    KIT_REQUIRE(r.ok()) << "with a host table 64 bytes larger than this "
                           "host's (trailing zeros): "
                        << r.describe();
    if (state().probe) {
      std::string why =
          compareOutputs(r.outputs, state().probe->expected,
                         state().config.rtol, state().config.atol);
      KIT_CHECK(why.empty()) << state().probe->label << ": " << why;
    }
  });
  addTest("Abi", "HostTableSmaller", [] {
    // Only the versions and names; then no allocator. The plugin may refuse
    // (clearly) or work with what there is, but must not read past
    // struct_size.
    for (size_t size : {offsetof(ember_host_api, user_data),
                        offsetof(ember_host_api, alloc)}) {
      ChildRun r = loadFresh(size, false);
      KIT_CHECK(r.signal == 0 && (r.exitStatus == 0 || r.exitStatus == 1))
          << "with a host table of struct_size " << size << ": "
          << r.describe();
      if (r.exitStatus == 1) {
        KIT_CHECK(!(r.reply["error"].empty()))
            << "refused a host table of struct_size " << size
            << " without a message";
      }
      note(concat("host table of ", size, " bytes: ",
                  r.exitStatus == 0 ? "loaded" : "refused: " + r.reply["error"],
                  r.reply.count("capabilities_error")
                      ? "; get_capabilities: " + r.reply["capabilities_error"]
                      : std::string()));
    }
  });
}

} // namespace ember::kit

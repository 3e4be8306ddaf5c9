#include "backend/Plugin.h"

#include "backend/PluginGuard.h"
#include "backend/ProgramProto.h"

#include "ember/backend/v1/artifact.pb.h"
#include "ember/backend/v1/capability.pb.h"
#include "ember/backend/v1/runtime.pb.h"

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <mutex>
#include <unistd.h>
#include <unordered_set>

namespace ember::backend {

// What the host table's user_data points at: one per loaded plugin.
struct PluginHostState {
  std::mutex mu;
  std::unordered_set<void *> live; // blocks handed out by hostAlloc
  std::string name;
  int32_t logLevel = EMBER_LOG_WARNING;
  std::string lastError; // last ERROR-level message (for handshake errors)
};

namespace {

// ---- the host table's callbacks --------------------------------------------

void hostLog(void *user, int32_t level, const char *message) {
  auto *st = static_cast<PluginHostState *>(user);
  std::string msg = message ? std::string(message, strnlen(message, 4096))
                            : std::string("(null)");
  if (level >= EMBER_LOG_ERROR) {
    std::lock_guard<std::mutex> l(st->mu);
    st->lastError = msg;
  }
  if (level < st->logLevel)
    return;
  const char *lv = level >= EMBER_LOG_ERROR     ? "error"
                   : level >= EMBER_LOG_WARNING ? "warning"
                   : level >= EMBER_LOG_INFO    ? "info"
                                                : "debug";
  std::fprintf(stderr, "%s: [%s] %s\n", lv,
               st->name.empty() ? "plugin" : st->name.c_str(), msg.c_str());
}

void *hostAlloc(void *user, size_t size, size_t alignment) {
  auto *st = static_cast<PluginHostState *>(user);
  if (alignment < alignof(std::max_align_t))
    alignment = alignof(std::max_align_t);
  if (alignment & (alignment - 1))
    return nullptr;
  if (size > (size_t(1) << 40))
    return nullptr;
  size_t rounded = (size + alignment - 1) / alignment * alignment;
  void *p = std::aligned_alloc(alignment, rounded ? rounded : alignment);
  if (p) {
    std::lock_guard<std::mutex> l(st->mu);
    st->live.insert(p);
  }
  return p;
}

void hostFree(void *user, void *ptr) {
  if (!ptr)
    return;
  auto *st = static_cast<PluginHostState *>(user);
  {
    std::lock_guard<std::mutex> l(st->mu);
    if (!st->live.erase(ptr))
      return; // not ours: never free foreign memory
  }
  std::free(ptr);
}

// Printable text (no control bytes but tab); UTF-8 is taken as it is.
bool validText(const std::string &s) {
  for (char c : s)
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t')
      return false;
  return true;
}

// Bounded, validated copy of a plugin-provided C string.
bool readPluginString(const char *s, size_t maxLen, std::string &out) {
  if (!s)
    return false;
  size_t n = strnlen(s, maxLen + 1);
  if (n == 0 || n > maxLen)
    return false;
  for (size_t i = 0; i < n; ++i)
    if (static_cast<unsigned char>(s[i]) < 0x20)
      return false;
  out.assign(s, n);
  return true;
}

// The smallest table ABI 1.0 accepts: through get_capabilities (the
// functions every plugin must provide).
constexpr size_t kMinTableSize = offsetof(ember_plugin_api, get_capabilities) +
                                 sizeof(ember_plugin_api::get_capabilities);
constexpr size_t kMaxTableSize = 1 << 20;
constexpr size_t kMaxBlobSize = size_t(4) << 30;

// The size of the ABI 1.x function table of each minor version: every
// minor version appends to the table, so a table's struct_size and its
// claimed minor version must agree. A new minor version adds its line here.
static_assert(EMBER_ABI_VERSION_MAJOR == 1 && EMBER_ABI_VERSION_MINOR == 5,
              "a new ABI version: add its table size to tableSizeOfMinor");
size_t tableSizeOfMinor(unsigned minor) {
  switch (minor) {
  case 0:
    return offsetof(ember_plugin_api, executable_signature);
  case 1:
    return offsetof(ember_plugin_api, buffer_import_host);
  case 2:
    return offsetof(ember_plugin_api, executable_emit);
  case 3:
    return offsetof(ember_plugin_api, device_describe);
  case 4:
  case 5: // 1.5 added a program kind, no entries
    return sizeof(ember_plugin_api);
  }
  return 0;
}

} // namespace

void Plugin::log(int32_t level, const std::string &message) const {
  hostLog(state_.get(), level, message.c_str());
}

// ---- loading ----------------------------------------------------------------
Plugin::Plugin() : handles_(newHandles()) {}

std::string Plugin::describe() const {
  if (name_.empty())
    return concat("plugin ", path_);
  return concat("plugin '", name_, "' (", path_, ")");
}

Expected<std::shared_ptr<Plugin>> Plugin::load(const std::string &path,
                                               const LoadOptions &o) {
  guard::installCrashHandlers();
  std::shared_ptr<Plugin> p(new Plugin());
  p->path_ = path;
  p->logLevel_ = o.logLevel;
  if (path.find('/') == std::string::npos)
    return invalid("plugin path '", path, "' must contain a '/' (use ./", path,
                   " for a file in the current folder)");
  {
    guard::LoadingScope loading(path.c_str());
    p->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  }
  if (!p->handle_) {
    const char *e = dlerror();
    return makeError(ErrorCode::Backend, "cannot load plugin ", path, ": ",
                     e ? e : "unknown dlopen error");
  }
  p->slot_ = guard::registerPlugin(p->handle_, path);
  EMBER_TRY(p->init(o));
  return p;
}

Status Plugin::init(const LoadOptions &o) {
  dlerror();
  void *sym = dlsym(handle_, EMBER_PLUGIN_ENTRY_SYMBOL);
  if (!sym)
    return makeError(ErrorCode::Backend, "plugin ", path_, " does not export '",
                     EMBER_PLUGIN_ENTRY_SYMBOL,
                     "' (not an Ember backend, or its symbols are hidden; "
                     "see docs/writing-a-backend.md)");
  auto entry = reinterpret_cast<ember_plugin_entry_fn>(sym);

  state_ = std::make_unique<PluginHostState>();
  PluginHostState *st = state_.get();
  st->logLevel = logLevel_;
  st->name = path_;
  host_.struct_size = sizeof(ember_host_api);
  host_.abi_major = o.hostAbiMajor ? o.hostAbiMajor : EMBER_ABI_VERSION_MAJOR;
  host_.abi_minor = o.hostAbiMajor ? o.hostAbiMinor : EMBER_ABI_VERSION_MINOR;
  host_.host_name = "ember";
  host_.host_version = "0.1.0";
  host_.user_data = st;
  host_.log = hostLog;
  host_.alloc = hostAlloc;
  host_.free = hostFree;
  // The table the plugin sees: possibly larger than ours (trailing zeros,
  // as a newer host would send) or smaller (an older host).
  size_t hostSize = o.hostTableSize ? o.hostTableSize : sizeof(ember_host_api);
  hostStorage_.assign(std::max(hostSize, sizeof(ember_host_api)), 0);
  // Only what the claimed size covers: past it, a smaller (older) table
  // has nothing, so the plugin must find zeros there, not our callbacks.
  std::memcpy(hostStorage_.data(), &host_,
              std::min(hostSize, sizeof(ember_host_api)));
  auto *hostView = reinterpret_cast<ember_host_api *>(hostStorage_.data());
  hostView->struct_size = hostSize;

  const ember_plugin_api *table = nullptr;
  {
    PluginCallGuard g(*this, EMBER_PLUGIN_ENTRY_SYMBOL);
    table = entry(hostView);
  }
  if (!table) {
    std::string why;
    {
      std::lock_guard<std::mutex> l(st->mu);
      why = st->lastError;
    }
    return makeError(ErrorCode::Backend, "plugin ", path_,
                     " refused this host (ABI ", host_.abi_major, ".",
                     host_.abi_minor, ")",
                     why.empty() ? std::string() : concat(": ", why));
  }
  size_t size = 0;
  {
    PluginCallGuard g(*this, "reading the function table");
    size = table->struct_size;
    if (size >= offsetof(ember_plugin_api, abi_minor) + sizeof(uint16_t)) {
      abiMajor_ = table->abi_major;
      abiMinor_ = table->abi_minor;
    }
  }
  if (size < kMinTableSize || size > kMaxTableSize)
    return makeError(ErrorCode::Backend, "plugin ", path_,
                     " returned a function table with struct_size ", size,
                     "; ABI ", EMBER_ABI_VERSION_MAJOR, ".x needs between ",
                     kMinTableSize, " and ", kMaxTableSize,
                     " bytes (set struct_size to sizeof(ember_plugin_api); "
                     "a corrupt table or the wrong header)");
  if (abiMajor_ < EMBER_ABI_VERSION_MAJOR)
    return makeError(ErrorCode::Backend, "plugin ", path_,
                     " is too old: built for ABI ", abiMajor_, ".", abiMinor_,
                     ", this host loads ABI ", EMBER_ABI_VERSION_MAJOR,
                     ".x plugins (rebuild it against the installed SDK)");
  if (abiMajor_ > EMBER_ABI_VERSION_MAJOR)
    return makeError(ErrorCode::Backend, "plugin ", path_,
                     " is too new: built for ABI ", abiMajor_, ".", abiMinor_,
                     ", this host loads ABI ", EMBER_ABI_VERSION_MAJOR,
                     ".x plugins (update Ember)");
  {
    PluginCallGuard g(*this, "reading the function table");
    std::memcpy(&api_, table, std::min(size, sizeof(api_)));
    // What a shorter (older) table does not have reads as NULL.
    if (size < sizeof(api_))
      std::memset(reinterpret_cast<char *>(&api_) + size, 0,
                  sizeof(api_) - size);
    api_.struct_size = size;
    if (!readPluginString(api_.name, 128, name_))
      return makeError(ErrorCode::Backend, "plugin ", path_,
                       " has no valid name in its function table (NULL, "
                       "empty, too long or not text)");
    if (!readPluginString(api_.version, 128, version_))
      return makeError(ErrorCode::Backend, describe(),
                       " has no valid version string in its function table");
  }
  st->name = name_;
  guard::nameSlot(slot_, name_);
  checkVersionClaim();
  if (!api_.error_code || !api_.error_message || !api_.error_free)
    return makeError(ErrorCode::Backend, describe(),
                     " does not implement error_code, error_message and "
                     "error_free (required)");
  if (!api_.get_capabilities)
    return makeError(ErrorCode::Backend, describe(),
                     " does not implement get_capabilities (required)");
  if (api_.plugin_init) {
    ember_error *e;
    {
      PluginCallGuard g(*this, "plugin_init");
      e = api_.plugin_init(hostView);
    }
    Status s = takeError(e, "plugin_init");
    if (!s.isOk())
      return makeError(ErrorCode::Backend, describe(),
                       " failed to initialize: ", s.message());
  }
  initialized_ = true;
  return Status::ok();
}

Plugin::~Plugin() {
  if (initialized_ && api_.plugin_shutdown && !hung()) {
    PluginCallGuard g(*this, "plugin_shutdown");
    api_.plugin_shutdown();
  }
  // Unloading is skipped on purpose: a plugin may leave threads or atexit
  // handlers behind, and unloading code they still run is a crash at exit.
}

// A version claim the table's size contradicts: the host goes by
// struct_size (fields beyond it read as NULL), but such a plugin was built
// or filled in wrongly, and the mismatch usually hides another mistake.
void Plugin::checkVersionClaim() {
  size_t size = api_.struct_size;
  size_t want = tableSizeOfMinor(abiMinor_);
  std::string what;
  if (abiMinor_ <= EMBER_ABI_VERSION_MINOR && size != want) {
    std::string sizeOf;
    for (unsigned m = 0; m <= EMBER_ABI_VERSION_MINOR; ++m)
      if (tableSizeOfMinor(m) == size)
        sizeOf = concat(" (the size of ABI ", EMBER_ABI_VERSION_MAJOR, ".", m,
                        "'s)");
    what = concat("claims ABI ", abiMajor_, ".", abiMinor_,
                  ", whose function table is ", want,
                  " bytes, but its table has struct_size ", size, sizeOf);
  } else if (abiMinor_ > EMBER_ABI_VERSION_MINOR &&
             size <= sizeof(ember_plugin_api)) {
    what = concat("claims ABI ", abiMajor_, ".", abiMinor_,
                  ", but its function table has struct_size ", size,
                  ", no larger than this host's ABI ", EMBER_ABI_VERSION_MAJOR,
                  ".", EMBER_ABI_VERSION_MINOR,
                  " table (every minor version appends to the table)");
  }
  if (what.empty())
    return;
  warnings_.push_back(
      concat(describe(), " ", what,
             ": set abi_minor to EMBER_ABI_VERSION_MINOR and struct_size to "
             "sizeof(ember_plugin_api) of the header the plugin is built "
             "with"));
  if (logLevel_ <= EMBER_LOG_WARNING)
    std::fprintf(stderr, "warning: %s\n", warnings_.back().c_str());
}

Status Plugin::takeError(ember_error *e, const char *call) {
  if (!e)
    return Status::ok();
  int32_t code;
  std::string msg;
  {
    PluginCallGuard g(*this, "error_code/error_message");
    code = api_.error_code(e);
    const char *m = api_.error_message(e);
    msg = m ? std::string(m, strnlen(m, 64 * 1024)) : std::string();
  }
  {
    PluginCallGuard g(*this, "error_free");
    api_.error_free(e);
  }
  if (msg.empty())
    msg = "(no message)";
  ErrorCode c = ErrorCode::Backend;
  switch (code) {
  case EMBER_STATUS_INVALID_ARGUMENT:
  case EMBER_STATUS_OUT_OF_RANGE:
    c = ErrorCode::Invalid;
    break;
  case EMBER_STATUS_UNSUPPORTED:
    c = ErrorCode::Unsupported;
    break;
  case EMBER_STATUS_TIMEOUT:
    c = ErrorCode::Timeout;
    break;
  case EMBER_STATUS_OK:
    // An error object claiming success is itself a bug.
    return makeError(ErrorCode::Backend, describe(),
                     " returned an error "
                     "object with status OK from ",
                     call, ": ", msg);
  default:
    break;
  }
  return Status(
      c, concat(msg, " (", name_.empty() ? path_ : name_, ": ", call, ")"));
}

Expected<std::string> Plugin::takeBlob(ember_blob &b, const char *call) {
  PluginHostState *st = state_.get();
  if (!b.data) {
    if (b.size != 0)
      return makeError(ErrorCode::Backend, describe(), " returned from ", call,
                       " a NULL blob of ", b.size, " bytes");
    return std::string();
  }
  {
    std::lock_guard<std::mutex> l(st->mu);
    if (!st->live.count(b.data))
      return makeError(ErrorCode::Backend, describe(), " returned from ", call,
                       " a blob not allocated with the host's allocator");
  }
  if (b.size > kMaxBlobSize) {
    hostFree(st, b.data);
    return makeError(ErrorCode::Backend, describe(), " returned from ", call,
                     " an implausible blob of ", b.size, " bytes");
  }
  std::string out;
  {
    PluginCallGuard g(*this, call);
    out.assign(static_cast<const char *>(b.data), b.size);
  }
  hostFree(st, b.data);
  b.data = nullptr;
  return out;
}

// ---- typed calls ------------------------------------------------------------
#define EMBER_REQUIRE_FN(fn)                                                   \
  do {                                                                         \
    if (!api_.fn)                                                              \
      return unsupported(describe(), " does not implement " #fn);              \
  } while (0)

Expected<v1::CapabilityManifest> Plugin::capabilities() {
  ember_capabilities_params p{};
  p.struct_size = sizeof(p);
  ember_blob b{};
  b.struct_size = sizeof(b);
  ember_error *e;
  {
    PluginCallGuard g(*this, "get_capabilities");
    e = api_.get_capabilities(&p, &b);
  }
  EMBER_TRY(takeError(e, "get_capabilities"));
  EMBER_ASSIGN(std::string bytes, takeBlob(b, "get_capabilities"));
  v1::CapabilityManifest m;
  if (!m.ParseFromString(bytes))
    return makeError(ErrorCode::Backend, describe(),
                     " returned a capability manifest that is not a valid "
                     "ember.backend.v1.CapabilityManifest (",
                     bytes.size(), " bytes)");
  if (m.schema_version() > 1)
    return makeError(ErrorCode::Backend, describe(),
                     " returned a capability manifest of schema version ",
                     m.schema_version(), "; this host reads version 1");
  return m;
}

Expected<v1::SupportReport> Plugin::querySupport(const std::string &graph,
                                                 size_t numNodes,
                                                 const std::string &options) {
  EMBER_REQUIRE_FN(query_support);
  ember_query_params p{};
  p.struct_size = sizeof(p);
  ember_query_options qo{};
  if (!options.empty()) {
    qo.ext.struct_size = sizeof(qo);
    qo.ext.type = EMBER_EXT_QUERY_OPTIONS;
    qo.options = options.data();
    qo.options_size = options.size();
    p.next = &qo.ext;
  }
  p.graph = graph.data();
  p.graph_size = graph.size();
  ember_blob b{};
  b.struct_size = sizeof(b);
  ember_error *e;
  {
    PluginCallGuard g(*this, "query_support");
    e = api_.query_support(&p, &b);
  }
  EMBER_TRY(takeError(e, "query_support"));
  EMBER_ASSIGN(std::string bytes, takeBlob(b, "query_support"));
  v1::SupportReport r;
  if (!r.ParseFromString(bytes))
    return makeError(ErrorCode::Backend, describe(),
                     " returned a support report that is not a valid "
                     "ember.backend.v1.SupportReport");
  for (auto &n : r.nodes())
    if (n.node() < 0 || size_t(n.node()) >= numNodes)
      return makeError(ErrorCode::Backend, describe(),
                       " answered query_support for node #", n.node(),
                       ", but the graph has ", numNodes, " nodes");
  return r;
}

Expected<uint32_t> Plugin::deviceCount() {
  if (!api_.device_count)
    return uint32_t(1);
  uint32_t n = 0;
  ember_error *e;
  {
    PluginCallGuard g(*this, "device_count");
    e = api_.device_count(&n);
  }
  EMBER_TRY(takeError(e, "device_count"));
  return n;
}

namespace {
bool finiteNonNegative(double x) { return std::isfinite(x) && x >= 0; }
} // namespace

Expected<v1::DeviceDescription>
Plugin::describeDevice(uint32_t index, const std::string &options) {
  EMBER_REQUIRE_FN(device_describe);
  ember_device_query_params p{};
  p.struct_size = sizeof(p);
  p.device_index = index;
  p.options = options.empty() ? nullptr : options.data();
  p.options_size = options.size();
  ember_blob b{};
  b.struct_size = sizeof(b);
  ember_error *e;
  {
    PluginCallGuard g(*this, "device_describe");
    e = api_.device_describe(&p, &b);
  }
  EMBER_TRY(takeError(e, "device_describe"));
  EMBER_ASSIGN(std::string bytes, takeBlob(b, "device_describe"));
  v1::DeviceDescription d;
  auto bad = [&](const std::string &what) {
    return makeError(ErrorCode::Backend, describe(),
                     " answered device_describe for device ", index, " with ",
                     what);
  };
  if (!d.ParseFromString(bytes))
    return bad(concat("bytes that are not an ember.backend.v1."
                      "DeviceDescription (",
                      bytes.size(), " bytes)"));
  if (d.schema_version() > 1)
    return bad(concat("schema version ", d.schema_version(),
                      "; this host reads version 1"));
  if (d.concurrency() > 4096)
    return bad(concat("a concurrency of ", d.concurrency(),
                      " (at most 4096 executions at once)"));
  if (!finiteNonNegative(d.clock_hz()) ||
      !finiteNonNegative(d.transfer_bytes_per_second()) ||
      !finiteNonNegative(d.shared_bytes_per_second()))
    return bad("a clock, transfer rate or shared bandwidth that is negative "
               "or not finite");
  if (d.simulated() && d.clock_hz() <= 0)
    return bad("simulated timing but no clock_hz");
  if (d.name().size() > 256 || !validText(d.name()))
    return bad("a name that is not text of at most 256 bytes");
  return d;
}

Expected<v1::CostEstimate> Plugin::estimateCost(uint32_t index,
                                                const std::string &graph,
                                                size_t numNodes,
                                                const std::string &options) {
  EMBER_REQUIRE_FN(estimate_cost);
  ember_cost_params p{};
  p.struct_size = sizeof(p);
  p.device_index = index;
  p.program_kind = EMBER_PROGRAM_GRAPH;
  p.program = graph.data();
  p.program_size = graph.size();
  p.options = options.empty() ? nullptr : options.data();
  p.options_size = options.size();
  ember_blob b{};
  b.struct_size = sizeof(b);
  ember_error *e;
  {
    PluginCallGuard g(*this, "estimate_cost");
    e = api_.estimate_cost(&p, &b);
  }
  EMBER_TRY(takeError(e, "estimate_cost"));
  EMBER_ASSIGN(std::string bytes, takeBlob(b, "estimate_cost"));
  v1::CostEstimate c;
  auto bad = [&](const std::string &what) {
    return makeError(ErrorCode::Backend, describe(),
                     " answered estimate_cost for device ", index, " with ",
                     what);
  };
  if (!c.ParseFromString(bytes))
    return bad(concat("bytes that are not an ember.backend.v1.CostEstimate (",
                      bytes.size(), " bytes)"));
  if (c.schema_version() > 1)
    return bad(concat("schema version ", c.schema_version(),
                      "; this host reads version 1"));
  if (!finiteNonNegative(c.seconds()) || c.seconds() > 1e9)
    return bad(concat("a time of ", c.seconds(),
                      " s (not a finite, non-negative duration)"));
  if (!finiteNonNegative(c.memory_traffic_bytes()))
    return bad(
        concat("memory traffic of ", c.memory_traffic_bytes(), " bytes"));
  for (const v1::NodeCost &n : c.nodes()) {
    if (n.node() < 0 || size_t(n.node()) >= numNodes)
      return bad(concat("a cost for node #", n.node(), ", but the graph has ",
                        numNodes, " nodes"));
    if (!finiteNonNegative(n.seconds()) || n.seconds() > 1e9)
      return bad(concat("a time of ", n.seconds(), " s for node #", n.node()));
    if (n.group() < -1)
      return bad(concat("group ", n.group(), " for node #", n.node(),
                        " (-1 or a group id)"));
  }
  if (c.basis().size() > 4096 || !validText(c.basis()))
    return bad("a basis that is not text of at most 4096 bytes");
  return c;
}

Expected<Device> Plugin::openDevice(uint32_t index) {
  EMBER_REQUIRE_FN(device_open);
  ember_device_params p{};
  p.struct_size = sizeof(p);
  p.device_index = index;
  ember_device *d = nullptr;
  ember_error *e;
  {
    PluginCallGuard g(*this, "device_open");
    e = api_.device_open(&p, &d);
  }
  EMBER_TRY(takeError(e, "device_open"));
  if (!d)
    return makeError(ErrorCode::Backend, describe(),
                     " returned no device from device_open");
  EMBER_TRY(checkFresh(HandleKind::Device, d, "device_open"));
  return Device(shared_from_this(), d);
}

Expected<Buffer> Plugin::allocate(Device &d, uint64_t bytes) {
  EMBER_REQUIRE_FN(buffer_allocate);
  ember_buffer_params p{};
  p.struct_size = sizeof(p);
  p.size_bytes = bytes ? bytes : 1;
  p.memory_kind = EMBER_MEMORY_HOST_VISIBLE;
  ember_buffer *b = nullptr;
  ember_error *e;
  {
    PluginCallGuard g(*this, "buffer_allocate");
    e = api_.buffer_allocate(d.get(), &p, &b);
  }
  return adoptBuffer(e, b, "buffer_allocate", p.size_bytes);
}

Expected<Buffer> Plugin::adoptBuffer(ember_error *e, ember_buffer *b,
                                     const char *call, uint64_t bytes) {
  EMBER_TRY(takeError(e, call));
  if (!b)
    return makeError(ErrorCode::Backend, describe(),
                     " returned no buffer from ", call);
  EMBER_TRY(checkFresh(HandleKind::Buffer, b, call));
  return Buffer(shared_from_this(), b, bytes);
}

Expected<Buffer> Plugin::importHost(Device &d, void *ptr, uint64_t bytes) {
  EMBER_REQUIRE_FN(buffer_import_host);
  ember_host_buffer_params p{};
  p.struct_size = sizeof(p);
  p.host_ptr = ptr;
  p.size_bytes = bytes;
  ember_buffer *b = nullptr;
  ember_error *e;
  {
    PluginCallGuard g(*this, "buffer_import_host");
    e = api_.buffer_import_host(d.get(), &p, &b);
  }
  return adoptBuffer(e, b, "buffer_import_host", bytes);
}

Expected<Executable> Plugin::compile(Device *d, uint32_t kind,
                                     const std::string &program,
                                     const std::string &options) {
  EMBER_REQUIRE_FN(executable_compile);
  ember_compile_params p{};
  p.struct_size = sizeof(p);
  p.program_kind = kind;
  p.program = program.data();
  p.program_size = program.size();
  p.options = options.empty() ? nullptr : options.data();
  p.options_size = options.size();
  ember_executable *x = nullptr;
  ember_error *e;
  {
    PluginCallGuard g(*this, "executable_compile");
    e = api_.executable_compile(d ? d->get() : nullptr, &p, &x);
  }
  EMBER_TRY(takeError(e, "executable_compile"));
  if (!x)
    return makeError(ErrorCode::Backend, describe(),
                     " returned no executable from executable_compile");
  EMBER_TRY(checkFresh(HandleKind::Executable, x, "executable_compile"));
  return Executable(shared_from_this(), x);
}

Expected<std::string> Plugin::serialize(Executable &x) {
  EMBER_REQUIRE_FN(executable_serialize);
  ember_blob b{};
  b.struct_size = sizeof(b);
  ember_error *e;
  {
    PluginCallGuard g(*this, "executable_serialize");
    e = api_.executable_serialize(x.get(), &b);
  }
  EMBER_TRY(takeError(e, "executable_serialize"));
  return takeBlob(b, "executable_serialize");
}

Expected<Executable> Plugin::loadArtifact(Device *d,
                                          const std::string &artifact) {
  EMBER_REQUIRE_FN(executable_load);
  ember_executable *x = nullptr;
  ember_error *e;
  {
    PluginCallGuard g(*this, "executable_load");
    e = api_.executable_load(d ? d->get() : nullptr, artifact.data(),
                             artifact.size(), &x);
  }
  EMBER_TRY(takeError(e, "executable_load"));
  if (!x)
    return makeError(ErrorCode::Backend, describe(),
                     " returned no executable from executable_load");
  EMBER_TRY(checkFresh(HandleKind::Executable, x, "executable_load"));
  return Executable(shared_from_this(), x);
}

Expected<Plugin::Signature> Plugin::signature(Executable &x) {
  EMBER_REQUIRE_FN(executable_signature);
  ember_blob b{};
  b.struct_size = sizeof(b);
  ember_error *e;
  {
    PluginCallGuard g(*this, "executable_signature");
    e = api_.executable_signature(x.get(), &b);
  }
  EMBER_TRY(takeError(e, "executable_signature"));
  EMBER_ASSIGN(std::string bytes, takeBlob(b, "executable_signature"));
  v1::ArtifactHeader h;
  if (!h.ParseFromString(bytes))
    return makeError(ErrorCode::Backend, describe(),
                     " returned a signature that is not an ArtifactHeader");
  Signature sig;
  for (auto &t : h.inputs()) {
    auto ty = fromProto(t);
    if (!ty)
      return makeError(ErrorCode::Backend, describe(),
                       " signature: ", ty.status().message());
    sig.inputs.push_back(*ty);
  }
  for (auto &t : h.outputs()) {
    auto ty = fromProto(t);
    if (!ty)
      return makeError(ErrorCode::Backend, describe(),
                       " signature: ", ty.status().message());
    sig.outputs.push_back(*ty);
  }
  sig.inputNames.assign(h.input_names().begin(), h.input_names().end());
  sig.outputNames.assign(h.output_names().begin(), h.output_names().end());
  return sig;
}

Expected<Event> Plugin::execute(Device &d, Executable &x,
                                const std::vector<Buffer *> &inputs,
                                const std::vector<Buffer *> &outputs) {
  EMBER_REQUIRE_FN(execute);
  if (!api_.event_wait)
    return unsupported(describe(), " implements execute but not event_wait");
  std::vector<ember_buffer *> in, out;
  for (auto *b : inputs)
    in.push_back(b->get());
  for (auto *b : outputs)
    out.push_back(b->get());
  ember_execute_params p{};
  p.struct_size = sizeof(p);
  p.executable = x.get();
  p.inputs = in.data();
  p.num_inputs = in.size();
  p.outputs = out.data();
  p.num_outputs = out.size();
  ember_event *ev = nullptr;
  ember_error *e;
  {
    PluginCallGuard g(*this, "execute");
    e = api_.execute(d.get(), &p, &ev);
  }
  EMBER_TRY(takeError(e, "execute"));
  if (!ev)
    return makeError(ErrorCode::Backend, describe(),
                     " returned no event from execute");
  EMBER_TRY(checkFresh(HandleKind::Event, ev, "execute"));
  return Event(shared_from_this(), ev);
}

Expected<std::string> Plugin::emit(Executable &x, const std::string &format) {
  EMBER_REQUIRE_FN(executable_emit);
  ember_blob b{};
  b.struct_size = sizeof(b);
  ember_error *e;
  {
    PluginCallGuard g(*this, "executable_emit");
    e = api_.executable_emit(x.get(), format.c_str(), &b);
  }
  EMBER_TRY(takeError(e, "executable_emit"));
  return takeBlob(b, "executable_emit");
}

Expected<std::string> Plugin::profile(Event &ev) {
  if (!api_.event_profile)
    return std::string();
  ember_blob b{};
  b.struct_size = sizeof(b);
  ember_error *e;
  {
    PluginCallGuard g(*this, "event_profile");
    e = api_.event_profile(ev.get(), &b);
  }
  EMBER_TRY(takeError(e, "event_profile"));
  return takeBlob(b, "event_profile");
}

Status Plugin::waitForExecution(Event &ev, std::vector<Buffer> &in,
                                std::vector<Buffer> &out) {
  double limit = callTimeout();
  if (limit <= 0)
    return ev.wait();
  Status s = ev.wait(uint64_t(limit * 1e9));
  if (s.code() != ErrorCode::Timeout)
    return s;
  // Still running: nothing it uses may be released, and the plugin is
  // not to be called to release anything again.
  std::vector<Buffer> bufs;
  for (auto *v : {&in, &out})
    for (Buffer &b : *v)
      bufs.push_back(std::move(b));
  in.clear();
  out.clear();
  abandon(std::move(ev), std::move(bufs));
  markHung();
  return makeError(ErrorCode::Timeout, describe(),
                   ": execute did not complete within ", limit,
                   " s (its event never signalled; event_wait returned "
                   "TIMEOUT; --timeout=SEC raises the limit)");
}

Expected<std::vector<Tensor>>
Plugin::run(Device &d, Executable &x, const std::vector<Tensor> &inputs,
            const std::vector<Type> &outTypes, RunBuffers *reuse,
            std::string *profileOut, std::vector<const void *> *imported) {
  std::vector<const Tensor *> ptrs;
  for (const Tensor &t : inputs)
    ptrs.push_back(&t);
  return run(d, x, ptrs, outTypes, reuse, profileOut, imported);
}

Expected<std::vector<Tensor>>
Plugin::run(Device &d, Executable &x, const std::vector<const Tensor *> &inputs,
            const std::vector<Type> &outTypes, RunBuffers *reuse,
            std::string *profileOut, std::vector<const void *> *imported) {
  if (imported)
    imported->clear();
  if (api_.buffer_import_host) {
    // Zero-copy: the tensors are the buffers. Any refusal (an empty
    // tensor, memory the plugin cannot use) falls back to copying.
    std::vector<Tensor> results;
    for (auto &t : outTypes)
      results.emplace_back(t);
    const size_t total = inputs.size() + results.size();
    std::vector<Buffer> bufs;
    for (size_t i = 0; i < total; ++i) {
      const Tensor &t =
          i < inputs.size() ? *inputs[i] : results[i - inputs.size()];
      if (!t.bytes())
        break;
      // (execute only reads its input buffers.)
      Expected<Buffer> b =
          importHost(d, const_cast<uint8_t *>(t.raw()), t.bytes());
      if (!b)
        break;
      bufs.push_back(std::move(*b));
    }
    if (bufs.size() == total) {
      std::vector<Buffer *> in, out;
      for (size_t i = 0; i < total; ++i)
        (i < inputs.size() ? in : out).push_back(&bufs[i]);
      EMBER_ASSIGN(Event ev, execute(d, x, in, out));
      std::vector<Buffer> none;
      Status w = waitForExecution(ev, bufs, none);
      if (w.code() == ErrorCode::Timeout) // the plugin may still write them
        new std::vector<Tensor>(std::move(results));
      EMBER_TRY(w);
      if (profileOut) {
        EMBER_ASSIGN(*profileOut, profile(ev));
      }
      if (imported) {
        for (const Tensor *t : inputs)
          imported->push_back(t->raw());
        for (const Tensor &t : results)
          imported->push_back(t.raw());
      }
      return results;
    }
  }
  RunBuffers local;
  RunBuffers &rb = reuse ? *reuse : local;
  if (rb.in.size() != inputs.size() || rb.out.size() != outTypes.size()) {
    rb.in.clear();
    rb.out.clear();
    for (const Tensor *t : inputs) {
      EMBER_ASSIGN(Buffer b, allocate(d, t->bytes()));
      rb.in.push_back(std::move(b));
    }
    for (auto &t : outTypes) {
      EMBER_ASSIGN(Buffer b, allocate(d, t.sizeInBytes()));
      rb.out.push_back(std::move(b));
    }
  }
  std::vector<Buffer> &inBufs = rb.in, &outBufs = rb.out;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor &t = *inputs[i];
    if (inBufs[i].size() < t.bytes())
      return invalid("input ", i, " has ", t.bytes(), " bytes, its buffer ",
                     inBufs[i].size());
    if (t.bytes())
      EMBER_TRY(inBufs[i].write(0, t.raw(), t.bytes()));
  }
  std::vector<Buffer *> in, out;
  for (auto &b : inBufs)
    in.push_back(&b);
  for (auto &b : outBufs)
    out.push_back(&b);
  EMBER_ASSIGN(Event ev, execute(d, x, in, out));
  EMBER_TRY(waitForExecution(ev, inBufs, outBufs));
  if (profileOut) {
    EMBER_ASSIGN(*profileOut, profile(ev));
  }
  std::vector<Tensor> results;
  for (size_t i = 0; i < outTypes.size(); ++i) {
    Tensor t(outTypes[i]);
    if (t.bytes())
      EMBER_TRY(outBufs[i].read(0, t.raw(), t.bytes()));
    results.push_back(std::move(t));
  }
  return results;
}

} // namespace ember::backend

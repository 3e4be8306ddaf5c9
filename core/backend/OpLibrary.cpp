// Loading op libraries (ember/op_library.h): dlopen, the entry point, the
// two-way version handshake, the checks of the library's table and of each
// op's definition, the host table's callbacks (log, errors, memory), and
// the registration of the ops. Every problem is an error naming the
// library's path (and, once known, its name) and the cause.
#include "backend/OpLibraryInternal.h"

#include "backend/PluginGuard.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <sys/stat.h>

// The error objects the host makes for libraries (opaque to them).
struct ember_op_error {
  int32_t code = 0;
  std::string message;
};

namespace ember::backend {

namespace oplib {

std::string Library::describe() const {
  return name.empty() ? concat("op library ", path)
                      : concat("op library '", name, "' (", path, ")");
}

Status Library::take(ember_op_error *e, const std::string &what) {
  if (!e)
    return Status::ok();
  {
    std::lock_guard<std::mutex> l(mu);
    if (!errors.erase(e))
      return makeError(ErrorCode::Backend, describe(), ": ", what,
                       " returned an error the host did not make (errors "
                       "come from host->error_new)");
  }
  std::unique_ptr<ember_op_error> owned(e);
  ErrorCode code = owned->code == EMBER_OP_INVALID_ARGUMENT ? ErrorCode::Invalid
                   : owned->code == EMBER_OP_UNSUPPORTED
                       ? ErrorCode::Unsupported
                       : ErrorCode::Backend;
  if (owned->code == EMBER_OP_OK)
    return makeError(ErrorCode::Backend, describe(), ": ", what,
                     " returned an error with code 0 (OK): ", owned->message);
  return makeError(code, describe(), ": ", what, " failed: ", owned->message);
}

bool Library::release(void *p) {
  {
    std::lock_guard<std::mutex> l(mu);
    if (!blocks.erase(p))
      return false;
  }
  std::free(p);
  return true;
}

namespace {

// ---- the host table's callbacks ---------------------------------------------
void hostLog(void *user, int32_t level, const char *message) {
  auto *lib = static_cast<Library *>(user);
  std::string msg = message ? std::string(message, strnlen(message, 4096))
                            : std::string("(null)");
  if (level >= EMBER_OP_LOG_ERROR) {
    std::lock_guard<std::mutex> l(lib->mu);
    lib->lastLog = msg;
  }
  if (level < EMBER_OP_LOG_WARNING)
    return;
  std::fprintf(stderr, "%s: [%s] %s\n",
               level >= EMBER_OP_LOG_ERROR ? "error" : "warning",
               lib->name.empty() ? lib->path.c_str() : lib->name.c_str(),
               msg.c_str());
}

ember_op_error *hostErrorNew(void *user, int32_t code, const char *message) {
  auto *lib = static_cast<Library *>(user);
  auto *e = new ember_op_error();
  e->code = code;
  e->message = message ? std::string(message, strnlen(message, 4096))
                       : std::string("(no message)");
  for (char &c : e->message)
    if (static_cast<unsigned char>(c) < 0x20)
      c = ' ';
  std::lock_guard<std::mutex> l(lib->mu);
  lib->errors.insert(e);
  return e;
}

void *hostAlloc(void *user, size_t size, size_t alignment) {
  auto *lib = static_cast<Library *>(user);
  if (alignment < alignof(std::max_align_t))
    alignment = alignof(std::max_align_t);
  if ((alignment & (alignment - 1)) || size > (size_t(1) << 32))
    return nullptr;
  size_t rounded = (size + alignment - 1) / alignment * alignment;
  void *p = std::aligned_alloc(alignment, rounded ? rounded : alignment);
  if (p) {
    std::lock_guard<std::mutex> l(lib->mu);
    lib->blocks.insert(p);
  }
  return p;
}

void hostFree(void *user, void *ptr) {
  if (ptr)
    (void)static_cast<Library *>(user)->release(ptr); // foreign: left alone
}

// ---- checks -----------------------------------------------------------------
// A bounded copy of a library's C string of printable bytes; false when it
// is NULL, empty (unless allowed), too long or has control bytes.
bool readString(const char *s, size_t maxLen, std::string &out,
                bool allowEmpty = false) {
  if (!s)
    return false;
  size_t n = strnlen(s, maxLen + 1);
  if (n > maxLen || (n == 0 && !allowEmpty))
    return false;
  for (size_t i = 0; i < n; ++i)
    if (static_cast<unsigned char>(s[i]) < 0x20)
      return false;
  out.assign(s, n);
  return true;
}

bool identifier(const std::string &s) {
  for (char c : s)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_'))
      return false;
  return !s.empty();
}

constexpr size_t kMinTable =
    offsetof(ember_op_library, ops) + sizeof(ember_op_library::ops);
constexpr size_t kMinDef =
    offsetof(ember_op_def, test_cases) + sizeof(ember_op_def::test_cases);
constexpr size_t kMaxStruct = size_t(1) << 20;
constexpr size_t kMaxOps = 4096;

Status checkTable(const Library &lib, const ember_op_library *t) {
  const std::string who = lib.describe();
  if (t->struct_size < offsetof(ember_op_library, abi_minor) + 2)
    return makeError(ErrorCode::Backend, who, ": its table's struct_size (",
                     t->struct_size, ") is too small to hold a version");
  if (t->abi_major != EMBER_OP_LIBRARY_VERSION_MAJOR)
    return makeError(ErrorCode::Backend, who, " was built for op library ABI ",
                     t->abi_major, ".", t->abi_minor, "; this Ember loads ABI ",
                     EMBER_OP_LIBRARY_VERSION_MAJOR,
                     ".x (rebuild it against this SDK's ember/op_library.h)");
  if (t->struct_size < kMinTable || t->struct_size > kMaxStruct)
    return makeError(ErrorCode::Backend, who, ": its table's struct_size (",
                     t->struct_size, ") is outside [", kMinTable, ", ",
                     kMaxStruct, "] (set it to sizeof(ember_op_library))");
  std::string s;
  if (!readString(t->name, 64, s) || !identifier(s))
    return makeError(ErrorCode::Backend, who,
                     ": its name must be 1 to 64 letters, digits or '_'");
  if (!readString(t->version, 64, s))
    return makeError(ErrorCode::Backend, who,
                     ": its version must be 1 to 64 printable characters");
  if (t->num_ops == 0 || t->num_ops > kMaxOps || !t->ops)
    return makeError(ErrorCode::Backend, who, ": registers ", t->num_ops,
                     " ops", t->ops ? "" : " (ops is NULL)", "; expected 1 to ",
                     kMaxOps);
  return Status::ok();
}

Status checkDef(const Library &lib, size_t i, const ember_op_def *d) {
  const std::string who = concat(lib.describe(), ": op #", i);
  if (!d)
    return makeError(ErrorCode::Backend, who, " is NULL");
  if (d->struct_size < kMinDef || d->struct_size > kMaxStruct)
    return makeError(ErrorCode::Backend, who, ": struct_size ", d->struct_size,
                     " is outside [", kMinDef, ", ", kMaxStruct,
                     "] (set it to sizeof(ember_op_def))");
  std::string domain, name;
  if (!readString(d->domain, 256, domain, true) ||
      !readString(d->name, 256, name))
    return makeError(ErrorCode::Backend, who,
                     ": domain and name must be printable strings (name "
                     "not empty)");
  const std::string op = concat(lib.describe(), ": op '",
                                normalizeDomain(domain), "::", name, "'");
  if (!d->infer)
    return makeError(ErrorCode::Backend, op,
                     " has no type and shape function (infer is NULL)");
  if (!d->compute)
    return makeError(ErrorCode::Backend, op,
                     " has no reference kernel (compute is NULL)");
  if (d->integer_form > EMBER_OP_INTEGER_KERNEL)
    return makeError(ErrorCode::Backend, op, ": integer_form ", d->integer_form,
                     " is not one of ember_op_integer_form");
  if (d->test_cases && strnlen(d->test_cases, kMaxStruct + 1) > kMaxStruct)
    return makeError(ErrorCode::Backend, op, ": test_cases exceed 1 MiB");
  return Status::ok();
}

// ---- the loaded libraries ---------------------------------------------------
struct Loaded {
  std::mutex mu;
  std::map<std::string, OpLibraryInfo> byPath;
  std::vector<std::string> order;
};

Loaded &loaded() {
  static Loaded l;
  return l;
}

} // namespace
} // namespace oplib

Expected<OpLibraryInfo> loadOpLibrary(const std::string &path,
                                      const OpLibraryOptions &o) {
  using namespace oplib;
  if (path.find('/') == std::string::npos)
    return invalid("op library path '", path, "' must contain a '/' (use ./",
                   path, " for a file in the current folder)");
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return invalid("op library ", path, " does not exist or is not a file");
  char real[PATH_MAX];
  const std::string key = realpath(path.c_str(), real) ? real : path;
  Loaded &reg = loaded();
  std::lock_guard<std::mutex> lock(reg.mu);
  auto known = reg.byPath.find(key);
  if (known != reg.byPath.end())
    return known->second;

  auto lib = std::make_shared<Library>();
  lib->path = key;
  guard::installCrashHandlers();
  {
    guard::LoadingScope loading(key.c_str());
    lib->handle = dlopen(key.c_str(), RTLD_NOW | RTLD_LOCAL |
                                          (o.onlyIfLoaded ? RTLD_NOLOAD : 0));
  }
  if (!lib->handle) {
    if (o.onlyIfLoaded)
      return makeError(ErrorCode::Backend, "op library ", key,
                       " is not loaded in this process (a program names "
                       "only op libraries its host loaded)");
    const char *e = dlerror();
    return makeError(ErrorCode::Backend, "cannot load op library ", key, ": ",
                     e ? e : "unknown dlopen error");
  }
  dlerror();
  void *sym = dlsym(lib->handle, EMBER_OP_LIBRARY_ENTRY_SYMBOL);
  if (!sym)
    return makeError(ErrorCode::Backend, "op library ", key,
                     " does not export '", EMBER_OP_LIBRARY_ENTRY_SYMBOL,
                     "' (not an Ember op library, or its symbols are hidden; "
                     "define it with EMBER_OP_LIBRARY_ENTRY, "
                     "docs/custom-ops.md)");
  ember_op_host_api &h = lib->host;
  h.struct_size = sizeof(ember_op_host_api);
  h.abi_major = EMBER_OP_LIBRARY_VERSION_MAJOR;
  h.abi_minor = EMBER_OP_LIBRARY_VERSION_MINOR;
  h.host_name = "ember";
  h.host_version = "0.1.0";
  h.user_data = lib.get();
  h.log = hostLog;
  h.error_new = hostErrorNew;
  h.alloc = hostAlloc;
  h.free = hostFree;
  // Its code, for crash reports (a crash in it names the library).
  guard::PluginSlot *slot = guard::registerPlugin(lib->handle, key);
  guard::nameSlot(slot, "op library");
  if (slot)
    slot->opLibrary.store(true);
  auto entry = reinterpret_cast<ember_op_library_entry_fn>(sym);
  const ember_op_library *table = entry(&h);
  if (!table) {
    std::lock_guard<std::mutex> l(lib->mu);
    return makeError(ErrorCode::Backend, "op library ", key,
                     " refused this host (op library ABI ",
                     EMBER_OP_LIBRARY_VERSION_MAJOR, ".",
                     EMBER_OP_LIBRARY_VERSION_MINOR, ")",
                     lib->lastLog.empty() ? "" : ": " + lib->lastLog);
  }
  EMBER_TRY(checkTable(*lib, table));
  OpLibraryInfo info;
  info.path = key;
  info.name = lib->name = table->name;
  info.version = lib->version = table->version;
  info.abiMajor = table->abi_major;
  info.abiMinor = table->abi_minor;
  guard::nameSlot(slot, "op library '" + lib->name + "'");
  std::vector<std::shared_ptr<CustomOp>> ops;
  for (size_t i = 0; i < table->num_ops; ++i) {
    const ember_op_def *d = table->ops[i];
    EMBER_TRY(checkDef(*lib, i, d));
    ops.push_back(makeOp(lib, d));
    const CustomOp &op = *ops.back();
    info.ops.push_back(
        op.opsetLast ? concat(op.fullName(), " (opsets ", op.opsetFirst, "-",
                              op.opsetLast, ")")
                     : concat(op.fullName(), " (opsets ", op.opsetFirst, "+)"));
  }
  EMBER_TRY(registerCustomOps(ops));
  reg.byPath[key] = info;
  reg.order.push_back(key);
  return info;
}

Status loadOpLibraries(const std::vector<std::string> &paths) {
  for (const std::string &p : paths)
    EMBER_TRY(loadOpLibrary(p).status());
  return Status::ok();
}

std::vector<OpLibraryInfo> loadedOpLibraries() {
  oplib::Loaded &reg = oplib::loaded();
  std::lock_guard<std::mutex> lock(reg.mu);
  std::vector<OpLibraryInfo> out;
  for (auto &p : reg.order)
    out.push_back(reg.byPath.at(p));
  return out;
}

namespace {
void collectLibraries(const Function &f, std::vector<std::string> &out) {
  for (auto &n : f.nodes()) {
    if (const CustomOp *op = customOpOf(*n))
      if (std::find(out.begin(), out.end(), op->libraryPath) == out.end())
        out.push_back(op->libraryPath);
    for (auto &kv : n->attrs)
      if (kv.second.kind == Attr::Kind::Graph && kv.second.g)
        collectLibraries(*kv.second.g, out);
  }
}
} // namespace

std::vector<std::string> opLibrariesUsedBy(const Function &f) {
  std::vector<std::string> out;
  collectLibraries(f, out);
  return out;
}

} // namespace ember::backend

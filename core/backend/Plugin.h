// Host side of the plugin ABI (backend-api/include/ember/backend.h): loading
// a backend shared library, checking its handshake and function table, and
// C++ wrappers over its handles. Every call into the plugin goes through
// here: plugin errors become Status values naming the plugin, and a plugin
// that crashes inside a call is reported with its path and the call.
#pragma once

#include "ir/Tensor.h"
#include "support/Error.h"

#include "ember/backend.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ember::backend {

namespace v1 {
class CapabilityManifest;
class SupportReport;
class DeviceDescription;
class CostEstimate;
} // namespace v1

struct LoadOptions {
  // Pretend to be a host of this ABI version (the conformance kit's version
  // skew tests); 0 means EMBER_ABI_VERSION_*.
  uint16_t hostAbiMajor = 0, hostAbiMinor = 0;
  // Size the host table claims (the kit's larger/smaller struct tests);
  // 0 means sizeof(ember_host_api).
  size_t hostTableSize = 0;
  // Forward plugin log messages at or above this level to stderr (info:
  // what a plugin tells the user it did, e.g. npu-sim's tuning summary).
  int32_t logLevel = EMBER_LOG_INFO;
};

class Plugin;
struct PluginHostState; // Plugin.cpp: the host callbacks' state
namespace guard {
struct PluginSlot; // PluginGuard.h: what a crash report needs to know
}

// ---- limits and failure reports of plugin calls (PluginGuard.cpp) ----------
// Exit statuses of a process whose plugin crashed (a fatal signal inside
// it, on any thread) or hung (a call that did not return in time).
constexpr int kPluginCrashExit = 70;
constexpr int kPluginHangExit = 124;

// The longest one call into a plugin may take, in seconds; 0 (the default)
// means no limit. A call still running after it, on any thread, is reported
//   error: plugin 'acme' (path) did not return from executable_compile
//   within 60 s ...
// and the process exits with kPluginHangExit: a call that does not return
// cannot be cancelled. event_wait with a finite timeout may take that
// timeout plus a grace period instead. Plugin::run waits this long for an
// execution to complete (a Timeout error naming the plugin when the
// plugin's event_wait says TIMEOUT).
void setCallTimeout(double seconds);
double callTimeout();

// Crash and hang reports go to stderr and, when fd >= 0, also to `fd`
// (the report line after `prefix`, e.g. a per-case result pipe).
void setFailureReportFd(int fd, const char *prefix);

// True once any plugin of this process hung (Plugin::markHung).
bool anyPluginHung();

// Handles of one plugin, by kind.
struct HandleCounts {
  long devices = 0, buffers = 0, executables = 0, events = 0;
  long total() const { return devices + buffers + executables + events; }
  // "2 buffers, 1 executable"; "none" when all are zero.
  std::string describe() const;
  HandleCounts operator-(const HandleCounts &o) const;
};
enum class HandleKind { Device, Buffer, Executable, Event };

// An owned plugin handle: released through the plugin on destruction.
class Device {
public:
  Device() = default;
  // Takes ownership of a handle the plugin returned (counted by the
  // plugin's liveHandles() until released).
  Device(std::shared_ptr<Plugin> p, ember_device *d);
  Device(Device &&o) noexcept { *this = std::move(o); }
  Device &operator=(Device &&o) noexcept;
  ~Device();
  ember_device *get() const { return dev_; }

private:
  std::shared_ptr<Plugin> plugin_;
  ember_device *dev_ = nullptr;
};

class Buffer {
public:
  Buffer() = default;
  Buffer(std::shared_ptr<Plugin> p, ember_buffer *b, uint64_t size);
  Buffer(Buffer &&o) noexcept { *this = std::move(o); }
  Buffer &operator=(Buffer &&o) noexcept;
  ~Buffer();
  ember_buffer *get() const { return buf_; }
  uint64_t size() const { return size_; }
  Status write(uint64_t offset, const void *src, uint64_t size);
  Status read(uint64_t offset, void *dst, uint64_t size);

private:
  std::shared_ptr<Plugin> plugin_;
  ember_buffer *buf_ = nullptr;
  uint64_t size_ = 0;
};

class Executable {
public:
  Executable() = default;
  Executable(std::shared_ptr<Plugin> p, ember_executable *e);
  Executable(Executable &&o) noexcept { *this = std::move(o); }
  Executable &operator=(Executable &&o) noexcept;
  ~Executable();
  ember_executable *get() const { return exe_; }
  explicit operator bool() const { return exe_ != nullptr; }

private:
  std::shared_ptr<Plugin> plugin_;
  ember_executable *exe_ = nullptr;
};

class Event {
public:
  Event() = default;
  Event(std::shared_ptr<Plugin> p, ember_event *e);
  Event(Event &&o) noexcept { *this = std::move(o); }
  Event &operator=(Event &&o) noexcept;
  ~Event();
  ember_event *get() const { return ev_; }
  // OK when the execution succeeded; its error otherwise (Timeout when
  // still running after timeoutNs).
  Status wait(uint64_t timeoutNs = UINT64_MAX);

private:
  friend class Plugin;
  std::shared_ptr<Plugin> plugin_;
  ember_event *ev_ = nullptr;
  bool pending_ = false; // its execution not seen complete yet
};

class Plugin : public std::enable_shared_from_this<Plugin> {
public:
  // dlopen (RTLD_NOW | RTLD_LOCAL), resolve EMBER_PLUGIN_ENTRY_SYMBOL,
  // handshake, validate the table (struct_size, versions, name, required
  // functions) and call plugin_init. Errors name the path and the cause.
  static Expected<std::shared_ptr<Plugin>> load(const std::string &path,
                                                const LoadOptions &o = {});
  ~Plugin();
  Plugin(const Plugin &) = delete;
  Plugin &operator=(const Plugin &) = delete;

  const std::string &path() const { return path_; }
  const std::string &name() const { return name_; }
  const std::string &version() const { return version_; }
  uint16_t abiMajor() const { return abiMajor_; }
  uint16_t abiMinor() const { return abiMinor_; }
  // The plugin's table; entries beyond its struct_size read as NULL
  // through has().
  const ember_plugin_api &api() const { return api_; }
  // "plugin 'name' (path)": how messages name it.
  std::string describe() const;

  // A message on stderr as the plugin's own log would print it
  // ("info: [name] ..."), at the level the host logs at: for what the host
  // does on the plugin's behalf (the scheduled-program path's tuner).
  void log(int32_t level, const std::string &message) const;

  // Converts (and frees) a plugin error; null is OK. `call` names the
  // function that returned it.
  Status takeError(ember_error *e, const char *call);

  // Typed calls. Each checks that the function exists (an Unsupported error
  // naming it otherwise) and validates what comes back.
  Expected<v1::CapabilityManifest> capabilities();
  // `options` (serialized CompileOptions, empty: none) go along as an
  // EMBER_EXT_QUERY_OPTIONS extension.
  Expected<v1::SupportReport> querySupport(const std::string &graphBytes,
                                           size_t numNodes,
                                           const std::string &options = "");
  Expected<uint32_t> deviceCount();
  // ABI 1.4 (docs/runtime.md): the description of device `index` and the
  // predicted cost of a serialized Graph of `numNodes` nodes there, for
  // programs compiled with `options` (serialized CompileOptions), each
  // checked (versions, finite figures, node numbers in range). Unsupported
  // when the plugin does not implement them.
  Expected<v1::DeviceDescription> describeDevice(uint32_t index,
                                                 const std::string &options);
  Expected<v1::CostEstimate> estimateCost(uint32_t index,
                                          const std::string &graph,
                                          size_t numNodes,
                                          const std::string &options);
  Expected<Device> openDevice(uint32_t index = 0);
  Expected<Buffer> allocate(Device &d, uint64_t bytes);
  // ABI 1.2: a buffer over `bytes` of the caller's memory at `ptr`, which
  // must outlive the buffer; Unsupported when the plugin does not implement
  // buffer_import_host or cannot use this memory.
  Expected<Buffer> importHost(Device &d, void *ptr, uint64_t bytes);
  Expected<Executable> compile(Device *d, uint32_t programKind,
                               const std::string &program,
                               const std::string &options = {});
  Expected<std::string> serialize(Executable &e);
  Expected<Executable> loadArtifact(Device *d, const std::string &artifact);
  // ABI 1.1: input/output types and names (an ArtifactHeader with those
  // fields); Unsupported for 1.0 plugins.
  struct Signature {
    std::vector<Type> inputs, outputs;
    std::vector<std::string> inputNames, outputNames;
  };
  Expected<Signature> signature(Executable &e);
  Expected<Event> execute(Device &d, Executable &e,
                          const std::vector<Buffer *> &inputs,
                          const std::vector<Buffer *> &outputs);

  // Convenience: run `e` on `inputs` and return outputs of `outputTypes`.
  // When the plugin imports host memory (ABI 1.2), the input tensors and
  // the result tensors are the buffers: nothing is copied. Otherwise it
  // allocates buffers, writes, executes, waits and reads back; with
  // `reuse`, the buffers are allocated on the first call and kept there
  // for the next ones (same shapes).
  struct RunBuffers {
    std::vector<Buffer> in, out;
  };
  // With `profile`, the execution's profile (event_profile, ABI 1.3;
  // empty when the plugin has none) is stored there. With `imported`, the
  // host addresses the plugin imported in place (inputs, then outputs;
  // empty when the run copied).
  Expected<std::vector<Tensor>>
  run(Device &d, Executable &e, const std::vector<Tensor> &inputs,
      const std::vector<Type> &outputTypes, RunBuffers *reuse = nullptr,
      std::string *profile = nullptr,
      std::vector<const void *> *imported = nullptr);
  // The same over tensors the caller keeps elsewhere (none is copied on
  // the host side).
  Expected<std::vector<Tensor>>
  run(Device &d, Executable &e, const std::vector<const Tensor *> &inputs,
      const std::vector<Type> &outputTypes, RunBuffers *reuse = nullptr,
      std::string *profile = nullptr,
      std::vector<const void *> *imported = nullptr);
  // ABI 1.3: a text form of `e` in one of the manifest's emit_formats.
  Expected<std::string> emit(Executable &e, const std::string &format);
  // ABI 1.3: the serialized ExecutionProfile of a finished execution;
  // empty when the plugin does not implement event_profile.
  Expected<std::string> profile(Event &ev);

  // A blob the plugin returned (allocated with the host's allocator).
  Expected<std::string> takeBlob(ember_blob &b, const char *call);

  // ---- handles and hangs
  // The plugin's handles the host holds now, by kind (abandoned ones
  // included), and those abandoned after a timeout.
  HandleCounts liveHandles() const;
  HandleCounts abandonedHandles() const;
  // After an execution did not complete in time: keeps its event, its
  // buffers and (when given) its executable alive for good, since the
  // plugin may still be using them, and releases nothing of them.
  void abandon(Event &&e, std::vector<Buffer> &&buffers = {},
               Executable *exe = nullptr);
  // The plugin hung: from now on the host calls none of its release
  // functions and not plugin_shutdown (it leaks instead of blocking or
  // freeing what a stuck execution still uses).
  void markHung();
  bool hung() const;
  // Problems found while loading that do not stop it (a version claim the
  // table's size contradicts); each was also printed as a warning.
  const std::vector<std::string> &loadWarnings() const { return warnings_; }

private:
  friend class Device;
  friend class Buffer;
  friend class Executable;
  friend class Event;
  Plugin();
  // A buffer call's result: its error, or the buffer it returned (a
  // missing one is the plugin's bug).
  Expected<Buffer> adoptBuffer(ember_error *e, ember_buffer *b,
                               const char *call, uint64_t bytes);
  Status init(const LoadOptions &o);
  void checkVersionClaim();
  // Waits for an execution at most callTimeout(); on a timeout abandons
  // the event and these buffers and marks the plugin hung.
  Status waitForExecution(Event &ev, std::vector<Buffer> &in,
                          std::vector<Buffer> &out);
  // Handle accounting (every handle wrapper calls these).
  void trackHandle(HandleKind k, const void *h);
  void untrackHandle(HandleKind k, const void *h);
  bool isLive(HandleKind k, const void *h) const;
  // An error when the plugin returned a handle that is still alive.
  Status checkFresh(HandleKind k, const void *h, const char *call) const;

  std::string path_, name_, version_;
  void *handle_ = nullptr;
  ember_plugin_api api_{}; // copy, zero-filled past the plugin's size
  ember_host_api host_{};
  std::unique_ptr<PluginHostState> state_; // the host callbacks' user_data
  std::vector<uint8_t>
      hostStorage_; // what the plugin sees (sized per LoadOptions)
  bool initialized_ = false;
  uint16_t abiMajor_ = 0, abiMinor_ = 0;
  int32_t logLevel_ = EMBER_LOG_WARNING;
  std::vector<std::string> warnings_;
  guard::PluginSlot *slot_ = nullptr; // crash and hang attribution
  struct Handles;                     // PluginHandles.cpp: live handle sets
  static std::shared_ptr<Handles> newHandles();
  std::shared_ptr<Handles> handles_;
  friend struct PluginCallGuard;
  friend struct HostWorkGuard;
};

// Marks the current thread as being inside a plugin call: a fatal signal
// (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT) raised in the meantime prints
// "error: plugin 'name' (path) crashed with SIGSEGV in executable_compile"
// and exits with kPluginCrashExit instead of dying silently. A crash on a
// thread of the plugin's own (found by its code on the stack) is reported
// the same way, naming the execution or call in flight. The call may take
// `budgetSec` (< 0: callTimeout()) before the watchdog reports a hang.
struct PluginCallGuard {
  PluginCallGuard(const Plugin &p, const char *call, double budgetSec = -1);
  ~PluginCallGuard();
  PluginCallGuard(const PluginCallGuard &) = delete;
  PluginCallGuard &operator=(const PluginCallGuard &) = delete;
  const char *prevCall;
  const Plugin *prevPlugin;
  int64_t prevDeadline, prevBudget; // the watchdog's view of the outer call
  // The outer scope when it is Ember's work for a plugin (HostWorkGuard).
  bool prevHost = false;
  guard::PluginSlot *prevSlot = nullptr;
  const char *prevWhat = nullptr;
};

// Marks the current thread as doing Ember's own work for plugin `p` (the
// layer path: selection, tiling and scheduling of a partition the plugin
// is sent as a scheduled program). The work is the plugin's compile, so it
// has the same budget (callTimeout(); 0: none): the watchdog ends the
// process with kPluginHangExit and
//   error: <what> for plugin 'name' (path) did not finish within N s
//   (<where>; --timeout=SEC sets the limit)
// A crash meanwhile is not the plugin's (it is reported as Ember's). A
// plugin call inside (a tuning measurement) has its own budget; the work's
// deadline goes on after it.
struct HostWorkGuard {
  HostWorkGuard(const Plugin &p, const char *what, const std::string &where);
  ~HostWorkGuard();
  HostWorkGuard(const HostWorkGuard &) = delete;
  HostWorkGuard &operator=(const HostWorkGuard &) = delete;
  bool armed = false;
};

} // namespace ember::backend

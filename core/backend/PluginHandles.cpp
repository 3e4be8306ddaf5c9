// Handle wrappers and handle accounting of the plugin host (Plugin.h):
// each Device, Buffer, Executable and Event owns one handle the plugin
// returned and releases it through the plugin; the plugin's live handles
// are counted by kind (a plugin that hands out a handle still alive is
// caught), handles of an execution that never completed are abandoned
// (kept alive, never released), and a hung plugin is no longer called to
// release anything.
#include "backend/Plugin.h"

#include "backend/PluginGuard.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_set>

namespace ember::backend {

namespace {

const char *handleKindName(HandleKind k, long n) {
  switch (k) {
  case HandleKind::Device:
    return n == 1 ? "device" : "devices";
  case HandleKind::Buffer:
    return n == 1 ? "buffer" : "buffers";
  case HandleKind::Executable:
    return n == 1 ? "executable" : "executables";
  case HandleKind::Event:
    return n == 1 ? "event" : "events";
  }
  return "handles";
}

long &countOf(HandleCounts &c, HandleKind k) {
  switch (k) {
  case HandleKind::Device:
    return c.devices;
  case HandleKind::Buffer:
    return c.buffers;
  case HandleKind::Executable:
    return c.executables;
  case HandleKind::Event:
    break;
  }
  return c.events;
}

constexpr HandleKind kHandleKinds[] = {HandleKind::Device, HandleKind::Buffer,
                                       HandleKind::Executable,
                                       HandleKind::Event};

std::atomic<bool> gAnyHung{false};

} // namespace

// ---- handle accounting ------------------------------------------------------
std::string HandleCounts::describe() const {
  std::string r;
  HandleCounts c = *this;
  for (HandleKind k : kHandleKinds) {
    long n = countOf(c, k);
    if (n)
      r += concat(r.empty() ? "" : ", ", n, " ", handleKindName(k, n));
  }
  return r.empty() ? "none" : r;
}

HandleCounts HandleCounts::operator-(const HandleCounts &o) const {
  return {devices - o.devices, buffers - o.buffers, executables - o.executables,
          events - o.events};
}

// The handles of one plugin the host holds: live ones by identity (a
// plugin that returns a handle still alive is caught), the abandoned ones
// counted, and whether the plugin hung.
struct Plugin::Handles {
  mutable std::mutex mu;
  std::unordered_set<const void *> live[4];
  HandleCounts abandoned;
  std::atomic<bool> hung{false};
  // Handles kept alive for good after a timeout (never released).
  std::vector<std::unique_ptr<Event>> keptEvents;
  std::vector<Buffer> keptBuffers;
  std::vector<Executable> keptExecutables;
};

std::shared_ptr<Plugin::Handles> Plugin::newHandles() {
  return std::make_shared<Handles>();
}

void Plugin::trackHandle(HandleKind k, const void *h) {
  std::lock_guard<std::mutex> l(handles_->mu);
  handles_->live[int(k)].insert(h);
}

void Plugin::untrackHandle(HandleKind k, const void *h) {
  std::lock_guard<std::mutex> l(handles_->mu);
  handles_->live[int(k)].erase(h);
}

bool Plugin::isLive(HandleKind k, const void *h) const {
  std::lock_guard<std::mutex> l(handles_->mu);
  return handles_->live[int(k)].count(h) != 0;
}

Status Plugin::checkFresh(HandleKind k, const void *h, const char *call) const {
  if (!isLive(k, h))
    return Status::ok();
  return makeError(ErrorCode::Backend, describe(), " returned from ", call,
                   " a ", handleKindName(k, 1),
                   " handle that is still alive (the same handle handed out "
                   "twice; each call must return a new one)");
}

HandleCounts Plugin::liveHandles() const {
  std::lock_guard<std::mutex> l(handles_->mu);
  HandleCounts c;
  for (HandleKind k : kHandleKinds)
    countOf(c, k) = long(handles_->live[int(k)].size());
  return c;
}

HandleCounts Plugin::abandonedHandles() const {
  std::lock_guard<std::mutex> l(handles_->mu);
  return handles_->abandoned;
}

void Plugin::abandon(Event &&e, std::vector<Buffer> &&buffers,
                     Executable *exe) {
  std::lock_guard<std::mutex> l(handles_->mu);
  if (e.get()) {
    ++handles_->abandoned.events;
    handles_->keptEvents.push_back(std::make_unique<Event>(std::move(e)));
  }
  for (Buffer &b : buffers)
    if (b.get()) {
      ++handles_->abandoned.buffers;
      handles_->keptBuffers.push_back(std::move(b));
    }
  if (exe && exe->get()) {
    ++handles_->abandoned.executables;
    handles_->keptExecutables.push_back(std::move(*exe));
  }
}

bool anyPluginHung() { return gAnyHung.load(); }

void Plugin::markHung() {
  handles_->hung.store(true);
  gAnyHung.store(true);
}

bool Plugin::hung() const { return handles_->hung.load(); }

// ---- handles ----------------------------------------------------------------
// Each wrapper counts its handle in the plugin's liveHandles() from
// construction to release. The plugin's release function is not called
// once the plugin hung (an execution that never completed may still use
// the handle, and releasing could block for good).
#define EMBER_HANDLE_MOVE(Cls, field)                                          \
  Cls &Cls::operator=(Cls &&o) noexcept {                                      \
    if (this != &o) {                                                          \
      this->~Cls();                                                            \
      plugin_ = std::move(o.plugin_);                                          \
      field = o.field;                                                         \
      o.field = nullptr;                                                       \
    }                                                                          \
    return *this;                                                              \
  }

EMBER_HANDLE_MOVE(Device, dev_)
EMBER_HANDLE_MOVE(Executable, exe_)

Event &Event::operator=(Event &&o) noexcept {
  if (this != &o) {
    this->~Event();
    plugin_ = std::move(o.plugin_);
    ev_ = o.ev_;
    pending_ = o.pending_;
    o.ev_ = nullptr;
    o.pending_ = false;
  }
  return *this;
}

Buffer &Buffer::operator=(Buffer &&o) noexcept {
  if (this != &o) {
    this->~Buffer();
    plugin_ = std::move(o.plugin_);
    buf_ = o.buf_;
    size_ = o.size_;
    o.buf_ = nullptr;
  }
  return *this;
}

Device::Device(std::shared_ptr<Plugin> p, ember_device *d)
    : plugin_(std::move(p)), dev_(d) {
  if (plugin_ && dev_)
    plugin_->trackHandle(HandleKind::Device, dev_);
}

Buffer::Buffer(std::shared_ptr<Plugin> p, ember_buffer *b, uint64_t size)
    : plugin_(std::move(p)), buf_(b), size_(size) {
  if (plugin_ && buf_)
    plugin_->trackHandle(HandleKind::Buffer, buf_);
}

Executable::Executable(std::shared_ptr<Plugin> p, ember_executable *e)
    : plugin_(std::move(p)), exe_(e) {
  if (plugin_ && exe_)
    plugin_->trackHandle(HandleKind::Executable, exe_);
}

// An event stands for an execution in flight until a wait sees it
// complete: a crash on a plugin thread meanwhile is "in execute".
Event::Event(std::shared_ptr<Plugin> p, ember_event *e)
    : plugin_(std::move(p)), ev_(e) {
  if (plugin_ && ev_) {
    plugin_->trackHandle(HandleKind::Event, ev_);
    pending_ = true;
    if (plugin_->slot_)
      plugin_->slot_->pendingExecutions.fetch_add(1);
  }
}

Device::~Device() {
  if (dev_ && plugin_) {
    if (plugin_->api().device_close && !plugin_->hung()) {
      PluginCallGuard g(*plugin_, "device_close");
      plugin_->api().device_close(dev_);
    }
    plugin_->untrackHandle(HandleKind::Device, dev_);
  }
  dev_ = nullptr;
}

Buffer::~Buffer() {
  if (buf_ && plugin_) {
    if (plugin_->api().buffer_release && !plugin_->hung()) {
      PluginCallGuard g(*plugin_, "buffer_release");
      plugin_->api().buffer_release(buf_);
    }
    plugin_->untrackHandle(HandleKind::Buffer, buf_);
  }
  buf_ = nullptr;
}

Executable::~Executable() {
  if (exe_ && plugin_) {
    if (plugin_->api().executable_release && !plugin_->hung()) {
      PluginCallGuard g(*plugin_, "executable_release");
      plugin_->api().executable_release(exe_);
    }
    plugin_->untrackHandle(HandleKind::Executable, exe_);
  }
  exe_ = nullptr;
}

Event::~Event() {
  if (ev_ && plugin_) {
    if (plugin_->api().event_release && !plugin_->hung()) {
      PluginCallGuard g(*plugin_, "event_release");
      plugin_->api().event_release(ev_);
    }
    plugin_->untrackHandle(HandleKind::Event, ev_);
    if (pending_ && plugin_->slot_)
      plugin_->slot_->pendingExecutions.fetch_sub(1);
  }
  ev_ = nullptr;
  pending_ = false;
}

Status Buffer::write(uint64_t offset, const void *src, uint64_t size) {
  if (!plugin_->api().buffer_write)
    return unsupported(plugin_->describe(), " does not implement buffer_write");
  ember_error *e;
  {
    PluginCallGuard g(*plugin_, "buffer_write");
    e = plugin_->api().buffer_write(buf_, offset, src, size);
  }
  return plugin_->takeError(e, "buffer_write");
}

Status Buffer::read(uint64_t offset, void *dst, uint64_t size) {
  if (!plugin_->api().buffer_read)
    return unsupported(plugin_->describe(), " does not implement buffer_read");
  ember_error *e;
  {
    PluginCallGuard g(*plugin_, "buffer_read");
    e = plugin_->api().buffer_read(buf_, offset, dst, size);
  }
  return plugin_->takeError(e, "buffer_read");
}

Status Event::wait(uint64_t timeoutNs) {
  // A finite wait may take its timeout plus a grace period (a quarter,
  // 1 to 5 s) before the watchdog calls the plugin hung; an unbounded one
  // the call timeout.
  double budget = -1;
  if (timeoutNs != UINT64_MAX) {
    double t = double(timeoutNs) / 1e9;
    budget = t + std::min(5.0, std::max(1.0, t / 4));
    if (callTimeout() <= 0)
      budget = -1;
  }
  ember_error *e;
  {
    PluginCallGuard g(*plugin_, "event_wait", budget);
    e = plugin_->api().event_wait(ev_, timeoutNs);
  }
  Status s = plugin_->takeError(e, "event_wait");
  if (pending_ && s.code() != ErrorCode::Timeout) {
    pending_ = false; // complete: a crash on a plugin thread is not in it
    if (plugin_->slot_)
      plugin_->slot_->pendingExecutions.fetch_sub(1);
  }
  return s;
}

} // namespace ember::backend

// Optional C++17 helpers for writing an Ember backend plugin. Header-only;
// nothing here crosses the ABI (backend.h is the contract). They implement
// the parts every plugin needs the same way: error objects, blobs through
// the host allocator, struct_size checks, host-memory devices and buffers,
// asynchronous completion events, and (plugin_handover.hpp) an NPU's
// hand-over of programs, DRAM and layer map to a co-simulation. The plugins of
// the tree (backends/null, interp, cpu, npu-sim) and
// examples/out-of-tree-plugin use them; a vendor may use them or not.
// plugin_table.hpp builds the function table from a plugin class on top of
// them.
//
// Use: in exactly one .cpp of the plugin, #include this header (or
// plugin_table.hpp, which includes it); it defines struct ember_error,
// ember_device, ember_buffer and ember_event. Define ember_executable
// yourself.
#ifndef EMBER_PLUGIN_HELPERS_HPP
#define EMBER_PLUGIN_HELPERS_HPP

#include "ember/backend.h"
#include "ember/plugin_handover.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <new>
#include <string>
#include <thread>

struct ember_error {
  int32_t code;
  std::string message;
};

struct ember_device {
  uint32_t index;
};

struct ember_buffer {
  uint8_t *data;
  uint64_t size;
  bool owned = true; // false: the caller's memory (buffer_import_host)
};

struct ember_event {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  ember_error *result = nullptr; // owned until handed out by wait
  std::thread worker;
  // What the execution recorded for event_profile (ABI 1.3): a serialized
  // ExecutionProfile, filled by a startAsyncProfiled work function.
  std::string profile;
};

namespace ember_plugin {

// ---- errors -----------------------------------------------------------------
inline ember_error *error(int32_t code, std::string message) noexcept {
  try {
    return new ember_error{code, std::move(message)};
  } catch (...) {
    // Out of memory while reporting: a static object would be freed by the
    // host, so fall back to the smallest allocation that can still work.
    return new (std::nothrow) ember_error{code, std::string()};
  }
}
inline int32_t errorCode(const ember_error *e) {
  return e ? e->code : EMBER_STATUS_INTERNAL;
}
inline const char *errorMessage(const ember_error *e) {
  return e ? e->message.c_str() : "";
}
inline void errorFree(ember_error *e) { delete e; }

// Checks a host-provided argument struct: non-NULL and large enough to hold
// the fields this plugin reads (fields beyond a smaller struct_size are
// treated as absent by the caller).
template <typename T>
ember_error *checkStruct(const T *p, size_t minSize, const char *what) {
  if (!p)
    return error(EMBER_STATUS_INVALID_ARGUMENT, std::string(what) + " is NULL");
  if (p->struct_size < minSize)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 std::string(what) + ".struct_size " +
                     std::to_string(p->struct_size) + " is smaller than " +
                     std::to_string(minSize));
  return nullptr;
}

// Parses an optional serialized protobuf message the host passed (`data`,
// `size`; empty: `m` stays default), e.g. CompileOptions; `what` names it
// in the error ("options are not <what>").
template <typename Message>
ember_error *parseOptional(const void *data, size_t size, Message &m,
                           const char *what) {
  if (size &&
      (!data || size > size_t(INT32_MAX) || !m.ParseFromArray(data, int(size))))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 std::string("options are not ") + what);
  return nullptr;
}

// ---- the host ---------------------------------------------------------------
// A copy of the host table's callbacks, taken in plugin_init.
class Host {
public:
  // The usual plugin_init body: checks the host table covers the fields
  // read here, then keeps its callbacks.
  ember_error *attach(const ember_host_api *h) {
    if (ember_error *e =
            checkStruct(h, offsetof(ember_host_api, user_data) + sizeof(void *),
                        "ember_host_api"))
      return e;
    init(h);
    return nullptr;
  }
  void init(const ember_host_api *h) {
    user_ = h->user_data;
    if (EMBER_HAS_FIELD(ember_host_api, h, log))
      log_ = h->log;
    if (EMBER_HAS_FIELD(ember_host_api, h, free)) {
      alloc_ = h->alloc;
      free_ = h->free;
    }
  }
  void log(int32_t level, const std::string &msg) const {
    if (log_)
      log_(user_, level, msg.c_str());
  }
  // Copies bytes into a host-allocated blob.
  ember_error *blob(const std::string &bytes, ember_blob *out) const {
    if (!out)
      return error(EMBER_STATUS_INVALID_ARGUMENT, "output blob is NULL");
    if (!alloc_)
      return error(EMBER_STATUS_INTERNAL, "the host gave no allocator");
    void *p = alloc_(user_, bytes.size() ? bytes.size() : 1, 16);
    if (!p)
      return error(EMBER_STATUS_OUT_OF_MEMORY,
                   "host allocation of " + std::to_string(bytes.size()) +
                       " bytes failed");
    if (!bytes.empty())
      std::memcpy(p, bytes.data(), bytes.size());
    out->data = p;
    out->size = bytes.size();
    return nullptr;
  }

private:
  void *user_ = nullptr;
  void (*log_)(void *, int32_t, const char *) = nullptr;
  void *(*alloc_)(void *, size_t, size_t) = nullptr;
  void (*free_)(void *, void *) = nullptr;
};

// ---- host-memory devices and buffers ----------------------------------------
inline ember_error *deviceOpen(const ember_device_params *p, ember_device **out,
                               uint32_t count = 1) {
  if (ember_error *e = checkStruct(p, sizeof(size_t) + sizeof(void *) + 4,
                                   "ember_device_params"))
    return e;
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_device is NULL");
  if (p->device_index >= count)
    return error(EMBER_STATUS_OUT_OF_RANGE,
                 "device index " + std::to_string(p->device_index) +
                     " out of range (" + std::to_string(count) + " devices)");
  *out = new (std::nothrow) ember_device{p->device_index};
  return *out ? nullptr
              : error(EMBER_STATUS_OUT_OF_MEMORY, "device_open: no memory");
}
inline void deviceClose(ember_device *d) { delete d; }
// device_open for a plugin with exactly one device.
inline ember_error *deviceOpenSingle(const ember_device_params *p,
                                     ember_device **out) {
  return deviceOpen(p, out, 1);
}

inline ember_error *bufferAllocate(ember_device *d,
                                   const ember_buffer_params *p,
                                   ember_buffer **out) {
  if (!d)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "device is NULL");
  if (ember_error *e = checkStruct(p, offsetof(ember_buffer_params, alignment),
                                   "ember_buffer_params"))
    return e;
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_buffer is NULL");
  if (p->size_bytes == 0 || p->size_bytes > (uint64_t(1) << 40))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "buffer size " + std::to_string(p->size_bytes) +
                     " is not in [1, 2^40]");
  uint64_t align = 64;
  if (EMBER_HAS_FIELD(ember_buffer_params, p, alignment) && p->alignment) {
    if (p->alignment & (p->alignment - 1) || p->alignment > 4096)
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "buffer alignment " + std::to_string(p->alignment) +
                       " is not a power of two <= 4096");
    align = p->alignment < 64 ? 64 : p->alignment;
  }
  uint64_t rounded = (p->size_bytes + align - 1) / align * align;
  void *mem = std::aligned_alloc(size_t(align), size_t(rounded));
  if (!mem)
    return error(EMBER_STATUS_OUT_OF_MEMORY,
                 "cannot allocate " + std::to_string(p->size_bytes) + " bytes");
  std::memset(mem, 0, size_t(rounded));
  *out = new (std::nothrow)
      ember_buffer{static_cast<uint8_t *>(mem), p->size_bytes};
  if (!*out) {
    std::free(mem);
    return error(EMBER_STATUS_OUT_OF_MEMORY, "buffer_allocate: no memory");
  }
  return nullptr;
}
inline void bufferRelease(ember_buffer *b) {
  if (b && b->owned)
    std::free(b->data);
  delete b;
}
// buffer_import_host for a host-memory device: the buffer is the caller's
// memory, which must be aligned to `minAlign` (the plugin's widest access
// that needs alignment; UNSUPPORTED otherwise, and the host copies).
inline ember_error *bufferImportHostAligned(ember_device *d,
                                            const ember_host_buffer_params *p,
                                            ember_buffer **out,
                                            uint64_t minAlign) {
  if (!d)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "device is NULL");
  if (ember_error *e = checkStruct(
          p, offsetof(ember_host_buffer_params, size_bytes) + sizeof(uint64_t),
          "ember_host_buffer_params"))
    return e;
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_buffer is NULL");
  if (!p->host_ptr)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "host_ptr is NULL");
  if (p->size_bytes == 0 || p->size_bytes > (uint64_t(1) << 40))
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "buffer size " + std::to_string(p->size_bytes) +
                     " is not in [1, 2^40]");
  if (reinterpret_cast<uintptr_t>(p->host_ptr) % minAlign)
    return error(EMBER_STATUS_UNSUPPORTED, "host memory is not " +
                                               std::to_string(minAlign) +
                                               "-byte aligned");
  *out = new (std::nothrow)
      ember_buffer{static_cast<uint8_t *>(p->host_ptr), p->size_bytes, false};
  return *out ? nullptr
              : error(EMBER_STATUS_OUT_OF_MEMORY,
                      "buffer_import_host: no memory");
}
// The same for 16-byte aligned memory (what malloc returns).
inline ember_error *bufferImportHost(ember_device *d,
                                     const ember_host_buffer_params *p,
                                     ember_buffer **out) {
  return bufferImportHostAligned(d, p, out, 16);
}
inline ember_error *checkRange(const ember_buffer *b, uint64_t offset,
                               uint64_t size, const void *ptr) {
  if (!b)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "buffer is NULL");
  if (!ptr && size)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "host pointer is NULL");
  if (offset > b->size || size > b->size - offset)
    return error(EMBER_STATUS_OUT_OF_RANGE,
                 "range [" + std::to_string(offset) + ", +" +
                     std::to_string(size) + ") is outside the buffer of " +
                     std::to_string(b->size) + " bytes");
  return nullptr;
}
inline ember_error *bufferWrite(ember_buffer *b, uint64_t offset,
                                const void *src, uint64_t size) {
  if (ember_error *e = checkRange(b, offset, size, src))
    return e;
  if (size)
    std::memcpy(b->data + offset, src, size_t(size));
  return nullptr;
}
inline ember_error *bufferRead(ember_buffer *b, uint64_t offset, void *dst,
                               uint64_t size) {
  if (ember_error *e = checkRange(b, offset, size, dst))
    return e;
  if (size)
    std::memcpy(dst, b->data + offset, size_t(size));
  return nullptr;
}

// ---- events -----------------------------------------------------------------
// Runs `work` on its own thread; its error (or NULL) completes the event.
inline ember_error *startAsync(std::function<ember_error *()> work,
                               ember_event **out) {
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_event is NULL");
  auto *ev = new (std::nothrow) ember_event();
  if (!ev)
    return error(EMBER_STATUS_OUT_OF_MEMORY, "execute: no memory");
  try {
    ev->worker = std::thread([ev, work = std::move(work)] {
      ember_error *r = work();
      std::lock_guard<std::mutex> l(ev->mu);
      ev->result = r;
      ev->done = true;
      ev->cv.notify_all();
    });
  } catch (...) {
    delete ev;
    return error(EMBER_STATUS_INTERNAL, "execute: cannot start a thread");
  }
  *out = ev;
  return nullptr;
}

// The same, for plugins that implement event_profile (ABI 1.3): `work`
// gets the event's profile string to fill before it returns.
inline ember_error *
startAsyncProfiled(std::function<ember_error *(std::string &profile)> work,
                   ember_event **out) {
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_event is NULL");
  auto *ev = new (std::nothrow) ember_event();
  if (!ev)
    return error(EMBER_STATUS_OUT_OF_MEMORY, "execute: no memory");
  try {
    ev->worker = std::thread([ev, work = std::move(work)] {
      std::string profile;
      ember_error *r = work(profile);
      std::lock_guard<std::mutex> l(ev->mu);
      ev->profile = std::move(profile);
      ev->result = r;
      ev->done = true;
      ev->cv.notify_all();
    });
  } catch (...) {
    delete ev;
    return error(EMBER_STATUS_INTERNAL, "execute: cannot start a thread");
  }
  *out = ev;
  return nullptr;
}

// Returns the execution's error once (later waits return NULL).
inline ember_error *eventWait(ember_event *ev, uint64_t timeoutNs) {
  if (!ev)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "event is NULL");
  std::unique_lock<std::mutex> l(ev->mu);
  auto done = [ev] { return ev->done; };
  if (timeoutNs == UINT64_MAX) {
    ev->cv.wait(l, done);
  } else if (!ev->cv.wait_for(l, std::chrono::nanoseconds(timeoutNs), done)) {
    return error(EMBER_STATUS_TIMEOUT, "execution still running");
  }
  ember_error *r = ev->result;
  ev->result = nullptr;
  return r;
}

inline void eventRelease(ember_event *ev) {
  if (!ev)
    return;
  if (ev->worker.joinable())
    ev->worker.join();
  delete ev->result;
  delete ev;
}

// ---- artifacts --------------------------------------------------------------
// The framing of a serialized executable (docs/backend-abi.md,
// artifact.proto): "EMBERART", the ArtifactHeader's length (uint32,
// little-endian), the serialized header, then the plugin's payload. The host
// reads the same framing (core/backend/Artifact.h).

// FNV-1a, 64 bit: ArtifactHeader.payload_checksum.
inline uint64_t fnv1a64(const void *data, size_t size) {
  uint64_t h = 1469598103934665603ull;
  const auto *b = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < size; ++i)
    h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

inline std::string frameArtifact(const std::string &header,
                                 const std::string &payload) {
  std::string bytes("EMBERART", 8);
  for (int i = 0; i < 4; ++i)
    bytes.push_back(char((uint32_t(header.size()) >> (8 * i)) & 0xff));
  return bytes + header + payload;
}

// Splits an artifact into its serialized header and its payload: "", or
// what is wrong with the framing.
inline std::string unframeArtifact(const void *data, size_t size,
                                   std::string &header, std::string &payload) {
  const auto *b = static_cast<const unsigned char *>(data);
  if (!data || size < 12 || std::memcmp(b, "EMBERART", 8) != 0)
    return "not an Ember artifact (bad magic or shorter than 12 bytes)";
  const uint32_t len = uint32_t(b[8]) | uint32_t(b[9]) << 8 |
                       uint32_t(b[10]) << 16 | uint32_t(b[11]) << 24;
  if (len > size - 12)
    return "artifact header length exceeds the artifact";
  header.assign(reinterpret_cast<const char *>(b + 12), len);
  payload.assign(reinterpret_cast<const char *>(b + 12 + len), size - 12 - len);
  return "";
}

// ---- the handshake ----------------------------------------------------------
// The usual ember_plugin_entry body: accept a host of this header's ABI major
// version (any minor), refuse others with a logged reason.
inline const ember_plugin_api *acceptHost(const ember_host_api *host,
                                          const ember_plugin_api *api) {
  if (!host || host->struct_size < offsetof(ember_host_api, host_name))
    return nullptr;
  if (host->abi_major != EMBER_ABI_VERSION_MAJOR) {
    if (host->struct_size >= offsetof(ember_host_api, log) + sizeof(void *) &&
        host->log)
      host->log(host->user_data, EMBER_LOG_ERROR,
                (std::string(api->name) + " plugin: built for ABI major " +
                 std::to_string(EMBER_ABI_VERSION_MAJOR) + ", host has " +
                 std::to_string(host->abi_major))
                    .c_str());
    return nullptr;
  }
  return api;
}

} // namespace ember_plugin

#endif // EMBER_PLUGIN_HELPERS_HPP

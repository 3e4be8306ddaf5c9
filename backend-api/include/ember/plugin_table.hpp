// A plugin's function table, built from a class. Optional C++17, header-only,
// installed with the SDK; what it builds is the plain C table of backend.h,
// so nothing here crosses the ABI.
//
// ember_plugin_api has 33 positional entries (6 fields, 27 functions). Written
// out by hand, a function in the wrong slot compiles whenever the two slots
// share a type, and every ABI minor version appends slots to every plugin.
// Here a plugin is a class whose static member functions carry the names of
// backend.h's entries; makeTable<P>() puts each one in its slot, and leaves
// the slots P does not define NULL ("not implemented"):
//
//   #include "ember/plugin_table.hpp"
//
//   struct AcmePlugin : ember_plugin::PluginBase, ember_plugin::HostMemory {
//     static constexpr const char *name = "acme";
//     static constexpr const char *version = "1.0.0";
//     static ember_error *get_capabilities(const ember_capabilities_params *,
//                                          ember_blob *);
//     static ember_error *query_support(const ember_query_params *,
//                                       ember_blob *);
//     ...
//   };
//   EMBER_PLUGIN_ENTRY(AcmePlugin)
//
// - A member named like an entry must be a static member function with that
//   entry's type (backend.h), or a static constexpr pointer to a function of
//   that type (`static constexpr auto executable_compile = compile;`, for a
//   plugin whose functions are free functions); anything else, a non-static
//   member function included, is a compile error naming the entry. Members
//   with other names are not entries. (An entry may not be overloaded.)
// - name and version fill the table's strings; struct_size, abi_major and
//   abi_minor are those of the backend.h the plugin is built with.
// - get_capabilities and the three error functions are required (the host
//   refuses a plugin without them); a class without them does not compile.
// - The bases below supply the entries most plugins write the same way,
//   from plugin_helpers.hpp: PluginBase (errors, plugin_init keeping the
//   host's callbacks in host(), an empty plugin_shutdown), HostMemory (one
//   host-memory device and its buffers), AsyncEvents (event_wait and
//   event_release for events made by startAsync), HostImport
//   (buffer_import_host over the caller's memory). A member of the plugin
//   hides a base's member of the same name.
//
// EMBER_PLUGIN_ENTRY(P) defines the exported ember_plugin_entry: it accepts
// a host of this header's ABI major version and returns P's table. A plugin
// that needs another handshake writes its own entry around
// &ember_plugin::pluginTable<P>.
#ifndef EMBER_PLUGIN_TABLE_HPP
#define EMBER_PLUGIN_TABLE_HPP

#include "ember/backend.h"
#include "ember/plugin_helpers.hpp"

#include <type_traits>

// backend.h's function entries, in table order.
#define EMBER_PLUGIN_API_FUNCTIONS(X)                                          \
  X(error_code)                                                                \
  X(error_message)                                                             \
  X(error_free)                                                                \
  X(plugin_init)                                                               \
  X(plugin_shutdown)                                                           \
  X(get_capabilities)                                                          \
  X(query_support)                                                             \
  X(device_count)                                                              \
  X(device_open)                                                               \
  X(device_close)                                                              \
  X(buffer_allocate)                                                           \
  X(buffer_release)                                                            \
  X(buffer_write)                                                              \
  X(buffer_read)                                                               \
  X(executable_compile)                                                        \
  X(executable_serialize)                                                      \
  X(executable_load)                                                           \
  X(executable_release)                                                        \
  X(execute)                                                                   \
  X(event_wait)                                                                \
  X(event_release)                                                             \
  X(executable_signature)                                                      \
  X(buffer_import_host)                                                        \
  X(executable_emit)                                                           \
  X(event_profile)                                                             \
  X(device_describe)                                                           \
  X(estimate_cost)

namespace ember_plugin {

// ---- bases: the entries most plugins write the same way ---------------------

// The error objects of plugin_helpers.hpp, plugin_init keeping the host's
// callbacks (log, alloc, free) in host(), and a plugin_shutdown with
// nothing to release. A plugin with more to set up defines its own
// plugin_init and calls PluginBase::plugin_init first.
struct PluginBase {
  static int32_t error_code(const ember_error *e) { return errorCode(e); }
  static const char *error_message(const ember_error *e) {
    return errorMessage(e);
  }
  static void error_free(ember_error *e) { errorFree(e); }
  // The host's callbacks, kept by plugin_init.
  static Host &host() {
    static Host h;
    return h;
  }
  static ember_error *plugin_init(const ember_host_api *h) {
    return host().attach(h);
  }
  static void plugin_shutdown() {}
};

// One device whose buffers are host memory (device_count stays NULL: one
// device).
struct HostMemory {
  static ember_error *device_open(const ember_device_params *p,
                                  ember_device **out) {
    return deviceOpenSingle(p, out);
  }
  static void device_close(ember_device *d) { deviceClose(d); }
  static ember_error *buffer_allocate(ember_device *d,
                                      const ember_buffer_params *p,
                                      ember_buffer **out) {
    return bufferAllocate(d, p, out);
  }
  static void buffer_release(ember_buffer *b) { bufferRelease(b); }
  static ember_error *buffer_write(ember_buffer *b, uint64_t offset,
                                   const void *src, uint64_t size) {
    return bufferWrite(b, offset, src, size);
  }
  static ember_error *buffer_read(ember_buffer *b, uint64_t offset, void *dst,
                                  uint64_t size) {
    return bufferRead(b, offset, dst, size);
  }
};

// The events startAsync and startAsyncProfiled complete.
struct AsyncEvents {
  static ember_error *event_wait(ember_event *ev, uint64_t timeoutNs) {
    return eventWait(ev, timeoutNs);
  }
  static void event_release(ember_event *ev) { eventRelease(ev); }
};

// buffer_import_host (ABI 1.2) for a HostMemory device: the buffer is the
// caller's 16-byte-aligned memory, used in place.
struct HostImport {
  static ember_error *buffer_import_host(ember_device *d,
                                         const ember_host_buffer_params *p,
                                         ember_buffer **out) {
    return bufferImportHost(d, p, out);
  }
};

// ---- the table --------------------------------------------------------------

namespace detail {
// has_F<P>: P has a member F. value_F<P, T>: P::F, as a value, converts to T
// (a static member function, or a static constexpr pointer to a function).
#define EMBER_PLUGIN_DETECT_(F)                                                \
  template <typename P, typename = void> struct has_##F : std::false_type {};  \
  template <typename P>                                                        \
  struct has_##F<P, std::void_t<decltype(&P::F)>> : std::true_type {};         \
  template <typename P, typename T, typename = void>                           \
  struct value_##F : std::false_type {};                                       \
  template <typename P, typename T>                                            \
  struct value_##F<P, T, std::void_t<decltype(P::F)>>                          \
      : std::is_convertible<decltype((P::F)), T> {};
EMBER_PLUGIN_API_FUNCTIONS(EMBER_PLUGIN_DETECT_)
#undef EMBER_PLUGIN_DETECT_

template <typename P, typename = void> struct has_strings : std::false_type {};
template <typename P>
struct has_strings<P, std::void_t<decltype(P::name), decltype(P::version)>>
    : std::true_type {};
} // namespace detail

// The table of plugin class P (see the top of this file).
template <typename P> constexpr ember_plugin_api makeTable() {
  static_assert(detail::has_strings<P>::value,
                "a plugin class needs `static constexpr const char *name` and "
                "`version`");
  static_assert(detail::has_get_capabilities<P>::value &&
                    detail::has_error_code<P>::value &&
                    detail::has_error_message<P>::value &&
                    detail::has_error_free<P>::value,
                "a plugin class needs get_capabilities and the error "
                "functions (the host refuses a plugin without them; "
                "PluginBase has the error functions)");
  ember_plugin_api t{};
  t.struct_size = sizeof(ember_plugin_api);
  t.next = nullptr;
  t.abi_major = EMBER_ABI_VERSION_MAJOR;
  t.abi_minor = EMBER_ABI_VERSION_MINOR;
  t.name = P::name;
  t.version = P::version;
#define EMBER_PLUGIN_FILL_(F)                                                  \
  if constexpr (detail::has_##F<P>::value) {                                   \
    static_assert(detail::value_##F<P, decltype(t.F)>::value,                  \
                  "the plugin's " #F " must be a static member function "      \
                  "with the type of ember_plugin_api::" #F " (backend.h), or " \
                  "a static constexpr pointer to such a function");            \
    t.F = P::F;                                                                \
  }
  EMBER_PLUGIN_API_FUNCTIONS(EMBER_PLUGIN_FILL_)
#undef EMBER_PLUGIN_FILL_
  return t;
}

// P's table: a constant with static storage, valid until the library is
// unloaded, as the ABI asks.
template <typename P>
inline constexpr ember_plugin_api pluginTable = makeTable<P>();

} // namespace ember_plugin

// Defines the exported ember_plugin_entry returning Class's table to a host
// of this header's ABI major version (ember_plugin::acceptHost).
#define EMBER_PLUGIN_ENTRY(Class)                                              \
  extern "C" EMBER_PLUGIN_EXPORT const ember_plugin_api *ember_plugin_entry(   \
      const ember_host_api *host) {                                            \
    return ::ember_plugin::acceptHost(host,                                    \
                                      &::ember_plugin::pluginTable<Class>);    \
  }

#endif // EMBER_PLUGIN_TABLE_HPP

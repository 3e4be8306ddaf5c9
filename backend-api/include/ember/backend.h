/*
 * Ember backend plugin ABI (C99).
 *
 * A backend is a shared library that exports one symbol, ember_plugin_entry.
 * Ember dlopen()s it (RTLD_LOCAL), calls the entry with the host's table and
 * version, and gets back the plugin's function table. Everything else crosses
 * through these two tables. Nothing here is C++; structured data (programs,
 * compile options, capability manifests, per-node answers, artifact headers)
 * crosses as serialized protobuf bytes whose schemas live in
 * backend-api/proto/ and are versioned apart from this header.
 *
 * docs/backend-abi.md explains the rules below at length; this header is the
 * normative text.
 *
 * COMPATIBILITY
 *   - Every struct starts with `struct_size` (sizeof the struct as the writer
 *     compiled it) and `next` (an extension chain, may be NULL).
 *   - Fields are only ever appended. A reader uses a field only when
 *     `struct_size` covers it; fields beyond the writer's struct_size read as
 *     zero/NULL. A NULL function pointer means "not implemented".
 *   - Unknown extension types in a `next` chain are ignored.
 *   - EMBER_ABI_VERSION_MAJOR changes only when an existing field changes
 *     meaning; a host loads plugins of its own major and any minor. Minor
 *     versions only append, and each appends to ember_plugin_api: a table's
 *     struct_size and its abi_minor agree (a host warns when they do not).
 *     Set them from sizeof(ember_plugin_api) and EMBER_ABI_VERSION_MINOR of
 *     the header you build with.
 *   - History: 1.0 first release; 1.1 appended executable_signature; 1.2
 *     appended buffer_import_host (and ember_host_buffer_params); 1.3
 *     appended executable_emit and event_profile; 1.4 appended
 *     device_describe and estimate_cost (and their argument structs); 1.5
 *     added program kind EMBER_PROGRAM_LAYERS (no new entries); later, the
 *     extension type EMBER_EXT_QUERY_OPTIONS (no new entries, no minor:
 *     readers skip unknown types).
 *
 * OWNERSHIP
 *   - ember_error objects are created by the plugin and owned by the caller
 *     once returned: the host frees each one with plugin->error_free.
 *   - Byte blobs a plugin returns (ember_blob) are allocated with the host's
 *     `alloc` callback and freed by the host with its `free` callback.
 *   - Handles (device, buffer, executable, event) are created by the plugin
 *     and released by the host with the matching *_release/close function,
 *     exactly once. Input pointers are borrowed for the duration of the call
 *     only, except where a comment says otherwise.
 *
 * THREADING
 *   - ember_plugin_entry, plugin_init and plugin_shutdown are called once
 *     each, from one thread, in that order.
 *   - All other functions may be called from any thread. Calls on different
 *     handles may run concurrently; the host never calls two functions on the
 *     same buffer, executable or event at the same time. get_capabilities,
 *     query_support and executable_compile must be thread-safe.
 *   - execute() may complete on a plugin-owned thread. The host's callbacks
 *     (log, alloc, free) are thread-safe.
 *   - A crash in the plugin, on any thread (the host finds its code on the
 *     stack), ends the host process with a report naming the plugin and
 *     the call or execution in flight. A call that does not return within
 *     the host's time limit is reported the same way; the host then calls
 *     none of the plugin's release functions for the handles involved.
 */
#ifndef EMBER_BACKEND_H
#define EMBER_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_ABI_VERSION_MAJOR 1
#define EMBER_ABI_VERSION_MINOR 5

/* The one symbol a plugin exports. */
#define EMBER_PLUGIN_ENTRY_SYMBOL "ember_plugin_entry"

#if defined(__GNUC__)
#define EMBER_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define EMBER_PLUGIN_EXPORT
#endif

/* ---- status codes (ember_error_code) ---------------------------------- */
typedef enum ember_status_code {
  EMBER_STATUS_OK = 0,
  EMBER_STATUS_INVALID_ARGUMENT = 1, /* malformed program, bad struct, ... */
  EMBER_STATUS_UNSUPPORTED = 2,      /* valid, but this backend cannot do it */
  EMBER_STATUS_OUT_OF_MEMORY = 3,
  EMBER_STATUS_INTERNAL = 4,         /* a bug in the plugin */
  EMBER_STATUS_VERSION_MISMATCH = 5, /* ABI, schema or artifact version */
  EMBER_STATUS_DEVICE_LOST = 6,
  EMBER_STATUS_TIMEOUT = 7,     /* event_wait: not complete within timeout */
  EMBER_STATUS_OUT_OF_RANGE = 8 /* offsets/sizes outside a buffer */
} ember_status_code;

/* ---- opaque handles ---------------------------------------------------- */
typedef struct ember_error ember_error;           /* code + message */
typedef struct ember_device ember_device;         /* an opened device */
typedef struct ember_buffer ember_buffer;         /* device memory */
typedef struct ember_executable ember_executable; /* a compiled program */
typedef struct ember_event ember_event;           /* completion of execute */

/* ---- extension chain --------------------------------------------------- */
/* Every struct's `next` points at a chain of these (or NULL). A reader walks
 * the chain, uses the types it knows (by `type`) and skips the others. */
typedef struct ember_extension {
  size_t struct_size;
  const struct ember_extension *next;
  uint32_t type; /* EMBER_EXT_* ; vendor types use values >= 0x10000 */
} ember_extension;

/* EMBER_EXT_QUERY_OPTIONS, on ember_query_params.next: the options the
 * host will compile the partitions with, so a plugin whose claims depend
 * on them (which nodes are worth a device partition) answers for them. A
 * plugin that does not read it answers as before. */
#define EMBER_EXT_QUERY_OPTIONS 1u
typedef struct ember_query_options {
  ember_extension ext; /* type EMBER_EXT_QUERY_OPTIONS */
  const void *options; /* serialized ember.backend.v1.CompileOptions */
  size_t options_size; /* 0: defaults */
} ember_query_options;

/* ---- bytes returned by the plugin ------------------------------------- */
/* `data` is allocated with ember_host_api.alloc; the host frees it. */
typedef struct ember_blob {
  size_t struct_size;
  const ember_extension *next;
  void *data;
  size_t size;
} ember_blob;

/* ---- the host's table (host -> plugin) -------------------------------- */
typedef enum ember_log_level {
  EMBER_LOG_DEBUG = 0,
  EMBER_LOG_INFO = 1,
  EMBER_LOG_WARNING = 2,
  EMBER_LOG_ERROR = 3
} ember_log_level;

typedef struct ember_host_api {
  size_t struct_size;
  const ember_extension *next;
  uint16_t abi_major; /* the host's EMBER_ABI_VERSION_* */
  uint16_t abi_minor;
  const char *host_name;    /* "ember" */
  const char *host_version; /* e.g. "0.1.0" */
  void *user_data;          /* passed back to every callback */
  /* Messages for the user (the host prefixes the plugin's name). */
  void (*log)(void *user_data, int32_t level, const char *message);
  /* Memory for ember_blob data and anything else the host frees. alignment
   * is a power of two; returns NULL on failure. */
  void *(*alloc)(void *user_data, size_t size, size_t alignment);
  void (*free)(void *user_data, void *ptr);
} ember_host_api;

/* ---- argument structs (host -> plugin) --------------------------------- */
typedef struct ember_device_params {
  size_t struct_size;
  const ember_extension *next;
  uint32_t device_index; /* 0 .. number of devices - 1 */
} ember_device_params;

typedef enum ember_memory_kind {
  EMBER_MEMORY_HOST_VISIBLE = 0, /* default: readable/writable by the host */
  EMBER_MEMORY_DEVICE_LOCAL = 1
} ember_memory_kind;

typedef struct ember_buffer_params {
  size_t struct_size;
  const ember_extension *next;
  uint64_t size_bytes;  /* > 0 */
  uint64_t alignment;   /* 0: the device's default */
  uint32_t memory_kind; /* ember_memory_kind */
} ember_buffer_params;

/* buffer_import_host (ABI 1.2): host memory the caller owns. */
typedef struct ember_host_buffer_params {
  size_t struct_size;
  const ember_extension *next;
  void *host_ptr;      /* not NULL */
  uint64_t size_bytes; /* > 0 */
} ember_host_buffer_params;

typedef enum ember_program_kind {
  EMBER_PROGRAM_GRAPH = 0, /* ember.backend.v1.Graph (lowered graph) */
  EMBER_PROGRAM_LIR = 1,   /* ember.backend.v1.LirProgram */
  /* ember.backend.v1.LayerProgram (ABI 1.5): a scheduled program of the NPU
     compiler layer, sent only to a plugin of ABI 1.5 or later whose manifest
     sets accepts_layers and carries its target description
     (docs/npu-sdk.md) */
  EMBER_PROGRAM_LAYERS = 2
} ember_program_kind;

typedef struct ember_capabilities_params {
  size_t struct_size;
  const ember_extension *next;
  /* serialized ember.backend.v1.CapabilityRequest; may be empty */
  const void *request;
  size_t request_size;
} ember_capabilities_params;

typedef struct ember_query_params {
  size_t struct_size;
  const ember_extension *next;
  /* serialized ember.backend.v1.Graph: answer for each of its nodes */
  const void *graph;
  size_t graph_size;
} ember_query_params;

typedef struct ember_compile_params {
  size_t struct_size;
  const ember_extension *next;
  uint32_t program_kind; /* ember_program_kind */
  const void *program;   /* serialized Graph or LirProgram */
  size_t program_size;
  const void *options; /* serialized ember.backend.v1.CompileOptions */
  size_t options_size; /* 0: defaults */
} ember_compile_params;

/* device_describe (ABI 1.4). */
typedef struct ember_device_query_params {
  size_t struct_size;
  const ember_extension *next;
  uint32_t device_index; /* 0 .. number of devices - 1 */
  /* serialized ember.backend.v1.CompileOptions the programs will be
   * compiled with (their vendor options may change the answer) */
  const void *options;
  size_t options_size; /* 0: defaults */
} ember_device_query_params;

/* estimate_cost (ABI 1.4). */
typedef struct ember_cost_params {
  size_t struct_size;
  const ember_extension *next;
  uint32_t device_index;
  uint32_t program_kind; /* ember_program_kind */
  const void *program;   /* serialized Graph or LirProgram */
  size_t program_size;
  const void *options; /* serialized ember.backend.v1.CompileOptions */
  size_t options_size; /* 0: defaults */
} ember_cost_params;

typedef struct ember_execute_params {
  size_t struct_size;
  const ember_extension *next;
  ember_executable *executable;
  /* One buffer per program input / output, in program order, each at least
   * as large as the tensor (row-major, densely packed). The buffers must stay
   * alive and untouched by the host until the event completes. An execution
   * writes only the first (tensor size) bytes of each output buffer and
   * never writes an input buffer. */
  ember_buffer *const *inputs;
  size_t num_inputs;
  ember_buffer *const *outputs;
  size_t num_outputs;
} ember_execute_params;

/* ---- the plugin's table (plugin -> host) ------------------------------ */
typedef struct ember_plugin_api {
  size_t struct_size;
  const ember_extension *next;
  uint16_t abi_major; /* the EMBER_ABI_VERSION_* the plugin was built with */
  uint16_t abi_minor;
  const char *name;    /* short identifier, e.g. "acme-npu" */
  const char *version; /* the plugin's own version, e.g. "1.4.0" */

  /* Errors. error_code/error_message never fail; the message stays valid
   * until error_free. */
  int32_t (*error_code)(const ember_error *error);
  const char *(*error_message)(const ember_error *error);
  void (*error_free)(ember_error *error);

  /* Called once after a successful handshake, before anything else; the
   * host table stays valid until plugin_shutdown returns. */
  ember_error *(*plugin_init)(const ember_host_api *host);
  /* Called once last; every handle has been released before. */
  void (*plugin_shutdown)(void);

  /* Capabilities: a serialized ember.backend.v1.CapabilityManifest (per
   * primitive op: dtypes, ranks, constraints; accepted program kinds). */
  ember_error *(*get_capabilities)(const ember_capabilities_params *params,
                                   ember_blob *out_manifest);
  /* Per-node answers for a graph: serialized ember.backend.v1.SupportReport
   * with one entry per node, and a reason for each unsupported one. */
  ember_error *(*query_support)(const ember_query_params *params,
                                ember_blob *out_report);

  /* Devices. device_count may be NULL (one device). */
  ember_error *(*device_count)(uint32_t *out_count);
  ember_error *(*device_open)(const ember_device_params *params,
                              ember_device **out_device);
  void (*device_close)(ember_device *device);

  /* Buffers. Reads and writes are synchronous and bounds-checked
   * (EMBER_STATUS_OUT_OF_RANGE). */
  ember_error *(*buffer_allocate)(ember_device *device,
                                  const ember_buffer_params *params,
                                  ember_buffer **out_buffer);
  void (*buffer_release)(ember_buffer *buffer);
  ember_error *(*buffer_write)(ember_buffer *buffer, uint64_t offset,
                               const void *src, uint64_t size);
  ember_error *(*buffer_read)(ember_buffer *buffer, uint64_t offset, void *dst,
                              uint64_t size);

  /* Compile a program. `device` may be NULL: ahead-of-time compilation
   * without a device. Unsupported programs fail with
   * EMBER_STATUS_UNSUPPORTED naming the node. */
  ember_error *(*executable_compile)(ember_device *device,
                                     const ember_compile_params *params,
                                     ember_executable **out_executable);
  /* Serialize to an artifact: the framing of backend-api/proto/artifact.proto
   * (magic, length-prefixed ArtifactHeader, then the plugin's payload). */
  ember_error *(*executable_serialize)(ember_executable *executable,
                                       ember_blob *out_artifact);
  /* Load an artifact, possibly in another process. */
  ember_error *(*executable_load)(ember_device *device, const void *artifact,
                                  size_t artifact_size,
                                  ember_executable **out_executable);
  void (*executable_release)(ember_executable *executable);

  /* Execution is asynchronous. execute() validates its arguments (errors
   * returned here mean nothing was started) and returns an event; a failure
   * while running is reported by event_wait. */
  ember_error *(*execute)(ember_device *device,
                          const ember_execute_params *params,
                          ember_event **out_event);
  /* Waits up to timeout_ns (UINT64_MAX: forever). Returns NULL when the
   * execution succeeded, EMBER_STATUS_TIMEOUT when it is still running, or
   * the execution's error. May be called again after a timeout. It must
   * return once timeout_ns has passed: a host bounds how long it waits. */
  ember_error *(*event_wait)(ember_event *event, uint64_t timeout_ns);
  void (*event_release)(ember_event *event);

  /* ---- ABI 1.1 ---------------------------------------------------------- */
  /* The executable's input/output signature: a serialized
   * ember.backend.v1.ArtifactHeader with inputs, outputs, input_names and
   * output_names filled (the rest may be empty). Lets the host run an
   * executable loaded from an artifact without knowing its program. */
  ember_error *(*executable_signature)(ember_executable *executable,
                                       ember_blob *out_signature);

  /* ---- ABI 1.2 ---------------------------------------------------------- */
  /* A buffer over host memory the caller owns, without a copy: for devices
   * that execute from host memory (a CPU). execute() reads an input buffer
   * and writes an output buffer in place; buffer_read / buffer_write work
   * as on any buffer. The memory must stay valid until buffer_release,
   * which does not free it, and the host must not touch it while an
   * execution using the buffer is pending. A plugin that cannot use this
   * memory (its alignment, its size) returns EMBER_STATUS_UNSUPPORTED; the
   * host then allocates a buffer and copies, as it does when this is NULL. */
  ember_error *(*buffer_import_host)(ember_device *device,
                                     const ember_host_buffer_params *params,
                                     ember_buffer **out_buffer);

  /* ---- ABI 1.3 ---------------------------------------------------------- */
  /* A text form of the executable, in one of the formats the manifest lists
   * in emit_formats (e.g. an assembly listing): UTF-8 text in a blob.
   * `format` is a NUL-terminated name; an unknown one is
   * EMBER_STATUS_UNSUPPORTED naming it. */
  ember_error *(*executable_emit)(ember_executable *executable,
                                  const char *format, ember_blob *out_text);
  /* The profile of a finished execution: a serialized
   * ember.backend.v1.ExecutionProfile (device counters, per-layer rows,
   * trace slices, as much as CompileOptions.profile_level asked for). Valid
   * after event_wait returned success, until event_release. */
  ember_error *(*event_profile)(ember_event *event, ember_blob *out_profile);

  /* ---- ABI 1.4: what the runtime asks of a device (docs/runtime.md) ----- */
  /* A serialized ember.backend.v1.DeviceDescription of device
   * params->device_index: its memory for programs, how many executions it
   * runs at once, whether and at which clock its timing is simulated.
   * Answers without opening the device. NULL: the host assumes no memory
   * limit, one execution at a time, wall-clock timing. */
  ember_error *(*device_describe)(const ember_device_query_params *params,
                                  ember_blob *out_description);
  /* The predicted cost of one execution of a program (a partition of a
   * model) on device params->device_index, compiled with params->options: a
   * serialized ember.backend.v1.CostEstimate (time, device memory, per
   * node). Must be thread-safe, like executable_compile. Unsupported nodes
   * are EMBER_STATUS_UNSUPPORTED naming the node. NULL: the host estimates
   * from the graph alone (docs/runtime.md). */
  ember_error *(*estimate_cost)(const ember_cost_params *params,
                                ember_blob *out_estimate);
} ember_plugin_api;

/* ---- the entry point --------------------------------------------------- */
/* The handshake. `host` carries the host's ABI version; the plugin returns
 * its static table (carrying the plugin's ABI version), or NULL to refuse
 * this host (it should say why through host->log first). The plugin must not
 * keep `host` beyond this call (plugin_init gets it again). The table must
 * stay valid until the library is unloaded. */
typedef const ember_plugin_api *(*ember_plugin_entry_fn)(
    const ember_host_api *host);

EMBER_PLUGIN_EXPORT const ember_plugin_api *
ember_plugin_entry(const ember_host_api *host);

/* Reading a field written by the other side, guarded by its struct_size:
 *   EMBER_HAS_FIELD(ember_plugin_api, api, event_release)
 * is true when `api` is large enough to contain the field. */
#define EMBER_HAS_FIELD(type, ptr, field)                                      \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

#ifdef __cplusplus
}
#endif

#endif /* EMBER_BACKEND_H */

/*
 * Ember op library ABI (C99).
 *
 * An op library is a shared object that adds operators to Ember without
 * touching Ember: `ember run MODEL --op-library ./libacme_ops.so`,
 * `ember.load(path, op_libraries=[...])` in Python. It registers operators
 * by ONNX domain, name and opset range. For each it gives
 *   - a type and shape function (`infer`): the results' element types and
 *     dims from the operands' types, constant operands' values and the
 *     attributes;
 *   - a reference kernel (`compute`, with optional per-node state from
 *     `kernel_create`): the op's definition, computed on host buffers. The
 *     reference interpreter (the oracle) and the CPU backend call it; a
 *     plugin that runs the op itself is tested against it;
 *   - optionally a lowering (`lower`): the op as graph IR text
 *     (docs/graph-ir.md) over Ember's ops, so that every backend runs it
 *     without knowing it.
 * docs/custom-ops.md explains the rules below at length, with a complete
 * example (examples/custom-op); this header is the normative text.
 *
 * LOADING AND THE HANDSHAKE
 *   Ember dlopen()s the library (RTLD_NOW | RTLD_LOCAL), resolves the one
 *   symbol EMBER_OP_LIBRARY_ENTRY_SYMBOL and calls it with its host table.
 *   The library returns its static table (carrying the ABI version it was
 *   built with), or NULL to refuse the host (saying why through host->log
 *   first). Ember loads a library of its own major version and any minor.
 *   A process may enter a library more than once (the host and an in-process
 *   backend each keep a registry): the entry must return the same table and
 *   keep no state of its own between calls. EMBER_OP_LIBRARY_ENTRY below
 *   defines the entry, and also `ember_op_library_entry_<name>`, the name an
 *   AOT bundle links against when it holds ops of several libraries.
 *
 * COMPATIBILITY (as the plugin ABI, ember/backend.h)
 *   - Every struct starts with `struct_size` (sizeof the struct as its writer
 *     compiled it) and `next` (an extension chain, may be NULL). Fields are
 *     only appended; a reader uses a field only when struct_size covers it
 *     (EMBER_OP_HAS_FIELD). A NULL function means "not implemented".
 *   - Arrays of structs are arrays of pointers, so that a struct may grow.
 *   - EMBER_OP_LIBRARY_VERSION_MAJOR changes only when a field changes
 *     meaning. History: 1.0 first release.
 *
 * ERRORS
 *   Every callback returns NULL on success or an error made with
 *   host->error_new (code + message, copied by the host), which the host
 *   owns from then on. A library never frees an error and never returns one
 *   the host did not make. Messages say what is wrong, not where: Ember adds
 *   the library, the op and the node.
 *
 * MEMORY AND THREADS
 *   Pointers the host passes are borrowed for the duration of the call.
 *   Text the library returns (a lowering) is allocated with host->alloc and
 *   freed by the host. infer, lower and kernel_create may be called from any
 *   thread, concurrently; compute concurrently on different states, never
 *   twice at once on one state. A kernel writes its outputs' bytes (exactly
 *   size_bytes each) and nothing else: not its inputs, not past its outputs
 *   (the conformance kit and the interpreter check with guard zones).
 */
#ifndef EMBER_OP_LIBRARY_H
#define EMBER_OP_LIBRARY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBER_OP_LIBRARY_VERSION_MAJOR 1
#define EMBER_OP_LIBRARY_VERSION_MINOR 0

/* The one symbol an op library exports. */
#define EMBER_OP_LIBRARY_ENTRY_SYMBOL "ember_op_library_entry"

#if defined(__GNUC__)
#define EMBER_OP_EXPORT __attribute__((visibility("default")))
#else
#define EMBER_OP_EXPORT
#endif
/* C linkage for the entry points of a library written in C++. */
#ifdef __cplusplus
#define EMBER_OP_EXTERN_C extern "C"
#else
#define EMBER_OP_EXTERN_C
#endif

/* The most dims a result may have (`infer` writes into host storage of
 * this many entries). */
#define EMBER_OP_MAX_RANK 32
/* ember_op_def.max_inputs / max_outputs: no upper limit. */
#define EMBER_OP_VARIADIC 0xffffffffu

/* ---- status codes (the plugin ABI's numbers) ------------------------- */
typedef enum ember_op_status {
  EMBER_OP_OK = 0,
  EMBER_OP_INVALID_ARGUMENT = 1, /* operands or attributes the op rejects */
  EMBER_OP_UNSUPPORTED = 2,      /* valid ONNX, not implemented here */
  EMBER_OP_OUT_OF_MEMORY = 3,
  EMBER_OP_INTERNAL = 4 /* a bug in the library */
} ember_op_status;

/* ---- element types: ONNX TensorProto.DataType values ------------------ */
/* In memory: row-major, densely packed, little-endian; the narrow kinds
 * (float8, float4, 4- and 2-bit integers) take one byte per element. */
typedef enum ember_op_dtype {
  EMBER_OP_DTYPE_UNDEFINED = 0, /* an absent optional operand */
  EMBER_OP_F32 = 1,
  EMBER_OP_U8 = 2,
  EMBER_OP_I8 = 3,
  EMBER_OP_U16 = 4,
  EMBER_OP_I16 = 5,
  EMBER_OP_I32 = 6,
  EMBER_OP_I64 = 7,
  EMBER_OP_BOOL = 9, /* one byte, 0 or 1 */
  EMBER_OP_F16 = 10,
  EMBER_OP_F64 = 11,
  EMBER_OP_U32 = 12,
  EMBER_OP_U64 = 13,
  EMBER_OP_BF16 = 16,
  EMBER_OP_F8E4M3FN = 17,
  EMBER_OP_F8E4M3FNUZ = 18,
  EMBER_OP_F8E5M2 = 19,
  EMBER_OP_F8E5M2FNUZ = 20,
  EMBER_OP_U4 = 21,
  EMBER_OP_I4 = 22,
  EMBER_OP_F4E2M1 = 23,
  EMBER_OP_F8E8M0 = 24,
  EMBER_OP_U2 = 25,
  EMBER_OP_I2 = 26
} ember_op_dtype;

/* ---- attribute types: ONNX AttributeProto.AttributeType values ------- */
typedef enum ember_op_attr_type {
  EMBER_OP_ATTR_FLOAT = 1,
  EMBER_OP_ATTR_INT = 2,
  EMBER_OP_ATTR_STRING = 3,
  EMBER_OP_ATTR_TENSOR = 4,
  EMBER_OP_ATTR_FLOATS = 6,
  EMBER_OP_ATTR_INTS = 7,
  EMBER_OP_ATTR_STRINGS = 8
} ember_op_attr_type;

/* ---- integer forms (ember_op_def.integer_form) ------------------------ */
/* What `ember quantize` and the lowering of quantized graphs do with the op
 * (docs/custom-ops.md, "Quantization"). */
typedef enum ember_op_integer_form {
  /* Float only: `ember quantize` leaves its operands and results float;
   * in a quantized graph it computes in float between Dequantize and
   * Quantize. */
  EMBER_OP_INTEGER_NONE = 0,
  /* Its lowering has an integer form: `ember quantize` quantizes its float
   * operands and results (own parameters), and the lowering's ops between
   * them become Ember's integer forms (docs/quantization.md). Needs `lower`. */
  EMBER_OP_INTEGER_LOWERING = 1,
  /* Its kernel computes on 8-bit quantized tensors: `ember quantize`
   * quantizes its float operands and results, and in the lowered graph the
   * node reads and writes the stored integers, with each tensor's scale and
   * zero point in its ember_op_type. `infer` is then called with those
   * types, each result arriving with its dtype (u8 or i8), scale and zero
   * point already set (from the QuantizeLinear after it): it gives the
   * dims and keeps the dtype. */
  EMBER_OP_INTEGER_KERNEL = 2
} ember_op_integer_form;

/* ---- extension chain ---------------------------------------------------- */
typedef struct ember_op_extension {
  size_t struct_size;
  const struct ember_op_extension *next;
  uint32_t type; /* vendor types use values >= 0x10000 */
} ember_op_extension;

typedef struct ember_op_error ember_op_error; /* opaque; made by the host */

/* ---- the host's table (host -> library) -------------------------------- */
typedef enum ember_op_log_level {
  EMBER_OP_LOG_DEBUG = 0,
  EMBER_OP_LOG_INFO = 1,
  EMBER_OP_LOG_WARNING = 2,
  EMBER_OP_LOG_ERROR = 3
} ember_op_log_level;

typedef struct ember_op_host_api {
  size_t struct_size;
  const ember_op_extension *next;
  uint16_t abi_major; /* the host's EMBER_OP_LIBRARY_VERSION_* */
  uint16_t abi_minor;
  const char *host_name;    /* "ember" */
  const char *host_version; /* e.g. "0.1.0" */
  void *user_data;          /* passed back to every callback */
  /* A message for the user (the host prefixes the library's name). */
  void (*log)(void *user_data, int32_t level, const char *message);
  /* An error to return: `code` is an ember_op_status, `message` is copied.
   * Never NULL. */
  ember_op_error *(*error_new)(void *user_data, int32_t code,
                               const char *message);
  /* Memory the host frees (a lowering's text). alignment is a power of
   * two; returns NULL on failure. */
  void *(*alloc)(void *user_data, size_t size, size_t alignment);
  void (*free)(void *user_data, void *ptr);
} ember_op_host_api;

/* ---- types, tensors, attributes, nodes ---------------------------------- */
typedef struct ember_op_type {
  size_t struct_size;
  const ember_op_extension *next;
  int32_t dtype; /* ember_op_dtype; UNDEFINED: an absent operand */
  int32_t rank;  /* 0: a scalar */
  /* rank entries. Operands: read only. infer's results: host storage of
   * EMBER_OP_MAX_RANK entries for the library to fill. */
  int64_t *dims;
  /* Quantization (EMBER_OP_INTEGER_KERNEL only): real = scale * (q -
   * zero_point), per tensor. scale 0: not quantized. */
  float scale;
  int64_t zero_point;
} ember_op_type;

typedef struct ember_op_tensor {
  size_t struct_size;
  const ember_op_extension *next;
  const ember_op_type *type;
  void *data;        /* operands (and constants): read only */
  size_t size_bytes; /* elements x bytes per element */
} ember_op_tensor;

typedef struct ember_op_attr {
  size_t struct_size;
  const ember_op_extension *next;
  const char *name;
  int32_t type;        /* ember_op_attr_type */
  int64_t i;           /* INT */
  double f;            /* FLOAT (ONNX stores a float32; widened exactly) */
  const char *s;       /* STRING: NUL-terminated; s_size bytes before the NUL */
  size_t s_size;       /* (an ONNX string may hold NUL bytes) */
  size_t count;        /* INTS, FLOATS, STRINGS: number of values */
  const int64_t *ints; /* INTS */
  const double *floats;                 /* FLOATS */
  const char *const *strings;           /* STRINGS, each NUL-terminated */
  const size_t *string_sizes;           /* STRINGS: their sizes */
  const struct ember_op_tensor *tensor; /* TENSOR */
} ember_op_attr;

/* One node of the op, as every callback sees it. */
typedef struct ember_op_node {
  size_t struct_size;
  const ember_op_extension *next;
  const char *domain; /* as registered ("ai.onnx" for the default domain) */
  const char *name;
  int64_t opset;         /* the model's opset version of the domain */
  const char *node_name; /* the ONNX node's name, for messages; may be "" */
  size_t num_inputs;     /* operands as the node has them (ONNX order) */
  const ember_op_type *const *inputs;
  /* Per operand: its value when it is known at compile time (a constant:
   * weights, shapes, axes), else NULL. */
  const ember_op_tensor *const *constants;
  size_t num_outputs;
  /* The results' types: NULL while `infer` computes them; what `infer`
   * gave in every later call. */
  const ember_op_type *const *outputs;
  size_t num_attrs; /* sorted by name */
  const ember_op_attr *const *attrs;
} ember_op_node;

/* ---- callback arguments ------------------------------------------------- */
typedef struct ember_op_infer_args {
  size_t struct_size;
  const ember_op_extension *next;
  const ember_op_host_api *host;
  void *user_data; /* ember_op_def.user_data */
  const ember_op_node *node;
  /* node->num_outputs results to fill: dtype, rank and dims (scale and
   * zero_point are Ember's; EMBER_OP_INTEGER_KERNEL: dtype set too). */
  ember_op_type *const *outputs;
} ember_op_infer_args;

typedef struct ember_op_create_args {
  size_t struct_size;
  const ember_op_extension *next;
  const ember_op_host_api *host;
  void *user_data;
  const ember_op_node *node; /* types final; attributes; constants */
  void **state;              /* set it; compute gets it back */
} ember_op_create_args;

typedef struct ember_op_compute_args {
  size_t struct_size;
  const ember_op_extension *next;
  const ember_op_host_api *host;
  void *user_data;
  void *state; /* kernel_create's, or NULL */
  const ember_op_node *node;
  /* node->num_inputs operands (NULL for an absent one) and
   * node->num_outputs results to write. */
  const ember_op_tensor *const *inputs;
  const ember_op_tensor *const *outputs;
} ember_op_compute_args;

typedef struct ember_op_text {
  size_t struct_size;
  const ember_op_extension *next;
  char *data; /* allocated with host->alloc; need not end in NUL */
  size_t size;
} ember_op_text;

typedef struct ember_op_lower_args {
  size_t struct_size;
  const ember_op_extension *next;
  const ember_op_host_api *host;
  void *user_data;
  const ember_op_node *node; /* types final */
  /* One graph IR function (docs/graph-ir.md): one parameter per operand
   * present (in order, of its type), one returned value per result (of its
   * type). Result types of its statements may be left out (`: T` is then
   * inferred); it may use any op Ember knows, custom ones included. */
  ember_op_text *text;
} ember_op_lower_args;

/* ---- an operator ----------------------------------------------------------
 */
typedef struct ember_op_def {
  size_t struct_size;
  const ember_op_extension *next;
  const char *domain;  /* ONNX domain, e.g. "com.acme"; "" or "ai.onnx": the
                          default domain (only names Ember does not define) */
  const char *name;    /* the ONNX op_type */
  int64_t opset_first; /* the first opset version of `domain` it covers, >= 1 */
  int64_t opset_last;  /* the last one; 0: no limit */
  /* Operand and result counts. Operands from min_inputs on are optional
   * (absent: an empty name in ONNX, dtype UNDEFINED here). */
  uint32_t min_inputs, max_inputs;   /* max: EMBER_OP_VARIADIC: no limit */
  uint32_t min_outputs, max_outputs; /* at least 1 */
  uint32_t integer_form;             /* ember_op_integer_form */
  void *user_data;                   /* passed back in every args struct */

  /* Required: the results' types. Called at import, after every graph
   * rewrite that touches the node, and before each kernel run. */
  ember_op_error *(*infer)(const ember_op_infer_args *args);
  /* Required: the reference kernel. */
  ember_op_error *(*compute)(const ember_op_compute_args *args);
  /* Optional: per-node state made once before the node's first run (parsed
   * attributes, tables), and its release (host memory goes back with
   * host->free). */
  ember_op_error *(*kernel_create)(const ember_op_create_args *args);
  void (*kernel_destroy)(const ember_op_host_api *host, void *user_data,
                         void *state);
  /* Optional: the lowering into Ember's ops (graph IR text). */
  ember_op_error *(*lower)(const ember_op_lower_args *args);
  /* Optional: graph IR text of one or more functions that use the op, each
   * a case the conformance kit runs on a plugin claiming the op and compares
   * with this kernel (without any, the kit draws cases from the arity and
   * the plugin's manifest). */
  const char *test_cases;
} ember_op_def;

/* ---- the library's table (library -> host) ------------------------------ */
typedef struct ember_op_library {
  size_t struct_size;
  const ember_op_extension *next;
  uint16_t abi_major; /* the EMBER_OP_LIBRARY_VERSION_* it was built with */
  uint16_t abi_minor;
  const char *name;    /* identifier: letters, digits, '_' (e.g. "acme_ops") */
  const char *version; /* the library's own, e.g. "1.2.0" */
  size_t num_ops;
  const ember_op_def *const *ops;
} ember_op_library;

typedef const ember_op_library *(*ember_op_library_entry_fn)(
    const ember_op_host_api *host);

EMBER_OP_EXPORT const ember_op_library *
ember_op_library_entry(const ember_op_host_api *host);

/* Defines the entry point (and its alias ember_op_library_entry_<name>),
 * with C linkage in C and C++:
 *   EMBER_OP_LIBRARY_ENTRY(acme_ops) { return &kLibrary; }
 * The body sees `host`. */
#define EMBER_OP_LIBRARY_ENTRY(name)                                           \
  static const ember_op_library *ember_op_entry_body_##name(                   \
      const ember_op_host_api *host);                                          \
  EMBER_OP_EXTERN_C EMBER_OP_EXPORT const ember_op_library *                   \
  ember_op_library_entry(const ember_op_host_api *host) {                      \
    return ember_op_entry_body_##name(host);                                   \
  }                                                                            \
  EMBER_OP_EXTERN_C EMBER_OP_EXPORT const ember_op_library                     \
      *ember_op_library_entry_##name(const ember_op_host_api *host) {          \
    return ember_op_entry_body_##name(host);                                   \
  }                                                                            \
  static const ember_op_library *ember_op_entry_body_##name(                   \
      const ember_op_host_api *host)

/* True when `ptr` (written by the other side) is large enough to hold
 * `field`. */
#define EMBER_OP_HAS_FIELD(type, ptr, field)                                   \
  ((ptr)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* ---- helpers (header only) ---------------------------------------------- */

/* An error from an args struct: return ember_op_fail(args->host, code,
 * "..."). */
static inline ember_op_error *ember_op_fail(const ember_op_host_api *host,
                                            int32_t code, const char *msg) {
  return host->error_new(host->user_data, code, msg);
}

/* The attribute `name` of the node, or NULL. */
static inline const ember_op_attr *ember_op_find_attr(const ember_op_node *n,
                                                      const char *name) {
  size_t i;
  for (i = 0; i < n->num_attrs; ++i)
    if (strcmp(n->attrs[i]->name, name) == 0)
      return n->attrs[i];
  return NULL;
}

static inline int64_t ember_op_attr_int(const ember_op_node *n,
                                        const char *name, int64_t def) {
  const ember_op_attr *a = ember_op_find_attr(n, name);
  return a && a->type == EMBER_OP_ATTR_INT ? a->i : def;
}

static inline double ember_op_attr_float(const ember_op_node *n,
                                         const char *name, double def) {
  const ember_op_attr *a = ember_op_find_attr(n, name);
  return a && a->type == EMBER_OP_ATTR_FLOAT ? a->f : def;
}

static inline const char *ember_op_attr_string(const ember_op_node *n,
                                               const char *name,
                                               const char *def) {
  const ember_op_attr *a = ember_op_find_attr(n, name);
  return a && a->type == EMBER_OP_ATTR_STRING ? a->s : def;
}

/* Bytes per element in memory; 0 for UNDEFINED and unknown types. */
static inline size_t ember_op_dtype_size(int32_t dtype) {
  switch (dtype) {
  case EMBER_OP_F64:
  case EMBER_OP_I64:
  case EMBER_OP_U64:
    return 8;
  case EMBER_OP_F32:
  case EMBER_OP_I32:
  case EMBER_OP_U32:
    return 4;
  case EMBER_OP_F16:
  case EMBER_OP_BF16:
  case EMBER_OP_I16:
  case EMBER_OP_U16:
    return 2;
  case EMBER_OP_U8:
  case EMBER_OP_I8:
  case EMBER_OP_BOOL:
  case EMBER_OP_F8E4M3FN:
  case EMBER_OP_F8E4M3FNUZ:
  case EMBER_OP_F8E5M2:
  case EMBER_OP_F8E5M2FNUZ:
  case EMBER_OP_U4:
  case EMBER_OP_I4:
  case EMBER_OP_F4E2M1:
  case EMBER_OP_F8E8M0:
  case EMBER_OP_U2:
  case EMBER_OP_I2:
    return 1;
  default:
    return 0;
  }
}

/* The dtype's name in graph IR text ("f32", "i8", ...); "?" if unknown. */
static inline const char *ember_op_dtype_name(int32_t dtype) {
  switch (dtype) {
  case EMBER_OP_F32:
    return "f32";
  case EMBER_OP_U8:
    return "u8";
  case EMBER_OP_I8:
    return "i8";
  case EMBER_OP_U16:
    return "u16";
  case EMBER_OP_I16:
    return "i16";
  case EMBER_OP_I32:
    return "i32";
  case EMBER_OP_I64:
    return "i64";
  case EMBER_OP_BOOL:
    return "bool";
  case EMBER_OP_F16:
    return "f16";
  case EMBER_OP_F64:
    return "f64";
  case EMBER_OP_U32:
    return "u32";
  case EMBER_OP_U64:
    return "u64";
  case EMBER_OP_BF16:
    return "bf16";
  case EMBER_OP_F8E4M3FN:
    return "f8e4m3fn";
  case EMBER_OP_F8E4M3FNUZ:
    return "f8e4m3fnuz";
  case EMBER_OP_F8E5M2:
    return "f8e5m2";
  case EMBER_OP_F8E5M2FNUZ:
    return "f8e5m2fnuz";
  case EMBER_OP_U4:
    return "u4";
  case EMBER_OP_I4:
    return "i4";
  case EMBER_OP_F4E2M1:
    return "f4e2m1";
  case EMBER_OP_F8E8M0:
    return "f8e8m0";
  case EMBER_OP_U2:
    return "u2";
  case EMBER_OP_I2:
    return "i2";
  default:
    return "?";
  }
}

/* Elements of a type (1 for a scalar). */
static inline int64_t ember_op_num_elements(const ember_op_type *t) {
  int64_t n = 1;
  int32_t i;
  for (i = 0; i < t->rank; ++i)
    n *= t->dims[i];
  return n;
}

/* Copies a type's dtype, rank and dims into a result of infer. */
static inline void ember_op_copy_type(ember_op_type *to,
                                      const ember_op_type *from) {
  int32_t i;
  to->dtype = from->dtype;
  to->rank = from->rank;
  for (i = 0; i < from->rank && i < EMBER_OP_MAX_RANK; ++i)
    to->dims[i] = from->dims[i];
}

/* Appends the graph IR text of a type ("f32[2,3]", without quantization)
 * to buf[*len..cap), always NUL-terminating; returns 0 when it does not
 * fit. For writing a lowering's parameters. */
static inline int ember_op_append_type(char *buf, size_t cap, size_t *len,
                                       const ember_op_type *t) {
  const char *name = ember_op_dtype_name(t->dtype);
  int32_t i;
  char digits[24];
  size_t need;
#define EMBER_OP_PUT(s)                                                        \
  do {                                                                         \
    need = strlen(s);                                                          \
    if (*len + need >= cap)                                                    \
      return 0;                                                                \
    memcpy(buf + *len, (s), need);                                             \
    *len += need;                                                              \
    buf[*len] = 0;                                                             \
  } while (0)
  EMBER_OP_PUT(name);
  EMBER_OP_PUT("[");
  for (i = 0; i < t->rank; ++i) {
    int64_t v = t->dims[i];
    int k = 0, j;
    char rev[24];
    if (i)
      EMBER_OP_PUT(",");
    if (v < 0)
      v = 0;
    do {
      rev[k++] = (char)('0' + (int)(v % 10));
      v /= 10;
    } while (v && k < 23);
    for (j = 0; j < k; ++j)
      digits[j] = rev[k - 1 - j];
    digits[k] = 0;
    EMBER_OP_PUT(digits);
  }
  EMBER_OP_PUT("]");
#undef EMBER_OP_PUT
  return 1;
}

/* Sets a lowering's text: a copy of `s` (NUL-terminated) in host memory. */
static inline ember_op_error *ember_op_set_text(const ember_op_lower_args *a,
                                                const char *s) {
  size_t n = strlen(s);
  char *p = (char *)a->host->alloc(a->host->user_data, n ? n : 1, 1);
  if (!p)
    return ember_op_fail(a->host, EMBER_OP_OUT_OF_MEMORY,
                         "no memory for the lowering's text");
  memcpy(p, s, n);
  a->text->data = p;
  a->text->size = n;
  return NULL;
}

#ifdef __cplusplus
}
#endif

#endif /* EMBER_OP_LIBRARY_H */

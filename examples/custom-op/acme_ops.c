/*
 * acme_ops: an op library (ember/op_library.h) with two operators of the
 * ONNX domain "com.acme", built against an installed Ember SDK
 * (README.md). Plain C99.
 *
 *   com.acme::ClampedAdd(a, b) {lo, hi} -> y
 *       y = min(max(a + b, lo), hi), f32, a and b of one shape. It has a
 *       lowering (Add, Max, Min), so every backend runs it without knowing
 *       it, and declares the integer form of its lowering: `ember quantize`
 *       quantizes it, and in the int8 model it becomes Ember's quantized add
 *       with its clamp, which the example NPU runs.
 *   com.acme::RowNorm(x, [scale]) {mode, eps, axis} -> (y, norm)
 *       each line of x along `axis` divided by its norm plus eps ("l2": the
 *       Euclidean norm, "max": the largest magnitude), times scale (one
 *       value per position along the axis, optional); `norm` holds the
 *       norms (x's shape with a 1 at the axis). Kernel only: it runs where
 *       its reference kernel can (the interpreter, the CPU backend, the
 *       host fallback of an accelerator).
 */
#include <ember/op_library.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static int same_dims(const ember_op_type *a, const ember_op_type *b) {
  int32_t i;
  if (a->rank != b->rank)
    return 0;
  for (i = 0; i < a->rank; ++i)
    if (a->dims[i] != b->dims[i])
      return 0;
  return 1;
}

/* ---- com.acme::ClampedAdd --------------------------------------------------
 */
static ember_op_error *clamped_add_infer(const ember_op_infer_args *a) {
  const ember_op_node *n = a->node;
  if (n->inputs[0]->dtype != EMBER_OP_F32 ||
      n->inputs[1]->dtype != EMBER_OP_F32)
    return ember_op_fail(a->host, EMBER_OP_UNSUPPORTED, "a and b must be f32");
  if (!same_dims(n->inputs[0], n->inputs[1]))
    return ember_op_fail(a->host, EMBER_OP_INVALID_ARGUMENT,
                         "a and b must have the same shape");
  ember_op_copy_type(a->outputs[0], n->inputs[0]);
  return NULL;
}

static ember_op_error *clamped_add_compute(const ember_op_compute_args *a) {
  const float *x = (const float *)a->inputs[0]->data;
  const float *y = (const float *)a->inputs[1]->data;
  float *out = (float *)a->outputs[0]->data;
  float lo = (float)ember_op_attr_float(a->node, "lo", -HUGE_VAL);
  float hi = (float)ember_op_attr_float(a->node, "hi", HUGE_VAL);
  int64_t i, count = ember_op_num_elements(a->node->outputs[0]);
  for (i = 0; i < count; ++i) {
    /* As the lowering computes it: Add, then Max, then Min, in f32. */
    float s = x[i] + y[i];
    s = s < lo ? lo : s;
    out[i] = s > hi ? hi : s;
  }
  return NULL;
}

static ember_op_error *clamped_add_lower(const ember_op_lower_args *a) {
  char text[2048], type[512];
  size_t len = 0;
  double lo = ember_op_attr_float(a->node, "lo", -HUGE_VAL);
  double hi = ember_op_attr_float(a->node, "hi", HUGE_VAL);
  if (!ember_op_append_type(type, sizeof type, &len, a->node->inputs[0]))
    return ember_op_fail(a->host, EMBER_OP_UNSUPPORTED, "rank too large");
  /* One parameter per operand, one returned value per result; the types of
   * the statements are inferred. */
  snprintf(text, sizeof text,
           "func @clamped_add(%%a: %s, %%b: %s) {\n"
           "  %%lo = Constant dense<f32[]: [%.9g]>\n"
           "  %%hi = Constant dense<f32[]: [%.9g]>\n"
           "  %%s = Add(%%a, %%b)\n"
           "  %%m = Max(%%s, %%lo)\n"
           "  %%y = Min(%%m, %%hi)\n"
           "  return %%y\n"
           "}\n",
           type, type, (float)lo, (float)hi);
  return ember_op_set_text(a, text);
}

static const ember_op_def clamped_add = {
    sizeof(ember_op_def), NULL, "com.acme", "ClampedAdd",
    1,    /* opsets 1 and later */
    0, 2, /* operands: a, b */
    2, 1, /* results: y */
    1, EMBER_OP_INTEGER_LOWERING, NULL, clamped_add_infer, clamped_add_compute,
    NULL, /* no per-node state */
    NULL, clamped_add_lower,
    /* a case for the conformance kit, on a plugin that claims the op */
    "func @case(%a: f32[2,5], %b: f32[2,5]) {\n"
    "  %y = com.acme::ClampedAdd(%a, %b) {hi = 0.75, lo = -0.5}\n"
    "  return %y\n"
    "}\n"};

/* ---- com.acme::RowNorm -----------------------------------------------------
 */
typedef struct row_norm_state {
  int max_mode;
  float eps;
  int64_t outer, len, inner; /* x as [outer, len, inner], len along axis */
} row_norm_state;

/* The axis attribute within the rank, or -1. */
static int64_t row_norm_axis(const ember_op_node *n) {
  int64_t rank = n->inputs[0]->rank;
  int64_t axis = ember_op_attr_int(n, "axis", -1);
  if (axis < 0)
    axis += rank;
  return axis >= 0 && axis < rank ? axis : -1;
}

static ember_op_error *row_norm_infer(const ember_op_infer_args *a) {
  const ember_op_node *n = a->node;
  const ember_op_type *x = n->inputs[0];
  const char *mode = ember_op_attr_string(n, "mode", "l2");
  int64_t axis = row_norm_axis(n);
  if (x->dtype != EMBER_OP_F32)
    return ember_op_fail(a->host, EMBER_OP_UNSUPPORTED, "x must be f32");
  if (axis < 0)
    return ember_op_fail(a->host, EMBER_OP_INVALID_ARGUMENT,
                         "axis is outside x's rank");
  if (strcmp(mode, "l2") != 0 && strcmp(mode, "max") != 0)
    return ember_op_fail(a->host, EMBER_OP_INVALID_ARGUMENT,
                         "mode must be \"l2\" or \"max\"");
  if (n->num_inputs > 1 && n->inputs[1]->dtype != EMBER_OP_DTYPE_UNDEFINED &&
      (n->inputs[1]->dtype != EMBER_OP_F32 || n->inputs[1]->rank != 1 ||
       n->inputs[1]->dims[0] != x->dims[axis]))
    return ember_op_fail(a->host, EMBER_OP_INVALID_ARGUMENT,
                         "scale must be f32 with one value per position "
                         "along the axis");
  ember_op_copy_type(a->outputs[0], x);
  if (n->num_outputs > 1) {
    ember_op_copy_type(a->outputs[1], x);
    a->outputs[1]->dims[axis] = 1;
  }
  return NULL;
}

static ember_op_error *row_norm_create(const ember_op_create_args *a) {
  const ember_op_node *n = a->node;
  const ember_op_type *x = n->inputs[0];
  int64_t axis = row_norm_axis(n), i;
  row_norm_state *s = (row_norm_state *)a->host->alloc(
      a->host->user_data, sizeof(row_norm_state), sizeof(double));
  if (!s)
    return ember_op_fail(a->host, EMBER_OP_OUT_OF_MEMORY, "no memory");
  s->max_mode = strcmp(ember_op_attr_string(n, "mode", "l2"), "max") == 0;
  s->eps = (float)ember_op_attr_float(n, "eps", 1e-6);
  s->outer = s->inner = 1;
  s->len = x->dims[axis];
  for (i = 0; i < axis; ++i)
    s->outer *= x->dims[i];
  for (i = axis + 1; i < x->rank; ++i)
    s->inner *= x->dims[i];
  *a->state = s;
  return NULL;
}

static void row_norm_destroy(const ember_op_host_api *host, void *user_data,
                             void *state) {
  (void)user_data;
  host->free(host->user_data, state);
}

static ember_op_error *row_norm_compute(const ember_op_compute_args *a) {
  const row_norm_state *s = (const row_norm_state *)a->state;
  const float *x = (const float *)a->inputs[0]->data;
  const float *scale = a->node->num_inputs > 1 && a->inputs[1]
                           ? (const float *)a->inputs[1]->data
                           : NULL;
  float *y = (float *)a->outputs[0]->data;
  float *norms = a->node->num_outputs > 1 ? (float *)a->outputs[1]->data : NULL;
  int64_t o, k, i;
  for (o = 0; o < s->outer; ++o)
    for (i = 0; i < s->inner; ++i) {
      const float *line = x + o * s->len * s->inner + i;
      float *out = y + o * s->len * s->inner + i;
      float norm = 0;
      for (k = 0; k < s->len; ++k) {
        float v = line[k * s->inner];
        if (s->max_mode)
          norm = fabsf(v) > norm ? fabsf(v) : norm;
        else
          norm += v * v;
      }
      if (!s->max_mode)
        norm = sqrtf(norm);
      for (k = 0; k < s->len; ++k)
        out[k * s->inner] =
            line[k * s->inner] / (norm + s->eps) * (scale ? scale[k] : 1.0f);
      if (norms)
        norms[o * s->inner + i] = norm;
    }
  return NULL;
}

static const ember_op_def row_norm = {
    sizeof(ember_op_def),
    NULL,
    "com.acme",
    "RowNorm",
    1,
    0,
    1, /* operands: x, and optionally scale */
    2,
    1, /* results: y, and optionally norm */
    2,
    EMBER_OP_INTEGER_NONE, /* float: `ember quantize` leaves it float */
    NULL,
    row_norm_infer,
    row_norm_compute,
    row_norm_create,
    row_norm_destroy,
    NULL, /* no lowering: kernel only */
    "func @case(%x: f32[3,4,5]) {\n"
    "  %y, %n = com.acme::RowNorm(%x) {axis = 1, mode = \"max\"}\n"
    "  return %y, %n\n"
    "}\n"
    "func @case_scale(%x: f32[2,6], %s: f32[6]) {\n"
    "  %y = com.acme::RowNorm(%x, %s) {eps = 0.001}\n"
    "  return %y\n"
    "}\n"};

/* ---- the library
 * ------------------------------------------------------------- */
static const ember_op_def *const ops[] = {&clamped_add, &row_norm};

static const ember_op_library library = {
    sizeof(ember_op_library),       NULL,       EMBER_OP_LIBRARY_VERSION_MAJOR,
    EMBER_OP_LIBRARY_VERSION_MINOR, "acme_ops", "1.0.0",
    sizeof ops / sizeof ops[0],     ops};

EMBER_OP_LIBRARY_ENTRY(acme_ops) {
  if (host->abi_major != EMBER_OP_LIBRARY_VERSION_MAJOR) {
    host->log(host->user_data, EMBER_OP_LOG_ERROR,
              "acme_ops is built for op library ABI 1");
    return NULL;
  }
  return &library;
}

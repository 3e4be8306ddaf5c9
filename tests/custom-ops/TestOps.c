/*
 * test_ops: an op library that uses what vendors' ops use (tests/custom-ops):
 *   org.test::AttrSum(x, [bias]) {i, f, s, ints, floats, strings, t}
 *       -> (y: f32, info: i64[7])
 *     every attribute type; an optional operand; two results of different
 *     types. y = x + (i + f + sum(ints) + sum(floats) + sum(t) + number of
 *     strings) + bias (a scalar); info = [i, bytes of s, |ints|, |floats|,
 *     |strings|, elements of t, bytes of all strings]. Kernel only.
 *   org.test::SatAdd8(a: i8, b: i8) -> i8
 *     opsets 1 to 1: saturating; opsets 2 and later: wrapping (two
 *     definitions of one op). Both with a lowering over int32.
 *   org.test::Fold(x) -> [d0, d1 * d2 * ...]
 *     a shape function that propagates dims (run with symbolic batch dims);
 *     any element type, narrow ones included. With a lowering (Reshape).
 *   org.test::QScale(x: f32) {factor} -> f32
 *     y = x * factor; with the integer kernel form: on 8-bit quantized
 *     tensors, with their scales and zero points.
 */
#include <ember/op_library.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

static ember_op_error *fail(const ember_op_host_api *h, const char *m) {
  return ember_op_fail(h, EMBER_OP_INVALID_ARGUMENT, m);
}

/* ---- AttrSum ----------------------------------------------------------------
 */
static ember_op_error *attr_sum_infer(const ember_op_infer_args *a) {
  const ember_op_node *n = a->node;
  static const char *const names[] = {"i",      "f",       "s", "ints",
                                      "floats", "strings", "t"};
  static const int32_t types[] = {EMBER_OP_ATTR_INT,    EMBER_OP_ATTR_FLOAT,
                                  EMBER_OP_ATTR_STRING, EMBER_OP_ATTR_INTS,
                                  EMBER_OP_ATTR_FLOATS, EMBER_OP_ATTR_STRINGS,
                                  EMBER_OP_ATTR_TENSOR};
  size_t k;
  for (k = 0; k < 7; ++k) {
    const ember_op_attr *at = ember_op_find_attr(n, names[k]);
    if (!at || at->type != types[k]) {
      char msg[128];
      snprintf(msg, sizeof msg, "attribute '%s' is missing or of another type",
               names[k]);
      return fail(a->host, msg);
    }
  }
  if (n->inputs[0]->dtype != EMBER_OP_F32)
    return fail(a->host, "x must be f32");
  if (n->num_inputs > 1 && n->inputs[1]->dtype &&
      (n->inputs[1]->dtype != EMBER_OP_F32 ||
       ember_op_num_elements(n->inputs[1]) != 1))
    return fail(a->host, "bias must be one f32");
  ember_op_copy_type(a->outputs[0], n->inputs[0]);
  if (n->num_outputs > 1) {
    a->outputs[1]->dtype = EMBER_OP_I64;
    a->outputs[1]->rank = 1;
    a->outputs[1]->dims[0] = 7;
  }
  return NULL;
}

static double tensor_sum(const ember_op_tensor *t) {
  double s = 0;
  int64_t i, n = ember_op_num_elements(t->type);
  for (i = 0; i < n; ++i)
    switch (t->type->dtype) {
    case EMBER_OP_F32:
      s += ((const float *)t->data)[i];
      break;
    case EMBER_OP_I64:
      s += (double)((const int64_t *)t->data)[i];
      break;
    case EMBER_OP_I32:
      s += ((const int32_t *)t->data)[i];
      break;
    default:
      break;
    }
  return s;
}

static ember_op_error *attr_sum_compute(const ember_op_compute_args *a) {
  const ember_op_node *n = a->node;
  const ember_op_attr *s = ember_op_find_attr(n, "s");
  const ember_op_attr *ints = ember_op_find_attr(n, "ints");
  const ember_op_attr *floats = ember_op_find_attr(n, "floats");
  const ember_op_attr *strings = ember_op_find_attr(n, "strings");
  const ember_op_attr *t = ember_op_find_attr(n, "t");
  double add = (double)ember_op_attr_int(n, "i", 0) +
               ember_op_attr_float(n, "f", 0) + tensor_sum(t->tensor) +
               (double)strings->count;
  int64_t k, count = ember_op_num_elements(n->outputs[0]), bytes = 0;
  const float *x = (const float *)a->inputs[0]->data;
  float *y = (float *)a->outputs[0]->data;
  for (k = 0; k < (int64_t)ints->count; ++k)
    add += (double)ints->ints[k];
  for (k = 0; k < (int64_t)floats->count; ++k)
    add += floats->floats[k];
  if (n->num_inputs > 1 && a->inputs[1])
    add += ((const float *)a->inputs[1]->data)[0];
  for (k = 0; k < count; ++k)
    y[k] = (float)(x[k] + add);
  for (k = 0; k < (int64_t)strings->count; ++k)
    bytes += (int64_t)strings->string_sizes[k];
  if (n->num_outputs > 1) {
    int64_t *info = (int64_t *)a->outputs[1]->data;
    info[0] = ember_op_attr_int(n, "i", 0);
    info[1] = (int64_t)s->s_size;
    info[2] = (int64_t)ints->count;
    info[3] = (int64_t)floats->count;
    info[4] = (int64_t)strings->count;
    info[5] = ember_op_num_elements(t->tensor->type);
    info[6] = bytes;
  }
  return NULL;
}

static const ember_op_def attr_sum = {
    sizeof(ember_op_def),
    NULL,
    "org.test",
    "AttrSum",
    1,
    0,
    1,
    2,
    1,
    2,
    EMBER_OP_INTEGER_NONE,
    NULL,
    attr_sum_infer,
    attr_sum_compute,
    NULL,
    NULL,
    NULL,
    "func @case(%x: f32[2,3], %b: f32[]) {\n"
    "  %y, %info = org.test::AttrSum(%x, %b) {f = 0.5, floats = [1.5, 2.0], "
    "i = 3, ints = [1, 2, 3], s = \"abc\", strings = [\"x\", \"yz\"], t = "
    "dense<i64[2]: [4, 5]>}\n"
    "  return %y, %info\n"
    "}\n"};

/* ---- SatAdd8
 * ----------------------------------------------------------------- */
static ember_op_error *sat_add_infer(const ember_op_infer_args *a) {
  const ember_op_node *n = a->node;
  size_t i;
  if (n->inputs[0]->dtype != EMBER_OP_I8 || n->inputs[1]->dtype != EMBER_OP_I8)
    return ember_op_fail(a->host, EMBER_OP_UNSUPPORTED, "a and b must be i8");
  if (n->inputs[0]->rank != n->inputs[1]->rank)
    return fail(a->host, "a and b must have one shape");
  for (i = 0; i < (size_t)n->inputs[0]->rank; ++i)
    if (n->inputs[0]->dims[i] != n->inputs[1]->dims[i])
      return fail(a->host, "a and b must have one shape");
  ember_op_copy_type(a->outputs[0], n->inputs[0]);
  return NULL;
}

static ember_op_error *sat_add_compute(const ember_op_compute_args *a) {
  const int8_t *x = (const int8_t *)a->inputs[0]->data;
  const int8_t *y = (const int8_t *)a->inputs[1]->data;
  int8_t *out = (int8_t *)a->outputs[0]->data;
  int64_t i, count = ember_op_num_elements(a->node->outputs[0]);
  int saturate = a->node->opset < 2;
  for (i = 0; i < count; ++i) {
    int v = x[i] + y[i];
    if (saturate)
      v = v < -128 ? -128 : v > 127 ? 127 : v;
    out[i] = (int8_t)(uint8_t)v; /* wraps in two's complement */
  }
  return NULL;
}

static ember_op_error *sat_add_lower(const ember_op_lower_args *a) {
  char text[1024], type[256];
  size_t len = 0;
  ember_op_append_type(type, sizeof type, &len, a->node->inputs[0]);
  if (a->node->opset < 2)
    snprintf(text, sizeof text,
             "func @sat(%%a: %s, %%b: %s) {\n"
             "  %%lo = Constant dense<i32[]: [-128]>\n"
             "  %%hi = Constant dense<i32[]: [127]>\n"
             "  %%a32 = Cast(%%a) {to = 6}\n"
             "  %%b32 = Cast(%%b) {to = 6}\n"
             "  %%s = Add(%%a32, %%b32)\n"
             "  %%m = Max(%%s, %%lo)\n"
             "  %%c = Min(%%m, %%hi)\n"
             "  %%y = Cast(%%c) {to = 3}\n"
             "  return %%y\n"
             "}\n",
             type, type);
  else
    snprintf(text, sizeof text,
             "func @wrap(%%a: %s, %%b: %s) {\n"
             "  %%y = Add(%%a, %%b)\n"
             "  return %%y\n"
             "}\n",
             type, type);
  return ember_op_set_text(a, text);
}

#define SAT_ADD(first, last)                                                   \
  {                                                                            \
    sizeof(ember_op_def), NULL, "org.test", "SatAdd8", first, last, 2, 2, 1,   \
        1, EMBER_OP_INTEGER_NONE, NULL, sat_add_infer, sat_add_compute, NULL,  \
        NULL, sat_add_lower,                                                   \
        "func @case(%a: i8[3,40], %b: i8[3,40]) {\n"                           \
        "  %y = org.test::SatAdd8(%a, %b)\n"                                   \
        "  return %y\n"                                                        \
        "}\n"                                                                  \
  }
static const ember_op_def sat_add_v1 = SAT_ADD(1, 1);
static const ember_op_def sat_add_v2 = SAT_ADD(2, 0);

/* ---- Fold
 * ----------------------------------------------------------------------- */
static ember_op_error *fold_infer(const ember_op_infer_args *a) {
  const ember_op_type *x = a->node->inputs[0];
  int32_t i;
  int64_t rest = 1;
  if (x->rank < 1)
    return fail(a->host, "x must have rank 1 or more");
  for (i = 1; i < x->rank; ++i)
    rest *= x->dims[i];
  a->outputs[0]->dtype = x->dtype;
  a->outputs[0]->rank = 2;
  a->outputs[0]->dims[0] = x->dims[0];
  a->outputs[0]->dims[1] = rest;
  return NULL;
}

static ember_op_error *fold_compute(const ember_op_compute_args *a) {
  memcpy(a->outputs[0]->data, a->inputs[0]->data, a->outputs[0]->size_bytes);
  return NULL;
}

static ember_op_error *fold_lower(const ember_op_lower_args *a) {
  char text[1024], in[256], out[256];
  size_t n1 = 0, n2 = 0;
  ember_op_append_type(in, sizeof in, &n1, a->node->inputs[0]);
  ember_op_append_type(out, sizeof out, &n2, a->node->outputs[0]);
  snprintf(text, sizeof text,
           "func @fold(%%x: %s) {\n"
           "  %%shape = Constant dense<i64[2]: [%lld, %lld]>\n"
           "  %%y = Reshape(%%x, %%shape) : %s\n"
           "  return %%y\n"
           "}\n",
           in, (long long)a->node->outputs[0]->dims[0],
           (long long)a->node->outputs[0]->dims[1], out);
  return ember_op_set_text(a, text);
}

static const ember_op_def fold = {sizeof(ember_op_def),
                                  NULL,
                                  "org.test",
                                  "Fold",
                                  1,
                                  0,
                                  1,
                                  1,
                                  1,
                                  1,
                                  EMBER_OP_INTEGER_NONE,
                                  NULL,
                                  fold_infer,
                                  fold_compute,
                                  NULL,
                                  NULL,
                                  fold_lower,
                                  NULL};

/* ---- QScale
 * --------------------------------------------------------------------- */
static ember_op_error *qscale_infer(const ember_op_infer_args *a) {
  const ember_op_type *x = a->node->inputs[0];
  int32_t keep = a->outputs[0]->dtype; /* set in the integer form */
  if (x->scale != 0) {
    if (x->dtype != EMBER_OP_U8 && x->dtype != EMBER_OP_I8)
      return fail(a->host, "quantized x must be 8-bit");
  } else if (x->dtype != EMBER_OP_F32) {
    return fail(a->host, "x must be f32");
  }
  ember_op_copy_type(a->outputs[0], x);
  if (keep)
    a->outputs[0]->dtype = keep;
  return NULL;
}

static ember_op_error *qscale_compute(const ember_op_compute_args *a) {
  const ember_op_type *xt = a->node->inputs[0], *yt = a->node->outputs[0];
  double factor = ember_op_attr_float(a->node, "factor", 1.0);
  int64_t i, n = ember_op_num_elements(yt);
  if (xt->scale == 0) {
    const float *x = (const float *)a->inputs[0]->data;
    float *y = (float *)a->outputs[0]->data;
    for (i = 0; i < n; ++i)
      y[i] = (float)(x[i] * factor);
    return NULL;
  }
  for (i = 0; i < n; ++i) {
    double xv = xt->dtype == EMBER_OP_U8
                    ? ((const uint8_t *)a->inputs[0]->data)[i]
                    : ((const int8_t *)a->inputs[0]->data)[i];
    double real = xt->scale * (xv - (double)xt->zero_point) * factor;
    double q = nearbyint(real / yt->scale) + (double)yt->zero_point;
    double lo = yt->dtype == EMBER_OP_U8 ? 0 : -128;
    double hi = yt->dtype == EMBER_OP_U8 ? 255 : 127;
    q = q < lo ? lo : q > hi ? hi : q;
    if (yt->dtype == EMBER_OP_U8)
      ((uint8_t *)a->outputs[0]->data)[i] = (uint8_t)q;
    else
      ((int8_t *)a->outputs[0]->data)[i] = (int8_t)q;
  }
  return NULL;
}

static const ember_op_def qscale = {sizeof(ember_op_def),
                                    NULL,
                                    "org.test",
                                    "QScale",
                                    1,
                                    0,
                                    1,
                                    1,
                                    1,
                                    1,
                                    EMBER_OP_INTEGER_KERNEL,
                                    NULL,
                                    qscale_infer,
                                    qscale_compute,
                                    NULL,
                                    NULL,
                                    NULL,
                                    NULL};

static const ember_op_def *const ops[] = {&attr_sum, &sat_add_v1, &sat_add_v2,
                                          &fold, &qscale};
static const ember_op_library library = {
    sizeof(ember_op_library),       NULL,       EMBER_OP_LIBRARY_VERSION_MAJOR,
    EMBER_OP_LIBRARY_VERSION_MINOR, "test_ops", "0.1",
    sizeof ops / sizeof ops[0],     ops};

EMBER_OP_LIBRARY_ENTRY(test_ops) {
  (void)host;
  return &library;
}

/*
 * Bad op libraries, one mistake each (BAD_<KIND>; tests/custom-ops): the host
 * must refuse each with an error naming the library and the cause, never
 * crash. One op, org.bad::Op(x: f32) -> y, a copy of x with a lowering.
 */
#include <ember/op_library.h>

#include <stdio.h>

static ember_op_error *op_infer(const ember_op_infer_args *a) {
#ifdef BAD_SHAPE
  (void)a->node;
  return ember_op_fail(a->host, EMBER_OP_INVALID_ARGUMENT,
                       "x must have rank 5");
#else
  ember_op_copy_type(a->outputs[0], a->node->inputs[0]);
  return NULL;
#endif
}

static ember_op_error *op_compute(const ember_op_compute_args *a) {
  const float *x = (const float *)a->inputs[0]->data;
  float *y = (float *)a->outputs[0]->data;
  int64_t i, n = ember_op_num_elements(a->node->outputs[0]);
#ifdef BAD_WRITE
  n += 8; /* eight elements past the end of its result */
#endif
  for (i = 0; i < n; ++i)
    y[i] = x[i < n - 8 ? i : 0];
  return NULL;
}

static ember_op_error *op_lower(const ember_op_lower_args *a) {
  char text[1024], type[256];
  size_t len = 0;
  ember_op_append_type(type, sizeof type, &len, a->node->inputs[0]);
#if defined(BAD_LOWER_PARSE)
  snprintf(
      text, sizeof text,
      "func @op(%%x: %s) {\n  %%y = Identity(%%x) :: %s\n  return %%y\n}\n",
      type, type);
#elif defined(BAD_LOWER_VERIFY)
  /* A transpose: the type and shape function says the result has x's
   * shape. */
  snprintf(text, sizeof text,
           "func @op(%%x: %s) {\n  %%y = Transpose(%%x) {perm = [1, 0]}\n"
           "  return %%y\n}\n",
           type);
#else
  snprintf(text, sizeof text,
           "func @op(%%x: %s) {\n  %%y = Identity(%%x)\n  return %%y\n}\n",
           type);
#endif
  return ember_op_set_text(a, text);
}

static const ember_op_def op = {sizeof(ember_op_def),
                                NULL,
#ifdef BAD_DUPLICATE
                                "com.acme",
                                "ClampedAdd",
#else
                                "org.bad",
                                "Op",
#endif
                                1,
                                0,
                                1,
                                1,
                                1,
                                1,
                                EMBER_OP_INTEGER_NONE,
                                NULL,
                                op_infer,
                                op_compute,
                                NULL,
                                NULL,
#if defined(BAD_LOWER_PARSE) || defined(BAD_LOWER_VERIFY)
                                op_lower,
#else
                                NULL,
#endif
                                NULL};

static const ember_op_def *const ops[] = {&op};

static const ember_op_library library = {sizeof(ember_op_library),
                                         NULL,
#ifdef BAD_ABI
                                         2,
                                         0,
#else
                                         EMBER_OP_LIBRARY_VERSION_MAJOR,
                                         EMBER_OP_LIBRARY_VERSION_MINOR,
#endif
                                         BAD_NAME,
                                         "0.1",
                                         1,
                                         ops};

#ifdef BAD_NO_ENTRY
/* The entry under another name: not an op library. */
EMBER_OP_EXPORT const ember_op_library *
acme_entry(const ember_op_host_api *host);
EMBER_OP_EXPORT const ember_op_library *
acme_entry(const ember_op_host_api *host) {
  (void)host;
  (void)op_lower;
  return &library;
}
#else
#define ENTRY(name) EMBER_OP_LIBRARY_ENTRY(name)
ENTRY(bad) {
  (void)host;
  (void)op_lower;
  return &library;
}
#endif

// An op library written in C++ (tests/custom-ops): the header and
// EMBER_OP_LIBRARY_ENTRY give its entry points C linkage.
//   org.cxx::Twice(x: f32) -> 2 x
//   org.cxx::RowSum(x: i32[N, M]) -> i64[N]
//     integers only, rank 2 only, no test_cases: the kit draws its cases
//     over element types and ranks
//   org.cxx::Repeat(x) {times: ints} -> x tiled `times` along each dim
//     opsets 2 and later; needs an attribute and has no test_cases: the kit
//     cannot draw a case and skips its tests, saying so
#include <ember/op_library.h>

#include <cstring>
#include <vector>

namespace {
ember_op_error *twiceInfer(const ember_op_infer_args *a) {
  if (a->node->inputs[0]->dtype != EMBER_OP_F32)
    return ember_op_fail(a->host, EMBER_OP_UNSUPPORTED, "x must be f32");
  ember_op_copy_type(a->outputs[0], a->node->inputs[0]);
  return nullptr;
}

ember_op_error *twiceCompute(const ember_op_compute_args *a) {
  const float *x = static_cast<const float *>(a->inputs[0]->data);
  float *y = static_cast<float *>(a->outputs[0]->data);
  std::vector<float> tmp(x, x + ember_op_num_elements(a->node->outputs[0]));
  for (size_t i = 0; i < tmp.size(); ++i)
    y[i] = 2 * tmp[i];
  return nullptr;
}

ember_op_error *rowSumInfer(const ember_op_infer_args *a) {
  const ember_op_type *x = a->node->inputs[0];
  if (x->dtype != EMBER_OP_I32 || x->rank != 2)
    return ember_op_fail(a->host, EMBER_OP_UNSUPPORTED, "x must be i32[N, M]");
  a->outputs[0]->dtype = EMBER_OP_I64;
  a->outputs[0]->rank = 1;
  a->outputs[0]->dims[0] = x->dims[0];
  return nullptr;
}

ember_op_error *rowSumCompute(const ember_op_compute_args *a) {
  const ember_op_type *t = a->node->inputs[0];
  const int32_t *x = static_cast<const int32_t *>(a->inputs[0]->data);
  int64_t *y = static_cast<int64_t *>(a->outputs[0]->data);
  for (int64_t r = 0; r < t->dims[0]; ++r) {
    int64_t s = 0;
    for (int64_t c = 0; c < t->dims[1]; ++c)
      s += x[r * t->dims[1] + c];
    y[r] = s;
  }
  return nullptr;
}

ember_op_error *repeatInfer(const ember_op_infer_args *a) {
  const ember_op_type *x = a->node->inputs[0];
  const ember_op_attr *times = ember_op_find_attr(a->node, "times");
  if (!times || times->type != EMBER_OP_ATTR_INTS ||
      times->count != size_t(x->rank))
    return ember_op_fail(a->host, EMBER_OP_INVALID_ARGUMENT,
                         "times must give one count per dim of x");
  ember_op_copy_type(a->outputs[0], x);
  for (int32_t d = 0; d < x->rank; ++d) {
    if (times->ints[d] < 1)
      return ember_op_fail(a->host, EMBER_OP_INVALID_ARGUMENT,
                           "times must be positive");
    a->outputs[0]->dims[d] *= times->ints[d];
  }
  return nullptr;
}

ember_op_error *repeatCompute(const ember_op_compute_args *a) {
  const ember_op_type *in = a->node->inputs[0], *out = a->node->outputs[0];
  size_t size = ember_op_dtype_size(in->dtype);
  const char *x = static_cast<const char *>(a->inputs[0]->data);
  char *y = static_cast<char *>(a->outputs[0]->data);
  for (int64_t i = 0, n = ember_op_num_elements(out); i < n; ++i) {
    int64_t rest = i, from = 0, stride = 1;
    for (int32_t d = out->rank - 1; d >= 0; --d) {
      from += (rest % out->dims[d] % in->dims[d]) * stride;
      rest /= out->dims[d];
      stride *= in->dims[d];
    }
    std::memcpy(y + i * size, x + from * size, size);
  }
  return nullptr;
}

// org.cxx::name, opsets `first` and later, inputs 1..1, results 1..1,
// float only.
constexpr ember_op_def op(const char *name, int64_t first,
                          decltype(&twiceInfer) infer,
                          decltype(&twiceCompute) compute) {
  return {sizeof(ember_op_def),
          nullptr,
          "org.cxx",
          name,
          first,
          0,
          1,
          1,
          1,
          1,
          EMBER_OP_INTEGER_NONE,
          nullptr,
          infer,
          compute,
          nullptr,
          nullptr,
          nullptr,
          nullptr};
}

const ember_op_def kTwice = op("Twice", 1, twiceInfer, twiceCompute);
const ember_op_def kRowSum = op("RowSum", 1, rowSumInfer, rowSumCompute);
const ember_op_def kRepeat = op("Repeat", 2, repeatInfer, repeatCompute);
const ember_op_def *const kOps[] = {&kTwice, &kRowSum, &kRepeat};
const ember_op_library kLibrary = {sizeof(ember_op_library),
                                   nullptr,
                                   EMBER_OP_LIBRARY_VERSION_MAJOR,
                                   EMBER_OP_LIBRARY_VERSION_MINOR,
                                   "cxx_ops",
                                   "0.1",
                                   3,
                                   kOps};
} // namespace

EMBER_OP_LIBRARY_ENTRY(cxx_ops) {
  (void)host;
  return &kLibrary;
}

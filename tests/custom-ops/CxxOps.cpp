// An op library written in C++ (tests/custom-ops): the header and
// EMBER_OP_LIBRARY_ENTRY give its entry points C linkage.
//   org.cxx::Twice(x: f32) -> 2 x
#include <ember/op_library.h>

#include <vector>

namespace {
ember_op_error *infer(const ember_op_infer_args *a) {
  if (a->node->inputs[0]->dtype != EMBER_OP_F32)
    return ember_op_fail(a->host, EMBER_OP_UNSUPPORTED, "x must be f32");
  ember_op_copy_type(a->outputs[0], a->node->inputs[0]);
  return nullptr;
}

ember_op_error *compute(const ember_op_compute_args *a) {
  const float *x = static_cast<const float *>(a->inputs[0]->data);
  float *y = static_cast<float *>(a->outputs[0]->data);
  std::vector<float> tmp(x, x + ember_op_num_elements(a->node->outputs[0]));
  for (size_t i = 0; i < tmp.size(); ++i)
    y[i] = 2 * tmp[i];
  return nullptr;
}

const ember_op_def kTwice = {sizeof(ember_op_def),
                             nullptr,
                             "org.cxx",
                             "Twice",
                             1,
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
const ember_op_def *const kOps[] = {&kTwice};
const ember_op_library kLibrary = {sizeof(ember_op_library),
                                   nullptr,
                                   EMBER_OP_LIBRARY_VERSION_MAJOR,
                                   EMBER_OP_LIBRARY_VERSION_MINOR,
                                   "cxx_ops",
                                   "0.1",
                                   1,
                                   kOps};
} // namespace

EMBER_OP_LIBRARY_ENTRY(cxx_ops) {
  (void)host;
  return &kLibrary;
}

// ember.npu in a build without the NPU simulator (EMBER_BUILD_NPU=OFF, or
// SystemC not found): every call says so.
#include "Bindings.h"

namespace ember::py {

void bindNpu(nanobind::module_ &m) {
  nanobind::module_ n = m.def_submodule("npu", "The example NPU (not built).");
  n.attr("DIM") = 0;
  n.def("_sim", [](nanobind::args, nanobind::kwargs) {
    raise(unsupported("this build has no NPU simulator (SystemC was not "
                      "found or EMBER_BUILD_NPU is OFF)"));
  });
}

} // namespace ember::py

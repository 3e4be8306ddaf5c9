// A DUT with a planted bug, as a vendor's executor library
// (driver.h, ember_npu_executor_entry): the golden model whose first
// instruction at or after index N that writes something reports one byte
// flipped (option "fN"), one write dropped ("dN") or one MAC too many
// ("cN"); simulator/tests/FaultyDut.h, shared with CosimTest.cpp. `ember
// cosim MODEL --dut libnpu_faulty_executor.so --dut-options f450` must name
// that instruction and its layer (tests/npu/cosim_model.sh).
#include "FaultyDut.h"

extern "C" __attribute__((visibility("default")))
const ember_npu_executor_ops_t *
ember_npu_executor_entry(void) {
  return ember::npu::faulty::ops();
}

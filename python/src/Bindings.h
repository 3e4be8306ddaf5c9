// Shared by the files of the Python module `ember._ember`.
#pragma once

#include "support/Error.h"

#include <nanobind/nanobind.h>

namespace ember::py {

// Raises the Python exception of `s`'s code (ember.EmberError and its
// subclasses, python/ember/_errors.py) carrying Ember's message.
[[noreturn]] void raise(const Status &s);

// ember._ember's NPU functions (python/src/Npu.cpp): the simulator's
// driver (simulator/include/ember/npu/driver.h).
void bindNpu(nanobind::module_ &m);

} // namespace ember::py

// Layout copies the runtime makes so that a kernel gets the layout it runs
// best (RtKernels.cpp): glue, like RtKernels.cpp, linked natively and
// compiled to bitcode.
#ifndef EMBER_CPU_RT_TRANSPOSE_H
#define EMBER_CPU_RT_TRANSPOSE_H

#include <cstddef>
#include <cstdint>

namespace ember::cpugen {

/// Pixels [q0, q1) of one row-major image of 8-bit values ([C][HW]) into
/// channels-last ([HW][C]): y[q * C + c] = x[c * HW + q].
void transposeBytesToNhwc(const uint8_t *x, uint8_t *y, size_t C, size_t HW,
                          size_t q0, size_t q1);

} // namespace ember::cpugen

#endif
